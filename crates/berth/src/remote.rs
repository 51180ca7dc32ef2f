//! Replication's transport to another berth deployment
//! (`berth_registry::RemoteRegistry`; ARCHITECTURE.md, "Replication"):
//! its ECR API for CreateRepository and GetAuthorizationToken, its `/v2`
//! for blobs and manifests, each registry addressed by its account host
//! name (`<account>.dkr.ecr.<region>.<domain>`) in the `Host` header on
//! the remote's endpoint. The remote authorizes every call as the
//! replication identity (`BERTH_REPLICATION_ACCESS_KEY_ID`), so its own
//! policies decide what arrives.

use crate::aws_call::{self, Credentials};
use berth_oci::Digest;
use berth_registry::{ByteStream, RemoteDelete, RemoteError, RemoteRegistry};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

const ECR_TARGET: &str = "AmazonEC2ContainerRegistry_V20150921";
/// A login token is used this long (they last 12 hours).
const TOKEN_REUSE: Duration = Duration::from_secs(3600);

/// A region served by another berth: `--replication-remote REGION=URL`.
pub struct HttpRemote {
    endpoint: String,
    region: String,
    domain: String,
    credentials: Credentials,
    client: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
    /// Repositories known to exist there (CreateRepository asked once).
    repositories: Mutex<HashSet<(String, String)>>,
    /// (account, digest) → a repository there known to hold the blob: a
    /// layer shared by many repositories crosses once, then is mounted.
    placed: quick_cache::sync::Cache<(String, String), String>,
}

/// Blobs whose place there is remembered.
const PLACED: usize = 10_000;

impl HttpRemote {
    pub fn new(
        region: &str,
        endpoint: &str,
        domain: &str,
        credentials: Credentials,
    ) -> anyhow::Result<HttpRemote> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // A blob is streamed within this (an hour for a large layer).
            .timeout(Duration::from_secs(3600))
            .build()?;
        Ok(HttpRemote {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            domain: domain.to_string(),
            credentials,
            client,
            token: Mutex::new(None),
            repositories: Mutex::new(HashSet::new()),
            placed: quick_cache::sync::Cache::new(PLACED),
        })
    }

    /// An ECR call there, marked as replication's (`X-Berth-Replica`: a
    /// repository it creates comes from its `REPLICATION` template).
    async fn ecr(
        &self,
        op: &str,
        input: serde_json::Value,
    ) -> Result<aws_call::Answer, RemoteError> {
        aws_call::call(
            &self.client,
            &self.endpoint,
            &self.region,
            "ecr",
            &format!("{ECR_TARGET}.{op}"),
            &self.credentials,
            &input,
            &[(berth_server::REPLICA_HEADER, "1")],
        )
        .await
        .map_err(|e| RemoteError::Unavailable(format!("{e:#}")))
    }

    /// Notes that `repository` there holds the blob (a mount source).
    fn place(&self, account: &str, repository: &str, digest: &Digest) {
        self.placed.insert(
            (account.to_string(), digest.to_string()),
            repository.to_string(),
        );
    }

    /// A `docker login` password for the remote, reused for an hour.
    async fn password(&self) -> Result<String, RemoteError> {
        if let Some((t, at)) = &*self.token.lock() {
            if at.elapsed() < TOKEN_REUSE {
                return Ok(t.clone());
            }
        }
        let answer = self
            .ecr("GetAuthorizationToken", serde_json::json!({}))
            .await?;
        if !answer.status.is_success() {
            return Err(refusal(answer.status, &answer));
        }
        use base64::Engine as _;
        let token = answer.body["authorizationData"][0]["authorizationToken"]
            .as_str()
            .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .and_then(|t| String::from_utf8(t).ok())
            .and_then(|t| t.strip_prefix("AWS:").map(str::to_string))
            .ok_or_else(|| {
                RemoteError::Rejected("GetAuthorizationToken answered no token".into())
            })?;
        *self.token.lock() = Some((token.clone(), Instant::now()));
        Ok(token)
    }

    /// A `/v2` request to `account`'s registry there: its host name in the
    /// `Host` header, signed in with the login token; a 401 fetches a new
    /// token and tries once more.
    async fn v2(
        &self,
        method: reqwest::Method,
        account: &str,
        path: &str,
        resend: bool,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RemoteError> {
        for attempt in 0..2 {
            let password = self.password().await?;
            let url = format!("{}{path}", self.endpoint);
            let port = reqwest::Url::parse(&self.endpoint)
                .ok()
                .and_then(|u| u.port())
                .map(|p| format!(":{p}"))
                .unwrap_or_default();
            let host = format!("{account}.dkr.ecr.{}.{}{port}", self.region, self.domain);
            let req = self
                .client
                .request(method.clone(), url)
                .header(http::header::HOST, host)
                .basic_auth("AWS", Some(password));
            let resp = build(req)
                .send()
                .await
                .map_err(|e| RemoteError::Unavailable(format!("{}: {e}", self.endpoint)))?;
            if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
                *self.token.lock() = None;
                if attempt == 0 && resend {
                    continue;
                }
                // A streamed body is spent: the task tries again later,
                // with a fresh token.
                return Err(RemoteError::Unavailable(format!(
                    "{}: the login token was refused; a new one is used next time",
                    self.endpoint
                )));
            }
            return Ok(resp);
        }
        unreachable!("the loop returns")
    }
}

