//! DescribeImageTags (ECR Public only; its other image operations are
//! ECR's, `table::Handler::Ecr`): the tags of a public repository's images,
//! a page of tagged images at a time, each tag with its image's details.

use crate::aws_error::AwsError;
use crate::ecr::paging::{decode_token, encode_token, split_page};
use berth_registry::{public_key, Repo, StatusFilter, TagStatus};
use serde::Deserialize;
use serde_json::{json, Value};

const PAGE_DEFAULT: u32 = 100;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DescribeImageTagsInput {
    registry_id: Option<String>,
    repository_name: String,
    next_token: Option<String>,
    max_results: Option<i64>,
}

fn bad_token() -> AwsError {
    AwsError::client(
        "InvalidParameterException",
        "Invalid parameter at 'nextToken': the token is not one this registry gave",
    )
}

handler!(
    describe_image_tags,
    DescribeImageTagsInput,
    |call, input| {
        let account = input
            .registry_id
            .clone()
            .unwrap_or_else(|| call.caller.account_id.clone());
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AwsError::client(
                "InvalidParameterException",
                "Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression '[0-9]{12}''",
            ));
        }
        let name = berth_oci::RepositoryName::parse(&input.repository_name).map_err(|_| {
            AwsError::client(
                "InvalidParameterException",
                "Invalid parameter at 'repositoryName': not a repository name",
            )
        })?;
        let fail = |e| AwsError::from_registry(e, &account);
        // As ECR's DescribeImages (which ECR Public shares).
        super::repositories::authorize_change(
            call,
            "ecr-public:DescribeImageTags",
            &account,
            name.as_str(),
        )
        .await?;
        let limit = match input.max_results {
            None => PAGE_DEFAULT,
            Some(n @ 1..=1000) => n as u32,
            Some(n) => {
                return Err(AwsError::client(
                    "InvalidParameterException",
                    format!("1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000"),
                ))
            }
        };
        let repo = Repo {
            registry: public_key(&account),
            name,
        };
        let reg = &call.app.registry;
        reg.repository(&repo.registry, repo.name.as_str())
            .await
            .map_err(fail)?;
        let after = decode_token(&input.next_token)
            .map_err(|_| bad_token())?
            .map(|d| d.parse::<berth_oci::Digest>().map_err(|_| bad_token()))
            .transpose()?;
        let rows = reg
            .image_digests(
                &repo,
                TagStatus::Tagged,
                StatusFilter::Any,
                after.as_ref(),
                limit + 1,
            )
            .await
            .map_err(fail)?;
        let (digests, more) = split_page(rows, limit);
        let details = reg.image_details(&repo, &digests).await.map_err(fail)?;
        let mut tags = Vec::new();
        for d in &details {
            let r = &d.record;
            let pushed = r.pushed_at as f64 / 1000.0;
            for tag in &r.tags {
                let mut detail = json!({
                    "imageDigest": r.digest.to_string(),
                    "imageSizeInBytes": d.size,
                    "imagePushedAt": pushed,
                    "imageManifestMediaType": r.media_type,
                });
                if let Some(t) = &r.artifact_type {
                    detail["artifactMediaType"] = json!(t);
                }
                tags.push(json!({"imageTag": tag, "createdAt": pushed, "imageDetail": detail}));
            }
        }
        let mut out = json!({"imageTagDetails": tags});
        if more {
            if let Some(last) = digests.last() {
                out["nextToken"] = Value::String(encode_token(last.as_str()));
            }
        }
        Ok(out)
    }
);
