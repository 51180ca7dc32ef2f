//! One function per IAM (and STS) operation: read the members, call the
//! registry, say what to render. Rules live in `berth_registry`
//! (`iam_users.rs`, `policies.rs`); shapes follow botocore's models.

use super::query::{paginate, Query};
pub use super::xml::Render;
use super::xml::Xml;
use crate::aws_error::QueryError;
use crate::AppState;
use berth_registry::ManagedPolicyRecord;
use berth_registry::{AccessKeyInfo, Caller, IamUser, PolicyScope};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// RFC 3986's unreserved characters stay; everything else is encoded (how
/// IAM returns policy documents, and what botocore decodes).
const DOCUMENT_ENCODING: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn render(f: impl FnOnce(&mut Xml) + Send + 'static) -> Result<Render, QueryError> {
    Ok(Some(Box::new(f)))
}

fn reg<T>(r: berth_registry::Result<T>) -> Result<T, QueryError> {
    r.map_err(QueryError::from_registry)
}

/// The IAM operations berth answers; any other action answers `InvalidAction`.
pub async fn iam(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
    let r = app.registry.identity();
    match q.action.as_str() {
        "CreateUser" => {
            let u = reg(r
                .iam_create_user(caller, q.required("UserName")?, q.optional("Path"))
                .await)?;
            render(move |x| x.elem("User", |x| user(x, &u)))
        }
        "GetUser" => {
            let u = reg(r.iam_get_user(caller, q.optional("UserName")).await)?;
            render(move |x| x.elem("User", |x| user(x, &u)))
        }
        "ListUsers" => {
            let (marker, max) = q.page()?;
            let users = reg(r.iam_list_users(caller, q.optional("PathPrefix")).await)?;
            let (page, next) = paginate(users, |u| u.name.as_str(), marker, max);
            render(move |x| {
                x.members("Users", &page, user);
                truncation(x, next);
            })
        }
        "DeleteUser" => {
            reg(r.iam_delete_user(caller, q.required("UserName")?).await)?;
            Ok(None)
        }
        "CreateAccessKey" => {
            let (info, key) = reg(r
                .iam_create_access_key(caller, q.optional("UserName"))
                .await)?;
            render(move |x| {
                x.elem("AccessKey", |x| {
                    x.leaf("UserName", &info.user_name);
                    x.leaf("AccessKeyId", &info.id);
                    x.leaf("Status", status(&info));
                    // The secret is in this answer only.
                    x.leaf("SecretAccessKey", &key.secret);
                    x.time("CreateDate", info.created_at);
                })
            })
        }
        "ListAccessKeys" => {
            let (marker, max) = q.page()?;
            let (_, mut keys) = reg(r.iam_list_access_keys(caller, q.optional("UserName")).await)?;
            keys.sort_by(|a, b| a.id.cmp(&b.id));
            let (page, next) = paginate(keys, |k| k.id.as_str(), marker, max);
            render(move |x| {
                x.members("AccessKeyMetadata", &page, |x, k| {
                    x.leaf("UserName", &k.user_name);
                    x.leaf("AccessKeyId", &k.id);
                    x.leaf("Status", status(k));
                    x.time("CreateDate", k.created_at);
                });
                truncation(x, next);
            })
        }
        "UpdateAccessKey" => {
            let active = match q.required("Status")? {
                "Active" => true,
                "Inactive" => false,
                other => {
                    return Err(QueryError::validation(format!(
                        "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
                    )))
                }
            };
            reg(r
                .iam_update_access_key(
                    caller,
                    q.optional("UserName"),
                    q.required("AccessKeyId")?,
                    active,
                )
                .await)?;
            Ok(None)
        }
        "DeleteAccessKey" => {
            reg(r
                .iam_delete_access_key(caller, q.optional("UserName"), q.required("AccessKeyId")?)
                .await)?;
            Ok(None)
        }
        "PutUserPolicy" => {
            reg(r
                .put_user_policy(
                    caller,
                    q.required("UserName")?,
                    q.required("PolicyName")?,
                    q.required("PolicyDocument")?,
                )
                .await)?;
            Ok(None)
        }
        "GetUserPolicy" => {
            let (user_name, name) = (q.required("UserName")?, q.required("PolicyName")?);
            let doc = reg(r.get_user_policy(caller, user_name, name).await)?;
            let (user_name, name) = (user_name.to_string(), name.to_string());
            render(move |x| {
                x.leaf("UserName", &user_name);
                x.leaf("PolicyName", &name);
                x.leaf("PolicyDocument", &encode_document(&doc));
            })
        }
        "DeleteUserPolicy" => {
            reg(r
                .delete_user_policy(caller, q.required("UserName")?, q.required("PolicyName")?)
                .await)?;
            Ok(None)
        }
        "ListUserPolicies" => {
            let (marker, max) = q.page()?;
            let names = reg(r.list_user_policies(caller, q.required("UserName")?).await)?;
            let (page, next) = paginate(names, |n| n.as_str(), marker, max);
            render(move |x| {
                x.members("PolicyNames", &page, |x, n| x.text(n));
                truncation(x, next);
            })
        }
        "AttachUserPolicy" => {
            reg(r
                .attach_user_policy(caller, q.required("UserName")?, q.required("PolicyArn")?)
                .await)?;
            Ok(None)
        }
        "DetachUserPolicy" => {
            reg(r
                .detach_user_policy(caller, q.required("UserName")?, q.required("PolicyArn")?)
                .await)?;
            Ok(None)
        }
        "ListAttachedUserPolicies" => {
            let (marker, max) = q.page()?;
            let attached = reg(r
                .attached_user_policies(caller, q.required("UserName")?, q.optional("PathPrefix"))
                .await)?;
            let (page, next) = paginate(attached, |(_, arn)| arn.as_str(), marker, max);
            render(move |x| {
                x.members("AttachedPolicies", &page, |x, (name, arn)| {
                    x.leaf("PolicyName", name);
                    x.leaf("PolicyArn", arn);
                });
                truncation(x, next);
            })
        }
        "CreatePolicy" => {
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
        "GetPolicy" => {
            let p = reg(r.get_policy(caller, q.required("PolicyArn")?).await)?;
            render(move |x| x.elem("Policy", |x| policy(x, &p, true)))
        }
        "GetPolicyVersion" => {
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
        "ListPolicies" => {
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
        "DeletePolicy" => {
            reg(r.delete_policy(caller, q.required("PolicyArn")?).await)?;
            Ok(None)
        }
        other => Err(invalid_action(other, &q.version)),
    }
}

/// STS: only GetCallerIdentity (what `aws sts get-caller-identity` and
/// every SDK's "who am I" call).
pub async fn sts(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
    match q.action.as_str() {
        "GetCallerIdentity" => {
            let u = reg(app.registry.identity().caller_identity(caller).await)?;
            render(move |x| {
                x.leaf("UserId", &u.user_id);
                x.leaf("Account", &u.account_id);
                x.leaf("Arn", &u.arn);
            })
        }
        other => Err(invalid_action(other, &q.version)),
    }
}

pub fn invalid_action(action: &str, version: &str) -> QueryError {
    QueryError::new(
        http::StatusCode::BAD_REQUEST,
        "InvalidAction",
        format!("Could not find operation {action} for version {version}"),
    )
}

fn user(x: &mut Xml, u: &IamUser) {
    x.leaf("Path", &u.path);
    x.leaf("UserName", &u.name);
    x.leaf("UserId", &u.user_id);
    x.leaf("Arn", &u.arn);
    x.time("CreateDate", u.created_at);
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

fn status(k: &AccessKeyInfo) -> &'static str {
    if k.active {
        "Active"
    } else {
        "Inactive"
    }
}

/// `IsTruncated`, and `Marker` when there is a next page.
fn truncation(x: &mut Xml, next: Option<String>) {
    x.bool("IsTruncated", next.is_some());
    x.opt("Marker", next.as_deref());
}

fn encode_document(doc: &str) -> String {
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
