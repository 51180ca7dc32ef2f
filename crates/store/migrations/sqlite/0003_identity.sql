-- Accounts, their users and access keys (the ECR API's principals).
CREATE TABLE accounts (
    id         TEXT    PRIMARY KEY,   -- 12 digits
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    account_id TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

-- The secret is sealed under the server key (never stored in clear).
CREATE TABLE access_keys (
    id            TEXT    PRIMARY KEY,
    account_id    TEXT    NOT NULL,
    user_name     TEXT    NOT NULL,
    secret_sealed TEXT    NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX access_keys_by_user ON access_keys(account_id, user_name);

-- Repository settings the ECR API manages.
ALTER TABLE repositories ADD COLUMN image_tag_mutability TEXT NOT NULL DEFAULT 'MUTABLE';
ALTER TABLE repositories ADD COLUMN mutability_filters TEXT;
ALTER TABLE repositories ADD COLUMN scan_on_push INTEGER NOT NULL DEFAULT 0;
