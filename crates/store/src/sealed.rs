//! The sealed-blob format: a blob's bytes under AES-256-GCM in segments,
//! so that a Range read decrypts only the segments it needs and memory
//! stays bounded whatever the blob's size (ARCHITECTURE.md, "Encryption at
//! rest"). Pure: bytes in, bytes out; where keys come from and where the
//! bytes go is for the callers.
//!
//! Layout: a 32-byte header (`BRTHSEAL`, version, segment size, plaintext
//! length), then ⌈len / S⌉ segments (one empty segment for an empty blob),
//! each ciphertext ‖ 16-byte tag. Segment i's nonce is `0,0,0 ‖ last ‖
//! i (u64 BE)` (the STREAM construction: no reordering, no truncation),
//! and every segment's associated data is `berth blob v1 ‖ header ‖
//! digest`, so neither the header nor a segment can be altered or moved to
//! another blob. Each data key seals exactly one blob, which is what makes
//! the counter nonces unique. Data keys are wrapped by their key domain's
//! KEK (`Kek`), bound to the domain and digest they were made for.

use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use std::ops::Range;

pub const HEADER_LEN: u64 = 32;
pub const TAG_LEN: u64 = 16;
/// Plaintext bytes per segment unless a caller picks another size.
pub const DEFAULT_SEGMENT: u32 = 64 * 1024;
/// The largest segment a header may claim: a reader holds one segment, so a
/// damaged or hostile header must not make it allocate more.
pub const MAX_SEGMENT: u32 = 1 << 20;
/// The largest plaintext a header may claim (far beyond any blob; it keeps
/// the sealed size's arithmetic from overflowing).
const MAX_LEN: u64 = 1 << 56;
const MAGIC: &[u8; 8] = b"BRTHSEAL";
const VERSION: u16 = 1;
const AAD_LABEL: &[u8] = b"berth blob v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("not a sealed blob, or its header is damaged")]
    Header,
    #[error("sealed blob {digest}: segment {segment} fails authentication (damaged, truncated, reordered or from another blob)")]
    Tampered { digest: String, segment: u64 },
    #[error("sealed blob: {given} bytes given where the header promised {promised}")]
    Length { given: u64, promised: u64 },
    #[error("range {start}..{end} is outside a {len}-byte blob")]
    Range { start: u64, end: u64, len: u64 },
}

/// A blob's data key: 256 random bits, used for one blob only.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    pub fn generate() -> DataKey {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        DataKey(k)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte AES-256 key"))
    }
}

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub segment: u32,
    pub len: u64,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut h = [0u8; HEADER_LEN as usize];
        h[..8].copy_from_slice(MAGIC);
        h[8..10].copy_from_slice(&VERSION.to_be_bytes());
        h[10..14].copy_from_slice(&self.segment.to_be_bytes());
        h[14..22].copy_from_slice(&self.len.to_be_bytes());
        h
    }

    pub fn decode(bytes: &[u8]) -> Result<Header, SealError> {
        if bytes.len() < HEADER_LEN as usize
            || &bytes[..8] != MAGIC
            || bytes[8..10] != VERSION.to_be_bytes()
            || bytes[22..32].iter().any(|&b| b != 0)
        {
            return Err(SealError::Header);
        }
        let segment = u32::from_be_bytes(bytes[10..14].try_into().expect("4 bytes"));
        let len = u64::from_be_bytes(bytes[14..22].try_into().expect("8 bytes"));
        if segment == 0 || segment > MAX_SEGMENT || len > MAX_LEN {
            return Err(SealError::Header);
        }
        Ok(Header { segment, len })
    }

    /// How many segments the blob has (an empty blob has one, empty).
    pub fn segments(&self) -> u64 {
        self.len.div_ceil(self.segment as u64).max(1)
    }

    /// The sealed size of the whole blob.
    pub fn sealed_len(&self) -> u64 {
        HEADER_LEN + self.len + self.segments() * TAG_LEN
    }

    /// Where segment `i` lies in the sealed bytes.
    pub fn segment_range(&self, i: u64) -> Range<u64> {
        let s = self.segment as u64;
        let start = HEADER_LEN + i * (s + TAG_LEN);
        let plain = if i + 1 == self.segments() {
            self.len - i * s
        } else {
            s
        };
        start..start + plain + TAG_LEN
    }

    /// The segments a plaintext range needs, and the sealed bytes they
    /// occupy. `range` must lie within the blob and not be empty.
    pub fn covering(&self, range: &Range<u64>) -> Result<(Range<u64>, Range<u64>), SealError> {
        if range.start >= range.end || range.end > self.len {
            return Err(SealError::Range {
                start: range.start,
                end: range.end,
                len: self.len,
            });
        }
        let s = self.segment as u64;
        let segs = range.start / s..(range.end - 1) / s + 1;
        let bytes = self.segment_range(segs.start).start..self.segment_range(segs.end - 1).end;
        Ok((segs, bytes))
    }
}

