//! The OSV record (schema 1.x, <https://ossf.github.io/osv-schema/>) and its
//! ecosystem strings.
//!
//! The types take what matching and findings need and ignore the rest: new
//! schema versions only add fields, and a record berth cannot fully use is
//! still worth its other `affected` entries. `null` reads as absent, since
//! converted databases (YAML, the osv.dev API) write it for empty lists.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::version::Scheme;

/// One OSV record as published.
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub aliases: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub upstream: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub severity: Vec<SeverityEntry>,
    #[serde(default, deserialize_with = "null_default")]
    pub affected: Vec<Affected>,
    #[serde(default, deserialize_with = "null_default")]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub database_specific: Option<Value>,
}

/// `severity[]`: a scoring method and its score (a CVSS vector, an Ubuntu priority).
#[derive(Debug, Clone, Deserialize)]
pub struct SeverityEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub url: String,
}

/// `affected[]`: one package and the versions of it the record applies to.
#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    /// Absent in records that describe only GIT commit ranges.
    #[serde(default)]
    pub package: Option<PackageId>,
    #[serde(default, deserialize_with = "null_default")]
    pub severity: Vec<SeverityEntry>,
    #[serde(default, deserialize_with = "null_default")]
    pub ranges: Vec<Range>,
    #[serde(default, deserialize_with = "null_default")]
    pub versions: Vec<String>,
    #[serde(default)]
    pub ecosystem_specific: Option<Value>,
    #[serde(default)]
    pub database_specific: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PackageId {
    pub ecosystem: String,
    pub name: String,
    #[serde(default)]
    pub purl: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: RangeKind,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeKind {
    Semver,
    Ecosystem,
    Git,
    /// A type a later schema may define; such a range is not evaluated.
    Other(String),
}

impl<'de> Deserialize<'de> for RangeKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "SEMVER" => RangeKind::Semver,
            "ECOSYSTEM" => RangeKind::Ecosystem,
            "GIT" => RangeKind::Git,
            _ => RangeKind::Other(s),
        })
    }
}

/// One event of a range's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
    /// An event kind this code does not know; evaluation ignores it.
    Unknown,
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            introduced: Option<String>,
            fixed: Option<String>,
            last_affected: Option<String>,
            limit: Option<String>,
        }
        // The schema allows one key per event; a record breaking that rule
        // is read by the first key in timeline order rather than refused.
        let raw = Raw::deserialize(d)?;
        Ok(if let Some(v) = raw.introduced {
            Event::Introduced(v)
        } else if let Some(v) = raw.fixed {
            Event::Fixed(v)
        } else if let Some(v) = raw.last_affected {
            Event::LastAffected(v)
        } else if let Some(v) = raw.limit {
            Event::Limit(v)
        } else {
            Event::Unknown
        })
    }
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Parses one record from its JSON text.
pub fn parse_record(json: &[u8]) -> Result<Record, serde_json::Error> {
    serde_json::from_slice(json)
}

/// The ecosystems berth understands, by the names the OSV schema defines.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum EcosystemName {
    Debian,
    Ubuntu,
    Alpine,
    Wolfi,
    Chainguard,
    RedHat,
    AlmaLinux,
    RockyLinux,
    OpenSuse,
    Suse,
    Mageia,
    PhotonOs,
    OpenEuler,
    PyPI,
    Npm,
    CratesIo,
    Go,
    Maven,
    NuGet,
    RubyGems,
    Packagist,
    Hex,
    Pub,
}

impl EcosystemName {
    const ALL: [(EcosystemName, &'static str); 23] = [
        (EcosystemName::Debian, "Debian"),
        (EcosystemName::Ubuntu, "Ubuntu"),
        (EcosystemName::Alpine, "Alpine"),
        (EcosystemName::Wolfi, "Wolfi"),
        (EcosystemName::Chainguard, "Chainguard"),
        (EcosystemName::RedHat, "Red Hat"),
        (EcosystemName::AlmaLinux, "AlmaLinux"),
        (EcosystemName::RockyLinux, "Rocky Linux"),
        (EcosystemName::OpenSuse, "openSUSE"),
        (EcosystemName::Suse, "SUSE"),
        (EcosystemName::Mageia, "Mageia"),
        (EcosystemName::PhotonOs, "Photon OS"),
        (EcosystemName::OpenEuler, "openEuler"),
        (EcosystemName::PyPI, "PyPI"),
        (EcosystemName::Npm, "npm"),
        (EcosystemName::CratesIo, "crates.io"),
        (EcosystemName::Go, "Go"),
        (EcosystemName::Maven, "Maven"),
        (EcosystemName::NuGet, "NuGet"),
        (EcosystemName::RubyGems, "RubyGems"),
        (EcosystemName::Packagist, "Packagist"),
        (EcosystemName::Hex, "Hex"),
        (EcosystemName::Pub, "Pub"),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == self)
            .map(|(_, s)| *s)
            .unwrap_or("?")
    }

