//! Policy documents: JSON text → a checked `Policy`, refused the way IAM
//! refuses a malformed one, with a message that names the statement and the
//! element at fault. The caller turns `PolicyError` into IAM's
//! `MalformedPolicyDocument` or ECR's `InvalidParameterException`, and owns
//! size limits.

use super::condition::{self, Condition, ConditionProblem};
use super::pattern::{glob_tokens, Template, Tok};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Identity policies are attached to a user and name no principal;
/// resource policies (repository, registry) are attached to a resource and
/// must say whom they speak of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Identity,
    Resource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2012_10_17,
    V2008_10_17,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2012_10_17 => "2012-10-17",
            Version::V2008_10_17 => "2008-10-17",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub kind: PolicyKind,
    pub version: Option<Version>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// Always `None` in identity policies, always `Some` in resource ones.
    pub principal: Option<PrincipalElement>,
    pub action: ActionElement,
    /// `None` only in resource policies, where it means the resource the
    /// policy is attached to (ECR's repository policies carry no Resource).
    pub resource: Option<ResourceElement>,
    /// ANDed.
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalElement {
    Principal(Principals),
    NotPrincipal(Principals),
}

/// The principals one `Principal` element names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principals {
    /// `"Principal": "*"`.
    pub everyone: bool,
    pub aws: Vec<AwsPrincipal>,
    /// Kept so that a policy naming a service round-trips; no berth caller
    /// is a service, so these never match.
    pub service: Vec<String>,
    pub federated: Vec<String>,
    pub canonical_user: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsPrincipal {
    /// `{"AWS": "*"}`.
    Any,
    /// `arn:aws:iam::<id>:root` or the bare 12-digit id.
    Account(String),
    /// Any other IAM or STS ARN (users, roles), compared whole.
    Arn { account: String, arn: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionElement {
    Action(Vec<ActionPattern>),
    NotAction(Vec<ActionPattern>),
}

/// `service:Action` with `*`/`?`, matched ignoring case as AWS does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPattern {
    raw: String,
    pub(crate) tokens: Vec<Tok>,
}

impl ActionPattern {
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceElement {
    Resource(Vec<ResourcePattern>),
    NotResource(Vec<ResourcePattern>),
}

/// An ARN pattern with `*`/`?` and, in 2012-10-17 policies, variables.
/// Matched case-sensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePattern {
    pub(crate) template: Template,
    /// Precomputed when there are no variables: the common case on every
    /// request.
    pub(crate) tokens: Option<Vec<Tok>>,
}

impl ResourcePattern {
    pub fn as_str(&self) -> &str {
        self.template.raw()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the policy is not valid JSON: {0}")]
    Json(String),
    #[error("{at} must be {expected}")]
    Type { at: String, expected: &'static str },
    #[error("unknown element '{name}' in {at}{hint}")]
    UnknownElement {
        at: String,
        name: String,
        hint: String,
    },
    #[error("Version must be \"2012-10-17\" or \"2008-10-17\", not {0}")]
    Version(String),
    #[error("the policy has no Statement")]
    MissingStatement,
    #[error("{at}.Effect must be \"Allow\" or \"Deny\"")]
    Effect { at: String },
    #[error("{at} has no Effect")]
    MissingEffect { at: String },
    #[error("{at} has both {first} and {second}")]
    Both {
        at: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("{at} has neither {first} nor {second}")]
    Neither {
        at: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("{at} has {element}, which an identity-based policy must not have")]
    PrincipalInIdentityPolicy { at: String, element: &'static str },
    #[error(
        "{at} has neither Principal nor NotPrincipal, which a resource-based policy must have"
    )]
    MissingPrincipal { at: String },
    #[error("unknown condition operator '{operator}' in {at}")]
    UnknownOperator { at: String, operator: String },
    /// Identity policies only (IAM's rule and wording); ECR accepts
    /// resource policies with repeated Sids.
    #[error("Statement IDs (SID) in a single policy must be unique. {at}.Sid '{sid}' is already used by {first}")]
    DuplicateSid {
        at: String,
        sid: String,
        first: String,
    },
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
}

const TOP_LEVEL: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl Policy {
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| PolicyError::Json(e.to_string()))?;
        let Value::Object(top) = value else {
            return Err(PolicyError::Type {
                at: "the policy document".into(),
                expected: "a JSON object",
            });
        };
        check_elements(&top, &TOP_LEVEL, "the policy document")?;
        let version = match top.get("Version") {
            None => None,
            Some(Value::String(v)) if v == "2012-10-17" => Some(Version::V2012_10_17),
            Some(Value::String(v)) if v == "2008-10-17" => Some(Version::V2008_10_17),
            Some(other) => return Err(PolicyError::Version(other.to_string())),
        };
        let id = optional_string(&top, "Id", "Id")?;
        let raw_statements: Vec<&Value> = match top.get("Statement") {
            None => return Err(PolicyError::MissingStatement),
            Some(Value::Array(list)) if list.is_empty() => {
                return Err(PolicyError::Type {
                    at: "Statement".into(),
                    expected: "a statement or a non-empty list of statements",
                })
            }
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one) => vec![one],
        };
        let variables = version == Some(Version::V2012_10_17);
        let mut sids: HashMap<&str, String> = HashMap::new();
        let mut statements = Vec::with_capacity(raw_statements.len());
        for (i, raw) in raw_statements.iter().enumerate() {
            let at = format!("Statement[{i}]");
            let statement = parse_statement(raw, &at, kind, variables)?;
            // IAM: "the Sid value must be unique within a JSON policy";
            // ECR accepts repository and registry policies with repeated
            // Sids (and spaces in them), so only identity policies check.
            if let (PolicyKind::Identity, Some(Value::String(sid))) = (kind, raw.get("Sid")) {
                if let Some(first) = sids.get(sid.as_str()) {
                    return Err(PolicyError::DuplicateSid {
                        at,
                        sid: sid.clone(),
                        first: first.clone(),
                    });
                }
                sids.insert(sid, at);
            }
            statements.push(statement);
        }
        Ok(Policy {
            kind,
            version,
            id,
            statements,
        })
    }
}

