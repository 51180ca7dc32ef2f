//! `berth admin` against a real berth: accounts, users and access keys made
//! through the SigV4-signed admin API, and the keys made there working on
//! the ECR API within their own account only.

use crate::common::*;
use berth_testkit::{ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY};
use serde_json::{json, Value};
use std::process::{Command, Output};

const ACCOUNT: &str = "111111111111";

/// The environment the `aws` CLI would sign with, for key (`id`, `secret`);
/// no credentials or config file of the machine is read.
fn env_for(s: &TestServer, (id, secret): (&str, &str)) -> Vec<(&'static str, String)> {
    let mut env = s.aws_env("us-east-1");
    for (k, v) in env.iter_mut() {
        match *k {
            "AWS_ACCESS_KEY_ID" => *v = id.to_string(),
            "AWS_SECRET_ACCESS_KEY" => *v = secret.to_string(),
            _ => {}
        }
    }
    env
}

/// Runs `berth admin --endpoint URL <args>` as key `key`.
fn admin_as(s: &TestServer, key: (&str, &str), args: &[&str]) -> Output {
    Command::new(berth_bin())
        .envs(env_for(s, key))
        .arg("admin")
        .arg("--endpoint")
        .arg(s.url())
        .args(args)
        .output()
        .expect("running berth admin")
}