    fn from_name(s: &str) -> Option<EcosystemName> {
        Self::ALL.iter().find(|(_, n)| *n == s).map(|(e, _)| *e)
    }

    /// How `ECOSYSTEM` ranges of this ecosystem order versions; `None` where
    /// berth has no comparator yet (only the `versions` list can match then).
    pub fn scheme(self) -> Option<Scheme> {
        use EcosystemName::*;
        match self {
            Debian | Ubuntu => Some(Scheme::Dpkg),
            Alpine | Wolfi | Chainguard => Some(Scheme::Apk),
            RedHat | AlmaLinux | RockyLinux | OpenSuse | Suse | Mageia | PhotonOs | OpenEuler => {
                Some(Scheme::Rpm)
            }
            PyPI => Some(Scheme::Pep440),
            Npm | CratesIo => Some(Scheme::SemVer),
            Go => Some(Scheme::Go),
            Maven | NuGet | RubyGems | Packagist | Hex | Pub => None,
        }
    }

    /// The name as the ecosystem compares it: PyPI names are compared in
    /// PEP 503 normal form (`Foo_Bar` is `foo-bar`); the others as written.
    pub fn normalize_name(self, name: &str) -> Cow<'_, str> {
        match self {
            EcosystemName::PyPI => {
                let mut out = String::with_capacity(name.len());
                let mut in_run = false;
                for c in name.chars() {
                    if matches!(c, '-' | '_' | '.') {
                        if !in_run {
                            out.push('-');
                        }
                        in_run = true;
                    } else {
                        out.extend(c.to_lowercase());
                        in_run = false;
                    }
                }
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(name),
        }
    }
}

/// An OSV ecosystem string, parsed: `Debian:12`, `Alpine:v3.19`, `PyPI`,
/// `Ubuntu:22.04:LTS`, `Maven:https://maven.google.com`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Ecosystem {
    pub name: EcosystemName,
    /// The distribution release (`12`, `3.19` without Alpine's `v`,
    /// `22.04` without Ubuntu's `:LTS`, `Pro:18.04`), or the package
    /// repository of a language ecosystem (`https://maven.google.com`).
    /// `None`: not scoped.
    pub release: Option<String>,
}

impl Ecosystem {
    pub fn new(name: EcosystemName) -> Self {
        Ecosystem {
            name,
            release: None,
        }
    }

    pub fn with_release(name: EcosystemName, release: impl Into<String>) -> Self {
        Ecosystem {
            name,
            release: Some(release.into()),
        }
    }

    /// `None` for an ecosystem berth does not know; the caller skips that
    /// `affected` entry and keeps the rest of the record.
    pub fn parse(s: &str) -> Option<Ecosystem> {
        let (base, rest) = match s.split_once(':') {
            Some((b, r)) => (b, Some(r)),
            None => (s, None),
        };
        let name = EcosystemName::from_name(base)?;
        let release = match rest {
            None | Some("") => None,
            Some(r) => Some(match name {
                EcosystemName::Alpine => r.strip_prefix('v').unwrap_or(r).to_string(),
                // LTS is a label of the release, not part of it: an image's
                // os-release says 22.04 either way.
                EcosystemName::Ubuntu => r.strip_suffix(":LTS").unwrap_or(r).to_string(),
                _ => r.to_string(),
            }),
        };
        Some(Ecosystem { name, release })
    }

