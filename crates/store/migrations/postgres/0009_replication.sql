-- Replication (ECR's, issue 22): a registry's configuration as ECR's JSON,
-- and the durable queue of images to replicate, one row per (image,
-- destination) push; its latest row per destination is the image's status.
CREATE TABLE replication_configs (
    account_id TEXT   COLLATE "C" NOT NULL,
    region     TEXT   COLLATE "C" NOT NULL,
    config     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, region)
);

CREATE TABLE replication_tasks (
    id           BIGSERIAL PRIMARY KEY,
    account_id   TEXT   COLLATE "C" NOT NULL,
    region       TEXT   COLLATE "C" NOT NULL,
    repository   TEXT   COLLATE "C" NOT NULL,
    digest       TEXT   COLLATE "C" NOT NULL,
    tag          TEXT   COLLATE "C",
    dest_account TEXT   COLLATE "C" NOT NULL,
    dest_region  TEXT   COLLATE "C" NOT NULL,
    status       TEXT   NOT NULL,
    failure_code TEXT,
    attempts     BIGINT NOT NULL DEFAULT 0,
    due_at       BIGINT NOT NULL,
    lease_until  BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    backfill_id  TEXT COLLATE "C"
);
CREATE INDEX replication_tasks_due ON replication_tasks (status, due_at);
CREATE INDEX replication_tasks_image ON replication_tasks (account_id, region, repository, digest);
CREATE INDEX replication_tasks_backfill ON replication_tasks (backfill_id, id);

-- Backfills (StartReplicationBackfill): images stored before the
-- configuration queued for one destination, a page of repositories at a
-- time (`after_repo`, the last name done), finished when enumerated and
-- none of its tasks is in progress.
CREATE TABLE replication_backfills (
    id           TEXT COLLATE "C" PRIMARY KEY,
    account_id   TEXT COLLATE "C" NOT NULL,
    region       TEXT COLLATE "C" NOT NULL,
    dest_account TEXT COLLATE "C" NOT NULL,
    dest_region  TEXT COLLATE "C" NOT NULL,
    status       TEXT NOT NULL,
    after_repo   TEXT COLLATE "C" NOT NULL DEFAULT '',
    enumerated   BIGINT NOT NULL DEFAULT 0,
    started_at   BIGINT NOT NULL,
    ended_at     BIGINT
);
CREATE INDEX replication_backfills_registry ON replication_backfills (account_id, region, id);
