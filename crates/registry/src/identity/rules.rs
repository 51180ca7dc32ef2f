//! The rules of names, paths and policy documents that every part of
//! identity applies, and the errors they answer with. A leaf: it knows no
//! store and no other identity module, so they can all use it.

use crate::{Error, Result};
use berth_iam::policy::{ActionElement, Policy};
use berth_store::RegistryKey;
use std::sync::Arc;

/// Account ids are 12 digits, as on AWS (and as host names and ARNs expect).
pub fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// IAM's user-name rule: 1 to 64 of letters, digits and `+=,.@_-`.
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// IAM's path rule: `/`, or `/` + printable ASCII + `/`, at most 512.
pub fn valid_path(path: &str) -> bool {
    path == "/"
        || ((3..=512).contains(&path.len())
            && path.starts_with('/')
            && path.ends_with('/')
            && path.bytes().all(|b| (0x21..=0x7e).contains(&b)))
}

/// IAM's policy-name rule: 1 to 128 of letters, digits and `+=,.@_-`.
pub fn valid_policy_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

pub(crate) fn check_policy_name(name: &str) -> Result<()> {
    if valid_policy_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "1 validation error detected: Value '{name}' at 'policyName' failed to satisfy constraint: Member must be 1 to 128 letters, digits or any of +=,.@_-"
        )))
    }
}

pub(crate) fn no_such_user(name: &str) -> Error {
    no_such_entity(berth_store::HolderKind::User, name)
}

/// `user`, `role` or `group`, as ARNs and messages spell it.
pub(crate) fn kind_word(kind: berth_store::HolderKind) -> &'static str {
    match kind {
        berth_store::HolderKind::User => "user",
        berth_store::HolderKind::Role => "role",
        berth_store::HolderKind::Group => "group",
    }
}

/// `The role with name node cannot be found.`
pub(crate) fn no_such_entity(kind: berth_store::HolderKind, name: &str) -> Error {
    Error::NoSuchEntity(format!(
        "The {} with name {name} cannot be found.",
        kind_word(kind)
    ))
}

/// AWS's size limit of a policy document, in characters other than
/// whitespace (IAM does not count whitespace). AWS limits a user's inline
/// policies to 2,048 together; berth applies 6,144 to each for now.
pub const MAX_IAM_POLICY_CHARS: usize = 6144;

/// Which kind of policy a document is for (the limits and, once the policy
/// library lands, the grammar differ: a resource policy needs principals).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    Inline,
    Managed,
}

/// The one check of an identity policy document: the size limit, then the
/// IAM policy language (`berth_iam::policy`), whose message says what and
/// where the problem is.
pub fn validate_policy_document(text: &str, _kind: PolicyKind) -> Result<()> {
    let counted = text.chars().filter(|c| !c.is_whitespace()).count();
    if counted > MAX_IAM_POLICY_CHARS {
        return Err(Error::LimitExceeded(format!(
            "Cannot exceed quota for PolicySize: {MAX_IAM_POLICY_CHARS}"
        )));
    }
    berth_iam::policy::Policy::parse(text, berth_iam::policy::PolicyKind::Identity)
        .map(|_| ())
        .map_err(|e| Error::MalformedPolicyDocument(e.to_string()))
}

/// ECR's limit on repository and registry policy text.
pub const MAX_POLICY_CHARS: usize = 10_240;

/// What a registry policy may grant under `REGISTRY_POLICY_SCOPE` V1:
/// replication and pull-through cache only. (V2, the default, takes any
/// ECR action and is evaluated on every request.)
pub(crate) const V1_REGISTRY_ACTIONS: [&str; 3] = [
    "ecr:ReplicateImage",
    "ecr:BatchImportUpstreamImage",
    "ecr:CreateRepository",
];

/// ECR's refusal of a registry policy that names other actions under V1.
pub(crate) fn check_v1_actions(p: &Policy) -> Result<()> {
    let ok = p.statements.iter().all(|s| match &s.action {
        ActionElement::Action(actions) => actions.iter().all(|a| {
            V1_REGISTRY_ACTIONS
                .iter()
                .any(|v| v.eq_ignore_ascii_case(a.as_str()))
        }),
        ActionElement::NotAction(_) => false,
    });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParameter(format!(
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid registry policy provided': with REGISTRY_POLICY_SCOPE V1 a registry policy may only name the actions {}; set REGISTRY_POLICY_SCOPE to V2 to grant others",
            V1_REGISTRY_ACTIONS.join(", ")
        )))
    }
}

/// A policy read back from the store; it was validated before it was
/// stored, so a failure here is damage, not bad input.
pub(crate) fn parse_stored(text: &str, kind: berth_iam::policy::PolicyKind) -> Result<Arc<Policy>> {
    Policy::parse(text, kind).map(Arc::new).map_err(|e| {
        Error::Store(berth_store::StoreError::Corrupt(format!(
            "a stored {kind:?} policy no longer parses: {e}"
        )))
    })
}

/// The ARN `action` is checked against: the repository's, or `*` for
/// actions on no repository.
pub fn resource_arn(registry: &RegistryKey, repository: Option<&str>) -> String {
    match repository {
        // ECR Public's ARNs have no region.
        Some(name) if registry.region == crate::PUBLIC_REGION => format!(
            "arn:aws:ecr-public::{}:repository/{name}",
            registry.account_id
        ),
        Some(name) => format!(
            "arn:aws:ecr:{}:{}:repository/{name}",
            registry.region, registry.account_id
        ),
        None => "*".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_must_be_objects_with_a_statement() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}"#;
        validate_policy_document(ok, PolicyKind::Inline).unwrap();
        for bad in [
            "not json",
            "[1]",
            r#"{"Version":"2012-10-17"}"#,
            r#"{"Statement":"x"}"#,
        ] {
            assert!(
                matches!(
                    validate_policy_document(bad, PolicyKind::Managed),
                    Err(Error::MalformedPolicyDocument(_))
                ),
                "{bad}"
            );
        }
        // Whitespace does not count towards the limit.
        let padded = format!("{}{ok}", " ".repeat(MAX_IAM_POLICY_CHARS));
        validate_policy_document(&padded, PolicyKind::Inline).unwrap();
        let big = format!(
            r#"{{"Statement":[],"x":"{}"}}"#,
            "a".repeat(MAX_IAM_POLICY_CHARS)
        );
        assert!(matches!(
            validate_policy_document(&big, PolicyKind::Inline),
            Err(Error::LimitExceeded(_))
        ));
    }

    #[test]
    fn paths_and_names_follow_iam_rules() {
        assert!(valid_path("/") && valid_path("/a/b/"));
        assert!(!valid_path("a/") && !valid_path("/a") && !valid_path("//x y/"));
        assert!(valid_policy_name("ecr-pull_1"));
        assert!(!valid_policy_name("") && !valid_policy_name("a b"));
    }
}
