//! `MaintenanceStore` on SQLite: `PRAGMA integrity_check` and
//! `foreign_key_check`, the consistency queries (each a row that points at
//! a row that is not there) and the repairs, each one transaction that
//! re-checks its condition.

use super::sql::{to_i64, upload_from_row, LINK_SQL, UPLOAD_COLUMNS};
use super::writer::ExecuteDurably;
use super::SqliteMetadataStore;
use crate::metadata::{
    Counts, MaintenanceStore, MetaProblem, MetaRepair, RepoId, RepoLabel, UploadRecord,
};
use crate::Result;
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl MaintenanceStore for SqliteMetadataStore {
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
        let rows = sqlx::query(crate::manifest_sql::MANIFEST_BODIES)
            .bind(after.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows
            .into_iter()
            .map(crate::manifest_sql::digest_body_from_row)
            .collect())
    }

    async fn replace_manifest_body(&self, digest: &str, old: &[u8], new: &[u8]) -> Result<bool> {
        let n = sqlx::query("UPDATE manifest_bodies SET body = $3 WHERE digest = $1 AND body = $2")
            .bind(digest)
            .bind(old)
            .bind(new)
            .execute_durably(&self.writer)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn domain_manifest_bodies(
        &self,
        after: Option<(RepoId, &str)>,
        limit: u32,
    ) -> Result<Vec<crate::metadata::DomainManifestBody>> {
        let (repo, digest) = after.unwrap_or((RepoId(i64::MIN), ""));
        let rows = sqlx::query(crate::manifest_sql::DOMAIN_BODIES)
            .bind(repo.0)
            .bind(digest)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows
            .iter()
            .map(crate::manifest_sql::domain_body_from_row)
            .collect())
    }

    async fn manifests_reading_shared_bodies(
        &self,
        repo: RepoId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, bytes::Bytes)>> {
        let rows = sqlx::query(crate::manifest_sql::READING_SHARED)
            .bind(repo.0)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows
            .into_iter()
            .map(crate::manifest_sql::digest_body_from_row)
            .collect())
    }

    async fn set_domain_body(&self, repo: RepoId, digest: &str, body: &[u8]) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let n = sqlx::query(crate::manifest_sql::SET_DOMAIN_BODY)
            .bind(repo.0)
            .bind(digest)
            .bind(body)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if n == 1 {
            sqlx::query(crate::manifest_sql::EMPTY_UNREAD_SHARED)
                .bind(digest)
                .execute(&mut **tx)
                .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn upload_sessions(&self) -> Result<Vec<UploadRecord>> {
        let rows = sqlx::query(&format!("SELECT {UPLOAD_COLUMNS} FROM uploads ORDER BY id"))
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
            .execute(&mut **tx)
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
            .execute(&mut **tx)
            .await?
            .rows_affected(),
            MetaRepair::DropDanglingTag { repo, tag } => sqlx::query(
                "DELETE FROM tags WHERE repository_id = ? AND name = ?
                   AND NOT EXISTS (SELECT 1 FROM manifests m
                       WHERE m.repository_id = tags.repository_id AND m.digest = tags.digest)",
            )
            .bind(repo.0)
            .bind(tag)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
            MetaRepair::DropUnusedBody { digest } => sqlx::query(
                "DELETE FROM manifest_bodies WHERE digest = ?1
                   AND NOT EXISTS (SELECT 1 FROM manifests WHERE digest = ?1)",
            )
            .bind(digest)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
            MetaRepair::DropOrphanReferences { repo, manifest } => sqlx::query(
                "DELETE FROM manifest_references WHERE repository_id = ?1 AND manifest_digest = ?2
                   AND NOT EXISTS (SELECT 1 FROM manifests WHERE repository_id = ?1 AND digest = ?2)",
            )
            .bind(repo.0)
            .bind(manifest)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
            MetaRepair::DropBlobRecord { blob } => {
                let used: Option<i64> = sqlx::query_scalar(
                    "SELECT 1 FROM manifest_references WHERE target = ? AND kind = 0 LIMIT 1",
                )
                .bind(blob)
                .fetch_optional(&mut **tx)
                .await?;
                if used.is_some() {
                    0
                } else {
                    sqlx::query("DELETE FROM repository_blobs WHERE digest = ?")
                        .bind(blob)
                        .execute(&mut **tx)
                        .await?;
                    sqlx::query("DELETE FROM blobs WHERE digest = ?")
                        .bind(blob)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected()
                }
            }
            MetaRepair::RecordBlob { blob, size, now } => {
                let users: Vec<i64> = sqlx::query_scalar(
                    "SELECT DISTINCT repository_id FROM manifest_references WHERE target = ? AND kind = 0",
                )
                .bind(blob)
                .fetch_all(&mut **tx)
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
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                    for repo in users {
                        sqlx::query(LINK_SQL)
                            .bind(repo)
                            .bind(blob)
                            .bind(now)
                            .execute(&mut **tx)
                            .await?;
                    }
                    n
                }
            }
            MetaRepair::DropUpload { id } => sqlx::query("DELETE FROM uploads WHERE id = ?")
                .bind(id)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
            MetaRepair::Reindex => {
                sqlx::query("REINDEX").execute(&mut **tx).await?;
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
            .execute(self.writer.pool())
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint at shutdown failed");
        }
        self.reader.close().await;
        self.writer.pool().close().await;
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
