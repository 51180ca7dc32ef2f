//! The distribution API over HTTP against a real berth process: the happy
//! paths with their headers, and every error case with its code and status.

use crate::common::*;
use image::{sha256, OCI_INDEX, OCI_MANIFEST};

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

#[test]
fn base_health_ready_and_metrics() {
    let s = start();
    let api = Api::new(&s);
    let r = api.get("/v2/");
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "docker-distribution-api-version"),
        "registry/2.0"
    );
    assert_eq!(api.get("/healthz").status(), 200);
    let ready = api.get("/readyz");
    assert_eq!(ready.status(), 200);
    let text = ready.text().unwrap();
    assert!(
        text.contains("metadata: ok\n") && text.contains("blobs: ok\n"),
        "{text}"
    );

    api.push_blob("metrics/repo", b"some bytes");
    api.head(&format!("/v2/metrics/repo/blobs/{}", sha256(b"some bytes")));
    // Response bytes: a small body counted as its head goes out, a large
    // one as it streams.
    let large = image::random_bytes(3, 100_000);
    let large_digest = api.push_blob("metrics/repo", &large);
    for digest in [sha256(b"some bytes"), large_digest] {
        let r = api.get(&format!("/v2/metrics/repo/blobs/{digest}"));
        assert_eq!(r.status(), 200);
        r.bytes().unwrap();
    }
    let m = api.get("/metrics").text().unwrap();
    for needle in [
        r#"berth_http_requests_total{route="base",method="GET",status="200"} 1"#,
        r#"berth_http_requests_total{route="upload_start",method="POST",status="201"} 2"#,
        r#"berth_http_requests_total{route="blob",method="HEAD",status="200"} 1"#,
        "berth_http_request_duration_seconds_bucket",
        "berth_repositories 1",
        "berth_blobs 2",
        "berth_blob_bytes 100010",
    ] {
        assert!(m.contains(needle), "/metrics lacks {needle}:\n{m}");
    }
    let counter = |name: &str| -> u64 {
        m.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /metrics:\n{m}"))
    };
    assert!(counter("berth_http_request_body_bytes_total") >= 100_010);
    assert!(counter("berth_http_response_body_bytes_total") >= 100_010);
}

