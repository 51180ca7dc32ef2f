//! How the SQL backends store API values, the same in each: digests and
//! names as text, image statuses and reference kinds as integers, sizes as
//! signed 64-bit, listings as one newline-joined value. `sqlite/sql.rs` and
//! `postgres/sql.rs` re-export these beside their own SQL.

use crate::metadata::ImageStatus;
use crate::{Result, StoreError};
use berth_oci::Digest;

/// `manifest_references.kind`: what a manifest needs is a blob, or a
/// child manifest (of an index).
pub(crate) const KIND_BLOB: i64 = 0;
pub(crate) const KIND_MANIFEST: i64 = 1;

pub(crate) fn digest_of(text: String) -> Result<Digest> {
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("stored digest '{text}' does not parse: {e}")))
}

pub(crate) fn status_of(code: i64) -> Result<ImageStatus> {
    ImageStatus::from_code(code)
        .ok_or_else(|| StoreError::Corrupt(format!("an image has storage status {code}")))
}

/// Listings come back as one newline-joined value rather than a row per
/// name: on SQLite, sqlx hands rows over one at a time from its worker
/// thread, which made a 10,000-tag list cost ~15 ms; PostgreSQL keeps the
/// same shape so the two backends share it. Names cannot contain newlines
/// (the name and tag grammars exclude them).
pub(crate) fn split_names(joined: Option<String>) -> Vec<String> {
    match joined {
        None => Vec::new(),
        Some(s) => s.split('\n').map(str::to_string).collect(),
    }
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A stored size (never negative) as the `u64` the API speaks.
pub(crate) fn from_i64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
