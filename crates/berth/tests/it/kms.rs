//! The KMS API (`TrentService`) as boto3 and the `aws` CLI drive it: every
//! operation berth implements, its documented errors by name, key states
//! stopping and restoring use, key policies with IAM policies, grants
//! (ECR's own per repository among them), and tenants kept apart
//! (generated from the operation table). Under `CI=true` a
//! missing client fails the test.

use crate::common::*;
use serde_json::{json, Value};

const OWNER: &str = "000000000000";
const OTHER: &str = "111111111111";
/// The root access key, of account `OWNER`.
const OWNER_KEYS: (&str, &str) = (
    berth_testkit::ROOT_ACCESS_KEY_ID,
    berth_testkit::ROOT_SECRET_ACCESS_KEY,
);

/// Every implemented operation's success path and each documented error,
/// by code, with botocore's own checks off so that berth's are tested.
const EVERY_OPERATION: &str = r#"
import base64, boto3, json, os, sys
from botocore.config import Config
from botocore.exceptions import ClientError
cfg = Config(parameter_validation=False)
url = os.environ["AWS_ENDPOINT_URL"]
kms = boto3.client("kms", endpoint_url=url, region_name="us-east-1", config=cfg)
app_key, app_secret = sys.argv[1:3]
app = boto3.client("kms", endpoint_url=url, region_name="us-east-1", config=cfg,
    aws_access_key_id=app_key, aws_secret_access_key=app_secret)
out = {}
def code(f, **kw):
    try:
        f(**kw)
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]

k = kms.create_key(Description="app key", Tags=[{"TagKey": "team", "TagValue": "blue"}])["KeyMetadata"]
out["create"] = {x: k[x] for x in ["KeyState", "Enabled", "KeyUsage", "KeySpec", "KeyManager", "Origin", "Description", "AWSAccountId"]}
out["arn_ok"] = k["Arn"] == "arn:aws:kms:us-east-1:000000000000:key/" + k["KeyId"]
kid = k["KeyId"]
out["create_rsa"] = code(kms.create_key, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")
out["create_bad_policy"] = code(kms.create_key, Policy="{not json")
out["create_lockout"] = code(kms.create_key, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/app"}, "Action": "kms:Encrypt", "Resource": "*"}]}))
out["create_aws_tag"] = code(kms.create_key, Tags=[{"TagKey": "aws:x", "TagValue": "y"}])

out["describe_by_arn"] = kms.describe_key(KeyId=k["Arn"])["KeyMetadata"]["KeyId"] == kid
out["describe_missing"] = code(kms.describe_key, KeyId="00000000-0000-0000-0000-000000000000")
out["describe_bad_arn"] = code(kms.describe_key, KeyId="arn:aws:s3:::bucket")
k2 = kms.create_key()["KeyMetadata"]["KeyId"]
page = kms.list_keys(Limit=1)
out["list_page"] = [len(page["Keys"]), page["Truncated"]]
rest = kms.list_keys(Marker=page["NextMarker"])
out["list_all"] = sorted([x["KeyId"] for x in page["Keys"] + rest["Keys"]]) == sorted([kid, k2])
out["list_bad_limit"] = code(kms.list_keys, Limit=5000)

# Aliases.
kms.create_alias(AliasName="alias/app", TargetKeyId=kid)
out["alias_exists"] = code(kms.create_alias, AliasName="alias/app", TargetKeyId=k2)
out["alias_reserved"] = code(kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=kid)
out["alias_no_prefix"] = code(kms.create_alias, AliasName="app", TargetKeyId=kid)
out["alias_missing_key"] = code(kms.create_alias, AliasName="alias/x", TargetKeyId="00000000-0000-0000-0000-000000000000")
out["describe_by_alias"] = kms.describe_key(KeyId="alias/app")["KeyMetadata"]["KeyId"] == kid
aliases = kms.list_aliases()["Aliases"]
out["aliases"] = [[a["AliasName"], a["TargetKeyId"] == kid, a["AliasArn"]] for a in aliases]
kms.update_alias(AliasName="alias/app", TargetKeyId=k2)
out["alias_moved"] = kms.describe_key(KeyId="alias/app")["KeyMetadata"]["KeyId"] == k2
out["update_missing_alias"] = code(kms.update_alias, AliasName="alias/none", TargetKeyId=kid)
out["aliases_of_k2"] = [a["AliasName"] for a in kms.list_aliases(KeyId=k2)["Aliases"]]
kms.delete_alias(AliasName="alias/app")
out["delete_missing_alias"] = code(kms.delete_alias, AliasName="alias/app")
kms.create_alias(AliasName="alias/app", TargetKeyId=kid)

# Encrypt, Decrypt, ReEncrypt, data keys, random bytes.
ctx = {"repo": "app"}
enc = kms.encrypt(KeyId="alias/app", Plaintext=b"build secret", EncryptionContext=ctx)
out["encrypt_key"] = enc["KeyId"] == k["Arn"]
dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx)
out["decrypt"] = [dec["Plaintext"].decode(), dec["KeyId"] == k["Arn"], dec["EncryptionAlgorithm"]]
out["decrypt_wrong_context"] = code(kms.decrypt, CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"repo": "other"})
out["decrypt_wrong_key"] = code(kms.decrypt, CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx, KeyId=k2)
out["decrypt_garbage"] = code(kms.decrypt, CiphertextBlob=b"not a ciphertext at all, really")
out["encrypt_too_large"] = code(kms.encrypt, KeyId=kid, Plaintext=b"x" * 4097)
out["encrypt_rsa_algorithm"] = code(kms.encrypt, KeyId=kid, Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
out["encrypt_dry_run"] = code(kms.encrypt, KeyId=kid, Plaintext=b"x", DryRun=True)
re = kms.re_encrypt(CiphertextBlob=enc["CiphertextBlob"], SourceEncryptionContext=ctx, DestinationKeyId=k2)
out["re_encrypt"] = [re["SourceKeyId"] == k["Arn"], re["KeyId"].endswith(k2)]
out["re_decrypt"] = kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"].decode()
dk = kms.generate_data_key(KeyId=kid, KeySpec="AES_256", EncryptionContext=ctx)
out["data_key"] = [len(dk["Plaintext"]), kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == dk["Plaintext"]]
dk2 = kms.generate_data_key_without_plaintext(KeyId=kid, NumberOfBytes=64)
out["data_key_without"] = ["Plaintext" in dk2, len(kms.decrypt(CiphertextBlob=dk2["CiphertextBlob"])["Plaintext"])]
out["data_key_both"] = code(kms.generate_data_key, KeyId=kid, KeySpec="AES_256", NumberOfBytes=32)
out["data_key_neither"] = code(kms.generate_data_key, KeyId=kid)
out["data_key_too_many"] = code(kms.generate_data_key, KeyId=kid, NumberOfBytes=2048)
out["random"] = len(kms.generate_random(NumberOfBytes=48)["Plaintext"])
out["random_bad"] = code(kms.generate_random, NumberOfBytes=0)

# States: disabled stops use, enabled restores it.
kms.disable_key(KeyId=kid)
out["disabled_state"] = kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"]
out["encrypt_disabled"] = code(kms.encrypt, KeyId=kid, Plaintext=b"x")
out["decrypt_disabled"] = code(kms.decrypt, CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx)
out["rotate_disabled"] = code(kms.rotate_key_on_demand, KeyId=kid)
kms.enable_key(KeyId=kid)
out["decrypt_enabled"] = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"].decode()
out["enable_by_alias"] = code(kms.enable_key, KeyId="alias/app")

# Rotation.
out["rotation_off"] = kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"]
kms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=180)
st = kms.get_key_rotation_status(KeyId=kid)
out["rotation_on"] = [st["KeyRotationEnabled"], st["RotationPeriodInDays"], "NextRotationDate" in st]
out["rotation_bad_period"] = code(kms.enable_key_rotation, KeyId=kid, RotationPeriodInDays=30)
kms.disable_key_rotation(KeyId=kid)
out["rotation_disabled_again"] = kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"]
kms.rotate_key_on_demand(KeyId=kid)
out["rotations"] = [r["RotationType"] for r in kms.list_key_rotations(KeyId=kid)["Rotations"]]
out["old_after_rotation"] = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"].decode()
out["new_material"] = kms.describe_key(KeyId=kid)["KeyMetadata"]["CurrentKeyMaterialId"] != dec.get("KeyMaterialId")

