//! SQL pieces more than one concern uses: conversions between stored and
//! API values, the blob link statement, and the reads and writes several
//! transactions share (a manifest's referrers, deleting a manifest row,
//! recording a blob). Kept here, below the concern modules, so that no
//! concern module imports another.

use crate::metadata::{ImageStatus, RepoId, UploadRecord};
use crate::{Result, StoreError};
use berth_oci::Digest;
use sqlx::{Postgres, Row, Transaction};

/// `manifest_references.kind`: what a manifest needs is a blob, or a
/// child manifest (of an index).
pub(super) const KIND_BLOB: i64 = 0;
pub(super) const KIND_MANIFEST: i64 = 1;

/// Links a blob to a repository. Linking again (a re-push, a mount) renews
/// `linked_at`: it is a fresh claim that garbage collection must respect.
pub(super) const LINK_SQL: &str = "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES ($1, $2, $3)
     ON CONFLICT (repository_id, digest) DO UPDATE SET linked_at = GREATEST(repository_blobs.linked_at, excluded.linked_at)";

pub(super) fn digest_of(text: String) -> Result<Digest> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("stored digest '{text}' does not parse: {e}")))
}

pub(super) fn status_of(code: i64) -> Result<ImageStatus> {
    ImageStatus::from_code(code)
        .ok_or_else(|| StoreError::Corrupt(format!("an image has storage status {code}")))
}

/// Listings come back as one newline-joined value, as on SQLite (where it
/// saved sqlx's per-row hand-over), so both backends share their shape.
/// Names cannot contain newlines (the name and tag grammars exclude them).
pub(super) fn split_names(joined: Option<String>) -> Vec<String> {
    match joined {
        None => Vec::new(),
        Some(s) => s.split('\n').map(str::to_string).collect(),
    }
}

pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored size (never negative) as the `u64` the API speaks.
pub(super) fn from_i64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(super) async fn user_exists(
    tx: &mut Transaction<'_, Postgres>,
    account_id: &str,
    user: &str,
) -> Result<bool> {
    Ok(sqlx::query_scalar::<_, i64>(
        "SELECT 1::BIGINT FROM users WHERE account_id = $1 AND name = $2",
    )
    .bind(account_id)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?
    .is_some())
}

pub(super) async fn count(
    tx: &mut Transaction<'_, Postgres>,
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

pub(super) fn upload_from_row(row: sqlx::postgres::PgRow) -> UploadRecord {
    UploadRecord {
        id: row.get(0),
        repository: RepoId(row.get(1)),
        size: row.get::<i64, _>(2) as u64,
        started_at: row.get(3),
        updated_at: row.get(4),
        started_by: row.get(5),
    }
}

pub(super) async fn exists(
    tx: &mut Transaction<'_, Postgres>,
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
    tx: &mut Transaction<'_, Postgres>,
    repo: RepoId,
    target: &Digest,
    kind: i64,
) -> Result<Option<Digest>> {
    let m: Option<String> = sqlx::query_scalar(
        "SELECT manifest_digest FROM manifest_references WHERE repository_id = $1 AND target = $2 AND kind = $3 LIMIT 1",
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
    tx: &mut Transaction<'_, Postgres>,
    repo: RepoId,
    digest: &Digest,
) -> Result<()> {
    sqlx::query("DELETE FROM manifests WHERE repository_id = $1 AND digest = $2")
        .bind(repo.0)
        .bind(digest.as_str())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "DELETE FROM manifest_bodies WHERE digest = $1 AND NOT EXISTS (SELECT 1::BIGINT FROM manifests WHERE digest = $1)",
    )
    .bind(digest.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
