//! `KmsStore` on PostgreSQL: `kms_keys`, `kms_aliases` (`0006_kms.sql`) and
//! `kms_grants` (`0017_kms_grants.sql`); the SQL is shared with SQLite in
//! `kms_sql.rs`. Writes are SERIALIZABLE and retried whole (`retrying!`).

use super::PgMetadataStore;
use crate::kms_sql::*;
use crate::metadata::{
    KmsAliasOutcome, KmsAliasRecord, KmsGrantOutcome, KmsGrantRecord, KmsKeyRecord, KmsStore,
};
use crate::Result;
use async_trait::async_trait;
use sqlx::{Postgres, Transaction};

async fn count(tx: &mut Transaction<'_, Postgres>, sql: &str, binds: &[&str]) -> Result<i64> {
    let mut q = sqlx::query_scalar::<_, i64>(sql);
    for b in binds {
        q = q.bind(*b);
    }
    Ok(q.fetch_one(&mut **tx).await?)
}

/// The checks CreateAlias and UpdateAlias share, in the writing transaction.
async fn check_alias(
    tx: &mut Transaction<'_, Postgres>,
    a: &KmsAliasRecord,
    creating: bool,
    max_per_key: u32,
) -> Result<Option<KmsAliasOutcome>> {
    let (acc, reg) = (a.account_id.as_str(), a.region.as_str());
    let exists = count(tx, ALIAS_EXISTS, &[acc, reg, &a.name]).await? > 0;
    if creating && exists {
        return Ok(Some(KmsAliasOutcome::AliasExists));
    }
    if !creating && !exists {
        return Ok(Some(KmsAliasOutcome::AliasNotFound));
    }
    if count(tx, KEY_EXISTS, &[acc, reg, &a.target_key_id]).await? == 0 {
        return Ok(Some(KmsAliasOutcome::KeyNotFound));
    }
    let others = count(tx, ALIASES_OF_KEY, &[acc, reg, &a.target_key_id, &a.name]).await?;
    if others >= i64::from(max_per_key) {
        return Ok(Some(KmsAliasOutcome::TooMany));
    }
    Ok(None)
}

impl PgMetadataStore {
    /// CreateAlias (`creating`) or UpdateAlias, checked in its transaction.
    async fn write_alias(
        &self,
        alias: &KmsAliasRecord,
        creating: bool,
        max_per_key: u32,
    ) -> Result<KmsAliasOutcome> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            if let Some(refused) = check_alias(&mut tx, alias, creating, max_per_key).await? {
                return Ok(refused);
            }
            let sql = if creating { INSERT_ALIAS } else { UPDATE_ALIAS };
            bind_alias!(sqlx::query(sql), alias)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(KmsAliasOutcome::Done)
        })
    }
}

impl PgMetadataStore {
    /// Grants by `sql` with `binds` (`grants_to_sql`, `grants_named_sql`).
    async fn grants_where(&self, sql: String, binds: &[&str]) -> Result<Vec<KmsGrantRecord>> {
        let mut q = sqlx::query(&sql);
        for v in binds {
            q = q.bind(v);
        }
        let rows = q.fetch_all(&self.reader).await?;
        Ok(rows.iter().map(grant_from_row).collect())
    }
}