# Policies.
out["policy_names"] = kms.list_key_policies(KeyId=kid)["PolicyNames"]
pol = json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"])
out["default_policy"] = [pol["Id"], pol["Statement"][0]["Principal"]["AWS"], pol["Statement"][0]["Action"]]
out["policy_other_name"] = code(kms.get_key_policy, KeyId=kid, PolicyName="other")
out["app_before"] = code(app.encrypt, KeyId=k["Arn"], Plaintext=b"x")
pol["Statement"].append({"Sid": "app", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/app"},
    "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"})
kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(pol))
out["app_after"] = code(app.encrypt, KeyId=k["Arn"], Plaintext=b"x")
out["app_disable"] = code(app.disable_key, KeyId=kid)
out["app_list_keys"] = code(app.list_keys)
out["put_malformed"] = code(kms.put_key_policy, KeyId=kid, PolicyName="default", Policy="[]")
out["put_lockout"] = code(kms.put_key_policy, KeyId=kid, PolicyName="default", Policy=json.dumps(
    {"Version": "2012-10-17", "Statement": [pol["Statement"][-1]]}))

# Description and tags.
kms.update_key_description(KeyId=kid, Description="renamed")
out["description"] = kms.describe_key(KeyId=kid)["KeyMetadata"]["Description"]
kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "team", "TagValue": "red"}])
out["tags"] = kms.list_resource_tags(KeyId=kid)["Tags"]
kms.untag_resource(KeyId=kid, TagKeys=["team"])
out["tags_after"] = [t["TagKey"] for t in kms.list_resource_tags(KeyId=kid)["Tags"]]
out["tag_reserved"] = code(kms.tag_resource, KeyId=kid, Tags=[{"TagKey": "aws:x", "TagValue": "y"}])
out["tag_too_many"] = code(kms.tag_resource, KeyId=kid, Tags=[{"TagKey": "t%d" % i, "TagValue": "v"} for i in range(50)])

# Deletion: the window, the state's refusals, cancelling.
d = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
out["schedule"] = [d["KeyState"], d["PendingWindowInDays"], d["KeyId"] == k["Arn"], "DeletionDate" in d]
out["schedule_again"] = code(kms.schedule_key_deletion, KeyId=kid)
out["schedule_bad_window"] = code(kms.schedule_key_deletion, KeyId=k2, PendingWindowInDays=3)
out["encrypt_pending"] = code(kms.encrypt, KeyId=kid, Plaintext=b"x")
out["enable_pending"] = code(kms.enable_key, KeyId=kid)
out["tag_pending"] = code(kms.tag_resource, KeyId=kid, Tags=[{"TagKey": "a", "TagValue": "b"}])
out["describe_pending"] = kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"]
out["cancel"] = kms.cancel_key_deletion(KeyId=kid)["KeyId"] == k["Arn"]
out["cancel_again"] = code(kms.cancel_key_deletion, KeyId=kid)
out["after_cancel"] = kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"]

# The AWS-managed ECR key, made on first use; operations berth lacks.
m = kms.describe_key(KeyId="alias/aws/ecr")["KeyMetadata"]
out["managed"] = [m["KeyManager"], m["KeyState"]]
out["sign"] = code(kms.sign, KeyId=kid, Message=b"x", SigningAlgorithm="RSASSA_PSS_SHA_256")
print(json.dumps(out))
"#;

