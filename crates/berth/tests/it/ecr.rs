//! The Amazon ECR API with the real `aws` CLI and boto3 (PyPI) against a
//! real berth: SigV4, the implemented operations and their documented
//! errors by exception name, and `docker login` tokens on `/v2`.
//! Under `CI=true` a missing client fails the test.

use crate::common::*;
use std::process::Command;

fn aws(s: &TestServer, region: &str, args: &[&str]) -> std::process::Output {
    Command::new("aws")
        .args(args)
        .envs(s.aws_env(region))
        .output()
        .expect("running aws")
}

fn aws_ok(s: &TestServer, region: &str, args: &[&str]) -> serde_json::Value {
    let out = aws(s, region, args);
    assert!(
        out.status.success(),
        "aws {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn aws_err(s: &TestServer, region: &str, args: &[&str]) -> String {
    let out = aws(s, region, args);
    assert!(!out.status.success(), "aws {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// What every boto3 program here starts with: the fixture `fx`, an ECR
/// client `ecr` (the default account's admin, us-east-1), and `error_of` /
/// `code_of` for a call that must fail.
const BOTO3_PRELUDE: &str = r#"
import os, sys, json, base64, hashlib, boto3, botocore
from botocore.exceptions import ClientError
fx = json.load(open(sys.argv[1]))
ecr = boto3.client("ecr")

def error_of(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        return e.response
    raise AssertionError("expected an error from %s" % fn.__name__)

def code_of(fn, *a, **kw):
    return error_of(fn, *a, **kw)["Error"]["Code"]
"#;

/// Runs `cmd` with `input` on its stdin (`... login --password-stdin`),
/// asserting that it succeeds.
fn with_stdin(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a boto3 `program` as the default account's admin in us-east-1; the
/// path of a JSON file holding `fixture` is its first argument. Its stdout.
fn boto3(s: &TestServer, program: &str, fixture: &serde_json::Value) -> String {
    let path = s.scratch().join(tools::unique("fixture"));
    std::fs::write(&path, fixture.to_string()).unwrap();
    let out = tools::run(
        Command::new("python3")
            .arg("-c")
            .arg(format!("{BOTO3_PRELUDE}{program}"))
            .arg(&path)
            .envs(s.aws_env("us-east-1")),
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_aws_cli_manages_repositories_per_region() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let port = s.addr.port();
    let created = aws_ok(
        &s,
        "us-east-1",
        &["ecr", "create-repository", "--repository-name", "team/app"],
    );
    let repo = &created["repository"];
    assert_eq!(repo["repositoryName"], "team/app");
    assert_eq!(repo["registryId"], "000000000000");
    assert_eq!(
        repo["repositoryArn"],
        "arn:aws:ecr:us-east-1:000000000000:repository/team/app"
    );
    // The caller's own registry in the default region: the address the
    // request reached, which docker can push to as it is.
    assert_eq!(repo["repositoryUri"], format!("127.0.0.1:{port}/team/app"));
    assert_eq!(repo["imageTagMutability"], "MUTABLE");
    assert!(repo["createdAt"].is_number() || repo["createdAt"].is_string());
    // Every repository is sealed at rest: AES256, as ECR reports it when
    // nothing was asked, in CreateRepository and DescribeRepositories.
    assert_eq!(
        repo["encryptionConfiguration"],
        serde_json::json!({ "encryptionType": "AES256" })
    );
    let described = aws_ok(
        &s,
        "us-east-1",
        &[
            "ecr",
            "describe-repositories",
            "--repository-names",
            "team/app",
        ],
    );
    assert_eq!(
        described["repositories"][0]["encryptionConfiguration"],
        serde_json::json!({ "encryptionType": "AES256" })
    );
    let asked = aws_ok(
        &s,
        "us-east-1",
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            "team/asked-aes",
            "--encryption-configuration",
            "encryptionType=AES256",
        ],
    );
    assert_eq!(
        asked["repository"]["encryptionConfiguration"]["encryptionType"],
        "AES256"
    );
    aws_ok(
        &s,
        "us-east-1",
        &[
            "ecr",
            "delete-repository",
            "--repository-name",
            "team/asked-aes",
        ],
    );
    let err = aws_err(
        &s,
        "us-east-1",
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            "team/aes-with-key",
            "--encryption-configuration",
            "encryptionType=AES256,kmsKey=alias/app",
        ],
    );
    assert!(err.contains("InvalidParameterException"), "{err}");

    let err = aws_err(
        &s,
        "us-east-1",
        &["ecr", "create-repository", "--repository-name", "team/app"],
    );
    assert!(err.contains("RepositoryAlreadyExistsException"), "{err}");
    // Another region is another registry.
    // Another region is addressed by its account host name.
    let eu = aws_ok(
        &s,
        "eu-west-1",
        &["ecr", "create-repository", "--repository-name", "team/app"],
    );
    assert_eq!(
        eu["repository"]["repositoryUri"],
        format!("000000000000.dkr.ecr.eu-west-1.localhost:{port}/team/app")
    );
    aws_ok(
        &s,
        "eu-west-1",
        &["ecr", "create-repository", "--repository-name", "eu-only"],
    );
    let listed = aws_ok(&s, "us-east-1", &["ecr", "describe-repositories"]);
    let names: Vec<&str> = listed["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repositoryName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["team/app"]);
    // The CLI pages through with nextToken.
    for i in 0..5 {
        aws_ok(
            &s,
            "eu-west-1",
            &[
                "ecr",
                "create-repository",
                "--repository-name",
                &format!("paged/r{i}"),
            ],
        );
    }
    let all = aws_ok(
        &s,
        "eu-west-1",
        &["ecr", "describe-repositories", "--page-size", "2"],
    );
    assert_eq!(all["repositories"].as_array().unwrap().len(), 7);

    let err = aws_err(
        &s,
        "us-east-1",
        &[
            "ecr",
            "describe-repositories",
            "--repository-names",
            "eu-only",
        ],
    );
    assert!(err.contains("RepositoryNotFoundException"), "{err}");
    let err = aws_err(
        &s,
        "us-east-1",
        &["ecr", "create-repository", "--repository-name", "Bad_Name"],
    );
    assert!(err.contains("InvalidParameterException"), "{err}");
    // KMS without a key: the AWS-managed key of the region, made on first
    // use (it-kms:: has the rest).
    let kms = aws_ok(
        &s,
        "eu-west-1",
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            "kms",
            "--encryption-configuration",
            "encryptionType=KMS",
        ],
    );
    let key = kms["repository"]["encryptionConfiguration"]["kmsKey"]
        .as_str()
        .unwrap_or_default();
    assert!(
        key.starts_with("arn:aws:kms:eu-west-1:000000000000:key/"),
        "{kms}"
    );

    let deleted = aws_ok(
        &s,
        "us-east-1",
        &["ecr", "delete-repository", "--repository-name", "team/app"],
    );
    assert_eq!(deleted["repository"]["repositoryName"], "team/app");
    let err = aws_err(
        &s,
        "us-east-1",
        &["ecr", "delete-repository", "--repository-name", "team/app"],
    );
    assert!(err.contains("RepositoryNotFoundException"), "{err}");
    assert!(
        err.contains("does not exist in the registry with id '000000000000'"),
        "{err}"
    );
}

#[test]
fn get_login_password_gives_a_token_that_v2_accepts_and_forgeries_do_not() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let out = aws(&s, "us-east-1", &["ecr", "get-login-password"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let password = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(!password.is_empty() && !password.contains(':'));

    let api = Api::new(&s);
    let get = |user_pass: Option<String>| {
        let mut r = api.client.get(api.url("/v2/"));
        if let Some(up) = user_pass {
            let (u, p) = up.split_once(':').unwrap();
            r = r.basic_auth(u, Some(p));
        }
        r.send().unwrap()
    };
    assert_eq!(get(Some(format!("AWS:{password}"))).status(), 200);
    let mut forged = password.clone().into_bytes();
    let i = forged.len() / 3;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    for bad in [
        format!("AWS:{}", String::from_utf8(forged).unwrap()),
        format!("someone:{password}"),
    ] {
        let r = get(Some(bad));
        assert_eq!(r.status(), 401);
        let challenge = header(&r, "www-authenticate");
        assert!(
            challenge.starts_with("Basic realm=")
                && challenge.contains("service=\"ecr.amazonaws.com\""),
            "{challenge}"
        );
        assert_eq!(error_code(r), "UNAUTHORIZED");
    }

    // Pushes with the token land in the token's account: skopeo with credentials.
    if tools::require("skopeo") {
        let img = image::oci_image(41, 1, 1, 1000);
        let layout = s.scratch().join("layout");
        image::write_oci_layout(&layout, &img, "v1");
        tools::run(
            Command::new("skopeo")
                .args(["copy", "--dest-tls-verify=false", "--dest-creds"])
                .arg(format!("AWS:{password}"))
                .arg(format!("oci:{}:v1", layout.display()))
                .arg(format!("docker://{}/login/app:v1", s.host())),
        );
        let r = api
            .client
            .get(api.url("/v2/login/app/manifests/v1"))
            .basic_auth("AWS", Some(&password))
            .header("accept", image::OCI_MANIFEST)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().unwrap()[..], img.manifest[..]);
    }
}

const BOTO3_SUITE: &str = r#"
r = ecr.create_repository(repositoryName="boto/one", imageScanningConfiguration={"scanOnPush": True})
assert r["repository"]["imageScanningConfiguration"] == {"scanOnPush": True}, r
assert r["ResponseMetadata"]["RequestId"], r["ResponseMetadata"]
assert hasattr(r["repository"]["createdAt"], "year"), "createdAt parses as a timestamp"
assert code_of(ecr.create_repository, repositoryName="boto/one") == "RepositoryAlreadyExistsException"
assert code_of(ecr.create_repository, repositoryName="Bad_Name") == "InvalidParameterException"
assert code_of(ecr.create_repository, repositoryName="boto/imm", imageTagMutability="IMMUTABLE_WITH_EXCLUSION") == "InvalidParameterException"
assert code_of(ecr.create_repository, repositoryName="boto/other", registryId="111111111111") == "AccessDeniedException"
for i in range(7):
    ecr.create_repository(repositoryName="boto/p%d" % i)
pages = list(ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 3}))
names = [r["repositoryName"] for p in pages for r in p["repositories"]]
assert len(pages) == 3 and names == sorted(names) and len(names) == 9, (len(pages), names)
assert code_of(ecr.describe_repositories, repositoryNames=["nope"]) == "RepositoryNotFoundException"
assert code_of(ecr.delete_repository, repositoryName="nope") == "RepositoryNotFoundException"
# A repository with an image (pushed by the test over /v2) needs force.
assert code_of(ecr.delete_repository, repositoryName="boto/full") == "RepositoryNotEmptyException"
assert ecr.delete_repository(repositoryName="boto/full", force=True)["repository"]["repositoryName"] == "boto/full"

t = ecr.get_authorization_token()["authorizationData"][0]
user, password = base64.b64decode(t["authorizationToken"]).decode().split(":")
assert user == "AWS" and password
assert t["proxyEndpoint"] == os.environ["AWS_ENDPOINT_URL"], t
assert (t["expiresAt"] - __import__("datetime").datetime.now(t["expiresAt"].tzinfo)).total_seconds() > 11 * 3600
assert ecr.describe_registry()["registryId"] == "000000000000"

# Operations berth does not implement yet say so, by name.
err = error_of(ecr.get_signing_configuration)
assert err["Error"]["Code"] == "UnsupportedOperationException", err
assert "GetSigningConfiguration" in err["Error"]["Message"], err

# Authentication failures, by AWS's names.
bad = boto3.client("ecr", aws_secret_access_key="wrong" * 8, aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"])
assert code_of(bad.describe_repositories) == "InvalidSignatureException"
unknown = boto3.client("ecr", aws_access_key_id="AKIAUNKNOWNUNKNOWN00", aws_secret_access_key="x" * 40)
assert code_of(unknown.describe_repositories) == "UnrecognizedClientException"
print("boto3 suite passed")
"#;

#[test]
fn boto3_covers_each_implemented_operation_and_its_errors() {
    if !tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    // An image in boto/full, pushed over /v2 (the default account's registry).
    let api = Api::new(&s);
    api.push_image("boto/full", &image::oci_image(42, 1, 1, 100), "v1");
    let out = boto3(&s, BOTO3_SUITE, &serde_json::json!({}));
    assert!(out.contains("boto3 suite passed"));

    // Unknown targets and unsigned requests, raw.
    let api = Api {
        client: s.raw_client(),
        base: s.url(),
    };
    let r = api
        .client
        .post(api.url("/"))
        .header(
            "x-amz-target",
            "AmazonEC2ContainerRegistry_V20150921.NoSuchThing",
        )
        .header("content-type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(header(&r, "x-amzn-errortype"), "UnknownOperationException");
    assert!(r.headers().contains_key("x-amzn-requestid"));
    let r = api
        .client
        .post(api.url("/"))
        .header(
            "x-amz-target",
            "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
        )
        .header("content-type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .unwrap();
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["__type"], "MissingAuthenticationTokenException");
}

const BOTO3_IMAGES: &str = r#"
R = "img/app"
ids = ecr.list_images(repositoryName=R)["imageIds"]
assert sorted((i["imageDigest"], i.get("imageTag")) for i in ids) == sorted([(fx["d1"], "v1"), (fx["d1"], "v2"), (fx["d2"], None)]), ids
assert len(ecr.list_images(repositoryName=R, filter={"tagStatus": "TAGGED"})["imageIds"]) == 2
assert ecr.list_images(repositoryName=R, filter={"tagStatus": "UNTAGGED"})["imageIds"] == [{"imageDigest": fx["d2"]}]
pages = list(ecr.get_paginator("list_images").paginate(repositoryName=R, PaginationConfig={"PageSize": 1}))
assert len(pages) == 3, pages
assert code_of(ecr.list_images, repositoryName="img/none") == "RepositoryNotFoundException"

d = ecr.describe_images(repositoryName=R, imageIds=[{"imageTag": "v1"}])["imageDetails"]
assert len(d) == 1 and d[0]["imageDigest"] == fx["d1"] and d[0]["imageTags"] == ["v1", "v2"], d
assert d[0]["imageSizeInBytes"] == fx["size1"], (d[0]["imageSizeInBytes"], fx["size1"])
assert d[0]["imageManifestMediaType"] == "application/vnd.oci.image.manifest.v1+json"
assert hasattr(d[0]["imagePushedAt"], "year")
all_details = [x for p in ecr.get_paginator("describe_images").paginate(repositoryName=R, PaginationConfig={"PageSize": 1}) for x in p["imageDetails"]]
assert sorted(x["imageDigest"] for x in all_details) == sorted([fx["d1"], fx["d2"]])
assert code_of(ecr.describe_images, repositoryName=R, imageIds=[{"imageTag": "nope"}]) == "ImageNotFoundException"

got = ecr.batch_get_image(repositoryName=R, imageIds=[{"imageTag": "v1"}, {"imageTag": "nope"}])
assert got["images"][0]["imageManifest"] == fx["m1"] and got["images"][0]["imageId"] == {"imageDigest": fx["d1"], "imageTag": "v1"}
assert got["failures"][0]["failureCode"] == "ImageNotFound", got["failures"]

layers = ecr.batch_check_layer_availability(repositoryName=R, layerDigests=fx["layers"] + ["sha256:" + "0" * 64])
assert [l["layerAvailability"] for l in layers["layers"]] == ["AVAILABLE"] * len(fx["layers"])
assert layers["failures"][0]["failureCode"] == "MissingLayerDigest"
# Each available layer's media type is its descriptor's in a manifest of
# the repository (the CLI's documented example shows a config's); a blob
# no manifest uses has none yet.
assert [l.get("mediaType") for l in layers["layers"]] == ["application/vnd.oci.image.layer.v1.tar+gzip"] * len(fx["layers"]), layers
more = ecr.batch_check_layer_availability(repositoryName=R, layerDigests=[fx["config"], fx["loose"]])["layers"]
assert more[0]["mediaType"] == "application/vnd.oci.image.config.v1+json" and "mediaType" not in more[1], more

p = ecr.put_image(repositoryName=R, imageManifest=fx["m1"], imageTag="v3")
assert p["image"]["imageId"] == {"imageDigest": fx["d1"], "imageTag": "v3"}, p
assert code_of(ecr.put_image, repositoryName=R, imageManifest=fx["m1"], imageTag="v3") == "ImageAlreadyExistsException"
assert code_of(ecr.put_image, repositoryName=R, imageManifest=fx["m1"], imageTag="v4", imageDigest="sha256:" + "1" * 64) == "ImageDigestDoesNotMatchException"
assert code_of(ecr.put_image, repositoryName=R, imageManifest=fx["missing"], imageTag="v5") == "LayersNotFoundException"
assert code_of(ecr.put_image, repositoryName="img/none", imageManifest=fx["m1"], imageTag="v1") == "RepositoryNotFoundException"
assert code_of(ecr.put_image, repositoryName=R, imageManifest="{not json", imageTag="v6") == "InvalidParameterException"
deep = fx["m1"][:-1] + ',"x-note":' + "[" * 100000 + "]" * 100000 + "}"
assert code_of(ecr.put_image, repositoryName=R, imageManifest=deep, imageTag="v7") == "InvalidParameterException", "nesting is bounded"

import urllib.request, urllib.error, hashlib
u = ecr.get_download_url_for_layer(repositoryName=R, layerDigest=fx["layers"][0])
assert u["layerDigest"] == fx["layers"][0]
data = urllib.request.urlopen(u["downloadUrl"]).read()
assert "sha256:" + hashlib.sha256(data).hexdigest() == fx["layers"][0], "the URL serves the layer without credentials"
other = u["downloadUrl"].replace(fx["layers"][0], fx["layers"][1])
try:
    urllib.request.urlopen(other)
    raise AssertionError("a download URL must be bound to its blob")
except urllib.error.HTTPError as e:
    assert e.code == 403, e.code
assert code_of(ecr.get_download_url_for_layer, repositoryName=R, layerDigest="sha256:" + "0" * 64) == "LayersNotFoundException"

dl = ecr.batch_delete_image(repositoryName=R, imageIds=[{"imageTag": "v1"}, {"imageTag": "gone"}])
assert dl["imageIds"] == [{"imageDigest": fx["d1"], "imageTag": "v1"}] and dl["failures"][0]["failureCode"] == "ImageNotFound", dl
assert ecr.describe_images(repositoryName=R, imageIds=[{"imageDigest": fx["d1"]}])["imageDetails"][0]["imageTags"] == ["v2", "v3"]
ecr.batch_delete_image(repositoryName=R, imageIds=[{"imageDigest": fx["d1"]}])
assert ecr.list_images(repositoryName=R)["imageIds"] == [{"imageDigest": fx["d2"]}]
print("boto3 image suite passed")
"#;

#[test]
fn image_operations_and_v2_are_two_views_of_one_state() {
    if !tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let api = Api::new(&s);
    // Pushed over /v2: tagged twice, and another untagged by digest.
    let one = image::oci_image(51, 2, 1, 3000);
    api.push_image("img/app", &one, "v1");
    assert_eq!(
        api.put_manifest("img/app", "v2", image::OCI_MANIFEST, &one.manifest)
            .status(),
        201
    );
    let two = image::oci_image(52, 1, 1, 100);
    for l in &two.layers {
        api.push_blob("img/app", &l.bytes);
    }
    api.push_blob("img/app", &two.config);
    assert_eq!(
        api.put_manifest(
            "img/app",
            &two.manifest_digest,
            image::OCI_MANIFEST,
            &two.manifest
        )
        .status(),
        201
    );
    let size1: usize = one.layers.iter().map(|l| l.bytes.len()).sum::<usize>() + one.config.len();
    let missing = String::from_utf8(one.manifest.clone())
        .unwrap()
        .replace(&one.layers[0].digest, &image::sha256(b"never pushed"));
    let fixture = serde_json::json!({
        "d1": one.manifest_digest, "d2": two.manifest_digest,
        "m1": String::from_utf8(one.manifest.clone()).unwrap(),
        "size1": size1,
        "layers": one.layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>(),
        "config": one.config_digest,
        "loose": api.push_blob("img/app", b"no manifest uses this"),
        "missing": missing,
    });
    let out = boto3(&s, BOTO3_IMAGES, &fixture);
    assert!(out.contains("boto3 image suite passed"));
    // What PutImage tagged is what docker pulls.
    let r = api
        .client
        .get(api.url("/v2/img/app/manifests/v3"))
        .header("accept", image::OCI_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(r.status(), 404, "v3 went with its image");
}

#[test]
fn by_default_v2_needs_credentials_and_repositories_need_creating() {
    let s = start_with(&["--create-on-push", "false"]);
    // No credentials: ECR's challenge, so that docker logs in.
    let raw = Api {
        client: s.raw_client(),
        base: s.url(),
    };
    let r = raw.get("/v2/");
    assert_eq!(r.status(), 401);
    assert!(header(&r, "www-authenticate").starts_with("Basic realm="));
    assert_eq!(error_code(r), "UNAUTHORIZED");

    // Logged in, a push to a repository nobody created is NAME_UNKNOWN.
    let api = Api::new(&s);
    assert_eq!(api.get("/v2/").status(), 200);
    let r = api
        .client
        .post(api.url(&format!(
            "/v2/made/later/blobs/uploads/?digest={}",
            image::sha256(b"x")
        )))
        .body("x")
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "NAME_UNKNOWN");
    let img = image::oci_image(61, 1, 1, 100);
    let r = api.put_manifest("made/later", "v1", image::OCI_MANIFEST, &img.manifest);
    assert_eq!(error_code(r), "NAME_UNKNOWN");

    // Created through the ECR API, the same push goes through.
    s.ecr(
        "us-east-1",
        "CreateRepository",
        serde_json::json!({ "repositoryName": "made/later" }),
    )
    .unwrap();
    api.push_image("made/later", &img, "v1");
    let listed = s
        .ecr(
            "us-east-1",
            "ListImages",
            serde_json::json!({ "repositoryName": "made/later" }),
        )
        .unwrap();
    assert_eq!(listed["imageIds"][0]["imageTag"], "v1");
}

/// The workflow ECR's guides teach, with the real `aws` CLI and Docker
/// Engine, on a berth with ECR's defaults (credentials required, no
/// repository until it is created).
#[test]
fn the_ecr_getting_started_workflow_with_aws_and_docker() {
    if !tools::require("aws") || !tools::require("docker") {
        return;
    }
    let s = start_with(&["--create-on-push", "false"]);
    let registry = s.host();
    let docker_config = s.scratch().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let docker = |args: &[&str]| {
        let mut c = Command::new("docker");
        c.arg("--config").arg(&docker_config).args(args);
        c
    };
    let show = |what: &str, out: &[u8]| eprintln!("$ {what}\n{}", String::from_utf8_lossy(out));

    let created = aws_ok(
        &s,
        "us-east-1",
        &["ecr", "create-repository", "--repository-name", "guide/app"],
    );
    show(
        "aws ecr create-repository --repository-name guide/app",
        created.to_string().as_bytes(),
    );

    // aws ecr get-login-password | docker login --username AWS --password-stdin <registry>
    let password = aws(&s, "us-east-1", &["ecr", "get-login-password"]);
    assert!(password.status.success());
    let login = with_stdin(
        &mut docker(&["login", "--username", "AWS", "--password-stdin", &registry]),
        &password.stdout,
    );
    assert!(String::from_utf8_lossy(&login.stdout).contains("Login Succeeded"));
    show(
        "aws ecr get-login-password | docker login --username AWS --password-stdin",
        &login.stdout,
    );

    let rootfs = s.scratch().join("rootfs.tar");
    std::fs::write(&rootfs, image::rootfs_tar(71, 2, 100_000)).unwrap();
    let local = tools::unique("guide-app");
    let remote = format!("{registry}/guide/app:v1");
    tools::run(
        Command::new("docker")
            .arg("import")
            .arg(&rootfs)
            .arg(&local),
    );
    let _cleanup = (DockerImage(local.clone()), DockerImage(remote.clone()));
    tools::run(Command::new("docker").args(["tag", &local, &remote]));
    let pushed = tools::run(&mut docker(&["push", &remote]));
    show("docker push", &pushed.stdout);
    tools::run(Command::new("docker").args(["rmi", "-f", &remote]));
    let pulled = tools::run(&mut docker(&["pull", &remote]));
    show("docker pull", &pulled.stdout);

    let described = aws_ok(
        &s,
        "us-east-1",
        &["ecr", "describe-images", "--repository-name", "guide/app"],
    );
    show(
        "aws ecr describe-images --repository-name guide/app",
        described.to_string().as_bytes(),
    );
    let detail = &described["imageDetails"][0];
    assert_eq!(detail["imageTags"], serde_json::json!(["v1"]));
    assert!(detail["imageSizeInBytes"].as_u64().unwrap() > 100_000);
    let listed = aws_ok(
        &s,
        "us-east-1",
        &["ecr", "list-images", "--repository-name", "guide/app"],
    );
    show(
        "aws ecr list-images --repository-name guide/app",
        listed.to_string().as_bytes(),
    );
    assert_eq!(listed["imageIds"][0]["imageTag"], "v1");
    assert_eq!(listed["imageIds"][0]["imageDigest"], detail["imageDigest"]);

    let deleted = aws_ok(
        &s,
        "us-east-1",
        &[
            "ecr",
            "batch-delete-image",
            "--repository-name",
            "guide/app",
            "--image-ids",
            "imageTag=v1",
        ],
    );
    show(
        "aws ecr batch-delete-image --image-ids imageTag=v1",
        deleted.to_string().as_bytes(),
    );
    assert_eq!(deleted["imageIds"][0]["imageTag"], "v1");
    assert_eq!(deleted["failures"], serde_json::json!([]));
    let empty = aws_ok(
        &s,
        "us-east-1",
        &["ecr", "list-images", "--repository-name", "guide/app"],
    );
    assert_eq!(empty["imageIds"], serde_json::json!([]));
    let gone = aws_ok(
        &s,
        "us-east-1",
        &[
            "ecr",
            "delete-repository",
            "--repository-name",
            "guide/app",
            "--force",
        ],
    );
    show(
        "aws ecr delete-repository --repository-name guide/app --force",
        gone.to_string().as_bytes(),
    );
    let err = aws_err(
        &s,
        "us-east-1",
        &[
            "ecr",
            "describe-repositories",
            "--repository-names",
            "guide/app",
        ],
    );
    assert!(err.contains("RepositoryNotFoundException"), "{err}");
}

#[test]
fn the_ecr_getting_started_workflow_with_aws_and_skopeo() {
    if !tools::require("aws") || !tools::require("skopeo") {
        return;
    }
    let s = start_with(&["--create-on-push", "false"]);
    let registry = s.host();
    // A fresh auth file: only `skopeo login` below puts credentials in it.
    let auth = s.scratch().join("skopeo-auth.json");
    let skopeo = |args: &[&str]| {
        let mut c = Command::new("skopeo");
        c.env("REGISTRY_AUTH_FILE", &auth).args(args);
        c
    };
    aws_ok(
        &s,
        "us-east-1",
        &[
            "ecr",
            "create-repository",
            "--repository-name",
            "guide/tool",
        ],
    );
    // aws ecr get-login-password | skopeo login --username AWS --password-stdin <registry>
    let password = aws(&s, "us-east-1", &["ecr", "get-login-password"]);
    assert!(password.status.success());
    with_stdin(
        &mut skopeo(&[
            "login",
            "--tls-verify=false",
            "--username",
            "AWS",
            "--password-stdin",
            &registry,
        ]),
        &password.stdout,
    );

    let img = image::oci_image(72, 3, 2, 50_000);
    let layout = s.scratch().join("layout");
    image::write_oci_layout(&layout, &img, "v1");
    let remote = format!("docker://{registry}/guide/tool:v1");
    tools::run(&mut skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", layout.display()),
        &remote,
    ]));
    // A push to a repository nobody created is refused, as on ECR.
    let refused = skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:v1", layout.display()),
        &format!("docker://{registry}/guide/uncreated:v1"),
    ])
    .output()
    .unwrap();
    assert!(!refused.status.success());
    let back = s.scratch().join("back");
    tools::run(&mut skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &remote,
        &format!("dir:{}", back.display()),
    ]));
    assert_eq!(
        std::fs::read(back.join("manifest.json")).unwrap(),
        img.manifest
    );
    for l in &img.layers {
        let file = back.join(l.digest.trim_start_matches("sha256:"));
        assert_eq!(std::fs::read(file).unwrap(), l.bytes, "layer {}", l.digest);
    }

    let described = aws_ok(
        &s,
        "us-east-1",
        &["ecr", "describe-images", "--repository-name", "guide/tool"],
    );
    let detail = &described["imageDetails"][0];
    assert_eq!(detail["imageDigest"], img.manifest_digest.as_str());
    assert_eq!(detail["imageTags"], serde_json::json!(["v1"]));
    let size: usize = img.layers.iter().map(|l| l.bytes.len()).sum::<usize>() + img.config.len();
    assert_eq!(detail["imageSizeInBytes"], size as u64);
    assert!(
        detail["lastRecordedPullTime"].is_number(),
        "skopeo's pull is recorded: {detail}"
    );
    let listed = aws_ok(
        &s,
        "us-east-1",
        &["ecr", "list-images", "--repository-name", "guide/tool"],
    );
    assert_eq!(listed["imageIds"][0]["imageTag"], "v1");
    let deleted = aws_ok(
        &s,
        "us-east-1",
        &[
            "ecr",
            "batch-delete-image",
            "--repository-name",
            "guide/tool",
            "--image-ids",
            "imageTag=v1",
        ],
    );
    assert_eq!(deleted["failures"], serde_json::json!([]));
    let gone = skopeo(&["inspect", "--raw", "--tls-verify=false", &remote])
        .output()
        .unwrap();
    assert!(
        !gone.status.success(),
        "the deleted image is gone for skopeo too"
    );
    aws_ok(
        &s,
        "us-east-1",
        &[
            "ecr",
            "delete-repository",
            "--repository-name",
            "guide/tool",
            "--force",
        ],
    );
    let err = aws_err(
        &s,
        "us-east-1",
        &[
            "ecr",
            "describe-repositories",
            "--repository-names",
            "guide/tool",
        ],
    );
    assert!(err.contains("RepositoryNotFoundException"), "{err}");
}

