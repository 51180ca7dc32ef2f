//! How long the lifecycle decision function takes over a repository of
//! 100,000 images (ECR's per-repository quota), with a five-rule policy of
//! every selection kind. Pure evaluation: no store, no I/O.
//!
//! `cargo run --release -p berth-registry --example lifecycle_scale`

use berth_oci::{Algorithm, Digest};
use berth_registry::lifecycle::{evaluate, ImageSnapshot, LifecyclePolicy, StorageClass};
use std::time::Instant;

const DAY: i64 = 86_400_000;
const IMAGES: usize = 100_000;

fn main() {
    let now = 1_700_000_000_000i64;
    let images: Vec<ImageSnapshot> = (0..IMAGES)
        .map(|i| {
            // Roughly: a tenth untagged, the rest with one to three tags of
            // release, dev and feature streams; ages up to a year.
            let tags = match i % 10 {
                0 => vec![],
                1..=3 => vec![format!("release-{i}"), format!("v{}.{}", i / 100, i % 100)],
                4..=6 => vec![format!("dev-{i}")],
                _ => vec![
                    format!("feature-{i}-rc{}", i % 7),
                    format!("sha-{i:08x}"),
                    format!("build-{i}"),
                ],
            };
            ImageSnapshot {
                digest: Digest::of_bytes(Algorithm::Sha256, &(i as u64).to_le_bytes()),
                tags,
                pushed_at: now - ((i as i64 * 7919) % 365) * DAY - i as i64,
                last_pulled_at: (i % 3 == 0).then(|| now - ((i as i64 * 31) % 90) * DAY),
                storage_class: StorageClass::Standard,
                last_archived_at: None,
                last_activated_at: None,
                in_index: i % 50 == 1,
                subject: None,
            }
        })
        .collect();
    let policy = LifecyclePolicy::parse(
        r#"{"rules":[
          {"rulePriority":1,"description":"untagged after a week","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},
          {"rulePriority":2,"description":"keep releases","selection":{"tagStatus":"tagged","tagPrefixList":["release"],"countType":"imageCountMoreThan","countNumber":9999},"action":{"type":"expire"}},
          {"rulePriority":3,"description":"release candidates","selection":{"tagStatus":"tagged","tagPatternList":["feature-*-rc*","sha-*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}},
          {"rulePriority":4,"description":"archive dev images nobody pulls","selection":{"tagStatus":"tagged","tagPatternList":["dev-*"],"countType":"sinceImagePulled","countUnit":"days","countNumber":60},"action":{"type":"transition","targetStorageClass":"archive"}},
          {"rulePriority":5,"description":"keep the newest 5000","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5000},"action":{"type":"expire"}}
        ]}"#,
    )
    .expect("a valid policy");
    // Once to warm up, then the best of five.
    let mut actions = evaluate(&policy, &images, now);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        actions = evaluate(&policy, &images, now);
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "evaluated {IMAGES} images against {} rules in {:.1} ms (best of 5): {} actions",
        policy.rules().len(),
        best * 1000.0,
        actions.len()
    );
}
