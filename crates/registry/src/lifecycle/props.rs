//! Property tests of the decision function over random repositories (tags,
//! push and pull times, indexes, referrers) and random valid policies.

use super::*;
use berth_oci::Algorithm;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet};

const DAY: i64 = 86_400_000;
const NOW: i64 = 1_700_000_000_000;
const TAGS: &[&str] = &[
    "v1",
    "v2",
    "v2.1-rc1",
    "release-1",
    "release-2",
    "dev-a",
    "dev-b",
    "latest",
    "prod",
];
const ENTRIES: &[&str] = &[
    "v", "v2", "release", "dev", "prod", "*-rc*", "v*", "*a", "l*t",
];

#[derive(Clone, Debug)]
struct Img {
    tags: Vec<usize>,
    age: i64,
    pulled: Option<i64>,
    in_index: bool,
    /// Another image's position, or a subject not in the repository.
    subject: Option<Option<usize>>,
}

fn images() -> impl Strategy<Value = Vec<ImageSnapshot>> {
    let img = (
        proptest::collection::vec(0..TAGS.len(), 0..3),
        0i64..120,
        proptest::option::of(0i64..120),
        proptest::bool::weighted(0.1),
        proptest::option::weighted(0.15, proptest::option::weighted(0.8, 0usize..40)),
    )
        .prop_map(|(tags, age, pulled, in_index, subject)| Img {
            tags,
            age,
            pulled,
            in_index,
            subject,
        });
    proptest::collection::vec(img, 0..40).prop_map(|imgs| {
        let n = imgs.len();
        let mut used = HashSet::new();
        imgs.iter()
            .enumerate()
            .map(|(i, g)| {
                // A tag names one image: the first to claim it keeps it.
                let mut tags: Vec<String> = g
                    .tags
                    .iter()
                    .filter(|t| used.insert(**t))
                    .map(|t| TAGS[*t].to_string())
                    .collect();
                tags.sort();
                ImageSnapshot {
                    digest: Digest::of_bytes(Algorithm::Sha256, &(i as u64).to_le_bytes()),
                    tags,
                    pushed_at: NOW - g.age * DAY - i as i64,
                    last_pulled_at: g.pulled.filter(|p| *p <= g.age).map(|p| NOW - p * DAY),
                    storage_class: StorageClass::Standard,
                    last_archived_at: None,
                    last_activated_at: None,
                    in_index: g.in_index,
                    subject: g.subject.map(|s| match s {
                        Some(j) if j % n.max(1) != i => Digest::of_bytes(
                            Algorithm::Sha256,
                            &((j % n.max(1)) as u64).to_le_bytes(),
                        ),
                        _ => Digest::of_bytes(Algorithm::Sha256, b"not in the repository"),
                    }),
                }
            })
            .collect()
    })
}

fn rule() -> impl Strategy<Value = Rule> {
    let tags = prop_oneof![
        Just(TagSelection::Any),
        Just(TagSelection::Untagged),
        proptest::collection::vec(0..5usize, 1..3).prop_map(|e| TagSelection::Tagged(
            TagFilter::Prefixes(e.iter().map(|i| ENTRIES[*i].to_string()).collect())
        )),
        proptest::collection::vec(0..ENTRIES.len(), 1..3).prop_map(|e| TagSelection::Tagged(
            TagFilter::Patterns(e.iter().map(|i| ENTRIES[*i].to_string()).collect())
        )),
    ];
    let count = prop_oneof![
        (1u32..12).prop_map(|n| (CountType::ImageCountMoreThan, n, ActionKind::Expire)),
        (1u32..12).prop_map(|n| (CountType::ImageCountMoreThan, n, ActionKind::Transition)),
        (1u32..100).prop_map(|n| (CountType::SinceImagePushed, n, ActionKind::Expire)),
        (1u32..100).prop_map(|n| (CountType::SinceImagePulled, n, ActionKind::Transition)),
    ];
    (tags, count, 1u32..5).prop_map(|(tags, (count_type, count_number, action), gap)| Rule {
        priority: gap,
        description: None,
        tags,
        storage_class: StorageClass::Standard,
        count_type,
        count_number,
        action,
    })
}

