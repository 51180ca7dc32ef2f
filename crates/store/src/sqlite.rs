//! Metadata store on SQLite (WAL, `synchronous=FULL`: a transaction that
//! returned is on disk).
//!
//! One writer connection serialises every write transaction, so a
//! transaction's checks and its writes see no concurrent writer; a pool of
//! read-only connections serves reads, which WAL lets run beside the writer.

use crate::metadata::*;
use crate::{Result, StoreError};
use async_trait::async_trait;
use berth_oci::Digest;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use std::path::Path;
use std::time::Duration;

const KIND_BLOB: i64 = 0;
const KIND_MANIFEST: i64 = 1;

/// Links a blob to a repository. Linking again (a re-push, a mount) renews
/// `linked_at`: it is a fresh claim that garbage collection must respect.
const LINK_SQL: &str = "INSERT INTO repository_blobs (repository_id, digest, linked_at) VALUES (?, ?, ?)
     ON CONFLICT (repository_id, digest) DO UPDATE SET linked_at = max(linked_at, excluded.linked_at)";

/// A link (`rb`) that no manifest of its repository references.
const UNREFERENCED_LINK: &str = "NOT EXISTS (SELECT 1 FROM manifest_references r
     WHERE r.repository_id = rb.repository_id AND r.target = rb.digest AND r.kind = 0)";

pub struct SqliteMetadataStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteMetadataStore {
    /// Opens (creating and migrating if needed) the database at `path`.
    ///
    /// A new database file is created empty with mode 0600 before SQLite
    /// opens it (an empty file is an empty database), and SQLite creates
    /// the `-wal` and `-shm` files with the main file's mode, so all three
    /// are the owner's only whatever the umask. Existing files are left as
    /// they are (`berth fsck` reports looser modes; `--repair` tightens).
    pub async fn open(path: &Path) -> Result<Self> {
        {
            use std::os::unix::fs::OpenOptionsExt;
            let p = path.to_path_buf();
            tokio::task::spawn_blocking(move || {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(crate::fs_blob::PRIVATE_FILE)
                    .open(&p)
                {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
            .map_err(StoreError::from_io)?;
        }
        let base = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // 512 KiB of page cache per connection (a quarter of SQLite's
            // default); the OS caches the file too. Listings of 10,000 tags
            // and of 10,000 repositories measured as fast with 512 KiB as
            // with 16 MiB, and every MiB here is resident per connection.
            .pragma("cache_size", "-512");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(base.clone().create_if_missing(true))
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let readers = std::thread::available_parallelism()
            .map(|n| n.get() as u32 * 2)
            .unwrap_or(4)
            .max(4);
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(base.read_only(true))
            .await?;
        Ok(SqliteMetadataStore { writer, reader })
    }
}

fn digest_of(text: String) -> Result<Digest> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("stored digest '{text}' does not parse: {e}")))
}

/// Listings come back from SQLite as one newline-joined value rather than a
/// row per name: sqlx hands rows over one at a time from its worker thread,
/// which made a 10,000-tag list cost ~15 ms. Names cannot contain newlines
/// (the name and tag grammars exclude them).
fn status_of(code: i64) -> Result<ImageStatus> {
    ImageStatus::from_code(code)
        .ok_or_else(|| StoreError::Corrupt(format!("an image has storage status {code}")))
}

