//! Authorization as real clients meet it: every `/v2` route refuses a
//! caller whose only permission is logging in (the list comes from the
//! router's own table); a user with AWS's managed read-only policy pulls
//! with skopeo and docker but cannot push or delete; and account B pulls
//! from account A's repository with B's own token, through A's registry
//! host name, once A's repository policy and B's identity policy allow it.

use crate::common::*;
use serde_json::{json, Value};
use std::process::{Command, Output};

/// Must succeed; its JSON output (`null` when empty).
fn aws_ok(env: &[(&'static str, String)], args: &[&str]) -> Value {
    json_of(args, aws_with(env, args))
}

/// Creates IAM user `name` through `aws iam` as the account's admin (`env`)
/// and returns a new access key of it.
fn iam_user(env: &[(&'static str, String)], name: &str) -> (String, String) {
    aws_ok(env, &["iam", "create-user", "--user-name", name]);
    let k = aws_ok(env, &["iam", "create-access-key", "--user-name", name]);
    (
        k["AccessKey"]["AccessKeyId"].as_str().unwrap().to_string(),
        k["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

/// `aws iam put-user-policy` as the account admin `env`.
fn put_user_policy(env: &[(&'static str, String)], user: &str, name: &str, doc: &Value) {
    aws_ok(
        env,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            user,
            "--policy-name",
            name,
            "--policy-document",
            &doc.to_string(),
        ],
    );
}

/// An identity policy that allows logging in and nothing else.
fn login_only() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}]})
}

/// `aws ecr get-login-password` as the given key.
fn login_password(s: &TestServer, key: (&str, &str)) -> String {
    berth_testkit::ecr::login_password(&s.raw_client(), &s.url(), key)
}

fn push_as_admin(s: &TestServer, repo: &str, seed: u64) -> image::Image {
    let img = image::oci_image(seed, 2, 1, 2_000);
    let layout = s.scratch().join(format!("layout-{seed}"));
    image::write_oci_layout(&layout, &img, "v1");
    tools::run(
        Command::new("skopeo")
            .args([
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                &s.creds(),
            ])
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(format!("docker://{}/{repo}:v1", s.host())),
    );
    img
}

#[test]
fn every_v2_route_refuses_a_caller_who_may_only_log_in() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let admin = s.aws_env("us-east-1");
    aws_ok(
        &admin,
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            "locked/app",
        ],
    );
    let (id, secret) = iam_user(&admin, "login-only");
    put_user_policy(&admin, "login-only", "login", &login_only());
    let password = login_password(&s, (&id, &secret));
    let client = s.raw_client();
    let name = berth_oci::RepositoryName::parse("locked/app").unwrap();
    // Generated from the route table: a new route is covered here at once.
    let requests = berth_server::v2_access::protected_requests(&name);
    assert!(requests.len() >= 12, "{requests:?}");
    for (method, path, action) in requests {
        let r = client
            .request(method.parse().unwrap(), s.url() + &path)
            .basic_auth("AWS", Some(&password))
            .header("content-type", "application/octet-stream")
            .body(Vec::new())
            .send()
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path} was not refused");
        if method != "HEAD" {
            let body: Value = r.json().unwrap();
            assert_eq!(body["errors"][0]["code"], "DENIED", "{method} {path}");
            let msg = body["errors"][0]["message"].as_str().unwrap();
            assert!(
                msg.contains("arn:aws:iam::000000000000:user/login-only")
                    && msg.contains(action)
                    && msg.contains("repository/locked/app"),
                "{method} {path}: {msg}"
            );
        }
    }
    // The catalog is filtered rather than refused: it lists nothing.
    let catalog: Value = client
        .get(s.url() + "/v2/_catalog")
        .basic_auth("AWS", Some(&password))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(catalog["repositories"], json!([]));
}

