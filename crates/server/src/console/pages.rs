//! The console's pages: each loads the session (`Ctx`), asks the ECR
//! operations (or the registry, after the same authorization) as the user,
//! and renders (`view.rs`). A refusal shows AWS's message on the page.

use super::session::{posted, signed_in, Ctx};
use super::view::{self, ImageRow, RepoRow};
use crate::AppState;
use axum::extract::{Path, Query, Request, State};
use axum::response::Response;
use berth_registry::UsageOrder;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Repositories per page.
const PAGE: u32 = 50;
/// Images per page of a repository.
const IMAGES_PAGE: u32 = 100;

pub(super) fn endpoint(ctx: &Ctx) -> String {
    format!("{}://{}", ctx.app.hosts.scheme, ctx.host)
}

/// The name just before every name that starts with `prefix` (repository
/// names are `[a-z0-9._/-]`, all below `~`): listing after it starts at
/// the first such name.
fn before(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let below = char::from_u32(last as u32 - 1)?;
    chars.push(below);
    chars.push('~');
    Some(chars.into_iter().collect())
}

/// The repository list's orders: by name (keyset pages), or by a column
/// of the latest usage sample (offset pages).
fn order_of(sort: &str) -> Option<UsageOrder> {
    match sort {
        "size" => Some(UsageOrder::Stored),
        "images" => Some(UsageOrder::Images),
        "pushed" => Some(UsageOrder::Pushed),
        _ => None,
    }
}

pub async fn repositories(
    State(app): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let ctx = signed_in!(app, request);
    let prefix = q
        .get("prefix")
        .map(|p| p.trim().to_string())
        .unwrap_or_default();
    let order = q.get("sort").and_then(|s| order_of(s));
    let registry = ctx.registry();
    let mut page = view::Repositories {
        frame: Some(ctx.frame("repositories")),
        registry: ctx.registry_label(),
        endpoint: endpoint(&ctx),
        prefix: prefix.clone(),
        sort: q
            .get("sort")
            .filter(|_| order.is_some())
            .cloned()
            .unwrap_or_else(|| "name".into()),
        rows: vec![],
        next: None,
        can_create: ctx.can("ecr:CreateRepository", None).await,
        error: None,
        sampled: None,
    };
    // DescribeRepositories without names: as the API authorizes it.
    if let Err(e) = ctx.authorize("ecr:DescribeRepositories", Some("*")).await {
        page.error = Some(e.message().to_string());
        return view::render(&page);
    }
    let link = |at: String| {
        format!(
            "/console/repositories?prefix={}&sort={}&{at}",
            urlencoding(&prefix),
            page.sort
        )
    };
    // Sizes are the latest usage sample's, which a page reads without
    // summing layers; counts and last pushes are live (the page's
    // repositories' own rows).
    let (records, mut usage) = match order {
        None => {
            let after = q.get("after").cloned().or_else(|| before(&prefix));
            let records = match ctx
                .app
                .registry
                .describe_repositories(&registry, after.as_deref(), PAGE + 1)
                .await
            {
                Ok(r) => r,
                Err(e) => return view::failure(page.frame.take(), &e.to_string()),
            };
            let mut records: Vec<_> = records
                .into_iter()
                .take_while(|r| r.name.starts_with(&prefix))
                .collect();
            if records.len() > PAGE as usize {
                records.truncate(PAGE as usize);
                page.next = records
                    .last()
                    .map(|l| link(format!("after={}", urlencoding(&l.name))));
            }
            (records, HashMap::new())
        }
        Some(order) => {
            let offset: u32 = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            let ranked = match ctx
                .app
                .registry
                .ranked_repositories(&registry, &prefix, order, offset, PAGE + 1)
                .await
            {
                Ok(r) => r,
                Err(e) => return view::failure(page.frame.take(), &e.to_string()),
            };
            if ranked.len() > PAGE as usize {
                page.next = Some(link(format!("offset={}", offset + PAGE)));
            }
            ranked
                .into_iter()
                .take(PAGE as usize)
                .map(|(r, f)| ((r.clone()), (r.name, f)))
                .unzip::<_, _, Vec<_>, HashMap<_, _>>()
        }
    };
    let host = ctx.registry_host();
    let ids: Vec<_> = records.iter().map(|r| r.id).collect();
    let names: Vec<String> = records.iter().map(|r| r.name.clone()).collect();
    let counts = match ctx.app.registry.image_counts(&ids).await {
        Ok(c) => c,
        Err(e) => return view::failure(page.frame.take(), &e.to_string()),
    };
    if order.is_none() {
        usage = match ctx.app.registry.repository_usage(&registry, &names).await {
            Ok(u) => u,
            Err(e) => return view::failure(page.frame.take(), &e.to_string()),
        };
    }
    page.sampled = usage
        .values()
        .map(|u| u.sampled_at)
        .max()
        .map(|at| view::time(Some((at / 1000) as f64)));
    for r in records {
        let (images, last_push) = counts.get(&r.id).copied().unwrap_or((0, None));
        page.rows.push(RepoRow {
            uri: format!("{host}/{}", r.name),
            created: view::time(Some((r.created_at / 1000) as f64)),
            images,
            size: usage
                .get(&r.name)
                .map_or_else(|| "—".into(), |u| view::size(u.stored_bytes)),
            last_push: last_push
                .map_or_else(|| "—".into(), |at| view::time(Some((at / 1000) as f64))),
            mutability: r.image_tag_mutability,
            scan_on_push: r.scan_on_push,
            encryption: match r.kms_key {
                Some(k) => format!("{} ({k})", r.encryption_type),
                None => r.encryption_type,
            },
            name: r.name,
        });
    }
    view::render(&page)
}

