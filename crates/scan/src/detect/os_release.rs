//! `os-release(5)`: shell-like `KEY=value` lines, values optionally quoted.

/// The fields detection uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OsRelease {
    /// `ID`, lowercase as the spec requires (`debian`, `alpine`, `ubuntu`);
    /// `linux` when absent, as the spec defaults it.
    pub id: String,
    pub version_id: Option<String>,
    pub id_like: Vec<String>,
    pub pretty_name: Option<String>,
}

/// Parses os-release text; unknown keys and malformed lines are ignored.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut r = OsRelease {
        id: "linux".to_string(),
        ..OsRelease::default()
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let value = unquote(raw.trim());
        match key.trim() {
            "ID" if !value.is_empty() => r.id = value,
            "VERSION_ID" if !value.is_empty() => r.version_id = Some(value),
            "ID_LIKE" => r.id_like = value.split_whitespace().map(str::to_string).collect(),
            "PRETTY_NAME" => r.pretty_name = Some(value),
            _ => {}
        }
    }
    r
}

/// `"..."` with backslash escapes, `'...'` literally, else as written.
fn unquote(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() >= 2 && b[0] == b'\'' && b[b.len() - 1] == b'\'' {
        return v[1..v.len() - 1].to_string();
    }
    if b.len() >= 2 && b[0] == b'"' && b[b.len() - 1] == b'"' {
        let mut out = String::new();
        let mut chars = v[1..v.len() - 1].chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    v.to_string()
}
