//! The load generator's HTTP client: one hyper HTTP/1.1 connection per
//! worker (so "concurrency N" is exactly N connections), and the registry
//! operations the workloads are made of, spoken as docker and skopeo speak
//! them.

use crate::content::Blob;
use anyhow::{bail, Context};
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;

pub type ReqBody = BoxBody<Bytes, Infallible>;

/// The manifest types docker sends in `Accept`.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

pub struct Conn {
    send: hyper::client::conn::http1::SendRequest<ReqBody>,
    host: HeaderValue,
    auth: Option<HeaderValue>,
}

pub fn empty() -> ReqBody {
    Empty::new().boxed()
}

pub fn full(b: impl Into<Bytes>) -> ReqBody {
    Full::new(b.into()).boxed()
}

/// A body streaming `len` bytes of `blob` from `offset`.
pub fn blob_body(blob: &Blob, offset: u64, len: u64) -> ReqBody {
    let frames = blob
        .frames(offset, len)
        .map(|b| Ok::<_, Infallible>(Frame::data(b)));
    StreamBody::new(futures_util::stream::iter(frames)).boxed()
}

/// Credentials per server address: berth's `docker login` token once the
/// harness has logged in; Distribution runs without authentication.
static AUTH: std::sync::Mutex<Vec<(SocketAddr, HeaderValue)>> = std::sync::Mutex::new(Vec::new());

/// Sends `Basic <user:password>` on every later connection to `addr`.
pub fn set_auth(addr: SocketAddr, user_password: &str) {
    use base64::Engine;
    let v = HeaderValue::from_str(&format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    ))
    .expect("base64 is a valid header value");
    set_authorization(addr, Some(v));
}

/// Sends this `Authorization` (or none) on every later connection to `addr`.
pub fn set_authorization(addr: SocketAddr, value: Option<HeaderValue>) {
    let mut a = AUTH.lock().expect("not poisoned");
    a.retain(|(x, _)| *x != addr);
    if let Some(v) = value {
        a.push((addr, v));
    }
}

/// `Host` per server address, where it is not the address itself (the
/// public host of public repositories).
static HOSTS: std::sync::Mutex<Vec<(SocketAddr, HeaderValue)>> = std::sync::Mutex::new(Vec::new());

/// Sends `Host: host` (or the address, with `None`) on every later
/// connection to `addr`.
pub fn set_host(addr: SocketAddr, host: Option<&str>) {
    let mut h = HOSTS.lock().expect("not poisoned");
    h.retain(|(x, _)| *x != addr);
    if let Some(v) = host.and_then(|h| HeaderValue::from_str(h).ok()) {
        h.push((addr, v));
    }
}