/// A query value, percent-encoded.
fn urlencoding(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

pub async fn new_repository(State(app): State<AppState>, request: Request) -> Response {
    let ctx = signed_in!(app, request);
    if !ctx.can("ecr:CreateRepository", None).await {
        return view::error_page(
            Some(ctx.frame("repositories")),
            http::StatusCode::FORBIDDEN,
            "Not allowed",
            &format!(
                "{} may not create repositories here (ecr:CreateRepository is not allowed by its policies).",
                ctx.user.principal.arn()
            ),
        );
    }
    view::render(&blank_form(&ctx))
}

fn blank_form(ctx: &Ctx) -> view::CreateRepository {
    view::CreateRepository {
        frame: Some(ctx.frame("repositories")),
        csrf: ctx.csrf.clone(),
        registry: ctx.registry_label(),
        error: None,
        name: String::new(),
        mutability: "MUTABLE".into(),
        exclusions: String::new(),
        scan_on_push: false,
        encryption: "AES256".into(),
        kms_key: String::new(),
    }
}

pub async fn create_repository(State(app): State<AppState>, request: Request) -> Response {
    let (ctx, form) = posted!(app, request);
    let mut page = blank_form(&ctx);
    page.name = form.text("name");
    page.mutability = form.text("mutability");
    page.exclusions = form.text("exclusions");
    page.scan_on_push = form.get("scan_on_push") == Some("on");
    page.encryption = form.text("encryption");
    page.kms_key = form.text("kms_key");
    let mut encryption = json!({"encryptionType": page.encryption});
    if !page.kms_key.is_empty() {
        encryption["kmsKey"] = json!(page.kms_key);
    }
    let mut input = json!({
        "repositoryName": page.name,
        "imageTagMutability": page.mutability,
        "imageScanningConfiguration": {"scanOnPush": page.scan_on_push},
        "encryptionConfiguration": encryption,
    });
    if let Some(filters) = exclusion_filters(&page.exclusions) {
        input["imageTagMutabilityExclusionFilters"] = filters;
    }
    match ctx.ecr("CreateRepository", input).await {
        Ok(_) => super::see_other(&format!("/console/repository/{}", page.name)),
        Err(e) => {
            page.error = Some(e.message().to_string());
            view::render_with(&page, e.status())
        }
    }
}

pub async fn repository(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let ctx = signed_in!(app, request);
    let frame = ctx.frame("repositories");
    let described = match ctx
        .ecr("DescribeRepositories", json!({"repositoryNames": [name]}))
        .await
    {
        Ok(v) => v,
        Err(e) => {
            return view::error_page(Some(frame), e.status(), "Repository not shown", e.message())
        }
    };
    let r = &described["repositories"][0];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut page = view::Repository {
        frame: Some(frame),
        csrf: ctx.csrf.clone(),
        can_configure: ctx.can("ecr:PutImageTagMutability", Some(&name)).await
            && ctx
                .can("ecr:PutImageScanningConfiguration", Some(&name))
                .await,
        name: name.clone(),
        uri: text(&r["repositoryUri"]),
        host: text(&r["repositoryUri"])
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string(),
        endpoint: endpoint(&ctx),
        mutability: text(&r["imageTagMutability"]),
        exclusions: r["imageTagMutabilityExclusionFilters"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["filter"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        scan_on_push: r["imageScanningConfiguration"]["scanOnPush"].as_bool() == Some(true),
        encryption: text(&r["encryptionConfiguration"]["encryptionType"]),
        images: vec![],
        next: None,
        error: None,
    };
    let mut input = json!({"repositoryName": name, "maxResults": IMAGES_PAGE});
    if let Some(n) = q.get("next") {
        input["nextToken"] = json!(n);
    }
    match ctx.ecr("DescribeImages", input).await {
        Ok(out) => {
            page.next = out["nextToken"].as_str().map(str::to_string);
            let mut images: Vec<&Value> = out["imageDetails"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            images.sort_by(|a, b| {
                b["imagePushedAt"]
                    .as_f64()
                    .partial_cmp(&a["imagePushedAt"].as_f64())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            page.images = images.into_iter().map(image_row).collect();
        }
        Err(e) => page.error = Some(e.message().to_string()),
    }
    view::render(&page)
}

/// The repository page's settings form: tag mutability and scan on push,
/// each through its own operation.
pub async fn settings(
    State(app): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let (ctx, form) = posted!(app, request);
    let mut input = json!({"repositoryName": name, "imageTagMutability": form.text("mutability")});
    if let Some(filters) = exclusion_filters(&form.text("exclusions")) {
        input["imageTagMutabilityExclusionFilters"] = filters;
    }
    let mutability = ctx.ecr("PutImageTagMutability", input).await;
    let scanning = match mutability {
        Ok(_) => {
            ctx.ecr(
                "PutImageScanningConfiguration",
                json!({"repositoryName": name,
                       "imageScanningConfiguration": {"scanOnPush": form.get("scan_on_push") == Some("on")}}),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match scanning {
        Ok(_) => super::see_other(&format!("/console/repository/{name}")),
        Err(e) => view::error_page(
            Some(ctx.frame("repositories")),
            e.status(),
            "Settings not saved",
            e.message(),
        ),
    }
}

/// ECR's `imageTagMutabilityExclusionFilters` from a form's text (one
/// filter per line or comma); none when it is empty.
fn exclusion_filters(text: &str) -> Option<Value> {
    let filters: Vec<Value> = text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| json!({"filterType": "WILDCARD", "filter": f}))
        .collect();
    (!filters.is_empty()).then_some(Value::Array(filters))
}

/// An operation's refusal as its page (the repository unknown, access
/// denied).
pub(super) fn refused(ctx: &Ctx, e: &crate::aws_error::AwsError) -> Response {
    view::error_page(
        Some(ctx.frame("repositories")),
        e.status(),
        "Not shown",
        e.message(),
    )
}

fn image_row(i: &Value) -> ImageRow {
    let digest = i["imageDigest"].as_str().unwrap_or_default().to_string();
    let media = i["imageManifestMediaType"].as_str().unwrap_or_default();
    let kind = if media.contains("index") || media.contains("list") {
        "Image index"
    } else if i["artifactMediaType"]
        .as_str()
        .is_some_and(|a| !a.contains("container.image") && !a.contains("config.v1"))
    {
        "Artifact"
    } else {
        "Image"
    };
    let scan = match i["imageScanStatus"]["status"].as_str() {
        None => "Not scanned".to_string(),
        Some("COMPLETE") => {
            let counts = &i["imageScanFindingsSummary"]["findingSeverityCounts"];
            let parts: Vec<String> = [
                "CRITICAL",
                "HIGH",
                "MEDIUM",
                "LOW",
                "INFORMATIONAL",
                "UNDEFINED",
            ]
            .iter()
            .filter_map(|s| {
                counts[*s]
                    .as_u64()
                    .map(|n| format!("{n} {}", s.to_lowercase()))
            })
            .collect();
            if parts.is_empty() {
                "No findings".to_string()
            } else {
                parts.join(", ")
            }
        }
        Some(other) => other.replace('_', " ").to_lowercase(),
    };
    ImageRow {
        tags: i["imageTags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        short_digest: digest.chars().take(19).collect(),
        digest,
        kind: kind.to_string(),
        size: i["imageSizeInBytes"]
            .as_u64()
            .map(view::size)
            .unwrap_or_else(|| "—".into()),
        pushed: view::time(i["imagePushedAt"].as_f64()),
        pulled: view::time(i["lastRecordedPullTime"].as_f64()),
        scan,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_prefix_lists_from_the_first_name_it_starts() {
        let after = super::before("prod").unwrap();
        for name in ["prod", "prod-app", "prod/x", "proda"] {
            assert!(name > after.as_str(), "{name}");
        }
        for name in ["proc", "proc-z", "proc~", "pro"] {
            assert!(name <= after.as_str(), "{name}");
        }
        assert_eq!(super::before(""), None);
    }
}
