//! The machine's HTTP floor: a bare hyper server (multi-threaded tokio, as
//! berth runs) that answers every request with one fixed manifest-sized
//! body and the headers a registry sends. No routing, no storage: whatever
//! rate it reaches on this machine with this load generator is the most
//! any HTTP/1.1 server here could.

use bytes::Bytes;
use http::{header, HeaderValue, Response};
use http_body_util::Full;
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
            loop {
                let (tcp, _) = listener.accept().await?;
                tcp.set_nodelay(true)?;
                let (body, digest) = (body.clone(), digest.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |_req| {
                        let mut resp = Response::new(Full::new(body.clone()));
                        let h = resp.headers_mut();
                        h.insert(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/vnd.oci.image.manifest.v1+json"),
                        );
                        h.insert("docker-content-digest", digest.clone());
                        async move { Ok::<_, Infallible>(resp) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        })
}