#[async_trait]
impl KmsStore for PgMetadataStore {
    async fn create_kms_key(&self, key: &KmsKeyRecord) -> Result<bool> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            if count(&mut tx, ACCOUNT_EXISTS, &[&key.account_id]).await? == 0 {
                return Ok(false);
            }
            bind_key!(sqlx::query(INSERT_KEY), key)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    async fn get_kms_key(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
    ) -> Result<Option<KmsKeyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM kms_keys WHERE account_id = $1 AND region = $2 AND key_id = $3"
        ))
        .bind(account_id)
        .bind(region)
        .bind(key_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(key_from_row))
    }

    async fn list_kms_keys(
        &self,
        account_id: &str,
        region: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KmsKeyRecord>> {
        let rows = sqlx::query(&list_keys_sql())
            .bind(account_id)
            .bind(region)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(key_from_row).collect())
    }

    async fn update_kms_key(&self, key: &KmsKeyRecord) -> Result<bool> {
        retrying!({
            let n = bind_key!(sqlx::query(UPDATE_KEY), key)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn delete_kms_key(&self, account_id: &str, region: &str, key_id: &str) -> Result<bool> {
        retrying!({
            let n = sqlx::query(DELETE_KEY)
                .bind(account_id)
                .bind(region)
                .bind(key_id)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn kms_repositories(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, crate::RegistryKey, String, String)>> {
        let rows = sqlx::query(KMS_REPOSITORIES)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(kms_repository_from_row).collect())
    }

    async fn kms_key_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM kms_keys")
            .fetch_one(&self.reader)
            .await?;
        Ok(n as u64)
    }

    async fn kms_root(&self) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(KMS_ROOT)
            .fetch_optional(&self.reader)
            .await?)
    }

    async fn replace_kms_root(&self, old: &str, new: &str) -> Result<bool> {
        retrying!({
            let n = sqlx::query(REPLACE_KMS_ROOT)
                .bind(old)
                .bind(new)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn all_kms_keys(
        &self,
        after: Option<(&str, &str, &str)>,
        limit: u32,
    ) -> Result<Vec<KmsKeyRecord>> {
        let rows = sqlx::query(&all_keys_sql())
            .bind(after.map(|a| a.0))
            .bind(after.map(|a| a.1))
            .bind(after.map(|a| a.2))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(key_from_row).collect())
    }

    async fn put_kms_root(&self, value: &str) -> Result<String> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            sqlx::query(PUT_KMS_ROOT)
                .bind(value)
                .execute(&mut *tx)
                .await?;
            let stored: String = sqlx::query_scalar(KMS_ROOT).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(stored)
        })
    }

    async fn create_kms_alias(
        &self,
        alias: &KmsAliasRecord,
        max_per_key: u32,
    ) -> Result<KmsAliasOutcome> {
        self.write_alias(alias, true, max_per_key).await
    }

    async fn update_kms_alias(
        &self,
        alias: &KmsAliasRecord,
        max_per_key: u32,
    ) -> Result<KmsAliasOutcome> {
        self.write_alias(alias, false, max_per_key).await
    }

    async fn delete_kms_alias(&self, account_id: &str, region: &str, name: &str) -> Result<bool> {
        retrying!({
            let n = sqlx::query(DELETE_ALIAS)
                .bind(account_id)
                .bind(region)
                .bind(name)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn get_kms_alias(
        &self,
        account_id: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<KmsAliasRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {ALIAS_COLUMNS} FROM kms_aliases WHERE account_id = $1 AND region = $2 AND name = $3"
        ))
        .bind(account_id)
        .bind(region)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.as_ref().map(alias_from_row))
    }

    async fn list_kms_aliases(
        &self,
        account_id: &str,
        region: &str,
        key_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KmsAliasRecord>> {
        let rows = sqlx::query(&list_aliases_sql())
            .bind(account_id)
            .bind(region)
            .bind(key_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(alias_from_row).collect())
    }

    async fn create_kms_grant(
        &self,
        grant: &KmsGrantRecord,
        max_per_key: u32,
    ) -> Result<KmsGrantOutcome> {
        retrying!({
            let mut tx = self.writer.begin().await?;
            let key = [
                grant.account_id.as_str(),
                grant.region.as_str(),
                grant.key_id.as_str(),
            ];
            if count(&mut tx, KEY_EXISTS, &key).await? == 0 {
                return Ok(KmsGrantOutcome::KeyNotFound);
            }
            if count(&mut tx, GRANTS_OF_KEY, &key).await? >= i64::from(max_per_key) {
                return Ok(KmsGrantOutcome::TooMany);
            }
            bind_grant!(sqlx::query(INSERT_GRANT), grant)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(KmsGrantOutcome::Done)
        })
    }

    async fn delete_kms_grant(&self, grant_id: &str) -> Result<bool> {
        retrying!({
            let n = sqlx::query(DELETE_GRANT)
                .bind(grant_id)
                .execute(&self.writer)
                .await?
                .rows_affected();
            Ok(n == 1)
        })
    }

    async fn get_kms_grant(&self, grant_id: &str) -> Result<Option<KmsGrantRecord>> {
        let row = sqlx::query(&get_grant_sql())
            .bind(grant_id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.as_ref().map(grant_from_row))
    }

    async fn list_kms_grants(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KmsGrantRecord>> {
        let rows = sqlx::query(&list_grants_sql())
            .bind(account_id)
            .bind(region)
            .bind(key_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(grant_from_row).collect())
    }

    async fn kms_grants_to(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
        grantee: &str,
    ) -> Result<Vec<KmsGrantRecord>> {
        self.grants_where(grants_to_sql(), &[account_id, region, key_id, grantee])
            .await
    }

    async fn kms_grants_named(
        &self,
        account_id: &str,
        region: &str,
        key_id: &str,
        name: &str,
        grantee: &str,
    ) -> Result<Vec<KmsGrantRecord>> {
        self.grants_where(
            grants_named_sql(),
            &[account_id, region, key_id, name, grantee],
        )
        .await
    }

    async fn list_retirable_kms_grants(
        &self,
        region: &str,
        retiring_principal: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KmsGrantRecord>> {
        let rows = sqlx::query(&retirable_grants_sql())
            .bind(retiring_principal)
            .bind(region)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(grant_from_row).collect())
    }
}
