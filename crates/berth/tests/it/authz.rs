//! Authorization on both APIs: a principal without permissions is refused
//! every ECR operation; a repository policy grants a same-account user
//! what no identity policy gives it; an explicit Deny in a repository
//! policy overrides the account admin's Allow, on the ECR API and on `/v2`.

use crate::common::*;
use serde_json::{json, Value};

fn ecr(s: &TestServer, key: (&str, &str), op: &str, input: Value) -> Result<Value, (u16, Value)> {
    berth_testkit::ecr::call(&s.raw_client(), &s.url(), key, "us-east-1", op, &input)
}

#[test]
fn a_principal_without_permissions_is_refused_every_operation() {
    let s = start();
    s.ecr(
        "us-east-1",
        "CreateRepository",
        json!({"repositoryName": "authz/app"}),
    )
    .unwrap();
    let (id, secret) = user_with_key(&s, "nobody");
    // Every operation berth answers, taken from the dispatcher itself, so a
    // new operation cannot be forgotten here.
    for op in berth_server::ecr::IMPLEMENTED_OPERATIONS {
        let input = json!({
            "repositoryName": "authz/app",
            "resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/authz/app",
            "layerPartBlob": "YQ==",
        });
        let (_, err) = ecr(&s, (&id, &secret), op, input)
            .expect_err(&format!("{op} was allowed without permission"));
        assert_eq!(err["__type"], "AccessDeniedException", "{op}: {err}");
        let msg = err["message"].as_str().unwrap();
        assert!(
            msg.contains("arn:aws:iam::000000000000:user/nobody")
                && msg.contains(&format!("ecr:{op}")),
            "{op}: {msg}"
        );
    }
}

/// An anonymous caller (no signature) is refused every ECR operation of the
/// table, even on a server that lets anonymous clients push on `/v2`, and
/// nothing it asked for happens.
#[test]
fn an_anonymous_caller_is_refused_every_operation() {
    let s = start_with(&["--allow-anonymous", "push"]);
    let client = reqwest::blocking::Client::new();
    let input = json!({
        "repositoryName": "anon/app",
        "resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/anon/app",
        "prefix": "anon",
        "appliedFor": ["CREATE_ON_PUSH"],
        "layerPartBlob": "YQ==",
    });
    for op in berth_server::ecr::IMPLEMENTED_OPERATIONS {
        let r = client
            .post(format!("{}/", s.url()))
            .header(
                "x-amz-target",
                format!("AmazonEC2ContainerRegistry_V20150921.{op}"),
            )
            .header("content-type", "application/x-amz-json-1.1")
            .body(input.to_string())
            .send()
            .unwrap();
        let err: Value = r.json().unwrap();
        assert_eq!(
            err["__type"], "MissingAuthenticationTokenException",
            "{op}: {err}"
        );
    }
    let repos = s
        .ecr("us-east-1", "DescribeRepositories", json!({}))
        .unwrap();
    assert_eq!(repos["repositories"], json!([]), "{repos}");
    let templates = s
        .ecr(
            "us-east-1",
            "DescribeRepositoryCreationTemplates",
            json!({}),
        )
        .unwrap();
    assert_eq!(templates["repositoryCreationTemplates"], json!([]));
}