fn split_names(joined: Option<String>) -> Vec<String> {
    match joined {
        None => Vec::new(),
        Some(s) => s.split('\n').map(str::to_string).collect(),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored size (never negative) as the `u64` the API speaks.
fn from_i64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const REPO_COLUMNS: &str =
    "id, name, created_at, image_tag_mutability, mutability_filters, scan_on_push";

fn repository_from_row(row: sqlx::sqlite::SqliteRow) -> RepositoryRecord {
    RepositoryRecord {
        id: RepoId(row.get(0)),
        name: row.get(1),
        created_at: row.get(2),
        image_tag_mutability: row.get(3),
        mutability_filters: row.get(4),
        scan_on_push: row.get(5),
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

const KEY_COLUMNS: &str = "id, account_id, user_name, secret_sealed, active, created_at";

fn access_key_from_row(row: sqlx::sqlite::SqliteRow) -> AccessKeyRecord {
    AccessKeyRecord {
        id: row.get(0),
        account_id: row.get(1),
        user_name: row.get(2),
        secret_sealed: row.get(3),
        active: row.get(4),
        created_at: row.get(5),
    }
}

const USER_COLUMNS: &str = "account_id, name, created_at, user_id, path";

/// IAM's user id shape, `AIDA` + 17 characters, made by SQLite on insert so
/// that every path creating a user (bootstrap, admin API, IAM API) gives one.
const NEW_USER_ID: &str = "'AIDA' || substr(upper(hex(randomblob(9))), 1, 17)";

fn user_from_row(row: sqlx::sqlite::SqliteRow) -> UserRecord {
    UserRecord {
        account_id: row.get(0),
        name: row.get(1),
        created_at: row.get(2),
        user_id: row.get::<Option<String>, _>(3).unwrap_or_default(),
        path: row.get(4),
    }
}

const POLICY_COLUMNS: &str = "p.account_id, p.name, p.path, p.arn, p.policy_id, p.description, p.default_version, p.created_at, p.updated_at,
     (SELECT count(*) FROM user_policy_attachments a WHERE a.account_id = p.account_id AND a.policy_arn = p.arn)";

fn policy_from_row(row: sqlx::sqlite::SqliteRow) -> ManagedPolicyRecord {
    ManagedPolicyRecord {
        account_id: row.get(0),
        name: row.get(1),
        path: row.get(2),
        arn: row.get(3),
        policy_id: row.get(4),
        description: row.get(5),
        default_version: row.get(6),
        created_at: row.get(7),
        updated_at: row.get(8),
        attachment_count: row.get::<i64, _>(9) as u64,
    }
}

async fn user_exists(
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

async fn count(
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

fn upload_from_row(row: sqlx::sqlite::SqliteRow) -> UploadRecord {
    UploadRecord {
        id: row.get(0),
        repository: RepoId(row.get(1)),
        size: row.get::<i64, _>(2) as u64,
        started_at: row.get(3),
        updated_at: row.get(4),
        started_by: row.get(5),
    }
}

async fn exists(
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

async fn upsert_tags(
    tx: &mut Transaction<'_, Sqlite>,
    repo: RepoId,
    tags: &[ResourceTag],
) -> Result<()> {
    for t in tags {
        sqlx::query(
            "INSERT INTO repository_tags (repository_id, key, value) VALUES (?, ?, ?)
             ON CONFLICT (repository_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(repo.0)
        .bind(&t.key)
        .bind(&t.value)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A manifest in `repo` that references `target` (as a blob or a child manifest), if any.
async fn first_referrer(
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

const SCAN_COLUMNS: &str = "digest, status, description, scan_type, started_at, completed_at,
    source_updated_at, source_generation, findings, counts, detection";

fn scan_from_row(r: sqlx::sqlite::SqliteRow) -> Result<ImageScanRecord> {
    Ok(ImageScanRecord {
        digest: digest_of(r.get(0))?,
        status: r.get(1),
        description: r.get(2),
        scan_type: r.get(3),
        started_at: r.get(4),
        completed_at: r.get(5),
        source_updated_at: r.get(6),
        source_generation: r.get(7),
        findings: r.get(8),
        counts: r.get(9),
        detection: r.get(10),
    })
}

#[async_trait]
impl MetadataStore for SqliteMetadataStore {
    async fn ensure_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
        now: i64,
    ) -> Result<RepoId> {
        if let Some(id) = self.find_repository(registry, name).await? {
            return Ok(id);
        }
        sqlx::query(
            "INSERT INTO repositories (account_id, region, name, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (account_id, region, name) DO NOTHING",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .bind(now)
        .execute(&self.writer)
        .await?;
        let id: i64 = sqlx::query_scalar(
            "SELECT id FROM repositories WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_one(&self.writer)
        .await?;
        Ok(RepoId(id))
    }

    async fn find_repository(&self, registry: &RegistryKey, name: &str) -> Result<Option<RepoId>> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM repositories WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(id.map(RepoId))
    }

    async fn create_repository(
        &self,
        registry: &RegistryKey,
        r: &RepositoryRecord,
        tags: &[ResourceTag],
    ) -> Result<Option<RepositoryRecord>> {
        let mut tx = self.writer.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO repositories (account_id, region, name, created_at, image_tag_mutability, mutability_filters, scan_on_push)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, region, name) DO NOTHING RETURNING id",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(&r.name)
        .bind(r.created_at)
        .bind(&r.image_tag_mutability)
        .bind(&r.mutability_filters)
        .bind(r.scan_on_push)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(None);
        };
        upsert_tags(&mut tx, RepoId(id), tags).await?;
        tx.commit().await?;
        Ok(Some(RepositoryRecord {
            id: RepoId(id),
            ..r.clone()
        }))
    }

    async fn get_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<RepositoryRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {REPO_COLUMNS} FROM repositories WHERE account_id = ? AND region = ? AND name = ?"
        ))
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(repository_from_row))
    }

    async fn describe_repositories(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RepositoryRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {REPO_COLUMNS} FROM repositories WHERE account_id = ? AND region = ? AND name > ? ORDER BY name LIMIT ?"
        ))
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(repository_from_row).collect())
    }

    async fn set_tag_mutability(
        &self,
        registry: &RegistryKey,
        name: &str,
        mutability: &str,
        filters: Option<&str>,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE repositories SET image_tag_mutability = ?, mutability_filters = ? WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(mutability)
        .bind(filters)
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<Option<String>>> {
        Ok(sqlx::query_scalar(
            "SELECT policy FROM repositories WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn set_repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
        policy: Option<&str>,
    ) -> Result<Option<Option<String>>> {
        let mut tx = self.writer.begin().await?;
        let old: Option<Option<String>> = sqlx::query_scalar(
            "SELECT policy FROM repositories WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        if old.is_some() {
            sqlx::query(
                "UPDATE repositories SET policy = ? WHERE account_id = ? AND region = ? AND name = ?",
            )
            .bind(policy)
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(name)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
        Ok(old)
    }

    async fn repository_policies_between(
        &self,
        registry: &RegistryKey,
        first: &str,
        last: &str,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT name, policy FROM repositories
             WHERE account_id = ? AND region = ? AND name >= ? AND name <= ? AND policy IS NOT NULL",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(first)
        .bind(last)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn registry_policy(&self, registry: &RegistryKey) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT policy FROM registry_policies WHERE account_id = ? AND region = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn set_registry_policy(
        &self,
        registry: &RegistryKey,
        policy: Option<&str>,
    ) -> Result<Option<String>> {
        let mut tx = self.writer.begin().await?;
        let old: Option<String> = sqlx::query_scalar(
            "SELECT policy FROM registry_policies WHERE account_id = ? AND region = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .fetch_optional(&mut *tx)
        .await?;
        match policy {
            Some(p) => {
                sqlx::query(
                    "INSERT INTO registry_policies (account_id, region, policy) VALUES (?, ?, ?)
                     ON CONFLICT (account_id, region) DO UPDATE SET policy = excluded.policy",
                )
                .bind(&registry.account_id)
                .bind(&registry.region)
                .bind(p)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM registry_policies WHERE account_id = ? AND region = ?")
                    .bind(&registry.account_id)
                    .bind(&registry.region)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(old)
    }

    async fn set_scan_on_push(&self, registry: &RegistryKey, name: &str, on: bool) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE repositories SET scan_on_push = ? WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(on)
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn delete_repository(
        &self,
        registry: &RegistryKey,
        name: &str,
        force: bool,
    ) -> Result<DeleteRepositoryOutcome> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {REPO_COLUMNS} FROM repositories WHERE account_id = ? AND region = ? AND name = ?"
        ))
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(record) = row.map(repository_from_row) else {
            return Ok(DeleteRepositoryOutcome::NotFound);
        };
        let has_images: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM manifests WHERE repository_id = ? LIMIT 1")
                .bind(record.id.0)
                .fetch_optional(&mut *tx)
                .await?;
        if has_images.is_some() && !force {
            return Ok(DeleteRepositoryOutcome::NotEmpty);
        }
        let uploads: Vec<String> =
            sqlx::query_scalar("SELECT id FROM uploads WHERE repository_id = ?")
                .bind(record.id.0)
                .fetch_all(&mut *tx)
                .await?;
        let digests: Vec<String> =
            sqlx::query_scalar("SELECT digest FROM manifests WHERE repository_id = ?")
                .bind(record.id.0)
                .fetch_all(&mut *tx)
                .await?;
        // Tags, references, links, manifests and sessions go by ON DELETE CASCADE.
        sqlx::query("DELETE FROM repositories WHERE id = ?")
            .bind(record.id.0)
            .execute(&mut *tx)
            .await?;
        for d in digests {
            sqlx::query(
                "DELETE FROM manifest_bodies WHERE digest = ?1 AND NOT EXISTS (SELECT 1 FROM manifests WHERE digest = ?1)",
            )
            .bind(d)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(DeleteRepositoryOutcome::Deleted { record, uploads })
    }

    async fn repository_tags(&self, repo: RepoId) -> Result<Vec<ResourceTag>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM repository_tags WHERE repository_id = ? ORDER BY key",
        )
        .bind(repo.0)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(key, value)| ResourceTag { key, value })
            .collect())
    }

    async fn tag_repository(&self, repo: RepoId, tags: &[ResourceTag], max: usize) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        upsert_tags(&mut tx, repo, tags).await?;
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM repository_tags WHERE repository_id = ?")
                .bind(repo.0)
                .fetch_one(&mut *tx)
                .await?;
        if n as usize > max {
            // Dropping the transaction rolls the upserts back.
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn untag_repository(&self, repo: RepoId, keys: &[String]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for k in keys {
            sqlx::query("DELETE FROM repository_tags WHERE repository_id = ? AND key = ?")
                .bind(repo.0)
                .bind(k)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn account_setting(&self, registry: &RegistryKey, name: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT value FROM account_settings WHERE account_id = ? AND region = ? AND name = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn put_account_setting(
        &self,
        registry: &RegistryKey,
        name: &str,
        value: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO account_settings (account_id, region, name, value) VALUES (?, ?, ?, ?)
             ON CONFLICT (account_id, region, name) DO UPDATE SET value = excluded.value",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .bind(value)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

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
            .fetch_optional(&mut *tx)
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
            .execute(&mut *tx)
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
            .execute(&self.writer)
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
            .fetch_optional(&mut *tx)
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
        .fetch_optional(&mut *tx)
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
        .execute(&mut *tx)
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
        .execute(&self.writer)
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

    async fn record_pulls(&self, pulls: &[(RepoId, Digest, i64)]) -> Result<()> {
        if pulls.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        for (repo, digest, at) in pulls {
            sqlx::query(
                "UPDATE manifests SET last_pulled_at = MAX(COALESCE(last_pulled_at, 0), ?1)
                 WHERE repository_id = ?2 AND digest = ?3",
            )
            .bind(at)
            .bind(repo.0)
            .bind(digest.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ensure_account(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO accounts (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn ensure_user(&self, account_id: &str, name: &str, now: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO accounts (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(account_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "INSERT INTO users (account_id, name, created_at, user_id) VALUES (?, ?, ?, {NEW_USER_ID}) ON CONFLICT (account_id, name) DO NOTHING",
        ))
        .bind(account_id)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_access_key(&self, k: &AccessKeyRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO access_keys (id, account_id, user_name, secret_sealed, active, created_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET secret_sealed = excluded.secret_sealed, active = excluded.active",
        )
        .bind(&k.id)
        .bind(&k.account_id)
        .bind(&k.user_name)
        .bind(&k.secret_sealed)
        .bind(k.active)
        .bind(k.created_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn get_access_key(&self, id: &str) -> Result<Option<AccessKeyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM access_keys WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(access_key_from_row))
    }

    async fn access_keys_of(&self, account_id: &str, user: &str) -> Result<Vec<AccessKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM access_keys WHERE account_id = ? AND user_name = ? ORDER BY created_at, id"
        ))
        .bind(account_id)
        .bind(user)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(access_key_from_row).collect())
    }

    async fn create_account(
        &self,
        id: &str,
        admin_user: &str,
        now: i64,
    ) -> Result<Option<AccountRecord>> {
        let mut tx = self.writer.begin().await?;
        let created = sqlx::query(
            "INSERT INTO accounts (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !created {
            return Ok(None);
        }
        sqlx::query(&format!(
            "INSERT INTO users (account_id, name, created_at, user_id) VALUES (?, ?, ?, {NEW_USER_ID})"
        ))
        .bind(id)
            .bind(admin_user)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(AccountRecord {
            id: id.to_string(),
            created_at: now,
        }))
    }

    async fn get_account(&self, id: &str) -> Result<Option<AccountRecord>> {
        let row = sqlx::query("SELECT id, created_at FROM accounts WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| AccountRecord {
            id: r.get(0),
            created_at: r.get(1),
        }))
    }

    async fn list_accounts(&self) -> Result<Vec<AccountRecord>> {
        let rows = sqlx::query("SELECT id, created_at FROM accounts ORDER BY id")
            .fetch_all(&self.reader)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| AccountRecord {
                id: r.get(0),
                created_at: r.get(1),
            })
            .collect())
    }

    async fn create_user(
        &self,
        account_id: &str,
        name: &str,
        path: &str,
        now: i64,
    ) -> Result<CreateUserOutcome> {
        // Checked and inserted in one write transaction: the account
        // cannot vanish in between (the writer is serialised).
        let mut tx = self.writer.begin().await?;
        let account: Option<String> = sqlx::query_scalar("SELECT id FROM accounts WHERE id = ?")
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?;
        if account.is_none() {
            return Ok(CreateUserOutcome::NoSuchAccount);
        }
        let row = sqlx::query(&format!(
            "INSERT INTO users (account_id, name, created_at, user_id, path) VALUES (?, ?, ?, {NEW_USER_ID}, ?)
             ON CONFLICT (account_id, name) DO NOTHING RETURNING {USER_COLUMNS}"
        ))
        .bind(account_id)
        .bind(name)
        .bind(now)
        .bind(path)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(CreateUserOutcome::AlreadyExists);
        };
        let user = user_from_row(row);
        tx.commit().await?;
        Ok(CreateUserOutcome::Created(user))
    }

    async fn get_user(&self, account_id: &str, name: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = ? AND name = ?"
        ))
        .bind(account_id)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(user_from_row))
    }

    async fn list_users(&self, account_id: &str) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_id = ? ORDER BY name"
        ))
        .bind(account_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(user_from_row).collect())
    }

    async fn access_keys_of_account(&self, account_id: &str) -> Result<Vec<AccessKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM access_keys WHERE account_id = ? ORDER BY user_name, created_at, id"
        ))
        .bind(account_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(access_key_from_row).collect())
    }

    async fn delete_access_key(&self, account_id: &str, id: &str) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM access_keys WHERE account_id = ? AND id = ?")
            .bind(account_id)
            .bind(id)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(deleted == 1)
    }

    async fn delete_user(&self, account_id: &str, name: &str) -> Result<DeleteUserOutcome> {
        let mut tx = self.writer.begin().await?;
        if !user_exists(&mut tx, account_id, name).await? {
            return Ok(DeleteUserOutcome::NotFound);
        }
        let checks = [
            (
                "SELECT count(*) FROM access_keys WHERE account_id = ? AND user_name = ?",
                DeleteUserOutcome::HasAccessKeys,
            ),
            (
                "SELECT count(*) FROM user_policies WHERE account_id = ? AND user_name = ?",
                DeleteUserOutcome::HasInlinePolicies,
            ),
            (
                "SELECT count(*) FROM user_policy_attachments WHERE account_id = ? AND user_name = ?",
                DeleteUserOutcome::HasAttachedPolicies,
            ),
        ];
        for (sql, refusal) in checks {
            if count(&mut tx, sql, account_id, name).await? > 0 {
                return Ok(refusal);
            }
        }
        sqlx::query("DELETE FROM users WHERE account_id = ? AND name = ?")
            .bind(account_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DeleteUserOutcome::Deleted)
    }

    async fn add_access_key(&self, k: &AccessKeyRecord, max_per_user: usize) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let n = count(
            &mut tx,
            "SELECT count(*) FROM access_keys WHERE account_id = ? AND user_name = ?",
            &k.account_id,
            &k.user_name,
        )
        .await?;
        if n >= max_per_user as u64 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO access_keys (id, account_id, user_name, secret_sealed, active, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&k.id)
        .bind(&k.account_id)
        .bind(&k.user_name)
        .bind(&k.secret_sealed)
        .bind(k.active)
        .bind(k.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_access_key_active(
        &self,
        account_id: &str,
        user: &str,
        id: &str,
        active: bool,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE access_keys SET active = ? WHERE account_id = ? AND user_name = ? AND id = ?",
        )
        .bind(active)
        .bind(account_id)
        .bind(user)
        .bind(id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn put_user_policy(
        &self,
        account_id: &str,
        user: &str,
        name: &str,
        document: &str,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        if !user_exists(&mut tx, account_id, user).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO user_policies (account_id, user_name, policy_name, document) VALUES (?, ?, ?, ?)
             ON CONFLICT (account_id, user_name, policy_name) DO UPDATE SET document = excluded.document",
        )
        .bind(account_id)
        .bind(user)
        .bind(name)
        .bind(document)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn get_user_policy(
        &self,
        account_id: &str,
        user: &str,
        name: &str,
    ) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT document FROM user_policies WHERE account_id = ? AND user_name = ? AND policy_name = ?",
        )
        .bind(account_id)
        .bind(user)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn list_user_policies(&self, account_id: &str, user: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT policy_name FROM user_policies WHERE account_id = ? AND user_name = ? ORDER BY policy_name",
        )
        .bind(account_id)
        .bind(user)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn delete_user_policy(&self, account_id: &str, user: &str, name: &str) -> Result<bool> {
        let n = sqlx::query(
            "DELETE FROM user_policies WHERE account_id = ? AND user_name = ? AND policy_name = ?",
        )
        .bind(account_id)
        .bind(user)
        .bind(name)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn attach_user_policy(
        &self,
        account_id: &str,
        user: &str,
        arn: &str,
        local: bool,
        now: i64,
    ) -> Result<AttachOutcome> {
        let mut tx = self.writer.begin().await?;
        if !user_exists(&mut tx, account_id, user).await? {
            return Ok(AttachOutcome::NoSuchUser);
        }
        if local
            && count(
                &mut tx,
                "SELECT count(*) FROM managed_policies WHERE account_id = ? AND arn = ?",
                account_id,
                arn,
            )
            .await?
                == 0
        {
            return Ok(AttachOutcome::NoSuchPolicy);
        }
        sqlx::query(
            "INSERT INTO user_policy_attachments (account_id, user_name, policy_arn, attached_at) VALUES (?, ?, ?, ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(account_id)
        .bind(user)
        .bind(arn)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AttachOutcome::Attached)
    }

    async fn detach_user_policy(&self, account_id: &str, user: &str, arn: &str) -> Result<bool> {
        let n = sqlx::query(
            "DELETE FROM user_policy_attachments WHERE account_id = ? AND user_name = ? AND policy_arn = ?",
        )
        .bind(account_id)
        .bind(user)
        .bind(arn)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn attached_user_policies(&self, account_id: &str, user: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT policy_arn FROM user_policy_attachments WHERE account_id = ? AND user_name = ? ORDER BY policy_arn",
        )
        .bind(account_id)
        .bind(user)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn policy_attachment_count(&self, account_id: &str, arn: &str) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM user_policy_attachments WHERE account_id = ? AND policy_arn = ?",
        )
        .bind(account_id)
        .bind(arn)
        .fetch_one(&self.reader)
        .await?;
        Ok(n as u64)
    }

    async fn create_managed_policy(&self, p: &ManagedPolicyRecord, document: &str) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO managed_policies (account_id, name, path, arn, policy_id, description, default_version, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(&p.account_id)
        .bind(&p.name)
        .bind(&p.path)
        .bind(&p.arn)
        .bind(&p.policy_id)
        .bind(&p.description)
        .bind(&p.default_version)
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO managed_policy_versions (account_id, policy_name, version_id, document, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&p.account_id)
        .bind(&p.name)
        .bind(&p.default_version)
        .bind(document)
        .bind(p.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn get_managed_policy(
        &self,
        account_id: &str,
        arn: &str,
    ) -> Result<Option<ManagedPolicyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM managed_policies p WHERE p.account_id = ? AND p.arn = ?"
        ))
        .bind(account_id)
        .bind(arn)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(policy_from_row))
    }

    async fn list_managed_policies(&self, account_id: &str) -> Result<Vec<ManagedPolicyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {POLICY_COLUMNS} FROM managed_policies p WHERE p.account_id = ? ORDER BY p.arn"
        ))
        .bind(account_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(policy_from_row).collect())
    }

    async fn get_policy_version(
        &self,
        account_id: &str,
        arn: &str,
        version_id: &str,
    ) -> Result<Option<PolicyVersionRecord>> {
        let row = sqlx::query(
            "SELECT v.version_id, v.document, v.version_id = p.default_version, v.created_at
             FROM managed_policies p JOIN managed_policy_versions v
               ON v.account_id = p.account_id AND v.policy_name = p.name
             WHERE p.account_id = ? AND p.arn = ? AND v.version_id = ?",
        )
        .bind(account_id)
        .bind(arn)
        .bind(version_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| PolicyVersionRecord {
            version_id: r.get(0),
            document: r.get(1),
            is_default: r.get(2),
            created_at: r.get(3),
        }))
    }

    async fn delete_managed_policy(
        &self,
        account_id: &str,
        arn: &str,
    ) -> Result<DeletePolicyOutcome> {
        let mut tx = self.writer.begin().await?;
        let attached = count(
            &mut tx,
            "SELECT count(*) FROM user_policy_attachments WHERE account_id = ? AND policy_arn = ?",
            account_id,
            arn,
        )
        .await?;
        if attached > 0 {
            return Ok(DeletePolicyOutcome::Attached(attached));
        }
        let n = sqlx::query("DELETE FROM managed_policies WHERE account_id = ? AND arn = ?")
            .bind(account_id)
            .bind(arn)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(if n == 1 {
            DeletePolicyOutcome::Deleted
        } else {
            DeletePolicyOutcome::NotFound
        })
    }

    async fn list_repositories(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        let joined: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(name, char(10) ORDER BY name) FROM
             (SELECT name FROM repositories WHERE account_id = ? AND region = ? AND name > ? ORDER BY name LIMIT ?)",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_one(&self.reader)
        .await?;
        Ok(split_names(joined))
    }

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
        .execute(&self.writer)
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
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(UnlinkBlobOutcome::Unlinked)
    }

    async fn put_manifest(&self, repo: RepoId, m: NewManifest<'_>) -> Result<PutManifestOutcome> {
        let mut tx = self.writer.begin().await?;
        if let (Some(tag), true) = (m.tag, m.tag_immutable) {
            let old: Option<String> =
                sqlx::query_scalar("SELECT digest FROM tags WHERE repository_id = ? AND name = ?")
                    .bind(repo.0)
                    .bind(tag)
                    .fetch_optional(&mut *tx)
                    .await?;
            if old.is_some_and(|d| d != m.digest.as_str()) {
                return Ok(PutManifestOutcome::TagImmutable);
            }
        }
        if m.refuse_existing {
            let there: Option<i64> = match m.tag {
                Some(tag) => sqlx::query_scalar(
                    "SELECT 1 FROM tags WHERE repository_id = ? AND name = ? AND digest = ?",
                )
                .bind(repo.0)
                .bind(tag)
                .bind(m.digest.as_str()),
                None => sqlx::query_scalar(
                    "SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ? AND storage_status = 0",
                )
                .bind(repo.0)
                .bind(m.digest.as_str()),
            }
            .fetch_optional(&mut *tx)
            .await?;
            if there.is_some() {
                return Ok(PutManifestOutcome::AlreadyExists);
            }
        }
        let (mut missing, mut archived_blobs, mut archived_manifests, mut wrong_sizes) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (d, declared) in m.blob_refs {
            let found: Option<(i64, i64)> = sqlx::query_as(
                "SELECT b.archived, b.size FROM repository_blobs l JOIN blobs b ON b.digest = l.digest
                 WHERE l.repository_id = ? AND l.digest = ?",
            )
            .bind(repo.0)
            .bind(d.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            match found {
                None => missing.push(d.clone()),
                Some((_, size)) if from_i64(size) != *declared => {
                    wrong_sizes.push((d.clone(), *declared, from_i64(size)))
                }
                Some((0, _)) => {}
                Some(_) => archived_blobs.push(d.clone()),
            }
        }
        for (d, declared) in m.manifest_refs {
            let found: Option<(i64, i64)> = sqlx::query_as(
                "SELECT storage_status, size FROM manifests WHERE repository_id = ? AND digest = ?",
            )
            .bind(repo.0)
            .bind(d.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            match found {
                None => missing.push(d.clone()),
                Some((_, size)) if from_i64(size) != *declared => {
                    wrong_sizes.push((d.clone(), *declared, from_i64(size)))
                }
                Some((0, _)) => {}
                Some(_) => archived_manifests.push(d.clone()),
            }
        }
        if !missing.is_empty() {
            missing.dedup();
            return Ok(PutManifestOutcome::MissingReferences(missing));
        }
        if !wrong_sizes.is_empty() {
            wrong_sizes.dedup();
            return Ok(PutManifestOutcome::WrongSizes(wrong_sizes));
        }
        if !archived_blobs.is_empty() || !archived_manifests.is_empty() {
            archived_blobs.dedup();
            archived_manifests.dedup();
            return Ok(PutManifestOutcome::Archived {
                blobs: archived_blobs,
                manifests: archived_manifests,
            });
        }
        sqlx::query("INSERT INTO manifest_bodies (digest, body) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING")
            .bind(m.digest.as_str())
            .bind(m.body)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO manifests (repository_id, digest, media_type, size, artifact_type, annotations, subject, pushed_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repository_id, digest) DO NOTHING",
        )
        .bind(repo.0)
        .bind(m.digest.as_str())
        .bind(m.media_type)
        .bind(m.body.len() as i64)
        .bind(m.artifact_type)
        .bind(m.annotations)
        .bind(m.subject.map(|s| s.as_str()))
        .bind(m.now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            let refs = m
                .blob_refs
                .iter()
                .map(|(d, _)| (d, KIND_BLOB))
                .chain(m.manifest_refs.iter().map(|(d, _)| (d, KIND_MANIFEST)));
            for (target, kind) in refs {
                sqlx::query(
                    "INSERT OR IGNORE INTO manifest_references (repository_id, manifest_digest, target, kind) VALUES (?, ?, ?, ?)",
                )
                .bind(repo.0)
                .bind(m.digest.as_str())
                .bind(target.as_str())
                .bind(kind)
                .execute(&mut *tx)
                .await?;
            }
        } else {
            // A push of an archived image restores it (its references were
            // checked above to be back in the blob store).
            sqlx::query(
                "UPDATE manifests SET storage_status = 0, activated_at = ? WHERE repository_id = ? AND digest = ? AND storage_status <> 0",
            )
            .bind(m.now)
            .bind(repo.0)
            .bind(m.digest.as_str())
            .execute(&mut *tx)
            .await?;
        }
        let mut previous = None;
        if let Some(tag) = m.tag {
            let old: Option<String> =
                sqlx::query_scalar("SELECT digest FROM tags WHERE repository_id = ? AND name = ?")
                    .bind(repo.0)
                    .bind(tag)
                    .fetch_optional(&mut *tx)
                    .await?;
            if old.as_deref() != Some(m.digest.as_str()) {
                sqlx::query(
                    "INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
                     ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
                )
                .bind(repo.0)
                .bind(tag)
                .bind(m.digest.as_str())
                .bind(m.now)
                .execute(&mut *tx)
                .await?;
                previous = old.map(digest_of).transpose()?;
            }
        }
        tx.commit().await?;
        Ok(PutManifestOutcome::Stored { previous })
    }

    async fn get_manifest(&self, repo: RepoId, digest: &Digest) -> Result<Option<StoredManifest>> {
        let row = sqlx::query(
            "SELECT m.media_type, b.body, m.storage_status FROM manifests m JOIN manifest_bodies b ON b.digest = m.digest
             WHERE m.repository_id = ? AND m.digest = ?",
        )
        .bind(repo.0)
        .bind(digest.as_str())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|r| {
            Ok(StoredManifest {
                media_type: r.get(0),
                body: bytes::Bytes::from(r.get::<Vec<u8>, _>(1)),
                status: status_of(r.get(2))?,
            })
        })
        .transpose()
    }

    async fn delete_manifest(
        &self,
        repo: RepoId,
        digest: &Digest,
    ) -> Result<DeleteManifestOutcome> {
        let mut tx = self.writer.begin().await?;
        if !exists(
            &mut tx,
            "SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?",
            repo,
            digest.as_str(),
        )
        .await?
        {
            return Ok(DeleteManifestOutcome::NotFound);
        }
        if let Some(index) = first_referrer(&mut tx, repo, digest, KIND_MANIFEST).await? {
            return Ok(DeleteManifestOutcome::ReferencedBy(index));
        }
        let tags: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM tags WHERE repository_id = ? AND digest = ? ORDER BY name",
        )
        .bind(repo.0)
        .bind(digest.as_str())
        .fetch_all(&mut *tx)
        .await?;
        delete_manifest_row(&mut tx, repo, digest).await?;
        tx.commit().await?;
        Ok(DeleteManifestOutcome::Deleted { tags })
    }

    async fn untag(&self, repo: RepoId, tag: &str) -> Result<UntagOutcome> {
        let mut tx = self.writer.begin().await?;
        let digest: Option<String> = sqlx::query_scalar(
            "DELETE FROM tags WHERE repository_id = ? AND name = ? RETURNING digest",
        )
        .bind(repo.0)
        .bind(tag)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(digest) = digest.map(digest_of).transpose()? else {
            return Ok(UntagOutcome::NotFound);
        };
        let still_tagged = exists(
            &mut tx,
            "SELECT 1 FROM tags WHERE repository_id = ? AND digest = ? LIMIT 1",
            repo,
            digest.as_str(),
        )
        .await?;
        let image_deleted = !still_tagged
            && first_referrer(&mut tx, repo, &digest, KIND_MANIFEST)
                .await?
                .is_none();
        if image_deleted {
            delete_manifest_row(&mut tx, repo, &digest).await?;
        }
        tx.commit().await?;
        Ok(UntagOutcome::Untagged {
            digest,
            image_deleted,
        })
    }

    async fn resolve_tag(&self, repo: RepoId, tag: &str) -> Result<Option<Digest>> {
        let d: Option<String> =
            sqlx::query_scalar("SELECT digest FROM tags WHERE repository_id = ? AND name = ?")
                .bind(repo.0)
                .bind(tag)
                .fetch_optional(&self.reader)
                .await?;
        d.map(digest_of).transpose()
    }

    async fn list_referrers(
        &self,
        repo: RepoId,
        subject: &Digest,
        artifact_type: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Referrer>> {
        let rows = sqlx::query(
            "SELECT digest, media_type, size, artifact_type, annotations FROM manifests
             WHERE repository_id = ? AND subject = ? AND (? IS NULL OR artifact_type = ?)
             ORDER BY digest LIMIT ?",
        )
        .bind(repo.0)
        .bind(subject.as_str())
        .bind(artifact_type)
        .bind(artifact_type)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Referrer {
                    digest: digest_of(r.get(0))?,
                    media_type: r.get(1),
                    size: r.get::<i64, _>(2) as u64,
                    artifact_type: r.get(3),
                    annotations: r.get(4),
                })
            })
            .collect()
    }

    async fn list_image_ids(
        &self,
        repo: RepoId,
        status: TagStatus,
        image_status: StatusFilter,
        after: Option<(&Digest, &str)>,
        limit: u32,
    ) -> Result<Vec<(Digest, Option<String>)>> {
        let by_status = image_status.sql();
        let filter = match status {
            TagStatus::Tagged => "AND t.name IS NOT NULL",
            TagStatus::Untagged => "AND t.name IS NULL",
            TagStatus::Any => "",
        };
        let (d, t) = after.map(|(d, t)| (d.as_str(), t)).unwrap_or(("", ""));
        let rows = sqlx::query(&format!(
            "SELECT m.digest, t.name FROM manifests m
             LEFT JOIN tags t ON t.repository_id = m.repository_id AND t.digest = m.digest
             WHERE m.repository_id = ? AND (m.digest, COALESCE(t.name, '')) > (?, ?) {filter} {by_status}
             ORDER BY m.digest, COALESCE(t.name, '') LIMIT ?"
        ))
        .bind(repo.0)
        .bind(d)
        .bind(t)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|r| Ok((digest_of(r.get(0))?, r.get(1))))
            .collect()
    }

    async fn list_image_digests(
        &self,
        repo: RepoId,
        status: TagStatus,
        image_status: StatusFilter,
        after: Option<&Digest>,
        limit: u32,
    ) -> Result<Vec<Digest>> {
        let by_status = image_status.sql();
        let filter = match status {
            TagStatus::Tagged => "AND EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)",
            TagStatus::Untagged => "AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)",
            TagStatus::Any => "",
        };
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT m.digest FROM manifests m WHERE m.repository_id = ? AND m.digest > ? {filter} {by_status} ORDER BY m.digest LIMIT ?"
        ))
        .bind(repo.0)
        .bind(after.map(Digest::as_str).unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(digest_of).collect()
    }

    async fn image_records(&self, repo: RepoId, digests: &[Digest]) -> Result<Vec<ImageRecord>> {
        let mut conn = self.reader.acquire().await?;
        let mut out = Vec::with_capacity(digests.len());
        for d in digests {
            let Some(row) = sqlx::query(
                "SELECT m.media_type, m.artifact_type, m.subject, m.pushed_at, m.last_pulled_at,
                    m.storage_status, m.archived_at, m.activated_at,
                    (SELECT group_concat(name, char(10)) FROM (SELECT name FROM tags WHERE repository_id = m.repository_id AND digest = m.digest ORDER BY name)),
                    (SELECT COALESCE(SUM(b.size), 0) FROM manifest_references r JOIN blobs b ON b.digest = r.target
                       WHERE r.repository_id = m.repository_id AND r.manifest_digest = m.digest AND r.kind = 0),
                    (SELECT group_concat(target, char(10)) FROM manifest_references r
                       WHERE r.repository_id = m.repository_id AND r.manifest_digest = m.digest AND r.kind = 1)
                 FROM manifests m WHERE m.repository_id = ? AND m.digest = ?",
            )
            .bind(repo.0)
            .bind(d.as_str())
            .fetch_optional(&mut *conn)
            .await?
            else {
                continue;
            };
            let subject: Option<String> = row.get(2);
            out.push(ImageRecord {
                digest: d.clone(),
                media_type: row.get(0),
                artifact_type: row.get(1),
                subject: subject.map(digest_of).transpose()?,
                pushed_at: row.get(3),
                last_pulled_at: row.get(4),
                status: status_of(row.get(5))?,
                archived_at: row.get(6),
                activated_at: row.get(7),
                tags: split_names(row.get(8)),
                blob_bytes: row.get::<i64, _>(9) as u64,
                children: split_names(row.get(10))
                    .into_iter()
                    .map(digest_of)
                    .collect::<Result<_>>()?,
            });
        }
        Ok(out)
    }

    async fn list_tags(
        &self,
        repo: RepoId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        let joined: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(name, char(10) ORDER BY name) FROM
             (SELECT t.name FROM tags t WHERE t.repository_id = ? AND t.name > ?
                AND NOT EXISTS (SELECT 1 FROM manifests m
                    WHERE m.repository_id = t.repository_id AND m.digest = t.digest AND m.storage_status <> 0)
              ORDER BY t.name LIMIT ?)",
        )
        .bind(repo.0)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_one(&self.reader)
        .await?;
        Ok(split_names(joined))
    }

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
            .fetch_optional(&mut *tx)
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
            .fetch_all(&mut *tx)
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
                .fetch_all(&mut *tx)
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
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn mark_blob_standard(&self, digest: &Digest) -> Result<()> {
        sqlx::query("UPDATE blobs SET archived = 0 WHERE digest = ? AND archived = 1")
            .bind(digest.as_str())
            .execute(&self.writer)
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
        .fetch_optional(&mut *tx)
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
        .fetch_all(&mut *tx)
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
            .execute(&mut *tx)
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
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                let t: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM tags WHERE repository_id = ? AND digest = ?",
                )
                .bind(repo.0)
                .bind(m.as_str())
                .fetch_all(&mut *tx)
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
        .fetch_one(&mut *tx)
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
            .fetch_one(&mut *tx)
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
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(CreateUploadOutcome::Created)
    }

    async fn get_upload(&self, id: &str) -> Result<Option<UploadRecord>> {
        let row = sqlx::query(
            "SELECT id, repository_id, size, started_at, updated_at, started_by FROM uploads WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(upload_from_row))
    }

    async fn set_upload_size(&self, id: &str, expected: u64, size: u64, now: i64) -> Result<bool> {
        let n =
            sqlx::query("UPDATE uploads SET size = ?, updated_at = ? WHERE id = ? AND size = ?")
                .bind(to_i64(size))
                .bind(now)
                .bind(id)
                .bind(to_i64(expected))
                .execute(&self.writer)
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
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_upload(&self, id: &str) -> Result<bool> {
        let n = sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn stale_uploads(&self, before: i64, limit: u32) -> Result<Vec<UploadRecord>> {
        let rows = sqlx::query(
            "SELECT id, repository_id, size, started_at, updated_at, started_by FROM uploads WHERE updated_at < ? ORDER BY updated_at LIMIT ?",
        )
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
                .fetch_all(&mut *tx)
                .await?;
            let deleted: Option<i64> = sqlx::query_scalar(
                "DELETE FROM blobs WHERE digest = ? AND created_at < ?
                 AND NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = blobs.digest)
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

    async fn import_vuln_records(
        &self,
        records: &[VulnRecordRow],
        withdrawn: &[(String, Option<String>)],
    ) -> Result<VulnImportOutcome> {
        let mut out = VulnImportOutcome::default();
        let mut tx = self.writer.begin().await?;
        for r in records {
            let stored: Option<Option<String>> =
                sqlx::query_scalar("SELECT modified FROM vuln_records WHERE id = ?")
                    .bind(&r.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(old) = &stored {
                // RFC 3339 times in UTC order as text; a record without
                // `modified` never replaces one with it.
                if old.is_some() && (r.modified.is_none() || r.modified <= *old) {
                    out.unchanged += 1;
                    continue;
                }
                sqlx::query("DELETE FROM vuln_packages WHERE record_id = ?")
                    .bind(&r.id)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO vuln_records (id, modified, json) VALUES (?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, json = excluded.json",
            )
            .bind(&r.id)
            .bind(&r.modified)
            .bind(&r.json)
            .execute(&mut *tx)
            .await?;
            for (eco, name) in &r.packages {
                sqlx::query(
                    "INSERT OR IGNORE INTO vuln_packages (ecosystem, name, record_id) VALUES (?, ?, ?)",
                )
                .bind(eco)
                .bind(name)
                .bind(&r.id)
                .execute(&mut *tx)
                .await?;
            }
            out.stored += 1;
        }
        for (id, modified) in withdrawn {
            let n = sqlx::query(
                "DELETE FROM vuln_records WHERE id = ? AND (modified IS NULL OR ? IS NULL OR modified <= ?)",
            )
            .bind(id)
            .bind(modified)
            .bind(modified)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            out.removed += n;
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn finish_vuln_import(&self, now: i64) -> Result<VulnSource> {
        let row = sqlx::query(
            "INSERT INTO vuln_source (id, updated_at, generation) VALUES (1, ?, 1)
             ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, generation = generation + 1
             RETURNING updated_at, generation",
        )
        .bind(now)
        .fetch_one(&self.writer)
        .await?;
        Ok(VulnSource {
            updated_at: row.get(0),
            generation: row.get(1),
        })
    }

    async fn vuln_source(&self) -> Result<Option<VulnSource>> {
        let row = sqlx::query("SELECT updated_at, generation FROM vuln_source WHERE id = 1")
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| VulnSource {
            updated_at: r.get(0),
            generation: r.get(1),
        }))
    }

    async fn vuln_record_ids(
        &self,
        keys: &[(String, String)],
    ) -> Result<Vec<(String, Option<String>)>> {
        let mut out: Vec<(String, Option<String>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut conn = self.reader.acquire().await?;
        for (eco, name) in keys {
            let rows = sqlx::query(
                "SELECT r.id, r.modified FROM vuln_packages p JOIN vuln_records r ON r.id = p.record_id
                 WHERE p.ecosystem = ? AND p.name = ?",
            )
            .bind(eco)
            .bind(name)
            .fetch_all(&mut *conn)
            .await?;
            for r in rows {
                let id: String = r.get(0);
                if seen.insert(id.clone()) {
                    out.push((id, r.get(1)));
                }
            }
        }
        Ok(out)
    }

    async fn vuln_records(&self, ids: &[String]) -> Result<Vec<(String, Option<String>, String)>> {
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.reader.acquire().await?;
        for id in ids {
            let row = sqlx::query("SELECT id, modified, json FROM vuln_records WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(r) = row {
                out.push((r.get(0), r.get(1), r.get(2)));
            }
        }
        Ok(out)
    }

    async fn vuln_record_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM vuln_records")
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }

    async fn layer_inventory(&self, layer: &Digest) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT inventory FROM layer_inventories WHERE layer_digest = ?")
                .bind(layer.as_str())
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn put_layer_inventory(
        &self,
        layer: &Digest,
        diff_id: Option<&str>,
        inventory: &[u8],
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT OR REPLACE INTO layer_inventories (layer_digest, diff_id, inventory, created_at)
             VALUES (?, ?, ?, ?)",
        )
        .bind(layer.as_str())
        .bind(diff_id)
        .bind(inventory)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn start_image_scan(
        &self,
        repo: RepoId,
        digest: &Digest,
        scan_type: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT OR REPLACE INTO image_scans (repository_id, digest, status, scan_type, started_at)
             VALUES (?, ?, 'IN_PROGRESS', ?, ?)",
        )
        .bind(repo.0)
        .bind(digest.as_str())
        .bind(scan_type)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn finish_image_scan(
        &self,
        repo: RepoId,
        digest: &Digest,
        started_at: i64,
        o: &ScanOutcome<'_>,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE image_scans SET status = ?, description = ?, completed_at = ?,
                source_updated_at = ?, source_generation = ?, findings = ?, counts = ?, detection = ?
             WHERE repository_id = ? AND digest = ? AND started_at = ?",
        )
        .bind(o.status)
        .bind(o.description)
        .bind(o.completed_at)
        .bind(o.source_updated_at)
        .bind(o.source_generation)
        .bind(o.findings)
        .bind(o.counts)
        .bind(o.detection)
        .bind(repo.0)
        .bind(digest.as_str())
        .bind(started_at)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn image_scan(&self, repo: RepoId, digest: &Digest) -> Result<Option<ImageScanRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {SCAN_COLUMNS} FROM image_scans WHERE repository_id = ? AND digest = ?"
        ))
        .bind(repo.0)
        .bind(digest.as_str())
        .fetch_optional(&self.reader)
        .await?;
        row.map(scan_from_row).transpose()
    }

    async fn scans_in_progress(&self) -> Result<Vec<ScanRef>> {
        let rows = sqlx::query(
            "SELECT s.repository_id, r.account_id, r.region, r.name, s.digest
             FROM image_scans s JOIN repositories r ON r.id = s.repository_id
             WHERE s.status = 'IN_PROGRESS'",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ScanRef {
                    repo: RepoId(r.get(0)),
                    registry: RegistryKey {
                        account_id: r.get(1),
                        region: r.get(2),
                    },
                    name: r.get(3),
                    digest: digest_of(r.get(4))?,
                })
            })
            .collect()
    }

    async fn complete_scans(&self, repo: RepoId) -> Result<Vec<ImageScanRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {SCAN_COLUMNS} FROM image_scans
             WHERE repository_id = ? AND status = 'COMPLETE' AND detection IS NOT NULL"
        ))
        .bind(repo.0)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(scan_from_row).collect()
    }

    async fn registry_scanning(&self, registry: &RegistryKey) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT config FROM registry_scanning WHERE account_id = ? AND region = ?",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn put_registry_scanning(&self, registry: &RegistryKey, config: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO registry_scanning (account_id, region, config) VALUES (?, ?, ?)
             ON CONFLICT (account_id, region) DO UPDATE SET config = excluded.config",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(config)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn registry_scanning_all(&self) -> Result<Vec<(RegistryKey, String)>> {
        let rows = sqlx::query("SELECT account_id, region, config FROM registry_scanning")
            .fetch_all(&self.reader)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    RegistryKey {
                        account_id: r.get(0),
                        region: r.get(1),
                    },
                    r.get(2),
                )
            })
            .collect())
    }

    async fn integrity_problems(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&self.reader)
            .await?;
        out.extend(lines.into_iter().filter(|l| l != "ok"));
        let rows = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&self.reader)
            .await?;
        for row in rows {
            let table: String = row.get(0);
            let rowid: Option<i64> = row.get(1);
            let parent: String = row.get(2);
            // Reported, with what they name, by `consistency_problems`.
            if COVERED_FOREIGN_KEYS.contains(&(table.as_str(), parent.as_str())) {
                continue;
            }
            out.push(match rowid {
                Some(id) => format!(
                    "a row of {table} (rowid {id}) names a row of {parent} that does not exist"
                ),
                None => format!("a row of {table} names a row of {parent} that does not exist"),
            });
        }
        Ok(out)
    }

    async fn blob_records(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, u64, bool)>> {
        let rows = sqlx::query(
            "SELECT digest, size, archived FROM blobs WHERE digest > ? ORDER BY digest LIMIT ?",
        )
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                (
                    r.get::<String, _>(0),
                    r.get::<i64, _>(1).max(0) as u64,
                    r.get::<i64, _>(2) != 0,
                )
            })
            .collect())
    }

    async fn consistency_problems(&self) -> Result<Vec<MetaProblem>> {
        let mut conn = self.reader.acquire().await?;
        let mut out = Vec::new();
        let q = |sql: &str| {
            format!("SELECT r.id, r.account_id, r.region, r.name, {sql}")
                .replace("$LIVE", LIVE_REFERENCE)
        };
        let rows = sqlx::query(&q(
            "mr.manifest_digest, mr.target, EXISTS (SELECT 1 FROM blobs b WHERE b.digest = mr.target)
             FROM manifest_references mr JOIN repositories r ON r.id = mr.repository_id
             WHERE mr.kind = 0 AND $LIVE AND NOT EXISTS (SELECT 1 FROM repository_blobs rb
                 WHERE rb.repository_id = mr.repository_id AND rb.digest = mr.target)
             ORDER BY r.id, mr.manifest_digest, mr.target",
        ))
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            let (repo, manifest, blob) = (label(&row), row.get(4), row.get(5));
            out.push(if row.get::<bool, _>(6) {
                MetaProblem::ReferenceToUnlinkedBlob {
                    repo,
                    manifest,
                    blob,
                }
            } else {
                MetaProblem::ReferenceToUnrecordedBlob {
                    repo,
                    manifest,
                    blob,
                }
            });
        }
        // A blob that is linked but has no record: the link is dangling too
        // and is reported with it below; the reference is reported here.
        let rows = sqlx::query(&q(
            "mr.manifest_digest, mr.target
             FROM manifest_references mr JOIN repositories r ON r.id = mr.repository_id
             WHERE mr.kind = 0 AND $LIVE AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = mr.target)
               AND EXISTS (SELECT 1 FROM repository_blobs rb
                 WHERE rb.repository_id = mr.repository_id AND rb.digest = mr.target)
             ORDER BY r.id, mr.manifest_digest, mr.target",
        ))
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            out.push(MetaProblem::ReferenceToUnrecordedBlob {
                repo: label(&row),
                manifest: row.get(4),
                blob: row.get(5),
            });
        }
        let rows = sqlx::query(&q("mr.manifest_digest, mr.target
             FROM manifest_references mr JOIN repositories r ON r.id = mr.repository_id
             WHERE mr.kind = 1 AND $LIVE AND NOT EXISTS (SELECT 1 FROM manifests m
                 WHERE m.repository_id = mr.repository_id AND m.digest = mr.target)
             ORDER BY r.id, mr.manifest_digest, mr.target"))
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            out.push(MetaProblem::MissingChildManifest {
                repo: label(&row),
                manifest: row.get(4),
                child: row.get(5),
            });
        }
        let rows = sqlx::query(&q(
            "rb.digest, EXISTS (SELECT 1 FROM manifest_references mr
                 WHERE mr.repository_id = rb.repository_id AND mr.target = rb.digest AND mr.kind = 0)
             FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
             WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = rb.digest)
             ORDER BY r.id, rb.digest",
        ))
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            out.push(MetaProblem::DanglingLink {
                repo: label(&row),
                blob: row.get(4),
                referenced: row.get(5),
            });
        }
        let rows = sqlx::query(&q(
            "t.name, t.digest FROM tags t JOIN repositories r ON r.id = t.repository_id
             WHERE NOT EXISTS (SELECT 1 FROM manifests m
                 WHERE m.repository_id = t.repository_id AND m.digest = t.digest)
             ORDER BY r.id, t.name",
        ))
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            out.push(MetaProblem::DanglingTag {
                repo: label(&row),
                tag: row.get(4),
                manifest: row.get(5),
            });
        }
        let rows = sqlx::query(&q(
            "m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id
             WHERE NOT EXISTS (SELECT 1 FROM manifest_bodies mb WHERE mb.digest = m.digest)
             ORDER BY r.id, m.digest",
        ))
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            out.push(MetaProblem::MissingManifestBody {
                repo: label(&row),
                manifest: row.get(4),
            });
        }
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT mb.digest FROM manifest_bodies mb
             WHERE NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = mb.digest) ORDER BY mb.digest",
        )
        .fetch_all(&mut *conn)
        .await?;
        out.extend(
            rows.into_iter()
                .map(|digest| MetaProblem::UnusedManifestBody { digest }),
        );
        let rows = sqlx::query(&q(
            "mr.manifest_digest FROM manifest_references mr JOIN repositories r ON r.id = mr.repository_id
             WHERE NOT $LIVE GROUP BY r.id, mr.manifest_digest ORDER BY r.id, mr.manifest_digest",
        ))
        .fetch_all(&mut *conn)
        .await?;
        for row in rows {
            out.push(MetaProblem::OrphanReferences {
                repo: label(&row),
                manifest: row.get(4),
            });
        }
        Ok(out)
    }

    async fn blob_users(&self, digest: &str) -> Result<Vec<(RepoLabel, String)>> {
        let rows = sqlx::query(&format!(
            "SELECT r.id, r.account_id, r.region, r.name, mr.manifest_digest
             FROM manifest_references mr JOIN repositories r ON r.id = mr.repository_id
             WHERE mr.target = ? AND mr.kind = 0 AND {LIVE_REFERENCE} ORDER BY r.id, mr.manifest_digest"
        ))
        .bind(digest)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| (label(r), r.get(4))).collect())
    }

    async fn manifest_bodies(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, bytes::Bytes)>> {
        let rows = sqlx::query(
            "SELECT digest, body FROM manifest_bodies WHERE digest > ? ORDER BY digest LIMIT ?",
        )
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), bytes::Bytes::from(r.get::<Vec<u8>, _>(1))))
            .collect())
    }

    async fn upload_sessions(&self) -> Result<Vec<UploadRecord>> {
        let rows = sqlx::query(
            "SELECT id, repository_id, size, started_at, updated_at, started_by FROM uploads ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(upload_from_row).collect())
    }

    async fn repair(&self, fix: &MetaRepair) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let changed = match fix {
            MetaRepair::Relink { repo, blob, now } => sqlx::query(
                "INSERT INTO repository_blobs (repository_id, digest, linked_at)
                 SELECT ?1, b.digest, ?2 FROM blobs b WHERE b.digest = ?3
                   AND EXISTS (SELECT 1 FROM manifest_references mr
                       WHERE mr.repository_id = ?1 AND mr.target = ?3 AND mr.kind = 0)
                 ON CONFLICT (repository_id, digest) DO NOTHING",
            )
            .bind(repo.0)
            .bind(now)
            .bind(blob)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            MetaRepair::DropDanglingLink { repo, blob } => sqlx::query(
                "DELETE FROM repository_blobs WHERE repository_id = ?1 AND digest = ?2
                   AND NOT EXISTS (SELECT 1 FROM blobs WHERE digest = ?2)
                   AND NOT EXISTS (SELECT 1 FROM manifest_references mr
                       WHERE mr.repository_id = ?1 AND mr.target = ?2 AND mr.kind = 0)",
            )
            .bind(repo.0)
            .bind(blob)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            MetaRepair::DropDanglingTag { repo, tag } => sqlx::query(
                "DELETE FROM tags WHERE repository_id = ? AND name = ?
                   AND NOT EXISTS (SELECT 1 FROM manifests m
                       WHERE m.repository_id = tags.repository_id AND m.digest = tags.digest)",
            )
            .bind(repo.0)
            .bind(tag)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            MetaRepair::DropUnusedBody { digest } => sqlx::query(
                "DELETE FROM manifest_bodies WHERE digest = ?1
                   AND NOT EXISTS (SELECT 1 FROM manifests WHERE digest = ?1)",
            )
            .bind(digest)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            MetaRepair::DropOrphanReferences { repo, manifest } => sqlx::query(
                "DELETE FROM manifest_references WHERE repository_id = ?1 AND manifest_digest = ?2
                   AND NOT EXISTS (SELECT 1 FROM manifests WHERE repository_id = ?1 AND digest = ?2)",
            )
            .bind(repo.0)
            .bind(manifest)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            MetaRepair::DropBlobRecord { blob } => {
                let used: Option<i64> = sqlx::query_scalar(
                    "SELECT 1 FROM manifest_references WHERE target = ? AND kind = 0 LIMIT 1",
                )
                .bind(blob)
                .fetch_optional(&mut *tx)
                .await?;
                if used.is_some() {
                    0
                } else {
                    sqlx::query("DELETE FROM repository_blobs WHERE digest = ?")
                        .bind(blob)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM blobs WHERE digest = ?")
                        .bind(blob)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                }
            }
            MetaRepair::RecordBlob { blob, size, now } => {
                let users: Vec<i64> = sqlx::query_scalar(
                    "SELECT DISTINCT repository_id FROM manifest_references WHERE target = ? AND kind = 0",
                )
                .bind(blob)
                .fetch_all(&mut *tx)
                .await?;
                if users.is_empty() {
                    0
                } else {
                    let n = sqlx::query(
                        "INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                    )
                    .bind(blob)
                    .bind(to_i64(*size))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    for repo in users {
                        sqlx::query(LINK_SQL)
                            .bind(repo)
                            .bind(blob)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                    }
                    n
                }
            }
            MetaRepair::DropUpload { id } => sqlx::query("DELETE FROM uploads WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            MetaRepair::Reindex => {
                sqlx::query("REINDEX").execute(&mut *tx).await?;
                1
            }
        };
        tx.commit().await?;
        Ok(changed > 0)
    }

    async fn counts(&self) -> Result<Counts> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM repositories), (SELECT COUNT(*) FROM blobs), (SELECT COALESCE(SUM(size), 0) FROM blobs)",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(Counts {
            repositories: row.get::<i64, _>(0) as u64,
            blobs: row.get::<i64, _>(1) as u64,
            blob_bytes: row.get::<i64, _>(2) as u64,
        })
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        // Fold the WAL back into the main file so the data dir is tidy at rest.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
        }
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// Foreign keys whose violations `consistency_problems` reports by name
/// (child table, parent table); `integrity_problems` leaves them out.
const COVERED_FOREIGN_KEYS: &[(&str, &str)] = &[
    ("repository_blobs", "blobs"),
    ("tags", "manifests"),
    ("manifests", "manifest_bodies"),
    ("manifest_references", "manifests"),
];

/// A `manifest_references` row (`mr`) whose manifest is there.
const LIVE_REFERENCE: &str = "EXISTS (SELECT 1 FROM manifests lm
     WHERE lm.repository_id = mr.repository_id AND lm.digest = mr.manifest_digest)";

/// The repository columns `r.id, r.account_id, r.region, r.name` that
/// start a consistency query's row.
fn label(row: &sqlx::sqlite::SqliteRow) -> RepoLabel {
    RepoLabel {
        id: RepoId(row.get(0)),
        account_id: row.get(1),
        region: row.get(2),
        name: row.get(3),
    }
}

/// Deletes a manifest (its tags and references go with it, ON DELETE
/// CASCADE) and its body once no repository has the manifest.
async fn delete_manifest_row(
    tx: &mut Transaction<'_, Sqlite>,
    repo: RepoId,
    digest: &Digest,
) -> Result<()> {
    sqlx::query("DELETE FROM manifests WHERE repository_id = ? AND digest = ?")
        .bind(repo.0)
        .bind(digest.as_str())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "DELETE FROM manifest_bodies WHERE digest = ?1 AND NOT EXISTS (SELECT 1 FROM manifests WHERE digest = ?1)",
    )
    .bind(digest.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

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
