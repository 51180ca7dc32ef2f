-- What the nodes of one deployment share beyond records (ARCHITECTURE.md,
-- "Scale-out: cross-node protocols").

-- When each background job last started, whichever node ran it: a node
-- holding the job's advisory lock runs it only when this is an interval old.
CREATE TABLE job_runs (
    name       TEXT COLLATE "C" PRIMARY KEY,
    started_at BIGINT NOT NULL
);

-- Facts every node must agree on: the server key's fingerprint.
CREATE TABLE cluster_facts (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);

-- Cache invalidation. A trigger queues a notification inside the writing
-- transaction; PostgreSQL delivers it to every listening node only when
-- that transaction commits, in commit order, so a change and its
-- invalidation cannot part, whatever code path made the change. Payloads:
-- a kind letter and tab-separated fields (crates/store/src/cluster.rs).
-- Identical payloads of one transaction are delivered once.

CREATE FUNCTION berth_invalidate_tag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_invalidate', 't' || chr(9) || OLD.repository_id || chr(9) || OLD.name);
    RETURN NULL;
END $$;
-- A new tag invalidates nothing: caches hold only tags that exist.
CREATE TRIGGER tags_invalidate AFTER UPDATE OR DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION berth_invalidate_tag();

CREATE FUNCTION berth_invalidate_manifest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_invalidate', 'm' || chr(9) || OLD.repository_id || chr(9) || OLD.digest);
    RETURN NULL;
END $$;
-- Only the storage class of a manifest row changes what a cache holds (pull
-- times are updated often and cached nowhere).
CREATE TRIGGER manifests_invalidate AFTER UPDATE OF storage_status OR DELETE ON manifests
    FOR EACH ROW EXECUTE FUNCTION berth_invalidate_manifest();

CREATE FUNCTION berth_invalidate_link() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_invalidate', 'b' || chr(9) || OLD.repository_id || chr(9) || OLD.digest);
    RETURN NULL;
END $$;
CREATE TRIGGER repository_blobs_invalidate AFTER DELETE ON repository_blobs
    FOR EACH ROW EXECUTE FUNCTION berth_invalidate_link();

CREATE FUNCTION berth_invalidate_repository() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_invalidate',
        'r' || chr(9) || OLD.account_id || chr(9) || OLD.region || chr(9) || OLD.name);
    RETURN NULL;
END $$;
CREATE TRIGGER repositories_invalidate AFTER DELETE ON repositories
    FOR EACH ROW EXECUTE FUNCTION berth_invalidate_repository();

-- Changes that clear a whole cache: the kind letter is the trigger's argument.
CREATE FUNCTION berth_invalidate_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berth_invalidate', TG_ARGV[0]);
    RETURN NULL;
END $$;
CREATE TRIGGER repository_policy_invalidate AFTER UPDATE OF policy ON repositories
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER users_invalidate AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER access_keys_invalidate AFTER INSERT OR UPDATE OR DELETE ON access_keys
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER user_policies_invalidate AFTER INSERT OR UPDATE OR DELETE ON user_policies
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER managed_policies_invalidate AFTER INSERT OR UPDATE OR DELETE ON managed_policies
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER managed_policy_versions_invalidate AFTER INSERT OR UPDATE OR DELETE ON managed_policy_versions
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER user_policy_attachments_invalidate AFTER INSERT OR UPDATE OR DELETE ON user_policy_attachments
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER registry_policies_invalidate AFTER INSERT OR UPDATE OR DELETE ON registry_policies
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('i');
CREATE TRIGGER account_settings_invalidate AFTER INSERT OR UPDATE OR DELETE ON account_settings
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('s');
CREATE TRIGGER registry_scanning_invalidate AFTER INSERT OR UPDATE OR DELETE ON registry_scanning
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('c');
CREATE TRIGGER vuln_records_invalidate AFTER INSERT OR UPDATE OR DELETE ON vuln_records
    FOR EACH STATEMENT EXECUTE FUNCTION berth_invalidate_all('v');
