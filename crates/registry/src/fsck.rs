//! `berth fsck`: checks the blob store and the metadata store against each
//! other (and, `deep`, every stored byte against its digest), and with
//! `repair` fixes what can be fixed without losing data. Run only on a
//! data dir that no server holds: it reads and changes both stores without
//! the locks a running registry takes.
//!
//! What counts as *damage* (something stored is lost or cannot be served)
//! and what as *garbage* (left behind, harmless, e.g. by a crash mid-push)
//! is decided here; the store only answers questions and carries out
//! single-row repairs that re-check their condition.

use crate::{Registry, Result};
use berth_oci::{Algorithm, Digest, DigestHasher};
use berth_store::{BlobStore, MetaProblem, MetaRepair};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};

/// Blob records read per page.
const PAGE: u32 = 5_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsckOptions {
    /// Re-hash every stored blob and manifest body (streamed).
    pub deep: bool,
    /// Fix what can be fixed without losing data.
    pub repair: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Something stored is lost, corrupt or cannot be served.
    Damage,
    /// Left behind (by a crash, an abandoned upload); harmless.
    Garbage,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Damage => "damage",
            Severity::Garbage => "garbage",
        }
    }
}

/// What was, or can be, done about a problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fix {
    /// `--repair` would do this.
    Available(String),
    /// `--repair` did this.
    Done(String),
    /// `--repair` tried and could not (why).
    Failed(String),
    /// Nothing can fix it without the lost data (what to do instead).
    Impossible(String),
}

impl Fix {
    pub fn is_done(&self) -> bool {
        matches!(self, Fix::Done(_))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Fix::Available(_) => "repairable",
            Fix::Done(_) => "repaired",
            Fix::Failed(_) => "repair-failed",
            Fix::Impossible(_) => "not-repairable",
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Fix::Available(s) | Fix::Done(s) | Fix::Failed(s) | Fix::Impossible(s) => s,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsckProblem {
    pub severity: Severity,
    /// A stable short name, e.g. `blob-file-missing`.
    pub kind: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where: a file, a repository and digest, the database.
    pub location: String,
    pub fix: Fix,
}

/// How much was looked at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsckCounts {
    pub repositories: u64,
    pub blob_records: u64,
    pub blob_files: u64,
    /// Bytes re-hashed (`deep`, and blobs checked before being re-recorded).
    pub bytes_hashed: u64,
    pub manifest_bodies_hashed: u64,
    pub upload_sessions: u64,
    pub upload_files: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsckReport {
    pub options: FsckOptions,
    pub checked: FsckCounts,
    pub problems: Vec<FsckProblem>,
}

impl FsckReport {
    /// Damage that is still there (not repaired).
    pub fn damage(&self) -> usize {
        self.count(Severity::Damage)
    }

    /// Garbage that is still there (not removed).
    pub fn garbage(&self) -> usize {
        self.count(Severity::Garbage)
    }

    pub fn repaired(&self) -> usize {
        self.problems.iter().filter(|p| p.fix.is_done()).count()
    }

    fn count(&self, s: Severity) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == s && !p.fix.is_done())
            .count()
    }

    fn push(
        &mut self,
        severity: Severity,
        kind: &'static str,
        message: String,
        location: String,
        fix: Fix,
    ) -> usize {
        self.problems.push(FsckProblem {
            severity,
            kind,
            message,
            location,
            fix,
        });
        self.problems.len() - 1
    }
}

/// Streams a stored blob through its digest's hash: whether it matches,
/// and the bytes read.
async fn hashes_to(store: &dyn BlobStore, digest: &Digest, size: u64) -> Result<(bool, u64)> {
    let reader = match store.read(digest, 0, size).await {
        Ok(Some(reader)) => reader,
        Ok(None) => return Ok((false, 0)),
        // Damaged where the read starts (a sealed blob's header, key or
        // terminal; a short file): it does not match.
        Err(berth_store::StoreError::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            return Ok((false, 0))
        }
        Err(e) => return Err(e.into()),
    };
    let mut hasher = DigestHasher::new(digest.algorithm());
    let mut stream = reader.stream;
    let mut read = 0u64;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                read += c.len() as u64;
                hasher.update(&c);
            }
            // Unreadable (a short file, an I/O error): it does not match.
            Err(_) => return Ok((false, read)),
        }
    }
    Ok((hasher.finish() == *digest, read))
}

