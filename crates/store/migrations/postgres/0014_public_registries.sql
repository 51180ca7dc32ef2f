-- Public registries (issue 24): SQLite's 0022.
CREATE TABLE public_registries (
    account_id   TEXT   COLLATE "C" PRIMARY KEY,
    alias        TEXT   COLLATE "C" NOT NULL UNIQUE,
    display_name TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL
);
