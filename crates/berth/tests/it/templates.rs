//! Repository creation templates (issue 22): the four ECR operations with
//! boto3 and their errors, and a push to a repository that does not exist
//! creating it from the matching `CREATE_ON_PUSH` template, on a server
//! that otherwise refuses such pushes (ECR's behaviour).

use crate::common::*;
use serde_json::{json, Value};

/// boto3: create, conflict, describe (all, by prefix, in pages), update,
/// delete and their errors; prints what it saw.
const BOTO3_TEMPLATES: &str = r#"
import boto3, json, sys
from botocore.exceptions import ClientError
ecr = boto3.client("ecr")
lifecycle = sys.argv[1]
out = {}
def err(f, **kw):
    try:
        f(**kw)
        return None
    except ClientError as e:
        return e.response["Error"]["Code"]
t = ecr.create_repository_creation_template(
    prefix="prod", description="production", appliedFor=["CREATE_ON_PUSH", "REPLICATION"],
    imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
    imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
    resourceTags=[{"Key": "team", "Value": "blue"}], lifecyclePolicy=lifecycle,
    encryptionConfiguration={"encryptionType": "AES256"})
out["created"] = t["repositoryCreationTemplate"]
out["registryId"] = t["registryId"]
out["again"] = err(ecr.create_repository_creation_template, prefix="prod", appliedFor=["CREATE_ON_PUSH"])
for p in ["ROOT", "dev/", "zeta"]:
    ecr.create_repository_creation_template(prefix=p, appliedFor=["REPLICATION"])
out["all"] = [t["prefix"] for t in ecr.describe_repository_creation_templates()["repositoryCreationTemplates"]]
page = ecr.describe_repository_creation_templates(maxResults=2)
out["page1"] = [t["prefix"] for t in page["repositoryCreationTemplates"]]
page2 = ecr.describe_repository_creation_templates(maxResults=2, nextToken=page["nextToken"])
out["page2"] = [t["prefix"] for t in page2["repositoryCreationTemplates"]]
out["page2_token"] = "nextToken" in page2
out["by_prefix"] = [t["prefix"] for t in ecr.describe_repository_creation_templates(prefixes=["dev", "nope"])["repositoryCreationTemplates"]]
u = ecr.update_repository_creation_template(prefix="zeta", description="changed", imageTagMutability="IMMUTABLE")
out["updated"] = u["repositoryCreationTemplate"]
out["update_missing"] = err(ecr.update_repository_creation_template, prefix="nope", description="x")
d = ecr.delete_repository_creation_template(prefix="zeta")
out["deleted"] = d["repositoryCreationTemplate"]["prefix"]
out["delete_again"] = err(ecr.delete_repository_creation_template, prefix="zeta")
out["bad_applied_for"] = err(ecr.create_repository_creation_template, prefix="x", appliedFor=["SOMETIMES"])
out["bad_lifecycle"] = err(ecr.create_repository_creation_template, prefix="y", appliedFor=["CREATE_ON_PUSH"], lifecyclePolicy="{}")
out["aes_with_key"] = err(ecr.create_repository_creation_template, prefix="z", appliedFor=["CREATE_ON_PUSH"],
    encryptionConfiguration={"encryptionType": "AES256", "kmsKey": "arn:aws:kms:us-east-1:000000000000:key/k"})
print(json.dumps(out, default=str))
"#;

fn lifecycle_policy() -> String {
    json!({"rules": [{"rulePriority": 1, "description": "keep 5",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
        "action": {"type": "expire"}}]})
    .to_string()
}