#[test]
fn uploads_monolithic_post_put_and_chunked() {
    let s = start();
    let api = Api::new(&s);
    let c = &api.client;

    // POST then PUT with the whole body.
    let data = image::random_bytes(1, 300_000);
    let r = c.post(api.url("/v2/up/blobs/uploads/")).send().unwrap();
    assert_eq!(r.status(), 202);
    let location = header(&r, "location");
    assert!(location.starts_with("/v2/up/blobs/uploads/"));
    assert_eq!(header(&r, "range"), "0-0");
    assert_eq!(
        location.rsplit('/').next().unwrap(),
        header(&r, "docker-upload-uuid")
    );
    let digest = sha256(&data);
    let r = c
        .put(api.url(&format!("{location}?digest={digest}")))
        .body(data.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    assert_eq!(header(&r, "location"), format!("/v2/up/blobs/{digest}"));

    // Chunked: PATCH × 3 with Content-Range, status in between, PUT without a body.
    let data2 = image::random_bytes(2, 1_000_000);
    let r = c.post(api.url("/v2/up/blobs/uploads/")).send().unwrap();
    let mut location = header(&r, "location");
    let mut start = 0;
    for chunk in data2.chunks(400_000) {
        let end = start + chunk.len() - 1;
        let r = c
            .patch(api.url(&location))
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{start}-{end}"))
            .body(chunk.to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(header(&r, "range"), format!("0-{end}"));
        location = header(&r, "location");
        start = end + 1;
    }
    let r = api.get(&location);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "range"), format!("0-{}", data2.len() - 1));
    let digest2 = sha256(&data2);
    let r = c
        .put(api.url(&format!("{location}?digest={digest2}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);

    for (d, bytes) in [(&digest, &data), (&digest2, &data2)] {
        let h = api.head(&format!("/v2/up/blobs/{d}"));
        assert_eq!(h.status(), 200);
        assert_eq!(header(&h, "content-length"), bytes.len().to_string());
        assert_eq!(header(&h, "docker-content-digest"), *d);
        let g = api.get(&format!("/v2/up/blobs/{d}"));
        assert_eq!(g.status(), 200);
        assert_eq!(&g.bytes().unwrap()[..], &bytes[..], "blob bytes round-trip");
    }

    // Cancelling a session makes it unknown.
    let r = c.post(api.url("/v2/up/blobs/uploads/")).send().unwrap();
    let location = header(&r, "location");
    assert_eq!(c.delete(api.url(&location)).send().unwrap().status(), 204);
    let r = api.get(&location);
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn upload_errors_have_the_spec_codes() {
    let s = start();
    let api = Api::new(&s);
    let c = &api.client;

    // A digest that does not match the content: DIGEST_INVALID and nothing stored.
    let wrong = sha256(b"other");
    let r = c
        .post(api.url(&format!("/v2/e/blobs/uploads/?digest={wrong}")))
        .body("content")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");
    assert_eq!(api.head(&format!("/v2/e/blobs/{wrong}")).status(), 404);
    let r = c.post(api.url("/v2/e/blobs/uploads/")).send().unwrap();
    let loc = header(&r, "location");
    let r = c
        .put(api.url(&format!("{loc}?digest={wrong}")))
        .body("content")
        .send()
        .unwrap();
    assert_eq!(error_code(r), "DIGEST_INVALID");
    assert_eq!(
        api.get(&loc).status(),
        404,
        "a failed completion ends the session"
    );

    // Malformed and unsupported digests are 400 DIGEST_INVALID, never 500.
    for d in [
        "sha256:abc",
        "nonsense",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    ] {
        let r = c
            .post(api.url(&format!("/v2/e/blobs/uploads/?digest={d}")))
            .body("x")
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{d}");
        assert_eq!(error_code(r), "DIGEST_INVALID");
        let r = api.get(&format!("/v2/e/blobs/{d}"));
        assert_eq!(r.status(), 400, "{d}");
        assert_eq!(error_code(r), "DIGEST_INVALID");
    }
    let r = c.post(api.url("/v2/e/blobs/uploads/")).send().unwrap();
    let loc = header(&r, "location");
    let r = c.put(api.url(&loc)).send().unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");

    // A chunk out of order is 416 with the current range; a retried earlier chunk too.
    let r = c
        .patch(api.url(&loc))
        .header("content-range", "0-2")
        .body("abc")
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    for range in ["5-7", "0-2"] {
        let r = c
            .patch(api.url(&loc))
            .header("content-range", range)
            .body("def")
            .send()
            .unwrap();
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(header(&r, "range"), "0-2");
        assert_eq!(error_code(r), "BLOB_UPLOAD_INVALID");
    }
    let r = c
        .patch(api.url(&loc))
        .header("content-range", "bogus")
        .body("def")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);

    // Unknown sessions, and session ids that are not ours.
    for id in [
        "0b5e7a0c-0000-4000-8000-000000000001",
        "..%2F..%2Fetc",
        "not-a-uuid",
    ] {
        let r = c
            .patch(api.url(&format!("/v2/e/blobs/uploads/{id}")))
            .body("x")
            .send()
            .unwrap();
        assert_eq!(r.status(), 404, "{id}");
        assert_eq!(error_code(r), "BLOB_UPLOAD_UNKNOWN");
    }
    // A session belongs to its repository.
    api.push_blob("other", b"x");
    let foreign = loc.replace("/v2/e/", "/v2/other/");
    let r = api.get(&foreign);
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn blobs_are_readable_only_where_pushed() {
    let s = start();
    let api = Api::new(&s);
    let d = api.push_blob("team/a", b"private layer");
    api.push_blob("team/b", b"something else");
    let r = api.get(&format!("/v2/team/b/blobs/{d}"));
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "BLOB_UNKNOWN");
    let r = api.get(&format!("/v2/team/nope/blobs/{d}"));
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "NAME_UNKNOWN");
    assert_eq!(api.head(&format!("/v2/team/b/blobs/{d}")).status(), 404);

    // Mounting from a repository that has the blob links it; from one that does not, opens a session.
    let c = &api.client;
    let r = c
        .post(api.url(&format!("/v2/team/b/blobs/uploads/?mount={d}&from=team/a")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "docker-content-digest"), d);
    assert_eq!(
        &api.get(&format!("/v2/team/b/blobs/{d}")).bytes().unwrap()[..],
        b"private layer"
    );
    let r = c
        .post(api.url(&format!(
            "/v2/team/c/blobs/uploads/?mount={d}&from=team/nope"
        )))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);

    // Deleting a blob unlinks it from that repository only.
    assert_eq!(
        c.delete(api.url(&format!("/v2/team/b/blobs/{d}")))
            .send()
            .unwrap()
            .status(),
        202
    );
    assert_eq!(api.head(&format!("/v2/team/b/blobs/{d}")).status(), 404);
    assert_eq!(api.head(&format!("/v2/team/a/blobs/{d}")).status(), 200);
}

#[test]
fn manifests_round_trip_byte_for_byte_with_negotiation() {
    let s = start();
    let api = Api::new(&s);
    let img = image::oci_image(7, 2, 2, 10_000);
    api.push_image("app", &img, "v1");

    for reference in ["v1", img.manifest_digest.as_str()] {
        let r = api
            .client
            .get(api.url(&format!("/v2/app/manifests/{reference}")))
            .header("accept", OCI_MANIFEST)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "content-type"), OCI_MANIFEST);
        assert_eq!(header(&r, "docker-content-digest"), img.manifest_digest);
        assert_eq!(&r.bytes().unwrap()[..], &img.manifest[..]);
        let h = api
            .client
            .head(api.url(&format!("/v2/app/manifests/{reference}")))
            .send()
            .unwrap();
        assert_eq!(h.status(), 200);
        assert_eq!(header(&h, "content-length"), img.manifest.len().to_string());
        assert_eq!(header(&h, "docker-content-digest"), img.manifest_digest);
    }
    // A client that accepts only Docker types is not handed an OCI manifest.
    let r = api
        .client
        .get(api.url("/v2/app/manifests/v1"))
        .header("accept", DOCKER_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "MANIFEST_UNKNOWN");

    // PUT by digest must match the body.
    let r = api.put_manifest("app", &img.manifest_digest, OCI_MANIFEST, &img.manifest);
    assert_eq!(r.status(), 201);
    assert_eq!(
        header(&r, "location"),
        format!("/v2/app/manifests/{}", img.manifest_digest)
    );
    let r = api.put_manifest("app", &sha256(b"nope"), OCI_MANIFEST, &img.manifest);
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");

    // Docker schema 2 and a manifest list over it.
    let docker = String::from_utf8(img.manifest.clone())
        .unwrap()
        .replace(OCI_MANIFEST, DOCKER_MANIFEST)
        .replace(
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.docker.container.image.v1+json",
        )
        .replace(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        );
    let r = api.put_manifest("app", "docker", DOCKER_MANIFEST, docker.as_bytes());
    assert_eq!(r.status(), 201);
    let list = serde_json::json!({
        "schemaVersion": 2, "mediaType": DOCKER_LIST,
        "manifests": [{ "mediaType": DOCKER_MANIFEST, "digest": sha256(docker.as_bytes()), "size": docker.len(),
                        "platform": { "architecture": "amd64", "os": "linux" } }]
    }).to_string();
    assert_eq!(
        api.put_manifest("app", "list", DOCKER_LIST, list.as_bytes())
            .status(),
        201
    );
    let r = api.get("/v2/app/manifests/list");
    assert_eq!(header(&r, "content-type"), DOCKER_LIST);
    assert_eq!(r.text().unwrap(), list);

    // An OCI index whose child is missing from this repository.
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{ "mediaType": OCI_MANIFEST, "digest": sha256(b"absent"), "size": 1 }]
    })
    .to_string();
    let r = api.put_manifest("app", "idx", OCI_INDEX, index.as_bytes());
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "MANIFEST_BLOB_UNKNOWN");

    // Deleting by digest removes the manifest and its tags; an index's child is protected.
    let c = &api.client;
    let r = c
        .delete(api.url(&format!("/v2/app/manifests/{}", sha256(docker.as_bytes()))))
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        405,
        "a manifest listed by an index cannot be deleted first"
    );
    assert_eq!(error_code(r), "DENIED");
    assert_eq!(
        c.delete(api.url(&format!("/v2/app/manifests/{}", sha256(list.as_bytes()))))
            .send()
            .unwrap()
            .status(),
        202
    );
    assert_eq!(
        c.delete(api.url(&format!("/v2/app/manifests/{}", sha256(docker.as_bytes()))))
            .send()
            .unwrap()
            .status(),
        202
    );
    let r = api.get("/v2/app/manifests/docker");
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "MANIFEST_UNKNOWN");
    let tags: serde_json::Value = api.get("/v2/app/tags/list").json().unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["v1"]));
}

