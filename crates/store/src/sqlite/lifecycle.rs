//! `LifecycleStore` on SQLite: `repositories.lifecycle_policy` and
//! `lifecycle_evaluated_at`, `lifecycle_previews` (`0007_lifecycle.sql`);
//! expiry deletes manifest rows like `ImageStore` does.

use super::sql::{
    delete_manifest_row, digest_of, first_referrer, split_names, status_of, KIND_MANIFEST,
};
use super::writer::ExecuteDurably;
use super::SqliteMetadataStore;
use crate::metadata::{
    ExpireImage, ExpireOutcome, LifecycleImage, LifecyclePolicyRecord, LifecyclePreviewRecord,
    LifecycleStore, RegistryKey, RepoId, RepositoryLifecycle,
};
use crate::Result;
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl LifecycleStore for SqliteMetadataStore {
    async fn lifecycle_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<Option<LifecyclePolicyRecord>>> {
        let row = sqlx::query(LIFECYCLE_OF_REPOSITORY)
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(name)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(lifecycle_from_row))
    }

    async fn set_lifecycle_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
        policy: Option<&str>,
    ) -> Result<Option<Option<LifecyclePolicyRecord>>> {
        let mut tx = self.writer.begin().await?;
        let old = sqlx::query(LIFECYCLE_OF_REPOSITORY)
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(name)
            .fetch_optional(&mut **tx)
            .await?
            .map(lifecycle_from_row);
        if old.is_some() {
            // A removed policy takes its evaluation time with it; a replaced
            // one keeps it (it says when the repository was last evaluated).
            sqlx::query(
                "UPDATE repositories SET lifecycle_policy = ?1,
                    lifecycle_evaluated_at = CASE WHEN ?1 IS NULL THEN NULL ELSE lifecycle_evaluated_at END
                 WHERE account_id = ?2 AND region = ?3 AND name = ?4",
            )
            .bind(policy)
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(name)
            .execute(&mut **tx)
            .await?;
            tx.commit().await?;
        }
        Ok(old)
    }

    async fn lifecycle_policies(&self) -> Result<Vec<RepositoryLifecycle>> {
        let rows = sqlx::query(
            "SELECT id, account_id, region, name, lifecycle_policy FROM repositories
             WHERE lifecycle_policy IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| RepositoryLifecycle {
                repo: RepoId(r.get(0)),
                registry: RegistryKey {
                    account_id: r.get(1),
                    region: r.get(2),
                },
                name: r.get(3),
                policy: r.get(4),
            })
            .collect())
    }

    async fn set_lifecycle_evaluated(&self, repo: RepoId, at: i64) -> Result<()> {
        sqlx::query("UPDATE repositories SET lifecycle_evaluated_at = ? WHERE id = ? AND lifecycle_policy IS NOT NULL")
            .bind(at)
            .bind(repo.0)
            .execute_durably(&self.writer)
            .await?;
        Ok(())
    }

    async fn lifecycle_snapshot(&self, repo: RepoId) -> Result<Vec<LifecycleImage>> {
        // One statement; the correlated reads use tags_by_digest and
        // manifest_references_by_target. A repository of 100,000 images is
        // one pass over its manifests.
        let rows = sqlx::query(
            "SELECT m.digest, m.pushed_at, m.last_pulled_at, m.subject,
                m.storage_status, m.archived_at, m.activated_at,
                (SELECT group_concat(name, char(10)) FROM
                    (SELECT name FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest ORDER BY name)),
                EXISTS (SELECT 1 FROM manifest_references r
                    WHERE r.repository_id = m.repository_id AND r.target = m.digest AND r.kind = 1)
             FROM manifests m WHERE m.repository_id = ?",
        )
        .bind(repo.0)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|r| {
                let subject: Option<String> = r.get(3);
                Ok(LifecycleImage {
                    digest: digest_of(r.get(0))?,
                    pushed_at: r.get(1),
                    last_pulled_at: r.get(2),
                    subject: subject.map(digest_of).transpose()?,
                    status: status_of(r.get(4))?,
                    archived_at: r.get(5),
                    activated_at: r.get(6),
                    tags: split_names(r.get(7)),
                    in_index: r.get(8),
                })
            })
            .collect()
    }

    async fn expire_images(
        &self,
        repo: RepoId,
        images: &[ExpireImage],
    ) -> Result<Vec<ExpireOutcome>> {
        let mut tx = self.writer.begin().await?;
        let mut out = Vec::with_capacity(images.len());
        for image in images {
            // Re-checked here, on the one writer: a push that moved a tag
            // onto or off the image, or re-pushed it, since the snapshot
            // committed before this read or waits until after the commit.
            let row = sqlx::query(
                "SELECT m.pushed_at,
                    (SELECT group_concat(name, char(10)) FROM
                        (SELECT name FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest ORDER BY name))
                 FROM manifests m WHERE m.repository_id = ? AND m.digest = ?",
            )
            .bind(repo.0)
            .bind(image.digest.as_str())
            .fetch_optional(&mut **tx)
            .await?;
            let unchanged = row.is_some_and(|r| {
                r.get::<i64, _>(0) == image.pushed_at && split_names(r.get(1)) == image.tags
            });
            if !unchanged
                || first_referrer(&mut tx, repo, &image.digest, KIND_MANIFEST)
                    .await?
                    .is_some()
            {
                out.push(ExpireOutcome::Changed);
                continue;
            }
            delete_manifest_row(&mut tx, repo, &image.digest).await?;
            out.push(ExpireOutcome::Expired);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn start_lifecycle_preview(
        &self,
        repo: RepoId,
        policy: &str,
        now: i64,
        running_since: i64,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let running = sqlx::query_scalar::<_, i64>(
            "SELECT 1 FROM lifecycle_previews WHERE repository_id = ? AND status = 'IN_PROGRESS' AND started_at >= ?",
        )
        .bind(repo.0)
        .bind(running_since)
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
        if running {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO lifecycle_previews (repository_id, policy, status, started_at, results)
             VALUES (?, ?, 'IN_PROGRESS', ?, NULL)
             ON CONFLICT (repository_id) DO UPDATE SET policy = excluded.policy,
                status = excluded.status, started_at = excluded.started_at, results = NULL",
        )
        .bind(repo.0)
        .bind(policy)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_lifecycle_preview(
        &self,
        repo: RepoId,
        started_at: i64,
        status: &str,
        results: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE lifecycle_previews SET status = ?, results = ? WHERE repository_id = ? AND started_at = ?",
        )
        .bind(status)
        .bind(results)
        .bind(repo.0)
        .bind(started_at)
        .execute_durably(&self.writer)
        .await?;
        Ok(())
    }

    async fn lifecycle_preview(&self, repo: RepoId) -> Result<Option<LifecyclePreviewRecord>> {
        let row = sqlx::query(
            "SELECT policy, status, started_at, results FROM lifecycle_previews WHERE repository_id = ?",
        )
        .bind(repo.0)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| LifecyclePreviewRecord {
            policy: r.get(0),
            status: r.get(1),
            started_at: r.get(2),
            results: r.get(3),
        }))
    }
}

const LIFECYCLE_OF_REPOSITORY: &str = "SELECT lifecycle_policy, lifecycle_evaluated_at FROM repositories WHERE account_id = ? AND region = ? AND name = ?";

fn lifecycle_from_row(row: sqlx::sqlite::SqliteRow) -> Option<LifecyclePolicyRecord> {
    let text: Option<String> = row.get(0);
    text.map(|text| LifecyclePolicyRecord {
        text,
        last_evaluated_at: row.get(1),
    })
}
