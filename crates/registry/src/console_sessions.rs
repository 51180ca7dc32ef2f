//! The console's sign-in sessions (issue 23; ARCHITECTURE.md, "Console"):
//! opened with an access key and its secret (and the session token of
//! temporary credentials, such as an assumed role's), found again by the cookie's
//! secret (stored only as its SHA-256), ended by signing out, after
//! `IDLE_MS` without a request, or `ABSOLUTE_MS` after signing in. Each
//! request re-reads the access key (or re-opens the session token), so
//! deactivating or deleting the key, the credentials' expiry or the role's
//! deletion ends the session at once on every node.

use crate::{Principal, Registry, Result};
use berth_store::ConsoleSession;
use rand::RngCore as _;

/// A session unused this long ends.
pub const IDLE_MS: i64 = 30 * 60_000;
/// A session ends this long after sign-in, however busy.
pub const ABSOLUTE_MS: i64 = 12 * 3_600_000;
/// `last_seen` is written at most this often (a page view is a read).
const TOUCH_MS: i64 = 60_000;

/// A signed-in console user.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    pub principal: Principal,
    pub access_key_id: String,
}

fn hash(secret: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        secret.as_bytes(),
    ))
}

impl Registry {
    /// Signs in with an access key and its secret, and for temporary
    /// credentials (an assumed role's, GetSessionToken's) their session
    /// token: the cookie's secret of a new session, or `None` when the key
    /// is unknown, inactive or expired, or the secret or token is wrong
    /// (which of them is not said).
    pub async fn open_console_session(
        &self,
        access_key_id: &str,
        secret: &str,
        session_token: Option<&str>,
    ) -> Result<Option<String>> {
        let stored = match session_token {
            Some(token) => match self.identity.open_session(access_key_id, token).await {
                Ok((_, secret)) => secret,
                Err(crate::SignatureRefusal::Registry(e)) => return Err(e),
                Err(_) => return Ok(None),
            },
            None => match self.identity.access_key(access_key_id).await? {
                Some((_, secret)) => secret,
                None => return Ok(None),
            },
        };
        // Equal digests: the comparison's time says nothing of the secret.
        if hash(&stored) != hash(secret) {
            return Ok(None);
        }
        let now = self.now();
        self.meta
            .expire_console_sessions(now - IDLE_MS, now - ABSOLUTE_MS)
            .await?;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let cookie = hex::encode(bytes);
        self.meta
            .create_console_session(&ConsoleSession {
                id_hash: hash(&cookie),
                access_key_id: access_key_id.to_string(),
                created_at: now,
                last_seen: now,
                session_token: session_token.map(str::to_string),
            })
            .await?;
        Ok(Some(cookie))
    }

    /// The user a session cookie signs in, if the session is live and its
    /// access key still active.
    pub async fn console_user(&self, cookie: &str) -> Result<Option<ConsoleUser>> {
        let id_hash = hash(cookie);
        let Some(s) = self.meta.console_session(&id_hash).await? else {
            return Ok(None);
        };
        let now = self.now();
        if now - s.last_seen > IDLE_MS || now - s.created_at > ABSOLUTE_MS {
            self.meta.delete_console_session(&id_hash).await?;
            return Ok(None);
        }
        // Temporary credentials end with their expiry or their role.
        let principal = match &s.session_token {
            Some(token) => match self.identity.open_session(&s.access_key_id, token).await {
                Ok((principal, _)) => Some(principal),
                Err(crate::SignatureRefusal::Registry(e)) => return Err(e),
                Err(_) => None,
            },
            None => self.identity.access_key_principal(&s.access_key_id).await?,
        };
        let Some(principal) = principal else {
            self.meta.delete_console_session(&id_hash).await?;
            return Ok(None);
        };
        if now - s.last_seen > TOUCH_MS {
            self.meta.touch_console_session(&id_hash, now).await?;
        }
        Ok(Some(ConsoleUser {
            principal,
            access_key_id: s.access_key_id,
        }))
    }

    /// Signs out (a session already gone is fine).
    pub async fn close_console_session(&self, cookie: &str) -> Result<()> {
        self.meta.delete_console_session(&hash(cookie)).await?;
        Ok(())
    }
}
