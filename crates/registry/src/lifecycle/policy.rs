//! A lifecycle policy document: parsed and validated as ECR validates it
//! (the ECR user guide's lifecycle-policy parameters), so that a document ECR refuses is
//! refused here too, with a message that names the rule and the field.
//! Pure: no I/O, no clock.

use serde_json::{Map, Value};
use std::fmt;

/// ECR's limits on a lifecycle policy (the model's `lifecyclePolicyText`
/// length, and the quota on rules).
pub const MIN_TEXT_CHARS: usize = 100;
pub const MAX_TEXT_CHARS: usize = 30_720;
pub const MAX_RULES: usize = 50;
/// `*` per entry of a `tagPatternList`.
pub const MAX_WILDCARDS: usize = 4;
/// An archived image is kept at least this long (the archive minimum):
/// `sinceImageTransitioned` rules may not expire earlier.
pub const ARCHIVE_MIN_DAYS: u32 = 90;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageClass {
    Standard,
    Archive,
}

impl StorageClass {
    /// As the API spells it (`STANDARD`, `ARCHIVE`).
    pub fn api_name(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::Archive => "ARCHIVE",
        }
    }
}

/// Which images a rule selects by their tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagSelection {
    /// Images with tags, of which every entry of the filter matches one.
    Tagged(TagFilter),
    Untagged,
    Any,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagFilter {
    Prefixes(Vec<String>),
    /// Patterns where `*` matches any run of characters.
    Patterns(Vec<String>),
}

impl TagFilter {
    fn entries(&self) -> &[String] {
        match self {
            TagFilter::Prefixes(v) | TagFilter::Patterns(v) => v,
        }
    }

    /// Every entry must match some tag (not one tag matching all entries):
    /// `["v2*", "*-rc*"]` selects `[v2.1-rc1]` and `[v2.1, 1.0-rc3]`.
    pub fn matches(&self, tags: &[String]) -> bool {
        match self {
            TagFilter::Prefixes(ps) => ps
                .iter()
                .all(|p| tags.iter().any(|t| t.starts_with(p.as_str()))),
            TagFilter::Patterns(ps) => ps.iter().all(|p| tags.iter().any(|t| glob(p, t))),
        }
    }
}

/// `*` matches any run (possibly empty); everything else matches itself.
/// Allocation-free: it runs for every tag of every selected image.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    // Each part between two `*` matches at its first occurrence (leftmost
    // is never worse); the part after the last `*` must end the text.
    let mut pending: Option<&str> = None;
    for part in parts {
        if let Some(middle) = pending {
            match rest.find(middle) {
                Some(at) => rest = &rest[at + middle.len()..],
                None => return false,
            }
        }
        pending = Some(part);
    }
    match pending {
        // No `*`: the whole text must be the pattern.
        None => rest.is_empty(),
        Some(last) => rest.ends_with(last),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountType {
    ImageCountMoreThan,
    SinceImagePushed,
    SinceImagePulled,
    SinceImageTransitioned,
}

impl CountType {
    fn name(self) -> &'static str {
        match self {
            CountType::ImageCountMoreThan => "imageCountMoreThan",
            CountType::SinceImagePushed => "sinceImagePushed",
            CountType::SinceImagePulled => "sinceImagePulled",
            CountType::SinceImageTransitioned => "sinceImageTransitioned",
        }
    }

    fn is_age(self) -> bool {
        self != CountType::ImageCountMoreThan
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    Expire,
    /// To the archive storage class.
    Transition,
}

impl ActionKind {
    /// As the API spells it (`EXPIRE`, `TRANSITION`).
    pub fn api_name(self) -> &'static str {
        match self {
            ActionKind::Expire => "EXPIRE",
            ActionKind::Transition => "TRANSITION",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub priority: u32,
    pub description: Option<String>,
    pub tags: TagSelection,
    /// The storage class of the images the rule looks at.
    pub storage_class: StorageClass,
    pub count_type: CountType,
    /// Images to keep (`imageCountMoreThan`) or days.
    pub count_number: u32,
    pub action: ActionKind,
}

/// A validated policy; its rules in priority order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecyclePolicy {
    rules: Vec<Rule>,
}

/// Why a document is not a valid policy: the part after ECR's
/// "Lifecycle policy validation failure: ".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: {}'",
            self.0
        )
    }
}

