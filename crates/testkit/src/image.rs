//! Generated images: deterministic from a seed, incompressible content so
//! that layers have real sizes.

use berth_oci::{Algorithm, Digest};
use rand::{RngCore, SeedableRng};
use std::io::Write;
use std::path::Path;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

pub fn sha256(bytes: &[u8]) -> String {
    Digest::of_bytes(Algorithm::Sha256, bytes).to_string()
}

pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

/// An uncompressed tar of `files` files of `file_size` random bytes each.
pub fn rootfs_tar(seed: u64, files: usize, file_size: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    b.append_data(&mut dir, "data/", std::io::empty()).unwrap();
    for i in 0..files {
        let content = random_bytes(seed.wrapping_mul(1000).wrapping_add(i as u64), file_size);
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(content.len() as u64);
        b.append_data(
            &mut h,
            format!("data/file-{seed}-{i}.bin"),
            content.as_slice(),
        )
        .unwrap();
    }
    b.into_inner().unwrap()
}

pub struct Layer {
    /// The gzip-compressed tar, as stored in the registry.
    pub bytes: Vec<u8>,
    pub digest: String,
    /// Digest of the uncompressed tar (the config's `diff_ids`).
    pub diff_id: String,
}

pub fn layer(seed: u64, files: usize, file_size: usize) -> Layer {
    let tar = rootfs_tar(seed, files, file_size);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let bytes = gz.finish().unwrap();
    Layer {
        digest: sha256(&bytes),
        diff_id: sha256(&tar),
        bytes,
    }
}

pub struct Image {
    pub layers: Vec<Layer>,
    pub config: Vec<u8>,
    pub config_digest: String,
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
}

/// An OCI image of `layers` layers, each holding `files` files of `file_size` bytes.
pub fn oci_image(seed: u64, layers: usize, files: usize, file_size: usize) -> Image {
    let layers: Vec<Layer> = (0..layers)
        .map(|i| layer(seed * 100 + i as u64, files, file_size))
        .collect();
    image_of(seed, layers)
}

/// A layer whose gzip stream stores `tar` uncompressed (deflate's stored
/// blocks): the tar's bytes appear as they are in the blob, so a test can
/// look for them where the blob is kept.
pub fn stored_layer(tar: &[u8]) -> Layer {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    gz.write_all(tar).unwrap();
    let bytes = gz.finish().unwrap();
    Layer {
        digest: sha256(&bytes),
        diff_id: sha256(tar),
        bytes,
    }
}

/// A tar holding one file, `name`, with `content`.
pub fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(content.len() as u64);
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

/// An OCI image of `layers` (its config labelled with `seed`).
pub fn image_of(seed: u64, layers: Vec<Layer>) -> Image {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Cmd": ["/bin/true"], "Labels": { "berth.test.seed": seed.to_string() } },
        "rootfs": { "type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>() },
        "history": layers.iter().map(|_| serde_json::json!({ "created_by": "berth-testkit" })).collect::<Vec<_>>(),
    }))
    .unwrap();
    let config_digest = sha256(&config);
    let manifest = serde_json::to_vec_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len() },
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": OCI_LAYER_GZIP, "digest": l.digest, "size": l.bytes.len()
        })).collect::<Vec<_>>(),
    }))
    .unwrap();
    Image {
        manifest_digest: sha256(&manifest),
        manifest,
        config,
        config_digest,
        layers,
    }
}

/// Writes `image` as an OCI image layout at `dir`, tagged `tag`.
pub fn write_oci_layout(dir: &Path, image: &Image, tag: &str) {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |digest: &str, bytes: &[u8]| {
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), bytes).unwrap()
    };
    for l in &image.layers {
        put(&l.digest, &l.bytes);
    }
    put(&image.config_digest, &image.config);
    put(&image.manifest_digest, &image.manifest);
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": image.manifest_digest,
            "size": image.manifest.len(),
            "annotations": { "org.opencontainers.image.ref.name": tag }
        }]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}
