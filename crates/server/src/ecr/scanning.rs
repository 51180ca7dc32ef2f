//! Image scanning: StartImageScan, DescribeImageScanFindings,
//! Get/PutRegistryScanningConfiguration,
//! BatchGetRepositoryScanningConfiguration, and the scan summary
//! DescribeImages shows. The scans themselves are the registry's
//! (`crates/registry/src/scanning/`).

use super::images::{resolve, ImageId};
use super::ops::{constraint, parse};
use super::paging::{decode_token, encode_token, page_size};
use super::Call;
use crate::aws_error::AwsError;
use berth_oci::Digest;
use berth_registry::scanning::{ScanningConfig, StoredFinding, BASIC};
use berth_registry::ImageScanRecord;
use berth_registry::{Error, Repo};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartImageScanInput {
    registry_id: Option<String>,
    repository_name: String,
    image_id: ImageId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeImageScanFindingsInput {
    registry_id: Option<String>,
    repository_name: String,
    image_id: ImageId,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// The digest an image id names, which must be an image of the repository.
async fn existing_image(call: &Call<'_>, repo: &Repo, id: &ImageId) -> Result<Digest, AwsError> {
    let digest = match resolve(call, repo, id).await? {
        Ok(d) => d,
        Err(("ImageNotFound", _)) => return Err(call.image_not_found(repo, id)),
        Err((_, reason)) => return Err(AwsError::invalid_parameter(reason)),
    };
    let found = call
        .app
        .registry
        .image_details(repo, std::slice::from_ref(&digest))
        .await
        .map_err(|e| call.registry_error(e))?;
    if found.is_empty() {
        return Err(call.image_not_found(repo, id));
    }
    Ok(digest)
}

fn image_id_of(digest: &Digest, id: &ImageId) -> Value {
    let mut v = id.json();
    v["imageDigest"] = json!(digest.as_str());
    v
}

fn status_json(s: &ImageScanRecord) -> Value {
    let mut v = json!({ "status": s.status });
    if let Some(d) = &s.description {
        v["description"] = json!(d);
    }
    v
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

pub async fn start_image_scan(call: &Call<'_>, input: Value) -> Result<Value, AwsError> {
    let input: StartImageScanInput = parse(input)?;
    let repo = call
        .existing_repo(input.registry_id.as_deref(), &input.repository_name)
        .await?;
    let digest = existing_image(call, &repo, &input.image_id).await?;
    let scan = call
        .app
        .registry
        .start_image_scan(&repo, &digest)
        .await
        .map_err(|e| match e {
            Error::ManifestUnknown(_) => call.image_not_found(&repo, &input.image_id),
            e @ Error::ImageArchived { .. } => {
                AwsError::client("ImageArchivedException", e.to_string())
            }
            e => call.registry_error(e),
        })?;
    Ok(json!({
        "registryId": call.registry.account_id,
        "repositoryName": repo.name.as_str(),
        "imageId": image_id_of(&digest, &input.image_id),
        "imageScanStatus": status_json(&scan),
    }))
}

fn stored_findings(s: &ImageScanRecord) -> Vec<StoredFinding> {
    s.findings
        .as_deref()
        .and_then(|f| serde_json::from_str(f).ok())
        .unwrap_or_default()
}

fn counts_json(s: &ImageScanRecord) -> Value {
    s.counts
        .as_deref()
        .and_then(|c| serde_json::from_str::<BTreeMap<String, u64>>(c).ok())
        .map(|c| json!(c))
        .unwrap_or_else(|| json!({}))
}

/// ECR's BASIC finding: `name`, `description`, `uri`, `severity`,
/// `attributes` (package, version, fixed version, CVSS vector and score).
fn basic_finding(f: &StoredFinding) -> Value {
    let mut attrs = vec![
        json!({"key": "package_version", "value": f.version}),
        json!({"key": "package_name", "value": f.package}),
    ];
    if let (Some(v), Some(vector), Some(score)) = (&f.cvss_version, &f.cvss_vector, f.cvss_score) {
        let major = v.split('.').next().unwrap_or(v);
        attrs.push(json!({"key": format!("CVSS{major}_VECTOR"), "value": vector}));
        attrs.push(json!({"key": format!("CVSS{major}_SCORE"), "value": format!("{score:.1}")}));
    }
    if let Some(fixed) = &f.fixed {
        attrs.push(json!({"key": "fixed_version", "value": fixed}));
    }
    let mut v = json!({
        "name": f.id,
        "uri": f.uri,
        "severity": f.severity,
        "attributes": attrs,
    });
    if let Some(d) = f.description.as_ref().or(f.summary.as_ref()) {
        v["description"] = json!(d);
    }
    v
}

/// Inspector's shape, as ECR's ENHANCED scanning returns it.
fn enhanced_finding(
    call: &Call<'_>,
    repo: &Repo,
    digest: &Digest,
    s: &ImageScanRecord,
    f: &StoredFinding,
) -> Value {
    let at = seconds(s.completed_at.unwrap_or(s.started_at));
    let mut package = json!({
        "name": f.package,
        "version": f.version,
        "filePath": f.path,
    });
    if let Some(e) = &f.ecosystem {
        package["packageManager"] = json!(package_manager(e));
    }
    if let Some(fixed) = &f.fixed {
        package["fixedInVersion"] = json!(fixed);
    }
    let mut details = json!({
        "vulnerabilityId": f.id,
        "source": "OSV",
        "sourceUrl": f.uri,
        "vulnerablePackages": [package],
        "referenceUrls": f.references,
        "relatedVulnerabilities": f.aliases,
    });
    let mut v = json!({
        "awsAccountId": call.registry.account_id,
        "findingArn": format!(
            "arn:aws:inspector2:{}:{}:finding/{}",
            call.registry.region,
            call.registry.account_id,
            hex_of(&format!("{}|{}|{}|{}|{}", repo.name, digest, f.id, f.package, f.version))
        ),
        "title": match &f.summary {
            Some(s) => format!("{} - {}", f.id, s),
            None => format!("{} - {}", f.id, f.package),
        },
        "severity": f.severity,
        "status": "ACTIVE",
        "type": "PACKAGE_VULNERABILITY",
        "firstObservedAt": at,
        "lastObservedAt": at,
        "updatedAt": at,
        "fixAvailable": if f.fixed.is_some() { "YES" } else { "NO" },
        "exploitAvailable": "NO",
        "remediation": { "recommendation": { "text": match &f.fixed {
            Some(x) => format!("Upgrade {} to {} or later.", f.package, x),
            None => "None provided".to_string(),
        } } },
        "resources": [{
            "id": format!("arn:aws:ecr:{}:{}:repository/{}/{}", call.registry.region, call.registry.account_id, repo.name, digest),
            "type": "AWS_ECR_CONTAINER_IMAGE",
            "details": { "awsEcrContainerImage": {
                "registry": call.registry.account_id,
                "repositoryName": repo.name.as_str(),
                "imageHash": digest.as_str(),
            } },
        }],
    });
    if let Some(d) = f.description.as_ref().or(f.summary.as_ref()) {
        v["description"] = json!(d);
    }
    if let (Some(ver), Some(vector), Some(score)) = (&f.cvss_version, &f.cvss_vector, f.cvss_score)
    {
        details["cvss"] = json!([{ "baseScore": score, "scoringVector": vector, "source": "OSV", "version": ver }]);
        v["score"] = json!(score);
        v["scoreDetails"] = json!({ "cvss": {
            "score": score, "scoringVector": vector, "scoreSource": "OSV", "version": ver, "adjustments": [],
        } });
    }
    v["packageVulnerabilityDetails"] = details;
    v
}

fn package_manager(ecosystem: &str) -> &'static str {
    match ecosystem.split(':').next().unwrap_or_default() {
        "Debian" | "Ubuntu" => "OS",
        "Alpine" | "Wolfi" | "Chainguard" => "OS",
        "PyPI" => "PYTHONPKG",
        "npm" => "NODEPKG",
        "Go" => "GOBINARY",
        "crates.io" => "CARGO",
        _ => "OS",
    }
}

fn hex_of(s: &str) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(s.as_bytes())[..16])
}

