//! Replication to another berth deployment (issue 22, item 4): two
//! servers with their own data dirs, the destination's region declared as
//! served by the other (`--replication-remote`), the replication identity
//! a user of the destination. Main pass only: it kills and restarts both
//! servers on their own stores.

use crate::common::*;
use berth_testkit::image;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const OWNER: &str = "000000000000";

/// A burst of 50 pushes (10 tags, each moved 5 times) replicates to the
/// other deployment through its API, as a user of it. The destination is
/// killed during the burst and restarted later, and the source is killed
/// mid-burst and restarted: the queue resumes, everything converges, each
/// tag at the destination names its newest image, and every image is
/// there once.
#[test]
fn replication_to_another_deployment_converges_when_either_side_dies() {
    let mut dest = start();
    let (id, secret) = user_with_key(&dest, "replicator");
    set_user_policy(
        &dest,
        "replicator",
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ecr:*"], "Resource": "*"}]}),
    );
    let remote = format!("us-west-2={}", dest.url());
    let env = [
        ("BERTH_REPLICATION_ACCESS_KEY_ID", id.as_str()),
        ("BERTH_REPLICATION_SECRET_ACCESS_KEY", secret.as_str()),
    ];
    let mut src = TestServer::start_with_env(berth_bin(), &["--replication-remote", &remote], &env);
    src.ecr(
        "us-east-1",
        "PutReplicationConfiguration",
        json!({"replicationConfiguration": {"rules": [{"destinations": [{"region": "us-west-2", "registryId": OWNER}],
            "repositoryFilters": [{"filter": "prod-", "filterType": "PREFIX_MATCH"}]}]}}),
    )
    .unwrap();
    src.ecr(
        "us-east-1",
        "CreateRepository",
        json!({"repositoryName": "prod-app"}),
    )
    .unwrap();

    let mut newest: HashMap<String, String> = HashMap::new();
    let mut digests = std::collections::BTreeSet::new();
    for i in 0..50u64 {
        let img = image::oci_image(300 + i, 1, 1, 2_000);
        let tag = format!("t{}", i % 10);
        Api::new(&src).push_image("prod-app", &img, &tag);
        newest.insert(tag, img.manifest_digest.clone());
        digests.insert(img.manifest_digest.clone());
        if i == 15 {
            dest.kill();
        }
        if i == 30 {
            src.kill();
            src.restart();
        }
    }
    // The destination down: replications wait (IN_PROGRESS), none lost.
    std::thread::sleep(Duration::from_secs(2));
    assert!(metric(&src, "berth_replication_queue_depth") > 0);
    dest.restart();

    let deadline = Instant::now() + Duration::from_secs(120);
    while metric(&src, "berth_replication_queue_depth") > 0 {
        assert!(Instant::now() < deadline, "not drained:\n{}", src.log());
        std::thread::sleep(Duration::from_millis(250));
    }
    // Every tag names its newest image at the destination, by its
    // us-west-2 registry.
    let (west, base) = account_registry(&dest, OWNER, "us-west-2", (&id, &secret));
    for (tag, digest) in &newest {
        let r = west
            .head(format!("{base}/v2/prod-app/manifests/{tag}"))
            .header("accept", image::OCI_MANIFEST)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{tag}");
        assert_eq!(&header(&r, "docker-content-digest"), digest, "{tag}");
    }
    // Every image once.
    let listed: Value = dest
        .ecr(
            "us-west-2",
            "ListImages",
            json!({"repositoryName": "prod-app", "filter": {"tagStatus": "ANY"}, "maxResults": 1000}),
        )
        .unwrap();
    let stored: std::collections::BTreeSet<String> = listed["imageIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["imageDigest"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored, digests);
    // The newest images say COMPLETE at the source.
    for digest in newest.values() {
        let st = src
            .ecr(
                "us-east-1",
                "DescribeImageReplicationStatus",
                json!({"repositoryName": "prod-app", "imageId": {"imageDigest": digest}}),
            )
            .unwrap();
        assert_eq!(st["replicationStatuses"][0]["status"], "COMPLETE", "{st}");
    }
}

/// Two deployments that replicate to each other: what arrives by
/// replication is not replicated on (the `X-Berth-Replica` mark), so an
/// image pushed to either side crosses once and the queues go quiet. A
/// layer the destination has in another repository is mounted there, not
/// sent again; a delete (`deleteReplication`) crosses once too.
#[test]
fn two_deployments_replicating_to_each_other_do_not_bounce_images() {
    let (pa, pb) = (free_port(), free_port());
    let root = [
        (
            "BERTH_REPLICATION_ACCESS_KEY_ID",
            berth_testkit::ROOT_ACCESS_KEY_ID,
        ),
        (
            "BERTH_REPLICATION_SECRET_ACCESS_KEY",
            berth_testkit::ROOT_SECRET_ACCESS_KEY,
        ),
    ];
    let (la, lb) = (format!("127.0.0.1:{pa}"), format!("127.0.0.1:{pb}"));
    let (to_b, to_a) = (
        format!("us-west-2=http://127.0.0.1:{pb}"),
        format!("us-east-1=http://127.0.0.1:{pa}"),
    );
    let a = TestServer::start_with_env(
        berth_bin(),
        &["--listen", &la, "--replication-remote", &to_b],
        &root,
    );
    let b = TestServer::start_with_env(
        berth_bin(),
        &["--listen", &lb, "--replication-remote", &to_a],
        &root,
    );
    let everything = |region: &str| {
        json!({"replicationConfiguration": {"rules": [{
        "destinations": [{"region": region, "registryId": OWNER}],
        "deleteReplication": {"enabled": true}}]}})
    };
    a.ecr(
        "us-east-1",
        "PutReplicationConfiguration",
        everything("us-west-2"),
    )
    .unwrap();
    b.ecr(
        "us-west-2",
        "PutReplicationConfiguration",
        everything("us-east-1"),
    )
    .unwrap();
    // One image pushed on each side: A's us-east-1, B's us-west-2.
    let first = image::oci_image(401, 1, 1, 200_000);
    Api::new(&a).push_image("app", &first, "from-a");
    let second = image::oci_image(402, 1, 1, 2_000);
    b.ecr(
        "us-west-2",
        "CreateRepository",
        json!({"repositoryName": "app"}),
    )
    .ok();
    let west = {
        let root = (
            berth_testkit::ROOT_ACCESS_KEY_ID,
            berth_testkit::ROOT_SECRET_ACCESS_KEY,
        );
        let (client, base) = account_registry(&b, OWNER, "us-west-2", root);
        Api { client, base }
    };
    west.push_image("app", &second, "from-b");
    // Each crosses once; then both queues stay empty and nothing more is
    // replicated.
    let settle = |complete: u64| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let done = metric(&a, "berth_replications_complete")
                + metric(&b, "berth_replications_complete");
            if done >= complete
                && metric(&a, "berth_replication_queue_depth") == 0
                && metric(&b, "berth_replication_queue_depth") == 0
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "A:\n{}\nB:\n{}",
                a.log(),
                b.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    settle(2);
    assert_eq!(metric(&a, "berth_replications_complete"), 1, "{}", a.log());
    assert_eq!(metric(&b, "berth_replications_complete"), 1, "{}", b.log());
    assert_eq!(metric(&a, "berth_replication_queue_depth"), 0);
    assert_eq!(metric(&b, "berth_replication_queue_depth"), 0);
    // Both images on both sides.
    let head = |api: &Api, path: &str| api.head(path).status();
    for tag in ["from-a", "from-b"] {
        let path = format!("/v2/app/manifests/{tag}");
        assert_eq!(head(&Api::new(&a), &path), 200, "A {tag}");
        assert_eq!(head(&west, &path), 200, "B {tag}");
    }

    // The same image pushed to another repository of A crosses without
    // its layer: B mounts it from the repository that has it. B makes
    // the repository from its own REPLICATION template.
    b.ecr(
        "us-west-2",
        "CreateRepositoryCreationTemplate",
        json!({"prefix": "ROOT", "appliedFor": ["REPLICATION"], "imageTagMutability": "IMMUTABLE"}),
    )
    .unwrap();
    let received = || metric(&b, "berth_http_request_body_bytes_total");
    let before = received();
    Api::new(&a).push_image("app2", &first, "again");
    settle(3);
    assert_eq!(head(&west, "/v2/app2/manifests/again"), 200);
    let made = b
        .ecr(
            "us-west-2",
            "DescribeRepositories",
            json!({"repositoryNames": ["app2"]}),
        )
        .unwrap();
    assert_eq!(
        made["repositories"][0]["imageTagMutability"], "IMMUTABLE",
        "B's REPLICATION template"
    );
    let layer = first.layers[0].bytes.len() as u64;
    assert!(
        received() - before < layer,
        "B received {} bytes for an image whose {layer}-byte layer it had",
        received() - before
    );

    // deleteReplication: A's tag removed (its image's last: the image
    // goes) goes at B, and B's delete, a replica's, is not carried back.
    let r = Api::new(&a)
        .client
        .delete(Api::new(&a).url("/v2/app/manifests/from-a"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(60);
    while head(&west, "/v2/app/manifests/from-a") != 404 {
        assert!(Instant::now() < deadline, "{}", a.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    settle(3);
    let digest = image::sha256(&first.manifest);
    assert_eq!(
        head(&west, &format!("/v2/app/manifests/{digest}")),
        404,
        "the image went with its last tag"
    );
    assert_eq!(metric(&b, "berth_replication_queue_depth"), 0);
    for path in ["/v2/app/manifests/from-b", "/v2/app2/manifests/again"] {
        assert_eq!(head(&Api::new(&a), path), 200, "A {path}");
        assert_eq!(head(&west, path), 200, "B {path}");
    }
}