#[test]
fn every_kms_operation_and_its_errors_with_boto3() {
    if !berth_testkit::tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let (app_id, app_secret) = user_with_key(&s, "app");
    let out = python_json(&s, EVERY_OPERATION, &[&app_id, &app_secret]);
    let expect = json!({
        "create": {"KeyState": "Enabled", "Enabled": true, "KeyUsage": "ENCRYPT_DECRYPT",
            "KeySpec": "SYMMETRIC_DEFAULT", "KeyManager": "CUSTOMER", "Origin": "AWS_KMS",
            "Description": "app key", "AWSAccountId": OWNER},
        "arn_ok": true,
        "create_rsa": "UnsupportedOperationException",
        "create_bad_policy": "MalformedPolicyDocumentException",
        "create_lockout": "MalformedPolicyDocumentException",
        "create_aws_tag": "TagException",
        "describe_by_arn": true,
        "describe_missing": "NotFoundException",
        "describe_bad_arn": "InvalidArnException",
        "list_page": [1, true],
        "list_all": true,
        "list_bad_limit": "ValidationException",
        "alias_exists": "AlreadyExistsException",
        "alias_reserved": "InvalidAliasNameException",
        "alias_no_prefix": "InvalidAliasNameException",
        "alias_missing_key": "NotFoundException",
        "describe_by_alias": true,
        "aliases": [["alias/app", true, "arn:aws:kms:us-east-1:000000000000:alias/app"]],
        "alias_moved": true,
        "update_missing_alias": "NotFoundException",
        "aliases_of_k2": ["alias/app"],
        "delete_missing_alias": "NotFoundException",
        "encrypt_key": true,
        "decrypt": ["build secret", true, "SYMMETRIC_DEFAULT"],
        "decrypt_wrong_context": "InvalidCiphertextException",
        "decrypt_wrong_key": "IncorrectKeyException",
        "decrypt_garbage": "InvalidCiphertextException",
        "encrypt_too_large": "ValidationException",
        "encrypt_rsa_algorithm": "InvalidKeyUsageException",
        "encrypt_dry_run": "DryRunOperationException",
        "re_encrypt": [true, true],
        "re_decrypt": "build secret",
        "data_key": [32, true],
        "data_key_without": [false, 64],
        "data_key_both": "ValidationException",
        "data_key_neither": "ValidationException",
        "data_key_too_many": "ValidationException",
        "random": 48,
        "random_bad": "ValidationException",
        "disabled_state": "Disabled",
        "encrypt_disabled": "DisabledException",
        "decrypt_disabled": "DisabledException",
        "rotate_disabled": "DisabledException",
        "decrypt_enabled": "build secret",
        "enable_by_alias": "NotFoundException",
        "rotation_off": false,
        "rotation_on": [true, 180, true],
        "rotation_bad_period": "ValidationException",
        "rotation_disabled_again": false,
        "rotations": ["ON_DEMAND"],
        "old_after_rotation": "build secret",
        "new_material": true,
        "policy_names": ["default"],
        "default_policy": ["key-default-1", "arn:aws:iam::000000000000:root", "kms:*"],
        "policy_other_name": "NotFoundException",
        "app_before": "AccessDeniedException",
        "app_after": "ok",
        "app_disable": "AccessDeniedException",
        "app_list_keys": "AccessDeniedException",
        "put_malformed": "MalformedPolicyDocumentException",
        "put_lockout": "MalformedPolicyDocumentException",
        "description": "renamed",
        "tags": [{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "team", "TagValue": "red"}],
        "tags_after": ["env"],
        "tag_reserved": "TagException",
        "tag_too_many": "LimitExceededException",
        "schedule": ["PendingDeletion", 7, true, true],
        "schedule_again": "KMSInvalidStateException",
        "schedule_bad_window": "ValidationException",
        "encrypt_pending": "KMSInvalidStateException",
        "enable_pending": "KMSInvalidStateException",
        "tag_pending": "KMSInvalidStateException",
        "describe_pending": "PendingDeletion",
        "cancel": true,
        "cancel_again": "KMSInvalidStateException",
        "after_cancel": "Disabled",
        "managed": ["AWS", "Enabled"],
        "sign": "UnsupportedOperationException",
    });
    for (k, v) in expect.as_object().unwrap() {
        assert_eq!(&out[k], v, "{k}: {out}");
    }
}

