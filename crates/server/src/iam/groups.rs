//! IAM groups: CreateGroup, GetGroup, ListGroups, DeleteGroup,
//! AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser. Rules live in
//! `berth_registry` (`iam_groups.rs`); shapes follow botocore's model.

use super::action::{reg, render, truncation, QueryAction, Service};
use super::query::{paginate, Query};
use super::users::user;
use super::xml::{Render, Xml};
use crate::aws_error::QueryError;
use crate::AppState;
use berth_registry::{Caller, IamGroup};

pub struct CreateGroup;

impl QueryAction for CreateGroup {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "CreateGroup";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let g = reg(app
            .registry
            .identity()
            .iam_create_group(caller, q.required("GroupName")?, q.optional("Path"))
            .await)?;
        render(move |x| x.elem("Group", |x| group(x, &g)))
    }
}

pub struct GetGroup;

impl QueryAction for GetGroup {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "GetGroup";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let (marker, max) = q.page()?;
        let (g, users) = reg(app
            .registry
            .identity()
            .iam_get_group(caller, q.required("GroupName")?)
            .await)?;
        let (page, next) = paginate(users, |u| u.name.as_str(), marker, max);
        render(move |x| {
            x.elem("Group", |x| group(x, &g));
            x.members("Users", &page, user);
            truncation(x, next);
        })
    }
}

pub struct ListGroups;

impl QueryAction for ListGroups {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "ListGroups";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let (marker, max) = q.page()?;
        let groups = reg(app
            .registry
            .identity()
            .iam_list_groups(caller, q.optional("PathPrefix"))
            .await)?;
        let (page, next) = paginate(groups, |g| g.name.as_str(), marker, max);
        render(move |x| {
            x.members("Groups", &page, group);
            truncation(x, next);
        })
    }
}

pub struct DeleteGroup;

impl QueryAction for DeleteGroup {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "DeleteGroup";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        reg(app
            .registry
            .identity()
            .iam_delete_group(caller, q.required("GroupName")?)
            .await)?;
        Ok(None)
    }
}

pub struct AddUserToGroup;

impl QueryAction for AddUserToGroup {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "AddUserToGroup";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        membership(app, caller, q, true).await
    }
}

pub struct RemoveUserFromGroup;

impl QueryAction for RemoveUserFromGroup {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "RemoveUserFromGroup";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        membership(app, caller, q, false).await
    }
}

async fn membership(
    app: &AppState,
    caller: &Caller,
    q: &Query,
    add: bool,
) -> Result<Render, QueryError> {
    reg(app
        .registry
        .identity()
        .iam_group_membership(
            caller,
            q.required("GroupName")?,
            q.required("UserName")?,
            add,
        )
        .await)?;
    Ok(None)
}

pub struct ListGroupsForUser;

impl QueryAction for ListGroupsForUser {
    const SERVICE: Service = Service::Iam;
    const NAME: &'static str = "ListGroupsForUser";

    async fn handle(app: &AppState, caller: &Caller, q: &Query) -> Result<Render, QueryError> {
        let (marker, max) = q.page()?;
        let groups = reg(app
            .registry
            .identity()
            .iam_groups_for_user(caller, q.required("UserName")?)
            .await)?;
        let (page, next) = paginate(groups, |g| g.name.as_str(), marker, max);
        render(move |x| {
            x.members("Groups", &page, group);
            truncation(x, next);
        })
    }
}

fn group(x: &mut Xml, g: &IamGroup) {
    x.leaf("Path", &g.path);
    x.leaf("GroupName", &g.name);
    x.leaf("GroupId", &g.group_id);
    x.leaf("Arn", &g.arn);
    x.time("CreateDate", g.created_at);
}
