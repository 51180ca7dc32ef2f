//! The console's sign-in sessions (issue 23), in the metadata store so that
//! any node serves any session and signing out ends it everywhere. A
//! session is found by the SHA-256 of its cookie's secret (a copy of the
//! table signs nobody in); it names the access key it was opened with, so
//! a key deactivated or deleted ends it on the next request.

use crate::Result;
use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// Hex SHA-256 of the cookie's secret.
    pub id_hash: String,
    pub access_key_id: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// The last request seen, to within the toucher's granularity.
    pub last_seen: i64,
    /// Signed in with temporary credentials: their session token (sealed
    /// under the server key by STS; useless without the secret it holds).
    pub session_token: Option<String>,
}

#[async_trait]
pub trait ConsoleSessionStore: Send + Sync {
    async fn create_console_session(&self, s: &ConsoleSession) -> Result<()>;
    async fn console_session(&self, id_hash: &str) -> Result<Option<ConsoleSession>>;
    /// Notes a request at `now`.
    async fn touch_console_session(&self, id_hash: &str, now: i64) -> Result<()>;
    /// Signs out: false when there was no such session.
    async fn delete_console_session(&self, id_hash: &str) -> Result<bool>;
    /// Forgets sessions idle since before `idle_before` or opened before
    /// `created_before`; how many.
    async fn expire_console_sessions(&self, idle_before: i64, created_before: i64) -> Result<u64>;
}