fn parse_statement(
    raw: &Value,
    at: &str,
    kind: PolicyKind,
    variables: bool,
) -> Result<Statement, PolicyError> {
    let Value::Object(obj) = raw else {
        return Err(PolicyError::Type {
            at: at.into(),
            expected: "a JSON object",
        });
    };
    check_elements(obj, &STATEMENT, at)?;
    let sid = optional_string(obj, "Sid", &format!("{at}.Sid"))?;
    let effect = match obj.get("Effect") {
        None => return Err(PolicyError::MissingEffect { at: at.into() }),
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(_) => return Err(PolicyError::Effect { at: at.into() }),
    };
    let principal = match (kind, pick(obj, at, "Principal", "NotPrincipal")?) {
        (PolicyKind::Identity, Some((name, _))) => {
            return Err(PolicyError::PrincipalInIdentityPolicy {
                at: at.into(),
                element: name,
            })
        }
        (PolicyKind::Identity, None) => None,
        (PolicyKind::Resource, None) => {
            return Err(PolicyError::MissingPrincipal { at: at.into() })
        }
        (PolicyKind::Resource, Some((name, value))) => {
            let principals = parse_principals(value, &format!("{at}.{name}"))?;
            Some(if name == "Principal" {
                PrincipalElement::Principal(principals)
            } else {
                PrincipalElement::NotPrincipal(principals)
            })
        }
    };
    let action = match pick(obj, at, "Action", "NotAction")? {
        None => {
            return Err(PolicyError::Neither {
                at: at.into(),
                first: "Action",
                second: "NotAction",
            })
        }
        Some((name, value)) => {
            let list = string_list(value, &format!("{at}.{name}"))?
                .into_iter()
                .map(|a| parse_action(a, &format!("{at}.{name}")))
                .collect::<Result<Vec<_>, _>>()?;
            if name == "Action" {
                ActionElement::Action(list)
            } else {
                ActionElement::NotAction(list)
            }
        }
    };
    let resource = match pick(obj, at, "Resource", "NotResource")? {
        None if kind == PolicyKind::Identity => {
            return Err(PolicyError::Neither {
                at: at.into(),
                first: "Resource",
                second: "NotResource",
            })
        }
        None => None,
        Some((name, value)) => {
            let list = string_list(value, &format!("{at}.{name}"))?
                .into_iter()
                .map(|r| parse_resource(r, &format!("{at}.{name}"), variables))
                .collect::<Result<Vec<_>, _>>()?;
            Some(if name == "Resource" {
                ResourceElement::Resource(list)
            } else {
                ResourceElement::NotResource(list)
            })
        }
    };
    let conditions = match obj.get("Condition") {
        None => Vec::new(),
        Some(block) => parse_conditions(block, at, variables)?,
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

/// The one of a pair of exclusive elements that is present.
fn pick<'a>(
    obj: &'a Map<String, Value>,
    at: &str,
    first: &'static str,
    second: &'static str,
) -> Result<Option<(&'static str, &'a Value)>, PolicyError> {
    match (obj.get(first), obj.get(second)) {
        (Some(_), Some(_)) => Err(PolicyError::Both {
            at: at.into(),
            first,
            second,
        }),
        (Some(v), None) => Ok(Some((first, v))),
        (None, Some(v)) => Ok(Some((second, v))),
        (None, None) => Ok(None),
    }
}

fn check_elements(obj: &Map<String, Value>, known: &[&str], at: &str) -> Result<(), PolicyError> {
    for name in obj.keys() {
        if !known.contains(&name.as_str()) {
            // Element names are case-sensitive in IAM; `effect` is the
            // likeliest mistake, so say what was meant.
            let hint = known
                .iter()
                .find(|k| k.eq_ignore_ascii_case(name))
                .map(|k| format!(" (element names are case-sensitive: did you mean '{k}'?)"))
                .unwrap_or_default();
            return Err(PolicyError::UnknownElement {
                at: at.into(),
                name: name.clone(),
                hint,
            });
        }
    }
    Ok(())
}

fn optional_string(
    obj: &Map<String, Value>,
    name: &str,
    at: &str,
) -> Result<Option<String>, PolicyError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(PolicyError::Type {
            at: at.into(),
            expected: "a string",
        }),
    }
}

