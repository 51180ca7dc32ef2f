//! Three berth nodes on one PostgreSQL database, one S3 prefix (SeaweedFS)
//! and one server key, behind haproxy balancing every request round robin:
//! the deployment of README "Scaling out". One deployment serves the whole
//! test (three nodes and a load balancer are the expensive part):
//! * a chunked upload whose POST, PATCHes and PUT land on three different
//!   nodes commits the right blob; skopeo pushes and pulls through the
//!   load balancer byte for byte;
//! * a tag moved on one node is served by another at once, and a
//!   repository policy set on one node is enforced by another at once (the
//!   stale window is measured and printed); a role session made through
//!   one node signs on another, its login token from a third pulls, and
//!   deleting the role on one node refuses the session on another at once;
//! * lifecycle runs once per interval across the cluster, not per node, and
//!   the vulnerability database is imported at start by one node, not each;
//! * a node started with another server key is refused.
//!
//! Garbage collection in a loop on one node while pushes go through the two
//! others loses nothing (`gc::push_storm_beside_gc`, across nodes: the
//! digest locks are PostgreSQL advisory locks).
//!
//! A second deployment loses a node to SIGKILL in the middle of a push
//! storm through the load balancer: every push that was acknowledged pulls
//! back byte for byte from the survivors, and `berth fsck --deep` on the
//! shared stores finds no damage.
//!
//! Needs PostgreSQL, SeaweedFS (scripts/test.sh) and haproxy; fails
//! without them under CI.

use crate::common::*;
use berth_testkit::postgres::Database;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Deployment {
    nodes: Vec<TestServer>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    lb: Child,
    lb_host: String,
    dir: tempfile::TempDir,
    // Dropped last: the nodes hold connections to it.
    _db: Database,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = self.lb.kill();
        let _ = self.lb.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("haproxy.log"));
            eprintln!("haproxy's output:\n{}", log.unwrap_or_default());
        }
    }
}

