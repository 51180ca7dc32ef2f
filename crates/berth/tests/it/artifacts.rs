//! OCI v1.1 with real clients: oras (oras-py, from PyPI) pushes artifacts
//! with a subject that the referrers API lists and filters; skopeo copies
//! an image recompressed to zstd. Under `CI=true` a missing client fails.

use crate::common::*;
use image::OCI_MANIFEST;
use std::process::Command;

/// Runs a Python program with oras-py against the server; `args` reach it as sys.argv[1:].
fn oras_py(s: &TestServer, program: &str, args: &[&str]) -> String {
    let out = tools::run(
        Command::new("python3")
            .arg("-c")
            .arg(program)
            .args(args)
            .env("BERTH_PASSWORD", s.password()),
    );
    String::from_utf8(out.stdout).unwrap()
}

const PUSH_WITH_SUBJECT: &str = r#"
import sys, os, oras.client, oras.oci
host, target, path, config_type, digest, size, media_type = sys.argv[1:8]
client = oras.client.OrasClient(hostname=host, insecure=True, auth_backend="basic")
client.auth.set_basic_auth("AWS", os.environ["BERTH_PASSWORD"])
os.chdir(os.path.dirname(path))
config = os.path.join(os.path.dirname(path), "config.json")
open(config, "w").write("{}")
client.push(
    target=target,
    files=[os.path.basename(path) + ":application/vnd.example.payload"],
    manifest_config=config + ":" + config_type,
    manifest_annotations={"org.example.pushed-by": "oras-py"},
    subject=oras.oci.Subject(mediaType=media_type, digest=digest, size=int(size)),
)
"#;

const PULL: &str = r#"
import os, sys, oras.client
host, target, outdir = sys.argv[1:4]
client = oras.client.OrasClient(hostname=host, insecure=True, auth_backend="basic")
client.auth.set_basic_auth("AWS", os.environ["BERTH_PASSWORD"])
for f in client.pull(target=target, outdir=outdir):
    print(f)
"#;

#[test]
fn oras_pushes_artifacts_with_a_subject_listed_by_the_referrers_api() {
    if !tools::require_python_module("oras") {
        return;
    }
    let s = start();
    let api = Api::new(&s);
    let img = image::oci_image(31, 1, 1, 1000);
    api.push_image("oras/app", &img, "v1");
    let size = img.manifest.len().to_string();
    for (tag, config_type, payload) in [
        ("sbom", "application/vnd.example.sbom.v1", "sbom contents"),
        (
            "sig",
            "application/vnd.example.signature.v1",
            "signature contents",
        ),
    ] {
        let dir = s.scratch().join(tag);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{tag}.txt"));
        std::fs::write(&file, payload).unwrap();
        oras_py(
            &s,
            PUSH_WITH_SUBJECT,
            &[
                &s.host(),
                &format!("{}/oras/app:{tag}", s.host()),
                file.to_str().unwrap(),
                config_type,
                &img.manifest_digest,
                &size,
                OCI_MANIFEST,
            ],
        );
    }

    let path = format!("/v2/oras/app/referrers/{}", img.manifest_digest);
    let index: serde_json::Value = api.get(&path).json().unwrap();
    let listed = index["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{index}");
    for m in listed {
        assert_eq!(m["annotations"]["org.example.pushed-by"], "oras-py");
        // oras-py sets no artifactType: the config's media type stands in.
        assert!(m["artifactType"]
            .as_str()
            .unwrap()
            .starts_with("application/vnd.example."));
    }
    let r = api.get(&format!(
        "{path}?artifactType=application/vnd.example.sbom.v1"
    ));
    assert_eq!(header(&r, "oci-filters-applied"), "artifactType");
    let filtered: serde_json::Value = r.json().unwrap();
    assert_eq!(filtered["manifests"].as_array().unwrap().len(), 1);
    let sbom: serde_json::Value = api.get("/v2/oras/app/manifests/sbom").json().unwrap();
    assert_eq!(sbom["subject"]["digest"], img.manifest_digest);

    // oras pulls the artifact back, byte for byte.
    let out = s.scratch().join("pulled");
    oras_py(
        &s,
        PULL,
        &[
            &s.host(),
            &format!("{}/oras/app:sbom", s.host()),
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(out.join("sbom.txt")).unwrap(),
        b"sbom contents"
    );
}

#[test]
fn skopeo_copies_an_image_recompressed_to_zstd() {
    if !tools::require("skopeo") {
        return;
    }
    let s = start();
    let img = image::oci_image(32, 3, 2, 50_000);
    let layout = s.scratch().join("layout");
    image::write_oci_layout(&layout, &img, "v1");
    let dest = format!("docker://{}/zstd/app:v1", s.host());
    tools::run(
        s.command("skopeo")
            .args([
                "copy",
                "--dest-tls-verify=false",
                "--dest-compress",
                "--dest-compress-format",
                "zstd",
            ])
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(&dest),
    );
    let raw = tools::run(
        s.command("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(&dest),
    );
    let manifest: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    for l in layers {
        assert_eq!(
            l["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd",
            "{manifest}"
        );
    }
    // Pulled back (skopeo verifies every digest) and decompressed to the same tars.
    let out = s.scratch().join("pulled");
    tools::run(
        s.command("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(&dest)
            .arg(format!("dir:{}", out.display())),
    );
    for (l, original) in layers.iter().zip(&img.layers) {
        let d = l["digest"].as_str().unwrap();
        let zst = std::fs::read(out.join(d.trim_start_matches("sha256:"))).unwrap();
        assert_eq!(&zst[..4], &[0x28, 0xb5, 0x2f, 0xfd], "a zstd frame");
        let tar = zstd_decompress(&zst);
        assert_eq!(image::sha256(&tar), original.diff_id, "same layer content");
    }
}

fn zstd_decompress(bytes: &[u8]) -> Vec<u8> {
    zstd::stream::decode_all(bytes).expect("a valid zstd stream")
}
