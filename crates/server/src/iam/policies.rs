//! IAM managed policies (CreatePolicy, GetPolicy, GetPolicyVersion,
//! ListPolicies, DeletePolicy); the inline and attached policies of users,
//! roles and groups are `holder_policies.rs`'. Rules live in `berth_registry`
//! (`iam_users.rs`, `policies.rs`); shapes follow botocore's model.

use super::action::{reg, render, truncation, QueryAction, Service};
use super::query::{paginate, Query};
use super::xml::{Render, Xml};
use crate::aws_error::QueryError;
use crate::AppState;
use berth_registry::ManagedPolicyRecord;
use berth_registry::{Caller, PolicyScope};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// RFC 3986's unreserved characters stay; everything else is encoded (how
/// IAM returns policy documents, and what botocore decodes).
const DOCUMENT_ENCODING: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub struct CreatePolicy;

impl QueryAction for CreatePolicy {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "CreatePolicy";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
        let p = reg(r
            .create_policy(
                caller,
                q.required("PolicyName")?,
                q.optional("Path"),
                q.required("PolicyDocument")?,
                q.optional("Description"),
            )
            .await)?;
        render(move |x| x.elem("Policy", |x| policy(x, &p, true)))
    }
}

pub struct GetPolicy;

impl QueryAction for GetPolicy {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "GetPolicy";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
        let p = reg(r.get_policy(caller, q.required("PolicyArn")?).await)?;
        render(move |x| x.elem("Policy", |x| policy(x, &p, true)))
    }
}

pub struct GetPolicyVersion;

impl QueryAction for GetPolicyVersion {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "GetPolicyVersion";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
        let v = reg(r
            .get_policy_version(caller, q.required("PolicyArn")?, q.required("VersionId")?)
            .await)?;
        render(move |x| {
            x.elem("PolicyVersion", |x| {
                x.leaf("Document", &encode_document(&v.document));
                x.leaf("VersionId", &v.version_id);
                x.bool("IsDefaultVersion", v.is_default);
                x.time("CreateDate", v.created_at);
            })
        })
    }
}

pub struct ListPolicies;

impl QueryAction for ListPolicies {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "ListPolicies";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
        let scope = match q.optional("Scope").unwrap_or("All") {
            "All" => PolicyScope::All,
            "AWS" => PolicyScope::Aws,
            "Local" => PolicyScope::Local,
            other => {
                return Err(QueryError::validation(format!(
                    "1 validation error detected: Value '{other}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]"
                )))
            }
        };
        let (marker, max) = q.page()?;
        let mut policies = reg(r
            .list_policies(
                caller,
                scope,
                q.flag("OnlyAttached")?,
                q.optional("PathPrefix"),
            )
            .await)?;
        // berth has no permissions boundaries: no policy is used as one.
        if q.optional("PolicyUsageFilter") == Some("PermissionsBoundary") {
            policies.clear();
        }
        let (page, next) = paginate(policies, |p| p.arn.as_str(), marker, max);
        render(move |x| {
            // ListPolicies leaves descriptions out, as AWS does.
            x.members("Policies", &page, |x, p| policy(x, p, false));
            truncation(x, next);
        })
    }
}

pub struct DeletePolicy;

impl QueryAction for DeletePolicy {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "DeletePolicy";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
        reg(r.delete_policy(caller, q.required("PolicyArn")?).await)?;
        Ok(None)
    }
}

fn policy(x: &mut Xml, p: &ManagedPolicyRecord, with_description: bool) {
    x.leaf("PolicyName", &p.name);
    x.leaf("PolicyId", &p.policy_id);
    x.leaf("Arn", &p.arn);
    x.leaf("Path", &p.path);
    x.leaf("DefaultVersionId", &p.default_version);
    x.leaf("AttachmentCount", &p.attachment_count.to_string());
    x.leaf("PermissionsBoundaryUsageCount", "0");
    x.bool("IsAttachable", true);
    if with_description {
        x.opt("Description", p.description.as_deref());
    }
    x.time("CreateDate", p.created_at);
    x.time("UpdateDate", p.updated_at);
}

pub(super) fn encode_document(doc: &str) -> String {
    utf8_percent_encode(doc, DOCUMENT_ENCODING).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_returned_url_encoded() {
        assert_eq!(
            encode_document(r#"{"Statement": [{"Effect":"Allow"}]}"#),
            "%7B%22Statement%22%3A%20%5B%7B%22Effect%22%3A%22Allow%22%7D%5D%7D"
        );
        assert_eq!(encode_document("a-b_c.d~e"), "a-b_c.d~e");
    }
}