    /// The ecosystem of an image's OS packages from `/etc/os-release`'s
    /// `ID` and `VERSION_ID`, in the form OSV records use for that
    /// distribution's releases.
    pub fn from_os_release(id: &str, version_id: Option<&str>) -> Option<Ecosystem> {
        let major = |v: &str| v.split('.').next().unwrap_or(v).to_string();
        let major_minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
        let (name, release) = match id {
            "debian" => (EcosystemName::Debian, version_id.map(major)),
            "ubuntu" => (EcosystemName::Ubuntu, version_id.map(str::to_string)),
            "alpine" => (EcosystemName::Alpine, version_id.map(major_minor)),
            "wolfi" => (EcosystemName::Wolfi, None),
            "chainguard" => (EcosystemName::Chainguard, None),
            "almalinux" => (EcosystemName::AlmaLinux, version_id.map(major)),
            "rocky" => (EcosystemName::RockyLinux, version_id.map(major)),
            "mageia" => (EcosystemName::Mageia, version_id.map(major)),
            "photon" => (EcosystemName::PhotonOs, version_id.map(str::to_string)),
            "openEuler" => (EcosystemName::OpenEuler, version_id.map(str::to_string)),
            _ => return None,
        };
        Some(Ecosystem { name, release })
    }

    /// Whether a record's ecosystem (`self`) covers a package found in an
    /// image of ecosystem `image`: same ecosystem, and where the record names
    /// a release, the image's release is that one. A record without a release
    /// covers every release.
    pub fn covers(&self, image: &Ecosystem) -> bool {
        self.name == image.name
            && match &self.release {
                None => true,
                Some(r) => image.release.as_deref() == Some(r.as_str()),
            }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name.as_str())?;
        match (&self.release, self.name) {
            (None, _) => Ok(()),
            (Some(r), EcosystemName::Alpine) => write!(f, ":v{r}"),
            (Some(r), _) => write!(f, ":{r}"),
        }
    }
}

/// Why a record is not kept for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// The record has a `withdrawn` time: its publisher retracted it.
    Withdrawn,
    /// No `affected` entry names an ecosystem berth knows (GIT-only records,
    /// OSS-Fuzz, ecosystems of no image).
    NoKnownPackage,
}

/// A record kept for matching: not withdrawn, with the `affected` entries
/// whose ecosystem berth knows.
#[derive(Debug, Clone)]
pub struct Vulnerability {
    pub record: Record,
    /// Indexes into `record.affected`, with their parsed ecosystems.
    pub known: Vec<(usize, Ecosystem)>,
    /// `affected` entries left out for an unknown ecosystem or no package.
    pub skipped_entries: usize,
}

impl Vulnerability {
    pub fn new(record: Record) -> Result<Vulnerability, Rejected> {
        if record.withdrawn.is_some() {
            return Err(Rejected::Withdrawn);
        }
        let mut known = Vec::new();
        let mut skipped_entries = 0;
        for (i, a) in record.affected.iter().enumerate() {
            match a
                .package
                .as_ref()
                .and_then(|p| Ecosystem::parse(&p.ecosystem))
            {
                Some(e) => known.push((i, e)),
                None => skipped_entries += 1,
            }
        }
        if known.is_empty() {
            return Err(Rejected::NoKnownPackage);
        }
        Ok(Vulnerability {
            record,
            known,
            skipped_entries,
        })
    }