fn policy() -> impl Strategy<Value = LifecyclePolicy> {
    proptest::collection::vec(rule(), 1..6).prop_filter_map("invalid policy", |mut rules| {
        // Priorities ascend by the generated gaps; only the last may be
        // `any`, and one rule at most selects untagged images.
        let mut p = 0;
        let last = rules.len() - 1;
        let mut untagged = false;
        for (i, r) in rules.iter_mut().enumerate() {
            p += r.priority;
            r.priority = p;
            let fallback = TagSelection::Tagged(TagFilter::Prefixes(vec![format!("t{i}")]));
            if r.tags == TagSelection::Any && i != last {
                r.tags = fallback;
            } else if r.tags == TagSelection::Untagged {
                if untagged {
                    r.tags = fallback;
                }
                untagged = true;
            }
        }
        LifecyclePolicy::from_rules(rules).ok()
    })
}

/// ECR's algorithm as the documentation states it, step by step, with no
/// shortcut: every rule marks against the same snapshot; rules apply in
/// priority order; a marked image is acted on only if no earlier rule
/// acted on it and no higher-priority rule selects it.
fn reference(
    policy: &LifecyclePolicy,
    images: &[ImageSnapshot],
    now: i64,
) -> HashMap<usize, (u32, ActionKind)> {
    let present: HashSet<&Digest> = images.iter().map(|i| &i.digest).collect();
    let follower = |i: &ImageSnapshot| i.subject.as_ref().is_some_and(|s| present.contains(s));
    let considered: Vec<usize> = (0..images.len())
        .filter(|&i| !images[i].in_index && !follower(&images[i]))
        .collect();
    let selection = |r: &Rule| -> Vec<usize> {
        considered
            .iter()
            .copied()
            .filter(|&i| {
                let im = &images[i];
                match &r.tags {
                    TagSelection::Any => true,
                    TagSelection::Untagged => im.tags.is_empty(),
                    TagSelection::Tagged(f) => !im.tags.is_empty() && f.matches(&im.tags),
                }
            })
            .collect()
    };
    let marks = |r: &Rule| -> HashSet<usize> {
        let mut sel = selection(r);
        match r.count_type {
            CountType::ImageCountMoreThan => {
                sel.sort_by(|&a, &b| {
                    images[b]
                        .pushed_at
                        .cmp(&images[a].pushed_at)
                        .then_with(|| images[a].digest.as_str().cmp(images[b].digest.as_str()))
                });
                sel.into_iter().skip(r.count_number as usize).collect()
            }
            CountType::SinceImagePushed => sel
                .into_iter()
                .filter(|&i| now - images[i].pushed_at > r.count_number as i64 * DAY)
                .collect(),
            CountType::SinceImagePulled => sel
                .into_iter()
                .filter(|&i| {
                    let t = images[i].last_pulled_at.unwrap_or(images[i].pushed_at);
                    now - t > r.count_number as i64 * DAY
                })
                .collect(),
            CountType::SinceImageTransitioned => HashSet::new(),
        }
    };
    let mut acted: HashMap<usize, (u32, ActionKind)> = HashMap::new();
    let rules = policy.rules();
    for (k, r) in rules.iter().enumerate() {
        let higher: HashSet<usize> = rules[..k].iter().flat_map(selection).collect();
        for i in marks(r) {
            if !acted.contains_key(&i) && !higher.contains(&i) {
                acted.insert(i, (r.priority, r.action));
            }
        }
    }
    // Followers take their subject's action, transitively.
    loop {
        let mut grew = false;
        for (i, im) in images.iter().enumerate() {
            if im.in_index || acted.contains_key(&i) {
                continue;
            }
            let subject = im
                .subject
                .as_ref()
                .and_then(|s| images.iter().position(|x| &x.digest == s));
            if let Some(a) = subject.and_then(|s| acted.get(&s).copied()) {
                acted.insert(i, a);
                grew = true;
            }
        }
        if !grew {
            return acted;
        }
    }
}