#[test]
fn repository_policies_grant_and_deny_on_both_apis() {
    let s = start();
    let api = Api::new(&s);
    let img = image::oci_image(91, 1, 1, 100);
    api.push_image("authz/app", &img, "v1");
    api.push_image("authz/other", &image::oci_image(92, 1, 1, 100), "v1");
    let (id, secret) = user_with_key(&s, "reader");
    let reader = (id.as_str(), secret.as_str());

    // A same-account user with no identity permission reads once the
    // repository policy allows it, and only that.
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "reader-pulls", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/reader"},
        "Action": ["ecr:ListImages", "ecr:BatchGetImage", "ecr:DescribeImages"]}]});
    s.ecr(
        "us-east-1",
        "SetRepositoryPolicy",
        json!({"repositoryName": "authz/app", "policyText": policy.to_string()}),
    )
    .unwrap();
    let listed = ecr(
        &s,
        reader,
        "ListImages",
        json!({"repositoryName": "authz/app"}),
    )
    .unwrap();
    assert_eq!(listed["imageIds"][0]["imageTag"], "v1");
    let got = ecr(
        &s,
        reader,
        "BatchGetImage",
        json!({"repositoryName": "authz/app", "imageIds": [{"imageTag": "v1"}]}),
    )
    .unwrap();
    assert_eq!(
        got["images"][0]["imageId"]["imageDigest"],
        img.manifest_digest.as_str()
    );
    for (op, repo) in [
        ("ListImages", "authz/other"),
        ("PutImage", "authz/app"),
        ("BatchDeleteImage", "authz/app"),
    ] {
        let (_, err) = ecr(&s, reader, op, json!({"repositoryName": repo})).unwrap_err();
        assert_eq!(
            err["__type"], "AccessDeniedException",
            "{op} on {repo}: {err}"
        );
    }

    // An explicit Deny in the repository policy beats the admin's Allow.
    let deny = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "no-deletes", "Effect": "Deny", "Principal": "*",
        "Action": ["ecr:BatchDeleteImage"]}]});
    s.ecr(
        "us-east-1",
        "SetRepositoryPolicy",
        json!({"repositoryName": "authz/app", "policyText": deny.to_string()}),
    )
    .unwrap();
    let (_, err) = s
        .ecr(
            "us-east-1",
            "BatchDeleteImage",
            json!({"repositoryName": "authz/app", "imageIds": [{"imageTag": "v1"}]}),
        )
        .unwrap_err();
    assert_eq!(err["__type"], "AccessDeniedException", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("explicit deny in a resource-based policy"),
        "{err}"
    );
    let r = api
        .client
        .delete(api.url("/v2/authz/app/manifests/v1"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(error_code(r), "DENIED");
    // Reads are untouched, and the reader's grant went with the old policy.
    assert_eq!(api.head("/v2/authz/app/manifests/v1").status(), 200);
    let (_, err) = ecr(
        &s,
        reader,
        "ListImages",
        json!({"repositoryName": "authz/app"}),
    )
    .unwrap_err();
    assert_eq!(err["__type"], "AccessDeniedException", "{err}");

    // A repository policy that denies describing hides it from the catalog.
    let hide = json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "ecr:DescribeRepositories"}]});
    s.ecr(
        "us-east-1",
        "SetRepositoryPolicy",
        json!({"repositoryName": "authz/other", "policyText": hide.to_string()}),
    )
    .unwrap();
    let catalog: Value = api.get("/v2/_catalog").json().unwrap();
    assert_eq!(catalog["repositories"], json!(["authz/app"]));

    // Deleting the policy restores the admin's rights at once.
    s.ecr(
        "us-east-1",
        "DeleteRepositoryPolicy",
        json!({"repositoryName": "authz/app"}),
    )
    .unwrap();
    let r = api
        .client
        .delete(api.url("/v2/authz/app/manifests/v1"))
        .send()
        .unwrap();
    let status = r.status();
    assert_eq!(status, 202, "{}", r.text().unwrap());
}

