//! Repository names, validated against the OCI Distribution grammar:
//! `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
//!
//! A valid name is also safe to use anywhere (it can never contain `..`, a
//! leading `/` or anything a filesystem or URL would treat specially), but
//! berth never derives a path on disk from a name anyway.

use std::fmt;

/// The longest repository name accepted (ECR's limit, which is also the
/// OCI recommendation for name plus host).
pub const MAX_NAME_LEN: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("repository name is empty")]
    Empty,
    #[error("repository name is {0} characters long; the limit is {MAX_NAME_LEN}")]
    TooLong(usize),
    #[error("repository name '{0}' is invalid: path components must be lowercase letters and digits, separated by '.', '_', '__' or dashes, and joined by single '/'")]
    Grammar(String),
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(String);

impl RepositoryName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong(s.len()));
        }
        if !s.split('/').all(component_is_valid) {
            return Err(NameError::Grammar(s.to_string()));
        }
        Ok(RepositoryName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One path component: alphanumeric runs joined by `.`, `_`, `__` or `-+`.
fn component_is_valid(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: must be exactly ".", "_", "__" or one or more "-".
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

impl fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepositoryName({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_spec_grammar() {
        for ok in [
            "a",
            "library/ubuntu",
            "a/b/c/d",
            "my-app",
            "my--app",
            "my_app",
            "my__app",
            "v1.2",
            "team/service.api-v2/x0",
        ] {
            assert!(RepositoryName::parse(ok).is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "", "/a", "a/", "a//b", "A", "a..b", "a.-b", "a___b", "-a", "a-", "a/../b", "..",
            "a b", "a:b", "a/.b", "é",
        ] {
            assert!(
                RepositoryName::parse(bad).is_err(),
                "{bad:?} should be invalid"
            );
        }
    }

    #[test]
    fn enforces_the_length_limit() {
        let max = "a".repeat(MAX_NAME_LEN);
        assert!(RepositoryName::parse(&max).is_ok());
        let over = "a".repeat(MAX_NAME_LEN + 1);
        assert_eq!(
            RepositoryName::parse(&over),
            Err(NameError::TooLong(MAX_NAME_LEN + 1))
        );
    }
}
