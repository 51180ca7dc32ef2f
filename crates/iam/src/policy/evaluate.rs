//! Whether a request is allowed, by AWS's evaluation logic (IAM User Guide,
//! "Policy evaluation logic" and "Cross-account policy evaluation logic"),
//! reduced to what berth has: identity policies, session policies (a role
//! session's `Policy`/`PolicyArns`), a repository policy and a registry
//! policy (or a role's trust policy). No SCPs or permission boundaries.
//!
//! 1. An explicit Deny in any applicable statement wins.
//! 2. Same account: an Allow in an identity policy, or in a resource policy
//!    that names the caller, suffices.
//! 3. Another account: both are needed, an identity Allow and a resource
//!    policy Allow that names the caller or its account.
//! 4. Otherwise: implicit deny.
//!
//! A resource policy that names only the caller's *account* (`root` or the
//! bare id) delegates to that account's own IAM: across accounts it is the
//! resource side's Allow, but within the account it grants nothing an
//! identity policy does not (as S3 and KMS behave for the account
//! principal). A Deny naming the account applies to every user in it.
//!
//! The account's `admin` user is an IAM user with AdministratorAccess
//! attached, not the account's root: it is allowed everything in its own
//! account, explicit Denies still bind it, and another account's resources
//! need that account's resource policy to allow it.

use super::context::{keys, RequestContext};
use super::document::{
    ActionElement, AwsPrincipal, Effect, Policy, PrincipalElement, Principals, ResourceElement,
    Statement,
};
use super::managed;
use super::pattern::glob_match;

/// The role behind a role session (AssumeRole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRole {
    pub name: String,
    /// `AROA…`: the role's id.
    pub id: String,
    /// RoleSessionName.
    pub session: String,
}

