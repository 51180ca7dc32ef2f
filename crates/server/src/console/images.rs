//! An image's page: its manifest (BatchGetImage) read as layers, or as an
//! index's platforms, its details (DescribeImages) and its referrers
//! (ListImageReferrers), with the lines to pull it; its scan findings
//! (DescribeImageScanFindings) and a scan on demand (StartImageScan).

use super::pages::{endpoint, refused};
use super::session::{posted, signed_in, Ctx};
use super::view::{self, Part};
use crate::AppState;
use axum::extract::{Path, Query, Request, State};
use axum::response::Response;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Every manifest type a stored image may have (BatchGetImage answers
/// only those asked for).
const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn part(d: &Value, name: String) -> Part {
    Part {
        name,
        digest: text(&d["digest"]),
        media_type: text(&d["mediaType"]),
        size: d["size"].as_u64().map(view::size).unwrap_or_default(),
    }
}

pub async fn image(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let ctx: Ctx = signed_in!(app, request);
    let digest = q.get("digest").cloned().unwrap_or_default();
    let id = json!({"imageDigest": digest});
    let got = match ctx
        .ecr(
            "BatchGetImage",
            json!({"repositoryName": name, "imageIds": [id], "acceptedMediaTypes": MANIFEST_TYPES}),
        )
        .await
    {
        Ok(v) => v,
        Err(e) => return refused(&ctx, &e),
    };
    let Some(image) = got["images"].get(0) else {
        let why = got["failures"][0]["failureReason"]
            .as_str()
            .unwrap_or("the image was not found")
            .to_string();
        return view::error_page(
            Some(ctx.frame("repositories")),
            http::StatusCode::NOT_FOUND,
            "Image not found",
            &format!("{name}@{digest}: {why}"),
        );
    };
    let manifest: Value =
        serde_json::from_str(image["imageManifest"].as_str().unwrap_or("{}")).unwrap_or_default();
    let detail = match ctx
        .ecr(
            "DescribeImages",
            json!({"repositoryName": name, "imageIds": [id]}),
        )
        .await
    {
        Ok(v) => v["imageDetails"][0].clone(),
        Err(e) => return refused(&ctx, &e),
    };
    let referrers = match ctx
        .ecr(
            "ListImageReferrers",
            json!({"repositoryName": name, "subjectId": {"imageDigest": digest}}),
        )
        .await
    {
        Ok(v) => v["referrers"].as_array().cloned().unwrap_or_default(),
        Err(e) => return refused(&ctx, &e),
    };
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let platforms = list(&manifest["manifests"])
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let name = match (p["os"].as_str(), p["architecture"].as_str()) {
                (Some(os), Some(arch)) => match p["variant"].as_str() {
                    Some(v) => format!("{os}/{arch}/{v}"),
                    None => format!("{os}/{arch}"),
                },
                _ => text(&m["artifactType"]),
            };
            part(m, name)
        })
        .collect();
    let uri = format!("{}/{name}", ctx.registry_host());
    let page = view::Image {
        frame: Some(ctx.frame("repositories")),
        csrf: ctx.csrf.clone(),
        can_scan: ctx.can("ecr:StartImageScan", Some(&name)).await,
        endpoint: endpoint(&ctx),
        uri,
        short_digest: digest.chars().take(19).collect(),
        tags: list(&detail["imageTags"]).iter().map(text).collect(),
        media_type: text(&image["imageManifestMediaType"]),
        artifact_type: detail["artifactMediaType"].as_str().map(str::to_string),
        config: manifest["config"]["digest"].as_str().map(str::to_string),
        size: detail["imageSizeInBytes"]
            .as_u64()
            .map(view::size)
            .unwrap_or_default(),
        pushed: view::time(detail["imagePushedAt"].as_f64()),
        layers: list(&manifest["layers"])
            .iter()
            .map(|l| part(l, String::new()))
            .collect(),
        platforms,
        referrers: referrers
            .iter()
            .map(|r| part(r, text(&r["artifactType"])))
            .collect(),
        name,
        digest,
    };
    view::render(&page)
}

