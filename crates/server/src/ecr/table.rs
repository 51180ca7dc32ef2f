//! The operation table: every operation of the ECR service model
//! (botocore 1.44.5: 62), each either implemented (its type, whose
//! `EcrOperation` impl holds its name, needs, shapes and handler) or
//! declared unsupported (`UnsupportedOperationException`). A name not here
//! is `UnknownOperationException`. `OPERATIONS` and
//! `IMPLEMENTED_OPERATIONS` are derived from it.
//!
//! Adding an operation: write the unit struct and its `EcrOperation` impl
//! in the module of its area (here `images.rs`), e.g.
//!
//! ```ignore
//! pub struct DescribeImageSigningStatus;
//!
//! impl EcrOperation for DescribeImageSigningStatus {
//!     const NAME: &'static str = "DescribeImageSigningStatus";
//!     type Input = DescribeImageSigningStatusInput; // #[derive(Deserialize)]
//!     type Output = DescribeImageSigningStatusOutput; // #[derive(Serialize)]
//!     // `needs` defaults to ecr:<NAME> on `repositoryName`.
//!     async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
//!         ...
//!     }
//! }
//! ```
//!
//! then replace its row below,
//! `Entry::unsupported("DescribeImageSigningStatus"),`, with
//! `Entry::implemented::<images::DescribeImageSigningStatus>(),`.

use super::operation::Entry;
use super::{
    images, layers, lifecycle, policies, pull_through_cache, replication, repositories, scanning,
    settings, tagging, templates,
};

/// In the model's (alphabetical) order.
pub const TABLE: &[Entry] = &[
    Entry::implemented::<images::BatchCheckLayerAvailability>(),
    Entry::implemented::<images::BatchDeleteImage>(),
    Entry::implemented::<images::BatchGetImage>(),
    Entry::implemented::<scanning::BatchGetRepositoryScanningConfiguration>(),
    Entry::implemented::<layers::CompleteLayerUpload>(),
    Entry::unsupported("CreatePullThroughCacheRule"),
    Entry::implemented::<repositories::CreateRepository>(),
    Entry::implemented::<templates::CreateRepositoryCreationTemplate>(),
    Entry::implemented::<lifecycle::DeleteLifecyclePolicy>(),
    Entry::unsupported("DeletePullThroughCacheRule"),
    Entry::implemented::<policies::DeleteRegistryPolicy>(),
    Entry::implemented::<repositories::DeleteRepository>(),
    Entry::implemented::<templates::DeleteRepositoryCreationTemplate>(),
    Entry::implemented::<policies::DeleteRepositoryPolicy>(),
    Entry::unsupported("DeleteSigningConfiguration"),
    Entry::unsupported("DeregisterPullTimeUpdateExclusion"),
    Entry::implemented::<replication::DescribeImageReplicationStatus>(),
    Entry::implemented::<scanning::DescribeImageScanFindings>(),
    Entry::unsupported("DescribeImageSigningStatus"),
    Entry::implemented::<images::DescribeImages>(),
    Entry::implemented::<pull_through_cache::DescribePullThroughCacheRules>(),
    Entry::implemented::<replication::DescribeRegistry>(),
    Entry::implemented::<replication::DescribeReplicationBackfillResults>(),
    Entry::implemented::<repositories::DescribeRepositories>(),
    Entry::implemented::<templates::DescribeRepositoryCreationTemplates>(),
    Entry::implemented::<settings::GetAccountSetting>(),
    Entry::implemented::<repositories::GetAuthorizationToken>(),
    Entry::implemented::<images::GetDownloadUrlForLayer>(),
    Entry::implemented::<lifecycle::GetLifecyclePolicy>(),
    Entry::implemented::<lifecycle::GetLifecyclePolicyPreview>(),
    Entry::implemented::<policies::GetRegistryPolicy>(),
    Entry::implemented::<scanning::GetRegistryScanningConfiguration>(),
    Entry::implemented::<policies::GetRepositoryPolicy>(),
    Entry::unsupported("GetSigningConfiguration"),
    Entry::implemented::<layers::InitiateLayerUpload>(),
    Entry::implemented::<images::ListImageReferrers>(),
    Entry::implemented::<images::ListImages>(),
    Entry::unsupported("ListPullTimeUpdateExclusions"),
    Entry::implemented::<replication::ListReplicationBackfills>(),
    Entry::implemented::<tagging::ListTagsForResource>(),
    Entry::implemented::<settings::PutAccountSetting>(),
    Entry::implemented::<images::PutImage>(),
    Entry::implemented::<settings::PutImageScanningConfiguration>(),
    Entry::implemented::<repositories::PutImageTagMutability>(),
    Entry::implemented::<lifecycle::PutLifecyclePolicy>(),
    Entry::implemented::<policies::PutRegistryPolicy>(),
    Entry::implemented::<scanning::PutRegistryScanningConfiguration>(),
    Entry::implemented::<replication::PutReplicationConfiguration>(),
    Entry::unsupported("PutSigningConfiguration"),
    Entry::unsupported("RegisterPullTimeUpdateExclusion"),
    Entry::implemented::<policies::SetRepositoryPolicy>(),
    Entry::implemented::<scanning::StartImageScan>(),
    Entry::implemented::<lifecycle::StartLifecyclePolicyPreview>(),
    Entry::implemented::<replication::StartReplicationBackfill>(),
    Entry::implemented::<replication::StopReplicationBackfill>(),
    Entry::implemented::<tagging::TagResource>(),
    Entry::implemented::<tagging::UntagResource>(),
    Entry::implemented::<images::UpdateImageStorageClass>(),
    Entry::unsupported("UpdatePullThroughCacheRule"),
    Entry::implemented::<templates::UpdateRepositoryCreationTemplate>(),
    Entry::implemented::<layers::UploadLayerPart>(),
    Entry::unsupported("ValidatePullThroughCacheRule"),
];

