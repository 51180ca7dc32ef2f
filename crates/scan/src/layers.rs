//! Reading image layers without unpacking them: one layer stream (gzip, zstd
//! or plain tar) is walked entry by entry, the few files package detection
//! needs are kept in memory (each under a size cap), everything else is
//! skipped as it streams past. [`apply_layers`] then stacks the per-layer
//! [`Inventory`]s the way an overlay filesystem does: later layers override,
//! whiteouts delete, opaque directories hide what lower layers put there.
//!
//! The compression is read from the stream's magic bytes, not from the
//! manifest's media type: pushers label layers wrongly often enough
//! (`tar+gzip` on a zstd blob, Docker's own types on OCI images), and a
//! wrong label must not make a layer unreadable or, worse, skipped.
//!
//! Nothing here trusts the archive: paths are normalized (no `..` above the
//! root, leading `/` and `./` stripped), sizes in headers are checked before
//! reading, decompressed bytes and entry counts are capped per layer, and
//! malformed input is an error, never a panic.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};

/// Bounds on what reading one layer may cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest package database kept (dpkg status, apk installed, rpmdb).
    pub max_database_bytes: u64,
    /// Largest rpm sqlite database kept: it stores whole headers, file
    /// lists included, so it is far larger than the text databases (sizes
    /// of real images not measured here yet).
    pub max_rpmdb_bytes: u64,
    /// Largest metadata file kept (os-release, METADATA, package.json):
    /// detection reads a few header lines or two JSON strings from them.
    pub max_metadata_bytes: u64,
    /// Decompressed bytes read from one layer before giving up: a
    /// decompression bomb stops here instead of running for hours.
    pub max_layer_bytes: u64,
    /// Tar entries read from one layer.
    pub max_entries: u64,
    /// What one image's kept files may cost in memory ([`entry_cost`]: the
    /// content, the path and a fixed overhead per entry), a budget shared
    /// by all its layers: one layer being read keeps at most this much
    /// ([`read_layer`]), and the running view the layers are stacked into
    /// holds at most this much ([`apply_layer_within`]). A scan therefore
    /// holds at most twice this in kept files, whatever the number of
    /// layers. Thousands of `package.json` files are normal; what does not
    /// fit is listed as dropped and becomes a warning.
    pub max_kept_bytes: u64,
    /// Executables (mode `+x`, ELF) of at least this many bytes are searched
    /// for Go build information and cargo-auditable's `.dep-v0`; `u64::MAX`
    /// turns it off. Their bytes stream past anyway (a tar stream cannot
    /// seek), so the search costs CPU.
    pub min_binary_bytes: u64,
    /// Executables up to this size are held in memory whole while they are
    /// searched, since ELF section headers come after the sections they
    /// describe; larger ones are only searched for Go build information as
    /// they stream past. One binary is held at a time.
    pub max_buffered_binary_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Debian's full status file is ~3 MB on a desktop; 8 MiB leaves room.
            max_database_bytes: 8 << 20,
            max_rpmdb_bytes: 64 << 20,
            // Detection reads only `Name`/`Version` or `name`/`version`.
            // Real METADATA files with a long description reach ~100 KB,
            // package.json files a few KB (old npm versions embedded the
            // README: tens of KB); a larger one is `TooLarge`, a warning.
            max_metadata_bytes: 256 << 10,
            // Large real layers (CUDA, ML images) reach several GB.
            max_layer_bytes: 16 << 30,
            max_entries: 2_000_000,
            // An rpmdb.sqlite (up to 64 MiB) and a dpkg status (a few MiB)
            // plus thousands of language packages' metadata fit with room
            // to spare; two of these (a layer being read and the view) is
            // what a scan worker may hold.
            max_kept_bytes: 128 << 20,
            // A stripped Rust `main` is ~300 KB, Go's ~1 MB: smaller
            // executables are scripts and C programs.
            min_binary_bytes: 128 << 10,
            max_buffered_binary_bytes: 64 << 20,
        }
    }
}

