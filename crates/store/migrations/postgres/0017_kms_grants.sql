-- Grants on KMS keys (issue 21), as SQLite's 0025_kms_grants.sql.

CREATE TABLE kms_grants (
    grant_id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id         TEXT COLLATE "C" NOT NULL,
    region             TEXT COLLATE "C" NOT NULL,
    key_id             TEXT COLLATE "C" NOT NULL,
    name               TEXT COLLATE "C" NOT NULL,
    grantee_principal  TEXT COLLATE "C" NOT NULL,
    retiring_principal TEXT COLLATE "C",
    issuing_account    TEXT COLLATE "C" NOT NULL,
    operations         TEXT COLLATE "C" NOT NULL,
    constraints        TEXT COLLATE "C",
    token_secret       TEXT COLLATE "C" NOT NULL,
    created_at         BIGINT NOT NULL,
    FOREIGN KEY (account_id, region, key_id)
        REFERENCES kms_keys(account_id, region, key_id) ON DELETE CASCADE
);
CREATE INDEX kms_grants_by_key ON kms_grants(account_id, region, key_id, grant_id);
CREATE INDEX kms_grants_by_grantee ON kms_grants(account_id, region, key_id, grantee_principal);
CREATE INDEX kms_grants_by_name ON kms_grants(account_id, region, key_id, name);
CREATE INDEX kms_grants_by_retiring ON kms_grants(retiring_principal, grant_id);

-- ECR's grant for each repository already under a key.
INSERT INTO kms_grants (grant_id, account_id, region, key_id, name, grantee_principal, retiring_principal,
                        issuing_account, operations, constraints, token_secret, created_at)
SELECT encode(sha256(convert_to(gen_random_uuid()::text || r.id::text, 'UTF8')), 'hex'),
       k.account_id, k.region, k.key_id,
       'arn:aws:ecr:' || r.region || ':' || r.account_id || ':repository/' || r.name,
       'ecr.' || r.region || '.amazonaws.com', 'ecr.' || r.region || '.amazonaws.com',
       'arn:aws:iam::' || r.account_id || ':root',
       '["Decrypt","Encrypt","GenerateDataKey","ReEncryptFrom","ReEncryptTo","RetireGrant","DescribeKey"]',
       '{"EncryptionContextSubset":{"aws:ecr:arn":"arn:aws:ecr:' || r.region || ':' || r.account_id || ':repository/' || r.name || '"}}',
       encode(sha256(convert_to(gen_random_uuid()::text || 'secret', 'UTF8')), 'hex'), r.created_at
FROM repositories r
JOIN kms_keys k ON r.kms_key = 'arn:aws:kms:' || k.region || ':' || k.account_id || ':key/' || k.key_id;