#[test]
fn manifest_errors_have_the_spec_codes() {
    let s = start();
    let api = Api::new(&s);
    let img = image::oci_image(8, 1, 1, 1000);

    // Blobs missing from the repository.
    let r = api.put_manifest("app", "v1", OCI_MANIFEST, &img.manifest);
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["errors"][0]["code"], "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(
        body["errors"][0]["detail"]["digests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Pushing the blobs to another repository does not help.
    api.push_image("elsewhere", &img, "v1");
    let r = api.put_manifest("app", "v1", OCI_MANIFEST, &img.manifest);
    assert_eq!(error_code(r), "MANIFEST_BLOB_UNKNOWN");

    for (body, ct) in [
        (&b"{not json"[..], OCI_MANIFEST),
        (br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#, OCI_MANIFEST),
        (br#"{"schemaVersion":1,"fsLayers":[]}"#, "application/vnd.docker.distribution.manifest.v1+json"),
        (&img.manifest[..], DOCKER_MANIFEST),
        (br#"{"schemaVersion":2,"mediaType":"text/plain"}"#, "text/plain"),
    ] {
        let r = api.put_manifest("app", "bad", ct, body);
        assert_eq!(r.status(), 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(error_code(r), "MANIFEST_INVALID");
    }
    // JSON text even in fields berth does not read (UTF-8, nesting at most
    // 64 deep), and descriptors whose sizes are true (issue 17).
    let text = String::from_utf8(img.manifest.clone()).unwrap();
    let with_field = |value: &[u8]| {
        let mut b = img.manifest[..img.manifest.len() - 1].to_vec();
        b.extend_from_slice(b",\"x-note\":");
        b.extend_from_slice(value);
        b.push(b'}');
        b
    };
    let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
    let layer_size = img.layers[0].bytes.len();
    let lying = text.replace(
        &format!("\"size\": {layer_size}"),
        &format!("\"size\": {}", layer_size + 1),
    );
    assert_ne!(lying, text);
    for (what, body) in [
        ("invalid UTF-8", with_field(b"\"caf\xe9\"")),
        ("a million levels deep", with_field(deep.as_bytes())),
        ("a layer's size one too many", lying.into_bytes()),
    ] {
        let r = api.put_manifest("elsewhere", "bad", OCI_MANIFEST, &body);
        assert_eq!(r.status(), 400, "{what}");
        assert_eq!(error_code(r), "MANIFEST_INVALID", "{what}");
    }
    assert_eq!(api.get("/v2/elsewhere/manifests/bad").status(), 404);

    let big = format!(
        r#"{{"schemaVersion":2,"pad":"{}"}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    let r = api.put_manifest("app", "big", OCI_MANIFEST, big.as_bytes());
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = r.json().unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("limit"),
        "{body}"
    );

    // Names and tags outside the grammar.
    let long = "a".repeat(257);
    for path in [
        "/v2/App/manifests/v1",
        "/v2/a//b/manifests/v1",
        "/v2/a/-b/manifests/v1",
        &format!("/v2/{long}/manifests/v1"),
    ] {
        let r = api.put_manifest(
            path.trim_start_matches("/v2/")
                .trim_end_matches("/manifests/v1"),
            "v1",
            OCI_MANIFEST,
            b"{}",
        );
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(error_code(r), "NAME_INVALID");
        let r = api.get(path);
        assert_eq!(error_code(r), "NAME_INVALID");
    }
    for tag in ["-bad", ".bad", &"t".repeat(129)] {
        let r = api.put_manifest("elsewhere", tag, OCI_MANIFEST, &img.manifest);
        assert_eq!(r.status(), 400, "{tag}");
        assert_eq!(error_code(r), "TAG_INVALID");
    }
    let r = api.get("/v2/elsewhere/manifests/nope");
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "MANIFEST_UNKNOWN");
    let r = api.get("/v2/never/manifests/v1");
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "NAME_UNKNOWN");
}

#[test]
fn a_moved_tag_is_seen_at_once() {
    let s = start();
    let api = Api::new(&s);
    let (a, b) = (
        image::oci_image(1, 1, 1, 100),
        image::oci_image(2, 1, 1, 100),
    );
    api.push_image("r", &a, "latest");
    for _ in 0..3 {
        assert_eq!(
            header(&api.get("/v2/r/manifests/latest"), "docker-content-digest"),
            a.manifest_digest
        );
    }
    api.push_image("r", &b, "latest");
    assert_eq!(
        header(&api.get("/v2/r/manifests/latest"), "docker-content-digest"),
        b.manifest_digest
    );
    assert_eq!(
        &api.get("/v2/r/manifests/latest").bytes().unwrap()[..],
        &b.manifest[..]
    );
}

fn follow_pages(api: &Api, first: &str, key: &str) -> (Vec<String>, usize) {
    let (mut all, mut pages, mut next) = (Vec::new(), 0, Some(first.to_string()));
    while let Some(path) = next {
        let r = api.get(&path);
        assert_eq!(r.status(), 200);
        next = r.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            assert!(l.ends_with("rel=\"next\""), "{l}");
            l[l.find('<').unwrap() + 1..l.find('>').unwrap()].to_string()
        });
        let body: serde_json::Value = r.json().unwrap();
        all.extend(
            body[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string()),
        );
        pages += 1;
    }
    (all, pages)
}

#[test]
fn tags_and_catalog_paginate_in_lexical_order() {
    let s = start();
    let api = Api::new(&s);
    let img = image::oci_image(3, 1, 1, 100);
    api.push_image("p", &img, "seed");
    let mut expected: Vec<String> = (0..24)
        .map(|i| format!("t{i}"))
        .chain(["seed".to_string()])
        .collect();
    for t in &expected[..24] {
        assert_eq!(
            api.put_manifest("p", t, OCI_MANIFEST, &img.manifest)
                .status(),
            201
        );
    }
    expected.sort();
    let (tags, pages) = follow_pages(&api, "/v2/p/tags/list?n=10", "tags");
    assert_eq!((tags.clone(), pages), (expected.clone(), 3));
    let (tags, pages) = follow_pages(&api, "/v2/p/tags/list", "tags");
    assert_eq!((tags, pages), (expected.clone(), 1));
    let body: serde_json::Value = api.get("/v2/p/tags/list?n=2&last=t2").json().unwrap();
    assert_eq!(body["tags"], serde_json::json!(["t20", "t21"]));
    assert_eq!(body["name"], "p");
    let body: serde_json::Value = api.get("/v2/p/tags/list?n=0").json().unwrap();
    assert_eq!(body["tags"], serde_json::json!([]));
    assert_eq!(api.get("/v2/p/tags/list?n=-1").status(), 400);

    let mut repos = vec!["p".to_string()];
    for i in 0..11 {
        let name = format!("ns{}/r{i}", i % 3);
        api.push_blob(&name, b"x");
        repos.push(name);
    }
    repos.sort();
    let (got, pages) = follow_pages(&api, "/v2/_catalog?n=5", "repositories");
    assert_eq!((got, pages), (repos, 3));
}

#[test]
fn pushed_data_survives_restart_and_sigkill() {
    let mut s = start();
    let api = Api::new(&s);
    let a = image::oci_image(11, 2, 2, 50_000);
    api.push_image("keep", &a, "a");
    s.restart();
    let b = image::oci_image(12, 2, 2, 50_000);
    let api = Api::new(&s);
    api.push_image("keep", &b, "b");
    s.kill();
    s.restart();
    let api = Api::new(&s);
    for (img, tag) in [(&a, "a"), (&b, "b")] {
        assert_eq!(
            &api.get(&format!("/v2/keep/manifests/{tag}"))
                .bytes()
                .unwrap()[..],
            &img.manifest[..]
        );
        for l in &img.layers {
            assert_eq!(
                &api.get(&format!("/v2/keep/blobs/{}", l.digest))
                    .bytes()
                    .unwrap()[..],
                &l.bytes[..]
            );
        }
    }
}

/// A body that trickles out over about a second, to be in flight during shutdown.
struct Trickle {
    left: Vec<u8>,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left.is_empty() {
            return Ok(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        let n = buf.len().min(64 * 1024).min(self.left.len());
        buf[..n].copy_from_slice(&self.left[..n]);
        self.left.drain(..n);
        Ok(n)
    }
}

#[test]
fn sigterm_lets_an_in_flight_upload_finish() {
    let mut s = start();
    let data = image::random_bytes(5, 20 * 64 * 1024);
    let digest = sha256(&data);
    let url = format!("{}/v2/drain/blobs/uploads/?digest={digest}", s.url());
    let client = s.client();
    let body = data.clone();
    let upload = std::thread::spawn(move || {
        client
            .post(url)
            .body(reqwest::blocking::Body::new(Trickle { left: body }))
            .send()
            .unwrap()
            .status()
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = s.stop();
    assert!(status.success(), "berth exits 0 after draining: {status}");
    assert_eq!(
        upload.join().unwrap(),
        201,
        "the in-flight upload completed"
    );
    assert!(s.log().contains("stopped cleanly"));
    s.restart();
    assert_eq!(
        &Api::new(&s)
            .get(&format!("/v2/drain/blobs/{digest}"))
            .bytes()
            .unwrap()[..],
        &data[..]
    );
}

#[test]
fn a_second_server_cannot_take_a_data_dir_in_use() {
    let s = start();
    let out = std::process::Command::new(berth_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another berth process"), "{err}");
}

/// Starts `berth serve` with `args` and `env`, waits for it to report where
/// its data lives, stops it, and returns that line.
fn data_line(args: &[&str], env: &[(&str, &std::path::Path)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut cmd = std::process::Command::new(berth_bin());
    cmd.arg("serve")
        .args(args)
        .stderr(std::fs::File::create(&log).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let line = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("listening on")) {
            break Ok(line.to_string());
        }
        if std::time::Instant::now() > deadline {
            break Err(text);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    line.unwrap_or_else(|text| panic!("berth did not start: {text}"))
}

#[test]
fn settings_come_from_flags_then_environment_then_file() {
    let dir = tempfile::tempdir().unwrap();
    let (file_dir, env_dir, flag_dir) = (
        dir.path().join("file"),
        dir.path().join("env"),
        dir.path().join("flag"),
    );
    let cfg = dir.path().join("berth.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\nlisten = \"127.0.0.1:0\"\n",
            file_dir.display()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();

    let line = data_line(&["--config", cfg], &[]);
    assert!(
        line.contains(file_dir.to_str().unwrap()),
        "the file applies: {line}"
    );
    let line = data_line(&["--config", cfg], &[("BERTH_DATA_DIR", &env_dir)]);
    assert!(
        line.contains(env_dir.to_str().unwrap()),
        "the environment beats the file: {line}"
    );
    let line = data_line(
        &["--config", cfg, "--data-dir", flag_dir.to_str().unwrap()],
        &[("BERTH_DATA_DIR", &env_dir)],
    );
    assert!(
        line.contains(flag_dir.to_str().unwrap()),
        "the flag beats the environment: {line}"
    );
    assert!(
        data_line(&["--config", cfg, "--listen", "127.0.0.1:0"], &[]).contains("http://127.0.0.1:")
    );
}

#[test]
fn serves_https_with_a_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let s = start_with(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(s.url().starts_with("https://"));
    let api = Api::new(&s);
    let v2 = api.get("/v2/");
    assert_eq!(v2.status(), 200);
    // The test clients negotiate HTTP/2 over TLS (ALPN): the server's
    // start-up GetAuthorizationToken above was SigV4-signed over it, with
    // the host in `:authority` and no Host header (host::authority_as_host).
    assert_eq!(v2.version(), reqwest::Version::HTTP_2);
    let out = aws_with(
        &s.aws_env("us-east-1"),
        &["ecr", "describe-registry", "--no-verify-ssl"],
    );
    assert!(
        out.status.success(),
        "aws over https: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = api.push_blob("tls", b"over tls");
    assert_eq!(
        &api.get(&format!("/v2/tls/blobs/{d}")).bytes().unwrap()[..],
        b"over tls"
    );
}

/// Open upload sessions are capped per repository and per user (issue 17:
/// 5,000 were accepted from one user); the refusal says how many are open
/// and how they end. `POST ?digest=` opens no session, and a cancelled
/// session makes room at once.
#[test]
fn open_upload_sessions_are_capped_per_repository_and_per_user() {
    let s = start_with(&[
        "--upload-sessions-per-repository",
        "3",
        "--upload-sessions-per-principal",
        "4",
    ]);
    let api = Api::new(&s);
    let c = &api.client;
    let post = |repo: &str| {
        c.post(api.url(&format!("/v2/{repo}/blobs/uploads/")))
            .send()
            .unwrap()
    };
    let mut open = Vec::new();
    for _ in 0..3 {
        let r = post("caps/a");
        assert_eq!(r.status(), 202);
        open.push(header(&r, "location"));
    }
    let r = post("caps/a");
    assert_eq!(r.status(), 429);
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["errors"][0]["code"], "TOOMANYREQUESTS", "{body}");
    let msg = body["errors"][0]["message"].as_str().unwrap();
    for needle in [
        "repository 'caps/a' has 3 upload sessions open, the most allowed",
        "24 hours after its last request (--upload-expiry-hours)",
        "DELETE /v2/<name>/blobs/uploads/<id>",
    ] {
        assert!(msg.contains(needle), "{msg}");
    }
    api.push_blob("caps/a", b"a monolithic upload opens no session");
    let r = c.delete(api.url(&open[0])).send().unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        post("caps/a").status(),
        202,
        "the cancelled session made room"
    );

    // The user's fourth session, in another repository; no fifth anywhere.
    assert_eq!(post("caps/b").status(), 202);
    let r = post("caps/c");
    assert_eq!(r.status(), 429);
    let body: serde_json::Value = r.json().unwrap();
    let msg = body["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("you have 4 upload sessions open"), "{msg}");
    // InitiateLayerUpload opens the same sessions, for the same user.
    let (status, err) = s
        .ecr(
            "us-east-1",
            "InitiateLayerUpload",
            serde_json::json!({"repositoryName": "caps/b"}),
        )
        .unwrap_err();
    assert_eq!(status, 400);
    assert_eq!(err["__type"], "LimitExceededException", "{err}");
    assert!(
        err["message"].as_str().unwrap().starts_with(
            "The operation did not succeed because it would have exceeded a service limit for your account."
        ),
        "{err}"
    );
}
