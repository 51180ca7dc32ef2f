//! `BlobRecordStore` on PostgreSQL: `blobs`, `repository_blobs`, `uploads`.
//! The upload caps count at most their limit's worth of an index inside
//! the inserting transaction; garbage collection's last step removes links
//! and records in one transaction for a whole page of digests.

use super::sql::{
    digest_of, exists, first_referrer, from_i64, to_i64, upload_from_row, KIND_BLOB, LINK_SQL,
    UPLOAD_COLUMNS,
};
use super::PgMetadataStore;
use crate::metadata::{
    BlobLink, BlobRecordStore, CollectOutcome, CreateUploadOutcome, RepoId, UnlinkBlobOutcome,
    UploadLimits, UploadRecord,
};
use crate::Result;
use async_trait::async_trait;
use berth_oci::Digest;
use sqlx::{Postgres, Row, Transaction};

#[async_trait]
impl BlobRecordStore for PgMetadataStore {
    async fn link_blob(&self, repo: RepoId, digest: &Digest, size: u64, now: i64) -> Result<()> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            insert_blob_and_link(&mut tx, repo, digest, size, now).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn link_existing_blob(
        &self,
        repo: RepoId,
        from: RepoId,
        digest: &Digest,
        now: i64,
    ) -> Result<Option<u64>> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            // A blob whose bytes are archived is not mounted (the client then
            // uploads it, which brings the bytes back): a link must never lead
            // to bytes its repository cannot read. Archiving marks a blob in a
            // SERIALIZABLE statement, and so is this transaction: the two
            // never interleave.
            let size: Option<i64> = sqlx::query_scalar(
                "SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
             WHERE rb.repository_id = $1 AND rb.digest = $2 AND b.archived = 0",
            )
            .bind(from.0)
            .bind(digest.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if size.is_some() {
                sqlx::query(LINK_SQL)
                    .bind(repo.0)
                    .bind(digest.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(size.map(|s| s as u64))
        })
    }

    async fn blob_link(&self, repo: RepoId, digest: &Digest) -> Result<Option<BlobLink>> {
        let row = sqlx::query(
            "SELECT b.size, rb.linked_at FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
             WHERE rb.repository_id = $1 AND rb.digest = $2",
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
        retrying!({
            let n = sqlx::query(
            "UPDATE repository_blobs SET linked_at = GREATEST(linked_at, $1) WHERE repository_id = $2 AND digest = $3",
        )
        .bind(now)
        .bind(repo.0)
        .bind(digest.as_str())
        .execute(&self.writer)
        .await?
        .rows_affected();
            Ok(n == 1)
        })
    }

    async fn manifest_using_blob(&self, repo: RepoId, digest: &Digest) -> Result<Option<Digest>> {
        let m: Option<String> = sqlx::query_scalar(
            "SELECT manifest_digest FROM manifest_references WHERE repository_id = $1 AND target = $2 AND kind = $3 LIMIT 1",
        )
        .bind(repo.0)
        .bind(digest.as_str())
        .bind(KIND_BLOB)
        .fetch_optional(&self.reader)
        .await?;
        m.map(digest_of).transpose()
    }

    async fn unlink_blob(&self, repo: RepoId, digest: &Digest) -> Result<UnlinkBlobOutcome> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            if !exists(
                &mut tx,
                "SELECT 1::BIGINT FROM repository_blobs WHERE repository_id = $1 AND digest = $2",
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
            sqlx::query("DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2")
                .bind(repo.0)
                .bind(digest.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(UnlinkBlobOutcome::Unlinked)
        })
    }

