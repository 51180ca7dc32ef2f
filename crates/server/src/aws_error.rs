//! The one place where failures become AWS errors: AWS JSON errors on the
//! ECR API (`{"__type": "<Name>Exception", "message": ...}` with
//! `X-Amzn-ErrorType`, so that botocore and the SDKs raise the named
//! exception), and the Query protocol's codes and statuses on the IAM and
//! STS APIs ([`QueryError`]; `iam::xml` writes them as XML).

use axum::response::{IntoResponse, Response};
use berth_registry::Error;
use http::{HeaderValue, StatusCode};

#[derive(Debug)]
pub struct AwsError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    /// Members some exceptions add (InvalidLayerPartException's
    /// `lastValidByteReceived`, ...).
    fields: serde_json::Map<String, serde_json::Value>,
}

impl AwsError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        AwsError {
            status,
            kind,
            message: message.into(),
            fields: serde_json::Map::new(),
        }
    }

    pub fn with_field(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.fields.insert(name.to_string(), value.into());
        self
    }

    /// A client error (400) of a modelled exception.
    pub fn client(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::client("InvalidParameterException", message)
    }

    /// The same error with another HTTP status (the admin API answers
    /// authentication failures with 401/403 where the ECR API uses 400).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message a person reads (the console shows it).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The same failure as the IAM and STS Query APIs name it: signature
    /// failures carry those services' codes and statuses (403 where the
    /// JSON services answer 400).
    pub fn into_query(self) -> QueryError {
        let (status, code) = match self.kind {
            "UnrecognizedClientException" => (StatusCode::FORBIDDEN, "InvalidClientTokenId"),
            "ExpiredTokenException" => (StatusCode::FORBIDDEN, "ExpiredToken"),
            "InvalidSignatureException" => (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"),
            "IncompleteSignatureException" => (StatusCode::BAD_REQUEST, "IncompleteSignature"),
            "MissingAuthenticationTokenException" => {
                (StatusCode::FORBIDDEN, "MissingAuthenticationToken")
            }
            "AccessDeniedException" => (StatusCode::FORBIDDEN, "AccessDenied"),
            "NoSuchEntityException" => (StatusCode::NOT_FOUND, "NoSuchEntity"),
            "EntityAlreadyExistsException" => (StatusCode::CONFLICT, "EntityAlreadyExists"),
            "InvalidParameterException" | "SerializationException" => {
                (StatusCode::BAD_REQUEST, "ValidationError")
            }
            _ if self.status.is_server_error() => (self.status, "ServiceFailure"),
            _ => (self.status, "InvalidInput"),
        };
        QueryError::new(status, code, self.message)
    }

    /// A registry failure, with the registry id ECR's messages name.
    pub fn from_registry(e: Error, registry_id: &str) -> Self {
        match e {
            Error::NameUnknown(name) => Self::client(
                "RepositoryNotFoundException",
                format!("The repository with name '{name}' does not exist in the registry with id '{registry_id}'"),
            ),
            Error::RepositoryAlreadyExists(name) => Self::client(
                "RepositoryAlreadyExistsException",
                format!("The repository with name '{name}' already exists in the registry with id '{registry_id}'"),
            ),
            Error::TemplateAlreadyExists(prefix) => Self::client(
                "TemplateAlreadyExistsException",
                format!("The repository creation template with prefix '{prefix}' already exists in the registry with id '{registry_id}'"),
            ),
            Error::TemplateNotFound(prefix) => Self::client(
                "TemplateNotFoundException",
                format!("The repository creation template with prefix '{prefix}' does not exist in the registry with id '{registry_id}'"),
            ),
            Error::TooManyTemplates { max } => Self::client(
                "LimitExceededException",
                format!("The operation did not succeed because it would have exceeded a service limit for your account. The registry with id '{registry_id}' has {max} repository creation templates, the most allowed"),
            ),
            Error::RepositoryNotEmpty(name) => Self::client(
                "RepositoryNotEmptyException",
                format!("The repository with name '{name}' in registry with id '{registry_id}' cannot be deleted because it still contains images"),
            ),
            Error::InvalidParameter(m) => Self::invalid_parameter(m),
            e @ Error::BlobUploadUnknown(_) => Self::client("UploadNotFoundException", e.to_string()),
            Error::InvalidTag(m) => Self::client("InvalidTagParameterException", m),
            Error::RepositoryPolicyNotFound(name) => Self::client(
                "RepositoryPolicyNotFoundException",
                format!("Repository policy does not exist for the repository with name '{name}' in the registry with id '{registry_id}'"),
            ),
            Error::RegistryPolicyNotFound => Self::client(
                "RegistryPolicyNotFoundException",
                format!("Registry policy does not exist in the registry with id '{registry_id}'"),
            ),
            Error::LifecyclePolicyNotFound(name) => Self::client(
                "LifecyclePolicyNotFoundException",
                format!("Lifecycle policy does not exist for the repository with name '{name}' in the registry with id '{registry_id}'"),
            ),
            Error::LifecyclePreviewNotFound(name) => Self::client(
                "LifecyclePolicyPreviewNotFoundException",
                format!("There is no lifecycle policy preview for the repository with name '{name}' in the registry with id '{registry_id}'"),
            ),
            Error::LifecyclePreviewInProgress(name) => Self::client(
                "LifecyclePolicyPreviewInProgressException",
                format!("A lifecycle policy preview is still in progress for the repository with name '{name}' in the registry with id '{registry_id}'; wait for it to complete"),
            ),
            Error::UnsupportedImageType(m) => Self::client("UnsupportedImageTypeException", m),
            e @ Error::TooManyTags { .. } => Self::client("TooManyTagsException", e.to_string()),
            e @ Error::ImageArchived { .. } => Self::client("ImageNotFoundException", e.to_string()),
            e @ Error::BlobArchived(_) => Self::client("LayerInaccessibleException", e.to_string()),
            Error::StorageClassUpdateNotSupported(m) => {
                Self::client("ImageStorageClassUpdateNotSupportedException", m)
            }
            // Raised by the admin API (accounts, users, keys), with IAM's names.
            Error::AccessDenied(m) => Self::new(StatusCode::FORBIDDEN, "AccessDeniedException", m),
            Error::NoSuchEntity(m) => Self::new(StatusCode::NOT_FOUND, "NoSuchEntityException", m),
            Error::EntityAlreadyExists(m) => {
                Self::new(StatusCode::CONFLICT, "EntityAlreadyExistsException", m)
            }
            e @ Error::TagImmutable { .. } => {
                Self::client("ImageTagAlreadyExistsException", e.to_string())
            }
            Error::ImageAlreadyExists {
                digest,
                tag,
                repository,
            } => Self::client(
                "ImageAlreadyExistsException",
                format!(
                    "Image with digest '{digest}'{} already exists in the repository with name '{repository}' in registry with id '{registry_id}'",
                    tag.map(|t| format!(" and tag '{t}'")).unwrap_or_default()
                ),
            ),
            Error::TooManyUploads {
                by_principal,
                repository,
                open,
                expiry_hours,
            } => Self::client(
                "LimitExceededException",
                format!(
                    "The operation did not succeed because it would have exceeded a service limit for your account. {} {open} layer uploads in progress, the most allowed; an upload that receives no part for {expiry_hours} hours expires",
                    if by_principal {
                        "The caller has".to_string()
                    } else {
                        format!("The repository with name '{repository}' in registry with id '{registry_id}' has")
                    }
                ),
            ),
            Error::NoSpace => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServerException",
                "no space left on the registry's data volume; nothing was stored",
            ),
            // ECR's model has no 503 exception; ServerException with 503
            // is retried by the SDKs (503 is a transient status to all).
            Error::Unavailable(why) => {
                tracing::warn!(error = %why, "a store is unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServerException",
                    "the registry's storage is unavailable; nothing was changed. Retry shortly",
                )
            }
            Error::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServerException",
                    "internal storage error; the server log has the details",
                )
            }
            // A KMS key's refusal of what ECR asked of it (ECR's
            // KmsException carries KMS's own error code).
            Error::Kms { code, message } => {
                Self::client("KmsException", message).with_field("kmsError", code)
            }
            Error::Backfill { code, message } => Self::client(code, message),
            other => Self::invalid_parameter(other.to_string()),
        }
    }

    /// A registry failure on the KMS API: KMS's own exceptions as the
    /// domain names them; faults as KMS's retryable ones.
    pub fn from_kms(e: Error) -> Self {
        match e {
            Error::Kms { code, message } => Self::client(code, message),
            Error::Conflict(m) => Self::client("ConflictException", m),
            Error::NoSuchEntity(m) => Self::client("NotFoundException", m),
            Error::AccessDenied(m) => Self::client("AccessDeniedException", m),
            Error::Unavailable(why) => {
                tracing::warn!(error = %why, "a store is unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "DependencyTimeoutException",
                    "the registry's storage is unavailable; nothing was changed. Retry shortly",
                )
            }
            Error::NoSpace => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "KMSInternalException",
                "no space left on the registry's data volume; nothing was stored",
            ),
            Error::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "KMSInternalException",
                    "internal storage error; the server log has the details",
                )
            }
            other => Self::client("ValidationException", other.to_string()),
        }
    }
}

