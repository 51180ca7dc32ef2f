-- Resource tags of repositories (TagResource, CreateRepository tags).
CREATE TABLE repository_tags (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    PRIMARY KEY (repository_id, key)
) WITHOUT ROWID;

-- Registry settings (PutAccountSetting): per account and region, as ECR's are.
-- A missing row means the setting's default.
CREATE TABLE account_settings (
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (account_id, region, name)
) WITHOUT ROWID;

-- When a pull of the image was last recorded (ms since the epoch); pulls are
-- batched in memory and written every flush interval, not per request.
ALTER TABLE manifests ADD COLUMN last_pulled_at INTEGER;
