//! Authorization: may this principal perform `ecr:<Action>` on this
//! repository (or on the registry)? The policies that bear on a request are
//! the caller's identity policies, the repository's policy and the
//! registry's policy; `berth_iam::policy::evaluate` decides as AWS does.
//!
//! The pull path asks this on every request, so parsed policies are cached
//! per repository and registry, and decisions per (principal, action,
//! resource) when none of the policies involved has a condition (a
//! condition may read the time or the client's address, which change).
//! Every policy change bumps a generation and clears the caches; a reader
//! that started before the bump does not fill them (the protocol of
//! `cache.rs`), so no stale decision outlives a change on this node.

use super::principal::Principal;
use super::rules::{parse_stored, resource_arn, V1_REGISTRY_ACTIONS};
use super::Identity;
use crate::cache::KeyPair;
use crate::fastset::{FastSet, KeyRef};
use crate::{Error, Result};
use berth_iam::policy::{
    self, evaluate, keys, Decision, IdentityPolicy, Policies, Policy, PolicyKind, Request,
};
use berth_store::{Holder, RegistryKey, ResourceTag};
use quick_cache::sync::Cache;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// What a request tells policies besides who signed it: the connection it
/// came on and the tags it asks to set or remove. Only conditions read these,
/// and decisions under conditions are never cached, so the hot path builds
/// this without allocating.
#[derive(Clone, Debug, Default)]
pub struct RequestFacts {
    /// `aws:SourceIp`: the peer address of the connection.
    pub source_ip: Option<IpAddr>,
    /// `aws:SecureTransport`: the request came over TLS.
    pub secure_transport: bool,
    /// CreateRepository's and TagResource's tags (`aws:RequestTag/<key>`;
    /// their keys are `aws:TagKeys`).
    pub request_tags: Vec<(String, String)>,
    /// UntagResource's keys (`aws:TagKeys`).
    pub tag_keys: Vec<String>,
    /// The access key id the request was signed with (GetSessionToken
    /// names it as its session's source); read by no condition.
    pub signing_key: Option<String>,
}

impl RequestFacts {
    pub(crate) fn apply(&self, mut request: Request) -> Request {
        if let Some(ip) = self.source_ip {
            request = request.with_context(keys::SOURCE_IP, ip.to_canonical().to_string());
        }
        request = request.with_context(
            keys::SECURE_TRANSPORT,
            if self.secure_transport {
                "true"
            } else {
                "false"
            },
        );
        for (k, v) in &self.request_tags {
            request = request.with_context(&keys::request_tag(k), v.clone());
        }
        let tag_keys: Vec<&str> = self
            .request_tags
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(self.tag_keys.iter().map(String::as_str))
            .collect();
        if !tag_keys.is_empty() {
            request = request.with_context_values(keys::TAG_KEYS, tag_keys);
        }
        request
    }
}

/// Who is asking, with the facts of the request they asked in: what the
/// IAM and admin APIs authorize with (the ECR API and `/v2` pass the two
/// side by side). Reads as its principal.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub facts: RequestFacts,
}

impl std::ops::Deref for Caller {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.principal
    }
}

/// A user's inline and attached policies, parsed, by name or ARN.
type IdentityPolicies = Arc<Vec<(String, Arc<Policy>)>>;

pub(crate) struct AuthzCache {
    generation: AtomicU64,
    /// Fills hold it shared across "generation unchanged?" and the insert;
    /// `changed` holds it exclusively across the bump and the clear, so a
    /// fill that passed its check cannot land after the clear.
    fill_lock: parking_lot::RwLock<()>,
    /// False while this node cannot hear other nodes' changes.
    enabled: AtomicBool,
    /// Repositories that have a policy, parsed; those without one are in
    /// `no_repository_policy` (most repositories: a digest each, not a map
    /// entry with three strings).
    repository_policies: Cache<(RegistryKey, String), Arc<Policy>>,
    no_repository_policy: FastSet,
    registry_policies: Cache<RegistryKey, Option<Arc<Policy>>>,
    /// Repositories sealed under the server's keys (AES256): most of them,
    /// a digest each. A repository's encryption is fixed at creation, so
    /// only its deletion (which clears these) changes the answer.
    aes256_repositories: FastSet,
    /// Repositories under a KMS key: the key's ARN.
    kms_repositories: Cache<(RegistryKey, String), Arc<str>>,
    decisions: FastSet,
    /// (account, user) → its inline and attached policies, parsed.
    identities: Cache<(String, String), IdentityPolicies>,
    /// The identity side of anonymous callers: what `--allow-anonymous`
    /// grants, in the default account only.
    anonymous_grant: IdentityPolicies,
}

