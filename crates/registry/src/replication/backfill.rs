//! Replication backfills (StartReplicationBackfill and its kin): images a
//! registry stored before its configuration, replicated to one
//! destination. A backfill is a row and a cursor (the last repository
//! name whose images are queued); the workers advance it a page of
//! repositories at a time, queueing each image (and each of its tags) as
//! a task of the backfill, the cursor moved and the tasks queued in one
//! transaction over the cursor read (two nodes queue a page once). It
//! completes when every repository is queued and none of its tasks is in
//! progress; stopping it fails its queued tasks nobody holds.

use super::ReplicationConfiguration;
use crate::{Error, Registry, Result};
use berth_store::{
    BackfillOutcome, BackfillRecord, NewReplicationTask, RegistryKey, ReplicationTask, RepoId,
    StatusFilter, TagStatus,
};

/// Backfills one registry may run at once (ECR's quota).
pub const MAX_RUNNING_BACKFILLS: u32 = 10;
/// Repositories a worker queues per step.
const REPOSITORIES_PER_STEP: u32 = 20;
const IMAGES_PER_PAGE: u32 = 1000;

/// A backfill with its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backfill {
    pub record: BackfillRecord,
    /// Its tasks: in progress, complete, failed.
    pub in_progress: u64,
    pub complete: u64,
    pub failed: u64,
}

fn not_found(id: &str, registry: &RegistryKey) -> Error {
    Error::Backfill {
        code: "ReplicationBackfillNotFoundException",
        message: format!(
            "The replication backfill with id '{id}' does not exist in the registry with id '{}'",
            registry.account_id
        ),
    }
}

impl Registry {
    /// StartReplicationBackfill: `destination` must be one of the
    /// configuration's; one backfill per destination region at a time,
    /// at most `MAX_RUNNING_BACKFILLS`.
    pub async fn start_backfill(
        &self,
        registry: &RegistryKey,
        destination: RegistryKey,
    ) -> Result<Backfill> {
        let config = self.replication_configuration(registry).await?;
        let known = config.rules.iter().any(|r| {
            r.destinations
                .iter()
                .any(|d| d.region == destination.region && d.registry_id == destination.account_id)
        });
        if !known {
            return Err(Error::InvalidParameter(format!(
                "Invalid parameter at 'destination' failed to satisfy constraint: 'The destination (registry {} in {}) is not a destination of the registry's replication configuration'",
                destination.account_id, destination.region
            )));
        }
        let record = BackfillRecord {
            id: uuid::Uuid::new_v4().to_string(),
            source: registry.clone(),
            destination,
            status: berth_store::REPLICATION_IN_PROGRESS.into(),
            after_repo: String::new(),
            enumerated: false,
            started_at: self.now(),
            ended_at: None,
        };
        match self
            .meta
            .create_backfill(&record, MAX_RUNNING_BACKFILLS)
            .await?
        {
            BackfillOutcome::Created => {}
            BackfillOutcome::InProgress(id) => {
                return Err(Error::Backfill {
                    code: "ReplicationBackfillInProgressException",
                    message: format!(
                        "The replication backfill '{id}' to the region {} is still in progress",
                        record.destination.region
                    ),
                })
            }
            BackfillOutcome::Full => {
                return Err(Error::Backfill {
                    code: "LimitExceededException",
                    message: format!(
                        "The operation did not succeed because it would have exceeded a service limit for your account. The registry with id '{}' runs {MAX_RUNNING_BACKFILLS} replication backfills, the most allowed",
                        registry.account_id
                    ),
                })
            }
        }
        self.replication_wake.notify_one();
        self.backfill(registry, &record.id).await
    }

    /// StopReplicationBackfill.
    pub async fn stop_backfill(&self, registry: &RegistryKey, id: &str) -> Result<Backfill> {
        let found = self.backfill(registry, id).await?;
        if !self.meta.end_backfill(id, "STOPPED", self.now()).await? {
            return Err(Error::Backfill {
                code: "ReplicationBackfillInvalidStatusException",
                message: format!(
                    "The replication backfill '{id}' is {} and cannot be stopped",
                    found.record.status
                ),
            });
        }
        self.backfill(registry, id).await
    }

