//! The root of encryption at rest's key hierarchy (issue 21, item 6): kept
//! in an external KMS (another berth here), and rotated with `berth
//! rotate-root` — a deployment that holds data moved to an external root,
//! the external root rotated, a rotation finished in the background by the
//! servers. Main pass only: each restarts servers on their own stores and
//! runs offline commands on them.

use crate::common::*;
use serde_json::{json, Value};

/// Another berth whose KMS keeps a deployment's root: its key, and the
/// `BERTH_ROOT_KMS_*` settings that reach it.
struct RootKms {
    server: TestServer,
    arn: String,
}

impl RootKms {
    fn start() -> RootKms {
        let server = start();
        let key = server
            .kms(
                "us-east-1",
                "CreateKey",
                json!({"Description": "berth root"}),
            )
            .unwrap();
        let arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
        RootKms { server, arn }
    }

    fn call(&self, op: &str, input: Value) -> Value {
        self.server.kms("us-east-1", op, input).unwrap()
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("BERTH_ROOT_KMS_KEY", self.arn.clone()),
            ("BERTH_ROOT_KMS_ENDPOINT", self.server.url()),
            (
                "BERTH_ROOT_KMS_ACCESS_KEY_ID",
                berth_testkit::ROOT_ACCESS_KEY_ID.to_string(),
            ),
            (
                "BERTH_ROOT_KMS_SECRET_ACCESS_KEY",
                berth_testkit::ROOT_SECRET_ACCESS_KEY.to_string(),
            ),
        ]
    }
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Item 6: a deployment's key-encryption root kept in another berth's KMS
/// (`BERTH_ROOT_KMS_KEY`). The first start makes and records the wrapped
/// root; every start has the KMS unwrap it; without the setting, or with the
/// key disabled, berth refuses to start and says why; re-enabled, every
/// image is there. (Main pass only: it restarts a server on its own stores.)
#[test]
fn a_deployments_root_lives_in_another_berths_kms() {
    let root = RootKms::start();
    let (arn, owned) = (root.arn.clone(), root.env());
    let env = borrowed(&owned);
    let kms = |op: &str, input: Value| root.call(op, input);
    let mut b = TestServer::start_with_env(berth_bin(), &[], &env);
    assert!(b
        .log()
        .contains("the key-encryption root is now kept in the external KMS"));
    let img = berth_testkit::image::oci_image(41, 2, 1, 3000);
    Api::new(&b).push_image("rooted/app", &img, "v1");
    b.stop();
    let data_dir = b.data_dir.clone();

    // Started again: the KMS unwraps the recorded root.
    let mut b = TestServer::start_in_with_env(berth_bin(), Some(&data_dir), &[], &env);
    assert_eq!(
        Api::new(&b)
            .get("/v2/rooted/app/manifests/v1")
            .bytes()
            .unwrap(),
        img.manifest
    );
    b.stop();

    let refused = |env: &[(&str, &str)]| -> String {
        let out = std::process::Command::new(berth_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success(), "started");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    // Without the setting: the data dir and server.key alone open nothing.
    let err = refused(&[]);
    assert!(
        err.contains("BERTH_ROOT_KMS_KEY") && err.contains(&arn),
        "{err}"
    );
    // The key disabled in the KMS: berth cannot start, and says why.
    kms("DisableKey", json!({"KeyId": arn}));
    let err = refused(&env);
    assert!(
        err.contains("DisabledException") && err.contains("cannot open its data"),
        "{err}"
    );
    kms("EnableKey", json!({"KeyId": arn}));
    let mut b = TestServer::start_in_with_env(berth_bin(), Some(&data_dir), &[], &env);
    assert_eq!(
        Api::new(&b)
            .get("/v2/rooted/app/manifests/v1")
            .bytes()
            .unwrap(),
        img.manifest
    );
    let layer = &img.layers[0];
    let blob = Api::new(&b).get(&format!(
        "/v2/rooted/app/blobs/{}",
        berth_testkit::image::sha256(&layer.bytes)
    ));
    assert_eq!(blob.bytes().unwrap(), layer.bytes);
    b.stop();

    // A deployment that already holds data cannot move its root out.
    let plain = start();
    Api::new(&plain).push_image("plain/app", &img, "v1");
    let mut plain = plain;
    plain.stop();
    let out = std::process::Command::new(berth_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&plain.data_dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("run `berth rotate-root`"),
        "{err}"
    );
}

/// `berth rotate-root` with its output; `env` are its settings.
fn rotate_root(data_dir: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = std::process::Command::new(berth_bin())
        .arg("rotate-root")
        .args(extra)
        .arg("--data-dir")
        .arg(data_dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The root generation each sealed blob file under `dir` names in its
/// header (`kek_version`, bytes 16..20).
fn header_generations(dir: &std::path::Path) -> std::collections::BTreeSet<u32> {
    let mut out = std::collections::BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            assert!(bytes.starts_with(b"BRTHSEAL"), "{} is sealed", p.display());
            out.insert(u32::from_be_bytes(bytes[16..20].try_into().unwrap()));
        }
    }
    out
}

/// What a deployment holds before its root rotates, checked after: an
/// image in an AES256 repository and one in a KMS repository (a key's
/// materials and storage domain), a KMS ciphertext, and an upload in
/// progress, which continues and commits after the rotation.
struct Holdings {
    img: berth_testkit::image::Image,
    sealed_img: berth_testkit::image::Image,
    ciphertext: String,
    upload: String,
    blob: Vec<u8>,
}

impl Holdings {
    fn put(s: &TestServer) -> Holdings {
        let api = Api::new(s);
        let img = berth_testkit::image::oci_image(43, 2, 1, 3000);
        api.push_image("moved/app", &img, "v1");
        let (key_id, _) = kms_repository(s, "moved/sealed");
        let sealed_img = berth_testkit::image::oci_image(44, 2, 1, 3000);
        api.push_image("moved/sealed", &sealed_img, "v1");
        let ciphertext = s
            .kms(
                "us-east-1",
                "Encrypt",
                json!({"KeyId": key_id, "Plaintext": "YmVmb3Jl"}),
            )
            .unwrap()["CiphertextBlob"]
            .as_str()
            .unwrap()
            .to_string();
        let blob: Vec<u8> = (0..150_000u32).map(|i| (i * 13 % 251) as u8).collect();
        let r = api
            .client
            .post(api.url("/v2/moved/app/blobs/uploads/"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 202);
        let upload = header(&r, "location");
        let r = api
            .client
            .patch(api.url(&upload))
            .header("content-range", "0-99999")
            .body(blob[..100_000].to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status(), 202, "{}", r.text().unwrap());
        let upload = header(&r, "location");
        Holdings {
            img,
            sealed_img,
            ciphertext,
            upload,
            blob,
        }
    }

    /// Everything reads back byte for byte; the upload continues and
    /// commits when `upload`.
    fn check(&self, s: &TestServer, upload: bool) {
        let api = Api::new(s);
        for (repo, img) in [("moved/app", &self.img), ("moved/sealed", &self.sealed_img)] {
            let got = api.get(&format!("/v2/{repo}/manifests/v1"));
            assert_eq!(got.status(), 200, "{repo}");
            assert_eq!(got.bytes().unwrap(), img.manifest, "{repo}");
            for layer in &img.layers {
                let d = berth_testkit::image::sha256(&layer.bytes);
                let got = api.get(&format!("/v2/{repo}/blobs/{d}"));
                assert_eq!(got.bytes().unwrap(), layer.bytes, "{repo} {d}");
            }
        }
        let plain = s
            .kms(
                "us-east-1",
                "Decrypt",
                json!({"CiphertextBlob": self.ciphertext}),
            )
            .unwrap();
        assert_eq!(plain["Plaintext"], "YmVmb3Jl", "a ciphertext from before");
        if upload {
            let r = api
                .client
                .patch(api.url(&self.upload))
                .header("content-range", format!("100000-{}", self.blob.len() - 1))
                .body(self.blob[100_000..].to_vec())
                .send()
                .unwrap();
            assert_eq!(r.status(), 202, "{}", r.text().unwrap());
            let d = berth_testkit::image::sha256(&self.blob);
            let at = header(&r, "location");
            let sep = if at.contains('?') { '&' } else { '?' };
            let r = api
                .client
                .put(api.url(&format!("{at}{sep}digest={d}")))
                .send()
                .unwrap();
            assert_eq!(r.status(), 201, "{}", r.text().unwrap());
            assert_eq!(
                api.get(&format!("/v2/moved/app/blobs/{d}"))
                    .bytes()
                    .unwrap(),
                self.blob
            );
        }
    }
}

/// Item 6's rotation: a deployment that holds data (on its server key's
/// root) moves its root to another berth's KMS with `berth rotate-root`;
/// every blob header, manifest body, upload and KMS key material is
/// re-wrapped (blob segments untouched), generation 1 is retired, and from
/// then on the data dir with `server.key` alone opens nothing. Rotating
/// the external root again gives generation 3.
#[test]
fn a_deployment_that_holds_data_moves_its_root_to_an_external_kms() {
    let root = RootKms::start();
    let owned = root.env();
    let env = borrowed(&owned);
    let mut b = start();
    let held = Holdings::put(&b);
    b.stop();
    let data_dir = b.data_dir.clone();
    assert_eq!(header_generations(&data_dir.join("blobs")), [1].into());
    let sample = std::fs::read_dir(data_dir.join("blobs/sha256"))
        .unwrap()
        .flat_map(|shard| std::fs::read_dir(shard.unwrap().path()).unwrap())
        .next()
        .expect("a blob file")
        .unwrap()
        .path();
    let before = std::fs::read(&sample).unwrap();

    let (ok, out) = rotate_root(&data_dir, &[], &env);
    assert!(ok, "{out}");
    assert!(
        out.contains("root generation 2 recorded as current"),
        "{out}"
    );
    assert!(out.contains("retired root generations [1]"), "{out}");
    assert_eq!(header_generations(&data_dir.join("blobs")), [2].into());
    let after = std::fs::read(&sample).unwrap();
    assert_eq!(before.len(), after.len());
    assert_ne!(before[..96], after[..96], "the header is new");
    assert_eq!(before[96..], after[96..], "the segments are as they were");

    // The server key alone opens nothing any more.
    let out = std::process::Command::new(berth_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("BERTH_ROOT_KMS_KEY") && err.contains(&root.arn),
        "{err}"
    );

    let mut b = TestServer::start_in_with_env(berth_bin(), Some(&data_dir), &[], &env);
    held.check(&b, true);
    let metrics = b
        .client()
        .get(b.url() + "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("berth_root_generation 2"), "{metrics}");
    b.stop();

    // The external root rotated: a fresh data key of the same KMS key.
    let (ok, out) = rotate_root(&data_dir, &[], &env);
    assert!(ok, "{out}");
    assert!(out.contains("retired root generations [2]"), "{out}");
    assert_eq!(header_generations(&data_dir.join("blobs")), [3].into());
    let mut b = TestServer::start_in_with_env(berth_bin(), Some(&data_dir), &[], &env);
    held.check(&b, false);
    b.stop();
}

/// `berth rotate-root --background` only records the new generation (here
/// from the server key again); the server's sealing job re-wraps while it
/// serves and retires generation 1 once nothing is left, and the upload
/// that was in progress commits under the new generation.
#[test]
fn a_rotation_recorded_offline_is_finished_by_the_server_in_the_background() {
    let mut b = start();
    let held = Holdings::put(&b);
    b.stop();
    let data_dir = b.data_dir.clone();
    let (ok, out) = rotate_root(&data_dir, &["--background"], &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("root generation 2 recorded as current"),
        "{out}"
    );
    assert_eq!(
        header_generations(&data_dir.join("blobs")),
        [1].into(),
        "nothing yet"
    );

    let mut b = TestServer::start_in(berth_bin(), Some(&data_dir), &["--seal-interval", "1s"]);
    held.check(&b, true);
    // The first sealing pass runs at start; the upload in progress was
    // left to its commit (above), so the next pass retires generation 1.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let metrics = b
            .client()
            .get(b.url() + "/metrics")
            .send()
            .unwrap()
            .text()
            .unwrap();
        if b.log().contains("retired root generations") {
            assert!(metrics.contains("berth_root_generation 2"), "{metrics}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", b.log());
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    b.stop();
    assert_eq!(header_generations(&data_dir.join("blobs")), [2].into());
    // Restarted with generation 2 alone.
    let mut b = TestServer::start_in(berth_bin(), Some(&data_dir), &[]);
    held.check(&b, false);
    b.stop();
}
