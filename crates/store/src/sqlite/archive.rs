//! `ArchiveStore` on SQLite: `manifests.storage_status`, `archived_at`,
//! `activated_at` and `blobs.archived` (`0008_archive.sql`).

use super::sql::{digest_of, split_names, status_of};
use super::writer::ExecuteDurably;
use super::SqliteMetadataStore;
use crate::metadata::{
    ArchiveImage, ArchiveOutcome, ArchiveStore, ImageStatus, RepoId, RestoreOutcome,
};
use crate::Result;
use async_trait::async_trait;
use berth_oci::Digest;
use sqlx::{Row, Sqlite, Transaction};

#[async_trait]
impl ArchiveStore for SqliteMetadataStore {
    async fn archive_images(
        &self,
        repo: RepoId,
        images: &[ArchiveImage],
        now: i64,
    ) -> Result<Vec<ArchiveOutcome>> {
        let mut tx = self.writer.begin().await?;
        let mut out = Vec::with_capacity(images.len());
        for image in images {
            let row = sqlx::query(
                "SELECT m.pushed_at, m.storage_status,
                    (SELECT group_concat(name, char(10)) FROM
                        (SELECT name FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest ORDER BY name))
                 FROM manifests m WHERE m.repository_id = ? AND m.digest = ?",
            )
            .bind(repo.0)
            .bind(image.digest.as_str())
            .fetch_optional(&mut **tx)
            .await?;
            let Some(row) = row else {
                out.push(ArchiveOutcome::NotFound);
                continue;
            };
            let tags = split_names(row.get(2));
            if let Some((pushed_at, expected_tags)) = &image.expected {
                if row.get::<i64, _>(0) != *pushed_at || &tags != expected_tags {
                    out.push(ArchiveOutcome::Changed);
                    continue;
                }
            }
            match status_of(row.get(1))? {
                ImageStatus::Active => {}
                ImageStatus::Archived => {
                    out.push(ArchiveOutcome::AlreadyArchived);
                    continue;
                }
                ImageStatus::Activating => {
                    out.push(ArchiveOutcome::Activating);
                    continue;
                }
            }
            if let Some(index) = active_index_listing(&mut tx, repo, &image.digest, None).await? {
                out.push(ArchiveOutcome::ListedByIndex(index));
                continue;
            }
            let mut manifests = vec![image.digest.clone()];
            let mut all_tags = tags;
            set_storage_status(&mut tx, repo, &image.digest, ImageStatus::Archived, now).await?;
            // An index's children go with it unless another ACTIVE index
            // of the repository still lists them.
            let children: Vec<String> = sqlx::query_scalar(
                "SELECT r.target FROM manifest_references r JOIN manifests c
                    ON c.repository_id = r.repository_id AND c.digest = r.target
                 WHERE r.repository_id = ? AND r.manifest_digest = ? AND r.kind = 1 AND c.storage_status = 0",
            )
            .bind(repo.0)
            .bind(image.digest.as_str())
            .fetch_all(&mut **tx)
            .await?;
            for child in children {
                let child = digest_of(child)?;
                if active_index_listing(&mut tx, repo, &child, Some(&image.digest))
                    .await?
                    .is_some()
                {
                    continue;
                }
                set_storage_status(&mut tx, repo, &child, ImageStatus::Archived, now).await?;
                let child_tags: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM tags WHERE repository_id = ? AND digest = ?",
                )
                .bind(repo.0)
                .bind(child.as_str())
                .fetch_all(&mut **tx)
                .await?;
                all_tags.extend(child_tags);
                manifests.push(child);
            }
            out.push(ArchiveOutcome::Archived {
                manifests,
                tags: all_tags,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn blobs_only_archived(&self, repo: RepoId, manifests: &[Digest]) -> Result<Vec<Digest>> {
        let mut conn = self.reader.acquire().await?;
        let mut out = Vec::new();
        for m in manifests {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT r.target FROM manifest_references r JOIN blobs b ON b.digest = r.target
                 WHERE r.repository_id = ? AND r.manifest_digest = ? AND r.kind = 0 AND b.archived = 0
                   AND NOT EXISTS (SELECT 1 FROM manifest_references o JOIN manifests om
                        ON om.repository_id = o.repository_id AND om.digest = o.manifest_digest
                      WHERE o.target = r.target AND o.kind = 0 AND om.storage_status <> 1)
                   AND NOT EXISTS (SELECT 1 FROM repository_blobs rb
                      WHERE rb.digest = r.target
                        AND NOT EXISTS (SELECT 1 FROM manifest_references h
                              WHERE h.repository_id = rb.repository_id AND h.target = r.target
                                AND h.kind = 0))",
            )
            .bind(repo.0)
            .bind(m.as_str())
            .fetch_all(&mut *conn)
            .await?;
            for d in rows {
                out.push(digest_of(d)?);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn mark_blob_archived(&self, digest: &Digest) -> Result<bool> {
        // One statement: the check and the mark cannot be split by a push
        // committing a manifest that uses the blob, nor by a mount linking
        // it (both are statements of the one writer connection). Every
        // manifest referencing it must be ARCHIVED, and every repository
        // linking it must hold the link through such a manifest: a link
        // that nothing references yet (an upload or mount awaiting its
        // manifest, or left after a delete) keeps the bytes readable, so
        // one tenant's archive never hides what another may read.
        let n = sqlx::query(
            "UPDATE blobs SET archived = 1 WHERE digest = ?1 AND archived = 0
               AND EXISTS (SELECT 1 FROM manifest_references o WHERE o.target = ?1 AND o.kind = 0)
               AND NOT EXISTS (SELECT 1 FROM manifest_references o JOIN manifests om
                    ON om.repository_id = o.repository_id AND om.digest = o.manifest_digest
                  WHERE o.target = ?1 AND o.kind = 0 AND om.storage_status <> 1)
               AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = ?1
                  AND NOT EXISTS (SELECT 1 FROM manifest_references h
                        WHERE h.repository_id = rb.repository_id AND h.target = ?1 AND h.kind = 0))",
        )
        .bind(digest.as_str())
        .execute_durably(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn mark_blob_standard(&self, digest: &Digest) -> Result<()> {
        sqlx::query("UPDATE blobs SET archived = 0 WHERE digest = ? AND archived = 1")
            .bind(digest.as_str())
            .execute_durably(&self.writer)
            .await?;
        Ok(())
    }

    async fn blob_archived(&self, digest: &Digest) -> Result<Option<bool>> {
        let a: Option<i64> = sqlx::query_scalar("SELECT archived FROM blobs WHERE digest = ?")
            .bind(digest.as_str())
            .fetch_optional(&self.reader)
            .await?;
        Ok(a.map(|a| a != 0))
    }

    async fn archived_blobs(&self, after: Option<&Digest>, limit: u32) -> Result<Vec<Digest>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM blobs WHERE archived = 1 AND digest > ? ORDER BY digest LIMIT ?",
        )
        .bind(after.map(Digest::as_str).unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(digest_of).collect()
    }

    async fn start_restore(&self, repo: RepoId, digest: &Digest) -> Result<RestoreOutcome> {
        let mut tx = self.writer.begin().await?;
        let status: Option<i64> = sqlx::query_scalar(
            "SELECT storage_status FROM manifests WHERE repository_id = ? AND digest = ?",
        )
        .bind(repo.0)
        .bind(digest.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        let Some(status) = status else {
            return Ok(RestoreOutcome::NotFound);
        };
        if status_of(status)? == ImageStatus::Active {
            return Ok(RestoreOutcome::AlreadyActive);
        }
        let mut manifests = vec![digest.clone()];
        let children: Vec<String> = sqlx::query_scalar(
            "SELECT r.target FROM manifest_references r JOIN manifests c
                ON c.repository_id = r.repository_id AND c.digest = r.target
             WHERE r.repository_id = ? AND r.manifest_digest = ? AND r.kind = 1 AND c.storage_status <> 0",
        )
        .bind(repo.0)
        .bind(digest.as_str())
        .fetch_all(&mut **tx)
        .await?;
        for c in children {
            manifests.push(digest_of(c)?);
        }
        for m in &manifests {
            sqlx::query(
                "UPDATE manifests SET storage_status = 2 WHERE repository_id = ? AND digest = ? AND storage_status = 1",
            )
            .bind(repo.0)
            .bind(m.as_str())
            .execute(&mut **tx)
            .await?;
        }
        tx.commit().await?;
        Ok(RestoreOutcome::Activating(manifests))
    }

    async fn archived_blobs_of(&self, repo: RepoId, manifests: &[Digest]) -> Result<Vec<Digest>> {
        let mut conn = self.reader.acquire().await?;
        let mut out = Vec::new();
        for m in manifests {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT r.target FROM manifest_references r JOIN blobs b ON b.digest = r.target
                 WHERE r.repository_id = ? AND r.manifest_digest = ? AND r.kind = 0 AND b.archived = 1",
            )
            .bind(repo.0)
            .bind(m.as_str())
            .fetch_all(&mut *conn)
            .await?;
            for d in rows {
                out.push(digest_of(d)?);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn finish_restore(
        &self,
        repo: RepoId,
        manifests: &[Digest],
        now: i64,
    ) -> Result<Vec<String>> {
        let mut tx = self.writer.begin().await?;
        let mut tags = Vec::new();
        for m in manifests {
            let n = sqlx::query(
                "UPDATE manifests SET storage_status = 0, activated_at = ? WHERE repository_id = ? AND digest = ? AND storage_status = 2",
            )
            .bind(now)
            .bind(repo.0)
            .bind(m.as_str())
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if n == 1 {
                let t: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM tags WHERE repository_id = ? AND digest = ?",
                )
                .bind(repo.0)
                .bind(m.as_str())
                .fetch_all(&mut **tx)
                .await?;
                tags.extend(t);
            }
        }
        tx.commit().await?;
        Ok(tags)
    }

    async fn activating_images(&self) -> Result<Vec<(RepoId, Digest)>> {
        let rows =
            sqlx::query("SELECT repository_id, digest FROM manifests WHERE storage_status = 2")
                .fetch_all(&self.reader)
                .await?;
        rows.into_iter()
            .map(|r| Ok((RepoId(r.get(0)), digest_of(r.get(1))?)))
            .collect()
    }
}

/// An ACTIVE index of `repo` other than `except` that lists `target`.
async fn active_index_listing(
    tx: &mut Transaction<'_, Sqlite>,
    repo: RepoId,
    target: &Digest,
    except: Option<&Digest>,
) -> Result<Option<Digest>> {
    let m: Option<String> = sqlx::query_scalar(
        "SELECT r.manifest_digest FROM manifest_references r JOIN manifests i
            ON i.repository_id = r.repository_id AND i.digest = r.manifest_digest
         WHERE r.repository_id = ? AND r.target = ? AND r.kind = 1 AND i.storage_status = 0
           AND r.manifest_digest <> ? LIMIT 1",
    )
    .bind(repo.0)
    .bind(target.as_str())
    .bind(except.map(Digest::as_str).unwrap_or(""))
    .fetch_optional(&mut **tx)
    .await?;
    m.map(digest_of).transpose()
}

/// Sets an image's storage status, stamping `archived_at` when it goes to
/// the archive.
async fn set_storage_status(
    tx: &mut Transaction<'_, Sqlite>,
    repo: RepoId,
    digest: &Digest,
    status: ImageStatus,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE manifests SET storage_status = ?1,
            archived_at = CASE WHEN ?1 = 1 THEN ?2 ELSE archived_at END
         WHERE repository_id = ?3 AND digest = ?4",
    )
    .bind(status.code())
    .bind(now)
    .bind(repo.0)
    .bind(digest.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
