//! Manifest parsing and validation.
//!
//! Parsing is for validation and for learning what a manifest references;
//! the bytes the client sent are what gets stored and served.

use crate::digest::Digest;
use crate::media_type::{
    self, DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED, OCI_INDEX, OCI_MANIFEST,
};
use serde::Deserialize;

/// Manifests larger than this are refused (the limit ECR and most registries use).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// The deepest nesting of arrays and objects a manifest may have. Real ones
/// nest five deep (index → `manifests` → descriptor → `platform` →
/// `os.features`); serde_json skips the fields berth does not read without
/// any depth limit, so the bound is checked here.
pub const MAX_MANIFEST_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("manifest is invalid: {0}")]
    Invalid(String),
    #[error("Docker image manifest schema 1 is deprecated and not accepted; push with a client that writes schema 2 or OCI manifests")]
    Schema1,
    #[error("manifest media type '{0}' is not supported; berth accepts Docker schema 2 manifests and manifest lists, and OCI image manifests and indexes")]
    UnsupportedMediaType(String),
}

/// A content descriptor as it appears inside a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestKind {
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    Index {
        manifests: Vec<Descriptor>,
    },
}

/// Something a manifest needs to exist in its repository before it is
/// accepted, with the size its descriptor declares (which the stored
/// content must have).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Blob(Digest, u64),
    Manifest(Digest, u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub media_type: String,
    pub kind: ManifestKind,
    pub subject: Option<Descriptor>,
    /// The `artifactType` a referrers listing shows: the field itself or,
    /// for an image manifest without one, its config's media type (OCI
    /// distribution spec v1.1, "Listing Referrers").
    pub artifact_type: Option<String>,
    /// The manifest's `annotations`, as JSON text (shown in referrers listings).
    pub annotations: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<serde_json::Value>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawDescriptor>>,
    subject: Option<RawDescriptor>,
    // Kept as any JSON: a registry stores what it is given, and only shows
    // an object of annotations back.
    annotations: Option<serde_json::Value>,
    fs_layers: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: Option<String>,
    digest: Option<String>,
    size: Option<i64>,
}

impl Manifest {
    /// Parses and validates `body`. `content_type` is the request's
    /// Content-Type, if any; when both it and the body's `mediaType` are
    /// present they must agree.
    pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest, ManifestError> {
        // JSON text is UTF-8 (RFC 8259 §8.1). serde_json checks the strings
        // it reads but skips the fields berth does not read byte by byte,
        // so a manifest with invalid UTF-8 there would be stored, and shown
        // by BatchGetImage with U+FFFD replacements that change its digest.
        let text = std::str::from_utf8(body).map_err(|e| {
            ManifestError::Json(format!(
                "it is not UTF-8 text (invalid byte sequence at byte {})",
                e.valid_up_to()
            ))
        })?;
        if nesting_exceeds(text.as_bytes(), MAX_MANIFEST_DEPTH) {
            return Err(ManifestError::Invalid(format!(
                "arrays and objects nest more than {MAX_MANIFEST_DEPTH} deep"
            )));
        }
        let raw: RawManifest =
            serde_json::from_str(text).map_err(|e| ManifestError::Json(e.to_string()))?;
        let media_type = resolve_media_type(&raw, content_type)?;

        if media_type == DOCKER_MANIFEST_V1 || media_type == DOCKER_MANIFEST_V1_SIGNED {
            return Err(ManifestError::Schema1);
        }
        if !media_type::is_supported_manifest(&media_type) {
            return Err(ManifestError::UnsupportedMediaType(media_type));
        }
        match &raw.schema_version {
            Some(v) if v.as_i64() == Some(2) => {}
            Some(v) => {
                return Err(ManifestError::Invalid(format!(
                    "schemaVersion must be 2, found {v}"
                )))
            }
            None => return Err(ManifestError::Invalid("schemaVersion is missing".into())),
        }

        let kind = if media_type::is_index(&media_type) {
            if raw.config.is_some() || raw.layers.is_some() {
                return Err(ManifestError::Invalid(format!(
                    "an index ({media_type}) cannot have 'config' or 'layers'"
                )));
            }
            let list = raw.manifests.ok_or_else(|| {
                ManifestError::Invalid("an index must have a 'manifests' array".into())
            })?;
            let manifests = list
                .into_iter()
                .enumerate()
                .map(|(i, d)| descriptor(d, &format!("manifests[{i}]")))
                .collect::<Result<_, _>>()?;
            ManifestKind::Index { manifests }
        } else {
            if raw.manifests.is_some() {
                return Err(ManifestError::Invalid(format!(
                    "an image manifest ({media_type}) cannot have 'manifests'"
                )));
            }
            let config = raw.config.ok_or_else(|| {
                ManifestError::Invalid("an image manifest must have a 'config' descriptor".into())
            })?;
            let config = descriptor(config, "config")?;
            let layers = raw
                .layers
                .ok_or_else(|| {
                    ManifestError::Invalid("an image manifest must have a 'layers' array".into())
                })?
                .into_iter()
                .enumerate()
                .map(|(i, d)| descriptor(d, &format!("layers[{i}]")))
                .collect::<Result<_, _>>()?;
            ManifestKind::Image { config, layers }
        };
        let subject = raw.subject.map(|s| descriptor(s, "subject")).transpose()?;
        let artifact_type = raw.artifact_type.filter(|t| !t.is_empty()).or(match &kind {
            ManifestKind::Image { config, .. } => Some(config.media_type.clone()),
            ManifestKind::Index { .. } => None,
        });
        let annotations = raw
            .annotations
            .filter(|a| a.as_object().is_some_and(|o| !o.is_empty()))
            .map(|a| a.to_string());
        Ok(Manifest {
            media_type,
            kind,
            subject,
            artifact_type,
            annotations,
        })
    }

