//! The ECR image operations: listing, describing, getting, deleting and
//! putting images, and checking layers. They are the `/v2` state seen
//! through ECR's shapes: an image pushed with docker is listed here, and
//! one put here is pulled by docker.

use super::ops::constraint;
use super::paging::{batch_len, decode_token, encode_token, page_size, split_page};
use super::Call;
use crate::aws_error::AwsError;
use berth_oci::{Digest, Reference, RepositoryName, Tag};
use berth_registry::{Error, Repo};
use berth_registry::{ImageStatus, StatusFilter, TagStatus};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ImageId {
    image_digest: Option<String>,
    image_tag: Option<String>,
}

impl ImageId {
    pub(super) fn json(&self) -> Value {
        image_id(self.image_digest.as_deref(), self.image_tag.as_deref())
    }

    pub(super) fn tag(&self) -> Option<&str> {
        self.image_tag.as_deref()
    }

    /// The id as ECR's messages write it.
    pub(super) fn text(&self) -> String {
        image_id_text(self.image_digest.as_deref(), self.image_tag.as_deref())
    }
}

/// An image id as ECR's messages write it:
/// `{imageDigest:'sha256:…', imageTag:'latest'}`, with `'null'` for the part
/// the request left out.
pub(super) fn image_id_text(digest: Option<&str>, tag: Option<&str>) -> String {
    format!(
        "{{imageDigest:'{}', imageTag:'{}'}}",
        digest.unwrap_or("null"),
        tag.unwrap_or("null")
    )
}

/// An `ImageIdentifier`: digest and tag, each only when known.
fn image_id(digest: Option<&str>, tag: Option<&str>) -> Value {
    let mut v = json!({});
    if let Some(d) = digest {
        v["imageDigest"] = json!(d);
    }
    if let Some(t) = tag {
        v["imageTag"] = json!(t);
    }
    v
}

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

impl Call<'_> {
    /// The repository a request names, in the caller's registry.
    pub(super) fn named_repo(
        &self,
        registry_id: Option<&str>,
        name: &str,
    ) -> Result<Repo, AwsError> {
        self.check_registry_id(registry_id)?;
        let name: RepositoryName = self.repository_name(name)?;
        Ok(Repo {
            registry: self.registry.clone(),
            name,
        })
    }

    /// As [`named_repo`](Self::named_repo), and it must exist
    /// (`RepositoryNotFoundException` before anything else is checked).
    pub(super) async fn existing_repo(
        &self,
        registry_id: Option<&str>,
        name: &str,
    ) -> Result<Repo, AwsError> {
        let repo = self.named_repo(registry_id, name)?;
        self.app
            .registry
            .repository(&self.registry, repo.name.as_str())
            .await
            .map_err(|e| self.registry_error(e))?;
        Ok(repo)
    }

    /// ECR's ImageNotFoundException for an image id of `repo`, in ECR's
    /// words: "The image with imageId {imageDigest:'null', imageTag:'latest'}
    /// does not exist within the repository with name 'main' in the registry
    /// with id '058043570872'".
    pub(super) fn image_not_found(&self, repo: &Repo, id: &ImageId) -> AwsError {
        AwsError::client(
            "ImageNotFoundException",
            format!(
                "The image with imageId {} does not exist within the repository with name '{}' in the registry with id '{}'",
                id.text(),
                repo.name,
                self.registry.account_id
            ),
        )
    }

    fn failure(&self, id: &ImageId, code: &str, reason: &str) -> Value {
        json!({ "imageId": id.json(), "failureCode": code, "failureReason": reason })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListImagesInput {
    registry_id: Option<String>,
    repository_name: String,
    filter: Option<Filter>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub async fn list_images(call: &Call<'_>, input: ListImagesInput) -> Result<Value, AwsError> {
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
        .await
        .map_err(|e| call.registry_error(e))?;
    let (ids, more) = split_page(rows, limit);
    let mut out = json!({
        "imageIds": ids
            .iter()
            .map(|(d, t)| image_id(Some(d.as_str()), t.as_deref()))
            .collect::<Vec<_>>(),
    });
    if more {
        if let Some((d, t)) = ids.last() {
            out["nextToken"] = json!(encode_token(&format!(
                "{d}\n{}",
                t.as_deref().unwrap_or("")
            )));
        }
    }
    Ok(out)
}

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

pub async fn describe_images(
    call: &Call<'_>,
    input: DescribeImagesInput,
) -> Result<Value, AwsError> {
    let repo = call.named_repo(input.registry_id.as_deref(), &input.repository_name)?;
    let reg = &call.app.registry;
    let (digests, next) = match &input.image_ids {
        Some(ids) => {
            if input.next_token.is_some() || input.max_results.is_some() {
                return Err(AwsError::invalid_parameter(
                    "imageIds cannot be combined with nextToken or maxResults",
                ));
            }
            let mut digests = Vec::new();
            for id in ids {
                match resolve(call, &repo, id).await? {
                    Ok(d) => {
                        if !digests.contains(&d) {
                            digests.push(d)
                        }
                    }
                    Err(_) => return Err(call.image_not_found(&repo, id)),
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
                .await
                .map_err(|e| call.registry_error(e))?;
            let (page, more) = split_page(rows, limit);
            let next = more
                .then(|| page.last().map(|d| encode_token(d.as_str())))
                .flatten();
            (page, next)
        }
    };
    let details = reg
        .image_details(&repo, &digests)
        .await
        .map_err(|e| call.registry_error(e))?;
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
                    return Err(call.image_not_found(&repo, id));
                }
            }
        }
    }
    let mut image_details: Vec<Value> = details
        .iter()
        .map(|i| {
            let r = &i.record;
            let mut v = json!({
                "registryId": call.registry.account_id,
                "repositoryName": repo.name.as_str(),
                "imageDigest": r.digest,
                "imageSizeInBytes": i.size,
                "imagePushedAt": r.pushed_at as f64 / 1000.0,
                "imageManifestMediaType": r.media_type,
                "imageStatus": r.status.api_name(),
            });
            if let Some(t) = r.archived_at {
                v["lastArchivedAt"] = json!(t as f64 / 1000.0);
            }
            if let Some(t) = r.activated_at {
                v["lastActivatedAt"] = json!(t as f64 / 1000.0);
            }
            if !r.tags.is_empty() {
                v["imageTags"] = json!(r.tags);
            }
            if let Some(a) = &r.artifact_type {
                v["artifactMediaType"] = json!(a);
            }
            if let Some(s) = &r.subject {
                v["subjectManifestDigest"] = json!(s);
            }
            if let Some(t) = r.last_pulled_at {
                v["lastRecordedPullTime"] = json!(t as f64 / 1000.0);
            }
            v
        })
        .collect();
    for v in &mut image_details {
        let digest = v["imageDigest"].as_str().unwrap_or_default().to_string();
        super::scanning::describe_images_scan(call, &repo, &digest, v).await?;
    }
    let mut out = json!({ "imageDetails": image_details });
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    Ok(out)
}

