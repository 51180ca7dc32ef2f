-- A manifest body sealed in its repository's KMS key domain (issue 21):
-- kept with the repository's manifest row, so that only that key opens it.
-- The shared `manifest_bodies` row the foreign key needs then holds an empty
-- placeholder until an AES256 repository stores the same body.
ALTER TABLE manifests ADD COLUMN domain_body BLOB;
