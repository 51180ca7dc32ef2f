//! SQL both metadata backends run for usage (`UsageStore`), with `$n`
//! parameters as in `kms_sql.rs`, and row decoding generic over the
//! backend. Sums are cast to BIGINT: PostgreSQL's SUM of a BIGINT is NUMERIC.

use crate::metadata::{
    RepoId, RepositoryMeasure, UsageAccrual, UsageFigures, UsageOrder, UsagePoint,
};
use crate::RegistryKey;

/// A repository's figures: every aggregate reads only its own rows
/// (the manifests' and references' primary keys lead with its id).
pub(crate) const MEASURE_REPOSITORIES: &str = "SELECT r.id, r.account_id, r.region, r.name,
    (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id),
    (SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM manifest_references mr
        JOIN blobs b ON b.digest = mr.target WHERE mr.repository_id = r.id AND mr.kind = 0),
    (SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blobs b WHERE b.digest IN
        (SELECT mr.target FROM manifest_references mr WHERE mr.repository_id = r.id AND mr.kind = 0)),
    (SELECT MAX(m.pushed_at) FROM manifests m WHERE m.repository_id = r.id)
 FROM repositories r WHERE r.id > $1 ORDER BY r.id LIMIT $2";

/// Distinct (registry, key domain, blob), then summed per registry: the
/// bytes the blob stores hold for each registry.
pub(crate) const MEASURE_REGISTRIES: &str = "SELECT d.account_id, d.region,
    CAST(COALESCE(SUM(b.size), 0) AS BIGINT)
 FROM (SELECT DISTINCT r.account_id, r.region, COALESCE(r.kms_key, '') AS domain, mr.target
       FROM repositories r JOIN manifest_references mr ON mr.repository_id = r.id AND mr.kind = 0) d
 JOIN blobs b ON b.digest = d.target
 GROUP BY d.account_id, d.region ORDER BY d.account_id, d.region";

const FIGURES: &str = "SELECT account_id, region, repository, sampled_at, images, logical_bytes, stored_bytes, last_pushed_at FROM usage_latest";

pub(crate) fn figures_sql(filter: &str) -> String {
    format!("{FIGURES} {filter}")
}

/// `ranked_usage`: names from `$3` to `$4` (the prefix, and the prefix
/// then `~`, above every character a repository name may hold).
pub(crate) fn ranked_sql(order: UsageOrder) -> String {
    let by = match order {
        UsageOrder::Stored => "stored_bytes DESC",
        UsageOrder::Images => "images DESC",
        UsageOrder::Pushed => "last_pushed_at IS NULL, last_pushed_at DESC",
    };
    figures_sql(&format!(
        "WHERE account_id = $1 AND region = $2 AND repository <> '' AND repository >= $3 AND repository < $4 \
         ORDER BY {by}, repository LIMIT $5 OFFSET $6"
    ))
}

pub(crate) const FIGURES_OF: &str = "WHERE account_id = $1 AND region = $2 AND repository = $3";
pub(crate) const STALE: &str =
    "WHERE sampled_at < $1 ORDER BY account_id, region, repository LIMIT $2";
/// `latest_usage`'s filter: `$1`/`$2` a registry, `repository = ''` the
/// registries' own rows (a partial index each).
pub(crate) fn latest_sql(one_registry: bool, registries_only: bool) -> String {
    let mut filter = vec![];
    if one_registry {
        filter.push("account_id = $1 AND region = $2");
    }
    if registries_only {
        filter.push("repository = ''");
    }
    let filter = if filter.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filter.join(" AND "))
    };
    figures_sql(&format!("{filter} ORDER BY account_id, region, repository"))
}

pub(crate) const UPSERT_FIGURES: &str = "INSERT INTO usage_latest
    (account_id, region, repository, sampled_at, images, logical_bytes, stored_bytes, last_pushed_at)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
 ON CONFLICT (account_id, region, repository) DO UPDATE SET sampled_at = excluded.sampled_at,
    images = excluded.images, logical_bytes = excluded.logical_bytes,
    stored_bytes = excluded.stored_bytes, last_pushed_at = excluded.last_pushed_at";
pub(crate) const ADD_ACCRUAL: &str =
    "INSERT INTO usage_accruals (account_id, region, repository, month, byte_hours)
 VALUES ($1, $2, $3, $4, $5)
 ON CONFLICT (account_id, region, month, repository)
 DO UPDATE SET byte_hours = usage_accruals.byte_hours + excluded.byte_hours";
pub(crate) const DROP_FIGURES: &str =
    "DELETE FROM usage_latest WHERE account_id = $1 AND region = $2 AND repository = $3";
pub(crate) const ADD_POINT: &str =
    "INSERT INTO usage_history (account_id, region, sampled_at, logical_bytes, stored_bytes)
 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, region, sampled_at) DO NOTHING";
pub(crate) const PRUNE_HISTORY: &str = "DELETE FROM usage_history WHERE sampled_at <= $1";
pub(crate) const LAST_SAMPLE: &str = "SELECT MAX(sampled_at) FROM usage_latest";

