//! A repository's lifecycle policy (an editor whose preview is the API's
//! own StartLifecyclePolicyPreview, evaluated within the call) and its
//! repository policy, each saved through the API's operation so that its
//! validation messages are the page's.

use super::pages::refused;
use super::session::{posted, signed_in, Ctx};
use super::view::{self, PreviewRow};
use crate::aws_error::AwsError;
use crate::AppState;
use axum::extract::{Path, Request, State};
use axum::response::Response;
use http::StatusCode;
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

/// A repository's JSON document that a page edits: the operations that
/// read and save it, its member in both, the exception that says there is
/// none (and what the editor then starts from).
struct Document {
    get: &'static str,
    put: &'static str,
    member: &'static str,
    none: &'static str,
    starter: &'static str,
}

const LIFECYCLE: Document = Document {
    get: "GetLifecyclePolicy",
    put: "PutLifecyclePolicy",
    member: "lifecyclePolicyText",
    none: "LifecyclePolicyNotFoundException",
    starter: STARTER_LIFECYCLE,
};

const POLICY: Document = Document {
    get: "GetRepositoryPolicy",
    put: "SetRepositoryPolicy",
    member: "policyText",
    none: "RepositoryPolicyNotFoundException",
    starter: "",
};

impl Document {
    /// The stored text (pretty-printed), and whether the user may save.
    async fn load(&self, ctx: &Ctx, name: &str) -> Result<(String, bool), Response> {
        let text = match ctx.ecr(self.get, json!({"repositoryName": name})).await {
            Ok(v) => pretty(v[self.member].as_str().unwrap_or_default()),
            Err(e) if e.kind() == self.none => self.starter.to_string(),
            Err(e) => return Err(refused(ctx, &e)),
        };
        Ok((
            text,
            ctx.can(&format!("ecr:{}", self.put), Some(name)).await,
        ))
    }

    async fn save(&self, ctx: &Ctx, name: &str, text: &str) -> Result<(), AwsError> {
        ctx.ecr(self.put, json!({"repositoryName": name, self.member: text}))
            .await
            .map(|_| ())
    }
}

/// How a save or preview ended, on its page: a notice, or AWS's message
/// and status.
fn outcome<T>(
    result: Result<T, AwsError>,
    notice: &mut Option<String>,
    error: &mut Option<String>,
    said: impl FnOnce(T) -> Option<String>,
) -> StatusCode {
    match result {
        Ok(v) => {
            *notice = said(v);
            StatusCode::OK
        }
        Err(e) => {
            *error = Some(e.message().to_string());
            e.status()
        }
    }
}

async fn lifecycle_page(ctx: &Ctx, name: &str) -> Result<view::Lifecycle, Response> {
    let (policy, can_save) = LIFECYCLE.load(ctx, name).await?;
    Ok(view::Lifecycle {
        frame: Some(ctx.frame("repositories")),
        csrf: ctx.csrf.clone(),
        name: name.to_string(),
        policy,
        can_save,
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
    let ctx: Ctx = signed_in!(app, request);
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
    let (ctx, form) = posted!(app, request);
    let mut page = match lifecycle_page(&ctx, &name).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    page.policy = form.get("policy").unwrap_or_default().to_string();
    let status = if form.get("action") == Some("save") {
        let saved = LIFECYCLE.save(&ctx, &name, &page.policy).await;
        outcome(saved, &mut page.notice, &mut page.error, |()| {
            Some("Saved. berth applies it on its next lifecycle run.".into())
        })
    } else {
        let rows = preview(&ctx, &name, json!(page.policy)).await;
        let mut shown = None;
        let status = outcome(rows, &mut page.notice, &mut page.error, |rows| {
            shown = Some(rows);
            None
        });
        page.preview = shown;
        status
    };
    view::render_with(&page, status)
}

/// The API's preview of `text` over the repository now: started (it is
/// evaluated within the call) and read back.
async fn preview(ctx: &Ctx, name: &str, text: Value) -> Result<Vec<PreviewRow>, AwsError> {
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
    let (policy, can_save) = POLICY.load(ctx, name).await?;
    Ok(view::Policy {
        frame: Some(ctx.frame("repositories")),
        csrf: ctx.csrf.clone(),
        name: name.to_string(),
        policy,
        can_save,
        notice: None,
        error: None,
    })
}

pub async fn policy(
    State(app): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let ctx: Ctx = signed_in!(app, request);
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
    let (ctx, form) = posted!(app, request);
    let mut page = match policy_page(&ctx, &name).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    page.policy = form.get("policy").unwrap_or_default().to_string();
    let saved = POLICY.save(&ctx, &name, &page.policy).await;
    let status = outcome(saved, &mut page.notice, &mut page.error, |()| {
        Some("Saved.".into())
    });
    view::render_with(&page, status)
}