    /// What must already exist in the repository for this manifest to be
    /// accepted. Non-distributable layers and the `subject` are exempt.
    pub fn references(&self) -> Vec<Reference> {
        match &self.kind {
            ManifestKind::Image { config, layers } => std::iter::once(config)
                .chain(layers.iter().filter(|l| {
                    !media_type::NON_DISTRIBUTABLE_LAYERS.contains(&l.media_type.as_str())
                }))
                .map(|d| Reference::Blob(d.digest.clone(), d.size))
                .collect(),
            ManifestKind::Index { manifests } => manifests
                .iter()
                .map(|d| Reference::Manifest(d.digest.clone(), d.size))
                .collect(),
        }
    }
}

fn resolve_media_type(
    raw: &RawManifest,
    content_type: Option<&str>,
) -> Result<String, ManifestError> {
    // Generic types say nothing about the manifest format; treat them as absent.
    let header = content_type.map(media_type::essence).filter(|ct| {
        !ct.is_empty() && *ct != "application/json" && *ct != "application/octet-stream"
    });
    let body = raw.media_type.as_deref();
    match (header, body) {
        (Some(h), Some(b)) if h != b => Err(ManifestError::Invalid(format!(
            "the Content-Type '{h}' does not match the manifest's mediaType '{b}'"
        ))),
        (_, Some(b)) => Ok(b.to_string()),
        (Some(h), None) => Ok(h.to_string()),
        (None, None) => {
            if raw.fs_layers.is_some() {
                Ok(DOCKER_MANIFEST_V1.to_string())
            } else if raw.manifests.is_some() {
                Ok(OCI_INDEX.to_string())
            } else if raw.config.is_some() {
                Ok(OCI_MANIFEST.to_string())
            } else {
                Err(ManifestError::Invalid(
                    "cannot tell the manifest's format: it has no mediaType, the request has no Content-Type, and it has neither 'config' nor 'manifests'".into(),
                ))
            }
        }
    }
}

