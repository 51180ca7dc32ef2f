-- Usage and cost (issue 23): the figures of the latest hourly sample, the
-- stored bytes accrued per month, and each registry's series for charts.
-- `repository` '' is the registry's own row: its blobs counted once per key
-- domain across its repositories. Rows are keyed by name, not repository
-- id, so a deleted repository's accruals stay in its month.
CREATE TABLE usage_latest (
    account_id     TEXT    NOT NULL,
    region         TEXT    NOT NULL,
    repository     TEXT    NOT NULL,
    sampled_at     INTEGER NOT NULL,
    images         INTEGER NOT NULL,
    logical_bytes  INTEGER NOT NULL,
    stored_bytes   INTEGER NOT NULL,
    last_pushed_at INTEGER,
    PRIMARY KEY (account_id, region, repository)
) WITHOUT ROWID;
CREATE INDEX usage_latest_sampled_at ON usage_latest (sampled_at);
CREATE INDEX usage_latest_registries ON usage_latest (account_id, region) WHERE repository = '';

-- Byte-hours of stored bytes, per month ('2026-12', UTC).
CREATE TABLE usage_accruals (
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    repository TEXT NOT NULL,
    month      TEXT NOT NULL,
    byte_hours REAL NOT NULL,
    PRIMARY KEY (account_id, region, month, repository)
) WITHOUT ROWID;

CREATE INDEX usage_accruals_registries ON usage_accruals (month) WHERE repository = '';

CREATE TABLE usage_history (
    account_id    TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    sampled_at    INTEGER NOT NULL,
    logical_bytes INTEGER NOT NULL,
    stored_bytes  INTEGER NOT NULL,
    PRIMARY KEY (account_id, region, sampled_at)
) WITHOUT ROWID;
CREATE INDEX usage_history_sampled_at ON usage_history (sampled_at);
