use berth_oci::Digest;
use berth_store::StoreError;

/// Everything a registry operation can refuse or fail with. The `server`
/// crate maps each variant, in one place, to the protocol's error code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("repository '{0}' does not exist")]
    NameUnknown(String),
    #[error("blob {0} is not in this repository")]
    BlobUnknown(Digest),
    #[error("upload session '{0}' does not exist in this repository (it may have completed, been cancelled or expired)")]
    BlobUploadUnknown(String),
    #[error("{0}")]
    BlobUploadInvalid(String),
    #[error("{0}")]
    DigestInvalid(String),
    #[error("the upload has {size} bytes; the next chunk must start at byte {size}")]
    RangeNotSatisfiable { size: u64 },
    #[error("the requested range is outside the blob, which has {size} bytes")]
    BlobRangeNotSatisfiable { size: u64 },
    #[error("manifest '{0}' is not in this repository")]
    ManifestUnknown(String),
    #[error("{0}")]
    ManifestInvalid(String),
    #[error("manifest is {size} bytes; the limit is {limit} bytes")]
    ManifestTooLarge { size: usize, limit: usize },
    #[error("the manifest references {} that this repository does not have: {}", if .0.len() == 1 { "a blob or manifest" } else { "blobs or manifests" }, join(.0))]
    ManifestBlobUnknown(Vec<Digest>),
    #[error("{0}")]
    Conflict(String),
    #[error("The image tag '{tag}' already exists in the '{repository}' repository and cannot be overwritten because the repository is immutable.")]
    TagImmutable { tag: String, repository: String },
    /// PutImage of an image already there under the tag (or, untagged, at
    /// all).
    #[error("image {digest}{} already exists in repository '{repository}'", tag.as_ref().map(|t| format!(" with tag '{t}'")).unwrap_or_default())]
    ImageAlreadyExists {
        digest: berth_oci::Digest,
        tag: Option<String>,
        repository: String,
    },
    #[error("repository '{0}' already exists")]
    RepositoryAlreadyExists(String),
    /// A repository creation template for this prefix exists already.
    #[error("a repository creation template with prefix '{0}' already exists")]
    TemplateAlreadyExists(String),
    #[error("no repository creation template has prefix '{0}'")]
    TemplateNotFound(String),
    #[error("the registry has {max} repository creation templates, the most allowed")]
    TooManyTemplates { max: u32 },
    #[error("repository '{0}' still contains images; delete them first or delete with force")]
    RepositoryNotEmpty(String),
    #[error("{0}")]
    InvalidTag(String),
    #[error("repository '{0}' has no repository policy")]
    RepositoryPolicyNotFound(String),
    #[error("the registry has no registry policy")]
    RegistryPolicyNotFound,
    #[error("repository '{0}' has no lifecycle policy")]
    LifecyclePolicyNotFound(String),
    #[error("repository '{0}' has had no lifecycle policy preview")]
    LifecyclePreviewNotFound(String),
    #[error("a lifecycle policy preview of repository '{0}' is still in progress")]
    LifecyclePreviewInProgress(String),
    #[error("repository '{repository}' would have more than {max} tags")]
    TooManyTags { repository: String, max: usize },
    #[error("image '{reference}' is {} (in the archive storage class) and cannot be pulled; restore it with UpdateImageStorageClass to STANDARD (`aws ecr update-image-storage-class --target-storage-class STANDARD`) or push it again", .status.api_name())]
    ImageArchived {
        reference: String,
        status: berth_store::ImageStatus,
    },
    #[error("blob {0} is used only by archived images and is in the archive storage class; restore an image that uses it to read it")]
    BlobArchived(Digest),
    /// UpdateImageStorageClass cannot make this change.
    #[error("{0}")]
    StorageClassUpdateNotSupported(String),
    #[error("{0}")]
    Unsupported(String),
    /// StartImageScan of a manifest that is not a container image.
    #[error("{0}")]
    UnsupportedImageType(String),
    #[error("{0}")]
    InvalidParameter(String),
    /// The caller may not do this (the message names the caller).
    #[error("{0}")]
    AccessDenied(String),
    /// An account, user or access key that does not exist.
    #[error("{0}")]
    NoSuchEntity(String),
    /// An account or user that exists already.
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// IAM: a delete refused while something still depends on the entity.
    #[error("{0}")]
    DeleteConflict(String),
    /// IAM: a quota (two access keys per user, policy size).
    #[error("{0}")]
    LimitExceeded(String),
    /// IAM: a policy document that is not a policy.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// STS: the session policies are too large.
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    /// Too many upload sessions are open (`RegistryConfig::upload_sessions`).
    #[error("{}", too_many_uploads(.by_principal, .repository, *.open, *.expiry_hours))]
    TooManyUploads {
        /// The caller's own sessions (else the repository's) are at the cap.
        by_principal: bool,
        repository: String,
        open: u64,
        expiry_hours: u64,
    },
    /// KMS (and, on ECR, a KMS key's refusal): the exception KMS names
    /// (`NotFoundException`, `DisabledException`, ...) and its message.
    #[error("{message}")]
    Kms { code: &'static str, message: String },
    /// A replication backfill refused (`ReplicationBackfillNotFoundException`,
    /// `ReplicationBackfillInProgressException`, ...), in ECR's words.
    #[error("{message}")]
    Backfill { code: &'static str, message: String },
    #[error("reading the request body failed: {0}")]
    BodyRead(std::io::Error),
    /// The data volume is full; nothing was stored. Its own variant so
    /// that each protocol can say so (and keep it apart from a fault).
    #[error("no space left on the registry's data volume")]
    NoSpace,
    /// A store cannot be reached (the metadata database restarting, a
    /// network cut): nothing was changed, and the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// A storage fault (I/O, a corrupt record): the server logs it and
    /// answers a generic internal error.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NoSpace => Error::NoSpace,
            StoreError::Unavailable(why) => Error::Unavailable(why),
            // A session whose record or temporary object vanished is, to
            // the client, an upload that does not exist.
            StoreError::UploadNotFound(id) => Error::BlobUploadUnknown(id),
            other => Error::Store(other),
        }
    }
}

fn too_many_uploads(by_principal: &bool, repository: &str, open: u64, expiry_hours: u64) -> String {
    let whose = if *by_principal {
        "you have".to_string()
    } else {
        format!("repository '{repository}' has")
    };
    format!(
        "{whose} {open} upload sessions open, the most allowed; an unfinished session expires {expiry_hours} hours after its last request (--upload-expiry-hours), or cancel one with DELETE /v2/<name>/blobs/uploads/<id>"
    )
}

fn join(ds: &[Digest]) -> String {
    ds.iter().map(Digest::as_str).collect::<Vec<_>>().join(", ")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