/// Findings shown of one image (DescribeImageScanFindings pages of 1,000).
const FINDINGS_SHOWN: usize = 1000;
const SEVERITIES: [&str; 6] = [
    "CRITICAL",
    "HIGH",
    "MEDIUM",
    "LOW",
    "INFORMATIONAL",
    "UNDEFINED",
];

fn attribute(f: &Value, key: &str) -> String {
    f["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["key"] == key))
        .map(|x| text(&x["value"]))
        .unwrap_or_default()
}

/// A finding of either shape: BASIC's, or Inspector's (ENHANCED).
/// An advisory's address, linked only when it is a web page (a stored
/// record is data, not markup).
fn web(uri: String) -> String {
    if uri.starts_with("https://") || uri.starts_with("http://") {
        uri
    } else {
        String::new()
    }
}

fn finding(f: &Value, enhanced: bool) -> view::Finding {
    if enhanced {
        let d = &f["packageVulnerabilityDetails"];
        let p = &d["vulnerablePackages"][0];
        view::Finding {
            severity: text(&f["severity"]),
            id: text(&d["vulnerabilityId"]),
            uri: web(text(&d["sourceUrl"])),
            package: text(&p["name"]),
            installed: text(&p["version"]),
            fixed: text(&p["fixedInVersion"]),
            summary: text(&f["title"]),
        }
    } else {
        view::Finding {
            severity: text(&f["severity"]),
            id: text(&f["name"]),
            uri: web(text(&f["uri"])),
            package: attribute(f, "package_name"),
            installed: attribute(f, "package_version"),
            fixed: attribute(f, "fixed_version"),
            summary: text(&f["description"]).chars().take(200).collect(),
        }
    }
}

pub async fn findings(
    State(app): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let ctx: Ctx = signed_in!(app, request);
    let digest = q.get("digest").cloned().unwrap_or_default();
    let input = json!({"repositoryName": name, "imageId": {"imageDigest": digest}, "maxResults": FINDINGS_SHOWN});
    let (status, description, out) = match ctx.ecr("DescribeImageScanFindings", input).await {
        Ok(out) => (
            text(&out["imageScanStatus"]["status"]),
            text(&out["imageScanStatus"]["description"]),
            out,
        ),
        Err(e) if e.kind() == "ScanNotFoundException" => (
            "Not scanned".to_string(),
            e.message().to_string(),
            Value::Null,
        ),
        Err(e) => return refused(&ctx, &e),
    };
    let found = &out["imageScanFindings"];
    let (list, enhanced) = match found["enhancedFindings"].as_array() {
        Some(a) => (a.clone(), true),
        None => (
            found["findings"].as_array().cloned().unwrap_or_default(),
            false,
        ),
    };
    let mut findings: Vec<view::Finding> = list.iter().map(|f| finding(f, enhanced)).collect();
    let rank = |s: &str| {
        SEVERITIES
            .iter()
            .position(|x| *x == s)
            .unwrap_or(SEVERITIES.len())
    };
    findings.sort_by(|a, b| {
        rank(&a.severity)
            .cmp(&rank(&b.severity))
            .then(a.id.cmp(&b.id))
    });
    let counts = SEVERITIES
        .iter()
        .filter_map(|s| {
            found["findingSeverityCounts"][*s]
                .as_u64()
                .map(|n| format!("{n} {}", s.to_lowercase()))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let page = view::Findings {
        frame: Some(ctx.frame("repositories")),
        short_digest: digest.chars().take(19).collect(),
        status,
        description,
        completed: found["imageScanCompletedAt"]
            .as_f64()
            .map(|t| view::time(Some(t)))
            .unwrap_or_default(),
        counts,
        truncated: out["nextToken"].is_string(),
        findings,
        name,
        digest,
    };
    view::render(&page)
}

/// StartImageScan from the image's page; back to its findings.
pub async fn scan(
    State(app): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    let (ctx, form) = posted!(app, request);
    let digest = form.text("digest");
    match ctx
        .ecr(
            "StartImageScan",
            json!({"repositoryName": name, "imageId": {"imageDigest": digest}}),
        )
        .await
    {
        Ok(_) => super::see_other(&format!(
            "/console/findings/{name}?digest={}",
            percent_encoding::utf8_percent_encode(&digest, percent_encoding::NON_ALPHANUMERIC)
        )),
        Err(e) => refused(&ctx, &e),
    }
}