/// Whether JSON text nests arrays and objects deeper than `max` (brackets
/// inside strings do not count). Linear, and needs no valid JSON.
fn nesting_exceeds(text: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn descriptor(d: RawDescriptor, at: &str) -> Result<Descriptor, ManifestError> {
    let digest = d
        .digest
        .ok_or_else(|| ManifestError::Invalid(format!("{at} has no digest")))?
        .parse::<Digest>()
        .map_err(|e| ManifestError::Invalid(format!("{at}: {e}")))?;
    let size = match d.size {
        Some(s) if s >= 0 => s as u64,
        Some(s) => {
            return Err(ManifestError::Invalid(format!(
                "{at} has a negative size {s}"
            )))
        }
        None => return Err(ManifestError::Invalid(format!("{at} has no size"))),
    };
    Ok(Descriptor {
        media_type: d.media_type.unwrap_or_default(),
        digest,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media_type::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn image(mt: Option<&str>) -> String {
        let mt = mt
            .map(|m| format!(r#""mediaType":"{m}","#))
            .unwrap_or_default();
        format!(
            r#"{{"schemaVersion":2,{mt}"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{D1}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{D2}","size":10}}]}}"#
        )
    }

    #[test]
    fn parses_an_oci_image_manifest_and_lists_its_blobs() {
        let m = Manifest::parse(image(Some(OCI_MANIFEST)).as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(m.media_type, OCI_MANIFEST);
        assert_eq!(
            m.references(),
            vec![
                Reference::Blob(D1.parse().unwrap(), 2),
                Reference::Blob(D2.parse().unwrap(), 10)
            ]
        );
    }

    #[test]
    fn infers_the_type_when_nothing_declares_it() {
        let m = Manifest::parse(image(None).as_bytes(), None).unwrap();
        assert_eq!(m.media_type, OCI_MANIFEST);
        let m = Manifest::parse(image(None).as_bytes(), Some(DOCKER_MANIFEST_V2)).unwrap();
        assert_eq!(m.media_type, DOCKER_MANIFEST_V2);
    }

    #[test]
    fn refuses_a_content_type_that_contradicts_the_body() {
        let err = Manifest::parse(
            image(Some(OCI_MANIFEST)).as_bytes(),
            Some(DOCKER_MANIFEST_V2),
        )
        .unwrap_err();
        assert!(matches!(err, ManifestError::Invalid(m) if m.contains("does not match")));
    }

    #[test]
    fn indexes_reference_manifests() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST_LIST}","manifests":[{{"mediaType":"{DOCKER_MANIFEST_V2}","digest":"{D1}","size":5,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
        );
        let m = Manifest::parse(body.as_bytes(), None).unwrap();
        assert_eq!(
            m.references(),
            vec![Reference::Manifest(D1.parse().unwrap(), 5)]
        );
    }

    #[test]
    fn rejects_malformed_manifests_with_a_pointed_message() {
        let cases: &[(&str, &str)] = &[
            ("not json", "JSON"),
            (
                r#"{"schemaVersion":1,"config":{"digest":"x","size":1},"layers":[]}"#,
                "schemaVersion",
            ),
            (
                r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#,
                "config",
            ),
            (
                r#"{"schemaVersion":2,"config":{"digest":"sha256:zz","size":1},"layers":[]}"#,
                "config",
            ),
            (
                r#"{"schemaVersion":2,"config":{"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":-1},"layers":[]}"#,
                "negative",
            ),
            (
                r#"{"schemaVersion":2,"mediaType":"application/x-foo"}"#,
                "not supported",
            ),
            (r#"{"schemaVersion":1,"fsLayers":[]}"#, "schema 1"),
        ];
        for (body, needle) in cases {
            let err = Manifest::parse(body.as_bytes(), None)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{body}: {err}");
        }
    }

    /// Fields berth does not read are still JSON text: invalid UTF-8 in
    /// them, or nesting a million deep, is refused (issue 17).
    #[test]
    fn bodies_must_be_utf8_json_of_bounded_depth() {
        let valid = image(Some(OCI_MANIFEST));
        let with = |extra: &[u8]| {
            let mut b = valid.as_bytes()[..valid.len() - 1].to_vec();
            b.extend_from_slice(b",\"x-ignored\":");
            b.extend_from_slice(extra);
            b.push(b'}');
            b
        };
        assert!(Manifest::parse(&with(b"\"plain\""), None).is_ok());
        let err = Manifest::parse(&with(b"\"caf\xe9\""), None).unwrap_err();
        assert!(
            matches!(err, ManifestError::Json(ref m) if m.contains("UTF-8")),
            "{err}"
        );
        let err = Manifest::parse(&with(b"\"\xff\xfe\""), None).unwrap_err();
        assert!(matches!(err, ManifestError::Json(_)), "{err}");

        let deep = |n: usize| {
            let mut v = "[".repeat(n).into_bytes();
            v.extend("]".repeat(n).into_bytes());
            v
        };
        let err = Manifest::parse(&with(&deep(1_000_000)), None).unwrap_err();
        assert!(
            matches!(err, ManifestError::Invalid(ref m) if m.contains("nest more than 64")),
            "{err}"
        );
        // The top-level object is one level: 63 more fit.
        assert!(Manifest::parse(&with(&deep(MAX_MANIFEST_DEPTH - 1)), None).is_ok());
        assert!(Manifest::parse(&with(&deep(MAX_MANIFEST_DEPTH)), None).is_err());
        // Brackets inside strings are text, escaped quotes too.
        let text = format!("\"{}\\\"{}\"", "[".repeat(100), "{".repeat(100));
        assert!(Manifest::parse(&with(text.as_bytes()), None).is_ok());
    }

    #[test]
    fn foreign_layers_and_subject_are_not_required() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"x","digest":"{D1}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip","digest":"{D2}","size":10,"urls":["https://example.com/l"]}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{D2}","size":3}}}}"#
        );
        let m = Manifest::parse(body.as_bytes(), None).unwrap();
        assert_eq!(
            m.references(),
            vec![Reference::Blob(D1.parse().unwrap(), 2)]
        );
        assert_eq!(m.subject.unwrap().digest.as_str(), D2);
        // Without an artifactType, an image manifest's is its config's type.
        assert_eq!(m.artifact_type.as_deref(), Some("x"));
    }

    #[test]
    fn artifact_type_and_annotations_are_kept_for_referrers() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/vnd.example.sbom","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{D1}","size":2}},"layers":[],"annotations":{{"org.example.k":"v"}}}}"#
        );
        let m = Manifest::parse(body.as_bytes(), None).unwrap();
        assert_eq!(
            m.artifact_type.as_deref(),
            Some("application/vnd.example.sbom")
        );
        assert_eq!(m.annotations.as_deref(), Some(r#"{"org.example.k":"v"}"#));
    }
}