/// What fsck knows of a blob's copy in a KMS key's domain before it looks.
struct DomainCopy<'a> {
    arn: &'a str,
    /// The key still exists: its copies open (a deleted key's never do, by
    /// design, and are reported with the repositories under it).
    live: bool,
    /// The AES256 store holds the blob too: a repository put under the key
    /// before key domains existed reads that copy instead.
    in_aes256: bool,
}

/// Which of the registry's two blob stores a pass checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlobArea {
    Standard,
    Archive,
}

impl Registry {
    /// Checks (and with `repair`, fixes) the stores. The data dir must be
    /// held by the caller with no server running.
    pub async fn fsck(&self, options: FsckOptions) -> Result<FsckReport> {
        let mut report = FsckReport {
            options,
            ..Default::default()
        };
        report.checked.repositories = self.meta.counts().await?.repositories;
        self.fsck_database(&mut report).await?;
        let restorable = self.fsck_metadata(&mut report).await?;
        // Each area is a blob store and the records that say what it
        // should hold: `blobs.archived` says which of the two.
        let archive = self.archive.clone();
        self.fsck_blob_area(
            &mut report,
            BlobArea::Standard,
            self.blobs.as_ref(),
            archive.as_deref(),
            restorable,
        )
        .await?;
        self.fsck_domain_files(&mut report, BlobArea::Standard)
            .await?;
        if let Some(archive) = &archive {
            self.fsck_blob_area(
                &mut report,
                BlobArea::Archive,
                archive.as_ref(),
                Some(self.blobs.as_ref()),
                HashMap::new(),
            )
            .await?;
            self.fsck_domain_files(&mut report, BlobArea::Archive)
                .await?;
        }
        self.fsck_uploads(&mut report).await?;
        self.fsck_repository_keys(&mut report).await?;
        if options.deep {
            self.fsck_manifest_bodies(&mut report).await?;
            self.fsck_domain_manifest_bodies(&mut report).await?;
        }
        Ok(report)
    }

    /// SQLite's own checks; `repair` rebuilds every index and checks again.
    async fn fsck_database(&self, report: &mut FsckReport) -> Result<()> {
        let before = self.meta.integrity_problems().await?;
        let after = if report.options.repair {
            self.meta.repair(&MetaRepair::Reindex).await?;
            self.meta.integrity_problems().await?
        } else {
            before.clone()
        };
        for line in &before {
            let fix = if !report.options.repair {
                Fix::Available("rebuild the indexes (REINDEX); restore the database from a backup if that does not help".into())
            } else if after.contains(line) {
                Fix::Failed(
                    "rebuilding the indexes did not clear it; restore the database from a backup"
                        .into(),
                )
            } else {
                Fix::Done("rebuilt the indexes".into())
            };
            report.push(
                Severity::Damage,
                "database-integrity",
                format!("SQLite integrity check: {line}"),
                "metadata database".into(),
                fix,
            );
        }
        let new: Vec<String> = after.into_iter().filter(|l| !before.contains(l)).collect();
        for line in new {
            report.push(
                Severity::Damage,
                "database-integrity",
                format!("SQLite integrity check: {line}"),
                "metadata database".into(),
                Fix::Failed(
                    "appeared after rebuilding the indexes; restore the database from a backup"
                        .into(),
                ),
            );
        }
        Ok(())
    }

