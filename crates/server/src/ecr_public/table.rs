//! The one table of the ECR Public model's 23 operations: the handler of
//! each operation berth answers, and for the rest the reason it answers
//! `UnsupportedCommandException`.

use super::{registries, repositories, PublicCall};
use crate::aws_error::AwsError;
use crate::op_table::yes;
use futures_util::future::BoxFuture;
use serde_json::Value;

/// An operation's handler: the request's JSON in, the response's out.
pub type Handler = for<'a> fn(&'a PublicCall<'a>, Value) -> BoxFuture<'a, Result<Value, AwsError>>;

pub type Entry = crate::op_table::Entry<Handler>;

const fn no(name: &'static str) -> Entry {
    crate::op_table::no(name, REPOSITORIES)
}

const REPOSITORIES: &str = "the API's image and layer operations, repository policies and tags are not built yet (berth's issue 24); push and pull through the public host's /v2 after `aws ecr-public get-login-password | docker login`";

pub const OPERATIONS: &[Entry] = &[
    no("BatchCheckLayerAvailability"),
    no("BatchDeleteImage"),
    no("CompleteLayerUpload"),
    yes("CreateRepository", repositories::create_repository),
    yes("DeleteRepository", repositories::delete_repository),
    no("DeleteRepositoryPolicy"),
    no("DescribeImageTags"),
    no("DescribeImages"),
    yes("DescribeRegistries", registries::describe_registries),
    yes("DescribeRepositories", repositories::describe_repositories),
    yes("GetAuthorizationToken", registries::get_authorization_token),
    yes(
        "GetRegistryCatalogData",
        registries::get_registry_catalog_data,
    ),
    yes(
        "GetRepositoryCatalogData",
        repositories::get_repository_catalog_data,
    ),
    no("GetRepositoryPolicy"),
    no("InitiateLayerUpload"),
    no("ListTagsForResource"),
    no("PutImage"),
    yes(
        "PutRegistryCatalogData",
        registries::put_registry_catalog_data,
    ),
    yes(
        "PutRepositoryCatalogData",
        repositories::put_repository_catalog_data,
    ),
    no("SetRepositoryPolicy"),
    no("TagResource"),
    no("UntagResource"),
    no("UploadLayerPart"),
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
        assert_eq!(super::IMPLEMENTED_OPERATIONS.len(), 9);
    }
}
