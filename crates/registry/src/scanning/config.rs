//! The registry scanning configuration (Put/GetRegistryScanningConfiguration)
//! and what it means for one repository (BatchGetRepositoryScanningConfiguration):
//! ECR's rules, reference §6 "Scanning filter" and §8.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

pub const BASIC: &str = "BASIC";
pub const ENHANCED: &str = "ENHANCED";
pub const SCAN_ON_PUSH: &str = "SCAN_ON_PUSH";
pub const CONTINUOUS_SCAN: &str = "CONTINUOUS_SCAN";
pub const MANUAL: &str = "MANUAL";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryFilter {
    pub filter: String,
    pub filter_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanningRule {
    pub scan_frequency: String,
    pub repository_filters: Vec<RepositoryFilter>,
}

/// A registry's scanning configuration; the default is BASIC without rules
/// (every repository MANUAL unless its own `scanOnPush` is set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanningConfig {
    pub scan_type: String,
    #[serde(default)]
    pub rules: Vec<ScanningRule>,
}

impl Default for ScanningConfig {
    fn default() -> Self {
        ScanningConfig {
            scan_type: BASIC.into(),
            rules: Vec::new(),
        }
    }
}

/// How one repository is scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryScanning {
    pub scan_on_push: bool,
    /// SCAN_ON_PUSH, CONTINUOUS_SCAN or MANUAL.
    pub scan_frequency: &'static str,
    /// The filters of the rule that decided it.
    pub applied_filters: Vec<RepositoryFilter>,
}

fn invalid(member: &str, reason: &str) -> Error {
    Error::InvalidParameter(format!(
        "Invalid parameter at '{member}' failed to satisfy constraint: '{reason}'"
    ))
}

/// `^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$`, 1–255 characters.
pub fn valid_filter(f: &str) -> bool {
    let b = f.as_bytes();
    if b.is_empty() || b.len() > 255 {
        return false;
    }
    let word = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'*';
    let sep = |c: u8| matches!(c, b'.' | b'_' | b'-' | b'/');
    if !word(b[0]) || !word(b[b.len() - 1]) {
        return false;
    }
    // Every separator stands alone between word characters.
    b.iter().all(|&c| word(c) || sep(c)) && !b.windows(2).any(|w| sep(w[0]) && sep(w[1]))
}

/// Without `*` a filter matches names containing it; with `*`, the whole
/// name against the glob (`prod*` matches `prod-repo`, not `repo-prod`).
pub fn filter_matches(filter: &str, name: &str) -> bool {
    if !filter.contains('*') {
        return name.contains(filter);
    }
    crate::repositories::wildcard_match(filter, name)
}

impl ScanningConfig {
    /// Checks a configuration as PutRegistryScanningConfiguration does.
    pub fn validate(&self) -> Result<()> {
        if self.scan_type != BASIC && self.scan_type != ENHANCED {
            return Err(invalid(
                "scanType",
                "Member must satisfy enum value set: [BASIC, ENHANCED]",
            ));
        }
        if self.rules.len() > 2 {
            return Err(invalid(
                "rules",
                "Member must have length less than or equal to 2",
            ));
        }
        for rule in &self.rules {
            match rule.scan_frequency.as_str() {
                SCAN_ON_PUSH => {}
                CONTINUOUS_SCAN if self.scan_type == ENHANCED => {}
                CONTINUOUS_SCAN => {
                    return Err(Error::InvalidParameter(
                        "CONTINUOUS_SCAN rules need scanType ENHANCED; BASIC scanning supports SCAN_ON_PUSH only".into(),
                    ))
                }
                MANUAL => {}
                _ => {
                    return Err(invalid(
                        "rules.scanFrequency",
                        "Member must satisfy enum value set: [SCAN_ON_PUSH, CONTINUOUS_SCAN, MANUAL]",
                    ))
                }
            }
            if rule.repository_filters.is_empty() || rule.repository_filters.len() > 100 {
                return Err(invalid(
                    "rules.repositoryFilters",
                    "Member must have length between 1 and 100",
                ));
            }
            for f in &rule.repository_filters {
                if f.filter_type != "WILDCARD" {
                    return Err(invalid(
                        "rules.repositoryFilters.filterType",
                        "Member must satisfy enum value set: [WILDCARD]",
                    ));
                }
                if !valid_filter(&f.filter) {
                    return Err(invalid(
                        "rules.repositoryFilters.filter",
                        "Member must satisfy regular expression pattern: ^[a-z0-9*](?:[._\\-/a-z0-9*]?[a-z0-9*]+)*$",
                    ));
                }
            }
        }
        Ok(())
    }

