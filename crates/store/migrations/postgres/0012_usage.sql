-- Usage and cost (issue 23): SQLite's 0020.
CREATE TABLE usage_latest (
    account_id     TEXT   COLLATE "C" NOT NULL,
    region         TEXT   COLLATE "C" NOT NULL,
    repository     TEXT   COLLATE "C" NOT NULL,
    sampled_at     BIGINT NOT NULL,
    images         BIGINT NOT NULL,
    logical_bytes  BIGINT NOT NULL,
    stored_bytes   BIGINT NOT NULL,
    last_pushed_at BIGINT,
    PRIMARY KEY (account_id, region, repository)
);
CREATE INDEX usage_latest_sampled_at ON usage_latest (sampled_at);
CREATE INDEX usage_latest_registries ON usage_latest (account_id, region) WHERE repository = '';

CREATE TABLE usage_accruals (
    account_id TEXT COLLATE "C" NOT NULL,
    region     TEXT COLLATE "C" NOT NULL,
    repository TEXT COLLATE "C" NOT NULL,
    month      TEXT COLLATE "C" NOT NULL,
    byte_hours DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account_id, region, month, repository)
);

CREATE INDEX usage_accruals_registries ON usage_accruals (month) WHERE repository = '';

CREATE TABLE usage_history (
    account_id    TEXT   COLLATE "C" NOT NULL,
    region        TEXT   COLLATE "C" NOT NULL,
    sampled_at    BIGINT NOT NULL,
    logical_bytes BIGINT NOT NULL,
    stored_bytes  BIGINT NOT NULL,
    PRIMARY KEY (account_id, region, sampled_at)
);
CREATE INDEX usage_history_sampled_at ON usage_history (sampled_at);