#[test]
fn every_v2_route_refuses_a_role_session_that_may_only_log_in() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let admin = s.aws_env("us-east-1");
    aws_ok(
        &admin,
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            "locked/app",
        ],
    );
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/admin"}, "Action": "sts:AssumeRole"}]});
    aws_ok(
        &admin,
        &[
            "iam",
            "create-role",
            "--role-name",
            "login-only",
            "--assume-role-policy-document",
            &trust.to_string(),
        ],
    );
    aws_ok(
        &admin,
        &[
            "iam",
            "put-role-policy",
            "--role-name",
            "login-only",
            "--policy-name",
            "login",
            "--policy-document",
            &login_only().to_string(),
        ],
    );
    let creds = aws_ok(
        &admin,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::000000000000:role/login-only",
            "--role-session-name",
            "node-1",
        ],
    );
    let c = &creds["Credentials"];
    let password = berth_testkit::ecr::login_password_with_token(
        &s.raw_client(),
        &s.url(),
        (
            c["AccessKeyId"].as_str().unwrap(),
            c["SecretAccessKey"].as_str().unwrap(),
        ),
        c["SessionToken"].as_str(),
    );
    let client = s.raw_client();
    let name = berth_oci::RepositoryName::parse("locked/app").unwrap();
    // Generated from the route table: a new route is covered here at once.
    for (method, path, action) in berth_server::v2_access::protected_requests(&name) {
        let r = client
            .request(method.parse().unwrap(), s.url() + &path)
            .basic_auth("AWS", Some(&password))
            .header("content-type", "application/octet-stream")
            .body(Vec::new())
            .send()
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path} was not refused");
        if method != "HEAD" {
            let body: Value = r.json().unwrap();
            let msg = body["errors"][0]["message"].as_str().unwrap();
            assert!(
                msg.contains("arn:aws:sts::000000000000:assumed-role/login-only/node-1")
                    && msg.contains(action),
                "{method} {path}: {msg}"
            );
        }
    }
    // Allowed once the role allows, with the same token; refused again
    // once the role is gone (at once on this node).
    aws_ok(
        &admin,
        &[
            "iam",
            "attach-role-policy",
            "--role-name",
            "login-only",
            "--policy-arn",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess",
        ],
    );
    for (method, path, _) in berth_server::v2_access::protected_requests(&name) {
        let r = client
            .request(method.parse().unwrap(), s.url() + &path)
            .basic_auth("AWS", Some(&password))
            .header("content-type", "application/octet-stream")
            .body(Vec::new())
            .send()
            .unwrap();
        assert_ne!(r.status(), 403, "{method} {path} was refused once allowed");
    }
    for args in [
        &[
            "iam",
            "detach-role-policy",
            "--role-name",
            "login-only",
            "--policy-arn",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess",
        ][..],
        &[
            "iam",
            "delete-role-policy",
            "--role-name",
            "login-only",
            "--policy-name",
            "login",
        ][..],
        &["iam", "delete-role", "--role-name", "login-only"][..],
    ] {
        aws_ok(&admin, args);
    }
    let r = client
        .get(s.url() + "/v2/locked/app/tags/list")
        .basic_auth("AWS", Some(&password))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "a deleted role's token is no longer valid");
}