fn nonce(i: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[3] = last as u8;
    n[4..].copy_from_slice(&i.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aad(header: &[u8; HEADER_LEN as usize], digest: &str) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_LABEL.len() + header.len() + digest.len());
    a.extend_from_slice(AAD_LABEL);
    a.extend_from_slice(header);
    a.extend_from_slice(digest.as_bytes());
    a
}

/// Seals a blob whose length is known, as its bytes stream in: `push`
/// emits whole segments, `finish` the last one. Memory: one segment.
pub struct Sealer {
    key: LessSafeKey,
    header: Header,
    aad: Vec<u8>,
    digest: String,
    buf: Vec<u8>,
    index: u64,
    taken: u64,
}

impl Sealer {
    /// A sealer for `len` bytes of the blob `digest`; the header to write
    /// first is in `out`.
    pub fn new(key: &DataKey, digest: &str, len: u64, segment: u32, out: &mut Vec<u8>) -> Sealer {
        assert!(
            (1..=MAX_SEGMENT).contains(&segment) && len <= MAX_LEN,
            "segment size {segment} or length {len} out of the format's bounds"
        );
        let header = Header { segment, len };
        let encoded = header.encode();
        out.extend_from_slice(&encoded);
        Sealer {
            key: key.aead(),
            header,
            aad: aad(&encoded, digest),
            digest: digest.to_string(),
            buf: Vec::with_capacity(segment as usize + TAG_LEN as usize),
            index: 0,
            taken: 0,
        }
    }

    /// Takes plaintext; appends every segment it completes to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), SealError> {
        self.taken += data.len() as u64;
        if self.taken > self.header.len {
            return Err(SealError::Length {
                given: self.taken,
                promised: self.header.len,
            });
        }
        let s = self.header.segment as usize;
        while !data.is_empty() {
            let room = s - self.buf.len();
            let n = room.min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            // A full segment is sealed now unless it is the blob's last
            // (that one carries the last flag, in `finish`).
            let before_last = self.index + 1 < self.header.segments();
            if self.buf.len() == s && before_last {
                self.seal_segment(false, out);
            }
        }
        Ok(())
    }

    /// Seals the last segment; fails if fewer bytes came than promised.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), SealError> {
        if self.taken != self.header.len {
            return Err(SealError::Length {
                given: self.taken,
                promised: self.header.len,
            });
        }
        self.seal_segment(true, out);
        debug_assert_eq!(self.index, self.header.segments(), "{}", self.digest);
        Ok(())
    }

    fn seal_segment(&mut self, last: bool, out: &mut Vec<u8>) {
        let tag = self
            .key
            .seal_in_place_separate_tag(
                nonce(self.index, last),
                Aad::from(&self.aad),
                &mut self.buf,
            )
            .expect("AES-GCM sealing of at most 4 GiB does not fail");
        out.extend_from_slice(&self.buf);
        out.extend_from_slice(tag.as_ref());
        self.buf.clear();
        self.index += 1;
    }
}

/// Opens segments of one sealed blob.
pub struct Opener {
    key: LessSafeKey,
    header: Header,
    aad: Vec<u8>,
    digest: String,
}

impl Opener {
    /// From the blob's first `HEADER_LEN` bytes.
    pub fn new(key: &DataKey, digest: &str, header: &[u8]) -> Result<Opener, SealError> {
        let parsed = Header::decode(header)?;
        Ok(Opener {
            key: key.aead(),
            aad: aad(&parsed.encode(), digest),
            header: parsed,
            digest: digest.to_string(),
        })
    }

