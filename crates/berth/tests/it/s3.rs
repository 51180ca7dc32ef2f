//! `berth serve --blobs s3://...` on a real S3 server (SeaweedFS, which
//! scripts/test.sh starts once per run: `BERTH_TEST_S3_*`), with the
//! metadata in PostgreSQL: the deployment a team outgrowing one machine
//! runs. skopeo pushes and pulls byte for byte, a chunked upload commits,
//! the bytes are in the bucket (not the data dir), and all of it survives a
//! restart. Fails without the S3 server.

use crate::common::*;
use berth_testkit::postgres::Database;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: these tests need an S3 server (scripts/seaweedfs.sh)")
    })
}

#[test]
fn a_registry_on_postgres_and_s3_serves_skopeo_and_survives_a_restart() {
    if !tools::require("skopeo") {
        return;
    }
    let db = Database::create();
    let prefix = format!("it-{}", std::process::id());
    let blobs = format!("s3://{}/{prefix}", var("BERTH_TEST_S3_BUCKET"));
    let endpoint = var("BERTH_TEST_S3_ENDPOINT");
    let (id, secret) = (
        var("BERTH_TEST_S3_ACCESS_KEY_ID"),
        var("BERTH_TEST_S3_SECRET_ACCESS_KEY"),
    );
    let mut s = TestServer::start_with_env(
        berth_bin(),
        &[
            "--metadata",
            &db.url,
            "--blobs",
            &blobs,
            "--s3-endpoint",
            &endpoint,
        ],
        &[
            ("BERTH_S3_ACCESS_KEY_ID", &id),
            ("BERTH_S3_SECRET_ACCESS_KEY", &secret),
        ],
    );
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

    // The bytes live in the bucket, not in the data dir.
    let local: Vec<_> = walk(&s.data_dir.join("blobs"));
    assert!(local.is_empty(), "blob files in the data dir: {local:?}");

    s.restart();
    let api = Api::new(&s);
    let got = api.get(&format!("/v2/s3/app/blobs/{digest}"));
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().unwrap().as_ref(), chunked.as_slice());
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
