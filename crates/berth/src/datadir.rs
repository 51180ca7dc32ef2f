//! The data directory and its lock: one server (or offline maintenance
//! command) at a time owns a data dir.

use crate::stores::{Blobs, Metadata};
use anyhow::{bail, Context};
use berth_registry::{Registry, RegistryConfig, SystemClock};
use berth_store::sealed::Keyring;
use berth_store::{
    BlobStore, Cluster, FsBlobStore, LocalCluster, MetadataStore, PgMetadataStore, PgSettings,
    S3BlobStore, SqliteMetadataStore,
};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The embedded metadata database of a data dir (`--metadata`'s default).
pub fn metadata_db(data_dir: &Path) -> PathBuf {
    data_dir.join("metadata.db")
}

/// Where archived blobs go unless `--archive-dir` says otherwise.
pub fn default_archive_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("archive")
}

pub struct DataDir {
    pub root: PathBuf,
    // Held for the process's lifetime; the OS releases it if we die.
    _lock: File,
}

impl DataDir {
    /// Locks the data dir, creating it (mode 0700, whatever the umask) if
    /// it does not exist.
    pub fn open_locked(root: &Path) -> anyhow::Result<DataDir> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(PRIVATE_DIR)
            .create(root)
            .with_context(|| format!("creating data dir {}", root.display()))?;
        let path = root.join("berth.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(PRIVATE_FILE)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                bail!(
                    "data dir {} is in use by another berth process (pid {}); stop it or choose another --data-dir",
                    root.display(),
                    holder.trim()
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        Ok(DataDir {
            root: root.canonicalize()?,
            _lock: file,
        })
    }

    /// Makes the data dir itself 0700 if it is looser (a data dir made by
    /// an earlier version, or by hand, under umask 022): nothing inside is
    /// then reachable by other local users. Returns the old mode when it
    /// changed it. `berth serve` does this at start and logs it; what is
    /// inside keeps its modes until `berth fsck --repair`.
    pub fn tighten_root(&self) -> anyhow::Result<Option<u32>> {
        tighten(&self.root, true)
    }

    pub fn metadata_db(&self) -> PathBuf {
        metadata_db(&self.root)
    }

    /// The server key: `file` if given (it must exist: every node of a
    /// deployment needs the same key, so none may invent its own), else the
    /// data dir's `server.key` (32 bytes, mode 0600), created on first
    /// start. Losing it makes stored access-key secrets unreadable.
    pub fn server_key(&self, file: Option<&Path>) -> anyhow::Result<Vec<u8>> {
        if let Some(file) = file {
            return std::fs::read(file).with_context(|| {
                format!(
                    "reading the server key file {} (make one for a new deployment with \
                     `head -c 32 /dev/urandom > {0} && chmod 600 {0}`, and give every node the same)",
                    file.display()
                )
            });
        }
        let path = self.root.join("server.key");
        match std::fs::read(&path) {
            Ok(k) => Ok(k),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = berth_iam::ServerKey::generate();
                write_private(&path, &key)?;
                Ok(key.to_vec())
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// The mode of everything berth creates in a data dir or archive dir:
/// the owner only.
pub use berth_store::{PRIVATE_DIR, PRIVATE_FILE};

/// Sets `path` to 0700 (a directory) or 0600 if it grants group or others
/// anything; the old mode when it changed. Symbolic links are left alone.
pub fn tighten(path: &Path, dir: bool) -> anyhow::Result<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("reading the mode of {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o7777;
    if meta.file_type().is_symlink() || mode & 0o077 == 0 {
        return Ok(None);
    }
    let want = if dir { PRIVATE_DIR } else { PRIVATE_FILE };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(want))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    Ok(Some(mode))
}

/// Directories and files under `root` (itself included; symbolic links
/// not followed) whose mode grants group or others anything: how many of
/// each, and the first few paths with their modes.
#[derive(Debug, Default)]
pub struct LooseModes {
    pub dirs: u64,
    pub files: u64,
    pub examples: Vec<(PathBuf, u32)>,
    /// Every such path, with whether it is a directory (for `--repair`).
    pub paths: Vec<(PathBuf, bool)>,
}

/// Paths listed by name in a report; the rest are counted.
const EXAMPLES: usize = 5;

pub fn loose_modes(root: &Path) -> anyhow::Result<LooseModes> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = LooseModes::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            // Removed while walking (an upload finishing): nothing to judge.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            if kind.is_dir() {
                out.dirs += 1;
            } else {
                out.files += 1;
            }
            if out.examples.len() < EXAMPLES {
                out.examples.push((path.clone(), mode));
            }
            out.paths.push((path.clone(), kind.is_dir()));
        }
        if kind.is_dir() {
            for entry in
                std::fs::read_dir(&path).with_context(|| format!("listing {}", path.display()))?
            {
                stack.push(entry?.path());
            }
        }
    }
    Ok(out)
}

/// Writes a file only its owner can read, durably (create-new, fsync).
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The environment variable that turns sealing off, for the benchmark's
/// unencrypted baseline only (berth-bench sets it beside an encrypted
/// run). Not a setting: blobs written with it are plaintext at rest.
pub const BENCH_PLAINTEXT_ENV: &str = "BERTH_BENCH_UNSEALED_BLOBS";