/// How a layer stream is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    /// gzip starts `1f 8b`, a zstd frame `28 b5 2f fd`; anything else is
    /// read as tar (whose own checksum then rejects garbage).
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// A path that matters, as a layer holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Entry {
    /// A regular file's content (a byte string in the cache's CBOR).
    File(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A symbolic link, with its target as written (relative or absolute).
    Symlink(String),
    /// A hard link to another path of the image (normalized).
    Hardlink(String),
    /// A file that matters but is over its size cap: it hides a lower
    /// layer's copy of the path, and the scan reports it as not read.
    TooLarge(u64),
    /// An ELF executable with Go build information (Go 1.18 and later).
    GoBinary(GoBuildInfo),
    /// An ELF executable built with cargo-auditable: its `.dep-v0` section,
    /// decompressed (JSON).
    AuditableBinary(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Something at this path that is not read (a directory where a file
    /// that matters was, an executable without Go build information): it
    /// hides what lower layers had there.
    Hidden,
}

/// What the Go linker embeds in a binary (`go version -m` prints it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GoBuildInfo {
    /// As recorded: `go1.21.3`, possibly followed by experiment tags.
    pub go_version: String,
    /// The module lines (`path`, `mod`, `dep`, `=>`, `build`), sentinels
    /// removed.
    pub modinfo: String,
}

/// What one layer holds that package detection cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Inventory {
    /// Files that matter, by normalized path (no leading `/`).
    pub files: BTreeMap<String, Entry>,
    /// Paths deleted from lower layers (`dir/.wh.name` deletes `dir/name`
    /// and, if it was a directory, everything under it).
    pub whiteouts: Vec<String>,
    /// Directories whose lower-layer content is hidden (`dir/.wh..wh..opq`);
    /// `""` is the root.
    pub opaque_dirs: Vec<String>,
    /// Tar entries read.
    pub entries: u64,
    /// Files that matter (and whiteouts) that were not kept because
    /// `max_kept_bytes` was used up: the first [`MAX_DROPPED_LISTED`].
    pub dropped: Vec<String>,
    /// How many were dropped in all.
    #[serde(default)]
    pub dropped_total: u64,
}

/// Dropped paths listed by name; beyond this they are only counted.
pub const MAX_DROPPED_LISTED: usize = 100;

/// What every kept entry (file, link, marker, whiteout) costs against
/// [`Limits::max_kept_bytes`] besides its path and content: the map node
/// and the `String`/`Vec` headers. Without it a layer of millions of empty
/// `package.json` files would keep hundreds of MB in bookkeeping.
pub const ENTRY_OVERHEAD: u64 = 64;

/// What an entry at `path` costs against [`Limits::max_kept_bytes`].
pub fn entry_cost(path: &str, entry: &Entry) -> u64 {
    let content = match entry {
        Entry::File(d) | Entry::AuditableBinary(d) => d.len(),
        Entry::Symlink(t) | Entry::Hardlink(t) => t.len(),
        Entry::GoBinary(i) => i.go_version.len() + i.modinfo.len(),
        Entry::TooLarge(_) | Entry::Hidden => 0,
    };
    (path.len() + content) as u64 + ENTRY_OVERHEAD
}

impl Inventory {
    fn drop_path(&mut self, path: String) {
        self.dropped_total += 1;
        if self.dropped.len() < MAX_DROPPED_LISTED {
            self.dropped.push(path);
        }
    }
}

/// Paths that a kept-bytes budget left out (the first
/// [`MAX_DROPPED_LISTED`] by name, and how many in all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropped {
    pub paths: Vec<String>,
    pub total: u64,
}

impl Dropped {
    fn push(&mut self, path: &str) {
        self.total += 1;
        if self.paths.len() < MAX_DROPPED_LISTED {
            self.paths.push(path.to_string());
        }
    }

    /// Scan warnings for these paths, prefixed with `place` ("layer 2").
    pub fn warnings(&self, place: &str, why: &str) -> Vec<String> {
        dropped_warnings(place, why, &self.paths, self.total)
    }
}