fn expired(actions: &[Action]) -> BTreeSet<usize> {
    actions
        .iter()
        .filter(|a| a.kind == ActionKind::Expire)
        .map(|a| a.image)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn evaluation_is_the_documented_algorithm(images in images(), policy in policy()) {
        let got: HashMap<usize, (u32, ActionKind)> = evaluate(&policy, &images, NOW)
            .into_iter()
            .map(|a| (a.image, (a.rule_priority, a.kind)))
            .collect();
        prop_assert_eq!(got, reference(&policy, &images, NOW));
    }

    #[test]
    fn each_image_is_acted_on_by_at_most_one_rule(images in images(), policy in policy()) {
        let actions = evaluate(&policy, &images, NOW);
        let distinct: HashSet<&Digest> = actions.iter().map(|a| &a.digest).collect();
        prop_assert_eq!(distinct.len(), actions.len());
    }

    #[test]
    fn nothing_unselected_is_expired(images in images(), policy in policy()) {
        let present: HashSet<&Digest> = images.iter().map(|i| &i.digest).collect();
        let by_digest: HashMap<&Digest, usize> =
            images.iter().enumerate().map(|(i, im)| (&im.digest, i)).collect();
        let actions = evaluate(&policy, &images, NOW);
        let acted: HashMap<usize, u32> = actions.iter().map(|a| (a.image, a.rule_priority)).collect();
        for a in &actions {
            let im = &images[a.image];
            prop_assert!(!im.in_index, "an image an index lists is never acted on");
            let rule = policy.rules().iter().find(|r| r.priority == a.rule_priority).unwrap();
            prop_assert_eq!(rule.action, a.kind);
            match im.subject.as_ref().filter(|s| present.contains(s)) {
                // A referrer: only with its subject, by the same rule.
                Some(s) => prop_assert_eq!(acted.get(&by_digest[s]), Some(&a.rule_priority)),
                None => {
                    let selects = |r: &Rule| match &r.tags {
                        TagSelection::Any => true,
                        TagSelection::Untagged => im.tags.is_empty(),
                        TagSelection::Tagged(f) => !im.tags.is_empty() && f.matches(&im.tags),
                    };
                    prop_assert!(selects(rule), "the acting rule selects the image");
                    let first = policy.rules().iter().find(|r| selects(r)).unwrap();
                    prop_assert_eq!(first.priority, rule.priority, "no earlier rule selects it");
                }
            }
        }
    }

    #[test]
    fn preview_equals_execution(images in images(), policy in policy()) {
        let preview: BTreeSet<Digest> = preview_results(&policy, &images, NOW)
            .into_iter()
            .filter(|r| r.action == ActionKind::Expire)
            .map(|r| r.digest)
            .collect();
        let actions = evaluate(&policy, &images, NOW);
        let executed: BTreeSet<Digest> = expiry_plan(&actions, &images)
            .into_iter()
            .map(|(e, _)| e.digest)
            .collect();
        prop_assert_eq!(preview, executed);
    }

    #[test]
    fn raising_a_count_number_never_expires_more(
        images in images(),
        policy in policy(),
        which in 0usize..6,
        raise in 1u32..30,
    ) {
        let before = expired(&evaluate(&policy, &images, NOW));
        let mut rules = policy.rules().to_vec();
        let k = which % rules.len();
        rules[k].count_number += raise;
        let raised = LifecyclePolicy::from_rules(rules).unwrap();
        let after = expired(&evaluate(&raised, &images, NOW));
        prop_assert!(after.is_subset(&before), "{:?} not within {:?}", after, before);
    }
}
