-- Caps on open upload sessions (issue 17): per repository, and per
-- principal, which needs to know who opened each session. `started_by` is
-- "<account>:<user>"; NULL for sessions opened before this column existed
-- and for anonymous ones (they count for their repository only).
ALTER TABLE uploads ADD COLUMN started_by TEXT;
CREATE INDEX uploads_by_repository ON uploads(repository_id);
CREATE INDEX uploads_by_started_by ON uploads(started_by) WHERE started_by IS NOT NULL;