    fn rule_for(&self, frequency: &str, name: &str) -> Option<&ScanningRule> {
        self.rules.iter().find(|r| {
            r.scan_frequency == frequency
                && r.repository_filters
                    .iter()
                    .any(|f| filter_matches(&f.filter, name))
        })
    }

    /// How a repository is scanned: CONTINUOUS_SCAN wins over SCAN_ON_PUSH
    /// (ENHANCED only); the repository's own, deprecated `scanOnPush` counts
    /// as a SCAN_ON_PUSH rule of its own.
    pub fn for_repository(&self, name: &str, repo_scan_on_push: bool) -> RepositoryScanning {
        if self.scan_type == ENHANCED {
            if let Some(r) = self.rule_for(CONTINUOUS_SCAN, name) {
                return RepositoryScanning {
                    scan_on_push: true,
                    scan_frequency: CONTINUOUS_SCAN,
                    applied_filters: r.repository_filters.clone(),
                };
            }
        }
        if let Some(r) = self.rule_for(SCAN_ON_PUSH, name) {
            return RepositoryScanning {
                scan_on_push: true,
                scan_frequency: SCAN_ON_PUSH,
                applied_filters: r.repository_filters.clone(),
            };
        }
        RepositoryScanning {
            scan_on_push: repo_scan_on_push,
            scan_frequency: if repo_scan_on_push {
                SCAN_ON_PUSH
            } else {
                MANUAL
            },
            applied_filters: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(freq: &str, filters: &[&str]) -> ScanningRule {
        ScanningRule {
            scan_frequency: freq.into(),
            repository_filters: filters
                .iter()
                .map(|f| RepositoryFilter {
                    filter: f.to_string(),
                    filter_type: "WILDCARD".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn filters_match_as_ecr_documents() {
        assert!(filter_matches("prod*", "prod-repo"));
        assert!(!filter_matches("prod*", "repo-prod"));
        assert!(filter_matches("prod", "repo-prod"));
        assert!(filter_matches("prod", "a/prod/b"));
        assert!(filter_matches("*", "anything"));
        assert!(filter_matches("a*c", "abbbc"));
        assert!(!filter_matches("a*c", "abbbcd"));
        assert!(valid_filter("team/app-*"));
        assert!(!valid_filter("Team"));
        assert!(!valid_filter("a--b"));
        assert!(!valid_filter("-a"));
        assert!(!valid_filter(""));
    }

    #[test]
    fn configurations_are_validated() {
        let mut c = ScanningConfig {
            scan_type: BASIC.into(),
            rules: vec![rule(CONTINUOUS_SCAN, &["*"])],
        };
        assert!(c.validate().is_err(), "BASIC has no continuous scans");
        c.scan_type = ENHANCED.into();
        c.validate().unwrap();
        c.rules.push(rule(SCAN_ON_PUSH, &["Bad"]));
        assert!(c.validate().is_err());
        c.rules[1] = rule(SCAN_ON_PUSH, &["ok"]);
        c.rules.push(rule(SCAN_ON_PUSH, &["x"]));
        assert!(c.validate().is_err(), "at most two rules");
        c.scan_type = "FULL".into();
        c.rules.truncate(1);
        assert!(c.validate().is_err());
    }

    #[test]
    fn continuous_wins_over_push_and_repository_flags_count() {
        let c = ScanningConfig {
            scan_type: ENHANCED.into(),
            rules: vec![
                rule(SCAN_ON_PUSH, &["app"]),
                rule(CONTINUOUS_SCAN, &["prod*"]),
            ],
        };
        assert_eq!(
            c.for_repository("prod-app", false).scan_frequency,
            CONTINUOUS_SCAN
        );
        assert_eq!(
            c.for_repository("my-app", false).scan_frequency,
            SCAN_ON_PUSH
        );
        assert_eq!(c.for_repository("other", false).scan_frequency, MANUAL);
        assert_eq!(c.for_repository("other", true).scan_frequency, SCAN_ON_PUSH);
        let basic = ScanningConfig {
            scan_type: BASIC.into(),
            rules: vec![rule(CONTINUOUS_SCAN, &["*"])],
        };
        // Never stored (validation refuses it), and ignored if it were.
        assert_eq!(basic.for_repository("x", false).scan_frequency, MANUAL);
    }
}
