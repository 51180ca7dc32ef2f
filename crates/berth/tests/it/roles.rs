//! IAM roles, groups and STS against a real berth, driven by the real
//! `aws` CLI: a read-only "instance role" that a machine's user assumes
//! through a profile (`role_arn` + `source_profile`, the CLI doing the
//! AssumeRole itself against berth's STS), its login token pulling and
//! refused a push with AWS's AccessDenied text, trust-policy refusals
//! (another principal, a missing ExternalId, a Deny), a session policy
//! narrowing the role, role chaining beyond an hour, groups granting and
//! revoking, GetSessionToken, and a deleted role's sessions refused.

use crate::common::*;
use serde_json::{json, Value};

const ACCOUNT: &str = "000000000000";
const READ_ONLY: &str = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly";

fn ok(env: &[(&'static str, String)], args: &[&str]) -> Value {
    json_of(args, aws_with(env, args))
}

/// A failing command's stderr, which must name `code`.
fn err(env: &[(&'static str, String)], args: &[&str], code: &str) -> String {
    let out = aws_with(env, args);
    let e = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "aws {args:?} should fail with {code}"
    );
    assert!(
        e.contains(&format!("({code})")),
        "aws {args:?}: want {code}:\n{e}"
    );
    e
}

fn trust(principal: &str, extra: Value) -> String {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": "sts:AssumeRole"
    });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            statement[k] = v;
        }
    }
    json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