/// Scan warnings for paths a budget left out: one per listed path, then
/// one counting the rest.
pub fn dropped_warnings(place: &str, why: &str, listed: &[String], total: u64) -> Vec<String> {
    let mut out: Vec<String> = listed
        .iter()
        .map(|p| format!("{place}: {p}: {why}; not read"))
        .collect();
    let more = total.saturating_sub(listed.len() as u64);
    if more > 0 {
        out.push(format!("{place}: {more} more files: {why}; not read"));
    }
    out
}

/// The reason given for files a layer's read left out.
pub const OVER_LAYER_BUDGET: &str = "over the image's kept-bytes budget while reading the layer";
/// The reason given for files stacking the layers left out.
pub const OVER_IMAGE_BUDGET: &str = "over the image's kept-bytes budget";

impl Inventory {
    /// Warnings for the files this layer's read left out.
    pub fn dropped_warnings(&self, place: &str) -> Vec<String> {
        dropped_warnings(
            place,
            OVER_LAYER_BUDGET,
            &self.dropped,
            self.dropped_total.max(self.dropped.len() as u64),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("reading the layer: {0}")]
    Io(#[from] io::Error),
    #[error("the layer decompresses to more than {0} bytes")]
    TooLarge(u64),
    #[error("the layer has more than {0} entries")]
    TooManyEntries(u64),
}

/// The kind of file detection reads, which decides its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    Database,
    /// rpm's sqlite database holds whole headers (file lists included), so
    /// it is far larger than dpkg's or apk's text databases.
    RpmDatabase,
    Metadata,
}

/// Whether a normalized path is one detection reads.
pub fn interest(path: &str) -> Option<Interest> {
    match path {
        "etc/os-release" | "usr/lib/os-release" => return Some(Interest::Metadata),
        "var/lib/dpkg/status" | "lib/apk/db/installed" => return Some(Interest::Database),
        "var/lib/rpm/rpmdb.sqlite" | "usr/lib/sysimage/rpm/rpmdb.sqlite" => {
            return Some(Interest::RpmDatabase)
        }
        _ => {}
    }
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
    // distroless writes one status file per package here, with md5sums beside.
    if dir == "var/lib/dpkg/status.d" && !base.ends_with(".md5sums") {
        return Some(Interest::Database);
    }
    let parent = dir.rsplit('/').next().unwrap_or(dir);
    if (base == "METADATA" && parent.ends_with(".dist-info"))
        || (base == "PKG-INFO" && parent.ends_with(".egg-info"))
        // setuptools may write the egg-info as a single file.
        || (base.ends_with(".egg-info") && dir.contains("-packages"))
    {
        return Some(Interest::Metadata);
    }
    if base == "package.json" && is_node_package_dir(dir) {
        return Some(Interest::Metadata);
    }
    None
}

/// `.../node_modules/name` or `.../node_modules/@scope/name`: a package's
/// own directory, not a `package.json` deeper inside one (those describe
/// test fixtures or sub-builds, not installed packages).
fn is_node_package_dir(dir: &str) -> bool {
    let mut parts = dir.rsplit('/');
    let (Some(name), Some(up)) = (parts.next(), parts.next()) else {
        return false;
    };
    if name.is_empty() || name.starts_with('.') {
        return false;
    }
    if up == "node_modules" {
        return !name.starts_with('@');
    }
    up.starts_with('@') && parts.next() == Some("node_modules")
}

/// A path from an archive, relative to the image root: `/` and `./`
/// prefixes removed, `.` and empty parts dropped, `..` resolved without ever
/// leaving the root (as a container runtime resolves it).
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Counts decompressed bytes and fails once past the cap.
struct Capped<R> {
    inner: R,
    read: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.cap {
            return Err(io::Error::other(CapExceeded));
        }
        Ok(n)
    }
}

#[derive(Debug)]
struct CapExceeded;

impl std::fmt::Display for CapExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompressed size limit")
    }
}

impl std::error::Error for CapExceeded {}

/// Reads one layer stream into its inventory, keeping at most
/// `limits.max_kept_bytes` of it.
pub fn read_layer<R: Read>(reader: R, limits: &Limits) -> Result<Inventory, LayerError> {
    read_layer_over(reader, limits, None)
}

