//! `ReplicationStore` on PostgreSQL: the SQL is shared (`replication_sql.rs`).

use super::PgMetadataStore;
use crate::metadata::{
    BackfillOutcome, BackfillRecord, NewReplicationTask, RegistryKey, ReplicationStore,
    ReplicationTask,
};
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
    async fn create_backfill(
        &self,
        b: &BackfillRecord,
        max_running: u32,
    ) -> Result<BackfillOutcome> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            let running: Option<String> = sqlx::query_scalar(RUNNING_TO_REGION)
                .bind(&b.source.account_id)
                .bind(&b.source.region)
                .bind(&b.destination.region)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(id) = running {
                return Ok(BackfillOutcome::InProgress(id));
            }
            let n: i64 = sqlx::query_scalar(COUNT_RUNNING_BACKFILLS)
                .bind(&b.source.account_id)
                .bind(&b.source.region)
                .fetch_one(&mut *tx)
                .await?;
            if n >= i64::from(max_running) {
                return Ok(BackfillOutcome::Full);
            }
            sqlx::query(INSERT_BACKFILL)
                .bind(&b.id)
                .bind(&b.source.account_id)
                .bind(&b.source.region)
                .bind(&b.destination.account_id)
                .bind(&b.destination.region)
                .bind(b.started_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(BackfillOutcome::Created)
        })
    }

    async fn get_backfill(
        &self,
        registry: &RegistryKey,
        id: &str,
    ) -> Result<Option<BackfillRecord>> {
        let row = sqlx::query(&get_backfill_sql())
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.as_ref().map(backfill_from_row))
    }

    async fn list_backfills(
        &self,
        registry: &RegistryKey,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<BackfillRecord>> {
        let rows = sqlx::query(&list_backfills_sql())
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(backfill_from_row).collect())
    }

    async fn running_backfills(&self, limit: u32) -> Result<Vec<BackfillRecord>> {
        let rows = sqlx::query(&running_backfills_sql())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(backfill_from_row).collect())
    }

    async fn advance_backfill(
        &self,
        id: &str,
        from: &str,
        to: &str,
        enumerated: bool,
        tasks: &[NewReplicationTask],
        now: i64,
    ) -> Result<bool> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            let moved = sqlx::query(ADVANCE_BACKFILL)
                .bind(id)
                .bind(from)
                .bind(to)
                .bind(i64::from(enumerated))
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved != 1 {
                return Ok(false);
            }
            for t in tasks {
                bind_task!(sqlx::query(ENQUEUE), t, now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn end_backfill(&self, id: &str, status: &str, now: i64) -> Result<bool> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            let ended = sqlx::query(END_BACKFILL)
                .bind(id)
                .bind(status)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if ended == 1 && status == "STOPPED" {
                sqlx::query(CANCEL_BACKFILL_TASKS)
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(ended == 1)
        })
    }

    async fn backfill_tasks(
        &self,
        id: &str,
        status: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ReplicationTask>> {
        let rows = sqlx::query(&backfill_tasks_sql())
            .bind(id)
            .bind(status)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(task_from_row).collect())
    }

    async fn backfill_counts(&self, id: &str) -> Result<(u64, u64, u64)> {
        let rows: Vec<(String, i64)> = sqlx::query_as(BACKFILL_COUNTS)
            .bind(id)
            .fetch_all(&self.reader)
            .await?;
        let of = |s: &str| rows.iter().find(|r| r.0 == s).map_or(0, |r| r.1 as u64);
        Ok((of("IN_PROGRESS"), of("COMPLETE"), of("FAILED")))
    }
}
