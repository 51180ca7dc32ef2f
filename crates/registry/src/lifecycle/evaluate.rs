//! The one decision function: which images of a repository a policy acts
//! on, given a snapshot of the repository and the time. The preview and the
//! scheduled execution both call [`evaluate`]; neither decides anything
//! itself. Pure: the caller passes `now`.
//!
//! ECR's semantics (the ECR user guide's lifecycle-policy parameters and evaluation rules):
//! 1. a rule's *selection* is the images of its storage class whose tags
//!    satisfy its `tagStatus` (and lists);
//! 2. every rule *marks* images of its selection against the same snapshot,
//!    so counts include images another rule will act on;
//! 3. an image is acted on by the first rule, in priority order, whose
//!    selection holds it, and only if that rule marked it. So at most one
//!    rule acts on an image, and a rule that marks nothing still shields
//!    everything it selects from the rules after it.
//!
//! And two that ECR states only in prose: an image that an index of the
//! repository lists *waits for the index* (it is not considered on its own
//! while listed: neither counted, marked nor shielding), and a referrer
//! whose subject is in the repository *follows its subject* (it is acted on
//! exactly when its subject is, by the same rule, and is otherwise not
//! considered). A referrer whose subject is gone is an image like any other.

use super::policy::{ActionKind, CountType, LifecyclePolicy, Rule, StorageClass, TagSelection};
use berth_oci::Digest;
use std::collections::HashMap;

const DAY_MS: i64 = 86_400_000;

/// An image as the policy sees it. Times are Unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSnapshot {
    pub digest: Digest,
    pub tags: Vec<String>,
    pub pushed_at: i64,
    /// The last recorded pull, if any.
    pub last_pulled_at: Option<i64>,
    pub storage_class: StorageClass,
    pub last_archived_at: Option<i64>,
    /// When it was last restored from the archive.
    pub last_activated_at: Option<i64>,
    /// An index in the repository lists it.
    pub in_index: bool,
    pub subject: Option<Digest>,
}

impl ImageSnapshot {
    /// The age `imageCountMoreThan` and `sinceImagePushed` use: the push,
    /// or a later restore from the archive.
    fn pushed_key(&self) -> i64 {
        self.pushed_at
            .max(self.last_activated_at.unwrap_or(i64::MIN))
    }

    /// `sinceImagePulled`: the last pull; never pulled counts from the push,
    /// and restored but not pulled since from the restore.
    fn pulled_key(&self) -> i64 {
        self.pushed_key()
            .max(self.last_pulled_at.unwrap_or(i64::MIN))
    }
}

/// What the policy does to one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// Position of the image in the snapshot.
    pub image: usize,
    pub digest: Digest,
    pub rule_priority: u32,
    pub kind: ActionKind,
}

fn selects(rule: &Rule, image: &ImageSnapshot) -> bool {
    rule.storage_class == image.storage_class
        && match &rule.tags {
            TagSelection::Any => true,
            TagSelection::Untagged => image.tags.is_empty(),
            TagSelection::Tagged(f) => !image.tags.is_empty() && f.matches(&image.tags),
        }
}

/// Whether an age rule marks the image at `now`.
fn older_than(rule: &Rule, image: &ImageSnapshot, now: i64) -> bool {
    let since = match rule.count_type {
        CountType::ImageCountMoreThan => return false,
        CountType::SinceImagePushed => Some(image.pushed_key()),
        CountType::SinceImagePulled => Some(image.pulled_key()),
        // Never archived: never marked.
        CountType::SinceImageTransitioned => image.last_archived_at,
    };
    since.is_some_and(|t| now.saturating_sub(t) > i64::from(rule.count_number) * DAY_MS)
}

