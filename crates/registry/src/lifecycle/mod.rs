//! Lifecycle policies: storing them (PutLifecyclePolicy and friends), the
//! preview, and the scheduled execution. What a policy decides is the pure
//! [`evaluate`] over a [`ImageSnapshot`] list; the preview shows its answer
//! and the execution carries it out, so the two cannot disagree.
//!
//! Execution expires images (manifests and tags) through
//! `MetadataStore::expire_images`, which re-checks every image inside the
//! deleting transaction: an image re-tagged, untagged or re-pushed since the
//! snapshot is left for the next run, so a concurrent push is never lost.
//! Blob bytes are freed later by garbage collection. Transitions move
//! images to the archive storage class (`archive.rs`) with the same
//! re-check: only an image still as the snapshot saw it is archived.

pub mod evaluate;
pub mod policy;

pub use evaluate::{evaluate, Action, ImageSnapshot};
pub use policy::{
    ActionKind, CountType, LifecyclePolicy, PolicyError, Rule, StorageClass, TagFilter,
    TagSelection,
};

use crate::{Error, Registry, Repo, Result};
use berth_oci::Digest;
use berth_store::{
    ArchiveImage, ExpireImage, ExpireOutcome, ImageStatus, LifecyclePolicyRecord, RegistryKey,
    RepoId, RepositoryLifecycle,
};
use serde_json::{json, Value};
use std::time::Duration;

/// A preview still IN_PROGRESS after this long was abandoned (its server
/// stopped mid-way); a new one may start.
const PREVIEW_STALE: Duration = Duration::from_secs(600);
/// Images expired per write transaction: the writer is shared with pushes,
/// so a large expiry is cut into short transactions.
const EXPIRE_BATCH: usize = 500;

/// One image of a preview's results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviewResult {
    pub digest: Digest,
    pub tags: Vec<String>,
    pub pushed_at: i64,
    pub rule_priority: u32,
    pub action: ActionKind,
    pub storage_class: StorageClass,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviewStatus {
    InProgress,
    Complete,
    Failed,
}

