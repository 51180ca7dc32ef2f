//! The one table of the ECR Public model's 23 operations: the handler of
//! each operation berth answers, and for the rest the reason it answers
//! `UnsupportedCommandException`.

use super::{images, registries, repositories, PublicCall};
use crate::aws_error::AwsError;
use crate::op_table::yes;
use futures_util::future::BoxFuture;
use serde_json::Value;

/// An operation's own handler: the request's JSON in, the response's out.
pub type Own = for<'a> fn(&'a PublicCall<'a>, Value) -> BoxFuture<'a, Result<Value, AwsError>>;

/// How berth answers an operation.
#[derive(Clone, Copy)]
pub enum Handler {
    /// A handler of this module's.
    Own(Own),
    /// ECR's operation of the same name and shape, run on the caller's
    /// public registry and authorized as the `ecr-public:` action
    /// (`ecr::api` with `ECR_PUBLIC`): images, layers, repository policies, tags.
    Ecr,
}

pub type Entry = crate::op_table::Entry<Handler>;

const fn own(name: &'static str, handler: Own) -> Entry {
    yes(name, Handler::Own(handler))
}

const fn ecr(name: &'static str) -> Entry {
    yes(name, Handler::Ecr)
}

/// Whether ECR's operation answers `op`.
pub fn answered_by_ecr(op: &str) -> bool {
    matches!(
        crate::op_table::find(OPERATIONS, op).and_then(|e| e.handler),
        Some(Handler::Ecr)
    )
}

pub const OPERATIONS: &[Entry] = &[
    ecr("BatchCheckLayerAvailability"),
    ecr("BatchDeleteImage"),
    ecr("CompleteLayerUpload"),
    own("CreateRepository", repositories::create_repository),
    own("DeleteRepository", repositories::delete_repository),
    ecr("DeleteRepositoryPolicy"),
    own("DescribeImageTags", images::describe_image_tags),
    ecr("DescribeImages"),
    own("DescribeRegistries", registries::describe_registries),
    own("DescribeRepositories", repositories::describe_repositories),
    own("GetAuthorizationToken", registries::get_authorization_token),
    own(
        "GetRegistryCatalogData",
        registries::get_registry_catalog_data,
    ),
    own(
        "GetRepositoryCatalogData",
        repositories::get_repository_catalog_data,
    ),
    ecr("GetRepositoryPolicy"),
    ecr("InitiateLayerUpload"),
    ecr("ListTagsForResource"),
    ecr("PutImage"),
    own(
        "PutRegistryCatalogData",
        registries::put_registry_catalog_data,
    ),
    own(
        "PutRepositoryCatalogData",
        repositories::put_repository_catalog_data,
    ),
    ecr("SetRepositoryPolicy"),
    ecr("TagResource"),
    ecr("UntagResource"),
    ecr("UploadLayerPart"),
];

/// The names of the operations berth answers, in the table's order.
pub const IMPLEMENTED_OPERATIONS: &[&str] = crate::op_table::implemented_names!(OPERATIONS);

#[cfg(test)]
mod tests {
    /// The table is botocore's model: every operation once, in order.
    #[test]
    fn the_table_holds_the_models_23_operations() {
        let names: Vec<&str> = super::OPERATIONS.iter().map(|e| e.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
        assert_eq!(names.len(), 23);
        assert_eq!(super::IMPLEMENTED_OPERATIONS.len(), 23);
        // What ECR answers for ECR Public, ECR answers.
        for e in super::OPERATIONS {
            if super::answered_by_ecr(e.name) {
                assert!(
                    crate::ecr::IMPLEMENTED_OPERATIONS.contains(&e.name),
                    "{}",
                    e.name
                );
            }
        }
    }
}
