//! Parsing `/v2/...` paths. Repository names contain slashes, so a route is
//! recognised from the end of the path, where the grammar is unambiguous.

use berth_oci::name::NameError;
use berth_oci::reference::ReferenceError;
use berth_oci::{Digest, DigestError, Reference, RepositoryName};

#[derive(Debug, PartialEq, Eq)]
pub enum V2Route {
    Base,
    Catalog,
    Tags(RepositoryName),
    Manifest(RepositoryName, Reference),
    /// `/v2/<name>/manifests/<reference>` where the reference is neither a
    /// tag nor a digest (`.INVALID_MANIFEST_NAME`): no manifest has it, so
    /// reads and deletes answer 404 `MANIFEST_UNKNOWN` (after authorizing
    /// on the name, like any manifest request) and a `PUT` is refused.
    ManifestBadReference(RepositoryName, String, ReferenceError),
    Blob(RepositoryName, Digest),
    UploadStart(RepositoryName),
    Upload(RepositoryName, String),
    Referrers(RepositoryName, Digest),
}

impl V2Route {
    /// The label under which metrics count this route.
    pub fn label(&self) -> &'static str {
        match self {
            V2Route::Base => "base",
            V2Route::Catalog => "catalog",
            V2Route::Tags(_) => "tags_list",
            V2Route::Manifest(..) | V2Route::ManifestBadReference(..) => "manifest",
            V2Route::Blob(..) => "blob",
            V2Route::UploadStart(_) => "upload_start",
            V2Route::Upload(..) => "upload",
            V2Route::Referrers(..) => "referrers",
        }
    }

    /// The repository the route addresses, if any.
    pub fn name(&self) -> Option<&RepositoryName> {
        match self {
            V2Route::Base | V2Route::Catalog => None,
            V2Route::Tags(n)
            | V2Route::Manifest(n, _)
            | V2Route::ManifestBadReference(n, ..)
            | V2Route::Blob(n, _)
            | V2Route::UploadStart(n)
            | V2Route::Upload(n, _)
            | V2Route::Referrers(n, _) => Some(n),
        }
    }

    /// The same route in repository `name` (the public host's routes, once
    /// their registry alias is taken off).
    pub fn with_name(self, name: RepositoryName) -> V2Route {
        match self {
            V2Route::Base | V2Route::Catalog => self,
            V2Route::Tags(_) => V2Route::Tags(name),
            V2Route::Manifest(_, r) => V2Route::Manifest(name, r),
            V2Route::ManifestBadReference(_, r, e) => V2Route::ManifestBadReference(name, r, e),
            V2Route::Blob(_, d) => V2Route::Blob(name, d),
            V2Route::UploadStart(_) => V2Route::UploadStart(name),
            V2Route::Upload(_, id) => V2Route::Upload(name, id),
            V2Route::Referrers(_, d) => V2Route::Referrers(name, d),
        }
    }

    /// The path that `parse` reads as this route.
    pub fn path(&self) -> String {
        match self {
            V2Route::Base => "/v2/".to_string(),
            V2Route::Catalog => "/v2/_catalog".to_string(),
            V2Route::Tags(n) => format!("/v2/{n}/tags/list"),
            V2Route::Manifest(n, r) => format!("/v2/{n}/manifests/{r}"),
            V2Route::ManifestBadReference(n, r, _) => format!("/v2/{n}/manifests/{r}"),
            V2Route::Blob(n, d) => format!("/v2/{n}/blobs/{d}"),
            V2Route::UploadStart(n) => format!("/v2/{n}/blobs/uploads/"),
            V2Route::Upload(n, id) => format!("/v2/{n}/blobs/uploads/{id}"),
            V2Route::Referrers(n, d) => format!("/v2/{n}/referrers/{d}"),
        }
    }

    /// One route of every kind, in repository `name` (manifests both by tag
    /// and by digest): what tests walk to cover every endpoint. Adding a
    /// kind breaks the match below until it is listed here too.
    pub fn samples(name: &RepositoryName) -> Vec<V2Route> {
        let digest: Digest =
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                .parse()
                .expect("a valid digest");
        let all = vec![
            V2Route::Base,
            V2Route::Catalog,
            V2Route::Tags(name.clone()),
            V2Route::Manifest(name.clone(), Reference::parse("v1").expect("a valid tag")),
            V2Route::Manifest(name.clone(), Reference::Digest(digest.clone())),
            // The OCI conformance suite's nonexistent manifest.
            V2Route::ManifestBadReference(
                name.clone(),
                ".INVALID_MANIFEST_NAME".into(),
                Reference::parse(".INVALID_MANIFEST_NAME").expect_err("not a tag"),
            ),
            V2Route::Blob(name.clone(), digest.clone()),
            V2Route::UploadStart(name.clone()),
            V2Route::Upload(name.clone(), "0b5e7a0c-0000-4000-8000-000000000001".into()),
            V2Route::Referrers(name.clone(), digest),
        ];
        for r in &all {
            match r {
                V2Route::Base
                | V2Route::Catalog
                | V2Route::Tags(_)
                | V2Route::Manifest(..)
                | V2Route::ManifestBadReference(..)
                | V2Route::Blob(..)
                | V2Route::UploadStart(_)
                | V2Route::Upload(..)
                | V2Route::Referrers(..) => {}
            }
        }
        all
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum RouteError {
    /// No distribution endpoint has this shape.
    NotFound,
    Name(NameError),
    Digest(DigestError),
    /// An upload id that cannot be one of ours.
    UploadId(String),
}

/// Parses the part of the path after `/v2`.
pub fn parse(rest: &str) -> Result<V2Route, RouteError> {
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    if rest.is_empty() {
        return Ok(V2Route::Base);
    }
    if rest == "_catalog" {
        return Ok(V2Route::Catalog);
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let name_of = |upto: usize| -> Result<RepositoryName, RouteError> {
        if upto == 0 {
            return Err(RouteError::NotFound);
        }
        RepositoryName::parse(&segs[..upto].join("/")).map_err(RouteError::Name)
    };
    match segs.as_slice() {
        [.., "tags", "list"] => Ok(V2Route::Tags(name_of(n - 2)?)),
        [.., "manifests", reference] => {
            let name = name_of(n - 2)?;
            Ok(match Reference::parse(reference) {
                Ok(r) => V2Route::Manifest(name, r),
                Err(e) => V2Route::ManifestBadReference(name, reference.to_string(), e),
            })
        }
        [.., "blobs", "uploads", ""] => Ok(V2Route::UploadStart(name_of(n - 3)?)),
        [.., "blobs", "uploads"] => Ok(V2Route::UploadStart(name_of(n - 2)?)),
        [.., "blobs", "uploads", id] => {
            let name = name_of(n - 3)?;
            if uuid_like(id) {
                Ok(V2Route::Upload(name, id.to_string()))
            } else {
                Err(RouteError::UploadId(id.to_string()))
            }
        }
        [.., "blobs", digest] => {
            let name = name_of(n - 2)?;
            let d = digest.parse().map_err(RouteError::Digest)?;
            Ok(V2Route::Blob(name, d))
        }
        [.., "referrers", digest] => {
            let name = name_of(n - 2)?;
            let d = digest.parse().map_err(RouteError::Digest)?;
            Ok(V2Route::Referrers(name, d))
        }
        _ => Err(RouteError::NotFound),
    }
}

/// Upload ids are UUIDs we issued (36 chars of hex and dashes).
fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const U: &str = "0b5e7a0c-0000-4000-8000-000000000001";

    fn name(s: &str) -> RepositoryName {
        RepositoryName::parse(s).unwrap()
    }

    #[test]
    fn recognises_every_endpoint_with_nested_names() {
        assert_eq!(parse("/"), Ok(V2Route::Base));
        assert_eq!(parse(""), Ok(V2Route::Base));
        assert_eq!(parse("/_catalog"), Ok(V2Route::Catalog));
        assert_eq!(parse("/a/b/tags/list"), Ok(V2Route::Tags(name("a/b"))));
        assert!(
            matches!(parse("/a/b/manifests/latest"), Ok(V2Route::Manifest(n, Reference::Tag(_))) if n == name("a/b"))
        );
        assert!(matches!(
            parse(&format!("/a/manifests/{D}")),
            Ok(V2Route::Manifest(_, Reference::Digest(_)))
        ));
        assert_eq!(
            parse(&format!("/x/blobs/{D}")),
            Ok(V2Route::Blob(name("x"), D.parse().unwrap()))
        );
        assert_eq!(
            parse("/x/y/blobs/uploads/"),
            Ok(V2Route::UploadStart(name("x/y")))
        );
        assert_eq!(
            parse("/x/y/blobs/uploads"),
            Ok(V2Route::UploadStart(name("x/y")))
        );
        assert_eq!(
            parse(&format!("/x/blobs/uploads/{U}")),
            Ok(V2Route::Upload(name("x"), U.into()))
        );
        assert_eq!(
            parse(&format!("/a/b/referrers/{D}")),
            Ok(V2Route::Referrers(name("a/b"), D.parse().unwrap()))
        );
        assert!(matches!(
            parse("/a/referrers/sha256:12"),
            Err(RouteError::Digest(_))
        ));
        // Names may themselves contain the keywords.
        assert!(
            matches!(parse("/manifests/blobs/manifests/v1"), Ok(V2Route::Manifest(n, _)) if n == name("manifests/blobs"))
        );
        assert_eq!(
            parse("/blobs/uploads/blobs/uploads/"),
            Ok(V2Route::UploadStart(name("blobs/uploads")))
        );
    }

    #[test]
    fn every_sample_route_round_trips_through_its_path() {
        for r in V2Route::samples(&name("a/b")) {
            let path = r.path();
            assert_eq!(
                parse(path.strip_prefix("/v2").unwrap()).as_ref(),
                Ok(&r),
                "{path}"
            );
        }
    }

    #[test]
    fn rejects_bad_parts_with_the_right_error() {
        assert!(matches!(
            parse("/A/manifests/latest"),
            Err(RouteError::Name(_))
        ));
        assert!(matches!(
            parse("/a/../b/manifests/latest"),
            Err(RouteError::Name(_))
        ));
        // A reference that no manifest can have is still a manifest route:
        // what it answers depends on the method and the caller's rights.
        assert!(matches!(
            parse("/a/manifests/-bad"),
            Ok(V2Route::ManifestBadReference(n, r, ReferenceError::Tag(_))) if n == name("a") && r == "-bad"
        ));
        assert!(matches!(
            parse("/a/manifests/sha256:123"),
            Ok(V2Route::ManifestBadReference(
                _,
                _,
                ReferenceError::Digest(_)
            ))
        ));
        assert!(matches!(
            parse("/a/blobs/sha256:123"),
            Err(RouteError::Digest(_))
        ));
        assert!(matches!(
            parse("/a/blobs/uploads/../../etc"),
            Err(RouteError::NotFound) | Err(RouteError::Name(_)) | Err(RouteError::UploadId(_))
        ));
        assert!(matches!(
            parse("/a/blobs/uploads/zzz"),
            Err(RouteError::UploadId(_))
        ));
        assert_eq!(parse("/a/other"), Err(RouteError::NotFound));
        assert_eq!(parse("/manifests/latest"), Err(RouteError::NotFound));
    }
}
