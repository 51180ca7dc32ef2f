//! The fixture the registry's domain tests share: real stores in a
//! temporary directory, a clock the test controls, and helpers that push
//! blobs and images and read them back.

use crate::*;
use berth_oci::{Algorithm, Digest, Reference};
use berth_store::{FsBlobStore, SqliteMetadataStore};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicI64, Ordering};

pub(crate) struct TestClock(pub(crate) AtomicI64);
impl Clock for TestClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) root: std::path::PathBuf,
    pub(crate) clock: Arc<TestClock>,
    pub(crate) reg: Registry,
}

/// The fixture's server key: the same for every registry a test opens on
/// one root (a restart), as a data dir's is.
const SERVER_KEY: [u8; 32] = [7; 32];

pub(crate) async fn registry_at(root: &std::path::Path, clock: Arc<TestClock>) -> Registry {
    let server_key = berth_iam::ServerKey::from_bytes(&SERVER_KEY).unwrap();
    // Sealed at rest, as `berth serve` stores them.
    let keys = Arc::new(berth_store::sealed::Keyring::from_roots(
        &crate::roots::roots_of(&server_key),
    ));
    let blobs = Arc::new(
        FsBlobStore::open(root.join("blobs"))
            .await
            .unwrap()
            .sealing(keys.clone()),
    );
    let meta = Arc::new(
        SqliteMetadataStore::open(&root.join("meta.db"))
            .await
            .unwrap(),
    );
    let archive = Arc::new(
        FsBlobStore::open(root.join("archive"))
            .await
            .unwrap()
            .sealing(keys),
    );
    // Domain tests push to many names; creation is tested on its own.
    Registry::new(
        blobs,
        meta,
        clock,
        RegistryConfig {
            create_on_push: true,
            server_key,
            ..RegistryConfig::default()
        },
    )
    .with_archive_store(archive)
}

pub(crate) async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let clock = Arc::new(TestClock(AtomicI64::new(1_000_000)));
    let reg = registry_at(&root, clock.clone()).await;
    Fixture {
        _dir: dir,
        root,
        clock,
        reg,
    }
}

pub(crate) fn repo(name: &str) -> Repo {
    Repo {
        registry: berth_store::RegistryKey {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
        },
        name: berth_oci::RepositoryName::parse(name).unwrap(),
    }
}

pub(crate) fn body(parts: &[&[u8]]) -> ByteStream {
    let owned: Vec<std::io::Result<Bytes>> = parts
        .iter()
        .map(|p| Ok(Bytes::copy_from_slice(p)))
        .collect();
    futures_util::stream::iter(owned).boxed()
}

/// The digest of `b`, noting its size for the manifests the tests build
/// (a descriptor must declare the size of the content it names).
pub(crate) fn sha(b: &[u8]) -> Digest {
    let d = Digest::of_bytes(Algorithm::Sha256, b);
    sizes().lock().insert(d.clone(), b.len() as u64);
    d
}

fn sizes() -> &'static parking_lot::Mutex<std::collections::HashMap<Digest, u64>> {
    static SIZES: std::sync::OnceLock<parking_lot::Mutex<std::collections::HashMap<Digest, u64>>> =
        std::sync::OnceLock::new();
    SIZES.get_or_init(Default::default)
}

/// The size of content whose digest `sha` (or a manifest builder here)
/// made; 1 for digests of content never made.
pub(crate) fn size_of(d: &Digest) -> u64 {
    sizes().lock().get(d).copied().unwrap_or(1)
}

pub(crate) async fn read_all(reg: &Registry, r: &Repo, d: &Digest) -> Vec<u8> {
    let mut read = reg.read_blob(r, d, None).await.unwrap();
    let mut out = Vec::new();
    while let Some(c) = read.stream.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    assert_eq!(read.size as usize, out.len());
    out
}

pub(crate) fn image_manifest(config: &Digest, layers: &[&Digest]) -> Bytes {
    let layers: Vec<String> = layers
        .iter()
        .map(|d| format!(r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{d}","size":{}}}"#, size_of(d)))
        .collect();
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{}}},"layers":[{}]}}"#,
        size_of(config),
        layers.join(",")
    );
    sha(body.as_bytes());
    Bytes::from(body)
}

pub(crate) fn tag(t: &str) -> Reference {
    Reference::parse(t).unwrap()
}

pub(crate) async fn b_is_unknown(reg: &Registry, r: &Repo, d: &Digest) {
    match reg.stat_blob(r, d).await {
        Err(Error::NameUnknown(_)) | Err(Error::BlobUnknown(_)) => {}
        other => panic!("expected unknown, got {:?}", other.map(|i| i.size)),
    }
}

/// Pushes a one-layer image (config and layer derived from `seed`) under `tag`.
pub(crate) async fn push_image(
    reg: &Registry,
    r: &Repo,
    seed: &str,
    tag_name: Option<&str>,
) -> (Digest, Vec<Digest>) {
    let config = format!("config {seed}");
    let layer = format!("layer {seed}");
    let (c, l) = (sha(config.as_bytes()), sha(layer.as_bytes()));
    reg.upload_blob(r, &c, body(&[config.as_bytes()]))
        .await
        .unwrap();
    reg.upload_blob(r, &l, body(&[layer.as_bytes()]))
        .await
        .unwrap();
    let m = image_manifest(&c, &[&l]);
    let reference = match tag_name {
        Some(t) => tag(t),
        None => Reference::Digest(sha(&m)),
    };
    let put = reg.put_manifest(r, &reference, None, m).await.unwrap();
    (put.digest, vec![c, l])
}

pub(crate) fn gc_now(grace_secs: u64) -> GcOptions {
    GcOptions {
        dry_run: false,
        grace: std::time::Duration::from_secs(grace_secs),
    }
}

pub(crate) async fn gc(reg: &Arc<Registry>, options: GcOptions) -> GcSnapshot {
    let run = reg.start_gc(options).ok().expect("no run in progress");
    while !run.is_finished() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let s = run.snapshot();
    assert_eq!(s.error, None);
    s
}