/// The seeds' flow on the CLI: create a key and an alias, encrypt and
/// decrypt through the alias, disable the key (refused with
/// DisabledException and AWS's wording), enable it (works again).
#[test]
fn the_aws_cli_manages_a_key_and_disabling_it_stops_its_use() {
    if !berth_testkit::tools::require("aws") {
        return;
    }
    let s = start();
    let env = s.aws_env("us-east-1");
    let run = |args: &[&str]| json_of(args, aws_with(&env, args));
    let (id, arn) = key_named_app(&run);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::write(&plain, b"db password").unwrap();
    let enc = run(&[
        "kms",
        "encrypt",
        "--key-id",
        "alias/app",
        "--plaintext",
        &format!("fileb://{}", plain.display()),
        "--encryption-context",
        "app=web",
    ]);
    assert_eq!(enc["KeyId"], arn.as_str());
    let blob = dir.path().join("blob");
    use base64::Engine as _;
    std::fs::write(
        &blob,
        base64::engine::general_purpose::STANDARD
            .decode(enc["CiphertextBlob"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let blob_arg = format!("fileb://{}", blob.display());
    let decrypt = [
        "kms",
        "decrypt",
        "--ciphertext-blob",
        &blob_arg,
        "--encryption-context",
        "app=web",
    ];
    let dec = run(&decrypt);
    let got = base64::engine::general_purpose::STANDARD
        .decode(dec["Plaintext"].as_str().unwrap())
        .unwrap();
    assert_eq!(got, b"db password");

    run(&["kms", "disable-key", "--key-id", &id]);
    let refused = aws_with(&env, &decrypt);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        err.contains("DisabledException") && err.contains(&format!("{arn} is disabled.")),
        "{err}"
    );
    run(&["kms", "enable-key", "--key-id", &id]);
    assert_eq!(run(&decrypt)["KeyId"], arn.as_str());

    let listed = run(&["kms", "list-aliases", "--key-id", &id]);
    assert_eq!(listed["Aliases"][0]["AliasName"], "alias/app");
    let sched = run(&[
        "kms",
        "schedule-key-deletion",
        "--key-id",
        &id,
        "--pending-window-in-days",
        "7",
    ]);
    assert_eq!(sched["KeyState"], "PendingDeletion");
    let refused = aws_with(&env, &decrypt);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("KMSInvalidStateException"));
}

/// Tenants: another account's admin (AdministratorAccess there) is refused
/// every KMS operation on this account's key, named by ARN, until the
/// key's policy lets that account in; then its own IAM policies decide.
/// An anonymous caller is refused every operation, even on a server whose
/// `/v2` lets anonymous callers pull.
#[test]
fn another_accounts_admin_is_refused_every_kms_operation_on_a_key() {
    let s = start_with(&["--allow-anonymous", "pull"]);
    let client = s.raw_client();
    let owner = OWNER_KEYS;
    let call = |key: (&str, &str), op: &str, input: &Value| {
        berth_testkit::kms::call(&client, &s.url(), key, "us-east-1", op, input)
    };
    let key = call(owner, "CreateKey", &json!({})).unwrap();
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let blob = call(
        owner,
        "Encrypt",
        &json!({"KeyId": arn, "Plaintext": "c2VjcmV0"}),
    )
    .unwrap()["CiphertextBlob"]
        .clone();
    let (b_id, b_secret) = account_with_key(&s, OTHER);
    let b = (b_id.as_str(), b_secret.as_str());
    let input = json!({
        "KeyId": arn,
        "DestinationKeyId": arn,
        "TargetKeyId": arn,
        "AliasName": "alias/reach",
        "CiphertextBlob": blob,
        "Plaintext": "eA==",
        "KeySpec": "AES_256",
        "Policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
        "PolicyName": "default",
        "Tags": [{"TagKey": "a", "TagValue": "b"}],
        "TagKeys": ["a"],
        "Description": "mine now",
        "GranteePrincipal": format!("arn:aws:iam::{OTHER}:user/admin"),
        "Operations": ["Decrypt"],
        "GrantId": "0".repeat(64),
        "RetiringPrincipal": format!("arn:aws:iam::{OWNER}:user/admin"),
    });
    // Operations on the caller's own account only: nothing of A's is
    // reachable through them (UpdateAlias and DeleteAlias name B's own
    // aliases; ListAliases lists B's; ListRetirableGrants takes only a
    // principal of B's account, and lists what names it: checked below).
    let own_account = [
        "CreateKey",
        "ListKeys",
        "ListAliases",
        "GenerateRandom",
        "UpdateAlias",
        "DeleteAlias",
        "ListRetirableGrants",
    ];
    let mut refused = 0;
    for op in berth_server::kms::IMPLEMENTED_OPERATIONS {
        if own_account.contains(op) {
            continue;
        }
        let (_, err) = call(b, op, &input).expect_err(&format!("{op}: account B reached A's key"));
        assert_eq!(err["__type"], "AccessDeniedException", "{op}: {err}");
        let msg = err["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!("arn:aws:iam::{OTHER}:user/admin")) && msg.contains(&arn),
            "{op}: {msg}"
        );
        refused += 1;
    }
    assert_eq!(
        refused,
        berth_server::kms::IMPLEMENTED_OPERATIONS.len() - own_account.len()
    );
    // The key is as it was.
    let after = call(owner, "DescribeKey", &json!({"KeyId": arn})).unwrap();
    assert_eq!(after["KeyMetadata"]["KeyState"], "Enabled");
    assert_eq!(after["KeyMetadata"]["Description"], "");
    // B's own lists show nothing of A's, but a grant A made naming a
    // principal of B's as its retiring principal, as on AWS; B may not ask
    // about A's principals.
    let listed = call(b, "ListKeys", &json!({})).unwrap();
    assert_eq!(listed["Keys"], json!([]));
    let retirable = |principal: String| {
        call(
            b,
            "ListRetirableGrants",
            &json!({ "RetiringPrincipal": principal }),
        )
    };
    let b_admin = format!("arn:aws:iam::{OTHER}:user/admin");
    assert_eq!(retirable(b_admin.clone()).unwrap()["Grants"], json!([]));
    let named_b = call(
        owner,
        "CreateGrant",
        &json!({"KeyId": arn, "GranteePrincipal": format!("arn:aws:iam::{OWNER}:user/admin"),
            "Operations": ["Decrypt"], "RetiringPrincipal": b_admin}),
    )
    .unwrap();
    let listed = retirable(b_admin.clone()).unwrap();
    assert_eq!(listed["Grants"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["Grants"][0]["GrantId"], named_b["GrantId"]);
    assert_eq!(listed["Grants"][0]["KeyId"], arn.as_str());
    let (_, err) = retirable(format!("arn:aws:iam::{OWNER}:user/admin")).unwrap_err();
    assert_eq!(err["__type"], "AccessDeniedException", "{err}");

    // A's key policy lets account B use the key: B's admin (whose IAM
    // policies allow kms:*) may then decrypt, and may not once A removes
    // the statement.
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:root")}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OTHER}:root")}, "Action": "kms:Decrypt", "Resource": "*"}]});
    call(
        owner,
        "PutKeyPolicy",
        &json!({"KeyId": arn, "Policy": policy.to_string()}),
    )
    .unwrap();
    let dec = call(b, "Decrypt", &json!({"CiphertextBlob": blob})).unwrap();
    assert_eq!(dec["Plaintext"], "c2VjcmV0");
    let (_, err) = call(b, "Encrypt", &json!({"KeyId": arn, "Plaintext": "eA=="})).unwrap_err();
    assert_eq!(err["__type"], "AccessDeniedException");
    // Unsigned and unknown callers never get as far as a key.
    let (status, err) = call(
        ("AKIAUNKNOWNKEY000000", "x"),
        "DescribeKey",
        &json!({"KeyId": arn}),
    )
    .unwrap_err();
    assert_eq!(
        (status, err["__type"].as_str()),
        (400, Some("UnrecognizedClientException"))
    );
    // An anonymous caller (no signature at all) is refused every
    // operation of the table, on this server that also lets anonymous
    // callers pull, and the key is untouched.
    for op in berth_server::kms::IMPLEMENTED_OPERATIONS {
        let r = client
            .post(format!("{}/", s.url()))
            .header("x-amz-target", format!("TrentService.{op}"))
            .header("content-type", "application/x-amz-json-1.1")
            .body(input.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{op}");
        let err: Value = r.json().unwrap();
        assert_eq!(
            err["__type"], "MissingAuthenticationTokenException",
            "{op}: {err}"
        );
    }
    let after = call(owner, "DescribeKey", &json!({"KeyId": arn})).unwrap();
    assert_eq!(after["KeyMetadata"]["KeyState"], "Enabled");
}