/// Reads one layer that is to be laid over `view` (the layers below it),
/// so that the view and the layer together stay within
/// `limits.max_kept_bytes`: a file is kept only if the view's cost, less
/// what the layer's files replace at the same paths, plus what the layer
/// keeps, still fits. Whiteouts and opaque directories (which shrink the
/// view) count against the layer's own keeping only. An image's layers read
/// this way hold at most the budget together, beside the view, except for
/// what they replace.
///
/// Whether a file is kept then depends on the view: an inventory that
/// dropped files over a non-empty view is the image's, not the layer's
/// (the registry does not cache it).
pub fn read_layer_over<R: Read>(
    reader: R,
    limits: &Limits,
    view: Option<&FileView>,
) -> Result<Inventory, LayerError> {
    let mut buffered = BufReader::with_capacity(64 << 10, reader);
    let head = buffered.fill_buf()?;
    let compression = Compression::detect(head);
    let result = match compression {
        Compression::Gzip => read_tar(
            // Multi-member: some tools write one gzip member per chunk.
            flate2::bufread::MultiGzDecoder::new(buffered),
            limits,
            view,
        ),
        Compression::Zstd => read_tar(
            zstd::stream::read::Decoder::with_buffer(buffered)?,
            limits,
            view,
        ),
        Compression::None => read_tar(buffered, limits, view),
    };
    result.map_err(|e| match e {
        LayerError::Io(io) if is_cap(&io) => LayerError::TooLarge(limits.max_layer_bytes),
        e => e,
    })
}

fn is_cap(e: &io::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|e| e as _);
    while let Some(s) = source {
        if s.is::<CapExceeded>() {
            return true;
        }
        if let Some(io) = s.downcast_ref::<io::Error>() {
            source = io.get_ref().map(|e| e as _);
        } else {
            source = s.source();
        }
    }
    false
}

fn read_tar<R: Read>(
    reader: R,
    limits: &Limits,
    view: Option<&FileView>,
) -> Result<Inventory, LayerError> {
    let capped = Capped {
        inner: reader,
        read: 0,
        cap: limits.max_layer_bytes,
    };
    let mut archive = tar::Archive::new(capped);
    let mut inv = Inventory::default();
    let mut kept: u64 = 0;
    let max = limits.max_kept_bytes;
    // The view below: what it costs, and how much of that the layer's
    // files replace (each path counted once).
    let below = view.map_or(0, |v| v.kept);
    let mut replaced: u64 = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        inv.entries += 1;
        if inv.entries > limits.max_entries {
            return Err(LayerError::TooManyEntries(limits.max_entries));
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = normalize(&raw);
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (d, b),
            None => ("", path.as_str()),
        };
        if base == ".wh..wh..opq" {
            let cost = dir.len() as u64 + ENTRY_OVERHEAD;
            if kept + cost > max {
                inv.drop_path(path.clone());
                continue;
            }
            kept += cost;
            inv.opaque_dirs.push(dir.to_string());
            continue;
        }
        if let Some(name) = base.strip_prefix(".wh.") {
            if !name.is_empty() && name != "." && name != ".." {
                let target = join(dir, name);
                let cost = target.len() as u64 + ENTRY_OVERHEAD;
                if kept + cost > max {
                    inv.drop_path(path.clone());
                    continue;
                }
                kept += cost;
                inv.whiteouts.push(target);
            }
            continue;
        }
        let record = match interest(&path) {
            None => {
                let header = entry.header();
                let executable = header.mode().is_ok_and(|m| m & 0o111 != 0);
                if !(executable
                    && header.entry_type().is_file()
                    && entry.size() >= limits.min_binary_bytes)
                {
                    continue;
                }
                read_executable(&mut entry, limits)?
            }
            Some(interest) => {
                let header = entry.header();
                let kind = header.entry_type();
                if kind.is_symlink() || kind.is_hard_link() {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    if kind.is_symlink() {
                        Entry::Symlink(target)
                    } else {
                        Entry::Hardlink(normalize(&target))
                    }
                } else if kind.is_file() || kind == tar::EntryType::Continuous {
                    let size = entry.size();
                    let cap = match interest {
                        Interest::Database => limits.max_database_bytes,
                        Interest::RpmDatabase => limits.max_rpmdb_bytes,
                        Interest::Metadata => limits.max_metadata_bytes,
                    };
                    if size > cap {
                        Entry::TooLarge(size)
                    } else if kept
                        + path.len() as u64
                        + size
                        + ENTRY_OVERHEAD
                        + below.saturating_sub(replaced + replaces(view, &inv, &path))
                        > max
                    {
                        // Checked before reading: the bytes are never held.
                        inv.drop_path(path);
                        continue;
                    } else {
                        let mut data = Vec::with_capacity(size as usize);
                        (&mut entry).take(cap).read_to_end(&mut data)?;
                        Entry::File(data)
                    }
                } else {
                    // A directory or device where a file that matters was:
                    // nothing to read, and it still hides a lower layer's file.
                    Entry::Hidden
                }
            }
        };
        let cost = entry_cost(&path, &record);
        let replaces = replaces(view, &inv, &path);
        if kept + cost + below.saturating_sub(replaced + replaces) > max {
            inv.drop_path(path);
            continue;
        }
        kept += cost;
        replaced += replaces;
        inv.files.insert(path, record);
    }
    Ok(inv)
}