/// As [`admin_as`] with the root key; the command must succeed. Its stdout.
fn admin(s: &TestServer, args: &[&str]) -> String {
    let out = admin_as(s, (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY), args);
    assert!(
        out.status.success(),
        "berth admin {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ecr(s: &TestServer, key: (&str, &str), op: &str, input: Value) -> Result<Value, (u16, Value)> {
    berth_testkit::ecr::call(&s.raw_client(), &s.url(), key, "us-east-1", op, &input)
}

fn repository_names(out: &Value) -> Vec<String> {
    out["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repositoryName"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_root_admin_makes_an_account_whose_keys_work_only_in_it() {
    let s = start();
    s.ecr(
        "us-east-1",
        "CreateRepository",
        json!({ "repositoryName": "root/app" }),
    )
    .unwrap();

    let out = admin(&s, &["account", "create", ACCOUNT]);
    assert!(out.contains("created account 111111111111"), "{out}");
    let out = admin(&s, &["account", "list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("ACCOUNT"), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("000000000000") && l.contains("yes")),
        "{out}"
    );
    assert!(lines.iter().any(|l| l.starts_with(ACCOUNT)), "{out}");

    let out = admin(&s, &["user", "create", "--account", ACCOUNT, "ci"]);
    assert!(
        out.contains("created user ci in account 111111111111"),
        "{out}"
    );
    let out = admin(&s, &["user", "list", "--account", ACCOUNT]);
    assert!(out.lines().any(|l| l.starts_with("admin ")), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("ci ") && l.contains("arn:aws:iam::111111111111:user/ci")),
        "{out}"
    );

    let created: Value = serde_json::from_str(&admin(
        &s,
        &[
            "key",
            "create",
            "--account",
            ACCOUNT,
            "--user",
            "ci",
            "--json",
        ],
    ))
    .unwrap();
    let id = created["accessKey"]["accessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = created["accessKey"]["secretAccessKey"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(secret.len(), 40);
    // The human form shows the secret once, ready to export.
    let out = admin(&s, &["key", "create", "--account", ACCOUNT, "--user", "ci"]);
    assert!(out.contains("AWS_SECRET_ACCESS_KEY="), "{out}");

    // Listings never carry a secret, and the server never logs one.
    let table = admin(&s, &["key", "list", "--account", ACCOUNT, "--user", "ci"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("ci") && l.contains("Active")),
        "{table}"
    );
    assert_eq!(
        table.lines().count(),
        3,
        "a header and ci's two keys: {table}"
    );
    let listed = admin(&s, &["key", "list", "--account", ACCOUNT, "--json"]);
    let keys: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(keys["accessKeys"].as_array().unwrap().len(), 2);
    assert!(!listed.contains(&secret) && !listed.contains("secretAccessKey"));
    assert!(!table.contains(&secret));
    assert!(!s.log().contains(&secret), "a secret reached the log");

    // Without any policy, ci may do nothing on the ECR API.
    let (_, err) = ecr(
        &s,
        (id.as_str(), secret.as_str()),
        "CreateRepository",
        json!({ "repositoryName": "team/app" }),
    )
    .unwrap_err();
    assert_eq!(err["__type"], "AccessDeniedException", "{err}");

    // The account's admin works on the ECR API, in its own account only.
    let admin_key: Value = serde_json::from_str(&admin(
        &s,
        &[
            "key",
            "create",
            "--account",
            ACCOUNT,
            "--user",
            "admin",
            "--json",
        ],
    ))
    .unwrap();
    let key = (
        admin_key["accessKey"]["accessKeyId"].as_str().unwrap(),
        admin_key["accessKey"]["secretAccessKey"].as_str().unwrap(),
    );
    let repo = ecr(
        &s,
        key,
        "CreateRepository",
        json!({ "repositoryName": "team/app" }),
    )
    .unwrap();
    assert_eq!(repo["repository"]["registryId"], ACCOUNT);
    let described = ecr(&s, key, "DescribeRepositories", json!({})).unwrap();
    assert_eq!(repository_names(&described), ["team/app"]);
    let (_, err) = ecr(
        &s,
        key,
        "DescribeRepositories",
        json!({ "registryId": "000000000000" }),
    )
    .unwrap_err();
    assert_eq!(err["__type"], "AccessDeniedException", "{err}");
    // ...and the default account does not see the new one's repository.
    let root_view = s
        .ecr("us-east-1", "DescribeRepositories", json!({}))
        .unwrap();
    assert_eq!(repository_names(&root_view), ["root/app"]);

    // A user that is not an admin may not use the admin API.
    let key = (id.as_str(), secret.as_str());
    let (status, err) = berth_testkit::admin::call(
        &s.raw_client(),
        &s.url(),
        key,
        "GET",
        "/berth/admin/accounts/111111111111/users",
        None,
    );
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["__type"], "AccessDeniedException");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("arn:aws:iam::111111111111:user/ci"),
        "{err}"
    );
    let out = admin_as(&s, key, &["user", "list", "--account", ACCOUNT]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("AccessDeniedException"),
        "{}",
        stderr(&out)
    );
    let out = Command::new(berth_bin())
        .envs(env_for(&s, key))
        .args(["gc", "--dry-run", "--endpoint"])
        .arg(s.url())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("403"), "{}", stderr(&out));
}

#[test]
fn an_accounts_admin_manages_its_own_users_and_keys_only() {
    let s = start();
    let created: Value = serde_json::from_str(&admin(
        &s,
        &["account", "create", "222222222222", "--with-key", "--json"],
    ))
    .unwrap();
    assert_eq!(created["adminUser"], "admin");
    let admin2 = (
        created["accessKey"]["accessKeyId"].as_str().unwrap(),
        created["accessKey"]["secretAccessKey"].as_str().unwrap(),
    );
    let ok = |args: &[&str]| {
        let out = admin_as(&s, admin2, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    ok(&["user", "create", "--account", "222222222222", "dev"]);
    let dev: Value = serde_json::from_str(&ok(&[
        "key",
        "create",
        "--account",
        "222222222222",
        "--user",
        "dev",
        "--json",
    ]))
    .unwrap();
    let dev_id = dev["accessKey"]["accessKeyId"].as_str().unwrap();
    let dev_key = (
        dev_id,
        dev["accessKey"]["secretAccessKey"].as_str().unwrap(),
    );
    // The key authenticates (dev has no policy, so the call is denied, not
    // unrecognised).
    let (_, err) = ecr(&s, dev_key, "DescribeRepositories", json!({})).unwrap_err();
    assert_eq!(err["__type"], "AccessDeniedException", "{err}");

    for args in [
        &["account", "list"][..],
        &["account", "create", "333333333333"],
        &["user", "list", "--account", "000000000000"],
        &["role", "list", "--account", "000000000000"],
        &["group", "list", "--account", "000000000000"],
        &[
            "key",
            "create",
            "--account",
            "000000000000",
            "--user",
            "admin",
        ],
    ] {
        let out = admin_as(&s, admin2, args);
        assert!(!out.status.success(), "{args:?} was allowed");
        let err = stderr(&out);
        assert!(
            err.contains("AccessDeniedException")
                && err.contains("arn:aws:iam::222222222222:user/admin"),
            "{args:?}: {err}"
        );
    }

    // Deleting a key ends its use at once.
    ok(&["key", "delete", "--account", "222222222222", dev_id]);
    let (_, err) = ecr(&s, dev_key, "DescribeRepositories", json!({})).unwrap_err();
    assert_eq!(err["__type"], "UnrecognizedClientException", "{err}");
    let out = ok(&["key", "list", "--account", "222222222222"]);
    assert!(!out.contains(dev_id), "{out}");
    // Errors name what is missing.
    let out = admin_as(
        &s,
        admin2,
        &[
            "key",
            "create",
            "--account",
            "222222222222",
            "--user",
            "nobody",
        ],
    );
    assert!(
        stderr(&out).contains("NoSuchEntityException") && stderr(&out).contains("nobody"),
        "{}",
        stderr(&out)
    );
    let out = admin_as(
        &s,
        (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY),
        &["account", "create", "222222222222"],
    );
    assert!(
        stderr(&out).contains("EntityAlreadyExistsException"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_admin_api_refuses_unsigned_and_badly_signed_requests() {
    let s = start();
    let r = s
        .raw_client()
        .get(format!("{}/berth/admin/accounts", s.url()))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let err: Value = r.json().unwrap();
    assert_eq!(err["__type"], "MissingAuthenticationTokenException");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("SigV4") && message.contains("AWS_ACCESS_KEY_ID"),
        "{message}"
    );
    // So are the listings of roles and groups.
    for what in ["roles", "groups"] {
        let r = s
            .raw_client()
            .get(format!(
                "{}/berth/admin/accounts/000000000000/{what}",
                s.url()
            ))
            .send()
            .unwrap();
        assert_eq!(r.status(), 401, "{what}");
    }
    // The old unauthenticated garbage-collection call is refused too.
    let r = s
        .raw_client()
        .post(format!("{}/berth/admin/gc", s.url()))
        .json(&json!({ "dryRun": true }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);

    let call = |key: (&str, &str)| {
        berth_testkit::admin::call(
            &s.raw_client(),
            &s.url(),
            key,
            "GET",
            "/berth/admin/accounts",
            None,
        )
    };
    let (status, err) = call((ROOT_ACCESS_KEY_ID, "not the secret"));
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["__type"], "InvalidSignatureException");
    let (status, err) = call(("AKIANOSUCHKEY0000000", ROOT_SECRET_ACCESS_KEY));
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["__type"], "UnrecognizedClientException");
    let (status, body) = call((ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY));
    assert_eq!(status, 200, "{body}");
    // A signature for the ECR API is not one for the admin API.
    let (status, err) = berth_testkit::admin::call_signed_for(
        &s.raw_client(),
        &s.url(),
        (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY),
        "ecr",
        "GET",
        "/berth/admin/accounts",
        None,
    );
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["__type"], "IncompleteSignatureException", "{err}");

    // The CLI says where it looked for credentials when it finds none.
    let home = s.scratch().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(berth_bin())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .env_remove("AWS_CONFIG_FILE")
        .env("HOME", &home)
        .args(["admin", "account", "list", "--endpoint"])
        .arg(s.url())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    for needle in [
        "AWS_ACCESS_KEY_ID",
        ".aws/credentials",
        "root-credentials",
        "AWS_PROFILE",
    ] {
        assert!(err.contains(needle), "no '{needle}' in: {err}");
    }

    // A profile of a credentials file, as root-credentials is written.
    let file = s.scratch().join("credentials");
    std::fs::write(
        &file,
        format!(
            "[default]\naws_access_key_id = AKIANOSUCHKEY0000000\naws_secret_access_key = x\n\n[berth]\naws_access_key_id = {ROOT_ACCESS_KEY_ID}\naws_secret_access_key = {ROOT_SECRET_ACCESS_KEY}\n"
        ),
    )
    .unwrap();
    let out = Command::new(berth_bin())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_SHARED_CREDENTIALS_FILE", &file)
        .env("AWS_PROFILE", "berth")
        .env("HOME", &home)
        .args(["admin", "account", "list", "--endpoint"])
        .arg(s.url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("000000000000"));
}
