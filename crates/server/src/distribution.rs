//! The OCI distribution API (`/v2/...`). Each handler parses the request,
//! calls the registry and renders the answer; rules live in the registry.

use crate::byte_range::{self, RangeRequest};
use crate::metrics::RouteLabel;
use crate::oci_error::OciError;
use crate::route::{self, V2Route};
use crate::AppState;
use axum::body::{Body, BodyDataStream};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use berth_oci::{Digest, Reference, RepositoryName, MAX_MANIFEST_BYTES};
use berth_registry::{ByteStream, ChunkRange, Error, Repo, UploadState};
use futures_util::StreamExt;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use http_body::Body as _;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Marks a manifest PUT that another berth deployment's replication sends
/// (`crates/berth/src/remote.rs`): the image is not replicated on.
pub const REPLICA_HEADER: &str = "x-berth-replica";

/// Tags returned when the client does not ask for a page size (the spec
/// says "all"; this bounds the response at ECR's per-repository image quota).
const TAGS_UNPAGED: u32 = 100_000;
/// Catalog entries returned when the client does not ask for a page size.
const CATALOG_DEFAULT: u32 = 1_000;
/// How long a blob download redirect's presigned URL works (Distribution's
/// default for its storage redirects).
const REDIRECT_EXPIRY: std::time::Duration = std::time::Duration::from_secs(20 * 60);
/// The largest page a client may ask for.
const MAX_PAGE: u32 = 100_000;

type Outcome = Result<Response, OciError>;
type Params = HashMap<String, String>;

pub async fn v2(State(app): State<AppState>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers, version) = (parts.method, parts.uri, parts.headers, parts.version);
    let rest = uri.path().strip_prefix("/v2").unwrap_or("");
    let params = Query::<Params>::try_from_uri(&uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let route = route::parse(rest);
    let public = app.hosts.is_public(version, &uri, &headers);
    let auth = if public {
        crate::public_v2::caller(&app, &headers, route.as_ref().ok()).await
    } else {
        let presigned_ok = matches!(route, Ok(V2Route::Blob(..)))
            && (method == Method::GET || method == Method::HEAD);
        crate::v2_auth::caller(&app, &method, version, &uri, &headers, presigned_ok).await
    };
    let (label, outcome) = match (route, auth) {
        (_, Err(e)) => ("unauthorized", Err(e)),
        (Err(e), _) => ("invalid", Err(OciError::from(e))),
        (Ok(r), Ok(caller)) => {
            let label = r.label();
            let facts = crate::connection_facts(&app, &parts.extensions, &headers);
            let scoped = if public {
                crate::public_v2::scope(&app, &headers, r).await
            } else {
                Ok((r, None))
            };
            match scoped {
                Err(e) => (label, Err(e)),
                Ok((r, public_alias)) => {
                    let ctx = Ctx {
                        app: &app,
                        registry: match &public_alias {
                            Some(p) => p.registry.clone(),
                            None => caller.registry,
                        },
                        public: public_alias,
                        principal: caller.principal,
                        params: &params,
                        headers: &headers,
                        facts,
                    };
                    (label, ctx.dispatch(&method, r, body).await)
                }
            }
        }
    };
    let mut resp = outcome.unwrap_or_else(|e| {
        if e.status().is_server_error() {
            tracing::error!(%method, path = uri.path(), status = e.status().as_u16(), "request failed");
        }
        e.into_response()
    });
    resp.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp.extensions_mut().insert(RouteLabel(label));
    resp
}

struct Ctx<'a> {
    app: &'a AppState,
    registry: berth_registry::RegistryKey,
    principal: berth_registry::Principal,
    params: &'a Params,
    headers: &'a HeaderMap,
    /// The connection's facts for policy conditions.
    facts: berth_registry::RequestFacts,
    /// On the public host: the registry alias the path began with.
    public: Option<crate::public_v2::PublicScope>,
}

