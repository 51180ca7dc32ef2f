//! Image scanning end to end with real clients: images composed here (a
//! Debian 12 dpkg status with packages at affected and at fixed versions,
//! a Python dist-info matched against a real PyPI record, a later layer
//! whose whiteout removes the Python package), pushed with skopeo; the
//! vulnerability database imported with `berth vulndb import` (through the
//! admin API, and `--offline` into a stopped server's data dir); scans on
//! push and by `aws ecr start-image-scan`; `aws ecr wait
//! image-scan-complete`; findings checked by id, package, version, fixed
//! version and severity with the aws CLI and with boto3; BASIC vs ENHANCED,
//! continuous re-matching when the database changes, the documented errors.
//!
//! Records: the synthetic Debian records of `crates/scan/tests/fixtures/
//! synthetic` (not real advisories; ids `BERTH-SYNTHETIC-*`), one more
//! synthetic record written here, and the real PYSEC-2008-8 (paramiko).
//! Under `CI=true` a missing skopeo, aws CLI or boto3 fails the test.

use crate::common::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

enum Item<'a> {
    File(&'a str, &'a str),
    Symlink(&'a str, &'a str),
}

fn tar_of(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for item in items {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match item {
            Item::File(path, data) => {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, path, data.as_bytes()).unwrap();
            }
            Item::Symlink(path, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, path, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn layer_of(tar: Vec<u8>) -> image::Layer {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let bytes = gz.finish().unwrap();
    image::Layer {
        digest: image::sha256(&bytes),
        diff_id: image::sha256(&tar),
        bytes,
    }
}

/// An OCI image of these layers, with a config listing their diff ids.
fn compose(layers: Vec<image::Layer>) -> image::Image {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>() },
    }))
    .unwrap();
    let config_digest = image::sha256(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": image::OCI_MANIFEST,
        "config": { "mediaType": image::OCI_CONFIG, "digest": config_digest, "size": config.len() },
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": image::OCI_LAYER_GZIP, "digest": l.digest, "size": l.bytes.len()
        })).collect::<Vec<_>>(),
    }))
    .unwrap();
    image::Image {
        manifest_digest: image::sha256(&manifest),
        manifest,
        config,
        config_digest,
        layers,
    }
}

/// libssl3 at a version BERTH-SYNTHETIC-0001 affects (fixed in
/// 3.0.11-1~deb12u2); login (source shadow) at exactly the version that
/// fixes BERTH-SYNTHETIC-0002; bash, which no record names at first.
const DPKG_STATUS: &str = "Package: libssl3
Status: install ok installed
Source: openssl
Version: 3.0.11-1~deb12u1

Package: login
Status: install ok installed
Source: shadow
Version: 1:4.13+dfsg1-1+deb12u1

Package: bash
Status: install ok installed
Version: 5.2.15-2+b2
";

const PARAMIKO: &str = "usr/local/lib/python3.11/site-packages/paramiko-1.7.1.dist-info/METADATA";

fn base_layer() -> image::Layer {
    layer_of(tar_of(&[
        Item::File(
            "usr/lib/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        ),
        Item::Symlink("etc/os-release", "../usr/lib/os-release"),
        Item::File("var/lib/dpkg/status", DPKG_STATUS),
    ]))
}

fn python_layer() -> image::Layer {
    layer_of(tar_of(&[Item::File(
        PARAMIKO,
        "Metadata-Version: 2.1\nName: Paramiko\nVersion: 1.7.1\n\nSSH2 for Python\n",
    )]))
}

/// `pip uninstall paramiko` in a later layer: a whiteout of its dist-info.
fn uninstall_layer() -> image::Layer {
    layer_of(tar_of(&[Item::File(
        "usr/local/lib/python3.11/site-packages/.wh.paramiko-1.7.1.dist-info",
        "",
    )]))
}

/// A synthetic record (not a real advisory) naming bash, imported later
/// to see continuous scanning re-match without a new scan.
const SYNTHETIC_BASH: &str = r#"{
  "schema_version": "1.6.0",
  "id": "BERTH-SYNTHETIC-0101",
  "modified": "2026-01-01T00:00:00Z",
  "summary": "SYNTHETIC bash record, for berth's scanning tests",
  "details": "SYNTHETIC: not a real vulnerability.",
  "affected": [{
    "package": {"ecosystem": "Debian:12", "name": "bash"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.2.15-2+b3"}]}]
  }],
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "database_specific": {"synthetic": true}
}"#;

/// Same, naming login (shadow), imported offline into a stopped server.
const SYNTHETIC_SHADOW: &str = r#"{
  "schema_version": "1.6.0",
  "id": "BERTH-SYNTHETIC-0102",
  "modified": "2026-01-01T00:00:00Z",
  "summary": "SYNTHETIC shadow record, for berth's scanning tests",
  "affected": [{
    "package": {"ecosystem": "Debian:12", "name": "shadow"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:4.13+dfsg1-1+deb12u2"}]}]
  }],
  "database_specific": {"synthetic": true, "severity": "LOW"}
}"#;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scan/tests/fixtures")
}

