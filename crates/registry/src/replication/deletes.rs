//! `deleteReplication` (ECR's "replication of deletes"): what a source
//! repository loses, carried to a destination of this deployment or of
//! another one. A `Delete` task removes the image and its tags (the source
//! deleted it, expired it, or removed its last tag); an `Untag` task
//! removes one tag, only while it still names the source's image there (a
//! newer push of the tag keeps it). Both are idempotent: what is already
//! gone is done. Tasks of one image to one destination run in queue order
//! (the claim sees to it), so a delete never overtakes the copy before it.

use super::remote::{CopyError, RemoteDelete, RemoteRegistry};
use super::{Outcome, ACCESS_DENIED, INVALID_IMAGE};
use crate::manifests::Origin;
use crate::{Error, Registry, Repo, Result};
use berth_oci::{Digest, Reference, RepositoryName, Tag};
use berth_store::{NewReplicationTask, ReplicationAction};

/// An index at the destination still lists the image: its own delete,
/// queued too, lets this one through when it runs.
pub const REFERENCED_BY_INDEX: &str = "IMAGE_REFERENCED_BY_INDEX";

/// What a delete or untag task removes.
enum Removal {
    Image(Digest),
    Tag(Tag, Digest),
}

fn removal(t: &NewReplicationTask) -> Option<(RepositoryName, Removal)> {
    let name = RepositoryName::parse(&t.repository).ok()?;
    let digest = t.digest.parse::<Digest>().ok()?;
    match t.action {
        ReplicationAction::Untag => {
            let tag = Tag::parse(t.tag.as_deref()?).ok()?;
            Some((name, Removal::Tag(tag, digest)))
        }
        _ => Some((name, Removal::Image(digest))),
    }
}

fn unparsable() -> Outcome {
    Outcome::Failed {
        code: INVALID_IMAGE,
        why: "the task's repository, digest or tag does not parse".into(),
    }
}

impl Registry {
    pub(super) async fn remove_local(&self, t: &NewReplicationTask) -> Outcome {
        match self.try_remove_local(t).await {
            Ok(outcome) => outcome,
            Err(Error::Conflict(why)) => Outcome::Retry {
                code: REFERENCED_BY_INDEX,
                why,
            },
            Err(e) => super::copy::classify(e),
        }
    }

    async fn try_remove_local(&self, t: &NewReplicationTask) -> Result<Outcome> {
        let Some((name, what)) = removal(t) else {
            return Ok(unparsable());
        };
        let dest = Repo {
            registry: t.destination.clone(),
            name,
        };
        if self.find_repo_id(&dest).await?.is_none() {
            return Ok(Outcome::Complete);
        }
        if t.source.account_id != t.destination.account_id
            && !self.replication_allowed(&t.source, &dest, false).await?
        {
            return Ok(Outcome::Failed {
                code: ACCESS_DENIED,
                why: format!(
                    "the registry policy of {} in {} does not allow account {} ecr:ReplicateImage",
                    t.destination.account_id, t.destination.region, t.source.account_id
                ),
            });
        }
        let reference = match what {
            Removal::Image(digest) => Reference::Digest(digest),
            Removal::Tag(tag, digest) => {
                if self.tag_digest(&dest, tag.as_str()).await? != Some(digest) {
                    return Ok(Outcome::Complete);
                }
                Reference::Tag(tag)
            }
        };
        match self
            .remove_manifest(&dest, &reference, Origin::Replication)
            .await
        {
            Ok(()) | Err(Error::ManifestUnknown(_)) => {}
            Err(e) => return Err(e),
        }
        self.requeue_after_untag(t).await?;
        Ok(Outcome::Complete)
    }

    /// After an untag at the destination: a push of the tag at the source
    /// since may have been copied just before the untag removed it, so
    /// the image the source's tag names now is queued again (as after a
    /// copy, `requeue_if_moved`).
    async fn requeue_after_untag(&self, t: &NewReplicationTask) -> Result<()> {
        if t.action != ReplicationAction::Untag {
            return Ok(());
        }
        let Ok(name) = RepositoryName::parse(&t.repository) else {
            return Ok(());
        };
        let source = Repo {
            registry: t.source.clone(),
            name,
        };
        match self.find_repo_id(&source).await? {
            Some(id) => self.requeue_if_moved(t, id).await,
            None => Ok(()),
        }
    }

    pub(super) async fn remove_remote(
        &self,
        t: &NewReplicationTask,
        remote: &dyn RemoteRegistry,
    ) -> Outcome {
        match self.try_remove_remote(t, remote).await {
            Ok(outcome) => outcome,
            Err(e) => super::remote::outcome_of(e),
        }
    }

    async fn try_remove_remote(
        &self,
        t: &NewReplicationTask,
        remote: &dyn RemoteRegistry,
    ) -> std::result::Result<Outcome, CopyError> {
        if t.destination.account_id != t.source.account_id {
            return Ok(Outcome::Failed {
                code: ACCESS_DENIED,
                why: super::remote::other_account(t),
            });
        }
        let Some((name, what)) = removal(t) else {
            return Ok(unparsable());
        };
        let account = t.destination.account_id.as_str();
        let reference = match what {
            Removal::Image(digest) => digest.to_string(),
            Removal::Tag(tag, digest) => {
                if remote
                    .tag_digest(account, name.as_str(), tag.as_str())
                    .await?
                    != Some(digest)
                {
                    return Ok(Outcome::Complete);
                }
                tag.to_string()
            }
        };
        match remote
            .delete_manifest(account, name.as_str(), &reference)
            .await?
        {
            RemoteDelete::Deleted | RemoteDelete::NotFound => {}
            RemoteDelete::ListedByIndex(why) => {
                return Ok(Outcome::Retry {
                    code: REFERENCED_BY_INDEX,
                    why,
                })
            }
        }
        self.requeue_after_untag(t).await?;
        Ok(Outcome::Complete)
    }
}
