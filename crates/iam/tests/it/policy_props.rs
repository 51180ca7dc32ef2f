//! Properties of evaluation over generated policy sets: a matching Deny
//! always denies, and taking an Allow away never allows.

use berth_iam::policy::{
    evaluate, keys, Decision, IdentityPolicy, Policies, Policy, PolicyKind, Principal, Request,
};
use proptest::prelude::*;
use serde_json::{json, Value};

const ME: &str = "111122223333";
const OTHER: &str = "444455556666";

const ACTIONS: [&str; 6] = [
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:DeleteRepository",
    "ecr:GetAuthorizationToken",
    "ecr:ListImages",
    "ecr:CreateRepository",
];
const ACTION_PATTERNS: [&str; 8] = [
    "*",
    "ecr:*",
    "ecr:PutImage",
    "ecr:Get*",
    "ecr:Batch*",
    "ecr:?utImage",
    "ECR:listimages",
    "s3:*",
];
const RESOURCES: [&str; 3] = [
    "*",
    "arn:aws:ecr:us-east-1:111122223333:repository/app",
    "arn:aws:ecr:us-east-1:111122223333:repository/team/web",
];
const RESOURCE_PATTERNS: [&str; 5] = [
    "*",
    "arn:aws:ecr:us-east-1:111122223333:repository/*",
    "arn:aws:ecr:us-east-1:111122223333:repository/app",
    "arn:aws:ecr:*:*:repository/team/*",
    "arn:aws:ecr:us-east-1:111122223333:repository/${aws:username}",
];
const PRINCIPALS: [&str; 5] = [
    "*",
    "arn:aws:iam::111122223333:user/alice",
    "111122223333",
    "arn:aws:iam::444455556666:root",
    "arn:aws:iam::444455556666:user/bob",
];

#[derive(Debug, Clone)]
struct Stmt {
    allow: bool,
    not_action: bool,
    actions: Vec<usize>,
    not_resource: bool,
    resources: Vec<usize>,
    not_principal: bool,
    principals: Vec<usize>,
    condition: Option<usize>,
}

fn stmt() -> impl Strategy<Value = Stmt> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        prop::collection::vec(0..ACTION_PATTERNS.len(), 1..3),
        prop::bool::weighted(0.15),
        prop::collection::vec(0..RESOURCE_PATTERNS.len(), 1..3),
        prop::bool::weighted(0.1),
        prop::collection::vec(0..PRINCIPALS.len(), 1..3),
        prop::option::weighted(0.3, 0..4usize),
    )
        .prop_map(
            |(
                allow,
                not_action,
                actions,
                not_resource,
                resources,
                not_principal,
                principals,
                condition,
            )| Stmt {
                allow,
                not_action,
                actions,
                not_resource,
                resources,
                not_principal,
                principals,
                condition,
            },
        )
}