/// What the view's entry at `path` costs, if the layer replaces it for the
/// first time (a path the layer already holds was counted then).
fn replaces(view: Option<&FileView>, inv: &Inventory, path: &str) -> u64 {
    match view.and_then(|v| v.files.get(path)) {
        Some(e) if !inv.files.contains_key(path) => entry_cost(path, e),
        _ => 0,
    }
}

/// `\xff Go buildinf:`, the start of the `.go.buildinfo` section.
const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// The magic, pointer size, flags, padding: strings follow at 32.
const GO_HEADER: usize = 32;
/// Go 1.18+ store the version and module strings inline after the header.
const GO_FLAG_INLINE: u8 = 0x2;
/// Build information larger than this is not believed (real ones with
/// hundreds of dependencies are tens of KB).
const GO_MAX_INFO: u64 = 1 << 20;

/// Searches an executable's bytes as they stream past for Go build
/// information, as `debug/buildinfo` finds it. Only ELF files are searched
/// (images hold Linux binaries), and only the inline form Go 1.18+ writes:
/// older binaries point into the data segment, which a stream cannot
/// follow back.
fn go_buildinfo_streaming<R: Read>(r: &mut R) -> io::Result<Option<GoBuildInfo>> {
    let finder = memchr::memmem::Finder::new(GO_MAGIC);
    let mut buf = vec![0u8; 64 << 10];
    // Bytes carried over from the previous chunk, in case the magic
    // straddles two reads.
    let mut carry = 0;
    loop {
        let n = r.read(&mut buf[carry..])?;
        if n == 0 {
            return Ok(None);
        }
        let len = carry + n;
        if let Some(pos) = finder.find(&buf[..len]) {
            let mut info = buf[pos..len].to_vec();
            let more = GO_MAX_INFO.saturating_sub(info.len() as u64);
            r.take(more).read_to_end(&mut info)?;
            return Ok(parse_go_buildinfo(&info));
        }
        let keep = len.min(GO_MAGIC.len() - 1);
        buf.copy_within(len - keep..len, 0);
        carry = keep;
    }
}

/// The cap on cargo-auditable's decompressed JSON (real ones are a few KB
/// to a few hundred KB).
const AUDITABLE_MAX_JSON: u64 = 8 << 20;

