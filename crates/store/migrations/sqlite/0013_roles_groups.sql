-- IAM roles and groups (issue 20). Names are unique per account ignoring
-- case, as on AWS (the `lower(name)` indexes); lookups are by the exact
-- name. Ids (`AROA…`, `AGPA…`) are made by the registry.

CREATE TABLE roles (
    account_id           TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name                 TEXT    NOT NULL,
    path                 TEXT    NOT NULL,
    role_id              TEXT    NOT NULL,
    trust_policy         TEXT    NOT NULL,
    description          TEXT,
    max_session_duration INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
CREATE UNIQUE INDEX roles_name_ci ON roles(account_id, lower(name));

CREATE TABLE role_policies (
    account_id  TEXT NOT NULL,
    role_name   TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (account_id, role_name, policy_name),
    FOREIGN KEY (account_id, role_name) REFERENCES roles(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE role_policy_attachments (
    account_id  TEXT    NOT NULL,
    role_name   TEXT    NOT NULL,
    policy_arn  TEXT    NOT NULL,
    attached_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, role_name, policy_arn),
    FOREIGN KEY (account_id, role_name) REFERENCES roles(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX role_policy_attachments_by_policy ON role_policy_attachments(account_id, policy_arn);

CREATE TABLE role_tags (
    account_id TEXT NOT NULL,
    role_name  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (account_id, role_name, key),
    FOREIGN KEY (account_id, role_name) REFERENCES roles(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE iam_groups (
    account_id TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    group_id   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
CREATE UNIQUE INDEX groups_name_ci ON iam_groups(account_id, lower(name));

CREATE TABLE group_members (
    account_id TEXT    NOT NULL,
    group_name TEXT    NOT NULL,
    user_name  TEXT    NOT NULL,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, group_name, user_name),
    FOREIGN KEY (account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE,
    FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX group_members_by_user ON group_members(account_id, user_name);

CREATE TABLE group_policies (
    account_id  TEXT NOT NULL,
    group_name  TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (account_id, group_name, policy_name),
    FOREIGN KEY (account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE group_policy_attachments (
    account_id  TEXT    NOT NULL,
    group_name  TEXT    NOT NULL,
    policy_arn  TEXT    NOT NULL,
    attached_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, group_name, policy_arn),
    FOREIGN KEY (account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX group_policy_attachments_by_policy ON group_policy_attachments(account_id, policy_arn);
