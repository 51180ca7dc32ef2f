//! The one place where failures become OCI error responses:
//! `{"errors":[{"code","message","detail"}]}` with the spec's code and status.

use crate::route::RouteError;
use axum::response::{IntoResponse, Response};
use berth_oci::reference::ReferenceError;
use berth_oci::DigestError;
use berth_registry::Error;
use http::{HeaderValue, StatusCode};
use serde_json::{json, Value};

pub struct OciError {
    status: StatusCode,
    code: &'static str,
    message: String,
    detail: Value,
    headers: Vec<(&'static str, String)>,
}

impl OciError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        OciError {
            status,
            code,
            message: message.into(),
            detail: Value::Null,
            headers: Vec::new(),
        }
    }

    fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

fn digest_error(e: &DigestError) -> OciError {
    OciError::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", e.to_string())
}

impl From<RouteError> for OciError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::NotFound => OciError::new(
                StatusCode::NOT_FOUND,
                "UNSUPPORTED",
                "no such endpoint in the distribution API",
            ),
            RouteError::Name(e) => {
                OciError::new(StatusCode::BAD_REQUEST, "NAME_INVALID", e.to_string())
            }
            RouteError::Digest(e) => digest_error(&e),
            RouteError::UploadId(id) => OciError::new(
                StatusCode::NOT_FOUND,
                "BLOB_UPLOAD_UNKNOWN",
                format!("'{id}' is not an upload session id"),
            ),
        }
    }
}

/// A manifest `PUT` whose reference is neither a tag nor a digest.
pub fn reference_invalid(e: &ReferenceError) -> OciError {
    match e {
        ReferenceError::Tag(e) => {
            OciError::new(StatusCode::BAD_REQUEST, "TAG_INVALID", e.to_string())
        }
        ReferenceError::Digest(e) => digest_error(e),
    }
}

/// A manifest read or delete whose reference is neither a tag nor a
/// digest: no manifest has it (the spec's answer for a manifest that is
/// not found, and CNCF Distribution's 404).
pub fn reference_unknown(reference: &str, e: &ReferenceError) -> OciError {
    OciError::new(
        StatusCode::NOT_FOUND,
        "MANIFEST_UNKNOWN",
        format!("manifest '{reference}' is not in this repository: {e}"),
    )
    .detail(json!({ "reference": reference }))
}

impl From<DigestError> for OciError {
    fn from(e: DigestError) -> Self {
        digest_error(&e)
    }
}

