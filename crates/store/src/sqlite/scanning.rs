//! `ScanningStore` on SQLite: `vuln_records`, `vuln_packages`,
//! `vuln_source`, `layer_inventories`, `image_scans`, `registry_scanning`
//! (`0009_scanning.sql`).

use super::sql::digest_of;
use super::writer::ExecuteDurably;
use super::SqliteMetadataStore;
use crate::metadata::{
    ImageScanRecord, RegistryKey, RepoId, ScanClaim, ScanOutcome, ScanRef, ScanningStore,
    VulnImportOutcome, VulnRecordRow, VulnSource,
};
use crate::Result;
use async_trait::async_trait;
use berth_oci::Digest;
use sqlx::Row;

#[async_trait]
impl ScanningStore for SqliteMetadataStore {
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
                    .fetch_optional(&mut **tx)
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
                    .execute(&mut **tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO vuln_records (id, modified, json) VALUES (?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, json = excluded.json",
            )
            .bind(&r.id)
            .bind(&r.modified)
            .bind(&r.json)
            .execute(&mut **tx)
            .await?;
            for (eco, name) in &r.packages {
                sqlx::query(
                    "INSERT OR IGNORE INTO vuln_packages (ecosystem, name, record_id) VALUES (?, ?, ?)",
                )
                .bind(eco)
                .bind(name)
                .bind(&r.id)
                .execute(&mut **tx)
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
            .execute(&mut **tx)
            .await?
            .rows_affected();
            out.removed += n;
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn finish_vuln_import(&self, now: i64) -> Result<VulnSource> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "INSERT INTO vuln_source (id, updated_at, generation) VALUES (1, ?, 1)
             ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, generation = generation + 1
             RETURNING updated_at, generation",
        )
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        tx.commit().await?;
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
        .execute_durably(&self.writer)
        .await?;
        Ok(())
    }

    async fn start_image_scan(
        &self,
        repo: RepoId,
        digest: &Digest,
        scan_type: &str,
        now: i64,
        claim: ScanClaim<'_>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT OR REPLACE INTO image_scans (repository_id, digest, status, scan_type, started_at, claimed_by, claimed_until)
             VALUES (?, ?, 'IN_PROGRESS', ?, ?, ?, ?)",
        )
        .bind(repo.0)
        .bind(digest.as_str())
        .bind(scan_type)
        .bind(now)
        .bind(claim.by)
        .bind(claim.until)
        .execute_durably(&self.writer)
        .await?;
        Ok(())
    }

    async fn renew_scan_claims(&self, claim: ScanClaim<'_>) -> Result<u64> {
        let n = sqlx::query(
            "UPDATE image_scans SET claimed_until = ? WHERE status = 'IN_PROGRESS' AND claimed_by = ?",
        )
        .bind(claim.until)
        .bind(claim.by)
        .execute_durably(&self.writer)
        .await?
        .rows_affected();
        Ok(n)
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
                source_updated_at = ?, source_generation = ?, findings = ?, counts = ?, detection = ?,
                claimed_by = NULL, claimed_until = NULL
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
        .execute_durably(&self.writer)
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

    async fn scans_in_progress(&self, lapsed_before: i64) -> Result<Vec<ScanRef>> {
        let rows = sqlx::query(
            "SELECT s.repository_id, r.account_id, r.region, r.name, s.digest
             FROM image_scans s JOIN repositories r ON r.id = s.repository_id
             WHERE s.status = 'IN_PROGRESS' AND COALESCE(s.claimed_until, s.started_at) < ?",
        )
        .bind(lapsed_before)
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
        .execute_durably(&self.writer)
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
