//! A scaled-out berth when its shared stores go away, with real servers:
//! * PostgreSQL stopped (immediate mode: its clients see a crash) under a
//!   loop of pushes and pulls, then started again: while it is down
//!   requests answer 503 `UNAVAILABLE`, never another error; after, they
//!   succeed again, and every push that was acknowledged pulls back.
//! * The object store cut off (a TCP proxy in front of SeaweedFS stops)
//!   in the middle of a chunked upload: the chunk answers 503, the session
//!   keeps its last acknowledged size, a monolithic upload leaves no
//!   record, and the upload completes once the store is back.
//!
//! * A node's image scan stalls on the object store (the proxy stops
//!   forwarding): another node never takes it over while the node lives
//!   and renews its claim, and takes it over once the node is killed.
//!
//! The PostgreSQL test runs its own cluster (scripts/postgres.sh), so that
//! stopping it disturbs no other test.

use crate::common::*;
use berth_testkit::postgres::Database;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn script(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name)
}

/// A PostgreSQL cluster of this test's own.
struct OwnPostgres {
    dir: tempfile::TempDir,
    url: String,
}

impl OwnPostgres {
    fn start() -> OwnPostgres {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script("postgres.sh"))
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postgres.sh start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let url = text
            .trim()
            .strip_prefix("export BERTH_TEST_POSTGRES=")
            .expect("postgres.sh prints the URL")
            .to_string();
        OwnPostgres { dir, url }
    }

    fn run(&self, what: &str) {
        let out = Command::new(script("postgres.sh"))
            .arg(what)
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "postgres.sh {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new(script("postgres.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// The status of each request of a push, up to the first that failed.
fn push_statuses(api: &Api, repo: &str, img: &image::Image, tag: &str) -> Vec<u16> {
    let mut statuses = Vec::new();
    let mut blobs: Vec<&[u8]> = img.layers.iter().map(|l| l.bytes.as_slice()).collect();
    blobs.push(&img.config);
    for bytes in blobs {
        let digest = image::sha256(bytes);
        let r = api
            .client
            .post(api.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
            .body(bytes.to_vec())
            .send()
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() != 201 {
            return statuses;
        }
    }
    let r = api.put_manifest(repo, tag, image::OCI_MANIFEST, &img.manifest);
    statuses.push(r.status().as_u16());
    statuses
}

#[test]
fn postgresql_restarted_under_load_answers_503_then_recovers() {
    let pg = OwnPostgres::start();
    let s = start_with(&["--metadata", &pg.url]);
    let api = Arc::new(Api::new(&s));
    let base = image::oci_image(71, 1, 1, 2_000);
    api.push_image("faults/pg", &base, "base");

    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::<(u16, String)>::new()));
    let load = {
        let (api, stop, seen) = (api.clone(), stop.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let img = image::oci_image(7_000 + i, 1, 1, 2_000);
                let tag = format!("t{i}");
                let statuses = push_statuses(&api, "faults/pg", &img, &tag);
                if statuses.iter().all(|s| *s == 201) {
                    acked.push((tag.clone(), img));
                }
                let pulled = api.get("/v2/faults/pg/manifests/base");
                let code = pulled.status().as_u16();
                let body = pulled.text().unwrap_or_default();
                let mut seen = seen.lock().unwrap();
                for s in statuses {
                    seen.push((s, String::new()));
                }
                seen.push((code, body));
            }
            acked
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    pg.run("stop");
    let stopped = Instant::now();
    // Longer than the store's wait for a connection (5 s), so that requests
    // give up rather than wait it out.
    std::thread::sleep(Duration::from_secs(8));
    pg.run("resume");
    let resumed = Instant::now();
    // Requests succeed again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if api.get("/v2/faults/pg/manifests/base").status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovered = resumed.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let acked = load.join().unwrap();
    let seen = seen.lock().unwrap();
    let unavailable: Vec<_> = seen.iter().filter(|(c, _)| *c == 503).collect();
    let other: Vec<_> = seen
        .iter()
        .filter(|(c, _)| ![200, 201, 503].contains(c))
        .collect();
    eprintln!(
        "PostgreSQL down {:?}: {} requests, {} answered 503, recovered {recovered:?} after the restart, {} pushes acknowledged",
        resumed - stopped,
        seen.len(),
        unavailable.len(),
        acked.len()
    );
    assert!(
        other.is_empty(),
        "answers other than 200/201/503: {other:?}"
    );
    assert!(!unavailable.is_empty(), "no request noticed the outage");
    for (_, body) in unavailable.iter().filter(|(_, b)| !b.is_empty()) {
        assert!(body.contains("UNAVAILABLE"), "{body}");
    }
    // Every acknowledged push is there, byte for byte.
    for (tag, img) in &acked {
        let m = api.get(&format!("/v2/faults/pg/manifests/{tag}"));
        assert_eq!(m.status(), 200, "{tag}");
        assert_eq!(m.bytes().unwrap().as_ref(), img.manifest.as_slice());
        let l = api.get(&format!("/v2/faults/pg/blobs/{}", img.layers[0].digest));
        assert_eq!(l.bytes().unwrap().as_ref(), img.layers[0].bytes.as_slice());
    }
}

/// A TCP proxy to `target` on `port` that can be cut off (every
/// connection closed, nothing accepted), and paused (connections stay open
/// but nothing is forwarded: a store that stopped answering).
struct Proxy {
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    fn start(port: u16, target: String) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::<TcpStream>::new()));
        let accept = {
            let (stop, paused, conns) = (stop.clone(), paused.clone(), conns.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((client, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    client.set_nonblocking(false).unwrap();
                    let Ok(server) = TcpStream::connect(&target) else {
                        continue;
                    };
                    let mut list = conns.lock().unwrap();
                    list.push(client.try_clone().unwrap());
                    list.push(server.try_clone().unwrap());
                    for (mut from, mut to) in [
                        (client.try_clone().unwrap(), server.try_clone().unwrap()),
                        (server, client),
                    ] {
                        let paused = paused.clone();
                        std::thread::spawn(move || {
                            let mut buf = vec![0u8; 64 * 1024];
                            while let Ok(n @ 1..) = from.read(&mut buf) {
                                while paused.load(Ordering::SeqCst) {
                                    std::thread::sleep(Duration::from_millis(10));
                                }
                                if to.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            let _ = to.shutdown(std::net::Shutdown::Write);
                        });
                    }
                }
            })
        };
        Proxy {
            stop,
            paused,
            conns,
            accept: Some(accept),
        }
    }

    fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    fn cut(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            t.join().unwrap();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

#[test]
fn the_object_store_stopping_mid_upload_fails_the_upload_cleanly() {
    let db = Database::create();
    let port = free_port();
    let target = s3_var("BERTH_TEST_S3_ENDPOINT")
        .trim_start_matches("http://")
        .to_string();
    let mut proxy = Proxy::start(port, target.clone());
    let blobs = format!(
        "s3://{}/it-faults-{}-{port}",
        s3_var("BERTH_TEST_S3_BUCKET"),
        std::process::id()
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let s = start_on_shared_stores(&db.url, &blobs, &endpoint, &[]);
    let api = Api::new(&s);
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 239) as u8).collect();
    let digest = image::sha256(&data);
    let (first, second) = data.split_at(1_000_000);
    let started = api
        .client
        .post(api.url("/v2/faults/s3/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(started.status(), 202);
    let location = header(&started, "location");
    let patch = |location: &str, start: usize, part: &[u8]| {
        api.client
            .patch(api.url(location))
            .header(
                "content-range",
                format!("{start}-{}", start + part.len() - 1),
            )
            .body(part.to_vec())
            .send()
            .unwrap()
    };
    let r = patch(&location, 0, first);
    assert_eq!(r.status(), 202);
    let location = header(&r, "location");

    proxy.cut();
    let cut = Instant::now();
    let r = patch(&location, first.len(), second);
    let failed_after = cut.elapsed();
    assert_eq!(r.status(), 503, "{}", r.text().unwrap_or_default());
    assert!(r.text().unwrap().contains("UNAVAILABLE"));
    // A whole blob in one request fails the same way and records nothing.
    let lone = b"a blob pushed while the object store was away".to_vec();
    let lone_digest = image::sha256(&lone);
    let r = api
        .client
        .post(api.url(&format!(
            "/v2/faults/s3/blobs/uploads/?digest={lone_digest}"
        )))
        .body(lone.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 503);
    // The session still holds what was acknowledged (metadata only).
    let status = api.get(&location);
    assert_eq!(status.status(), 204);
    assert_eq!(header(&status, "range"), format!("0-{}", first.len() - 1));
    eprintln!("object store cut: the chunk answered 503 after {failed_after:?}");

    let _proxy = Proxy::start(port, target);
    assert_eq!(
        api.head(&format!("/v2/faults/s3/blobs/{lone_digest}"))
            .status(),
        404,
        "a failed upload left a blob record"
    );
    let r = patch(&location, first.len(), second);
    assert_eq!(r.status(), 202, "{}", r.text().unwrap_or_default());
    let location = header(&r, "location");
    let sep = if location.contains('?') { '&' } else { '?' };
    let done = api
        .client
        .put(api.url(&format!("{location}{sep}digest={digest}")))
        .send()
        .unwrap();
    assert_eq!(done.status(), 201, "{}", done.text().unwrap_or_default());
    let mut got = Vec::new();
    api.get(&format!("/v2/faults/s3/blobs/{digest}"))
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, data);
}

#[test]
fn a_live_nodes_scan_is_never_taken_over_and_a_dead_nodes_is() {
    const CLAIM: Duration = Duration::from_secs(2);
    let db = Database::create();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("server.key");
    std::fs::write(&key, image::random_bytes(7, 32)).unwrap();
    let port = free_port();
    let target = s3_var("BERTH_TEST_S3_ENDPOINT");
    let proxy = Proxy::start(port, target.trim_start_matches("http://").to_string());
    let blobs = format!(
        "s3://{}/it-claims-{}-{port}",
        s3_var("BERTH_TEST_S3_BUCKET"),
        std::process::id()
    );
    let claim = format!("{}s", CLAIM.as_secs());
    let node = |endpoint: &str| {
        start_on_shared_stores(
            &db.url,
            &blobs,
            endpoint,
            &[
                "--server-key-file",
                key.to_str().unwrap(),
                "--scan-claim",
                &claim,
            ],
        )
    };
    // A reaches the object store through the proxy, B directly.
    let mut a = node(&format!("http://127.0.0.1:{port}"));
    let b = node(&target);
    let img = image::oci_image(61, 2, 1, 50_000);
    Api::new(&a).push_image("claims/app", &img, "v1");

    let status = || {
        b.ecr(
            "us-east-1",
            "DescribeImageScanFindings",
            serde_json::json!({"repositoryName": "claims/app", "imageId": {"imageTag": "v1"}}),
        )
        .map(|v| {
            v["imageScanStatus"]["status"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_else(|(code, body)| format!("{code} {body}"))
    };
    let taken_over = |n: &TestServer| {
        n.log()
            .contains("queued again scans a node left in progress")
    };
    // A's scan stalls reading the image from the object store.
    proxy.pause(true);
    a.ecr(
        "us-east-1",
        "StartImageScan",
        serde_json::json!({"repositoryName": "claims/app", "imageId": {"imageTag": "v1"}}),
    )
    .unwrap();
    std::thread::sleep(CLAIM * 3);
    assert_eq!(status(), "IN_PROGRESS");
    assert!(
        !taken_over(&b),
        "B took over the scan of a live node that renews its claim:\n{}",
        b.log()
    );

    // A dies: B takes the scan over within one and a half claims (and its
    // job's tick), and finishes it.
    a.kill();
    let killed = Instant::now();
    while status() == "IN_PROGRESS" {
        assert!(
            killed.elapsed() < CLAIM * 10,
            "the dead node's scan was not taken over:\n{}",
            b.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(taken_over(&b), "{}", b.log());
    eprintln!(
        "a dead node's scan finished by another node {:?} after the kill (claim {CLAIM:?}): {}",
        killed.elapsed(),
        status()
    );
    proxy.pause(false);
}