/// The issue's flow for a repository under a customer key: created with
/// the aws CLI (`encryptionType=KMS,kmsKey=alias/app`, reported with the
/// key's ARN), pushed and pulled; the key disabled refuses pushes and
/// pulls (KmsException with kmsError on the ECR API, DENIED on /v2), and
/// enabled again restores everything. A user with ECR permissions but no
/// KMS permission cannot push or pull until an IAM policy lets it use the
/// key; KMS without a key uses the AWS-managed `alias/aws/ecr`, which any
/// user of the account may use through ECR.
#[test]
fn a_kms_repository_follows_its_key() {
    if !berth_testkit::tools::require("aws") {
        return;
    }
    let s = start();
    let env = s.aws_env("us-east-1");
    let run = |args: &[&str]| json_of(args, aws_with(&env, args));
    let (id, arn) = key_named_app(&run);
    let repo = run(&[
        "ecr",
        "create-repository",
        "--repository-name",
        "kms/app",
        "--encryption-configuration",
        "encryptionType=KMS,kmsKey=alias/app",
    ]);
    assert_eq!(
        repo["repository"]["encryptionConfiguration"],
        json!({"encryptionType": "KMS", "kmsKey": arn})
    );
    let described = run(&[
        "ecr",
        "describe-repositories",
        "--repository-names",
        "kms/app",
    ]);
    assert_eq!(
        described["repositories"][0]["encryptionConfiguration"]["kmsKey"],
        arn.as_str()
    );

    let admin = Api::new(&s);
    let img = berth_testkit::image::oci_image(21, 2, 2, 4096);
    admin.push_image("kms/app", &img, "v1");
    let manifest_path = "/v2/kms/app/manifests/v1";
    assert_eq!(admin.get(manifest_path).bytes().unwrap(), img.manifest);

    // Disabled: pushes and pulls refused, on /v2 and on the ECR API.
    run(&["kms", "disable-key", "--key-id", &id]);
    let r = admin.get(manifest_path);
    assert_eq!(r.status(), 403);
    let text = r.text().unwrap();
    assert!(
        text.contains("DENIED") && text.contains(&format!("{arn} is disabled.")),
        "{text}"
    );
    let r = admin
        .client
        .post(admin.url("/v2/kms/app/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let owner = OWNER_KEYS;
    let ecr = |key: (&str, &str), op: &str, input: Value| {
        berth_testkit::ecr::call(&s.raw_client(), &s.url(), key, "us-east-1", op, &input)
    };
    let get_image = json!({"repositoryName": "kms/app", "imageIds": [{"imageTag": "v1"}]});
    let (_, err) = ecr(owner, "BatchGetImage", get_image.clone()).unwrap_err();
    assert_eq!(err["__type"], "KmsException", "{err}");
    assert_eq!(err["kmsError"], "DisabledException", "{err}");
    let (_, err) = ecr(
        owner,
        "InitiateLayerUpload",
        json!({"repositoryName": "kms/app"}),
    )
    .unwrap_err();
    assert_eq!(err["kmsError"], "DisabledException", "{err}");
    // Listing needs no key.
    ecr(owner, "ListImages", json!({"repositoryName": "kms/app"})).unwrap();

    // Enabled again: nothing was lost.
    run(&["kms", "enable-key", "--key-id", &id]);
    assert_eq!(admin.get(manifest_path).bytes().unwrap(), img.manifest);
    let layer = &img.layers[0];
    let blob = admin.get(&format!(
        "/v2/kms/app/blobs/{}",
        berth_testkit::image::sha256(&layer.bytes)
    ));
    assert_eq!(blob.bytes().unwrap(), layer.bytes);

    // A user with ECR's PowerUser policy and no KMS permission.
    let (dev_id, dev_secret) = user_with_key(&s, "dev");
    attach_power_user(&s, "dev");
    let dev = api_as(&s, (&dev_id, &dev_secret));
    let r = dev.get(manifest_path);
    assert_eq!(r.status(), 403);
    let text = r.text().unwrap();
    assert!(
        text.contains("kms:Decrypt") && text.contains("user/dev"),
        "{text}"
    );
    let r = dev
        .client
        .post(dev.url("/v2/kms/app/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403, "pushing needs kms:GenerateDataKey");
    let (_, err) = ecr((&dev_id, &dev_secret), "BatchGetImage", get_image.clone()).unwrap_err();
    assert_eq!(
        (err["__type"].as_str(), err["kmsError"].as_str()),
        (Some("KmsException"), Some("AccessDeniedException")),
        "{err}"
    );
    // The key policy delegates to IAM: an identity policy lets dev in.
    set_user_policy(
        &s,
        "dev",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": arn},
            {"Effect": "Allow", "Action": "ecr:CreateRepository", "Resource": "*"}]}),
    );
    assert_eq!(dev.get(manifest_path).bytes().unwrap(), img.manifest);
    dev.push_image(
        "kms/app",
        &berth_testkit::image::oci_image(22, 1, 1, 512),
        "v2",
    );

    // Creating a repository under a key needs kms:DescribeKey and
    // kms:CreateGrant on it, which dev lacks.
    let (_, err) = ecr(
        (&dev_id, &dev_secret),
        "CreateRepository",
        json!({"repositoryName": "kms/dev", "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": arn}}),
    )
    .unwrap_err();
    assert_eq!(err["kmsError"], "AccessDeniedException", "{err}");
    // A key that does not exist.
    let (_, err) = ecr(
        owner,
        "CreateRepository",
        json!({"repositoryName": "kms/none", "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": "alias/none"}}),
    )
    .unwrap_err();
    assert_eq!(
        (err["__type"].as_str(), err["kmsError"].as_str()),
        (Some("KmsException"), Some("NotFoundException")),
        "{err}"
    );

    // KMS without a key: the AWS-managed key, which ECR's users may use.
    let managed = ecr(
        owner,
        "CreateRepository",
        json!({"repositoryName": "kms/managed", "encryptionConfiguration": {"encryptionType": "KMS"}}),
    )
    .unwrap();
    let managed_arn = managed["repository"]["encryptionConfiguration"]["kmsKey"]
        .as_str()
        .unwrap()
        .to_string();
    let described = berth_testkit::kms::call(
        &s.raw_client(),
        &s.url(),
        owner,
        "us-east-1",
        "DescribeKey",
        &json!({"KeyId": "alias/aws/ecr"}),
    )
    .unwrap();
    assert_eq!(described["KeyMetadata"]["Arn"], managed_arn.as_str());
    assert_eq!(described["KeyMetadata"]["KeyManager"], "AWS");
    let (u_id, u_secret) = user_with_key(&s, "builder");
    attach_power_user(&s, "builder");
    let builder = api_as(&s, (&u_id, &u_secret));
    builder.push_image("kms/managed", &img, "v1");
    assert_eq!(
        builder.get("/v2/kms/managed/manifests/v1").bytes().unwrap(),
        img.manifest
    );
    // ... but not directly: the managed key answers only through ECR.
    let direct = berth_testkit::kms::call(
        &s.raw_client(),
        &s.url(),
        (&u_id, &u_secret),
        "us-east-1",
        "Encrypt",
        &json!({"KeyId": "alias/aws/ecr", "Plaintext": "eA=="}),
    )
    .unwrap_err();
    assert_eq!(direct.1["__type"], "AccessDeniedException");
}

/// Grants with boto3: a grant lets its grantee make the listed uses
/// within its constraints and nothing else; CreateGrant with the same name
/// and members answers the same grant; ListGrants (by id, by grantee, in
/// pages), ListRetirableGrants; who may retire (the retiring principal, a
/// grantee granted RetireGrant) and who may not; RevokeGrant ends a
/// grant's use at once; a grant passes on only what it holds; grants to
/// service principals are refused (ECR makes its own); each documented
/// error by name.
const GRANTS: &str = r#"
import boto3, json, os, sys
from botocore.config import Config
from botocore.exceptions import ClientError
cfg = Config(parameter_validation=False)
url = os.environ["AWS_ENDPOINT_URL"]
kms = boto3.client("kms", endpoint_url=url, region_name="us-east-1", config=cfg)
def client(key, secret):
    return boto3.client("kms", endpoint_url=url, region_name="us-east-1", config=cfg,
        aws_access_key_id=key, aws_secret_access_key=secret)
