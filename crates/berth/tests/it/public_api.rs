//! ECR Public's image, layer, policy and tag operations through boto3
//! (issue 24): an image pushed with the layer operations and PutImage,
//! described, tagged, its repository's policy set (denying one user, whose
//! pulls on the public host are then refused while everyone else's work),
//! and the documented errors.

use crate::common::*;
use berth_testkit::tools;
use serde_json::Value;

const SCRIPT: &str = r#"
import base64, hashlib, json, sys
import boto3

c = boto3.client("ecr-public")
out = {}
repo = "api/app"
c.create_repository(repositoryName=repo)

def code(f):
    try:
        f()
        return None
    except c.exceptions.ClientError as e:
        return e.response["Error"]["Code"]

def upload(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    up = c.initiate_layer_upload(repositoryName=repo)
    assert up["partSize"] > 0
    part = c.upload_layer_part(repositoryName=repo, uploadId=up["uploadId"],
        partFirstByte=0, partLastByte=len(data) - 1, layerPartBlob=data)
    assert part["lastByteReceived"] == len(data) - 1, part
    done = c.complete_layer_upload(repositoryName=repo, uploadId=up["uploadId"],
        layerDigests=[digest])
    assert done["layerDigest"] == digest, done
    return digest

layer = b"public layer bytes " * 500
layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
out["before"] = c.batch_check_layer_availability(repositoryName=repo,
    layerDigests=[layer_digest])["failures"][0]["failureCode"]
upload(layer)
out["after"] = c.batch_check_layer_availability(repositoryName=repo,
    layerDigests=[layer_digest])["layers"][0]["layerAvailability"]
config = json.dumps({"architecture": "amd64", "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}).encode()
config_digest = upload(config)
manifest = json.dumps({"schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": config_digest, "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer_digest, "size": len(layer)}]})
put = c.put_image(repositoryName=repo, imageManifest=manifest, imageTag="v1")
out["digest"] = put["image"]["imageId"]["imageDigest"]
c.put_image(repositoryName=repo, imageManifest=manifest, imageTag="latest")
out["images"] = [sorted(d["imageTags"]) for d in c.describe_images(repositoryName=repo)["imageDetails"]]
tags = c.describe_image_tags(repositoryName=repo)["imageTagDetails"]
out["tags"] = sorted(t["imageTag"] for t in tags)
out["tag_digest"] = tags[0]["imageDetail"]["imageDigest"]
out["tag_size"] = tags[0]["imageDetail"]["imageSizeInBytes"]

arn = c.describe_repositories(repositoryNames=[repo])["repositories"][0]["repositoryArn"]
c.tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "a"}])
out["tagged"] = c.list_tags_for_resource(resourceArn=arn)["tags"]
c.untag_resource(resourceArn=arn, tagKeys=["team"])
out["untagged"] = c.list_tags_for_resource(resourceArn=arn)["tags"]

out["no_policy"] = code(lambda: c.get_repository_policy(repositoryName=repo))
policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "NotEve",
    "Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::000000000000:user/eve"},
    "Action": "ecr-public:*"}]})
c.set_repository_policy(repositoryName=repo, policyText=policy)
out["policy"] = json.loads(c.get_repository_policy(repositoryName=repo)["policyText"])["Statement"][0]["Sid"]

out["errors"] = {
    "no_repository": code(lambda: c.describe_images(repositoryName="api/none")),
    "no_image": code(lambda: c.describe_images(repositoryName=repo, imageIds=[{"imageTag": "nope"}])),
    "no_upload": code(lambda: c.upload_layer_part(repositoryName=repo,
        uploadId="0b5e7a0c-0000-4000-8000-000000000001", partFirstByte=0, partLastByte=0,
        layerPartBlob=b"x")),
    "missing_layer": code(lambda: c.put_image(repositoryName=repo, imageTag="broken",
        imageManifest=manifest.replace(layer_digest, "sha256:" + "0" * 64))),
    "empty_upload": code(lambda: c.complete_layer_upload(repositoryName=repo,
        uploadId=c.initiate_layer_upload(repositoryName=repo)["uploadId"],
        layerDigests=["sha256:" + "1" * 64])),
    "bad_arn": code(lambda: c.list_tags_for_resource(
        resourceArn="arn:aws:ecr:us-east-1:000000000000:repository/" + repo)),
    "private_arn_policy": code(lambda: c.get_repository_policy(repositoryName="api/none")),
    "exists": code(lambda: c.create_repository(repositoryName=repo)),
    "not_empty": code(lambda: c.delete_repository(repositoryName=repo)),
    "no_catalog": code(lambda: c.get_repository_catalog_data(repositoryName="api/none")),
    "long_display_name": code(lambda: c.put_registry_catalog_data(displayName="x" * 101)),
    "long_description": code(lambda: c.put_repository_catalog_data(repositoryName=repo,
        catalogData={"description": "x" * 1025})),
    "bad_logo": code(lambda: c.put_repository_catalog_data(repositoryName=repo,
        catalogData={"logoImageBlob": b"GIF89a not a png"})),
}
token = c.get_authorization_token()["authorizationData"]
out["token_user"] = base64.b64decode(token["authorizationToken"]).decode().split(":")[0]
out["token_expires"] = token["expiresAt"].timestamp() > 0
out["registry"] = c.describe_registries()["registries"][0]["registryUri"]
c.put_registry_catalog_data(displayName="API Team")
out["display_name"] = c.get_registry_catalog_data()["registryCatalogData"]["displayName"]
print(json.dumps(out))
"#;