/// The digest an image id names: `Ok(Err(code, reason))` is a per-image
/// failure as the batch operations report them.
pub(super) async fn resolve(
    call: &Call<'_>,
    repo: &Repo,
    id: &ImageId,
) -> Result<Result<Digest, (&'static str, String)>, AwsError> {
    let digest = match &id.image_digest {
        None => None,
        Some(d) => match d.parse::<Digest>() {
            Ok(d) => Some(d),
            Err(e) => {
                return Ok(Err((
                    "InvalidImageDigest",
                    format!("Invalid request parameters: {e}"),
                )))
            }
        },
    };
    let tagged = match &id.image_tag {
        None => None,
        Some(t) => {
            if Tag::parse(t).is_err() {
                return Ok(Err((
                    "InvalidImageTag",
                    format!("Invalid request parameters: image tag '{t}' is not valid"),
                )));
            }
            Some(
                call.app
                    .registry
                    .tag_digest(repo, t)
                    .await
                    .map_err(|e| call.registry_error(e))?,
            )
        }
    };
    match (digest, tagged) {
        (None, None) => Ok(Err((
            "MissingDigestAndTag",
            "Invalid request parameters: both tag and digest cannot be null".into(),
        ))),
        (Some(d), None) => Ok(Ok(d)),
        (None, Some(None)) | (Some(_), Some(None)) => {
            Ok(Err(("ImageNotFound", "Requested image not found".into())))
        }
        (None, Some(Some(t))) => Ok(Ok(t)),
        (Some(d), Some(Some(t))) if d == t => Ok(Ok(d)),
        (Some(_), Some(Some(_))) => Ok(Err((
            "ImageTagDoesNotMatchDigest",
            "Invalid request parameters: the image tag does not match the digest".into(),
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetImageInput {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Vec<ImageId>,
    accepted_media_types: Option<Vec<String>>,
}

pub async fn batch_get_image(
    call: &Call<'_>,
    input: BatchGetImageInput,
) -> Result<Value, AwsError> {
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
                failures.push(call.failure(id, code, &reason));
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
                images.push(json!({
                    "registryId": call.registry.account_id,
                    "repositoryName": repo.name.as_str(),
                    "imageId": image_id(Some(digest.as_str()), id.image_tag.as_deref()),
                    "imageManifest": String::from_utf8_lossy(&m.body),
                    "imageManifestMediaType": m.media_type,
                }));
            }
            Err(Error::ManifestUnknown(_)) => {
                failures.push(call.failure(id, "ImageNotFound", "Requested image not found"))
            }
            Err(e @ Error::ImageArchived { .. }) => {
                failures.push(call.failure(id, "ImageNotFound", &e.to_string()))
            }
            Err(e) => return Err(call.registry_error(e)),
        }
    }
    Ok(json!({ "images": images, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchDeleteImageInput {
    registry_id: Option<String>,
    repository_name: String,
    image_ids: Vec<ImageId>,
}

pub async fn batch_delete_image(
    call: &Call<'_>,
    input: BatchDeleteImageInput,
) -> Result<Value, AwsError> {
    let repo = call
        .existing_repo(input.registry_id.as_deref(), &input.repository_name)
        .await?;
    batch_len(&input.image_ids, "imageIds")?;
    let (mut deleted, mut failures) = (Vec::new(), Vec::new());
    for id in &input.image_ids {
        let digest = match resolve(call, &repo, id).await? {
            Ok(d) => d,
            Err((code, reason)) => {
                failures.push(call.failure(id, code, &reason));
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
            Ok(()) => deleted.push(image_id(Some(digest.as_str()), id.image_tag.as_deref())),
            Err(Error::ManifestUnknown(_)) => {
                failures.push(call.failure(id, "ImageNotFound", "Requested image not found"))
            }
            Err(Error::Conflict(m)) => {
                failures.push(call.failure(id, "ImageReferencedByManifestList", &m))
            }
            Err(e) => return Err(call.registry_error(e)),
        }
    }
    Ok(json!({ "imageIds": deleted, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchCheckLayerAvailabilityInput {
    registry_id: Option<String>,
    repository_name: String,
    layer_digests: Vec<String>,
}

pub async fn batch_check_layer_availability(
    call: &Call<'_>,
    input: BatchCheckLayerAvailabilityInput,
) -> Result<Value, AwsError> {
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
            failures.push(json!({ "layerDigest": d, "failureCode": "InvalidLayerDigest", "failureReason": "Invalid layer digest" }));
            continue;
        };
        // Checking a layer claims it against garbage collection, as a `HEAD` does.
        match call.app.registry.stat_blob(&repo, &digest).await {
            Ok(info) => {
                let archived = call
                    .app
                    .registry
                    .blob_is_archived(&digest)
                    .await
                    .map_err(|e| call.registry_error(e))?;
                layers.push(json!({
                    "layerDigest": d,
                    "layerAvailability": if archived { "ARCHIVED" } else { "AVAILABLE" },
                    "layerSize": info.size,
                }));
                available.push(digest);
            }
            Err(Error::BlobUnknown(_)) => failures.push(json!({ "layerDigest": d, "failureCode": "MissingLayerDigest", "failureReason": "Could not find layer" })),
            Err(e) => return Err(call.registry_error(e)),
        }
    }
    let media_types = call
        .app
        .registry
        .blob_media_types(&repo, &available)
        .await
        .map_err(|e| call.registry_error(e))?;
    for (layer, media_type) in layers.iter_mut().zip(media_types) {
        if let Some(t) = media_type {
            layer["mediaType"] = json!(t);
        }
    }
    Ok(json!({ "layers": layers, "failures": failures }))
}

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

pub async fn put_image(call: &Call<'_>, input: PutImageInput) -> Result<Value, AwsError> {
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
            ));
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
            Error::ManifestBlobUnknown(missing) => AwsError::client(
                "LayersNotFoundException",
                format!(
                    "Layers with digests '{}' required for pushing image into repository with name '{}' in the registry with id '{}' do not exist",
                    missing.iter().map(Digest::as_str).collect::<Vec<_>>().join(", "),
                    repo.name, call.registry.account_id
                ),
            ),
            Error::ManifestInvalid(m) => AwsError::invalid_parameter(format!("Invalid parameter at 'imageManifest' failed to satisfy constraint: '{m}'")),
            Error::ManifestTooLarge { .. } => constraint("imageManifest", "Member must have length less than or equal to 4194304"),
            other => call.registry_error(other),
        })?;
    Ok(json!({
        "image": {
            "registryId": call.registry.account_id,
            "repositoryName": repo.name.as_str(),
            "imageId": image_id(Some(put.digest.as_str()), tag.as_ref().map(Tag::as_str)),
            "imageManifest": input.image_manifest,
            "imageManifestMediaType": put.media_type,
        }
    }))
}

/// How long a layer download URL works (ECR's last about an hour).
const DOWNLOAD_URL_SECS: u64 = 3600;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetDownloadUrlForLayerInput {
    registry_id: Option<String>,
    repository_name: String,
    layer_digest: String,
}

/// A URL that GETs exactly this blob without further credentials, until it
/// expires: the `/v2` blob path presigned (SigV4 query) by berth on behalf
/// of the caller's access key, with a secret derived from the server key
/// (as AWS presigns ECR's layer URLs with its own credentials).
pub async fn get_download_url_for_layer(
    call: &Call<'_>,
    input: GetDownloadUrlForLayerInput,
) -> Result<Value, AwsError> {
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
            if reg
                .blob_is_archived(&digest)
                .await
                .map_err(|e| call.registry_error(e))?
            {
                return Err(call.registry_error(Error::BlobArchived(digest)));
            }
        }
        Err(Error::BlobUnknown(_)) => {
            return Err(AwsError::client(
                "LayersNotFoundException",
                format!(
                    "The following layers were not found: {digest} in the repository with name '{}' in the registry with id '{}'",
                    repo.name, call.registry.account_id
                ),
            ))
        }
        Err(e) => return Err(call.registry_error(e)),
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
            session_token: None,
        },
    );
    Ok(json!({
        "downloadUrl": format!("{}://{}{path}?{query}", call.app.hosts.scheme, call.host),
        "layerDigest": digest,
    }))
}

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

/// The OCI referrers of an image (signatures, SBOMs) as ECR lists them:
/// pages of at most 50 in digest order. Every image is ACTIVE until the
/// archive storage class exists.
pub async fn list_image_referrers(
    call: &Call<'_>,
    input: ListImageReferrersInput,
) -> Result<Value, AwsError> {
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
            return Err(constraint(
                "maxResults",
                "Member must have value between 1 and 50",
            ))
        }
    };
    let filter = input.filter.unwrap_or_default();
    if filter.artifact_types.len() > 5 {
        return Err(constraint(
            "filter.artifactTypes",
            "Member must have length less than or equal to 5",
        ));
    }
    let active = match filter.artifact_status.as_deref() {
        None | Some("ACTIVE") | Some("ANY") => true,
        Some("ARCHIVED") | Some("ACTIVATING") => false,
        Some(_) => {
            return Err(constraint(
                "filter.artifactStatus",
                "Member must satisfy enum value set: [ACTIVE, ARCHIVED, ACTIVATING, ANY]",
            ))
        }
    };
    let after = decode_token(&input.next_token)?;
    let all = if active {
        call.app
            .registry
            .referrers(&repo, &subject, None)
            .await
            .map_err(|e| call.registry_error(e))?
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
    let referrers: Vec<Value> = page
        .iter()
        .map(|r| {
            let mut v = json!({
                "digest": r.digest,
                "mediaType": r.media_type,
                "size": r.size,
                "artifactStatus": "ACTIVE",
            });
            if let Some(t) = &r.artifact_type {
                v["artifactType"] = json!(t);
            }
            if let Some(a) = r
                .annotations
                .as_deref()
                .and_then(|a| serde_json::from_str::<Value>(a).ok())
            {
                v["annotations"] = a;
            }
            v
        })
        .collect();
    let mut out = json!({ "referrers": referrers });
    if more {
        if let Some(last) = page.last() {
            out["nextToken"] = json!(encode_token(last.digest.as_str()));
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateImageStorageClassInput {
    registry_id: Option<String>,
    repository_name: String,
    image_id: ImageId,
    target_storage_class: String,
}

/// UpdateImageStorageClass: ARCHIVE takes effect at once (the image stops
/// being pullable); STANDARD answers ACTIVATING and restores in the
/// background, after which the image is ACTIVE with `lastActivatedAt`.
pub async fn update_image_storage_class(
    call: &Call<'_>,
    input: UpdateImageStorageClassInput,
) -> Result<Value, AwsError> {
    let archive = match input.target_storage_class.as_str() {
        "ARCHIVE" => true,
        "STANDARD" => false,
        _ => {
            return Err(constraint(
                "targetStorageClass",
                "Member must satisfy enum value set: [STANDARD, ARCHIVE]",
            ))
        }
    };
    let repo = call
        .existing_repo(input.registry_id.as_deref(), &input.repository_name)
        .await?;
    let not_found = || call.image_not_found(&repo, &input.image_id);
    let digest = match resolve(call, &repo, &input.image_id).await? {
        Ok(d) => d,
        Err(("ImageNotFound", _)) => return Err(not_found()),
        Err((_, reason)) => return Err(AwsError::invalid_parameter(reason)),
    };
    let (digest, status) = match call
        .app
        .registry
        .update_storage_class(&repo, &Reference::Digest(digest), archive)
        .await
    {
        Ok(done) => done,
        Err(Error::ManifestUnknown(_)) => return Err(not_found()),
        Err(e) => return Err(call.registry_error(e)),
    };
    Ok(json!({
        "registryId": call.registry.account_id,
        "repositoryName": repo.name.as_str(),
        "imageId": image_id(Some(digest.as_str()), input.image_id.image_tag.as_deref()),
        "imageStatus": status.api_name(),
    }))
}
