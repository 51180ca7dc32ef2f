//! The ECR action each `/v2` request needs (the authorization issue's
//! table): pulls are `ecr:BatchGetImage` and `ecr:GetDownloadUrlForLayer`,
//! pushes the layer-upload actions and `ecr:PutImage`, deletes
//! `ecr:BatchDeleteImage`, listings `ecr:ListImages` and
//! `ecr:DescribeRepositories`.

use crate::route::V2Route;
use berth_oci::RepositoryName;

/// `None`: the request needs no action (the `/v2/` ping, or a method the
/// route does not answer, which is refused anyway); the catalog is
/// filtered per repository instead of checked here.
pub fn action<'a>(method: &str, route: &'a V2Route) -> Option<(&'static str, &'a RepositoryName)> {
    use V2Route::*;
    Some(match (method, route) {
        ("GET" | "HEAD", Manifest(n, _) | ManifestBadReference(n, ..))
        | ("GET", Referrers(n, _)) => ("ecr:BatchGetImage", n),
        ("PUT", Manifest(n, _)) => ("ecr:PutImage", n),
        // A PUT with a reference that is neither a tag nor a digest is
        // refused before authorization: the answer says nothing stored.
        ("DELETE", Manifest(n, _) | ManifestBadReference(n, ..)) | ("DELETE", Blob(n, _)) => {
            ("ecr:BatchDeleteImage", n)
        }
        ("GET", Blob(n, _)) => ("ecr:GetDownloadUrlForLayer", n),
        ("HEAD", Blob(n, _)) => ("ecr:BatchCheckLayerAvailability", n),
        ("POST", UploadStart(n)) => ("ecr:InitiateLayerUpload", n),
        ("PATCH", Upload(n, _)) | ("GET", Upload(n, _)) | ("DELETE", Upload(n, _)) => {
            ("ecr:UploadLayerPart", n)
        }
        ("PUT", Upload(n, _)) => ("ecr:CompleteLayerUpload", n),
        ("GET", Tags(n)) => ("ecr:ListImages", n),
        _ => return None,
    })
}

/// On the public host: the ECR Public action of a `/v2` request that
/// needs `ecr_action` on a private registry, and whether it is a read,
/// which everyone may do unless a policy denies it
/// (`Identity::authorize_public_read`). ECR Public has no pull actions;
/// berth names them as ECR's.
pub fn public_action(ecr_action: &str) -> Option<(&'static str, bool)> {
    Some(match ecr_action {
        "ecr:BatchGetImage" => ("ecr-public:BatchGetImage", true),
        "ecr:GetDownloadUrlForLayer" => ("ecr-public:GetDownloadUrlForLayer", true),
        "ecr:BatchCheckLayerAvailability" => ("ecr-public:BatchCheckLayerAvailability", true),
        "ecr:ListImages" => ("ecr-public:DescribeImageTags", true),
        "ecr:PutImage" => ("ecr-public:PutImage", false),
        "ecr:BatchDeleteImage" => ("ecr-public:BatchDeleteImage", false),
        "ecr:InitiateLayerUpload" => ("ecr-public:InitiateLayerUpload", false),
        "ecr:UploadLayerPart" => ("ecr-public:UploadLayerPart", false),
        "ecr:CompleteLayerUpload" => ("ecr-public:CompleteLayerUpload", false),
        _ => return None,
    })
}

/// The methods `/v2` answers.
pub const METHODS: [&str; 6] = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"];

/// Every request `/v2` checks, for repository `name`: (method, path,
/// action), from every route kind (`V2Route::samples`) and method. Tests
/// walk this list, so a new route cannot be left untested.
pub fn protected_requests(name: &RepositoryName) -> Vec<(&'static str, String, &'static str)> {
    let mut out = Vec::new();
    for route in V2Route::samples(name) {
        for method in METHODS {
            if let Some((action, _)) = action(method, &route) {
                out.push((method, route.path(), action));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    /// Every action a `/v2` route needs has its ECR Public counterpart, and
    /// the reads are exactly what everyone may do there.
    #[test]
    fn every_v2_action_has_a_public_one() {
        let name = berth_oci::RepositoryName::parse("a/b").unwrap();
        for (method, path, action) in super::protected_requests(&name) {
            let (public, read) = super::public_action(action)
                .unwrap_or_else(|| panic!("{method} {path}: {action} has no public action"));
            assert_eq!(
                read,
                berth_registry::PUBLIC_READ_ACTIONS.contains(&public),
                "{method} {path}"
            );
        }
    }
}
