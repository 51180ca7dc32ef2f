-- Grants on KMS keys (issue 21): who may make which uses of a key besides
-- what its policy allows. Operations and constraints are the registry's
-- JSON (KMS's wire shapes); the token's secret half is hex.

CREATE TABLE kms_grants (
    grant_id           TEXT    NOT NULL PRIMARY KEY,
    account_id         TEXT    NOT NULL,
    region             TEXT    NOT NULL,
    key_id             TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    grantee_principal  TEXT    NOT NULL,
    retiring_principal TEXT,
    issuing_account    TEXT    NOT NULL,
    operations         TEXT    NOT NULL,
    constraints        TEXT,
    token_secret       TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    FOREIGN KEY (account_id, region, key_id)
        REFERENCES kms_keys(account_id, region, key_id) ON DELETE CASCADE
);
CREATE INDEX kms_grants_by_key ON kms_grants(account_id, region, key_id, grant_id);
CREATE INDEX kms_grants_by_grantee ON kms_grants(account_id, region, key_id, grantee_principal);
CREATE INDEX kms_grants_by_name ON kms_grants(account_id, region, key_id, name);
CREATE INDEX kms_grants_by_retiring ON kms_grants(retiring_principal, grant_id);

-- ECR's grant for each repository already under a key (what CreateRepository
-- makes from now on: `kms/ecr.rs`), so that they keep working.
INSERT INTO kms_grants (grant_id, account_id, region, key_id, name, grantee_principal, retiring_principal,
                        issuing_account, operations, constraints, token_secret, created_at)
SELECT lower(hex(randomblob(32))), k.account_id, k.region, k.key_id,
       'arn:aws:ecr:' || r.region || ':' || r.account_id || ':repository/' || r.name,
       'ecr.' || r.region || '.amazonaws.com', 'ecr.' || r.region || '.amazonaws.com',
       'arn:aws:iam::' || r.account_id || ':root',
       '["Decrypt","Encrypt","GenerateDataKey","ReEncryptFrom","ReEncryptTo","RetireGrant","DescribeKey"]',
       '{"EncryptionContextSubset":{"aws:ecr:arn":"arn:aws:ecr:' || r.region || ':' || r.account_id || ':repository/' || r.name || '"}}',
       lower(hex(randomblob(32))), r.created_at
FROM repositories r
JOIN kms_keys k ON r.kms_key = 'arn:aws:kms:' || k.region || ':' || k.account_id || ':key/' || k.key_id;
