-- The SHA-256 state after an upload's acknowledged bytes
-- (`DigestHasher::state`), written with its size, so that the next request
-- continues the hash wherever it lands (after a restart, or on another node
-- of a cluster) instead of re-reading the bytes. NULL: not recorded (a
-- session with nothing written, or one older than this column).
ALTER TABLE uploads ADD COLUMN hash_state BLOB;
