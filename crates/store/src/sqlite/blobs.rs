//! `BlobRecordStore` on SQLite: `blobs`, `repository_blobs`, `uploads`.
//! The upload caps count at most their limit's worth of an index inside
//! the inserting transaction; garbage collection's last step removes links
//! and records in one transaction for a whole page of digests.

use super::sql::{
    digest_of, exists, first_referrer, from_i64, to_i64, upload_from_row, KIND_BLOB, LINK_SQL,
    UPLOAD_COLUMNS,
};
use super::writer::ExecuteDurably;
use super::SqliteMetadataStore;
use crate::metadata::{
    BlobLink, BlobRecordStore, CollectOutcome, CreateUploadOutcome, RepoId, UnlinkBlobOutcome,
    UploadLimits, UploadRecord,
};
use crate::Result;
use async_trait::async_trait;
use berth_oci::Digest;
use sqlx::{Row, Sqlite, Transaction};

#[async_trait]
impl BlobRecordStore for SqliteMetadataStore {
    async fn link_blob(&self, repo: RepoId, digest: &Digest, size: u64, now: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_blob_and_link(&mut tx, repo, digest, size, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn link_existing_blob(
        &self,
        repo: RepoId,
        from: RepoId,
        digest: &Digest,
        now: i64,
    ) -> Result<Option<u64>> {
        let mut tx = self.writer.begin().await?;
        // A blob whose bytes are archived is not mounted (the client then
        // uploads it, which brings the bytes back): a link must never lead
        // to bytes its repository cannot read. Archiving marks a blob in a
        // statement of this same writer connection, so the two never
        // interleave.
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
             WHERE rb.repository_id = ? AND rb.digest = ? AND b.archived = 0",
        )
        .bind(from.0)
        .bind(digest.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        if size.is_some() {
            sqlx::query(LINK_SQL)
                .bind(repo.0)
                .bind(digest.as_str())
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
        Ok(size.map(|s| s as u64))
    }

    async fn blob_link(&self, repo: RepoId, digest: &Digest) -> Result<Option<BlobLink>> {
        let row = sqlx::query(
            "SELECT b.size, rb.linked_at FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
             WHERE rb.repository_id = ? AND rb.digest = ?",
        )
        .bind(repo.0)
        .bind(digest.as_str())
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| BlobLink {
            size: r.get::<i64, _>(0) as u64,
            linked_at: r.get(1),
        }))
    }

    async fn touch_blob_link(&self, repo: RepoId, digest: &Digest, now: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE repository_blobs SET linked_at = max(linked_at, ?) WHERE repository_id = ? AND digest = ?",
        )
        .bind(now)
        .bind(repo.0)
        .bind(digest.as_str())
        .execute_durably(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn manifest_using_blob(&self, repo: RepoId, digest: &Digest) -> Result<Option<Digest>> {
        let m: Option<String> = sqlx::query_scalar(
            "SELECT manifest_digest FROM manifest_references WHERE repository_id = ? AND target = ? AND kind = ? LIMIT 1",
        )
        .bind(repo.0)
        .bind(digest.as_str())
        .bind(KIND_BLOB)
        .fetch_optional(&self.reader)
        .await?;
        m.map(digest_of).transpose()
    }

    async fn unlink_blob(&self, repo: RepoId, digest: &Digest) -> Result<UnlinkBlobOutcome> {
        let mut tx = self.writer.begin().await?;
        if !exists(
            &mut tx,
            "SELECT 1 FROM repository_blobs WHERE repository_id = ? AND digest = ?",
            repo,
            digest.as_str(),
        )
        .await?
        {
            return Ok(UnlinkBlobOutcome::NotLinked);
        }
        if let Some(m) = first_referrer(&mut tx, repo, digest, KIND_BLOB).await? {
            return Ok(UnlinkBlobOutcome::ReferencedBy(m));
        }
        sqlx::query("DELETE FROM repository_blobs WHERE repository_id = ? AND digest = ?")
            .bind(repo.0)
            .bind(digest.as_str())
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(UnlinkBlobOutcome::Unlinked)
    }

    async fn create_upload(
        &self,
        u: &UploadRecord,
        limits: UploadLimits,
    ) -> Result<CreateUploadOutcome> {
        let mut tx = self.writer.begin().await?;
        // Each count stops at its limit: an indexed read of at most that many rows.
        let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM uploads WHERE repository_id = ? LIMIT ?)",
        )
        .bind(u.repository.0)
        .bind(to_i64(limits.per_repository))
        .fetch_one(&mut **tx)
        .await?;
        if from_i64(open) >= limits.per_repository {
            return Ok(CreateUploadOutcome::RepositoryFull(from_i64(open)));
        }
        if let Some(by) = &u.started_by {
            let open: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM (SELECT 1 FROM uploads WHERE started_by = ? LIMIT ?)",
            )
            .bind(by)
            .bind(to_i64(limits.per_principal))
            .fetch_one(&mut **tx)
            .await?;
            if from_i64(open) >= limits.per_principal {
                return Ok(CreateUploadOutcome::PrincipalFull(from_i64(open)));
            }
        }
        sqlx::query("INSERT INTO uploads (id, repository_id, size, started_at, updated_at, started_by) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(&u.id)
            .bind(u.repository.0)
            .bind(to_i64(u.size))
            .bind(u.started_at)
            .bind(u.updated_at)
            .bind(&u.started_by)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(CreateUploadOutcome::Created)
    }