impl From<Error> for OciError {
    fn from(e: Error) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            Error::NameUnknown(name) => OciError::new(S::NOT_FOUND, "NAME_UNKNOWN", msg).detail(json!({ "name": name })),
            Error::BlobUnknown(d) => OciError::new(S::NOT_FOUND, "BLOB_UNKNOWN", msg).detail(json!({ "digest": d })),
            Error::BlobUploadUnknown(_) => OciError::new(S::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", msg),
            Error::BlobUploadInvalid(_) => OciError::new(S::BAD_REQUEST, "BLOB_UPLOAD_INVALID", msg),
            Error::DigestInvalid(_) => OciError::new(S::BAD_REQUEST, "DIGEST_INVALID", msg),
            Error::RangeNotSatisfiable { size } => OciError::new(S::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID", msg)
                .header("range", crate::byte_range::upload_range(size)),
            // The spec defines no code for this; SIZE_INVALID is the nearest.
            Error::BlobRangeNotSatisfiable { size } => OciError::new(S::RANGE_NOT_SATISFIABLE, "SIZE_INVALID", msg)
                .header("content-range", format!("bytes */{size}")),
            Error::ManifestUnknown(r) => OciError::new(S::NOT_FOUND, "MANIFEST_UNKNOWN", msg).detail(json!({ "reference": r })),
            // ECR: "Requests to pull the archived image will fail with a 404 error."
            Error::ImageArchived { reference, status } => OciError::new(S::NOT_FOUND, "MANIFEST_UNKNOWN", msg)
                .detail(json!({ "reference": reference, "imageStatus": status.api_name() })),
            Error::BlobArchived(d) => OciError::new(S::NOT_FOUND, "BLOB_UNKNOWN", msg).detail(json!({ "digest": d, "layerAvailability": "ARCHIVED" })),
            Error::ManifestInvalid(_) => OciError::new(S::BAD_REQUEST, "MANIFEST_INVALID", msg),
            Error::ManifestTooLarge { .. } => OciError::new(S::PAYLOAD_TOO_LARGE, "MANIFEST_INVALID", msg),
            Error::ManifestBlobUnknown(ds) => OciError::new(S::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN", msg)
                .detail(json!({ "digests": ds })),
            // The spec's statuses for a DELETE are 202, 404, and 400 or 405
            // when the registry does not allow it; 409 would be clearer, but
            // clients and the conformance suite expect one of those.
            Error::TagImmutable { .. } => OciError::new(S::BAD_REQUEST, "TAG_INVALID", msg),
            // Only ECR's PutImage refuses an image that is already there.
            Error::ImageAlreadyExists { .. } => OciError::new(S::CONFLICT, "DENIED", msg),
            Error::RepositoryAlreadyExists(_) | Error::RepositoryNotEmpty(_) => OciError::new(S::CONFLICT, "DENIED", msg),
            Error::Conflict(_) => OciError::new(S::METHOD_NOT_ALLOWED, "DENIED", msg),
            Error::InvalidParameter(_)
            | Error::InvalidTag(_)
            | Error::TooManyTags { .. }
            | Error::RepositoryPolicyNotFound(_)
            | Error::RegistryPolicyNotFound
            // Lifecycle policies are managed on the ECR API, never on /v2.
            | Error::LifecyclePolicyNotFound(_)
            | Error::LifecyclePreviewNotFound(_)
            | Error::LifecyclePreviewInProgress(_)
            // Templates are managed on the ECR API; a push applies one.
            | Error::TemplateAlreadyExists(_)
            | Error::TemplateNotFound(_)
            | Error::TooManyTemplates { .. }
            | Error::StorageClassUpdateNotSupported(_) => {
                OciError::new(S::BAD_REQUEST, "UNSUPPORTED", msg)
            }
            Error::Unsupported(_) => OciError::new(S::METHOD_NOT_ALLOWED, "UNSUPPORTED", msg),
            Error::UnsupportedImageType(_) => OciError::new(S::BAD_REQUEST, "UNSUPPORTED", msg),
            // Identity management happens on the admin and IAM APIs, never on /v2.
            Error::AccessDenied(_) => OciError::new(S::FORBIDDEN, "DENIED", msg),
            // A repository's KMS key refuses (disabled, pending deletion,
            // or the caller may not use it): the message names the key.
            Error::Kms { .. } => OciError::new(S::FORBIDDEN, "DENIED", msg),
            Error::Backfill { .. } => OciError::new(S::BAD_REQUEST, "UNSUPPORTED", msg),
            Error::NoSuchEntity(_)
            | Error::EntityAlreadyExists(_)
            | Error::DeleteConflict(_)
            | Error::LimitExceeded(_)
            | Error::MalformedPolicyDocument(_)
            | Error::PackedPolicyTooLarge(_) => OciError::new(S::BAD_REQUEST, "UNSUPPORTED", msg),
            // The spec's code for "too many requests"; the message says
            // how many sessions are open and how they end.
            Error::TooManyUploads { .. } => OciError::new(S::TOO_MANY_REQUESTS, "TOOMANYREQUESTS", msg),
            Error::BodyRead(_) => OciError::new(S::BAD_REQUEST, "BLOB_UPLOAD_INVALID", msg),
            Error::NoSpace => OciError::new(
                S::INSUFFICIENT_STORAGE,
                "UNKNOWN",
                "no space left on the registry's data volume; nothing was stored. Retry once space is freed",
            ),
            Error::Unavailable(why) => {
                tracing::warn!(error = %why, "a store is unavailable");
                OciError::new(
                    S::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    "the registry's storage is unavailable; nothing was changed. Retry shortly",
                )
                .header("retry-after", "1".into())
            }
            Error::Store(e) => {
                tracing::error!(error = %e, "storage failure");
                OciError::new(S::INTERNAL_SERVER_ERROR, "UNKNOWN", "internal storage error; the server log has the details")
            }
        }
    }
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let mut err = json!({ "code": self.code, "message": self.message });
        if !self.detail.is_null() {
            err["detail"] = self.detail;
        }
        let body = json!({ "errors": [err] }).to_string();
        let mut resp = (
            self.status,
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                resp.headers_mut().insert(k, v);
            }
        }
        resp
    }
}

/// A handler panicked: answer 500 in the protocol's shape instead of
/// dropping the connection, and log it.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = what, "request handler panicked");
    OciError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UNKNOWN",
        "internal error; the server log has the details",
    )
    .into_response()
}
