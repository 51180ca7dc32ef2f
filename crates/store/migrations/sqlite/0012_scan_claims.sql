-- Which process runs an IN_PROGRESS scan, and until when its claim holds
-- (ms). The process renews the claim while the scan is queued or running;
-- a claim that lapsed belongs to a process that stopped, and the scan is
-- queued again (`scans_in_progress`). NULL for scans started before these
-- columns: lapsed.
ALTER TABLE image_scans ADD COLUMN claimed_by TEXT;
ALTER TABLE image_scans ADD COLUMN claimed_until INTEGER;
