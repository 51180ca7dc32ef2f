//! Public registries (issue 24) through `aws ecr-public`: an account's
//! registry and its alias (assigned at first use, kept, unique per
//! account), its catalog data, `ecr-public:` authorization by the caller's
//! policies, public repositories with their catalog data, and every
//! operation of the model refusing the unsigned and another account.

use crate::common::*;
use berth_testkit::tools;

fn env_of(s: &berth_testkit::TestServer, key: &(String, String)) -> Vec<(&'static str, String)> {
    let mut env = s.aws_env("us-east-1");
    env[0].1 = key.0.clone();
    env[1].1 = key.1.clone();
    env
}

#[test]
fn an_account_gets_a_public_registry_with_an_alias_and_catalog_data() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let root = s.aws_env("us-east-1");
    let described = json_of(
        &["ecr-public", "describe-registries"],
        aws_with(&root, &["ecr-public", "describe-registries"]),
    );
    let registry = &described["registries"][0];
    let alias = registry["aliases"][0]["name"].as_str().unwrap().to_string();
    assert!(
        alias.len() == 8 && alias.as_bytes()[0].is_ascii_lowercase(),
        "{alias}"
    );
    assert_eq!(registry["registryId"], "000000000000");
    assert_eq!(
        registry["registryArn"],
        "arn:aws:ecr-public::000000000000:registry/000000000000"
    );
    let port = s.url().rsplit(':').next().unwrap().to_string();
    assert_eq!(
        registry["registryUri"],
        format!("public.localhost:{port}/{alias}").as_str()
    );
    assert_eq!(registry["verified"], false);
    assert_eq!(registry["aliases"][0]["status"], "ACTIVE");
    assert_eq!(registry["aliases"][0]["defaultRegistryAlias"], true);
    let again = json_of(
        &["ecr-public", "describe-registries"],
        aws_with(
            &root,
            &["ecr-public", "describe-registries", "--max-results", "5"],
        ),
    );
    assert_eq!(
        again["registries"][0]["aliases"][0]["name"],
        alias.as_str(),
        "kept"
    );

    // Catalog data: none, then a display name; a name over 100 characters is refused.
    let empty = json_of(
        &["ecr-public", "get-registry-catalog-data"],
        aws_with(&root, &["ecr-public", "get-registry-catalog-data"]),
    );
    assert_eq!(empty["registryCatalogData"], serde_json::json!({}));
    let put = json_of(
        &["ecr-public", "put-registry-catalog-data"],
        aws_with(
            &root,
            &[
                "ecr-public",
                "put-registry-catalog-data",
                "--display-name",
                "Team Alpha",
            ],
        ),
    );
    assert_eq!(put["registryCatalogData"]["displayName"], "Team Alpha");
    let got = json_of(
        &["ecr-public", "get-registry-catalog-data"],
        aws_with(&root, &["ecr-public", "get-registry-catalog-data"]),
    );
    assert_eq!(got["registryCatalogData"]["displayName"], "Team Alpha");
    let long = "x".repeat(101);
    let refused = aws_with(
        &root,
        &[
            "ecr-public",
            "put-registry-catalog-data",
            "--display-name",
            &long,
        ],
    );
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(text.contains("InvalidParameterException"), "{text}");

    // Another account: its own registry and alias.
    let other = account_with_key(&s, "111111111111");
    let theirs = json_of(
        &["ecr-public", "describe-registries"],
        aws_with(&env_of(&s, &other), &["ecr-public", "describe-registries"]),
    );
    assert_eq!(theirs["registries"][0]["registryId"], "111111111111");
    assert_ne!(
        theirs["registries"][0]["aliases"][0]["name"],
        alias.as_str()
    );
    let their_catalog = json_of(
        &["ecr-public", "get-registry-catalog-data"],
        aws_with(
            &env_of(&s, &other),
            &["ecr-public", "get-registry-catalog-data"],
        ),
    );
    assert_eq!(
        their_catalog["registryCatalogData"],
        serde_json::json!({}),
        "not A's name"
    );

    // A user whose policies allow no ecr-public action is refused, named.
    let plain = user_with_key(&s, "plain");
    let denied = aws_with(&env_of(&s, &plain), &["ecr-public", "describe-registries"]);
    assert!(!denied.status.success());
    let text = String::from_utf8_lossy(&denied.stderr);
    assert!(
        text.contains("AccessDenied")
            && text.contains("user/plain")
            && text.contains("ecr-public:DescribeRegistries"),
        "{text}"
    );

    // A repository that does not exist, in ECR Public's words.
    let policy = aws_with(
        &root,
        &[
            "ecr-public",
            "get-repository-policy",
            "--repository-name",
            "app",
        ],
    );
    assert!(!policy.status.success());
    let text = String::from_utf8_lossy(&policy.stderr);
    assert!(
        text.contains("RepositoryNotFoundException")
            && text.contains("The repository with name 'app' does not exist"),
        "{text}"
    );
}