fn fail<T>(msg: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError(msg.into()))
}

impl LifecyclePolicy {
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Parses and validates a policy document as ECR does.
    pub fn parse(text: &str) -> Result<LifecyclePolicy, PolicyError> {
        let chars = text.chars().count();
        if !(MIN_TEXT_CHARS..=MAX_TEXT_CHARS).contains(&chars) {
            // The model's length constraint, worded as ECR words it.
            return Err(PolicyError(format!(
                "the policy text has {chars} characters; it must have between {MIN_TEXT_CHARS} and {MAX_TEXT_CHARS}"
            )));
        }
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            PolicyError(format!(
                "Could not map policyString into LifecyclePolicy ({e})."
            ))
        })?;
        let Value::Object(doc) = doc else {
            return fail("Could not map policyString into LifecyclePolicy (the document is not a JSON object).");
        };
        only(&doc, &["rules"], "the document")?;
        let Some(rules) = doc.get("rules") else {
            return fail("object has missing required properties ([\"rules\"])");
        };
        let Value::Array(rules) = rules else {
            return fail("'rules' must be an array of rules");
        };
        let rules = rules
            .iter()
            .enumerate()
            .map(|(i, r)| parse_rule(i, r))
            .collect::<Result<Vec<_>, _>>()?;
        LifecyclePolicy::from_rules(rules)
    }

    /// A policy from rules built in code; the same checks as [`parse`](Self::parse)
    /// apart from the JSON shape.
    pub fn from_rules(mut rules: Vec<Rule>) -> Result<LifecyclePolicy, PolicyError> {
        if rules.is_empty() {
            return fail("'rules' must have at least 1 rule");
        }
        if rules.len() > MAX_RULES {
            return fail(format!(
                "'rules' has {} rules; a policy may have at most {MAX_RULES}",
                rules.len()
            ));
        }
        for r in &rules {
            check_rule(r)?;
        }
        rules.sort_by_key(|r| r.priority);
        for pair in rules.windows(2) {
            if pair[0].priority == pair[1].priority {
                return fail(format!(
                    "two rules have rulePriority {}; each rule needs a unique rulePriority",
                    pair[0].priority
                ));
            }
        }
        for class in [StorageClass::Standard, StorageClass::Archive] {
            let of_class: Vec<&Rule> = rules.iter().filter(|r| r.storage_class == class).collect();
            // An `any` rule selects everything, so no rule after it could
            // ever act: ECR insists it comes last.
            if let Some((last, before)) = of_class.split_last() {
                if let Some(any) = before.iter().find(|r| r.tags == TagSelection::Any) {
                    return fail(format!(
                        "rule with rulePriority {}: a rule with 'selection.tagStatus' any must have the highest rulePriority of its storage class, but rule {} comes after it",
                        any.priority, last.priority
                    ));
                }
            }
            let untagged: Vec<u32> = of_class
                .iter()
                .filter(|r| r.tags == TagSelection::Untagged)
                .map(|r| r.priority)
                .collect();
            if untagged.len() > 1 {
                return fail(format!(
                    "rules with rulePriority {} and {} both select untagged images; only one rule may",
                    untagged[0], untagged[1]
                ));
            }
            let mut seen: Vec<(Vec<&String>, bool, u32)> = Vec::new();
            for r in &of_class {
                if let TagSelection::Tagged(f) = &r.tags {
                    let mut set: Vec<&String> = f.entries().iter().collect();
                    set.sort();
                    set.dedup();
                    let patterns = matches!(f, TagFilter::Patterns(_));
                    if let Some((_, _, p)) = seen
                        .iter()
                        .find(|(s, pat, _)| *s == set && *pat == patterns)
                    {
                        return fail(format!(
                            "rules with rulePriority {p} and {} select the same tag {}; each rule needs its own set",
                            r.priority,
                            if patterns { "patterns" } else { "prefixes" }
                        ));
                    }
                    seen.push((set, patterns, r.priority));
                }
            }
        }
        Ok(LifecyclePolicy { rules })
    }
}

