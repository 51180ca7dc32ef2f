//! Tenants stay apart: another account's principal, even that account's
//! admin, is refused every route of both APIs on this account's registry
//! until a policy here lets it in; presigned download URLs open one blob of
//! one repository for a limited time; secrets never reach the log or an
//! error message. Under `CI=true` a missing client fails the test.

use crate::common::*;
use berth_testkit::{ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY};
use serde_json::{json, Value};

const OWNER: &str = "000000000000";
const OTHER: &str = "111111111111";
/// ECR operations without a `registryId`: they act on the caller's own
/// account (a test below shows B's templates stay B's).
const OWN_ACCOUNT_ONLY: &[&str] = &[
    "GetAuthorizationToken",
    "GetAccountSetting",
    "PutAccountSetting",
    "CreateRepositoryCreationTemplate",
    "UpdateRepositoryCreationTemplate",
    "DescribeRepositoryCreationTemplates",
    "DeleteRepositoryCreationTemplate",
];

/// Account B with its admin's key (AdministratorAccess in B).
fn other_account(s: &TestServer) -> (String, String) {
    account_with_key(s, OTHER)
}

#[test]
fn another_accounts_admin_is_refused_every_route_of_both_apis() {
    let s = start();
    let api = Api::new(&s);
    api.push_image("iso/app", &image::oci_image(3, 1, 1, 64), "v1");
    let b = other_account(&s);
    let key = (b.0.as_str(), b.1.as_str());

    // The ECR API: every operation berth answers, addressed to A's
    // registry by registryId (or by A's ARN).
    let mut refused = 0;
    for op in berth_server::ecr::IMPLEMENTED_OPERATIONS {
        // Operations that act on the caller's own account only (no
        // `registryId` member): nothing of A's is reachable through them.
        if OWN_ACCOUNT_ONLY.contains(op) {
            continue;
        }
        let input = json!({
            "registryId": OWNER,
            "repositoryName": "iso/app",
            "repositoryNames": ["iso/app"],
            "resourceArn": format!("arn:aws:ecr:us-east-1:{OWNER}:repository/iso/app"),
            "layerPartBlob": "YQ==",
        });
        let out = berth_testkit::ecr::call(&s.raw_client(), &s.url(), key, "us-east-1", op, &input);
        let (_, err) = out.expect_err(&format!("{op}: account B reached account A"));
        assert_eq!(err["__type"], "AccessDeniedException", "{op}: {err}");
        let msg = err["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!("arn:aws:iam::{OTHER}:user/admin")),
            "{op}: {msg}"
        );
        refused += 1;
    }
    assert_eq!(
        refused,
        berth_server::ecr::IMPLEMENTED_OPERATIONS.len() - OWN_ACCOUNT_ONLY.len()
    );

    // /v2 through A's host name, with B's own docker login password: every
    // route is refused and the catalog shows nothing of A's.
    let password = berth_testkit::ecr::login_password(&s.raw_client(), &s.url(), key);
    let host = format!("{OWNER}.dkr.ecr.us-east-1.localhost");
    let client = reqwest::blocking::Client::builder()
        .resolve(&host, s.addr)
        .build()
        .unwrap();
    let base = format!("http://{host}:{}", s.addr.port());
    let name = berth_oci::RepositoryName::parse("iso/app").unwrap();
    for (method, path, _) in berth_server::v2_access::protected_requests(&name) {
        let r = client
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .basic_auth("AWS", Some(&password))
            .header("content-type", "application/octet-stream")
            .body(Vec::new())
            .send()
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path}: B reached A");
    }
    let catalog: Value = client
        .get(format!("{base}/v2/_catalog"))
        .basic_auth("AWS", Some(&password))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(catalog["repositories"], json!([]), "{catalog}");
    // B's token on B's own registry works: it is a valid login, just not A's.
    let own = client
        .get(format!(
            "http://{OTHER}.dkr.ecr.us-east-1.localhost:{}/v2/",
            s.addr.port()
        ))
        .basic_auth("AWS", Some(&password));
    let own = reqwest::blocking::Client::builder()
        .resolve(&format!("{OTHER}.dkr.ecr.us-east-1.localhost"), s.addr)
        .build()
        .unwrap()
        .execute(own.build().unwrap())
        .unwrap();
    assert_eq!(own.status(), 200);
}

/// botocore: a download URL for layer 0; the same URL pointed at another
/// repository, and with a longer lifetime; and one the caller signed itself
/// with its own key (berth accepts only the URLs it signed).
const PRESIGN: &str = r#"
import boto3, json, sys, urllib.request, urllib.error
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
ecr = boto3.client("ecr")
layer = sys.argv[1]
def status(url):
    try:
        return urllib.request.urlopen(url).status
    except urllib.error.HTTPError as e:
        return e.code