#[test]
fn a_read_only_user_pulls_with_skopeo_and_docker_but_cannot_push_or_delete() {
    if !tools::require("aws") || !tools::require("skopeo") || !tools::require("docker") {
        return;
    }
    let s = start();
    let admin = s.aws_env("us-east-1");
    aws_ok(
        &admin,
        &["ecr", "create-repository", "--repository-name", "ro/app"],
    );
    let img = push_as_admin(&s, "ro/app", 301);
    let (id, secret) = iam_user(&admin, "node");
    aws_ok(
        &admin,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "node",
            "--policy-arn",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        ],
    );
    // The CLI signs as the user: get-login-password needs the policy's
    // ecr:GetAuthorizationToken.
    let pw = aws_with(&env_for(&s, (&id, &secret)), &["ecr", "get-login-password"]);
    assert!(
        pw.status.success(),
        "{}",
        String::from_utf8_lossy(&pw.stderr)
    );
    let password = String::from_utf8(pw.stdout).unwrap().trim().to_string();
    let creds = format!("AWS:{password}");
    let remote = format!("docker://{}/ro/app:v1", s.host());

    // skopeo pulls, byte for byte.
    let back = s.scratch().join("back");
    tools::run(
        Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false", "--src-creds", &creds])
            .arg(&remote)
            .arg(format!("dir:{}", back.display())),
    );
    assert_eq!(
        std::fs::read(back.join("manifest.json")).unwrap(),
        img.manifest
    );

    // ...and cannot push or delete.
    let layout = s.scratch().join("other");
    image::write_oci_layout(&layout, &image::oci_image(302, 1, 1, 500), "v2");
    let push = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--dest-creds", &creds])
        .arg(format!("oci:{}:v2", layout.display()))
        .arg(format!("docker://{}/ro/app:v2", s.host()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&push.stderr);
    assert!(
        !push.status.success() && err.to_lowercase().contains("denied"),
        "{err}"
    );
    let delete = Command::new("skopeo")
        .args(["delete", "--tls-verify=false", "--creds", &creds, &remote])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&delete.stderr);
    assert!(
        !delete.status.success() && err.to_lowercase().contains("denied"),
        "{err}"
    );

    // docker: logs in with the user's password, pulls, cannot push.
    let config = s.scratch().join("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    let docker = |args: &[&str]| {
        let mut c = Command::new("docker");
        c.arg("--config").arg(&config).args(args);
        c
    };
    let mut login = docker(&["login", "--username", "AWS", "--password-stdin", &s.host()]);
    let login = with_stdin(&mut login, password.as_bytes());
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let image_ref = format!("{}/ro/app:v1", s.host());
    let _cleanup = DockerImage(image_ref.clone());
    tools::run(&mut docker(&["pull", &image_ref]));
    let retagged = format!("{}/ro/app:pushed-by-reader", s.host());
    let _cleanup2 = DockerImage(retagged.clone());
    tools::run(Command::new("docker").args(["tag", &image_ref, &retagged]));
    let push = docker(&["push", &retagged]).output().unwrap();
    let out =
        String::from_utf8_lossy(&push.stderr).into_owned() + &String::from_utf8_lossy(&push.stdout);
    assert!(
        !push.status.success() && out.to_lowercase().contains("denied"),
        "{out}"
    );
    // Nothing of the refused pushes landed.
    let tags: Value = s
        .client()
        .get(s.url() + "/v2/ro/app/tags/list")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(tags["tags"], json!(["v1"]));
}

