//! `ReplicationStore` on PostgreSQL: the SQL is shared (`replication_sql.rs`).

use super::PgMetadataStore;
use crate::metadata::{NewReplicationTask, RegistryKey, ReplicationStore, ReplicationTask};
use crate::replication_sql::*;
use crate::Result;
use async_trait::async_trait;

#[async_trait]
impl ReplicationStore for PgMetadataStore {
    async fn replication_config(&self, registry: &RegistryKey) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(GET_CONFIG)
            .bind(&registry.account_id)
            .bind(&registry.region)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn put_replication_config(
        &self,
        registry: &RegistryKey,
        config: &str,
        now: i64,
    ) -> Result<()> {
        retrying!({
            sqlx::query(PUT_CONFIG)
                .bind(&registry.account_id)
                .bind(&registry.region)
                .bind(config)
                .bind(now)
                .execute(&self.writer)
                .await?;
            Ok(())
        })
    }

    async fn enqueue_replications(&self, tasks: &[NewReplicationTask], now: i64) -> Result<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        retrying!({
            let mut tx = self.writer.begin().await?;
            for t in tasks {
                bind_task!(sqlx::query(ENQUEUE), t, now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    async fn claim_replication(
        &self,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<ReplicationTask>> {
        retrying!({
            let row = sqlx::query(&claim_sql("FOR UPDATE SKIP LOCKED"))
                .bind(now)
                .bind(lease_until)
                .fetch_optional(&self.writer)
                .await?;
            Ok(row.as_ref().map(task_from_row))
        })
    }

    async fn finish_replication(
        &self,
        claim: (i64, i64),
        status: &str,
        failure_code: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        retrying!({
            let n = sqlx::query(FINISH)
                .bind(claim.0)
                .bind(status)
                .bind(failure_code)
                .bind(now)
                .bind(claim.1)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn retry_replication(
        &self,
        claim: (i64, i64),
        due_at: i64,
        failure_code: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        retrying!({
            let n = sqlx::query(RETRY)
                .bind(claim.0)
                .bind(due_at)
                .bind(failure_code)
                .bind(now)
                .bind(claim.1)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn renew_replication(&self, claim: (i64, i64), lease_until: i64) -> Result<bool> {
        retrying!({
            let n = sqlx::query(RENEW)
                .bind(claim.0)
                .bind(claim.1)
                .bind(lease_until)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn release_replication_leases(&self) -> Result<u64> {
        retrying!({
            let n = sqlx::query(RELEASE)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n)
        })
    }

    async fn image_replications(
        &self,
        source: &RegistryKey,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<ReplicationTask>> {
        let rows = sqlx::query(&image_sql())
            .bind(&source.account_id)
            .bind(&source.region)
            .bind(repository)
            .bind(digest)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(task_from_row).collect())
    }

    async fn replication_backlog(&self) -> Result<(u64, Option<i64>)> {
        let (n, oldest): (i64, Option<i64>) =
            sqlx::query_as(BACKLOG).fetch_one(&self.reader).await?;
        Ok((n as u64, oldest))
    }
}
