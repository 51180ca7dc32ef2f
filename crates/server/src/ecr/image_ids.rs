//! Image identifiers as the image and scanning operations take and answer
//! them (`ImageIdentifier`), how one resolves to a digest, and ECR's
//! wording of an image that is not there.

use super::call::{Call, Failure};
use crate::aws_error::AwsError;
use berth_oci::{Digest, Tag};
use berth_registry::Repo;
use serde::{Deserialize, Serialize};

/// An `ImageIdentifier`: digest and tag, each only when known.
#[derive(Deserialize, Serialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct ImageId {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
}

impl ImageId {
    /// The id of a digest, with the tag it was named by.
    pub fn of(digest: &Digest, tag: Option<&str>) -> ImageId {
        ImageId {
            image_digest: Some(digest.as_str().to_string()),
            image_tag: tag.map(str::to_string),
        }
    }

    /// The id as ECR's messages write it.
    pub fn text(&self) -> String {
        image_id_text(self.image_digest.as_deref(), self.image_tag.as_deref())
    }
}

/// An image id as ECR's messages write it:
/// `{imageDigest:'sha256:…', imageTag:'latest'}`, with `'null'` for the part
/// the request left out.
pub fn image_id_text(digest: Option<&str>, tag: Option<&str>) -> String {
    format!(
        "{{imageDigest:'{}', imageTag:'{}'}}",
        digest.unwrap_or("null"),
        tag.unwrap_or("null")
    )
}

impl Call<'_> {
    /// ECR's ImageNotFoundException for an image id of `repo`, in ECR's
    /// words: "The image with imageId {imageDigest:'null', imageTag:'latest'}
    /// does not exist within the repository with name 'main' in the registry
    /// with id '058043570872'".
    pub fn image_not_found(&self, repo: &Repo, id: &ImageId) -> AwsError {
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
}

/// The digest an image id names: `Ok(Err(code, reason))` is a per-image
/// failure as the batch operations report them.
pub async fn resolve(
    call: &Call<'_>,
    repo: &Repo,
    id: &ImageId,
) -> Result<Result<Digest, (&'static str, String)>, Failure> {
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
            Some(call.app.registry.tag_digest(repo, t).await?)
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

/// The digest an image id names, which must be an image of the repository.
pub async fn existing_image(call: &Call<'_>, repo: &Repo, id: &ImageId) -> Result<Digest, Failure> {
    let digest = match resolve(call, repo, id).await? {
        Ok(d) => d,
        Err(("ImageNotFound", _)) => return Err(call.image_not_found(repo, id).into()),
        Err((_, reason)) => return Err(AwsError::invalid_parameter(reason).into()),
    };
    let found = call
        .app
        .registry
        .image_details(repo, std::slice::from_ref(&digest))
        .await?;
    if found.is_empty() {
        return Err(call.image_not_found(repo, id).into());
    }
    Ok(digest)
}

/// The id answered: the digest resolved, with the tag the image was named by.
pub fn image_id_of(digest: &Digest, id: &ImageId) -> ImageId {
    ImageId::of(digest, id.image_tag.as_deref())
}