/// Public repositories with their catalog data through `aws ecr-public`:
/// created under the registry's alias, described, their catalog data
/// replaced, refused past ECR Public's limits, deleted; apart from the
/// account's private repositories, and unchangeable by another account.
#[test]
fn public_repositories_are_created_with_catalog_data_and_kept_apart_from_private_ones() {
    if !tools::require("aws") || !tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let root = s.aws_env("us-east-1");
    let catalog = serde_json::json!({
        "description": "A tool for <b>everyone</b>",
        "architectures": ["x86-64", "ARM 64"],
        "operatingSystems": ["Linux"],
        "aboutText": "# About\nIt does things.",
        "usageText": "docker run it",
    });
    let catalog_text = catalog.to_string();
    let create = [
        "ecr-public",
        "create-repository",
        "--repository-name",
        "tools/app",
        "--catalog-data",
        &catalog_text,
        "--tags",
        "Key=team,Value=alpha",
    ];
    let created = json_of(&create, aws_with(&root, &create));
    let describe = ["ecr-public", "describe-registries"];
    let alias = json_of(&describe, aws_with(&root, &describe))["registries"][0]["aliases"][0]
        ["name"]
        .as_str()
        .unwrap()
        .to_string();
    let port = s.url().rsplit(':').next().unwrap().to_string();
    let repo = &created["repository"];
    assert_eq!(
        repo["repositoryArn"],
        "arn:aws:ecr-public::000000000000:repository/tools/app"
    );
    assert_eq!(repo["registryId"], "000000000000");
    assert_eq!(
        repo["repositoryUri"],
        format!("public.localhost:{port}/{alias}/tools/app").as_str()
    );
    assert_eq!(
        created["catalogData"]["description"],
        catalog["description"]
    );
    assert_eq!(
        created["catalogData"]["architectures"],
        catalog["architectures"]
    );
    let again = aws_with(&root, &create[..4]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("RepositoryAlreadyExistsException"));

    // Public and private repositories are apart: neither lists the other.
    let private = [
        "ecr",
        "create-repository",
        "--repository-name",
        "private/app",
    ];
    assert!(aws_with(&root, &private).status.success());
    let list = ["ecr-public", "describe-repositories"];
    let public = json_of(&list, aws_with(&root, &list));
    let names: Vec<&str> = public["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repositoryName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tools/app"]);
    let list_private = ["ecr", "describe-repositories"];
    let listed = json_of(&list_private, aws_with(&root, &list_private));
    assert_eq!(
        listed["repositories"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
    assert_eq!(listed["repositories"][0]["repositoryName"], "private/app");
    let missing = [
        "ecr-public",
        "describe-repositories",
        "--repository-names",
        "private/app",
    ];
    let text = String::from_utf8_lossy(&aws_with(&root, &missing).stderr).to_string();
    assert!(text.contains("RepositoryNotFoundException"), "{text}");

    // Catalog data: read back, replaced whole (with a logo), refused past the limits.
    let get = [
        "ecr-public",
        "get-repository-catalog-data",
        "--repository-name",
        "tools/app",
    ];
    let got = json_of(&get, aws_with(&root, &get));
    assert_eq!(got["catalogData"]["usageText"], "docker run it");
    assert_eq!(got["catalogData"]["marketplaceCertified"], false);
    // boto3 sends the logo as bytes (the aws CLI v1 cannot nest a file's).
    let script = r#"
import boto3, os
c = boto3.client("ecr-public", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
png = b"\x89PNG\r\n\x1a\n" + bytes(64)
out = c.put_repository_catalog_data(repositoryName="tools/app", catalogData={"description": "Now shorter", "logoImageBlob": png})
print(out["catalogData"]["description"])
try:
    c.put_repository_catalog_data(repositoryName="tools/app", catalogData={"logoImageBlob": b"GIF89a"})
except c.exceptions.InvalidParameterException as e:
    print("refused:", e.response["Error"]["Message"])
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .envs(root.iter().cloned())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("Now shorter\n"), "{text}");
    assert!(
        text.contains("refused:") && text.contains("PNG or JPEG"),
        "{text}"
    );
    let got = json_of(&get, aws_with(&root, &get));
    assert_eq!(got["catalogData"]["description"], "Now shorter");
    assert!(
        got["catalogData"].get("usageText").is_none(),
        "replaced whole"
    );
    let long = serde_json::json!({"description": "x".repeat(1025)}).to_string();
    let too_long = [
        "ecr-public",
        "put-repository-catalog-data",
        "--repository-name",
        "tools/app",
        "--catalog-data",
        &long,
    ];
    let text = String::from_utf8_lossy(&aws_with(&root, &too_long).stderr).to_string();
    assert!(
        text.contains("InvalidParameterException") && text.contains("1024"),
        "{text}"
    );

    // Another account reads but does not change A's public repository.
    let other = account_with_key(&s, "111111111111");
    let b = env_of(&s, &other);
    let theirs_of_a = [
        "ecr-public",
        "describe-repositories",
        "--registry-id",
        "000000000000",
    ];
    let seen = json_of(&theirs_of_a, aws_with(&b, &theirs_of_a));
    assert_eq!(seen["repositories"][0]["repositoryName"], "tools/app");
    let delete_a = [
        "ecr-public",
        "delete-repository",
        "--registry-id",
        "000000000000",
        "--repository-name",
        "tools/app",
    ];
    let text = String::from_utf8_lossy(&aws_with(&b, &delete_a).stderr).to_string();
    assert!(text.contains("AccessDenied"), "{text}");
    let theirs = json_of(&list, aws_with(&b, &list));
    assert!(theirs["repositories"].as_array().unwrap().is_empty());

    let delete = [
        "ecr-public",
        "delete-repository",
        "--repository-name",
        "tools/app",
    ];
    let deleted = json_of(&delete, aws_with(&root, &delete));
    assert_eq!(deleted["repository"]["repositoryName"], "tools/app");
    let text = String::from_utf8_lossy(&aws_with(&root, &get).stderr).to_string();
    assert!(text.contains("RepositoryNotFoundException"), "{text}");
}

/// No region a request can name reaches the public registries' key.
#[test]
fn no_request_names_the_public_region() {
    let hosts = berth_server::HostConfig::new(
        "000000000000".into(),
        "us-east-1".into(),
        "localhost".into(),
        "http",
    );
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::HOST,
        http::HeaderValue::from_str(&format!(
            "000000000000.dkr.ecr.{}.localhost:5000",
            berth_registry::PUBLIC_REGION
        ))
        .unwrap(),
    );
    assert_eq!(
        hosts.account_registry(http::Version::HTTP_11, &"/v2/".parse().unwrap(), &headers),
        None
    );
    assert!(!berth_server::console::valid_region(
        berth_registry::PUBLIC_REGION
    ));
}