#[test]
fn creation_templates_with_boto3_and_their_errors() {
    if !tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let v = python_json(&s, BOTO3_TEMPLATES, &[&lifecycle_policy()]);
    let created = &v["created"];
    assert_eq!(created["prefix"], "prod", "{v}");
    assert_eq!(created["description"], "production");
    assert_eq!(
        created["appliedFor"],
        json!(["CREATE_ON_PUSH", "REPLICATION"])
    );
    assert_eq!(created["imageTagMutability"], "IMMUTABLE_WITH_EXCLUSION");
    assert_eq!(
        created["imageTagMutabilityExclusionFilters"],
        json!([{"filterType": "WILDCARD", "filter": "latest"}])
    );
    assert_eq!(
        created["resourceTags"],
        json!([{"Key": "team", "Value": "blue"}])
    );
    assert_eq!(created["lifecyclePolicy"], lifecycle_policy().as_str());
    assert_eq!(
        created["encryptionConfiguration"],
        json!({"encryptionType": "AES256"})
    );
    assert!(
        created["createdAt"].is_string(),
        "boto3 parses dates: {created}"
    );
    assert_eq!(v["registryId"], "000000000000");
    assert_eq!(v["again"], "TemplateAlreadyExistsException");
    assert_eq!(v["all"], json!(["ROOT", "dev", "prod", "zeta"]));
    assert_eq!(v["page1"], json!(["ROOT", "dev"]));
    assert_eq!(v["page2"], json!(["prod", "zeta"]));
    assert_eq!(v["page2_token"], false);
    assert_eq!(v["by_prefix"], json!(["dev"]));
    assert_eq!(v["updated"]["description"], "changed");
    assert_eq!(v["updated"]["imageTagMutability"], "IMMUTABLE");
    assert_eq!(v["updated"]["appliedFor"], json!(["REPLICATION"]), "kept");
    assert_eq!(v["update_missing"], "TemplateNotFoundException");
    assert_eq!(v["deleted"], "zeta");
    assert_eq!(v["delete_again"], "TemplateNotFoundException");
    assert_eq!(v["bad_applied_for"], "InvalidParameterException");
    assert_eq!(v["bad_lifecycle"], "InvalidParameterException");
    assert_eq!(v["aes_with_key"], "InvalidParameterException");

    // A prefix outside the grammar, sent past botocore's own checks.
    let (_, e) = s
        .ecr(
            "us-east-1",
            "CreateRepositoryCreationTemplate",
            json!({"prefix": "Prod/App", "appliedFor": ["CREATE_ON_PUSH"]}),
        )
        .unwrap_err();
    assert_eq!(e["__type"], "InvalidParameterException", "{e}");
    assert!(e["message"].as_str().unwrap().contains("'prefix'"), "{e}");
}

