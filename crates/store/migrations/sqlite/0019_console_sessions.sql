-- The console's sign-in sessions (issue 23): found by the SHA-256 of the
-- cookie's secret, never by the secret itself.
CREATE TABLE console_sessions (
    id_hash       TEXT    PRIMARY KEY,
    access_key_id TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL
);
CREATE INDEX console_sessions_last_seen ON console_sessions (last_seen);