fn create_role(root: &[(&'static str, String)], name: &str, trust: &str, max: &str) -> Value {
    ok(
        root,
        &[
            "iam",
            "create-role",
            "--role-name",
            name,
            "--assume-role-policy-document",
            trust,
            "--max-session-duration",
            max,
        ],
    )
}

/// The environment of temporary credentials from an AssumeRole answer.
fn session_env(s: &TestServer, creds: &Value) -> Vec<(&'static str, String)> {
    let mut env = env_for(
        s,
        (
            creds["AccessKeyId"].as_str().unwrap(),
            creds["SecretAccessKey"].as_str().unwrap(),
        ),
    );
    env.push((
        "AWS_SESSION_TOKEN",
        creds["SessionToken"].as_str().unwrap().to_string(),
    ));
    env
}

#[test]
fn a_machine_assumes_a_read_only_role_through_a_cli_profile_and_pulls() {
    if !tools::require("aws") {
        return;
    }
    let mut s = start();
    let root = s.aws_env("us-east-1");
    let api = Api::new(&s);
    let img = image::oci_image(201, 1, 1, 100);
    api.push_image("roles/app", &img, "v1");
    let (ci_id, ci_secret) = user_with_key(&s, "ci");

    // The instance role: trusted by the machine's user, ECR read-only.
    let role = &create_role(
        &root,
        "node",
        &trust(&format!("arn:aws:iam::{ACCOUNT}:user/ci"), json!({})),
        "7200",
    )["Role"];
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/node");
    assert_eq!(role["Arn"], role_arn.as_str());
    let role_id = role["RoleId"].as_str().unwrap().to_string();
    assert!(
        role_id.starts_with("AROA") && role_id.len() == 21,
        "{role_id}"
    );
    assert_eq!(role["MaxSessionDuration"], 7200);
    ok(
        &root,
        &[
            "iam",
            "attach-role-policy",
            "--role-name",
            "node",
            "--policy-arn",
            READ_ONLY,
        ],
    );
    let got = ok(&root, &["iam", "get-role", "--role-name", "node"]);
    assert_eq!(
        got["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Action"],
        "sts:AssumeRole"
    );
    err(
        &root,
        &[
            "iam",
            "create-role",
            "--role-name",
            "NODE",
            "--assume-role-policy-document",
            &trust("*", json!({})),
        ],
        "EntityAlreadyExists",
    );
    err(
        &root,
        &["iam", "get-role", "--role-name", "nope"],
        "NoSuchEntity",
    );
    err(
        &root,
        &[
            "iam",
            "create-role",
            "--role-name",
            "bad",
            "--assume-role-policy-document",
            &trust("*", json!({"Resource": "*"})),
        ],
        "MalformedPolicyDocument",
    );

    // The machine: a profile that assumes the role, the CLI doing the
    // AssumeRole against berth's STS.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("credentials"),
        format!("[ci]\naws_access_key_id = {ci_id}\naws_secret_access_key = {ci_secret}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config"),
        format!(
            "[profile node]\nrole_arn = {role_arn}\nsource_profile = ci\nrole_session_name = i-0abc\nduration_seconds = 900\nregion = us-east-1\n"
        ),
    )
    .unwrap();
    let node: Vec<(&'static str, String)> = vec![
        (
            "AWS_CONFIG_FILE",
            dir.path().join("config").display().to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.path().join("credentials").display().to_string(),
        ),
        ("AWS_PROFILE", "node".into()),
        ("AWS_ENDPOINT_URL", s.url()),
        ("AWS_PAGER", String::new()),
        // The CLI caches assumed-role credentials under ~/.aws/cli/cache.
        ("HOME", dir.path().display().to_string()),
    ];
    let who = ok(&node, &["sts", "get-caller-identity"]);
    assert_eq!(
        who["Arn"],
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/node/i-0abc")
    );
    assert_eq!(who["UserId"], format!("{role_id}:i-0abc"));
    assert_eq!(who["Account"], ACCOUNT);

    // It reads, and is refused a write with AWS's wording.
    let repos = ok(&node, &["ecr", "describe-repositories"]);
    assert_eq!(repos["repositories"][0]["repositoryName"], "roles/app");
    let e = err(
        &node,
        &["ecr", "create-repository", "--repository-name", "xx"],
        "AccessDeniedException",
    );
    assert!(
        e.contains(&format!("User: arn:aws:sts::{ACCOUNT}:assumed-role/node/i-0abc is not authorized to perform: ecr:CreateRepository")),
        "{e}"
    );

    // docker login's password, under the session: pulls, no push.
    let out = aws_with(&node, &["ecr", "get-login-password"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let password = String::from_utf8(out.stdout).unwrap().trim().to_string();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
    let client = reqwest::blocking::Client::new();
    let pull = client
        .get(format!("{}/v2/roles/app/manifests/v1", s.url()))
        .header("Authorization", format!("Basic {basic}"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap();
    assert_eq!(pull.status(), 200);
    let push = client
        .put(format!("{}/v2/roles/app/manifests/v2", s.url()))
        .header("Authorization", format!("Basic {basic}"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(pull.bytes().unwrap())
        .send()
        .unwrap();
    assert_eq!(push.status(), 403);

    // The login token expires with the session (900 s), not in 12 hours.
    let token = ok(&node, &["ecr", "get-authorization-token"]);
    let expires = token["authorizationData"][0]["expiresAt"].as_f64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(expires - now <= 905.0, "expires in {} s", expires - now);

    // A deleted role's sessions stop: DeleteRole is refused while a policy
    // is attached; once it is gone, a session made before is no longer
    // recognised (at once on the node that deleted it).
    let ci = env_for(&s, (&ci_id, &ci_secret));
    let creds = ok(
        &ci,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &role_arn,
            "--role-session-name",
            "before",
        ],
    );
    let before = session_env(&s, &creds["Credentials"]);
    ok(&before, &["ecr", "describe-repositories"]);
    // Sessions survive a restart: nothing of them was in memory only.
    s.restart();
    ok(&before, &["ecr", "describe-repositories"]);
    err(
        &root,
        &["iam", "delete-role", "--role-name", "node"],
        "DeleteConflict",
    );
    ok(
        &root,
        &[
            "iam",
            "detach-role-policy",
            "--role-name",
            "node",
            "--policy-arn",
            READ_ONLY,
        ],
    );
    ok(&root, &["iam", "delete-role", "--role-name", "node"]);
    err(
        &before,
        &["ecr", "describe-repositories"],
        "UnrecognizedClientException",
    );
    // A role made again under the same name does not revive them.
    create_role(
        &root,
        "node",
        &trust(&format!("arn:aws:iam::{ACCOUNT}:user/ci"), json!({})),
        "3600",
    );
    ok(
        &root,
        &[
            "iam",
            "attach-role-policy",
            "--role-name",
            "node",
            "--policy-arn",
            READ_ONLY,
        ],
    );
    err(
        &before,
        &["ecr", "describe-repositories"],
        "UnrecognizedClientException",
    );
}

#[test]
fn trust_policies_session_policies_chaining_groups_and_session_tokens() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let root = s.aws_env("us-east-1");
    Api::new(&s).push_image("trust/app", &image::oci_image(202, 1, 1, 100), "v1");
    let (ci_id, ci_secret) = user_with_key(&s, "ci");
    let ci = env_for(&s, (&ci_id, &ci_secret));
    let ci_arn = format!("arn:aws:iam::{ACCOUNT}:user/ci");
    let assume = |env: &[(&'static str, String)], role: &str, extra: &[&str]| {
        let arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
        let mut args = vec![
            "sts",
            "assume-role",
            "--role-arn",
            &arn,
            "--role-session-name",
            "test",
        ];
        args.extend_from_slice(extra);
        aws_with(env, &args)
    };

    // Trust: another principal named, an ExternalId required, a Deny.
    create_role(
        &root,
        "other",
        &trust(&format!("arn:aws:iam::{ACCOUNT}:user/someone"), json!({})),
        "3600",
    );
    let out = assume(&ci, "other", &[]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("(AccessDenied)") && e.contains(&format!("User: {ci_arn} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{ACCOUNT}:role/other")), "{e}");
    create_role(
        &root,
        "ext",
        &trust(
            &ci_arn,
            json!({"Condition": {"StringEquals": {"sts:ExternalId": "s3cret"}}}),
        ),
        "3600",
    );
    assert!(!assume(&ci, "ext", &[]).status.success());
    assert!(!assume(&ci, "ext", &["--external-id", "wrong"])
        .status
        .success());
    assert!(assume(&ci, "ext", &["--external-id", "s3cret"])
        .status
        .success());
    let denying = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ci_arn}, "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
    .to_string();
    create_role(&root, "denied", &denying, "3600");
    assert!(!assume(&ci, "denied", &[]).status.success());
    // A trust policy naming only the account delegates to identity policies.
    create_role(
        &root,
        "acct",
        &trust(&format!("arn:aws:iam::{ACCOUNT}:root"), json!({})),
        "3600",
    );
    assert!(!assume(&ci, "acct", &[]).status.success());
    assert!(
        assume(&root, "acct", &[]).status.success(),
        "the admin's identity policy allows"
    );

    // Duration: beyond the role's maximum, and below 900.
    let e = String::from_utf8_lossy(
        &assume(
            &ci,
            "ext",
            &["--external-id", "s3cret", "--duration-seconds", "7200"],
        )
        .stderr,
    )
    .into_owned();
    assert!(
        e.contains(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        ),
        "{e}"
    );
    assert!(!assume(
        &ci,
        "ext",
        &["--external-id", "s3cret", "--duration-seconds", "600"]
    )
    .status
    .success());

    // A broad role narrowed by a session policy.
    create_role(&root, "power", &trust(&ci_arn, json!({})), "43200");
    ok(
        &root,
        &[
            "iam",
            "attach-role-policy",
            "--role-name",
            "power",
            "--policy-arn",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser",
        ],
    );
    let narrow = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:DescribeRepositories", "Resource": "*"}]}).to_string();
    let out = assume(&ci, "power", &["--policy", &narrow]);
    let narrowed: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        narrowed["PackedPolicySize"].as_u64().is_some(),
        "{narrowed}"
    );
    let env = session_env(&s, &narrowed["Credentials"]);
    ok(&env, &["ecr", "describe-repositories"]);
    let e = err(
        &env,
        &["ecr", "describe-images", "--repository-name", "trust/app"],
        "AccessDeniedException",
    );
    assert!(
        e.contains("because no session policy allows the ecr:DescribeImages action"),
        "{e}"
    );

    // Role chaining: at most an hour.
    create_role(
        &root,
        "chained",
        &trust(&format!("arn:aws:iam::{ACCOUNT}:role/power"), json!({})),
        "43200",
    );
    let out = assume(&ci, "power", &[]);
    let power: Value = serde_json::from_slice(&out.stdout).unwrap();
    let power_env = session_env(&s, &power["Credentials"]);
    let e = String::from_utf8_lossy(
        &assume(&power_env, "chained", &["--duration-seconds", "7200"]).stderr,
    )
    .into_owned();
    assert!(
        e.contains("exceeds the 1 hour session limit for roles assumed by role chaining"),
        "{e}"
    );
    let chained = assume(&power_env, "chained", &[]);
    assert!(
        chained.status.success(),
        "{}",
        String::from_utf8_lossy(&chained.stderr)
    );

    // Groups: a permission granted only through a group, then revoked.
    let (dev_id, dev_secret) = user_with_key(&s, "dev");
    let dev = env_for(&s, (&dev_id, &dev_secret));
    err(
        &dev,
        &["ecr", "describe-repositories"],
        "AccessDeniedException",
    );
    let g = ok(&root, &["iam", "create-group", "--group-name", "readers"]);
    assert_eq!(
        g["Group"]["Arn"],
        format!("arn:aws:iam::{ACCOUNT}:group/readers")
    );
    ok(
        &root,
        &[
            "iam",
            "attach-group-policy",
            "--group-name",
            "readers",
            "--policy-arn",
            READ_ONLY,
        ],
    );
    ok(
        &root,
        &[
            "iam",
            "add-user-to-group",
            "--group-name",
            "readers",
            "--user-name",
            "dev",
        ],
    );
    ok(&dev, &["ecr", "describe-repositories"]);
    let members = ok(&root, &["iam", "get-group", "--group-name", "readers"]);
    assert_eq!(members["Users"][0]["UserName"], "dev");
    let of_dev = ok(
        &root,
        &["iam", "list-groups-for-user", "--user-name", "dev"],
    );
    assert_eq!(of_dev["Groups"][0]["GroupName"], "readers");
    err(
        &root,
        &["iam", "delete-group", "--group-name", "readers"],
        "DeleteConflict",
    );
    ok(
        &root,
        &[
            "iam",
            "remove-user-from-group",
            "--group-name",
            "readers",
            "--user-name",
            "dev",
        ],
    );
    err(
        &dev,
        &["ecr", "describe-repositories"],
        "AccessDeniedException",
    );

    // GetSessionToken: the user's own identity, no IAM calls.
    let st = ok(
        &ci,
        &["sts", "get-session-token", "--duration-seconds", "900"],
    );
    let ci_session = session_env(&s, &st["Credentials"]);
    assert!(st["Credentials"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .starts_with("ASIA"));
    let who = ok(&ci_session, &["sts", "get-caller-identity"]);
    assert_eq!(who["Arn"], ci_arn.as_str());
    err(&ci_session, &["iam", "list-users"], "AccessDenied");
    err(&ci_session, &["sts", "get-session-token"], "AccessDenied");
    // A session token presented with another key id is not recognised.
    let mut forged = ci_session.clone();
    for (k, v) in forged.iter_mut() {
        if *k == "AWS_ACCESS_KEY_ID" {
            *v = "ASIAAAAAAAAAAAAAAAAA".into();
        }
    }
    err(
        &forged,
        &["sts", "get-caller-identity"],
        "InvalidClientTokenId",
    );

    // berth's admin CLI shows roles and groups. It signs with temporary
    // credentials too (the admin's own session): such a session may run a
    // garbage collection, but not manage users and keys (as it may not
    // call IAM).
    let admin_session = ok(
        &root,
        &["sts", "get-session-token", "--duration-seconds", "900"],
    );
    let admin_env = session_env(&s, &admin_session["Credentials"]);
    let url = s.url();
    berth_cli(&admin_env, &["gc", "--dry-run", "--endpoint", &url]);
    let refused = std::process::Command::new(berth_bin())
        .envs(admin_env.iter().cloned())
        .args([
            "admin",
            "--endpoint",
            &url,
            "role",
            "list",
            "--account",
            ACCOUNT,
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("temporary credentials"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let roles = berth_cli(
        &root,
        &[
            "admin",
            "--endpoint",
            &url,
            "role",
            "list",
            "--account",
            ACCOUNT,
        ],
    );
    assert!(
        roles.contains("power") && roles.contains("AmazonEC2ContainerRegistryPowerUser"),
        "{roles}"
    );
    let groups = berth_cli(
        &root,
        &[
            "admin",
            "--endpoint",
            &url,
            "group",
            "list",
            "--account",
            ACCOUNT,
        ],
    );
    assert!(
        groups.contains("readers") && groups.contains("AmazonEC2ContainerRegistryReadOnly"),
        "{groups}"
    );
}

/// boto3 as a CI job in account A: it assumes a role of account B (whose
/// trust policy names A, and A's identity policy allows the assumption),
/// then pushes an image into B's registry through the ECR layer API and
/// PutImage with the returned credentials. A user of A that its own
/// account does not allow to assume the role is refused.
const CROSS_ACCOUNT: &str = r#"
import boto3, hashlib, json, os, sys
from botocore.exceptions import ClientError
url = os.environ["AWS_ENDPOINT_URL"]
def client(svc, key, secret, token=None):
    return boto3.client(svc, endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token)
def code(f, **kw):
    try:
        f(**kw)
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]
b_key, b_secret, ci_key, ci_secret, other_key, other_secret = sys.argv[1:7]
role_arn = "arn:aws:iam::111111111111:role/pusher"
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"sts:ExternalId": "from-a"}}}]}
b_iam = client("iam", b_key, b_secret)
b_iam.create_role(RoleName="pusher", AssumeRolePolicyDocument=json.dumps(trust))
b_iam.attach_role_policy(RoleName="pusher",
    PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser")
client("ecr", b_key, b_secret).create_repository(repositoryName="shared/app")
a_iam = client("iam", os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
a_iam.put_user_policy(UserName="ci", PolicyName="assume-b", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]}))
out = {}
try:
    client("sts", other_key, other_secret).assume_role(RoleArn=role_arn, RoleSessionName="x1", ExternalId="from-a")
    out["other"] = "allowed"
except ClientError as e:
    out["other"] = e.response["Error"]["Code"]
try:
    client("sts", ci_key, ci_secret).assume_role(RoleArn=role_arn, RoleSessionName="x1")
    out["no_external_id"] = "allowed"
except ClientError as e:
    out["no_external_id"] = e.response["Error"]["Code"]
r = client("sts", ci_key, ci_secret).assume_role(RoleArn=role_arn, RoleSessionName="ci-42", ExternalId="from-a")
c = r["Credentials"]
out["assumed"] = r["AssumedRoleUser"]["Arn"]
ecr = client("ecr", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
out["caller"] = client("sts", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).get_caller_identity()["Arn"]
def push_blob(data):
    up = ecr.initiate_layer_upload(repositoryName="shared/app")
    ecr.upload_layer_part(repositoryName="shared/app", uploadId=up["uploadId"],
        partFirstByte=0, partLastByte=len(data) - 1, layerPartBlob=data)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    ecr.complete_layer_upload(repositoryName="shared/app", uploadId=up["uploadId"], layerDigests=[digest])
    return digest, len(data)
config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
layer = os.urandom(3000)
cd, cs = push_blob(config)
ld, ls = push_blob(layer)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ls}]})
ecr.put_image(repositoryName="shared/app", imageManifest=manifest, imageTag="v1")
images = client("ecr", b_key, b_secret).describe_images(repositoryName="shared/app")["imageDetails"]
out["tags"] = images[0]["imageTags"]
# A layer URL presigned under the session carries its token, and works.
import urllib.request
u = ecr.get_download_url_for_layer(repositoryName="shared/app", layerDigest=ld)["downloadUrl"]
out["url_has_token"] = "X-Amz-Security-Token=" in u
out["url_bytes_match"] = urllib.request.urlopen(u).read() == layer
# A repository policy naming a role grants its sessions (same account, no
# identity policy on the role).
b_admin_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111111111111:user/admin"}, "Action": "sts:AssumeRole"}]}
b_iam.create_role(RoleName="reader", AssumeRolePolicyDocument=json.dumps(b_admin_trust))
client("ecr", b_key, b_secret).set_repository_policy(repositoryName="shared/app", policyText=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111111111111:role/reader"}, "Action": ["ecr:DescribeImages"]}]}))
rc = client("sts", b_key, b_secret).assume_role(RoleArn="arn:aws:iam::111111111111:role/reader", RoleSessionName="r1")["Credentials"]
reader = client("ecr", rc["AccessKeyId"], rc["SecretAccessKey"], rc["SessionToken"])
out["reader_describe"] = len(reader.describe_images(repositoryName="shared/app")["imageDetails"])
try:
    reader.list_images(repositoryName="shared/app")
    out["reader_list"] = "allowed"
except ClientError as e:
    out["reader_list"] = e.response["Error"]["Code"]
try:
    ecr.delete_repository(repositoryName="shared/app", force=True)
    out["delete"] = "allowed"
except ClientError as e:
    out["delete"] = e.response["Error"]["Code"]
# Tenants: account A sees none of B's roles; nobody unsigned reaches STS.
out["a_sees_b_role"] = code(a_iam.get_role, RoleName="pusher")
from botocore import UNSIGNED
from botocore.config import Config
anon = boto3.client("sts", endpoint_url=url, region_name="us-east-1", config=Config(signature_version=UNSIGNED))
out["anonymous_assume"] = code(anon.assume_role, RoleArn=role_arn, RoleSessionName="anon")
anon_iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", config=Config(signature_version=UNSIGNED))
out["anonymous_get_role"] = code(anon_iam.get_role, RoleName="pusher")
print(json.dumps(out))
"#;

#[test]
fn a_ci_job_in_one_account_assumes_another_accounts_role_and_pushes_with_boto3() {
    let s = start();
    let (b_id, b_secret) = account_with_key(&s, "111111111111");
    let (ci_id, ci_secret) = user_with_key(&s, "ci");
    let (other_id, other_secret) = user_with_key(&s, "other");
    let out = python_json(
        &s,
        CROSS_ACCOUNT,
        &[
            &b_id,
            &b_secret,
            &ci_id,
            &ci_secret,
            &other_id,
            &other_secret,
        ],
    );
    assert_eq!(out["other"], "AccessDenied", "{out}");
    assert_eq!(out["no_external_id"], "AccessDenied", "{out}");
    assert_eq!(
        out["assumed"],
        "arn:aws:sts::111111111111:assumed-role/pusher/ci-42"
    );
    assert_eq!(out["caller"], out["assumed"]);
    assert_eq!(out["tags"], json!(["v1"]));
    assert_eq!(out["url_has_token"], true, "{out}");
    assert_eq!(out["url_bytes_match"], true, "{out}");
    assert_eq!(out["reader_describe"], 1, "{out}");
    assert_eq!(out["reader_list"], "AccessDeniedException", "{out}");
    assert_eq!(out["a_sees_b_role"], "NoSuchEntity", "{out}");
    assert_eq!(
        out["anonymous_assume"], "MissingAuthenticationToken",
        "{out}"
    );
    assert_eq!(
        out["anonymous_get_role"], "MissingAuthenticationToken",
        "{out}"
    );
    assert_eq!(
        out["delete"], "AccessDeniedException",
        "PowerUser does not delete"
    );
}

#[test]
fn an_eks_node_pulls_with_containerd_under_its_node_role() {
    if !tools::require("aws") || !tools::require("containerd") || !tools::require("ctr") {
        return;
    }
    let s = start();
    let root = s.aws_env("us-east-1");
    Api::new(&s).push_image("eks/app", &image::oci_image(203, 2, 3, 1_000), "v1");
    let (agent_id, agent_secret) = user_with_key(&s, "node-agent");
    create_role(
        &root,
        "eks-node",
        &trust(
            &format!("arn:aws:iam::{ACCOUNT}:user/node-agent"),
            json!({}),
        ),
        "3600",
    );
    ok(
        &root,
        &[
            "iam",
            "attach-role-policy",
            "--role-name",
            "eks-node",
            "--policy-arn",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        ],
    );
    let creds = ok(
        &env_for(&s, (&agent_id, &agent_secret)),
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &format!("arn:aws:iam::{ACCOUNT}:role/eks-node"),
            "--role-session-name",
            "i-0node",
        ],
    );
    let c = &creds["Credentials"];
    let token = berth_testkit::ecr::login_password_with_token(
        &s.raw_client(),
        &s.url(),
        (
            c["AccessKeyId"].as_str().unwrap(),
            c["SecretAccessKey"].as_str().unwrap(),
        ),
        c["SessionToken"].as_str(),
    );
    let user = format!("AWS:{token}");
    let dir = tempfile::tempdir().unwrap();
    let containerd = Containerd::start(dir.path());
    let reference = format!("{}/eks/app:v1", s.host());
    containerd.pull(&reference, Some(&user));
    // The image is unpacked into the snapshotter.
    let snapshots = containerd.ctr(&["snapshots", "--snapshotter", "native", "ls"]);
    let listed = String::from_utf8_lossy(&snapshots.stdout).lines().count();
    assert!(
        listed >= 3,
        "two layers unpacked:\n{}",
        String::from_utf8_lossy(&snapshots.stdout)
    );
    // The node role pulls only: a push with the same token is refused.
    let pushed = format!("{}/eks/app:copy", s.host());
    assert!(containerd
        .ctr(&["images", "tag", &reference, &pushed])
        .status
        .success());
    let push = containerd.ctr(&["images", "push", "--plain-http", "--user", &user, &pushed]);
    assert!(!push.status.success(), "a pull-only role pushed");
}

