//! Replication: PutReplicationConfiguration, DescribeRegistry (with the
//! configuration) and DescribeImageReplicationStatus. Members are checked
//! here against botocore's constraints; the rules, the queue and the copy
//! are the registry's (`crates/registry/src/replication/`).

use super::call::{constraint, seconds, Call, Failure};
use super::image_ids::{existing_image, image_id_of, ImageId};
use super::operation::EcrOperation;
use super::paging::{decode_token, encode_token, page_size, split_page};
use crate::aws_error::AwsError;
use berth_registry::ReplicationConfiguration;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// `[0-9a-z-]{2,25}`.
fn check_region(region: &str) -> Result<(), AwsError> {
    let ok = (2..=25).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'-');
    ok.then_some(()).ok_or_else(|| {
        constraint(
            "region",
            "Member must satisfy regular expression pattern: [0-9a-z-]{2,25}",
        )
    })
}

/// `[0-9]{12}`.
fn check_registry_id(id: &str) -> Result<(), AwsError> {
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()))
        .then_some(())
        .ok_or_else(|| {
            constraint(
                "registryId",
                "Member must satisfy regular expression pattern: [0-9]{12}",
            )
        })
}

/// A `PREFIX_MATCH` filter: 2–256 characters of a repository name's
/// alphabet. Wildcards are not in it (`*` is refused, as ECR's pattern
/// refuses it).
fn check_filter(filter: &str) -> Result<(), AwsError> {
    let pattern = "Member must satisfy regular expression pattern: ^(?:[a-z0-9]+(?:[._-][a-z0-9]*)*/)*[a-z0-9]*(?:[._-][a-z0-9]*)*$";
    if !(2..=256).contains(&filter.len()) {
        return Err(constraint(
            "filter",
            "Member must have length between 2 and 256",
        ));
    }
    let alphabet = filter
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b"._-/".contains(&b));
    let segments_start_right = filter.split('/').enumerate().all(|(i, seg)| {
        !seg.starts_with(['.', '_', '-']) && (!seg.is_empty() || i + 1 == filter.split('/').count())
    });
    (alphabet && segments_start_right)
        .then_some(())
        .ok_or_else(|| constraint("filter", pattern))
}

fn check_members(c: &ReplicationConfiguration) -> Result<(), AwsError> {
    for rule in &c.rules {
        for d in &rule.destinations {
            check_region(&d.region)?;
            check_registry_id(&d.registry_id)?;
        }
        for f in &rule.repository_filters {
            check_filter(&f.filter)?;
        }
    }
    Ok(())
}

pub struct PutReplicationConfiguration;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutReplicationConfigurationInput {
    replication_configuration: ReplicationConfiguration,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationConfigurationOutput {
    replication_configuration: ReplicationConfiguration,
}

impl EcrOperation for PutReplicationConfiguration {
    const NAME: &'static str = "PutReplicationConfiguration";
    type Input = PutReplicationConfigurationInput;
    type Output = ReplicationConfigurationOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        check_members(&input.replication_configuration)?;
        let replication_configuration = call
            .app
            .registry
            .put_replication_configuration(&call.registry, input.replication_configuration)
            .await?;
        Ok(ReplicationConfigurationOutput {
            replication_configuration,
        })
    }
}

/// The registry and its replication configuration.
pub struct DescribeRegistry;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeRegistryOutput {
    registry_id: String,
    replication_configuration: ReplicationConfiguration,
}

impl EcrOperation for DescribeRegistry {
    const NAME: &'static str = "DescribeRegistry";
    type Input = IgnoredAny;
    type Output = DescribeRegistryOutput;

    async fn handle(call: &Call<'_>, _: IgnoredAny) -> Result<Self::Output, Failure> {
        Ok(DescribeRegistryOutput {
            registry_id: call.registry.account_id.clone(),
            replication_configuration: call
                .app
                .registry
                .replication_configuration(&call.registry)
                .await?,
        })
    }
}

