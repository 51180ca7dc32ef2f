//! An in-memory vulnerability database: records by id, and an index from
//! (ecosystem, package name) to the records that name that package, so a
//! scan looks at a handful of records per package instead of all of them.
//!
//! Loading reads a directory of OSV JSON files (any depth, as the per-source
//! git repositories lay them out) or an osv.dev `all.zip`, and counts what it
//! kept and why it left the rest out. Where one id appears more than once the
//! latest `modified` wins, so a later withdrawal removes an earlier record.
//! Storage in the metadata database is the registry's part.

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::Path;

use crate::matching::{affected_by, Hit, Package};
use crate::osv::{parse_record, EcosystemName, Record, Rejected, Vulnerability};

/// What a load kept and left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Records kept for matching.
    pub loaded: usize,
    /// Records dropped because they are withdrawn.
    pub withdrawn: usize,
    /// Records dropped because no `affected` entry names a known ecosystem.
    pub unmatchable: usize,
    /// Files that are not OSV JSON.
    pub invalid: usize,
    /// Records replaced by a later version of the same id.
    pub superseded: usize,
    /// `affected` entries skipped inside kept records (unknown ecosystems).
    pub skipped_entries: usize,
    /// The first few reasons files were invalid, for the operator.
    pub errors: Vec<String>,
}

const KEPT_ERRORS: usize = 10;

impl LoadStats {
    fn invalid(&mut self, what: String) {
        self.invalid += 1;
        if self.errors.len() < KEPT_ERRORS {
            self.errors.push(what);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("reading the zip archive: {0}")]
    Zip(#[from] zip::result::ZipError),
}

/// Records as they are read, before the database is built.
#[derive(Debug, Default)]
pub struct Loader {
    records: HashMap<String, Record>,
    stats: LoadStats,
}

impl Loader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one record's JSON text; `origin` names it in error reports.
    pub fn add_json(&mut self, origin: &str, json: &[u8]) {
        match parse_record(json) {
            Ok(r) => self.add(r),
            Err(e) => self.stats.invalid(format!("{origin}: {e}")),
        }
    }

    pub fn add(&mut self, record: Record) {
        match self.records.get(&record.id) {
            Some(old) if old.modified >= record.modified => self.stats.superseded += 1,
            Some(_) => {
                self.stats.superseded += 1;
                self.records.insert(record.id.clone(), record);
            }
            None => {
                self.records.insert(record.id.clone(), record);
            }
        }
    }

    /// Every `*.json` file under `dir`, at any depth.
    pub fn add_dir(&mut self, dir: &Path) -> Result<(), LoadError> {
        visit_dir(dir, &mut |origin, json| self.add_json(origin, json))
    }

    /// Every `*.json` member of a zip archive (osv.dev's `<ecosystem>/all.zip`
    /// holds one record per member). A member larger than `max_member` bytes
    /// is refused as invalid, so a hostile archive cannot exhaust memory.
    pub fn add_zip<R: Read + Seek>(&mut self, reader: R, max_member: u64) -> Result<(), LoadError> {
        visit_zip(reader, max_member, &mut |origin, json| match json {
            Ok(json) => self.add_json(origin, json),
            Err(e) => self.stats.invalid(e),
        })
    }

    /// Builds the database: drops withdrawn and unmatchable records, indexes
    /// the rest.
    pub fn finish(self) -> (VulnDb, LoadStats) {
        let mut stats = self.stats;
        let mut db = VulnDb::default();
        let mut records: Vec<Record> = self.records.into_values().collect();
        records.sort_by(|a, b| a.id.cmp(&b.id));
        for record in records {
            match Vulnerability::new(record) {
                Ok(v) => {
                    stats.loaded += 1;
                    stats.skipped_entries += v.skipped_entries;
                    db.insert(v);
                }
                Err(Rejected::Withdrawn) => stats.withdrawn += 1,
                Err(Rejected::NoKnownPackage) => stats.unmatchable += 1,
            }
        }
        (db, stats)
    }
}

/// Calls `f` with every `*.json` file under `dir` (any depth, in name
/// order) and its bytes: one record at a time, so a caller that stores
/// records as they come never holds the whole database.
pub fn visit_dir(dir: &Path, f: &mut dyn FnMut(&str, &[u8])) -> Result<(), LoadError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| LoadError::Io { path, source }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    // A stable order, so "the first few errors" are the same every run.
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            visit_dir(&path, f)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            f(&path.display().to_string(), &bytes);
        }
    }
    Ok(())
}

