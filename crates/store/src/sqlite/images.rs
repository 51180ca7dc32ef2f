//! `ImageStore` on SQLite: `manifests`, `manifest_bodies`,
//! `manifest_references`, `tags`. `put_manifest` is where invariant 3 is
//! enforced: references, sizes, archived references, tag immutability and
//! PutImage's refusal are all decided inside its one write transaction.

use super::sql::{
    delete_manifest_row, digest_of, exists, first_referrer, from_i64, split_names, status_of,
    KIND_BLOB, KIND_MANIFEST,
};
use super::SqliteMetadataStore;
use crate::metadata::{
    DeleteManifestOutcome, ImageRecord, ImageStore, NewManifest, PutManifestOutcome, Referrer,
    RepoId, StatusFilter, StoredManifest, TagStatus, UntagOutcome,
};
use crate::Result;
use async_trait::async_trait;
use berth_oci::Digest;
use sqlx::Row;

#[async_trait]
impl ImageStore for SqliteMetadataStore {
    async fn record_pulls(&self, pulls: &[(RepoId, Digest, i64)]) -> Result<()> {
        if pulls.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin().await?;
        for (repo, digest, at) in pulls {
            sqlx::query(
                "UPDATE manifests SET last_pulled_at = MAX(COALESCE(last_pulled_at, 0), ?1)
                 WHERE repository_id = ?2 AND digest = ?3",
            )
            .bind(at)
            .bind(repo.0)
            .bind(digest.as_str())
            .execute(&mut **tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn put_manifest(&self, repo: RepoId, m: NewManifest<'_>) -> Result<PutManifestOutcome> {
        let mut tx = self.writer.begin().await?;
        if let (Some(tag), true) = (m.tag, m.tag_immutable) {
            let old: Option<String> =
                sqlx::query_scalar("SELECT digest FROM tags WHERE repository_id = ? AND name = ?")
                    .bind(repo.0)
                    .bind(tag)
                    .fetch_optional(&mut **tx)
                    .await?;
            if old.is_some_and(|d| d != m.digest.as_str()) {
                return Ok(PutManifestOutcome::TagImmutable);
            }
        }
        if m.refuse_existing {
            let there: Option<i64> = match m.tag {
                Some(tag) => sqlx::query_scalar(
                    "SELECT 1 FROM tags WHERE repository_id = ? AND name = ? AND digest = ?",
                )
                .bind(repo.0)
                .bind(tag)
                .bind(m.digest.as_str()),
                None => sqlx::query_scalar(
                    "SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ? AND storage_status = 0",
                )
                .bind(repo.0)
                .bind(m.digest.as_str()),
            }
            .fetch_optional(&mut **tx)
            .await?;
            if there.is_some() {
                return Ok(PutManifestOutcome::AlreadyExists);
            }
        }
        let (mut missing, mut archived_blobs, mut archived_manifests, mut wrong_sizes) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (d, declared) in m.blob_refs {
            let found: Option<(i64, i64)> = sqlx::query_as(
                "SELECT b.archived, b.size FROM repository_blobs l JOIN blobs b ON b.digest = l.digest
                 WHERE l.repository_id = ? AND l.digest = ?",
            )
            .bind(repo.0)
            .bind(d.as_str())
            .fetch_optional(&mut **tx)
            .await?;
            match found {
                None => missing.push(d.clone()),
                Some((_, size)) if from_i64(size) != *declared => {
                    wrong_sizes.push((d.clone(), *declared, from_i64(size)))
                }
                Some((0, _)) => {}
                Some(_) => archived_blobs.push(d.clone()),
            }
        }
        for (d, declared) in m.manifest_refs {
            let found: Option<(i64, i64)> = sqlx::query_as(
                "SELECT storage_status, size FROM manifests WHERE repository_id = ? AND digest = ?",
            )
            .bind(repo.0)
            .bind(d.as_str())
            .fetch_optional(&mut **tx)
            .await?;
            match found {
                None => missing.push(d.clone()),
                Some((_, size)) if from_i64(size) != *declared => {
                    wrong_sizes.push((d.clone(), *declared, from_i64(size)))
                }
                Some((0, _)) => {}
                Some(_) => archived_manifests.push(d.clone()),
            }
        }
        if !missing.is_empty() {
            missing.dedup();
            return Ok(PutManifestOutcome::MissingReferences(missing));
        }
        if !wrong_sizes.is_empty() {
            wrong_sizes.dedup();
            return Ok(PutManifestOutcome::WrongSizes(wrong_sizes));
        }
        if !archived_blobs.is_empty() || !archived_manifests.is_empty() {
            archived_blobs.dedup();
            archived_manifests.dedup();
            return Ok(PutManifestOutcome::Archived {
                blobs: archived_blobs,
                manifests: archived_manifests,
            });
        }
        sqlx::query(crate::manifest_sql::INSERT_MANIFEST_BODY)
            .bind(m.digest.as_str())
            .bind(crate::manifest_sql::shared_body(&m))
            .execute(&mut **tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO manifests (repository_id, digest, media_type, size, artifact_type, annotations, subject, pushed_at, domain_body)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (repository_id, digest) DO NOTHING",
        )
        .bind(repo.0)
        .bind(m.digest.as_str())
        .bind(m.media_type)
        .bind(crate::stored::to_i64(m.size))
        .bind(m.artifact_type)
        .bind(m.annotations)
        .bind(m.subject.map(|s| s.as_str()))
        .bind(m.now)
        .bind(m.repository_body.then_some(m.body))
        .execute(&mut **tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            let refs = m
                .blob_refs
                .iter()
                .map(|(d, _)| (d, KIND_BLOB))
                .chain(m.manifest_refs.iter().map(|(d, _)| (d, KIND_MANIFEST)));
            for (target, kind) in refs {
                sqlx::query(
                    "INSERT OR IGNORE INTO manifest_references (repository_id, manifest_digest, target, kind) VALUES (?, ?, ?, ?)",
                )
                .bind(repo.0)
                .bind(m.digest.as_str())
                .bind(target.as_str())
                .bind(kind)
                .execute(&mut **tx)
                .await?;
            }
        } else {
            // A push of an archived image restores it (its references were
            // checked above to be back in the blob store).
            sqlx::query(
                "UPDATE manifests SET storage_status = 0, activated_at = ? WHERE repository_id = ? AND digest = ? AND storage_status <> 0",
            )
            .bind(m.now)
            .bind(repo.0)
            .bind(m.digest.as_str())
            .execute(&mut **tx)
            .await?;
        }
        let mut previous = None;
        if let Some(tag) = m.tag {
            let old: Option<String> =
                sqlx::query_scalar("SELECT digest FROM tags WHERE repository_id = ? AND name = ?")
                    .bind(repo.0)
                    .bind(tag)
                    .fetch_optional(&mut **tx)
                    .await?;
            if old.as_deref() != Some(m.digest.as_str()) {
                sqlx::query(
                    "INSERT INTO tags (repository_id, name, digest, updated_at) VALUES (?, ?, ?, ?)
                     ON CONFLICT (repository_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
                )
                .bind(repo.0)
                .bind(tag)
                .bind(m.digest.as_str())
                .bind(m.now)
                .execute(&mut **tx)
                .await?;
                previous = old.map(digest_of).transpose()?;
            }
        }
        tx.commit().await?;
        Ok(PutManifestOutcome::Stored { previous })
    }

    async fn get_manifest(&self, repo: RepoId, digest: &Digest) -> Result<Option<StoredManifest>> {
        let row = sqlx::query(crate::manifest_sql::GET_MANIFEST)
            .bind(repo.0)
            .bind(digest.as_str())
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| {
            Ok(StoredManifest {
                media_type: r.get(0),
                body: bytes::Bytes::from(r.get::<Vec<u8>, _>(1)),
                status: status_of(r.get(2))?,
                domain_key: r.get(3),
            })
        })
        .transpose()
    }

    async fn delete_manifest(
        &self,
        repo: RepoId,
        digest: &Digest,
    ) -> Result<DeleteManifestOutcome> {
        let mut tx = self.writer.begin().await?;
        if !exists(
            &mut tx,
            "SELECT 1 FROM manifests WHERE repository_id = ? AND digest = ?",
            repo,
            digest.as_str(),
        )
        .await?
        {
            return Ok(DeleteManifestOutcome::NotFound);
        }
        if let Some(index) = first_referrer(&mut tx, repo, digest, KIND_MANIFEST).await? {
            return Ok(DeleteManifestOutcome::ReferencedBy(index));
        }
        let tags: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM tags WHERE repository_id = ? AND digest = ? ORDER BY name",
        )
        .bind(repo.0)
        .bind(digest.as_str())
        .fetch_all(&mut **tx)
        .await?;
        delete_manifest_row(&mut tx, repo, digest).await?;
        tx.commit().await?;
        Ok(DeleteManifestOutcome::Deleted { tags })
    }

    async fn untag(&self, repo: RepoId, tag: &str) -> Result<UntagOutcome> {
        let mut tx = self.writer.begin().await?;
        let digest: Option<String> = sqlx::query_scalar(
            "DELETE FROM tags WHERE repository_id = ? AND name = ? RETURNING digest",
        )
        .bind(repo.0)
        .bind(tag)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(digest) = digest.map(digest_of).transpose()? else {
            return Ok(UntagOutcome::NotFound);
        };
        let still_tagged = exists(
            &mut tx,
            "SELECT 1 FROM tags WHERE repository_id = ? AND digest = ? LIMIT 1",
            repo,
            digest.as_str(),
        )
        .await?;
        let image_deleted = !still_tagged
            && first_referrer(&mut tx, repo, &digest, KIND_MANIFEST)
                .await?
                .is_none();
        if image_deleted {
            delete_manifest_row(&mut tx, repo, &digest).await?;
        }
        tx.commit().await?;
        Ok(UntagOutcome::Untagged {
            digest,
            image_deleted,
        })
    }

    async fn resolve_tag(&self, repo: RepoId, tag: &str) -> Result<Option<Digest>> {
        let d: Option<String> =
            sqlx::query_scalar("SELECT digest FROM tags WHERE repository_id = ? AND name = ?")
                .bind(repo.0)
                .bind(tag)
                .fetch_optional(&self.reader)
                .await?;
        d.map(digest_of).transpose()
    }

    async fn list_referrers(
        &self,
        repo: RepoId,
        subject: &Digest,
        artifact_type: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Referrer>> {
        let rows = sqlx::query(
            "SELECT digest, media_type, size, artifact_type, annotations FROM manifests
             WHERE repository_id = ? AND subject = ? AND (? IS NULL OR artifact_type = ?)
             ORDER BY digest LIMIT ?",
        )
        .bind(repo.0)
        .bind(subject.as_str())
        .bind(artifact_type)
        .bind(artifact_type)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Referrer {
                    digest: digest_of(r.get(0))?,
                    media_type: r.get(1),
                    size: r.get::<i64, _>(2) as u64,
                    artifact_type: r.get(3),
                    annotations: r.get(4),
                })
            })
            .collect()
    }

