//! Hostile input over the wire: slow clients, oversized headers and
//! bodies, path traversal in every part of a `/v2` URL, and digests of
//! unknown algorithms. berth answers each with the protocol's error (or
//! closes the connection), keeps serving everyone else, and creates
//! nothing outside its data dir.

mod common;
use common::*;
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
