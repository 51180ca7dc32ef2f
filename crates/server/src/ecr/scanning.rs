//! Image scanning: StartImageScan, DescribeImageScanFindings,
//! Get/PutRegistryScanningConfiguration,
//! BatchGetRepositoryScanningConfiguration, and the scan summary
//! DescribeImages shows. The scans themselves are the registry's
//! (`crates/registry/src/scanning/`).

use super::access::{Needs, Scope};
use super::call::{constraint, seconds, Call, Failure};
use super::image_ids::{existing_image, image_id_of, image_id_text, ImageId};
use super::operation::EcrOperation;
use super::paging::{decode_token, encode_token, page_size};
use crate::aws_error::AwsError;
use berth_oci::Digest;
use berth_registry::scanning::{RepositoryFilter, ScanningConfig, StoredFinding, BASIC};
use berth_registry::ImageScanRecord;
use berth_registry::{Error, Repo};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// ECR's `ImageScanStatus`.
#[derive(Serialize)]
pub struct ImageScanStatus {
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

fn scan_status(s: &ImageScanRecord) -> ImageScanStatus {
    ImageScanStatus {
        status: s.status.clone(),
        description: s.description.clone(),
    }
}

pub struct StartImageScan;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartImageScanInput {
    registry_id: Option<String>,
    repository_name: String,
    image_id: ImageId,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartImageScanOutput {
    registry_id: String,
    repository_name: String,
    image_id: ImageId,
    image_scan_status: ImageScanStatus,
}

impl EcrOperation for StartImageScan {
    const NAME: &'static str = "StartImageScan";
    type Input = StartImageScanInput;
    type Output = StartImageScanOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
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
                Error::ManifestUnknown(_) => call.image_not_found(&repo, &input.image_id).into(),
                e @ Error::ImageArchived { .. } => {
                    AwsError::client("ImageArchivedException", e.to_string()).into()
                }
                e => Failure::from(e),
            })?;
        Ok(StartImageScanOutput {
            registry_id: call.registry.account_id.clone(),
            repository_name: repo.name.as_str().to_string(),
            image_id: image_id_of(&digest, &input.image_id),
            image_scan_status: scan_status(&scan),
        })
    }
}

fn stored_findings(s: &ImageScanRecord) -> Vec<StoredFinding> {
    s.findings
        .as_deref()
        .and_then(|f| serde_json::from_str(f).ok())
        .unwrap_or_default()
}

fn severity_counts(s: &ImageScanRecord) -> BTreeMap<String, u64> {
    s.counts
        .as_deref()
        .and_then(|c| serde_json::from_str::<BTreeMap<String, u64>>(c).ok())
        .unwrap_or_default()
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

pub struct DescribeImageScanFindings;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeImageScanFindingsInput {
    registry_id: Option<String>,
    repository_name: String,
    image_id: ImageId,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeImageScanFindingsOutput {
    registry_id: String,
    repository_name: String,
    image_id: ImageId,
    image_scan_status: ImageScanStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_scan_findings: Option<ImageScanFindings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ECR's `ImageScanFindings`: the summary and one page of findings, BASIC
/// (`findings`) or ENHANCED (`enhancedFindings`). The findings themselves
/// are built as JSON (`basic_finding`, `enhanced_finding`: Inspector's
/// deep shape, with members present only when known).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageScanFindings {
    #[serde(flatten)]
    summary: ImageScanFindingsSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    findings: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enhanced_findings: Option<Vec<Value>>,
}

/// ECR's `ImageScanFindingsSummary` (DescribeImages), also the head of
/// `ImageScanFindings`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageScanFindingsSummary {
    finding_severity_counts: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_scan_completed_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vulnerability_source_updated_at: Option<f64>,
}

fn findings_summary(scan: &ImageScanRecord) -> ImageScanFindingsSummary {
    ImageScanFindingsSummary {
        finding_severity_counts: severity_counts(scan),
        image_scan_completed_at: scan.completed_at.map(seconds),
        vulnerability_source_updated_at: scan.source_updated_at.map(seconds),
    }
}

impl EcrOperation for DescribeImageScanFindings {
    const NAME: &'static str = "DescribeImageScanFindings";
    type Input = DescribeImageScanFindingsInput;
    type Output = DescribeImageScanFindingsOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
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
            .await?
            .ok_or_else(|| {
                AwsError::client(
                    "ScanNotFoundException",
                    format!(
                        "Image scan does not exist for the image with '{}' in the repository with name '{}' in the registry with id '{}'",
                        image_id_text(Some(digest.as_str()), input.image_id.image_tag.as_deref()),
                        repo.name,
                        call.registry.account_id
                    ),
                )
            })?;
        let mut out = DescribeImageScanFindingsOutput {
            registry_id: call.registry.account_id.clone(),
            repository_name: repo.name.as_str().to_string(),
            image_id: image_id_of(&digest, &input.image_id),
            image_scan_status: scan_status(&scan),
            image_scan_findings: None,
            next_token: None,
        };
        if scan.status == "COMPLETE" {
            let all = stored_findings(&scan);
            let page: Vec<&StoredFinding> = all.iter().skip(from).take(limit).collect();
            let (findings, enhanced_findings) = if scan.scan_type == BASIC {
                (Some(page.iter().map(|f| basic_finding(f)).collect()), None)
            } else {
                let enhanced = page
                    .iter()
                    .map(|f| enhanced_finding(call, &repo, &digest, &scan, f))
                    .collect();
                (None, Some(enhanced))
            };
            out.image_scan_findings = Some(ImageScanFindings {
                summary: findings_summary(&scan),
                findings,
                enhanced_findings,
            });
            if from + limit < all.len() {
                out.next_token = Some(encode_token(&(from + limit).to_string()));
            }
        }
        Ok(out)
    }
}