/// Refuses members the schema does not have.
fn only(obj: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), PolicyError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => fail(format!(
            "{what}: object instance has properties which are not allowed by the schema: ([\"{k}\"])"
        )),
        None => Ok(()),
    }
}

fn parse_rule(index: usize, v: &Value) -> Result<Rule, PolicyError> {
    let Value::Object(rule) = v else {
        return fail(format!("rules[{index}] is not an object"));
    };
    let priority = match rule.get("rulePriority") {
        None => {
            return fail(format!(
                "rules[{index}]: object has missing required properties ([\"rulePriority\"])"
            ))
        }
        Some(p) => match p.as_u64() {
            Some(n) if (1..=i32::MAX as u64).contains(&n) => n as u32,
            _ => {
                return fail(format!(
                    "rules[{index}]: 'rulePriority' must be an integer of at least 1, not {p}"
                ))
            }
        },
    };
    let at = format!("rule with rulePriority {priority}");
    only(
        rule,
        &["rulePriority", "description", "selection", "action"],
        &at,
    )?;
    let description = match rule.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return fail(format!("{at}: 'description' must be a string")),
    };
    let missing: Vec<&str> = ["selection", "action"]
        .into_iter()
        .filter(|k| !rule.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return fail(format!(
            "{at}: object has missing required properties ({})",
            serde_json::to_string(&missing).unwrap_or_default()
        ));
    }
    let Value::Object(sel) = &rule["selection"] else {
        return fail(format!("{at}: 'selection' must be an object"));
    };
    let Value::Object(action) = &rule["action"] else {
        return fail(format!("{at}: 'action' must be an object"));
    };
    only(
        sel,
        &[
            "tagStatus",
            "tagPrefixList",
            "tagPatternList",
            "storageClass",
            "countType",
            "countUnit",
            "countNumber",
        ],
        &format!("{at}, 'selection'"),
    )?;
    only(
        action,
        &["type", "targetStorageClass"],
        &format!("{at}, 'action'"),
    )?;
    let missing: Vec<&str> = ["tagStatus", "countType", "countNumber"]
        .into_iter()
        .filter(|k| !sel.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return fail(format!(
            "{at}: 'selection': object has missing required properties ({})",
            serde_json::to_string(&missing).unwrap_or_default()
        ));
    }

    let list = |key: &str| -> Result<Option<Vec<String>>, PolicyError> {
        match sel.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    _ => fail(format!("{at}: 'selection.{key}' must be a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => fail(format!("{at}: 'selection.{key}' must be a list of strings")),
        }
    };
    let prefixes = list("tagPrefixList")?;
    let patterns = list("tagPatternList")?;
    let tags = match enum_value(sel, "tagStatus", &["tagged", "untagged", "any"], &at)? {
        "tagged" => match (prefixes, patterns) {
            (Some(p), None) => TagSelection::Tagged(TagFilter::Prefixes(p)),
            (None, Some(p)) => TagSelection::Tagged(TagFilter::Patterns(p)),
            (None, None) => {
                return fail(format!(
                    "{at}: 'selection.tagStatus' tagged needs 'selection.tagPrefixList' or 'selection.tagPatternList'"
                ))
            }
            (Some(_), Some(_)) => {
                return fail(format!(
                    "{at}: 'selection' may have 'tagPrefixList' or 'tagPatternList', not both"
                ))
            }
        },
        status => {
            if prefixes.is_some() || patterns.is_some() {
                return fail(format!(
                    "{at}: 'selection.tagStatus' {status} takes neither 'tagPrefixList' nor 'tagPatternList'"
                ));
            }
            if status == "untagged" {
                TagSelection::Untagged
            } else {
                TagSelection::Any
            }
        }
    };
    let storage_class = match sel.get("storageClass") {
        None => StorageClass::Standard,
        Some(_) => match enum_value(sel, "storageClass", &["standard", "archive"], &at)? {
            "archive" => StorageClass::Archive,
            _ => StorageClass::Standard,
        },
    };
    let count_type = match enum_value(
        sel,
        "countType",
        &[
            "imageCountMoreThan",
            "sinceImagePushed",
            "sinceImagePulled",
            "sinceImageTransitioned",
        ],
        &at,
    )? {
        "imageCountMoreThan" => CountType::ImageCountMoreThan,
        "sinceImagePushed" => CountType::SinceImagePushed,
        "sinceImagePulled" => CountType::SinceImagePulled,
        _ => CountType::SinceImageTransitioned,
    };
    match (count_type.is_age(), sel.get("countUnit")) {
        (true, None) => {
            return fail(format!(
                "{at}: 'selection.countUnit' is required with 'selection.countType' {}",
                count_type.name()
            ))
        }
        (true, Some(_)) => {
            enum_value(sel, "countUnit", &["days"], &at)?;
        }
        (false, Some(_)) => {
            return fail(format!(
                "{at}: 'selection.countUnit' is not allowed with 'selection.countType' imageCountMoreThan"
            ))
        }
        (false, None) => {}
    }
    let count_number = match sel["countNumber"].as_u64() {
        Some(n) if (1..=i32::MAX as u64).contains(&n) => n as u32,
        _ => {
            return fail(format!(
                "{at}: 'selection.countNumber' must be an integer of at least 1, not {}",
                sel["countNumber"]
            ))
        }
    };
    if !action.contains_key("type") {
        return fail(format!(
            "{at}: 'action': object has missing required properties ([\"type\"])"
        ));
    }
    let kind = match enum_value(
        action,
        "type",
        &["expire", "transition"],
        &format!("{at}, 'action'"),
    )? {
        "transition" => ActionKind::Transition,
        _ => ActionKind::Expire,
    };
    match (kind, action.get("targetStorageClass")) {
        (ActionKind::Transition, None) => {
            return fail(format!(
                "{at}: 'action.type' transition needs 'action.targetStorageClass' archive"
            ))
        }
        (ActionKind::Transition, Some(_)) => {
            enum_value(
                action,
                "targetStorageClass",
                &["archive"],
                &format!("{at}, 'action'"),
            )?;
        }
        (ActionKind::Expire, Some(_)) => {
            return fail(format!(
                "{at}: 'action.targetStorageClass' is only allowed with 'action.type' transition"
            ))
        }
        (ActionKind::Expire, None) => {}
    }
    Ok(Rule {
        priority,
        description,
        tags,
        storage_class,
        count_type,
        count_number,
        action: kind,
    })
}

