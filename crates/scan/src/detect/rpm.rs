//! The rpm database: `Packages` rows of `rpmdb.sqlite`, each an rpm header
//! blob (rpm's `headerImport` format without the lead: index count, data
//! length, 16-byte index entries, then the data store).

use super::sqlite;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmPackage {
    pub name: String,
    /// `epoch:version-release`, the epoch only when set (as rpm's `%{EVR}`
    /// and the Red Hat family's OSV records write it).
    pub version: String,
    /// The source rpm's file name (`openssl-3.0.7-25.el9_3.src.rpm`).
    pub source_rpm: Option<String>,
}

const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const SOURCERPM: u32 = 1044;
const INT32: u32 = 4;
const STRING: u32 = 6;
const I18NSTRING: u32 = 9;

/// The installed packages; `None` if the file is not an rpm sqlite database.
/// GPG public keys, which rpm stores as `gpg-pubkey` packages, are left out.
pub fn parse_rpmdb_sqlite(data: &[u8]) -> Option<Vec<RpmPackage>> {
    let blobs = sqlite::column_bytes(data, "Packages", 1)?;
    Some(
        blobs
            .iter()
            .filter_map(|b| parse_header(b))
            .filter(|p| p.name != "gpg-pubkey")
            .collect(),
    )
}

/// One header blob.
pub fn parse_header(blob: &[u8]) -> Option<RpmPackage> {
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(
            b.get(at..at.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    let il = usize::try_from(u32_at(blob, 0)?).ok()?;
    let dl = usize::try_from(u32_at(blob, 4)?).ok()?;
    let store_at = il.checked_mul(16)?.checked_add(8)?;
    let store = blob.get(store_at..store_at.checked_add(dl)?)?;
    let (mut name, mut version, mut release, mut epoch, mut source) =
        (None, None, None, None, None);
    for i in 0..il {
        let e = 8 + i * 16;
        let (tag, kind, off) = (u32_at(blob, e)?, u32_at(blob, e + 4)?, u32_at(blob, e + 8)?);
        let off = off as usize;
        let string = || -> Option<String> {
            let tail = store.get(off..)?;
            let end = tail.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(&tail[..end]).into_owned())
        };
        match (tag, kind) {
            (NAME, STRING | I18NSTRING) => name = string(),
            (VERSION, STRING | I18NSTRING) => version = string(),
            (RELEASE, STRING | I18NSTRING) => release = string(),
            (SOURCERPM, STRING | I18NSTRING) => source = string(),
            (EPOCH, INT32) => epoch = u32_at(store, off),
            _ => {}
        }
    }
    let (name, version, release) = (name?, version?, release?);
    if name.is_empty() || version.is_empty() {
        return None;
    }
    let evr = match epoch {
        Some(e) if e > 0 => format!("{e}:{version}-{release}"),
        _ => format!("{version}-{release}"),
    };
    Some(RpmPackage {
        name,
        version: evr,
        source_rpm: source.filter(|s| !s.is_empty()),
    })
}