impl AuthzCache {
    pub(crate) fn new(default_account: &str, anonymous: AnonymousAccess) -> Self {
        AuthzCache {
            anonymous_grant: Arc::new(anonymous_grant(default_account, anonymous)),
            ..AuthzCache::default()
        }
    }
}

impl Default for AuthzCache {
    fn default() -> Self {
        AuthzCache {
            anonymous_grant: Arc::new(Vec::new()),
            generation: AtomicU64::new(0),
            fill_lock: parking_lot::RwLock::new(()),
            enabled: AtomicBool::new(true),
            repository_policies: Cache::new(10_000),
            no_repository_policy: FastSet::new(200_000),
            registry_policies: Cache::new(10_000),
            aes256_repositories: FastSet::new(200_000),
            kms_repositories: Cache::new(10_000),
            decisions: FastSet::new(50_000),
            identities: Cache::new(100_000),
        }
    }
}

/// What callers without credentials may do on `/v2` (`--allow-anonymous`).
/// They are always addressed to the default account's registry, and go
/// through the same evaluation as everyone else: this grant is their
/// identity side, and repository and registry policies (a Deny naming
/// `"*"`) still apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AnonymousAccess {
    /// Every request needs credentials (ECR's behaviour).
    #[default]
    Off,
    /// Pulls, tag lists and the catalog.
    Pull,
    /// Pulls and also pushes and deletes (and creating repositories on
    /// push, when `create_on_push` is on): a throwaway registry.
    Push,
}

/// The actions each level of anonymous access allows.
pub const ANONYMOUS_PULL_ACTIONS: &[&str] = &[
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
    "ecr:ListImages",
    "ecr:DescribeRepositories",
];
pub const ANONYMOUS_PUSH_ACTIONS: &[&str] = &[
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchDeleteImage",
    "ecr:CreateRepository",
];

/// What everyone may do on public repositories through `/v2`: read them.
/// ECR Public has no pull actions (its pulls are never refused); berth
/// names them as ECR's, so that a repository policy can deny a principal.
pub const PUBLIC_READ_ACTIONS: &[&str] = &[
    "ecr-public:BatchGetImage",
    "ecr-public:GetDownloadUrlForLayer",
    "ecr-public:BatchCheckLayerAvailability",
    "ecr-public:DescribeImageTags",
];

/// `PUBLIC_READ_ACTIONS` on every public repository, as an identity policy.
fn public_read_grant() -> Arc<Policy> {
    static GRANT: std::sync::LazyLock<Arc<Policy>> = std::sync::LazyLock::new(|| {
        let text = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Action": PUBLIC_READ_ACTIONS,
                "Resource": "arn:aws:ecr-public::*:repository/*",
            }]
        })
        .to_string();
        Arc::new(
            Policy::parse(&text, PolicyKind::Identity)
                .expect("the public read grant is a valid identity policy"),
        )
    });
    GRANT.clone()
}

fn anonymous_grant(default_account: &str, access: AnonymousAccess) -> Vec<(String, Arc<Policy>)> {
    let actions: Vec<&str> = match access {
        AnonymousAccess::Off => return Vec::new(),
        AnonymousAccess::Pull => ANONYMOUS_PULL_ACTIONS.to_vec(),
        AnonymousAccess::Push => ANONYMOUS_PULL_ACTIONS
            .iter()
            .chain(ANONYMOUS_PUSH_ACTIONS)
            .copied()
            .collect(),
    };
    let text = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AnonymousAccess",
            "Effect": "Allow",
            "Action": actions,
            "Resource": format!("arn:aws:ecr:*:{default_account}:repository/*"),
        }]
    })
    .to_string();
    let policy = Policy::parse(&text, PolicyKind::Identity)
        .expect("the anonymous grant is a valid identity policy");
    vec![("berth-anonymous-access".to_string(), Arc::new(policy))]
}

