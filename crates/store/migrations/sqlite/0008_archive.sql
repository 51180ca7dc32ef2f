-- The archive storage class (UpdateImageStorageClass, lifecycle
-- `transition`). An image's status: 0 ACTIVE, 1 ARCHIVED, 2 ACTIVATING
-- (being restored); only ACTIVE images are pullable and listed by default.
-- Times are Unix ms, kept across later changes (lastArchivedAt,
-- lastActivatedAt).
ALTER TABLE manifests ADD COLUMN storage_status INTEGER NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN archived_at INTEGER;
ALTER TABLE manifests ADD COLUMN activated_at INTEGER;

-- Where a blob's bytes live: 0 the blob store, 1 the archive blob store
-- (only archived images use it). Set to 1 before the bytes leave the blob
-- store and to 0 only once they are back, so 0 always means "readable".
ALTER TABLE blobs ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;

-- Start-up finishes moves a crash interrupted: archived blobs, images
-- being restored.
CREATE INDEX blobs_archived ON blobs(digest) WHERE archived = 1;
CREATE INDEX manifests_not_active ON manifests(repository_id, digest) WHERE storage_status <> 0;