/// Every ECR Public operation berth answers, from its table: an unsigned
/// call is refused before its body is read, and another account's admin,
/// naming A's registry and repository, changes nothing of A's (reads of
/// A's public repositories are allowed: they are public).
#[test]
fn every_public_operation_refuses_the_anonymous_and_changes_only_the_callers_account() {
    use berth_testkit::signed::{json_call, Signer};
    use serde_json::{json, Value};
    let s = start();
    let client = s.raw_client();
    let call = |key: (&str, &str), op: &str, input: Value| {
        let signer = Signer {
            key,
            session_token: None,
            region: "us-east-1",
            service: "ecr-public",
        };
        json_call(
            &client,
            &s.url(),
            &signer,
            &format!("SpencerFrontendService.{op}"),
            &input,
        )
    };
    let root = (
        berth_testkit::ROOT_ACCESS_KEY_ID,
        berth_testkit::ROOT_SECRET_ACCESS_KEY,
    );
    call(root, "PutRegistryCatalogData", json!({"displayName": "A"})).unwrap();
    call(
        root,
        "CreateRepository",
        json!({"repositoryName": "pub/app", "catalogData": {"description": "A's"}}),
    )
    .unwrap();
    call(
        root,
        "TagResource",
        json!({"resourceArn": ARN, "tags": [{"Key": "team", "Value": "a"}]}),
    )
    .unwrap();
    let other = account_with_key(&s, "111111111111");
    let b = (other.0.as_str(), other.1.as_str());
    const A: &str = "000000000000";
    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const UPLOAD: &str = "0b5e7a0c-0000-4000-8000-000000000001";
    const ARN: &str = "arn:aws:ecr-public::000000000000:repository/pub/app";
    let mut walked = 0;
    for op in berth_server::ecr_public::IMPLEMENTED_OPERATIONS {
        // Each operation's members, naming A's registry where it has one.
        let input = match *op {
            "DescribeRegistries" | "GetRegistryCatalogData" | "GetAuthorizationToken" => json!({}),
            "PutRegistryCatalogData" => json!({"displayName": "B"}),
            "CreateRepository" => json!({"repositoryName": "pub/app"}),
            "DescribeRepositories" => json!({"registryId": A}),
            "DeleteRepository" => {
                json!({"registryId": A, "repositoryName": "pub/app", "force": true})
            }
            "GetRepositoryCatalogData" => json!({"registryId": A, "repositoryName": "pub/app"}),
            "PutRepositoryCatalogData" => json!({"registryId": A, "repositoryName": "pub/app",
                "catalogData": {"description": "B's"}}),
            "BatchCheckLayerAvailability" => {
                json!({"registryId": A, "repositoryName": "pub/app", "layerDigests": [EMPTY]})
            }
            "BatchDeleteImage" => json!({"registryId": A, "repositoryName": "pub/app",
                "imageIds": [{"imageTag": "v1"}]}),
            "CompleteLayerUpload" => json!({"registryId": A, "repositoryName": "pub/app",
                "uploadId": UPLOAD, "layerDigests": [EMPTY]}),
            "DeleteRepositoryPolicy"
            | "DescribeImageTags"
            | "DescribeImages"
            | "GetRepositoryPolicy"
            | "InitiateLayerUpload" => {
                json!({"registryId": A, "repositoryName": "pub/app"})
            }
            "ListTagsForResource" => json!({"resourceArn": ARN}),
            "PutImage" => json!({"registryId": A, "repositoryName": "pub/app",
                "imageManifest": "{}", "imageTag": "b"}),
            "SetRepositoryPolicy" => json!({"registryId": A, "repositoryName": "pub/app",
                "policyText": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr-public:*"}]}"#}),
            "TagResource" => json!({"resourceArn": ARN, "tags": [{"Key": "owner", "Value": "b"}]}),
            "UntagResource" => json!({"resourceArn": ARN, "tagKeys": ["team"]}),
            "UploadLayerPart" => json!({"registryId": A, "repositoryName": "pub/app",
                "uploadId": UPLOAD, "partFirstByte": 0, "partLastByte": 0, "layerPartBlob": "AA=="}),
            other => panic!("{other}: add its members here, and what another account may do"),
        };
        let unsigned = client
            .post(format!("{}/", s.url()))
            .header("x-amz-target", format!("SpencerFrontendService.{op}"))
            .header("content-type", "application/x-amz-json-1.1")
            .body(input.to_string())
            .send()
            .unwrap();
        let err: Value = unsigned.json().unwrap();
        assert_eq!(
            err["__type"], "MissingAuthenticationTokenException",
            "{op}: {err}"
        );
        let as_b = call(b, op, input);
        match *op {
            // A's repository has no policy: another account may not touch
            // it, its images, its policy or its tags.
            "DeleteRepository"
            | "PutRepositoryCatalogData"
            | "BatchCheckLayerAvailability"
            | "BatchDeleteImage"
            | "CompleteLayerUpload"
            | "DeleteRepositoryPolicy"
            | "DescribeImageTags"
            | "DescribeImages"
            | "GetRepositoryPolicy"
            | "InitiateLayerUpload"
            | "ListTagsForResource"
            | "PutImage"
            | "SetRepositoryPolicy"
            | "TagResource"
            | "UntagResource"
            | "UploadLayerPart" => {
                let (_, err) = as_b.expect_err(op);
                assert_eq!(err["__type"], "AccessDeniedException", "{op}: {err}");
            }
            "DescribeRegistries" => {
                let out = as_b.unwrap();
                assert_eq!(out["registries"][0]["registryId"], "111111111111", "{op}");
            }
            "GetRegistryCatalogData" => {
                let out = as_b.unwrap();
                assert_ne!(out["registryCatalogData"]["displayName"], "A", "{op}");
            }
            "GetAuthorizationToken" => {
                // B's own token: it authenticates B, nothing of A's.
                let out = as_b.unwrap();
                assert!(out["authorizationData"]["authorizationToken"].is_string());
            }
            "DescribeRepositories" | "GetRepositoryCatalogData" => {
                as_b.unwrap_or_else(|e| panic!("{op}: a public read refused: {e:?}"));
            }
            _ => {
                as_b.unwrap_or_else(|e| panic!("{op} in B's own registry: {e:?}"));
            }
        }
        walked += 1;
    }
    assert_eq!(walked, 23);
    // Nothing of A's changed.
    let a_catalog = call(root, "GetRegistryCatalogData", json!({})).unwrap();
    assert_eq!(a_catalog["registryCatalogData"]["displayName"], "A");
    let a_repo = call(
        root,
        "GetRepositoryCatalogData",
        json!({"repositoryName": "pub/app"}),
    )
    .unwrap();
    assert_eq!(a_repo["catalogData"]["description"], "A's");
    let tags = call(root, "ListTagsForResource", json!({"resourceArn": ARN})).unwrap();
    assert_eq!(tags["tags"], json!([{"Key": "team", "Value": "a"}]));
    let (_, no_policy) = call(
        root,
        "GetRepositoryPolicy",
        json!({"repositoryName": "pub/app"}),
    )
    .expect_err("B set no policy");
    assert_eq!(no_policy["__type"], "RepositoryPolicyNotFoundException");
    let listed = call(root, "DescribeRepositories", json!({})).unwrap();
    assert_eq!(
        listed["repositories"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
}
