//! Lifecycle policies end to end with the real `aws` CLI: the two policies
//! ECR's guides use as examples, preview first, then the run (on demand
//! with `berth admin lifecycle run`, and scheduled with
//! `--lifecycle-interval`), and the documented errors by exception name.
//!
//! Time: berth has no switch that moves its clock (design.md, "Time in
//! tests"). "Older than 30 days" is reached by seeding the images' push
//! times instead: the server is stopped, the test rewrites `pushed_at` in
//! its metadata database, and the server starts again on the same data
//! dir (nothing opens the database of a running server). The registry's
//! own test (`lifecycle_expires_untagged_images_older_than_30_days` in
//! `crates/registry/src/tests.rs`) moves an injected clock instead.
//! Under `CI=true` a missing `aws` fails the test.

use crate::common::*;
use berth_testkit::ROOT_ACCESS_KEY_ID;
use serde_json::Value;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;

const KEEP_LAST_10: &str = r#"{"rules":[{"rulePriority":1,"description":"Keep only the last 10 images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}"#;

const UNTAGGED_30_DAYS: &str = r#"{"rules":[{"rulePriority":1,"description":"Expire untagged images older than 30 days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}}]}"#;

fn aws(s: &TestServer, args: &[&str]) -> Output {
    Command::new("aws")
        .args(args)
        .envs(s.aws_env("us-east-1"))
        .output()
        .expect("running aws")
}

