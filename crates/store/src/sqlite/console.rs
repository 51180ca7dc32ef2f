//! `ConsoleSessionStore` on SQLite: the SQL is shared (`console_sql.rs`).

use super::writer::ExecuteDurably;
use super::SqliteMetadataStore;
use crate::console_sql::*;
use crate::metadata::{ConsoleSession, ConsoleSessionStore};
use crate::Result;
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl ConsoleSessionStore for SqliteMetadataStore {
    async fn create_console_session(&self, s: &ConsoleSession) -> Result<()> {
        sqlx::query(CREATE)
            .bind(&s.id_hash)
            .bind(&s.access_key_id)
            .bind(s.created_at)
            .bind(s.last_seen)
            .bind(&s.session_token)
            .execute_durably(&self.writer)
            .await?;
        Ok(())
    }

    async fn console_session(&self, id_hash: &str) -> Result<Option<ConsoleSession>> {
        let row = sqlx::query(GET)
            .bind(id_hash)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| ConsoleSession {
            id_hash: r.get(0),
            access_key_id: r.get(1),
            created_at: r.get(2),
            last_seen: r.get(3),
            session_token: r.get(4),
        }))
    }

    async fn touch_console_session(&self, id_hash: &str, now: i64) -> Result<()> {
        sqlx::query(TOUCH)
            .bind(id_hash)
            .bind(now)
            .execute_durably(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete_console_session(&self, id_hash: &str) -> Result<bool> {
        let n = sqlx::query(DELETE)
            .bind(id_hash)
            .execute_durably(&self.writer)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn expire_console_sessions(&self, idle_before: i64, created_before: i64) -> Result<u64> {
        Ok(sqlx::query(EXPIRE)
            .bind(idle_before)
            .bind(created_before)
            .execute_durably(&self.writer)
            .await?
            .rows_affected())
    }
}
