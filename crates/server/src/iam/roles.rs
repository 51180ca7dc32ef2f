//! IAM roles: CreateRole, GetRole, ListRoles, UpdateRole,
//! UpdateRoleDescription, UpdateAssumeRolePolicy, DeleteRole, TagRole,
//! UntagRole, ListRoleTags. Rules live in `berth_registry` (`iam_roles.rs`);
//! shapes follow botocore's model.

use super::action::{reg, render, truncation, QueryAction, Service};
use super::policies::encode_document;
use super::query::{paginate, Query};
use super::xml::{Render, Xml};
use crate::aws_error::QueryError;
use crate::AppState;
use berth_registry::{Caller, IamRole, NewRole, RoleUpdate};

pub struct CreateRole;

impl QueryAction for CreateRole {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "CreateRole";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let new = NewRole {
            name: q.required("RoleName")?.to_string(),
            path: q.optional("Path").map(str::to_string),
            trust_policy: q.required("AssumeRolePolicyDocument")?.to_string(),
            description: q.optional("Description").map(str::to_string),
            max_session_duration: q.int("MaxSessionDuration")?,
            tags: q.tags(),
        };
        let r = reg(app.registry.identity().iam_create_role(caller, new).await)?;
        render(move |x| x.elem("Role", |x| role(x, &r, true)))
    }
}

pub struct GetRole;

impl QueryAction for GetRole {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "GetRole";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let r = reg(app
            .registry
            .identity()
            .iam_get_role(caller, q.required("RoleName")?)
            .await)?;
        render(move |x| x.elem("Role", |x| role(x, &r, true)))
    }
}

pub struct ListRoles;

impl QueryAction for ListRoles {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "ListRoles";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let (marker, max) = q.page()?;
        let roles = reg(app
            .registry
            .identity()
            .iam_list_roles(caller, q.optional("PathPrefix"))
            .await)?;
        let (page, next) = paginate(roles, |r| r.name.as_str(), marker, max);
        render(move |x| {
            x.members("Roles", &page, |x, r| role(x, r, false));
            truncation(x, next);
        })
    }
}

pub struct UpdateRole;

impl QueryAction for UpdateRole {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "UpdateRole";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let update = RoleUpdate {
            description: q.optional("Description").map(str::to_string),
            max_session_duration: q.int("MaxSessionDuration")?,
            trust_policy: None,
        };
        reg(app
            .registry
            .identity()
            .iam_update_role(caller, q.required("RoleName")?, update)
            .await)?;
        // The model's only empty output with a result wrapper: botocore
        // looks for `<UpdateRoleResult/>`.
        render(|_| {})
    }
}

pub struct UpdateRoleDescription;

impl QueryAction for UpdateRoleDescription {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "UpdateRoleDescription";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let name = q.required("RoleName")?;
        let update = RoleUpdate {
            description: Some(q.required("Description")?.to_string()),
            ..Default::default()
        };
        let identity = app.registry.identity();
        reg(identity.iam_update_role(caller, name, update).await)?;
        let r = reg(identity.iam_get_role(caller, name).await)?;
        render(move |x| x.elem("Role", |x| role(x, &r, true)))
    }
}

pub struct UpdateAssumeRolePolicy;

impl QueryAction for UpdateAssumeRolePolicy {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "UpdateAssumeRolePolicy";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let update = RoleUpdate {
            trust_policy: Some(q.required("PolicyDocument")?.to_string()),
            ..Default::default()
        };
        reg(app
            .registry
            .identity()
            .iam_update_role(caller, q.required("RoleName")?, update)
            .await)?;
        Ok(None)
    }
}

pub struct DeleteRole;

impl QueryAction for DeleteRole {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "DeleteRole";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        reg(app
            .registry
            .identity()
            .iam_delete_role(caller, q.required("RoleName")?)
            .await)?;
        Ok(None)
    }
}

pub struct TagRole;

impl QueryAction for TagRole {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "TagRole";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        reg(app
            .registry
            .identity()
            .iam_tag_role(caller, q.required("RoleName")?, q.tags())
            .await)?;
        Ok(None)
    }
}

pub struct UntagRole;

impl QueryAction for UntagRole {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "UntagRole";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let keys = q
            .list("TagKeys", None)
            .into_iter()
            .map(str::to_string)
            .collect();
        reg(app
            .registry
            .identity()
            .iam_untag_role(caller, q.required("RoleName")?, keys)
            .await)?;
        Ok(None)
    }
}

pub struct ListRoleTags;

impl QueryAction for ListRoleTags {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "ListRoleTags";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let (marker, max) = q.page()?;
        let tags = reg(app
            .registry
            .identity()
            .iam_list_role_tags(caller, q.required("RoleName")?)
            .await)?;
        let (page, next) = paginate(tags, |(k, _)| k.as_str(), marker, max);
        render(move |x| {
            x.members("Tags", &page, |x, (k, v)| {
                x.leaf("Key", k);
                x.leaf("Value", v);
            });
            truncation(x, next);
        })
    }
}

/// A `Role` shape; `full` adds what GetRole shows beyond ListRoles.
fn role(x: &mut Xml, r: &IamRole, full: bool) {
    x.leaf("Path", &r.path);
    x.leaf("RoleName", &r.name);
    x.leaf("RoleId", &r.role_id);
    x.leaf("Arn", &r.arn);
    x.time("CreateDate", r.created_at);
    x.leaf(
        "AssumeRolePolicyDocument",
        &encode_document(&r.trust_policy),
    );
    x.opt("Description", r.description.as_deref());
    x.leaf("MaxSessionDuration", &r.max_session_duration.to_string());
    if full && !r.tags.is_empty() {
        x.members("Tags", &r.tags, |x, (k, v)| {
            x.leaf("Key", k);
            x.leaf("Value", v);
        });
    }
}