#[test]
fn every_image_policy_and_tag_operation_answers_boto3_and_a_policy_denies_a_user_on_the_public_host(
) {
    if !tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let out = python_json(&s, SCRIPT, &[]);
    assert_eq!(out["before"], "MissingLayerDigest", "{out}");
    assert_eq!(out["after"], "AVAILABLE");
    assert_eq!(out["images"], serde_json::json!([["latest", "v1"]]));
    assert_eq!(out["tags"], serde_json::json!(["latest", "v1"]));
    assert_eq!(out["tag_digest"], out["digest"]);
    assert!(out["tag_size"].as_u64().unwrap() > 9_000);
    assert_eq!(
        out["tagged"],
        serde_json::json!([{"Key": "team", "Value": "a"}])
    );
    assert_eq!(out["untagged"], serde_json::json!([]));
    assert_eq!(out["policy"], "NotEve");
    assert_eq!(out["no_policy"], "RepositoryPolicyNotFoundException");
    assert_eq!(out["token_user"], "AWS");
    assert_eq!(out["token_expires"], true);
    assert_eq!(out["display_name"], "API Team");
    assert!(out["registry"]
        .as_str()
        .unwrap()
        .starts_with("public.localhost:"));
    let errors = &out["errors"];
    for (case, code) in [
        ("no_repository", "RepositoryNotFoundException"),
        ("no_image", "ImageNotFoundException"),
        ("no_upload", "UploadNotFoundException"),
        ("missing_layer", "LayersNotFoundException"),
        ("empty_upload", "EmptyUploadException"),
        ("bad_arn", "InvalidParameterException"),
        ("private_arn_policy", "RepositoryNotFoundException"),
        ("exists", "RepositoryAlreadyExistsException"),
        ("not_empty", "RepositoryNotEmptyException"),
        ("no_catalog", "RepositoryNotFoundException"),
        ("long_display_name", "InvalidParameterException"),
        ("long_description", "InvalidParameterException"),
        ("bad_logo", "InvalidParameterException"),
    ] {
        assert_eq!(errors[case], code, "{case}: {errors}");
    }

    // The image is on the public host; the policy refuses eve, and only her.
    let alias: String = {
        let r = aws_with(
            &s.aws_env("us-east-1"),
            &["ecr-public", "describe-registries"],
        );
        let v: Value = serde_json::from_slice(&r.stdout).unwrap();
        v["registries"][0]["aliases"][0]["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (eve_id, eve_secret) = user_with_key(&s, "eve");
    set_user_policy(
        &s,
        "eve",
        &serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["ecr-public:*", "sts:GetServiceBearerToken"], "Resource": "*"}]}),
    );
    let eve_login = aws_with(
        &env_for(&s, (&eve_id, &eve_secret)),
        &["ecr-public", "get-login-password"],
    );
    assert!(
        eve_login.status.success(),
        "{}",
        String::from_utf8_lossy(&eve_login.stderr)
    );
    let eve_password = String::from_utf8(eve_login.stdout)
        .unwrap()
        .trim()
        .to_string();
    let client = reqwest::blocking::Client::builder()
        .resolve("public.localhost", s.addr)
        .build()
        .unwrap();
    let base = format!("http://public.localhost:{}", s.addr.port());
    let pull = |bearer: Option<&str>| {
        let bearer = match bearer {
            Some(b) => b.to_string(),
            None => {
                let t: Value = client
                    .get(format!("{base}/token"))
                    .send()
                    .unwrap()
                    .json()
                    .unwrap();
                t["token"].as_str().unwrap().to_string()
            }
        };
        client
            .get(format!("{base}/v2/{alias}/api/app/manifests/v1"))
            .bearer_auth(bearer)
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .unwrap()
    };
    let refused = pull(Some(&eve_password));
    assert_eq!(refused.status(), 403);
    let body = refused.text().unwrap();
    assert!(
        body.contains("DENIED") && body.contains("explicit deny"),
        "{body}"
    );
    assert_eq!(pull(None).status(), 200, "anonymous");
    assert_eq!(pull(Some(s.password())).status(), 200, "the admin");

    // Without the policy eve pulls; BatchDeleteImage removes the image.
    let root = s.aws_env("us-east-1");
    let delete_policy = [
        "ecr-public",
        "delete-repository-policy",
        "--repository-name",
        "api/app",
    ];
    json_of(&delete_policy, aws_with(&root, &delete_policy));
    assert_eq!(pull(Some(&eve_password)).status(), 200);
    let delete = [
        "ecr-public",
        "batch-delete-image",
        "--repository-name",
        "api/app",
        "--image-ids",
        "imageTag=v1",
    ];
    let deleted = json_of(&delete, aws_with(&root, &delete));
    assert_eq!(deleted["imageIds"][0]["imageTag"], "v1", "{deleted}");
    assert_eq!(pull(None).status(), 404);
}
