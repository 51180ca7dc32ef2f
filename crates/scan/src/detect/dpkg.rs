//! dpkg's status database (`var/lib/dpkg/status`, and distroless's one file
//! per package in `status.d/`): RFC 822-style paragraphs, continuation lines
//! starting with a space or tab.

use super::SourcePackage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgPackage {
    pub name: String,
    pub version: String,
    pub source: Option<SourcePackage>,
}

/// The installed packages of a status file. A paragraph counts if its
/// `Status` says installed (`install ok installed`, `hold ok installed`);
/// `deinstall ok config-files` and half-installed ones do not. Where
/// `missing_status_installed` is set (status.d files), a paragraph without
/// `Status` counts too.
pub fn parse_status(text: &str, missing_status_installed: bool) -> Vec<DpkgPackage> {
    let mut out = Vec::new();
    let mut fields: Vec<(&str, &str)> = Vec::new();
    let mut finish = |fields: &mut Vec<(&str, &str)>| {
        let get = |k: &str| {
            fields
                .iter()
                .find(|(f, _)| f.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.trim())
        };
        let installed = match get("Status") {
            Some(s) => s.split_whitespace().nth(2) == Some("installed"),
            None => missing_status_installed,
        };
        if let (true, Some(name), Some(version)) = (installed, get("Package"), get("Version")) {
            if !name.is_empty() && !version.is_empty() {
                out.push(DpkgPackage {
                    name: name.to_string(),
                    version: version.to_string(),
                    source: get("Source").and_then(parse_source),
                });
            }
        }
        fields.clear();
    };
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            finish(&mut fields);
        } else if line.starts_with([' ', '\t']) {
            // A continuation of a multi-line field (Description, Conffiles):
            // none of the fields read here span lines.
        } else if let Some((k, v)) = line.split_once(':') {
            fields.push((k, v));
        }
    }
    finish(&mut fields);
    out
}

/// `Source: openssl` or `Source: openssl (3.0.11-1~deb12u2)`.
fn parse_source(v: &str) -> Option<SourcePackage> {
    let mut parts = v.splitn(2, char::is_whitespace);
    let name = parts.next()?.trim();
    if name.is_empty() {
        return None;
    }
    let version = parts
        .next()
        .map(str::trim)
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.strip_suffix(')'))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    Some(SourcePackage {
        name: name.to_string(),
        version,
    })
}