    async fn create_upload(
        &self,
        u: &UploadRecord,
        limits: UploadLimits,
    ) -> Result<CreateUploadOutcome> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            // Each count stops at its limit: an indexed read of at most that many rows.
            let open: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1::BIGINT FROM uploads WHERE repository_id = $1 LIMIT $2) AS page",
        )
        .bind(u.repository.0)
        .bind(to_i64(limits.per_repository))
        .fetch_one(&mut *tx)
        .await?;
            if from_i64(open) >= limits.per_repository {
                return Ok(CreateUploadOutcome::RepositoryFull(from_i64(open)));
            }
            if let Some(by) = &u.started_by {
                let open: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM (SELECT 1::BIGINT FROM uploads WHERE started_by = $1 LIMIT $2) AS page",
            )
            .bind(by)
            .bind(to_i64(limits.per_principal))
            .fetch_one(&mut *tx)
            .await?;
                if from_i64(open) >= limits.per_principal {
                    return Ok(CreateUploadOutcome::PrincipalFull(from_i64(open)));
                }
            }
            sqlx::query("INSERT INTO uploads (id, repository_id, size, started_at, updated_at, started_by) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&u.id)
            .bind(u.repository.0)
            .bind(to_i64(u.size))
            .bind(u.started_at)
            .bind(u.updated_at)
            .bind(&u.started_by)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(CreateUploadOutcome::Created)
        })
    }

    async fn get_upload(&self, id: &str) -> Result<Option<UploadRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = $1"
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
        retrying!({
            let n = sqlx::query(
                "UPDATE uploads SET size = $1, hash_state = $2, updated_at = $3 WHERE id = $4 AND size = $5",
            )
            .bind(to_i64(size))
            .bind(hash_state)
            .bind(now)
            .bind(id)
            .bind(to_i64(expected))
            .execute(&self.writer)
            .await?
            .rows_affected();
            Ok(n == 1)
        })
    }

    async fn complete_upload(
        &self,
        id: &str,
        repo: RepoId,
        digest: &Digest,
        size: u64,
        now: i64,
    ) -> Result<()> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            insert_blob_and_link(&mut tx, repo, digest, size, now).await?;
            sqlx::query("DELETE FROM uploads WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn delete_upload(&self, id: &str) -> Result<bool> {
        retrying!({
            let n = sqlx::query("DELETE FROM uploads WHERE id = $1")
                .bind(id)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn stale_uploads(&self, before: i64, limit: u32) -> Result<Vec<UploadRecord>> {
        let rows = sqlx::query(
            &format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE updated_at < $1 ORDER BY updated_at LIMIT $2"),
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(upload_from_row).collect())
    }

    async fn upload_exists(&self, id: &str) -> Result<bool> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT 1::BIGINT FROM uploads WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.reader)
                .await?
                .is_some(),
        )
    }

    async fn blob_page(&self, after: Option<&Digest>, limit: u32) -> Result<Vec<Digest>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM blobs WHERE digest > $1 ORDER BY digest LIMIT $2",
        )
        .bind(after.map(Digest::as_str).unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(digest_of).collect()
    }

    async fn collectable(&self, digests: &[Digest], cutoff: i64) -> Result<Vec<Digest>> {
        let sql = format!(
            "SELECT b.digest FROM blobs b WHERE b.digest = $1 AND (
                EXISTS (SELECT 1::BIGINT FROM repository_blobs rb WHERE rb.digest = b.digest AND rb.linked_at < $2 AND {UNREFERENCED_LINK})
                OR (b.created_at < $3 AND NOT EXISTS (SELECT 1::BIGINT FROM repository_blobs rb WHERE rb.digest = b.digest)))"
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
        retrying!({
            let unlink_sql = format!(
            "DELETE FROM repository_blobs AS rb WHERE rb.digest = $1 AND rb.linked_at < $2 AND {UNREFERENCED_LINK}
             RETURNING repository_id"
        );
            let mut tx = self.writer.begin().await?;
            let mut outcomes = Vec::with_capacity(digests.len());
            for digest in digests {
                let unlinked: Vec<i64> = sqlx::query_scalar(&unlink_sql)
                    .bind(digest.as_str())
                    .bind(cutoff)
                    .fetch_all(&mut *tx)
                    .await?;
                let deleted: Option<i64> = sqlx::query_scalar(
                "DELETE FROM blobs WHERE digest = $1 AND created_at < $2
                 AND NOT EXISTS (SELECT 1::BIGINT FROM repository_blobs rb WHERE rb.digest = blobs.digest)
                 RETURNING size",
            )
            .bind(digest.as_str())
            .bind(cutoff)
            .fetch_optional(&mut *tx)
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
        })
    }

    async fn blob_recorded(&self, digest: &Digest) -> Result<bool> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT 1::BIGINT FROM blobs WHERE digest = $1")
                .bind(digest.as_str())
                .fetch_optional(&self.reader)
                .await?
                .is_some(),
        )
    }

    async fn blob_link_keys(&self, digest: &Digest) -> Result<Vec<Option<String>>> {
        Ok(sqlx::query_scalar::<_, Option<String>>(
            "SELECT DISTINCT r.kms_key FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
             WHERE rb.digest = $1",
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
            "SELECT digest FROM repository_blobs WHERE repository_id = $1 AND digest > $2
             ORDER BY digest LIMIT $3",
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
const UNREFERENCED_LINK: &str = "NOT EXISTS (SELECT 1::BIGINT FROM manifest_references r
     WHERE r.repository_id = rb.repository_id AND r.target = rb.digest AND r.kind = 0)";

async fn insert_blob_and_link(
    tx: &mut Transaction<'_, Postgres>,
    repo: RepoId,
    digest: &Digest,
    size: u64,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING")
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
