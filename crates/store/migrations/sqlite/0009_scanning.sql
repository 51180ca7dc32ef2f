-- Vulnerability scanning (issue 8).

-- The vulnerability database: OSV records as imported (the JSON text), the
-- newest `modified` per id; withdrawn records are deleted, not kept.
CREATE TABLE vuln_records (
    id       TEXT PRIMARY KEY,
    modified TEXT,
    json     TEXT NOT NULL
) WITHOUT ROWID;

-- (ecosystem, normalized package name) -> record: a scan reads only the
-- records naming the packages it found.
CREATE TABLE vuln_packages (
    ecosystem TEXT NOT NULL,
    name      TEXT NOT NULL,
    record_id TEXT NOT NULL REFERENCES vuln_records(id) ON DELETE CASCADE,
    PRIMARY KEY (ecosystem, name, record_id)
) WITHOUT ROWID;
CREATE INDEX vuln_packages_by_record ON vuln_packages(record_id);

-- One row: when an import last finished (vulnerabilitySourceUpdatedAt, ms)
-- and how many imports have finished (continuous rescans compare it).
CREATE TABLE vuln_source (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    updated_at INTEGER NOT NULL,
    generation INTEGER NOT NULL
);

-- A layer's inventory (berth-scan's encoding), by the layer blob's digest:
-- a base layer shared by many images is read once. Not per repository: a
-- repository can only ask for layers it links.
CREATE TABLE layer_inventories (
    layer_digest TEXT PRIMARY KEY,
    diff_id      TEXT,
    inventory    BLOB NOT NULL,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;

-- The last scan of an image in a repository: its status, when, the findings
-- (JSON text the registry writes), severity counts (JSON), the detection it
-- matched (berth-scan's encoding, for continuous rescans).
CREATE TABLE image_scans (
    repository_id   INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest          TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    description     TEXT,
    scan_type       TEXT    NOT NULL,
    started_at      INTEGER NOT NULL,
    completed_at    INTEGER,
    source_updated_at INTEGER,
    source_generation INTEGER,
    findings        TEXT,
    counts          TEXT,
    detection       BLOB,
    PRIMARY KEY (repository_id, digest)
);
CREATE INDEX image_scans_in_progress ON image_scans(status) WHERE status = 'IN_PROGRESS';

-- The registry scanning configuration (PutRegistryScanningConfiguration):
-- the JSON text the registry validated. No row: BASIC, no rules.
CREATE TABLE registry_scanning (
    account_id TEXT NOT NULL,
    region     TEXT NOT NULL,
    config     TEXT NOT NULL,
    PRIMARY KEY (account_id, region)
);
