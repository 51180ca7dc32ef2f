-- Repository creation templates (ECR's, issue 22): one per prefix of a
-- registry, its settings in the registry's JSON.
CREATE TABLE repository_templates (
    account_id TEXT    NOT NULL,
    region     TEXT    NOT NULL,
    prefix     TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, region, prefix)
);