impl Ctx<'_> {
    fn repo(&self, name: RepositoryName) -> Repo {
        Repo {
            registry: self.registry.clone(),
            name,
        }
    }

    /// The name as the client addresses it: on the public host, after the
    /// registry alias (Location headers and tag lists must say it so).
    fn addressed(&self, name: &RepositoryName) -> String {
        match &self.public {
            Some(p) => format!("{}/{name}", p.alias),
            None => name.to_string(),
        }
    }

    /// A repository named by a client (a mount's `from`), in this request's
    /// registry: on the public host, only under the same alias.
    fn named(&self, addressed: &str) -> Option<RepositoryName> {
        let name = match &self.public {
            Some(p) => addressed
                .strip_prefix(p.alias.as_str())?
                .strip_prefix('/')?,
            None => addressed,
        };
        RepositoryName::parse(name).ok()
    }

    /// Refuses the request unless the caller (a user, or the anonymous
    /// principal) may perform `action` on the repository (and use its KMS
    /// key as the action does, when it has one). On the public host the
    /// action is ECR Public's (`public_v2::authorize`).
    async fn authorize(&self, action: &str, name: &RepositoryName) -> Result<(), OciError> {
        if self.public.is_some() {
            return crate::public_v2::authorize(
                self.app,
                &self.principal,
                action,
                &self.registry,
                name,
                &self.facts,
            )
            .await;
        }
        self.app
            .registry
            .authorize(
                &self.principal,
                action,
                &self.registry,
                Some(name.as_str()),
                &self.facts,
            )
            .await?;
        Ok(())
    }

    async fn dispatch(&self, method: &Method, route: V2Route, body: Body) -> Outcome {
        let reg = &self.app.registry;
        if let Some((action, name)) = crate::v2_access::action(method.as_str(), &route) {
            self.authorize(action, name).await?;
        }
        // A push that would create the repository needs that right too.
        if let ("POST", V2Route::UploadStart(name)) | ("PUT", V2Route::Manifest(name, _)) =
            (method.as_str(), &route)
        {
            reg.authorize_create_on_push(&self.principal, &self.repo(name.clone()), &self.facts)
                .await?;
        }
        match (method.as_str(), route) {
            ("GET" | "HEAD", V2Route::Base) => {
                Ok(([(header::CONTENT_TYPE, "application/json")], "{}").into_response())
            }
            ("GET", V2Route::Catalog) => self.catalog().await,
            ("GET", V2Route::Tags(name)) => self.tags(self.repo(name)).await,

            ("GET" | "HEAD", V2Route::Manifest(name, reference)) => {
                let accept: Vec<&str> = self
                    .headers
                    .get_all(header::ACCEPT)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                if method == Method::GET {
                    if let Some(p) = &self.public {
                        p.count_pull(self.app, &self.principal, &self.facts)?;
                    }
                }
                let m = reg
                    .get_manifest(&self.repo(name), &reference, &accept)
                    .await?;
                let headers = manifest_headers(&m);
                let body = if method == Method::HEAD {
                    Body::empty()
                } else {
                    reg.record_pull(&m);
                    Body::from(m.body)
                };
                Ok(ContentHeaders::clone(&headers).response(body))
            }
            ("GET" | "HEAD" | "DELETE", V2Route::ManifestBadReference(name, reference, e)) => {
                // As for any other manifest: an unknown repository first.
                reg.repository(&self.registry, name.as_str()).await?;
                Err(crate::oci_error::reference_unknown(&reference, &e))
            }
            ("PUT", V2Route::ManifestBadReference(_, _, e)) => {
                Err(crate::oci_error::reference_invalid(&e))
            }
            ("PUT", V2Route::Manifest(name, reference)) => {
                self.put_manifest(self.repo(name), reference, body).await
            }
            ("DELETE", V2Route::Manifest(name, reference)) => {
                // Another deployment's replication carrying a delete: done
                // here as any delete, never carried on (no bounce).
                if self.headers.contains_key(REPLICA_HEADER) {
                    reg.delete_replica_manifest(&self.repo(name), &reference)
                        .await?;
                } else {
                    reg.delete_manifest(&self.repo(name), &reference).await?;
                }
                Ok(StatusCode::ACCEPTED.into_response())
            }

            ("HEAD", V2Route::Blob(name, digest)) => {
                let info = reg.stat_blob(&self.repo(name), &digest).await?;
                Ok(content_response(
                    StatusCode::OK,
                    "application/octet-stream",
                    &digest,
                    info.size,
                    Body::empty(),
                ))
            }
            ("GET", V2Route::Blob(name, digest)) => self.get_blob(self.repo(name), digest).await,
            ("DELETE", V2Route::Blob(name, digest)) => {
                reg.delete_blob(&self.repo(name), &digest).await?;
                Ok(StatusCode::ACCEPTED.into_response())
            }

            ("GET", V2Route::Referrers(name, digest)) => {
                self.referrers(self.repo(name), digest).await
            }

            ("POST", V2Route::UploadStart(name)) => self.start_upload(self.repo(name), body).await,
            ("PATCH", V2Route::Upload(name, id)) => {
                let range = self.chunk_range()?;
                let repo = self.repo(name);
                let (chunk, rest) = drainable(body);
                let state = match reg.append_upload(&repo, &id, range, chunk).await {
                    Ok(state) => state,
                    Err(e) => {
                        drain(rest).await;
                        return Err(self.upload_error(&repo, &id, e));
                    }
                };
                Ok(upload_progress(
                    StatusCode::ACCEPTED,
                    &self.addressed(&repo.name),
                    &state,
                ))
            }
            ("PUT", V2Route::Upload(name, id)) => {
                let digest: Digest = self
                    .params
                    .get("digest")
                    .ok_or_else(|| {
                        OciError::new(
                            StatusCode::BAD_REQUEST,
                            "DIGEST_INVALID",
                            "the digest query parameter is required to complete an upload",
                        )
                    })?
                    .parse()?;
                let range = self.chunk_range()?;
                let (last_chunk, rest) = if body.size_hint().exact() == Some(0) {
                    (None, None)
                } else {
                    let (chunk, rest) = drainable(body);
                    (Some(chunk), Some(rest))
                };
                let repo = self.repo(name);
                let info = match reg
                    .complete_upload(&repo, &id, &digest, range, last_chunk)
                    .await
                {
                    Ok(info) => info,
                    Err(e) => {
                        if let Some(rest) = rest {
                            drain(rest).await;
                        }
                        return Err(self.upload_error(&repo, &id, e));
                    }
                };
                Ok(blob_created(&self.addressed(&repo.name), &info.digest))
            }
            ("GET", V2Route::Upload(name, id)) => {
                let repo = self.repo(name);
                let state = reg.upload_status(&repo, &id).await?;
                Ok(upload_progress(
                    StatusCode::NO_CONTENT,
                    &self.addressed(&repo.name),
                    &state,
                ))
            }
            ("DELETE", V2Route::Upload(name, id)) => {
                reg.cancel_upload(&self.repo(name), &id).await?;
                Ok(StatusCode::NO_CONTENT.into_response())
            }
            (m, r) => Err(OciError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "UNSUPPORTED",
                format!("{m} is not supported on the {} endpoint", r.label()),
            )),
        }
    }

    async fn start_upload(&self, repo: Repo, body: Body) -> Outcome {
        let reg = &self.app.registry;
        if let Some(d) = self.params.get("digest") {
            let digest: Digest = d.parse()?;
            let (blob, rest) = drainable(body);
            return match reg.upload_blob(&repo, &digest, blob).await {
                Ok(info) => Ok(blob_created(&self.addressed(&repo.name), &info.digest)),
                Err(e) => {
                    drain(rest).await;
                    Err(e.into())
                }
            };
        }
        if let (Some(m), Some(from)) = (self.params.get("mount"), self.params.get("from")) {
            let digest: Digest = m.parse()?;
            // An unusable source is not an error: the client uploads instead.
            // Mounting reads the source: it needs ecr:GetDownloadUrlForLayer there
            // (and kms:Decrypt on its key, when it has one).
            let readable = match self.named(from) {
                Some(from) => self
                    .authorize("ecr:GetDownloadUrlForLayer", &from)
                    .await
                    .is_ok()
                    .then_some(from),
                None => None,
            };
            if let Some(from) = readable {
                if let Some(info) = reg.mount_blob(&repo, &from, &digest).await? {
                    return Ok(blob_created(&self.addressed(&repo.name), &info.digest));
                }
            }
        }
        // Anonymous callers are one principal for everyone: counting them as
        // one would let any of them use up the allowance of all the others,
        // so only the repository's cap applies to them.
        let opener = (!self.principal.anonymous).then_some(&self.principal);
        let state = reg.start_upload(&repo, opener).await?;
        Ok(upload_progress(
            StatusCode::ACCEPTED,
            &self.addressed(&repo.name),
            &state,
        ))
    }

    async fn get_blob(&self, repo: Repo, digest: Digest) -> Outcome {
        if let Some(url) = self
            .app
            .registry
            .blob_download_url(&repo, &digest, REDIRECT_EXPIRY)
            .await?
        {
            // As Distribution answers with a storage redirect: the client
            // follows it (with its Range header, if any) to the store.
            let mut resp = StatusCode::TEMPORARY_REDIRECT.into_response();
            let h = resp.headers_mut();
            h.insert(header::LOCATION, hv(url));
            h.insert("docker-content-digest", hv(digest.to_string()));
            return Ok(resp);
        }
        let range = match self.range_request(&digest) {
            RangeRequest::Whole => None,
            RangeRequest::One(r) => Some(r),
            RangeRequest::Invalid => {
                // Inverted or empty: no blob can satisfy it.
                let size = self.app.registry.stat_blob(&repo, &digest).await?.size;
                return Err(Error::BlobRangeNotSatisfiable { size }.into());
            }
        };
        let read = self.app.registry.read_blob(&repo, &digest, range).await?;
        let body = Body::from_stream(read.stream);
        let Some((first, last)) = read.range else {
            let mut resp = content_response(
                StatusCode::OK,
                "application/octet-stream",
                &digest,
                read.size,
                body,
            );
            resp.headers_mut()
                .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            return Ok(resp);
        };
        let mut resp = content_response(
            StatusCode::PARTIAL_CONTENT,
            "application/octet-stream",
            &digest,
            last - first + 1,
            body,
        );
        let h = resp.headers_mut();
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(
            header::CONTENT_RANGE,
            hv(format!("bytes {first}-{last}/{}", read.size)),
        );
        Ok(resp)
    }

    /// The request's `Range`, unless an `If-Range` names another
    /// representation (then the whole blob, per RFC 9110 §13.1.5).
    fn range_request(&self, digest: &Digest) -> RangeRequest {
        if let Some(tag) = self.headers.get(header::IF_RANGE) {
            if tag.to_str().ok().map(str::trim) != Some(&format!("\"{digest}\"")) {
                return RangeRequest::Whole;
            }
        }
        byte_range::parse(
            self.headers
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok()),
        )
    }

    async fn put_manifest(&self, repo: Repo, reference: Reference, body: Body) -> Outcome {
        let bytes = match read_limited(body, MAX_MANIFEST_BYTES).await {
            Ok(b) => b,
            Err(Some(size)) => {
                return Err(Error::ManifestTooLarge {
                    size,
                    limit: MAX_MANIFEST_BYTES,
                }
                .into())
            }
            Err(None) => {
                return Err(OciError::new(
                    StatusCode::BAD_REQUEST,
                    "MANIFEST_INVALID",
                    "the manifest body could not be read",
                ))
            }
        };
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let registry = &self.app.registry;
        let put = if self.headers.contains_key(REPLICA_HEADER) {
            registry
                .put_replica_manifest(&repo, &reference, content_type, bytes)
                .await?
        } else {
            registry
                .put_manifest(&repo, &reference, content_type, bytes)
                .await?
        };
        let mut resp = StatusCode::CREATED.into_response();
        let h = resp.headers_mut();
        h.insert(
            header::LOCATION,
            hv(format!(
                "/v2/{}/manifests/{}",
                self.addressed(&repo.name),
                put.digest
            )),
        );
        h.insert("docker-content-digest", hv(put.digest.to_string()));
        if let Some(s) = put.subject {
            h.insert("oci-subject", hv(s.to_string()));
        }
        Ok(resp)
    }

    async fn referrers(&self, repo: Repo, subject: Digest) -> Outcome {
        let filter = self
            .params
            .get("artifactType")
            .map(String::as_str)
            .filter(|t| !t.is_empty());
        let found = self.app.registry.referrers(&repo, &subject, filter).await?;
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Descriptor<'a> {
            media_type: &'a str,
            digest: &'a Digest,
            size: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            artifact_type: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            annotations: Option<&'a serde_json::Value>,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Index<'a> {
            schema_version: u32,
            media_type: &'a str,
            manifests: Vec<Descriptor<'a>>,
        }
        let annotations: Vec<Option<serde_json::Value>> = found
            .iter()
            .map(|r| {
                r.annotations
                    .as_deref()
                    .and_then(|a| serde_json::from_str(a).ok())
            })
            .collect();
        let index = Index {
            schema_version: 2,
            media_type: berth_oci::media_type::OCI_INDEX,
            manifests: found
                .iter()
                .zip(&annotations)
                .map(|(r, a)| Descriptor {
                    media_type: &r.media_type,
                    digest: &r.digest,
                    size: r.size,
                    artifact_type: r.artifact_type.as_deref(),
                    annotations: a.as_ref(),
                })
                .collect(),
        };
        let json = serde_json::to_vec(&index).expect("descriptors serialize");
        let mut resp = (
            [(header::CONTENT_TYPE, berth_oci::media_type::OCI_INDEX)],
            json,
        )
            .into_response();
        if filter.is_some() {
            resp.headers_mut().insert(
                "oci-filters-applied",
                HeaderValue::from_static("artifactType"),
            );
        }
        Ok(resp)
    }

    async fn tags(&self, repo: Repo) -> Outcome {
        let (last, n) = self.page_params(TAGS_UNPAGED)?;
        let page = self.app.registry.list_tags(&repo, last, n).await?;
        let addressed = self.addressed(&repo.name);
        let link = page
            .more
            .then(|| next_link(&format!("/v2/{addressed}/tags/list"), n, page.items.last()));
        #[derive(serde::Serialize)]
        struct TagList<'a> {
            name: &'a str,
            tags: &'a [String],
        }
        let body = TagList {
            name: &addressed,
            tags: &page.items,
        };
        Ok(json_page(&body, link))
    }

    async fn catalog(&self) -> Outcome {
        let (last, n) = self.page_params(CATALOG_DEFAULT)?;
        let page = self.app.registry.catalog(&self.registry, last, n).await?;
        // The Link follows the unfiltered page, so paging stays consistent
        // when the caller may not describe some repositories.
        let link = page
            .more
            .then(|| next_link("/v2/_catalog", n, page.items.last()));
        let items = Box::pin(self.app.registry.identity().filter_authorized(
            &self.principal,
            "ecr:DescribeRepositories",
            &self.registry,
            page.items,
            &self.facts,
        ))
        .await?;
        #[derive(serde::Serialize)]
        struct Catalog<'a> {
            repositories: &'a [String],
        }
        Ok(json_page(
            &Catalog {
                repositories: &items,
            },
            link,
        ))
    }

    fn page_params(&self, default: u32) -> Result<(Option<&str>, u32), OciError> {
        let n = match self.params.get("n") {
            None => default,
            Some(v) => v.parse::<u32>().map_err(|_| {
                OciError::new(
                    StatusCode::BAD_REQUEST,
                    "PAGINATION_NUMBER_INVALID",
                    format!("n must be a non-negative integer, not '{v}'"),
                )
            })?,
        };
        Ok((self.params.get("last").map(String::as_str), n.min(MAX_PAGE)))
    }

    /// The chunk's `Content-Range`, if the request has one.
    fn chunk_range(&self) -> Result<Option<ChunkRange>, OciError> {
        self.headers
            .get(header::CONTENT_RANGE)
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(crate::byte_range::content_range)
                    .ok_or_else(|| {
                        OciError::new(
                            StatusCode::BAD_REQUEST,
                            "BLOB_UPLOAD_INVALID",
                            "Content-Range must be '<start>-<end>'",
                        )
                    })
            })
            .transpose()
    }

    /// A refused chunk answers with where the upload stands, so that the
    /// client can resume from there.
    fn upload_error(&self, repo: &Repo, id: &str, e: Error) -> OciError {
        let range_refused = matches!(e, Error::RangeNotSatisfiable { .. });
        let err = OciError::from(e);
        if range_refused {
            err.header("location", upload_location(&self.addressed(&repo.name), id))
                .header("docker-upload-uuid", id.to_string())
        } else {
            err
        }
    }
}

