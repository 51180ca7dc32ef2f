//! SQL pieces more than one concern uses: the blob link statement, and the
//! reads and writes several transactions share (a manifest's referrers,
//! deleting a manifest row, recording a blob), beside the value conversions
//! of `crate::stored`, re-exported. Kept here, below the concern modules, so that no
//! concern module imports another.

use crate::metadata::{RepoId, UploadRecord};
pub(super) use crate::stored::{
    digest_of, from_i64, split_names, status_of, to_i64, KIND_BLOB, KIND_MANIFEST,
};
use crate::Result;
use berth_oci::Digest;
use sqlx::{Row, Sqlite, Transaction};

/// Links a blob to a repository. Linking again (a re-push, a mount) renews
/// `linked_at`: it is a fresh claim that garbage collection must respect.
pub(super) const LINK_SQL: &str = "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES (?, ?, ?)
     ON CONFLICT (repository_id, digest) DO UPDATE SET linked_at = max(linked_at, excluded.linked_at)";

pub(super) async fn user_exists(
    tx: &mut Transaction<'_, Sqlite>,
    account_id: &str,
    user: &str,
) -> Result<bool> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT 1 FROM users WHERE account_id = ? AND name = ?")
            .bind(account_id)
            .bind(user)
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

/// Whether `sql` (a count; `$1` the account, `$2` a name) counts a row.
pub(super) async fn named_exists(
    tx: &mut Transaction<'_, Sqlite>,
    sql: &str,
    account_id: &str,
    name: &str,
) -> Result<bool> {
    Ok(count(tx, sql, account_id, name).await? > 0)
}

pub(super) async fn count(
    tx: &mut Transaction<'_, Sqlite>,
    sql: &str,
    account_id: &str,
    second: &str,
) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(sql)
        .bind(account_id)
        .bind(second)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n as u64)
}

/// The columns `upload_from_row` reads, in its order.
pub(super) const UPLOAD_COLUMNS: &str =
    "id, repository_id, size, started_at, updated_at, started_by, hash_state";

pub(super) fn upload_from_row(row: sqlx::sqlite::SqliteRow) -> UploadRecord {
    UploadRecord {
        id: row.get(0),
        repository: RepoId(row.get(1)),
        size: row.get::<i64, _>(2) as u64,
        started_at: row.get(3),
        updated_at: row.get(4),
        started_by: row.get(5),
        hash_state: row.get(6),
    }
}

pub(super) async fn exists(
    tx: &mut Transaction<'_, Sqlite>,
    sql: &str,
    repo: RepoId,
    digest: &str,
) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>(sql)
        .bind(repo.0)
        .bind(digest)
        .fetch_optional(&mut **tx)
        .await?
        .is_some())
}

/// A manifest in `repo` that references `target` (as a blob or a child manifest), if any.
pub(super) async fn first_referrer(
    tx: &mut Transaction<'_, Sqlite>,
    repo: RepoId,
    target: &Digest,
    kind: i64,
) -> Result<Option<Digest>> {
    let m: Option<String> = sqlx::query_scalar(
        "SELECT manifest_digest FROM manifest_references WHERE repository_id = ? AND target = ? AND kind = ? LIMIT 1",
    )
    .bind(repo.0)
    .bind(target.as_str())
    .bind(kind)
    .fetch_optional(&mut **tx)
    .await?;
    m.map(digest_of).transpose()
}

/// Deletes a manifest (its tags and references go with it, ON DELETE
/// CASCADE) and its body once no repository has the manifest.
pub(super) async fn delete_manifest_row(
    tx: &mut Transaction<'_, Sqlite>,
    repo: RepoId,
    digest: &Digest,
) -> Result<()> {
    sqlx::query("DELETE FROM manifests WHERE repository_id = ? AND digest = ?")
        .bind(repo.0)
        .bind(digest.as_str())
        .execute(&mut **tx)
        .await?;
    release_body(tx, digest.as_str()).await
}

/// Deletes body `digest` once no repository has the manifest, and empties
/// it to the placeholder once only manifests with bodies of their own
/// have it (`manifest_sql::EMPTY_UNREAD_SHARED`).
pub(super) async fn release_body(tx: &mut Transaction<'_, Sqlite>, digest: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM manifest_bodies WHERE digest = ?1 AND NOT EXISTS (SELECT 1 FROM manifests WHERE digest = ?1)",
    )
    .bind(digest)
    .execute(&mut **tx)
    .await?;
    sqlx::query(crate::manifest_sql::EMPTY_UNREAD_SHARED)
        .bind(digest)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
