//! The generations of the key hierarchy's root (ARCHITECTURE.md, "Root
//! rotation"): which roots a deployment holds, where each comes from, and
//! retiring a generation once nothing is wrapped under it any more.
//!
//! The record is one JSON document in the metadata store (`kms_root`, the
//! row an external root has been recorded in since it was first built),
//! changed only by compare-and-swap, so nodes and the offline commands
//! never lose each other's changes:
//!
//! ```json
//! {"generations": [
//!   {"generation": 1, "state": "retired", "source": {"kind": "retired"}},
//!   {"generation": 2, "state": "current",
//!    "source": {"kind": "kms", "key": "arn:aws:kms:…", "blob": "…"}}]}
//! ```
//!
//! A record from before rotation existed (`{"key": …, "blob": …}`) is one
//! current generation 1 kept in that KMS; no record is one current
//! generation 1 that the server key yields.

use crate::{Registry, Result};
use berth_iam::ServerKey;
use berth_store::sealed::Roots;
use serde::{Deserialize, Serialize};

/// The roots this server key holds, as the store keyring and KMS use them.
pub fn roots_of(key: &ServerKey) -> Roots {
    let (current, roots) = key.kek_roots();
    Roots::new(current, roots.clone()).expect("ServerKey holds its current root")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerationState {
    /// New objects are wrapped under it.
    Current,
    /// Still opens what it wrapped; the re-wrap pass moves that to the
    /// current generation.
    Retiring,
    /// Nothing is wrapped under it any more, and its root is forgotten.
    Retired,
}

/// Where a generation's root comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RootSource {
    /// Derived from the server key (`ServerKey::server_kek_root`); the
    /// fingerprint names which server key.
    ServerKey { fingerprint: String },
    /// A data key of an external KMS key, kept wrapped by it.
    Kms { key: String, blob: String },
    /// Forgotten (a retired generation).
    Retired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    pub generation: u32,
    pub state: GenerationState,
    pub source: RootSource,
}

/// Every generation a deployment has had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootRecord {
    pub generations: Vec<Generation>,
}

#[derive(Deserialize)]
struct LegacyKmsRoot {
    key: String,
    blob: String,
}

impl RootRecord {
    /// The record as the metadata store holds it; `None` (no record) is a
    /// deployment still on its server key's first root.
    pub fn parse(text: Option<&str>, key: &ServerKey) -> Result<RootRecord> {
        let Some(text) = text else {
            return Ok(RootRecord::first(RootSource::ServerKey {
                fingerprint: key.fingerprint().to_string(),
            }));
        };
        if let Ok(record) = serde_json::from_str::<RootRecord>(text) {
            return Ok(record);
        }
        let legacy: LegacyKmsRoot = serde_json::from_str(text).map_err(|e| {
            crate::Error::Store(berth_store::StoreError::Corrupt(format!(
                "the recorded key-encryption root does not parse: {e}"
            )))
        })?;
        Ok(RootRecord::first(RootSource::Kms {
            key: legacy.key,
            blob: legacy.blob,
        }))
    }