/// With `--create-on-push`, a push to a name that does not exist creates
/// the repository only for a caller allowed `ecr:CreateRepository` on it;
/// the push actions alone are not enough.
#[test]
fn creating_a_repository_by_pushing_needs_create_repository() {
    let s = start_with(&["--create-on-push", "true"]);
    let (id, secret) = user_with_key(&s, "pusher");
    let push_only = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability",
                   "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                   "ecr:CompleteLayerUpload", "ecr:PutImage"],
        "Resource": "*"}]});
    s.ecr(
        "us-east-1",
        "CreateRepository",
        json!({"repositoryName": "exists/app"}),
    )
    .unwrap();
    set_user_policy(&s, "pusher", &push_only);
    let pusher = api_as(&s, (&id, &secret));
    let img = image::oci_image(1808, 1, 1, 100);
    // An existing repository takes the push.
    pusher.push_image("exists/app", &img, "v1");
    // A new name is refused, and nothing is created.
    let r = pusher
        .client
        .post(pusher.url("/v2/brand/new/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let text = r.text().unwrap();
    assert!(text.contains("ecr:CreateRepository"), "{text}");
    let (_, err) = s
        .ecr(
            "us-east-1",
            "DescribeRepositories",
            json!({"repositoryNames": ["brand/new"]}),
        )
        .unwrap_err();
    assert_eq!(err["__type"], "RepositoryNotFoundException");
    // Allowed to create, the same push creates it.
    let mut with_create = push_only.clone();
    with_create["Statement"][0]["Action"]
        .as_array_mut()
        .unwrap()
        .push(json!("ecr:CreateRepository"));
    set_user_policy(&s, "pusher", &with_create);
    pusher.push_image("brand/new", &img, "v1");
}

/// Temporary credentials of a session of `role`, assumed by the root admin.
fn assume(s: &TestServer, role: &str, session: &str) -> (String, String, String) {
    let arn = format!("arn:aws:iam::000000000000:role/{role}");
    let args = [
        "sts",
        "assume-role",
        "--role-arn",
        &arn,
        "--role-session-name",
        session,
    ];
    let out = json_of(&args, aws_with(&s.aws_env("us-east-1"), &args));
    let c = &out["Credentials"];
    (
        c["AccessKeyId"].as_str().unwrap().to_string(),
        c["SecretAccessKey"].as_str().unwrap().to_string(),
        c["SessionToken"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_role_session_is_refused_every_operation_until_its_role_allows_and_after_the_role_is_gone() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    s.ecr(
        "us-east-1",
        "CreateRepository",
        json!({"repositoryName": "authz/app"}),
    )
    .unwrap();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/admin"}, "Action": "sts:AssumeRole"}]});
    let root = s.aws_env("us-east-1");
    let create = [
        "iam",
        "create-role",
        "--role-name",
        "bare",
        "--assume-role-policy-document",
        &trust.to_string(),
    ];
    json_of(&create, aws_with(&root, &create));
    let (id, secret, token) = assume(&s, "bare", "probe");
    let call = |op: &str| {
        let input = json!({
            "repositoryName": "authz/app",
            "resourceArn": "arn:aws:ecr:us-east-1:000000000000:repository/authz/app",
            "layerPartBlob": "YQ==",
        });
        berth_testkit::ecr::call_with_token(
            &s.raw_client(),
            &s.url(),
            (&id, &secret),
            Some(&token),
            "us-east-1",
            op,
            &input,
        )
    };
    // Every operation berth answers, from the dispatcher itself.
    for op in berth_server::ecr::IMPLEMENTED_OPERATIONS {
        let (_, err) = call(op).expect_err(&format!("{op} was allowed to a bare role"));
        assert_eq!(err["__type"], "AccessDeniedException", "{op}: {err}");
        let msg = err["message"].as_str().unwrap();
        assert!(
            msg.contains("arn:aws:sts::000000000000:assumed-role/bare/probe")
                && msg.contains(&format!("ecr:{op}")),
            "{op}: {msg}"
        );
    }
    // The role's policy allows it: the same session passes authorization
    // (an operation may still fail on its input, never as AccessDenied).
    let allow = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]});
    let put = [
        "iam",
        "put-role-policy",
        "--role-name",
        "bare",
        "--policy-name",
        "all-ecr",
        "--policy-document",
        &allow.to_string(),
    ];
    json_of(&put, aws_with(&root, &put));
    for op in berth_server::ecr::IMPLEMENTED_OPERATIONS {
        if let Err((_, err)) = call(op) {
            assert_ne!(err["__type"], "AccessDeniedException", "{op}: {err}");
        }
    }
    // The role is deleted: its sessions are refused at once on this node
    // (within USER_CHECK_TTL, 5 s, on the others).
    let del = [
        "iam",
        "delete-role-policy",
        "--role-name",
        "bare",
        "--policy-name",
        "all-ecr",
    ];
    json_of(&del, aws_with(&root, &del));
    let del = ["iam", "delete-role", "--role-name", "bare"];
    json_of(&del, aws_with(&root, &del));
    for op in [
        "DescribeRepositories",
        "GetAuthorizationToken",
        "BatchGetImage",
    ] {
        let (_, err) = call(op).expect_err(op);
        assert_eq!(err["__type"], "UnrecognizedClientException", "{op}: {err}");
    }
}
