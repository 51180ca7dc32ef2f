-- SQLite's 0023: a public repository's catalog data.
CREATE TABLE public_catalog (
    repository_id BIGINT PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    data          TEXT   NOT NULL,
    logo          BYTEA
);