#[test]
fn another_account_pulls_through_the_owners_host_once_both_sides_allow_it() {
    if !tools::require("aws") || !tools::require("skopeo") || !tools::require("docker") {
        return;
    }
    let owner_host = "000000000000.dkr.ecr.us-east-1.localhost";
    if !tools::resolve_to_loopback(owner_host) {
        return;
    }
    let s = start();
    let owner = s.aws_env("us-east-1");
    aws_ok(
        &owner,
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            "shared/app",
        ],
    );
    let img = push_as_admin(&s, "shared/app", 311);

    // Account B, with its admin and a user without policies.
    let (status, b) = s.admin(
        "POST",
        "/berth/admin/accounts",
        Some(json!({"accountId": "111111111111", "createAccessKey": true})),
    );
    assert!(status < 300, "{status} {b}");
    let b_admin = (
        b["accessKey"]["accessKeyId"].as_str().unwrap().to_string(),
        b["accessKey"]["secretAccessKey"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let b_env = env_for(&s, (&b_admin.0, &b_admin.1));
    let b_user = iam_user(&b_env, "builder");
    // The user may log in, and nothing else.
    put_user_policy(&b_env, "builder", "login", &login_only());
    let b_password = login_password(&s, (&b_admin.0, &b_admin.1));
    let b_creds = format!("AWS:{b_password}");
    let port = s.addr.port();
    let remote = format!("docker://{owner_host}:{port}/shared/app:v1");
    let pull = |creds: &str, into: &str| -> Output {
        Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false", "--src-creds", creds])
            .arg(&remote)
            .arg(format!("dir:{}", s.scratch().join(into).display()))
            .output()
            .unwrap()
    };

    // Without A's consent B's admin is refused, with AWS's cross-account wording.
    let refused = pull(&b_creds, "before");
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.to_lowercase().contains("denied"),
        "{err}"
    );
    let r = s
        .raw_client()
        .get(format!(
            "http://{owner_host}:{port}/v2/shared/app/manifests/v1"
        ))
        .basic_auth("AWS", Some(&b_password))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().unwrap();
    let msg = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("arn:aws:iam::111111111111:user/admin")
            && msg.contains("arn:aws:ecr:us-east-1:000000000000:repository/shared/app")
            && msg.contains("no resource-based policy allows"),
        "{msg}"
    );

    // A's repository policy lets account B pull.
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "account-b-pulls", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]}]});
    aws_ok(
        &owner,
        &[
            "ecr",
            "set-repository-policy",
            "--repository-name",
            "shared/app",
            "--policy-text",
            &policy.to_string(),
        ],
    );
    let pulled = pull(&b_creds, "after");
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    assert_eq!(
        std::fs::read(s.scratch().join("after/manifest.json")).unwrap(),
        img.manifest
    );

    // docker too, logged in to A's host with B's password.
    let config = s.scratch().join("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    let registry = format!("{owner_host}:{port}");
    let mut login = Command::new("docker");
    login.arg("--config").arg(&config).args([
        "login",
        "--username",
        "AWS",
        "--password-stdin",
        &registry,
    ]);
    let login = with_stdin(&mut login, b_password.as_bytes());
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let image_ref = format!("{registry}/shared/app:v1");
    let _cleanup = DockerImage(image_ref.clone());
    tools::run(
        Command::new("docker")
            .arg("--config")
            .arg(&config)
            .args(["pull", &image_ref]),
    );

    // The ECR API agrees, with registryId naming A.
    let b_ecr = |key: (&str, &str), op: &str, input: Value| {
        berth_testkit::ecr::call(&s.raw_client(), &s.url(), key, "us-east-1", op, &input)
    };
    let got = b_ecr(
        (&b_admin.0, &b_admin.1),
        "BatchGetImage",
        json!({"registryId": "000000000000", "repositoryName": "shared/app",
               "imageIds": [{"imageTag": "v1"}]}),
    )
    .unwrap();
    assert_eq!(got["images"][0]["imageId"]["imageTag"], "v1");
    // The policy grants pulls only: B cannot push or delete in A.
    let (_, err) = b_ecr(
        (&b_admin.0, &b_admin.1),
        "BatchDeleteImage",
        json!({"registryId": "000000000000", "repositoryName": "shared/app",
               "imageIds": [{"imageTag": "v1"}]}),
    )
    .unwrap_err();
    assert_eq!(err["__type"], "AccessDeniedException", "{err}");

    // Across accounts both sides must allow: B's user has no identity policy
    // granting the pull, although A's policy names its account.
    let user_password = login_password(&s, (&b_user.0, &b_user.1));
    let refused = pull(&format!("AWS:{user_password}"), "user");
    assert!(!refused.status.success());
    let r = s
        .raw_client()
        .get(format!(
            "http://{owner_host}:{port}/v2/shared/app/manifests/v1"
        ))
        .basic_auth("AWS", Some(&user_password))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no identity-based policy allows"),
        "{body}"
    );
}

fn with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Removes a docker image tag when the test ends.
struct DockerImage(String);

impl Drop for DockerImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

