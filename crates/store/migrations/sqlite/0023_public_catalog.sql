-- A public repository's catalog data (issue 24): its text members as
-- JSON (description, about and usage text, architectures, operating
-- systems), and its logo's bytes.
CREATE TABLE public_catalog (
    repository_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    data          TEXT    NOT NULL,
    logo          BLOB
);