/// A string or a non-empty list of strings.
fn string_list<'a>(value: &'a Value, at: &str) -> Result<Vec<&'a str>, PolicyError> {
    let expected = "a string or a non-empty list of strings";
    match value {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(list) if !list.is_empty() => list
            .iter()
            .map(|v| {
                v.as_str().ok_or_else(|| PolicyError::Type {
                    at: at.into(),
                    expected,
                })
            })
            .collect(),
        _ => Err(PolicyError::Type {
            at: at.into(),
            expected,
        }),
    }
}

fn parse_action(raw: &str, at: &str) -> Result<ActionPattern, PolicyError> {
    let valid = raw == "*"
        || raw.split_once(':').is_some_and(|(service, action)| {
            !service.is_empty()
                && service
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !action.is_empty()
                && action
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"*?-_".contains(&b))
        });
    if !valid {
        return Err(PolicyError::Invalid {
            at: at.into(),
            message: format!(
                "'{raw}' must be \"*\" or a service-prefixed action such as \"ecr:PutImage\""
            ),
        });
    }
    let lower = raw.to_ascii_lowercase();
    Ok(ActionPattern {
        raw: raw.to_string(),
        tokens: glob_tokens(&lower).collect(),
    })
}

fn parse_resource(raw: &str, at: &str, variables: bool) -> Result<ResourcePattern, PolicyError> {
    if raw != "*" && !(raw.starts_with("arn:") && raw.splitn(6, ':').count() == 6) {
        return Err(PolicyError::Invalid {
            at: at.into(),
            message: format!(
                "'{raw}' must be \"*\" or an ARN (arn:partition:service:region:account:resource)"
            ),
        });
    }
    let template = Template::parse(raw, variables);
    let tokens = (!template.has_variables()).then(|| glob_tokens(raw).collect());
    Ok(ResourcePattern { template, tokens })
}

