-- Repository creation templates (ECR's, issue 22): one per prefix of a
-- registry, its settings in the registry's JSON.
CREATE TABLE repository_templates (
    account_id TEXT   COLLATE "C" NOT NULL,
    region     TEXT   COLLATE "C" NOT NULL,
    prefix     TEXT   COLLATE "C" NOT NULL,
    body       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, region, prefix)
);
