//! The one place where failures become AWS JSON errors on the ECR API:
//! `{"__type": "<Name>Exception", "message": ...}` with `X-Amzn-ErrorType`,
//! so that botocore and the SDKs raise the named exception.

use axum::response::{IntoResponse, Response};
use berth_registry::Error;
use berth_store::StoreError;
use http::{HeaderValue, StatusCode};

pub struct AwsError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl AwsError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        AwsError {
            status,
            kind,
            message: message.into(),
        }
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

    pub fn kind(&self) -> &'static str {
        self.kind
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
            Error::RepositoryNotEmpty(name) => Self::client(
                "RepositoryNotEmptyException",
                format!("The repository with name '{name}' in registry with id '{registry_id}' cannot be deleted because it still contains images"),
            ),
            Error::InvalidParameter(m) => Self::invalid_parameter(m),
            // Raised by the admin API (accounts, users, keys), with IAM's names.
            Error::AccessDenied(m) => Self::new(StatusCode::FORBIDDEN, "AccessDeniedException", m),
            Error::NoSuchEntity(m) => Self::new(StatusCode::NOT_FOUND, "NoSuchEntityException", m),
            Error::EntityAlreadyExists(m) => {
                Self::new(StatusCode::CONFLICT, "EntityAlreadyExistsException", m)
            }
            e @ Error::TagImmutable { .. } => {
                Self::client("ImageTagAlreadyExistsException", e.to_string())
            }
            Error::Store(StoreError::NoSpace) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServerException",
                "no space left on the registry's data volume; nothing was stored",
            ),
            Error::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServerException",
                    "internal storage error; the server log has the details",
                )
            }
            other => Self::invalid_parameter(other.to_string()),
        }
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "__type": self.kind, "message": self.message }).to_string();
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
