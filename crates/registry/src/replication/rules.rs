//! A registry's replication configuration (ECR's `ReplicationConfiguration`)
//! as stored and returned, its rules (ECR's limits, a registry cannot be
//! its own destination) and which destinations a repository's pushes go
//! to. No store, no I/O.

use crate::{Error, Result};
use berth_store::RegistryKey;
use serde::{Deserialize, Serialize};

/// Rules per configuration (ECR's quota).
pub const MAX_RULES: usize = 10;
/// Distinct destinations across a configuration's rules (ECR's quota).
pub const MAX_DESTINATIONS: usize = 25;
/// Repository filters per rule.
pub const MAX_FILTERS: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationConfiguration {
    pub rules: Vec<ReplicationRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationRule {
    pub destinations: Vec<Destination>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repository_filters: Vec<RepositoryFilter>,
    /// Newer ECR models' `deleteReplication`: when enabled, the rule's
    /// destinations also lose what the source's repositories lose (images
    /// deleted or expired, tags removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_replication: Option<DeleteReplication>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteReplication {
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    pub region: String,
    pub registry_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryFilter {
    pub filter: String,
    pub filter_type: String,
}

impl ReplicationConfiguration {
    /// The configuration's rules checked for `own` registry: ECR's limits,
    /// `PREFIX_MATCH` filters only, and no destination that is the source
    /// itself (same account and region).
    pub fn validate(&self, own: &RegistryKey) -> Result<()> {
        if self.rules.len() > MAX_RULES {
            return Err(Error::InvalidParameter(format!(
                "Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: 'The replication configuration has {} rules; at most {MAX_RULES} are allowed'",
                self.rules.len()
            )));
        }
        let mut distinct = std::collections::BTreeSet::new();
        for rule in &self.rules {
            if rule.destinations.is_empty() {
                return Err(Error::InvalidParameter(
                    "Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: 'Every replication rule needs at least one destination'".into(),
                ));
            }
            if rule.repository_filters.len() > MAX_FILTERS {
                return Err(Error::InvalidParameter(format!(
                    "Invalid parameter at 'repositoryFilters' failed to satisfy constraint: 'A replication rule has {} repository filters; at most {MAX_FILTERS} are allowed'",
                    rule.repository_filters.len()
                )));
            }
            for f in &rule.repository_filters {
                if f.filter_type != "PREFIX_MATCH" {
                    return Err(Error::InvalidParameter(format!(
                        "Invalid parameter at 'filterType' failed to satisfy constraint: 'Member must satisfy enum value set: [PREFIX_MATCH]' (got '{}')",
                        f.filter_type
                    )));
                }
            }
            for d in &rule.destinations {
                if d.registry_id == own.account_id && d.region == own.region {
                    return Err(Error::InvalidParameter(format!(
                        "Invalid parameter at 'destinations' failed to satisfy constraint: 'The source registry ({} in {}) cannot be a replication destination'",
                        d.registry_id, d.region
                    )));
                }
                distinct.insert(d.clone());
            }
        }
        if distinct.len() > MAX_DESTINATIONS {
            return Err(Error::InvalidParameter(format!(
                "Invalid parameter at 'replicationConfiguration' failed to satisfy constraint: 'The replication configuration has {} distinct destinations; at most {MAX_DESTINATIONS} are allowed'",
                distinct.len()
            )));
        }
        Ok(())
    }

    /// The destinations pushes to `repository` replicate to: those of every
    /// rule with a filter the name starts with (a rule without filters
    /// matches every name), each once. A filter is a plain prefix: `*` in
    /// one is no wildcard (ECR's filter pattern refuses it).
    pub fn destinations_for(&self, repository: &str) -> Vec<RegistryKey> {
        self.matching(repository, false)
    }

    /// The destinations deletes and untags in `repository` are carried to:
    /// those of the matching rules with `deleteReplication` enabled.
    pub fn delete_destinations_for(&self, repository: &str) -> Vec<RegistryKey> {
        self.matching(repository, true)
    }

    fn matching(&self, repository: &str, deletes: bool) -> Vec<RegistryKey> {
        let mut out: Vec<RegistryKey> = Vec::new();
        for rule in &self.rules {
            if deletes && !rule.delete_replication.as_ref().is_some_and(|d| d.enabled) {
                continue;
            }
            let matches = rule.repository_filters.is_empty()
                || rule
                    .repository_filters
                    .iter()
                    .any(|f| repository.starts_with(&f.filter));
            if !matches {
                continue;
            }
            for d in &rule.destinations {
                let key = RegistryKey {
                    account_id: d.registry_id.clone(),
                    region: d.region.clone(),
                };
                if !out.contains(&key) {
                    out.push(key);
                }
            }
        }
        out
    }

    pub fn parse(text: &str) -> Result<ReplicationConfiguration> {
        serde_json::from_str(text).map_err(|e| {
            Error::Store(berth_store::StoreError::Corrupt(format!(
                "a stored replication configuration does not parse: {e}"
            )))
        })
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a replication configuration serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> RegistryKey {
        RegistryKey {
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
        }
    }

    fn rule(dests: &[(&str, &str)], filters: &[&str]) -> ReplicationRule {
        ReplicationRule {
            destinations: dests
                .iter()
                .map(|(r, a)| Destination {
                    region: r.to_string(),
                    registry_id: a.to_string(),
                })
                .collect(),
            repository_filters: filters
                .iter()
                .map(|f| RepositoryFilter {
                    filter: f.to_string(),
                    filter_type: "PREFIX_MATCH".into(),
                })
                .collect(),
            delete_replication: None,
        }
    }

    #[test]
    fn deletes_go_only_to_the_destinations_of_rules_that_enable_them() {
        let off: ReplicationConfiguration = serde_json::from_str(
            r#"{"rules":[{"destinations":[{"region":"us-west-2","registryId":"111122223333"}],"deleteReplication":{"enabled":false}}]}"#,
        )
        .unwrap();
        off.validate(&own()).unwrap();
        assert!(off
            .to_text()
            .contains(r#""deleteReplication":{"enabled":false}"#));
        assert!(off.delete_destinations_for("app").is_empty());
        assert_eq!(off.destinations_for("app").len(), 1);
        let mut on = off.clone();
        on.rules[0].delete_replication = Some(DeleteReplication { enabled: true });
        on.rules.push(rule(&[("eu-west-1", "111122223333")], &[]));
        on.validate(&own()).unwrap();
        assert_eq!(
            on.delete_destinations_for("app"),
            [RegistryKey {
                account_id: "111122223333".into(),
                region: "us-west-2".into()
            }]
        );
        assert_eq!(on.destinations_for("app").len(), 2);
        assert_eq!(ReplicationConfiguration::parse(&on.to_text()).unwrap(), on);
    }

    #[test]
    fn the_seeds_rule_replicates_prod_repositories_only() {
        let text = r#"{"rules":[{"destinations":[{"region":"us-west-2","registryId":"111122223333"}],"repositoryFilters":[{"filter":"prod-","filterType":"PREFIX_MATCH"}]}]}"#;
        let c: ReplicationConfiguration = serde_json::from_str(text).unwrap();
        c.validate(&own()).unwrap();
        assert_eq!(
            c.destinations_for("prod-app"),
            [RegistryKey {
                account_id: "111122223333".into(),
                region: "us-west-2".into()
            }]
        );
        assert!(c.destinations_for("dev-app").is_empty());
        assert!(c.destinations_for("app-prod-").is_empty(), "a prefix");
        assert_eq!(ReplicationConfiguration::parse(&c.to_text()).unwrap(), c);
    }

    #[test]
    fn destinations_are_distinct_across_rules_and_unfiltered_rules_match_all() {
        let c = ReplicationConfiguration {
            rules: vec![
                rule(&[("us-west-2", "111122223333")], &["prod-"]),
                rule(
                    &[("us-west-2", "111122223333"), ("eu-west-1", "444455556666")],
                    &[],
                ),
            ],
        };
        assert_eq!(c.destinations_for("prod-x").len(), 2);
        assert_eq!(c.destinations_for("dev").len(), 2);
        let star = ReplicationConfiguration {
            rules: vec![rule(&[("us-west-2", "111122223333")], &["prod-*"])],
        };
        assert!(star.destinations_for("prod-app").is_empty(), "no wildcard");
    }

    #[test]
    fn limits_and_the_source_itself_are_refused() {
        let to_self = ReplicationConfiguration {
            rules: vec![rule(&[("us-east-1", "111122223333")], &[])],
        };
        assert!(
            matches!(to_self.validate(&own()), Err(Error::InvalidParameter(m)) if m.contains("cannot be a replication destination"))
        );
        let many = ReplicationConfiguration {
            rules: (0..11)
                .map(|_| rule(&[("us-west-2", "111122223333")], &[]))
                .collect(),
        };
        assert!(many.validate(&own()).is_err());
        let wide = ReplicationConfiguration {
            rules: vec![ReplicationRule {
                destinations: (0..26)
                    .map(|i| Destination {
                        region: format!("r{i}"),
                        registry_id: "111122223333".into(),
                    })
                    .collect(),
                repository_filters: vec![],
                delete_replication: None,
            }],
        };
        assert!(
            matches!(wide.validate(&own()), Err(Error::InvalidParameter(m)) if m.contains("26 distinct"))
        );
        let empty = ReplicationConfiguration {
            rules: vec![rule(&[], &[])],
        };
        assert!(empty.validate(&own()).is_err());
        ReplicationConfiguration::default()
            .validate(&own())
            .unwrap();
    }
}
