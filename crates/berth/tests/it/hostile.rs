//! Hostile input over the wire: slow clients, oversized headers and
//! bodies, path traversal in every part of a `/v2` URL, and digests of
//! unknown algorithms. berth answers each with the protocol's error (or
//! closes the connection), keeps serving everyone else, and creates
//! nothing outside its data dir.

use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn addr(s: &TestServer) -> String {
    s.url().trim_start_matches("http://").to_string()
}

#[test]
fn slow_clients_are_cut_off_and_do_not_starve_the_others() {
    let s = start_with(&["--header-read-timeout", "2s"]);
    // 200 clients that start a request and never finish its headers.
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut c = TcpStream::connect(addr(&s)).unwrap();
            c.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            c
        })
        .collect();
    // Everyone else is served meanwhile.
    let api = Api::new(&s);
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(api.get("/v2/").status(), 200);
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    // After the timeout the server has closed every slow connection: a
    // read ends (EOF, a reset, or a 408 and then EOF) instead of blocking.
    std::thread::sleep(Duration::from_secs(3));
    for c in &mut slow {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        match c.read_to_end(&mut buf) {
            Ok(_) => {}
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "a slow connection is still open"
            ),
        }
    }
    assert_eq!(api.get("/v2/").status(), 200);
}

#[test]
fn oversized_headers_and_bodies_are_refused_with_the_protocols_errors() {
    let s = start();
    let api = Api::new(&s);
    // A 1 MiB header: hyper refuses it (431) or drops the connection.
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    let mut req = b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 1 << 20));
    req.extend_from_slice(b"\r\n\r\n");
    let _ = c.write_all(&req);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    let _ = c.read_to_end(&mut answer);
    let head = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || head.starts_with("HTTP/1.1 431"),
        "{head}"
    );

    // ECR API bodies over 1 MiB, IAM bodies over 64 KiB.
    let (status, body) = s
        .ecr(
            "us-east-1",
            "CreateRepository",
            serde_json::json!({ "repositoryName": "big", "padding": "x".repeat(2 << 20) }),
        )
        .unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("exceeds"), "{body}");
    let iam = s
        .raw_client()
        .post(s.url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "Action=ListUsers&Version=2010-05-08&X={}",
            "x".repeat(128 << 10)
        ))
        .send()
        .unwrap();
    assert!(iam.status().is_client_error(), "{}", iam.status());

    // A manifest over 4 MiB: 413 MANIFEST_INVALID, nothing stored.
    let big = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{{"x":"{}"}}}}"#,
        "y".repeat(5 << 20)
    );
    let r = api.put_manifest("big/app", "v1", image::OCI_MANIFEST, big.as_bytes());
    assert_eq!(r.status(), 413);
    assert_eq!(error_code(r), "MANIFEST_INVALID");
    // The server is fine afterwards.
    assert_eq!(api.get("/v2/").status(), 200);
}

#[test]
fn path_traversal_and_unknown_algorithms_get_clear_errors_and_touch_nothing() {
    if !tools::require("skopeo") {
        return;
    }
    let s = start();
    let api = Api::new(&s);
    let img = image::oci_image(5, 1, 1, 256);
    api.push_image("safe/app", &img, "v1");

    let sha = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let cases = [
        "/v2/../../etc/passwd/manifests/v1".to_string(),
        "/v2/%2e%2e/%2e%2e/etc/manifests/v1".to_string(),
        "/v2/safe/../app/manifests/v1".to_string(),
        "/v2/safe/app/manifests/..%2f..%2fv1".to_string(),
        "/v2/safe/app/manifests/sha256:..%2f..%2fetc%2fpasswd".to_string(),
        "/v2/safe/app/blobs/sha256:../../../../etc/passwd".to_string(),
        "/v2/safe/app/blobs/sha256:%2e%2e%2f%2e%2e%2fetc".to_string(),
        "/v2/safe/app/blobs/uploads/..%2f..%2fserver.key".to_string(),
        "/v2/safe/app/blobs/uploads/../../../server.key".to_string(),
        format!(
            "/v2/safe/app/blobs/{}",
            sha.replace("sha256", "sha256/../..")
        ),
    ];
    for path in &cases {
        let r = api.get(path);
        let status = r.status().as_u16();
        let text = r.text().unwrap();
        assert!((400..500).contains(&status), "{path}: {status} {text}");
        assert!(
            !text.contains("BEGIN") && !text.contains("root:"),
            "{path}: {text}"
        );
    }
    // Uploads to traversing ids or names are refused and create nothing.
    for path in [
        "/v2/safe/app/blobs/uploads/..%2f..%2fx",
        "/v2/..%2f..%2ftmp/blobs/uploads/",
    ] {
        let r = api.client.put(api.url(path)).body("x").send().unwrap();
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
    }

    // Digests of an algorithm berth does not know: DIGEST_INVALID (or
    // BLOB/MANIFEST_UNKNOWN for a read), with a message that names it.
    let r = api
        .client
        .post(api.url("/v2/safe/app/blobs/uploads/?digest=md5:d41d8cd98f00b204e9800998ecf8427e"))
        .body("")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().unwrap();
    assert!(
        body.contains("DIGEST_INVALID") && body.contains("md5"),
        "{body}"
    );
    let r = api.get("/v2/safe/app/manifests/blake3:0000");
    assert!(r.status().is_client_error());
    let body = r.text().unwrap();
    assert!(body.contains("blake3"), "{body}");

    // The image is untouched and nothing new appeared beside the data dir.
    let layout = s.scratch().join("after");
    tools::run(
        s.command("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{}/safe/app:v1", s.host()))
            .arg(format!("dir:{}", layout.display())),
    );
    assert_eq!(
        std::fs::read(layout.join("manifest.json")).unwrap(),
        img.manifest
    );
}

