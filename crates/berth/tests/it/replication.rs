//! Replication within one deployment (issue 22): the seeds' rule with
//! docker pushes, pulled back from the destination region's host name;
//! cross-account replication refused until the destination's registry
//! policy allows it, then into a repository made from a REPLICATION
//! template; an index with its platforms and a referrer replicated whole;
//! a tag moved quickly ends at the newest image; deletes and untags carried
//! under a rule with deleteReplication, and only there.

use crate::common::*;
use berth_testkit::image;
use berth_testkit::tools;
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

const OWNER: &str = "000000000000";
const OTHER: &str = "111111111111";

/// The seeds' configuration, verbatim but for the account.
fn seeds_rule(account: &str) -> Value {
    json!({"rules":[{"destinations":[{"region":"us-west-2","registryId": account}],
        "repositoryFilters":[{"filter":"prod-","filterType":"PREFIX_MATCH"}]}]})
}

fn root() -> (&'static str, &'static str) {
    (
        berth_testkit::ROOT_ACCESS_KEY_ID,
        berth_testkit::ROOT_SECRET_ACCESS_KEY,
    )
}

/// Waits until the image's replication to every destination is no longer
/// IN_PROGRESS; its statuses.
fn settled(s: &TestServer, key: (&str, &str), repo: &str, image_id: Value) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = berth_testkit::ecr::call(
            &s.raw_client(),
            &s.url(),
            key,
            "us-east-1",
            "DescribeImageReplicationStatus",
            &json!({"repositoryName": repo, "imageId": image_id}),
        )
        .unwrap();
        let statuses = out["replicationStatuses"].as_array().unwrap().clone();
        if !statuses.is_empty() && statuses.iter().all(|st| st["status"] != "IN_PROGRESS") {
            return statuses;
        }
        assert!(
            Instant::now() < deadline,
            "still in progress: {out}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Pushes a generated image with docker as `reference` (logged in first).
fn docker_push(s: &TestServer, config: &std::path::Path, reference: &str, seed: u64) {
    let docker = || {
        let mut c = Command::new("docker");
        c.env("DOCKER_CONFIG", config);
        c
    };
    let rootfs = s.scratch().join(format!("rootfs-{seed}.tar"));
    std::fs::write(&rootfs, image::rootfs_tar(seed, 2, 10_000)).unwrap();
    tools::run(docker().arg("import").arg(&rootfs).arg(reference));
    tools::run(docker().args(["push", reference]));
    let _ = docker().args(["rmi", "-f", reference]).output();
}

/// The seeds' rule: `prod-app:v1` pushed with docker appears in us-west-2
/// byte for byte (manifest and every blob, read from the us-west-2 host
/// name), `dev-app:v1` does not; the status says COMPLETE. A `*` in a
/// filter is refused (ECR's filter pattern has none), and so is the source
/// registry as its own destination.
#[test]
fn the_seeds_rule_replicates_prod_repositories_to_us_west_2() {
    if !tools::require("docker") || !tools::require("aws") {
        return;
    }
    let s = start();
    let env = s.aws_env("us-east-1");
    let rule = seeds_rule(OWNER).to_string();
    let put = json_of(
        &["ecr", "put-replication-configuration"],
        aws_with(
            &env,
            &[
                "ecr",
                "put-replication-configuration",
                "--replication-configuration",
                &rule,
            ],
        ),
    );
    assert_eq!(put["replicationConfiguration"], seeds_rule(OWNER));
    let described = json_of(
        &["ecr", "describe-registry"],
        aws_with(&env, &["ecr", "describe-registry"]),
    );
    assert_eq!(described["replicationConfiguration"], seeds_rule(OWNER));
    for (bad, why) in [
        (
            json!({"rules":[{"destinations":[{"region":"us-west-2","registryId":OWNER}],
                "repositoryFilters":[{"filter":"prod-*","filterType":"PREFIX_MATCH"}]}]}),
            "regular expression",
        ),
        (
            json!({"rules":[{"destinations":[{"region":"us-east-1","registryId":OWNER}]}]}),
            "cannot be a replication destination",
        ),
    ] {
        let err = s
            .ecr(
                "us-east-1",
                "PutReplicationConfiguration",
                json!({"replicationConfiguration": bad}),
            )
            .unwrap_err();
        assert_eq!(err.1["__type"], "InvalidParameterException", "{err:?}");
        assert!(err.1["message"].as_str().unwrap().contains(why), "{err:?}");
    }

    let config = s.scratch().join("docker-replication");
    let password = berth_testkit::ecr::login_password(&s.raw_client(), &s.url(), root());
    docker_login(&config, &s.host(), password.as_bytes());
    for repo in ["prod-app", "dev-app"] {
        s.ecr(
            "us-east-1",
            "CreateRepository",
            json!({"repositoryName": repo}),
        )
        .unwrap();
        docker_push(&s, &config, &format!("{}/{repo}:v1", s.host()), 71);
    }
    let statuses = settled(&s, root(), "prod-app", json!({"imageTag": "v1"}));
    assert_eq!(
        statuses,
        [json!({"region": "us-west-2", "registryId": OWNER, "status": "COMPLETE"})]
    );
    let dev = s
        .ecr(
            "us-east-1",
            "DescribeImageReplicationStatus",
            json!({"repositoryName": "dev-app", "imageId": {"imageTag": "v1"}}),
        )
        .unwrap();
    assert_eq!(dev["replicationStatuses"], json!([]));

    // Byte for byte from the us-west-2 host name.
    let (east, east_url) = account_registry(&s, OWNER, "us-east-1", root());
    let (west, west_url) = account_registry(&s, OWNER, "us-west-2", root());
    let accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
    let get = |c: &reqwest::blocking::Client, url: String| {
        let r = c.get(url).header("accept", accept).send().unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().unwrap().to_vec()
    };
    let manifest = get(&east, format!("{east_url}/v2/prod-app/manifests/v1"));
    assert_eq!(
        get(&west, format!("{west_url}/v2/prod-app/manifests/v1")),
        manifest
    );
    let parsed: Value = serde_json::from_slice(&manifest).unwrap();
    let mut blobs = vec![parsed["config"]["digest"].as_str().unwrap().to_string()];
    blobs.extend(
        parsed["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string()),
    );
    for d in blobs {
        let bytes = get(&west, format!("{west_url}/v2/prod-app/blobs/{d}"));
        assert_eq!(image::sha256(&bytes), d);
        assert_eq!(
            bytes,
            get(&east, format!("{east_url}/v2/prod-app/blobs/{d}"))
        );
    }
    let missing = west
        .get(format!("{west_url}/v2/dev-app/manifests/v1"))
        .header("accept", accept)
        .send()
        .unwrap();
    assert_eq!(missing.status(), 404, "dev-app is not replicated");
}

/// Cross-account: FAILED with `REPLICATION_ACCESS_DENIED` until the
/// destination's registry policy allows the source account; then the
/// destination repository is created from the destination's REPLICATION
/// template (its tag mutability), an index replicates with both platform
/// manifests and a signature referrer, and a tag moved twice quickly ends
/// at the newest image.
#[test]
fn cross_account_replication_follows_the_destination_registry_policy_and_template() {
    let s = start();
    let other = account_with_key(&s, OTHER);
    let other = (other.0.as_str(), other.1.as_str());
    let as_other = |op: &str, input: Value| {
        berth_testkit::ecr::call(&s.raw_client(), &s.url(), other, "us-east-1", op, &input).unwrap()
    };
    s.ecr(
        "us-east-1",
        "PutReplicationConfiguration",
        json!({"replicationConfiguration": {"rules": [{"destinations": [{"region": "us-east-1", "registryId": OTHER}],
            "repositoryFilters": [{"filter": "prod/", "filterType": "PREFIX_MATCH"}]}]}}),
    )
    .unwrap();
    let api = Api::new(&s);
    let first = image::oci_image(72, 2, 1, 4_000);
    s.ecr(
        "us-east-1",
        "CreateRepository",
        json!({"repositoryName": "prod/app"}),
    )
    .unwrap();
    api.push_image("prod/app", &first, "v1");
    let denied = settled(&s, root(), "prod/app", json!({"imageTag": "v1"}));
    assert_eq!(
        denied,
        [
            json!({"region": "us-east-1", "registryId": OTHER, "status": "FAILED",
                "failureCode": "REPLICATION_ACCESS_DENIED"})
        ]
    );
    let err = berth_testkit::ecr::call(
        &s.raw_client(),
        &s.url(),
        other,
        "us-east-1",
        "DescribeRepositories",
        &json!({"repositoryNames": ["prod/app"]}),
    )
    .unwrap_err();
    assert_eq!(
        err.1["__type"], "RepositoryNotFoundException",
        "nothing created"
    );

    as_other(
        "PutRegistryPolicy",
        json!({"policyText": json!({"Version": "2012-10-17", "Statement": [{"Sid": "replication",
            "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:root")},
            "Action": ["ecr:ReplicateImage", "ecr:CreateRepository"],
            "Resource": format!("arn:aws:ecr:us-east-1:{OTHER}:repository/*")}]}).to_string()}),
    );
    as_other(
        "CreateRepositoryCreationTemplate",
        json!({"prefix": "prod", "appliedFor": ["REPLICATION"], "imageTagMutability": "IMMUTABLE"}),
    );
    let second = image::oci_image(73, 2, 1, 4_000);
    api.push_image("prod/app", &second, "v2");
    let ok = settled(&s, root(), "prod/app", json!({"imageTag": "v2"}));
    assert_eq!(ok[0]["status"], "COMPLETE", "{ok:?}");
    let repo = as_other(
        "DescribeRepositories",
        json!({"repositoryNames": ["prod/app"]}),
    );
    assert_eq!(
        repo["repositories"][0]["imageTagMutability"], "IMMUTABLE",
        "{repo}"
    );
    let (dest, dest_url) = account_registry(&s, OTHER, "us-east-1", other);
    let got = dest
        .get(format!("{dest_url}/v2/prod/app/manifests/v2"))
        .header("accept", image::OCI_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(got.bytes().unwrap().to_vec(), second.manifest);

    // An index over two platform images, with a signature of the index.
    s.ecr(
        "us-east-1",
        "CreateRepository",
        json!({"repositoryName": "prod/multi"}),
    )
    .unwrap();
    let (amd, arm) = (
        image::oci_image(74, 1, 1, 3_000),
        image::oci_image(75, 1, 1, 3_000),
    );
    for img in [&amd, &arm] {
        api.push_image(
            "prod/multi",
            img,
            &img.manifest_digest.replace(':', "-")[..20],
        );
    }
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": image::OCI_MANIFEST, "digest": amd.manifest_digest, "size": amd.manifest.len(),
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": image::OCI_MANIFEST, "digest": arm.manifest_digest, "size": arm.manifest.len(),
             "platform": {"architecture": "arm64", "os": "linux"}}]}))
    .unwrap();
    let index_digest = image::sha256(&index);
    // The signature first (a referrer needs no subject yet), so that it is
    // there when the index's replication copies its referrers.
    let empty = api.push_blob("prod/multi", b"{}");
    let sig = api.push_blob("prod/multi", b"a signature");
    let signature = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": image::OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "digest": sig, "size": 11}],
        "subject": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": index.len()}}))
    .unwrap();
    let r = api.put_manifest(
        "prod/multi",
        &image::sha256(&signature),
        image::OCI_MANIFEST,
        &signature,
    );
    assert_eq!(r.status(), 201);
    let r = api.put_manifest(
        "prod/multi",
        "v1",
        "application/vnd.oci.image.index.v1+json",
        &index,
    );
    assert_eq!(r.status(), 201);
    let done = settled(&s, root(), "prod/multi", json!({"imageTag": "v1"}));
    assert_eq!(done[0]["status"], "COMPLETE", "{done:?}");
    let fetch = |path: String, accept: &str| {
        let r = dest
            .get(format!("{dest_url}{path}"))
            .header("accept", accept)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.bytes().unwrap().to_vec()
    };
    assert_eq!(
        fetch(
            "/v2/prod/multi/manifests/v1".into(),
            "application/vnd.oci.image.index.v1+json"
        ),
        index
    );
    for img in [&amd, &arm] {
        assert_eq!(
            fetch(
                format!("/v2/prod/multi/manifests/{}", img.manifest_digest),
                image::OCI_MANIFEST
            ),
            img.manifest
        );
        let layer = &img.layers[0];
        assert_eq!(
            fetch(
                format!("/v2/prod/multi/blobs/{}", image::sha256(&layer.bytes)),
                "*/*"
            ),
            layer.bytes
        );
    }
    let referrers: Value = serde_json::from_slice(&fetch(
        format!("/v2/prod/multi/referrers/{index_digest}"),
        "application/vnd.oci.image.index.v1+json",
    ))
    .unwrap();
    assert_eq!(
        referrers["manifests"][0]["digest"],
        image::sha256(&signature),
        "{referrers}"
    );

    // A tag moved twice quickly: the destination ends at the newest image
    // (its repository made first, mutable, so the IMMUTABLE template does
    // not apply).
    as_other("CreateRepository", json!({"repositoryName": "prod/moving"}));
    s.ecr(
        "us-east-1",
        "CreateRepository",
        json!({"repositoryName": "prod/moving"}),
    )
    .unwrap();
    let images: Vec<_> = (0..3)
        .map(|i| image::oci_image(80 + i, 1, 1, 2_000))
        .collect();
    for img in &images {
        api.push_image("prod/moving", img, "latest");
    }
    let newest = &images[2];
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = settled(
            &s,
            root(),
            "prod/moving",
            json!({"imageDigest": newest.manifest_digest}),
        );
        assert_eq!(st[0]["status"], "COMPLETE");
        if metric(&s, "berth_replication_queue_depth") == 0 {
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(100));
    }
    let at = dest
        .head(format!("{dest_url}/v2/prod/moving/manifests/latest"))
        .header("accept", image::OCI_MANIFEST)
        .send()
        .unwrap();
    assert_eq!(header(&at, "docker-content-digest"), newest.manifest_digest);
}

