//! Lifecycle policy documents; an accepted one is evaluated over a small
//! repository and must act on each image at most once.
#![no_main]
use berth_oci::{Algorithm, Digest};
use berth_registry::lifecycle::{evaluate, ImageSnapshot, LifecyclePolicy, StorageClass};
use libfuzzer_sys::fuzz_target;

const DAY: i64 = 86_400_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = LifecyclePolicy::parse(text) else {
        return;
    };
    let tags = [&["v1", "prod-1"][..], &[], &["v2-rc1"], &["latest", "v3"], &[]];
    let images: Vec<ImageSnapshot> = tags
        .iter()
        .enumerate()
        .map(|(i, t)| ImageSnapshot {
            digest: Digest::of_bytes(Algorithm::Sha256, &[i as u8]),
            tags: t.iter().map(|s| s.to_string()).collect(),
            pushed_at: i as i64 * 40 * DAY,
            last_pulled_at: (i % 2 == 0).then_some(i as i64 * 50 * DAY),
            storage_class: if i == 4 { StorageClass::Archive } else { StorageClass::Standard },
            last_archived_at: (i == 4).then_some(10 * DAY),
            last_activated_at: None,
            in_index: false,
            subject: None,
        })
        .collect();
    let actions = evaluate(&policy, &images, 400 * DAY);
    let mut seen = std::collections::HashSet::new();
    for a in &actions {
        assert!(seen.insert(a.image), "image {} acted on twice", a.image);
    }
});
