//! Manifest body SQL both metadata backends run (`$n` parameters, as in
//! `iam_sql.rs`): a body shared by digest in `manifest_bodies`, or sealed
//! in a KMS key's domain and kept with its repository's manifest row
//! (`manifests.domain_body`), the shared row then an empty placeholder.

use crate::metadata::{DomainManifestBody, NewManifest, RepoId};

/// The shared body row: a placeholder (empty) never replaces a body, and
/// a body replaces a placeholder.
pub(crate) const INSERT_MANIFEST_BODY: &str =
    "INSERT INTO manifest_bodies (digest, body) VALUES ($1, $2)
     ON CONFLICT (digest) DO UPDATE SET body = excluded.body
     WHERE length(manifest_bodies.body) = 0 AND length(excluded.body) > 0";

/// A repository's manifest: media type, the body as stored (the
/// repository's own, else the shared one), status, and the key whose
/// domain sealed the repository's own.
pub(crate) const GET_MANIFEST: &str = "SELECT m.media_type, COALESCE(m.domain_body, b.body), m.storage_status,
     CASE WHEN m.domain_body IS NULL THEN NULL ELSE r.kms_key END
     FROM manifests m JOIN manifest_bodies b ON b.digest = m.digest JOIN repositories r ON r.id = m.repository_id
     WHERE m.repository_id = $1 AND m.digest = $2";

/// A page of shared bodies by digest, placeholders left out.
pub(crate) const MANIFEST_BODIES: &str = "SELECT digest, body FROM manifest_bodies
     WHERE digest > $1 AND length(body) > 0 ORDER BY digest LIMIT $2";

/// What the shared row of `m` holds.
pub(crate) fn shared_body<'a>(m: &NewManifest<'a>) -> &'a [u8] {
    if m.repository_body {
        &[]
    } else {
        m.body
    }
}

/// Manifests with a body of their own, with their repository's key, after
/// (`$1`, `$2`) = (repository id, digest), `$3` at most.
pub(crate) const DOMAIN_BODIES: &str = "SELECT m.repository_id, m.digest, m.domain_body, r.kms_key
     FROM manifests m JOIN repositories r ON r.id = m.repository_id
     WHERE m.domain_body IS NOT NULL AND r.kms_key IS NOT NULL
       AND (m.repository_id, m.digest) > ($1, $2)
     ORDER BY m.repository_id, m.digest LIMIT $3";

/// Repository `$1`'s manifests that read the shared body, after digest `$2`.
pub(crate) const READING_SHARED: &str =
    "SELECT m.digest, b.body FROM manifests m JOIN manifest_bodies b ON b.digest = m.digest
     WHERE m.repository_id = $1 AND m.domain_body IS NULL AND m.digest > $2 AND length(b.body) > 0
     ORDER BY m.digest LIMIT $3";

pub(crate) const SET_DOMAIN_BODY: &str =
    "UPDATE manifests SET domain_body = $3 WHERE repository_id = $1 AND digest = $2 AND domain_body IS NULL";

/// Empties shared body `$1` to the placeholder once no manifest reads it
/// (every manifest of the digest left has a body of its own): after a
/// manifest or repository is deleted, and when a manifest gets its own.
/// So an AES256 copy never outlives the last AES256 repository holding
/// the manifest. (`substr(body, 1, 0)`: an empty BLOB and BYTEA alike.)
pub(crate) const EMPTY_UNREAD_SHARED: &str = "UPDATE manifest_bodies SET body = substr(body, 1, 0)
     WHERE digest = $1 AND length(body) > 0
       AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = $1 AND m.domain_body IS NULL)";

/// A row of (digest, body): `MANIFEST_BODIES`, `READING_SHARED`.
pub(crate) fn digest_body_from_row<R>(row: R) -> (String, bytes::Bytes)
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    (row.get(0), bytes::Bytes::from(row.get::<Vec<u8>, _>(1)))
}

/// A row of `DOMAIN_BODIES`, on either backend.
pub(crate) fn domain_body_from_row<R>(row: &R) -> DomainManifestBody
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    DomainManifestBody {
        repo: RepoId(row.get(0)),
        digest: row.get(1),
        body: bytes::Bytes::from(row.get::<Vec<u8>, _>(2)),
        kms_key: row.get(3),
    }
}
