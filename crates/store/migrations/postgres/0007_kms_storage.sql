-- A KMS key's storage domain (issue 21): the KEK that wraps the data keys
-- of the blobs of repositories under the key, sealed under the key's
-- newest material (the registry's encoding); NULL until first used.
ALTER TABLE kms_keys ADD COLUMN storage_kek TEXT;