fn aws_ok(s: &TestServer, args: &[&str]) -> Value {
    let out = aws(s, args);
    assert!(
        out.status.success(),
        "aws {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn aws_err(s: &TestServer, args: &[&str]) -> String {
    let out = aws(s, args);
    assert!(!out.status.success(), "aws {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Pushes a small image of its own; by tag, or untagged (by digest). Its digest.
fn push(api: &Api, repo: &str, seed: u64, tag: Option<&str>) -> String {
    let img = image::oci_image(seed, 1, 1, 64);
    match tag {
        Some(t) => api.push_image(repo, &img, t),
        None => {
            for l in &img.layers {
                api.push_blob(repo, &l.bytes);
            }
            api.push_blob(repo, &img.config);
            let r = api.put_manifest(
                repo,
                &img.manifest_digest,
                image::OCI_MANIFEST,
                &img.manifest,
            );
            assert_eq!(r.status(), 201, "{}", r.text().unwrap());
        }
    }
    img.manifest_digest
}

fn digests(images: &Value) -> Vec<String> {
    let mut d: Vec<String> = images["imageDetails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["imageDigest"].as_str().unwrap().to_string())
        .collect();
    d.sort();
    d
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// `berth admin --endpoint URL lifecycle run` as the default account's admin.
fn lifecycle_run(s: &TestServer) -> String {
    let out = Command::new(berth_bin())
        .envs(s.aws_env("us-east-1"))
        .args(["admin", "--endpoint", &s.url(), "lifecycle", "run"])
        .output()
        .expect("running berth admin");
    assert!(
        out.status.success(),
        "berth admin lifecycle run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Stops the server, sets the push time of `digests` to `pushed_at` (Unix
/// ms) in its metadata database, and starts it again on the same data dir.
fn seed_push_times(s: &mut TestServer, digests: &[&str], pushed_at: i64) {
    let status = s.stop();
    assert!(status.success(), "berth exited with {status}");
    let db = s.data_dir.join("metadata.db");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use sqlx::sqlite::SqliteConnectOptions;
            let pool = sqlx::SqlitePool::connect_with(SqliteConnectOptions::new().filename(&db))
                .await
                .unwrap();
            for d in digests {
                let done = sqlx::query("UPDATE manifests SET pushed_at = ? WHERE digest = ?")
                    .bind(pushed_at)
                    .bind(d)
                    .execute(&pool)
                    .await
                    .unwrap();
                assert_eq!(done.rows_affected(), 1, "{d} is stored");
            }
            pool.close().await;
        });
    s.restart();
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn keep_the_last_10_images_previewed_then_run_on_demand() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let api = Api::new(&s);
    let repo = "team/keep10";
    let mut pushed = Vec::new();
    for i in 0..12u64 {
        pushed.push(push(&api, repo, 100 + i, Some(&format!("build-{i}"))));
        // Push times are kept to the millisecond; keep them apart.
        std::thread::sleep(Duration::from_millis(5));
    }
    let put = aws_ok(
        &s,
        &[
            "ecr",
            "put-lifecycle-policy",
            "--repository-name",
            repo,
            "--lifecycle-policy-text",
            KEEP_LAST_10,
        ],
    );
    assert_eq!(put["lifecyclePolicyText"], KEEP_LAST_10);
    assert_eq!(put["registryId"], "000000000000");
    let got = aws_ok(
        &s,
        &["ecr", "get-lifecycle-policy", "--repository-name", repo],
    );
    assert_eq!(got["lifecyclePolicyText"], KEEP_LAST_10);
    // Never evaluated yet: ECR answers the epoch (the CLI's documented
    // delete-lifecycle-policy example shows `"lastEvaluatedAt": 0.0`).
    assert_eq!(got["lastEvaluatedAt"], 0.0, "never evaluated yet: {got}");

    // The preview, with the stored policy; the CLI's own waiter polls it.
    let started = aws_ok(
        &s,
        &[
            "ecr",
            "start-lifecycle-policy-preview",
            "--repository-name",
            repo,
        ],
    );
    assert_eq!(started["status"], "IN_PROGRESS");
    assert_eq!(started["lifecyclePolicyText"], KEEP_LAST_10);
    aws_ok(
        &s,
        &[
            "ecr",
            "wait",
            "lifecycle-policy-preview-complete",
            "--repository-name",
            repo,
        ],
    );
    let preview = aws_ok(
        &s,
        &[
            "ecr",
            "get-lifecycle-policy-preview",
            "--repository-name",
            repo,
        ],
    );
    assert_eq!(preview["status"], "COMPLETE");
    assert_eq!(preview["summary"]["expiringImageTotalCount"], 2);
    let results = preview["previewResults"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{preview}");
    for (r, (digest, tag)) in results
        .iter()
        .zip([(&pushed[0], "build-0"), (&pushed[1], "build-1")])
    {
        assert_eq!(r["imageDigest"], digest.as_str());
        assert_eq!(r["imageTags"][0], tag);
        assert_eq!(r["action"]["type"], "EXPIRE");
        assert_eq!(r["appliedRulePriority"], 1);
        assert!(r["imagePushedAt"].is_number() || r["imagePushedAt"].is_string());
    }
    // Paged by the CLI one result at a time: the same two.
    let paged = aws_ok(
        &s,
        &[
            "ecr",
            "get-lifecycle-policy-preview",
            "--repository-name",
            repo,
            "--page-size",
            "1",
        ],
    );
    assert_eq!(paged["previewResults"].as_array().unwrap().len(), 2);
    // A preview deletes nothing.
    let before = aws_ok(&s, &["ecr", "describe-images", "--repository-name", repo]);
    assert_eq!(digests(&before).len(), 12);

    let said = lifecycle_run(&s);
    assert!(said.contains("expired 2 images"), "{said}");
    let after = aws_ok(&s, &["ecr", "describe-images", "--repository-name", repo]);
    assert_eq!(digests(&after), sorted(pushed[2..].to_vec()));
    let got = aws_ok(
        &s,
        &["ecr", "get-lifecycle-policy", "--repository-name", repo],
    );
    assert!(
        got["lastEvaluatedAt"].is_number() || got["lastEvaluatedAt"].is_string(),
        "{got}"
    );
    // Each expiry is logged with the repository, digest, tags and rule.
    let log = s.log();
    for (digest, tag) in [(&pushed[0], "build-0"), (&pushed[1], "build-1")] {
        let line = log
            .lines()
            .find(|l| {
                l.contains("lifecycle policy expired an image") && l.contains(digest.as_str())
            })
            .unwrap_or_else(|| panic!("no expiry logged for {digest}:\n{log}"));
        assert!(
            line.contains(repo) && line.contains(tag) && line.contains("rule_priority=1"),
            "{line}"
        );
    }
    // The pulls of what is left still work; a second run expires nothing.
    assert_eq!(
        api.get(&format!("/v2/{repo}/manifests/build-11")).status(),
        200
    );
    assert_eq!(
        api.get(&format!("/v2/{repo}/manifests/build-0")).status(),
        404
    );
    assert!(lifecycle_run(&s).contains("expired 0 images"));
}

#[test]
fn expire_untagged_images_older_than_30_days_previewed_then_scheduled() {
    if !tools::require("aws") {
        return;
    }
    let mut s = start_with(&["--lifecycle-interval", "1s"]);
    let api = Api::new(&s);
    let repo = "team/untagged";
    let old_untagged = [push(&api, repo, 1, None), push(&api, repo, 2, None)];
    let old_tagged = push(&api, repo, 3, Some("stable"));
    let young_untagged = push(&api, repo, 4, None);
    let forty_days_ago = now_ms() - 40 * DAY_MS;
    seed_push_times(
        &mut s,
        &[&old_untagged[0], &old_untagged[1], &old_tagged],
        forty_days_ago,
    );

    // Preview the text before it is the repository's policy: with no
    // policy stored, the scheduled runs leave the repository alone.
    let started = aws_ok(
        &s,
        &[
            "ecr",
            "start-lifecycle-policy-preview",
            "--repository-name",
            repo,
            "--lifecycle-policy-text",
            UNTAGGED_30_DAYS,
        ],
    );
    assert_eq!(started["status"], "IN_PROGRESS");
    let preview = aws_ok(
        &s,
        &[
            "ecr",
            "get-lifecycle-policy-preview",
            "--repository-name",
            repo,
        ],
    );
    assert_eq!(preview["status"], "COMPLETE");
    assert_eq!(preview["lifecyclePolicyText"], UNTAGGED_30_DAYS);
    let mut previewed: Vec<String> = preview["previewResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r.get("imageTags").is_none(), "untagged: {r}");
            let pushed_at = r["imagePushedAt"].as_f64().unwrap();
            assert!(
                (pushed_at - forty_days_ago as f64 / 1000.0).abs() < 1.0,
                "{r}"
            );
            r["imageDigest"].as_str().unwrap().to_string()
        })
        .collect();
    previewed.sort();
    assert_eq!(previewed, sorted(old_untagged.to_vec()));
    // TAGGED filters the results out; the summary still counts them.
    let tagged = aws_ok(
        &s,
        &[
            "ecr",
            "get-lifecycle-policy-preview",
            "--repository-name",
            repo,
            "--filter",
            "tagStatus=TAGGED",
        ],
    );
    assert_eq!(tagged["previewResults"].as_array().unwrap().len(), 0);
    assert_eq!(tagged["summary"]["expiringImageTotalCount"], 2);
    assert_eq!(
        digests(&aws_ok(
            &s,
            &["ecr", "describe-images", "--repository-name", repo]
        ))
        .len(),
        4
    );

    // Now as the policy: the next scheduled run expires what was previewed.
    aws_ok(
        &s,
        &[
            "ecr",
            "put-lifecycle-policy",
            "--repository-name",
            repo,
            "--lifecycle-policy-text",
            UNTAGGED_30_DAYS,
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let left = loop {
        let left = digests(&aws_ok(
            &s,
            &["ecr", "describe-images", "--repository-name", repo],
        ));
        if left.len() == 2 || Instant::now() > deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        left,
        sorted(vec![old_tagged.clone(), young_untagged.clone()])
    );
    let got = aws_ok(
        &s,
        &["ecr", "get-lifecycle-policy", "--repository-name", repo],
    );
    assert!(got.get("lastEvaluatedAt").is_some(), "{got}");
    let log = s.log();
    for d in &old_untagged {
        assert!(
            log.lines()
                .any(|l| l.contains("lifecycle policy expired an image") && l.contains(d.as_str())),
            "{d} expiry not logged:\n{log}"
        );
    }
    // The deleted policy comes back with when it last ran.
    let deleted = aws_ok(
        &s,
        &["ecr", "delete-lifecycle-policy", "--repository-name", repo],
    );
    assert_eq!(deleted["lifecyclePolicyText"], UNTAGGED_30_DAYS);
    assert!(deleted.get("lastEvaluatedAt").is_some(), "{deleted}");
}

#[test]
fn lifecycle_errors_carry_ecr_exception_names() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    aws_ok(
        &s,
        &["ecr", "create-repository", "--repository-name", "plain"],
    );
    let err = aws_err(
        &s,
        &["ecr", "get-lifecycle-policy", "--repository-name", "plain"],
    );
    assert!(err.contains("LifecyclePolicyNotFoundException"), "{err}");
    assert!(err.contains("Lifecycle policy does not exist for the repository with name 'plain' in the registry with id '000000000000'"), "{err}");
    let err = aws_err(
        &s,
        &[
            "ecr",
            "delete-lifecycle-policy",
            "--repository-name",
            "plain",
        ],
    );
    assert!(err.contains("LifecyclePolicyNotFoundException"), "{err}");
    let err = aws_err(
        &s,
        &[
            "ecr",
            "start-lifecycle-policy-preview",
            "--repository-name",
            "plain",
        ],
    );
    assert!(err.contains("LifecyclePolicyNotFoundException"), "{err}");
    let err = aws_err(
        &s,
        &[
            "ecr",
            "get-lifecycle-policy-preview",
            "--repository-name",
            "plain",
        ],
    );
    assert!(
        err.contains("LifecyclePolicyPreviewNotFoundException"),
        "{err}"
    );
    let err = aws_err(
        &s,
        &[
            "ecr",
            "get-lifecycle-policy",
            "--repository-name",
            "missing",
        ],
    );
    assert!(err.contains("RepositoryNotFoundException"), "{err}");
    let err = aws_err(
        &s,
        &[
            "ecr",
            "put-lifecycle-policy",
            "--repository-name",
            "missing",
            "--lifecycle-policy-text",
            KEEP_LAST_10,
        ],
    );
    assert!(err.contains("RepositoryNotFoundException"), "{err}");

    // An invalid policy is refused naming the rule and the field.
    let no_unit = UNTAGGED_30_DAYS.replace("\"countUnit\":\"days\",", "");
    let err = aws_err(
        &s,
        &[
            "ecr",
            "put-lifecycle-policy",
            "--repository-name",
            "plain",
            "--lifecycle-policy-text",
            &no_unit,
        ],
    );
    assert!(err.contains("InvalidParameterException"), "{err}");
    assert!(err.contains("Lifecycle policy validation failure"), "{err}");
    assert!(
        err.contains("rulePriority 1: 'selection.countUnit' is required"),
        "{err}"
    );
    let any_first = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}},{"rulePriority":2,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#;
    let err = aws_err(
        &s,
        &[
            "ecr",
            "put-lifecycle-policy",
            "--repository-name",
            "plain",
            "--lifecycle-policy-text",
            any_first,
        ],
    );
    assert!(
        err.contains("tagStatus' any must have the highest rulePriority"),
        "{err}"
    );
    let err = aws_err(
        &s,
        &["ecr", "get-lifecycle-policy", "--repository-name", "plain"],
    );
    assert!(
        err.contains("LifecyclePolicyNotFoundException"),
        "nothing was stored: {err}"
    );
    // Deleting a policy never evaluated answers `lastEvaluatedAt` 0, as
    // the CLI's documented delete-lifecycle-policy example shows.
    aws_ok(
        &s,
        &[
            "ecr",
            "put-lifecycle-policy",
            "--repository-name",
            "plain",
            "--lifecycle-policy-text",
            KEEP_LAST_10,
        ],
    );
    let deleted = aws_ok(
        &s,
        &[
            "ecr",
            "delete-lifecycle-policy",
            "--repository-name",
            "plain",
        ],
    );
    assert_eq!(deleted["lastEvaluatedAt"], 0.0, "{deleted}");
    // The admin API's lifecycle run is signed like the rest of it.
    let (status, _) = berth_testkit::admin::call(
        &s.raw_client(),
        &s.url(),
        (ROOT_ACCESS_KEY_ID, "wrong-secret"),
        "POST",
        "/berth/admin/lifecycle",
        None,
    );
    assert_eq!(status, 403);
}
