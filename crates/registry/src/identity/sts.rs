//! STS: AssumeRole (judged against the role's trust policy, with session
//! policies, ExternalId and role chaining), GetSessionToken, and
//! GetCallerIdentity for every kind of principal. Credentials are
//! self-contained (`berth_iam::session`): nothing is stored.

use super::authz::{evaluator_identity, session_policies, Caller};
use super::iam_holders::holder_arn;
use super::rules::{parse_stored, valid_user_name};
use super::Identity;
use crate::{Error, Result};
use berth_iam::policy::{evaluate_trust, keys, Decision, Policies, Policy, PolicyKind};
use berth_iam::session::{self, SessionClaims, SessionRole, SessionUser};
use berth_store::HolderKind;

/// AssumeRole's DurationSeconds bounds and default (seconds).
pub const MIN_SESSION_SECS: i64 = 900;
pub const DEFAULT_ROLE_SESSION_SECS: i64 = 3_600;
/// Role chaining: a role session assuming a role gets at most an hour.
pub const CHAINED_MAX_SECS: i64 = 3_600;
/// GetSessionToken's bounds and default.
pub const MAX_USER_SESSION_SECS: i64 = 129_600;
pub const DEFAULT_USER_SESSION_SECS: i64 = 43_200;
/// The session policy's packed limit (characters other than whitespace).
pub const MAX_SESSION_POLICY_CHARS: usize = 2_048;

/// Temporary credentials as STS returns them.
#[derive(Clone, PartialEq, Eq)]
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix s.
    pub expires_at: i64,
}

impl std::fmt::Debug for TemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TemporaryCredentials({}, <secret>)", self.access_key_id)
    }
}

/// AssumeRole's answer besides the credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssumedRoleUser {
    /// `AROA…:<session>`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    /// PackedPolicySize (percent of the limit), when session policies were given.
    pub packed_policy_size: Option<u32>,
}

/// AssumeRole's members.
#[derive(Clone, Debug, Default)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    pub duration_secs: Option<i64>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub external_id: Option<String>,
}

/// Who GetCallerIdentity says the caller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub user_id: String,
    pub account_id: String,
    pub arn: String,
}