/// What a refusal means for the task.
fn refusal(status: reqwest::StatusCode, answer: &aws_call::Answer) -> RemoteError {
    let (kind, message) = answer.error();
    let why = format!("{status}: {kind}: {message}");
    classify(status, why)
}

fn classify(status: reqwest::StatusCode, why: String) -> RemoteError {
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        RemoteError::Unavailable(why)
    } else if status == reqwest::StatusCode::UNAUTHORIZED
        || status == reqwest::StatusCode::FORBIDDEN
        || why.contains("AccessDenied")
    {
        RemoteError::Denied(why)
    } else {
        RemoteError::Rejected(why)
    }
}

async fn failed(resp: reqwest::Response, what: &str) -> RemoteError {
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    classify(
        status,
        format!(
            "{what}: {status}: {}",
            body.chars().take(300).collect::<String>()
        ),
    )
}

#[async_trait::async_trait]
impl RemoteRegistry for HttpRemote {
    async fn ensure_repository(&self, account: &str, repository: &str) -> Result<(), RemoteError> {
        let key = (account.to_string(), repository.to_string());
        if self.repositories.lock().contains(&key) {
            return Ok(());
        }
        let answer = self
            .ecr(
                "CreateRepository",
                serde_json::json!({"registryId": account, "repositoryName": repository}),
            )
            .await?;
        if !answer.status.is_success() && answer.error().0 != "RepositoryAlreadyExistsException" {
            return Err(refusal(answer.status, &answer));
        }
        self.repositories.lock().insert(key);
        Ok(())
    }