    /// One backfill with its progress.
    pub async fn backfill(&self, registry: &RegistryKey, id: &str) -> Result<Backfill> {
        let record = self
            .meta
            .get_backfill(registry, id)
            .await?
            .ok_or_else(|| not_found(id, registry))?;
        let (in_progress, complete, failed) = self.meta.backfill_counts(id).await?;
        Ok(Backfill {
            record,
            in_progress,
            complete,
            failed,
        })
    }

    /// ListReplicationBackfills: by id after `after`.
    pub async fn backfills(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BackfillRecord>> {
        Ok(self.meta.list_backfills(registry, after, limit).await?)
    }

    /// DescribeReplicationBackfillResults: the backfill's images, only
    /// those finished as `status` (COMPLETE or FAILED) when given.
    pub async fn backfill_results(
        &self,
        registry: &RegistryKey,
        id: &str,
        status: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<(Backfill, Vec<ReplicationTask>)> {
        let b = self.backfill(registry, id).await?;
        let tasks = self.meta.backfill_tasks(id, status, after, limit).await?;
        Ok((b, tasks))
    }

    /// One step of every running backfill: a page of repositories queued,
    /// or the backfill completed when everything is queued and done. One
    /// worker per node calls it (an idle node asks for running backfills
    /// once a second, not once per worker).
    pub async fn advance_backfills(&self) -> Result<()> {
        for b in self
            .meta
            .running_backfills(MAX_RUNNING_BACKFILLS * 8)
            .await?
        {
            if b.enumerated {
                if self.meta.backfill_counts(&b.id).await?.0 == 0 {
                    self.meta
                        .end_backfill(&b.id, "COMPLETE", self.now())
                        .await?;
                }
                continue;
            }
            let config = self.replication_configuration(&b.source).await?;
            self.queue_backfill_page(&b, &config).await?;
        }
        Ok(())
    }

    async fn queue_backfill_page(
        &self,
        b: &BackfillRecord,
        config: &ReplicationConfiguration,
    ) -> Result<()> {
        let after = (!b.after_repo.is_empty()).then_some(b.after_repo.as_str());
        let names = self
            .meta
            .list_repositories(&b.source, after, REPOSITORIES_PER_STEP)
            .await?;
        let mut tasks = Vec::new();
        for name in &names {
            if !config.destinations_for(name).contains(&b.destination) {
                continue;
            }
            let repo = crate::Repo {
                registry: b.source.clone(),
                name: match berth_oci::RepositoryName::parse(name) {
                    Ok(n) => n,
                    Err(_) => continue,
                },
            };
            let Some(id) = self.find_repo_id(&repo).await? else {
                continue;
            };
            self.backfill_images(b, name, id, &mut tasks).await?;
        }
        let last = names
            .last()
            .cloned()
            .unwrap_or_else(|| b.after_repo.clone());
        let enumerated = names.len() < REPOSITORIES_PER_STEP as usize;
        if self
            .meta
            .advance_backfill(&b.id, &b.after_repo, &last, enumerated, &tasks, self.now())
            .await?
            && !tasks.is_empty()
        {
            self.replication_wake.notify_one();
        }
        Ok(())
    }

    async fn backfill_images(
        &self,
        b: &BackfillRecord,
        name: &str,
        repo: RepoId,
        tasks: &mut Vec<NewReplicationTask>,
    ) -> Result<()> {
        let mut after: Option<(berth_oci::Digest, String)> = None;
        loop {
            let page = self
                .meta
                .list_image_ids(
                    repo,
                    TagStatus::Any,
                    StatusFilter::Only(berth_store::ImageStatus::Active),
                    after.as_ref().map(|(d, t)| (d, t.as_str())),
                    IMAGES_PER_PAGE,
                )
                .await?;
            let full = page.len() == IMAGES_PER_PAGE as usize;
            for (digest, tag) in &page {
                tasks.push(NewReplicationTask {
                    source: b.source.clone(),
                    repository: name.to_string(),
                    digest: digest.to_string(),
                    tag: tag.clone(),
                    destination: b.destination.clone(),
                    backfill: Some(b.id.clone()),
                    action: berth_store::ReplicationAction::Replicate,
                });
            }
            match (full, page.last()) {
                (true, Some((d, t))) => after = Some((d.clone(), t.clone().unwrap_or_default())),
                _ => return Ok(()),
            }
        }
    }
}
