//! A repository's lifecycle policy (an editor whose preview is the API's
//! own StartLifecyclePolicyPreview, evaluated within the call) and its
//! repository policy, each saved through the API's operation so that its
//! validation messages are the page's.

use super::pages::{refused, session};
use super::session::Ctx;
use super::view::{self, PreviewRow};
use crate::AppState;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde_json::{json, Value};

/// Pages of 100 preview results shown (the first 1,000 images acted on).
const PREVIEW_PAGES: usize = 10;

/// A policy offered when the repository has none: expire untagged images
/// a day after their push.
const STARTER_LIFECYCLE: &str = r#"{
  "rules": [
    {
      "rulePriority": 1,
      "description": "Expire untagged images after a day",
      "selection": {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 1
      },
      "action": { "type": "expire" }
    }
  ]
}"#;

fn pretty(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

async fn lifecycle_page(ctx: &Ctx, name: &str) -> Result<view::Lifecycle, Response> {
    let policy = match ctx
        .ecr("GetLifecyclePolicy", json!({"repositoryName": name}))
        .await
    {
        Ok(v) => pretty(v["lifecyclePolicyText"].as_str().unwrap_or_default()),
        Err(e) if e.kind() == "LifecyclePolicyNotFoundException" => STARTER_LIFECYCLE.into(),
        Err(e) => return Err(refused(ctx, &e)),
    };
    Ok(view::Lifecycle {
        frame: Some(ctx.frame("repositories")),
        csrf: ctx.csrf.clone(),
        name: name.to_string(),
        policy,
        can_save: ctx.can("ecr:PutLifecyclePolicy", Some(name)).await,
        notice: None,
        error: None,
        preview: None,
    })
}

pub async fn lifecycle(
    State(app): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let ctx: Ctx = session!(app, parts);
    match lifecycle_page(&ctx, &name).await {
        Ok(page) => view::render(&page),
        Err(resp) => resp,
    }
}

pub async fn lifecycle_post(
    State(app): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let ctx: Ctx = session!(app, parts);
    let form = match ctx.form(body).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let mut page = match lifecycle_page(&ctx, &name).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    page.policy = form.get("policy").unwrap_or_default().to_string();
    let text = json!(page.policy);
    let status = if form.get("action") == Some("save") {
        match ctx
            .ecr(
                "PutLifecyclePolicy",
                json!({"repositoryName": name, "lifecyclePolicyText": text}),
            )
            .await
        {
            Ok(_) => {
                page.notice = Some("Saved. berth applies it on its next lifecycle run.".into());
                http::StatusCode::OK
            }
            Err(e) => {
                page.error = Some(e.message().to_string());
                e.status()
            }
        }
    } else {
        match preview(&ctx, &name, text).await {
            Ok(rows) => {
                page.preview = Some(rows);
                http::StatusCode::OK
            }
            Err(e) => {
                page.error = Some(e.message().to_string());
                e.status()
            }
        }
    };
    view::render_with(&page, status)
}

/// The API's preview of `text` over the repository now: started (it is
/// evaluated within the call) and read back.
async fn preview(
    ctx: &Ctx,
    name: &str,
    text: Value,
) -> Result<Vec<PreviewRow>, crate::aws_error::AwsError> {
    ctx.ecr(
        "StartLifecyclePolicyPreview",
        json!({"repositoryName": name, "lifecyclePolicyText": text}),
    )
    .await?;
    let mut results: Vec<Value> = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..PREVIEW_PAGES {
        let mut input = json!({"repositoryName": name, "maxResults": 100});
        if let Some(t) = &next {
            input["nextToken"] = json!(t);
        }
        let out = ctx.ecr("GetLifecyclePolicyPreview", input).await?;
        results.extend(
            out["previewResults"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        next = out["nextToken"].as_str().map(str::to_string);
        if next.is_none() {
            break;
        }
    }
    Ok(results.iter().map(preview_row).collect())
}

fn preview_row(r: &Value) -> PreviewRow {
    PreviewRow {
        tags: r["imageTags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        digest: r["imageDigest"].as_str().unwrap_or_default().to_string(),
        pushed: view::time(r["imagePushedAt"].as_f64()),
        action: match r["action"]["type"].as_str() {
            Some("EXPIRE") => "Expire".to_string(),
            Some(other) => format!(
                "{} to {}",
                other,
                r["action"]["targetStorageClass"].as_str().unwrap_or("")
            ),
            None => String::new(),
        },
        rule: r["appliedRulePriority"].as_i64().unwrap_or_default(),
    }
}

async fn policy_page(ctx: &Ctx, name: &str) -> Result<view::Policy, Response> {
    let policy = match ctx
        .ecr("GetRepositoryPolicy", json!({"repositoryName": name}))
        .await
    {
        Ok(v) => pretty(v["policyText"].as_str().unwrap_or_default()),
        Err(e) if e.kind() == "RepositoryPolicyNotFoundException" => String::new(),
        Err(e) => return Err(refused(ctx, &e)),
    };
    Ok(view::Policy {
        frame: Some(ctx.frame("repositories")),
        csrf: ctx.csrf.clone(),
        name: name.to_string(),
        policy,
        can_save: ctx.can("ecr:SetRepositoryPolicy", Some(name)).await,
        notice: None,
        error: None,
    })
}

pub async fn policy(
    State(app): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let ctx: Ctx = session!(app, parts);
    match policy_page(&ctx, &name).await {
        Ok(page) => view::render(&page),
        Err(resp) => resp,
    }
}

pub async fn policy_post(
    State(app): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let ctx: Ctx = session!(app, parts);
    let form = match ctx.form(body).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    let mut page = match policy_page(&ctx, &name).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    page.policy = form.get("policy").unwrap_or_default().to_string();
    match ctx
        .ecr(
            "SetRepositoryPolicy",
            json!({"repositoryName": name, "policyText": page.policy}),
        )
        .await
    {
        Ok(_) => {
            page.notice = Some("Saved.".into());
            view::render(&page)
        }
        Err(e) => {
            page.error = Some(e.message().to_string());
            view::render_with(&page, e.status())
        }
    }
}