/// A CA and a server certificate it signed for `names`: (CA PEM, cert PEM,
/// key PEM).
fn ca_and_server_cert(names: &[&str]) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "berth test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// Removes a directory when dropped (the Docker daemon's trust for the
/// test's registry host).
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The Amazon ECR credential helper (Debian's `docker-credential-ecr-login`,
/// 0.6) pointed at berth as a node would use it: no `docker login`, only
/// `credHelpers` in the Docker config and the node role's credentials in
/// the environment. The helper has no endpoint setting (its AWS SDK
/// predates `AWS_ENDPOINT_URL`) and accepts only ECR's host names, so berth
/// answers as ECR's own names: `/etc/hosts` maps
/// `api.ecr.us-east-1.amazonaws.com` and the account's registry host to
/// 127.0.0.1, berth listens on 443 with a certificate for both
/// (`--domain amazonaws.com`), the helper trusts its CA through
/// `AWS_CA_BUNDLE`, and the Docker daemon through `/etc/docker/certs.d`.
#[test]
fn docker_pulls_through_the_amazon_ecr_credential_helper_under_a_node_role() {
    if !tools::require("aws")
        || !tools::require("docker")
        || !tools::require("docker-credential-ecr-login")
    {
        return;
    }
    let api_host = "api.ecr.us-east-1.amazonaws.com";
    let registry_host = format!("{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com");
    if !tools::resolve_to_loopback(api_host) || !tools::resolve_to_loopback(&registry_host) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = ca_and_server_cert(&[api_host, &registry_host]);
    let (ca_path, cert_path, key_path) = (
        dir.path().join("ca.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    std::fs::write(&ca_path, &ca).unwrap();
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let s = start_with(&[
        "--listen",
        "127.0.0.1:443",
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
        "--domain",
        "amazonaws.com",
    ]);
    Api::new(&s).push_image("helper/app", &image::oci_image(204, 1, 2, 500), "v1");

    // The node role, assumed by the node's user.
    // The aws CLI too reaches berth by the name its certificate holds.
    let by_name = |mut env: Vec<(&'static str, String)>| {
        for (k, v) in env.iter_mut() {
            if *k == "AWS_ENDPOINT_URL" {
                *v = format!("https://{api_host}");
            }
        }
        env.push(("AWS_CA_BUNDLE", ca_path.display().to_string()));
        env
    };
    let root = by_name(s.aws_env("us-east-1"));
    let (agent_id, agent_secret) = user_with_key(&s, "node-agent");
    create_role(
        &root,
        "node",
        &trust(
            &format!("arn:aws:iam::{ACCOUNT}:user/node-agent"),
            json!({}),
        ),
        "3600",
    );
    ok(
        &root,
        &[
            "iam",
            "attach-role-policy",
            "--role-name",
            "node",
            "--policy-arn",
            READ_ONLY,
        ],
    );
    let agent = by_name(env_for(&s, (&agent_id, &agent_secret)));
    let creds = ok(
        &agent,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            &format!("arn:aws:iam::{ACCOUNT}:role/node"),
            "--role-session-name",
            "i-0helper",
        ],
    );
    let c = &creds["Credentials"];

    // Docker: the helper for the registry's host, the daemon trusting the CA.
    let docker_config = dir.path().join("docker");
    std::fs::create_dir_all(&docker_config).unwrap();
    std::fs::write(
        docker_config.join("config.json"),
        json!({"credHelpers": {registry_host.clone(): "ecr-login"}}).to_string(),
    )
    .unwrap();
    let certs_d = std::path::PathBuf::from(format!("/etc/docker/certs.d/{registry_host}"));
    std::fs::create_dir_all(&certs_d).unwrap();
    let _trust = RemoveOnDrop(certs_d.clone());
    std::fs::write(certs_d.join("ca.crt"), &ca).unwrap();
    let role_env = [
        (
            "AWS_ACCESS_KEY_ID",
            c["AccessKeyId"].as_str().unwrap().to_string(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            c["SecretAccessKey"].as_str().unwrap().to_string(),
        ),
        (
            "AWS_SESSION_TOKEN",
            c["SessionToken"].as_str().unwrap().to_string(),
        ),
        ("AWS_REGION", "us-east-1".to_string()),
        // The helper's AWS SDK trusts the bundle this names (it ignores
        // SSL_CERT_FILE).
        ("AWS_CA_BUNDLE", ca_path.display().to_string()),
        (
            "AWS_ECR_CACHE_DIR",
            dir.path().join("ecr-cache").display().to_string(),
        ),
        ("HOME", dir.path().display().to_string()),
    ];
    // What docker asks the helper: the credentials for the registry host.
    let mut helper = std::process::Command::new("docker-credential-ecr-login")
        .arg("get")
        .envs(role_env.iter().cloned())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        helper
            .stdin
            .take()
            .unwrap()
            .write_all(registry_host.as_bytes())
            .unwrap();
    }
    let got = helper.wait_with_output().unwrap();
    assert!(
        got.status.success(),
        "the helper: {}{}\nits log: {}\n{}",
        String::from_utf8_lossy(&got.stdout),
        String::from_utf8_lossy(&got.stderr),
        std::fs::read_to_string(dir.path().join(".ecr/log/ecr-login.log")).unwrap_or_default(),
        s.log()
    );
    let got: Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(got["Username"], "AWS", "{got}");
    let reference = format!("{registry_host}/helper/app:v1");
    let pull = std::process::Command::new("docker")
        .args(["pull", &reference])
        .env("DOCKER_CONFIG", &docker_config)
        .env("HOME", dir.path())
        .env("AWS_ACCESS_KEY_ID", c["AccessKeyId"].as_str().unwrap())
        .env(
            "AWS_SECRET_ACCESS_KEY",
            c["SecretAccessKey"].as_str().unwrap(),
        )
        .env("AWS_SESSION_TOKEN", c["SessionToken"].as_str().unwrap())
        .env("AWS_REGION", "us-east-1")
        .env("SSL_CERT_FILE", &ca_path)
        .env("AWS_ECR_CACHE_DIR", dir.path().join("ecr-cache"))
        .output()
        .unwrap();
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &reference])
        .output();
    assert!(
        pull.status.success(),
        "docker pull through the credential helper: {}{}\n{}",
        String::from_utf8_lossy(&pull.stdout),
        String::from_utf8_lossy(&pull.stderr),
        s.log()
    );
}

