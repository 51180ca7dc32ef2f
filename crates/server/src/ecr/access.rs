//! What each ECR operation must be allowed to do: `ecr:<Operation>` on the
//! repository the input names (or on the registry, resource `*`), plus the
//! extra checks of the service authorization reference (CreateRepository
//! with tags also needs `ecr:TagResource`).

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

/// The account whose registry the input addresses: its `registryId`, or
/// the account of the repository ARN the tag operations name; `None` means
/// the caller's own. Malformed values are left to the operation to refuse.
pub fn target_account(input: &Value) -> Option<&str> {
    if let Some(id) = input.get("registryId").and_then(Value::as_str) {
        return (id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())).then_some(id);
    }
    let arn = input.get("resourceArn").and_then(Value::as_str)?;
    RepositoryArn::parse(arn).map(|a| a.account)
}

pub fn required(op: &str, input: &Value) -> Result<Needs, AwsError> {
    let action = format!("ecr:{op}");
    let name = input
        .get("repositoryName")
        .and_then(Value::as_str)
        .map(str::to_string);
    let tags = || -> Vec<(String, String)> {
        input
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
            .collect()
    };
    let mut needs = Needs::default();
    match op {
        "TagResource" | "UntagResource" | "ListTagsForResource" => {
            // Refused before authorization: the ARN's shape says nothing
            // about what exists.
            let arn = input
                .get("resourceArn")
                .and_then(Value::as_str)
                .and_then(RepositoryArn::parse)
                .ok_or_else(|| super::ops::constraint("resourceArn", "Invalid ARN"))?;
            needs.checks.push((action, Some(arn.name.to_string())));
            match op {
                "TagResource" => needs.request_tags = tags(),
                "UntagResource" => {
                    needs.tag_keys = input
                        .get("tagKeys")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|k| k.as_str().map(str::to_string))
                        .collect()
                }
                _ => {}
            }
        }
        // Every repository named is checked; the batch refuses as a whole.
        "BatchGetRepositoryScanningConfiguration" => {
            needs.checks = input
                .get("repositoryNames")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|n| (action.clone(), Some(n.to_string())))
                .collect();
            // Without names the request is malformed, but is refused to a
            // caller without the action first, as every operation is.
            if needs.checks.is_empty() {
                needs.checks.push((action, None));
            }
        }
        "DescribeRepositories" => match input.get("repositoryNames").and_then(Value::as_array) {
            Some(names) => {
                needs.checks = names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|n| (action.clone(), Some(n.to_string())))
                    .collect()
            }
            None => needs.checks.push((action, Some("*".to_string()))),
        },
        "CreateRepository" => {
            needs.request_tags = tags();
            needs.checks.push((action, name.clone()));
            if !needs.request_tags.is_empty() {
                needs.checks.push(("ecr:TagResource".to_string(), name));
            }
        }
        _ => needs.checks.push((action, name)),
    }
    Ok(needs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_map_to_their_action_and_repository() {
        let r = |op: &str, input: Value| required(op, &input).unwrap().checks;
        assert_eq!(
            r("PutImage", json!({"repositoryName": "a/b"})),
            [("ecr:PutImage".to_string(), Some("a/b".to_string()))]
        );
        // Lifecycle operations need their own action on the repository.
        for op in [
            "PutLifecyclePolicy",
            "GetLifecyclePolicy",
            "DeleteLifecyclePolicy",
            "StartLifecyclePolicyPreview",
            "GetLifecyclePolicyPreview",
        ] {
            assert_eq!(
                r(op, json!({"repositoryName": "team/app"})),
                [(format!("ecr:{op}"), Some("team/app".to_string()))]
            );
        }
        for op in ["StartImageScan", "DescribeImageScanFindings"] {
            assert_eq!(
                r(op, json!({"repositoryName": "team/app"})),
                [(format!("ecr:{op}"), Some("team/app".to_string()))]
            );
        }
        for op in [
            "GetRegistryScanningConfiguration",
            "PutRegistryScanningConfiguration",
        ] {
            assert_eq!(r(op, json!({})), [(format!("ecr:{op}"), None)]);
        }
        assert_eq!(
            r(
                "BatchGetRepositoryScanningConfiguration",
                json!({"repositoryNames": ["a", "b"]})
            ),
            [
                (
                    "ecr:BatchGetRepositoryScanningConfiguration".to_string(),
                    Some("a".to_string())
                ),
                (
                    "ecr:BatchGetRepositoryScanningConfiguration".to_string(),
                    Some("b".to_string())
                )
            ]
        );
        assert_eq!(
            r("GetAuthorizationToken", json!({})),
            [("ecr:GetAuthorizationToken".to_string(), None)]
        );
        assert_eq!(
            r(
                "TagResource",
                json!({"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/x/y"})
            ),
            [("ecr:TagResource".to_string(), Some("x/y".to_string()))]
        );
        assert_eq!(
            r("DescribeRepositories", json!({})),
            [(
                "ecr:DescribeRepositories".to_string(),
                Some("*".to_string())
            )]
        );
        assert_eq!(
            r(
                "CreateRepository",
                json!({"repositoryName": "n", "tags": [{"Key": "k", "Value": "v"}]})
            )
            .len(),
            2
        );
        let tagged = required(
            "CreateRepository",
            &json!({"repositoryName": "n", "tags": [{"Key": "team", "Value": "a"}]}),
        )
        .unwrap();
        assert_eq!(tagged.request_tags, [("team".to_string(), "a".to_string())]);
        let untag = required(
            "UntagResource",
            &json!({"resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/x", "tagKeys": ["k"]}),
        )
        .unwrap();
        assert_eq!(untag.tag_keys, ["k"]);
        assert!(required("TagResource", &json!({"resourceArn": "arn:aws:ecr:x"})).is_err());
    }

    #[test]
    fn the_target_account_comes_from_registry_id_or_the_arn() {
        assert_eq!(
            target_account(&json!({"registryId": "111111111111"})),
            Some("111111111111")
        );
        assert_eq!(target_account(&json!({"registryId": "1111"})), None);
        assert_eq!(
            target_account(
                &json!({"resourceArn": "arn:aws:ecr:us-east-1:222222222222:repository/x"})
            ),
            Some("222222222222")
        );
        assert_eq!(target_account(&json!({})), None);
    }
}