/// `imageScanStatus` and `imageScanFindingsSummary` of an image, for
/// DescribeImages (neither when never scanned; no summary until complete).
pub async fn image_scan_summary(
    call: &Call<'_>,
    repo: &Repo,
    digest: &Digest,
) -> Result<(Option<ImageScanStatus>, Option<ImageScanFindingsSummary>), Failure> {
    let Some(scan) = call.app.registry.image_scan(repo, digest).await? else {
        return Ok((None, None));
    };
    let summary = (scan.status == "COMPLETE").then(|| findings_summary(&scan));
    Ok((Some(scan_status(&scan)), summary))
}

pub struct PutRegistryScanningConfiguration;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PutRegistryScanningConfigurationInput {
    scan_type: Option<String>,
    /// Kept as JSON: a rule without `scanFrequency` or `repositoryFilters`
    /// is ECR's constraint error, checked before the rule's shape.
    rules: Option<Vec<Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRegistryScanningConfigurationOutput {
    registry_scanning_configuration: ScanningConfig,
}

impl EcrOperation for PutRegistryScanningConfiguration {
    const NAME: &'static str = "PutRegistryScanningConfiguration";
    type Input = PutRegistryScanningConfigurationInput;
    type Output = PutRegistryScanningConfigurationOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let mut rules = Vec::new();
        for r in input.rules.unwrap_or_default() {
            if r.get("scanFrequency").and_then(Value::as_str).is_none() {
                return Err(constraint("rules.scanFrequency", "Member must not be null").into());
            }
            if r.get("repositoryFilters")
                .and_then(Value::as_array)
                .is_none()
            {
                return Err(
                    constraint("rules.repositoryFilters", "Member must not be null").into(),
                );
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
            .await?;
        Ok(PutRegistryScanningConfigurationOutput {
            registry_scanning_configuration: stored,
        })
    }
}

pub struct GetRegistryScanningConfiguration;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRegistryScanningConfigurationOutput {
    registry_id: String,
    scanning_configuration: ScanningConfig,
}

impl EcrOperation for GetRegistryScanningConfiguration {
    const NAME: &'static str = "GetRegistryScanningConfiguration";
    type Input = IgnoredAny;
    type Output = GetRegistryScanningConfigurationOutput;

    async fn handle(call: &Call<'_>, _: IgnoredAny) -> Result<Self::Output, Failure> {
        let c = call.app.registry.registry_scanning(&call.registry).await?;
        Ok(GetRegistryScanningConfigurationOutput {
            registry_id: call.registry.account_id.clone(),
            scanning_configuration: c,
        })
    }
}

pub struct BatchGetRepositoryScanningConfiguration;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetRepositoryScanningConfigurationInput {
    repository_names: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetRepositoryScanningConfigurationOutput {
    scanning_configurations: Vec<RepositoryScanningConfiguration>,
    failures: Vec<RepositoryScanningConfigurationFailure>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryScanningConfiguration {
    repository_arn: String,
    repository_name: String,
    scan_on_push: bool,
    scan_frequency: &'static str,
    applied_scan_filters: Vec<RepositoryFilter>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryScanningConfigurationFailure {
    repository_name: String,
    failure_code: &'static str,
    failure_reason: &'static str,
}

impl EcrOperation for BatchGetRepositoryScanningConfiguration {
    const NAME: &'static str = "BatchGetRepositoryScanningConfiguration";
    type Input = BatchGetRepositoryScanningConfigurationInput;
    type Output = BatchGetRepositoryScanningConfigurationOutput;

    /// Every repository named is checked; the batch refuses as a whole.
    /// Without names the request is malformed, but is refused to a caller
    /// without the action first, as every operation is.
    fn needs(scope: &Scope) -> Result<Needs, AwsError> {
        let names = scope.repository_names.as_deref().unwrap_or_default();
        Ok(if names.is_empty() {
            Needs::on(Self::NAME, None)
        } else {
            Needs::on_each(Self::NAME, names)
        })
    }

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        if input.repository_names.is_empty() || input.repository_names.len() > 25 {
            return Err(constraint(
                "repositoryNames",
                "Member must have length between 1 and 25",
            )
            .into());
        }
        let (mut configs, mut failures) = (Vec::new(), Vec::new());
        for name in input.repository_names {
            call.repository_name(&name)?;
            match call
                .app
                .registry
                .repository_scanning(&call.registry, &name)
                .await
            {
                Ok(s) => configs.push(RepositoryScanningConfiguration {
                    repository_arn: berth_registry::resource_arn(
                        &call.registry,
                        Some(name.as_str()),
                    ),
                    repository_name: name,
                    scan_on_push: s.scan_on_push,
                    scan_frequency: s.scan_frequency,
                    applied_scan_filters: s.applied_filters,
                }),
                Err(Error::NameUnknown(_)) => {
                    failures.push(RepositoryScanningConfigurationFailure {
                        repository_name: name,
                        failure_code: "REPOSITORY_NOT_FOUND",
                        failure_reason: "REPOSITORY_NOT_FOUND",
                    })
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(BatchGetRepositoryScanningConfigurationOutput {
            scanning_configurations: configs,
            failures,
        })
    }
}
