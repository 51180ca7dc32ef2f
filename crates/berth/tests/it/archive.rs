//! The archive storage class end to end: images pushed with skopeo,
//! archived and restored with the `aws` CLI and boto3
//! (UpdateImageStorageClass), hidden from pulls and listings while
//! archived, restored by a re-push, surviving a restart, and archived by a
//! lifecycle `transition` rule run with `berth admin lifecycle run`.
//! Under `CI=true` a missing client fails the test.

use crate::common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

const REPO: &str = "archive/app";

fn aws(s: &TestServer, args: &[&str]) -> std::process::Output {
    aws_with(&s.aws_env("us-east-1"), args)
}

fn aws_ok(s: &TestServer, args: &[&str]) -> Value {
    json_of(args, aws(s, args))
}

fn aws_err(s: &TestServer, args: &[&str]) -> String {
    let out = aws(s, args);
    assert!(!out.status.success(), "aws {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn ecr<'a>(op: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["ecr", op, "--repository-name", REPO];
    v.extend_from_slice(rest);
    v
}

fn push(s: &TestServer, img: &image::Image, tag: &str) {
    let layout = s.scratch().join(tools::unique("layout"));
    image::write_oci_layout(&layout, img, tag);
    tools::run(
        s.command("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{REPO}:{tag}", s.host())),
    );
}

/// skopeo copies `tag` into a `dir:` layout; the manifest must be `img`'s.
fn pull(s: &TestServer, tag: &str) -> Result<(), String> {
    let out = s.scratch().join(tools::unique("pulled"));
    let done = s
        .command("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{}/{REPO}:{tag}", s.host()))
        .arg(format!("dir:{}", out.display()))
        .output()
        .expect("running skopeo");
    if !done.status.success() {
        return Err(String::from_utf8_lossy(&done.stderr).to_string());
    }
    Ok(())
}

fn pull_identical(s: &TestServer, tag: &str, img: &image::Image) {
    let out = s.scratch().join(tools::unique("pulled"));
    tools::run(
        s.command("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{}/{REPO}:{tag}", s.host()))
            .arg(format!("dir:{}", out.display())),
    );
    assert_eq!(
        std::fs::read(out.join("manifest.json")).unwrap(),
        img.manifest
    );
    for l in &img.layers {
        let bytes = std::fs::read(out.join(l.digest.trim_start_matches("sha256:"))).unwrap();
        assert!(bytes == l.bytes, "layer {} differs", l.digest);
    }
}

fn digests_of(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list["imageIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["imageDigest"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

fn status_of(s: &TestServer, tag: &str) -> Value {
    let d = aws_ok(
        s,
        &ecr(
            "describe-images",
            &["--image-ids", &format!("imageTag={tag}")],
        ),
    );
    d["imageDetails"][0].clone()
}

/// boto3: restores `tag` and waits until DescribeImages says ACTIVE;
/// prints the UpdateImageStorageClass answer and the final detail.
const BOTO3_RESTORE: &str = r#"
import boto3, json, sys, time
ecr = boto3.client("ecr")
repo, tag = sys.argv[1], sys.argv[2]
r = ecr.update_image_storage_class(repositoryName=repo, imageId={"imageTag": tag}, targetStorageClass="STANDARD")
for _ in range(300):
    d = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])["imageDetails"][0]
    if d["imageStatus"] == "ACTIVE":
        break
    time.sleep(0.1)
print(json.dumps({"update": r["imageStatus"], "digest": r["imageId"]["imageDigest"],
                  "status": d["imageStatus"], "activated": "lastActivatedAt" in d,
                  "archived": "lastArchivedAt" in d}))
"#;