/// Reads an executable entry: Go build information or cargo-auditable data
/// if it has either, else [`Entry::Hidden`].
fn read_executable<R: Read>(r: &mut R, limits: &Limits) -> io::Result<Entry> {
    let mut head = Vec::with_capacity(4);
    (&mut *r).take(4).read_to_end(&mut head)?;
    if head != b"\x7fELF" {
        return Ok(Entry::Hidden);
    }
    let mut buf = head;
    let cap = limits.max_buffered_binary_bytes;
    (&mut *r)
        .take(cap.saturating_sub(4) + 1)
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        // Too large to hold: keep streaming, looking for Go's magic (the
        // part already read is searched first).
        let rest = io::Cursor::new(std::mem::take(&mut buf)).chain(r);
        let mut rest = rest;
        return Ok(go_buildinfo_streaming(&mut rest)?.map_or(Entry::Hidden, Entry::GoBinary));
    }
    if let Some(pos) = memchr::memmem::find(&buf, GO_MAGIC) {
        let end = buf.len().min(pos + GO_MAX_INFO as usize);
        if let Some(info) = parse_go_buildinfo(&buf[pos..end]) {
            return Ok(Entry::GoBinary(info));
        }
    }
    if let Some(section) = elf_section(&buf, b".dep-v0") {
        let mut json = Vec::new();
        let decoded = flate2::read::ZlibDecoder::new(section)
            .take(AUDITABLE_MAX_JSON + 1)
            .read_to_end(&mut json);
        if decoded.is_ok() && json.len() as u64 <= AUDITABLE_MAX_JSON {
            return Ok(Entry::AuditableBinary(json));
        }
    }
    Ok(Entry::Hidden)
}

