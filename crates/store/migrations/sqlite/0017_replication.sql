-- Replication (ECR's, issue 22): a registry's configuration as ECR's JSON,
-- and the durable queue of images to replicate, one row per (image,
-- destination) push; its latest row per destination is the image's status.
CREATE TABLE replication_configs (
    account_id TEXT    NOT NULL,
    region     TEXT    NOT NULL,
    config     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, region)
);

CREATE TABLE replication_tasks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id   TEXT    NOT NULL,
    region       TEXT    NOT NULL,
    repository   TEXT    NOT NULL,
    digest       TEXT    NOT NULL,
    tag          TEXT,
    dest_account TEXT    NOT NULL,
    dest_region  TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    failure_code TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    due_at       INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    backfill_id  TEXT
);
CREATE INDEX replication_tasks_due ON replication_tasks (status, due_at);
CREATE INDEX replication_tasks_image ON replication_tasks (account_id, region, repository, digest);
CREATE INDEX replication_tasks_backfill ON replication_tasks (backfill_id, id);

-- Backfills (StartReplicationBackfill): images stored before the
-- configuration queued for one destination, a page of repositories at a
-- time (`after_repo`, the last name done), finished when enumerated and
-- none of its tasks is in progress.
CREATE TABLE replication_backfills (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    region       TEXT NOT NULL,
    dest_account TEXT NOT NULL,
    dest_region  TEXT NOT NULL,
    status       TEXT NOT NULL,
    after_repo   TEXT NOT NULL DEFAULT '',
    enumerated   INTEGER NOT NULL DEFAULT 0,
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER
);
CREATE INDEX replication_backfills_registry ON replication_backfills (account_id, region, id);