impl AssumedRole {
    /// `AROA…:<session>`: the session's `aws:userid`, AssumedRoleId and
    /// GetCallerIdentity's UserId.
    pub fn user_id(&self) -> String {
        format!("{}:{}", self.id, self.session)
    }

    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>` (no path).
    pub fn arn(&self, account: &str) -> String {
        format!(
            "arn:aws:sts::{account}:assumed-role/{}/{}",
            self.name, self.session
        )
    }
}

/// What temporary credentials add to a principal (a user's session or a
/// role's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionFacts {
    /// When the credentials were issued (Unix ms): `aws:TokenIssueTime`.
    pub issued_at_ms: i64,
    /// `aws:MultiFactorAuthPresent`.
    pub mfa: bool,
}

/// The caller: a user of an account (perhaps through a session), a role
/// session, or (berth's anonymous mode) nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account: String,
    /// The user's name; empty for a role session.
    pub user: String,
    /// The user's or role's IAM path (`/`, or `/team/`): part of its ARN,
    /// so a policy naming `user/team/*` matches it.
    pub path: String,
    /// A role session: the role and the session's name.
    pub role: Option<AssumedRole>,
    /// Temporary credentials (GetSessionToken or AssumeRole).
    pub session: Option<SessionFacts>,
    /// `aws:PrincipalTag/<key>`: a role session's role's tags.
    pub tags: Vec<(String, String)>,
    /// The account's administrator: allowed as if AdministratorAccess were
    /// attached.
    pub account_admin: bool,
    /// An unauthenticated caller. It belongs to no account: only
    /// statements naming everyone (`"*"`) apply to it, and its identity
    /// side is the grant the operator configured for anonymous access.
    pub anonymous: bool,
}

impl Principal {
    /// The user `name` of `account`, at the path `/`; the user named
    /// `admin` is the account's administrator.
    pub fn user(account: &str, name: &str) -> Principal {
        Principal::user_at(account, "/", name)
    }

    /// The user `name` of `account` at IAM path `path` (`/team/`).
    pub fn user_at(account: &str, path: &str, name: &str) -> Principal {
        Principal {
            account: account.to_string(),
            user: name.to_string(),
            path: path.to_string(),
            role: None,
            session: None,
            tags: Vec::new(),
            account_admin: name == "admin",
            anonymous: false,
        }
    }

    /// A session of the role `role` (at `path`) of `account`.
    pub fn role_session(
        account: &str,
        path: &str,
        role: AssumedRole,
        session: SessionFacts,
    ) -> Principal {
        Principal {
            account: account.to_string(),
            user: String::new(),
            path: path.to_string(),
            role: Some(role),
            session: Some(session),
            tags: Vec::new(),
            account_admin: false,
            anonymous: false,
        }
    }

    /// A caller without credentials.
    pub fn anonymous() -> Principal {
        Principal {
            account: String::new(),
            user: String::new(),
            path: String::new(),
            role: None,
            session: None,
            tags: Vec::new(),
            account_admin: false,
            anonymous: true,
        }
    }

    /// The caller's ARN as AWS's messages and GetCallerIdentity give it:
    /// `arn:aws:iam::<account>:user<path><name>`, a role session's
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>` (no path), or
    /// `anonymous`.
    pub fn arn(&self) -> String {
        if self.anonymous {
            return "anonymous".to_string();
        }
        match &self.role {
            Some(r) => r.arn(&self.account),
            None => user_arn(&self.account, &self.path, &self.user),
        }
    }

    /// `aws:PrincipalArn`: the user's ARN, or for a role session the
    /// role's (`arn:aws:iam::<account>:role<path><name>`).
    pub fn principal_arn(&self) -> String {
        match &self.role {
            Some(r) => role_arn(&self.account, &self.path, &r.name),
            None => self.arn(),
        }
    }
}

/// A role's ARN: `arn:aws:iam::111122223333:role/service/node` for the role
/// `node` at path `/service/`.
pub fn role_arn(account: &str, path: &str, name: &str) -> String {
    iam_arn(account, "role", path, name)
}

/// An IAM entity's ARN: `arn:aws:iam::<account>:<kind><path><name>` for
/// `kind` `user`, `role` or `group` (an empty path is `/`).
pub fn iam_arn(account: &str, kind: &str, path: &str, name: &str) -> String {
    let path = if path.is_empty() { "/" } else { path };
    format!("arn:aws:iam::{account}:{kind}{path}{name}")
}

/// A user's ARN: `arn:aws:iam::111122223333:user/team/ops` for the user
/// `ops` at path `/team/`.
pub fn user_arn(account: &str, path: &str, name: &str) -> String {
    iam_arn(account, "user", path, name)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub principal: Principal,
    /// `ecr:PutImage`.
    pub action: String,
    /// A repository ARN, or `*` for actions on no resource
    /// (GetAuthorizationToken, DescribeRegistry, ...).
    pub resource: String,
    pub context: RequestContext,
}

impl Request {
    /// The context starts with the keys that describe the principal
    /// (`aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`,
    /// `aws:username`); the caller adds the rest.
    pub fn new(principal: Principal, action: &str, resource: &str) -> Request {
        let mut context = RequestContext::new();
        if principal.anonymous {
            context.insert(keys::PRINCIPAL_TYPE, "Anonymous");
        } else {
            context.insert(keys::PRINCIPAL_ARN, principal.principal_arn());
            context.insert(keys::PRINCIPAL_ACCOUNT, principal.account.clone());
            match &principal.role {
                Some(r) => {
                    context.insert(keys::PRINCIPAL_TYPE, "AssumedRole");
                    context.insert(keys::USERID, r.user_id());
                }
                None => {
                    context.insert(keys::PRINCIPAL_TYPE, "User");
                    context.insert(keys::USERNAME, principal.user.clone());
                }
            }
            for (k, v) in &principal.tags {
                context.insert(&keys::principal_tag(k), v.clone());
            }
            if let Some(s) = principal.session {
                context.insert(
                    keys::TOKEN_ISSUE_TIME,
                    crate::dates::iso8601(s.issued_at_ms),
                );
                context.insert(keys::MFA_PRESENT, if s.mfa { "true" } else { "false" });
            }
        }
        Request {
            principal,
            action: action.to_string(),
            resource: resource.to_string(),
            context,
        }
    }

    pub fn with_context(mut self, key: &str, value: impl Into<String>) -> Request {
        self.context.insert(key, value);
        self
    }

    pub fn with_context_values<I, S>(mut self, key: &str, values: I) -> Request
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.context.insert_all(key, values);
        self
    }
}

/// An identity policy attached to the caller, by the name the caller knows
/// it as (a managed policy's ARN, an inline policy's name).
#[derive(Debug, Clone, Copy)]
pub struct IdentityPolicy<'a> {
    pub name: &'a str,
    pub policy: &'a Policy,
}

/// Everything that bears on one request.
#[derive(Debug, Clone, Copy)]
pub struct Policies<'a> {
    pub identity: &'a [IdentityPolicy<'a>],
    /// A role session's session policies (`None`: it has none, or the
    /// caller is no role session): an Allow is needed from them too.
    pub session: Option<&'a [IdentityPolicy<'a>]>,
    pub repository: Option<&'a Policy>,
    pub registry: Option<&'a Policy>,
    /// The account that owns the resource (the registry's account).
    pub resource_account: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    Identity { name: String },
    Session,
    Repository,
    Registry,
}

impl PolicySource {
    pub fn is_resource_based(&self) -> bool {
        !matches!(self, PolicySource::Identity { .. } | PolicySource::Session)
    }
}

/// Which side's Allow was missing, for AWS's "because no ... policy
/// allows" wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingAllow {
    IdentityPolicy,
    /// The identity side allowed; the session policies did not.
    SessionPolicy,
    /// Across accounts the identity side allowed and the resource's
    /// policies did not.
    ResourcePolicy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ExplicitDeny {
        policy: PolicySource,
        sid: Option<String>,
    },
    ImplicitDeny {
        missing: MissingAllow,
    },
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        *self == Decision::Allow
    }

    /// AWS's AccessDenied text for this decision, `None` when allowed:
    /// `User: arn:aws:iam::111122223333:user/bob is not authorized to
    /// perform: ecr:PutImage on resource: arn:... because no
    /// identity-based policy allows the ecr:PutImage action`.
    pub fn denial_message(&self, request: &Request) -> Option<String> {
        let head = format!(
            "User: {} is not authorized to perform: {} on resource: {}",
            request.principal.arn(),
            request.action,
            request.resource
        );
        match self {
            Decision::Allow => None,
            Decision::ExplicitDeny { policy, .. } => Some(format!(
                "{head} with an explicit deny in {} policy",
                match policy {
                    PolicySource::Session => "a session",
                    p if p.is_resource_based() => "a resource-based",
                    _ => "an identity-based",
                }
            )),
            Decision::ImplicitDeny { missing } => Some(format!(
                "{head} because no {} policy allows the {} action",
                match missing {
                    MissingAllow::IdentityPolicy => "identity-based",
                    MissingAllow::SessionPolicy => "session",
                    MissingAllow::ResourcePolicy => "resource-based",
                },
                request.action
            )),
        }
    }
}

/// How a resource policy's principal element relates to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Named {
    No,
    /// Only the caller's account (root or id).
    Account,
    /// The caller itself (a role session: its role), or everyone.
    Caller,
    /// A role session by its own session ARN: grants past its session
    /// policies.
    Session,
}

pub fn evaluate(request: &Request, policies: &Policies<'_>) -> Decision {
    evaluate_with(request, policies, false)
}

/// `sts:AssumeRole` against a role's trust policy (given as
/// `policies.repository`): as `evaluate`, except that the trust policy must
/// always name the caller. In the role's own account, a trust statement
/// naming the caller itself suffices, and one naming only the account
/// needs the caller's identity policies to allow too (AWS: "the trust
/// policy delegates to the account").
pub fn evaluate_trust(request: &Request, policies: &Policies<'_>) -> Decision {
    evaluate_with(request, policies, true)
}

fn evaluate_with(request: &Request, policies: &Policies<'_>, resource_required: bool) -> Decision {
    let action = request.action.to_ascii_lowercase();
    let ctx = &request.context;
    let admin = request
        .principal
        .account_admin
        .then(|| managed::ADMINISTRATOR_ACCESS.policy());

    // Identity statements apply to the caller by being attached to it.
    let identity = policies
        .identity
        .iter()
        .map(|p| {
            (
                PolicySource::Identity {
                    name: p.name.into(),
                },
                p.policy,
            )
        })
        .chain(admin.map(|p| {
            (
                PolicySource::Identity {
                    name: managed::ADMINISTRATOR_ACCESS.arn.into(),
                },
                p,
            )
        }));
    let resource = [
        (PolicySource::Repository, policies.repository),
        (PolicySource::Registry, policies.registry),
    ];

    let caller_arn = request.principal.arn();
    let role_arn = request
        .principal
        .role
        .as_ref()
        .map(|_| request.principal.principal_arn());
    let arns = CallerArns {
        own: &caller_arn,
        role: role_arn.as_deref(),
    };
    let mut identity_allows = false;
    let mut resource_allows = Named::No;
    for (source, policy) in identity {
        for s in &policy.statements {
            if !applies(s, &action, request, ctx) {
                continue;
            }
            match s.effect {
                Effect::Deny => return explicit_deny(source, s),
                Effect::Allow => identity_allows = true,
            }
        }
    }
    let mut session_allows = policies.session.is_none();
    for p in policies.session.unwrap_or_default() {
        for s in &p.policy.statements {
            if !applies(s, &action, request, ctx) {
                continue;
            }
            match s.effect {
                Effect::Deny => return explicit_deny(PolicySource::Session, s),
                Effect::Allow => session_allows = true,
            }
        }
    }
    for (source, policy) in resource {
        let Some(policy) = policy else { continue };
        for s in &policy.statements {
            let named = names(s.principal.as_ref(), &request.principal, &arns);
            if named == Named::No || !applies(s, &action, request, ctx) {
                continue;
            }
            match s.effect {
                Effect::Deny => return explicit_deny(source.clone(), s),
                Effect::Allow => resource_allows = resource_allows.max(named),
            }
        }
    }

    // An anonymous caller's identity side is the operator's grant for
    // anonymous access, made for the resource's own registry, so it is
    // judged as a caller of that account would be.
    let same_account =
        request.principal.anonymous || request.principal.account == policies.resource_account;
    let allowed = if same_account {
        (identity_allows && session_allows && (!resource_required || resource_allows != Named::No))
            || resource_allows == Named::Session
            || (resource_allows == Named::Caller && session_allows)
    } else {
        identity_allows && session_allows && resource_allows != Named::No
    };
    if allowed {
        Decision::Allow
    } else if identity_allows && !session_allows {
        Decision::ImplicitDeny {
            missing: MissingAllow::SessionPolicy,
        }
    } else if (same_account && !resource_required) || !identity_allows {
        Decision::ImplicitDeny {
            missing: MissingAllow::IdentityPolicy,
        }
    } else {
        Decision::ImplicitDeny {
            missing: MissingAllow::ResourcePolicy,
        }
    }
}

fn explicit_deny(source: PolicySource, s: &Statement) -> Decision {
    Decision::ExplicitDeny {
        policy: source,
        sid: s.sid.clone(),
    }
}

/// Action, resource and conditions all match (principal aside).
fn applies(s: &Statement, action_lower: &str, request: &Request, ctx: &RequestContext) -> bool {
    let action_ok = match &s.action {
        ActionElement::Action(list) => list.iter().any(|a| glob_match(&a.tokens, action_lower)),
        ActionElement::NotAction(list) => !list.iter().any(|a| glob_match(&a.tokens, action_lower)),
    };
    action_ok
        && resource_matches(s.resource.as_ref(), &request.resource, ctx)
        && s.conditions.iter().all(|c| c.evaluate(ctx))
}

fn resource_matches(
    element: Option<&ResourceElement>,
    resource: &str,
    ctx: &RequestContext,
) -> bool {
    let any = |list: &[super::document::ResourcePattern]| {
        list.iter().any(|p| match &p.tokens {
            Some(tokens) => glob_match(tokens, resource),
            // A variable the request lacks makes the pattern match nothing.
            None => p
                .template
                .tokens(ctx)
                .is_some_and(|tokens| glob_match(&tokens, resource)),
        })
    };
    match element {
        // A resource policy without Resource speaks of its own resource.
        None => true,
        Some(ResourceElement::Resource(list)) => any(list),
        Some(ResourceElement::NotResource(list)) => !any(list),
    }
}

/// The ARNs a resource policy may name the caller by: its own (a user's,
/// or a role session's `assumed-role` ARN) and, for a role session, its
/// role's.
struct CallerArns<'a> {
    own: &'a str,
    role: Option<&'a str>,
}

impl CallerArns<'_> {
    fn named(&self, arn: &str) -> Named {
        if arn == self.own {
            if self.role.is_some() {
                Named::Session
            } else {
                Named::Caller
            }
        } else if self.role == Some(arn) {
            Named::Caller
        } else {
            Named::No
        }
    }
}

fn names(element: Option<&PrincipalElement>, caller: &Principal, arns: &CallerArns<'_>) -> Named {
    match element {
        // Identity policies; resource policies always carry one.
        None => Named::Caller,
        Some(PrincipalElement::Principal(p)) => listed(p, caller, arns),
        // AWS matches NotPrincipal against each principal the request
        // carries (the user and its account): the statement applies unless
        // both are listed, which is why AWS's examples list the account
        // beside the user.
        Some(PrincipalElement::NotPrincipal(p)) => {
            let arn_listed = |wanted: &str| {
                p.aws.iter().any(|a| match a {
                    AwsPrincipal::Any => true,
                    AwsPrincipal::Arn { arn, .. } => arn == wanted,
                    AwsPrincipal::Account(_) => false,
                })
            };
            // A role session is exempt only if both its session ARN and its
            // role's ARN are listed (IAM User Guide, NotPrincipal with
            // assumed-role sessions).
            let user = p.everyone
                || match arns.role {
                    Some(role) => arn_listed(arns.own) && arn_listed(role),
                    None => arn_listed(arns.own),
                };
            let account = p.everyone
                || p.aws.iter().any(|a| match a {
                    AwsPrincipal::Any => true,
                    AwsPrincipal::Account(id) => *id == caller.account,
                    AwsPrincipal::Arn { .. } => false,
                });
            if user && account {
                Named::No
            } else {
                Named::Caller
            }
        }
    }
}

fn listed(p: &Principals, caller: &Principal, arns: &CallerArns<'_>) -> Named {
    if p.everyone {
        return Named::Caller;
    }
    let mut named = Named::No;
    for a in &p.aws {
        let this = match a {
            AwsPrincipal::Any => Named::Caller,
            AwsPrincipal::Arn { arn, .. } => arns.named(arn),
            AwsPrincipal::Account(id) if *id == caller.account => Named::Account,
            AwsPrincipal::Account(_) => Named::No,
        };
        named = named.max(this);
    }
    named
}