/// Bodies over the limit are still read (up to this much, then dropped) so
/// that the client gets the error instead of a broken pipe.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Reads a body of at most `limit` bytes. Over the limit: `Err(Some(size seen))`;
/// unreadable: `Err(None)`.
async fn read_limited(body: Body, limit: usize) -> Result<bytes::Bytes, Option<usize>> {
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| None)?;
        seen += chunk.len();
        if seen <= limit {
            buf.extend_from_slice(&chunk);
        } else if seen > DRAIN_LIMIT {
            break;
        }
    }
    if seen > limit {
        Err(Some(seen))
    } else {
        Ok(buf.freeze())
    }
}

/// What of a request body the registry left unread.
type Rest = Arc<Mutex<Option<BodyDataStream>>>;

/// A blob body as the registry's stream, plus a handle on what it leaves
/// unread: when the registry fails part-way (the disk is full, the session
/// is unknown), [`drain`] reads the rest so that a client still sending
/// gets the error instead of a reset connection.
fn drainable(body: Body) -> (ByteStream, Rest) {
    let rest: Rest = Arc::new(Mutex::new(Some(body.into_data_stream())));
    let shared = rest.clone();
    let stream = futures_util::stream::poll_fn(move |cx| {
        let mut guard = shared.lock().expect("the body lock is never poisoned");
        match guard.as_mut() {
            Some(s) => s
                .poll_next_unpin(cx)
                .map(|item| item.map(|r| r.map_err(std::io::Error::other))),
            None => std::task::Poll::Ready(None),
        }
    });
    (stream.boxed(), rest)
}