    pub fn header(&self) -> Header {
        self.header
    }

    /// Opens segment `i` (its sealed bytes, tag included) in place; the
    /// plaintext is the returned slice. Nothing unverified is returned.
    pub fn open_segment<'a>(&self, i: u64, sealed: &'a mut [u8]) -> Result<&'a [u8], SealError> {
        let last = i + 1 == self.header.segments();
        let expected = self.header.segment_range(i);
        if i >= self.header.segments() || sealed.len() as u64 != expected.end - expected.start {
            return Err(self.tampered(i));
        }
        self.key
            .open_in_place(nonce(i, last), Aad::from(&self.aad), sealed)
            .map(|p| &*p)
            .map_err(|_| self.tampered(i))
    }

    /// The plaintext `range`, reading sealed bytes with `fetch` (given a
    /// sealed byte range, it returns exactly those bytes).
    pub fn read_range(
        &self,
        range: Range<u64>,
        mut fetch: impl FnMut(Range<u64>) -> Vec<u8>,
    ) -> Result<Vec<u8>, SealError> {
        let (segs, bytes) = self.header.covering(&range)?;
        let mut sealed = fetch(bytes.clone());
        if sealed.len() as u64 != bytes.end - bytes.start {
            return Err(self.tampered(segs.start));
        }
        let s = self.header.segment as u64;
        let mut out = Vec::with_capacity((range.end - range.start) as usize);
        let mut at = 0usize;
        for i in segs {
            let r = self.header.segment_range(i);
            let n = (r.end - r.start) as usize;
            let plain = self.open_segment(i, &mut sealed[at..at + n])?;
            at += n;
            let seg_start = i * s;
            let from = range.start.max(seg_start) - seg_start;
            let to = range.end.min(seg_start + plain.len() as u64) - seg_start;
            out.extend_from_slice(&plain[from as usize..to as usize]);
        }
        Ok(out)
    }

    fn tampered(&self, segment: u64) -> SealError {
        SealError::Tampered {
            digest: self.digest.clone(),
            segment,
        }
    }
}

/// A key-encryption key of one key domain (ARCHITECTURE.md, "Key
/// hierarchy"): it wraps the data keys of the blobs in that domain.
#[derive(Clone)]
pub struct Kek([u8; 32]);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

const WRAP_LABEL: &[u8] = b"berth dek v1";
/// A wrapped data key: nonce (12) ‖ ciphertext (32) ‖ tag (16).
pub const WRAPPED_LEN: usize = 12 + 32 + 16;

impl Kek {
    pub fn from_bytes(bytes: [u8; 32]) -> Kek {
        Kek(bytes)
    }

    /// A KEK derived from a root (the server key's KEK root) for `label`
    /// (`aes256` for the registry's AES256 domain, `aes256#2` after a
    /// rotation): HMAC-SHA256(root, "berth kek v1 ‖ label").
    pub fn derive(root: &[u8; 32], label: &str) -> Kek {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, root);
        let mut ctx = ring::hmac::Context::with_key(&key);
        ctx.update(b"berth kek v1\0");
        ctx.update(label.as_bytes());
        let tag = ctx.sign();
        Kek(tag.as_ref().try_into().expect("HMAC-SHA256 is 32 bytes"))
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte AES-256 key"))
    }

    fn aad(domain: &str, digest: &str) -> Vec<u8> {
        let mut a = Vec::with_capacity(WRAP_LABEL.len() + domain.len() + digest.len() + 2);
        a.extend_from_slice(WRAP_LABEL);
        a.push(0);
        a.extend_from_slice(domain.as_bytes());
        a.push(0);
        a.extend_from_slice(digest.as_bytes());
        a
    }

    /// `dek` wrapped for the blob `digest` of `domain`: it unwraps only
    /// under this KEK for that very (domain, digest). The nonce is random
    /// (a KEK wraps many keys; 2^32 wraps per KEK keep collisions
    /// negligible, and rotation starts a new KEK long before).
    pub fn wrap(&self, domain: &str, digest: &str, dek: &DataKey) -> Vec<u8> {
        let mut n = [0u8; 12];
        rand::rng().fill_bytes(&mut n);
        let mut buf = dek.0.to_vec();
        let tag = self
            .aead()
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(n),
                Aad::from(Kek::aad(domain, digest)),
                &mut buf,
            )
            .expect("AES-GCM sealing of 32 bytes does not fail");
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.extend_from_slice(&n);
        out.extend_from_slice(&buf);
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// The data key `wrap` gave, if `wrapped` is whole and was made for
    /// this (domain, digest) under this KEK.
    pub fn unwrap(&self, domain: &str, digest: &str, wrapped: &[u8]) -> Result<DataKey, SealError> {
        let refused = || SealError::Tampered {
            digest: digest.to_string(),
            segment: 0,
        };
        if wrapped.len() != WRAPPED_LEN {
            return Err(refused());
        }
        let nonce: [u8; 12] = wrapped[..12].try_into().expect("12 bytes");
        let mut buf = wrapped[12..].to_vec();
        let plain = self
            .aead()
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(Kek::aad(domain, digest)),
                &mut buf,
            )
            .map_err(|_| refused())?;
        Ok(DataKey(plain.try_into().map_err(|_| refused())?))
    }
}