    /// A deployment's first generation.
    pub fn first(source: RootSource) -> RootRecord {
        RootRecord {
            generations: vec![Generation {
                generation: 1,
                state: GenerationState::Current,
                source,
            }],
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("the root record serializes")
    }

    pub fn current(&self) -> Option<&Generation> {
        self.generations
            .iter()
            .find(|g| g.state == GenerationState::Current)
    }

    /// The generations whose roots a node must hold: the current one and
    /// those being retired.
    pub fn live(&self) -> impl Iterator<Item = &Generation> {
        self.generations
            .iter()
            .filter(|g| g.state != GenerationState::Retired)
    }

    /// Whether a rotation is unfinished (a generation is still retiring).
    pub fn rotating(&self) -> bool {
        self.generations
            .iter()
            .any(|g| g.state == GenerationState::Retiring)
    }

    /// The record with a new current generation from `source`, the current
    /// one retiring.
    pub fn rotated(&self, source: RootSource) -> RootRecord {
        let mut next = self.clone();
        let generation = next
            .generations
            .iter()
            .map(|g| g.generation)
            .max()
            .unwrap_or(0)
            + 1;
        for g in &mut next.generations {
            if g.state == GenerationState::Current {
                g.state = GenerationState::Retiring;
            }
        }
        next.generations.push(Generation {
            generation,
            state: GenerationState::Current,
            source,
        });
        next
    }

    /// The record with every retiring generation retired and its root's
    /// source forgotten.
    pub fn retired(&self) -> RootRecord {
        let mut next = self.clone();
        for g in &mut next.generations {
            if g.state == GenerationState::Retiring {
                g.state = GenerationState::Retired;
                g.source = RootSource::Retired;
            }
        }
        next
    }
}

impl Registry {
    /// Retires the generations being retired, once a re-wrap pass found
    /// nothing left under them: the record says so, and from the next
    /// start no node holds their roots (a deployment moved to an external
    /// root is then closed to its server key alone). Returns the
    /// generations retired.
    pub async fn retire_root_generations(&self) -> Result<Vec<u32>> {
        for _ in 0..8 {
            let text = self.meta.kms_root().await?;
            let record = RootRecord::parse(text.as_deref(), &self.config.server_key)?;
            let retiring: Vec<u32> = record
                .generations
                .iter()
                .filter(|g| g.state == GenerationState::Retiring)
                .map(|g| g.generation)
                .collect();
            let Some(old) = text.filter(|_| !retiring.is_empty()) else {
                return Ok(Vec::new());
            };
            if self
                .meta
                .replace_kms_root(&old, &record.retired().to_text())
                .await?
            {
                tracing::info!(
                    generations = ?retiring,
                    "retired root generations: nothing is wrapped under them any more"
                );
                return Ok(retiring);
            }
        }
        Err(crate::Error::Store(berth_store::StoreError::Unavailable(
            "the root record kept changing while retiring generations; try again".into(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_from_before_rotation_is_its_first_generation() {
        let key = ServerKey::from_bytes(&[7; 32]).unwrap();
        let none = RootRecord::parse(None, &key).unwrap();
        assert_eq!(
            none.current().unwrap().source,
            RootSource::ServerKey {
                fingerprint: key.fingerprint().to_string()
            }
        );
        let legacy = RootRecord::parse(Some(r#"{"key":"arn:k","blob":"Yg=="}"#), &key).unwrap();
        assert_eq!(
            legacy.current().unwrap(),
            &Generation {
                generation: 1,
                state: GenerationState::Current,
                source: RootSource::Kms {
                    key: "arn:k".into(),
                    blob: "Yg==".into()
                }
            }
        );
        assert!(!legacy.rotating());
    }

    #[test]
    fn rotating_then_retiring_leaves_one_live_generation() {
        let key = ServerKey::from_bytes(&[7; 32]).unwrap();
        let first = RootRecord::parse(None, &key).unwrap();
        let to = RootSource::Kms {
            key: "arn:k".into(),
            blob: "Yg==".into(),
        };
        let rotated = first.rotated(to.clone());
        assert!(rotated.rotating());
        assert_eq!(rotated.current().unwrap().generation, 2);
        assert_eq!(rotated.live().count(), 2);
        let text = rotated.to_text();
        assert_eq!(RootRecord::parse(Some(&text), &key).unwrap(), rotated);
        let retired = rotated.retired();
        assert!(!retired.rotating());
        assert_eq!(retired.live().count(), 1);
        assert_eq!(retired.generations[0].source, RootSource::Retired);
        assert_eq!(retired.current().unwrap().source, to);
        assert_eq!(
            retired
                .rotated(RootSource::Retired)
                .current()
                .unwrap()
                .generation,
            3
        );
    }
}
