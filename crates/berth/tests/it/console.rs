//! The console (issue 23) in a real browser: Debian's chromium driven by
//! Playwright for Python (`console_browser.py`), against a berth of its
//! own. Phase one signs in (a wrong secret first), creates a repository
//! through the form (a bad name first), checks that a form without the
//! session's CSRF token is refused, and signs out; then skopeo pushes an
//! image under two tags; phase two finds it on the repository's page with
//! its tags and size, and a read-only user sees no create button and has a
//! hand-crafted create refused. Screenshots go to the test's scratch
//! directory (`BERTH_CONSOLE_SHOTS` keeps them elsewhere).

use crate::common::*;
use berth_testkit::{image, tools};
use serde_json::json;
use std::process::Command;

const REPO: &str = "team/web";

/// A synthetic record (not a real advisory) naming Debian 12's bash.
const SYNTHETIC_BASH: &str = r#"{
  "schema_version": "1.6.0",
  "id": "BERTH-SYNTHETIC-0101",
  "modified": "2026-01-01T00:00:00Z",
  "summary": "SYNTHETIC bash record, for berth's console test",
  "affected": [{
    "package": {"ecosystem": "Debian:12", "name": "bash"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.2.15-2+b3"}]}]
  }],
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
}"#;

/// Debian 12 with bash 5.2.15-2+b2 installed (one layer).
fn scannable_image() -> image::Image {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in [
        (
            "etc/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        ),
        (
            "var/lib/dpkg/status",
            "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n",
        ),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data.as_bytes()).unwrap();
    }
    image::image_of(79, vec![image::stored_layer(&b.into_inner().unwrap())])
}