#[test]
fn archived_images_leave_pulls_and_listings_and_come_back_on_restore_or_push() {
    if !tools::require("aws") || !tools::require("skopeo") || !tools::require_python_module("boto3")
    {
        return;
    }
    let mut s = start();
    aws_ok(&s, &ecr("create-repository", &[]));
    let old = image::oci_image(71, 2, 2, 4096);
    let new = image::oci_image(72, 1, 2, 4096);
    push(&s, &old, "v1");
    push(&s, &new, "v2");

    let done = aws_ok(
        &s,
        &ecr(
            "update-image-storage-class",
            &[
                "--image-id",
                "imageTag=v1",
                "--target-storage-class",
                "ARCHIVE",
            ],
        ),
    );
    assert_eq!(done["imageStatus"], "ARCHIVED");
    assert_eq!(done["imageId"]["imageDigest"], old.manifest_digest.as_str());

    // Not pullable ("Requests to pull the archived image will fail with a
    // 404 error"), neither by tag nor by digest; the other image is.
    let err = pull(&s, "v1").unwrap_err();
    assert!(err.contains("manifest unknown"), "{err}");
    let by_digest = s
        .client()
        .get(format!(
            "{}/v2/{REPO}/manifests/{}",
            s.url(),
            old.manifest_digest
        ))
        .header("accept", image::OCI_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(by_digest.status(), 404);
    assert!(by_digest.text().unwrap().contains("archive"));
    pull_identical(&s, "v2", &new);

    // Listed only through the imageStatus filter.
    let active = aws_ok(&s, &ecr("list-images", &[]));
    assert_eq!(
        digests_of(&active),
        std::slice::from_ref(&new.manifest_digest)
    );
    let archived = aws_ok(
        &s,
        &ecr("list-images", &["--filter", "imageStatus=ARCHIVED"]),
    );
    assert_eq!(
        digests_of(&archived),
        std::slice::from_ref(&old.manifest_digest)
    );
    let any = aws_ok(
        &s,
        &ecr("describe-images", &["--filter", "imageStatus=ANY"]),
    );
    assert_eq!(any["imageDetails"].as_array().unwrap().len(), 2);
    let detail = status_of(&s, "v1");
    assert_eq!(detail["imageStatus"], "ARCHIVED");
    assert!(detail["lastArchivedAt"].is_string() || detail["lastArchivedAt"].is_number());
    let tags = tools::run(
        s.command("skopeo")
            .args(["list-tags", "--tls-verify=false"])
            .arg(format!("docker://{}/{REPO}", s.host())),
    );
    let tags: Value = serde_json::from_slice(&tags.stdout).unwrap();
    assert_eq!(tags["Tags"], serde_json::json!(["v2"]));

    // Its layers report ARCHIVED, and cannot be fetched.
    let layer = old.layers[0].digest.as_str();
    let check = aws_ok(
        &s,
        &ecr(
            "batch-check-layer-availability",
            &["--layer-digests", layer],
        ),
    );
    assert_eq!(check["layers"][0]["layerAvailability"], "ARCHIVED");
    let err = aws_err(
        &s,
        &ecr("get-download-url-for-layer", &["--layer-digest", layer]),
    );
    assert!(err.contains("LayerInaccessibleException"), "{err}");
    let got = aws_ok(&s, &ecr("batch-get-image", &["--image-ids", "imageTag=v1"]));
    assert_eq!(got["failures"][0]["failureCode"], "ImageNotFound");
    let err = aws_err(&s, &ecr("start-image-scan", &["--image-id", "imageTag=v1"]));
    assert!(err.contains("ImageArchivedException"), "{err}");

    // Errors by exception name.
    let err = aws_err(
        &s,
        &ecr(
            "update-image-storage-class",
            &[
                "--image-id",
                "imageTag=nope",
                "--target-storage-class",
                "ARCHIVE",
            ],
        ),
    );
    assert!(err.contains("ImageNotFoundException"), "{err}");
    let err = aws_err(
        &s,
        &ecr(
            "update-image-storage-class",
            &[
                "--image-id",
                "imageTag=v1",
                "--target-storage-class",
                "GLACIER",
            ],
        ),
    );
    assert!(err.contains("targetStorageClass"), "{err}");

    // Archived state survives a restart.
    s.restart();
    assert!(pull(&s, "v1").is_err());

    // boto3 restores it: ACTIVATING, then ACTIVE with lastActivatedAt.
    let r = python_json(&s, BOTO3_RESTORE, &[REPO, "v1"]);
    assert!(
        r["update"] == "ACTIVATING" || r["update"] == "ACTIVE",
        "{r}"
    );
    assert_eq!(r["digest"], old.manifest_digest.as_str());
    assert_eq!(
        (r["status"].as_str(), r["activated"].as_bool()),
        (Some("ACTIVE"), Some(true))
    );
    pull_identical(&s, "v1", &old);

    // Archived again, then pushed again with skopeo: the push restores it.
    aws_ok(
        &s,
        &ecr(
            "update-image-storage-class",
            &[
                "--image-id",
                &format!("imageDigest={}", old.manifest_digest),
                "--target-storage-class",
                "ARCHIVE",
            ],
        ),
    );
    assert!(pull(&s, "v1").is_err());
    push(&s, &old, "v1");
    assert_eq!(status_of(&s, "v1")["imageStatus"], "ACTIVE");
    pull_identical(&s, "v1", &old);
}

/// `berth admin lifecycle run --json` as the default account's admin.
fn lifecycle_run(s: &TestServer) -> Value {
    serde_json::from_str(&berth_cli(
        &s.aws_env("us-east-1"),
        &[
            "admin",
            "--endpoint",
            &s.url(),
            "lifecycle",
            "run",
            "--json",
        ],
    ))
    .unwrap()
}

#[test]
fn a_lifecycle_transition_rule_archives_what_it_selects() {
    if !tools::require("aws") || !tools::require("skopeo") {
        return;
    }
    let s = start_with(&["--lifecycle-interval", "0s"]);
    aws_ok(&s, &ecr("create-repository", &[]));
    let imgs: Vec<image::Image> = (0..3)
        .map(|i| image::oci_image(80 + i, 1, 1, 2048))
        .collect();
    for (i, img) in imgs.iter().enumerate() {
        push(&s, img, &format!("r{i}"));
        // Push times are kept to the millisecond; keep them apart.
        std::thread::sleep(Duration::from_millis(20));
    }
    let policy = r#"{"rules":[{"rulePriority":1,"description":"archive all but the newest image","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"transition","targetStorageClass":"archive"}}]}"#;
    aws_ok(
        &s,
        &ecr("put-lifecycle-policy", &["--lifecycle-policy-text", policy]),
    );
    aws_ok(&s, &ecr("start-lifecycle-policy-preview", &[]));
    let preview = aws_ok(&s, &ecr("get-lifecycle-policy-preview", &[]));
    assert_eq!(
        preview["summary"]["transitioningImageTotalCounts"][0]["imageTotalCount"], 2,
        "{preview}"
    );

    let started = Instant::now();
    let run = lifecycle_run(&s);
    assert_eq!(
        (run["transitioned"].as_u64(), run["expired"].as_u64()),
        (Some(2), Some(0)),
        "{run}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));

    for (i, img) in imgs.iter().enumerate() {
        let d = status_of(&s, &format!("r{i}"));
        let want = if i == 2 { "ACTIVE" } else { "ARCHIVED" };
        assert_eq!(d["imageStatus"], want, "r{i}: {d}");
        assert_eq!(pull(&s, &format!("r{i}")).is_ok(), i == 2);
        if i == 2 {
            pull_identical(&s, "r2", img);
        }
    }
    // The next run has nothing left to do.
    let run = lifecycle_run(&s);
    assert_eq!(run["transitioned"].as_u64(), Some(0), "{run}");
}

/// Key domains (issue 21): archiving an image of a repository under a KMS
/// key moves its key's copies to the same domain of the archive, and
/// restoring brings them back, readable under the key.
#[test]
fn a_kms_repositorys_image_archives_and_restores_within_its_keys_domain() {
    let s = start();
    let ecr = |op: &str, input: Value| s.ecr("us-east-1", op, input).unwrap();
    let (_, arn) = kms_repository(&s, "arch/kms");
    let img = image::oci_image(73, 2, 1, 5000);
    let api = Api::new(&s);
    api.push_image("arch/kms", &img, "v1");
    let (standard, archived) = (
        domain_blob_file(&s.data_dir, &arn, &img.layers[0].digest),
        domain_blob_file(&s.data_dir.join("archive"), &arn, &img.layers[0].digest),
    );
    assert!(standard.is_file() && !archived.exists());

    let image_id = serde_json::json!({"imageTag": "v1"});
    let out = ecr(
        "UpdateImageStorageClass",
        serde_json::json!({"repositoryName": "arch/kms", "imageId": image_id, "targetStorageClass": "ARCHIVE"}),
    );
    assert_eq!(out["imageStatus"], "ARCHIVED");
    assert!(
        !standard.exists() && archived.is_file(),
        "moved within the key's domain"
    );

    ecr(
        "UpdateImageStorageClass",
        serde_json::json!({"repositoryName": "arch/kms", "imageId": image_id, "targetStorageClass": "STANDARD"}),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let d = ecr(
            "DescribeImages",
            serde_json::json!({"repositoryName": "arch/kms", "imageIds": [image_id],
                "filter": {"imageStatus": "ANY"}}),
        );
        if d["imageDetails"][0]["imageStatus"] == "ACTIVE" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not restored: {d}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        standard.is_file() && !archived.exists(),
        "back within the key's domain"
    );
    let got = api.get(&format!("/v2/arch/kms/blobs/{}", img.layers[0].digest));
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.bytes().unwrap().as_ref(),
        img.layers[0].bytes.as_slice()
    );
}