impl AuthzCache {
    /// Whether a value read at generation `seen` may be cached.
    fn may_fill(&self, seen: u64) -> bool {
        self.enabled.load(Ordering::SeqCst) && self.generation.load(Ordering::SeqCst) == seen
    }

    /// Empties the caches and stops or resumes filling them.
    pub(crate) fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::SeqCst);
        self.changed();
    }

    /// Runs `insert` if a value read at generation `seen` may be cached,
    /// atomically with respect to `changed`.
    fn fill<R>(&self, seen: u64, insert: impl FnOnce() -> R) {
        let _g = self.fill_lock.read();
        if self.may_fill(seen) {
            insert();
        }
    }

    /// After any change to a policy, a user or a repository's existence.
    pub(crate) fn changed(&self) {
        let _g = self.fill_lock.write();
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.repository_policies.clear();
        self.no_repository_policy.clear();
        self.registry_policies.clear();
        self.aes256_repositories.clear();
        self.kms_repositories.clear();
        self.decisions.clear();
        self.identities.clear();
    }
}

/// The policies that bear on one request, as read from the caches.
struct Involved<'a> {
    identity: &'a [(String, Arc<Policy>)],
    /// A session's own policies (`None`: none were given).
    session: Option<&'a [(String, Arc<Policy>)]>,
    repository: Option<&'a Policy>,
    registry: Option<&'a Policy>,
    /// The repository's resource tags, loaded only when a condition reads
    /// them.
    resource_tags: &'a [ResourceTag],
    /// A user's `aws:userid` (`AIDA…`), loaded only when a condition reads
    /// it (a role session's is in its principal).
    user_id: Option<&'a str>,
}

/// The identity policies as the evaluator takes them.
pub(crate) fn evaluator_identity(identity: &[(String, Arc<Policy>)]) -> Vec<IdentityPolicy<'_>> {
    identity
        .iter()
        .map(|(name, policy)| IdentityPolicy { name, policy })
        .collect()
}

/// `request` on a resource of `registry` under the policies involved;
/// `identity` is `involved.identity` as `evaluator_identity` gives it
/// (built once by a caller that evaluates many requests).
fn evaluate_involved(
    request: &Request,
    resource_account: &str,
    identity: &[IdentityPolicy<'_>],
    involved: &Involved<'_>,
) -> Decision {
    let session = involved.session.map(evaluator_identity);
    evaluate(
        request,
        &Policies {
            identity,
            session: session.as_deref(),
            repository: involved.repository,
            registry: involved.registry,
            resource_account,
        },
    )
}

impl Involved<'_> {
    fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.identity
            .iter()
            .chain(self.session.unwrap_or_default())
            .map(|(_, p)| &**p)
            .chain(self.repository)
            .chain(self.registry)
    }
}

/// Whether a condition reads `aws:userid`.
fn reads_user_id(p: &Policy) -> bool {
    p.statements
        .iter()
        .flat_map(|s| &s.conditions)
        .any(|c| c.key.eq_ignore_ascii_case(keys::USERID))
}

/// `request` with a user's `aws:userid`, when it was loaded
/// (`user_id_for_conditions`).
fn with_user_id(request: Request, user_id: Option<&str>) -> Request {
    match user_id {
        Some(id) => request.with_context(keys::USERID, id),
        None => request,
    }
}

/// A session's own policies, if it was given any.
pub(crate) fn session_policies(caller: &Principal) -> Option<&[(String, Arc<Policy>)]> {
    caller.session.as_ref()?.policies.as_deref()
}

fn has_conditions(p: &Policy) -> bool {
    p.statements.iter().any(|s| !s.conditions.is_empty())
}

