//! Media types of the manifest formats berth stores.

pub const DOCKER_MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_MANIFEST_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
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
    matches!(
        mt,
        DOCKER_MANIFEST_V2 | DOCKER_MANIFEST_LIST | OCI_MANIFEST | OCI_INDEX
    )
}

pub fn is_index(mt: &str) -> bool {
    matches!(mt, DOCKER_MANIFEST_LIST | OCI_INDEX)
}

/// Strips parameters (`; charset=...`) and whitespace from a Content-Type.
pub fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// Whether a client whose `Accept` values are `accept` can take a manifest of
/// type `stored`. A client that names no manifest type at all (or `*/*`)
/// takes anything; one that names manifest types takes only those, so an
/// old client is told the manifest is not available to it instead of getting
/// a format it cannot parse.
pub fn accepts<'a>(accept: impl IntoIterator<Item = &'a str>, stored: &str) -> bool {
    let mut names_a_manifest_type = false;
    for value in accept {
        for item in value.split(',') {
            let mt = essence(item);
            if mt == stored || mt == "*/*" {
                return true;
            }
            if is_supported_manifest(mt)
                || mt == DOCKER_MANIFEST_V1
                || mt == DOCKER_MANIFEST_V1_SIGNED
            {
                names_a_manifest_type = true;
            }
        }
    }
    !names_a_manifest_type
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert!(accepts([], OCI_MANIFEST));
        assert!(accepts(["application/json"], OCI_MANIFEST));
        assert!(accepts(
            [format!("{DOCKER_MANIFEST_V2}, {OCI_MANIFEST};q=0.9").as_str()],
            OCI_MANIFEST
        ));
        assert!(accepts([DOCKER_MANIFEST_V2, OCI_MANIFEST], OCI_MANIFEST));
        assert!(accepts([DOCKER_MANIFEST_V2, "*/*"], OCI_INDEX));
        assert!(!accepts(
            [DOCKER_MANIFEST_V2, DOCKER_MANIFEST_V1_SIGNED],
            OCI_MANIFEST
        ));
    }
}