/// The entry of an operation name, if the model has it.
pub fn find(name: &str) -> Option<&'static Entry> {
    TABLE.iter().find(|e| e.name == name)
}

const fn implemented_count() -> usize {
    let (mut i, mut n) = (0, 0);
    while i < TABLE.len() {
        if TABLE[i].handler.is_some() {
            n += 1;
        }
        i += 1;
    }
    n
}

const ALL: [&str; TABLE.len()] = {
    let mut out = [""; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = TABLE[i].name;
        i += 1;
    }
    out
};

const IMPLEMENTED: [&str; implemented_count()] = {
    let mut out = [""; implemented_count()];
    let (mut i, mut j) = (0, 0);
    while i < TABLE.len() {
        if TABLE[i].handler.is_some() {
            out[j] = TABLE[i].name;
            j += 1;
        }
        i += 1;
    }
    out
};

/// Every operation of the ECR model.
pub const OPERATIONS: &[&str] = &ALL;
/// The operations berth answers; the rest of `OPERATIONS` answer
/// `UnsupportedOperationException`.
pub const IMPLEMENTED_OPERATIONS: &[&str] = &IMPLEMENTED;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecr::access::{Needs, Scope};
    use serde_json::{json, Value};

    #[test]
    fn the_table_lists_the_model_once_in_order() {
        assert_eq!(OPERATIONS.len(), 62);
        assert!(OPERATIONS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(IMPLEMENTED_OPERATIONS.len(), 51);
        assert!(IMPLEMENTED_OPERATIONS.contains(&"UploadLayerPart"));
        assert!(IMPLEMENTED_OPERATIONS.contains(&"PutReplicationConfiguration"));
        assert!(IMPLEMENTED_OPERATIONS.contains(&"StartReplicationBackfill"));
    }

    fn required(op: &str, input: &Value) -> Result<Needs, crate::aws_error::AwsError> {
        let handler = find(op).unwrap().handler.as_ref().unwrap();
        (handler.needs)(&Scope::of(input))
    }

    #[test]
    fn operations_map_to_their_action_and_repository() {
        let r = |op: &str, input: Value| required(op, &input).unwrap().checks;
        assert_eq!(
            r("PutImage", json!({"repositoryName": "a/b"})),
            [("ecr:PutImage".to_string(), Some("a/b".to_string()))]
        );
        // A member of the wrong type counts as absent.
        assert_eq!(
            r("PutImage", json!({"repositoryName": 5})),
            [("ecr:PutImage".to_string(), None)]
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
            r("BatchGetRepositoryScanningConfiguration", json!({})),
            [(
                "ecr:BatchGetRepositoryScanningConfiguration".to_string(),
                None
            )]
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
        let target = |v: Value| Scope::of(&v).target_account().map(str::to_string);
        assert_eq!(
            target(json!({"registryId": "111111111111"})).as_deref(),
            Some("111111111111")
        );
        assert_eq!(target(json!({"registryId": "1111"})), None);
        assert_eq!(
            target(json!({"resourceArn": "arn:aws:ecr:us-east-1:222222222222:repository/x"}))
                .as_deref(),
            Some("222222222222")
        );
        assert_eq!(target(json!({})), None);
    }
}
