//! Crash consistency: concurrent pushes (monolithic, chunked, re-pushes of
//! stored blobs; to AES256 repositories and to repositories under a KMS
//! key, whose bytes live in the key's domain) while the server is killed
//! with SIGKILL at random moments and restarted, over and over. After every
//! kill, `berth fsck` (server stopped) must find no damage, and every third
//! time `berth gc --offline --grace 0s` collects what the kill left; after
//! every restart, the server must start on its own and every push whose
//! manifest PUT was answered 201 must pull back byte for byte.
//!
//! The CI run is short. A long run, by hand:
//!
//! ```text
//! BERTH_CRASH_ITERATIONS=300 BERTH_CRASH_SECONDS=3600 \
//!   cargo nextest run -p berth --test it crash:: --no-capture
//! ```
//!
//! `BERTH_CRASH_SEED` replays a run's choices (kill moments, push modes,
//! image sizes) as far as thread timing allows.

use crate::common::*;
use reqwest::blocking::Client;
use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Concurrent pushing clients.
const PUSHERS: u64 = 4;
/// Repositories they push to, of each kind (AES256, under a KMS key).
const REPOS: u64 = 3;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

/// xorshift64*: enough randomness for choosing moments and modes.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A push the client saw acknowledged (manifest PUT answered 201).
#[derive(Clone)]
struct Acked {
    repo: String,
    tag: String,
    manifest: Vec<u8>,
    manifest_digest: String,
    /// (digest, size) of the config and layers.
    blobs: Vec<(String, usize)>,
}

/// The absolute URL of an upload `Location`, with `?digest=` added.
fn with_digest(base: &str, location: &str, digest: &str) -> String {
    let url = if location.starts_with("http") {
        location.to_string()
    } else {
        format!("{base}{location}")
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}digest={digest}")
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http") {
        location.to_string()
    } else {
        format!("{base}{location}")
    }
}

type Step<T> = Result<T, String>;

fn expect(
    r: reqwest::Result<reqwest::blocking::Response>,
    status: u16,
) -> Step<reqwest::blocking::Response> {
    let r = r.map_err(|e| e.to_string())?;
    if r.status().as_u16() != status {
        return Err(format!("{} (wanted {status})", r.status()));
    }
    Ok(r)
}

fn location(r: &reqwest::blocking::Response) -> Step<String> {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| "no Location".to_string())
}

/// Pushes one blob the way `mode` says.
fn push_blob(
    c: &Client,
    base: &str,
    repo: &str,
    bytes: &[u8],
    mode: u64,
    rng: &mut Rng,
) -> Step<()> {
    let digest = image::sha256(bytes);
    let uploads = format!("{base}/v2/{repo}/blobs/uploads/");
    match mode {
        // As docker does: HEAD first, then one monolithic POST.
        0 => {
            let head = c
                .head(format!("{base}/v2/{repo}/blobs/{digest}"))
                .send()
                .map_err(|e| e.to_string())?;
            if head.status() == 200 {
                return Ok(());
            }
            expect(
                c.post(format!("{uploads}?digest={digest}"))
                    .body(bytes.to_vec())
                    .send(),
                201,
            )?;
        }
        // Chunked: POST, PATCH in 2-4 chunks, closing PUT.
        1 => {
            let mut loc = location(&expect(c.post(&uploads).send(), 202)?)?;
            let chunks = 2 + rng.below(3) as usize;
            let step = bytes.len().div_ceil(chunks).max(1);
            let mut at = 0;
            while at < bytes.len() {
                let end = (at + step).min(bytes.len());
                let r = expect(
                    c.patch(absolute(base, &loc))
                        .header("content-type", "application/octet-stream")
                        .header("content-range", format!("{at}-{}", end - 1))
                        .body(bytes[at..end].to_vec())
                        .send(),
                    202,
                )?;
                loc = location(&r)?;
                at = end;
            }
            expect(c.put(with_digest(base, &loc, &digest)).send(), 201)?;
        }
        // POST, then the whole body in the closing PUT.
        _ => {
            let loc = location(&expect(c.post(&uploads).send(), 202)?)?;
            expect(
                c.put(with_digest(base, &loc, &digest))
                    .header("content-type", "application/octet-stream")
                    .body(bytes.to_vec())
                    .send(),
                201,
            )?;
        }
    }
    Ok(())
}