/// Removes an image from the shared Docker daemon however the test ends.
struct DockerImage(String);
impl Drop for DockerImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}

const BOTO3_IMMUTABILITY: &str = r#"
# fx: repo "imm/app" is IMMUTABLE with a's manifest at v1 (pushed with docker's requests).
e = error_of(ecr.put_image, repositoryName="imm/app", imageManifest=fx["b"], imageTag="v1")["Error"]
code, msg = e["Code"], e["Message"]
assert code == "ImageTagAlreadyExistsException", code
assert msg == "The image tag 'v1' already exists in the 'imm/app' repository and cannot be overwritten because the repository is immutable.", msg
assert code_of(ecr.put_image, repositoryName="imm/app", imageManifest=fx["a"], imageTag="v1") == "ImageAlreadyExistsException"
ecr.put_image(repositoryName="imm/app", imageManifest=fx["b"], imageTag="v2")

# Exclusions: 'latest' stays movable in an immutable repository.
r = ecr.put_image_tag_mutability(repositoryName="imm/app", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
    imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "lat*"}])
assert r["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION", r
ecr.put_image(repositoryName="imm/app", imageManifest=fx["a"], imageTag="latest")
ecr.put_image(repositoryName="imm/app", imageManifest=fx["b"], imageTag="latest")
assert code_of(ecr.put_image, repositoryName="imm/app", imageManifest=fx["a"], imageTag="v2") == "ImageTagAlreadyExistsException"
d = ecr.describe_repositories(repositoryNames=["imm/app"])["repositories"][0]
assert d["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "lat*"}], d
assert code_of(ecr.put_image_tag_mutability, repositoryName="imm/app", imageTagMutability="MUTABLE_WITH_EXCLUSION") == "InvalidParameterException"
assert code_of(ecr.put_image_tag_mutability, repositoryName="imm/none", imageTagMutability="MUTABLE") == "RepositoryNotFoundException"
ecr.put_image_tag_mutability(repositoryName="imm/app", imageTagMutability="MUTABLE")
ecr.put_image(repositoryName="imm/app", imageManifest=fx["a"], imageTag="v2")
print("boto3 immutability suite passed")
"#;

#[test]
fn immutable_tags_refuse_moves_on_both_apis() {
    if !tools::require_python_module("boto3") {
        return;
    }
    let s = start_with(&["--create-on-push", "false"]);
    s.ecr(
        "us-east-1",
        "CreateRepository",
        serde_json::json!({ "repositoryName": "imm/app", "imageTagMutability": "IMMUTABLE" }),
    )
    .unwrap();
    let api = Api::new(&s);
    let (a, b) = (
        image::oci_image(81, 1, 1, 100),
        image::oci_image(82, 1, 1, 100),
    );
    api.push_image("imm/app", &a, "v1");
    // docker pushing the same image again: fine.
    assert_eq!(
        api.put_manifest("imm/app", "v1", image::OCI_MANIFEST, &a.manifest)
            .status(),
        201
    );
    // Another image under the same tag: TAG_INVALID with ECR's message.
    for l in &b.layers {
        api.push_blob("imm/app", &l.bytes);
    }
    api.push_blob("imm/app", &b.config);
    let r = api.put_manifest("imm/app", "v1", image::OCI_MANIFEST, &b.manifest);
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["errors"][0]["code"], "TAG_INVALID");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("cannot be overwritten because the repository is immutable"));
    assert_eq!(
        &api.get("/v2/imm/app/manifests/v1").bytes().unwrap()[..],
        &a.manifest[..],
        "the tag did not move"
    );
    let fixture = serde_json::json!({
        "a": String::from_utf8(a.manifest.clone()).unwrap(),
        "b": String::from_utf8(b.manifest.clone()).unwrap(),
    });
    let out = boto3(&s, BOTO3_IMMUTABILITY, &fixture);
    assert!(out.contains("boto3 immutability suite passed"));
}