/// The contents of the ELF section named `name` (32- or 64-bit, either byte
/// order); `None` for anything malformed.
pub fn elf_section<'a>(elf: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    if elf.get(..4)? != b"\x7fELF" {
        return None;
    }
    let wide = match elf.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big = match elf.get(5)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let uint = |at: usize, len: usize| -> Option<u64> {
        let b = elf.get(at..at.checked_add(len)?)?;
        let mut v: u64 = 0;
        for i in 0..len {
            let byte = if big { b[i] } else { b[len - 1 - i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    };
    let usize_of = |v: u64| usize::try_from(v).ok();
    let (shoff, shentsize, shnum, shstrndx) = if wide {
        (
            uint(0x28, 8)?,
            uint(0x3a, 2)?,
            uint(0x3c, 2)?,
            uint(0x3e, 2)?,
        )
    } else {
        (
            uint(0x20, 4)?,
            uint(0x2e, 2)?,
            uint(0x30, 2)?,
            uint(0x32, 2)?,
        )
    };
    let (shoff, shentsize) = (usize_of(shoff)?, usize_of(shentsize)?);
    if shentsize < if wide { 64 } else { 40 } {
        return None;
    }
    // (name offset, file offset, size) of section `i`.
    let header = |i: u64| -> Option<(usize, usize, usize)> {
        let at = shoff.checked_add(usize_of(i)?.checked_mul(shentsize)?)?;
        // `at` comes from the file: near usize::MAX, `at + 24` must not wrap.
        let field = |rel: usize, len: usize| uint(at.checked_add(rel)?, len);
        let (off, size) = if wide {
            (field(24, 8)?, field(32, 8)?)
        } else {
            (field(16, 4)?, field(20, 4)?)
        };
        Some((usize_of(uint(at, 4)?)?, usize_of(off)?, usize_of(size)?))
    };
    let (_, str_off, str_size) = header(shstrndx)?;
    let names = elf.get(str_off..str_off.checked_add(str_size)?)?;
    for i in 0..shnum {
        let Some((name_at, off, size)) = header(i) else {
            continue;
        };
        let Some(tail) = names.get(name_at..) else {
            continue;
        };
        let end = memchr::memchr(0, tail).unwrap_or(tail.len());
        if &tail[..end] == name {
            return elf.get(off..off.checked_add(size)?);
        }
    }
    None
}

/// The header and two length-prefixed strings (Go's `binary.Uvarint`).
pub fn parse_go_buildinfo(data: &[u8]) -> Option<GoBuildInfo> {
    if !data.starts_with(GO_MAGIC) || data.len() < GO_HEADER {
        return None;
    }
    if data[GO_MAGIC.len() + 1] & GO_FLAG_INLINE == 0 {
        return None;
    }
    let mut rest = &data[GO_HEADER..];
    let mut string = || -> Option<String> {
        let mut len: u64 = 0;
        let mut shift = 0;
        loop {
            let (&b, tail) = rest.split_first()?;
            rest = tail;
            if shift > 63 {
                return None;
            }
            len |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        let len = usize::try_from(len).ok().filter(|&l| l <= rest.len())?;
        let (s, tail) = rest.split_at(len);
        rest = tail;
        Some(String::from_utf8_lossy(s).into_owned())
    };
    let go_version = string()?;
    let mut modinfo = string()?;
    // The module string is framed by 16-byte sentinels, the last preceded
    // by a newline.
    let b = modinfo.as_bytes();
    if b.len() >= 33 && b[b.len() - 17] == b'\n' {
        modinfo = String::from_utf8_lossy(&b[16..b.len() - 16]).into_owned();
    }
    if !go_version.starts_with("go") {
        return None;
    }
    Some(GoBuildInfo {
        go_version,
        modinfo,
    })
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The image's final view of the files that matter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileView {
    pub files: BTreeMap<String, Entry>,
    /// What `files` costs ([`entry_cost`] summed), kept up to date by
    /// [`apply_layer_within`] and [`FileView::insert`].
    pub kept: u64,
}

/// Links followed before giving up on a path (cycles, hostile chains).
const MAX_LINKS: usize = 16;

impl FileView {
    /// Sets `path`, keeping `kept` up to date.
    pub fn insert(&mut self, path: String, entry: Entry) {
        let cost = entry_cost(&path, &entry);
        if let Some(old) = self.files.get(&path) {
            self.kept = self.kept.saturating_sub(entry_cost(&path, old));
        }
        self.kept += cost;
        self.files.insert(path, entry);
    }

    /// Removes every path for which `keep` is false, keeping `kept` up to date.
    fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let mut freed = 0;
        self.files.retain(|p, e| {
            let k = keep(p);
            if !k {
                freed += entry_cost(p, e);
            }
            k
        });
        self.kept = self.kept.saturating_sub(freed);
    }

    /// A regular file's content, following symbolic and hard links between
    /// kept paths (Debian's `etc/os-release` links to
    /// `../usr/lib/os-release`). `None`: absent, too large, or a link to
    /// something not kept.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        let mut path = normalize(path);
        for _ in 0..MAX_LINKS {
            match self.files.get(&path)? {
                Entry::File(data) => return Some(data),
                Entry::TooLarge(_)
                | Entry::GoBinary(_)
                | Entry::AuditableBinary(_)
                | Entry::Hidden => return None,
                Entry::Hardlink(target) => path = target.clone(),
                Entry::Symlink(target) => {
                    path = if target.starts_with('/') {
                        normalize(target)
                    } else {
                        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
                        normalize(&join(dir, target))
                    };
                }
            }
        }
        None
    }

    /// Every path with kept content, in path order, links resolved.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files
            .keys()
            .filter_map(|p| self.read(p).map(|d| (p.as_str(), d)))
    }

    /// Go binaries with their build information.
    pub fn go_binaries(&self) -> impl Iterator<Item = (&str, &GoBuildInfo)> {
        self.files.iter().filter_map(|(p, e)| match e {
            Entry::GoBinary(info) => Some((p.as_str(), info)),
            _ => None,
        })
    }

    /// cargo-auditable binaries with their dependency JSON.
    pub fn auditable_binaries(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().filter_map(|(p, e)| match e {
            Entry::AuditableBinary(json) => Some((p.as_str(), json.as_slice())),
            _ => None,
        })
    }

    /// Paths that matter but were over their cap.
    pub fn too_large(&self) -> impl Iterator<Item = (&str, u64)> {
        self.files.iter().filter_map(|(p, e)| match e {
            Entry::TooLarge(n) => Some((p.as_str(), *n)),
            _ => None,
        })
    }
}

