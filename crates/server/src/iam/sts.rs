//! STS: GetCallerIdentity (what `aws sts get-caller-identity` and every
//! SDK's "who am I" call), AssumeRole and GetSessionToken. Rules live in
//! `berth_registry` (`identity/sts.rs`).

use super::action::{reg, render, QueryAction, Service};
use super::query::Query;
use super::xml::{Render, Xml};
use crate::aws_error::QueryError;
use crate::AppState;
use berth_registry::{AssumeRole as AssumeRoleRequest, Caller, TemporaryCredentials};

pub struct GetCallerIdentity;

impl QueryAction for GetCallerIdentity {
    const SERVICE: Service = Service::Sts;
    const NAME: &'static str = "GetCallerIdentity";

    async fn handle(app: &AppState, caller: &Caller, _: &Query) -> Result<Render, QueryError> {
        let u = reg(app.registry.identity().caller_identity(caller).await)?;
        render(move |x| {
            x.leaf("UserId", &u.user_id);
            x.leaf("Account", &u.account_id);
            x.leaf("Arn", &u.arn);
        })
    }
}

pub struct AssumeRole;

impl QueryAction for AssumeRole {
    const SERVICE: Service = Service::Sts;
    const NAME: &'static str = "AssumeRole";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        if q.optional("SerialNumber").is_some() || q.optional("TokenCode").is_some() {
            return Err(QueryError::validation(
                "berth has no MFA devices: AssumeRole does not take SerialNumber or TokenCode",
            ));
        }
        // Session tags and SourceIdentity would become condition keys
        // (`aws:PrincipalTag`, `sts:SourceIdentity`) that berth does not
        // carry yet: refused rather than dropped.
        for member in [
            "Tags.member.1.Key",
            "TransitiveTagKeys.member.1",
            "SourceIdentity",
        ] {
            if q.optional(member).is_some() {
                return Err(QueryError::validation(format!(
                    "berth does not support session tags or SourceIdentity on AssumeRole yet ({} was given); tag the role instead (TagRole), whose tags sessions carry as aws:PrincipalTag",
                    member.split('.').next().unwrap_or(member)
                )));
            }
        }
        let req = AssumeRoleRequest {
            role_arn: q.required("RoleArn")?.to_string(),
            session_name: q.required("RoleSessionName")?.to_string(),
            duration_secs: q.int("DurationSeconds")?,
            policy: q.optional("Policy").map(str::to_string),
            policy_arns: q
                .list("PolicyArns", Some("arn"))
                .into_iter()
                .map(str::to_string)
                .collect(),
            external_id: q.optional("ExternalId").map(str::to_string),
        };
        let (creds, user) = reg(app.registry.identity().assume_role(caller, req).await)?;
        render(move |x| {
            credentials(x, &creds);
            x.elem("AssumedRoleUser", |x| {
                x.leaf("AssumedRoleId", &user.assumed_role_id);
                x.leaf("Arn", &user.arn);
            });
            if let Some(p) = user.packed_policy_size {
                x.leaf("PackedPolicySize", &p.to_string());
            }
        })
    }
}

pub struct GetSessionToken;

impl QueryAction for GetSessionToken {
    const SERVICE: Service = Service::Sts;
    const NAME: &'static str = "GetSessionToken";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        if q.optional("SerialNumber").is_some() || q.optional("TokenCode").is_some() {
            return Err(QueryError::validation(
                "berth has no MFA devices: GetSessionToken does not take SerialNumber or TokenCode",
            ));
        }
        let key = caller.facts.signing_key.clone().unwrap_or_default();
        let creds = reg(app
            .registry
            .identity()
            .get_session_token(caller, &key, q.int("DurationSeconds")?)
            .await)?;
        render(move |x| credentials(x, &creds))
    }
}

fn credentials(x: &mut Xml, c: &TemporaryCredentials) {
    x.elem("Credentials", |x| {
        x.leaf("AccessKeyId", &c.access_key_id);
        x.leaf("SecretAccessKey", &c.secret_access_key);
        x.leaf("SessionToken", &c.session_token);
        x.time("Expiration", c.expires_at * 1000);
    });
}