/// A directory of records: the synthetic Debian ones and PYSEC-2008-8.
fn records_dir(s: &TestServer) -> PathBuf {
    let dir = s.scratch().join("osv");
    std::fs::create_dir_all(dir.join("debian")).unwrap();
    std::fs::create_dir_all(dir.join("pypi")).unwrap();
    for id in ["0001", "0002", "0003", "0009"] {
        let name = format!("BERTH-SYNTHETIC-{id}.json");
        std::fs::copy(
            fixtures().join("synthetic").join(&name),
            dir.join("debian").join(&name),
        )
        .unwrap();
    }
    std::fs::copy(
        fixtures().join("osv/PyPI/PYSEC-2008-8.json"),
        dir.join("pypi/PYSEC-2008-8.json"),
    )
    .unwrap();
    dir
}

fn berth(s: &TestServer, args: &[&str]) -> Output {
    Command::new(berth_bin())
        .envs(s.aws_env("us-east-1"))
        .args(args)
        .output()
        .expect("running berth")
}

fn berth_ok(s: &TestServer, args: &[&str]) -> String {
    let out = berth(s, args);
    assert!(
        out.status.success(),
        "berth {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn aws(s: &TestServer, args: &[&str]) -> Output {
    aws_with(&s.aws_env("us-east-1"), args)
}

fn aws_ok(s: &TestServer, args: &[&str]) -> Value {
    json_of(args, aws(s, args))
}

fn aws_err(s: &TestServer, args: &[&str]) -> String {
    let out = aws(s, args);
    assert!(!out.status.success(), "aws {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn push(s: &TestServer, img: &image::Image, repo_tag: &str) {
    let layout = s
        .scratch()
        .join(format!("layout-{}", img.manifest_digest.replace(':', "-")));
    image::write_oci_layout(&layout, img, "t");
    tools::run(
        s.command("skopeo")
            .args(["copy", "--dest-tls-verify=false", "--preserve-digests"])
            .arg(format!("oci:{}:t", layout.display()))
            .arg(format!("docker://{}/{repo_tag}", s.host())),
    );
}

fn findings(s: &TestServer, repo: &str, image_id: &str) -> Value {
    aws_ok(
        s,
        &[
            "ecr",
            "describe-image-scan-findings",
            "--repository-name",
            repo,
            "--image-id",
            image_id,
        ],
    )
}

/// (id, package, version, fixed, severity) of each BASIC finding.
fn basic(v: &Value) -> Vec<(String, String, String, String, String)> {
    let mut out: Vec<_> = v["imageScanFindings"]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no BASIC findings in {v}"))
        .iter()
        .map(|f| {
            let attr = |k: &str| {
                f["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["key"] == k)
                    .map(|a| a["value"].as_str().unwrap().to_string())
                    .unwrap_or_default()
            };
            (
                f["name"].as_str().unwrap().to_string(),
                attr("package_name"),
                attr("package_version"),
                attr("fixed_version"),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// (id, package, version, fixed, severity) of each ENHANCED finding.
fn enhanced(v: &Value) -> Vec<(String, String, String, String, String)> {
    let mut out: Vec<_> = v["imageScanFindings"]["enhancedFindings"]
        .as_array()
        .unwrap_or_else(|| panic!("no ENHANCED findings in {v}"))
        .iter()
        .map(|f| {
            let d = &f["packageVulnerabilityDetails"];
            let p = &d["vulnerablePackages"][0];
            (
                d["vulnerabilityId"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
                p["fixedInVersion"].as_str().unwrap_or_default().to_string(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn row(
    id: &str,
    pkg: &str,
    ver: &str,
    fixed: &str,
    sev: &str,
) -> (String, String, String, String, String) {
    (id.into(), pkg.into(), ver.into(), fixed.into(), sev.into())
}

fn wait_complete(s: &TestServer, repo: &str, image_id: &str) {
    let args = [
        "ecr",
        "wait",
        "image-scan-complete",
        "--repository-name",
        repo,
        "--image-id",
        image_id,
    ];
    json_of(&args, aws(s, &args));
}

/// Polls until `check` holds on the image's findings (continuous rescans
/// run in the background).
fn eventually(s: &TestServer, repo: &str, image_id: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = findings(s, repo, image_id);
        if check(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "findings never became as expected: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn scans_on_push_and_on_demand_match_the_imported_database() {
    if !tools::require("skopeo") || !tools::require("aws") || !tools::require_python_module("boto3")
    {
        return;
    }
    let mut s = start();
    let repo = "scan/app";
    let digest_arg = |img: &image::Image| format!("imageDigest={}", img.manifest_digest);

    // The database, through the running server's admin API.
    let out = berth_ok(
        &s,
        &[
            "vulndb",
            "import",
            records_dir(&s).to_str().unwrap(),
            "--endpoint",
            &s.url(),
        ],
    );
    assert!(
        out.contains("5 records read, 4 stored") && out.contains("1 withdrawn"),
        "{out}"
    );
    // Importing the same records again changes nothing.
    let again = berth_ok(
        &s,
        &[
            "vulndb",
            "import",
            records_dir(&s).to_str().unwrap(),
            "--endpoint",
            &s.url(),
        ],
    );
    assert!(again.contains("0 stored, 4 unchanged"), "{again}");

    // Scan on push (the repository's scanOnPush), BASIC: OS packages only.
    aws_ok(
        &s,
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            repo,
            "--image-scanning-configuration",
            "scanOnPush=true",
        ],
    );
    let app = compose(vec![base_layer(), python_layer()]);
    push(&s, &app, &format!("{repo}:v1"));
    wait_complete(&s, repo, "imageTag=v1");
    let v = findings(&s, repo, "imageTag=v1");
    assert_eq!(v["imageScanStatus"]["status"], "COMPLETE", "{v}");
    assert_eq!(v["imageId"]["imageDigest"], app.manifest_digest.as_str());
    // libssl3 is affected; login is at the fixing version; bash is named by
    // no record; paramiko is a language package (ENHANCED only). The
    // record's CVSS 3.1 vector scores 7.5: HIGH.
    assert_eq!(
        basic(&v),
        [row(
            "BERTH-SYNTHETIC-0001",
            "libssl3",
            "3.0.11-1~deb12u1",
            "3.0.11-1~deb12u2",
            "HIGH"
        )]
    );
    let f = &v["imageScanFindings"];
    assert_eq!(f["findingSeverityCounts"], serde_json::json!({"HIGH": 1}));
    assert!(
        f["imageScanCompletedAt"].is_number() || f["imageScanCompletedAt"].is_string(),
        "{f}"
    );
    assert!(
        f["vulnerabilitySourceUpdatedAt"].is_number()
            || f["vulnerabilitySourceUpdatedAt"].is_string(),
        "{f}"
    );
    let first = &f["findings"][0];
    assert!(
        first["uri"].as_str().unwrap().starts_with("https://"),
        "{first}"
    );
    assert!(
        first["description"]
            .as_str()
            .unwrap()
            .contains("Not a real advisory"),
        "{first}"
    );
    let attrs = first["attributes"].to_string();
    assert!(
        attrs.contains("CVSS3_VECTOR") && attrs.contains("\"7.5\""),
        "{attrs}"
    );

    // DescribeImages carries the status and the summary.
    let d = aws_ok(&s, &["ecr", "describe-images", "--repository-name", repo]);
    let detail = &d["imageDetails"][0];
    assert_eq!(detail["imageScanStatus"]["status"], "COMPLETE", "{d}");
    assert_eq!(
        detail["imageScanFindingsSummary"]["findingSeverityCounts"],
        serde_json::json!({"HIGH": 1})
    );

    // ENHANCED with a continuous rule for scan/*: a manual scan adds the
    // language packages (PYSEC-2008-8 is fixed in 1.7.2 and has no
    // severity of its own: UNDEFINED).
    let rules = r#"[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"scan/*","filterType":"WILDCARD"}]}]"#;
    let put = aws_ok(
        &s,
        &[
            "ecr",
            "put-registry-scanning-configuration",
            "--scan-type",
            "ENHANCED",
            "--rules",
            rules,
        ],
    );
    assert_eq!(put["registryScanningConfiguration"]["scanType"], "ENHANCED");
    let got = aws_ok(&s, &["ecr", "get-registry-scanning-configuration"]);
    assert_eq!(
        got["scanningConfiguration"]["rules"][0]["scanFrequency"],
        "CONTINUOUS_SCAN"
    );
    let batch = aws_ok(
        &s,
        &[
            "ecr",
            "batch-get-repository-scanning-configuration",
            "--repository-names",
            repo,
            "nope",
        ],
    );
    let c = &batch["scanningConfigurations"][0];
    assert_eq!(c["scanFrequency"], "CONTINUOUS_SCAN", "{batch}");
    assert_eq!(c["scanOnPush"], true);
    assert_eq!(c["appliedScanFilters"][0]["filter"], "scan/*");
    assert_eq!(batch["failures"][0]["repositoryName"], "nope");
    assert_eq!(batch["failures"][0]["failureCode"], "REPOSITORY_NOT_FOUND");

    let started = aws_ok(
        &s,
        &[
            "ecr",
            "start-image-scan",
            "--repository-name",
            repo,
            "--image-id",
            "imageTag=v1",
        ],
    );
    assert_eq!(
        started["imageId"]["imageDigest"],
        app.manifest_digest.as_str()
    );
    assert!(
        ["IN_PROGRESS", "COMPLETE"]
            .contains(&started["imageScanStatus"]["status"].as_str().unwrap()),
        "{started}"
    );
    wait_complete(&s, repo, &digest_arg(&app));
    let v = findings(&s, repo, "imageTag=v1");
    assert_eq!(
        enhanced(&v),
        [
            row(
                "BERTH-SYNTHETIC-0001",
                "libssl3",
                "3.0.11-1~deb12u1",
                "3.0.11-1~deb12u2",
                "HIGH"
            ),
            row("PYSEC-2008-8", "paramiko", "1.7.1", "1.7.2", "UNDEFINED"),
        ]
    );
    let paramiko = v["imageScanFindings"]["enhancedFindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["packageVulnerabilityDetails"]["vulnerabilityId"] == "PYSEC-2008-8")
        .unwrap();
    assert_eq!(
        paramiko["packageVulnerabilityDetails"]["vulnerablePackages"][0]["filePath"],
        PARAMIKO
    );
    assert_eq!(paramiko["fixAvailable"], "YES");

    // boto3: its waiter, and paging one finding at a time.
    let script = format!(
        r#"
import boto3, json
ecr = boto3.client("ecr")
ecr.get_waiter("image_scan_complete").wait(repositoryName="{repo}", imageId={{"imageTag": "v1"}}, WaiterConfig={{"Delay": 1, "MaxAttempts": 30}})
pages = ecr.get_paginator("describe_image_scan_findings").paginate(repositoryName="{repo}", imageId={{"imageTag": "v1"}}, PaginationConfig={{"PageSize": 1}})
seen = []
for p in pages:
    for f in p["imageScanFindings"].get("enhancedFindings", []):
        d = f["packageVulnerabilityDetails"]
        pkg = d["vulnerablePackages"][0]
        seen.append([d["vulnerabilityId"], pkg["name"], pkg["version"], pkg.get("fixedInVersion", ""), f["severity"], len(p["imageScanFindings"]["enhancedFindings"])])
print(json.dumps(seen))
"#
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .envs(s.aws_env("us-east-1"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        seen,
        serde_json::json!([
            [
                "BERTH-SYNTHETIC-0001",
                "libssl3",
                "3.0.11-1~deb12u1",
                "3.0.11-1~deb12u2",
                "HIGH",
                1
            ],
            ["PYSEC-2008-8", "paramiko", "1.7.1", "1.7.2", "UNDEFINED", 1],
        ])
    );

    // Continuous: a new record naming bash re-matches the stored packages
    // without a new scan (the layers are not read again).
    let extra = s.scratch().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("BERTH-SYNTHETIC-0101.json"), SYNTHETIC_BASH).unwrap();
    let before = findings(&s, repo, "imageTag=v1")["imageScanFindings"]
        ["vulnerabilitySourceUpdatedAt"]
        .clone();
    berth_ok(
        &s,
        &[
            "vulndb",
            "import",
            extra.to_str().unwrap(),
            "--endpoint",
            &s.url(),
        ],
    );
    let v = eventually(&s, repo, "imageTag=v1", |v| {
        enhanced(v).iter().any(|r| r.0 == "BERTH-SYNTHETIC-0101")
    });
    assert!(enhanced(&v).contains(&row(
        "BERTH-SYNTHETIC-0101",
        "bash",
        "5.2.15-2+b2",
        "5.2.15-2+b3",
        "CRITICAL"
    )));
    assert_ne!(
        v["imageScanFindings"]["vulnerabilitySourceUpdatedAt"],
        before
    );

    // The whiteout: a later layer removes paramiko; scanned on push (the
    // continuous rule covers scan/*).
    let removed = compose(vec![base_layer(), python_layer(), uninstall_layer()]);
    push(&s, &removed, &format!("{repo}:removed"));
    wait_complete(&s, repo, "imageTag=removed");
    let v = findings(&s, repo, "imageTag=removed");
    let ids: Vec<String> = enhanced(&v).into_iter().map(|r| r.0).collect();
    assert_eq!(ids, ["BERTH-SYNTHETIC-0001", "BERTH-SYNTHETIC-0101"], "{v}");

    // Offline import into a stopped server's data dir, then start again:
    // the stored scans were re-matched by the CLI.
    let offline = s.scratch().join("offline");
    std::fs::create_dir_all(&offline).unwrap();
    std::fs::write(offline.join("shadow.json"), SYNTHETIC_SHADOW).unwrap();
    let status = s.stop();
    assert!(status.success());
    let out = berth_ok(
        &s,
        &[
            "vulndb",
            "import",
            offline.to_str().unwrap(),
            "--offline",
            "--data-dir",
            s.data_dir.to_str().unwrap(),
        ],
    );
    assert!(
        out.contains("1 stored") && out.contains("holds 6 records"),
        "{out}"
    );
    s.restart();
    let v = findings(&s, repo, "imageTag=v1");
    assert!(
        enhanced(&v).contains(&row(
            "BERTH-SYNTHETIC-0102",
            "login",
            "1:4.13+dfsg1-1+deb12u1",
            "1:4.13+dfsg1-1+deb12u2",
            "LOW"
        )),
        "{v}"
    );

    // The errors ECR documents.
    aws_ok(
        &s,
        &["ecr", "create-repository", "--repository-name", "other"],
    );
    push(&s, &compose(vec![base_layer()]), "other:v1");
    let e = aws_err(
        &s,
        &[
            "ecr",
            "describe-image-scan-findings",
            "--repository-name",
            "other",
            "--image-id",
            "imageTag=v1",
        ],
    );
    assert!(e.contains("ScanNotFoundException"), "{e}");
    let e = aws_err(
        &s,
        &[
            "ecr",
            "start-image-scan",
            "--repository-name",
            repo,
            "--image-id",
            "imageTag=nope",
        ],
    );
    assert!(e.contains("ImageNotFoundException"), "{e}");
    let e = aws_err(
        &s,
        &[
            "ecr",
            "start-image-scan",
            "--repository-name",
            "missing",
            "--image-id",
            "imageTag=v1",
        ],
    );
    assert!(e.contains("RepositoryNotFoundException"), "{e}");
    let e = aws_err(
        &s,
        &[
            "ecr",
            "put-registry-scanning-configuration",
            "--scan-type",
            "BASIC",
            "--rules",
            rules,
        ],
    );
    assert!(e.contains("InvalidParameterException"), "{e}");
    let bad = r#"[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"Bad Name","filterType":"WILDCARD"}]}]"#;
    let e = aws_err(
        &s,
        &[
            "ecr",
            "put-registry-scanning-configuration",
            "--scan-type",
            "BASIC",
            "--rules",
            bad,
        ],
    );
    assert!(e.contains("InvalidParameterException"), "{e}");
}

#[test]
fn artifacts_are_not_images_and_images_without_packages_are_unsupported() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let api = Api::new(&s);
    aws_ok(
        &s,
        &["ecr", "create-repository", "--repository-name", "things"],
    );
    // An artifact: its config is not an image config.
    let blob = api.push_blob("things", b"{}");
    let artifact = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": image::OCI_MANIFEST,
        "artifactType": "application/vnd.example.thing",
        "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": blob, "size": 2 },
        "layers": [],
    }))
    .unwrap();
    let r = api.put_manifest("things", "artifact", image::OCI_MANIFEST, &artifact);
    assert_eq!(r.status(), 201);
    let e = aws_err(
        &s,
        &[
            "ecr",
            "start-image-scan",
            "--repository-name",
            "things",
            "--image-id",
            "imageTag=artifact",
        ],
    );
    assert!(e.contains("UnsupportedImageTypeException"), "{e}");

    // An image of random files: nothing to detect.
    let img = image::oci_image(7, 1, 2, 100);
    api.push_image("things", &img, "plain");
    let started = aws_ok(
        &s,
        &[
            "ecr",
            "start-image-scan",
            "--repository-name",
            "things",
            "--image-id",
            "imageTag=plain",
        ],
    );
    assert_eq!(
        started["imageScanStatus"]["status"], "IN_PROGRESS",
        "{started}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = findings(&s, "things", "imageTag=plain");
        if v["imageScanStatus"]["status"] != "IN_PROGRESS" {
            assert_eq!(v["imageScanStatus"]["status"], "UNSUPPORTED_IMAGE", "{v}");
            assert!(v["imageScanStatus"]["description"]
                .as_str()
                .unwrap()
                .contains("not supported"));
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A repository under a KMS key: its scans read the key's domain, and fail
/// while the key is disabled, as its pulls do (issue 21).
#[test]
fn a_kms_repositorys_scans_read_its_keys_domain_and_stop_while_the_key_is_disabled_or_ecrs_grant_revoked(
) {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let kms = |op: &str, input: Value| s.kms("us-east-1", op, input).unwrap();
    let key = kms("CreateKey", serde_json::json!({}));
    let id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    aws_ok(
        &s,
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            "kscan",
            "--encryption-configuration",
            &format!("encryptionType=KMS,kmsKey={id}"),
        ],
    );
    Api::new(&s).push_image("kscan", &image::oci_image(8, 1, 2, 100), "v1");
    let scan = |expect: &str| {
        aws_ok(
            &s,
            &[
                "ecr",
                "start-image-scan",
                "--repository-name",
                "kscan",
                "--image-id",
                "imageTag=v1",
            ],
        );
        eventually(&s, "kscan", "imageTag=v1", |v| {
            v["imageScanStatus"]["status"] == expect
        })
    };
    // Read from the key's domain: the layers were found and read (nothing
    // to detect in random files).
    scan("UNSUPPORTED_IMAGE");
    kms("DisableKey", serde_json::json!({"KeyId": id}));
    let v = scan("FAILED");
    let why = v["imageScanStatus"]["description"].as_str().unwrap();
    assert!(why.contains("is disabled."), "{v}");
    kms("EnableKey", serde_json::json!({"KeyId": id}));
    scan("UNSUPPORTED_IMAGE");
    // The key's owner revokes ECR's grant for the repository: scans read
    // through it as pulls do, so they fail too.
    let grants = kms("ListGrants", serde_json::json!({"KeyId": id}));
    let grant = grants["Grants"][0]["GrantId"].as_str().unwrap().to_string();
    kms(
        "RevokeGrant",
        serde_json::json!({"KeyId": id, "GrantId": grant}),
    );
    let v = scan("FAILED");
    let why = v["imageScanStatus"]["description"].as_str().unwrap();
    assert!(why.contains("grant") && why.contains("kscan"), "{v}");
}