/// Reads and drops what is left of a body, up to [`DRAIN_LIMIT`].
async fn drain(rest: Rest) {
    let left = rest.lock().expect("the body lock is never poisoned").take();
    let Some(mut s) = left else {
        return;
    };
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = s.next().await {
        seen += chunk.len();
        if seen > DRAIN_LIMIT {
            break;
        }
    }
}

fn hv(s: String) -> HeaderValue {
    HeaderValue::try_from(s)
        .expect("header values built from validated names and digests are ASCII")
}

/// Where an upload continues; `name` as the client addresses it.
fn upload_location(name: &str, id: &str) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

fn upload_progress(status: StatusCode, name: &str, state: &UploadState) -> Response {
    let mut resp = status.into_response();
    let h = resp.headers_mut();
    h.insert(header::LOCATION, hv(upload_location(name, &state.id)));
    h.insert(
        header::RANGE,
        hv(crate::byte_range::upload_range(state.size)),
    );
    h.insert("docker-upload-uuid", hv(state.id.clone()));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    resp
}

fn blob_created(name: &str, digest: &Digest) -> Response {
    let mut resp = StatusCode::CREATED.into_response();
    let h = resp.headers_mut();
    h.insert(header::LOCATION, hv(format!("/v2/{name}/blobs/{digest}")));
    h.insert("docker-content-digest", hv(digest.to_string()));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    resp
}

