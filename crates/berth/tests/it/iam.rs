//! The IAM API (and STS GetCallerIdentity) against a real berth, driven by
//! the real `aws iam` / `aws sts` CLI and boto3: users, access keys (and an
//! inactive key being refused), inline and managed policies, attachments,
//! pagination and the errors by code.

use crate::common::*;
use serde_json::Value;
use std::process::Command;

const ACCOUNT: &str = "000000000000";

/// As the root admin; must succeed; its JSON output (`null` when empty).
fn aws_ok(s: &TestServer, args: &[&str]) -> Value {
    json_of(args, aws_with(&s.aws_env("us-east-1"), args))
}

/// Runs a failing command and returns its stderr, which must name `code`.
fn aws_err(env: &[(&'static str, String)], args: &[&str], code: &str) -> String {
    let out = aws_with(env, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "aws {args:?} should have failed with {code}; it printed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        err.contains(&format!("({code})")),
        "aws {args:?} should have failed with {code}:\n{err}"
    );
    err
}

/// The `aws` environment of a new access key of `user`, made by the root admin.
fn key_env(s: &TestServer, user: &str) -> Vec<(&'static str, String)> {
    let key = &aws_ok(s, &["iam", "create-access-key", "--user-name", user])["AccessKey"];
    env_for(
        s,
        (
            key["AccessKeyId"].as_str().unwrap(),
            key["SecretAccessKey"].as_str().unwrap(),
        ),
    )
}

/// `aws iam put-user-policy` as the root admin.
fn put_policy(s: &TestServer, user: &str, name: &str, document: &str) {
    aws_ok(
        s,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            user,
            "--policy-name",
            name,
            "--policy-document",
            document,
        ],
    );
}

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Resource":"*"}]}"#;

#[test]
fn the_aws_cli_manages_a_user_its_keys_and_policies() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let root = s.aws_env("us-east-1");

    // A user, with AWS's shapes.
    let user = &aws_ok(&s, &["iam", "create-user", "--user-name", "dev"])["User"];
    assert_eq!(user["UserName"], "dev");
    assert_eq!(user["Path"], "/");
    assert_eq!(user["Arn"], format!("arn:aws:iam::{ACCOUNT}:user/dev"));
    let user_id = user["UserId"].as_str().unwrap().to_string();
    assert!(
        user_id.starts_with("AIDA") && user_id.len() == 21,
        "{user_id}"
    );
    assert!(user["CreateDate"].as_str().unwrap().contains('T'), "{user}");
    aws_err(
        &root,
        &["iam", "create-user", "--user-name", "dev"],
        "EntityAlreadyExists",
    );
    let got = aws_ok(&s, &["iam", "get-user", "--user-name", "dev"]);
    assert_eq!(got["User"]["UserId"], user_id.as_str());
    // Without a name: the caller.
    let me = aws_ok(&s, &["iam", "get-user"]);
    assert_eq!(me["User"]["UserName"], "admin");
    aws_err(
        &root,
        &["iam", "get-user", "--user-name", "nobody"],
        "NoSuchEntity",
    );

    // Its key works, and says who it is.
    let key = &aws_ok(&s, &["iam", "create-access-key", "--user-name", "dev"])["AccessKey"];
    assert_eq!(key["Status"], "Active");
    let key_id = key["AccessKeyId"].as_str().unwrap().to_string();
    let secret = key["SecretAccessKey"].as_str().unwrap().to_string();
    let dev = env_for(&s, (&key_id, &secret));
    let who = json_of(&[], aws_with(&dev, &["sts", "get-caller-identity"]));
    assert_eq!(who["Arn"], format!("arn:aws:iam::{ACCOUNT}:user/dev"));
    assert_eq!(who["Account"], ACCOUNT);
    assert_eq!(who["UserId"], user_id.as_str());
    let listed = aws_ok(&s, &["iam", "list-access-keys", "--user-name", "dev"]);
    let metadata = listed["AccessKeyMetadata"].as_array().unwrap();
    assert_eq!(metadata.len(), 1);
    assert_eq!(metadata[0]["AccessKeyId"], key_id.as_str());
    assert!(metadata[0].get("SecretAccessKey").is_none());

    // A user that is not the admin manages only its own keys.
    let own = json_of(&[], aws_with(&dev, &["iam", "list-access-keys"]));
    assert_eq!(own["AccessKeyMetadata"][0]["UserName"], "dev");
    let err = aws_err(
        &dev,
        &["iam", "create-user", "--user-name", "x"],
        "AccessDenied",
    );
    assert!(
        err.contains(&format!(
            "User: arn:aws:iam::{ACCOUNT}:user/dev is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/x"
        )),
        "{err}"
    );
    aws_err(&dev, &["iam", "list-users"], "AccessDenied");
    aws_err(
        &dev,
        &["iam", "get-user", "--user-name", "admin"],
        "AccessDenied",
    );

    // Two keys per user at most.
    let second = &aws_ok(&s, &["iam", "create-access-key", "--user-name", "dev"])["AccessKey"];
    let second_id = second["AccessKeyId"].as_str().unwrap().to_string();
    aws_err(
        &root,
        &["iam", "create-access-key", "--user-name", "dev"],
        "LimitExceeded",
    );
    aws_ok(
        &s,
        &[
            "iam",
            "delete-access-key",
            "--user-name",
            "dev",
            "--access-key-id",
            &second_id,
        ],
    );

    // Inline policies: the document comes back as it was put.
    aws_ok(
        &s,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "dev",
            "--policy-name",
            "pull",
            "--policy-document",
            POLICY,
        ],
    );
    let got = aws_ok(
        &s,
        &[
            "iam",
            "get-user-policy",
            "--user-name",
            "dev",
            "--policy-name",
            "pull",
        ],
    );
    assert_eq!(got["PolicyName"], "pull");
    let expected: Value = serde_json::from_str(POLICY).unwrap();
    assert_eq!(got["PolicyDocument"], expected);
    let names = aws_ok(&s, &["iam", "list-user-policies", "--user-name", "dev"]);
    assert_eq!(names["PolicyNames"], serde_json::json!(["pull"]));
    aws_err(
        &root,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "dev",
            "--policy-name",
            "bad",
            "--policy-document",
            r#"{"Version":"2012-10-17"}"#,
        ],
        "MalformedPolicyDocument",
    );
    aws_err(
        &root,
        &[
            "iam",
            "get-user-policy",
            "--user-name",
            "dev",
            "--policy-name",
            "missing",
        ],
        "NoSuchEntity",
    );

    // Managed policies: created, attached, listed, refused deletion while attached.
    let policy = &aws_ok(
        &s,
        &[
            "iam",
            "create-policy",
            "--policy-name",
            "ecr-pull",
            "--path",
            "/team/",
            "--policy-document",
            POLICY,
            "--description",
            "pulls",
        ],
    )["Policy"];
    let arn = format!("arn:aws:iam::{ACCOUNT}:policy/team/ecr-pull");
    assert_eq!(policy["Arn"], arn.as_str());
    assert_eq!(policy["DefaultVersionId"], "v1");
    assert_eq!(policy["AttachmentCount"], 0);
    aws_err(
        &root,
        &[
            "iam",
            "create-policy",
            "--policy-name",
            "ecr-pull",
            "--policy-document",
            POLICY,
        ],
        "EntityAlreadyExists",
    );
    let version = aws_ok(
        &s,
        &[
            "iam",
            "get-policy-version",
            "--policy-arn",
            &arn,
            "--version-id",
            "v1",
        ],
    );
    assert_eq!(version["PolicyVersion"]["Document"], expected);
    assert_eq!(version["PolicyVersion"]["IsDefaultVersion"], true);
    aws_ok(
        &s,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "dev",
            "--policy-arn",
            &arn,
        ],
    );
    let ecr_read_only = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";
    aws_ok(
        &s,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "dev",
            "--policy-arn",
            ecr_read_only,
        ],
    );
    aws_err(
        &root,
        &[
            "iam",
            "attach-user-policy",
            "--user-name",
            "dev",
            "--policy-arn",
            &format!("arn:aws:iam::{ACCOUNT}:policy/missing"),
        ],
        "NoSuchEntity",
    );
    let attached = aws_ok(
        &s,
        &["iam", "list-attached-user-policies", "--user-name", "dev"],
    );
    let pairs: Vec<(String, String)> = attached["AttachedPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["PolicyName"].as_str().unwrap().to_string(),
                p["PolicyArn"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("ecr-pull".to_string(), arn.clone()),
            (
                "AmazonEC2ContainerRegistryReadOnly".to_string(),
                ecr_read_only.to_string()
            ),
        ]
    );
    assert_eq!(
        aws_ok(&s, &["iam", "get-policy", "--policy-arn", &arn])["Policy"]["AttachmentCount"],
        1
    );
    aws_err(
        &root,
        &["iam", "delete-policy", "--policy-arn", &arn],
        "DeleteConflict",
    );
    let aws_scope = aws_ok(&s, &["iam", "list-policies", "--scope", "AWS"]);
    let aws_names: Vec<&str> = aws_scope["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PolicyName"].as_str().unwrap())
        .collect();
    for name in ["FullAccess", "PowerUser", "ReadOnly", "PullOnly"] {
        assert!(
            aws_names.contains(&format!("AmazonEC2ContainerRegistry{name}").as_str()),
            "{aws_names:?}"
        );
    }
    assert!(aws_names.contains(&"AmazonECSTaskExecutionRolePolicy"));
    let local = aws_ok(&s, &["iam", "list-policies", "--scope", "Local"]);
    assert_eq!(local["Policies"].as_array().unwrap().len(), 1);
    let attached_only = aws_ok(&s, &["iam", "list-policies", "--only-attached"]);
    assert_eq!(attached_only["Policies"].as_array().unwrap().len(), 2);

    // An inactive key is refused on every API; active again, it works.
    aws_ok(
        &s,
        &[
            "iam",
            "update-access-key",
            "--user-name",
            "dev",
            "--access-key-id",
            &key_id,
            "--status",
            "Inactive",
        ],
    );
    let listed = aws_ok(&s, &["iam", "list-access-keys", "--user-name", "dev"]);
    assert_eq!(listed["AccessKeyMetadata"][0]["Status"], "Inactive");
    aws_err(
        &dev,
        &["sts", "get-caller-identity"],
        "InvalidClientTokenId",
    );
    aws_err(
        &dev,
        &["ecr", "describe-repositories"],
        "UnrecognizedClientException",
    );
    aws_ok(
        &s,
        &[
            "iam",
            "update-access-key",
            "--user-name",
            "dev",
            "--access-key-id",
            &key_id,
            "--status",
            "Active",
        ],
    );
    json_of(&[], aws_with(&dev, &["ecr", "describe-repositories"]));

    // Deleting the user: refused while anything hangs off it.
    let err = aws_err(
        &root,
        &["iam", "delete-user", "--user-name", "dev"],
        "DeleteConflict",
    );
    assert!(err.contains("access keys"), "{err}");
    aws_ok(
        &s,
        &[
            "iam",
            "delete-access-key",
            "--user-name",
            "dev",
            "--access-key-id",
            &key_id,
        ],
    );
    aws_err(
        &dev,
        &["sts", "get-caller-identity"],
        "InvalidClientTokenId",
    );
    aws_err(
        &root,
        &["iam", "delete-user", "--user-name", "dev"],
        "DeleteConflict",
    );
    aws_ok(
        &s,
        &[
            "iam",
            "delete-user-policy",
            "--user-name",
            "dev",
            "--policy-name",
            "pull",
        ],
    );
    aws_err(
        &root,
        &["iam", "delete-user", "--user-name", "dev"],
        "DeleteConflict",
    );
    aws_ok(
        &s,
        &[
            "iam",
            "detach-user-policy",
            "--user-name",
            "dev",
            "--policy-arn",
            &arn,
        ],
    );
    aws_ok(
        &s,
        &[
            "iam",
            "detach-user-policy",
            "--user-name",
            "dev",
            "--policy-arn",
            ecr_read_only,
        ],
    );
    aws_ok(&s, &["iam", "delete-user", "--user-name", "dev"]);
    aws_err(
        &root,
        &["iam", "get-user", "--user-name", "dev"],
        "NoSuchEntity",
    );
    aws_ok(&s, &["iam", "delete-policy", "--policy-arn", &arn]);
    aws_err(
        &root,
        &["iam", "get-policy", "--policy-arn", &arn],
        "NoSuchEntity",
    );
}