    /// Rows that point at nothing. Returns the blobs that manifests need
    /// but that have no record, with the problems that report them: the
    /// blob-file walk restores those whose file is still there.
    async fn fsck_metadata(&self, report: &mut FsckReport) -> Result<HashMap<String, Vec<usize>>> {
        let repair = report.options.repair;
        let mut restorable: HashMap<String, Vec<usize>> = HashMap::new();
        for problem in self.meta.consistency_problems().await? {
            match problem {
                MetaProblem::ReferenceToUnrecordedBlob {
                    repo,
                    manifest,
                    blob,
                } => {
                    let i = report.push(
                        Severity::Damage,
                        "blob-record-missing",
                        format!("manifest {manifest} references blob {blob}, which has no record"),
                        format!("repository {repo}"),
                        Fix::Impossible("the blob's file is missing too: its bytes are lost; push the image again".into()),
                    );
                    restorable.entry(blob).or_default().push(i);
                }
                MetaProblem::ReferenceToUnlinkedBlob {
                    repo,
                    manifest,
                    blob,
                } => {
                    let fix = if !repair {
                        Fix::Available("link the blob to the repository again".into())
                    } else if self
                        .meta
                        .repair(&MetaRepair::Relink {
                            repo: repo.id,
                            blob: blob.clone(),
                            now: self.now(),
                        })
                        .await?
                    {
                        Fix::Done("linked the blob to the repository again".into())
                    } else {
                        Fix::Failed("the link could not be made".into())
                    };
                    report.push(
                        Severity::Damage,
                        "blob-link-missing",
                        format!("manifest {manifest} references blob {blob}, which the repository has no link to (pulls of it fail)"),
                        format!("repository {repo}"),
                        fix,
                    );
                }
                MetaProblem::MissingChildManifest {
                    repo,
                    manifest,
                    child,
                } => {
                    report.push(
                        Severity::Damage,
                        "child-manifest-missing",
                        format!("index {manifest} lists manifest {child}, which the repository does not hold"),
                        format!("repository {repo}"),
                        Fix::Impossible("push the listed manifest again".into()),
                    );
                }
                // A manifest needs it: reported as `blob-record-missing`,
                // and fixed with it when the blob is re-recorded.
                MetaProblem::DanglingLink {
                    referenced: true, ..
                } => {}
                MetaProblem::DanglingLink {
                    repo,
                    blob,
                    referenced: false,
                } => {
                    let fix = self
                        .try_fix(
                            repair,
                            MetaRepair::DropDanglingLink {
                                repo: repo.id,
                                blob: blob.clone(),
                            },
                            "remove the link",
                            "removed the link",
                        )
                        .await?;
                    report.push(
                        Severity::Garbage,
                        "dangling-blob-link",
                        format!("link to blob {blob}, which has no record and no manifest uses"),
                        format!("repository {repo}"),
                        fix,
                    );
                }
                MetaProblem::DanglingTag {
                    repo,
                    tag,
                    manifest,
                } => {
                    let fix = self
                        .try_fix(
                            repair,
                            MetaRepair::DropDanglingTag {
                                repo: repo.id,
                                tag: tag.clone(),
                            },
                            "remove the tag (its image is gone either way)",
                            "removed the tag (its image was already gone)",
                        )
                        .await?;
                    report.push(
                        Severity::Damage,
                        "dangling-tag",
                        format!("tag {tag} names manifest {manifest}, which the repository does not hold"),
                        format!("repository {repo}"),
                        fix,
                    );
                }
                MetaProblem::MissingManifestBody { repo, manifest } => {
                    report.push(
                        Severity::Damage,
                        "manifest-body-missing",
                        format!("manifest {manifest} has no stored body"),
                        format!("repository {repo}"),
                        Fix::Impossible("push the manifest again".into()),
                    );
                }
                MetaProblem::UnusedManifestBody { digest } => {
                    let fix = self
                        .try_fix(
                            repair,
                            MetaRepair::DropUnusedBody {
                                digest: digest.clone(),
                            },
                            "remove the body",
                            "removed the body",
                        )
                        .await?;
                    report.push(
                        Severity::Garbage,
                        "unused-manifest-body",
                        format!("manifest body {digest} is used by no repository"),
                        "metadata database".into(),
                        fix,
                    );
                }
                MetaProblem::OrphanReferences { repo, manifest } => {
                    let fix = self
                        .try_fix(
                            repair,
                            MetaRepair::DropOrphanReferences {
                                repo: repo.id,
                                manifest: manifest.clone(),
                            },
                            "remove the references",
                            "removed the references",
                        )
                        .await?;
                    report.push(
                        Severity::Garbage,
                        "orphan-manifest-references",
                        format!("references of manifest {manifest}, which the repository does not hold (they keep its blobs from being collected)"),
                        format!("repository {repo}"),
                        fix,
                    );
                }
            }
        }
        Ok(restorable)
    }