/// Every IAM action for roles and groups and both STS actions through
/// boto3: the success path's shapes, and each documented error by code
/// (NoSuchEntity, EntityAlreadyExists, DeleteConflict, LimitExceeded,
/// MalformedPolicyDocument, ValidationError).
const EVERY_ACTION: &str = r#"
import boto3, json, os, sys
from botocore.config import Config
from botocore.exceptions import ClientError
# The server's own checks are under test: the client's are off.
cfg = Config(parameter_validation=False)
iam = boto3.client("iam", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1", config=cfg)
sts = boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1", config=cfg)
out = {}
def code(f, **kw):
    try:
        f(**kw)
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::000000000000:user/admin"}, "Action": "sts:AssumeRole"}]})
allow = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]})
ro = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"

# Roles.
r = iam.create_role(RoleName="app", Path="/svc/", AssumeRolePolicyDocument=trust,
    Description="the app", MaxSessionDuration=7200, Tags=[{"Key": "team", "Value": "ops"}])["Role"]
out["arn"] = r["Arn"]; out["role_id"] = r["RoleId"]; out["max"] = r["MaxSessionDuration"]
out["dup_role"] = code(iam.create_role, RoleName="APP", AssumeRolePolicyDocument=trust)
out["bad_trust"] = code(iam.create_role, RoleName="x1", AssumeRolePolicyDocument=allow)
out["bad_max"] = code(iam.create_role, RoleName="x2", AssumeRolePolicyDocument=trust, MaxSessionDuration=100000)
g = iam.get_role(RoleName="app")["Role"]
out["get_tags"] = g.get("Tags"); out["description"] = g.get("Description")
out["get_missing"] = code(iam.get_role, RoleName="nope")
out["list_roles"] = [x["RoleName"] for x in iam.list_roles(PathPrefix="/svc/")["Roles"]]
iam.update_role(RoleName="app", Description="changed", MaxSessionDuration=3600)
out["updated"] = iam.get_role(RoleName="app")["Role"]["MaxSessionDuration"]
out["update_missing"] = code(iam.update_role, RoleName="nope", Description="x")
out["update_bad_max"] = code(iam.update_role, RoleName="app", MaxSessionDuration=10)
out["role_description"] = iam.update_role_description(RoleName="app", Description="desc")["Role"]["Description"]
out["trust_update"] = code(iam.update_assume_role_policy, RoleName="app", PolicyDocument=trust)
out["trust_bad"] = code(iam.update_assume_role_policy, RoleName="app", PolicyDocument="{")
out["trust_missing"] = code(iam.update_assume_role_policy, RoleName="nope", PolicyDocument=trust)
iam.tag_role(RoleName="app", Tags=[{"Key": "env", "Value": "prod"}])
out["tags"] = iam.list_role_tags(RoleName="app")["Tags"]
out["too_many_tags"] = code(iam.tag_role, RoleName="app", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
iam.untag_role(RoleName="app", TagKeys=["env"])
out["tags_after"] = [t["Key"] for t in iam.list_role_tags(RoleName="app")["Tags"]]
out["tag_missing"] = code(iam.tag_role, RoleName="nope", Tags=[{"Key": "a", "Value": "b"}])
# Role policies.
iam.put_role_policy(RoleName="app", PolicyName="inline", PolicyDocument=allow)
out["get_role_policy"] = iam.get_role_policy(RoleName="app", PolicyName="inline")["PolicyDocument"]["Statement"][0]["Action"]
out["role_policies"] = iam.list_role_policies(RoleName="app")["PolicyNames"]
out["get_role_policy_missing"] = code(iam.get_role_policy, RoleName="app", PolicyName="nope")
out["put_role_policy_bad"] = code(iam.put_role_policy, RoleName="app", PolicyName="bad", PolicyDocument="{}")
out["put_role_policy_missing"] = code(iam.put_role_policy, RoleName="nope", PolicyName="p", PolicyDocument=allow)
iam.attach_role_policy(RoleName="app", PolicyArn=ro)
out["attached"] = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"]]
out["attach_missing_policy"] = code(iam.attach_role_policy, RoleName="app", PolicyArn="arn:aws:iam::000000000000:policy/none")
out["attach_missing_role"] = code(iam.attach_role_policy, RoleName="nope", PolicyArn=ro)
out["delete_with_inline"] = code(iam.delete_role, RoleName="app")
iam.delete_role_policy(RoleName="app", PolicyName="inline")
out["delete_role_policy_again"] = code(iam.delete_role_policy, RoleName="app", PolicyName="inline")
out["delete_with_attached"] = code(iam.delete_role, RoleName="app")
iam.detach_role_policy(RoleName="app", PolicyArn=ro)
out["detach_again"] = code(iam.detach_role_policy, RoleName="app", PolicyArn=ro)

# STS, before the role goes.
c = sts.assume_role(RoleArn=out["arn"], RoleSessionName="s1", DurationSeconds=900)
out["assumed_id"] = c["AssumedRoleUser"]["AssumedRoleId"]
out["key_prefix"] = c["Credentials"]["AccessKeyId"][:4]
out["bad_session_name"] = code(sts.assume_role, RoleArn=out["arn"], RoleSessionName="has space")
out["short_duration"] = code(sts.assume_role, RoleArn=out["arn"], RoleSessionName="s1", DurationSeconds=899)
out["long_duration"] = code(sts.assume_role, RoleArn=out["arn"], RoleSessionName="s1", DurationSeconds=3601)
out["missing_role"] = code(sts.assume_role, RoleArn="arn:aws:iam::000000000000:role/nope", RoleSessionName="s1")
out["bad_session_policy"] = code(sts.assume_role, RoleArn=out["arn"], RoleSessionName="s1", Policy="{")
out["big_session_policy"] = code(sts.assume_role, RoleArn=out["arn"], RoleSessionName="s1",
    Policy=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Sid": "x" * 2100}]}))
packed = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*", "Sid": "x" * 1500}]})
out["packed_too_large"] = code(sts.assume_role, RoleArn=out["arn"], RoleSessionName="s1", Policy=packed,
    PolicyArns=[{"arn": "arn:aws:iam::000000000000:policy/" + "p" * 90 + str(i)} for i in range(10)])
t = sts.get_session_token(DurationSeconds=900)["Credentials"]
out["session_token_prefix"] = t["AccessKeyId"][:4]
out["session_token_long"] = code(sts.get_session_token, DurationSeconds=129601)
out["session_tags"] = code(sts.assume_role, RoleArn=out["arn"], RoleSessionName="s1", Tags=[{"Key": "a", "Value": "b"}])
iam.delete_role(RoleName="app")
out["delete_again"] = code(iam.delete_role, RoleName="app")

# Groups.
iam.create_user(UserName="u1")
gr = iam.create_group(GroupName="devs", Path="/eng/")["Group"]
out["group_arn"] = gr["Arn"]; out["group_id"] = gr["GroupId"]
out["dup_group"] = code(iam.create_group, GroupName="DEVS")
out["list_groups"] = [x["GroupName"] for x in iam.list_groups(PathPrefix="/eng/")["Groups"]]
iam.add_user_to_group(GroupName="devs", UserName="u1")
iam.add_user_to_group(GroupName="devs", UserName="u1")
out["members"] = [u["UserName"] for u in iam.get_group(GroupName="devs")["Users"]]
out["groups_for_user"] = [x["GroupName"] for x in iam.list_groups_for_user(UserName="u1")["Groups"]]
out["add_missing_user"] = code(iam.add_user_to_group, GroupName="devs", UserName="nobody")
out["add_missing_group"] = code(iam.add_user_to_group, GroupName="nope", UserName="u1")
out["get_group_missing"] = code(iam.get_group, GroupName="nope")
iam.put_group_policy(GroupName="devs", PolicyName="inline", PolicyDocument=allow)
out["group_policies"] = iam.list_group_policies(GroupName="devs")["PolicyNames"]
out["get_group_policy"] = iam.get_group_policy(GroupName="devs", PolicyName="inline")["PolicyName"]
out["get_group_policy_missing"] = code(iam.get_group_policy, GroupName="devs", PolicyName="nope")
iam.attach_group_policy(GroupName="devs", PolicyArn=ro)
out["group_attached"] = [p["PolicyArn"] for p in iam.list_attached_group_policies(GroupName="devs")["AttachedPolicies"]]
out["delete_user_in_group"] = code(iam.delete_user, UserName="u1")
out["delete_group_with_members"] = code(iam.delete_group, GroupName="devs")
iam.remove_user_from_group(GroupName="devs", UserName="u1")
out["delete_group_with_inline"] = code(iam.delete_group, GroupName="devs")
iam.delete_group_policy(GroupName="devs", PolicyName="inline")
out["delete_group_with_attached"] = code(iam.delete_group, GroupName="devs")
iam.detach_group_policy(GroupName="devs", PolicyArn=ro)
iam.delete_group(GroupName="devs")
out["delete_group_again"] = code(iam.delete_group, GroupName="devs")
print(json.dumps(out))
"#;

#[test]
fn every_role_group_and_sts_action_answers_with_boto3() {
    let s = start();
    let o = python_json(&s, EVERY_ACTION, &[]);
    let expect = json!({
        "arn": format!("arn:aws:iam::{ACCOUNT}:role/svc/app"),
        "max": 7200,
        "dup_role": "EntityAlreadyExists",
        "bad_trust": "MalformedPolicyDocument",
        "bad_max": "ValidationError",
        "get_tags": [{"Key": "team", "Value": "ops"}],
        "description": "the app",
        "get_missing": "NoSuchEntity",
        "list_roles": ["app"],
        "updated": 3600,
        "update_missing": "NoSuchEntity",
        "update_bad_max": "ValidationError",
        "role_description": "desc",
        "trust_update": "ok",
        "trust_bad": "MalformedPolicyDocument",
        "trust_missing": "NoSuchEntity",
        "tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "ops"}],
        "too_many_tags": "LimitExceeded",
        "tags_after": ["team"],
        "tag_missing": "NoSuchEntity",
        "get_role_policy": "ecr:*",
        "role_policies": ["inline"],
        "get_role_policy_missing": "NoSuchEntity",
        "put_role_policy_bad": "MalformedPolicyDocument",
        "put_role_policy_missing": "NoSuchEntity",
        "attached": ["AmazonEC2ContainerRegistryReadOnly"],
        "attach_missing_policy": "NoSuchEntity",
        "attach_missing_role": "NoSuchEntity",
        "delete_with_inline": "DeleteConflict",
        "delete_role_policy_again": "NoSuchEntity",
        "delete_with_attached": "DeleteConflict",
        "detach_again": "NoSuchEntity",
        "key_prefix": "ASIA",
        "bad_session_name": "ValidationError",
        "short_duration": "ValidationError",
        "long_duration": "ValidationError",
        "missing_role": "AccessDenied",
        "bad_session_policy": "MalformedPolicyDocument",
        "big_session_policy": "ValidationError",
        "packed_too_large": "PackedPolicyTooLarge",
        "session_token_prefix": "ASIA",
        "session_token_long": "ValidationError",
        "session_tags": "ValidationError",
        "delete_again": "NoSuchEntity",
        "group_arn": format!("arn:aws:iam::{ACCOUNT}:group/eng/devs"),
        "dup_group": "EntityAlreadyExists",
        "list_groups": ["devs"],
        "members": ["u1"],
        "groups_for_user": ["devs"],
        "add_missing_user": "NoSuchEntity",
        "add_missing_group": "NoSuchEntity",
        "get_group_missing": "NoSuchEntity",
        "group_policies": ["inline"],
        "get_group_policy": "inline",
        "get_group_policy_missing": "NoSuchEntity",
        "group_attached": [READ_ONLY],
        "delete_user_in_group": "DeleteConflict",
        "delete_group_with_members": "DeleteConflict",
        "delete_group_with_inline": "DeleteConflict",
        "delete_group_with_attached": "DeleteConflict",
        "delete_group_again": "NoSuchEntity",
    });
    for (k, want) in expect.as_object().unwrap() {
        assert_eq!(&o[k], want, "{k}: {o}");
    }
    let role_id = o["role_id"].as_str().unwrap();
    assert!(
        role_id.starts_with("AROA") && role_id.len() == 21,
        "{role_id}"
    );
    assert_eq!(o["assumed_id"], format!("{role_id}:s1"));
    assert!(o["group_id"].as_str().unwrap().starts_with("AGPA"));
}
