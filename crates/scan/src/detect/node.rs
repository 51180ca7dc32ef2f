//! An installed npm package's `package.json`: its `name` and `version`.

/// `(name, version)`, or `None` for invalid JSON or missing fields (a
/// `package.json` without both is not an installed package).
pub fn parse_package_json(bytes: &[u8]) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        name: Option<serde_json::Value>,
        version: Option<serde_json::Value>,
    }
    let m: Manifest = serde_json::from_slice(bytes).ok()?;
    let name = m.name?.as_str()?.trim().to_string();
    let version = m.version?.as_str()?.trim().to_string();
    (!name.is_empty() && !version.is_empty()).then_some((name, version))
}
