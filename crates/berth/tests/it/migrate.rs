//! `berth migrate`: an embedded data dir holding every kind of object
//! (repositories with settings, resource tags, repository and lifecycle
//! policies; images, an index, a referrer, an archived image; a registry
//! policy and an account setting; an IAM user with a key and a policy; a
//! repository under a KMS key, its bytes in the key's domain) is
//! moved into PostgreSQL + S3, and a node started there answers the ECR and
//! `/v2` listings exactly as before, serves the bytes, and accepts the old
//! user's key (its secret is sealed with the data dir's server key). A
//! second run finds everything copied and verifies it again.

use crate::common::*;
use berth_testkit::postgres::Database;
use serde_json::{json, Value};
use std::process::Command;

/// What clients can see of the registry, in a comparable form.
fn snapshot(s: &TestServer) -> Value {
    let ecr = |op: &str, input: Value| {
        s.ecr("us-east-1", op, input)
            .unwrap_or_else(|(c, e)| json!({"error": c, "body": e}))
    };
    let mut repos = ecr("DescribeRepositories", json!({}));
    // The URI names the server's address, which differs.
    for r in repos["repositories"].as_array_mut().unwrap() {
        let uri = r["repositoryUri"]
            .as_str()
            .unwrap()
            .replace(&s.host(), "HOST");
        r["repositoryUri"] = json!(uri);
    }
    let mut per_repo = serde_json::Map::new();
    let api = Api::new(s);
    for r in repos["repositories"].as_array().unwrap() {
        let name = r["repositoryName"].as_str().unwrap();
        let mut images = ecr(
            "DescribeImages",
            json!({"repositoryName": name, "filter": {"imageStatus": "ANY"}}),
        )["imageDetails"]
            .as_array()
            .unwrap()
            .clone();
        images.sort_by_key(|i| i["imageDigest"].as_str().unwrap().to_string());
        let tags: Value = api.get(&format!("/v2/{name}/tags/list")).json().unwrap();
        per_repo.insert(
            name.to_string(),
            json!({
                "images": images,
                "tags": tags,
                "policy": ecr("GetRepositoryPolicy", json!({"repositoryName": name})),
                "lifecycle": ecr("GetLifecyclePolicy", json!({"repositoryName": name})),
                "resourceTags": ecr("ListTagsForResource", json!({"resourceArn": r["repositoryArn"]})),
            }),
        );
    }
    let catalog: Value = api.get("/v2/_catalog").json().unwrap();
    json!({
        "repositories": repos,
        "perRepository": per_repo,
        "catalog": catalog,
        "registryPolicy": ecr("GetRegistryPolicy", json!({})),
        "blobMounting": ecr("GetAccountSetting", json!({"name": "BLOB_MOUNTING"})),
        "scanning": ecr("GetRegistryScanningConfiguration", json!({})),
    })
}

