//! Many clients at once against one server: the same blobs and tags pushed
//! together; deletes racing pulls; lifecycle expiry and garbage collection
//! running through a push storm. Every request ends (the clients' 120 s
//! timeout is the hang detector), nothing answers 5xx, and every push that
//! was acknowledged and not deliberately removed reads back byte for byte.

use crate::common::*;
use reqwest::blocking::Response;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

fn manifest(api: &Api, repo: &str, reference: &str) -> Response {
    api.client
        .get(api.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("accept", image::OCI_MANIFEST)
        .send()
        .unwrap()
}

/// Pulls `img` from `repo:reference`: `Ok(true)` when every byte matched,
/// `Ok(false)` on a clean 404 (the image was deleted meanwhile).
fn pull(api: &Api, repo: &str, reference: &str, img: &image::Image) -> Result<bool, String> {
    let r = manifest(api, repo, reference);
    match r.status().as_u16() {
        404 => return Ok(false),
        200 => {}
        s => return Err(format!("manifest: {s} {}", r.text().unwrap_or_default())),
    }
    if r.bytes().unwrap() != img.manifest {
        return Err("manifest bytes differ".into());
    }
    for (digest, bytes) in img
        .layers
        .iter()
        .map(|l| (&l.digest, &l.bytes))
        .chain([(&img.config_digest, &img.config)])
    {
        let r = api.get(&format!("/v2/{repo}/blobs/{digest}"));
        match r.status().as_u16() {
            404 => return Ok(false),
            200 => {}
            s => return Err(format!("blob {digest}: {s}")),
        }
        if r.bytes().unwrap() != bytes[..] {
            return Err(format!("blob {digest} bytes differ"));
        }
    }
    Ok(true)
}

#[test]
fn the_same_blobs_and_tags_pushed_by_many_clients_at_once_end_consistent() {
    let s = start();
    let img = Arc::new(image::oci_image(1, 3, 2, 100_000));
    let others: Vec<image::Image> = (0..16)
        .map(|i| image::oci_image(100 + i, 1, 1, 1000))
        .collect();
    let others = Arc::new(others);
    let clients: Vec<_> = (0..16)
        .map(|i| {
            let (img, others) = (img.clone(), others.clone());
            let api = Api::new(&s);
            thread::spawn(move || {
                // Everyone pushes the same image under the same tag...
                api.push_image("storm/same", &img, "latest");
                // ...and a different image under one shared tag.
                api.push_image("storm/race", &others[i], "current");
                i
            })
        })
        .collect();
    for c in clients {
        c.join().expect("a pushing client failed");
    }
    let api = Api::new(&s);
    assert_eq!(pull(&api, "storm/same", "latest", &img), Ok(true));
    // The shared tag names exactly one of the pushed images, whole.
    let current = manifest(&api, "storm/race", "current").bytes().unwrap();
    let winner = others
        .iter()
        .find(|o| o.manifest == current)
        .expect("the tag names one of the pushed images");
    assert_eq!(pull(&api, "storm/race", "current", winner), Ok(true));
    for o in others.iter() {
        assert_eq!(pull(&api, "storm/race", &o.manifest_digest, o), Ok(true));
    }
    // The blobs were stored once each, whatever the number of pushers: the
    // blob store holds exactly the distinct blobs pushed.
    let metrics = api.get("/metrics").text().unwrap();
    let blobs: f64 = metrics
        .lines()
        .find(|l| l.starts_with("berth_blobs ") || l.starts_with("blobs "))
        .and_then(|l| l.split_whitespace().last())
        .expect("a blob count in /metrics")
        .parse()
        .unwrap();
    assert_eq!(blobs as usize, 3 + 1 + 16 * 2, "blobs stored");
}

#[test]
fn deletes_racing_pulls_give_whole_images_or_clean_404s() {
    let s = start();
    let img = Arc::new(image::oci_image(2, 2, 2, 200_000));
    let api = Api::new(&s);
    api.push_image("race/app", &img, "v1");
    let stop = Arc::new(AtomicBool::new(false));
    let (whole, gone) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let pullers: Vec<_> = (0..6)
        .map(|_| {
            let (img, stop, whole, gone) = (img.clone(), stop.clone(), whole.clone(), gone.clone());
            let api = Api::new(&s);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match pull(&api, "race/app", "v1", &img) {
                        Ok(true) => whole.fetch_add(1, Ordering::Relaxed),
                        Ok(false) => gone.fetch_add(1, Ordering::Relaxed),
                        Err(e) => panic!("a pull saw a broken image: {e}"),
                    };
                }
            })
        })
        .collect();
    // Delete the image (manifest, then its blobs' links) and push it back, again and again.
    for _ in 0..30 {
        let r = api
            .client
            .delete(api.url(&format!("/v2/race/app/manifests/{}", img.manifest_digest)))
            .send()
            .unwrap();
        assert_eq!(r.status(), 202);
        for l in &img.layers {
            let r = api
                .client
                .delete(api.url(&format!("/v2/race/app/blobs/{}", l.digest)))
                .send()
                .unwrap();
            assert!(r.status() == 202 || r.status() == 404, "{}", r.status());
        }
        api.push_image("race/app", &img, "v1");
    }
    stop.store(true, Ordering::Relaxed);
    for p in pullers {
        p.join().expect("a puller failed");
    }
    assert!(whole.load(Ordering::Relaxed) > 0);
    assert_eq!(pull(&api, "race/app", "v1", &img), Ok(true));
    eprintln!(
        "pulls: {} whole, {} clean 404s",
        whole.load(Ordering::Relaxed),
        gone.load(Ordering::Relaxed)
    );
}

