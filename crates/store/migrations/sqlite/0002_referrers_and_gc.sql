-- Referrers listings show each referrer's annotations.
ALTER TABLE manifests ADD COLUMN annotations TEXT;

-- Garbage collection asks "does any manifest, in any repository, use this
-- blob?"; the existing index leads with the repository.
CREATE INDEX manifest_references_by_any_target ON manifest_references(target, kind);

-- Garbage collection walks links by age.
CREATE INDEX repository_blobs_by_linked_at ON repository_blobs(linked_at);

-- Deleting a manifest drops its body once no repository has it.
CREATE INDEX manifests_by_digest ON manifests(digest);