/// Pushes an image; `Ok` only if the manifest PUT was answered 201.
fn push_image(
    c: &Client,
    base: &str,
    repo: &str,
    tag: &str,
    img: &image::Image,
    rng: &mut Rng,
) -> Step<()> {
    for bytes in img.layers.iter().map(|l| &l.bytes).chain([&img.config]) {
        let mode = rng.below(3);
        push_blob(c, base, repo, bytes, mode, rng)?;
    }
    expect(
        c.put(format!("{base}/v2/{repo}/manifests/{tag}"))
            .header("content-type", image::OCI_MANIFEST)
            .body(img.manifest.clone())
            .send(),
        201,
    )?;
    Ok(())
}

/// Pulls an acknowledged push back: `None` if byte-identical, else what differs.
fn check(c: &Client, base: &str, a: &Acked, blobs: bool) -> Option<String> {
    let get = |path: String| -> Result<Vec<u8>, String> {
        let r = c
            .get(format!("{base}{path}"))
            .header("accept", image::OCI_MANIFEST)
            .send()
            .map_err(|e| e.to_string())?;
        if r.status() != 200 {
            return Err(r.status().to_string());
        }
        r.bytes().map(|b| b.to_vec()).map_err(|e| e.to_string())
    };
    for reference in [&a.tag, &a.manifest_digest] {
        match get(format!("/v2/{}/manifests/{reference}", a.repo)) {
            Ok(body) if body == a.manifest => {}
            Ok(_) => return Some(format!("{}:{reference}: manifest bytes differ", a.repo)),
            Err(e) => return Some(format!("{}:{reference}: manifest: {e}", a.repo)),
        }
    }
    if blobs {
        for (digest, size) in &a.blobs {
            match get(format!("/v2/{}/blobs/{digest}", a.repo)) {
                Ok(b) if b.len() == *size && image::sha256(&b) == *digest => {}
                Ok(b) => {
                    return Some(format!(
                        "{} blob {digest}: {} bytes that do not hash to it",
                        a.repo,
                        b.len()
                    ))
                }
                Err(e) => return Some(format!("{} blob {digest}: {e}", a.repo)),
            }
        }
    }
    None
}