    async fn get_upload(&self, id: &str) -> Result<Option<UploadRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(upload_from_row))
    }

    async fn set_upload_size(
        &self,
        id: &str,
        expected: u64,
        size: u64,
        hash_state: &[u8],
        now: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE uploads SET size = ?, hash_state = ?, updated_at = ? WHERE id = ? AND size = ?",
        )
        .bind(to_i64(size))
        .bind(hash_state)
        .bind(now)
        .bind(id)
        .bind(to_i64(expected))
        .execute_durably(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn complete_upload(
        &self,
        id: &str,
        repo: RepoId,
        digest: &Digest,
        size: u64,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_blob_and_link(&mut tx, repo, digest, size, now).await?;
        sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_upload(&self, id: &str) -> Result<bool> {
        let n = sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id)
            .execute_durably(&self.writer)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn stale_uploads(&self, before: i64, limit: u32) -> Result<Vec<UploadRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE updated_at < ? ORDER BY updated_at LIMIT ?"
        ))
        .bind(before)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(upload_from_row).collect())
    }

    async fn upload_exists(&self, id: &str) -> Result<bool> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT 1 FROM uploads WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.reader)
                .await?
                .is_some(),
        )
    }

    async fn blob_page(&self, after: Option<&Digest>, limit: u32) -> Result<Vec<Digest>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT digest FROM blobs WHERE digest > ? ORDER BY digest LIMIT ?")
                .bind(after.map(Digest::as_str).unwrap_or(""))
                .bind(limit)
                .fetch_all(&self.reader)
                .await?;
        rows.into_iter().map(digest_of).collect()
    }

    async fn collectable(&self, digests: &[Digest], cutoff: i64) -> Result<Vec<Digest>> {
        let sql = format!(
            "SELECT b.digest FROM blobs b WHERE b.digest = ? AND (
                EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest AND rb.linked_at < ? AND {UNREFERENCED_LINK})
                OR (b.created_at < ? AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)))"
        );
        let mut conn = self.reader.acquire().await?;
        let mut out = Vec::new();
        for d in digests {
            let hit: Option<String> = sqlx::query_scalar(&sql)
                .bind(d.as_str())
                .bind(cutoff)
                .bind(cutoff)
                .fetch_optional(&mut *conn)
                .await?;
            if hit.is_some() {
                out.push(d.clone());
            }
        }
        Ok(out)
    }

    async fn collect_blobs(
        &self,
        digests: &[Digest],
        cutoff: i64,
        dry_run: bool,
    ) -> Result<Vec<CollectOutcome>> {
        let unlink_sql = format!(
            "DELETE FROM repository_blobs AS rb WHERE rb.digest = ? AND rb.linked_at < ? AND {UNREFERENCED_LINK}
             RETURNING repository_id"
        );
        let mut tx = self.writer.begin().await?;
        let mut outcomes = Vec::with_capacity(digests.len());
        for digest in digests {
            let unlinked: Vec<i64> = sqlx::query_scalar(&unlink_sql)
                .bind(digest.as_str())
                .bind(cutoff)
                .fetch_all(&mut **tx)
                .await?;
            let deleted: Option<i64> = sqlx::query_scalar(
                "DELETE FROM blobs WHERE digest = ? AND created_at < ?
                 AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = blobs.digest)
                 RETURNING size",
            )
            .bind(digest.as_str())
            .bind(cutoff)
            .fetch_optional(&mut **tx)
            .await?;
            outcomes.push(CollectOutcome {
                unlinked: unlinked.into_iter().map(RepoId).collect(),
                deleted: deleted.map(|s| s as u64),
            });
        }
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(outcomes)
    }

    async fn blob_recorded(&self, digest: &Digest) -> Result<bool> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT 1 FROM blobs WHERE digest = ?")
                .bind(digest.as_str())
                .fetch_optional(&self.reader)
                .await?
                .is_some(),
        )
    }

    async fn blob_link_keys(&self, digest: &Digest) -> Result<Vec<Option<String>>> {
        Ok(sqlx::query_scalar::<_, Option<String>>(
            "SELECT DISTINCT r.kms_key FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
             WHERE rb.digest = ?",
        )
        .bind(digest.as_str())
        .fetch_all(&self.reader)
        .await
        .map(|mut keys: Vec<Option<String>>| {
            keys.sort();
            keys
        })?)
    }

    async fn repository_blob_page(
        &self,
        repo: RepoId,
        after: Option<&Digest>,
        limit: u32,
    ) -> Result<Vec<Digest>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM repository_blobs WHERE repository_id = ? AND digest > ?
             ORDER BY digest LIMIT ?",
        )
        .bind(repo.0)
        .bind(after.map_or("", |d| d.as_str()))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(digest_of).collect()
    }
}

/// A link (`rb`) that no manifest of its repository references.
const UNREFERENCED_LINK: &str = "NOT EXISTS (SELECT 1 FROM manifest_references r
     WHERE r.repository_id = rb.repository_id AND r.target = rb.digest AND r.kind = 0)";

async fn insert_blob_and_link(
    tx: &mut Transaction<'_, Sqlite>,
    repo: RepoId,
    digest: &Digest,
    size: u64,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING")
        .bind(digest.as_str())
        .bind(to_i64(size))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    sqlx::query(LINK_SQL)
        .bind(repo.0)
        .bind(digest.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