/// Whether a condition reads the repository's tags, which then have to be
/// loaded (`aws:ResourceTag/<key>`, or ECR's `ecr:ResourceTag/<key>`).
fn reads_resource_tags(p: &Policy) -> bool {
    p.statements.iter().flat_map(|s| &s.conditions).any(|c| {
        let k = c.key.to_ascii_lowercase();
        k.starts_with("aws:resourcetag/") || k.starts_with("ecr:resourcetag/")
    })
}

impl Identity {
    /// `Ok` if `caller` may perform `action` (`ecr:BatchGetImage`) on
    /// `repository` of `registry` (`None`: on the registry, resource `*`;
    /// `Some("*")` for every repository, as DescribeRepositories without
    /// names is checked); else `AccessDenied` with AWS's wording.
    pub async fn authorize(
        &self,
        caller: &Principal,
        action: &str,
        registry: &RegistryKey,
        repository: Option<&str>,
        facts: &RequestFacts,
    ) -> Result<()> {
        self.cached_decision(caller, action, registry, repository, facts, false)
            .await
    }

    /// Allowed from the decision cache, else by evaluation
    /// (`authorize_uncached`). A public read's allow is cached apart: it
    /// says nothing of the same action checked the usual way.
    async fn cached_decision(
        &self,
        caller: &Principal,
        action: &str,
        registry: &RegistryKey,
        repository: Option<&str>,
        facts: &RequestFacts,
        public_read: bool,
    ) -> Result<()> {
        let seen = self.authz.generation.load(Ordering::SeqCst);
        let parts = [
            caller.account_id.as_str(),
            caller.decision_key(),
            action,
            registry.account_id.as_str(),
            registry.region.as_str(),
            // Names never hold NUL or `^`: it stands for "the registry".
            repository.unwrap_or("^"),
            "public-read",
        ];
        let key = &parts[..if public_read { 7 } else { 6 }];
        if self.authz.decisions.contains(KeyRef(key)) {
            return Ok(());
        }
        // Only allows are cached: a denial is rarer, and its message names
        // the policy that denied.
        // Boxed: the evaluation's state stays off the future of every
        // request that the decision cache answers (256 connections hold 256
        // such futures).
        let cacheable = Box::pin(self.authorize_uncached(
            caller,
            action,
            registry,
            repository,
            facts,
            public_read,
        ))
        .await?;
        // A session with its own policies is its own key; its issue time
        // and MFA matter only under conditions, which are never cached.
        if cacheable {
            self.authz
                .fill(seen, || self.authz.decisions.insert(KeyRef(key)));
        }
        Ok(())
    }

    /// `Ok` if `caller` (anyone, anonymous too) may read public repository
    /// `name` of `registry` (an `@public` key) through `/v2`: `action` is
    /// one of `PUBLIC_READ_ACTIONS`. Public repositories are readable by
    /// every account, so the caller is judged as one of the owner's: only
    /// a Deny can refuse it, in its own identity policies or in the
    /// repository's policy (naming it, its account or `*`).
    pub async fn authorize_public_read(
        &self,
        caller: &Principal,
        action: &str,
        registry: &RegistryKey,
        name: &str,
        facts: &RequestFacts,
    ) -> Result<()> {
        self.cached_decision(caller, action, registry, Some(name), facts, true)
            .await
    }

    /// What callers without credentials may do (`--allow-anonymous`).
    pub fn anonymous_access(&self) -> AnonymousAccess {
        self.config.anonymous
    }