const BOTO3_LAYERS: &str = r#"
R = "up/app"
ecr.create_repository(repositoryName=R)
assert code_of(ecr.initiate_layer_upload, repositoryName="up/none") == "RepositoryNotFoundException"

def upload(data, part):
    u = ecr.initiate_layer_upload(repositoryName=R)
    assert u["partSize"] > 0 and u["uploadId"], u
    at = 0
    while at < len(data):
        chunk = data[at:at + part]
        r = ecr.upload_layer_part(repositoryName=R, uploadId=u["uploadId"], partFirstByte=at,
                                  partLastByte=at + len(chunk) - 1, layerPartBlob=chunk)
        at += len(chunk)
        assert r["lastByteReceived"] == at - 1, (r, at)
    return u["uploadId"]

def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()

# A 25 MiB layer in parts of 12 MiB (each request carries 16 MB of base64).
layer = os.urandom(25 * 1024 * 1024)
up = upload(layer, 12 * 1024 * 1024)
done = ecr.complete_layer_upload(repositoryName=R, uploadId=up, layerDigests=[sha(layer)])
assert done["layerDigest"] == sha(layer) and done["uploadId"] == up, done
config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}).encode()
ecr.complete_layer_upload(repositoryName=R, uploadId=upload(config, 1 << 20), layerDigests=[sha(config)])
avail = ecr.batch_check_layer_availability(repositoryName=R, layerDigests=[sha(layer), sha(config)])
assert [l["layerAvailability"] for l in avail["layers"]] == ["AVAILABLE", "AVAILABLE"], avail
assert avail["layers"][0]["layerSize"] == len(layer)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(layer), "size": len(layer)}]})
ecr.put_image(repositoryName=R, imageManifest=manifest, imageTag="api")

