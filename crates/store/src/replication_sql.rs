//! SQL text both metadata backends run for replication
//! (`ReplicationStore`), with `$n` parameters as in `kms_sql.rs`, and row
//! decoding generic over the backend.

use crate::metadata::{NewReplicationTask, RegistryKey, ReplicationTask};

pub(crate) const GET_CONFIG: &str =
    "SELECT config FROM replication_configs WHERE account_id = $1 AND region = $2";
pub(crate) const PUT_CONFIG: &str =
    "INSERT INTO replication_configs (account_id, region, config, updated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (account_id, region) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at";
pub(crate) const ENQUEUE: &str =
    "INSERT INTO replication_tasks (account_id, region, repository, digest, tag, dest_account, dest_region,
         status, due_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'IN_PROGRESS', $8, $8, $8)";
const TASK_COLUMNS: &str =
    "id, account_id, region, repository, digest, tag, dest_account, dest_region,
     status, failure_code, attempts, created_at, updated_at";

/// Claims the oldest due task nobody holds (`$1` now, `$2` the lease's
/// end); `lock` is PostgreSQL's `FOR UPDATE SKIP LOCKED` (claimers pass
/// each other by) or nothing (SQLite's one writer).
pub(crate) fn claim_sql(lock: &str) -> String {
    format!(
        "UPDATE replication_tasks SET lease_until = $2, attempts = attempts + 1, updated_at = $1
         WHERE id = (SELECT id FROM replication_tasks
                     WHERE status = 'IN_PROGRESS' AND due_at <= $1 AND lease_until <= $1
                     ORDER BY due_at, id LIMIT 1 {lock})
         RETURNING {TASK_COLUMNS}"
    )
}
/// A claim's own writes name it by (id, attempts): a claimer whose lease
/// ended and whose task another took since changes nothing.
pub(crate) const FINISH: &str =
    "UPDATE replication_tasks SET status = $2, failure_code = $3, lease_until = 0, updated_at = $4
     WHERE id = $1 AND attempts = $5 AND status = 'IN_PROGRESS'";
pub(crate) const RENEW: &str =
    "UPDATE replication_tasks SET lease_until = $3 WHERE id = $1 AND attempts = $2 AND status = 'IN_PROGRESS'";
pub(crate) const RELEASE: &str =
    "UPDATE replication_tasks SET lease_until = 0 WHERE status = 'IN_PROGRESS' AND lease_until > 0";
pub(crate) const RETRY: &str =
    "UPDATE replication_tasks SET due_at = $2, failure_code = $3, lease_until = 0, updated_at = $4
     WHERE id = $1 AND attempts = $5 AND status = 'IN_PROGRESS'";

/// The latest task per destination of one image.
pub(crate) fn image_sql() -> String {
    format!(
        "SELECT {TASK_COLUMNS} FROM replication_tasks t
         WHERE account_id = $1 AND region = $2 AND repository = $3 AND digest = $4
           AND id = (SELECT max(id) FROM replication_tasks u
                     WHERE u.account_id = t.account_id AND u.region = t.region
                       AND u.repository = t.repository AND u.digest = t.digest
                       AND u.dest_account = t.dest_account AND u.dest_region = t.dest_region)
         ORDER BY dest_account, dest_region"
    )
}
pub(crate) const BACKLOG: &str =
    "SELECT count(*), min(created_at) FROM replication_tasks WHERE status = 'IN_PROGRESS'";

/// The 8 values of `ENQUEUE`, in order.
macro_rules! bind_task {
    ($q:expr, $t:expr, $now:expr) => {
        $q.bind(&$t.source.account_id)
            .bind(&$t.source.region)
            .bind(&$t.repository)
            .bind(&$t.digest)
            .bind(&$t.tag)
            .bind(&$t.destination.account_id)
            .bind(&$t.destination.region)
            .bind($now)
    };
}
pub(crate) use bind_task;

/// A row of `TASK_COLUMNS`, on either backend.
pub(crate) fn task_from_row<R>(row: &R) -> ReplicationTask
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    ReplicationTask {
        id: row.get(0),
        task: NewReplicationTask {
            source: RegistryKey {
                account_id: row.get(1),
                region: row.get(2),
            },
            repository: row.get(3),
            digest: row.get(4),
            tag: row.get::<Option<String>, _>(5),
            destination: RegistryKey {
                account_id: row.get(6),
                region: row.get(7),
            },
        },
        status: row.get(8),
        failure_code: row.get::<Option<String>, _>(9),
        attempts: row.get(10),
        created_at: row.get(11),
        updated_at: row.get(12),
    }
}
