//! cargo-auditable's dependency list (the `.dep-v0` section's JSON, format
//! of rust-secure-code/cargo-auditable's `auditable-serde`): every crate
//! compiled into the binary, with its source.

/// `(crate, version)` of crates from a registry or git; the binary's own
/// local crates (`source: "local"`) and build-time-only dependencies
/// (`kind: "build"`: build scripts and proc-macros, not in the binary) are
/// left out.
pub fn auditable_crates(json: &[u8]) -> Option<Vec<(String, String)>> {
    #[derive(serde::Deserialize)]
    struct Info {
        packages: Vec<Pkg>,
    }
    #[derive(serde::Deserialize)]
    struct Pkg {
        name: String,
        version: String,
        #[serde(default)]
        source: Option<String>,
        #[serde(default)]
        kind: Option<String>,
    }
    let info: Info = serde_json::from_slice(json).ok()?;
    Some(
        info.packages
            .into_iter()
            .filter(|p| p.source.as_deref() != Some("local") && p.kind.as_deref() != Some("build"))
            .filter(|p| !p.name.is_empty() && !p.version.is_empty())
            .map(|p| (p.name, p.version))
            .collect(),
    )
}