# The documented errors.
assert code_of(ecr.complete_layer_upload, repositoryName=R, uploadId=upload(layer[:100], 100), layerDigests=[sha(layer)]) == "LayerAlreadyExistsException"
u = ecr.initiate_layer_upload(repositoryName=R)["uploadId"]
assert code_of(ecr.complete_layer_upload, repositoryName=R, uploadId=u, layerDigests=[sha(b"x")]) == "EmptyUploadException"
ecr.upload_layer_part(repositoryName=R, uploadId=u, partFirstByte=0, partLastByte=2, layerPartBlob=b"abc")
resp = error_of(ecr.upload_layer_part, repositoryName=R, uploadId=u, partFirstByte=10, partLastByte=12, layerPartBlob=b"def")
assert resp["Error"]["Code"] == "InvalidLayerPartException" and resp["lastValidByteReceived"] == 2, resp
assert code_of(ecr.upload_layer_part, repositoryName=R, uploadId=u, partFirstByte=3, partLastByte=9, layerPartBlob=b"def") == "InvalidLayerPartException"
assert code_of(ecr.complete_layer_upload, repositoryName=R, uploadId=u, layerDigests=[sha(b"abcX")]) == "InvalidLayerException"
assert code_of(ecr.upload_layer_part, repositoryName=R, uploadId=u, partFirstByte=3, partLastByte=5, layerPartBlob=b"def") == "UploadNotFoundException", "a mismatched upload is discarded"
assert code_of(ecr.upload_layer_part, repositoryName=R, uploadId="00000000-0000-0000-0000-000000000000", partFirstByte=0, partLastByte=0, layerPartBlob=b"a") == "UploadNotFoundException"
assert code_of(ecr.complete_layer_upload, repositoryName=R, uploadId="00000000-0000-0000-0000-000000000000", layerDigests=[sha(b"a")]) == "UploadNotFoundException"
print(json.dumps({"layer": sha(layer), "config": sha(config)}))
print("boto3 layer suite passed")
"#;