pub async fn describe_image_scan_findings(
    call: &Call<'_>,
    input: Value,
) -> Result<Value, AwsError> {
    let input: DescribeImageScanFindingsInput = parse(input)?;
    let repo = call
        .existing_repo(input.registry_id.as_deref(), &input.repository_name)
        .await?;
    let limit = page_size(input.max_results)? as usize;
    let from = match decode_token(&input.next_token)? {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| AwsError::invalid_parameter("Invalid parameter at 'nextToken'"))?,
    };
    let digest = existing_image(call, &repo, &input.image_id).await?;
    let scan = call
        .app
        .registry
        .image_scan(&repo, &digest)
        .await
        .map_err(|e| call.registry_error(e))?
        .ok_or_else(|| {
            AwsError::client(
                "ScanNotFoundException",
                format!(
                    "Image scan does not exist for the image with '{}' in the repository with name '{}' in the registry with id '{}'",
                    super::images::image_id_text(
                        Some(digest.as_str()),
                        input.image_id.tag()
                    ),
                    repo.name,
                    call.registry.account_id
                ),
            )
        })?;
    let mut out = json!({
        "registryId": call.registry.account_id,
        "repositoryName": repo.name.as_str(),
        "imageId": image_id_of(&digest, &input.image_id),
        "imageScanStatus": status_json(&scan),
    });
    if scan.status == "COMPLETE" {
        let all = stored_findings(&scan);
        let page: Vec<&StoredFinding> = all.iter().skip(from).take(limit).collect();
        let mut findings = json!({ "findingSeverityCounts": counts_json(&scan) });
        if let Some(at) = scan.completed_at {
            findings["imageScanCompletedAt"] = json!(seconds(at));
        }
        if let Some(at) = scan.source_updated_at {
            findings["vulnerabilitySourceUpdatedAt"] = json!(seconds(at));
        }
        if scan.scan_type == BASIC {
            findings["findings"] = page.iter().map(|f| basic_finding(f)).collect();
        } else {
            findings["enhancedFindings"] = page
                .iter()
                .map(|f| enhanced_finding(call, &repo, &digest, &scan, f))
                .collect();
        }
        out["imageScanFindings"] = findings;
        if from + limit < all.len() {
            out["nextToken"] = json!(encode_token(&(from + limit).to_string()));
        }
    }
    Ok(out)
}