/// The keys blobs are sealed with: from the server key's KEK root, so
/// every node (and every offline command given the same key) has them.
fn sealing_keys(config: &RegistryConfig) -> Option<Arc<Keyring>> {
    config.seal_at_rest.then(|| {
        Arc::new(Keyring::from_roots(&berth_registry::roots::roots_of(
            &config.server_key,
        )))
    })
}

/// Whether this process runs the benchmark's unencrypted baseline.
fn bench_plaintext() -> bool {
    let on = std::env::var_os(BENCH_PLAINTEXT_ENV).is_some_and(|v| v == "1");
    if on {
        tracing::warn!(
            "{BENCH_PLAINTEXT_ENV}=1: new blobs and manifests are written unencrypted (a benchmark baseline, never a deployment)"
        );
    }
    on
}

/// Opens the data dir's stores (the blob store, the metadata database,
/// the archive blob store at `archive_dir`) as one registry: what
/// `berth serve` and the offline commands all start from.
pub async fn open_registry(
    metadata: &Metadata,
    blobs: &Blobs,
    archive_dir: &Path,
    mut config: RegistryConfig,
) -> anyhow::Result<Registry> {
    if bench_plaintext() {
        config.seal_at_rest = false;
    }
    let (meta, cluster) = open_metadata(metadata).await?;

    // The key-encryption root, from an external KMS when one holds it
    // (`kms_root.rs`); the blob stores seal under it.
    config.server_key = crate::kms_root::with_root(
        &*meta,
        config.server_key.clone(),
        crate::kms_root::RootKms::from_env()?.as_ref(),
    )
    .await?;
    let (blobs, archive) = open_blob_stores(blobs, archive_dir, &config).await?;
    Ok(Registry::new(blobs, meta, Arc::new(SystemClock), config)
        .with_archive_store(archive)
        .with_cluster(cluster))
}

/// The metadata store, and the cluster its nodes coordinate through (one
/// node on its own unless the store is shared).
pub async fn open_metadata(
    metadata: &Metadata,
) -> anyhow::Result<(Arc<dyn MetadataStore>, Arc<dyn Cluster>)> {
    let mut cluster: Arc<dyn Cluster> = Arc::new(LocalCluster::default());
    let meta: Arc<dyn MetadataStore> = match metadata {
        Metadata::Sqlite(path) => Arc::new(
            SqliteMetadataStore::open(path)
                .await
                .with_context(|| format!("opening the metadata database {}", path.display()))?,
        ),
        Metadata::Postgres(url) => {
            let store = PgMetadataStore::connect(url, &PgSettings::default())
                .await
                .with_context(|| {
                    format!(
                        "connecting to the PostgreSQL metadata store {}",
                        metadata.describe()
                    )
                })?;
            let store = Arc::new(store);
            cluster = store.clone();
            store
        }
    };
    Ok((meta, cluster))
}

/// The blob store and the archive store, sealing under `config`'s roots.
async fn open_blob_stores(
    blobs: &Blobs,
    archive_dir: &Path,
    config: &RegistryConfig,
) -> anyhow::Result<(Arc<dyn BlobStore>, Arc<dyn BlobStore>)> {
    Ok(match blobs {
        Blobs::File(root) => {
            let mut blobs = FsBlobStore::open(root)
                .await
                .with_context(|| format!("opening the blob store in {}", root.display()))?;
            let mut archive = FsBlobStore::open(archive_dir).await.with_context(|| {
                format!(
                    "opening the archive blob store in {}",
                    archive_dir.display()
                )
            })?;
            if let Some(keys) = sealing_keys(config) {
                blobs = blobs.sealing(keys.clone());
                archive = archive.sealing(keys);
            }
            (Arc::new(blobs), Arc::new(archive))
        }
        Blobs::S3(settings) => {
            let blobs = S3BlobStore::open(settings).await.with_context(|| {
                format!(
                    "opening the S3 blob store {}",
                    Blobs::S3(settings.clone()).describe()
                )
            })?;
            // Redirected downloads hand clients the objects themselves, so
            // berth cannot seal them: the bucket's own encryption (SSE) is
            // what protects blob bytes then, as on ECR. Manifests stay sealed.
            let blobs = match sealing_keys(config) {
                Some(_) if config.redirect_downloads => {
                    tracing::warn!(
                        "--redirect-downloads: blob bytes are written to the object store unsealed (clients read them there); enable the bucket's server-side encryption"
                    );
                    blobs
                }
                Some(keys) => blobs.sealing(keys),
                None => blobs,
            };
            let archive = blobs.under("archive");
            (Arc::new(blobs), Arc::new(archive))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_owner_is_refused_with_the_holder_named() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open_locked(dir.path()).unwrap();
        let err = DataDir::open_locked(dir.path())
            .err()
            .expect("second lock must fail")
            .to_string();
        assert!(
            err.contains("in use") && err.contains(&std::process::id().to_string()),
            "{err}"
        );
        drop(first);
        DataDir::open_locked(dir.path()).unwrap();
    }
}