    async fn try_fix(&self, repair: bool, fix: MetaRepair, would: &str, did: &str) -> Result<Fix> {
        Ok(if !repair {
            Fix::Available(would.to_string())
        } else if self.meta.repair(&fix).await? {
            Fix::Done(did.to_string())
        } else {
            Fix::Failed("its condition no longer held when repairing".into())
        })
    }

    /// Every blob record against its file (present, its size, `deep`: its
    /// hash), then every file against the records.
    async fn fsck_blob_area(
        &self,
        report: &mut FsckReport,
        area: BlobArea,
        store: &dyn BlobStore,
        other: Option<&dyn BlobStore>,
        mut restorable: HashMap<String, Vec<usize>>,
    ) -> Result<()> {
        let (repair, deep) = (report.options.repair, report.options.deep);
        let mut recorded: HashSet<String> = HashSet::new();
        // Blobs from before encryption at rest, still in plaintext: how
        // many, and the first few to name (after an upgrade that can be
        // every blob, so the rest are only counted).
        let (mut plaintext, mut plaintext_named) = (0u64, Vec::new());
        // Whether each KMS key still exists (its copies open), asked once.
        let mut live_keys: HashMap<String, bool> = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.meta.blob_records(after.as_deref(), PAGE).await?;
            let Some(last) = page.last().map(|p| p.0.clone()) else {
                break;
            };
            for (text, size, archived) in page {
                if area == BlobArea::Standard {
                    report.checked.blob_records += 1;
                }
                recorded.insert(text.clone());
                let Ok(digest) = text.parse::<Digest>() else {
                    report.push(
                        Severity::Damage,
                        "blob-record-invalid",
                        format!("blob record {text:?} is not a digest"),
                        "metadata database".into(),
                        Fix::Impossible("remove the row by hand".into()),
                    );
                    continue;
                };
                let location = store.blob_location(&digest);
                let stored = store.stat(&digest).await?;
                let belongs_here = archived == (area == BlobArea::Archive);
                if !belongs_here {
                    // A copy in the store the blob is not recorded in: a move
                    // to or from the archive that a stop interrupted.
                    if stored.is_some() {
                        self.stray_copy(report, store, other, &digest, archived)
                            .await?;
                    }
                    continue;
                }
                // Each key domain that links it holds its own copy.
                let keys = self.meta.blob_link_keys(&digest).await?;
                for arn in keys.iter().flatten() {
                    let copy = DomainCopy {
                        arn,
                        live: self.kms.key_exists_in(&mut live_keys, arn).await?,
                        in_aes256: stored.is_some(),
                    };
                    self.fsck_domain_copy(report, area, &copy, &digest, size)
                        .await?;
                }
                // Bytes only repositories under keys link live in their
                // domains alone.
                if stored.is_none() && !keys.is_empty() && !keys.contains(&None) {
                    continue;
                }
                if stored.is_none() && area == BlobArea::Archive {
                    if let Some(other) = other {
                        if other.stat(&digest).await? == Some(size) {
                            report.push(
                                Severity::Garbage,
                                "archive-move-unfinished",
                                format!("blob {digest} is recorded as archived but its bytes are still only in the blob store"),
                                location,
                                Fix::Available("`berth serve` finishes the move at start".into()),
                            );
                            continue;
                        }
                    }
                }
                let wrong = match stored {
                    None => Some((
                        "blob-file-missing",
                        format!("blob {digest} ({size} bytes) has a record but no file"),
                    )),
                    Some(n) if n != size => Some((
                        "blob-size-wrong",
                        format!("blob {digest} is recorded as {size} bytes; its file has {n}"),
                    )),
                    Some(_) if deep => {
                        let (ok, read) = hashes_to(store, &digest, size).await?;
                        report.checked.bytes_hashed += read;
                        (!ok).then(|| {
                            (
                                "blob-hash-wrong",
                                format!("blob {digest}'s file does not hash to its digest"),
                            )
                        })
                    }
                    Some(_) => None,
                };
                let Some((kind, message)) = wrong else {
                    if stored.is_some() && store.is_plaintext(&digest).await? {
                        plaintext += 1;
                        if plaintext_named.len() < 3 {
                            plaintext_named.push(location);
                        }
                    }
                    continue;
                };
                let users = self.meta.blob_users(&text).await?;
                let fix = if !users.is_empty() {
                    let names: Vec<String> = users
                        .iter()
                        .take(5)
                        .map(|(repo, m)| format!("{repo}@{m}"))
                        .collect();
                    Fix::Impossible(format!(
                        "{} manifest(s) need it ({}{}): push them again, or put the blob's right bytes at {location}",
                        users.len(),
                        names.join(", "),
                        if users.len() > 5 { ", ..." } else { "" }
                    ))
                } else if !repair {
                    Fix::Available("no manifest uses it: remove its record and links (and file), so that the next push uploads it anew".into())
                } else if self
                    .meta
                    .repair(&MetaRepair::DropBlobRecord { blob: text.clone() })
                    .await?
                {
                    if stored.is_some() {
                        store.delete(&digest).await?;
                    }
                    Fix::Done(
                        "removed its record and links (and file); the next push uploads it anew"
                            .into(),
                    )
                } else {
                    Fix::Failed("a manifest uses it now".into())
                };
                report.push(Severity::Damage, kind, message, location, fix);
            }
            after = Some(last);
        }
        if plaintext > 0 {
            report.push(
                Severity::Garbage,
                "blobs-not-sealed",
                format!(
                    "{plaintext} blob(s) are stored in plaintext, written before encryption at rest ({}{}); they read as they are",
                    plaintext_named.join(", "),
                    if plaintext > 3 { ", ..." } else { "" }
                ),
                plaintext_named[0].clone(),
                Fix::Impossible(
                    "`berth serve` seals them in the background (--seal-interval, default hourly)".into(),
                ),
            );
        }

