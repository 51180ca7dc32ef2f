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
    let s = start();
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
    for name in [
        "sign-in",
        "empty-repository",
        "repository",
        "image",
        "lifecycle-preview",
        "policy-invalid",
        "repositories",
    ] {
        assert!(shots.join(format!("{name}.png")).is_file(), "{name}.png");
    }
}
