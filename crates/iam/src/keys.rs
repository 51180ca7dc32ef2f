//! New access keys, shaped like AWS's so that tools which check the shape
//! accept them: an id of `AKIA` + 16 uppercase letters and digits, a
//! secret of 40 characters of base64's alphabet.

use rand::Rng;

const ID_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random(chars: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| chars[rng.random_range(0..chars.len())] as char)
        .collect()
}

pub fn new_access_key_id() -> String {
    format!("AKIA{}", random(ID_CHARS, 16))
}

/// A managed policy's `PolicyId`: `ANPA` + 17 characters, as AWS's.
pub fn new_policy_id() -> String {
    format!("ANPA{}", random(ID_CHARS, 17))
}

pub fn new_secret_access_key() -> String {
    random(SECRET_CHARS, 40)
}

/// Whether `id` could be an access key id (what AWS accepts: 16–128 word characters).
pub fn valid_access_key_id(id: &str) -> bool {
    (16..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_look_like_aws_keys() {
        let id = new_access_key_id();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("AKIA") && valid_access_key_id(&id));
        assert_eq!(new_secret_access_key().len(), 40);
        assert_ne!(new_secret_access_key(), new_secret_access_key());
        assert!(!valid_access_key_id("short"));
    }
}