const ACCRUALS: &str =
    "SELECT account_id, region, repository, month, byte_hours FROM usage_accruals";
pub(crate) fn accruals_sql(one_registry: bool, registries_only: bool) -> String {
    let registry = if one_registry {
        " AND account_id = $2 AND region = $3"
    } else {
        ""
    };
    let own = if registries_only {
        " AND repository = ''"
    } else {
        ""
    };
    format!("{ACCRUALS} WHERE month = $1{registry}{own} ORDER BY account_id, region, repository")
}

pub(crate) const HISTORY: &str = "SELECT sampled_at, logical_bytes, stored_bytes FROM usage_history
 WHERE account_id = $1 AND region = $2 AND sampled_at >= $3 ORDER BY sampled_at";
pub(crate) const IMAGE_COUNT: &str =
    "SELECT COUNT(*), MAX(pushed_at) FROM manifests WHERE repository_id = $1";

/// Binds an `UsageFigures` to `UPSERT_FIGURES`.
macro_rules! bind_figures {
    ($q:expr, $f:expr) => {
        $q.bind(&$f.registry.account_id)
            .bind(&$f.registry.region)
            .bind(&$f.repository)
            .bind($f.sampled_at)
            .bind($f.images as i64)
            .bind($f.logical_bytes as i64)
            .bind($f.stored_bytes as i64)
            .bind($f.last_pushed_at)
    };
}
pub(crate) use bind_figures;

macro_rules! bind_accrual {
    ($q:expr, $a:expr) => {
        $q.bind(&$a.registry.account_id)
            .bind(&$a.registry.region)
            .bind(&$a.repository)
            .bind(&$a.month)
            .bind($a.byte_hours)
    };
}
pub(crate) use bind_accrual;

/// The bounds every decoder here needs of a backend.
pub(crate) trait UsageRow:
    sqlx::Row
    + for<'r> RowGet<'r, String>
    + for<'r> RowGet<'r, i64>
    + for<'r> RowGet<'r, Option<i64>>
    + for<'r> RowGet<'r, f64>
{
}
impl<R> UsageRow for R where
    R: sqlx::Row
        + for<'r> RowGet<'r, String>
        + for<'r> RowGet<'r, i64>
        + for<'r> RowGet<'r, Option<i64>>
        + for<'r> RowGet<'r, f64>
{
}

/// `row.get(i)` as one bound.
pub(crate) trait RowGet<'r, T> {
    fn at(&'r self, i: usize) -> T;
}
impl<'r, R, T> RowGet<'r, T> for R
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn at(&'r self, i: usize) -> T {
        self.get(i)
    }
}

fn bytes<R: UsageRow>(row: &R, i: usize) -> u64 {
    RowGet::<i64>::at(row, i).max(0) as u64
}

fn registry<R: UsageRow>(row: &R) -> RegistryKey {
    RegistryKey {
        account_id: RowGet::<String>::at(row, 0),
        region: RowGet::<String>::at(row, 1),
    }
}

/// A row of `MEASURE_REPOSITORIES`.
pub(crate) fn measure_from_row<R: UsageRow>(row: &R) -> RepositoryMeasure {
    RepositoryMeasure {
        id: RepoId(RowGet::<i64>::at(row, 0)),
        registry: RegistryKey {
            account_id: RowGet::<String>::at(row, 1),
            region: RowGet::<String>::at(row, 2),
        },
        name: RowGet::<String>::at(row, 3),
        images: bytes(row, 4),
        logical_bytes: bytes(row, 5),
        stored_bytes: bytes(row, 6),
        last_pushed_at: RowGet::<Option<i64>>::at(row, 7),
    }
}

/// A row of `MEASURE_REGISTRIES`.
pub(crate) fn registry_total_from_row<R: UsageRow>(row: &R) -> (RegistryKey, u64) {
    (registry(row), bytes(row, 2))
}

/// A row of `figures_sql`.
pub(crate) fn figures_from_row<R: UsageRow>(row: &R) -> UsageFigures {
    UsageFigures {
        registry: registry(row),
        repository: RowGet::<String>::at(row, 2),
        sampled_at: RowGet::<i64>::at(row, 3),
        images: bytes(row, 4),
        logical_bytes: bytes(row, 5),
        stored_bytes: bytes(row, 6),
        last_pushed_at: RowGet::<Option<i64>>::at(row, 7),
    }
}

/// A row of `accruals_sql`.
pub(crate) fn accrual_from_row<R: UsageRow>(row: &R) -> UsageAccrual {
    UsageAccrual {
        registry: registry(row),
        repository: RowGet::<String>::at(row, 2),
        month: RowGet::<String>::at(row, 3),
        byte_hours: RowGet::<f64>::at(row, 4),
    }
}

/// A row of `HISTORY`.
pub(crate) fn point_from_row<R: UsageRow>(row: &R) -> UsagePoint {
    UsagePoint {
        at: RowGet::<i64>::at(row, 0),
        logical_bytes: bytes(row, 1),
        stored_bytes: bytes(row, 2),
    }
}