#[test]
fn layers_uploaded_through_the_api_are_pulled_over_v2() {
    if !tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let out = boto3(&s, BOTO3_LAYERS, &serde_json::json!({}));
    assert!(out.contains("boto3 layer suite passed"), "{out}");
    let digests: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let api = Api::new(&s);
    let r = api
        .client
        .get(api.url("/v2/up/app/manifests/api"))
        .header("accept", image::OCI_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let layer = api
        .get(&format!(
            "/v2/up/app/blobs/{}",
            digests["layer"].as_str().unwrap()
        ))
        .bytes()
        .unwrap();
    assert_eq!(layer.len(), 25 * 1024 * 1024);
    assert_eq!(image::sha256(&layer), digests["layer"].as_str().unwrap());

    // A part over the model's 20 MiB is refused before anything is stored.
    let up = s
        .ecr(
            "us-east-1",
            "InitiateLayerUpload",
            serde_json::json!({"repositoryName": "up/app"}),
        )
        .unwrap();
    use base64::Engine;
    let big = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 20 * 1024 * 1024 + 1]);
    let (status, body) = s
        .ecr(
            "us-east-1",
            "UploadLayerPart",
            serde_json::json!({"repositoryName": "up/app", "uploadId": up["uploadId"],
                "partFirstByte": 0, "partLastByte": 20 * 1024 * 1024, "layerPartBlob": big}),
        )
        .unwrap_err();
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("InvalidParameterException")),
        "{body}"
    );
    // partFirstByte 0 and partLastByte 2^64 - 1 describe more bytes than a
    // u64 counts: refused, never wrapped around (issue 17).
    let (status, body) = s
        .ecr(
            "us-east-1",
            "UploadLayerPart",
            serde_json::json!({"repositoryName": "up/app", "uploadId": up["uploadId"],
                "partFirstByte": 0, "partLastByte": u64::MAX, "layerPartBlob": "AAAA"}),
        )
        .unwrap_err();
    assert_eq!(
        (status, body["__type"].as_str()),
        (400, Some("InvalidLayerPartException")),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("describe no countable range"),
        "{body}"
    );
}