/// The member's value, which must be one of `allowed`.
fn enum_value<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    allowed: &[&str],
    at: &str,
) -> Result<&'a str, PolicyError> {
    match obj.get(key).and_then(Value::as_str) {
        Some(v) if allowed.contains(&v) => Ok(v),
        _ => fail(format!(
            "{at}: '{key}': instance value ({}) not found in enum (possible values: {})",
            obj.get(key).map(Value::to_string).unwrap_or_default(),
            serde_json::to_string(allowed).unwrap_or_default()
        )),
    }
}

/// The checks of one rule that do not depend on the JSON shape.
fn check_rule(r: &Rule) -> Result<(), PolicyError> {
    let at = format!("rule with rulePriority {}", r.priority);
    if r.priority == 0 {
        return fail(format!("{at}: 'rulePriority' must be at least 1"));
    }
    if r.count_number == 0 {
        return fail(format!("{at}: 'selection.countNumber' must be at least 1"));
    }
    if let TagSelection::Tagged(f) = &r.tags {
        let (key, entries) = match f {
            TagFilter::Prefixes(p) => ("tagPrefixList", p),
            TagFilter::Patterns(p) => ("tagPatternList", p),
        };
        if entries.is_empty() {
            return fail(format!(
                "{at}: 'selection.{key}' must have at least 1 entry"
            ));
        }
        for e in entries {
            if e.is_empty() {
                return fail(format!("{at}: 'selection.{key}' has an empty entry"));
            }
            if matches!(f, TagFilter::Patterns(_)) && e.matches('*').count() > MAX_WILDCARDS {
                return fail(format!(
                    "{at}: 'selection.tagPatternList' entry '{e}' has more than {MAX_WILDCARDS} wildcards (*)"
                ));
            }
        }
    }
    match r.count_type {
        CountType::SinceImageTransitioned => {
            if r.storage_class != StorageClass::Archive {
                return fail(format!(
                    "{at}: 'selection.countType' sinceImageTransitioned needs 'selection.storageClass' archive"
                ));
            }
            if r.action != ActionKind::Expire {
                return fail(format!(
                    "{at}: 'selection.countType' sinceImageTransitioned allows only 'action.type' expire"
                ));
            }
            if r.count_number < ARCHIVE_MIN_DAYS {
                return fail(format!(
                    "{at}: 'selection.countNumber' must be at least {ARCHIVE_MIN_DAYS} with sinceImageTransitioned (archived images are kept at least {ARCHIVE_MIN_DAYS} days)"
                ));
            }
        }
        other => {
            if r.storage_class != StorageClass::Standard {
                return fail(format!(
                    "{at}: 'selection.storageClass' archive is only allowed with 'selection.countType' sinceImageTransitioned, not {}",
                    other.name()
                ));
            }
            if other == CountType::SinceImagePulled && r.action != ActionKind::Transition {
                return fail(format!(
                    "{at}: 'selection.countType' sinceImagePulled allows only 'action.type' transition"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(rules: Value) -> String {
        // Padded past the 100-character minimum with a description.
        let mut d = json!({ "rules": rules });
        if let Some(rules) = d["rules"].as_array_mut() {
            for r in rules {
                if r.get("description").is_none() && r.is_object() {
                    r["description"] = json!("x".repeat(60));
                }
            }
        }
        d.to_string()
    }

    fn err(rules: Value) -> String {
        LifecyclePolicy::parse(&doc(rules)).unwrap_err().0
    }

    fn rule(p: u32, selection: Value) -> Value {
        json!({"rulePriority": p, "selection": selection, "action": {"type": "expire"}})
    }

    #[test]
    fn globs_match_runs() {
        assert!(glob("prod*", "prod"));
        assert!(glob("prod*", "prod-1"));
        assert!(!glob("prod*", "xprod"));
        assert!(glob("*-rc*", "v2.1-rc1"));
        assert!(glob("*test*1*2*3", "mytest-1-2-3"));
        assert!(!glob("*test*1*2*3", "mytest-1-2-3x"));
        assert!(glob("a*a", "aa"));
        assert!(!glob("a*a", "a"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(glob("*", ""));
    }

    #[test]
    fn every_entry_must_match_some_tag() {
        let f = TagFilter::Patterns(vec!["v2*".into(), "*-rc*".into()]);
        let t = |tags: &[&str]| tags.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(f.matches(&t(&["v2.1-rc1"])));
        assert!(f.matches(&t(&["v2.1", "1.0-rc3"])));
        assert!(!f.matches(&t(&["v3.0-rc1"])));
        assert!(!f.matches(&[]));
    }

    #[test]
    fn the_guides_examples_parse() {
        let p = LifecyclePolicy::parse(&doc(json!([
            {"rulePriority": 20, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3}, "action": {"type": "expire"}},
            {"rulePriority": 1, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7}, "action": {"type": "expire"}},
            {"rulePriority": 10, "selection": {"tagStatus": "tagged", "tagPrefixList": ["release"], "countType": "imageCountMoreThan", "countNumber": 9999}, "action": {"type": "expire"}},
        ])))
        .unwrap();
        let order: Vec<u32> = p.rules().iter().map(|r| r.priority).collect();
        assert_eq!(order, [1, 10, 20]);
        LifecyclePolicy::parse(&doc(json!([
            {"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 30}, "action": {"type": "transition", "targetStorageClass": "archive"}},
            {"rulePriority": 2, "selection": {"tagStatus": "any", "storageClass": "archive", "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 90}, "action": {"type": "expire"}},
        ])))
        .unwrap();
    }

    #[test]
    fn invalid_documents_name_the_rule_and_field() {
        let full = LifecyclePolicy::parse("{\"rules\": 1}")
            .unwrap_err()
            .to_string();
        assert!(full.starts_with("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: "), "{full}");
        assert!(LifecyclePolicy::parse(&"x".repeat(120))
            .unwrap_err()
            .0
            .contains("Could not map"));
        let cases: Vec<(Value, &str)> = vec![
            (json!([rule(1, json!({"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 0}))]), "rulePriority 1: 'selection.countNumber'"),
            (json!([rule(1, json!({"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1}))]), "needs 'selection.tagPrefixList'"),
            (json!([rule(1, json!({"tagStatus": "untagged", "tagPrefixList": ["a"], "countType": "imageCountMoreThan", "countNumber": 1}))]), "untagged takes neither"),
            (json!([rule(1, json!({"tagStatus": "tagged", "tagPatternList": ["a*b*c*d*e*"], "countType": "imageCountMoreThan", "countNumber": 1}))]), "more than 4 wildcards"),
            (json!([rule(1, json!({"tagStatus": "any", "countType": "sinceImagePushed", "countNumber": 1}))]), "'selection.countUnit' is required"),
            (json!([rule(1, json!({"tagStatus": "any", "countType": "imageCountMoreThan", "countUnit": "days", "countNumber": 1}))]), "'selection.countUnit' is not allowed"),
            (json!([rule(1, json!({"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "hours", "countNumber": 1}))]), "'countUnit': instance value (\"hours\")"),
            (json!([rule(1, json!({"tagStatus": "some", "countType": "imageCountMoreThan", "countNumber": 1}))]), "'tagStatus': instance value"),
            (json!([rule(2, json!({"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1})), rule(3, json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}))]), "rule with rulePriority 2: a rule with 'selection.tagStatus' any must have the highest"),
            (json!([rule(2, json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1})), rule(2, json!({"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}))]), "two rules have rulePriority 2"),
            (json!([rule(1, json!({"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1})), rule(2, json!({"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1}))]), "both select untagged"),
            (json!([rule(1, json!({"tagStatus": "tagged", "tagPrefixList": ["a", "b"], "countType": "imageCountMoreThan", "countNumber": 1})), rule(2, json!({"tagStatus": "tagged", "tagPrefixList": ["b", "a"], "countType": "imageCountMoreThan", "countNumber": 5}))]), "select the same tag prefixes"),
            (json!([rule(1, json!({"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 1}))]), "sinceImagePulled allows only 'action.type' transition"),
            (json!([rule(1, json!({"tagStatus": "any", "storageClass": "archive", "countType": "sinceImageTransitioned", "countUnit": "days", "countNumber": 30}))]), "at least 90"),
            (json!([rule(1, json!({"tagStatus": "any", "storageClass": "archive", "countType": "imageCountMoreThan", "countNumber": 30}))]), "archive is only allowed"),
            (json!([{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "transition"}}]), "needs 'action.targetStorageClass'"),
            (json!([{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}, "extra": 1}]), "not allowed by the schema: ([\"extra\"])"),
            (json!([{"selection": {}, "action": {}}]), "rules[0]: object has missing required properties ([\"rulePriority\"])"),
            (json!([{"rulePriority": 4, "action": {"type": "expire"}}]), "rule with rulePriority 4: object has missing required properties ([\"selection\"])"),
        ];
        for (rules, want) in cases {
            let got = err(rules.clone());
            assert!(got.contains(want), "{rules}: {got}");
        }
        let empty = format!("{{\"rules\": []{}}}", " ".repeat(100));
        assert!(LifecyclePolicy::parse(&empty)
            .unwrap_err()
            .0
            .contains("at least 1 rule"));
        let many: Vec<Value> = (1..=51)
            .map(|p| rule(p, json!({"tagStatus": "tagged", "tagPrefixList": [format!("t{p}")], "countType": "imageCountMoreThan", "countNumber": 1})))
            .collect();
        assert!(err(Value::Array(many)).contains("at most 50"));
    }
}