        for algorithm in Algorithm::ALL {
            for shard in 0..=255u8 {
                for (digest, _) in store.blobs_in_shard(algorithm, shard).await? {
                    report.checked.blob_files += 1;
                    if recorded.contains(digest.as_str()) {
                        continue;
                    }
                    if let Some(problems) = restorable.remove(digest.as_str()) {
                        self.restore_blob(report, store, &digest, &problems).await?;
                        continue;
                    }
                    let why = "has no record (left by a crash mid-push, or by a collection that was cut short)";
                    self.orphan_blob_file(report, store, &digest, why).await?;
                }
            }
        }
        Ok(())
    }

    /// Blob `digest`'s copy in KMS key `copy.arn`'s domain of `area`:
    /// present, its size, `deep`: its hash.
    async fn fsck_domain_copy(
        &self,
        report: &mut FsckReport,
        area: BlobArea,
        copy: &DomainCopy<'_>,
        digest: &Digest,
        size: u64,
    ) -> Result<()> {
        let arn = copy.arn;
        let store = self.key_domain(area == BlobArea::Archive, arn).await?;
        let wrong = match store.stat(digest).await? {
            None if copy.in_aes256 => None,
            None => Some((
                "blob-file-missing",
                format!("blob {digest} ({size} bytes) is linked by repositories under KMS key {arn}, but that key's domain has no copy"),
            )),
            Some(n) if n != size => Some((
                "blob-size-wrong",
                format!("blob {digest} is recorded as {size} bytes; its copy under KMS key {arn} has {n}"),
            )),
            // A deleted key's copies no longer open, by design (reported
            // with the repositories under it).
            Some(_) if report.options.deep && copy.live => {
                let (ok, read) = hashes_to(store.as_ref(), digest, size).await?;
                report.checked.bytes_hashed += read;
                (!ok).then(|| {
                    (
                        "blob-hash-wrong",
                        format!("blob {digest}'s copy under KMS key {arn} does not hash to its digest"),
                    )
                })
            }
            Some(_) => None,
        };
        if let Some((kind, message)) = wrong {
            report.push(
                Severity::Damage,
                kind,
                message,
                store.blob_location(digest),
                Fix::Impossible(
                    "push the images that use it again to the repositories under the key".into(),
                ),
            );
        }
        Ok(())
    }

    /// Copies in KMS keys' domains of `area` that no repository under the
    /// key links (garbage collection removes them; `repair` too).
    async fn fsck_domain_files(&self, report: &mut FsckReport, area: BlobArea) -> Result<()> {
        for domain in self.domain_pairs().await? {
            let Some(arn) = &domain.key_arn else {
                continue;
            };
            let store = match area {
                BlobArea::Standard => domain.blobs.clone(),
                BlobArea::Archive => match &domain.archive {
                    Some(a) => a.clone(),
                    None => continue,
                },
            };
            for algorithm in Algorithm::ALL {
                for shard in 0..=255u8 {
                    for (digest, _) in store.blobs_in_shard(algorithm, shard).await? {
                        report.checked.blob_files += 1;
                        let keys = self.meta.blob_link_keys(&digest).await?;
                        if keys.iter().flatten().any(|k| k == arn) {
                            continue;
                        }
                        let why = format!(
                            "under KMS key {arn} is linked by no repository under that key"
                        );
                        self.orphan_blob_file(report, store.as_ref(), &digest, &why)
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A blob file nothing needs (`why`): garbage, deleted by `repair`.
    async fn orphan_blob_file(
        &self,
        report: &mut FsckReport,
        store: &dyn BlobStore,
        digest: &Digest,
        why: &str,
    ) -> Result<()> {
        let location = store.blob_location(digest);
        let fix = if !report.options.repair {
            Fix::Available("delete the file".into())
        } else {
            store.delete(digest).await?;
            Fix::Done("deleted the file".into())
        };
        report.push(
            Severity::Garbage,
            "orphan-blob-file",
            format!("blob file {digest} {why}"),
            location,
            fix,
        );
        Ok(())
    }

    /// A blob's copy in the store its record does not name. Harmless while
    /// the named store holds the bytes (the copy is then removed); left
    /// alone when the named store lacks them, since `berth serve` finishes
    /// the move at start.
    async fn stray_copy(
        &self,
        report: &mut FsckReport,
        store: &dyn BlobStore,
        other: Option<&dyn BlobStore>,
        digest: &Digest,
        archived: bool,
    ) -> Result<()> {
        let location = store.blob_location(digest);
        let safe = match other {
            Some(o) => o.stat(digest).await?.is_some(),
            None => false,
        };
        let what = if archived {
            "is archived but a copy is still in the blob store"
        } else {
            "is in the blob store but a copy is still in the archive"
        };
        let fix = if !safe {
            Fix::Available("`berth serve` finishes the move at start".into())
        } else if report.options.repair {
            store.delete(digest).await?;
            Fix::Done("deleted the copy".into())
        } else {
            Fix::Available("delete the copy".into())
        };
        report.push(
            Severity::Garbage,
            "archive-stray-copy",
            format!("blob {digest} {what}"),
            location,
            fix,
        );
        Ok(())
    }

    /// A blob that manifests need lost its record but not its file: check
    /// the file's bytes and record it again.
    async fn restore_blob(
        &self,
        report: &mut FsckReport,
        store: &dyn BlobStore,
        digest: &Digest,
        problems: &[usize],
    ) -> Result<()> {
        let size = store.stat(digest).await?.unwrap_or(0);
        let (ok, read) = hashes_to(store, digest, size).await?;
        report.checked.bytes_hashed += read;
        let fix = if !ok {
            Fix::Impossible(format!(
                "its file ({}) does not hash to its digest: the bytes are lost; push the image again",
                store.blob_location(digest)
            ))
        } else if !report.options.repair {
            Fix::Available("the file is intact: record the blob again and link it to the repositories whose manifests use it".into())
        } else if self
            .meta
            .repair(&MetaRepair::RecordBlob {
                blob: digest.to_string(),
                size,
                now: self.now(),
            })
            .await?
        {
            Fix::Done(
                "recorded the blob again (its file is intact) and linked it where manifests use it"
                    .into(),
            )
        } else {
            Fix::Failed("no manifest references it any more, or it was recorded meanwhile".into())
        };
        for &i in problems {
            report.problems[i].fix = fix.clone();
        }
        Ok(())
    }

    /// Upload sessions against their temporary files.
    async fn fsck_uploads(&self, report: &mut FsckReport) -> Result<()> {
        let repair = report.options.repair;
        let stale_before = self.now() - self.config.upload_expiry.as_millis() as i64;
        let sessions = self.meta.upload_sessions().await?;
        let ids: HashSet<String> = sessions.iter().map(|s| s.id.clone()).collect();
        for s in &sessions {
            report.checked.upload_sessions += 1;
            let location = self.blobs.upload_location(&s.id);
            let on_disk = self.blobs.upload_size(&s.id).await?;
            let (kind, message) = if on_disk.unwrap_or(0) < s.size {
                (
                    "upload-data-missing",
                    format!(
                        "upload session {} has {} bytes recorded but {} (an unfinished push that cannot go on; no push was acknowledged with it)",
                        s.id,
                        s.size,
                        match on_disk {
                            None => "no file".to_string(),
                            Some(n) => format!("a file of {n} bytes"),
                        }
                    ),
                )
            } else if s.updated_at < stale_before {
                (
                    "stale-upload-session",
                    format!(
                        "upload session {} was last written to more than {} s ago",
                        s.id,
                        self.config.upload_expiry.as_secs()
                    ),
                )
            } else {
                continue;
            };
            let fix = if !repair {
                Fix::Available(
                    "remove the session and its data (the client starts the upload again)".into(),
                )
            } else {
                self.meta
                    .repair(&MetaRepair::DropUpload { id: s.id.clone() })
                    .await?;
                self.blobs.delete_upload(&s.id).await?;
                Fix::Done("removed the session and its data".into())
            };
            report.push(Severity::Garbage, kind, message, location, fix);
        }
        for (id, _) in self.blobs.upload_objects().await? {
            report.checked.upload_files += 1;
            if ids.contains(&id) {
                continue;
            }
            let location = self.blobs.upload_location(&id);
            let fix = if !repair {
                Fix::Available("delete the file".into())
            } else {
                match self.blobs.delete_upload(&id).await {
                    Ok(()) => Fix::Done("deleted the file".into()),
                    Err(e) => Fix::Failed(format!("could not delete it: {e}")),
                }
            };
            report.push(
                Severity::Garbage,
                "orphan-upload-file",
                format!("upload file {id:?} belongs to no upload session (left by a crash or a cancelled upload)"),
                location,
                fix,
            );
        }
        Ok(())
    }

    /// Repositories under a KMS key that is gone (its images cannot be read,
    /// by design) or is pending deletion (they will not be).
    async fn fsck_repository_keys(&self, report: &mut FsckReport) -> Result<()> {
        use crate::kms::rules::{parse_key_ref, KeyRef};
        let now = self.now();
        // Many repositories share a key: each is read once.
        let mut keys: HashMap<String, Option<berth_store::KmsKeyRecord>> = HashMap::new();
        let mut after = 0;
        loop {
            let page = self.meta.kms_repositories(after, 500).await?;
            let Some(last) = page.last().map(|p| p.0) else {
                return Ok(());
            };
            for (_, registry, name, arn) in page {
                if !keys.contains_key(&arn) {
                    // The key may be another account's (its ARN says whose).
                    let found = match parse_key_ref(&arn, &registry.region) {
                        Ok(KeyRef::Key { account, id }) => {
                            let account = account.unwrap_or_else(|| registry.account_id.clone());
                            self.meta
                                .get_kms_key(&account, &registry.region, &id)
                                .await?
                        }
                        _ => None,
                    };
                    keys.insert(arn.clone(), found);
                }
                let key = keys[&arn].as_ref();
                let location = format!(
                    "repository {name} of {} in {}",
                    registry.account_id, registry.region
                );
                let _ = match key {
                    Some(k) if k.state != crate::kms::rules::PENDING_DELETION => continue,
                    Some(k) if k.deletion_date.is_some_and(|d| d > now) => report.push(
                        Severity::Damage,
                        "repository-kms-key-pending-deletion",
                        format!(
                            "repository {name} is under KMS key {arn}, which is scheduled for deletion at {}: after that its images can no longer be pulled",
                            berth_iam::dates::iso8601(k.deletion_date.unwrap_or_default())
                        ),
                        location,
                        Fix::Impossible(format!(
                            "if the images are still wanted, cancel the deletion in time: aws kms cancel-key-deletion --key-id {arn}"
                        )),
                    ),
                    _ => report.push(
                        Severity::Damage,
                        "repository-kms-key-deleted",
                        format!(
                            "repository {name} is under KMS key {arn}, which was deleted: its images can no longer be pulled or pushed"
                        ),
                        location,
                        Fix::Impossible(
                            "nothing can read them without the key; delete the repository".into(),
                        ),
                    ),
                };
            }
            after = last;
        }
    }

    /// `deep`: every manifest body kept under a repository's key opens
    /// under it and hashes to its digest. A key that is gone is reported
    /// once per repository (`fsck_repository_keys`), not per body.
    async fn fsck_domain_manifest_bodies(&self, report: &mut FsckReport) -> Result<()> {
        let mut live_keys = HashMap::new();
        let mut after: Option<(berth_store::RepoId, String)> = None;
        loop {
            let page = self
                .meta
                .domain_manifest_bodies(after.as_ref().map(|(r, d)| (*r, d.as_str())), 500)
                .await?;
            let Some(last) = page.last().map(|b| (b.repo, b.digest.clone())) else {
                return Ok(());
            };
            for b in page {
                if !self.kms.key_exists_in(&mut live_keys, &b.kms_key).await? {
                    continue;
                }
                report.checked.manifest_bodies_hashed += 1;
                // No keys (encryption at rest off): it cannot open, which
                // is reported as the body's, not the run's, failure.
                let keys = self.domains.keyring(&b.kms_key).await.ok();
                let ok = crate::bodies::verified(&b.digest, |_| {
                    keys.as_ref()?.open_object(&b.digest, &b.body).ok()
                })
                .is_some();
                if !ok {
                    report.push(
                        Severity::Damage,
                        "manifest-body-corrupt",
                        format!(
                            "the body of manifest {} of repository id {}, sealed under {}, does not open or does not hash to its digest",
                            b.digest, b.repo.0, b.kms_key
                        ),
                        "metadata database".into(),
                        Fix::Impossible(
                            "push the manifest again, or restore the database from a backup".into(),
                        ),
                    );
                }
            }
            after = Some(last);
        }
    }

    /// `deep`: every manifest body hashes to its digest.
    async fn fsck_manifest_bodies(&self, report: &mut FsckReport) -> Result<()> {
        let mut after: Option<String> = None;
        let mut plaintext = 0u64;
        loop {
            let page = self.meta.manifest_bodies(after.as_deref(), 500).await?;
            let Some(last) = page.last().map(|p| p.0.clone()) else {
                if plaintext > 0 {
                    report.push(
                        Severity::Garbage,
                        "manifest-bodies-not-sealed",
                        format!("{plaintext} manifest body(ies) are stored in plaintext, written before encryption at rest; they read as they are"),
                        "metadata database".into(),
                        Fix::Impossible(
                            "`berth serve` seals them in the background (--seal-interval, default hourly)".into(),
                        ),
                    );
                }
                return Ok(());
            };
            for (text, body) in page {
                report.checked.manifest_bodies_hashed += 1;
                // Sealed bodies are opened first: one that does not open
                // is damaged as surely as one that does not hash.
                let ok = self.bodies.open_verified(&text, &body).is_some();
                // Intact, but from before encryption (damage is reported
                // as damage, below).
                plaintext += (ok && self.bodies.is_plaintext(&body)) as u64;
                if !ok {
                    report.push(
                        Severity::Damage,
                        "manifest-body-corrupt",
                        format!("manifest body {text} does not hash to its digest"),
                        "metadata database".into(),
                        Fix::Impossible(
                            "push the manifest again, or restore the database from a backup".into(),
                        ),
                    );
                }
            }
            after = Some(last);
        }
    }
}
