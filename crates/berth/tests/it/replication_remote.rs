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

/// The number in `/metrics` line `name value`.
fn metric(s: &TestServer, name: &str) -> u64 {
    let text = s
        .client()
        .get(s.url() + "/metrics")
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

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
    let (west, base) = {
        use base64::Engine as _;
        let host = format!("{OWNER}.dkr.ecr.us-west-2.localhost");
        let password = berth_testkit::ecr::login_password(
            &dest.raw_client(),
            &dest.url(),
            (id.as_str(), secret.as_str()),
        );
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Basic {basic}").parse().unwrap(),
        );
        (
            reqwest::blocking::Client::builder()
                .default_headers(headers)
                .resolve(&host, dest.addr)
                .build()
                .unwrap(),
            format!("http://{host}:{}", dest.addr.port()),
        )
    };
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