impl Deployment {
    fn start(nodes: usize, extra: &[&str]) -> Deployment {
        let db = Database::create();
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("server.key");
        let mut random = [0u8; 32];
        {
            use std::io::Read;
            std::fs::File::open("/dev/urandom")
                .unwrap()
                .read_exact(&mut random)
                .unwrap();
        }
        std::fs::write(&key, random).unwrap();
        let blobs = format!(
            "s3://{}/it-cluster-{}-{}",
            s3_var("BERTH_TEST_S3_BUCKET"),
            std::process::id(),
            free_port()
        );
        let mut args: Vec<String> = [
            "--metadata",
            db.url.as_str(),
            "--blobs",
            blobs.as_str(),
            "--s3-endpoint",
            &s3_var("BERTH_TEST_S3_ENDPOINT"),
            "--server-key-file",
            key.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let env = vec![
            (
                "BERTH_S3_ACCESS_KEY_ID".to_string(),
                s3_var("BERTH_TEST_S3_ACCESS_KEY_ID"),
            ),
            (
                "BERTH_S3_SECRET_ACCESS_KEY".to_string(),
                s3_var("BERTH_TEST_S3_SECRET_ACCESS_KEY"),
            ),
        ];
        let mut d = Deployment {
            nodes: Vec::new(),
            args,
            env,
            lb: Command::new("true").spawn().unwrap(),
            lb_host: String::new(),
            dir,
            _db: db,
        };
        for _ in 0..nodes {
            let node = d.node();
            d.nodes.push(node);
        }
        d.balance();
        d
    }

    /// Starts one more node of the deployment (not yet behind the balancer).
    fn node(&self) -> TestServer {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        TestServer::start_with_env(berth_bin(), &args, &env)
    }

    /// haproxy in front of the nodes: round robin, each request balanced on
    /// its own (no stickiness), the serving node named in `X-Berth-Node`.
    fn balance(&mut self) {
        let port = free_port();
        let servers: String = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| format!("    server n{i} {}\n", n.host()))
            .collect();
        let cfg = format!(
            "global\n    maxconn 2000\n\
             defaults\n    mode http\n    timeout connect 5s\n    timeout client 120s\n    timeout server 120s\n\
             \x20   retries 3\n    option redispatch\n\
             frontend registry\n    bind 127.0.0.1:{port}\n    default_backend nodes\n\
             backend nodes\n    balance roundrobin\n    http-response set-header X-Berth-Node %s\n{servers}"
        );
        let path = self.dir.path().join("haproxy.cfg");
        std::fs::write(&path, cfg).unwrap();
        let log = std::fs::File::create(self.dir.path().join("haproxy.log")).unwrap();
        self.lb = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting haproxy");
        self.lb_host = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&self.lb_host).is_err() {
            assert!(Instant::now() < deadline, "haproxy did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `berth fsck` on the deployment's stores (PostgreSQL, S3), its nodes
    /// running: the JSON report.
    fn fsck(&self) -> serde_json::Value {
        let at = |flag: &str| {
            let i = self.args.iter().position(|a| a == flag).unwrap();
            self.args[i + 1].clone()
        };
        let out = Command::new(berth_bin())
            .args(["fsck", "--json", "--deep"])
            .args(["--metadata", &at("--metadata"), "--blobs", &at("--blobs")])
            .args(["--s3-endpoint", &at("--s3-endpoint")])
            .args(["--server-key-file", &at("--server-key-file")])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "berth fsck: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The admin's client, addressed to the load balancer.
    fn api(&self) -> Api {
        Api {
            client: self.nodes[0].client(),
            base: format!("http://{}", self.lb_host),
        }
    }
}

/// Pushes `img` under `tag` without panicking: whether every request of
/// it was answered with success (the push was acknowledged).
fn try_push(api: &Api, repo: &str, img: &image::Image, tag: &str) -> bool {
    let blob = |bytes: &[u8]| {
        let digest = image::sha256(bytes);
        api.client
            .post(api.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
            .body(bytes.to_vec())
            .send()
            .is_ok_and(|r| r.status() == 201)
    };
    img.layers.iter().all(|l| blob(&l.bytes))
        && blob(&img.config)
        && api
            .client
            .put(api.url(&format!("/v2/{repo}/manifests/{tag}")))
            .header("content-type", image::OCI_MANIFEST)
            .body(img.manifest.clone())
            .send()
            .is_ok_and(|r| r.status() == 201)
}

fn node_of(r: &reqwest::blocking::Response) -> String {
    header(r, "x-berth-node")
}

/// Polls `node` until `check` holds: how long it took and how many answers
/// were stale before.
fn until(what: &str, mut check: impl FnMut() -> bool) -> (Duration, u32) {
    let started = Instant::now();
    let mut stale = 0;
    while !check() {
        stale += 1;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: still stale after 5 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    (started.elapsed(), stale)
}

#[test]
fn three_nodes_behind_haproxy_act_as_one_registry() {
    if !tools::require("haproxy") || !tools::require("skopeo") {
        return;
    }
    let records = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scan/tests/fixtures/synthetic")
        .canonicalize()
        .unwrap();
    let d = Deployment::start(
        3,
        &[
            "--lifecycle-interval",
            "2s",
            "--vuln-db",
            records.to_str().unwrap(),
        ],
    );
    let api = d.api();
    for n in &d.nodes {
        let api = Api::new(n);
        until("a node listening", || {
            api.get("/readyz")
                .text()
                .unwrap()
                .contains("cluster: listening for other nodes' changes")
        });
    }

    // The vulnerability database is imported at start by one node, not by
    // each (the nodes started one after another).
    let logged = |what: &str| -> Vec<usize> {
        d.nodes
            .iter()
            .map(|n| n.log().matches(what).count())
            .collect()
    };
    until("each node's import at start done or skipped", || {
        let done = logged("vulnerability database imported");
        let skipped = logged("not importing the vulnerability database at start");
        done.iter().sum::<usize>() + skipped.iter().sum::<usize>() == 3
    });
    let done = logged("vulnerability database imported");
    assert_eq!(
        done.iter().sum::<usize>(),
        1,
        "imports at start per node: {done:?}"
    );

    // A chunked upload across three nodes: POST, PATCH, PATCH, PUT.
    let chunked: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let digest = image::sha256(&chunked);
    let started = api
        .client
        .post(api.url("/v2/cluster/app/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(started.status(), 202);
    let mut served_by = vec![node_of(&started)];
    let mut location = header(&started, "location");
    for (i, part) in chunked.chunks(1_500_000).enumerate() {
        let start = i * 1_500_000;
        let r = api
            .client
            .patch(api.url(&location))
            .header(
                "content-range",
                format!("{start}-{}", start + part.len() - 1),
            )
            .body(part.to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status(), 202, "{}", r.text().unwrap_or_default());
        served_by.push(node_of(&r));
        location = header(&r, "location");
    }
    let sep = if location.contains('?') { '&' } else { '?' };
    let done = api
        .client
        .put(api.url(&format!("{location}{sep}digest={digest}")))
        .send()
        .unwrap();
    served_by.push(node_of(&done));
    assert_eq!(done.status(), 201, "{}", done.text().unwrap_or_default());
    let mut distinct = served_by.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        3,
        "the upload's requests went to {served_by:?}"
    );
    for n in &d.nodes {
        let got = Api::new(n).get(&format!("/v2/cluster/app/blobs/{digest}"));
        assert_eq!(got.status(), 200);
        assert_eq!(got.bytes().unwrap().as_ref(), chunked.as_slice());
    }

    // skopeo through the load balancer, logged in with a token one node made.
    let auth = d.dir.path().join("auth.json");
    {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(d.nodes[0].creds());
        let config = serde_json::json!({ "auths": { d.lb_host.clone(): { "auth": b64 } } });
        std::fs::write(&auth, config.to_string()).unwrap();
    }
    let img = image::oci_image(61, 3, 3, 200_000);
    let layout = d.dir.path().join("layout");
    image::write_oci_layout(&layout, &img, "v1");
    let dest = format!("docker://{}/cluster/skopeo:v1", d.lb_host);
    let skopeo = |args: &[&str]| {
        let out = Command::new("skopeo")
            .env("REGISTRY_AUTH_FILE", &auth)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        &format!("oci:{}:v1", layout.display()),
        &dest,
    ]);
    let pulled = d.dir.path().join("pulled");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--preserve-digests",
        &dest,
        &format!("oci:{}:v1", pulled.display()),
    ]);
    for layer in &img.layers {
        let hex = layer.digest.trim_start_matches("sha256:");
        let bytes = std::fs::read(pulled.join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(bytes, layer.bytes, "layer {} byte for byte", layer.digest);
    }

    // A tag moved on node 0 is served by node 1, whose cache held the old one.
    let (a, b) = (&d.nodes[0], &d.nodes[1]);
    let (api_a, api_b) = (Api::new(a), Api::new(b));
    let first = image::oci_image(62, 1, 1, 1_000);
    let second = image::oci_image(63, 1, 1, 1_000);
    api_a.push_image("cluster/moving", &first, "latest");
    for _ in 0..3 {
        let got = api_b.get("/v2/cluster/moving/manifests/latest");
        assert_eq!(got.bytes().unwrap().as_ref(), first.manifest.as_slice());
    }
    api_a.push_image("cluster/moving", &second, "latest");
    let (took, stale) = until("the moved tag on node 1", || {
        api_b
            .get("/v2/cluster/moving/manifests/latest")
            .bytes()
            .unwrap()
            .as_ref()
            == second.manifest.as_slice()
    });
    eprintln!("tag move: node 1 served the new manifest {took:?} after node 0's 201 ({stale} stale answers)");
    assert!(took < Duration::from_millis(500), "stale for {took:?}");

    // A repository policy set on node 0 is enforced by node 1, which had
    // allowed (and cached the decision) a moment before.
    let dev = user_with_key(a, "dev");
    set_user_policy(
        a,
        "dev",
        &serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}),
    );
    let dev_b = api_as(b, (&dev.0, &dev.1));
    let (took, _) = until("dev's first pull on node 1", || {
        dev_b.get("/v2/cluster/moving/manifests/latest").status() == 200
    });
    eprintln!("a new user's policy reached node 1 in {took:?}");
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "nodev", "Effect": "Deny",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/dev"},
        "Action": "ecr:BatchGetImage"}]});
    a.ecr(
        "us-east-1",
        "SetRepositoryPolicy",
        serde_json::json!({"repositoryName": "cluster/moving", "policyText": policy.to_string()}),
    )
    .unwrap();
    let (took, stale) = until("the deny on node 1", || {
        dev_b.get("/v2/cluster/moving/manifests/latest").status() == 403
    });
    eprintln!(
        "repository policy: node 1 denied {took:?} after node 0's answer ({stale} allowed before)"
    );
    assert!(took < Duration::from_millis(500), "allowed for {took:?}");

    // A role session made through node 0 signs on node 1, and its login
    // token (from node 2) pulls on node 1: sessions are sealed under the
    // shared server key, no node stores them. Deleting the role on node 0
    // ends the session on node 1 at once (the identity invalidation).
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::000000000000:user/admin"}, "Action": "sts:AssumeRole"}]});
    let iam = |node: &TestServer, args: &[&str]| {
        json_of(args, aws_with(&node.aws_env("us-east-1"), args))
    };
    iam(
        a,
        &[
            "iam",
            "create-role",
            "--role-name",
            "puller",
            "--assume-role-policy-document",
            &trust.to_string(),
        ],
    );
    iam(
        a,
        &[
            "iam",
            "attach-role-policy",
            "--role-name",
            "puller",
            "--policy-arn",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        ],
    );
    let creds = iam(
        a,
        &[
            "sts",
            "assume-role",
            "--role-arn",
            "arn:aws:iam::000000000000:role/puller",
            "--role-session-name",
            "node-x",
        ],
    );
    let c = &creds["Credentials"];
    let session = (
        c["AccessKeyId"].as_str().unwrap().to_string(),
        c["SecretAccessKey"].as_str().unwrap().to_string(),
        c["SessionToken"].as_str().unwrap().to_string(),
    );
    let describe_on = |node: &TestServer| {
        berth_testkit::ecr::call_with_token(
            &node.raw_client(),
            &node.url(),
            (&session.0, &session.1),
            Some(&session.2),
            "us-east-1",
            "DescribeRepositories",
            &serde_json::json!({}),
        )
    };
    describe_on(b).unwrap();
    let c_node = &d.nodes[2];
    let password = berth_testkit::ecr::login_password_with_token(
        &c_node.raw_client(),
        &c_node.url(),
        (&session.0, &session.1),
        Some(&session.2),
    );
    let pulled = b
        .raw_client()
        .get(b.url() + "/v2/cluster/moving/manifests/latest")
        .basic_auth("AWS", Some(&password))
        .send()
        .unwrap();
    assert_eq!(pulled.status(), 200);
    iam(
        a,
        &[
            "iam",
            "detach-role-policy",
            "--role-name",
            "puller",
            "--policy-arn",
            "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        ],
    );
    iam(a, &["iam", "delete-role", "--role-name", "puller"]);
    let (took, _) = until("the deleted role's session refused on node 1", || {
        describe_on(b).is_err_and(|(_, e)| e["__type"] == "UnrecognizedClientException")
    });
    eprintln!("a deleted role's session was refused by node 1 {took:?} after node 0's answer");
    assert!(took < Duration::from_millis(500), "accepted for {took:?}");

    // Lifecycle: every node ticks, one runs it per 2 s interval.
    a.ecr(
        "us-east-1",
        "PutLifecyclePolicy",
        serde_json::json!({"repositoryName": "cluster/moving", "lifecyclePolicyText": serde_json::json!({
            "rules": [{"rulePriority": 1, "selection": {"tagStatus": "untagged",
                "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 30},
                "action": {"type": "expire"}}]}).to_string()}),
    )
    .unwrap();
    let runs = || {
        d.nodes
            .iter()
            .map(|n| n.log().matches("lifecycle policies applied").count())
            .sum::<usize>()
    };
    let before = runs();
    std::thread::sleep(Duration::from_secs(9));
    let ran = runs() - before;
    let per_node: Vec<usize> = d
        .nodes
        .iter()
        .map(|n| n.log().matches("lifecycle policies applied").count())
        .collect();
    eprintln!("lifecycle: {ran} runs in 9 s across 3 nodes with a 2 s interval ({per_node:?} per node in all)");
    assert!(
        (3..=5).contains(&ran),
        "{ran} lifecycle runs in 9 s at a 2 s interval across 3 nodes ({per_node:?})"
    );

    // A node with another server key is refused.
    let other = tempfile::tempdir().unwrap();
    let key = other.path().join("other.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    let mut args = d.args.clone();
    let at = args.iter().position(|a| a == "--server-key-file").unwrap();
    args[at + 1] = key.to_str().unwrap().to_string();
    let out = Command::new(berth_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(other.path().join("data"))
        .args(&args)
        .envs(d.env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started with another key:\n{stderr}");
    assert!(
        stderr.contains("is not the one the other nodes of this deployment use"),
        "{stderr}"
    );
    // The deployment is unaffected.
    assert_eq!(api.get("/v2/cluster/moving/manifests/latest").status(), 200);

    // KMS keys are one state too: a key disabled through one node refuses
    // pulls on every node at once, and a repository that one node knew as
    // AES256, deleted and made again under a disabled key through others,
    // is refused there too (its cached encryption is dropped everywhere).
    let kms = |n: usize, op: &str, input: serde_json::Value| {
        d.nodes[n]
            .kms("us-east-1", op, input)
            .unwrap_or_else(|e| panic!("{op} on node {n}: {e:?}"))
    };
    let ecr = |n: usize, op: &str, input: serde_json::Value| {
        d.nodes[n]
            .ecr("us-east-1", op, input)
            .unwrap_or_else(|e| panic!("{op} on node {n}: {e:?}"))
    };
    let key_id = kms(0, "CreateKey", json!({}))["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    ecr(
        1,
        "CreateRepository",
        json!({"repositoryName": "cluster/kms",
               "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": key_id}}),
    );
    let kms_img = image::oci_image(31, 1, 1, 2048);
    Api::new(&d.nodes[2]).push_image("cluster/kms", &kms_img, "v1");
    let path = "/v2/cluster/kms/manifests/v1";
    for n in &d.nodes {
        assert_eq!(Api::new(n).get(path).status(), 200);
    }
    kms(0, "DisableKey", json!({"KeyId": key_id}));
    for n in &d.nodes {
        assert_eq!(Api::new(n).get(path).status(), 403, "{}", n.url());
    }
    kms(1, "EnableKey", json!({"KeyId": key_id}));
    for n in &d.nodes {
        assert_eq!(Api::new(n).get(path).bytes().unwrap(), kms_img.manifest);
    }
    let plain = image::oci_image(32, 1, 1, 2048);
    Api::new(&d.nodes[0]).push_image("cluster/recreated", &plain, "v1");
    let recreated = "/v2/cluster/recreated/manifests/v1";
    assert_eq!(Api::new(&d.nodes[0]).get(recreated).status(), 200);
    ecr(
        1,
        "DeleteRepository",
        json!({"repositoryName": "cluster/recreated", "force": true}),
    );
    ecr(
        2,
        "CreateRepository",
        json!({"repositoryName": "cluster/recreated",
               "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": key_id}}),
    );
    Api::new(&d.nodes[2]).push_image("cluster/recreated", &plain, "v1");
    kms(2, "DisableKey", json!({"KeyId": key_id}));
    until("node 0 refusing the re-created repository", || {
        Api::new(&d.nodes[0]).get(recreated).status() == 403
    });
}

#[test]
fn a_node_killed_during_a_push_storm_loses_no_acknowledged_push() {
    if !tools::require("haproxy") {
        return;
    }
    let mut d = Deployment::start(3, &[]);
    let api = std::sync::Arc::new(d.api());
    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            let api = api.clone();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut failed = 0;
                for i in 0..12u64 {
                    let img = image::oci_image(1000 + w * 100 + i, 2, 2, 50_000);
                    let tag = format!("w{w}-{i}");
                    if try_push(&api, "storm/app", &img, &tag) {
                        acked.push((tag, img));
                    } else {
                        failed += 1;
                    }
                }
                (acked, failed)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    d.nodes[1].kill();
    let mut acked = Vec::new();
    let mut failed = 0;
    for w in workers {
        let (a, f) = w.join().unwrap();
        acked.extend(a);
        failed += f;
    }
    eprintln!(
        "push storm: {} pushes acknowledged, {failed} failed while node 1 was killed",
        acked.len()
    );
    assert!(
        acked.len() >= 24,
        "most pushes went through: {}",
        acked.len()
    );
    // Every acknowledged push, from each surviving node directly.
    for node in [&d.nodes[0], &d.nodes[2]] {
        let api = Api::new(node);
        for (tag, img) in &acked {
            let m = api.get(&format!("/v2/storm/app/manifests/{tag}"));
            assert_eq!(m.status(), 200, "{tag}");
            assert_eq!(
                m.bytes().unwrap().as_ref(),
                img.manifest.as_slice(),
                "{tag}"
            );
            for l in &img.layers {
                let b = api.get(&format!("/v2/storm/app/blobs/{}", l.digest));
                assert_eq!(b.status(), 200, "{tag} {}", l.digest);
                assert_eq!(b.bytes().unwrap().as_ref(), l.bytes.as_slice());
            }
        }
    }
    // What the killed node was writing is at most garbage.
    let report = d.fsck();
    eprintln!(
        "fsck after the kill: {} damaged, {} garbage, {}",
        report["damage"], report["garbage"], report["checked"]
    );
    assert_eq!(report["damage"], 0, "{report:#}");
    assert!(report["checked"]["blobRecords"].as_u64().unwrap() > 0);
}

#[test]
fn gc_on_one_node_beside_pushes_through_the_others_loses_nothing() {
    let d = Deployment::start(3, &[]);
    crate::gc::push_storm_beside_gc(&d.nodes[0], &[&d.nodes[1], &d.nodes[2]]);
}
