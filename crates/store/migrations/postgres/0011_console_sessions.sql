-- The console's sign-in sessions (issue 23): found by the SHA-256 of the
-- cookie's secret, never by the secret itself.
CREATE TABLE console_sessions (
    id_hash       TEXT   COLLATE "C" PRIMARY KEY,
    access_key_id TEXT   COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL
);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen);