fn validation(member: &str, value: &str, constraint: &str) -> Error {
    Error::InvalidParameter(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

fn check_duration(secs: i64, max: i64) -> Result<()> {
    if secs < MIN_SESSION_SECS {
        Err(validation(
            "durationSeconds",
            &secs.to_string(),
            &format!("Member must have value greater than or equal to {MIN_SESSION_SECS}"),
        ))
    } else if secs > max {
        Err(validation(
            "durationSeconds",
            &secs.to_string(),
            &format!("Member must have value less than or equal to {max}"),
        ))
    } else {
        Ok(())
    }
}

/// `arn:aws:iam::<account>:role<path><name>` → (account, path, name).
fn parse_role_arn(arn: &str) -> Option<(&str, String, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_name = resource.strip_prefix("role/")?;
    let (path, name) = match path_name.rsplit_once('/') {
        Some((p, n)) => (format!("/{p}/"), n),
        None => ("/".to_string(), path_name),
    };
    (super::rules::valid_account_id(account) && !name.is_empty()).then_some((account, path, name))
}

impl Identity {
    /// AssumeRole. Refusals are AWS's: AccessDenied naming the caller and
    /// the role (also when the role does not exist), ValidationError for
    /// the duration, the session name and the ARN.
    pub async fn assume_role(
        &self,
        caller: &Caller,
        req: AssumeRole,
    ) -> Result<(TemporaryCredentials, AssumedRoleUser)> {
        let name_ok =
            (2..=64).contains(&req.session_name.len()) && valid_user_name(&req.session_name);
        if !name_ok {
            let constraint = if (2..=64).contains(&req.session_name.len()) {
                "Member must satisfy regular expression pattern: [\\w+=,.@-]*"
            } else if req.session_name.len() < 2 {
                "Member must have length greater than or equal to 2"
            } else {
                "Member must have length less than or equal to 64"
            };
            return Err(validation("roleSessionName", &req.session_name, constraint));
        }
        let Some((account, _, role_name)) = parse_role_arn(&req.role_arn) else {
            return Err(Error::InvalidParameter(format!(
                "{} is invalid",
                req.role_arn
            )));
        };
        let duration = req.duration_secs.unwrap_or(DEFAULT_ROLE_SESSION_SECS);
        check_duration(duration, 43_200)?;
        let chained = caller.role().is_some();
        let denied = || {
            Error::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                caller.arn(),
                req.role_arn
            ))
        };
        let Some(role) = self.meta.get_role(account, role_name).await? else {
            return Err(denied());
        };
        let arn = holder_arn(account, HolderKind::Role, &role.path, &role.name);
        if arn != req.role_arn {
            return Err(denied());
        }
        // The trust policy, with the caller's identity policies.
        let trust = parse_stored(&role.trust_policy, PolicyKind::Resource)?;
        let identity = self.identity_policies(caller).await?;
        let identity = evaluator_identity(&identity);
        let session = session_policies(caller).map(evaluator_identity);
        let mut request = caller
            .facts
            .apply(self.request(caller, "sts:AssumeRole", &arn))
            .with_context(keys::ROLE_SESSION_NAME, req.session_name.clone());
        if let Some(x) = &req.external_id {
            request = request.with_context(keys::EXTERNAL_ID, x.clone());
        }
        let decision = evaluate_trust(
            &request,
            &Policies {
                identity: &identity,
                session: session.as_deref(),
                repository: Some(&trust),
                registry: None,
                resource_account: account,
            },
        );
        if decision != Decision::Allow {
            return Err(denied());
        }
        // Session policies, checked only once the caller may assume the
        // role: before that, nothing about the role's account (which
        // managed policies exist there) is answered.
        if req.policy_arns.len() > 10 {
            return Err(validation(
                "policyArns",
                &format!("{} ARNs", req.policy_arns.len()),
                "Member must have length less than or equal to 10",
            ));
        }
        if let Some(text) = &req.policy {
            // The model's bound on the raw text; the packed bound follows.
            if text.len() > MAX_SESSION_POLICY_CHARS {
                return Err(validation(
                    "policy",
                    &format!("{} characters", text.len()),
                    &format!(
                        "Member must have length less than or equal to {MAX_SESSION_POLICY_CHARS}"
                    ),
                ));
            }
            Policy::parse(text, PolicyKind::Identity)
                .map_err(|e| Error::MalformedPolicyDocument(e.to_string()))?;
        }
        // What the session carries, packed: the policy without whitespace
        // and the managed policies' ARNs, against AWS's 2,048.
        let given = req.policy.is_some() || !req.policy_arns.is_empty();
        let used = req
            .policy
            .as_deref()
            .map_or(0, |t| t.chars().filter(|c| !c.is_whitespace()).count())
            + req.policy_arns.iter().map(String::len).sum::<usize>();
        let percent = (used * 100).div_ceil(MAX_SESSION_POLICY_CHARS).max(1) as u32;
        if used > MAX_SESSION_POLICY_CHARS {
            return Err(Error::PackedPolicyTooLarge(format!(
                "Packed policy consumes {percent}% of allotted space, please use smaller policy for assume role."
            )));
        }
        let packed = given.then_some(percent);
        for p in &req.policy_arns {
            if self.managed_policy(account, p).await?.is_none() {
                return Err(Error::InvalidParameter(format!(
                    "Policy {p} does not exist or is not attachable."
                )));
            }
        }

        if chained && duration > CHAINED_MAX_SECS {
            return Err(Error::InvalidParameter(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into(),
            ));
        }
        if duration > role.max_session_duration {
            return Err(Error::InvalidParameter(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .into(),
            ));
        }

        let now = self.now();
        let claims = SessionClaims {
            secret: berth_iam::keys::new_secret_access_key(),
            account: account.to_string(),
            user: None,
            role: Some(SessionRole {
                name: role.name.clone(),
                path: role.path.clone(),
                id: role.role_id.clone(),
                session: req.session_name.clone(),
            }),
            iat: now,
            exp: now / 1000 + duration,
            mfa: false,
            policy: req.policy.clone(),
            policy_arns: req.policy_arns.clone(),
        };
        let creds = self.seal_credentials(claims);
        let assumed = berth_iam::policy::AssumedRole {
            name: role.name.clone(),
            id: role.role_id.clone(),
            session: req.session_name.clone(),
        };
        let user = AssumedRoleUser {
            assumed_role_id: assumed.user_id(),
            arn: assumed.arn(account),
            packed_policy_size: packed,
        };
        Ok((creds, user))
    }

    /// GetSessionToken: a user's own permissions, for a while, from its
    /// long-term key `access_key_id`. Refused with session credentials.
    pub async fn get_session_token(
        &self,
        caller: &Caller,
        access_key_id: &str,
        duration_secs: Option<i64>,
    ) -> Result<TemporaryCredentials> {
        if caller.session.is_some() {
            return Err(Error::AccessDenied(
                "Cannot call GetSessionToken with session credentials".into(),
            ));
        }
        let duration = duration_secs.unwrap_or(DEFAULT_USER_SESSION_SECS);
        check_duration(duration, MAX_USER_SESSION_SECS)?;
        let now = self.now();
        Ok(self.seal_credentials(SessionClaims {
            secret: berth_iam::keys::new_secret_access_key(),
            account: caller.account_id.clone(),
            user: Some(SessionUser {
                name: caller.user.clone(),
                path: caller.path.clone(),
                key: access_key_id.to_string(),
            }),
            role: None,
            iat: now,
            exp: now / 1000 + duration,
            mfa: false,
            policy: None,
            policy_arns: Vec::new(),
        }))
    }

    fn seal_credentials(&self, claims: SessionClaims) -> TemporaryCredentials {
        let id = session::new_key_id();
        TemporaryCredentials {
            session_token: session::seal(&self.config.server_key, &id, &claims),
            access_key_id: id,
            secret_access_key: claims.secret,
            expires_at: claims.exp,
        }
    }

    /// GetCallerIdentity: needs no permission (AWS ignores even a Deny).
    pub async fn caller_identity(&self, caller: &Caller) -> Result<CallerIdentity> {
        if let Some(role) = caller.role() {
            return Ok(CallerIdentity {
                user_id: role.user_id(),
                account_id: caller.account_id.clone(),
                arn: caller.arn(),
            });
        }
        let u = self.iam_user(&caller.account_id, &caller.user).await?;
        Ok(CallerIdentity {
            user_id: u.user_id,
            account_id: u.account_id,
            arn: u.arn,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_split_into_account_path_and_name() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::111122223333:role/node"),
            Some(("111122223333", "/".to_string(), "node"))
        );
        assert_eq!(
            parse_role_arn("arn:aws:iam::111122223333:role/service/eks/node"),
            Some(("111122223333", "/service/eks/".to_string(), "node"))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::111122223333:user/node"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::12:role/node"), None);
    }
}