    /// The names among `names` (a sorted catalog page) that `caller` may
    /// perform `action` on: one read for the page's repository policies,
    /// then evaluation in memory.
    pub async fn filter_authorized(
        &self,
        caller: &Principal,
        action: &str,
        registry: &RegistryKey,
        names: Vec<String>,
        facts: &RequestFacts,
    ) -> Result<Vec<String>> {
        let (Some(first), Some(last)) = (names.first(), names.last()) else {
            return Ok(names);
        };
        let mut policies = std::collections::HashMap::new();
        for (name, text) in self
            .meta
            .repository_policies_between(registry, first, last)
            .await?
        {
            policies.insert(name, parse_stored(&text, PolicyKind::Resource)?);
        }
        let registry_policy = self.registry_policy_for(registry, action).await?;
        let identity = self.identity_policies(caller).await?;
        let tags_read = registry_policy.as_deref().is_some_and(reads_resource_tags)
            || identity.iter().any(|(_, p)| reads_resource_tags(p))
            || policies.values().any(|p| reads_resource_tags(p));
        let mut allowed = Vec::with_capacity(names.len());
        // Without resource tags the request's context is the same for every
        // name of the page (the principal, the time, the connection): built
        // once, only its resource changes. Building it per name (a map, the
        // time formatted) was most of a 1,000-name page's 3.3 ms.
        let userid_read = registry_policy.as_deref().is_some_and(reads_user_id)
            || identity.iter().any(|(_, p)| reads_user_id(p))
            || policies.values().any(|p| reads_user_id(p));
        let user_id = self.user_id_for_conditions(caller, userid_read).await?;
        let mut shared = (!tags_read).then(|| {
            with_user_id(
                facts.apply(self.request(caller, action, "")),
                user_id.as_deref(),
            )
        });
        let identity_policies = evaluator_identity(&identity);
        for name in names {
            let repository = policies.get(&name).map(|p| &**p);
            let decision = match &mut shared {
                Some(request) => {
                    request.resource = resource_arn(registry, Some(&name));
                    let involved = Involved {
                        identity: &identity,
                        session: session_policies(caller),
                        repository,
                        registry: registry_policy.as_deref(),
                        resource_tags: &[],
                        user_id: user_id.as_deref(),
                    };
                    evaluate_involved(request, &registry.account_id, &identity_policies, &involved)
                }
                None => {
                    // A condition needs the repository's tags: a rare
                    // policy, and then one indexed read per name.
                    let resource_tags = self.tags_for_conditions(registry, &name).await?;
                    let involved = Involved {
                        identity: &identity,
                        session: session_policies(caller),
                        repository,
                        registry: registry_policy.as_deref(),
                        resource_tags: &resource_tags,
                        user_id: user_id.as_deref(),
                    };
                    self.decide(
                        caller,
                        action,
                        (registry, None),
                        Some(&name),
                        &involved,
                        facts,
                    )
                    .0
                }
            };
            if decision.is_allowed() {
                allowed.push(name);
            }
        }
        Ok(allowed)
    }

    /// A repository's tags for `aws:ResourceTag` conditions; none when it
    /// does not exist (yet: CreateRepository is checked before).
    async fn tags_for_conditions(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Vec<ResourceTag>> {
        match self.meta.get_repository(registry, name).await? {
            Some(r) => Ok(self.meta.repository_tags(r.id).await?),
            None => Ok(Vec::new()),
        }
    }

    /// The one evaluation: `caller` doing `action` on `repository` of
    /// `registry` (`None`: the registry) under the policies involved.
    /// `judged_as`: the account the caller is judged a member of when it
    /// is not the registry's own (a public read), else `None`.
    fn decide(
        &self,
        caller: &Principal,
        action: &str,
        (registry, judged_as): (&RegistryKey, Option<&str>),
        repository: Option<&str>,
        involved: &Involved<'_>,
        facts: &RequestFacts,
    ) -> (Decision, Request) {
        let mut request =
            facts.apply(self.request(caller, action, &resource_arn(registry, repository)));
        for t in involved.resource_tags {
            request = request
                .with_context(&keys::resource_tag(&t.key), t.value.clone())
                .with_context(&keys::ecr_resource_tag(&t.key), t.value.clone());
        }
        request = with_user_id(request, involved.user_id);
        let identity = evaluator_identity(involved.identity);
        let account = judged_as.unwrap_or(&registry.account_id);
        let decision = evaluate_involved(&request, account, &identity, involved);
        (decision, request)
    }

    /// `caller` doing an action on a resource of its own account that has
    /// no resource policy (IAM's users and policies): its identity policies
    /// alone decide.
    pub(crate) async fn decide_identity_only(
        &self,
        caller: &Principal,
        action: &str,
        resource: &str,
        facts: &RequestFacts,
    ) -> Result<(Decision, Request)> {
        let own = (&*caller.account_id, None);
        self.decide_beside(caller, action, resource, own, facts, &[])
            .await
    }

    /// Why `caller`'s identity policies, under its request's facts, do not
    /// allow `action` on `resource` (AWS's AccessDenied text), or `None`
    /// when they allow it: the check of actions that have no resource
    /// policy (KMS's keyless operations, ECR Public's registries).
    pub(crate) async fn identity_denial(
        &self,
        caller: &Caller,
        action: &str,
        resource: &str,
    ) -> Result<Option<String>> {
        let (decision, request) = self
            .decide_identity_only(&caller.principal, action, resource, &caller.facts)
            .await?;
        Ok(decision.denial_message(&request))
    }

    /// `caller` doing `action` on `resource` of `resource_account`, which
    /// carries its own policy that must name the caller (a KMS key policy:
    /// naming the caller suffices; naming only the account delegates to
    /// the caller's identity policies, as AWS's key policies do), with
    /// `context` added to the request (`kms:EncryptionContext:…`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn decide_with_own_policy(
        &self,
        caller: &Principal,
        action: &str,
        resource: &str,
        resource_account: &str,
        policy: &Policy,
        facts: &RequestFacts,
        context: &[(String, Vec<String>)],
    ) -> Result<(Decision, Request)> {
        let owner = (resource_account, Some(policy));
        self.decide_beside(caller, action, resource, owner, facts, context)
            .await
    }

