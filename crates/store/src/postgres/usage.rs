//! `UsageStore` on PostgreSQL: the SQL is shared (`usage_sql.rs`).

use super::PgMetadataStore;
use crate::metadata::{
    RegistryKey, RepoId, RepositoryMeasure, UsageAccrual, UsageFigures, UsageOrder, UsagePoint,
    UsageStore,
};
use crate::usage_sql::*;
use crate::Result;
use async_trait::async_trait;

#[async_trait]
impl UsageStore for PgMetadataStore {
    async fn measure_repositories(
        &self,
        after: Option<RepoId>,
        limit: u32,
    ) -> Result<Vec<RepositoryMeasure>> {
        let rows = sqlx::query(MEASURE_REPOSITORIES)
            .bind(after.map_or(0, |r| r.0))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(measure_from_row).collect())
    }

    async fn measure_registries(&self) -> Result<Vec<(RegistryKey, u64)>> {
        let rows = sqlx::query(MEASURE_REGISTRIES)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(registry_total_from_row).collect())
    }

    async fn usage_figures(
        &self,
        registry: &RegistryKey,
        repositories: &[String],
    ) -> Result<Vec<UsageFigures>> {
        let mut conn = self.reader.acquire().await?;
        let sql = figures_sql(FIGURES_OF);
        let mut out = Vec::with_capacity(repositories.len());
        for name in repositories {
            if let Some(row) = sqlx::query(&sql)
                .bind(&registry.account_id)
                .bind(&registry.region)
                .bind(name)
                .fetch_optional(&mut *conn)
                .await?
            {
                out.push(figures_from_row(&row));
            }
        }
        Ok(out)
    }

    async fn stale_usage(&self, before: i64, limit: u32) -> Result<Vec<UsageFigures>> {
        let rows = sqlx::query(&figures_sql(STALE))
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(figures_from_row).collect())
    }

    async fn record_usage(
        &self,
        figures: &[UsageFigures],
        accruals: &[UsageAccrual],
        dropped: &[(RegistryKey, String)],
        history_after: i64,
    ) -> Result<()> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            for f in figures {
                bind_figures!(sqlx::query(UPSERT_FIGURES), f)
                    .execute(&mut *tx)
                    .await?;
                if f.repository.is_empty() {
                    sqlx::query(ADD_POINT)
                        .bind(&f.registry.account_id)
                        .bind(&f.registry.region)
                        .bind(f.sampled_at)
                        .bind(f.logical_bytes as i64)
                        .bind(f.stored_bytes as i64)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            for a in accruals {
                bind_accrual!(sqlx::query(ADD_ACCRUAL), a)
                    .execute(&mut *tx)
                    .await?;
            }
            for (registry, name) in dropped {
                sqlx::query(DROP_FIGURES)
                    .bind(&registry.account_id)
                    .bind(&registry.region)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(PRUNE_HISTORY)
                .bind(history_after)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    async fn ranked_usage(
        &self,
        registry: &RegistryKey,
        prefix: &str,
        order: UsageOrder,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<UsageFigures>> {
        let rows = sqlx::query(&ranked_sql(order))
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(prefix)
            .bind(format!("{prefix}~"))
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(figures_from_row).collect())
    }

    async fn last_usage_sample(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(LAST_SAMPLE)
            .fetch_one(&self.reader)
            .await?)
    }

    async fn usage_accruals(
        &self,
        registry: Option<&RegistryKey>,
        month: &str,
        registries_only: bool,
    ) -> Result<Vec<UsageAccrual>> {
        let sql = accruals_sql(registry.is_some(), registries_only);
        let mut q = sqlx::query(&sql).bind(month);
        if let Some(r) = registry {
            q = q.bind(&r.account_id).bind(&r.region);
        }
        let rows = q.fetch_all(&self.reader).await?;
        Ok(rows.iter().map(accrual_from_row).collect())
    }

    async fn latest_usage(
        &self,
        registry: Option<&RegistryKey>,
        registries_only: bool,
    ) -> Result<Vec<UsageFigures>> {
        let sql = latest_sql(registry.is_some(), registries_only);
        let mut q = sqlx::query(&sql);
        if let Some(r) = registry {
            q = q.bind(&r.account_id).bind(&r.region);
        }
        let rows = q.fetch_all(&self.reader).await?;
        Ok(rows.iter().map(figures_from_row).collect())
    }

    async fn usage_history(&self, registry: &RegistryKey, since: i64) -> Result<Vec<UsagePoint>> {
        let rows = sqlx::query(HISTORY)
            .bind(&registry.account_id)
            .bind(&registry.region)
            .bind(since)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(point_from_row).collect())
    }

    async fn image_counts(&self, repos: &[RepoId]) -> Result<Vec<(RepoId, u64, Option<i64>)>> {
        let mut conn = self.reader.acquire().await?;
        let mut out = Vec::with_capacity(repos.len());
        for id in repos {
            let (n, last): (i64, Option<i64>) = sqlx::query_as(IMAGE_COUNT)
                .bind(id.0)
                .fetch_one(&mut *conn)
                .await?;
            out.push((*id, n.max(0) as u64, last));
        }
        Ok(out)
    }
}