u = ecr.get_download_url_for_layer(repositoryName="iso/app", layerDigest=layer)["downloadUrl"]
out = {"url": u, "fresh": status(u), "other_repo": status(u.replace("/iso/app/", "/iso/other/")),
       "longer": status(u.replace("X-Amz-Expires=3600", "X-Amz-Expires=999999"))}
mine = AWSRequest(method="GET", url=u.split("?")[0], headers={"host": u.split("/")[2]})
SigV4QueryAuth(boto3.Session().get_credentials(), "ecr", "us-east-1", expires=3600).add_auth(mine)
out["self_signed"] = status(mine.url)
print(json.dumps(out))
"#;

/// A URL as berth signs it (with the secret its server key derives for the
/// caller's key), signed at `at` (Unix seconds).
fn berth_signed_url(s: &TestServer, path: &str, at: i64) -> String {
    let key = std::fs::read(s.data_dir.join("server.key")).unwrap();
    let secret = berth_iam::ServerKey::from_bytes(&key)
        .unwrap()
        .download_url_secret(ROOT_ACCESS_KEY_ID);
    let query = berth_iam::sigv4::presign_query(
        "GET",
        &s.host(),
        path,
        None,
        &berth_iam::sigv4::Presign {
            access_key_id: ROOT_ACCESS_KEY_ID,
            secret_access_key: &secret,
            region: "us-east-1",
            service: "ecr",
            now_unix: at,
            expires: 3600,
            session_token: None,
        },
    );
    format!("{}{path}?{query}", s.url())
}

#[test]
fn download_urls_open_one_blob_of_one_repository_for_a_limited_time() {
    if !tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let api = Api::new(&s);
    let img = image::oci_image(4, 1, 1, 64);
    api.push_image("iso/app", &img, "v1");
    api.push_image("iso/other", &img, "v1");
    let r = python_json(&s, PRESIGN, &[&img.layers[0].digest]);
    assert_eq!(r["fresh"], 200, "{r}");
    assert_eq!(r["other_repo"], 403, "{r}");
    assert_eq!(r["longer"], 403, "{r}");
    // The caller's own signature is no download URL: berth signs those with
    // a key derived from its server key, never the caller's secret.
    assert_eq!(r["self_signed"], 403, "{r}");
    assert!(
        !r["url"].as_str().unwrap().contains(ROOT_SECRET_ACCESS_KEY),
        "{r}"
    );
    // Signed the same way as berth signs: now it works, two hours ago it
    // has expired.
    let path = format!("/v2/iso/app/blobs/{}", img.layers[0].digest);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let get = |url: String| s.raw_client().get(url).send().unwrap().status();
    assert_eq!(get(berth_signed_url(&s, &path, now)), 200);
    assert_eq!(get(berth_signed_url(&s, &path, now - 7200)), 403);
}

#[test]
fn secrets_never_reach_the_log_or_error_messages() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let env = s.aws_env("us-east-1");
    let made = json_of(
        &["iam", "create-user"],
        aws_with(&env, &["iam", "create-user", "--user-name", "dev"]),
    );
    assert_eq!(made["User"]["UserName"], "dev");
    let key = json_of(
        &["iam", "create-access-key"],
        aws_with(&env, &["iam", "create-access-key", "--user-name", "dev"]),
    );
    let secret = key["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_string();
    let id = key["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let password = berth_testkit::ecr::login_password(
        &s.raw_client(),
        &s.url(),
        (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY),
    );
    // Wrong secrets, a wrong password, a mangled token: refused, and the
    // answers do not echo what was sent.
    let wrong = format!("{secret}x");
    let mut bad_env = env_for(&s, (&id, &wrong));
    bad_env.push(("AWS_MAX_ATTEMPTS", "1".into()));
    let out = aws_with(&bad_env, &["ecr", "describe-repositories"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(said.contains("InvalidSignatureException"), "{said}");
    let api = Api::new(&s);
    let mangled = format!("{}Zz", &password[..password.len() / 2]);
    let r = s
        .raw_client()
        .get(api.url("/v2/_catalog"))
        .basic_auth("AWS", Some(&mangled))
        .send()
        .unwrap();
    assert!(r.status().is_client_error());
    let body = r.text().unwrap();
    for leaked in [&secret, &wrong, &password, &mangled] {
        assert!(!said.contains(leaked.as_str()) && !body.contains(leaked.as_str()));
    }
    // A normal session, then the whole server log.
    let r = s
        .raw_client()
        .get(api.url("/v2/_catalog"))
        .basic_auth("AWS", Some(&password))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let log = s.log();
    for leaked in [
        secret.as_str(),
        wrong.as_str(),
        password.as_str(),
        mangled.as_str(),
        ROOT_SECRET_ACCESS_KEY,
    ] {
        assert!(!log.contains(leaked), "the server log holds a secret");
    }
    // The log did record the refusals (so the check above looked at a log
    // that saw them).
    assert!(!log.is_empty());
}