/// Seals a whole blob in memory (tests, manifests).
pub fn seal(key: &DataKey, digest: &str, plain: &[u8], segment: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut s = Sealer::new(key, digest, plain.len() as u64, segment, &mut out);
    s.push(plain, &mut out)
        .expect("exactly the promised length");
    s.finish(&mut out).expect("exactly the promised length");
    out
}

/// Opens a whole sealed blob in memory.
pub fn open(key: &DataKey, digest: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    let o = Opener::new(
        key,
        digest,
        sealed.get(..HEADER_LEN as usize).ok_or(SealError::Header)?,
    )?;
    let h = o.header();
    if sealed.len() as u64 != h.sealed_len() {
        return Err(SealError::Tampered {
            digest: digest.to_string(),
            segment: h.segments() - 1,
        });
    }
    if h.len == 0 {
        let mut last = sealed[HEADER_LEN as usize..].to_vec();
        o.open_segment(0, &mut last)?;
        return Ok(Vec::new());
    }
    o.read_range(0..h.len, |r| {
        sealed[r.start as usize..r.end as usize].to_vec()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0d5f0e7e3c7e4b8e";

    fn plain(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn every_length_round_trips_and_is_sized_as_promised() {
        let k = DataKey::generate();
        for n in [0usize, 1, 15, 16, 17, 31, 32, 33, 100] {
            let p = plain(n);
            let s = seal(&k, D, &p, 16);
            let h = Header::decode(&s).unwrap();
            assert_eq!(s.len() as u64, h.sealed_len(), "{n}");
            assert_eq!(open(&k, D, &s).unwrap(), p, "{n}");
        }
        let big = plain(300_000);
        let s = seal(&k, D, &big, DEFAULT_SEGMENT);
        assert_eq!(open(&k, D, &s).unwrap(), big);
        assert_eq!(s.len(), 32 + 300_000 + 5 * 16);
    }

    #[test]
    fn every_range_decrypts_only_its_segments_and_returns_exactly_its_bytes() {
        let k = DataKey::generate();
        let p = plain(70);
        let s = seal(&k, D, &p, 16);
        let o = Opener::new(&k, D, &s[..32]).unwrap();
        for a in 0..70u64 {
            for b in a + 1..=70 {
                let mut asked = None;
                let got = o
                    .read_range(a..b, |r| {
                        asked = Some(r.clone());
                        s[r.start as usize..r.end as usize].to_vec()
                    })
                    .unwrap();
                assert_eq!(got, &p[a as usize..b as usize], "{a}..{b}");
                let r = asked.unwrap();
                let segs = (r.end - r.start).div_ceil(32);
                assert!(segs <= (b - 1) / 16 - a / 16 + 1, "{a}..{b} read {r:?}");
            }
        }
        assert!(matches!(
            o.read_range(10..71, |_| Vec::new()),
            Err(SealError::Range { .. })
        ));
    }

    #[test]
    fn a_flipped_bit_anywhere_is_detected() {
        let k = DataKey::generate();
        let s = seal(&k, D, &plain(40), 16);
        for i in 0..s.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = s.clone();
                t[i] ^= bit;
                assert!(
                    open(&k, D, &t).is_err(),
                    "byte {i} bit {bit:#x} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn truncation_reordering_and_swapping_are_detected() {
        let k = DataKey::generate();
        let p = plain(48);
        let s = seal(&k, D, &p, 16);
        // Drop the last segment, and also shorten the header's length to
        // match: the new last segment lacks the last flag.
        let mut short = s[..32 + 2 * 32].to_vec();
        short[..32].copy_from_slice(
            &Header {
                segment: 16,
                len: 32,
            }
            .encode(),
        );
        assert!(open(&k, D, &short).is_err());
        assert!(open(&k, D, &s[..s.len() - 1]).is_err());
        // Two segments swapped.
        let mut swapped = s.clone();
        let (a, b) = (32..64, 64..96);
        let first = s[a.clone()].to_vec();
        swapped[a].copy_from_slice(&s[b.clone()]);
        swapped[b].copy_from_slice(&first);
        assert!(open(&k, D, &swapped).is_err());
        // The same bytes presented as another blob, or under another key.
        assert!(open(&k, "sha256:another", &s).is_err());
        assert!(open(&DataKey::generate(), D, &s).is_err());
        // A header that is not ours.
        assert_eq!(
            open(&k, D, b"plain text, not sealed at all, no").unwrap_err(),
            SealError::Header
        );
    }

    #[test]
    fn sealed_bytes_do_not_contain_the_plaintext() {
        let k = DataKey::generate();
        let marker = b"BERTH-SECRET-MARKER-0123456789";
        let mut p = plain(200_000);
        p[100_000..100_000 + marker.len()].copy_from_slice(marker);
        let s = seal(&k, D, &p, DEFAULT_SEGMENT);
        assert!(!s.windows(marker.len()).any(|w| w == marker));
    }

    #[test]
    fn data_keys_unwrap_only_under_their_kek_for_their_domain_and_digest() {
        let root = [9u8; 32];
        let kek = Kek::derive(&root, "aes256");
        let dek = DataKey::generate();
        let w = kek.wrap("aes256", D, &dek);
        assert_eq!(w.len(), WRAPPED_LEN);
        assert_ne!(w, kek.wrap("aes256", D, &dek), "random nonces");
        assert_eq!(
            kek.unwrap("aes256", D, &w).unwrap().as_bytes(),
            dek.as_bytes()
        );
        // Another domain, another digest, another KEK (a rotation, another
        // root), a flipped bit, a short blob: refused.
        assert!(kek.unwrap("kms:1234", D, &w).is_err());
        assert!(kek.unwrap("aes256", "sha256:other", &w).is_err());
        assert!(Kek::derive(&root, "aes256#2")
            .unwrap("aes256", D, &w)
            .is_err());
        assert!(Kek::derive(&[8u8; 32], "aes256")
            .unwrap("aes256", D, &w)
            .is_err());
        for i in 0..w.len() {
            let mut t = w.clone();
            t[i] ^= 1;
            assert!(kek.unwrap("aes256", D, &t).is_err(), "byte {i}");
        }
        assert!(kek.unwrap("aes256", D, &w[..40]).is_err());
        // Derivation is deterministic: every node derives the same KEK.
        let again = Kek::derive(&root, "aes256");
        assert_eq!(
            again.unwrap("aes256", D, &w).unwrap().as_bytes(),
            dek.as_bytes()
        );
    }

    #[test]
    fn the_sealer_refuses_more_or_fewer_bytes_than_promised() {
        let k = DataKey::generate();
        let mut out = Vec::new();
        let mut s = Sealer::new(&k, D, 10, 16, &mut out);
        assert!(s.push(&[0; 11], &mut out).is_err());
        let mut out = Vec::new();
        let mut s = Sealer::new(&k, D, 10, 16, &mut out);
        s.push(&[0; 9], &mut out).unwrap();
        assert!(s.finish(&mut out).is_err());
    }
}
