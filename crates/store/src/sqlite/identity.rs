//! `IdentityStore` on SQLite: `accounts`, `users`, `access_keys`
//! (`0003_identity.sql`, `0005_iam.sql`). Users' `user_id` is made by
//! SQLite on insert (`NEW_USER_ID`), so every path that creates a user
//! gives one.

use super::sql::{count, user_exists};
use super::writer::ExecuteDurably;
use super::SqliteMetadataStore;
use crate::metadata::{
    AccessKeyRecord, AccountRecord, CreateUserOutcome, DeleteUserOutcome, IdentityStore, UserRecord,
};
use crate::Result;
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl IdentityStore for SqliteMetadataStore {
    async fn ensure_account(&self, id: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO accounts (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(now)
        .execute_durably(&self.writer)
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
        .execute(&mut **tx)
        .await?;
        sqlx::query(&format!(
            "INSERT INTO users (account_id, name, created_at, user_id) VALUES (?, ?, ?, {NEW_USER_ID}) ON CONFLICT (account_id, name) DO NOTHING",
        ))
        .bind(account_id)
        .bind(name)
        .bind(now)
        .execute(&mut **tx)
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
        .execute_durably(&self.writer)
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
        .execute(&mut **tx)
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
            .execute(&mut **tx)
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
            .fetch_optional(&mut **tx)
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
        .fetch_optional(&mut **tx)
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
            .execute_durably(&self.writer)
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
            (
                "SELECT count(*) FROM group_members WHERE account_id = ? AND user_name = ?",
                DeleteUserOutcome::InGroups,
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
            .execute(&mut **tx)
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
        .execute(&mut **tx)
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
        .execute_durably(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
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