pub fn auth_for(addr: SocketAddr) -> Option<HeaderValue> {
    AUTH.lock()
        .expect("not poisoned")
        .iter()
        .find(|(x, _)| *x == addr)
        .map(|(_, v)| v.clone())
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Conn> {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            send,
            host: match HOSTS
                .lock()
                .expect("not poisoned")
                .iter()
                .find(|(x, _)| *x == addr)
            {
                Some((_, h)) => h.clone(),
                None => HeaderValue::from_str(&addr.to_string())?,
            },
            auth: auth_for(addr),
        })
    }

    /// A request with this connection's `Host` (and credentials, if any).
    pub fn request(&self, method: Method, path: &str) -> http::request::Builder {
        let b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.host.clone());
        match &self.auth {
            Some(a) => b.header(header::AUTHORIZATION, a.clone()),
            None => b,
        }
    }

    pub async fn send(&mut self, req: Request<ReqBody>) -> anyhow::Result<Response<Incoming>> {
        self.send.ready().await?;
        Ok(self.send.send_request(req).await?)
    }

    /// Sends and reads the whole (small) response body.
    pub async fn call(
        &mut self,
        req: Request<ReqBody>,
    ) -> anyhow::Result<(StatusCode, http::HeaderMap, Bytes)> {
        let resp = self.send(req).await?;
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await?.to_bytes();
        Ok((parts.status, parts.headers, bytes))
    }

    /// Sends and expects `want`; anything else is an error carrying the body.
    async fn expect(
        &mut self,
        req: Request<ReqBody>,
        want: StatusCode,
        what: &str,
    ) -> anyhow::Result<http::HeaderMap> {
        let (status, headers, body) = self.call(req).await?;
        if status != want {
            bail!(
                "{what}: expected {want}, got {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(500)])
            );
        }
        Ok(headers)
    }

    /// `POST /blobs/uploads/`: the session's path.
    pub async fn start_upload(&mut self, repo: &str) -> anyhow::Result<String> {
        let req = self
            .request(Method::POST, &format!("/v2/{repo}/blobs/uploads/"))
            .header(header::CONTENT_LENGTH, "0")
            .body(empty())?;
        let h = self
            .expect(req, StatusCode::ACCEPTED, "starting an upload")
            .await?;
        location(&h)
    }

    /// A monolithic push as clients do it: `POST`, then `PUT ?digest=` with
    /// the whole blob as the body.
    pub async fn push_monolithic(&mut self, repo: &str, blob: &Blob) -> anyhow::Result<()> {
        let loc = self.start_upload(repo).await?;
        let req = self
            .request(Method::PUT, &with_digest(&loc, &blob.digest))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, blob.size)
            .body(blob_body(blob, 0, blob.size))?;
        self.expect(req, StatusCode::CREATED, "completing a monolithic upload")
            .await?;
        Ok(())
    }

    /// A chunked push: `POST`, `PATCH`es of `chunk` bytes with
    /// `Content-Range`, then `PUT ?digest=` without a body.
    pub async fn push_chunked(
        &mut self,
        repo: &str,
        blob: &Blob,
        chunk: u64,
    ) -> anyhow::Result<()> {
        let mut loc = self.start_upload(repo).await?;
        let mut offset = 0;
        while offset < blob.size {
            let len = chunk.min(blob.size - offset);
            let req = self
                .request(Method::PATCH, &loc)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, len)
                .header(
                    header::CONTENT_RANGE,
                    format!("{}-{}", offset, offset + len - 1),
                )
                .body(blob_body(blob, offset, len))?;
            let h = self
                .expect(req, StatusCode::ACCEPTED, "sending a chunk")
                .await?;
            loc = location(&h)?;
            offset += len;
        }
        let req = self
            .request(Method::PUT, &with_digest(&loc, &blob.digest))
            .header(header::CONTENT_LENGTH, "0")
            .body(empty())?;
        self.expect(req, StatusCode::CREATED, "completing a chunked upload")
            .await?;
        Ok(())
    }

    /// A small blob in one go (configs, manifest workload layers).
    pub async fn push_bytes(&mut self, repo: &str, bytes: &[u8]) -> anyhow::Result<String> {
        let digest = berth_testkit::image::sha256(bytes);
        let loc = self.start_upload(repo).await?;
        let req = self
            .request(Method::PUT, &with_digest(&loc, &digest))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, bytes.len())
            .body(full(bytes.to_vec()))?;
        self.expect(req, StatusCode::CREATED, "pushing a small blob")
            .await?;
        Ok(digest)
    }

    /// `GET` any path, reading and counting the body's bytes.
    pub async fn get_counting(&mut self, path: &str) -> anyhow::Result<u64> {
        let req = self.request(Method::GET, path).body(empty())?;
        let resp = self.send(req).await?;
        if resp.status() != StatusCode::OK {
            bail!("GET {path}: {}", resp.status());
        }
        let mut body = resp.into_body();
        let mut n = 0u64;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                n += data.len() as u64;
            }
        }
        Ok(n)
    }

    /// `GET` a blob and return its bytes (for the correctness check).
    pub async fn pull_bytes(&mut self, repo: &str, digest: &str) -> anyhow::Result<Bytes> {
        let req = self
            .request(Method::GET, &format!("/v2/{repo}/blobs/{digest}"))
            .body(empty())?;
        let (status, _, body) = self.call(req).await?;
        if status != StatusCode::OK {
            bail!("pulling {digest} from {repo}: {status}");
        }
        Ok(body)
    }

    pub async fn put_manifest(
        &mut self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> anyhow::Result<()> {
        let req = self
            .request(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
            .header(header::CONTENT_TYPE, media_type)
            .header(header::CONTENT_LENGTH, body.len())
            .body(full(body.to_vec()))?;
        self.expect(req, StatusCode::CREATED, "pushing a manifest")
            .await?;
        Ok(())
    }

    /// Cross-repository mount (`POST ?mount=&from=`); must answer 201.
    pub async fn mount(&mut self, repo: &str, from: &str, digest: &str) -> anyhow::Result<()> {
        let req = self
            .request(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"),
            )
            .header(header::CONTENT_LENGTH, "0")
            .body(empty())?;
        self.expect(req, StatusCode::CREATED, "mounting a blob")
            .await?;
        Ok(())
    }
}

/// The path (and query) of a `Location`, which may be absolute
/// (Distribution) or a path (berth).
pub fn location(h: &http::HeaderMap) -> anyhow::Result<String> {
    let loc = h
        .get(header::LOCATION)
        .context("response has no Location")?
        .to_str()?;
    Ok(path_of(loc).to_string())
}

pub fn path_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => url,
    }
}

fn with_digest(loc: &str, digest: &str) -> String {
    let sep = if loc.contains('?') { '&' } else { '?' };
    format!("{loc}{sep}digest={digest}")
}

/// Pushes `image` (config, layers, manifest under `tag`) to `repo`.
pub(crate) async fn push_image(
    c: &mut Conn,
    repo: &str,
    image: &berth_testkit::image::Image,
    tag: &str,
) -> anyhow::Result<()> {
    c.push_bytes(repo, &image.config).await?;
    for l in &image.layers {
        c.push_bytes(repo, &l.bytes).await?;
    }
    c.put_manifest(
        repo,
        tag,
        berth_testkit::image::OCI_MANIFEST,
        &image.manifest,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_become_paths() {
        assert_eq!(
            path_of("http://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=y"),
            "/v2/a/blobs/uploads/x?_state=y"
        );
        assert_eq!(path_of("/v2/a/blobs/uploads/x"), "/v2/a/blobs/uploads/x");
        assert_eq!(with_digest("/u?s=1", "sha256:0"), "/u?s=1&digest=sha256:0");
        assert_eq!(with_digest("/u", "sha256:0"), "/u?digest=sha256:0");
    }
}
