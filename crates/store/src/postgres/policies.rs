//! `ResourcePolicyStore` on PostgreSQL: `repositories.policy` and
//! `registry_policies` (`migrations/postgres/0001_schema.sql`).

use super::PgMetadataStore;
use crate::metadata::{RegistryKey, ResourcePolicyStore};
use crate::Result;
use async_trait::async_trait;

#[async_trait]
impl ResourcePolicyStore for PgMetadataStore {
    async fn repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<Option<String>>> {
        Ok(sqlx::query_scalar(
            "SELECT policy FROM repositories WHERE account_id = $1 AND region = $2 AND name = $3",
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
        retrying!({
            let mut tx = self.writer.begin().await?;
            let old: Option<Option<String>> = sqlx::query_scalar(
            "SELECT policy FROM repositories WHERE account_id = $1 AND region = $2 AND name = $3",
        )
        .bind(&registry.account_id)
        .bind(&registry.region)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
            if old.is_some() {
                sqlx::query(
                "UPDATE repositories SET policy = $1 WHERE account_id = $2 AND region = $3 AND name = $4",
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
        })
    }

    async fn repository_policies_between(
        &self,
        registry: &RegistryKey,
        first: &str,
        last: &str,
    ) -> Result<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT name, policy FROM repositories
             WHERE account_id = $1 AND region = $2 AND name >= $3 AND name <= $4 AND policy IS NOT NULL",
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
            "SELECT policy FROM registry_policies WHERE account_id = $1 AND region = $2",
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
        retrying!({
            let mut tx = self.writer.begin().await?;
            let old: Option<String> = sqlx::query_scalar(
                "SELECT policy FROM registry_policies WHERE account_id = $1 AND region = $2",
            )
            .bind(&registry.account_id)
            .bind(&registry.region)
            .fetch_optional(&mut *tx)
            .await?;
            match policy {
                Some(p) => {
                    sqlx::query(
                    "INSERT INTO registry_policies (account_id, region, policy) VALUES ($1, $2, $3)
                     ON CONFLICT (account_id, region) DO UPDATE SET policy = excluded.policy",
                )
                .bind(&registry.account_id)
                .bind(&registry.region)
                .bind(p)
                .execute(&mut *tx)
                .await?;
                }
                None => {
                    sqlx::query(
                        "DELETE FROM registry_policies WHERE account_id = $1 AND region = $2",
                    )
                    .bind(&registry.account_id)
                    .bind(&registry.region)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(old)
        })
    }
}