    /// The evaluation both share, outside the repository and registry
    /// caches: the caller's identity (and session) policies, and `owner`'s
    /// account with the resource's own policy if it has one (then it must
    /// name the caller: `evaluate_trust`).
    async fn decide_beside(
        &self,
        caller: &Principal,
        action: &str,
        resource: &str,
        (resource_account, own): (&str, Option<&Policy>),
        facts: &RequestFacts,
        context: &[(String, Vec<String>)],
    ) -> Result<(Decision, Request)> {
        let identity = self.identity_policies(caller).await?;
        let reads = identity.iter().any(|(_, p)| reads_user_id(p))
            || own.is_some_and(reads_user_id)
            || session_policies(caller).is_some_and(|ps| ps.iter().any(|(_, p)| reads_user_id(p)));
        let user_id = self.user_id_for_conditions(caller, reads).await?;
        let identity = evaluator_identity(&identity);
        let session = session_policies(caller).map(evaluator_identity);
        let mut request = with_user_id(
            facts.apply(self.request(caller, action, resource)),
            user_id.as_deref(),
        );
        for (k, v) in context {
            request = request.with_context_values(k, v.iter().cloned());
        }
        let policies = Policies {
            identity: &identity,
            session: session.as_deref(),
            repository: own,
            registry: None,
            resource_account,
        };
        let decision = match own {
            Some(_) => policy::evaluate_trust(&request, &policies),
            None => evaluate(&request, &policies),
        };
        Ok((decision, request))
    }

    /// A user's `aws:userid` (IAM's `AIDA…` UserId), when `read` (a
    /// condition names it): one indexed read, on the uncached path only. A
    /// role session's is in its principal already; anonymous has none.
    async fn user_id_for_conditions(
        &self,
        caller: &Principal,
        read: bool,
    ) -> Result<Option<String>> {
        if !read || caller.anonymous || caller.role().is_some() {
            return Ok(None);
        }
        Ok(self
            .meta
            .get_user(&caller.account_id, &caller.user)
            .await?
            .map(|u| u.user_id))
    }

    /// The request as policies see it: the principal's keys and the time.
    pub(crate) fn request(&self, caller: &Principal, action: &str, resource: &str) -> Request {
        let now = self.now();
        Request::new(caller.policy_principal(), action, resource)
            .with_context(keys::EPOCH_TIME, (now / 1000).to_string())
            .with_context(keys::CURRENT_TIME, berth_iam::dates::iso8601(now))
    }