const BOTO3_TAGS_AND_SETTINGS: &str = r#"
arn = ecr.create_repository(repositoryName="tags/app", tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "dev"}])["repository"]["repositoryArn"]
assert arn == "arn:aws:ecr:us-east-1:000000000000:repository/tags/app", arn
assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "a"}]
ecr.tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "b"}, {"Key": "cost-center", "Value": "42"}])
ecr.untag_resource(resourceArn=arn, tagKeys=["env", "absent"])
assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "cost-center", "Value": "42"}, {"Key": "team", "Value": "b"}]
assert code_of(ecr.tag_resource, resourceArn=arn, tags=[{"Key": "k%d" % i, "Value": ""} for i in range(49)]) == "TooManyTagsException"
assert len(ecr.list_tags_for_resource(resourceArn=arn)["tags"]) == 2, "a refused TagResource changes nothing"
assert code_of(ecr.tag_resource, resourceArn=arn, tags=[{"Key": "aws:owner", "Value": "x"}]) == "InvalidTagParameterException"
assert code_of(ecr.tag_resource, resourceArn=arn, tags=[{"Key": "k" * 129, "Value": "x"}]) == "InvalidTagParameterException"
assert code_of(ecr.create_repository, repositoryName="tags/many", tags=[{"Key": "k%d" % i, "Value": ""} for i in range(51)]) == "TooManyTagsException"
assert code_of(ecr.describe_repositories, repositoryNames=["tags/many"]) == "RepositoryNotFoundException", "nothing created"
assert code_of(ecr.list_tags_for_resource, resourceArn=arn.replace("tags/app", "tags/none")) == "RepositoryNotFoundException"
assert code_of(ecr.list_tags_for_resource, resourceArn="arn:aws:s3:::bucket") == "InvalidParameterException"
assert code_of(ecr.list_tags_for_resource, resourceArn=arn.replace("000000000000", "111111111111")) == "AccessDeniedException"

r = ecr.put_image_scanning_configuration(repositoryName="tags/app", imageScanningConfiguration={"scanOnPush": True})
assert r["imageScanningConfiguration"] == {"scanOnPush": True}, r
assert ecr.describe_repositories(repositoryNames=["tags/app"])["repositories"][0]["imageScanningConfiguration"] == {"scanOnPush": True}
assert code_of(ecr.put_image_scanning_configuration, repositoryName="tags/none", imageScanningConfiguration={"scanOnPush": True}) == "RepositoryNotFoundException"

assert ecr.get_account_setting(name="BLOB_MOUNTING")["value"] == "ENABLED"
assert ecr.put_account_setting(name="BLOB_MOUNTING", value="DISABLED")["value"] == "DISABLED"
assert ecr.get_account_setting(name="BLOB_MOUNTING")["value"] == "DISABLED"
assert boto3.client("ecr", region_name="eu-west-1").get_account_setting(name="BLOB_MOUNTING")["value"] == "ENABLED", "settings are per region"
assert code_of(ecr.put_account_setting, name="BLOB_MOUNTING", value="SOMETIMES") == "InvalidParameterException"
assert code_of(ecr.get_account_setting, name="NO_SUCH_SETTING") == "InvalidParameterException"
assert ecr.get_account_setting(name="REGISTRY_POLICY_SCOPE")["value"] == "V2"

d = {x["imageDigest"]: x for x in ecr.describe_images(repositoryName="pull/app")["imageDetails"]}
assert hasattr(d[fx["pulled"]]["lastRecordedPullTime"], "year"), d
assert "lastRecordedPullTime" not in d[fx["unpulled"]], d
print("boto3 tags and settings suite passed")
"#;

#[test]
fn tags_settings_and_pull_times_through_boto3() {
    if !tools::require_python_module("boto3") {
        return;
    }
    let mut s = start();
    let api = Api::new(&s);
    let pulled = image::oci_image(61, 1, 1, 100);
    let unpulled = image::oci_image(62, 1, 1, 100);
    api.push_image("pull/app", &pulled, "p");
    api.push_image("pull/app", &unpulled, "u");
    let r = api
        .client
        .get(api.url("/v2/pull/app/manifests/p"))
        .header("accept", image::OCI_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // A HEAD is not a pull.
    assert_eq!(api.head("/v2/pull/app/manifests/u").status(), 200);
    let fixture =
        serde_json::json!({"pulled": pulled.manifest_digest, "unpulled": unpulled.manifest_digest});
    let out = boto3(&s, BOTO3_TAGS_AND_SETTINGS, &fixture);
    assert!(
        out.contains("boto3 tags and settings suite passed"),
        "{out}"
    );

    // BLOB_MOUNTING=DISABLED (set above): a mount opens an upload session.
    let layer = &pulled.layers[0].digest;
    let mount = |api: &Api| {
        api.client
            .post(api.url(&format!(
                "/v2/pull/copy/blobs/uploads/?mount={layer}&from=pull/app"
            )))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(mount(&api), 202);
    s.ecr(
        "us-east-1",
        "PutAccountSetting",
        serde_json::json!({"name": "BLOB_MOUNTING", "value": "ENABLED"}),
    )
    .unwrap();
    assert_eq!(mount(&api), 201);

    // Pull times recorded in memory reach the database at shutdown.
    s.restart();
    let d = s
        .ecr(
            "us-east-1",
            "DescribeImages",
            serde_json::json!({"repositoryName": "pull/app", "imageIds": [{"imageTag": "p"}]}),
        )
        .unwrap();
    let t = d["imageDetails"][0]["lastRecordedPullTime"]
        .as_f64()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - t).abs() < 600.0, "{t} vs {now}");
}

