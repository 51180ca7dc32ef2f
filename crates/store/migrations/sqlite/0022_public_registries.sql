-- Public registries (issue 24): one per account, found by its alias in
-- public image names (`<public host>/<alias>/<repository>`). An alias is
-- unique across the deployment.
CREATE TABLE public_registries (
    account_id   TEXT    PRIMARY KEY,
    alias        TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