    /// Evaluates; `Ok(true)` when the decision may be cached. A
    /// `public_read` (`authorize_public_read`) adds the public read grant
    /// to the caller's identity policies and judges the caller as one of
    /// the owner's account (no session or registry policy bears on it).
    async fn authorize_uncached(
        &self,
        caller: &Principal,
        action: &str,
        registry: &RegistryKey,
        repository: Option<&str>,
        facts: &RequestFacts,
        public_read: bool,
    ) -> Result<bool> {
        let repo_policy = match repository {
            Some(name) if name != "*" => self.parsed_repository_policy(registry, name).await?,
            _ => None,
        };
        let (registry_policy, session, judged_as) = if public_read {
            let account = if caller.anonymous {
                &registry.account_id
            } else {
                &caller.account_id
            };
            // A session's own policies still narrow what it may read.
            (None, session_policies(caller), Some(account.as_str()))
        } else {
            let policy = self.registry_policy_for(registry, action).await?;
            (policy, session_policies(caller), None)
        };
        let mut identity = self.identity_policies(caller).await?;
        if public_read {
            let mut with_grant = (*identity).clone();
            with_grant.push(("berth-public-read".to_string(), public_read_grant()));
            identity = Arc::new(with_grant);
        }
        let mut involved = Involved {
            identity: &identity,
            session,
            repository: repo_policy.as_deref(),
            registry: registry_policy.as_deref(),
            resource_tags: &[],
            user_id: None,
        };
        let cacheable = !involved.policies().any(has_conditions);
        let user_id = self
            .user_id_for_conditions(caller, involved.policies().any(reads_user_id))
            .await?;
        involved.user_id = user_id.as_deref();
        let resource_tags = match repository {
            Some(name) if name != "*" && involved.policies().any(reads_resource_tags) => {
                self.tags_for_conditions(registry, name).await?
            }
            _ => Vec::new(),
        };
        involved.resource_tags = &resource_tags;
        let (decision, request) = self.decide(
            caller,
            action,
            (registry, judged_as),
            repository,
            &involved,
            facts,
        );
        match decision {
            Decision::Allow => Ok(cacheable),
            d => Err(Error::AccessDenied(
                d.denial_message(&request)
                    .unwrap_or_else(|| format!("not authorized to perform {action}")),
            )),
        }
    }

    /// The caller's identity policies: a user's inline and attached ones
    /// and its groups'; a role session's role's (the account's `admin`
    /// needs none: the evaluator gives it AdministratorAccess).
    pub(crate) async fn identity_policies(
        &self,
        caller: &Principal,
    ) -> Result<Arc<Vec<(String, Arc<Policy>)>>> {
        if caller.anonymous {
            return Ok(self.authz.anonymous_grant.clone());
        }
        let name = caller.identity_key();
        if let Some(p) = self
            .authz
            .identities
            .get(&KeyPair(caller.account_id.as_str(), name))
        {
            return Ok(p);
        }
        let seen = self.authz.generation.load(Ordering::SeqCst);
        let account = &caller.account_id;
        let mut out = Vec::new();
        match caller.role() {
            Some(role) => {
                self.holder_policies(account, Holder::role(&role.name), &mut out)
                    .await?
            }
            None => {
                self.holder_policies(account, Holder::user(&caller.user), &mut out)
                    .await?;
                for g in self.meta.groups_for_user(account, &caller.user).await? {
                    self.holder_policies(account, Holder::group(&g.name), &mut out)
                        .await?;
                }
            }
        }
        let out = Arc::new(out);
        let key = (caller.account_id.clone(), name.to_string());
        self.authz
            .fill(seen, || self.authz.identities.insert(key, out.clone()));
        Ok(out)
    }

    /// A user's, role's or group's inline policies (by name) and attached
    /// ones (by ARN), parsed, appended to `out`.
    async fn holder_policies(
        &self,
        account: &str,
        holder: Holder<'_>,
        out: &mut Vec<(String, Arc<Policy>)>,
    ) -> Result<()> {
        for name in self.meta.list_inline_policies(account, holder).await? {
            if let Some(text) = self.meta.get_inline_policy(account, holder, &name).await? {
                out.push((name, parse_stored(&text, PolicyKind::Identity)?));
            }
        }
        for arn in self.meta.attached_policies(account, holder).await? {
            if let Some(p) = self.managed_policy(account, &arn).await? {
                out.push((arn, p));
            }
        }
        Ok(())
    }

