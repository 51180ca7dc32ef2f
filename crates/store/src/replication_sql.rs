//! SQL text both metadata backends run for replication
//! (`ReplicationStore`), with `$n` parameters as in `kms_sql.rs`, and row
//! decoding generic over the backend.

use crate::metadata::{
    BackfillRecord, NewReplicationTask, RegistryKey, ReplicationAction, ReplicationTask,
};

pub(crate) const GET_CONFIG: &str =
    "SELECT config FROM replication_configs WHERE account_id = $1 AND region = $2";
pub(crate) const PUT_CONFIG: &str =
    "INSERT INTO replication_configs (account_id, region, config, updated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (account_id, region) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at";
pub(crate) const ENQUEUE: &str =
    "INSERT INTO replication_tasks (account_id, region, repository, digest, tag, dest_account, dest_region,
         status, due_at, created_at, updated_at, backfill_id, action)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'IN_PROGRESS', $8, $8, $8, $9, $10)";
const TASK_COLUMNS: &str =
    "id, account_id, region, repository, digest, tag, dest_account, dest_region,
     status, failure_code, attempts, created_at, updated_at, backfill_id, action";

/// Claims the oldest due task nobody holds (`$1` now, `$2` the lease's
/// end) that no earlier task of the same image to the same destination is
/// still ahead of: one image's tasks to one destination run one at a time,
/// in the order they were queued (a delete never overtakes the copy it
/// undoes, nor a copy the delete before it). `lock` is PostgreSQL's
/// `FOR UPDATE SKIP LOCKED` (claimers pass each other by) or nothing
/// (SQLite's one writer).
pub(crate) fn claim_sql(lock: &str) -> String {
    format!(
        "UPDATE replication_tasks SET lease_until = $2, attempts = attempts + 1, updated_at = $1
         WHERE id = (SELECT t.id FROM replication_tasks t
                     WHERE t.status = 'IN_PROGRESS' AND t.due_at <= $1 AND t.lease_until <= $1
                       AND NOT EXISTS (
                         SELECT 1 FROM replication_tasks e
                         WHERE e.account_id = t.account_id AND e.region = t.region
                           AND e.repository = t.repository AND e.digest = t.digest
                           AND e.dest_account = t.dest_account AND e.dest_region = t.dest_region
                           AND e.status = 'IN_PROGRESS' AND e.id < t.id)
                     ORDER BY t.due_at, t.id LIMIT 1 {lock})
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

/// The latest copy per destination of one image (deletes and untags are
/// not an image's replication status).
pub(crate) fn image_sql() -> String {
    format!(
        "SELECT {TASK_COLUMNS} FROM replication_tasks t
         WHERE account_id = $1 AND region = $2 AND repository = $3 AND digest = $4
           AND id = (SELECT max(id) FROM replication_tasks u
                     WHERE u.account_id = t.account_id AND u.region = t.region
                       AND u.repository = t.repository AND u.digest = t.digest
                       AND u.dest_account = t.dest_account AND u.dest_region = t.dest_region
                       AND u.action = 'REPLICATE')
         ORDER BY dest_account, dest_region"
    )
}
pub(crate) const BACKLOG: &str =
    "SELECT count(*), min(created_at) FROM replication_tasks WHERE status = 'IN_PROGRESS'";

/// The 10 values of `ENQUEUE`, in order.
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
            .bind(&$t.backfill)
            .bind($t.action.as_str())
    };
}

const BACKFILL_COLUMNS: &str =
    "id, account_id, region, dest_account, dest_region, status, after_repo, enumerated, started_at, ended_at";
pub(crate) const COUNT_RUNNING_BACKFILLS: &str =
    "SELECT count(*) FROM replication_backfills WHERE account_id = $1 AND region = $2 AND status = 'IN_PROGRESS'";
pub(crate) const RUNNING_TO_REGION: &str =
    "SELECT id FROM replication_backfills WHERE account_id = $1 AND region = $2 AND dest_region = $3
     AND status = 'IN_PROGRESS' LIMIT 1";
pub(crate) const INSERT_BACKFILL: &str =
    "INSERT INTO replication_backfills (id, account_id, region, dest_account, dest_region, status, started_at)
     VALUES ($1, $2, $3, $4, $5, 'IN_PROGRESS', $6)";
pub(crate) fn get_backfill_sql() -> String {
    format!("SELECT {BACKFILL_COLUMNS} FROM replication_backfills WHERE account_id = $1 AND region = $2 AND id = $3")
}
pub(crate) fn list_backfills_sql() -> String {
    format!(
        "SELECT {BACKFILL_COLUMNS} FROM replication_backfills WHERE account_id = $1 AND region = $2 AND id > $3
         ORDER BY id LIMIT $4"
    )
}
pub(crate) fn running_backfills_sql() -> String {
    format!("SELECT {BACKFILL_COLUMNS} FROM replication_backfills WHERE status = 'IN_PROGRESS' ORDER BY id LIMIT $1")
}
pub(crate) const ADVANCE_BACKFILL: &str =
    "UPDATE replication_backfills SET after_repo = $3, enumerated = $4
     WHERE id = $1 AND after_repo = $2 AND enumerated = 0 AND status = 'IN_PROGRESS'";
pub(crate) const END_BACKFILL: &str =
    "UPDATE replication_backfills SET status = $2, ended_at = $3 WHERE id = $1 AND status = 'IN_PROGRESS'";
pub(crate) const CANCEL_BACKFILL_TASKS: &str =
    "UPDATE replication_tasks SET status = 'FAILED', failure_code = 'BACKFILL_STOPPED', updated_at = $2
     WHERE backfill_id = $1 AND status = 'IN_PROGRESS' AND lease_until <= $2";
pub(crate) fn backfill_tasks_sql() -> String {
    format!(
        "SELECT {TASK_COLUMNS} FROM replication_tasks WHERE backfill_id = $1
         AND (($2 IS NULL AND status <> 'IN_PROGRESS') OR status = $2)
         AND id > $3 ORDER BY id LIMIT $4"
    )
}
pub(crate) const BACKFILL_COUNTS: &str =
    "SELECT status, count(*) FROM replication_tasks WHERE backfill_id = $1 GROUP BY status";

/// A row of `BACKFILL_COLUMNS`, on either backend.
pub(crate) fn backfill_from_row<R>(row: &R) -> BackfillRecord
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    BackfillRecord {
        id: row.get(0),
        source: RegistryKey {
            account_id: row.get(1),
            region: row.get(2),
        },
        destination: RegistryKey {
            account_id: row.get(3),
            region: row.get(4),
        },
        status: row.get(5),
        after_repo: row.get(6),
        enumerated: row.get::<i64, _>(7) != 0,
        started_at: row.get(8),
        ended_at: row.get::<Option<i64>, _>(9),
    }
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
            backfill: row.get::<Option<String>, _>(13),
            action: ReplicationAction::parse(&row.get::<String, _>(14)),
        },
        status: row.get(8),
        failure_code: row.get::<Option<String>, _>(9),
        attempts: row.get(10),
        created_at: row.get(11),
        updated_at: row.get(12),
    }
}