    /// The usable `affected` entries with their ecosystems.
    pub fn affected(&self) -> impl Iterator<Item = (&Ecosystem, &Affected)> {
        self.known
            .iter()
            .map(|(i, e)| (e, &self.record.affected[*i]))
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystems_parse_with_their_releases() {
        let cases: &[(&str, EcosystemName, Option<&str>)] = &[
            ("Debian:12", EcosystemName::Debian, Some("12")),
            ("Debian", EcosystemName::Debian, None),
            ("Debian:sid", EcosystemName::Debian, Some("sid")),
            ("Alpine:v3.19", EcosystemName::Alpine, Some("3.19")),
            ("Ubuntu:22.04:LTS", EcosystemName::Ubuntu, Some("22.04")),
            (
                "Ubuntu:Pro:18.04:LTS",
                EcosystemName::Ubuntu,
                Some("Pro:18.04"),
            ),
            ("Ubuntu:24.10", EcosystemName::Ubuntu, Some("24.10")),
            (
                "Red Hat:rhel_aus:8.4::appstream",
                EcosystemName::RedHat,
                Some("rhel_aus:8.4::appstream"),
            ),
            ("Rocky Linux:9", EcosystemName::RockyLinux, Some("9")),
            ("PyPI", EcosystemName::PyPI, None),
            ("npm", EcosystemName::Npm, None),
            ("crates.io", EcosystemName::CratesIo, None),
            ("Go", EcosystemName::Go, None),
            ("Maven", EcosystemName::Maven, None),
            (
                "Maven:https://maven.google.com",
                EcosystemName::Maven,
                Some("https://maven.google.com"),
            ),
            (
                "Packagist:https://packages.drupal.org/8",
                EcosystemName::Packagist,
                Some("https://packages.drupal.org/8"),
            ),
            ("NuGet", EcosystemName::NuGet, None),
            ("RubyGems", EcosystemName::RubyGems, None),
        ];
        for (s, name, release) in cases {
            let e = Ecosystem::parse(s).unwrap_or_else(|| panic!("{s} should parse"));
            assert_eq!(e.name, *name, "{s}");
            assert_eq!(e.release.as_deref(), *release, "{s}");
        }
        for unknown in ["OSS-Fuzz", "GIT", "", "debian:12", "Linux", "Android"] {
            assert_eq!(Ecosystem::parse(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn ecosystems_print_as_osv_writes_them() {
        for s in [
            "Debian:12",
            "Alpine:v3.19",
            "PyPI",
            "crates.io",
            "Ubuntu:24.10",
        ] {
            assert_eq!(Ecosystem::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn releases_must_match_the_image() {
        let debian12 = Ecosystem::from_os_release("debian", Some("12")).unwrap();
        let debian11 = Ecosystem::from_os_release("debian", Some("11")).unwrap();
        let record = Ecosystem::parse("Debian:12").unwrap();
        assert!(record.covers(&debian12));
        assert!(!record.covers(&debian11));
        assert!(Ecosystem::parse("Debian").unwrap().covers(&debian11));
        assert!(!Ecosystem::parse("Ubuntu:12").unwrap().covers(&debian12));

        let alpine = Ecosystem::from_os_release("alpine", Some("3.19.1")).unwrap();
        assert!(Ecosystem::parse("Alpine:v3.19").unwrap().covers(&alpine));
        assert!(!Ecosystem::parse("Alpine:v3.18").unwrap().covers(&alpine));

        let jammy = Ecosystem::from_os_release("ubuntu", Some("22.04")).unwrap();
        assert!(Ecosystem::parse("Ubuntu:22.04:LTS").unwrap().covers(&jammy));
        assert!(!Ecosystem::parse("Ubuntu:Pro:22.04:LTS")
            .unwrap()
            .covers(&jammy));
        // An image whose release is unknown cannot be shown to be in a release.
        assert!(!record.covers(&Ecosystem::new(EcosystemName::Debian)));
    }

    #[test]
    fn pypi_names_compare_in_pep503_form() {
        let n = |s| EcosystemName::PyPI.normalize_name(s).into_owned();
        assert_eq!(n("Django"), "django");
        assert_eq!(n("zope.interface"), "zope-interface");
        assert_eq!(n("Foo__Bar-._baz"), "foo-bar-baz");
        assert_eq!(
            EcosystemName::Npm.normalize_name("@Scope/Pkg"),
            "@Scope/Pkg"
        );
    }

    #[test]
    fn records_tolerate_unknown_fields_nulls_and_odd_events() {
        let json = br#"{
            "id": "TEST-1", "schema_version": "9.9.9", "new_field": {"x": 1},
            "aliases": null, "severity": null,
            "affected": [
                {"package": {"ecosystem": "npm", "name": "a"},
                 "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.0"}, {"future": "x"}]},
                            {"type": "FANCY", "events": [{"introduced": "0"}]}]},
                {"package": {"ecosystem": "OSS-Fuzz", "name": "b"}},
                {"ranges": [{"type": "GIT", "repo": "https://example.org/r", "events": [{"introduced": "0"}]}]}
            ]
        }"#;
        let r = parse_record(json).unwrap();
        assert!(r.aliases.is_empty());
        let ranges = &r.affected[0].ranges;
        assert_eq!(ranges[0].events[2], Event::Unknown);
        assert_eq!(ranges[1].kind, RangeKind::Other("FANCY".into()));
        let v = Vulnerability::new(r).unwrap();
        assert_eq!(v.known.len(), 1);
        assert_eq!(v.skipped_entries, 2);
    }

    #[test]
    fn withdrawn_and_unmatchable_records_are_rejected() {
        let withdrawn = parse_record(
            br#"{"id": "W", "withdrawn": "2024-01-01T00:00:00Z",
                "affected": [{"package": {"ecosystem": "PyPI", "name": "x"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            Vulnerability::new(withdrawn).unwrap_err(),
            Rejected::Withdrawn
        );
        let git_only = parse_record(
            br#"{"id": "G", "affected": [{"package": {"ecosystem": "OSS-Fuzz", "name": "x"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            Vulnerability::new(git_only).unwrap_err(),
            Rejected::NoKnownPackage
        );
    }
}
