//! The vocabulary of the OCI Distribution and Image specs (and the Docker
//! Registry V2 formats they grew from): digests, repository names, tags,
//! media types and manifests. Everything here is pure: no I/O, no clocks.
#![forbid(unsafe_code)]

pub mod digest;
pub mod manifest;
pub mod media_type;
pub mod name;
pub mod reference;

pub use digest::{Algorithm, Digest, DigestError, DigestHasher};
pub use manifest::{
    Manifest, ManifestError, ManifestKind, Reference as ManifestRef, MAX_MANIFEST_BYTES,
};
pub use name::{NameError, RepositoryName};
pub use reference::{Reference, Tag, TagError};
