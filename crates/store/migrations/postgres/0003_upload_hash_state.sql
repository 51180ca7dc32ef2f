-- The SHA-256 state after an upload's acknowledged bytes
-- (`DigestHasher::state`), written with its size by the same compare-and-set,
-- so that a PATCH or PUT on any node continues the hash instead of re-reading
-- the bytes from the object store. NULL: not recorded.
ALTER TABLE uploads ADD COLUMN hash_state BYTEA;