/// The headers of a response that carries content by digest (a manifest,
/// a blob). A cached manifest's are rendered once into its memo
/// (`ManifestRead::memo`), so a warm GET or HEAD clones four shared values
/// instead of formatting and copying them.
#[derive(Clone)]
struct ContentHeaders {
    content_type: HeaderValue,
    length: HeaderValue,
    digest: HeaderValue,
    etag: HeaderValue,
}

impl ContentHeaders {
    fn new(media_type: &str, digest: &Digest, len: u64) -> Self {
        ContentHeaders {
            content_type: HeaderValue::from_str(media_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            length: HeaderValue::from(len),
            digest: hv(digest.to_string()),
            etag: hv(format!("\"{digest}\"")),
        }
    }

    /// A 200 with these headers and `body`.
    fn response(self, body: Body) -> Response {
        let mut resp = Response::new(body);
        let h = resp.headers_mut();
        // These and `docker-distribution-api-version`, in one allocation.
        h.reserve(5);
        h.insert(header::CONTENT_TYPE, self.content_type);
        h.insert(header::CONTENT_LENGTH, self.length);
        h.insert("docker-content-digest", self.digest);
        h.insert(header::ETAG, self.etag);
        resp
    }
}

fn manifest_headers(m: &berth_registry::ManifestRead) -> Arc<ContentHeaders> {
    let memo = m.memo();
    if let Some(h) = memo.get().and_then(|a| a.clone().downcast().ok()) {
        return h;
    }
    let h = Arc::new(ContentHeaders::new(
        m.media_type(),
        &m.digest,
        m.body.len() as u64,
    ));
    let _ = memo.set(h.clone());
    h
}

fn content_response(
    status: StatusCode,
    media_type: &str,
    digest: &Digest,
    len: u64,
    body: Body,
) -> Response {
    let mut resp = ContentHeaders::new(media_type, digest, len).response(body);
    *resp.status_mut() = status;
    resp
}

fn next_link(path: &str, n: u32, last: Option<&String>) -> String {
    format!(
        "<{path}?n={n}&last={}>; rel=\"next\"",
        last.map(String::as_str).unwrap_or("")
    )
}

fn json_page(body: &impl serde::Serialize, link: Option<String>) -> Response {
    let json = serde_json::to_vec(body).expect("lists of strings serialize");
    let mut resp = ([(header::CONTENT_TYPE, "application/json")], json).into_response();
    if let Some(l) = link {
        resp.headers_mut().insert(header::LINK, hv(l));
    }
    resp
}
