-- Lifecycle policies (PutLifecyclePolicy): the JSON text as the client sent
-- it, validated by the caller before storing, and when the scheduled
-- evaluation last ran over the repository (lastEvaluatedAt, ms).
ALTER TABLE repositories ADD COLUMN lifecycle_policy TEXT;
ALTER TABLE repositories ADD COLUMN lifecycle_evaluated_at INTEGER;

-- The repository's last lifecycle policy preview (one per repository, as on
-- ECR): the policy it evaluated, IN_PROGRESS until its results are stored
-- (JSON text the registry writes and reads; the store does not look inside).
CREATE TABLE lifecycle_previews (
    repository_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    policy        TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    results       TEXT
);

-- The scheduled run looks for the repositories that have a policy.
CREATE INDEX repositories_with_lifecycle ON repositories(id) WHERE lifecycle_policy IS NOT NULL;
