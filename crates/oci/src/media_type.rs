//! Media types of the manifest formats berth stores.

pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_MANIFEST_V1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Layer media types that the image spec calls non-distributable ("foreign"):
/// registries accept manifests that list them without holding the blob.
pub const NON_DISTRIBUTABLE_LAYERS: &[&str] = &[
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
];

/// Whether `mt` is one of the manifest media types berth accepts on PUT.
pub fn is_supported_manifest(mt: &str) -> bool {
    matches!(mt, DOCKER_MANIFEST_V2 | DOCKER_MANIFEST_LIST | OCI_MANIFEST | OCI_INDEX)
}

pub fn is_index(mt: &str) -> bool {
    matches!(mt, DOCKER_MANIFEST_LIST | OCI_INDEX)
}

/// Strips parameters (`; charset=...`) and whitespace from a Content-Type.
pub fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}