#[test]
fn an_embedded_data_dir_moves_into_postgres_and_s3_with_everything_it_holds() {
    let mut s = start();
    let api = Api::new(&s);
    // Repositories with their settings, resource tags and policies.
    s.ecr(
        "us-east-1",
        "CreateRepository",
        json!({"repositoryName": "team/app", "imageTagMutability": "IMMUTABLE",
               "imageScanningConfiguration": {"scanOnPush": true},
               "tags": [{"Key": "team", "Value": "blue"}]}),
    )
    .unwrap();
    let app = image::oci_image(81, 2, 2, 20_000);
    let old = image::oci_image(82, 1, 2, 20_000);
    api.push_image("team/app", &app, "v1");
    api.push_image("team/app", &old, "old");
    api.push_image("team/web", &image::oci_image(83, 1, 1, 5_000), "latest");
    // A repository under a KMS key: its bytes are in the key's domain, whose
    // storage key the metadata holds (sealed under the key).
    kms_repository(&s, "team/sealed");
    api.push_image("team/sealed", &app, "v1");
    s.ecr(
        "us-east-1",
        "SetRepositoryPolicy",
        json!({"repositoryName": "team/web", "policyText": json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "ci", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/ci"},
            "Action": "ecr:BatchGetImage"}]}).to_string()}),
    )
    .unwrap();
    s.ecr(
        "us-east-1",
        "PutLifecyclePolicy",
        json!({"repositoryName": "team/web", "lifecyclePolicyText": json!({"rules": [{"rulePriority": 1,
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 5},
            "action": {"type": "expire"}}]}).to_string()}),
    )
    .unwrap();
    // An index over two images, and a referrer whose subject is v1.
    let arm = image::oci_image(84, 1, 1, 3_000);
    api.push_image("team/multi", &arm, "arm");
    api.push_image("team/multi", &app, "amd");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": image::OCI_MANIFEST, "digest": app.manifest_digest, "size": app.manifest.len(),
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": image::OCI_MANIFEST, "digest": arm.manifest_digest, "size": arm.manifest.len(),
             "platform": {"architecture": "arm64", "os": "linux"}}]}))
    .unwrap();
    let r = api.put_manifest(
        "team/multi",
        "multi",
        "application/vnd.oci.image.index.v1+json",
        &index,
    );
    assert_eq!(r.status(), 201);
    let empty = api.push_blob("team/app", b"{}");
    let sbom = api.push_blob("team/app", b"an sbom");
    let referrer = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": image::OCI_MANIFEST, "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/spdx+json", "digest": sbom, "size": 7}],
        "subject": {"mediaType": image::OCI_MANIFEST, "digest": app.manifest_digest, "size": app.manifest.len()}}))
    .unwrap();
    let r = api.put_manifest(
        "team/app",
        &image::sha256(&referrer),
        image::OCI_MANIFEST,
        &referrer,
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
    // An archived image: its own layer's bytes go to the archive dir.
    let archived = s
        .ecr(
            "us-east-1",
            "UpdateImageStorageClass",
            json!({"repositoryName": "team/app", "imageId": {"imageTag": "old"},
                   "targetStorageClass": "ARCHIVE"}),
        )
        .unwrap();
    assert_eq!(archived["imageStatus"], "ARCHIVED");
    // Registry-wide state, and a user with a key and a policy.
    s.ecr(
        "us-east-1",
        "PutAccountSetting",
        json!({"name": "BLOB_MOUNTING", "value": "DISABLED"}),
    )
    .unwrap();
    let ci = user_with_key(&s, "ci");
    set_user_policy(
        &s,
        "ci",
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"}]}),
    );
    let before = snapshot(&s);
    let referrers_before: Value = api
        .get(&format!("/v2/team/app/referrers/{}", app.manifest_digest))
        .json()
        .unwrap();
    s.stop();

    let db = Database::create();
    let blobs = format!(
        "s3://{}/it-migrate-{}",
        s3_var("BERTH_TEST_S3_BUCKET"),
        std::process::id()
    );
    let endpoint = s3_var("BERTH_TEST_S3_ENDPOINT");
    let s3_env = [
        (
            "BERTH_S3_ACCESS_KEY_ID",
            s3_var("BERTH_TEST_S3_ACCESS_KEY_ID"),
        ),
        (
            "BERTH_S3_SECRET_ACCESS_KEY",
            s3_var("BERTH_TEST_S3_SECRET_ACCESS_KEY"),
        ),
    ];
    let migrate = || {
        let out = Command::new(berth_bin())
            .arg("migrate")
            .arg("--data-dir")
            .arg(&s.data_dir)
            .args(["--to-metadata", &db.url, "--to-blobs", &blobs])
            .args(["--s3-endpoint", &endpoint])
            .envs(s3_env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "berth migrate:\n{text}");
        text
    };
    let first = migrate();
    eprintln!("{first}");
    assert!(first.contains("copied the metadata into"), "{first}");
    assert!(first.contains("and 2 archived (2 copied)"), "{first}");
    assert!(first.contains("blob records verified"), "{first}");
    // Run again: nothing to copy, verified again.
    let again = migrate();
    assert!(again.contains("0 copied"), "{again}");
    assert!(again.contains("the metadata was already copied"), "{again}");

    let key = s.data_dir.join("server.key");
    let moved = start_on_shared_stores(
        &db.url,
        &blobs,
        &endpoint,
        &["--server-key-file", key.to_str().unwrap()],
    );
    let after = snapshot(&moved);
    assert_eq!(before, after, "the listings differ after the move");
    let api = Api::new(&moved);
    let referrers_after: Value = api
        .get(&format!("/v2/team/app/referrers/{}", app.manifest_digest))
        .json()
        .unwrap();
    assert_eq!(referrers_before, referrers_after);
    for repo in ["team/app", "team/sealed"] {
        let m = api.get(&format!("/v2/{repo}/manifests/v1"));
        assert_eq!(m.bytes().unwrap().as_ref(), app.manifest.as_slice());
        for l in &app.layers {
            let b = api.get(&format!("/v2/{repo}/blobs/{}", l.digest));
            assert_eq!(b.bytes().unwrap().as_ref(), l.bytes.as_slice(), "{repo}");
        }
    }
    // The archived image comes back from the archive prefix.
    moved
        .ecr(
            "us-east-1",
            "UpdateImageStorageClass",
            json!({"repositoryName": "team/app", "imageId": {"imageTag": "old"},
                   "targetStorageClass": "STANDARD"}),
        )
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while api.get("/v2/team/app/manifests/old").status() != 200 {
        assert!(std::time::Instant::now() < deadline, "not restored");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let b = api.get(&format!("/v2/team/app/blobs/{}", old.layers[0].digest));
    assert_eq!(b.bytes().unwrap().as_ref(), old.layers[0].bytes.as_slice());
    // The old user's key works: its secret was sealed with the moved key.
    let ci_api = api_as(&moved, (&ci.0, &ci.1));
    assert_eq!(ci_api.get("/v2/team/web/manifests/latest").status(), 200);
    // A new repository gets a fresh id after the copied ones.
    moved
        .ecr(
            "us-east-1",
            "CreateRepository",
            json!({"repositoryName": "team/new"}),
        )
        .unwrap();
    Api::new(&moved).push_image("team/new", &image::oci_image(85, 1, 1, 1_000), "v1");
}