/// What [`visit_zip`] calls per member: its name, and its bytes or why it
/// was not read.
pub type ZipVisitor<'a> = dyn FnMut(&str, Result<&[u8], String>) + 'a;

/// Calls `f` with every `*.json` member of a zip archive, one at a time: its
/// bytes, or why it was not read (a member over `max_member` bytes, a bad
/// name).
pub fn visit_zip<R: Read + Seek>(
    reader: R,
    max_member: u64,
    f: &mut ZipVisitor<'_>,
) -> Result<(), LoadError> {
    let mut archive = zip::ZipArchive::new(reader)?;
    for i in 0..archive.len() {
        let member = archive.by_index(i)?;
        let name = match member.name() {
            Ok(n) => n.into_owned(),
            Err(e) => {
                f(&format!("member {i}"), Err(format!("member {i}: {e}")));
                continue;
            }
        };
        if !member.is_file() || !name.ends_with(".json") {
            continue;
        }
        if member.size() > max_member {
            let e = format!(
                "{name}: {} bytes, over the {max_member}-byte limit",
                member.size()
            );
            f(&name, Err(e));
            continue;
        }
        let mut bytes = Vec::with_capacity(member.size() as usize);
        // `take` bounds what is read even if the header lies about the size.
        member
            .take(max_member + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| LoadError::Io {
                path: name.clone(),
                source,
            })?;
        if bytes.len() as u64 > max_member {
            f(
                &name,
                Err(format!("{name}: over the {max_member}-byte limit")),
            );
            continue;
        }
        f(&name, Ok(&bytes));
    }
    Ok(())
}

/// The (ecosystem, normalized package name) keys a record is found by, as
/// [`VulnDb`] indexes it: a store keeps the same keys.
pub fn package_keys(v: &Vulnerability) -> Vec<(EcosystemName, String)> {
    let mut keys: Vec<(EcosystemName, String)> = Vec::new();
    for (eco, affected) in v.affected() {
        let Some(p) = &affected.package else { continue };
        let key = (eco.name, eco.name.normalize_name(&p.name).into_owned());
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// Loads a directory of OSV JSON files.
pub fn load_dir(dir: &Path) -> Result<(VulnDb, LoadStats), LoadError> {
    let mut l = Loader::new();
    l.add_dir(dir)?;
    Ok(l.finish())
}

/// The largest record osv.dev serves is a few MB (long `versions` lists);
/// 64 MiB leaves room without letting one member take the machine.
pub const MAX_RECORD_BYTES: u64 = 64 << 20;

/// Loads an osv.dev `all.zip`.
pub fn load_zip<R: Read + Seek>(reader: R) -> Result<(VulnDb, LoadStats), LoadError> {
    let mut l = Loader::new();
    l.add_zip(reader, MAX_RECORD_BYTES)?;
    Ok(l.finish())
}

/// Vulnerabilities by id and by the packages they name.
#[derive(Debug, Default)]
pub struct VulnDb {
    vulns: Vec<Vulnerability>,
    by_id: HashMap<String, usize>,
    by_package: HashMap<(EcosystemName, String), Vec<usize>>,
}

impl VulnDb {
    fn insert(&mut self, v: Vulnerability) {
        let i = self.vulns.len();
        for (eco, affected) in v.affected() {
            let Some(p) = &affected.package else { continue };
            let key = (eco.name, eco.name.normalize_name(&p.name).into_owned());
            let list = self.by_package.entry(key).or_default();
            // A record naming a package in several entries (one per release)
            // is listed once.
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
        self.by_id.insert(v.id().to_string(), i);
        self.vulns.push(v);
    }

    pub fn len(&self) -> usize {
        self.vulns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vulns.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Vulnerability> {
        self.by_id.get(id).map(|&i| &self.vulns[i])
    }

    /// The records that name a package, whatever its version and release.
    pub fn candidates(
        &self,
        ecosystem: EcosystemName,
        name: &str,
    ) -> impl Iterator<Item = &Vulnerability> {
        self.by_package
            .get(&(ecosystem, ecosystem.normalize_name(name).into_owned()))
            .into_iter()
            .flatten()
            .map(|&i| &self.vulns[i])
    }

    /// Every record that affects the package, in id order.
    pub fn matches<'a>(&'a self, pkg: &Package<'_>) -> Vec<Hit<'a>> {
        self.candidates(pkg.ecosystem.name, pkg.name)
            .filter_map(|v| affected_by(v, pkg))
            .collect()
    }
}