    /// An AWS-managed policy, or the default version of one of the
    /// account's, by ARN; `None` if there is no such policy.
    pub(crate) async fn managed_policy(
        &self,
        account: &str,
        arn: &str,
    ) -> Result<Option<Arc<Policy>>> {
        if let Some(m) = policy::managed::by_arn(arn) {
            return Ok(Some(Arc::new(m.policy().clone())));
        }
        let Some(mp) = self.meta.get_managed_policy(account, arn).await? else {
            return Ok(None);
        };
        match self
            .meta
            .get_policy_version(account, arn, &mp.default_version)
            .await?
        {
            Some(v) => Ok(Some(parse_stored(&v.document, PolicyKind::Identity)?)),
            None => Ok(None),
        }
    }

    /// The ARN of the KMS key repository `name` is sealed under (`None`:
    /// AES256, or no such repository), read through the caches above.
    pub(crate) async fn repository_kms_key(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<Arc<str>>> {
        let key = [registry.account_id.as_str(), registry.region.as_str(), name];
        if self.authz.aes256_repositories.contains(KeyRef(&key)) {
            return Ok(None);
        }
        if let Some(arn) = self.authz.kms_repositories.get(&KeyPair(registry, name)) {
            return Ok(Some(arn));
        }
        let seen = self.authz.generation.load(Ordering::SeqCst);
        let Some(record) = self.meta.get_repository(registry, name).await? else {
            return Ok(None);
        };
        let arn: Option<Arc<str>> = record.kms_key.map(Arc::from);
        self.authz.fill(seen, || match &arn {
            Some(a) => self
                .authz
                .kms_repositories
                .insert((registry.clone(), name.to_string()), a.clone()),
            None => {
                self.authz.aes256_repositories.insert(KeyRef(&key));
            }
        });
        Ok(arn)
    }

    async fn parsed_repository_policy(
        &self,
        registry: &RegistryKey,
        name: &str,
    ) -> Result<Option<Arc<Policy>>> {
        let none_key = [registry.account_id.as_str(), registry.region.as_str(), name];
        if self.authz.no_repository_policy.contains(KeyRef(&none_key)) {
            return Ok(None);
        }
        if let Some(p) = self.authz.repository_policies.get(&KeyPair(registry, name)) {
            return Ok(Some(p));
        }
        let seen = self.authz.generation.load(Ordering::SeqCst);
        let p = match self.meta.repository_policy(registry, name).await? {
            Some(Some(text)) => Some(parse_stored(&text, PolicyKind::Resource)?),
            _ => None,
        };
        self.authz.fill(seen, || match &p {
            Some(p) => self
                .authz
                .repository_policies
                .insert((registry.clone(), name.to_string()), p.clone()),
            None => {
                self.authz.no_repository_policy.insert(KeyRef(&none_key));
            }
        });
        Ok(p)
    }

    /// The registry policy if it bears on `action`: always under
    /// `REGISTRY_POLICY_SCOPE` V2, only for replication and pull-through
    /// actions under V1.
    async fn registry_policy_for(
        &self,
        registry: &RegistryKey,
        action: &str,
    ) -> Result<Option<Arc<Policy>>> {
        if !self.settings.registry_policy_scope_v2(registry).await?
            && !V1_REGISTRY_ACTIONS
                .iter()
                .any(|a| a.eq_ignore_ascii_case(action))
        {
            return Ok(None);
        }
        self.parsed_registry_policy(registry).await
    }

    async fn parsed_registry_policy(&self, registry: &RegistryKey) -> Result<Option<Arc<Policy>>> {
        if let Some(p) = self.authz.registry_policies.get(registry) {
            return Ok(p);
        }
        let seen = self.authz.generation.load(Ordering::SeqCst);
        let p = match self.meta.registry_policy(registry).await? {
            Some(text) => Some(parse_stored(&text, PolicyKind::Resource)?),
            None => None,
        };
        self.authz.fill(seen, || {
            self.authz
                .registry_policies
                .insert(registry.clone(), p.clone())
        });
        Ok(p)
    }
}
