//! Python core metadata (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO` or a
//! single-file `*.egg-info`): email-style headers up to the first blank
//! line; the body is the long description and is not read.

/// `(Name, Version)` as written; the caller normalizes the name.
pub fn parse_metadata(text: &str) -> Option<(String, String)> {
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("Name") && name.is_none() {
            name = Some(v);
        } else if k.eq_ignore_ascii_case("Version") && version.is_none() {
            version = Some(v);
        }
    }
    match (name, version) {
        (Some(n), Some(v)) if !n.is_empty() && !v.is_empty() => {
            Some((n.to_string(), v.to_string()))
        }
        _ => None,
    }
}
