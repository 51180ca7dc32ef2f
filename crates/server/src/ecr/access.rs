//! What each ECR operation must be allowed to do: `ecr:<Operation>` on the
//! repository the input names (or on the registry, resource `*`), plus the
//! extra checks of the service authorization reference (CreateRepository
//! with tags also needs `ecr:TagResource`).

use serde_json::Value;

/// (action, repository) pairs; `None` is the registry (resource `*`), `*`
/// every repository (DescribeRepositories without names).
pub fn required(op: &str, input: &Value) -> Vec<(String, Option<String>)> {
    let action = format!("ecr:{op}");
    let name = input
        .get("repositoryName")
        .and_then(Value::as_str)
        .map(str::to_string);
    match op {
        "TagResource" | "UntagResource" | "ListTagsForResource" => {
            let repo = input
                .get("resourceArn")
                .and_then(Value::as_str)
                .and_then(|arn| arn.split_once(":repository/"))
                .map(|(_, n)| n.to_string());
            vec![(action, repo)]
        }
        "DescribeRepositories" => match input.get("repositoryNames").and_then(Value::as_array) {
            Some(names) => names
                .iter()
                .filter_map(Value::as_str)
                .map(|n| (action.clone(), Some(n.to_string())))
                .collect(),
            None => vec![(action, Some("*".to_string()))],
        },
        "CreateRepository" => {
            let tagged = input
                .get("tags")
                .and_then(Value::as_array)
                .is_some_and(|t| !t.is_empty());
            let mut needs = vec![(action, name.clone())];
            if tagged {
                needs.push(("ecr:TagResource".to_string(), name));
            }
            needs
        }
        _ => vec![(action, name)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operations_map_to_their_action_and_repository() {
        let r = |op: &str, input: Value| required(op, &input);
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
    }
}
