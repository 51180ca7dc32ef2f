//! The registry's settings: its account settings (GetAccountSetting,
//! PutAccountSetting), its scanning configuration
//! (Get/PutRegistryScanningConfiguration) and its registry policy
//! (Get/PutRegistryPolicy), each read and saved through its operation, as
//! the signed-in user, with the operation's messages.

use super::session::{posted, signed_in, Ctx};
use super::view::{self, Setting};
use crate::AppState;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{json, Value};

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

async fn page(ctx: &Ctx) -> view::RegistrySettings {
    let mut errors = Vec::new();
    let mut settings = Vec::new();
    for (name, allowed, default) in berth_registry::account_setting_choices() {
        let value = match ctx.ecr("GetAccountSetting", json!({"name": name})).await {
            Ok(v) => v["value"].as_str().unwrap_or(default).to_string(),
            Err(e) => {
                errors.push(e.message().to_string());
                default.to_string()
            }
        };
        settings.push(Setting {
            name: name.to_string(),
            allowed: allowed.iter().map(|a| a.to_string()).collect(),
            value,
        });
    }
    let scanning = match ctx.ecr("GetRegistryScanningConfiguration", json!({})).await {
        Ok(v) => pretty(&v["scanningConfiguration"]),
        Err(e) => {
            errors.push(e.message().to_string());
            String::new()
        }
    };
    let policy = match ctx.ecr("GetRegistryPolicy", json!({})).await {
        Ok(v) => serde_json::from_str::<Value>(v["policyText"].as_str().unwrap_or_default())
            .map(|p| pretty(&p))
            .unwrap_or_default(),
        Err(e) if e.kind() == "RegistryPolicyNotFoundException" => String::new(),
        Err(e) => {
            errors.push(e.message().to_string());
            String::new()
        }
    };
    errors.dedup();
    view::RegistrySettings {
        frame: Some(ctx.frame("registry")),
        csrf: ctx.csrf.clone(),
        registry: ctx.registry_label(),
        settings,
        scanning,
        policy,
        can_put_setting: ctx.can("ecr:PutAccountSetting", None).await,
        can_put_scanning: ctx.can("ecr:PutRegistryScanningConfiguration", None).await,
        can_put_policy: ctx.can("ecr:PutRegistryPolicy", None).await,
        notice: None,
        error: (!errors.is_empty()).then(|| errors.join(" ")),
    }
}

pub async fn settings(State(app): State<AppState>, request: Request) -> Response {
    let ctx: Ctx = signed_in!(app, request);
    view::render(&page(&ctx).await)
}

pub async fn save(State(app): State<AppState>, request: Request) -> Response {
    let (ctx, form) = posted!(app, request);
    let outcome = match form.get("op").unwrap_or_default() {
        "account" => {
            let mut outcome = Ok(Value::Null);
            for (name, _, _) in berth_registry::account_setting_choices() {
                if let Some(value) = form.get(name) {
                    outcome = ctx
                        .ecr("PutAccountSetting", json!({"name": name, "value": value}))
                        .await;
                    if outcome.is_err() {
                        break;
                    }
                }
            }
            outcome.map(|_| "Account settings saved.")
        }
        "scanning" => match serde_json::from_str::<Value>(form.get("scanning").unwrap_or_default())
        {
            Ok(config) => {
                let mut input = json!({});
                for member in ["scanType", "rules"] {
                    if !config[member].is_null() {
                        input[member] = config[member].clone();
                    }
                }
                ctx.ecr("PutRegistryScanningConfiguration", input)
                    .await
                    .map(|_| "Scanning configuration saved.")
            }
            Err(e) => Err(crate::aws_error::AwsError::invalid_parameter(format!(
                "The scanning configuration is not JSON: {e}"
            ))),
        },
        "policy" => ctx
            .ecr(
                "PutRegistryPolicy",
                json!({"policyText": form.get("policy").unwrap_or_default()}),
            )
            .await
            .map(|_| "Registry policy saved."),
        other => Err(crate::aws_error::AwsError::invalid_parameter(format!(
            "the console has no registry setting {other:?}"
        ))),
    };
    let mut page = page(&ctx).await;
    let status = match outcome {
        Ok(notice) => {
            page.notice = Some(notice.to_string());
            http::StatusCode::OK
        }
        Err(e) => {
            page.error = Some(e.message().to_string());
            e.status()
        }
    };
    view::render_with(&page, status)
}