pub struct DescribeImageReplicationStatus;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeImageReplicationStatusInput {
    registry_id: Option<String>,
    repository_name: String,
    image_id: ImageId,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReplicationStatus {
    region: String,
    registry_id: String,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_code: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeImageReplicationStatusOutput {
    repository_name: String,
    image_id: ImageId,
    replication_statuses: Vec<ImageReplicationStatus>,
}

impl EcrOperation for DescribeImageReplicationStatus {
    const NAME: &'static str = "DescribeImageReplicationStatus";
    type Input = DescribeImageReplicationStatusInput;
    type Output = DescribeImageReplicationStatusOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let repo = call
            .existing_repo(input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let digest = existing_image(call, &repo, &input.image_id).await?;
        let statuses = call
            .app
            .registry
            .image_replication_statuses(&repo, &digest)
            .await?;
        Ok(DescribeImageReplicationStatusOutput {
            repository_name: repo.name.as_str().to_string(),
            image_id: image_id_of(&digest, &input.image_id),
            replication_statuses: statuses
                .into_iter()
                .map(|s| ImageReplicationStatus {
                    region: s.destination.region,
                    registry_id: s.destination.account_id,
                    status: s.status,
                    failure_code: s.failure_code,
                })
                .collect(),
        })
    }
}

/// A backfill's destination (ECR's `ReplicationDestination`).
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationShape {
    region: String,
    registry_id: String,
}

impl DestinationShape {
    fn of(key: &berth_registry::RegistryKey) -> DestinationShape {
        DestinationShape {
            region: key.region.clone(),
            registry_id: key.account_id.clone(),
        }
    }
}

/// A backfill as Start, Stop and List answer it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillShape {
    replication_backfill_id: String,
    destination: DestinationShape,
    status: String,
    started_at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<f64>,
}

fn backfill_shape(r: &berth_registry::BackfillRecord) -> BackfillShape {
    BackfillShape {
        replication_backfill_id: r.id.clone(),
        destination: DestinationShape::of(&r.destination),
        status: r.status.clone(),
        started_at: seconds(r.started_at),
        ended_at: r.ended_at.map(seconds),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillOutput {
    registry_id: String,
    #[serde(flatten)]
    backfill: BackfillShape,
}

pub struct StartReplicationBackfill;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartReplicationBackfillInput {
    destination: DestinationShape,
}

impl EcrOperation for StartReplicationBackfill {
    const NAME: &'static str = "StartReplicationBackfill";
    type Input = StartReplicationBackfillInput;
    type Output = BackfillOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        check_region(&input.destination.region)?;
        check_registry_id(&input.destination.registry_id)?;
        let b = call
            .app
            .registry
            .start_backfill(
                &call.registry,
                berth_registry::RegistryKey {
                    account_id: input.destination.registry_id,
                    region: input.destination.region,
                },
            )
            .await?;
        Ok(BackfillOutput {
            registry_id: call.registry.account_id.clone(),
            backfill: backfill_shape(&b.record),
        })
    }
}

pub struct StopReplicationBackfill;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillIdInput {
    replication_backfill_id: String,
}

impl EcrOperation for StopReplicationBackfill {
    const NAME: &'static str = "StopReplicationBackfill";
    type Input = BackfillIdInput;
    type Output = BackfillOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let b = call
            .app
            .registry
            .stop_backfill(&call.registry, &input.replication_backfill_id)
            .await?;
        Ok(BackfillOutput {
            registry_id: call.registry.account_id.clone(),
            backfill: backfill_shape(&b.record),
        })
    }
}

pub struct ListReplicationBackfills;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListReplicationBackfillsInput {
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListReplicationBackfillsOutput {
    backfills: Vec<BackfillShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl EcrOperation for ListReplicationBackfills {
    const NAME: &'static str = "ListReplicationBackfills";
    type Input = ListReplicationBackfillsInput;
    type Output = ListReplicationBackfillsOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let limit = match input.max_results {
            None => 25,
            Some(n @ 1..=50) => n as u32,
            Some(_) => {
                return Err(
                    constraint("maxResults", "Member must have value between 1 and 50").into(),
                )
            }
        };
        let after = decode_token(&input.next_token)?;
        let rows = call
            .app
            .registry
            .backfills(&call.registry, after.as_deref(), limit + 1)
            .await?;
        let (rows, more) = split_page(rows, limit);
        Ok(ListReplicationBackfillsOutput {
            next_token: more
                .then(|| rows.last().map(|r| encode_token(&r.id)))
                .flatten(),
            backfills: rows.iter().map(backfill_shape).collect(),
        })
    }
}

pub struct DescribeReplicationBackfillResults;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeReplicationBackfillResultsInput {
    replication_backfill_id: String,
    result_status_filter: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillProgress {
    /// Images queued so far (every image once the backfill has listed
    /// every repository).
    queued_images: u64,
    completed_images: u64,
    failed_images: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillResult {
    image_id: ImageId,
    repository_name: String,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_code: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeReplicationBackfillResultsOutput {
    registry_id: String,
    #[serde(flatten)]
    backfill: BackfillShape,
    progress: BackfillProgress,
    results: Vec<BackfillResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl EcrOperation for DescribeReplicationBackfillResults {
    const NAME: &'static str = "DescribeReplicationBackfillResults";
    type Input = DescribeReplicationBackfillResultsInput;
    type Output = DescribeReplicationBackfillResultsOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        if let Some(f) = &input.result_status_filter {
            if f != "COMPLETE" && f != "FAILED" {
                return Err(constraint(
                    "resultStatusFilter",
                    "Member must satisfy enum value set: [COMPLETE, FAILED]",
                )
                .into());
            }
        }
        let limit = page_size(input.max_results)?;
        let after = match decode_token(&input.next_token)? {
            None => 0,
            Some(t) => t
                .parse::<i64>()
                .map_err(|_| AwsError::invalid_parameter("Invalid parameter at 'nextToken'"))?,
        };
        let (b, rows) = call
            .app
            .registry
            .backfill_results(
                &call.registry,
                &input.replication_backfill_id,
                input.result_status_filter.as_deref(),
                after,
                limit + 1,
            )
            .await?;
        let (rows, more) = split_page(rows, limit);
        Ok(DescribeReplicationBackfillResultsOutput {
            registry_id: call.registry.account_id.clone(),
            backfill: backfill_shape(&b.record),
            progress: BackfillProgress {
                queued_images: b.in_progress + b.complete + b.failed,
                completed_images: b.complete,
                failed_images: b.failed,
            },
            next_token: more
                .then(|| rows.last().map(|r| encode_token(&r.id.to_string())))
                .flatten(),
            results: rows
                .into_iter()
                .map(|t| BackfillResult {
                    image_id: ImageId {
                        image_digest: Some(t.task.digest),
                        image_tag: t.task.tag,
                    },
                    repository_name: t.task.repository,
                    status: t.status,
                    failure_code: t.failure_code,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_checked_as_botocore_constrains_them() {
        assert!(check_region("us-west-2").is_ok());
        assert!(check_region("US").is_err());
        assert!(check_registry_id("111122223333").is_ok());
        assert!(check_registry_id("1111").is_err());
        for ok in ["prod-", "team/app", "ab", "prod.x_y"] {
            assert!(check_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["prod-*", "*", "p", "-prod", "Prod", "a//b"] {
            assert!(check_filter(bad).is_err(), "{bad}");
        }
    }
}
