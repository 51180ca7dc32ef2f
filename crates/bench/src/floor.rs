//! The machine's HTTP floor: a bare hyper server (multi-threaded tokio, as
//! berth runs) that answers every request with one fixed manifest-sized
//! body and the headers a registry sends, or, for `/bulk/<bytes>`, streams
//! that many bytes from one buffer in memory. No routing, no storage:
//! whatever it reaches on this machine with this load generator is the
//! most any HTTP/1.1 server here could.

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;

/// A body of the size of a small image manifest.
pub fn fixed_body() -> Bytes {
    let layer = r#"{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":1048576}"#;
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":500}},"layers":[{layer},{layer}]}}"#
    );
    Bytes::from(body)
}

pub fn serve(listen: SocketAddr) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let body = fixed_body();
            let digest = HeaderValue::from_str(&berth_testkit::image::sha256(&body))?;
            let bulk = crate::content::base_chunk();
            loop {
                let (tcp, _) = listener.accept().await?;
                tcp.set_nodelay(true)?;
                let (body, digest, bulk) = (body.clone(), digest.clone(), bulk.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let resp = match bulk_len(req.uri().path()) {
                            Some(len) => bulk_response(&bulk, len),
                            None => {
                                let mut resp = Response::new(Full::new(body.clone()).boxed());
                                let h = resp.headers_mut();
                                h.insert(
                                    header::CONTENT_TYPE,
                                    HeaderValue::from_static(
                                        "application/vnd.oci.image.manifest.v1+json",
                                    ),
                                );
                                h.insert("docker-content-digest", digest.clone());
                                resp
                            }
                        };
                        async move { Ok::<_, Infallible>(resp) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        })
}

fn bulk_len(path: &str) -> Option<u64> {
    path.strip_prefix("/bulk/")?.parse().ok()
}

/// `len` bytes as frames of the shared buffer (no copy, as berth's mapped
/// windows are none).
fn bulk_response(buf: &Bytes, len: u64) -> Response<BoxBody<Bytes, Infallible>> {
    let buf = buf.clone();
    let step = buf.len() as u64;
    let frames = (0..len.div_ceil(step)).map(move |i| {
        let n = step.min(len - i * step) as usize;
        Ok::<_, Infallible>(Frame::data(buf.slice(..n)))
    });
    let mut resp = Response::new(StreamBody::new(futures_util::stream::iter(frames)).boxed());
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}