/// An `aws` call as `env` that must fail with `code`.
fn aws_refused(env: &[(&'static str, String)], args: &[&str], code: &str) {
    let out = aws_with(env, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(code),
        "aws {args:?}: {err}"
    );
}

#[test]
fn conditions_read_the_source_address_transport_and_tags() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let admin = s.aws_env("us-east-1");
    let (id, secret) = iam_user(&admin, "dev");
    let dev = env_for(&s, (&id, &secret));
    // dev may do anything to repositories tagged team=a, and create
    // repositories only when tagging them team=a (and with no other key).
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "TeamA", "Effect": "Allow", "Action": "ecr:*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "a"}}},
        {"Sid": "CreateTagged", "Effect": "Allow",
         "Action": ["ecr:CreateRepository", "ecr:TagResource"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/team": "a"},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}}]});
    put_user_policy(&admin, "dev", "team-a", &policy);
    let create = |env: &[(&'static str, String)], name: &str, tags: &str| {
        aws_with(
            env,
            &[
                "ecr",
                "create-repository",
                "--repository-name",
                name,
                "--tags",
                tags,
            ],
        )
    };
    assert!(create(&dev, "team/a1", "Key=team,Value=a").status.success());
    aws_refused(
        &dev,
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            "team/b1",
            "--tags",
            "Key=team,Value=b",
        ],
        "AccessDeniedException",
    );
    aws_refused(
        &dev,
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            "team/a2",
            "--tags",
            "Key=team,Value=a",
            "Key=cost,Value=x",
        ],
        "AccessDeniedException",
    );
    aws_refused(
        &dev,
        &["ecr", "create-repository", "--repository-name", "team/none"],
        "AccessDeniedException",
    );
    // Resource tags decide what dev may read.
    assert!(create(&admin, "team/b2", "Key=team,Value=b")
        .status
        .success());
    aws_ok(
        &dev,
        &["ecr", "describe-images", "--repository-name", "team/a1"],
    );
    aws_refused(
        &dev,
        &["ecr", "describe-images", "--repository-name", "team/b2"],
        "AccessDeniedException",
    );
    // Retagging the repository moves it out of dev's reach at once.
    aws_ok(
        &admin,
        &[
            "ecr",
            "tag-resource",
            "--resource-arn",
            "arn:aws:ecr:us-east-1:000000000000:repository/team/a1",
            "--tags",
            "Key=team,Value=b",
        ],
    );
    aws_refused(
        &dev,
        &["ecr", "describe-images", "--repository-name", "team/a1"],
        "AccessDeniedException",
    );

    // aws:SourceIp and aws:SecureTransport, in a repository policy.
    let deny_from = |cidr: &str| {
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "NotFromThere", "Effect": "Deny", "Principal": "*", "Action": "ecr:ListImages",
             "Condition": {"IpAddress": {"aws:SourceIp": cidr}}}]})
        .to_string()
    };
    let set_policy = |text: &str| {
        aws_ok(
            &admin,
            &[
                "ecr",
                "set-repository-policy",
                "--repository-name",
                "team/b2",
                "--policy-text",
                text,
            ],
        );
    };
    set_policy(&deny_from("10.0.0.0/8"));
    aws_ok(
        &admin,
        &["ecr", "list-images", "--repository-name", "team/b2"],
    );
    set_policy(&deny_from("127.0.0.0/8"));
    aws_refused(
        &admin,
        &["ecr", "list-images", "--repository-name", "team/b2"],
        "AccessDeniedException",
    );
    let https_only = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "HttpsOnly", "Effect": "Deny", "Principal": "*", "Action": "ecr:ListImages",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
    set_policy(&https_only.to_string());
    aws_refused(
        &admin,
        &["ecr", "list-images", "--repository-name", "team/b2"],
        "AccessDeniedException",
    );
    // On /v2 too: the tag list is ecr:ListImages, and this server is plain HTTP.
    let r = s
        .client()
        .get(s.url() + "/v2/team/b2/tags/list")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[test]
fn the_registry_policy_scope_limits_what_a_registry_policy_may_grant() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let admin = s.aws_env("us-east-1");
    aws_ok(
        &admin,
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            "scoped/app",
        ],
    );
    let (id, secret) = iam_user(&admin, "puller");
    let puller = env_for(&s, (&id, &secret));
    let grant = |actions: Value| {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": "R", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::000000000000:user/puller"},
            "Action": actions, "Resource": "arn:aws:ecr:us-east-1:000000000000:repository/*"}]})
        .to_string()
    };
    // V2 (the default): the registry policy is a resource policy on every request.
    let setting = aws_ok(
        &admin,
        &[
            "ecr",
            "get-account-setting",
            "--name",
            "REGISTRY_POLICY_SCOPE",
        ],
    );
    assert_eq!(setting["value"], "V2");
    aws_refused(
        &puller,
        &["ecr", "list-images", "--repository-name", "scoped/app"],
        "AccessDeniedException",
    );
    aws_ok(
        &admin,
        &[
            "ecr",
            "put-registry-policy",
            "--policy-text",
            &grant(json!("ecr:ListImages")),
        ],
    );
    aws_ok(
        &puller,
        &["ecr", "list-images", "--repository-name", "scoped/app"],
    );
    // V1 cannot be chosen while the policy grants what V1 does not allow...
    aws_refused(
        &admin,
        &[
            "ecr",
            "put-account-setting",
            "--name",
            "REGISTRY_POLICY_SCOPE",
            "--value",
            "V1",
        ],
        "InvalidParameterException",
    );
    aws_ok(&admin, &["ecr", "delete-registry-policy"]);
    aws_ok(
        &admin,
        &[
            "ecr",
            "put-account-setting",
            "--name",
            "REGISTRY_POLICY_SCOPE",
            "--value",
            "V1",
        ],
    );
    // ...and under V1 only replication and pull-through actions are accepted.
    let out = aws_with(
        &admin,
        &[
            "ecr",
            "put-registry-policy",
            "--policy-text",
            &grant(json!("ecr:ListImages")),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("InvalidParameterException")
            && err.contains("Invalid registry policy provided"),
        "{err}"
    );
    aws_ok(
        &admin,
        &[
            "ecr",
            "put-registry-policy",
            "--policy-text",
            &grant(json!(["ecr:ReplicateImage", "ecr:CreateRepository"])),
        ],
    );
    aws_refused(
        &puller,
        &["ecr", "list-images", "--repository-name", "scoped/app"],
        "AccessDeniedException",
    );
}