/// `berth fsck` on the stopped server's data dir: the JSON report; panics
/// on damage (exit 2) or failure.
fn fsck(s: &TestServer, deep: bool) -> serde_json::Value {
    let mut cmd = Command::new(berth_bin());
    cmd.arg("fsck")
        .arg("--data-dir")
        .arg(&s.data_dir)
        .arg("--json")
        .env("BERTH_LOG", "warn");
    if deep {
        cmd.arg("--deep");
    }
    let out = cmd.output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(
        out.status.success(),
        "fsck after a crash: exit {:?}\n{report:#}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

#[test]
fn acknowledged_pushes_survive_sigkill_at_random_moments() {
    let iterations = env_u64("BERTH_CRASH_ITERATIONS", 8);
    let budget = Duration::from_secs(env_u64("BERTH_CRASH_SECONDS", 45));
    let seed = env_u64(
        "BERTH_CRASH_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    eprintln!("crash: seed {seed} (BERTH_CRASH_SEED replays it)");
    let mut rng = Rng::new(seed);
    let mut s = start();
    let base = s.url();
    let client = s.client();
    // As many repositories again under a KMS key: their bytes go to the
    // key's domain, and re-pushes across the two kinds store a layer once
    // per domain.
    let key = s
        .kms("us-east-1", "CreateKey", serde_json::json!({}))
        .unwrap();
    for i in 0..REPOS {
        s.ecr(
            "us-east-1",
            "CreateRepository",
            serde_json::json!({"repositoryName": format!("crash/k{i}"),
                "encryptionConfiguration": {"encryptionType": "KMS",
                    "kmsKey": key["KeyMetadata"]["Arn"]}}),
        )
        .unwrap();
    }
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let attempted = Arc::new(AtomicU64::new(0));
    let next_seed = Arc::new(AtomicU64::new(1));
    let mut garbage: BTreeMap<String, u64> = BTreeMap::new();
    let mut lost: Vec<String> = Vec::new();
    let mut verified_upto = 0;
    let started = Instant::now();
    let mut done = 0;

    while done < iterations && started.elapsed() < budget {
        done += 1;
        let stop = Arc::new(AtomicBool::new(false));
        let pushers: Vec<_> = (0..PUSHERS)
            .map(|p| {
                let (stop, acked, attempted, next_seed) = (
                    stop.clone(),
                    acked.clone(),
                    attempted.clone(),
                    next_seed.clone(),
                );
                let (client, base) = (s.client(), base.clone());
                let mut rng = Rng::new(rng.next() ^ p);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        // One push in five re-pushes an earlier image's
                        // content (blobs already stored) to another repository.
                        let fresh = next_seed.fetch_add(1, Ordering::Relaxed);
                        let img_seed = if fresh > 1 && rng.below(5) == 0 {
                            1 + rng.below(fresh - 1)
                        } else {
                            fresh
                        };
                        let mut sizes = Rng::new(img_seed);
                        let img = image::oci_image(
                            img_seed,
                            1 + sizes.below(3) as usize,
                            1,
                            2_000 + sizes.below(300_000) as usize,
                        );
                        let kind = if rng.below(2) == 0 { "r" } else { "k" };
                        let repo = format!("crash/{kind}{}", rng.below(REPOS));
                        let tag = format!("p{p}-{fresh}");
                        attempted.fetch_add(1, Ordering::Relaxed);
                        if push_image(&client, &base, &repo, &tag, &img, &mut rng).is_ok() {
                            acked.lock().unwrap().push(Acked {
                                repo,
                                tag,
                                manifest_digest: img.manifest_digest.clone(),
                                blobs: img
                                    .layers
                                    .iter()
                                    .map(|l| (l.digest.clone(), l.bytes.len()))
                                    .chain([(img.config_digest.clone(), img.config.len())])
                                    .collect(),
                                manifest: img.manifest,
                            });
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100 + rng.below(900)));
        s.kill();
        stop.store(true, Ordering::Relaxed);
        for p in pushers {
            p.join().unwrap();
        }

        // Every tenth check, and the last, re-hashes every stored byte.
        let deep = done % 10 == 0 || done == iterations;
        let report = fsck(&s, deep);
        // Every third stop, garbage collection with no grace sweeps what the
        // kill left (in every key domain): the acknowledged pushes' checks
        // below then show it deleted nothing they need.
        if done % 3 == 0 {
            let out = Command::new(berth_bin())
                .args(["gc", "--offline", "--grace", "0s", "--data-dir"])
                .arg(&s.data_dir)
                .env("BERTH_LOG", "warn")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "gc after a crash: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for p in report["problems"].as_array().unwrap() {
            *garbage
                .entry(p["kind"].as_str().unwrap().to_string())
                .or_default() += 1;
        }

        s.restart();
        let all = acked.lock().unwrap().clone();
        // Manifests of every acknowledged push, every time; blobs of the
        // pushes acknowledged since the last restart, and every tenth time
        // (and at the end) all of them.
        let full = done % 10 == 0 || done == iterations || started.elapsed() >= budget;
        for (i, a) in all.iter().enumerate() {
            if let Some(e) = check(&client, &base, a, full || i >= verified_upto) {
                lost.push(format!("iteration {done}: {e}"));
            }
        }
        verified_upto = all.len();
        eprintln!(
            "crash: iteration {done}: {} pushes acknowledged so far, {} lost; fsck: {} garbage items, no damage",
            all.len(),
            lost.len(),
            report["garbage"]
        );
        assert!(
            lost.is_empty(),
            "acknowledged pushes lost:\n{}",
            lost.join("\n")
        );
    }

    let acked_n = acked.lock().unwrap().len();
    eprintln!(
        "crash: {done} iterations (SIGKILL, fsck, restart) in {:.0} s: {} pushes attempted, {acked_n} acknowledged, {} acknowledged pushes lost; harmless garbage fsck reported, summed over the checks (an item still there is counted again at the next check): {garbage:?}",
        started.elapsed().as_secs_f64(),
        attempted.load(Ordering::Relaxed),
        lost.len()
    );
    assert!(done >= 2, "ran only {done} iterations");
    assert!(acked_n > 0, "no push was ever acknowledged");
}
