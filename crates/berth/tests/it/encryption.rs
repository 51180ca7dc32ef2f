//! Encryption at rest (issue 21) on the filesystem store: nothing a client
//! pushed is readable where berth keeps it, what comes back is exactly what
//! went in, ranges across segment boundaries read right, and damage is
//! refused rather than served. (The blob store is named with `--blobs
//! file:` so that this runs on the filesystem in every pass.)

use crate::clients::assert_skopeo_pull_identical;
use crate::common::*;
use std::path::{Path, PathBuf};

const MARKER: &[u8] = b"BERTH-AT-REST-MARKER-91c4e7";
/// The sealed format's segment: ranges are checked around its boundaries.
const SEGMENT: usize = 64 * 1024;

/// Layer content with the marker at the start, across the first segment
/// boundary and at the end.
fn marked_content(seed: u64, len: usize) -> Vec<u8> {
    let mut c = image::random_bytes(seed, len);
    for at in [0, SEGMENT - 7, len - MARKER.len()] {
        c[at..at + MARKER.len()].copy_from_slice(MARKER);
    }
    c
}

/// An image whose layers hold the marker as plain bytes (gzip's stored
/// blocks), so that a plaintext copy anywhere would show it.
fn marked_image(seed: u64) -> image::Image {
    let layers = (0..2)
        .map(|i| {
            image::stored_layer(&image::tar_of(
                &format!("secret-{i}.txt"),
                &marked_content(seed * 10 + i, 200_000 + i as usize * 77_777),
            ))
        })
        .collect();
    let mut img = image::image_of(seed, layers);
    // And in the manifest body, in a member no index keeps (annotations
    // are kept in clear for referrer listings, as digests and sizes are).
    let mut m: serde_json::Value = serde_json::from_slice(&img.manifest).unwrap();
    m["x-berth-test"] = String::from_utf8(MARKER.to_vec()).unwrap().into();
    img.manifest = serde_json::to_vec_pretty(&m).unwrap();
    img.manifest_digest = image::sha256(&img.manifest);
    img
}

fn files_containing(roots: &[&Path], needle: &[u8]) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack: Vec<PathBuf> = roots.iter().map(|r| r.to_path_buf()).collect();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else if meta.is_file() {
            let bytes = std::fs::read(&p).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(p);
            }
        }
    }
    hits
}

