//! One replication task within this deployment: the image copied from its
//! source repository into the same-named repository of the destination
//! registry (another region or account of this berth). Blobs are linked,
//! not written (copied once only into another KMS key's domain); the
//! manifest is stored as a push stores it. Every step is idempotent, so a
//! task run twice (a node died holding it) changes nothing the second time.

use super::image::{ReplicaSink, SourceImage};
use super::{
    Outcome, ACCESS_DENIED, IMAGE_NOT_FOUND, INVALID_IMAGE, KMS_ERROR, TAG_IMMUTABLE, UNAVAILABLE,
};
use crate::{Error, Registry, Repo, RepositorySettings, Result};
use berth_oci::{Digest, Reference};
use berth_store::{NewReplicationTask, ReplicationAction, RepoId};

impl Registry {
    pub(super) async fn replicate(&self, task: &NewReplicationTask) -> Outcome {
        let remote = self.replication_remotes.get(&task.destination.region);
        if task.action != ReplicationAction::Replicate {
            return match remote {
                Some(remote) => self.remove_remote(task, &**remote).await,
                None => self.remove_local(task).await,
            };
        }
        if let Some(remote) = remote {
            return self.replicate_remote(task, &**remote).await;
        }
        match self.try_replicate(task).await {
            Ok(outcome) => outcome,
            Err(e) => classify(e),
        }
    }

    async fn try_replicate(&self, t: &NewReplicationTask) -> Result<Outcome> {
        let src = match self.source_image(t).await? {
            Ok(src) => src,
            Err(outcome) => return Ok(outcome),
        };
        let dest = Repo {
            registry: t.destination.clone(),
            name: src.repo.name.clone(),
        };
        let exists = self.find_repo_id(&dest).await?.is_some();
        if t.source.account_id != t.destination.account_id
            && !self.replication_allowed(&t.source, &dest, !exists).await?
        {
            return Ok(failed(
                ACCESS_DENIED,
                &format!(
                    "the registry policy of {} in {} does not allow account {} ecr:ReplicateImage{}",
                    t.destination.account_id,
                    t.destination.region,
                    t.source.account_id,
                    if exists { "" } else { " and ecr:CreateRepository" }
                ),
            ));
        }
        if !exists {
            self.create_replica_repository(&dest).await?;
        }
        let sink = LocalSink {
            registry: self,
            src: &src,
            dest: &dest,
        };
        self.copy_image(t, &src, &sink).await?;
        Ok(Outcome::Complete)
    }

    /// After a tag was set (or removed) at the destination: if the
    /// source's tag moved meanwhile, the newer image's own task may have
    /// finished first and been overwritten just now, so its replication is
    /// queued again (the newest push wins however the tasks interleave).
    pub(super) async fn requeue_if_moved(
        &self,
        t: &NewReplicationTask,
        source_id: RepoId,
    ) -> Result<()> {
        let Some(tag) = &t.tag else {
            return Ok(());
        };
        match self.meta.resolve_tag(source_id, tag).await? {
            Some(now) if now.as_str() != t.digest => {
                let again = NewReplicationTask {
                    digest: now.to_string(),
                    action: ReplicationAction::Replicate,
                    ..t.clone()
                };
                self.meta
                    .enqueue_replications(std::slice::from_ref(&again), self.now())
                    .await?;
                self.replication_wake.notify_one();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A replication's destination repository, created from the
    /// destination registry's matching `REPLICATION` creation template,
    /// else with defaults (ECR's: the source's settings are not copied);
    /// also what another deployment's replication asks for (a
    /// CreateRepository marked `X-Berth-Replica`). False when it existed
    /// already (one made meanwhile by another caller counts as made: the
    /// template path, `create_from_template`, takes it as it finds it).
    pub async fn create_replica_repository(&self, dest: &Repo) -> Result<bool> {
        if self.find_repo_id(dest).await?.is_some() {
            return Ok(false);
        }
        let name = dest.name.as_str();
        if let Some(t) = self
            .template_for(&dest.registry, name, crate::templates::REPLICATION)
            .await?
        {
            self.create_from_template(dest, &t).await?;
            return Ok(true);
        }
        match self
            .create_repository(
                &dest.registry,
                &dest.name,
                RepositorySettings::default(),
                &[],
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(Error::RepositoryAlreadyExists(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether the destination's registry policy lets the source account
    /// replicate into `dest` (`ecr:ReplicateImage`, and
    /// `ecr:CreateRepository` when it must be created), as AWS requires for
    /// cross-account replication: the policy must name the source account.
    pub(super) async fn replication_allowed(
        &self,
        source: &berth_store::RegistryKey,
        dest: &Repo,
        create: bool,
    ) -> Result<bool> {
        let Some(text) = self.meta.registry_policy(&dest.registry).await? else {
            return Ok(false);
        };
        let policy = crate::identity::parse_stored(&text, berth_iam::policy::PolicyKind::Resource)?;
        let caller = crate::Principal::user(&source.account_id, crate::identity::ADMIN_USER);
        let resource = format!(
            "arn:aws:ecr:{}:{}:repository/{}",
            dest.registry.region,
            dest.registry.account_id,
            dest.name.as_str()
        );
        let mut actions = vec!["ecr:ReplicateImage"];
        if create {
            actions.push("ecr:CreateRepository");
        }
        for action in actions {
            let (decision, _) = self
                .identity
                .decide_with_own_policy(
                    &caller,
                    action,
                    &resource,
                    &dest.registry.account_id,
                    &policy,
                    &Default::default(),
                    &[],
                )
                .await?;
            if !decision.is_allowed() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A repository of this deployment as a replica's destination: blobs
/// linked as a mount links them, manifests stored as a push stores them
/// (never replicated on).
struct LocalSink<'a> {
    registry: &'a Registry,
    src: &'a SourceImage,
    dest: &'a Repo,
}

#[async_trait::async_trait]
impl ReplicaSink for LocalSink<'_> {
    type Error = Error;

    async fn blob(&self, digest: &Digest) -> Result<()> {
        let linked = self
            .registry
            .link_blob_from(self.dest, &self.src.repo, self.src.id, digest)
            .await?;
        match linked {
            Some(_) => Ok(()),
            None => Err(Error::ManifestBlobUnknown(vec![digest.clone()])),
        }
    }

    async fn put(&self, reference: &Reference, media_type: &str, body: bytes::Bytes) -> Result<()> {
        self.registry
            .store_manifest(
                self.dest,
                reference,
                Some(media_type),
                body,
                crate::manifests::Origin::Replication,
            )
            .await
            .map(|_| ())
    }
}

fn failed(code: &'static str, why: &str) -> Outcome {
    Outcome::Failed {
        code,
        why: why.to_string(),
    }
}

/// Which failures may pass when tried again.
pub(super) fn classify(e: Error) -> Outcome {
    let why = e.to_string();
    match e {
        Error::TagImmutable { .. } => Outcome::Failed {
            code: TAG_IMMUTABLE,
            why,
        },
        Error::Kms { .. } => Outcome::Retry {
            code: KMS_ERROR,
            why,
        },
        Error::ManifestInvalid(_) | Error::ManifestTooLarge { .. } | Error::InvalidTag(_) => {
            Outcome::Failed {
                code: INVALID_IMAGE,
                why,
            }
        }
        Error::ManifestUnknown(_) | Error::NameUnknown(_) => Outcome::Failed {
            code: IMAGE_NOT_FOUND,
            why,
        },
        _ => Outcome::Retry {
            code: UNAVAILABLE,
            why,
        },
    }
}
