//! The ECR image operations: listing, describing, getting, deleting and
//! putting images, and checking layers. They are the `/v2` state seen
//! through ECR's shapes: an image pushed with docker is listed here, and
//! one put here is pulled by docker.

use super::call::{constraint, seconds, Call, Failure};
use super::image_ids::{resolve, ImageId};
use super::operation::EcrOperation;
use super::paging::{batch_len, decode_token, encode_token, page_size, split_page};
use super::scanning::{image_scan_summary, ImageScanFindingsSummary, ImageScanStatus};
use crate::aws_error::AwsError;
use berth_oci::{Digest, Reference, Tag};
use berth_registry::Error;
use berth_registry::{ImageStatus, StatusFilter, TagStatus};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    tag_status: Option<String>,
    image_status: Option<String>,
}

/// The `imageStatus` filter: ECR lists only ACTIVE images unless asked.
fn image_status(f: Option<&Filter>) -> Result<StatusFilter, AwsError> {
    match f.and_then(|f| f.image_status.as_deref()) {
        None | Some("ACTIVE") => Ok(StatusFilter::Only(ImageStatus::Active)),
        Some("ARCHIVED") => Ok(StatusFilter::Only(ImageStatus::Archived)),
        Some("ACTIVATING") => Ok(StatusFilter::Only(ImageStatus::Activating)),
        Some("ANY") => Ok(StatusFilter::Any),
        Some(_) => Err(constraint(
            "filter.imageStatus",
            "Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]",
        )),
    }
}

fn tag_status(f: Option<&Filter>) -> Result<TagStatus, AwsError> {
    match f.and_then(|f| f.tag_status.as_deref()) {
        None | Some("ANY") => Ok(TagStatus::Any),
        Some("TAGGED") => Ok(TagStatus::Tagged),
        Some("UNTAGGED") => Ok(TagStatus::Untagged),
        Some(_) => Err(constraint(
            "filter.tagStatus",
            "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]",
        )),
    }
}

/// A batch's per-image failure.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageFailure {
    image_id: ImageId,
    failure_code: &'static str,
    failure_reason: String,
}

fn failure(id: &ImageId, code: &'static str, reason: impl Into<String>) -> ImageFailure {
    ImageFailure {
        image_id: id.clone(),
        failure_code: code,
        failure_reason: reason.into(),
    }
}