fn push_with_skopeo(s: &TestServer, img: &image::Image, reference: &str) {
    let layout = s.scratch().join(tools::unique("layout"));
    image::write_oci_layout(&layout, img, "v1");
    tools::run(
        s.command("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(format!("docker://{}/{reference}", s.host())),
    );
}

fn start_on_files(blobs: &Path, env: &[(&str, &str)]) -> TestServer {
    let arg = format!("file:{}", blobs.display());
    TestServer::start_with_env(berth_bin(), &["--blobs", &arg], env)
}

#[test]
fn pushed_bytes_are_sealed_at_rest_and_pull_back_byte_for_byte() {
    if !tools::require("skopeo") || !tools::require("docker") {
        return;
    }
    let blobs = tempfile::tempdir().unwrap();
    let mut s = start_on_files(blobs.path(), &[]);
    let img = marked_image(7);
    push_with_skopeo(&s, &img, "enc/app:v1");
    assert_skopeo_pull_identical(&s, "enc/app:v1", &img);

    // The Docker Engine: the marker in a file of the image and in its
    // config (an ENV), pushed, removed, pulled back the same.
    let rootfs = s.scratch().join("rootfs.tar");
    std::fs::write(
        &rootfs,
        image::tar_of("secret.txt", &marked_content(8, 150_000)),
    )
    .unwrap();
    let name = format!("{}/enc/{}:v1", s.host(), tools::unique("docker"));
    let marker = String::from_utf8(MARKER.to_vec()).unwrap();
    let imported = tools::run(
        s.command("docker")
            .args(["import", "--change", &format!("ENV SECRET={marker}")])
            .arg(&rootfs)
            .arg(&name),
    );
    let id = String::from_utf8(imported.stdout)
        .unwrap()
        .trim()
        .to_string();
    let _cleanup = RemoveImage(name.clone());
    tools::run(s.command("docker").args(["push", &name]));
    tools::run(s.command("docker").args(["rmi", "-f", &name]));
    tools::run(s.command("docker").args(["pull", &name]));
    let inspect = tools::run(
        s.command("docker")
            .args(["image", "inspect", "--format", "{{.Id}}", &name]),
    );
    assert_eq!(String::from_utf8(inspect.stdout).unwrap().trim(), id);

    // Ranges at and across segment boundaries, through /v2.
    let api = Api::new(&s);
    let layer = &img.layers[1];
    let n = layer.bytes.len();
    for (from, to) in [
        (0, 0),
        (SEGMENT - 1, SEGMENT),
        (SEGMENT, SEGMENT + 1),
        (SEGMENT - 3, 3 * SEGMENT + 5),
        (n - 2, n - 1),
    ] {
        let r = api
            .client
            .get(api.url(&format!("/v2/enc/app/blobs/{}", layer.digest)))
            .header("range", format!("bytes={from}-{to}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 206, "{from}-{to}");
        assert_eq!(
            &r.bytes().unwrap()[..],
            &layer.bytes[from..=to],
            "{from}-{to}"
        );
    }

    s.stop();
    let hits = files_containing(&[&s.data_dir, blobs.path()], MARKER);
    assert!(hits.is_empty(), "plaintext at rest in {hits:?}");

    // The same check finds the marker when blobs are written unsealed (the
    // benchmark's baseline): it can fail.
    let plain_blobs = tempfile::tempdir().unwrap();
    let plain = start_on_files(plain_blobs.path(), &[("BERTH_BENCH_UNSEALED_BLOBS", "1")]);
    push_with_skopeo(&plain, &img, "enc/plain:v1");
    let mut plain = plain;
    plain.stop();
    let hits = files_containing(&[plain_blobs.path()], MARKER);
    assert!(hits.len() >= 2, "the grep finds plaintext layers: {hits:?}");
    if !berth_testkit::postgres::wanted() {
        let hits = files_containing(&[&plain.data_dir], MARKER);
        assert!(!hits.is_empty(), "and the plaintext manifest body");
    }
    plain.restart();
    // A store holding both kinds reads both: sealed blobs after a
    // restart with sealing back on, plaintext ones as they are.
    assert_skopeo_pull_identical(&plain, "enc/plain:v1", &img);
}

#[test]
fn a_flipped_bit_in_a_stored_blob_is_refused_never_served() {
    let blobs = tempfile::tempdir().unwrap();
    let mut s = start_on_files(blobs.path(), &[]);
    let api = Api::new(&s);
    let img = marked_image(9);
    api.push_image("enc/flip", &img, "v1");
    s.stop();
    let layer = &img.layers[0];
    let hex = layer.digest.trim_start_matches("sha256:");
    let file = blobs.path().join("blobs/sha256").join(&hex[..2]).join(hex);
    let mut bytes = std::fs::read(&file).unwrap();
    // A bit in the third segment's ciphertext (header 96, stride 64 KiB + 28).
    bytes[96 + 2 * (SEGMENT + 28) + 100] ^= 0x04;
    std::fs::write(&file, &bytes).unwrap();
    s.restart();
    let api = Api::new(&s);
    let url = format!("/v2/enc/flip/blobs/{}", layer.digest);
    // Whole: the first segments stream, then the damaged one ends the
    // response early; the client never gets all the bytes.
    let r = api.client.get(api.url(&url)).send().unwrap();
    let body = r.bytes();
    assert!(
        body.as_ref().map_or(true, |b| b.len() < layer.bytes.len()),
        "a damaged blob was served whole"
    );
    // A range in the damaged segment: an error status, nothing served.
    let r = api
        .client
        .get(api.url(&url))
        .header(
            "range",
            format!("bytes={}-{}", 2 * SEGMENT, 2 * SEGMENT + 10),
        )
        .send()
        .unwrap();
    assert!(r.status().is_server_error(), "{}", r.status());
    // A range before it still reads.
    let r = api
        .client
        .get(api.url(&url))
        .header("range", "bytes=0-99")
        .send()
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(&r.bytes().unwrap()[..], &layer.bytes[..100]);
    assert!(
        s.log().contains("segment 2 fails authentication"),
        "the log names the damage"
    );
}

/// Removes a test image from the shared Docker daemon however the test ends.
struct RemoveImage(String);
impl Drop for RemoveImage {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", &self.0])
            .output();
    }
}

/// Every object under `prefix` in the run's S3 server, downloaded with the
/// aws CLI into `dir`.
fn download_bucket_prefix(dir: &Path, prefix: &str) {
    let out = std::process::Command::new("aws")
        .args(["s3", "cp", "--recursive", "--only-show-errors"])
        .arg(format!("s3://{}/{prefix}", s3_var("BERTH_TEST_S3_BUCKET")))
        .arg(dir)
        .args(["--endpoint-url", &s3_var("BERTH_TEST_S3_ENDPOINT")])
        .env("AWS_ACCESS_KEY_ID", s3_var("BERTH_TEST_S3_ACCESS_KEY_ID"))
        .env(
            "AWS_SECRET_ACCESS_KEY",
            s3_var("BERTH_TEST_S3_SECRET_ACCESS_KEY"),
        )
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "aws s3 cp: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// On PostgreSQL and S3: the bucket holds no plaintext of what skopeo
/// pushed (chunked and digest-first uploads alike), and it pulls back the
/// same. The same check on a deployment that redirects downloads (blobs
/// left to the bucket's own encryption) finds the plaintext: it can fail.
#[test]
fn pushed_bytes_are_sealed_in_the_bucket() {
    if !tools::require("skopeo") || !tools::require("aws") {
        return;
    }
    let db = berth_testkit::postgres::Database::create();
    let prefix = format!("it-enc-{}", std::process::id());
    let blobs = format!("s3://{}/{prefix}", s3_var("BERTH_TEST_S3_BUCKET"));
    let endpoint = s3_var("BERTH_TEST_S3_ENDPOINT");
    let s = start_on_shared_stores(&db.url, &blobs, &endpoint, &[]);
    let img = marked_image(11);
    push_with_skopeo(&s, &img, "enc/s3:v1");
    // And a blob pushed digest-first (straight to its object).
    let api = Api::new(&s);
    let direct = marked_content(12, 100_000);
    api.push_blob("enc/s3", &direct);
    assert_skopeo_pull_identical(&s, "enc/s3:v1", &img);
    let got = tempfile::tempdir().unwrap();
    download_bucket_prefix(got.path(), &prefix);
    assert!(
        files_containing(&[got.path()], b"BRTHSEAL").len() >= 4,
        "the bucket holds the sealed blobs"
    );
    let hits = files_containing(&[got.path()], MARKER);
    assert!(hits.is_empty(), "plaintext in the bucket: {hits:?}");

    let db = berth_testkit::postgres::Database::create();
    let plain_prefix = format!("it-enc-plain-{}", std::process::id());
    let blobs = format!("s3://{}/{plain_prefix}", s3_var("BERTH_TEST_S3_BUCKET"));
    let plain = start_on_shared_stores(
        &db.url,
        &blobs,
        &endpoint,
        &["--redirect-downloads", "true"],
    );
    push_with_skopeo(&plain, &img, "enc/s3:v1");
    assert!(plain
        .log()
        .contains("enable the bucket's server-side encryption"));
    let got = tempfile::tempdir().unwrap();
    download_bucket_prefix(got.path(), &plain_prefix);
    assert!(!files_containing(&[got.path()], MARKER).is_empty());
}

/// Deduplication within the AES256 key domain: the same image pushed to
/// two repositories is stored once, sealed, and each repository reads it.
#[test]
fn the_same_layers_in_two_aes256_repositories_are_stored_once() {
    let blobs = tempfile::tempdir().unwrap();
    let s = start_on_files(blobs.path(), &[]);
    let api = Api::new(&s);
    let img = marked_image(13);
    api.push_image("enc/one", &img, "v1");
    api.push_image("enc/two", &img, "v1");
    let mut files = Vec::new();
    let mut stack = vec![blobs.path().join("blobs")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    assert_eq!(files.len(), 3, "two layers and a config, once: {files:?}");
    for f in &files {
        assert!(std::fs::read(f).unwrap().starts_with(b"BRTHSEAL"), "{f:?}");
    }
    for repo in ["enc/one", "enc/two"] {
        for l in &img.layers {
            let got = api.get(&format!("/v2/{repo}/blobs/{}", l.digest));
            assert_eq!(got.status(), 200);
            assert_eq!(got.bytes().unwrap().as_ref(), l.bytes.as_slice());
        }
    }
}

/// Files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Deduplication within a key domain (item 3): the same image pushed to an
/// AES256 repository and to repositories under two KMS keys is stored once
/// per domain, each copy sealed under its own key; disabling one key leaves
/// the others' repositories readable; a mount across domains copies; collecting
/// one repository's image frees its key's copies only. On the filesystem here, in the bucket below.
#[test]
fn layers_under_two_kms_keys_are_stored_once_per_key() {
    let blobs = tempfile::tempdir().unwrap();
    let s = start_on_files(blobs.path(), &[]);
    stored_once_per_key(&s, &|| blobs.path().to_path_buf());
}

/// The same on PostgreSQL and S3 (each look at the bucket downloads the
/// prefix afresh).
#[test]
fn layers_under_two_kms_keys_are_stored_once_per_key_in_the_bucket() {
    if !tools::require("aws") {
        return;
    }
    let db = berth_testkit::postgres::Database::create();
    let prefix = format!("it-enc-kms-{}", std::process::id());
    let blobs = format!("s3://{}/{prefix}", s3_var("BERTH_TEST_S3_BUCKET"));
    let s = start_on_shared_stores(&db.url, &blobs, &s3_var("BERTH_TEST_S3_ENDPOINT"), &[]);
    let copies: std::cell::RefCell<Vec<tempfile::TempDir>> = Default::default();
    stored_once_per_key(&s, &|| {
        let dir = tempfile::tempdir().unwrap();
        download_bucket_prefix(dir.path(), &prefix);
        let path = dir.path().to_path_buf();
        copies.borrow_mut().push(dir);
        path
    });
}

/// `layout()` gives a directory laid out as the blob store is (`blobs/`,
/// `kms/<account>.<region>.<key id>/blobs/`), as it is now.
fn stored_once_per_key(s: &TestServer, layout: &dyn Fn() -> PathBuf) {
    let kms = |op: &str, input: serde_json::Value| s.kms("us-east-1", op, input).unwrap();
    let ecr = |op: &str, input: serde_json::Value| s.ecr("us-east-1", op, input).unwrap();
    let key = |d: &str| {
        let m = kms("CreateKey", serde_json::json!({"Description": d}));
        (
            m["KeyMetadata"]["KeyId"].as_str().unwrap().to_string(),
            m["KeyMetadata"]["Arn"].as_str().unwrap().to_string(),
        )
    };
    let (a_id, a_arn) = key("a");
    let (_, b_arn) = key("b");
    for (repo, arn) in [
        ("enc/a", Some(&a_arn)),
        ("enc/b", Some(&b_arn)),
        ("enc/plain", None),
    ] {
        let encryption = match arn {
            Some(arn) => serde_json::json!({"encryptionType": "KMS", "kmsKey": arn}),
            None => serde_json::json!({"encryptionType": "AES256"}),
        };
        ecr(
            "CreateRepository",
            serde_json::json!({"repositoryName": repo, "encryptionConfiguration": encryption}),
        );
    }
    let api = Api::new(s);
    let img = marked_image(17);
    for repo in ["enc/a", "enc/b", "enc/plain"] {
        api.push_image(repo, &img, "v1");
    }

    // `kms/<account>.<region>.<key id>/blobs` beside `blobs`.
    let domain = |root: &Path, arn: &str| {
        let id = arn.rsplit('/').next().unwrap();
        let account = arn.split(':').nth(4).unwrap();
        root.join("kms")
            .join(format!("{account}.us-east-1.{id}"))
            .join("blobs")
    };
    let root = layout();
    let (aes, in_a, in_b) = (
        files_under(&root.join("blobs")),
        files_under(&domain(&root, &a_arn)),
        files_under(&domain(&root, &b_arn)),
    );
    for (what, files) in [("AES256", &aes), ("key a", &in_a), ("key b", &in_b)] {
        assert_eq!(
            files.len(),
            3,
            "two layers and a config once under {what}: {files:?}"
        );
        for f in files {
            assert!(std::fs::read(f).unwrap().starts_with(b"BRTHSEAL"), "{f:?}");
        }
    }
    // The copies are different objects (each data key wrapped under its
    // own domain's KEK), and none holds the marker.
    let name = |p: &PathBuf| p.file_name().unwrap().to_owned();
    assert_eq!(
        in_a.iter().map(name).collect::<Vec<_>>(),
        in_b.iter().map(name).collect::<Vec<_>>()
    );
    assert_ne!(
        std::fs::read(&in_a[0]).unwrap(),
        std::fs::read(&in_b[0]).unwrap()
    );
    assert_eq!(files_containing(&[&root], MARKER), Vec::<PathBuf>::new());

    // Key a disabled: its repository refuses, the others read every byte.
    kms("DisableKey", serde_json::json!({"KeyId": a_id}));
    let layer = &img.layers[0];
    assert_eq!(
        api.get(&format!("/v2/enc/a/blobs/{}", layer.digest))
            .status(),
        403
    );
    for repo in ["enc/b", "enc/plain"] {
        let got = api.get(&format!("/v2/{repo}/blobs/{}", layer.digest));
        assert_eq!(got.status(), 200, "{repo}");
        assert_eq!(got.bytes().unwrap().as_ref(), layer.bytes.as_slice());
    }
    kms("EnableKey", serde_json::json!({"KeyId": a_id}));

    // Rotating key a re-seals its storage KEK, not its blobs: they read on.
    kms("RotateKeyOnDemand", serde_json::json!({"KeyId": a_id}));
    let got = api.get(&format!("/v2/enc/a/blobs/{}", layer.digest));
    assert_eq!(got.bytes().unwrap().as_ref(), layer.bytes.as_slice());
    let after = files_under(&domain(&layout(), &a_arn));
    for (old, new) in in_a.iter().zip(&after) {
        assert_eq!(
            std::fs::read(old).unwrap(),
            std::fs::read(new).unwrap(),
            "no blob rewritten"
        );
    }

    // A mount across domains copies: opened under AES256, sealed under a.
    let only_plain = marked_content(18, 80_000);
    let d = api.push_blob("enc/plain", &only_plain);
    let r = api
        .client
        .post(api.url(&format!(
            "/v2/enc/a/blobs/uploads/?mount={d}&from=enc/plain"
        )))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "mounted");
    let got = api.get(&format!("/v2/enc/a/blobs/{d}"));
    assert_eq!(got.bytes().unwrap().as_ref(), only_plain.as_slice());
    let root = layout();
    assert_eq!(
        files_under(&domain(&root, &a_arn)).len(),
        4,
        "copied into a's domain"
    );
    assert_eq!(files_containing(&[&root], MARKER), Vec::<PathBuf>::new());

    // enc/b's image deleted and collected: key b's copies go, the images'
    // stay (the loose mounted blob goes from both domains, as no manifest
    // uses it).
    ecr(
        "BatchDeleteImage",
        serde_json::json!({"repositoryName": "enc/b", "imageIds": [{"imageTag": "v1"}]}),
    );
    let out = tools::run(
        std::process::Command::new(berth_bin())
            .envs(s.aws_env("us-east-1"))
            .args(["gc", "--endpoint", &s.url(), "--grace", "0s"]),
    );
    assert!(out.status.success());
    let root = layout();
    assert_eq!(files_under(&domain(&root, &b_arn)), Vec::<PathBuf>::new());
    assert_eq!(files_under(&domain(&root, &a_arn)).len(), 3);
    assert_eq!(files_under(&root.join("blobs")).len(), 3);
    let got = api.get(&format!("/v2/enc/a/blobs/{}", layer.digest));
    assert_eq!(got.bytes().unwrap().as_ref(), layer.bytes.as_slice());
}