    async fn list_image_ids(
        &self,
        repo: RepoId,
        status: TagStatus,
        image_status: StatusFilter,
        after: Option<(&Digest, &str)>,
        limit: u32,
    ) -> Result<Vec<(Digest, Option<String>)>> {
        let by_status = image_status.sql();
        let filter = match status {
            TagStatus::Tagged => "AND t.name IS NOT NULL",
            TagStatus::Untagged => "AND t.name IS NULL",
            TagStatus::Any => "",
        };
        let (d, t) = after.map(|(d, t)| (d.as_str(), t)).unwrap_or(("", ""));
        let rows = sqlx::query(&format!(
            "SELECT m.digest, t.name FROM manifests m
             LEFT JOIN tags t ON t.repository_id = m.repository_id AND t.digest = m.digest
             WHERE m.repository_id = ? AND (m.digest, COALESCE(t.name, '')) > (?, ?) {filter} {by_status}
             ORDER BY m.digest, COALESCE(t.name, '') LIMIT ?"
        ))
        .bind(repo.0)
        .bind(d)
        .bind(t)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|r| Ok((digest_of(r.get(0))?, r.get(1))))
            .collect()
    }

    async fn list_image_digests(
        &self,
        repo: RepoId,
        status: TagStatus,
        image_status: StatusFilter,
        after: Option<&Digest>,
        limit: u32,
    ) -> Result<Vec<Digest>> {
        let by_status = image_status.sql();
        let filter = match status {
            TagStatus::Tagged => "AND EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)",
            TagStatus::Untagged => "AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.repository_id = m.repository_id AND t.digest = m.digest)",
            TagStatus::Any => "",
        };
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT m.digest FROM manifests m WHERE m.repository_id = ? AND m.digest > ? {filter} {by_status} ORDER BY m.digest LIMIT ?"
        ))
        .bind(repo.0)
        .bind(after.map(Digest::as_str).unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(digest_of).collect()
    }

    async fn image_records(&self, repo: RepoId, digests: &[Digest]) -> Result<Vec<ImageRecord>> {
        let mut conn = self.reader.acquire().await?;
        let mut out = Vec::with_capacity(digests.len());
        for d in digests {
            let Some(row) = sqlx::query(
                "SELECT m.media_type, m.artifact_type, m.subject, m.pushed_at, m.last_pulled_at,
                    m.storage_status, m.archived_at, m.activated_at,
                    (SELECT group_concat(name, char(10)) FROM (SELECT name FROM tags WHERE repository_id = m.repository_id AND digest = m.digest ORDER BY name)),
                    (SELECT COALESCE(SUM(b.size), 0) FROM manifest_references r JOIN blobs b ON b.digest = r.target
                       WHERE r.repository_id = m.repository_id AND r.manifest_digest = m.digest AND r.kind = 0),
                    (SELECT group_concat(target, char(10)) FROM manifest_references r
                       WHERE r.repository_id = m.repository_id AND r.manifest_digest = m.digest AND r.kind = 1)
                 FROM manifests m WHERE m.repository_id = ? AND m.digest = ?",
            )
            .bind(repo.0)
            .bind(d.as_str())
            .fetch_optional(&mut *conn)
            .await?
            else {
                continue;
            };
            let subject: Option<String> = row.get(2);
            out.push(ImageRecord {
                digest: d.clone(),
                media_type: row.get(0),
                artifact_type: row.get(1),
                subject: subject.map(digest_of).transpose()?,
                pushed_at: row.get(3),
                last_pulled_at: row.get(4),
                status: status_of(row.get(5))?,
                archived_at: row.get(6),
                activated_at: row.get(7),
                tags: split_names(row.get(8)),
                blob_bytes: row.get::<i64, _>(9) as u64,
                children: split_names(row.get(10))
                    .into_iter()
                    .map(digest_of)
                    .collect::<Result<_>>()?,
            });
        }
        Ok(out)
    }

    async fn list_tags(
        &self,
        repo: RepoId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        let joined: Option<String> = sqlx::query_scalar(
            "SELECT group_concat(name, char(10) ORDER BY name) FROM
             (SELECT t.name FROM tags t WHERE t.repository_id = ? AND t.name > ?
                AND NOT EXISTS (SELECT 1 FROM manifests m
                    WHERE m.repository_id = t.repository_id AND m.digest = t.digest AND m.storage_status <> 0)
              ORDER BY t.name LIMIT ?)",
        )
        .bind(repo.0)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_one(&self.reader)
        .await?;
        Ok(split_names(joined))
    }
}