#[test]
fn iam_actions_are_decided_by_identity_policies() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let admin = s.aws_env("us-east-1");
    let (id, secret) = iam_user(&admin, "auditor");
    let auditor = env_for(&s, (&id, &secret));
    aws_ok(&admin, &["iam", "create-user", "--user-name", "someone"]);
    // Without a policy: only the self-service rule (its own user and keys).
    aws_refused(&auditor, &["iam", "list-users"], "AccessDenied");
    aws_ok(&auditor, &["iam", "get-user", "--user-name", "auditor"]);
    let read = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:List*", "iam:Get*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*AccessKey*", "Resource": "*"}]});
    put_user_policy(&admin, "auditor", "read", &read);
    let users = aws_ok(&auditor, &["iam", "list-users"]);
    assert_eq!(users["Users"].as_array().unwrap().len(), 3, "{users}");
    aws_ok(&auditor, &["iam", "get-user", "--user-name", "someone"]);
    aws_refused(
        &auditor,
        &["iam", "create-user", "--user-name", "sneaky"],
        "AccessDenied",
    );
    // An explicit Deny overrides the self-service rule.
    aws_refused(
        &auditor,
        &["iam", "list-access-keys", "--user-name", "auditor"],
        "AccessDenied",
    );
    aws_refused(
        &auditor,
        &["iam", "create-access-key", "--user-name", "auditor"],
        "AccessDenied",
    );
    // GetCallerIdentity needs no permission, as on AWS.
    let me = aws_ok(&auditor, &["sts", "get-caller-identity"]);
    assert_eq!(me["Arn"], "arn:aws:iam::000000000000:user/auditor");
}

#[test]
fn a_deactivated_or_deleted_key_stops_its_login_tokens() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let admin = s.aws_env("us-east-1");
    aws_ok(
        &admin,
        &["ecr", "create-repository", "--repository-name", "keys/app"],
    );
    let (id, secret) = iam_user(&admin, "ci");
    aws_ok(
        &admin,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "ci",
            "--policy-arn",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        ],
    );
    let password = login_password(&s, (&id, &secret));
    let tags = |password: &str| {
        s.raw_client()
            .get(s.url() + "/v2/keys/app/tags/list")
            .basic_auth("AWS", Some(password))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(tags(&password), 200);
    // Deactivating the key refuses the tokens it obtained (at once on the
    // node that changed it; within USER_CHECK_TTL on others).
    aws_ok(
        &admin,
        &[
            "iam",
            "update-access-key",
            "--user-name",
            "ci",
            "--access-key-id",
            &id,
            "--status",
            "Inactive",
        ],
    );
    assert_eq!(tags(&password), 401);
    aws_ok(
        &admin,
        &[
            "iam",
            "update-access-key",
            "--user-name",
            "ci",
            "--access-key-id",
            &id,
            "--status",
            "Active",
        ],
    );
    assert_eq!(tags(&password), 200);
    // A second key's tokens live on when the first is deleted.
    let k2 = aws_ok(&admin, &["iam", "create-access-key", "--user-name", "ci"]);
    let second = login_password(
        &s,
        (
            k2["AccessKey"]["AccessKeyId"].as_str().unwrap(),
            k2["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
        ),
    );
    aws_ok(
        &admin,
        &[
            "iam",
            "delete-access-key",
            "--user-name",
            "ci",
            "--access-key-id",
            &id,
        ],
    );
    assert_eq!(tags(&password), 401);
    assert_eq!(tags(&second), 200);
}
