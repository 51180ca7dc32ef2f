//! SQL both metadata backends run for console sessions
//! (`ConsoleSessionStore`), with `$n` parameters as in `kms_sql.rs`.

pub(crate) const CREATE: &str =
    "INSERT INTO console_sessions (id_hash, access_key_id, created_at, last_seen, session_token) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const GET: &str =
    "SELECT id_hash, access_key_id, created_at, last_seen, session_token FROM console_sessions WHERE id_hash = $1";
pub(crate) const TOUCH: &str = "UPDATE console_sessions SET last_seen = $2 WHERE id_hash = $1";
pub(crate) const DELETE: &str = "DELETE FROM console_sessions WHERE id_hash = $1";
pub(crate) const EXPIRE: &str =
    "DELETE FROM console_sessions WHERE last_seen < $1 OR created_at < $2";