const BOTO3_REFERRERS: &str = r#"
R, S = "ref/app", {"imageDigest": fx["subject"]}
got = ecr.list_image_referrers(repositoryName=R, subjectId=S)["referrers"]
assert sorted(r["digest"] for r in got) == sorted(fx["referrers"]), got
assert all(r["artifactStatus"] == "ACTIVE" and r["size"] > 0 for r in got), got
sigs = ecr.list_image_referrers(repositoryName=R, subjectId=S, filter={"artifactTypes": ["application/x-sig"]})["referrers"]
assert [r["artifactType"] for r in sigs] == ["application/x-sig"] * 2, sigs
assert sigs[0]["annotations"] == {"org.example.k": "v"}, sigs[0]
page = ecr.list_image_referrers(repositoryName=R, subjectId=S, maxResults=2)
assert len(page["referrers"]) == 2 and page["nextToken"], page
rest = ecr.list_image_referrers(repositoryName=R, subjectId=S, maxResults=2, nextToken=page["nextToken"])
assert len(rest["referrers"]) == 1 and "nextToken" not in rest, rest
assert ecr.list_image_referrers(repositoryName=R, subjectId=S, filter={"artifactStatus": "ARCHIVED"})["referrers"] == []
assert code_of(ecr.list_image_referrers, repositoryName="ref/none", subjectId=S) == "RepositoryNotFoundException"
assert code_of(ecr.list_image_referrers, repositoryName=R, subjectId=S, maxResults=51) == "InvalidParameterException"
print("boto3 referrers suite passed")
"#;

#[test]
fn list_image_referrers_shows_what_the_referrers_api_shows() {
    if !tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let api = Api::new(&s);
    let subject = image::oci_image(81, 1, 1, 100);
    api.push_image("ref/app", &subject, "v1");
    let empty = api.push_blob("ref/app", b"{}");
    let mut referrers = Vec::new();
    for (i, kind) in [
        "application/x-sig",
        "application/x-sig",
        "application/x-sbom",
    ]
    .iter()
    .enumerate()
    {
        let payload = format!("payload {i}");
        let blob = api.push_blob("ref/app", payload.as_bytes());
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": image::OCI_MANIFEST,
            "artifactType": kind,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": blob, "size": payload.len()}],
            "subject": {"mediaType": image::OCI_MANIFEST, "digest": subject.manifest_digest, "size": subject.manifest.len()},
            "annotations": {"org.example.k": "v"},
        })
        .to_string();
        let digest = image::sha256(m.as_bytes());
        assert_eq!(
            api.put_manifest("ref/app", &digest, image::OCI_MANIFEST, m.as_bytes())
                .status(),
            201
        );
        referrers.push(digest);
    }
    let fixture = serde_json::json!({"subject": subject.manifest_digest, "referrers": referrers});
    let out = boto3(&s, BOTO3_REFERRERS, &fixture);
    assert!(out.contains("boto3 referrers suite passed"), "{out}");
}

const BOTO3_POLICIES: &str = r#"
R = "pol/app"
ecr.create_repository(repositoryName=R)
allow = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "ci-pull", "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::000000000000:user/ci"}, "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]})
r = ecr.set_repository_policy(repositoryName=R, policyText=allow)
assert r["policyText"] == allow and r["repositoryName"] == R and r["registryId"] == "000000000000", r
assert ecr.get_repository_policy(repositoryName=R)["policyText"] == allow, "stored byte for byte"

e = error_of(ecr.set_repository_policy, repositoryName=R, policyText='{"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "ecr:*"}]}')["Error"]
assert e["Code"] == "InvalidParameterException" and "Effect" in e["Message"], e
assert code_of(ecr.set_repository_policy, repositoryName=R, policyText="{not json") == "InvalidParameterException"
assert code_of(ecr.set_repository_policy, repositoryName=R, policyText=json.dumps({"Statement": [{"Effect": "Allow", "Action": "ecr:*"}]})) == "InvalidParameterException", "a resource policy needs a Principal"
assert code_of(ecr.set_repository_policy, repositoryName="pol/none", policyText=allow) == "RepositoryNotFoundException"

# A policy that would lock the caller out needs force.
lockout = json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "ecr:SetRepositoryPolicy"}]})
e = error_of(ecr.set_repository_policy, repositoryName=R, policyText=lockout)["Error"]
assert e["Code"] == "InvalidParameterException" and "force" in e["Message"], e
assert ecr.get_repository_policy(repositoryName=R)["policyText"] == allow, "a refused policy changes nothing"
ecr.set_repository_policy(repositoryName=R, policyText=lockout, force=True)

assert ecr.delete_repository_policy(repositoryName=R)["policyText"] == lockout
assert code_of(ecr.get_repository_policy, repositoryName=R) == "RepositoryPolicyNotFoundException"
assert code_of(ecr.delete_repository_policy, repositoryName=R) == "RepositoryPolicyNotFoundException"

assert code_of(ecr.get_registry_policy) == "RegistryPolicyNotFoundException"
reg = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "replicate", "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
    "Resource": "arn:aws:ecr:us-east-1:000000000000:repository/*"}]})
assert ecr.put_registry_policy(policyText=reg)["policyText"] == reg
assert ecr.get_registry_policy()["policyText"] == reg
assert code_of(ecr.put_registry_policy, policyText='{"Statement": "nope"}') == "InvalidParameterException"
assert ecr.delete_registry_policy()["policyText"] == reg
assert code_of(ecr.delete_registry_policy) == "RegistryPolicyNotFoundException"
print("boto3 policy suite passed")
"#;

#[test]
fn repository_and_registry_policies_are_validated_and_stored() {
    if !tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let out = boto3(&s, BOTO3_POLICIES, &serde_json::json!({}));
    assert!(out.contains("boto3 policy suite passed"), "{out}");
}

/// A signed ECR request, sent as it is: `signed` headers are covered by the
/// signature (over `signed_body`), `unsigned` headers are added after
/// signing, and `body` is what is actually sent.
fn send_signed(
    s: &TestServer,
    signed: &[(&str, &str)],
    unsigned: &[(&str, &str)],
    signed_body: &[u8],
    body: &[u8],
) -> (u16, serde_json::Value) {
    let headers = crate::common::raw::signed_headers(
        &s.host(),
        "POST",
        "/",
        signed,
        signed_body,
        (
            berth_testkit::ROOT_ACCESS_KEY_ID,
            berth_testkit::ROOT_SECRET_ACCESS_KEY,
        ),
        "ecr",
    );
    let mut rb = s
        .raw_client()
        .post(format!("{}/", s.url()))
        .body(body.to_vec());
    for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
        rb = rb.header(k.as_str(), v.as_str());
    }
    for (k, v) in unsigned {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().unwrap();
    (r.status().as_u16(), r.json().unwrap_or_default())
}