fn browser(s: &TestServer, phase: &str, env: &[(&str, String)]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/console_browser.py");
    let mut c = Command::new("python3");
    c.arg(script).arg(phase).env("BERTH_URL", s.url());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("running python3");
    assert!(
        out.status.success(),
        "{phase}:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}

#[test]
fn the_console_signs_in_creates_shows_images_and_refuses_what_policies_deny() {
    if !tools::require("chromium")
        || !tools::require("skopeo")
        || !tools::require("aws")
        || !tools::require_python_module("playwright")
    {
        return;
    }
    // Usage sampled every second, so the pages have figures at once.
    let s = start_with(&["--usage-sample-interval", "1s"]);
    let admin = s.aws_env("us-east-1");
    json_of(
        &["iam", "create-user"],
        aws_with(&admin, &["iam", "create-user", "--user-name", "reader"]),
    );
    json_of(
        &["iam", "attach-user-policy"],
        aws_with(
            &admin,
            &[
                "iam",
                "attach-user-policy",
                "--user-name",
                "reader",
                "--policy-arn",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
            ],
        ),
    );
    let key = json_of(
        &["iam", "create-access-key"],
        aws_with(
            &admin,
            &["iam", "create-access-key", "--user-name", "reader"],
        ),
    );
    let shots = std::env::var("BERTH_CONSOLE_SHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| s.scratch().join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    let mut env = vec![
        ("ROOT_ID", berth_testkit::ROOT_ACCESS_KEY_ID.to_string()),
        (
            "ROOT_SECRET",
            berth_testkit::ROOT_SECRET_ACCESS_KEY.to_string(),
        ),
        (
            "RO_ID",
            key["AccessKey"]["AccessKeyId"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
        (
            "RO_SECRET",
            key["AccessKey"]["SecretAccessKey"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
        ("SHOTS", shots.display().to_string()),
        ("REPO", REPO.to_string()),
    ];
    browser(&s, "create", &env);
    let described = s
        .ecr(
            "us-east-1",
            "DescribeRepositories",
            json!({"repositoryNames": [REPO]}),
        )
        .unwrap();
    assert_eq!(
        described["repositories"][0]["imageScanningConfiguration"]["scanOnPush"], true,
        "the form's scan-on-push box"
    );
    assert!(
        s.ecr(
            "us-east-1",
            "DescribeRepositories",
            json!({"repositoryNames": ["forged"]}),
        )
        .is_err(),
        "the CSRF-less form created nothing"
    );

    // skopeo pushes an image under two tags.
    let img = image::oci_image(77, 2, 2, 30_000);
    let layout = s.scratch().join("layout");
    image::write_oci_layout(&layout, &img, "v1");
    for tag in ["v1", "latest"] {
        tools::run(
            s.command("skopeo")
                .args(["copy", "--dest-tls-verify=false"])
                .arg(format!("oci:{}:v1", layout.display()))
                .arg(format!("docker://{}/{REPO}:{tag}", s.host())),
        );
    }
    let images = s
        .ecr(
            "us-east-1",
            "DescribeImages",
            json!({"repositoryName": REPO}),
        )
        .unwrap();
    let size = images["imageDetails"][0]["imageSizeInBytes"]
        .as_u64()
        .unwrap();
    // A newer image, v2: the lifecycle preview keeps it and expires the
    // first.
    let newer = image::oci_image(78, 1, 1, 1_000);
    Api::new(&s).push_image(REPO, &newer, "v2");
    // An image with a Debian package the vulnerability database names,
    // scanned on push (the form's box).
    let records = s.scratch().join("osv");
    std::fs::create_dir_all(&records).unwrap();
    std::fs::write(records.join("BERTH-SYNTHETIC-0101.json"), SYNTHETIC_BASH).unwrap();
    let imported = Command::new(berth_bin())
        .envs(s.aws_env("us-east-1"))
        .args([
            "vulndb",
            "import",
            records.to_str().unwrap(),
            "--endpoint",
            &s.url(),
        ])
        .output()
        .unwrap();
    assert!(imported.status.success(), "{imported:?}");
    let scannable = scannable_image();
    Api::new(&s).push_image(REPO, &scannable, "scanme");
    let scanned = image::sha256(&scannable.manifest);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let f = s.ecr(
            "us-east-1",
            "DescribeImageScanFindings",
            json!({"repositoryName": REPO, "imageId": {"imageDigest": scanned}}),
        );
        if f.as_ref()
            .is_ok_and(|f| f["imageScanStatus"]["status"] == "COMPLETE")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{f:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let usage = usage_of_repo(&s, 3);
    env.push(("IMAGES", "3".to_string()));
    env.push(("STORED", usage["storedBytes"].to_string()));
    env.push(("LOGICAL", usage["logicalBytes"].to_string()));
    env.push(("SCANNED_DIGEST", scanned));
    env.push(("TAGS", "v1,latest".to_string()));
    env.push(("SIZE", size.to_string()));
    env.push(("OLD_DIGEST", image::sha256(&img.manifest)));
    env.push(("NEW_DIGEST", image::sha256(&newer.manifest)));
    env.push(("LAYERS", img.layers.len().to_string()));
    browser(&s, "browse", &env);
    assert!(
        s.ecr(
            "us-east-1",
            "DescribeRepositories",
            json!({"repositoryNames": ["reader-made"]}),
        )
        .is_err(),
        "the read-only user's hand-made form created nothing"
    );
    let setting = s
        .ecr(
            "us-east-1",
            "GetAccountSetting",
            json!({"name": "BLOB_MOUNTING"}),
        )
        .unwrap();
    assert_eq!(setting["value"], "DISABLED", "the settings form");
    let repo = s
        .ecr(
            "us-east-1",
            "DescribeRepositories",
            json!({"repositoryNames": [REPO]}),
        )
        .unwrap();
    assert_eq!(
        repo["repositories"][0]["imageTagMutabilityExclusionFilters"],
        json!([{"filterType": "WILDCARD", "filter": "latest"}, {"filterType": "WILDCARD", "filter": "dev-*"}]),
        "the repository's settings form"
    );
    let scanning = s
        .ecr("us-east-1", "GetRegistryScanningConfiguration", json!({}))
        .unwrap();
    assert_eq!(
        scanning["scanningConfiguration"]["rules"][0]["repositoryFilters"][0]["filter"],
        "team/*"
    );
    for name in [
        "sign-in",
        "empty-repository",
        "repository",
        "image",
        "lifecycle-preview",
        "policy-invalid",
        "findings",
        "iam",
        "registry",
        "repositories",
        "usage",
    ] {
        assert!(shots.join(format!("{name}.png")).is_file(), "{name}.png");
    }
}

/// REPO's line of `berth admin usage --json --repositories --sample-now`
/// once a sample has counted `images` images in it; checks the registry's line, the
/// table and `/metrics` on the way.
fn usage_of_repo(s: &TestServer, images: u64) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let usage = loop {
        let out = Command::new(berth_bin())
            .envs(s.aws_env("us-east-1"))
            .args([
                "admin",
                "usage",
                "--json",
                "--repositories",
                "--account",
                "000000000000",
                "--sample-now",
            ])
            .args(["--endpoint", &s.url()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let usage: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let repo = usage["registries"][0]["repositories"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["repositoryName"] == REPO).cloned());
        if let Some(repo) = repo.filter(|r| r["images"] == images) {
            assert_eq!(usage["pricePerGbMonth"], 0.1);
            let registry = &usage["registries"][0];
            assert_eq!(registry["accountId"], "000000000000");
            assert!(registry["storedBytes"].as_u64() >= repo["storedBytes"].as_u64());
            assert!(repo["logicalBytes"].as_u64() >= repo["storedBytes"].as_u64());
            assert!(repo["storedBytes"].as_u64() > Some(30_000));
            break repo;
        }
        assert!(std::time::Instant::now() < deadline, "{usage}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let table = Command::new(berth_bin())
        .envs(s.aws_env("us-east-1"))
        .args(["admin", "usage", "--repositories", "--endpoint", &s.url()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("000000000000 us-east-1") && text.contains(REPO),
        "{text}"
    );
    let metrics = reqwest::blocking::get(format!("{}/metrics", s.url()))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics
            .contains(r#"berth_usage_stored_bytes{account_id="000000000000",region="us-east-1"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("berth_usage_estimated_cost_dollars"));
    usage
}

/// `berth admin usage --json --repositories ARGS` signed with a key:
/// whether it succeeded, and what it printed.
fn admin_usage(s: &TestServer, id: &str, secret: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(berth_bin())
        .env("AWS_ACCESS_KEY_ID", id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_REGION", "us-east-1")
        .args([
            "admin",
            "usage",
            "--json",
            "--repositories",
            "--endpoint",
            &s.url(),
        ])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The session cookie of `key`'s user, signed in as a browser is (the
/// sign-in form's token first), and that session's CSRF token.
fn console_session(s: &TestServer, key: (&str, &str)) -> (String, String) {
    console_session_with(s, key, None)
}

/// As `console_session`, with temporary credentials' session token.
fn console_session_with(
    s: &TestServer,
    key: (&str, &str),
    session_token: Option<&str>,
) -> (String, String) {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = |r: &reqwest::blocking::Response, name: &str| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next()?.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| panic!("no {name} cookie"))
    };
    let form = client.get(s.url() + "/console/sign-in").send().unwrap();
    let token = cookie(&form, "berth_sign_in");
    let signed = client
        .post(s.url() + "/console/sign-in")
        .header("cookie", format!("berth_sign_in={token}"))
        .form(&[
            ("csrf", token.as_str()),
            ("access_key_id", key.0),
            ("secret_access_key", key.1),
            ("session_token", session_token.unwrap_or_default()),
        ])
        .send()
        .unwrap();
    assert_eq!(signed.status(), 303);
    let session = cookie(&signed, "berth_session");
    let page = client
        .get(s.url() + "/console/repositories")
        .header("cookie", format!("berth_session={session}"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form with a CSRF token")
        .to_string();
    (session, csrf)
}

/// Every console route ([`berth_server::console::ROUTES`]) answers no one
/// without a session (to the sign-in page), and another account's admin,
/// signed in, sees and changes nothing of this account through any of
/// them: its pages address its own registry, whatever the path names.
#[test]
fn every_console_route_needs_a_session_and_stays_in_the_users_account() {
    let s = start_with(&["--usage-sample-interval", "1s"]);
    let img = image::oci_image(5, 1, 1, 256);
    Api::new(&s).push_image("iso/app", &img, "v1");
    let digest = image::sha256(&img.manifest);
    // A usage sample that counted A's image, so the usage page and the
    // repository list have A's figures to leak.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !admin_usage(
        &s,
        berth_testkit::ROOT_ACCESS_KEY_ID,
        berth_testkit::ROOT_SECRET_ACCESS_KEY,
        &[],
    )
    .1
    .contains("iso/app")
    {
        assert!(std::time::Instant::now() < deadline, "no usage sample");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Named by no URL below: only a page that shows A's image holds it.
    let canary = img.layers[0].digest.clone();
    let b = account_with_key(&s, "111111111111");
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut walked = 0;
    for route in berth_server::console::ROUTES {
        let path = route.path.replace("{*name}", "iso/app");
        let url = format!("{}{path}?digest={digest}", s.url());
        for method in route.methods {
            let method: reqwest::Method = method.parse().unwrap();
            let fields = |csrf: &str| {
                vec![
                    ("csrf", csrf.to_string()),
                    ("digest", digest.clone()),
                    ("name", "iso/app".to_string()),
                    ("mutability", "IMMUTABLE".to_string()),
                    ("scan_on_push", "on".to_string()),
                    ("action", "save".to_string()),
                    ("region", "us-east-1".to_string()),
                    ("op", "create-key".to_string()),
                    ("user", "admin".to_string()),
                    ("key", berth_testkit::ROOT_ACCESS_KEY_ID.to_string()),
                    ("status", "Inactive".to_string()),
                    (
                        "policy",
                        json!({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]}).to_string(),
                    ),
                ]
            };
            if route.signed_in {
                let r = client
                    .request(method.clone(), &url)
                    .form(&fields("x"))
                    .send()
                    .unwrap();
                assert_eq!(r.status(), 303, "{method} {path} without a session");
                assert_eq!(
                    r.headers()["location"],
                    "/console/sign-in",
                    "{method} {path}"
                );
            }
            let (session, csrf) = console_session(&s, (b.0.as_str(), b.1.as_str()));
            let r = client
                .request(method.clone(), &url)
                .header("cookie", format!("berth_session={session}"))
                .form(&fields(&csrf))
                .send()
                .unwrap();
            let body = r.text().unwrap();
            assert!(
                !body.contains(&canary),
                "{method} {path}: account B was shown account A's image"
            );
            if path == "/console/repositories" || path == "/console/usage" {
                assert!(
                    !body.contains("iso/app"),
                    "{path}: A's repository listed to B"
                );
            }
            walked += 1;
        }
    }
    assert!(walked >= 20, "{walked} route methods walked");
    // B's admin reads its own account's usage, not A's or everyone's.
    let (ok, own) = admin_usage(&s, &b.0, &b.1, &["--account", "111111111111"]);
    assert!(ok && !own.contains("iso/app"), "{own}");
    // Sampling measures every account: the default account's admin only.
    for args in [
        &["--account", "000000000000"][..],
        &[],
        &["--account", "111111111111", "--sample-now"],
    ] {
        let (ok, refused) = admin_usage(&s, &b.0, &b.1, args);
        assert!(
            !ok && refused.contains("not authorized"),
            "{args:?}: {refused}"
        );
    }
    // Nothing of A's changed.
    let repo = s
        .ecr(
            "us-east-1",
            "DescribeRepositories",
            json!({"repositoryNames": ["iso/app"]}),
        )
        .unwrap();
    assert_eq!(repo["repositories"][0]["imageTagMutability"], "MUTABLE");
    assert_eq!(
        repo["repositories"][0]["imageScanningConfiguration"]["scanOnPush"],
        false
    );
    for op in ["GetLifecyclePolicy", "GetRepositoryPolicy"] {
        assert!(
            s.ecr("us-east-1", op, json!({"repositoryName": "iso/app"}))
                .is_err(),
            "{op}: A's repository got a policy"
        );
    }
    let images = s
        .ecr(
            "us-east-1",
            "DescribeImages",
            json!({"repositoryName": "iso/app"}),
        )
        .unwrap();
    assert_eq!(images["imageDetails"].as_array().unwrap().len(), 1);
}

/// Sign-in through an assumed role: the role session's credentials and
/// token open a console session that acts as the role session (its
/// read-only policy: the list shows, a create is refused naming the
/// assumed role), a wrong token opens nothing, and deleting the role
/// ends the session.
#[test]
fn the_console_signs_in_through_an_assumed_role_and_acts_as_its_session() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    Api::new(&s).push_image("roles/app", &image::oci_image(9, 1, 1, 128), "v1");
    let root = s.aws_env("us-east-1");
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}]});
    let read_only = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
    json_of(
        &["iam", "create-role"],
        aws_with(
            &root,
            &[
                "iam",
                "create-role",
                "--role-name",
                "viewer",
                "--assume-role-policy-document",
                &trust.to_string(),
            ],
        ),
    );
    let attach = [
        "iam",
        "attach-role-policy",
        "--role-name",
        "viewer",
        "--policy-arn",
        read_only,
    ];
    assert!(aws_with(&root, &attach).status.success());
    let creds = json_of(
        &["sts", "assume-role"],
        aws_with(
            &root,
            &[
                "sts",
                "assume-role",
                "--role-arn",
                "arn:aws:iam::000000000000:role/viewer",
                "--role-session-name",
                "alice",
            ],
        ),
    )["Credentials"]
        .clone();
    let (id, secret, token) = (
        creds["AccessKeyId"].as_str().unwrap(),
        creds["SecretAccessKey"].as_str().unwrap(),
        creds["SessionToken"].as_str().unwrap(),
    );
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Without the token, or with another, the key signs nobody in.
    for wrong in [None, Some("not-a-token")] {
        let form = client.get(s.url() + "/console/sign-in").send().unwrap();
        let sign_in_token = form
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| {
                v.to_str()
                    .ok()?
                    .split(';')
                    .next()?
                    .strip_prefix("berth_sign_in=")
            })
            .next()
            .unwrap()
            .to_string();
        let r = client
            .post(s.url() + "/console/sign-in")
            .header("cookie", format!("berth_sign_in={sign_in_token}"))
            .form(&[
                ("csrf", sign_in_token.as_str()),
                ("access_key_id", id),
                ("secret_access_key", secret),
                ("session_token", wrong.unwrap_or_default()),
            ])
            .send()
            .unwrap();
        assert_eq!(r.status(), 401, "{wrong:?}");
    }
    let (session, csrf) = console_session_with(&s, (id, secret), Some(token));
    let page = |path: &str| {
        client
            .get(s.url() + path)
            .header("cookie", format!("berth_session={session}"))
            .send()
            .unwrap()
    };
    let list = page("/console/repositories").text().unwrap();
    assert!(list.contains("roles/app"), "{list}");
    assert!(
        list.contains("viewer/alice"),
        "the header names the role session"
    );
    assert!(
        !list.contains("Create repository"),
        "read-only: no create button"
    );
    let refused = client
        .post(s.url() + "/console/repositories/new")
        .header("cookie", format!("berth_session={session}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "made-by-role"),
            ("mutability", "MUTABLE"),
            ("encryption", "AES256"),
        ])
        .send()
        .unwrap();
    let text = refused.text().unwrap();
    assert!(
        text.contains("assumed-role/viewer/alice") && text.contains("not authorized"),
        "{text}"
    );
    // The role goes: its sessions, the console's too, end.
    let detach = [
        "iam",
        "detach-role-policy",
        "--role-name",
        "viewer",
        "--policy-arn",
        read_only,
    ];
    assert!(aws_with(&root, &detach).status.success());
    assert!(
        aws_with(&root, &["iam", "delete-role", "--role-name", "viewer"])
            .status
            .success()
    );
    let gone = page("/console/repositories");
    assert_eq!(gone.status(), 303);
    assert_eq!(gone.headers()["location"], "/console/sign-in");
}
