//! Images as the ECR API lists and describes them: one per manifest
//! digest, with its tags and the compressed size of what it references.

use crate::{Registry, Repo, Result};
use berth_oci::Digest;
use berth_store::{ImageRecord, StatusFilter, TagStatus};

/// An image with its size: the sum of its blobs, or for an index, the
/// largest of its children (as ECR reports it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageDetail {
    pub record: ImageRecord,
    pub size: u64,
}

impl Registry {
    /// (digest, tag) pairs in order after `after`; untagged images once.
    pub async fn image_ids(
        &self,
        repo: &Repo,
        status: TagStatus,
        image_status: StatusFilter,
        after: Option<(&Digest, &str)>,
        limit: u32,
    ) -> Result<Vec<(Digest, Option<String>)>> {
        let repo_id = self.repo_id(repo).await?;
        Ok(self
            .meta
            .list_image_ids(repo_id, status, image_status, after, limit)
            .await?)
    }

    /// Image digests in order after `after`.
    pub async fn image_digests(
        &self,
        repo: &Repo,
        status: TagStatus,
        image_status: StatusFilter,
        after: Option<&Digest>,
        limit: u32,
    ) -> Result<Vec<Digest>> {
        let repo_id = self.repo_id(repo).await?;
        Ok(self
            .meta
            .list_image_digests(repo_id, status, image_status, after, limit)
            .await?)
    }

    /// The images among `digests` that exist, in the order given.
    pub async fn image_details(&self, repo: &Repo, digests: &[Digest]) -> Result<Vec<ImageDetail>> {
        let repo_id = self.repo_id(repo).await?;
        let records = self.meta.image_records(repo_id, digests).await?;
        let mut out = Vec::with_capacity(records.len());
        for mut record in records {
            if let Some(at) = self.pulls.pending(repo_id, &record.digest) {
                record.last_pulled_at = Some(record.last_pulled_at.unwrap_or(0).max(at));
            }
            let size = if record.children.is_empty() {
                record.blob_bytes
            } else {
                self.meta
                    .image_records(repo_id, &record.children)
                    .await?
                    .iter()
                    .map(|c| c.blob_bytes)
                    .max()
                    .unwrap_or(0)
            };
            out.push(ImageDetail { record, size });
        }
        Ok(out)
    }

    /// The digest a tag points at in the repository, if any.
    pub async fn tag_digest(&self, repo: &Repo, tag: &str) -> Result<Option<Digest>> {
        let repo_id = self.repo_id(repo).await?;
        self.resolve_tag(repo_id, tag).await
    }
}
