//! An image's page: its manifest (BatchGetImage) read as layers, or as an
//! index's platforms, its details (DescribeImages) and its referrers
//! (ListImageReferrers), with the lines to pull it.

use super::pages::{endpoint, refused, session};
use super::session::Ctx;
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
    let (parts, _) = request.into_parts();
    let ctx: Ctx = session!(app, parts);
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