pub struct ListImages;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListImagesInput {
    registry_id: Option<String>,
    repository_name: String,
    filter: Option<Filter>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListImagesOutput {
    image_ids: Vec<ImageId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl EcrOperation for ListImages {
    const NAME: &'static str = "ListImages";
    type Input = ListImagesInput;
    type Output = ListImagesOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
        let status = tag_status(input.filter.as_ref())?;
        let by_status = image_status(input.filter.as_ref())?;
        let limit = page_size(input.max_results)?;
        let after = decode_token(&input.next_token)?;
        let after = match &after {
            None => None,
            Some(t) => {
                let (d, tag) = t.split_once('\n').unwrap_or((t.as_str(), ""));
                let d: Digest = d
                    .parse()
                    .map_err(|_| AwsError::invalid_parameter("Invalid parameter at 'nextToken'"))?;
                Some((d, tag.to_string()))
            }
        };
        let rows = call
            .app
            .registry
            .image_ids(
                &repo,
                status,
                by_status,
                after.as_ref().map(|(d, t)| (d, t.as_str())),
                limit + 1,
            )
            .await?;
        let (ids, more) = split_page(rows, limit);
        Ok(ListImagesOutput {
            image_ids: ids
                .iter()
                .map(|(d, t)| ImageId::of(d, t.as_deref()))
                .collect(),
            next_token: more
                .then(|| {
                    ids.last()
                        .map(|(d, t)| encode_token(&format!("{d}\n{}", t.as_deref().unwrap_or(""))))
                })
                .flatten(),
        })
    }
}

pub struct DescribeImages;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeImagesInput {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Option<Vec<ImageId>>,
    filter: Option<Filter>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeImagesOutput {
    image_details: Vec<ImageDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDetail {
    registry_id: String,
    repository_name: String,
    image_digest: Digest,
    image_size_in_bytes: u64,
    image_pushed_at: f64,
    image_manifest_media_type: String,
    image_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_archived_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_activated_at: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_media_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_manifest_digest: Option<Digest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_recorded_pull_time: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_scan_status: Option<ImageScanStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_scan_findings_summary: Option<ImageScanFindingsSummary>,
}

impl EcrOperation for DescribeImages {
    const NAME: &'static str = "DescribeImages";
    type Input = DescribeImagesInput;
    type Output = DescribeImagesOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
        let reg = &call.app.registry;
        let (digests, next_token) = match &input.image_ids {
            Some(ids) => {
                if input.next_token.is_some() || input.max_results.is_some() {
                    return Err(AwsError::invalid_parameter(
                        "imageIds cannot be combined with nextToken or maxResults",
                    )
                    .into());
                }
                let mut digests = Vec::new();
                for id in ids {
                    match resolve(call, &repo, id).await? {
                        Ok(d) => {
                            if !digests.contains(&d) {
                                digests.push(d)
                            }
                        }
                        Err(_) => return Err(call.image_not_found(&repo, id).into()),
                    }
                }
                (digests, None)
            }
            None => {
                let status = tag_status(input.filter.as_ref())?;
                let by_status = image_status(input.filter.as_ref())?;
                let limit = page_size(input.max_results)?;
                let after = decode_token(&input.next_token)?
                    .map(|t| t.parse::<Digest>())
                    .transpose()
                    .map_err(|_| AwsError::invalid_parameter("Invalid parameter at 'nextToken'"))?;
                let rows = reg
                    .image_digests(&repo, status, by_status, after.as_ref(), limit + 1)
                    .await?;
                let (page, more) = split_page(rows, limit);
                let next = more
                    .then(|| page.last().map(|d| encode_token(d.as_str())))
                    .flatten();
                (page, next)
            }
        };
        let details = reg.image_details(&repo, &digests).await?;
        // Named images must exist, as on ECR (a digest-only id resolves
        // without a lookup).
        if let Some(ids) = &input.image_ids {
            for id in ids {
                let named = id
                    .image_digest
                    .as_deref()
                    .filter(|_| id.image_tag.is_none());
                if let Some(d) = named {
                    if !details.iter().any(|i| i.record.digest.as_str() == d) {
                        return Err(call.image_not_found(&repo, id).into());
                    }
                }
            }
        }
        let mut image_details = Vec::with_capacity(details.len());
        for i in details {
            let r = i.record;
            let (image_scan_status, image_scan_findings_summary) =
                image_scan_summary(call, &repo, &r.digest).await?;
            image_details.push(ImageDetail {
                registry_id: call.registry.account_id.clone(),
                repository_name: repo.name.as_str().to_string(),
                image_size_in_bytes: i.size,
                image_pushed_at: seconds(r.pushed_at),
                image_manifest_media_type: r.media_type,
                image_status: r.status.api_name(),
                last_archived_at: r.archived_at.map(seconds),
                last_activated_at: r.activated_at.map(seconds),
                image_tags: (!r.tags.is_empty()).then_some(r.tags),
                artifact_media_type: r.artifact_type,
                subject_manifest_digest: r.subject,
                last_recorded_pull_time: r.last_pulled_at.map(seconds),
                image_digest: r.digest,
                image_scan_status,
                image_scan_findings_summary,
            });
        }
        Ok(DescribeImagesOutput {
            image_details,
            next_token,
        })
    }
}

/// ECR's `Image` shape (BatchGetImage, PutImage).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    registry_id: String,
    repository_name: String,
    image_id: ImageId,
    image_manifest: String,
    image_manifest_media_type: String,
}

pub struct BatchGetImage;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetImageInput {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Vec<ImageId>,
    accepted_media_types: Option<Vec<String>>,
}

#[derive(Serialize)]
pub struct BatchGetImageOutput {
    images: Vec<Image>,
    failures: Vec<ImageFailure>,
}

impl EcrOperation for BatchGetImage {
    const NAME: &'static str = "BatchGetImage";
    type Input = BatchGetImageInput;
    type Output = BatchGetImageOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let repo = call
            .existing_repo(input.registry_id.as_deref(), &input.repository_name)
            .await?;
        batch_len(&input.image_ids, "imageIds")?;
        let accept: Vec<&str> = input
            .accepted_media_types
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        let (mut images, mut failures) = (Vec::new(), Vec::new());
        for id in &input.image_ids {
            let digest = match resolve(call, &repo, id).await? {
                Ok(d) => d,
                Err((code, reason)) => {
                    failures.push(failure(id, code, reason));
                    continue;
                }
            };
            match call
                .app
                .registry
                .get_manifest(&repo, &Reference::Digest(digest.clone()), &accept)
                .await
            {
                Ok(m) => {
                    call.app.registry.record_pull(&m);
                    images.push(Image {
                        registry_id: call.registry.account_id.clone(),
                        repository_name: repo.name.as_str().to_string(),
                        image_id: ImageId::of(&digest, id.image_tag.as_deref()),
                        image_manifest: String::from_utf8_lossy(&m.body).into_owned(),
                        image_manifest_media_type: m.media_type().to_string(),
                    });
                }
                Err(Error::ManifestUnknown(_)) => {
                    failures.push(failure(id, "ImageNotFound", "Requested image not found"))
                }
                Err(e @ Error::ImageArchived { .. }) => {
                    failures.push(failure(id, "ImageNotFound", e.to_string()))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(BatchGetImageOutput { images, failures })
    }
}

pub struct BatchDeleteImage;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchDeleteImageInput {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Vec<ImageId>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchDeleteImageOutput {
    image_ids: Vec<ImageId>,
    failures: Vec<ImageFailure>,
}

impl EcrOperation for BatchDeleteImage {
    const NAME: &'static str = "BatchDeleteImage";
    type Input = BatchDeleteImageInput;
    type Output = BatchDeleteImageOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let repo = call
            .existing_repo(input.registry_id.as_deref(), &input.repository_name)
            .await?;
        batch_len(&input.image_ids, "imageIds")?;
        let (mut deleted, mut failures) = (Vec::new(), Vec::new());
        for id in &input.image_ids {
            let digest = match resolve(call, &repo, id).await? {
                Ok(d) => d,
                Err((code, reason)) => {
                    failures.push(failure(id, code, reason));
                    continue;
                }
            };
            // A tag alone removes the tag (the image goes with its last tag);
            // a digest removes the image and all its tags.
            let reference = match (&id.image_tag, &id.image_digest) {
                (Some(t), None) => Reference::Tag(Tag::parse(t).expect("checked by resolve")),
                _ => Reference::Digest(digest.clone()),
            };
            match call.app.registry.delete_manifest(&repo, &reference).await {
                Ok(()) => deleted.push(ImageId::of(&digest, id.image_tag.as_deref())),
                Err(Error::ManifestUnknown(_)) => {
                    failures.push(failure(id, "ImageNotFound", "Requested image not found"))
                }
                Err(Error::Conflict(m)) => {
                    failures.push(failure(id, "ImageReferencedByManifestList", m))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(BatchDeleteImageOutput {
            image_ids: deleted,
            failures,
        })
    }
}

pub struct BatchCheckLayerAvailability;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchCheckLayerAvailabilityInput {
    registry_id: Option<String>,
    repository_name: String,
    layer_digests: Vec<String>,
}

#[derive(Serialize)]
pub struct BatchCheckLayerAvailabilityOutput {
    layers: Vec<Layer>,
    failures: Vec<LayerFailure>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Layer {
    layer_digest: String,
    layer_availability: &'static str,
    layer_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerFailure {
    layer_digest: String,
    failure_code: &'static str,
    failure_reason: &'static str,
}

impl EcrOperation for BatchCheckLayerAvailability {
    const NAME: &'static str = "BatchCheckLayerAvailability";
    type Input = BatchCheckLayerAvailabilityInput;
    type Output = BatchCheckLayerAvailabilityOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let repo = call
            .existing_repo(input.registry_id.as_deref(), &input.repository_name)
            .await?;
        batch_len(&input.layer_digests, "layerDigests")?;
        let (mut layers, mut failures) = (Vec::new(), Vec::new());
        // The media type each available layer has in a manifest of the
        // repository (as the CLI's documented example shows), asked for all
        // of them at once below.
        let mut available: Vec<Digest> = Vec::new();
        for d in &input.layer_digests {
            let Ok(digest) = d.parse::<Digest>() else {
                failures.push(LayerFailure {
                    layer_digest: d.clone(),
                    failure_code: "InvalidLayerDigest",
                    failure_reason: "Invalid layer digest",
                });
                continue;
            };
            // Checking a layer claims it against garbage collection, as a `HEAD` does.
            match call.app.registry.stat_blob(&repo, &digest).await {
                Ok(info) => {
                    let archived = call.app.registry.blob_is_archived(&digest).await?;
                    layers.push(Layer {
                        layer_digest: d.clone(),
                        layer_availability: if archived { "ARCHIVED" } else { "AVAILABLE" },
                        layer_size: info.size,
                        media_type: None,
                    });
                    available.push(digest);
                }
                Err(Error::BlobUnknown(_)) => failures.push(LayerFailure {
                    layer_digest: d.clone(),
                    failure_code: "MissingLayerDigest",
                    failure_reason: "Could not find layer",
                }),
                Err(e) => return Err(e.into()),
            }
        }
        let media_types = call
            .app
            .registry
            .blob_media_types(&repo, &available)
            .await?;
        for (layer, media_type) in layers.iter_mut().zip(media_types) {
            layer.media_type = media_type;
        }
        Ok(BatchCheckLayerAvailabilityOutput { layers, failures })
    }
}

pub struct PutImage;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutImageInput {
    registry_id: Option<String>,
    repository_name: String,
    image_manifest: String,
    image_manifest_media_type: Option<String>,
    image_tag: Option<String>,
    image_digest: Option<String>,
}

#[derive(Serialize)]
pub struct PutImageOutput {
    image: Image,
}

impl EcrOperation for PutImage {
    const NAME: &'static str = "PutImage";
    type Input = PutImageInput;
    type Output = PutImageOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let repo = call
            .existing_repo(input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let reg = &call.app.registry;
        let body = Bytes::from(input.image_manifest.clone().into_bytes());
        let declared = input
            .image_digest
            .as_deref()
            .map(|d| {
                d.parse::<Digest>()
                    .map_err(|e| constraint("imageDigest", &e.to_string()))
            })
            .transpose()?;
        let algorithm = declared
            .as_ref()
            .map(|d| d.algorithm())
            .unwrap_or(berth_oci::Algorithm::Sha256);
        let digest = Digest::of_bytes(algorithm, &body);
        if let Some(d) = &declared {
            if d != &digest {
                return Err(AwsError::client(
                    "ImageDigestDoesNotMatchException",
                    format!("Invalid parameter at 'imageDigest' failed to satisfy constraint: 'the manifest's digest is {digest}, not {d}'"),
                )
                .into());
            }
        }
        let tag = input
            .image_tag
            .as_deref()
            .map(|t| {
                Tag::parse(t).map_err(|_| {
                    constraint(
                        "imageTag",
                        "must satisfy regular expression '[a-zA-Z0-9-_.]+'",
                    )
                })
            })
            .transpose()?;
        let reference = match &tag {
            Some(t) => Reference::Tag(t.clone()),
            None => Reference::Digest(digest.clone()),
        };
        // An image already there (the same manifest under the same tag, or
        // untagged at all) is ImageAlreadyExistsException, decided in the
        // write's transaction.
        let put = reg
            .put_image(&repo, &reference, input.image_manifest_media_type.as_deref(), body)
            .await
            .map_err(|e| match e {
                Error::ManifestBlobUnknown(missing) => Failure::from(AwsError::client(
                    "LayersNotFoundException",
                    format!(
                        "Layers with digests '{}' required for pushing image into repository with name '{}' in the registry with id '{}' do not exist",
                        missing.iter().map(Digest::as_str).collect::<Vec<_>>().join(", "),
                        repo.name, call.registry.account_id
                    ),
                )),
                Error::ManifestInvalid(m) => AwsError::invalid_parameter(format!("Invalid parameter at 'imageManifest' failed to satisfy constraint: '{m}'")).into(),
                Error::ManifestTooLarge { .. } => constraint("imageManifest", "Member must have length less than or equal to 4194304").into(),
                other => other.into(),
            })?;
        Ok(PutImageOutput {
            image: Image {
                registry_id: call.registry.account_id.clone(),
                repository_name: repo.name.as_str().to_string(),
                image_id: ImageId::of(&put.digest, tag.as_ref().map(Tag::as_str)),
                image_manifest: input.image_manifest,
                image_manifest_media_type: put.media_type,
            },
        })
    }
}

/// How long a layer download URL works (ECR's last about an hour).
const DOWNLOAD_URL_SECS: u64 = 3600;

/// A URL that GETs exactly this blob without further credentials, until it
/// expires: the `/v2` blob path presigned (SigV4 query) by berth on behalf
/// of the caller's access key, with a secret derived from the server key
/// (as AWS presigns ECR's layer URLs with its own credentials).
pub struct GetDownloadUrlForLayer;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetDownloadUrlForLayerInput {
    registry_id: Option<String>,
    repository_name: String,
    layer_digest: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetDownloadUrlForLayerOutput {
    download_url: String,
    layer_digest: Digest,
}

impl EcrOperation for GetDownloadUrlForLayer {
    const NAME: &'static str = "GetDownloadUrlForLayer";
    type Input = GetDownloadUrlForLayerInput;
    type Output = GetDownloadUrlForLayerOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let repo = call
            .existing_repo(input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let reg = &call.app.registry;
        let digest: Digest = input
            .layer_digest
            .parse()
            .map_err(|e: berth_oci::DigestError| constraint("layerDigest", &e.to_string()))?;
        match reg.stat_blob(&repo, &digest).await {
            Ok(_) => {
                if reg.blob_is_archived(&digest).await? {
                    return Err(Error::BlobArchived(digest).into());
                }
            }
            Err(Error::BlobUnknown(_)) => {
                return Err(AwsError::client(
                    "LayersNotFoundException",
                    format!(
                        "The following layers were not found: {digest} in the repository with name '{}' in the registry with id '{}'",
                        repo.name, call.registry.account_id
                    ),
                )
                .into())
            }
            Err(e) => return Err(e.into()),
        }
        // The object store's own presigned URL, when the registry redirects
        // downloads there (as ECR's URLs point at S3).
        if let Some(url) = reg
            .blob_download_url(
                &repo,
                &digest,
                std::time::Duration::from_secs(DOWNLOAD_URL_SECS),
            )
            .await?
        {
            return Ok(GetDownloadUrlForLayerOutput {
                download_url: url,
                layer_digest: digest,
            });
        }
        let path = format!("/v2/{}/blobs/{digest}", repo.name);
        let secret = reg.identity().download_url_secret(&call.access_key_id);
        let query = berth_iam::sigv4::presign_query(
            "GET",
            &call.host,
            &path,
            None,
            &berth_iam::sigv4::Presign {
                access_key_id: &call.access_key_id,
                secret_access_key: &secret,
                region: &call.registry.region,
                service: "ecr",
                now_unix: reg.now_secs(),
                expires: DOWNLOAD_URL_SECS,
                // Temporary credentials: the URL carries their session,
                // which the blob GET opens to find who it speaks for.
                session_token: call.principal.session.as_ref().map(|s| s.token.as_str()),
            },
        );
        Ok(GetDownloadUrlForLayerOutput {
            download_url: format!("{}://{}{path}?{query}", call.app.hosts.scheme, call.host),
            layer_digest: digest,
        })
    }
}

/// The OCI referrers of an image (signatures, SBOMs) as ECR lists them:
/// pages of at most 50 in digest order. Every image is ACTIVE until the
/// archive storage class exists.
pub struct ListImageReferrers;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListImageReferrersInput {
    registry_id: Option<String>,
    repository_name: String,
    subject_id: SubjectId,
    filter: Option<ReferrersFilter>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubjectId {
    image_digest: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ReferrersFilter {
    #[serde(default)]
    artifact_types: Vec<String>,
    artifact_status: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListImageReferrersOutput {
    referrers: Vec<ImageReferrer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageReferrer {
    digest: Digest,
    media_type: String,
    size: u64,
    artifact_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
    /// The manifest's annotations as stored (JSON text).
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<Value>,
}

impl EcrOperation for ListImageReferrers {
    const NAME: &'static str = "ListImageReferrers";
    type Input = ListImageReferrersInput;
    type Output = ListImageReferrersOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let repo = call
            .existing_repo(input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let subject: Digest = input
            .subject_id
            .image_digest
            .parse()
            .map_err(|e| constraint("subjectId.imageDigest", &format!("{e}")))?;
        let limit = match input.max_results {
            None => 50,
            Some(n @ 1..=50) => n as usize,
            Some(_) => {
                return Err(
                    constraint("maxResults", "Member must have value between 1 and 50").into(),
                )
            }
        };
        let filter = input.filter.unwrap_or_default();
        if filter.artifact_types.len() > 5 {
            return Err(constraint(
                "filter.artifactTypes",
                "Member must have length less than or equal to 5",
            )
            .into());
        }
        let active = match filter.artifact_status.as_deref() {
            None | Some("ACTIVE") | Some("ANY") => true,
            Some("ARCHIVED") | Some("ACTIVATING") => false,
            Some(_) => {
                return Err(constraint(
                    "filter.artifactStatus",
                    "Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]",
                )
                .into())
            }
        };
        let after = decode_token(&input.next_token)?;
        let all = if active {
            call.app.registry.referrers(&repo, &subject, None).await?
        } else {
            Vec::new()
        };
        let mut matching = all.into_iter().filter(|r| {
            filter.artifact_types.is_empty()
                || r.artifact_type
                    .as_ref()
                    .is_some_and(|t| filter.artifact_types.contains(t))
        });
        let page: Vec<_> = match &after {
            Some(a) => matching
                .by_ref()
                .skip_while(|r| r.digest.as_str() <= a.as_str())
                .take(limit + 1)
                .collect(),
            None => matching.by_ref().take(limit + 1).collect(),
        };
        let (page, more) = split_page(page, limit as u32);
        let next_token = more
            .then(|| page.last().map(|last| encode_token(last.digest.as_str())))
            .flatten();
        Ok(ListImageReferrersOutput {
            referrers: page
                .into_iter()
                .map(|r| ImageReferrer {
                    annotations: r
                        .annotations
                        .as_deref()
                        .and_then(|a| serde_json::from_str::<Value>(a).ok()),
                    digest: r.digest,
                    media_type: r.media_type,
                    size: r.size,
                    artifact_status: "ACTIVE",
                    artifact_type: r.artifact_type,
                })
                .collect(),
            next_token,
        })
    }
}

/// UpdateImageStorageClass: ARCHIVE takes effect at once (the image stops
/// being pullable); STANDARD answers ACTIVATING and restores in the
/// background, after which the image is ACTIVE with `lastActivatedAt`.
pub struct UpdateImageStorageClass;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateImageStorageClassInput {
    registry_id: Option<String>,
    repository_name: String,
    image_id: ImageId,
    target_storage_class: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateImageStorageClassOutput {
    registry_id: String,
    repository_name: String,
    image_id: ImageId,
    image_status: &'static str,
}

impl EcrOperation for UpdateImageStorageClass {
    const NAME: &'static str = "UpdateImageStorageClass";
    type Input = UpdateImageStorageClassInput;
    type Output = UpdateImageStorageClassOutput;

    async fn handle(call: &Call<'_>, input: Self::Input) -> Result<Self::Output, Failure> {
        let archive = match input.target_storage_class.as_str() {
            "ARCHIVE" => true,
            "STANDARD" => false,
            _ => {
                return Err(constraint(
                    "targetStorageClass",
                    "Member must satisfy enum value set: [STANDARD, ARCHIVE]",
                )
                .into())
            }
        };
        let repo = call
            .existing_repo(input.registry_id.as_deref(), &input.repository_name)
            .await?;
        let not_found = || Failure::from(call.image_not_found(&repo, &input.image_id));
        let digest = match resolve(call, &repo, &input.image_id).await? {
            Ok(d) => d,
            Err(("ImageNotFound", _)) => return Err(not_found()),
            Err((_, reason)) => return Err(AwsError::invalid_parameter(reason).into()),
        };
        let (digest, status) = match call
            .app
            .registry
            .update_storage_class(&repo, &Reference::Digest(digest), archive)
            .await
        {
            Ok(done) => done,
            Err(Error::ManifestUnknown(_)) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        Ok(UpdateImageStorageClassOutput {
            registry_id: call.registry.account_id.clone(),
            repository_name: repo.name.as_str().to_string(),
            image_id: ImageId::of(&digest, input.image_id.image_tag.as_deref()),
            image_status: status.api_name(),
        })
    }
}
