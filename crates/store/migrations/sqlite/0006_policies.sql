-- Resource policies (SetRepositoryPolicy, PutRegistryPolicy): the JSON text
-- as the client sent it; parsed and validated by the caller before storing.
ALTER TABLE repositories ADD COLUMN policy TEXT;

CREATE TABLE registry_policies (
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    policy     TEXT NOT NULL,
    PRIMARY KEY (account_id, region)
) WITHOUT ROWID;