/// The actions `policy` takes on `images` at `now` (Unix ms), ordered by
/// rule priority, then oldest push first. Each image appears at most once.
pub fn evaluate(policy: &LifecyclePolicy, images: &[ImageSnapshot], now: i64) -> Vec<Action> {
    let by_digest: HashMap<&Digest, usize> = images
        .iter()
        .enumerate()
        .map(|(i, im)| (&im.digest, i))
        .collect();
    let follows = |im: &ImageSnapshot| {
        im.subject
            .as_ref()
            .is_some_and(|s| by_digest.contains_key(s))
    };
    // Youngest first, once: every count rule's selection keeps this order.
    let mut candidates: Vec<usize> = (0..images.len())
        .filter(|&i| !images[i].in_index && !follows(&images[i]))
        .collect();
    candidates.sort_by(|&a, &b| {
        let (a, b) = (&images[a], &images[b]);
        b.pushed_key()
            .cmp(&a.pushed_key())
            .then_with(|| a.digest.as_str().cmp(b.digest.as_str()))
    });

    // The first rule whose selection holds each image (its owner) decides it.
    let mut owner: Vec<Option<usize>> = vec![None; images.len()];
    let mut acted: Vec<Option<usize>> = vec![None; images.len()];
    for (r, rule) in policy.rules().iter().enumerate() {
        let mut kept = 0u64;
        for &i in &candidates {
            let image = &images[i];
            if !selects(rule, image) {
                continue;
            }
            let marked = match rule.count_type {
                CountType::ImageCountMoreThan => {
                    kept += 1;
                    kept > u64::from(rule.count_number)
                }
                _ => older_than(rule, image, now),
            };
            if owner[i].is_none() {
                owner[i] = Some(r);
                if marked {
                    acted[i] = Some(r);
                }
            }
        }
    }

    // Referrers follow their subject, transitively (a signature of an SBOM).
    let mut followers: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, im) in images.iter().enumerate() {
        if im.in_index {
            continue;
        }
        if let Some(s) = im.subject.as_ref().and_then(|s| by_digest.get(s)) {
            followers.entry(*s).or_default().push(i);
        }
    }
    let mut queue: Vec<usize> = (0..images.len()).filter(|&i| acted[i].is_some()).collect();
    while let Some(i) = queue.pop() {
        for &f in followers.get(&i).map(Vec::as_slice).unwrap_or_default() {
            if acted[f].is_none() {
                acted[f] = acted[i];
                queue.push(f);
            }
        }
    }

    let rules = policy.rules();
    let mut out: Vec<Action> = acted
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.map(|r| Action {
                image: i,
                digest: images[i].digest.clone(),
                rule_priority: rules[r].priority,
                kind: rules[r].action,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        let (ia, ib) = (&images[a.image], &images[b.image]);
        a.rule_priority
            .cmp(&b.rule_priority)
            .then(ia.pushed_at.cmp(&ib.pushed_at))
            .then_with(|| a.digest.as_str().cmp(b.digest.as_str()))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::policy::TagFilter;
    use berth_oci::Algorithm;

    pub(crate) fn image(name: &str, age_days: i64, tags: &[&str], now: i64) -> ImageSnapshot {
        ImageSnapshot {
            digest: Digest::of_bytes(Algorithm::Sha256, name.as_bytes()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at: now - age_days * DAY_MS,
            last_pulled_at: None,
            storage_class: StorageClass::Standard,
            last_archived_at: None,
            last_activated_at: None,
            in_index: false,
            subject: None,
        }
    }

    fn rule(
        priority: u32,
        tags: TagSelection,
        count_type: CountType,
        n: u32,
        action: ActionKind,
    ) -> Rule {
        Rule {
            priority,
            description: None,
            tags,
            storage_class: StorageClass::Standard,
            count_type,
            count_number: n,
            action,
        }
    }

    fn names(actions: &[Action], images: &[(&str, ImageSnapshot)]) -> Vec<(String, u32)> {
        actions
            .iter()
            .map(|a| (images[a.image].0.to_string(), a.rule_priority))
            .collect()
    }

    const NOW: i64 = 1_700_000_000_000;

    /// ECR's first worked example: five images remain despite "more than 3".
    #[test]
    fn worked_example_1_shielding_and_shared_marks() {
        let imgs = [
            ("A", image("A", 40, &["release-1.0"], NOW)),
            ("B", image("B", 30, &["dev-a"], NOW)),
            ("C", image("C", 25, &[], NOW)),
            ("D", image("D", 20, &["release-1.1"], NOW)),
            ("E", image("E", 10, &["dev-b"], NOW)),
            ("F", image("F", 5, &["dev-c"], NOW)),
            ("G", image("G", 2, &[], NOW)),
        ];
        let snapshot: Vec<ImageSnapshot> = imgs.iter().map(|(_, i)| i.clone()).collect();
        let policy = LifecyclePolicy::from_rules(vec![
            rule(
                1,
                TagSelection::Untagged,
                CountType::SinceImagePushed,
                7,
                ActionKind::Expire,
            ),
            rule(
                10,
                TagSelection::Tagged(TagFilter::Prefixes(vec!["release".into()])),
                CountType::ImageCountMoreThan,
                9999,
                ActionKind::Expire,
            ),
            rule(
                20,
                TagSelection::Any,
                CountType::ImageCountMoreThan,
                3,
                ActionKind::Expire,
            ),
        ])
        .unwrap();
        let actions = evaluate(&policy, &snapshot, NOW);
        assert_eq!(
            names(&actions, &imgs),
            [("C".to_string(), 1), ("B".to_string(), 20)]
        );
        assert!(actions.iter().all(|a| a.kind == ActionKind::Expire));
    }

    /// ECR's second worked example: archive after 30 days without a pull,
    /// delete 90 days after archiving; a restore resets the clock.
    #[test]
    fn worked_example_2_archive_then_expire() {
        let policy = LifecyclePolicy::from_rules(vec![
            rule(
                1,
                TagSelection::Any,
                CountType::SinceImagePulled,
                30,
                ActionKind::Transition,
            ),
            Rule {
                storage_class: StorageClass::Archive,
                ..rule(
                    2,
                    TagSelection::Any,
                    CountType::SinceImageTransitioned,
                    90,
                    ActionKind::Expire,
                )
            },
        ])
        .unwrap();
        // Pushed 100 days ago, last pulled 45 days ago: archived.
        let mut img = image("X", 100, &["v1"], NOW);
        img.last_pulled_at = Some(NOW - 45 * DAY_MS);
        let a = evaluate(&policy, std::slice::from_ref(&img), NOW);
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].rule_priority, a[0].kind), (1, ActionKind::Transition));
        // Pulled 10 days ago: kept.
        img.last_pulled_at = Some(NOW - 10 * DAY_MS);
        assert!(evaluate(&policy, std::slice::from_ref(&img), NOW).is_empty());
        // Archived 91 days ago: expired by rule 2 (rule 1 does not select
        // archived images).
        img.storage_class = StorageClass::Archive;
        img.last_archived_at = Some(NOW - 91 * DAY_MS);
        let a = evaluate(&policy, std::slice::from_ref(&img), NOW);
        assert_eq!((a[0].rule_priority, a[0].kind), (2, ActionKind::Expire));
        // Archived 60 days ago: not yet.
        img.last_archived_at = Some(NOW - 60 * DAY_MS);
        assert!(evaluate(&policy, std::slice::from_ref(&img), NOW).is_empty());
        // Restored 5 days ago, not pulled since: the restore counts as the
        // last pull, so it is not archived again yet.
        img.storage_class = StorageClass::Standard;
        img.last_pulled_at = Some(NOW - 200 * DAY_MS);
        img.last_activated_at = Some(NOW - 5 * DAY_MS);
        assert!(evaluate(&policy, std::slice::from_ref(&img), NOW).is_empty());
    }

    #[test]
    fn keep_last_ten_of_twelve_expires_the_two_oldest() {
        let snapshot: Vec<ImageSnapshot> = (0..12)
            .map(|i| image(&format!("i{i}"), 12 - i, &[&format!("v{i}")], NOW))
            .collect();
        let policy = LifecyclePolicy::from_rules(vec![rule(
            1,
            TagSelection::Any,
            CountType::ImageCountMoreThan,
            10,
            ActionKind::Expire,
        )])
        .unwrap();
        let a = evaluate(&policy, &snapshot, NOW);
        let got: Vec<usize> = a.iter().map(|a| a.image).collect();
        assert_eq!(got, [0, 1], "oldest first");
    }

    #[test]
    fn index_children_wait_and_referrers_follow_their_subject() {
        let mut index = image("index", 50, &[], NOW);
        let mut child = image("child", 60, &[], NOW);
        child.in_index = true;
        let mut sig = image("sig", 1, &[], NOW);
        sig.subject = Some(index.digest.clone());
        let mut sig_of_sig = image("sigsig", 1, &[], NOW);
        sig_of_sig.subject = Some(sig.digest.clone());
        let mut orphan = image("orphan", 40, &[], NOW);
        orphan.subject = Some(Digest::of_bytes(Algorithm::Sha256, b"gone"));
        index.tags = vec![];
        let snapshot = vec![index, child, sig, sig_of_sig, orphan];
        let policy = LifecyclePolicy::from_rules(vec![rule(
            1,
            TagSelection::Untagged,
            CountType::SinceImagePushed,
            30,
            ActionKind::Expire,
        )])
        .unwrap();
        let a = evaluate(&policy, &snapshot, NOW);
        let mut got: Vec<usize> = a.iter().map(|a| a.image).collect();
        got.sort();
        // The index, both referrers (young, but following), the orphaned
        // referrer on its own age; never the listed child.
        assert_eq!(got, [0, 2, 3, 4]);
        assert!(a.iter().all(|a| a.rule_priority == 1));
        // Not counted either: keeping 2 keeps the index and the orphan; the
        // listed child and the followers take no place.
        let keep1 = LifecyclePolicy::from_rules(vec![rule(
            1,
            TagSelection::Any,
            CountType::ImageCountMoreThan,
            2,
            ActionKind::Expire,
        )])
        .unwrap();
        let a = evaluate(&keep1, &snapshot, NOW);
        let got: Vec<usize> = a.iter().map(|a| a.image).collect();
        assert!(got.is_empty(), "{got:?}");
    }
}