app = client(*sys.argv[1:3])
ops = client(*sys.argv[3:5])
APP = "arn:aws:iam::000000000000:user/app"
OPS = "arn:aws:iam::000000000000:user/ops"
out = {}
def code(f, **kw):
    try:
        f(**kw)
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]

kid = kms.create_key()["KeyMetadata"]["KeyId"]
web = {"app": "web"}
out["app_before"] = code(app.encrypt, KeyId=kid, Plaintext=b"x", EncryptionContext=web)
g = kms.create_grant(KeyId=kid, GranteePrincipal=APP, Operations=["Encrypt", "Decrypt"], RetiringPrincipal=OPS,
    Constraints={"EncryptionContextSubset": web}, Name="app-web")
out["created"] = [len(g["GrantId"]), g["GrantToken"].startswith("bgt1.")]
again = kms.create_grant(KeyId=kid, GranteePrincipal=APP, Operations=["Encrypt", "Decrypt"], RetiringPrincipal=OPS,
    Constraints={"EncryptionContextSubset": web}, Name="app-web")
out["same_again"] = [again["GrantId"] == g["GrantId"], again["GrantToken"] == g["GrantToken"]]
out["app_in_context"] = code(app.encrypt, KeyId=kid, Plaintext=b"x", EncryptionContext={"app": "web", "x": "y"})
out["app_with_token"] = code(app.encrypt, KeyId=kid, Plaintext=b"x", EncryptionContext=web, GrantTokens=[g["GrantToken"]])
out["app_out_of_context"] = code(app.encrypt, KeyId=kid, Plaintext=b"x", EncryptionContext={"app": "db"})
out["app_no_context"] = code(app.encrypt, KeyId=kid, Plaintext=b"x")
out["app_other_use"] = code(app.generate_data_key, KeyId=kid, KeySpec="AES_256", EncryptionContext=web)
out["app_describe"] = code(app.describe_key, KeyId=kid)
out["app_list"] = code(app.list_grants, KeyId=kid)

g2 = kms.create_grant(KeyId=kid, GranteePrincipal=APP, Operations=["GenerateDataKey", "RetireGrant"])
listed = kms.list_grants(KeyId=kid)["Grants"]
one = [x for x in listed if x["GrantId"] == g["GrantId"]][0]
out["listed"] = [len(listed), one["Name"], one["GranteePrincipal"], one["RetiringPrincipal"], one["IssuingAccount"],
    sorted(one["Operations"]), one["Constraints"], one["KeyId"].startswith("arn:aws:kms:us-east-1:000000000000:key/"),
    "CreationDate" in one]
page = kms.list_grants(KeyId=kid, Limit=1)
rest = kms.list_grants(KeyId=kid, Limit=1, Marker=page["NextMarker"])
out["pages"] = [page["Truncated"], len(page["Grants"]), rest["Truncated"],
    sorted([page["Grants"][0]["GrantId"], rest["Grants"][0]["GrantId"]]) == sorted([g["GrantId"], g2["GrantId"]])]
out["by_id"] = [x["GrantId"] == g2["GrantId"] for x in kms.list_grants(KeyId=kid, GrantId=g2["GrantId"])["Grants"]]
out["by_grantee"] = len(kms.list_grants(KeyId=kid, GranteePrincipal=APP)["Grants"])
out["by_other_grantee"] = kms.list_grants(KeyId=kid, GranteePrincipal=OPS)["Grants"]
out["retirable"] = [x["GrantId"] == g["GrantId"] for x in kms.list_retirable_grants(RetiringPrincipal=OPS)["Grants"]]
out["app_generates"] = code(app.generate_data_key, KeyId=kid, KeySpec="AES_256")

# Errors.
out["bad_operation"] = code(kms.create_grant, KeyId=kid, GranteePrincipal=APP, Operations=["Fly"])
out["no_operations"] = code(kms.create_grant, KeyId=kid, GranteePrincipal=APP, Operations=[])
out["bad_name"] = code(kms.create_grant, KeyId=kid, GranteePrincipal=APP, Operations=["Decrypt"], Name="a b")
out["by_alias"] = code(kms.create_grant, KeyId="alias/aws/ecr", GranteePrincipal=APP, Operations=["Decrypt"])
out["missing_key"] = code(kms.create_grant, KeyId="11111111-2222-3333-4444-555555555555", GranteePrincipal=APP, Operations=["Decrypt"])
out["dry_run"] = code(kms.create_grant, KeyId=kid, GranteePrincipal=APP, Operations=["Decrypt"], DryRun=True)
k2 = kms.create_key()["KeyMetadata"]["KeyId"]
kms.disable_key(KeyId=k2)
out["disabled_key"] = code(kms.create_grant, KeyId=k2, GranteePrincipal=APP, Operations=["Decrypt"])
out["revoke_missing"] = code(kms.revoke_grant, KeyId=kid, GrantId="0" * 64)
out["retire_bad_token"] = code(kms.retire_grant, GrantToken="bgt1.nope")
out["retire_forged_token"] = code(kms.retire_grant, GrantToken="bgt1." + g["GrantId"] + "." + "0" * 64)
out["retire_nothing"] = code(kms.retire_grant)
out["list_bad_limit"] = code(kms.list_grants, KeyId=kid, Limit=0)

# Who may retire: not the grantee without RetireGrant; the grantee with
# it; the retiring principal.
out["app_retires_g"] = code(app.retire_grant, KeyId=kid, GrantId=g["GrantId"])
out["app_retires_g2"] = code(app.retire_grant, GrantToken=g2["GrantToken"])
out["ops_retires_g"] = code(ops.retire_grant, KeyId=kid, GrantId=g["GrantId"])
out["app_after_retire"] = code(app.encrypt, KeyId=kid, Plaintext=b"x", EncryptionContext=web)
out["left"] = kms.list_grants(KeyId=kid)["Grants"]