/// Go's net/http (docker's and containerd's client) sends a request without
/// credentials first and repeats it with them on the same connection. An
/// early answer (401, or 400 on a bad header) must leave that connection
/// usable: the unread body is drained, or the answer says
/// `Connection: close`.
#[test]
fn early_answers_leave_the_connection_usable_for_the_retry() {
    let s = start();
    let api = Api::new(&s);
    let img = image::oci_image(1701, 1, 2, 100);
    for l in &img.layers {
        api.push_blob("early/app", &l.bytes);
    }
    api.push_blob("early/app", &img.config);
    let auth = format!(
        "Authorization: Basic {}\r\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s.creds())
    );
    let put = |auth: &str| {
        format!(
            "PUT /v2/early/app/manifests/v1 HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{auth}",
            addr(&s),
            image::OCI_MANIFEST,
            img.manifest.len()
        )
    };
    let mut c = crate::common::raw::Conn::open(&addr(&s));
    let first = c.request(&put(""), &img.manifest).unwrap();
    assert_eq!(first.status, 401, "{}", first.text());
    let retry = c
        .request(&put(&auth), &img.manifest)
        .expect("the retry on the same connection is answered");
    assert_eq!(retry.status, 201, "{}", retry.text());

    // A 400 before the body is read: a chunk with a malformed Content-Range.
    let start = api
        .client
        .post(api.url("/v2/early/app/blobs/uploads/"))
        .send()
        .unwrap();
    let location = header(&start, "location");
    let body = vec![7u8; 100_000];
    let patch = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {}\r\nContent-Range: bytes=nonsense\r\nContent-Length: {}\r\n{auth}",
        addr(&s),
        body.len()
    );
    let refused = c.request(&patch, &body).unwrap();
    assert_eq!(refused.status, 400, "{}", refused.text());
    let after = c
        .request(
            &format!(
                "GET /v2/early/app/manifests/v1 HTTP/1.1\r\nHost: {}\r\n{auth}",
                addr(&s)
            ),
            b"",
        )
        .expect("the next request on the connection is answered");
    assert_eq!(after.status, 200);

    // Too much to drain: the answer says the connection closes.
    let mut c = crate::common::raw::Conn::open(&addr(&s));
    let big = format!(
        "PUT /v2/early/app/manifests/v2 HTTP/1.1\r\nHost: {}\r\nContent-Type: {}\r\nContent-Length: 10000000\r\n\r\n",
        addr(&s),
        image::OCI_MANIFEST,
    );
    c.send(big.as_bytes()).unwrap();
    let answer = c.response().unwrap();
    assert_eq!(answer.status, 401);
    assert_eq!(answer.header("connection"), Some("close"));
}

/// The account a `/v2` request addresses comes from its Host header; an
/// absolute-form request target naming another account's host is not
/// followed.
#[test]
fn the_account_comes_from_the_host_header_not_the_request_line() {
    let s = start();
    let api = Api::new(&s);
    api.push_image("mine/app", &image::oci_image(1702, 1, 2, 100), "v1");
    let auth = format!(
        "Authorization: Basic {}\r\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s.creds())
    );
    let port = s.addr.port();
    let mut c = crate::common::raw::Conn::open(&addr(&s));
    let r = c
        .request(
            &format!(
                "GET http://111111111111.dkr.ecr.us-east-1.localhost:{port}/v2/_catalog HTTP/1.1\r\nHost: {}\r\n{auth}",
                addr(&s)
            ),
            b"",
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let catalog: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(catalog["repositories"], serde_json::json!(["mine/app"]));
}

/// RFC 9110: the authentication scheme's name is case-insensitive.
#[test]
fn the_basic_scheme_is_accepted_in_any_case() {
    let s = start();
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, s.creds());
    for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
        let r = s
            .raw_client()
            .get(format!("{}/v2/", s.url()))
            .header("authorization", format!("{scheme} {b64}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{scheme}");
    }
}