fn parse_principals(value: &Value, at: &str) -> Result<Principals, PolicyError> {
    let mut principals = Principals::default();
    let map = match value {
        Value::String(s) if s == "*" => {
            principals.everyone = true;
            return Ok(principals);
        }
        Value::Object(map) if !map.is_empty() => map,
        _ => {
            return Err(PolicyError::Type {
                at: at.into(),
                expected:
                    "\"*\" or an object such as {\"AWS\": \"arn:aws:iam::123456789012:root\"}",
            })
        }
    };
    for (kind, ids) in map {
        let here = format!("{at}.{kind}");
        let ids = string_list(ids, &here)?;
        match kind.as_str() {
            "AWS" => {
                for id in ids {
                    principals.aws.push(parse_aws_principal(id, &here)?);
                }
            }
            "Service" => principals.service.extend(ids.iter().map(|s| s.to_string())),
            "Federated" => principals
                .federated
                .extend(ids.iter().map(|s| s.to_string())),
            "CanonicalUser" => principals
                .canonical_user
                .extend(ids.iter().map(|s| s.to_string())),
            _ => {
                return Err(PolicyError::UnknownElement {
                    at: at.into(),
                    name: kind.clone(),
                    hint: " (principal types are AWS, Service, Federated and CanonicalUser)".into(),
                })
            }
        }
    }
    Ok(principals)
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_aws_principal(id: &str, at: &str) -> Result<AwsPrincipal, PolicyError> {
    if id == "*" {
        return Ok(AwsPrincipal::Any);
    }
    if is_account_id(id) {
        return Ok(AwsPrincipal::Account(id.to_string()));
    }
    let invalid = || PolicyError::Invalid {
        at: at.into(),
        message: format!(
            "'{id}' is not a valid principal: use \"*\", a 12-digit account id, \
             arn:aws:iam::<account>:root or an IAM ARN such as arn:aws:iam::<account>:user/<name>"
        ),
    };
    // IAM refuses wildcards inside a principal ARN: they would name
    // principals that do not exist yet.
    if id.contains(['*', '?']) {
        return Err(invalid());
    }
    let parts: Vec<&str> = id.splitn(6, ':').collect();
    let [arn, _partition, service, region, account, resource] = parts.as_slice() else {
        return Err(invalid());
    };
    if *arn != "arn"
        || !matches!(*service, "iam" | "sts")
        || !region.is_empty()
        || !is_account_id(account)
        || resource.is_empty()
    {
        return Err(invalid());
    }
    if *resource == "root" {
        return Ok(AwsPrincipal::Account(account.to_string()));
    }
    if !resource.contains('/') {
        return Err(invalid());
    }
    Ok(AwsPrincipal::Arn {
        account: account.to_string(),
        arn: id.to_string(),
    })
}

fn parse_conditions(
    block: &Value,
    at: &str,
    variables: bool,
) -> Result<Vec<Condition>, PolicyError> {
    let here = format!("{at}.Condition");
    let Value::Object(operators) = block else {
        return Err(PolicyError::Type {
            at: here,
            expected: "an object such as {\"StringEquals\": {\"aws:username\": \"alice\"}}",
        });
    };
    let mut conditions = Vec::new();
    for (operator, keys) in operators {
        let (qualifier, op, if_exists) =
            condition::parse_operator(operator).map_err(|p| problem(p, at))?;
        let Value::Object(keys) = keys else {
            return Err(PolicyError::Type {
                at: format!("{here}.{operator}"),
                expected: "an object of condition keys and their values",
            });
        };
        for (key, values) in keys {
            let values = condition_values(values).ok_or_else(|| PolicyError::Type {
                at: format!("{here}.{operator}.{key}"),
                expected: "a string, number or boolean, or a list of them",
            })?;
            let c = condition::build(qualifier, op, if_exists, key, &values, variables)
                .map_err(|p| problem(p, &here))?;
            conditions.push(c);
        }
    }
    Ok(conditions)
}

fn problem(p: ConditionProblem, at: &str) -> PolicyError {
    match p {
        ConditionProblem::UnknownOperator(operator) => PolicyError::UnknownOperator {
            at: at.into(),
            operator,
        },
        ConditionProblem::Invalid(message) => PolicyError::Invalid {
            at: at.into(),
            message,
        },
    }
}

fn condition_values(value: &Value) -> Option<Vec<String>> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(list) => list.iter().map(scalar).collect(),
        v => scalar(v).map(|s| vec![s]),
    }
}