/// `imageScanStatus` and `imageScanFindingsSummary` of an image, for
/// DescribeImages (nothing when never scanned).
pub async fn describe_images_scan(
    call: &Call<'_>,
    repo: &Repo,
    digest: &str,
    v: &mut Value,
) -> Result<(), AwsError> {
    let Ok(digest) = digest.parse::<Digest>() else {
        return Ok(());
    };
    let Some(scan) = call
        .app
        .registry
        .image_scan(repo, &digest)
        .await
        .map_err(|e| call.registry_error(e))?
    else {
        return Ok(());
    };
    v["imageScanStatus"] = status_json(&scan);
    if scan.status == "COMPLETE" {
        let mut summary = json!({ "findingSeverityCounts": counts_json(&scan) });
        if let Some(at) = scan.completed_at {
            summary["imageScanCompletedAt"] = json!(seconds(at));
        }
        if let Some(at) = scan.source_updated_at {
            summary["vulnerabilitySourceUpdatedAt"] = json!(seconds(at));
        }
        v["imageScanFindingsSummary"] = summary;
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PutRegistryScanningConfigurationInput {
    scan_type: Option<String>,
    rules: Option<Vec<Value>>,
}

fn config_json(c: &ScanningConfig) -> Value {
    json!({ "scanType": c.scan_type, "rules": c.rules })
}

pub async fn put_registry_scanning_configuration(
    call: &Call<'_>,
    input: Value,
) -> Result<Value, AwsError> {
    let input: PutRegistryScanningConfigurationInput = parse(input)?;
    let mut rules = Vec::new();
    for r in input.rules.unwrap_or_default() {
        if r.get("scanFrequency").and_then(Value::as_str).is_none() {
            return Err(constraint("rules.scanFrequency", "Member must not be null"));
        }
        if r.get("repositoryFilters")
            .and_then(Value::as_array)
            .is_none()
        {
            return Err(constraint(
                "rules.repositoryFilters",
                "Member must not be null",
            ));
        }
        rules.push(
            serde_json::from_value(r)
                .map_err(|e| AwsError::client("SerializationException", e.to_string()))?,
        );
    }
    let config = ScanningConfig {
        scan_type: input.scan_type.unwrap_or_else(|| BASIC.to_string()),
        rules,
    };
    let stored = call
        .app
        .registry
        .put_registry_scanning(&call.registry, config)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({ "registryScanningConfiguration": config_json(&stored) }))
}

pub async fn get_registry_scanning_configuration(call: &Call<'_>) -> Result<Value, AwsError> {
    let c = call
        .app
        .registry
        .registry_scanning(&call.registry)
        .await
        .map_err(|e| call.registry_error(e))?;
    Ok(json!({
        "registryId": call.registry.account_id,
        "scanningConfiguration": config_json(&c),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchGetRepositoryScanningConfigurationInput {
    repository_names: Vec<String>,
}

pub async fn batch_get_repository_scanning_configuration(
    call: &Call<'_>,
    input: Value,
) -> Result<Value, AwsError> {
    let input: BatchGetRepositoryScanningConfigurationInput = parse(input)?;
    if input.repository_names.is_empty() || input.repository_names.len() > 25 {
        return Err(constraint(
            "repositoryNames",
            "Member must have length between 1 and 25",
        ));
    }
    let (mut configs, mut failures) = (Vec::new(), Vec::new());
    for name in &input.repository_names {
        call.repository_name(name)?;
        match call
            .app
            .registry
            .repository_scanning(&call.registry, name)
            .await
        {
            Ok(s) => configs.push(json!({
                "repositoryArn": berth_registry::resource_arn(&call.registry, Some(name.as_str())),
                "repositoryName": name,
                "scanOnPush": s.scan_on_push,
                "scanFrequency": s.scan_frequency,
                "appliedScanFilters": s.applied_filters,
            })),
            Err(Error::NameUnknown(_)) => failures.push(json!({
                "repositoryName": name,
                "failureCode": "REPOSITORY_NOT_FOUND",
                "failureReason": "REPOSITORY_NOT_FOUND",
            })),
            Err(e) => return Err(call.registry_error(e)),
        }
    }
    Ok(json!({ "scanningConfigurations": configs, "failures": failures }))
}
