-- KMS keys and aliases (issue 21), as SQLite's 0014_kms.sql. A key row is kept whole and replaced
-- under its revision (metadata/kms.rs); materials (sealed under the root)
-- and tags are the registry's JSON.

CREATE TABLE kms_keys (
    account_id           TEXT COLLATE "C" NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    region               TEXT COLLATE "C" NOT NULL,
    key_id               TEXT COLLATE "C" NOT NULL,
    description          TEXT COLLATE "C" NOT NULL,
    key_usage            TEXT COLLATE "C" NOT NULL,
    key_spec             TEXT COLLATE "C" NOT NULL,
    origin               TEXT COLLATE "C" NOT NULL,
    key_manager          TEXT COLLATE "C" NOT NULL,
    state                TEXT COLLATE "C" NOT NULL,
    created_at           BIGINT NOT NULL,
    deletion_date        BIGINT,
    pending_window_days  BIGINT,
    rotation_period_days BIGINT,
    next_rotation_at     BIGINT,
    policy               TEXT COLLATE "C" NOT NULL,
    materials            TEXT COLLATE "C" NOT NULL,
    tags                 TEXT COLLATE "C" NOT NULL,
    revision             BIGINT NOT NULL,
    PRIMARY KEY (account_id, region, key_id)
);

CREATE TABLE kms_aliases (
    account_id    TEXT COLLATE "C" NOT NULL,
    region        TEXT COLLATE "C" NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    target_key_id TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, region, name),
    FOREIGN KEY (account_id, region, target_key_id)
        REFERENCES kms_keys(account_id, region, key_id) ON DELETE CASCADE
);
CREATE INDEX kms_aliases_by_key ON kms_aliases(account_id, region, target_key_id);

-- A repository's encryption configuration, as SQLite's.
ALTER TABLE repositories ADD COLUMN encryption_type TEXT COLLATE "C" NOT NULL DEFAULT 'AES256';
ALTER TABLE repositories ADD COLUMN kms_key TEXT COLLATE "C";

-- The deployment's key-encryption root when kept in an external KMS, as SQLite's.
CREATE TABLE kms_root (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    value TEXT COLLATE "C" NOT NULL
);