fn condition(i: usize) -> Value {
    match i {
        0 => json!({"StringEquals": {"aws:username": "alice"}}),
        1 => json!({"Bool": {"aws:SecureTransport": "true"}}),
        2 => json!({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        _ => json!({"ForAllValues:StringLike": {"aws:TagKeys": "team*"}}),
    }
}

fn to_json(s: &Stmt, kind: PolicyKind) -> Value {
    let mut v = json!({"Effect": if s.allow { "Allow" } else { "Deny" }});
    let actions: Vec<&str> = s.actions.iter().map(|&i| ACTION_PATTERNS[i]).collect();
    v[if s.not_action { "NotAction" } else { "Action" }] = json!(actions);
    let resources: Vec<&str> = s.resources.iter().map(|&i| RESOURCE_PATTERNS[i]).collect();
    v[if s.not_resource {
        "NotResource"
    } else {
        "Resource"
    }] = json!(resources);
    if kind == PolicyKind::Resource {
        let principals: Vec<&str> = s.principals.iter().map(|&i| PRINCIPALS[i]).collect();
        v[if s.not_principal {
            "NotPrincipal"
        } else {
            "Principal"
        }] = json!({"AWS": principals});
    }
    if let Some(c) = s.condition {
        v["Condition"] = condition(c);
    }
    v
}

fn policy(statements: &[Value], kind: PolicyKind) -> Option<Policy> {
    if statements.is_empty() {
        return None;
    }
    let text = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    Some(Policy::parse(&text, kind).expect("generated policies are valid"))
}

#[derive(Debug, Clone)]
struct World {
    identity: Vec<Vec<Value>>,
    repository: Vec<Value>,
    registry: Vec<Value>,
    caller: usize,
    action: usize,
    resource: usize,
    secure: bool,
    source_ip: &'static str,
    tag_keys: Vec<&'static str>,
}

fn world() -> impl Strategy<Value = World> {
    let ident = prop::collection::vec(
        prop::collection::vec(stmt().prop_map(|s| to_json(&s, PolicyKind::Identity)), 1..4),
        0..3,
    );
    let res =
        || prop::collection::vec(stmt().prop_map(|s| to_json(&s, PolicyKind::Resource)), 0..3);
    (
        ident,
        res(),
        res(),
        0..4usize,
        0..ACTIONS.len(),
        0..RESOURCES.len(),
        any::<bool>(),
        prop::sample::select(vec!["10.1.2.3", "192.0.2.1"]),
        prop::sample::subsequence(vec!["team", "env", "team-a"], 0..3),
    )
        .prop_map(
            |(
                identity,
                repository,
                registry,
                caller,
                action,
                resource,
                secure,
                source_ip,
                tag_keys,
            )| World {
                identity,
                repository,
                registry,
                caller,
                action,
                resource,
                secure,
                source_ip,
                tag_keys,
            },
        )
}

fn decide(w: &World) -> Decision {
    let identity: Vec<Policy> = w
        .identity
        .iter()
        .filter_map(|s| policy(s, PolicyKind::Identity))
        .collect();
    let names: Vec<String> = (0..identity.len()).map(|i| format!("p{i}")).collect();
    let attached: Vec<IdentityPolicy> = identity
        .iter()
        .zip(&names)
        .map(|(policy, name)| IdentityPolicy { name, policy })
        .collect();
    let repository = policy(&w.repository, PolicyKind::Resource);
    let registry = policy(&w.registry, PolicyKind::Resource);
    let caller = match w.caller {
        0 => Principal::user(ME, "alice"),
        1 => Principal::user(ME, "admin"),
        2 => Principal::user(OTHER, "bob"),
        _ => Principal::user(OTHER, "admin"),
    };
    let request = Request::new(caller, ACTIONS[w.action], RESOURCES[w.resource])
        .with_context(keys::SECURE_TRANSPORT, w.secure.to_string())
        .with_context(keys::SOURCE_IP, w.source_ip)
        .with_context_values(keys::TAG_KEYS, w.tag_keys.iter().copied());
    evaluate(
        &request,
        &Policies {
            session: None,
            identity: &attached,
            repository: repository.as_ref(),
            registry: registry.as_ref(),
            resource_account: ME,
        },
    )
}

/// A Deny that matches this world's request whatever else holds.
fn matching_deny(w: &World, kind: PolicyKind) -> Value {
    let mut v = json!({
        "Sid": "Added",
        "Effect": "Deny",
        "Action": ACTIONS[w.action],
        "Resource": RESOURCES[w.resource],
    });
    if kind == PolicyKind::Resource {
        v["Principal"] = json!("*");
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_matching_deny_added_to_any_policy_always_denies(w in world(), target in 0..4usize, at in any::<prop::sample::Index>()) {
        let mut w = w;
        let kind = if target < 2 { PolicyKind::Resource } else { PolicyKind::Identity };
        let deny = matching_deny(&w, kind);
        let list = match target {
            0 => &mut w.repository,
            1 => &mut w.registry,
            _ if w.identity.is_empty() => { w.identity.push(Vec::new()); &mut w.identity[0] }
            _ => { let i = at.index(w.identity.len()); &mut w.identity[i] }
        };
        let pos = at.index(list.len() + 1);
        list.insert(pos, deny);
        let decision = decide(&w);
        prop_assert!(matches!(decision, Decision::ExplicitDeny { .. }), "{decision:?}");
    }

    #[test]
    fn removing_an_allow_never_turns_a_deny_into_an_allow(w in world(), pick in any::<prop::sample::Index>()) {
        prop_assume!(!decide(&w).is_allowed());
        // Every Allow statement, wherever it sits.
        let mut places = Vec::new();
        for (p, list) in w.identity.iter().enumerate() {
            for (i, s) in list.iter().enumerate() {
                if s["Effect"] == "Allow" { places.push((0, p, i)); }
            }
        }
        for (which, list) in [(1, &w.repository), (2, &w.registry)] {
            for (i, s) in list.iter().enumerate() {
                if s["Effect"] == "Allow" { places.push((which, 0, i)); }
            }
        }
        prop_assume!(!places.is_empty());
        let (which, p, i) = places[pick.index(places.len())];
        let mut smaller = w.clone();
        match which {
            0 => { smaller.identity[p].remove(i); }
            1 => { smaller.repository.remove(i); }
            _ => { smaller.registry.remove(i); }
        }
        prop_assert!(!decide(&smaller).is_allowed());
    }
}