fn under(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || (path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/')
}

/// Stacks layer inventories, lowest first, into the image's view, without
/// a budget. Within a layer, its opaque directories and whiteouts apply to
/// the layers below it only; then its own files are laid on top.
pub fn apply_layers<'a>(layers: impl IntoIterator<Item = &'a Inventory>) -> FileView {
    let mut view = FileView::default();
    for layer in layers {
        apply_layer(&mut view, layer);
    }
    view
}

/// Lays one more layer over a view, without a budget.
pub fn apply_layer(view: &mut FileView, layer: &Inventory) {
    apply_layer_within(view, layer.clone(), u64::MAX);
}

/// Lays one more layer over a view (for callers that read layers one by
/// one and keep only the view) while the view costs at most `budget`
/// ([`Limits::max_kept_bytes`]): a file of the layer that does not fit
/// removes the path from the view (the layer overrides lower copies, so
/// none may show through) and is listed in the answer, which the scan
/// turns into warnings. Files are laid in path order, so which ones fit
/// does not depend on the order of the tar. The layer's entries move into
/// the view (no copy of a file's bytes is made).
pub fn apply_layer_within(view: &mut FileView, layer: Inventory, budget: u64) -> Dropped {
    for dir in &layer.opaque_dirs {
        view.retain(|p| !under(p, dir));
    }
    for w in &layer.whiteouts {
        view.retain(|p| p != w && !under(p, w));
    }
    let mut dropped = Dropped::default();
    for (path, entry) in layer.files {
        let cost = entry_cost(&path, &entry);
        let freed = view
            .files
            .get(&path)
            .map_or(0, |old| entry_cost(&path, old));
        if view.kept.saturating_sub(freed).saturating_add(cost) > budget {
            if view.files.remove(&path).is_some() {
                view.kept = view.kept.saturating_sub(freed);
            }
            dropped.push(&path);
            continue;
        }
        view.insert(path, entry);
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_inside_the_root() {
        for (raw, want) in [
            ("./etc/os-release", "etc/os-release"),
            ("/etc//os-release", "etc/os-release"),
            ("../../etc/os-release", "etc/os-release"),
            ("usr/../../../etc/./os-release", "etc/os-release"),
            ("a/b/../c", "a/c"),
            ("", ""),
            ("/", ""),
        ] {
            assert_eq!(normalize(raw), want, "{raw}");
        }
    }

    #[test]
    fn interesting_paths() {
        for p in [
            "etc/os-release",
            "usr/lib/os-release",
            "var/lib/dpkg/status",
            "var/lib/dpkg/status.d/libssl3",
            "lib/apk/db/installed",
            "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA",
            "usr/lib/python3.11/site-packages/foo-1.0-py3.11.egg-info/PKG-INFO",
            "usr/lib/python3/dist-packages/bar-1.0.egg-info",
            "app/node_modules/lodash/package.json",
            "app/node_modules/@babel/core/package.json",
            "app/node_modules/a/node_modules/b/package.json",
        ] {
            assert!(interest(p).is_some(), "{p}");
        }
        for p in [
            "var/lib/dpkg/status-old",
            "var/lib/dpkg/status.d/libssl3.md5sums",
            "app/package.json",
            "app/node_modules/lodash/lib/package.json",
            "app/node_modules/@babel/package.json",
            "app/node_modules/.bin/package.json",
            "usr/lib/python3/dist-packages/x.dist-info/RECORD",
            "METADATA",
            "etc/os-release.bak",
        ] {
            assert!(interest(p).is_none(), "{p}");
        }
        assert_eq!(interest("var/lib/dpkg/status"), Some(Interest::Database));
    }

    #[test]
    fn elf_headers_pointing_anywhere() {
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(elf_section(&elf, b".dep-v0"), None);
        elf[0x28..0x30].copy_from_slice(&(u64::MAX - 30).to_le_bytes());
        elf[0x3e..0x40].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(elf_section(&elf, b".dep-v0"), None);
    }

    #[test]
    fn compression_from_magic() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Zstd
        );
        assert_eq!(Compression::detect(b"etc/"), Compression::None);
        assert_eq!(Compression::detect(&[]), Compression::None);
    }
}
