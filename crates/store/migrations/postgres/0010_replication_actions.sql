-- deleteReplication (issue 22): a task either copies an image (REPLICATE)
-- or carries a delete (DELETE) or the removal of one tag (UNTAG) to its
-- destination. Rows queued before this migration are copies.
ALTER TABLE replication_tasks ADD COLUMN action TEXT NOT NULL DEFAULT 'REPLICATE';
-- The claim's "no earlier task of this image to this destination is still
-- in progress" check reads this; it serves the image lookups too.
DROP INDEX replication_tasks_image;
CREATE INDEX replication_tasks_order
    ON replication_tasks (account_id, region, repository, digest, dest_account, dest_region, status, id);