#[test]
fn the_aws_cli_pages_users_and_policies() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    for name in ["u1", "u2", "u3", "u4"] {
        aws_ok(&s, &["iam", "create-user", "--user-name", name]);
    }
    // --page-size makes the CLI send MaxItems and follow Marker;
    // --max-items stops it early and hands back a NextToken.
    let first = aws_ok(
        &s,
        &["iam", "list-users", "--page-size", "2", "--max-items", "3"],
    );
    let names = |v: &Value| -> Vec<String> {
        v["Users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["UserName"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&first), ["admin", "u1", "u2"]);
    let token = first["NextToken"]
        .as_str()
        .expect("a next token")
        .to_string();
    let rest = aws_ok(
        &s,
        &[
            "iam",
            "list-users",
            "--page-size",
            "2",
            "--max-items",
            "3",
            "--starting-token",
            &token,
        ],
    );
    assert_eq!(names(&rest), ["u3", "u4"]);
    assert!(rest.get("NextToken").is_none(), "{rest}");
    let all = aws_ok(&s, &["iam", "list-users", "--page-size", "1"]);
    assert_eq!(names(&all).len(), 5);

    let policies = aws_ok(
        &s,
        &[
            "iam",
            "list-policies",
            "--scope",
            "AWS",
            "--page-size",
            "1",
            "--max-items",
            "2",
        ],
    );
    assert_eq!(policies["Policies"].as_array().unwrap().len(), 2);
    assert!(policies["NextToken"].is_string(), "{policies}");
    let all = aws_ok(&s, &["iam", "list-policies", "--page-size", "3"]);
    // The four ECR policies and ECS's task execution role policy.
    assert_eq!(all["Policies"].as_array().unwrap().len(), 5);
}

const BOTO3_SUITE: &str = r#"
import json, boto3
from botocore.exceptions import ClientError

iam = boto3.client("iam", region_name="us-east-1")

def error_of(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("expected an error from %s" % fn.__name__)

for i in range(5):
    iam.create_user(UserName="b%d" % i, Path="/bots/")
users = iam.list_users(PathPrefix="/bots/", MaxItems=2)
assert [u["UserName"] for u in users["Users"]] == ["b0", "b1"], users
assert users["IsTruncated"] and users["Marker"]
users = iam.list_users(PathPrefix="/bots/", MaxItems=2, Marker=users["Marker"])
assert [u["UserName"] for u in users["Users"]] == ["b2", "b3"], users
users = iam.list_users(PathPrefix="/bots/", MaxItems=2, Marker=users["Marker"])
assert [u["UserName"] for u in users["Users"]] == ["b4"] and not users["IsTruncated"], users
every = [u["UserName"] for p in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2}) for u in p["Users"]]
assert every == ["admin", "b0", "b1", "b2", "b3", "b4"], every
assert iam.get_user(UserName="b0")["User"]["Arn"] == "arn:aws:iam::000000000000:user/bots/b0"

doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}
iam.put_user_policy(UserName="b0", PolicyName="all", PolicyDocument=json.dumps(doc))
assert iam.get_user_policy(UserName="b0", PolicyName="all")["PolicyDocument"] == doc
p = iam.create_policy(PolicyName="ecr-all", PolicyDocument=json.dumps(doc))["Policy"]
assert p["Arn"] == "arn:aws:iam::000000000000:policy/ecr-all", p
assert p["CreateDate"].year >= 2024
v = iam.get_policy_version(PolicyArn=p["Arn"], VersionId="v1")["PolicyVersion"]
assert v["Document"] == doc and v["IsDefaultVersion"], v
aws = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly")["Policy"]
assert aws["PolicyName"] == "AmazonEC2ContainerRegistryPullOnly", aws
iam.attach_user_policy(UserName="b0", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser")
iam.attach_user_policy(UserName="b0", PolicyArn=p["Arn"])
page = iam.list_attached_user_policies(UserName="b0", MaxItems=1)
assert len(page["AttachedPolicies"]) == 1 and page["IsTruncated"], page
page = iam.list_attached_user_policies(UserName="b0", MaxItems=1, Marker=page["Marker"])
assert len(page["AttachedPolicies"]) == 1 and not page["IsTruncated"], page
local = iam.list_policies(Scope="Local")["Policies"]
assert [x["PolicyName"] for x in local] == ["ecr-all"] and local[0]["AttachmentCount"] == 1, local

assert error_of(iam.get_user, UserName="nobody") == ("NoSuchEntity", 404)
assert error_of(iam.create_user, UserName="b0") == ("EntityAlreadyExists", 409)
assert error_of(iam.create_user, UserName="no spaces") == ("ValidationError", 400)
assert error_of(iam.delete_user, UserName="b0") == ("DeleteConflict", 409)
assert error_of(iam.delete_policy, PolicyArn=p["Arn"]) == ("DeleteConflict", 409)
assert error_of(iam.create_policy, PolicyName="bad", PolicyDocument="[1, 2]") == ("MalformedPolicyDocument", 400)
assert error_of(iam.create_policy, PolicyName="bad", PolicyDocument="not json") == ("MalformedPolicyDocument", 400)
iam.create_access_key(UserName="b1")
k = iam.create_access_key(UserName="b1")["AccessKey"]
assert error_of(iam.create_access_key, UserName="b1") == ("LimitExceeded", 409)
assert error_of(iam.update_access_key, UserName="b0", AccessKeyId=k["AccessKeyId"], Status="Inactive") == ("NoSuchEntity", 404)

# A non-admin user: refused with AccessDenied (403), but may see itself.
b1 = boto3.client("iam", region_name="us-east-1", aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
assert error_of(b1.create_user, UserName="sneaky") == ("AccessDenied", 403)
assert error_of(b1.create_policy, PolicyName="x", PolicyDocument=json.dumps(doc)) == ("AccessDenied", 403)
assert b1.get_user()["User"]["UserName"] == "b1"
sts = boto3.client("sts", region_name="eu-west-1", aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"])
ident = sts.get_caller_identity()
assert ident["Arn"] == "arn:aws:iam::000000000000:user/bots/b1" and ident["Account"] == "000000000000", ident
b1.update_access_key(AccessKeyId=k["AccessKeyId"], Status="Inactive")
assert error_of(sts.get_caller_identity) == ("InvalidClientTokenId", 403)
bad = boto3.client("iam", region_name="us-east-1", aws_access_key_id=k["AccessKeyId"], aws_secret_access_key="wrong")
assert error_of(bad.list_users) == ("InvalidClientTokenId", 403)
print("boto3 iam suite passed")
"#;

#[test]
fn boto3_pages_listings_and_gets_errors_by_code_and_status() {
    if !tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let out = tools::run(
        Command::new("python3")
            .arg("-c")
            .arg(BOTO3_SUITE)
            .envs(s.aws_env("us-east-1")),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("boto3 iam suite passed"), "{stdout}");
}

#[test]
fn unsigned_query_requests_are_refused_in_xml_and_json_ones_still_reach_ecr() {
    let s = start();
    let r = s
        .raw_client()
        .post(s.url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=ListUsers&Version=2010-05-08")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "text/xml");
    let body = r.text().unwrap();
    assert!(
        body.contains(r#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">"#)
            && body.contains("<Code>MissingAuthenticationToken</Code>")
            && body.contains("<Type>Sender</Type>"),
        "{body}"
    );
    // A JSON body with a target is the ECR API, as before.
    let r = s
        .raw_client()
        .post(s.url())
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "x-amz-target",
            "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
        )
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["x-amzn-errortype"],
        "MissingAuthenticationTokenException"
    );
}

/// The review's takeover through a path: `dev` may create keys and put
/// policies on any user except those under `/team/`; `ops` lives at
/// `/team/`, so both are refused on it, and the denial names its ARN with
/// the path. `aws sts get-caller-identity` shows the path too.
#[test]
fn a_deny_on_a_user_path_binds_the_users_under_it() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    aws_ok(&s, &["iam", "create-user", "--user-name", "dev"]);
    let ops = &aws_ok(
        &s,
        &[
            "iam",
            "create-user",
            "--user-name",
            "ops",
            "--path",
            "/team/",
        ],
    )["User"];
    assert_eq!(ops["Arn"], format!("arn:aws:iam::{ACCOUNT}:user/team/ops"));
    put_policy(
        &s,
        "dev",
        "not-team",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":["iam:CreateAccessKey","iam:PutUserPolicy"],"Resource":"*"}},
            {{"Effect":"Deny","Action":"iam:*","Resource":"arn:aws:iam::{ACCOUNT}:user/team/*"}}]}}"#
        ),
    );
    let dev = key_env(&s, "dev");
    let err = aws_err(
        &dev,
        &["iam", "create-access-key", "--user-name", "ops"],
        "AccessDenied",
    );
    assert!(
        err.contains(&format!("arn:aws:iam::{ACCOUNT}:user/team/ops")),
        "{err}"
    );
    aws_err(
        &dev,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "ops",
            "--policy-name",
            "mine",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        ],
        "AccessDenied",
    );
    // A user at a path is that user: its own calls name it with the path.
    let who = json_of(
        &[],
        aws_with(&key_env(&s, "ops"), &["sts", "get-caller-identity"]),
    );
    assert_eq!(who["Arn"], format!("arn:aws:iam::{ACCOUNT}:user/team/ops"));
}

/// IAM calls see the connection's facts as ECR calls do: a Deny on
/// requests from this address stops `aws iam get-user` and
/// `list-access-keys` (it did not, when IAM evaluated without them).
#[test]
fn iam_calls_are_evaluated_with_the_requests_facts() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    aws_ok(&s, &["iam", "create-user", "--user-name", "dev"]);
    let dev = key_env(&s, "dev");
    // Allowed by the self-service rule before the Deny.
    json_of(&[], aws_with(&dev, &["iam", "get-user"]));
    put_policy(
        &s,
        "dev",
        "not-from-here",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*",
        "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"Bool":{"aws:SecureTransport":"false"}}}]}"#,
    );
    for (args, code) in [
        (&["iam", "get-user"][..], "AccessDenied"),
        (&["iam", "list-access-keys"][..], "AccessDenied"),
        (
            &["ecr", "describe-repositories"][..],
            "AccessDeniedException",
        ),
    ] {
        let err = aws_err(&dev, args, code);
        assert!(err.contains("explicit deny"), "{args:?}: {err}");
    }
}
