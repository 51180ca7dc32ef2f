-- Which node runs an IN_PROGRESS scan, and until when its claim holds (ms).
-- The node renews its claims while the scans are queued or running; a claim
-- that lapsed belongs to a node that died, and a live node queues the scan
-- again (`scans_in_progress`, under the `scan-resume` lease). NULL for scans
-- started before these columns: lapsed.
ALTER TABLE image_scans ADD COLUMN claimed_by TEXT COLLATE "C";
ALTER TABLE image_scans ADD COLUMN claimed_until BIGINT;