/// A signature must cover what the request means: its body (no
/// UNSIGNED-PAYLOAD), its `X-Amz-Target`, and any security token, which
/// berth, issuing none, does not know.
#[test]
fn signatures_cover_the_body_the_operation_and_the_token() {
    let s = start();
    const TARGET: &str = "x-amz-target";
    let describe = "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories";
    let json_type = ("content-type", "application/x-amz-json-1.1");
    // The same request signed properly is accepted (the control).
    let (status, _) = send_signed(&s, &[(TARGET, describe), json_type], &[], b"{}", b"{}");
    assert_eq!(status, 200);
    // UNSIGNED-PAYLOAD: a body changed after signing would be accepted.
    let (status, err) = send_signed(
        &s,
        &[
            (TARGET, describe),
            json_type,
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
        &[],
        b"{}",
        br#"{"repositoryNames": ["changed/in-flight"]}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(err["__type"], "InvalidSignatureException", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("UNSIGNED-PAYLOAD"),
        "{err}"
    );
    // An unsigned target: signed for nothing in particular, sent as
    // GetRegistryPolicy.
    let (status, err) = send_signed(
        &s,
        &[json_type],
        &[(
            TARGET,
            "AmazonEC2ContainerRegistry_V20150921.GetRegistryPolicy",
        )],
        b"{}",
        b"{}",
    );
    assert_eq!(status, 400);
    assert_eq!(err["__type"], "IncompleteSignatureException", "{err}");
    assert_eq!(
        err["message"],
        "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."
    );
    // A security token berth never issued, signed or not.
    for (signed, unsigned) in [
        (
            vec![
                (TARGET, describe),
                json_type,
                ("x-amz-security-token", "FQoGZXIvYXdzEXAMPLE"),
            ],
            vec![],
        ),
        (
            vec![(TARGET, describe), json_type],
            vec![("x-amz-security-token", "FQoGZXIvYXdzEXAMPLE")],
        ),
    ] {
        let (status, err) = send_signed(&s, &signed, &unsigned, b"{}", b"{}");
        assert_eq!(status, 400, "{err}");
        assert!(
            [
                "UnrecognizedClientException",
                "IncompleteSignatureException"
            ]
            .contains(&err["__type"].as_str().unwrap()),
            "{err}"
        );
    }
    let (_, err) = send_signed(
        &s,
        &[
            (TARGET, describe),
            json_type,
            ("x-amz-security-token", "FQoGZXIvYXdzEXAMPLE"),
        ],
        &[],
        b"{}",
        b"{}",
    );
    assert_eq!(err["__type"], "UnrecognizedClientException");
    assert_eq!(
        err["message"],
        "The security token included in the request is invalid."
    );
}

/// Every exception whose text berth takes from ECR, word for word as AWS
/// answers it (issue 17, item 20): clients and scripts that match on them
/// see what they see on AWS.
const BOTO3_MESSAGES: &str = r#"
from botocore.config import Config
R, F, ID = "msg/app", "msg/frozen", "000000000000"
def message_of(fn, *a, **kw):
    e = error_of(fn, *a, **kw)["Error"]
    return e["Code"], e["Message"]
ecr.put_image_tag_mutability(repositoryName=F, imageTagMutability="IMMUTABLE")
checks = [
    (message_of(ecr.describe_images, repositoryName=R, imageIds=[{"imageTag": "latest"}]),
     ("ImageNotFoundException", "The image with imageId {imageDigest:'null', imageTag:'latest'} does not exist within the repository with name 'msg/app' in the registry with id '000000000000'")),
    (message_of(ecr.describe_images, repositoryName=R, imageIds=[{"imageDigest": "sha256:" + "0" * 64}]),
     ("ImageNotFoundException", "The image with imageId {imageDigest:'sha256:" + "0" * 64 + "', imageTag:'null'} does not exist within the repository with name 'msg/app' in the registry with id '000000000000'")),
    (message_of(ecr.describe_image_scan_findings, repositoryName=R, imageId={"imageTag": "v1"}),
     ("ScanNotFoundException", "Image scan does not exist for the image with '{imageDigest:'%s', imageTag:'v1'}' in the repository with name 'msg/app' in the registry with id '000000000000'" % fx["d1"])),
    (message_of(ecr.put_image, repositoryName=R, imageManifest=fx["m1"], imageTag="v1"),
     ("ImageAlreadyExistsException", "Image with digest '%s' and tag 'v1' already exists in the repository with name 'msg/app' in registry with id '000000000000'" % fx["d1"])),
    (message_of(ecr.put_image, repositoryName=F, imageManifest=fx["m2"], imageTag="v1"),
     ("ImageTagAlreadyExistsException", "The image tag 'v1' already exists in the 'msg/frozen' repository and cannot be overwritten because the repository is immutable.")),
    (message_of(ecr.delete_repository, repositoryName=R),
     ("RepositoryNotEmptyException", "The repository with name 'msg/app' in registry with id '000000000000' cannot be deleted because it still contains images")),
    (message_of(ecr.get_repository_policy, repositoryName=R),
     ("RepositoryPolicyNotFoundException", "Repository policy does not exist for the repository with name 'msg/app' in the registry with id '000000000000'")),
    (message_of(ecr.get_lifecycle_policy, repositoryName=R),
     ("LifecyclePolicyNotFoundException", "Lifecycle policy does not exist for the repository with name 'msg/app' in the registry with id '000000000000'")),
    (message_of(ecr.get_registry_policy),
     ("RegistryPolicyNotFoundException", "Registry policy does not exist in the registry with id '000000000000'")),
    (message_of(ecr.describe_repositories, repositoryNames=["msg/none"]),
     ("RepositoryNotFoundException", "The repository with name 'msg/none' does not exist in the registry with id '000000000000'")),
    (message_of(ecr.create_repository, repositoryName=R),
     ("RepositoryAlreadyExistsException", "The repository with name 'msg/app' already exists in the registry with id '000000000000'")),
    (message_of(ecr.create_repository, repositoryName="Msg_App"),
     ("InvalidParameterException", "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''")),
]
# botocore checks the model's minimum length itself unless told not to.
raw = boto3.client("ecr", config=Config(parameter_validation=False))
checks.append((message_of(raw.create_repository, repositoryName="a"),
    ("InvalidParameterException", "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must have length greater than or equal to 2'")))
up = ecr.initiate_layer_upload(repositoryName=R)["uploadId"]
checks.append((message_of(ecr.complete_layer_upload, repositoryName=R, uploadId=up, layerDigests=["sha256:" + "0" * 64]),
    ("EmptyUploadException", "The upload with id '%s' in the repository with name 'msg/app' in registry with id '000000000000' cannot be completed because it does not have any parts" % up)))
got = ecr.batch_get_image(repositoryName=R, imageIds=[{"imageTag": "nope"}, {}])["failures"]
checks.append(([(f["failureCode"], f["failureReason"]) for f in got],
    [("ImageNotFound", "Requested image not found"), ("MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null")]))
wrong = ["%s\n  got:  %s\n  want: %s" % (i, got, want) for i, (got, want) in enumerate(checks) if got != want]
assert not wrong, "\n".join(wrong)
print("messages match")
"#;

#[test]
fn exceptions_are_worded_as_ecr_words_them() {
    if !tools::require_python_module("boto3") {
        return;
    }
    let s = start();
    let api = Api::new(&s);
    let one = image::oci_image(61, 1, 1, 100);
    let two = image::oci_image(62, 1, 1, 100);
    api.push_image("msg/app", &one, "v1");
    api.push_image("msg/frozen", &one, "v1");
    api.push_image("msg/frozen", &two, "v2");
    let fixture = serde_json::json!({
        "d1": one.manifest_digest,
        "m1": String::from_utf8(one.manifest.clone()).unwrap(),
        "m2": String::from_utf8(two.manifest.clone()).unwrap(),
    });
    let out = boto3(&s, BOTO3_MESSAGES, &fixture);
    assert!(out.contains("messages match"), "{out}");
}

/// berth has no pull-through cache rules (creating one is unsupported), and
/// says so as ECR would: an empty list, or PullThroughCacheRuleNotFound for
/// the prefixes asked about; while creating one stays unsupported.
#[test]
fn pull_through_cache_rules_are_described_truthfully() {
    if !tools::require("aws") {
        return;
    }
    let s = start();
    let all = aws_ok(
        &s,
        "us-east-1",
        &["ecr", "describe-pull-through-cache-rules"],
    );
    assert_eq!(all["pullThroughCacheRules"], serde_json::json!([]));
    assert!(all.get("nextToken").is_none());
    let missing = aws_err(
        &s,
        "us-east-1",
        &[
            "ecr",
            "describe-pull-through-cache-rules",
            "--ecr-repository-prefixes",
            "docker-hub",
        ],
    );
    assert!(
        missing.contains("PullThroughCacheRuleNotFoundException") && missing.contains("docker-hub"),
        "{missing}"
    );
    // The CLI checks maxResults' range itself; a page of one is empty too.
    let page = aws_ok(
        &s,
        "us-east-1",
        &[
            "ecr",
            "describe-pull-through-cache-rules",
            "--max-results",
            "1",
        ],
    );
    assert_eq!(page["pullThroughCacheRules"], serde_json::json!([]));
    let create = aws_err(
        &s,
        "us-east-1",
        &[
            "ecr",
            "create-pull-through-cache-rule",
            "--ecr-repository-prefix",
            "docker-hub",
            "--upstream-registry-url",
            "registry-1.docker.io",
        ],
    );
    assert!(create.contains("UnsupportedOperationException"), "{create}");
}
