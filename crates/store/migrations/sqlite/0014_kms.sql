-- KMS keys and aliases (issue 21). A key row is kept whole and replaced
-- under its revision (metadata/kms.rs); materials (sealed under the root)
-- and tags are the registry's JSON.

CREATE TABLE kms_keys (
    account_id           TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    region               TEXT    NOT NULL,
    key_id               TEXT    NOT NULL,
    description          TEXT    NOT NULL,
    key_usage            TEXT    NOT NULL,
    key_spec             TEXT    NOT NULL,
    origin               TEXT    NOT NULL,
    key_manager          TEXT    NOT NULL,
    state                TEXT    NOT NULL,
    created_at           INTEGER NOT NULL,
    deletion_date        INTEGER,
    pending_window_days  INTEGER,
    rotation_period_days INTEGER,
    next_rotation_at     INTEGER,
    policy               TEXT    NOT NULL,
    materials            TEXT    NOT NULL,
    tags                 TEXT    NOT NULL,
    revision             INTEGER NOT NULL,
    PRIMARY KEY (account_id, region, key_id)
);

CREATE TABLE kms_aliases (
    account_id    TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    target_key_id TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, region, name),
    FOREIGN KEY (account_id, region, target_key_id)
        REFERENCES kms_keys(account_id, region, key_id) ON DELETE CASCADE
);
CREATE INDEX kms_aliases_by_key ON kms_aliases(account_id, region, target_key_id);

-- A repository's encryption configuration (ECR's), fixed at creation:
-- AES256 (keys from the server key), or KMS / KMS_DSSE with its key's ARN.
ALTER TABLE repositories ADD COLUMN encryption_type TEXT NOT NULL DEFAULT 'AES256';
ALTER TABLE repositories ADD COLUMN kms_key TEXT;

-- The deployment's key-encryption root when it is kept in an external KMS
-- (`--root-kms-key`): the root wrapped by that KMS, written once.
CREATE TABLE kms_root (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value TEXT    NOT NULL
);
