//! IAM users and their access keys: the registry's IAM calls (the same
//! ones, with the same authorization, as the IAM API's ListUsers,
//! CreateUser, DeleteUser, CreateAccessKey, ListAccessKeys,
//! UpdateAccessKey, DeleteAccessKey), as the signed-in user. A new key's
//! secret is shown on the page that answers its creation, and never again.

use super::session::{posted, signed_in, Ctx};
use super::view::{self, KeyRow, NewKey, UserRow};
use crate::AppState;
use axum::extract::{Request, State};
use axum::response::Response;

async fn page(ctx: &Ctx) -> view::Iam {
    let caller = ctx.caller();
    let identity = ctx.app.registry.identity();
    let mut page = view::Iam {
        frame: Some(ctx.frame("iam")),
        csrf: ctx.csrf.clone(),
        account: ctx.user.principal.account_id.clone(),
        users: vec![],
        can_create: identity.may_iam(&caller, "iam:CreateUser", None).await,
        new_key: None,
        notice: None,
        error: None,
    };
    let users = match identity.iam_list_users(&caller, None).await {
        Ok(u) => u,
        Err(e) => {
            let e = crate::aws_error::AwsError::from_registry(e, &page.account);
            page.error = Some(e.message().to_string());
            return page;
        }
    };
    for u in users {
        let keys = match identity
            .iam_list_access_keys(&caller, Some(u.name.as_str()))
            .await
        {
            Ok((_, mut keys)) => {
                keys.sort_by(|a, b| a.id.cmp(&b.id));
                keys.into_iter()
                    .map(|k| KeyRow {
                        status: if k.active { "Active" } else { "Inactive" }.to_string(),
                        created: view::time(Some((k.created_at / 1000) as f64)),
                        id: k.id,
                    })
                    .collect()
            }
            Err(_) => vec![],
        };
        let may = |action| identity.may_iam(&caller, action, Some(&u));
        page.users.push(UserRow {
            can_update: may("iam:UpdateAccessKey").await,
            can_delete_key: may("iam:DeleteAccessKey").await,
            can_create_key: may("iam:CreateAccessKey").await,
            can_delete: may("iam:DeleteUser").await,
            created: view::time(Some((u.created_at / 1000) as f64)),
            arn: u.arn.clone(),
            name: u.name.clone(),
            keys,
        });
    }
    page
}

pub async fn users(State(app): State<AppState>, request: Request) -> Response {
    let ctx: Ctx = signed_in!(app, request);
    view::render(&page(&ctx).await)
}

pub async fn act(State(app): State<AppState>, request: Request) -> Response {
    let (ctx, form) = posted!(app, request);
    let caller = ctx.caller();
    let identity = ctx.app.registry.identity();
    let (user, key) = (form.text("user"), form.text("key"));
    let mut new_key = None;
    let done = match form.get("op").unwrap_or_default() {
        "create-user" => identity
            .iam_create_user(&caller, &user, None)
            .await
            .map(|u| format!("User {} created.", u.name)),
        "delete-user" => identity
            .iam_delete_user(&caller, &user)
            .await
            .map(|()| format!("User {user} deleted.")),
        "create-key" => identity
            .iam_create_access_key(&caller, Some(&user))
            .await
            .map(|(info, k)| {
                new_key = Some(NewKey {
                    user: info.user_name,
                    id: info.id,
                    secret: k.secret,
                });
                String::new()
            }),
        "update-key" => {
            let active = form.get("status") == Some("Active");
            identity
                .iam_update_access_key(&caller, Some(&user), &key, active)
                .await
                .map(|()| {
                    format!(
                        "Access key {key} is now {}.",
                        if active { "active" } else { "inactive" }
                    )
                })
        }
        "delete-key" => identity
            .iam_delete_access_key(&caller, Some(&user), &key)
            .await
            .map(|()| format!("Access key {key} deleted.")),
        other => Err(berth_registry::Error::InvalidParameter(format!(
            "the console has no IAM action {other:?}"
        ))),
    };
    let mut page = page(&ctx).await;
    let status = match done {
        Ok(notice) => {
            page.notice = (!notice.is_empty()).then_some(notice);
            page.new_key = new_key;
            http::StatusCode::OK
        }
        Err(e) => {
            let status =
                crate::aws_error::AwsError::from_registry(e, &ctx.user.principal.account_id);
            page.error = Some(status.message().to_string());
            status.status()
        }
    };
    view::render_with(&page, status)
}
