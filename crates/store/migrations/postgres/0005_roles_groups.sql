-- IAM roles and groups (issue 20), as SQLite's 0013_roles_groups.sql. Names are unique per account ignoring
-- case, as on AWS (the `lower(name)` indexes); lookups are by the exact
-- name. Ids (`AROA…`, `AGPA…`) are made by the registry.

CREATE TABLE roles (
    account_id           TEXT COLLATE "C"    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name                 TEXT COLLATE "C"    NOT NULL,
    path                 TEXT COLLATE "C"    NOT NULL,
    role_id              TEXT COLLATE "C"    NOT NULL,
    trust_policy         TEXT COLLATE "C"    NOT NULL,
    description          TEXT,
    max_session_duration BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE UNIQUE INDEX roles_name_ci ON roles(account_id, lower(name));

CREATE TABLE role_policies (
    account_id  TEXT COLLATE "C" NOT NULL,
    role_name   TEXT COLLATE "C" NOT NULL,
    policy_name TEXT COLLATE "C" NOT NULL,
    document    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, role_name, policy_name),
    FOREIGN KEY (account_id, role_name) REFERENCES roles(account_id, name) ON DELETE CASCADE
);

CREATE TABLE role_policy_attachments (
    account_id  TEXT COLLATE "C"    NOT NULL,
    role_name   TEXT COLLATE "C"    NOT NULL,
    policy_arn  TEXT COLLATE "C"    NOT NULL,
    attached_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, role_name, policy_arn),
    FOREIGN KEY (account_id, role_name) REFERENCES roles(account_id, name) ON DELETE CASCADE
);
CREATE INDEX role_policy_attachments_by_policy ON role_policy_attachments(account_id, policy_arn);

CREATE TABLE role_tags (
    account_id TEXT COLLATE "C" NOT NULL,
    role_name  TEXT COLLATE "C" NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    value      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, role_name, key),
    FOREIGN KEY (account_id, role_name) REFERENCES roles(account_id, name) ON DELETE CASCADE
);

CREATE TABLE iam_groups (
    account_id TEXT COLLATE "C"    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name       TEXT COLLATE "C"    NOT NULL,
    path       TEXT COLLATE "C"    NOT NULL,
    group_id   TEXT COLLATE "C"    NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, name)
);
CREATE UNIQUE INDEX groups_name_ci ON iam_groups(account_id, lower(name));

CREATE TABLE group_members (
    account_id TEXT COLLATE "C"    NOT NULL,
    group_name TEXT COLLATE "C"    NOT NULL,
    user_name  TEXT COLLATE "C"    NOT NULL,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, group_name, user_name),
    FOREIGN KEY (account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE,
    FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name) ON DELETE CASCADE
);
CREATE INDEX group_members_by_user ON group_members(account_id, user_name);

CREATE TABLE group_policies (
    account_id  TEXT COLLATE "C" NOT NULL,
    group_name  TEXT COLLATE "C" NOT NULL,
    policy_name TEXT COLLATE "C" NOT NULL,
    document    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (account_id, group_name, policy_name),
    FOREIGN KEY (account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE
);

CREATE TABLE group_policy_attachments (
    account_id  TEXT COLLATE "C"    NOT NULL,
    group_name  TEXT COLLATE "C"    NOT NULL,
    policy_arn  TEXT COLLATE "C"    NOT NULL,
    attached_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, group_name, policy_arn),
    FOREIGN KEY (account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE
);
CREATE INDEX group_policy_attachments_by_policy ON group_policy_attachments(account_id, policy_arn);

-- Every node forgets its identity caches (decisions, parsed identity
-- policies, login-token and session checks) when any of these change, as
-- for users (0002_cluster.sql): a role deleted, a policy detached or a user
-- removed from a group on one node binds every node at once.
CREATE TRIGGER roles_invalidate AFTER INSERT OR UPDATE OR DELETE ON roles
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER role_policies_invalidate AFTER INSERT OR UPDATE OR DELETE ON role_policies
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER role_policy_attachments_invalidate AFTER INSERT OR UPDATE OR DELETE ON role_policy_attachments
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER iam_groups_invalidate AFTER INSERT OR UPDATE OR DELETE ON iam_groups
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER group_members_invalidate AFTER INSERT OR UPDATE OR DELETE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER group_policies_invalidate AFTER INSERT OR UPDATE OR DELETE ON group_policies
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER group_policy_attachments_invalidate AFTER INSERT OR UPDATE OR DELETE ON group_policy_attachments
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER role_tags_invalidate AFTER INSERT OR UPDATE OR DELETE ON role_tags
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
