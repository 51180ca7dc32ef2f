//! Resource tags of repositories: TagResource, UntagResource,
//! ListTagsForResource (and the `tags` of CreateRepository). The only
//! taggable resource is a repository, named by its ARN, which decides
//! authorization (`Scope::arn_repository`).

use super::access::{Needs, Scope};
use super::call::{constraint, Call, Failure};
use super::operation::EcrOperation;
use crate::aws_error::AwsError;
use berth_iam::arn::RepositoryArn;
use berth_registry::ResourceTag;
use serde::{Deserialize, Serialize};

/// ECR's `Tag` shape: capitalised members.
#[derive(Deserialize, Serialize)]
pub struct Tag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value")]
    value: String,
}

impl Tag {
    pub fn new(key: String, value: String) -> Tag {
        Tag { key, value }
    }

    pub fn into_pair(self) -> (String, String) {
        (self.key, self.value)
    }
}

pub fn resource_tags(tags: Vec<Tag>) -> Vec<ResourceTag> {
    tags.into_iter()
        .map(|t| ResourceTag {
            key: t.key,
            value: t.value,
        })
        .collect()
}

impl Call<'_> {
    /// The repository an ARN names, which must be in the registry the request
    /// addresses:
    /// `arn:<partition>:ecr:<region>:<account>:repository/<name>`.
    fn repository_of_arn(&self, arn: &str) -> Result<String, AwsError> {
        let RepositoryArn {
            service,
            region,
            account,
            name,
            ..
        } = RepositoryArn::parse(arn).ok_or_else(|| constraint("resourceArn", "Invalid ARN"))?;
        self.check_registry_id(Some(account))?;
        // ECR Public's calls run on the `@public` key (`ecr::api` with `ECR_PUBLIC`).
        let public = self.registry.region == berth_registry::PUBLIC_REGION;
        if public != (service == "ecr-public") {
            return Err(AwsError::invalid_parameter(if public {
                "the ARN is a private repository's: ECR Public's are arn:aws:ecr-public::<account>:repository/<name>"
            } else {
                "the ARN is a public repository's: call ECR Public (aws ecr-public) for it"
            }));
        }
        if !public && region != self.registry.region {
            return Err(AwsError::invalid_parameter(format!(
                "the ARN names region '{region}' but the request was signed for '{}'; call the API in the repository's region",
                self.registry.region
            )));
        }
        self.repository_name(name)?;
        Ok(name.to_string())
    }
}

/// The tag operations' output has no members.
#[derive(Serialize)]
pub struct Empty {}

pub struct TagResource;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagResourceInput {
    resource_arn: String,
    tags: Vec<Tag>,
}

impl EcrOperation for TagResource {
    const NAME: &'static str = "TagResource";
    type Input = TagResourceInput;
    type Output = Empty;

    fn needs(scope: &Scope) -> Result<Needs, AwsError> {
        let mut needs = Needs::on(Self::NAME, Some(scope.arn_repository()?));
        needs.request_tags = scope.tags.clone();
        Ok(needs)
    }

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Empty, Failure> {
        let name = call.repository_of_arn(&input.resource_arn)?;
        call.app
            .registry
            .tag_repository(&call.registry, &name, &resource_tags(input.tags))
            .await?;
        Ok(Empty {})
    }
}

pub struct UntagResource;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UntagResourceInput {
    resource_arn: String,
    tag_keys: Vec<String>,
}

impl EcrOperation for UntagResource {
    const NAME: &'static str = "UntagResource";
    type Input = UntagResourceInput;
    type Output = Empty;

    fn needs(scope: &Scope) -> Result<Needs, AwsError> {
        let mut needs = Needs::on(Self::NAME, Some(scope.arn_repository()?));
        needs.tag_keys = scope.tag_keys.clone();
        Ok(needs)
    }

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Empty, Failure> {
        let name = call.repository_of_arn(&input.resource_arn)?;
        call.app
            .registry
            .untag_repository(&call.registry, &name, &input.tag_keys)
            .await?;
        Ok(Empty {})
    }
}

pub struct ListTagsForResource;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListTagsForResourceInput {
    resource_arn: String,
}

#[derive(Serialize)]
pub struct ListTagsForResourceOutput {
    tags: Vec<Tag>,
}

impl EcrOperation for ListTagsForResource {
    const NAME: &'static str = "ListTagsForResource";
    type Input = ListTagsForResourceInput;
    type Output = ListTagsForResourceOutput;

    fn needs(scope: &Scope) -> Result<Needs, AwsError> {
        Ok(Needs::on(Self::NAME, Some(scope.arn_repository()?)))
    }

    async fn handle(
        call: &Call<'_>,
        input: Self::Input,
    ) -> Result<ListTagsForResourceOutput, Failure> {
        let name = call.repository_of_arn(&input.resource_arn)?;
        let tags = call
            .app
            .registry
            .repository_tags(&call.registry, &name)
            .await?;
        Ok(ListTagsForResourceOutput {
            tags: tags
                .into_iter()
                .map(|t| Tag {
                    key: t.key,
                    value: t.value,
                })
                .collect(),
        })
    }
}
