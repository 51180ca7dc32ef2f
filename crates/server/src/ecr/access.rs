//! Who may make an ECR request: the members that name what a request
//! touches ([`Scope`]), and what an operation must be allowed ([`Needs`]):
//! `ecr:<Operation>` on the repository the input names (or on the
//! registry, resource `*`), plus the extra checks of the service
//! authorization reference (CreateRepository with tags also needs
//! `ecr:TagResource`). Each operation says its needs
//! (`EcrOperation::needs`); most take the default.

use super::call::constraint;
use crate::aws_error::AwsError;
use berth_iam::arn::RepositoryArn;
use serde_json::Value;

/// What an operation must be allowed, and the request's tags that
/// conditions may read.
#[derive(Debug, Default, PartialEq)]
pub struct Needs {
    /// (action, repository) pairs; `None` is the registry (resource `*`),
    /// `*` every repository (DescribeRepositories without names).
    pub checks: Vec<(String, Option<String>)>,
    /// `aws:RequestTag/<key>` (CreateRepository, TagResource).
    pub request_tags: Vec<(String, String)>,
    /// UntagResource's keys (with the request tags' keys: `aws:TagKeys`).
    pub tag_keys: Vec<String>,
}

impl Needs {
    /// `ecr:<operation>` on one repository, or on the registry (`None`).
    pub fn on(operation: &str, repository: Option<String>) -> Needs {
        Needs {
            checks: vec![(format!("ecr:{operation}"), repository)],
            ..Needs::default()
        }
    }

    /// `ecr:<operation>` on each repository named; the batch refuses as a
    /// whole.
    pub fn on_each(operation: &str, repositories: &[String]) -> Needs {
        Needs {
            checks: repositories
                .iter()
                .map(|n| (format!("ecr:{operation}"), Some(n.clone())))
                .collect(),
            ..Needs::default()
        }
    }
}

/// The members of a request that decide which registry it addresses and
/// what it must be allowed. They are read leniently, before the operation's
/// typed input is checked: a member of the wrong type counts as absent, so
/// an unauthorized caller is refused whatever else its input holds, and a
/// malformed input is reported (`SerializationException`) only to a caller
/// that may make the request.
#[derive(Debug, Default)]
pub struct Scope {
    pub registry_id: Option<String>,
    pub repository_name: Option<String>,
    /// `repositoryNames` when it is a list (its strings).
    pub repository_names: Option<Vec<String>>,
    pub resource_arn: Option<String>,
    /// `tags` (`[{"Key": .., "Value": ..}]`): `aws:RequestTag/<key>`.
    pub tags: Vec<(String, String)>,
    /// `tagKeys` (UntagResource).
    pub tag_keys: Vec<String>,
}

impl Scope {
    pub fn of(input: &Value) -> Scope {
        let string = |member: &str| {
            input
                .get(member)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let strings = |member: &str| {
            input.get(member).and_then(Value::as_array).map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
        };
        Scope {
            registry_id: string("registryId"),
            repository_name: string("repositoryName"),
            repository_names: strings("repositoryNames"),
            resource_arn: string("resourceArn"),
            tags: input
                .get("tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|t| {
                    Some((
                        t.get("Key")?.as_str()?.to_string(),
                        t.get("Value")?.as_str()?.to_string(),
                    ))
                })
                .collect(),
            tag_keys: strings("tagKeys").unwrap_or_default(),
        }
    }

    /// The account whose registry the input addresses: its `registryId`,
    /// or the account of the repository ARN the tag operations name; `None`
    /// means the caller's own. Malformed values are left to the operation
    /// to refuse.
    pub fn target_account(&self) -> Option<&str> {
        if let Some(id) = &self.registry_id {
            return (id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()))
                .then_some(id.as_str());
        }
        RepositoryArn::parse(self.resource_arn.as_deref()?).map(|a| a.account)
    }

    /// The repository `resourceArn` names, refused before authorization
    /// when malformed: the ARN's shape says nothing about what exists.
    pub fn arn_repository(&self) -> Result<String, AwsError> {
        self.resource_arn
            .as_deref()
            .and_then(RepositoryArn::parse)
            .map(|a| a.name.to_string())
            .ok_or_else(|| constraint("resourceArn", "Invalid ARN"))
    }
}
