-- As SQLite's 0026_manifest_domain_bodies.sql.
ALTER TABLE manifests ADD COLUMN domain_body BYTEA;