    async fn has_blob(
        &self,
        account: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<bool, RemoteError> {
        let resp = self
            .v2(
                reqwest::Method::HEAD,
                account,
                &format!("/v2/{repository}/blobs/{digest}"),
                true,
                |r| r,
            )
            .await?;
        match resp.status() {
            s if s.is_success() => {
                self.place(account, repository, digest);
                Ok(true)
            }
            reqwest::StatusCode::NOT_FOUND => Ok(false),
            _ => Err(failed(resp, "HEAD of a blob").await),
        }
    }

    async fn mount_blob(
        &self,
        account: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<bool, RemoteError> {
        let key = (account.to_string(), digest.to_string());
        let Some(from) = self.placed.get(&key).filter(|from| from != repository) else {
            return Ok(false);
        };
        let resp = self
            .v2(
                reqwest::Method::POST,
                account,
                &format!("/v2/{repository}/blobs/uploads/?mount={digest}&from={from}"),
                true,
                |r| r.header(http::header::CONTENT_LENGTH, 0),
            )
            .await?;
        match resp.status() {
            reqwest::StatusCode::CREATED => {
                self.placed.insert(key, repository.to_string());
                Ok(true)
            }
            // Not mountable (gone from there, or not readable): the
            // registry opened an upload instead, which is given back.
            reqwest::StatusCode::ACCEPTED => {
                self.placed.remove(&key);
                if let Some(location) = resp
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                {
                    // A path, or a URL on the account's host name.
                    let base = reqwest::Url::parse("http://remote/").expect("a URL");
                    if let Ok(url) = base.join(location) {
                        let path = match url.query() {
                            Some(q) => format!("{}?{q}", url.path()),
                            None => url.path().to_string(),
                        };
                        let _ = self
                            .v2(reqwest::Method::DELETE, account, &path, true, |r| r)
                            .await;
                    }
                }
                Ok(false)
            }
            _ => {
                self.placed.remove(&key);
                Ok(false)
            }
        }
    }

    async fn upload_blob(
        &self,
        account: &str,
        repository: &str,
        digest: &Digest,
        size: u64,
        body: ByteStream,
    ) -> Result<(), RemoteError> {
        // The body streams once: never sent again after a 401.
        let body = Mutex::new(Some(reqwest::Body::wrap_stream(body)));
        let resp = self
            .v2(
                reqwest::Method::POST,
                account,
                &format!("/v2/{repository}/blobs/uploads/?digest={digest}"),
                false,
                |r| {
                    let r = r.header(http::header::CONTENT_LENGTH, size);
                    match body.lock().take() {
                        Some(b) => r.body(b),
                        None => r,
                    }
                },
            )
            .await?;
        if resp.status() == reqwest::StatusCode::CREATED {
            self.place(account, repository, digest);
            Ok(())
        } else {
            Err(failed(resp, "a blob upload").await)
        }
    }

    async fn put_manifest(
        &self,
        account: &str,
        repository: &str,
        reference: &str,
        media_type: &str,
        manifest: Bytes,
    ) -> Result<(), RemoteError> {
        let resp = self
            .v2(
                reqwest::Method::PUT,
                account,
                &format!("/v2/{repository}/manifests/{reference}"),
                true,
                |r| {
                    r.header(http::header::CONTENT_TYPE, media_type)
                        .header(berth_server::REPLICA_HEADER, "1")
                        .body(manifest.clone())
                },
            )
            .await?;
        if resp.status() == reqwest::StatusCode::CREATED {
            Ok(())
        } else {
            Err(failed(resp, "a manifest PUT").await)
        }
    }

    async fn tag_digest(
        &self,
        account: &str,
        repository: &str,
        tag: &str,
    ) -> Result<Option<Digest>, RemoteError> {
        let resp = self
            .v2(
                reqwest::Method::HEAD,
                account,
                &format!("/v2/{repository}/manifests/{tag}"),
                true,
                // Any type: only the digest matters.
                |r| r.header(http::header::ACCEPT, "*/*"),
            )
            .await?;
        match resp.status() {
            s if s.is_success() => resp
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<Digest>().ok())
                .map(Some)
                .ok_or_else(|| {
                    RemoteError::Rejected(format!(
                        "HEAD of tag {tag} answered no Docker-Content-Digest"
                    ))
                }),
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            _ => Err(failed(resp, "HEAD of a tag").await),
        }
    }

    async fn delete_manifest(
        &self,
        account: &str,
        repository: &str,
        reference: &str,
    ) -> Result<RemoteDelete, RemoteError> {
        let resp = self
            .v2(
                reqwest::Method::DELETE,
                account,
                &format!("/v2/{repository}/manifests/{reference}"),
                true,
                |r| r.header(berth_server::REPLICA_HEADER, "1"),
            )
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(RemoteDelete::Deleted),
            reqwest::StatusCode::NOT_FOUND => Ok(RemoteDelete::NotFound),
            reqwest::StatusCode::CONFLICT => Ok(RemoteDelete::ListedByIndex(
                resp.text().await.unwrap_or_default(),
            )),
            _ => Err(failed(resp, "a manifest DELETE").await),
        }
    }
}

/// The remotes `--replication-remote` declares (`REGION=URL`, each once),
/// with the replication identity's credentials.
pub fn remotes(
    specs: &[String],
    domain: &str,
) -> anyhow::Result<HashMap<String, std::sync::Arc<dyn RemoteRegistry>>> {
    let mut out: HashMap<String, std::sync::Arc<dyn RemoteRegistry>> = HashMap::new();
    if specs.is_empty() {
        return Ok(out);
    }
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let (Some(id), Some(secret)) = (
        var("BERTH_REPLICATION_ACCESS_KEY_ID"),
        var("BERTH_REPLICATION_SECRET_ACCESS_KEY"),
    ) else {
        anyhow::bail!(
            "--replication-remote needs the identity berth replicates as on the remote deployment: set BERTH_REPLICATION_ACCESS_KEY_ID and BERTH_REPLICATION_SECRET_ACCESS_KEY (a user of that deployment)"
        );
    };
    let credentials = Credentials {
        access_key_id: id,
        secret_access_key: secret,
        session_token: var("BERTH_REPLICATION_SESSION_TOKEN"),
    };
    for spec in specs {
        let Some((region, url)) = spec.split_once('=') else {
            anyhow::bail!("--replication-remote must be REGION=URL (e.g. us-west-2=https://berth.dr.example:5000), not {spec:?}");
        };
        if !url.starts_with("http://") && !url.starts_with("https://") {
            anyhow::bail!("--replication-remote {region}: {url:?} is not an http(s) URL");
        }
        if out.contains_key(region) {
            anyhow::bail!("--replication-remote names region {region} twice");
        }
        out.insert(
            region.to_string(),
            std::sync::Arc::new(HttpRemote::new(region, url, domain, credentials.clone())?),
        );
    }
    Ok(out)
}
