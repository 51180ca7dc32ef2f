-- The IAM API: users get AWS's UserId and Path; inline user policies,
-- customer-managed policies with their versions, and which policies are
-- attached to which users.

-- AWS user ids are `AIDA` + 17 characters. Rows made before this migration
-- (admin users) get one here; inserts generate one the same way.
ALTER TABLE users ADD COLUMN user_id TEXT;
ALTER TABLE users ADD COLUMN path TEXT NOT NULL DEFAULT '/';
UPDATE users SET user_id = 'AIDA' || substr(upper(hex(randomblob(9))), 1, 17) WHERE user_id IS NULL;

-- PutUserPolicy: a named JSON document embedded in one user.
CREATE TABLE user_policies (
    account_id  TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    policy_name TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (account_id, user_name, policy_name),
    FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

-- CreatePolicy: customer-managed policies. Names are unique per account
-- whatever the path (as on AWS); the ARN carries the path.
CREATE TABLE managed_policies (
    account_id      TEXT    NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name            TEXT    NOT NULL,
    path            TEXT    NOT NULL,
    arn             TEXT    NOT NULL UNIQUE,
    policy_id       TEXT    NOT NULL,
    description     TEXT,
    default_version TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

CREATE TABLE managed_policy_versions (
    account_id  TEXT    NOT NULL,
    policy_name TEXT    NOT NULL,
    version_id  TEXT    NOT NULL,   -- v1, v2, ...
    document    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, policy_name, version_id),
    FOREIGN KEY (account_id, policy_name) REFERENCES managed_policies(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;

-- AttachUserPolicy. By ARN, since AWS-managed policies (arn:aws:iam::aws:...)
-- have no row here; DeletePolicy refuses while a row names the policy.
CREATE TABLE user_policy_attachments (
    account_id  TEXT    NOT NULL,
    user_name   TEXT    NOT NULL,
    policy_arn  TEXT    NOT NULL,
    attached_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, user_name, policy_arn),
    FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX user_policy_attachments_by_policy ON user_policy_attachments(account_id, policy_arn);