/// A failure on the AWS Query protocol (IAM, STS): `<ErrorResponse>` with
/// `<Code>` and AWS's status for it.
#[derive(Debug)]
pub struct QueryError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl QueryError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        QueryError {
            status,
            code,
            message: message.into(),
        }
    }

    /// A malformed request: a missing or invalid parameter (AWS's
    /// `ValidationError`, what IAM answers for the model's constraints).
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ValidationError", message)
    }

    /// `Sender` or `Receiver`, the `<Type>` of the error.
    pub fn fault(&self) -> &'static str {
        if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        }
    }

    /// A registry failure with IAM's codes and statuses (botocore's IAM
    /// model: NoSuchEntity 404, EntityAlreadyExists/DeleteConflict/
    /// LimitExceeded 409, MalformedPolicyDocument 400).
    pub fn from_registry(e: Error) -> Self {
        match e {
            Error::AccessDenied(m) => Self::new(StatusCode::FORBIDDEN, "AccessDenied", m),
            Error::NoSuchEntity(m) => Self::new(StatusCode::NOT_FOUND, "NoSuchEntity", m),
            Error::EntityAlreadyExists(m) => {
                Self::new(StatusCode::CONFLICT, "EntityAlreadyExists", m)
            }
            Error::DeleteConflict(m) => Self::new(StatusCode::CONFLICT, "DeleteConflict", m),
            Error::LimitExceeded(m) => Self::new(StatusCode::CONFLICT, "LimitExceeded", m),
            Error::MalformedPolicyDocument(m) => {
                Self::new(StatusCode::BAD_REQUEST, "MalformedPolicyDocument", m)
            }
            Error::InvalidParameter(m) => Self::validation(m),
            Error::PackedPolicyTooLarge(m) => {
                Self::new(StatusCode::BAD_REQUEST, "PackedPolicyTooLarge", m)
            }
            // AWS's common Query error for a service that cannot answer now.
            Error::Unavailable(why) => {
                tracing::warn!(error = %why, "a store is unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    "the registry's storage is unavailable; nothing was changed. Retry shortly",
                )
            }
            Error::NoSpace => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceFailure",
                "no space left on the registry's data volume; nothing was stored",
            ),
            Error::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceFailure",
                    "internal storage error; the server log has the details",
                )
            }
            other => Self::new(StatusCode::BAD_REQUEST, "InvalidInput", other.to_string()),
        }
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let mut body = self.fields;
        body.insert("__type".into(), self.kind.into());
        body.insert("message".into(), self.message.into());
        let body = serde_json::Value::Object(body).to_string();
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        h.insert("x-amzn-errortype", HeaderValue::from_static(self.kind));
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ECR's own texts (collected from AWS's answers and documentation),
    /// word for word: a client that matches on them sees the same thing.
    #[test]
    fn registry_failures_use_ecrs_wording() {
        let id = "058043570872";
        let cases: Vec<(Error, &str, &str)> = vec![
            (
                Error::NameUnknown("main".into()),
                "RepositoryNotFoundException",
                "The repository with name 'main' does not exist in the registry with id '058043570872'",
            ),
            (
                Error::RepositoryAlreadyExists("main".into()),
                "RepositoryAlreadyExistsException",
                "The repository with name 'main' already exists in the registry with id '058043570872'",
            ),
            (
                Error::RepositoryNotEmpty("main".into()),
                "RepositoryNotEmptyException",
                "The repository with name 'main' in registry with id '058043570872' cannot be deleted because it still contains images",
            ),
            (
                Error::RepositoryPolicyNotFound("main".into()),
                "RepositoryPolicyNotFoundException",
                "Repository policy does not exist for the repository with name 'main' in the registry with id '058043570872'",
            ),
            (
                Error::LifecyclePolicyNotFound("main".into()),
                "LifecyclePolicyNotFoundException",
                "Lifecycle policy does not exist for the repository with name 'main' in the registry with id '058043570872'",
            ),
            (
                Error::RegistryPolicyNotFound,
                "RegistryPolicyNotFoundException",
                "Registry policy does not exist in the registry with id '058043570872'",
            ),
            (
                Error::TagImmutable {
                    tag: "latest".into(),
                    repository: "main".into(),
                },
                "ImageTagAlreadyExistsException",
                "The image tag 'latest' already exists in the 'main' repository and cannot be overwritten because the repository is immutable.",
            ),
        ];
        for (error, kind, message) in cases {
            let e = AwsError::from_registry(error, id);
            assert_eq!((e.kind, e.message.as_str()), (kind, message));
        }
    }
}