#[test]
fn a_push_creates_its_repository_from_the_matching_template() {
    // ECR's default: a push to a repository that does not exist fails
    // unless a CREATE_ON_PUSH template matches.
    let s = start_with(&["--create-on-push", "false"]);
    let ecr = |op: &str, input: Value| s.ecr("us-east-1", op, input).unwrap();
    let key = s.kms("us-east-1", "CreateKey", json!({})).unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "ci", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/ci"}, "Action": "ecr:BatchGetImage"}]})
    .to_string();
    ecr(
        "CreateRepositoryCreationTemplate",
        json!({"prefix": "prod/", "appliedFor": ["CREATE_ON_PUSH"], "imageTagMutability": "IMMUTABLE",
               "resourceTags": [{"Key": "env", "Value": "prod"}], "lifecyclePolicy": lifecycle_policy(),
               "repositoryPolicy": policy, "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": key}}),
    );
    // More specific, but not for pushes: it hides `prod`'s for its names.
    ecr(
        "CreateRepositoryCreationTemplate",
        json!({"prefix": "prod/mirror", "appliedFor": ["REPLICATION"]}),
    );
    ecr(
        "CreateRepositoryCreationTemplate",
        json!({"prefix": "ROOT", "appliedFor": ["CREATE_ON_PUSH"]}),
    );

    let api = Api::new(&s);
    let img = image::oci_image(91, 1, 1, 2_000);
    api.push_image("prod/app", &img, "v1");
    let repo = &ecr(
        "DescribeRepositories",
        json!({"repositoryNames": ["prod/app"]}),
    )["repositories"][0];
    assert_eq!(repo["imageTagMutability"], "IMMUTABLE", "{repo}");
    assert_eq!(
        repo["encryptionConfiguration"],
        json!({"encryptionType": "KMS", "kmsKey": key})
    );
    let tags = ecr(
        "ListTagsForResource",
        json!({"resourceArn": repo["repositoryArn"]}),
    );
    assert_eq!(tags["tags"], json!([{"Key": "env", "Value": "prod"}]));
    let lc = ecr("GetLifecyclePolicy", json!({"repositoryName": "prod/app"}));
    assert_eq!(lc["lifecyclePolicyText"], lifecycle_policy().as_str());
    let rp = ecr("GetRepositoryPolicy", json!({"repositoryName": "prod/app"}));
    assert_eq!(rp["policyText"], policy.as_str());
    assert_eq!(
        api.get("/v2/prod/app/manifests/v1")
            .bytes()
            .unwrap()
            .as_ref(),
        img.manifest.as_slice()
    );

    // Creating on push needs ecr:CreateRepository as well as the push's own
    // actions.
    let (id, secret) = user_with_key(&s, "pusher");
    set_user_policy(
        &s,
        "pusher",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "kms:GenerateDataKey"]}]}),
    );
    let pusher = api_as(&s, (&id, &secret));
    let r = pusher
        .client
        .post(pusher.url("/v2/prod/new/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().unwrap().contains("ecr:CreateRepository"));
    // ... and not for a repository that exists (under the key it may use).
    let r = pusher
        .client
        .post(pusher.url("/v2/prod/app/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);

    // Allowed to create repositories but not to use the template's key:
    // even the first, creating push is refused, and nothing is created.
    let (id, secret) = user_with_key(&s, "creator");
    set_user_policy(
        &s,
        "creator",
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:CreateRepository"]}]}),
    );
    let creator = api_as(&s, (&id, &secret));
    let bytes = b"a layer nobody may seal";
    let r = creator
        .client
        .post(creator.url(&format!(
            "/v2/prod/new2/blobs/uploads/?digest={}",
            image::sha256(bytes)
        )))
        .body(bytes.to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().unwrap().contains("kms:GenerateDataKey"));
    let (_, e) = s
        .ecr(
            "us-east-1",
            "DescribeRepositories",
            json!({"repositoryNames": ["prod/new2"]}),
        )
        .unwrap_err();
    assert_eq!(e["__type"], "RepositoryNotFoundException");

    // ROOT's template (defaults) for a name no other prefix covers.
    api.push_image("tools/app", &img, "v1");
    let repo = &ecr(
        "DescribeRepositories",
        json!({"repositoryNames": ["tools/app"]}),
    )["repositories"][0];
    assert_eq!(repo["imageTagMutability"], "MUTABLE");
    assert_eq!(repo["encryptionConfiguration"]["encryptionType"], "AES256");

    // `prod/mirror`'s template is the most specific and is not for pushes:
    // no repository, as with no template at all.
    let r = api
        .client
        .post(api.url("/v2/prod/mirror/app/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404, "{}", r.text().unwrap_or_default());
    ecr(
        "DeleteRepositoryCreationTemplate",
        json!({"prefix": "ROOT"}),
    );
    let r = api
        .client
        .post(api.url("/v2/other/app/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().unwrap().contains("NAME_UNKNOWN"));
}

/// Templates belong to the caller's registry: another account's are its own.
#[test]
fn templates_are_per_registry() {
    let s = start();
    s.ecr(
        "us-east-1",
        "CreateRepositoryCreationTemplate",
        json!({"prefix": "prod", "appliedFor": ["CREATE_ON_PUSH"]}),
    )
    .unwrap();
    let b = account_with_key(&s, "111111111111");
    let call = |region: &str, op: &str, input: Value| {
        berth_testkit::ecr::call(&s.raw_client(), &s.url(), (&b.0, &b.1), region, op, &input)
    };
    let seen = call(
        "us-east-1",
        "DescribeRepositoryCreationTemplates",
        json!({}),
    )
    .unwrap();
    assert_eq!(seen["repositoryCreationTemplates"], json!([]), "{seen}");
    assert_eq!(seen["registryId"], "111111111111");
    call(
        "us-east-1",
        "CreateRepositoryCreationTemplate",
        json!({"prefix": "prod", "appliedFor": ["REPLICATION"]}),
    )
    .unwrap();
    // B deletes its own `prod`; A's stays as it was.
    let gone = call(
        "us-east-1",
        "DeleteRepositoryCreationTemplate",
        json!({"prefix": "prod"}),
    )
    .unwrap();
    assert_eq!(
        gone["repositoryCreationTemplate"]["appliedFor"],
        json!(["REPLICATION"])
    );
    let mine = s
        .ecr(
            "us-east-1",
            "DescribeRepositoryCreationTemplates",
            json!({}),
        )
        .unwrap();
    assert_eq!(
        mine["repositoryCreationTemplates"][0]["appliedFor"],
        json!(["CREATE_ON_PUSH"])
    );
    // Another region of the same account is another registry.
    let west = s
        .ecr(
            "us-west-2",
            "DescribeRepositoryCreationTemplates",
            json!({}),
        )
        .unwrap();
    assert_eq!(west["repositoryCreationTemplates"], json!([]));
}

/// A template's `customRoleArn` needs `iam:PassRole` on that role, as ECR
/// asks; a value that is not a role ARN is refused.
#[test]
fn a_templates_role_needs_iam_pass_role() {
    let s = start();
    let role = "arn:aws:iam::000000000000:role/ecr-templates";
    let (id, secret) = user_with_key(&s, "templater");
    let allow = |extra: &[&str]| {
        let mut actions = vec![
            "ecr:CreateRepositoryCreationTemplate",
            "ecr:CreateRepository",
            "ecr:PutLifecyclePolicy",
            "ecr:SetRepositoryPolicy",
        ];
        actions.extend_from_slice(extra);
        set_user_policy(
            &s,
            "templater",
            &json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Resource": "*", "Action": actions}]}),
        );
    };
    let create = |role: &str, prefix: &str| {
        berth_testkit::ecr::call(
            &s.raw_client(),
            &s.url(),
            (&id, &secret),
            "us-east-1",
            "CreateRepositoryCreationTemplate",
            &json!({"prefix": prefix, "appliedFor": ["CREATE_ON_PUSH"], "customRoleArn": role}),
        )
    };
    allow(&[]);
    let (_, e) = create(role, "a").unwrap_err();
    assert_eq!(e["__type"], "AccessDeniedException", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("iam:PassRole"),
        "{e}"
    );
    let (_, e) = create("arn:aws:iam::000000000000:user/ci", "a").unwrap_err();
    assert_eq!(e["__type"], "InvalidParameterException", "{e}");
    allow(&["iam:PassRole"]);
    let t = create(role, "a").unwrap();
    assert_eq!(t["repositoryCreationTemplate"]["customRoleArn"], role);
    // Update asks it too.
    allow(&["ecr:UpdateRepositoryCreationTemplate"]);
    let (_, e) = berth_testkit::ecr::call(
        &s.raw_client(),
        &s.url(),
        (&id, &secret),
        "us-east-1",
        "UpdateRepositoryCreationTemplate",
        &json!({"prefix": "a", "customRoleArn": "arn:aws:iam::000000000000:role/other"}),
    )
    .unwrap_err();
    assert_eq!(e["__type"], "AccessDeniedException", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("iam:PassRole"),
        "{e}"
    );
}
