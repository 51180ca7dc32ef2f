//! The inline and attached policies of users, roles and groups:
//! Put/Get/Delete/List{User,Role,Group}Policy(ies),
//! Attach/Detach{..}Policy, ListAttached{..}Policies. One generic
//! implementation per action, made three times by `holder_actions!`; the
//! rules are `berth_registry`'s (`iam_holders.rs`).

use super::action::{reg, render, truncation, QueryAction, Service};
use super::policies::encode_document;
use super::query::{paginate, Query};
use super::xml::Render;
use crate::aws_error::QueryError;
use crate::AppState;
use berth_registry::{Caller, Holder};

/// The holder a request names, by its member (`UserName`, `RoleName`,
/// `GroupName`).
fn holder<'q>(
    q: &'q Query,
    member: &str,
    make: fn(&'q str) -> Holder<'q>,
) -> Result<Holder<'q>, QueryError> {
    Ok(make(q.required(member)?))
}

async fn put(
    app: &AppState,
    caller: &Caller,
    q: &Query,
    h: Holder<'_>,
) -> Result<Render, QueryError> {
    let r = app.registry.identity();
    reg(r
        .put_holder_policy(
            caller,
            h,
            q.required("PolicyName")?,
            q.required("PolicyDocument")?,
        )
        .await)?;
    Ok(None)
}

async fn get(
    app: &AppState,
    caller: &Caller,
    q: &Query,
    h: Holder<'_>,
    member: &'static str,
) -> Result<Render, QueryError> {
    let name = q.required("PolicyName")?;
    let doc = reg(app
        .registry
        .identity()
        .get_holder_policy(caller, h, name)
        .await)?;
    let (owner, name) = (h.name.to_string(), name.to_string());
    render(move |x| {
        x.leaf(member, &owner);
        x.leaf("PolicyName", &name);
        x.leaf("PolicyDocument", &encode_document(&doc));
    })
}

async fn delete(
    app: &AppState,
    caller: &Caller,
    q: &Query,
    h: Holder<'_>,
) -> Result<Render, QueryError> {
    reg(app
        .registry
        .identity()
        .delete_holder_policy(caller, h, q.required("PolicyName")?)
        .await)?;
    Ok(None)
}

async fn list(
    app: &AppState,
    caller: &Caller,
    q: &Query,
    h: Holder<'_>,
) -> Result<Render, QueryError> {
    let (marker, max) = q.page()?;
    let names = reg(app
        .registry
        .identity()
        .list_holder_policies(caller, h)
        .await)?;
    let (page, next) = paginate(names, |n| n.as_str(), marker, max);
    render(move |x| {
        x.members("PolicyNames", &page, |x, n| x.text(n));
        truncation(x, next);
    })
}

async fn attach(
    app: &AppState,
    caller: &Caller,
    q: &Query,
    h: Holder<'_>,
) -> Result<Render, QueryError> {
    reg(app
        .registry
        .identity()
        .attach_holder_policy(caller, h, q.required("PolicyArn")?)
        .await)?;
    Ok(None)
}

async fn detach(
    app: &AppState,
    caller: &Caller,
    q: &Query,
    h: Holder<'_>,
) -> Result<Render, QueryError> {
    reg(app
        .registry
        .identity()
        .detach_holder_policy(caller, h, q.required("PolicyArn")?)
        .await)?;
    Ok(None)
}

async fn attached(
    app: &AppState,
    caller: &Caller,
    q: &Query,
    h: Holder<'_>,
) -> Result<Render, QueryError> {
    let (marker, max) = q.page()?;
    let attached = reg(app
        .registry
        .identity()
        .attached_holder_policies(caller, h, q.optional("PathPrefix"))
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

/// The seven actions of one kind of holder.
macro_rules! holder_actions {
    ($member:literal, $make:path;
     $put:ident, $get:ident, $delete:ident, $list:ident, $attach:ident, $detach:ident, $attached:ident) => {
        holder_actions!(@one $put, $member, $make, |app, caller, q, h| put(app, caller, q, h));
        holder_actions!(@one $get, $member, $make, |app, caller, q, h| get(app, caller, q, h, $member));
        holder_actions!(@one $delete, $member, $make, |app, caller, q, h| delete(app, caller, q, h));
        holder_actions!(@one $list, $member, $make, |app, caller, q, h| list(app, caller, q, h));
        holder_actions!(@one $attach, $member, $make, |app, caller, q, h| attach(app, caller, q, h));
        holder_actions!(@one $detach, $member, $make, |app, caller, q, h| detach(app, caller, q, h));
        holder_actions!(@one $attached, $member, $make, |app, caller, q, h| attached(app, caller, q, h));
    };
    (@one $name:ident, $member:literal, $make:path, |$app:ident, $caller:ident, $q:ident, $h:ident| $body:expr) => {
        pub struct $name;

        impl QueryAction for $name {
            const SERVICE: Service = Service::Iam;
            const NAME: &'static str = stringify!($name);

            async fn handle($app: &AppState, $caller: &Caller, $q: &Query) -> Result<Render, QueryError> {
                let $h = holder($q, $member, $make)?;
                $body.await
            }
        }
    };
}

holder_actions!("UserName", Holder::user;
    PutUserPolicy, GetUserPolicy, DeleteUserPolicy, ListUserPolicies,
    AttachUserPolicy, DetachUserPolicy, ListAttachedUserPolicies);
holder_actions!("RoleName", Holder::role;
    PutRolePolicy, GetRolePolicy, DeleteRolePolicy, ListRolePolicies,
    AttachRolePolicy, DetachRolePolicy, ListAttachedRolePolicies);
holder_actions!("GroupName", Holder::group;
    PutGroupPolicy, GetGroupPolicy, DeleteGroupPolicy, ListGroupPolicies,
    AttachGroupPolicy, DetachGroupPolicy, ListAttachedGroupPolicies);
