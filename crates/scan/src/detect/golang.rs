//! Go binaries' module list (`go version -m`): the main module, its
//! dependencies with replacements applied, and the standard library as the
//! `stdlib` package, as osv.dev's Go records name it.

use crate::layers::GoBuildInfo;

/// `(module path, version)` pairs; `(devel)` and empty versions are left out
/// (a local build of the main module matches no record).
pub fn go_modules(info: &GoBuildInfo) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut last_dep: Option<usize> = None;
    for line in info.modinfo.lines() {
        let mut f = line.split('\t');
        let (Some(kind), Some(path)) = (f.next(), f.next()) else {
            continue;
        };
        let version = f.next().unwrap_or("");
        match kind {
            "mod" | "dep" => {
                last_dep = None;
                if !path.is_empty() && !version.is_empty() && version != "(devel)" {
                    out.push((path.to_string(), version.to_string()));
                    last_dep = Some(out.len() - 1);
                }
            }
            // A replacement of the module on the line before: the code built
            // in is the replacement's. A local directory replacement has no
            // version and matches nothing.
            "=>" => {
                if let Some(i) = last_dep.take() {
                    if version.is_empty() {
                        out.remove(i);
                    } else {
                        out[i] = (path.to_string(), version.to_string());
                    }
                }
            }
            _ => last_dep = None,
        }
    }
    // `go1.21.3 X:boringcrypto` → `1.21.3`.
    if let Some(v) = info
        .go_version
        .split_whitespace()
        .next()
        .and_then(|v| v.strip_prefix("go"))
        .filter(|v| !v.is_empty())
    {
        out.push(("stdlib".to_string(), v.to_string()));
    }
    out
}
