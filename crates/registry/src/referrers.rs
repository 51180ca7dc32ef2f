//! The referrers listing (OCI distribution spec v1.1): the manifests in a
//! repository whose `subject` is a given manifest (signatures, SBOMs,
//! attestations). The subject need not exist.

use crate::{Registry, Repo, Result};
use berth_oci::Digest;
use berth_store::Referrer;

/// Referrers listed per request. The spec allows paging, but a subject with
/// more referrers than this is pathological; the cap bounds the response.
pub const MAX_REFERRERS: u32 = 10_000;

impl Registry {
    /// Referrers of `subject` in the repository, only those of
    /// `artifact_type` when given. An unknown repository has none (the spec
    /// forbids a 404 on this endpoint).
    pub async fn referrers(
        &self,
        repo: &Repo,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>> {
        let Some(repo_id) = self.find_repo_id(repo).await? else {
            return Ok(Vec::new());
        };
        Ok(self
            .meta
            .list_referrers(repo_id, subject, artifact_type, MAX_REFERRERS)
            .await?)
    }
}
