//! The server key: 32 random bytes, generated on first start into the data
//! dir (or supplied), shared by every node of a deployment. Secrets at rest
//! (access-key secrets) are sealed with it, and login tokens are signed with
//! a key derived from it, so tokens survive restarts and work on any node.

use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, KeyInit as HmacKeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("a server key is {KEY_LEN} bytes, not {0}")]
    Length(usize),
    #[error("sealed data is damaged or was sealed under another server key")]
    Unseal,
}

#[derive(Clone)]
pub struct ServerKey {
    fingerprint: String,
    seal: ChaCha20Poly1305,
    session: ChaCha20Poly1305,
    token_mac: Hmac<Sha256>,
    download_mac: Hmac<Sha256>,
    /// What this key yields as a root of encryption at rest (generation 1's
    /// root; later server-key generations derive from it).
    kek_base: [u8; 32],
    /// The root generations the deployment holds (ARCHITECTURE.md, "Root
    /// rotation") and the current one: by default only generation 1, the
    /// server key's own.
    kek_current: u32,
    kek_roots: std::collections::BTreeMap<u32, [u8; 32]>,
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

/// Separate keys per purpose, so that a token MAC can never be confused
/// with a sealed secret.
fn derive(master: &[u8], purpose: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as HmacKeyInit>::new_from_slice(master).expect("HMAC takes any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

impl ServerKey {
    pub fn generate() -> [u8; KEY_LEN] {
        let mut k = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut k);
        k
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<ServerKey, KeyError> {
        if bytes.len() != KEY_LEN {
            return Err(KeyError::Length(bytes.len()));
        }
        let seal_key = derive(bytes, b"berth seal v1");
        let token_key = derive(bytes, b"berth token v1");
        let download_key = derive(bytes, b"berth download url v1");
        let session_key = derive(bytes, b"berth session v1");
        Ok(ServerKey {
            fingerprint: hex::encode(&derive(bytes, b"berth fingerprint v1")[..16]),
            seal: ChaCha20Poly1305::new((&seal_key).into()),
            session: ChaCha20Poly1305::new((&session_key).into()),
            token_mac: <Hmac<Sha256> as HmacKeyInit>::new_from_slice(&token_key)
                .expect("HMAC takes any key length"),
            download_mac: <Hmac<Sha256> as HmacKeyInit>::new_from_slice(&download_key)
                .expect("HMAC takes any key length"),
            kek_base: derive(bytes, b"berth kek root v1"),
            kek_current: 1,
            kek_roots: [(1, derive(bytes, b"berth kek root v1"))].into(),
        })
    }

    /// Names the key without revealing it (an HMAC of a fixed label): the
    /// nodes of a deployment compare it to find one started with another
    /// key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Encrypts and authenticates `plain`: base64 of nonce ‖ ciphertext.
    pub fn seal(&self, plain: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .seal
            .encrypt(Nonce::from_slice(&nonce), plain)
            .expect("ChaCha20-Poly1305 encryption does not fail for in-memory data");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        B64.encode(out)
    }

    pub fn unseal(&self, sealed: &str) -> Result<Vec<u8>, KeyError> {
        let raw = B64.decode(sealed).map_err(|_| KeyError::Unseal)?;
        if raw.len() < 12 {
            return Err(KeyError::Unseal);
        }
        let (nonce, ct) = raw.split_at(12);
        self.seal
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| KeyError::Unseal)
    }

    /// Encrypts and authenticates a session's claims, bound to `aad` (its
    /// access key id): nonce ‖ ciphertext, under the session key only.
    pub(crate) fn seal_session(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .session
            .encrypt(
                Nonce::from_slice(&nonce),
                chacha20poly1305::aead::Payload { msg: plain, aad },
            )
            .expect("ChaCha20-Poly1305 encryption does not fail for in-memory data");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    pub(crate) fn open_session(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        if sealed.len() < 12 {
            return Err(KeyError::Unseal);
        }
        let (nonce, ct) = sealed.split_at(12);
        self.session
            .decrypt(
                Nonce::from_slice(nonce),
                chacha20poly1305::aead::Payload { msg: ct, aad },
            )
            .map_err(|_| KeyError::Unseal)
    }

    /// The roots of encryption at rest's key hierarchy by generation, and
    /// the current generation: the key-encryption keys of the key domains
    /// derive from them (`berth_store::sealed::Roots`). Without an external
    /// KMS or a rotation, generation 1 is the server key's own root, which
    /// every node derives alike.
    pub fn kek_roots(&self) -> (u32, &std::collections::BTreeMap<u32, [u8; 32]>) {
        (self.kek_current, &self.kek_roots)
    }

    /// The root this server key yields for `generation` when that
    /// generation's source is the server key: generation 1's is the key's
    /// own root (what every deployment started with), a later one's is
    /// derived from it and the generation, so a rotation onto the same
    /// server key still re-wraps every data key under new KEKs.
    pub fn server_kek_root(&self, generation: u32) -> [u8; 32] {
        match generation {
            1 => self.kek_base,
            g => derive(
                &self.kek_base,
                format!("berth kek root generation {g}").as_bytes(),
            ),
        }
    }

    /// The same key with the deployment's root generations (some kept
    /// outside berth, unwrapped by an external KMS at start): blobs,
    /// manifests and KMS materials are then sealed under roots that the
    /// server key alone may not yield. Tokens and secrets keep theirs.
    pub fn with_kek_roots(
        mut self,
        current: u32,
        roots: std::collections::BTreeMap<u32, [u8; 32]>,
    ) -> ServerKey {
        assert!(roots.contains_key(&current), "the current root is held");
        self.kek_current = current;
        self.kek_roots = roots;
        self
    }

    /// The secret berth signs a download URL with on behalf of the access
    /// key `access_key_id` (the URL names that key, so using it checks that
    /// the key is still active and allowed): the server's, never the
    /// caller's, as AWS signs ECR's layer URLs with its own credentials.
    /// Every node derives the same one.
    pub fn download_url_secret(&self, access_key_id: &str) -> String {
        let mut mac = self.download_mac.clone();
        mac.update(access_key_id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub(crate) fn token_mac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.token_mac.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    pub(crate) fn token_mac_matches(&self, data: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.token_mac.clone();
        mac.update(data);
        mac.verify_slice(tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_url_secrets_are_per_key_and_per_server() {
        let k = ServerKey::from_bytes(&[7; KEY_LEN]).unwrap();
        let same = ServerKey::from_bytes(&[7; KEY_LEN]).unwrap();
        let other = ServerKey::from_bytes(&[8; KEY_LEN]).unwrap();
        let a = k.download_url_secret("AKIAONE");
        assert_eq!(a, same.download_url_secret("AKIAONE"), "every node agrees");
        assert_ne!(a, k.download_url_secret("AKIATWO"));
        assert_ne!(a, other.download_url_secret("AKIAONE"));
    }

    #[test]
    fn the_kek_root_is_per_server_key_and_apart_from_other_purposes() {
        let k = ServerKey::from_bytes(&[7; KEY_LEN]).unwrap();
        let same = ServerKey::from_bytes(&[7; KEY_LEN]).unwrap();
        let other = ServerKey::from_bytes(&[8; KEY_LEN]).unwrap();
        assert_eq!(k.server_kek_root(1), same.server_kek_root(1));
        assert_ne!(k.server_kek_root(1), other.server_kek_root(1));
        assert_ne!(k.server_kek_root(1)[..], k.token_mac(b"")[..]);
        assert_eq!(k.kek_roots(), (1, &[(1, k.server_kek_root(1))].into()));
        // A later server-key generation has a root of its own, still the
        // same on every node.
        assert_ne!(k.server_kek_root(2), k.server_kek_root(1));
        assert_eq!(k.server_kek_root(2), same.server_kek_root(2));
    }

    #[test]
    fn sealed_secrets_open_only_under_their_key() {
        let k = ServerKey::from_bytes(&ServerKey::generate()).unwrap();
        let sealed = k.seal(b"wJalrXUtnFEMI/K7MDENG");
        assert!(!sealed.contains("wJalr"));
        assert_eq!(k.unseal(&sealed).unwrap(), b"wJalrXUtnFEMI/K7MDENG");
        let other = ServerKey::from_bytes(&ServerKey::generate()).unwrap();
        assert_eq!(other.unseal(&sealed), Err(KeyError::Unseal));
        let mut tampered = sealed.clone().into_bytes();
        tampered[20] ^= 1;
        assert!(k
            .unseal(std::str::from_utf8(&tampered).unwrap_or("x"))
            .is_err());
        assert_eq!(
            ServerKey::from_bytes(&[0; 5]).err(),
            Some(KeyError::Length(5))
        );
    }
}