# RevokeGrant: the key's administrators end a grant.
g3 = kms.create_grant(KeyId=kid, GranteePrincipal=APP, Operations=["Encrypt"])
out["app_with_g3"] = code(app.encrypt, KeyId=kid, Plaintext=b"x")
out["app_revokes"] = code(app.revoke_grant, KeyId=kid, GrantId=g3["GrantId"])
kms.revoke_grant(KeyId=kid, GrantId=g3["GrantId"])
out["app_after_revoke"] = code(app.encrypt, KeyId=kid, Plaintext=b"x")
out["revoke_again"] = code(kms.revoke_grant, KeyId=kid, GrantId=g3["GrantId"])
# A grant with CreateGrant passes on only what it holds.
g5 = kms.create_grant(KeyId=kid, GranteePrincipal=APP, Operations=["Encrypt", "CreateGrant"])
out["pass_on_subset"] = code(app.create_grant, KeyId=kid, GranteePrincipal=OPS, Operations=["Encrypt"])
out["pass_on_more"] = code(app.create_grant, KeyId=kid, GranteePrincipal=OPS, Operations=["Decrypt"])
kms.revoke_grant(KeyId=kid, GrantId=g5["GrantId"])
# Grants to a service principal are the services' own (ECR makes its own).
out["to_ecr"] = code(kms.create_grant, KeyId=kid, GranteePrincipal="ecr.us-east-1.amazonaws.com", Operations=["Decrypt"],
    Name="arn:aws:ecr:us-east-1:000000000000:repository/x")
# A Deny in the key policy beats a grant.
g4 = kms.create_grant(KeyId=kid, GranteePrincipal=APP, Operations=["Encrypt"])
pol = json.loads(kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"])
pol["Statement"].append({"Effect": "Deny", "Principal": {"AWS": APP}, "Action": "kms:Encrypt", "Resource": "*"})
kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=json.dumps(pol))
out["deny_beats_grant"] = code(app.encrypt, KeyId=kid, Plaintext=b"x")
print(json.dumps(out))
"#;

#[test]
fn grants_allow_their_uses_until_retired_or_revoked_with_boto3() {
    if !berth_testkit::tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let (app_id, app_secret) = user_with_key(&s, "app");
    let (ops_id, ops_secret) = user_with_key(&s, "ops");
    let out = python_json(&s, GRANTS, &[&app_id, &app_secret, &ops_id, &ops_secret]);
    let expect = json!({
        "app_before": "AccessDeniedException",
        "created": [64, true],
        "same_again": [true, true],
        "app_in_context": "ok",
        "app_with_token": "ok",
        "app_out_of_context": "AccessDeniedException",
        "app_no_context": "AccessDeniedException",
        "app_other_use": "AccessDeniedException",
        "app_describe": "AccessDeniedException",
        "app_list": "AccessDeniedException",
        "listed": [2, "app-web", "arn:aws:iam::000000000000:user/app", "arn:aws:iam::000000000000:user/ops",
            "arn:aws:iam::000000000000:root", ["Decrypt", "Encrypt"],
            {"EncryptionContextSubset": {"app": "web"}}, true, true],
        "pages": [true, 1, false, true],
        "by_id": [true],
        "by_grantee": 2,
        "by_other_grantee": [],
        "retirable": [true],
        "app_generates": "ok",
        "bad_operation": "ValidationException",
        "no_operations": "ValidationException",
        "bad_name": "ValidationException",
        "by_alias": "NotFoundException",
        "missing_key": "NotFoundException",
        "dry_run": "DryRunOperationException",
        "disabled_key": "DisabledException",
        "revoke_missing": "NotFoundException",
        "retire_bad_token": "InvalidGrantTokenException",
        "retire_forged_token": "InvalidGrantTokenException",
        "retire_nothing": "ValidationException",
        "list_bad_limit": "ValidationException",
        "app_retires_g": "AccessDeniedException",
        "app_retires_g2": "ok",
        "ops_retires_g": "ok",
        "app_after_retire": "AccessDeniedException",
        "left": [],
        "app_with_g3": "ok",
        "app_revokes": "AccessDeniedException",
        "app_after_revoke": "AccessDeniedException",
        "revoke_again": "NotFoundException",
        "deny_beats_grant": "AccessDeniedException",
        "pass_on_subset": "ok",
        "pass_on_more": "AccessDeniedException",
        "to_ecr": "UnsupportedOperationException",
    });
    for (k, v) in expect.as_object().unwrap() {
        assert_eq!(&out[k], v, "{k}: {out}");
    }
}

/// ECR's grant, as on AWS: creating a repository under a key makes a
/// grant to ECR's service principal that ListGrants shows (named by the
/// repository's ARN, within its context); revoking it cuts the repository
/// off from its key (KmsException on the ECR API, DENIED on /v2) while
/// another repository under the same key keeps working; deleting a
/// repository retires its grant.
#[test]
fn ecr_holds_a_grant_per_repository_and_revoking_it_cuts_that_repository_off() {
    let s = start();
    let owner = OWNER_KEYS;
    let kms = |op: &str, input: Value| {
        berth_testkit::kms::call(&s.raw_client(), &s.url(), owner, "us-east-1", op, &input)
    };
    let ecr = |op: &str, input: Value| {
        berth_testkit::ecr::call(&s.raw_client(), &s.url(), owner, "us-east-1", op, &input)
    };
    let key = kms("CreateKey", json!({})).unwrap();
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    for name in ["kms/a", "kms/b"] {
        ecr(
            "CreateRepository",
            json!({"repositoryName": name, "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": arn}}),
        )
        .unwrap();
    }
    let repo_arn = |name: &str| format!("arn:aws:ecr:us-east-1:{OWNER}:repository/{name}");
    let grants = |arn: &str| kms("ListGrants", json!({"KeyId": arn})).unwrap()["Grants"].clone();
    let listed = grants(&arn);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let of_a = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["Name"] == repo_arn("kms/a").as_str())
        .unwrap()
        .clone();
    assert_eq!(of_a["GranteePrincipal"], "ecr.us-east-1.amazonaws.com");
    assert_eq!(of_a["RetiringPrincipal"], "ecr.us-east-1.amazonaws.com");
    assert_eq!(
        of_a["Constraints"],
        json!({"EncryptionContextSubset": {"aws:ecr:arn": repo_arn("kms/a")}})
    );
    let ops: Vec<&str> = of_a["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(
        ops.contains(&"Decrypt") && ops.contains(&"GenerateDataKey"),
        "{ops:?}"
    );

    let admin = Api::new(&s);
    let img = berth_testkit::image::oci_image(31, 1, 1, 1024);
    admin.push_image("kms/a", &img, "v1");
    admin.push_image("kms/b", &img, "v1");
    // The key's owner revokes ECR's grant for kms/a.
    kms(
        "RevokeGrant",
        json!({"KeyId": arn, "GrantId": of_a["GrantId"]}),
    )
    .unwrap();
    let r = admin.get("/v2/kms/a/manifests/v1");
    assert_eq!(r.status(), 403);
    let text = r.text().unwrap();
    assert!(
        text.contains("DENIED") && text.contains("grant") && text.contains(&arn),
        "{text}"
    );
    let (_, err) = ecr(
        "BatchGetImage",
        json!({"repositoryName": "kms/a", "imageIds": [{"imageTag": "v1"}]}),
    )
    .unwrap_err();
    assert_eq!(
        (err["__type"].as_str(), err["kmsError"].as_str()),
        (Some("KmsException"), Some("AccessDeniedException")),
        "{err}"
    );
    let (_, err) = ecr("InitiateLayerUpload", json!({"repositoryName": "kms/a"})).unwrap_err();
    assert_eq!(err["kmsError"], "AccessDeniedException", "{err}");
    // The other repository under the same key is untouched.
    assert_eq!(
        admin.get("/v2/kms/b/manifests/v1").bytes().unwrap(),
        img.manifest
    );
    // Deleting a repository retires its grant.
    ecr(
        "DeleteRepository",
        json!({"repositoryName": "kms/b", "force": true}),
    )
    .unwrap();
    assert_eq!(grants(&arn), json!([]));
    // A repository that could not be created leaves no grant behind.
    ecr(
        "CreateRepository",
        json!({"repositoryName": "kms/c", "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": arn}}),
    )
    .unwrap();
    ecr(
        "CreateRepository",
        json!({"repositoryName": "kms/c", "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": arn}}),
    )
    .unwrap_err();
    assert_eq!(grants(&arn).as_array().unwrap().len(), 1);
}