#[test]
fn lifecycle_expiry_and_garbage_collection_run_through_a_push_storm() {
    let s = start_with(&["--lifecycle-interval", "0s"]);
    s.ecr(
        "us-east-1",
        "CreateRepository",
        json!({"repositoryName": "storm/kept"}),
    )
    .unwrap();
    s.ecr(
        "us-east-1",
        "CreateRepository",
        json!({"repositoryName": "storm/expiring"}),
    )
    .unwrap();
    // storm/expiring keeps its 3 newest images; storm/kept has no policy.
    let policy = r#"{"rules":[{"rulePriority":1,"description":"keep the three newest","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":3},"action":{"type":"expire"}}]}"#;
    s.ecr(
        "us-east-1",
        "PutLifecyclePolicy",
        json!({"repositoryName": "storm/expiring", "lifecyclePolicyText": policy}),
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Lifecycle and GC runs completed so far: the storm lasts until at
    // least two ran beside it, however fast the stores take the pushes.
    let admin_runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let pushers: Vec<_> = (0..4u64)
        .map(|p| {
            let api = Api::new(&s);
            let admin_runs = admin_runs.clone();
            thread::spawn(move || {
                let mut kept = Vec::new();
                for i in 0..400u64 {
                    if i >= 40 && admin_runs.load(Ordering::Relaxed) >= 2 {
                        break;
                    }
                    let img = image::oci_image(1000 + p * 100 + i, 1, 1, 5_000);
                    api.push_image("storm/kept", &img, &format!("p{p}-{i}"));
                    api.push_image("storm/expiring", &img, &format!("p{p}-{i}"));
                    kept.push(img);
                }
                kept
            })
        })
        .collect();
    // Meanwhile: lifecycle runs and garbage collections, back to back.
    let admin = {
        let stop = stop.clone();
        let url = s.url();
        let env = s.aws_env("us-east-1");
        let admin_runs = admin_runs.clone();
        thread::spawn(move || {
            let mut runs = 0;
            while !stop.load(Ordering::Relaxed) {
                berth_cli(&env, &["admin", "--endpoint", &url, "lifecycle", "run"]);
                berth_cli(&env, &["gc", "--endpoint", &url]);
                runs += 1;
                admin_runs.store(runs, Ordering::Relaxed);
            }
            runs
        })
    };
    let pushed: Vec<image::Image> = pushers
        .into_iter()
        .flat_map(|p| p.join().expect("a pusher failed"))
        .collect();
    stop.store(true, Ordering::Relaxed);
    let runs = admin.join().expect("the lifecycle/gc loop failed");
    assert!(runs >= 2, "{runs}");

    // Nothing pushed to the repository without a policy was lost.
    let api = Api::new(&s);
    for img in &pushed {
        assert_eq!(
            pull(&api, "storm/kept", &img.manifest_digest, img),
            Ok(true),
            "an acknowledged push to storm/kept was lost"
        );
    }
    // The expiring repository, after one more run, holds exactly its three
    // newest images, whole; what remains of the others is gone cleanly.
    berth_cli(
        &s.aws_env("us-east-1"),
        &["admin", "--endpoint", &s.url(), "lifecycle", "run"],
    );
    let left = s
        .ecr(
            "us-east-1",
            "DescribeImages",
            json!({"repositoryName": "storm/expiring"}),
        )
        .unwrap();
    let left = left["imageDetails"].as_array().unwrap();
    assert_eq!(left.len(), 3, "{left:?}");
    for d in left {
        let digest = d["imageDigest"].as_str().unwrap();
        let img = pushed.iter().find(|i| i.manifest_digest == digest).unwrap();
        assert_eq!(pull(&api, "storm/expiring", digest, img), Ok(true));
    }
    eprintln!(
        "{} pushes, {runs} lifecycle+gc rounds during them",
        pushed.len() * 2
    );
}