impl PreviewStatus {
    pub fn api_name(self) -> &'static str {
        match self {
            PreviewStatus::InProgress => "IN_PROGRESS",
            PreviewStatus::Complete => "COMPLETE",
            PreviewStatus::Failed => "FAILED",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecyclePreview {
    pub policy_text: String,
    pub status: PreviewStatus,
    /// The images the policy acts on, as `evaluate` orders them.
    pub results: Vec<PreviewResult>,
}

/// What one scheduled or on-demand run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LifecycleRun {
    pub repositories: u64,
    pub expired: u64,
    /// Images whose tags or push changed between the snapshot and the
    /// delete; the next run decides them again.
    pub skipped_changed: u64,
    /// Images moved to the archive storage class.
    pub transitioned: u64,
    /// Transitions not carried out: the image changed since the snapshot
    /// (or is no longer ACTIVE); the next run decides it again.
    pub skipped_transitions: u64,
    /// Repositories whose evaluation failed (logged).
    pub failed: u64,
}

fn results_json(results: &[PreviewResult]) -> String {
    Value::Array(
        results
            .iter()
            .map(|r| {
                json!({
                    "digest": r.digest.as_str(),
                    "tags": r.tags,
                    "pushedAt": r.pushed_at,
                    "rulePriority": r.rule_priority,
                    "action": r.action.api_name(),
                    "storageClass": r.storage_class.api_name(),
                })
            })
            .collect(),
    )
    .to_string()
}

fn results_from_json(text: &str) -> Result<Vec<PreviewResult>> {
    let corrupt = || {
        Error::Store(berth_store::StoreError::Corrupt(
            "a stored lifecycle preview does not parse".into(),
        ))
    };
    let v: Vec<Value> = serde_json::from_str(text).map_err(|_| corrupt())?;
    v.iter()
        .map(|r| {
            Some(PreviewResult {
                digest: r["digest"].as_str()?.parse().ok()?,
                tags: r["tags"]
                    .as_array()?
                    .iter()
                    .map(|t| t.as_str().map(str::to_string))
                    .collect::<Option<_>>()?,
                pushed_at: r["pushedAt"].as_i64()?,
                rule_priority: u32::try_from(r["rulePriority"].as_u64()?).ok()?,
                action: match r["action"].as_str()? {
                    "TRANSITION" => ActionKind::Transition,
                    _ => ActionKind::Expire,
                },
                storage_class: match r["storageClass"].as_str()? {
                    "ARCHIVE" => StorageClass::Archive,
                    _ => StorageClass::Standard,
                },
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(corrupt)
}

fn parse_policy(text: &str) -> Result<LifecyclePolicy> {
    LifecyclePolicy::parse(text).map_err(|e| Error::InvalidParameter(e.to_string()))
}

/// `Ok` if `text` is a lifecycle policy PutLifecyclePolicy would take.
pub(crate) fn check_policy(text: &str) -> Result<()> {
    parse_policy(text).map(drop)
}

impl Registry {
    /// Validates and stores a repository's lifecycle policy, replacing any.
    pub async fn put_lifecycle_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
        text: &str,
    ) -> Result<()> {
        parse_policy(text)?;
        match self
            .meta
            .set_lifecycle_policy(registry, name, Some(text))
            .await?
        {
            None => Err(Error::NameUnknown(name.to_string())),
            Some(_) => Ok(()),
        }
    }

    pub async fn lifecycle_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<LifecyclePolicyRecord> {
        match self.meta.lifecycle_policy(registry, name).await? {
            None => Err(Error::NameUnknown(name.to_string())),
            Some(None) => Err(Error::LifecyclePolicyNotFound(name.to_string())),
            Some(Some(p)) => Ok(p),
        }
    }

    /// Removes a repository's lifecycle policy; the removed one comes back.
    pub async fn delete_lifecycle_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<LifecyclePolicyRecord> {
        match self.meta.set_lifecycle_policy(registry, name, None).await? {
            None => Err(Error::NameUnknown(name.to_string())),
            Some(None) => Err(Error::LifecyclePolicyNotFound(name.to_string())),
            Some(Some(p)) => Ok(p),
        }
    }

    /// The repository as a policy sees it now: the store's snapshot with
    /// the pulls still pending in memory merged in.
    async fn lifecycle_snapshot(&self, repo: RepoId) -> Result<Vec<ImageSnapshot>> {
        let images = self.meta.lifecycle_snapshot(repo).await?;
        Ok(images
            .into_iter()
            // An image being restored is in neither storage class until it
            // is ACTIVE: no rule counts, marks or shields it meanwhile.
            .filter(|i| i.status != ImageStatus::Activating)
            .map(|i| {
                let pending = self.pulls.pending(repo, &i.digest);
                ImageSnapshot {
                    last_pulled_at: match (i.last_pulled_at, pending) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    },
                    digest: i.digest,
                    tags: i.tags,
                    pushed_at: i.pushed_at,
                    storage_class: match i.status {
                        ImageStatus::Archived => StorageClass::Archive,
                        _ => StorageClass::Standard,
                    },
                    last_archived_at: i.archived_at,
                    last_activated_at: i.activated_at,
                    in_index: i.in_index,
                    subject: i.subject,
                }
            })
            .collect())
    }

    /// StartLifecyclePolicyPreview: evaluates `text` (or, without it, the
    /// stored policy) against the repository now and stores the outcome for
    /// [`lifecycle_preview`](Self::lifecycle_preview). The evaluation runs
    /// within the call (it is fast: see the 100,000-image figure in
    /// ARCHITECTURE.md); the policy text it used comes back.
    pub async fn start_lifecycle_preview(&self, repo: &Repo, text: Option<&str>) -> Result<String> {
        let repo_id = self.repo_id(repo).await?;
        let text = match text {
            Some(t) => t.to_string(),
            None => {
                self.lifecycle_policy(&repo.registry, repo.name.as_str())
                    .await?
                    .text
            }
        };
        let policy = parse_policy(&text)?;
        let now = self.now();
        let stale = now - PREVIEW_STALE.as_millis() as i64;
        if !self
            .meta
            .start_lifecycle_preview(repo_id, &text, now, stale)
            .await?
        {
            return Err(Error::LifecyclePreviewInProgress(repo.name.to_string()));
        }
        let outcome = async {
            let snapshot = self.lifecycle_snapshot(repo_id).await?;
            let results = preview_results(&policy, &snapshot, now);
            Ok::<_, Error>(results_json(&results))
        }
        .await;
        let (status, results) = match &outcome {
            Ok(json) => (PreviewStatus::Complete, Some(json.as_str())),
            Err(e) => {
                tracing::warn!(repository = %repo.name, error = %e, "lifecycle policy preview failed");
                (PreviewStatus::Failed, None)
            }
        };
        self.meta
            .finish_lifecycle_preview(repo_id, now, status.api_name(), results)
            .await?;
        Ok(text)
    }

    /// GetLifecyclePolicyPreview: the last preview of the repository.
    pub async fn lifecycle_preview(&self, repo: &Repo) -> Result<LifecyclePreview> {
        let repo_id = self.repo_id(repo).await?;
        let Some(p) = self.meta.lifecycle_preview(repo_id).await? else {
            return Err(Error::LifecyclePreviewNotFound(repo.name.to_string()));
        };
        let status = match p.status.as_str() {
            "COMPLETE" => PreviewStatus::Complete,
            "IN_PROGRESS" => PreviewStatus::InProgress,
            _ => PreviewStatus::Failed,
        };
        let results = match &p.results {
            Some(text) => results_from_json(text)?,
            None => Vec::new(),
        };
        Ok(LifecyclePreview {
            policy_text: p.policy,
            status,
            results,
        })
    }

    /// Evaluates every repository that has a lifecycle policy, now, and
    /// expires what the policies select. One run at a time per node: a
    /// second caller waits for the running one, then runs.
    pub async fn run_lifecycle(&self) -> Result<LifecycleRun> {
        let _one_at_a_time = self.lifecycle_running.lock().await;
        let mut run = LifecycleRun::default();
        for repo in self.meta.lifecycle_policies().await? {
            run.repositories += 1;
            if let Err(e) = self.run_lifecycle_on(&repo, &mut run).await {
                run.failed += 1;
                tracing::warn!(
                    account = %repo.registry.account_id,
                    region = %repo.registry.region,
                    repository = %repo.name,
                    error = %e,
                    "lifecycle policy evaluation failed; the next run tries again"
                );
            }
        }
        Ok(run)
    }

    async fn run_lifecycle_on(
        &self,
        repo: &RepositoryLifecycle,
        run: &mut LifecycleRun,
    ) -> Result<()> {
        let policy = parse_policy(&repo.policy)?;
        let now = self.now();
        let snapshot = self.lifecycle_snapshot(repo.repo).await?;
        let actions = evaluate(&policy, &snapshot, now);
        let plan = expiry_plan(&actions, &snapshot);
        let transitions = transition_plan(&actions, &snapshot);
        for batch in transitions.chunks(EXPIRE_BATCH) {
            let images: Vec<ArchiveImage> = batch.iter().map(|(a, _)| a.clone()).collect();
            let done = self.transition_images(repo.repo, &images).await?;
            for ((image, priority), archived) in batch.iter().zip(done) {
                if archived {
                    run.transitioned += 1;
                    tracing::info!(
                        account = %repo.registry.account_id,
                        region = %repo.registry.region,
                        repository = %repo.name,
                        digest = %image.digest,
                        tags = ?image.expected.as_ref().map(|e| &e.1),
                        rule_priority = priority,
                        "lifecycle policy moved an image to the archive storage class"
                    );
                } else {
                    run.skipped_transitions += 1;
                }
            }
        }
        for batch in plan.chunks(EXPIRE_BATCH) {
            let images: Vec<ExpireImage> = batch.iter().map(|(e, _)| e.clone()).collect();
            let outcomes = self.meta.expire_images(repo.repo, &images).await?;
            let mut expired: Vec<&Digest> = Vec::new();
            for ((image, priority), outcome) in batch.iter().zip(outcomes) {
                match outcome {
                    ExpireOutcome::Expired => {
                        run.expired += 1;
                        self.cache
                            .invalidate(repo.repo, &image.tags, &[&image.digest]);
                        expired.push(&image.digest);
                        tracing::info!(
                            account = %repo.registry.account_id,
                            region = %repo.registry.region,
                            repository = %repo.name,
                            digest = %image.digest,
                            tags = ?image.tags,
                            rule_priority = priority,
                            "lifecycle policy expired an image"
                        );
                    }
                    ExpireOutcome::Changed => {
                        run.skipped_changed += 1;
                        tracing::debug!(
                            repository = %repo.name,
                            digest = %image.digest,
                            "image changed since the lifecycle snapshot; left for the next run"
                        );
                    }
                }
            }
            self.enqueue_deletion(&repo.registry, &repo.name, &expired, None)
                .await?;
        }
        self.meta.set_lifecycle_evaluated(repo.repo, now).await?;
        Ok(())
    }
}

/// The preview of `policy` over `snapshot` at `now`: every action, with
/// the image as the snapshot shows it.
pub fn preview_results(
    policy: &LifecyclePolicy,
    snapshot: &[ImageSnapshot],
    now: i64,
) -> Vec<PreviewResult> {
    evaluate(policy, snapshot, now)
        .into_iter()
        .map(|a| {
            let image = &snapshot[a.image];
            PreviewResult {
                digest: a.digest,
                tags: image.tags.clone(),
                pushed_at: image.pushed_at,
                rule_priority: a.rule_priority,
                action: a.kind,
                storage_class: image.storage_class,
            }
        })
        .collect()
}

/// What execution archives for `actions`: the images to transition as the
/// snapshot shows them (archived only if still so), with the rule.
pub fn transition_plan(actions: &[Action], snapshot: &[ImageSnapshot]) -> Vec<(ArchiveImage, u32)> {
    actions
        .iter()
        .filter(|a| a.kind == ActionKind::Transition)
        .map(|a| {
            let image = &snapshot[a.image];
            let mut tags = image.tags.clone();
            tags.sort();
            (
                ArchiveImage {
                    digest: a.digest.clone(),
                    expected: Some((image.pushed_at, tags)),
                },
                a.rule_priority,
            )
        })
        .collect()
}

/// What execution deletes for `actions`: the expired images as the
/// snapshot shows them (the store deletes each only if it still is so),
/// with the rule that expired it.
pub fn expiry_plan(actions: &[Action], snapshot: &[ImageSnapshot]) -> Vec<(ExpireImage, u32)> {
    actions
        .iter()
        .filter(|a| a.kind == ActionKind::Expire)
        .map(|a| {
            let image = &snapshot[a.image];
            let mut tags = image.tags.clone();
            tags.sort();
            (
                ExpireImage {
                    digest: a.digest.clone(),
                    tags,
                    pushed_at: image.pushed_at,
                },
                a.rule_priority,
            )
        })
        .collect()
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests;
