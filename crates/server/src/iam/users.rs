//! IAM users and their access keys: CreateUser, GetUser, ListUsers,
//! DeleteUser, CreateAccessKey, ListAccessKeys, UpdateAccessKey,
//! DeleteAccessKey. Rules live in `berth_registry` (`iam_users.rs`);
//! shapes follow botocore's model.

use super::action::{reg, render, truncation, QueryAction, Service};
use super::query::{paginate, Query};
use super::xml::{Render, Xml};
use crate::aws_error::QueryError;
use crate::AppState;
use berth_registry::{AccessKeyInfo, Caller, IamUser};

pub struct CreateUser;

impl QueryAction for CreateUser {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "CreateUser";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
        let u = reg(r
            .iam_create_user(caller, q.required("UserName")?, q.optional("Path"))
            .await)?;
        render(move |x| x.elem("User", |x| user(x, &u)))
    }
}

pub struct GetUser;

impl QueryAction for GetUser {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "GetUser";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
        let u = reg(r.iam_get_user(caller, q.optional("UserName")).await)?;
        render(move |x| x.elem("User", |x| user(x, &u)))
    }
}

pub struct ListUsers;

impl QueryAction for ListUsers {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "ListUsers";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
        let (marker, max) = q.page()?;
        let users = reg(r.iam_list_users(caller, q.optional("PathPrefix")).await)?;
        let (page, next) = paginate(users, |u| u.name.as_str(), marker, max);
        render(move |x| {
            x.members("Users", &page, user);
            truncation(x, next);
        })
    }
}

pub struct DeleteUser;

impl QueryAction for DeleteUser {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "DeleteUser";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
        reg(r.iam_delete_user(caller, q.required("UserName")?).await)?;
        Ok(None)
    }
}

pub struct CreateAccessKey;

impl QueryAction for CreateAccessKey {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "CreateAccessKey";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
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
}

pub struct ListAccessKeys;

impl QueryAction for ListAccessKeys {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "ListAccessKeys";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
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
}

pub struct UpdateAccessKey;

impl QueryAction for UpdateAccessKey {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "UpdateAccessKey";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
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
}

pub struct DeleteAccessKey;

impl QueryAction for DeleteAccessKey {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "DeleteAccessKey";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = app.registry.identity();
        reg(r
            .iam_delete_access_key(caller, q.optional("UserName"), q.required("AccessKeyId")?)
            .await)?;
        Ok(None)
    }
}

pub(super) fn user(x: &mut Xml, u: &IamUser) {
    x.leaf("Path", &u.path);
    x.leaf("UserName", &u.name);
    x.leaf("UserId", &u.user_id);
    x.leaf("Arn", &u.arn);
    x.time("CreateDate", u.created_at);
}

fn status(k: &AccessKeyInfo) -> &'static str {
    if k.active {
        "Active"
    } else {
        "Inactive"
    }
}
