//! `berth serve --blobs s3://...` on a real S3 server (SeaweedFS, which
//! scripts/test.sh starts once per run: `BERTH_TEST_S3_*`), with the
//! metadata in PostgreSQL: the deployment a team outgrowing one machine
//! runs. skopeo pushes and pulls byte for byte, a chunked upload commits,
//! blobs pushed with their digest first (straight to their key: one PUT up
//! to a part, a multipart upload beyond) commit or are refused for a wrong
//! digest, the bytes are in the bucket (not the data dir), and all of it survives a
//! restart. Fails without the S3 server.

use crate::common::*;
use berth_testkit::postgres::Database;

#[test]
fn a_registry_on_postgres_and_s3_serves_skopeo_and_survives_a_restart() {
    if !tools::require("skopeo") {
        return;
    }
    let db = Database::create();
    let prefix = format!("it-{}", std::process::id());
    let blobs = format!("s3://{}/{prefix}", s3_var("BERTH_TEST_S3_BUCKET"));
    let endpoint = s3_var("BERTH_TEST_S3_ENDPOINT");
    let secret = s3_var("BERTH_TEST_S3_SECRET_ACCESS_KEY");
    let mut s = start_on_shared_stores(&db.url, &blobs, &endpoint, &[]);
    assert!(
        s.log().contains(&format!("blobs in {blobs}")),
        "{}",
        s.log()
    );
    assert!(!s.log().contains(&secret), "the S3 secret is in the log");

    // skopeo pushes an OCI layout (three layers) and pulls it back.
    let img = image::oci_image(51, 3, 3, 40_000);
    let layout = s.scratch().join("layout");
    image::write_oci_layout(&layout, &img, "v1");
    let dest = format!("docker://{}/s3/app:v1", s.host());
    let out = s
        .command("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--preserve-digests"])
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(&dest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo push: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A chunked upload: two PATCHes and the closing PUT.
    let api = Api::new(&s);
    let chunked: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    let digest = image::sha256(&chunked);
    let started = api
        .client
        .post(api.url("/v2/s3/app/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(started.status(), 202);
    let mut location = header(&started, "location");
    for (i, part) in chunked.chunks(150_000).enumerate() {
        let start = i * 150_000;
        let r = api
            .client
            .patch(api.url(&location))
            .header(
                "content-range",
                format!("{start}-{}", start + part.len() - 1),
            )
            .body(part.to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status(), 202);
        location = header(&r, "location");
    }
    let sep = if location.contains('?') { '&' } else { '?' };
    let done = api
        .client
        .put(api.url(&format!("{location}{sep}digest={digest}")))
        .send()
        .unwrap();
    assert_eq!(done.status(), 201);

    // Blobs pushed with their digest first go straight to their key: in one
    // PUT up to a part (8 MiB), in a multipart upload beyond; by POST
    // ?digest= and by POST then PUT; a wrong digest stores nothing.
    let small: Vec<u8> = (0..1_000_000u32).map(|i| (i % 239) as u8).collect();
    let large: Vec<u8> = (0..8 * 1024 * 1024 + 1u32)
        .map(|i| (i % 233) as u8)
        .collect();
    let mut whole = vec![(api.push_blob("s3/app", &small), small.clone())];
    whole.push((api.push_blob("s3/app", &large), large));
    let post_put = |bytes: &[u8], digest: &str| {
        let started = api
            .client
            .post(api.url("/v2/s3/app/blobs/uploads/"))
            .send()
            .unwrap();
        assert_eq!(started.status(), 202);
        let location = header(&started, "location");
        let sep = if location.contains('?') { '&' } else { '?' };
        api.client
            .put(api.url(&format!("{location}{sep}digest={digest}")))
            .body(bytes.to_vec())
            .send()
            .unwrap()
    };
    let other: Vec<u8> = small.iter().rev().copied().collect();
    let other_digest = image::sha256(&other);
    assert_eq!(post_put(&other, &other_digest).status(), 201);
    whole.push((other_digest, other));
    let wrong = image::sha256(b"not what is sent");
    assert_eq!(
        error_code(post_put(&small[..1000], &wrong)),
        "DIGEST_INVALID"
    );
    let refused = api
        .client
        .post(api.url(&format!("/v2/s3/app/blobs/uploads/?digest={wrong}")))
        .body(small[..1000].to_vec())
        .send()
        .unwrap();
    assert_eq!(error_code(refused), "DIGEST_INVALID");
    assert_eq!(api.head(&format!("/v2/s3/app/blobs/{wrong}")).status(), 404);

    // The bytes live in the bucket, not in the data dir.
    let local: Vec<_> = walk(&s.data_dir.join("blobs"));
    assert!(local.is_empty(), "blob files in the data dir: {local:?}");

    s.restart();
    let api = Api::new(&s);
    let got = api.get(&format!("/v2/s3/app/blobs/{digest}"));
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().unwrap().as_ref(), chunked.as_slice());
    for (digest, bytes) in &whole {
        let got = api.get(&format!("/v2/s3/app/blobs/{digest}"));
        assert_eq!(got.status(), 200);
        assert!(
            got.bytes().unwrap().as_ref() == bytes.as_slice(),
            "{digest} read back"
        );
    }
    let pulled = s.scratch().join("pulled");
    let out = s
        .command("skopeo")
        .args(["copy", "--src-tls-verify=false", "--preserve-digests"])
        .arg(&dest)
        .arg(format!("oci:{}:v1", pulled.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo pull: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for layer in &img.layers {
        let hex = layer.digest.trim_start_matches("sha256:");
        let bytes = std::fs::read(pulled.join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(
            bytes, layer.bytes,
            "layer {} pulled byte for byte",
            layer.digest
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// `--redirect-downloads true`: blob GETs answer 307 to a presigned URL of
/// the object store (which serves the bytes, and ranges of them, without
/// credentials), GetDownloadUrlForLayer answers such a URL, skopeo pulls
/// through the redirects byte for byte, and what the repository may not
/// read is still refused by berth, not redirected.
#[test]
fn downloads_redirect_to_the_object_stores_presigned_urls_when_asked() {
    if !tools::require("skopeo") {
        return;
    }
    let db = Database::create();
    let blobs = format!(
        "s3://{}/it-redirect-{}",
        s3_var("BERTH_TEST_S3_BUCKET"),
        std::process::id()
    );
    let endpoint = s3_var("BERTH_TEST_S3_ENDPOINT");
    let s = start_on_shared_stores(
        &db.url,
        &blobs,
        &endpoint,
        &["--redirect-downloads", "true"],
    );
    let api = Api::new(&s);
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let digest = api.push_blob("redirect/app", &bytes);

    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(s.creds());
    let no_follow = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_follow
        .get(api.url(&format!("/v2/redirect/app/blobs/{digest}")))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(header(&r, "docker-content-digest"), digest);
    let location = header(&r, "location");
    assert!(location.starts_with(&endpoint), "{location}");
    let plain = reqwest::blocking::Client::new();
    let got = plain.get(&location).send().unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().unwrap().as_ref(), bytes.as_slice());
    let part = plain
        .get(&location)
        .header("range", "bytes=10-19")
        .send()
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().unwrap().as_ref(), &bytes[10..20]);
    // Another repository has no link to it: refused, not redirected.
    api.push_blob("redirect/other", b"something else");
    let r = no_follow
        .get(api.url(&format!("/v2/redirect/other/blobs/{digest}")))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);

    let out = s
        .ecr(
            "us-east-1",
            "GetDownloadUrlForLayer",
            serde_json::json!({"repositoryName": "redirect/app", "layerDigest": digest}),
        )
        .unwrap();
    let url = out["downloadUrl"].as_str().unwrap();
    assert!(url.starts_with(&endpoint), "{url}");
    let got = plain.get(url).send().unwrap();
    assert_eq!(got.bytes().unwrap().as_ref(), bytes.as_slice());

    let img = image::oci_image(52, 2, 2, 30_000);
    let layout = s.scratch().join("layout");
    image::write_oci_layout(&layout, &img, "v1");
    let dest = format!("docker://{}/redirect/image:v1", s.host());
    for (from, to) in [
        (format!("oci:{}:v1", layout.display()), dest.clone()),
        (
            dest.clone(),
            format!("oci:{}:v1", s.scratch().join("pulled").display()),
        ),
    ] {
        let out = s
            .command("skopeo")
            .args([
                "copy",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--preserve-digests",
            ])
            .arg(&from)
            .arg(&to)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo {from} -> {to}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for layer in &img.layers {
        let hex = layer.digest.trim_start_matches("sha256:");
        let got = std::fs::read(s.scratch().join("pulled/blobs/sha256").join(hex)).unwrap();
        assert_eq!(got, layer.bytes, "layer {} byte for byte", layer.digest);
    }
}