/// `kms:GrantIsForAWSResource`, as key administrators use it on AWS: a
/// user whose IAM policy allows `kms:CreateGrant` only for AWS resources
/// may create a repository under the key (ECR's grant is for one) but may
/// not create a grant of their own with the KMS API.
#[test]
fn a_policy_can_allow_ecrs_grant_and_nothing_else() {
    let s = start();
    let owner = OWNER_KEYS;
    let key = berth_testkit::kms::call(
        &s.raw_client(),
        &s.url(),
        owner,
        "us-east-1",
        "CreateKey",
        &json!({}),
    )
    .unwrap();
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let (dev_id, dev_secret) = user_with_key(&s, "dev");
    set_user_policy(
        &s,
        "dev",
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ecr:CreateRepository", "kms:DescribeKey"], "Resource": "*"},
            {"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": arn,
             "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}]}),
    );
    let dev = (dev_id.as_str(), dev_secret.as_str());
    berth_testkit::ecr::call(
        &s.raw_client(),
        &s.url(),
        dev,
        "us-east-1",
        "CreateRepository",
        &json!({"repositoryName": "kms/dev", "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": arn}}),
    )
    .unwrap();
    let (_, err) = berth_testkit::kms::call(
        &s.raw_client(),
        &s.url(),
        dev,
        "us-east-1",
        "CreateGrant",
        &json!({"KeyId": arn, "GranteePrincipal": "arn:aws:iam::000000000000:user/dev", "Operations": ["Decrypt"]}),
    )
    .unwrap_err();
    assert_eq!(err["__type"], "AccessDeniedException", "{err}");
}

/// A data dir from before grants (its database without migration 25,
/// which is how berth left it): on upgrade, each repository under a key
/// gets ECR's grant, so its images still pull, and ListGrants shows it.
/// SQLite only (it undoes the migration in the data dir's database);
/// scripts/test.sh leaves it out of the PostgreSQL pass, whose migration
/// 0017 runs the same backfill.
#[test]
fn repositories_under_keys_from_before_grants_get_ecrs_grant_on_upgrade() {
    let mut s = start();
    let owner = OWNER_KEYS;
    let client = s.raw_client();
    let url = s.url();
    let kms = |op: &str, input: Value| {
        berth_testkit::kms::call(&client, &url, owner, "us-east-1", op, &input)
    };
    let key = kms("CreateKey", json!({})).unwrap();
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    berth_testkit::ecr::call(
        &client,
        &url,
        owner,
        "us-east-1",
        "CreateRepository",
        &json!({"repositoryName": "old/app", "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": arn}}),
    )
    .unwrap();
    let img = berth_testkit::image::oci_image(41, 1, 1, 1024);
    Api::new(&s).push_image("old/app", &img, "v1");
    s.stop();
    // Undo migration 25 as if it had never run.
    let db = s.data_dir.join("metadata.db");
    let undo = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             c.execute('DROP TABLE kms_grants')\n\
             c.execute('DELETE FROM _sqlx_migrations WHERE version = 25')\n\
             c.commit()\n",
        )
        .arg(&db)
        .status()
        .unwrap();
    assert!(undo.success());
    s.restart();
    let client = s.raw_client();
    let url = s.url();
    let grants = berth_testkit::kms::call(
        &client,
        &url,
        owner,
        "us-east-1",
        "ListGrants",
        &json!({"KeyId": arn}),
    )
    .unwrap()["Grants"]
        .clone();
    assert_eq!(grants.as_array().unwrap().len(), 1, "{grants}");
    assert_eq!(
        grants[0]["Name"],
        format!("arn:aws:ecr:us-east-1:{OWNER}:repository/old/app").as_str()
    );
    assert_eq!(grants[0]["GranteePrincipal"], "ecr.us-east-1.amazonaws.com");
    assert_eq!(
        Api::new(&s)
            .get("/v2/old/app/manifests/v1")
            .bytes()
            .unwrap(),
        img.manifest
    );
}

/// Attaches AmazonEC2ContainerRegistryPowerUser (ECR, no KMS) to `user`.
fn attach_power_user(s: &TestServer, user: &str) {
    let (status, out) = iam_call(
        s,
        &[
            ("Action", "AttachUserPolicy"),
            ("UserName", user),
            (
                "PolicyArn",
                "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser",
            ),
        ],
    );
    assert_eq!(status, 200, "{out}");
}

/// A key made with the aws CLI (`run`) and named `alias/app`: its id and ARN.
fn key_named_app(run: &impl Fn(&[&str]) -> Value) -> (String, String) {
    let key = run(&["kms", "create-key", "--description", "app"]);
    let id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_string();
    let arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    run(&[
        "kms",
        "create-alias",
        "--alias-name",
        "alias/app",
        "--target-key-id",
        &id,
    ]);
    (id, arn)
}