/// Backfill: images stored before the configuration replicate after
/// StartReplicationBackfill, with progress and per-image results (one
/// backfill per destination region at a time is the store suite's); a
/// finished one cannot be
/// stopped; a stopped one queues nothing more. (botocore as installed
/// here has no backfill operations: called signed, as the SDKs would.)
#[test]
fn a_backfill_replicates_images_stored_before_the_configuration() {
    let s = start();
    let api = Api::new(&s);
    let mut pushed = Vec::new();
    for (repo, seed) in [
        ("prod-old", 91),
        ("prod-old", 92),
        ("prod-other", 93),
        ("dev-old", 94),
    ] {
        s.ecr(
            "us-east-1",
            "CreateRepository",
            json!({"repositoryName": repo}),
        )
        .ok();
        let img = image::oci_image(seed, 1, 1, 2_000);
        api.push_image(repo, &img, &format!("v{seed}"));
        pushed.push((repo, img, format!("v{seed}")));
    }
    s.ecr(
        "us-east-1",
        "PutReplicationConfiguration",
        json!({"replicationConfiguration": seeds_rule(OWNER)}),
    )
    .unwrap();
    let err = |op: &str, input: Value| s.ecr("us-east-1", op, input).unwrap_err().1;
    let e = err(
        "StartReplicationBackfill",
        json!({"destination": {"region": "eu-west-1", "registryId": OWNER}}),
    );
    assert_eq!(e["__type"], "InvalidParameterException", "{e}");
    let started = s
        .ecr(
            "us-east-1",
            "StartReplicationBackfill",
            json!({"destination": {"region": "us-west-2", "registryId": OWNER}}),
        )
        .unwrap();
    let id = started["replicationBackfillId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(started["status"], "IN_PROGRESS");
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let d = s
            .ecr(
                "us-east-1",
                "DescribeReplicationBackfillResults",
                json!({"replicationBackfillId": id}),
            )
            .unwrap();
        if d["status"] == "COMPLETE" {
            break d;
        }
        if d["status"] == "IN_PROGRESS" && Instant::now() > deadline {
            panic!("{d}\n{}", s.log());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(done["progress"]["completedImages"], 3, "{done}");
    assert_eq!(done["progress"]["failedImages"], 0, "{done}");
    let mut results: Vec<(String, String)> = done["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["status"], "COMPLETE", "{r}");
            (
                r["repositoryName"].as_str().unwrap().to_string(),
                r["imageId"]["imageTag"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    results.sort();
    assert_eq!(
        results,
        [
            ("prod-old".to_string(), "v91".to_string()),
            ("prod-old".into(), "v92".into()),
            ("prod-other".into(), "v93".into())
        ]
    );
    let (west, west_url) = account_registry(&s, OWNER, "us-west-2", root());
    for (repo, img, tag) in &pushed {
        let r = west
            .get(format!("{west_url}/v2/{repo}/manifests/{tag}"))
            .header("accept", image::OCI_MANIFEST)
            .send()
            .unwrap();
        if repo.starts_with("prod-") {
            assert_eq!(r.bytes().unwrap().to_vec(), img.manifest, "{repo}:{tag}");
        } else {
            assert_eq!(r.status(), 404, "{repo} is not under the rule");
        }
    }
    let listed = s
        .ecr("us-east-1", "ListReplicationBackfills", json!({}))
        .unwrap();
    assert_eq!(listed["backfills"][0]["replicationBackfillId"], id.as_str());
    assert_eq!(listed["backfills"][0]["status"], "COMPLETE");
    let e = err(
        "StopReplicationBackfill",
        json!({"replicationBackfillId": id}),
    );
    assert_eq!(
        e["__type"], "ReplicationBackfillInvalidStatusException",
        "{e}"
    );
    let e = err(
        "StopReplicationBackfill",
        json!({"replicationBackfillId": "nope"}),
    );
    assert_eq!(e["__type"], "ReplicationBackfillNotFoundException", "{e}");

    // Stopped: it queues nothing more.
    let again = s
        .ecr(
            "us-east-1",
            "StartReplicationBackfill",
            json!({"destination": {"region": "us-west-2", "registryId": OWNER}}),
        )
        .unwrap();
    let again = again["replicationBackfillId"].as_str().unwrap().to_string();
    let stopped = s
        .ecr(
            "us-east-1",
            "StopReplicationBackfill",
            json!({"replicationBackfillId": again}),
        )
        .unwrap();
    assert_eq!(stopped["status"], "STOPPED");
    let queued = |d: &Value| d["progress"]["queuedImages"].as_u64().unwrap();
    let first = s
        .ecr(
            "us-east-1",
            "DescribeReplicationBackfillResults",
            json!({"replicationBackfillId": again}),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let later = s
        .ecr(
            "us-east-1",
            "DescribeReplicationBackfillResults",
            json!({"replicationBackfillId": again}),
        )
        .unwrap();
    assert_eq!(later["status"], "STOPPED");
    assert_eq!(queued(&first), queued(&later), "{later}");
}

/// `deleteReplication` (ECR's "replication of deletes"): under a rule that
/// enables it, a tag removed from an image that keeps another goes at the
/// destination (the image stays), an image deleted by digest goes with its
/// tags, and an image a lifecycle policy expires goes too; a rule without
/// it leaves its destination alone. The image's replication status stays
/// its copy's.
#[test]
fn deletes_and_untags_follow_only_the_rules_that_enable_them() {
    let s = start_with(&["--lifecycle-interval", "1s"]);
    s.ecr(
        "us-east-1",
        "PutReplicationConfiguration",
        json!({"replicationConfiguration": {"rules": [
            {"destinations": [{"region": "us-west-2", "registryId": OWNER}],
             "repositoryFilters": [{"filter": "del-", "filterType": "PREFIX_MATCH"}],
             "deleteReplication": {"enabled": true}},
            {"destinations": [{"region": "us-west-2", "registryId": OWNER}],
             "repositoryFilters": [{"filter": "keep-", "filterType": "PREFIX_MATCH"}]},
        ]}}),
    )
    .unwrap();
    let east = Api::new(&s);
    let (client, base) = account_registry(&s, OWNER, "us-west-2", root());
    let west = Api { client, base };
    let (a, b, c) = (
        image::oci_image(601, 1, 1, 1_000),
        image::oci_image(602, 1, 1, 1_000),
        image::oci_image(603, 1, 1, 1_000),
    );
    let (da, db, dc) = (
        image::sha256(&a.manifest),
        image::sha256(&b.manifest),
        image::sha256(&c.manifest),
    );
    let quiet = || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while metric(&s, "berth_replication_queue_depth") != 0 {
            assert!(Instant::now() < deadline, "{}", s.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    for repo in ["del-app", "keep-app"] {
        s.ecr(
            "us-east-1",
            "CreateRepository",
            json!({"repositoryName": repo}),
        )
        .unwrap();
        east.push_image(repo, &a, "a1");
        let r = east.put_manifest(repo, "a2", image::OCI_MANIFEST, &a.manifest);
        assert_eq!(r.status(), 201);
        east.push_image(repo, &b, "b1");
    }
    quiet();
    let status = |api: &Api, repo: &str, reference: &str| {
        api.head(&format!("/v2/{repo}/manifests/{reference}"))
            .status()
            .as_u16()
    };
    for repo in ["del-app", "keep-app"] {
        for reference in ["a1", "a2", "b1"] {
            assert_eq!(status(&west, repo, reference), 200, "{repo}:{reference}");
        }
    }
    for repo in ["del-app", "keep-app"] {
        for reference in ["a1".to_string(), db.clone()] {
            let r = east
                .client
                .delete(east.url(&format!("/v2/{repo}/manifests/{reference}")))
                .send()
                .unwrap();
            assert_eq!(r.status(), 202, "{repo}:{reference}");
        }
    }
    quiet();
    assert_eq!(status(&west, "del-app", "a1"), 404, "untagged there too");
    assert_eq!(status(&west, "del-app", "a2"), 200, "the image keeps a2");
    assert_eq!(status(&west, "del-app", &db), 404, "deleted there too");
    assert_eq!(status(&west, "del-app", "b1"), 404, "with its tags");
    for reference in ["a1", "a2", "b1", &db] {
        assert_eq!(
            status(&west, "keep-app", reference),
            200,
            "no deleteReplication: keep-app:{reference} stays"
        );
    }
    assert_eq!(
        settled(&s, root(), "del-app", json!({"imageDigest": da})),
        [json!({"region": "us-west-2", "registryId": OWNER, "status": "COMPLETE"})],
        "the status is the copy's"
    );

    // A lifecycle policy keeps the newest image tagged a*: a (a2) expires
    // once c (a3) is pushed, here and there.
    east.push_image("del-app", &c, "a3");
    quiet();
    assert_eq!(status(&west, "del-app", &dc), 200);
    s.ecr(
        "us-east-1",
        "PutLifecyclePolicy",
        json!({"repositoryName": "del-app", "lifecyclePolicyText": json!({"rules": [{
            "rulePriority": 1,
            "selection": {"tagStatus": "tagged", "tagPrefixList": ["a"],
                          "countType": "imageCountMoreThan", "countNumber": 1},
            "action": {"type": "expire"}}]}).to_string()}),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(&west, "del-app", &da) != 404 {
        assert!(Instant::now() < deadline, "{}", s.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status(&east, "del-app", &da), 404, "expired at the source");
    assert_eq!(status(&west, "del-app", "a3"), 200, "the newest stays");
}
