//! The sealed-blob format: a blob's bytes under AES-256-GCM in segments,
//! so that a Range read decrypts only the segments it needs and memory
//! stays bounded whatever the blob's size (ARCHITECTURE.md, "Encryption at
//! rest"). Pure: bytes in, bytes out; where the bytes go is for the stores.
//!
//! A sealed object is self-contained: a 96-byte header carries its data
//! key wrapped by a key-encryption key (KEK), so a read needs no metadata
//! lookup and a blob file stays one atomic rename.
//!
//! ```text
//! header   0..8   "BRTHSEAL"
//!          8..10  format version (1)
//!         10..14  segment size S (plaintext bytes per segment)
//!         14      state: 0 an upload (data key wrapped for its upload id),
//!                 1 a blob (wrapped for its key domain and digest)
//!         16..20  KEK version within the domain
//!         32..92  the wrapped data key (nonce ‖ key ‖ tag)
//!         (other bytes zero)
//! segment i at 96 + i·(S + 28): nonce (12, random) ‖ ciphertext ‖ tag (16)
//! terminal after the last data segment, blobs only: one more segment,
//!          index = number of data segments, plaintext = length (u64 BE)
//! ```
//!
//! Every data segment is full (S bytes, flag INNER) except possibly the
//! last (fewer, flag TAIL). Each segment's associated data is `berth blob
//! v1 ‖ S ‖ index ‖ flag`, so segments cannot be reordered, and the
//! terminal (flag TERMINAL) proves where the blob ends and how long it is:
//! truncation, or an older tail of the same upload put back, fails. Nonces
//! are random per segment (96 bits; a data key seals far fewer than 2^32
//! segments), so rewriting an upload's tail segment when more bytes arrive
//! never reuses one.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use rand::RngCore;
use std::collections::BTreeMap;
use std::ops::Range;

pub const HEADER_LEN: u64 = 96;
pub const NONCE_LEN: u64 = 12;
pub const TAG_LEN: u64 = 16;
/// Sealed bytes a segment adds to its plaintext.
pub const OVERHEAD: u64 = NONCE_LEN + TAG_LEN;
/// The terminal segment's sealed size.
pub const TERMINAL_LEN: u64 = 8 + OVERHEAD;
/// Plaintext bytes per segment unless a caller picks another size.
pub const DEFAULT_SEGMENT: u32 = 64 * 1024;
/// The largest segment a header may claim: a reader holds a few segments,
/// so a damaged or hostile header must not make it allocate more.
pub const MAX_SEGMENT: u32 = 1 << 20;
const MAGIC: &[u8; 8] = b"BRTHSEAL";
const VERSION: u16 = 1;
const AAD_LABEL: &[u8; 13] = b"berth blob v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("not a sealed object, or its header is damaged")]
    Header,
    #[error("sealed object {what}: segment {segment} fails authentication (damaged, truncated, reordered or from another object)")]
    Tampered { what: String, segment: u64 },
    #[error("sealed object {what}: its data key does not unwrap (damaged, another object's header, or a key this deployment does not have)")]
    Key { what: String },
    #[error("sealed object {what}: {size} bytes is not a size this format produces (truncated?)")]
    Size { what: String, size: u64 },
    #[error("range {start}..{end} is outside a {len}-byte blob")]
    Range { start: u64, end: u64, len: u64 },
}

impl From<SealError> for std::io::Error {
    fn from(e: SealError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// A data key: 256 random bits, sealing one object only.
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

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Whether an object is an upload in progress or a committed blob: it
/// says what its data key is wrapped for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Upload = 0,
    Blob = 1,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub segment: u32,
    pub state: State,
    pub kek_version: u32,
    pub wrapped: [u8; WRAPPED_LEN],
}

/// Whether `first` (an object's first bytes, up to `HEADER_LEN`) is a
/// sealed object's header, whole or damaged. Stores written before
/// encryption hold plaintext blobs, which are read as they are until the
/// background sealing reaches them; a sealed object whose magic took a
/// few flipped bits must not pass for one of those and be served raw, so
/// a near miss of the magic, or a header whose other fixed bytes are
/// right, counts as sealed (and then fails to decode). No plaintext blob
/// format starts within 16 bits of `BRTHSEAL`.
pub fn is_sealed(first: &[u8]) -> bool {
    if first.len() < MAGIC.len() {
        return false;
    }
    let distance: u32 = first[..MAGIC.len()]
        .iter()
        .zip(MAGIC)
        .map(|(a, b)| (a ^ b).count_ones())
        .sum();
    let rest_fits = first.len() >= HEADER_LEN as usize
        && first[8..10] == VERSION.to_be_bytes()
        && first[15] == 0
        && first[20..32].iter().all(|&b| b == 0)
        && first[32 + WRAPPED_LEN..HEADER_LEN as usize]
            .iter()
            .all(|&b| b == 0);
    distance <= 16 || rest_fits
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut h = [0u8; HEADER_LEN as usize];
        h[..8].copy_from_slice(MAGIC);
        h[8..10].copy_from_slice(&VERSION.to_be_bytes());
        h[10..14].copy_from_slice(&self.segment.to_be_bytes());
        h[14] = self.state as u8;
        h[16..20].copy_from_slice(&self.kek_version.to_be_bytes());
        h[32..32 + WRAPPED_LEN].copy_from_slice(&self.wrapped);
        h
    }

    pub fn decode(bytes: &[u8]) -> Result<Header, SealError> {
        if bytes.len() < HEADER_LEN as usize
            || &bytes[..8] != MAGIC
            || bytes[8..10] != VERSION.to_be_bytes()
        {
            return Err(SealError::Header);
        }
        let zeros = [15..16, 20..32, 32 + WRAPPED_LEN..HEADER_LEN as usize];
        if zeros
            .iter()
            .any(|r| bytes[r.clone()].iter().any(|&b| b != 0))
        {
            return Err(SealError::Header);
        }
        let segment = u32::from_be_bytes(bytes[10..14].try_into().expect("4 bytes"));
        if segment == 0 || segment > MAX_SEGMENT {
            return Err(SealError::Header);
        }
        let state = match bytes[14] {
            0 => State::Upload,
            1 => State::Blob,
            _ => return Err(SealError::Header),
        };
        Ok(Header {
            segment,
            state,
            kek_version: u32::from_be_bytes(bytes[16..20].try_into().expect("4 bytes")),
            wrapped: bytes[32..32 + WRAPPED_LEN].try_into().expect("60 bytes"),
        })
    }
}

/// Sealed bytes of a full data segment.
pub(crate) fn stride(segment: u32) -> u64 {
    segment as u64 + OVERHEAD
}

/// Where the data segments of an object with `len` plaintext bytes in
/// `segment`-byte segments lie (an upload's, or a blob's before its
/// terminal): the one place the format's offsets are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub segment: u32,
    pub len: u64,
}

impl Layout {
    /// How many data segments there are (none for an empty object).
    pub fn segments(&self) -> u64 {
        self.len.div_ceil(self.segment as u64)
    }

    /// Where data segment `i` lies.
    pub fn segment_range(&self, i: u64) -> Range<u64> {
        let s = self.segment as u64;
        let start = HEADER_LEN + i * stride(self.segment);
        start..start + (self.len - i * s).min(s) + OVERHEAD
    }

    /// The data segments a plaintext range needs, and the sealed bytes
    /// they occupy. `range` must lie within the object and not be empty.
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

    /// Where a blob's terminal lies: right after its data segments.
    pub fn terminal_range(&self) -> Range<u64> {
        let start = upload_sealed_len(self.segment, self.len);
        start..start + TERMINAL_LEN
    }
}

/// Sealed size of an upload holding `len` plaintext bytes (data segments
/// only: no terminal until it is committed).
pub fn upload_sealed_len(segment: u32, len: u64) -> u64 {
    let s = segment as u64;
    let rem = len % s;
    HEADER_LEN + len / s * stride(segment) + if rem > 0 { rem + OVERHEAD } else { 0 }
}

/// Plaintext length of an upload whose sealed size is `sealed`; `None` if
/// no length seals to that size (a torn last segment).
pub fn upload_plain_len(segment: u32, sealed: u64) -> Option<u64> {
    let n = sealed.checked_sub(HEADER_LEN)?;
    let (full, rem) = (n / stride(segment), n % stride(segment));
    match rem {
        0 => Some(full * segment as u64),
        r if r > OVERHEAD => Some(full * segment as u64 + r - OVERHEAD),
        _ => None,
    }
}

/// Sealed size of a committed blob of `len` bytes.
pub fn blob_sealed_len(segment: u32, len: u64) -> u64 {
    upload_sealed_len(segment, len) + TERMINAL_LEN
}

/// Plaintext length of a committed blob whose sealed size is `sealed`.
pub fn blob_plain_len(segment: u32, sealed: u64) -> Option<u64> {
    upload_plain_len(segment, sealed.checked_sub(TERMINAL_LEN)?)
}

const INNER: u8 = 0;
const TERMINAL: u8 = 1;
const TAIL: u8 = 2;

/// Seals and opens the segments of one object under its data key.
pub struct SegmentKey {
    key: LessSafeKey,
    segment: u32,
}

impl SegmentKey {
    pub fn new(dek: &DataKey, segment: u32) -> SegmentKey {
        assert!(
            (1..=MAX_SEGMENT).contains(&segment),
            "segment size {segment}"
        );
        SegmentKey {
            key: LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, &dek.0).expect("a 32-byte AES-256 key"),
            ),
            segment,
        }
    }

    pub fn segment(&self) -> u32 {
        self.segment
    }

    fn aad(&self, index: u64, flag: u8) -> [u8; 26] {
        let mut a = [0u8; 26];
        a[..13].copy_from_slice(AAD_LABEL);
        a[13..17].copy_from_slice(&self.segment.to_be_bytes());
        a[17..25].copy_from_slice(&index.to_be_bytes());
        a[25] = flag;
        a
    }

    /// Appends segment `index` holding `plain` to `out`: one copy of the
    /// plaintext, sealed where it lands.
    fn seal(&self, index: u64, flag: u8, plain: &[u8], out: &mut Vec<u8>) {
        let mut n = [0u8; NONCE_LEN as usize];
        rand::rng().fill_bytes(&mut n);
        out.extend_from_slice(&n);
        let start = out.len();
        out.extend_from_slice(plain);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(n),
                Aad::from(self.aad(index, flag)),
                &mut out[start..],
            )
            .expect("AES-GCM sealing of at most 1 MiB does not fail");
        out.extend_from_slice(tag.as_ref());
    }

    /// Opens segment `index` (nonce ‖ ciphertext ‖ tag) in place: the
    /// plaintext is the returned slice; nothing unverified is returned.
    fn open<'a>(&self, index: u64, flag: u8, sealed: &'a mut [u8]) -> Option<&'a [u8]> {
        if (sealed.len() as u64) < OVERHEAD {
            return None;
        }
        let (nonce, rest) = sealed.split_at_mut(NONCE_LEN as usize);
        let nonce = Nonce::assume_unique_for_key(nonce.try_into().expect("12 bytes"));
        self.key
            .open_in_place(nonce, Aad::from(self.aad(index, flag)), rest)
            .ok()
            .map(|p| &*p)
    }

    /// Opens data segment `index`, whichever it is by its length: a full
    /// (INNER) one, or the partial TAIL an object's data ends with.
    pub fn open_data_segment<'a>(&self, index: u64, sealed: &'a mut [u8]) -> Option<&'a [u8]> {
        self.open(index, self.data_flag(sealed.len()), sealed)
    }

    /// A data segment's flag, from its sealed length: only the last may be
    /// shorter than a stride.
    fn data_flag(&self, sealed_len: usize) -> u8 {
        if sealed_len as u64 == stride(self.segment) {
            INNER
        } else {
            TAIL
        }
    }

    /// Opens data segment `index` out of place: from `sealed` (read-only,
    /// e.g. a mapped blob file) into `out`, exactly its plaintext's length.
    /// After a failure `out` holds unverified bytes: callers drop it.
    pub fn open_data_into(&self, index: u64, sealed: &[u8], out: &mut [u8]) -> Option<()> {
        if (sealed.len() as u64) < OVERHEAD || out.len() as u64 != sealed.len() as u64 - OVERHEAD {
            return None;
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN as usize);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN as usize);
        self.key
            .open_separate_gather(
                Nonce::assume_unique_for_key(nonce.try_into().ok()?),
                Aad::from(self.aad(index, self.data_flag(sealed.len()))),
                ciphertext,
                tag,
                out,
            )
            .ok()
    }

    /// A TAIL segment holding `plain` (an upload's last, partial one).
    pub fn seal_tail(&self, index: u64, plain: &[u8], out: &mut Vec<u8>) {
        self.seal(index, TAIL, plain, out)
    }

    /// The terminal of a blob with `len` bytes, appended to `out`.
    pub fn seal_terminal(&self, len: u64, out: &mut Vec<u8>) {
        let index = len.div_ceil(self.segment as u64);
        self.seal(index, TERMINAL, &len.to_be_bytes(), out)
    }

    /// Whether `sealed` is the terminal of a blob of `len` bytes.
    pub fn is_terminal(&self, len: u64, sealed: &mut [u8]) -> bool {
        let index = len.div_ceil(self.segment as u64);
        sealed.len() as u64 == TERMINAL_LEN
            && self.open(index, TERMINAL, sealed) == Some(&len.to_be_bytes()[..])
    }
}

/// Seals a stream of plaintext into data segments: full segments as soon
/// as they complete, the partial rest only when told (`finish_upload`,
/// `finish_blob`). Memory: one segment.
pub struct Sealer {
    key: SegmentKey,
    buf: Vec<u8>,
    index: u64,
}

impl Sealer {
    /// A sealer for a new object.
    pub fn new(key: SegmentKey) -> Sealer {
        Sealer::resume(key, 0, &[])
    }

    /// A sealer continuing an upload whose segment `index` holds `tail`
    /// (less than a segment, possibly nothing) and is to be written again.
    pub fn resume(key: SegmentKey, index: u64, tail: &[u8]) -> Sealer {
        let mut buf = Vec::with_capacity(key.segment as usize);
        buf.extend_from_slice(tail);
        Sealer { key, buf, index }
    }

    /// Plaintext bytes taken so far (resumed ones included).
    pub fn len(&self) -> u64 {
        self.index * self.key.segment as u64 + self.buf.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes plaintext; appends every segment it completes to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        let s = self.key.segment as usize;
        if !self.buf.is_empty() {
            let n = (s - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == s {
                self.key.seal(self.index, INNER, &self.buf, out);
                self.buf.clear();
                self.index += 1;
            }
        }
        // Whole segments straight from the caller's bytes, without a
        // copy into the buffer.
        while data.len() >= s {
            self.key.seal(self.index, INNER, &data[..s], out);
            data = &data[s..];
            self.index += 1;
        }
        self.buf.extend_from_slice(data);
    }

    /// Seals what is left as the TAIL (if anything is left); returns the
    /// plaintext length.
    fn seal_rest(&self, out: &mut Vec<u8>) -> u64 {
        if !self.buf.is_empty() {
            self.key.seal(self.index, TAIL, &self.buf, out);
        }
        self.len()
    }

    /// Seals what is left: the upload rests. Returns the plaintext length.
    pub fn finish_upload(self, out: &mut Vec<u8>) -> u64 {
        self.seal_rest(out)
    }

    /// Seals what is left and the terminal: the object is a whole blob.
    pub fn finish_blob(self, out: &mut Vec<u8>) -> u64 {
        let len = self.seal_rest(out);
        self.key.seal_terminal(len, out);
        len
    }
}

/// Reads a committed blob: its layout, and its segments opened.
pub struct Opener {
    key: SegmentKey,
    layout: Layout,
    what: String,
}

impl Opener {
    /// A blob whose data key is `dek`, sealed with `segment`-byte segments,
    /// `sealed` bytes in all; `what` names it in errors.
    pub fn new(dek: &DataKey, segment: u32, sealed: u64, what: &str) -> Result<Opener, SealError> {
        let len = blob_plain_len(segment, sealed).ok_or_else(|| SealError::Size {
            what: what.to_string(),
            size: sealed,
        })?;
        Ok(Opener {
            key: SegmentKey::new(dek, segment),
            layout: Layout { segment, len },
            what: what.to_string(),
        })
    }

    /// Where the blob's segments and terminal lie.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The plaintext length (as the object's size says; `check_terminal`
    /// proves it).
    pub fn len(&self) -> u64 {
        self.layout.len
    }

    pub fn is_empty(&self) -> bool {
        self.layout.len == 0
    }

    /// Verifies the terminal: the blob is as long as its size says and
    /// ends where it should.
    pub fn check_terminal(&self, sealed: &mut [u8]) -> Result<(), SealError> {
        if self.key.is_terminal(self.layout.len, sealed) {
            Ok(())
        } else {
            Err(self.tampered(self.layout.segments()))
        }
    }

    /// The plaintext of `range` opened out of `sealed` (the sealed bytes
    /// `covering` names for it, read-only: a mapped blob file) into a buffer
    /// of its own. AES-GCM reads the ciphertext where it lies: no copy of
    /// it is made first.
    pub fn open_range_from(
        &self,
        range: &Range<u64>,
        sealed: &[u8],
    ) -> Result<bytes::Bytes, SealError> {
        let (segs, bytes) = self.layout.covering(range)?;
        if sealed.len() as u64 != bytes.end - bytes.start {
            return Err(self.tampered(segs.start));
        }
        let plain = (bytes.end - bytes.start) - (segs.end - segs.start) * OVERHEAD;
        let mut out = vec![0u8; plain as usize];
        let first = segs.start * self.layout.segment as u64;
        let (mut src, mut dst) = (0usize, 0usize);
        for i in segs {
            let r = self.layout.segment_range(i);
            let n = (r.end - r.start) as usize;
            let p = n - OVERHEAD as usize;
            self.key
                .open_data_into(i, &sealed[src..src + n], &mut out[dst..dst + p])
                .ok_or_else(|| self.tampered(i))?;
            src += n;
            dst += p;
        }
        let from = (range.start - first) as usize;
        let to = (range.end - first) as usize;
        Ok(bytes::Bytes::from(out).slice(from..to))
    }

    fn tampered(&self, segment: u64) -> SealError {
        SealError::Tampered {
            what: self.what.clone(),
            segment,
        }
    }
}

/// A key-encryption key of one key domain (ARCHITECTURE.md, "Key
/// hierarchy"): it wraps the data keys of the objects in that domain.
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

    /// A KEK derived from a root (the server key's KEK root) for `label`:
    /// HMAC-SHA256(root, "berth kek v1 ‖ label").
    pub fn derive(root: &[u8; 32], label: &str) -> Kek {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, root);
        let mut ctx = aws_lc_rs::hmac::Context::with_key(&key);
        ctx.update(b"berth kek v1\0");
        ctx.update(label.as_bytes());
        let tag = ctx.sign();
        Kek(tag.as_ref().try_into().expect("HMAC-SHA256 is 32 bytes"))
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte AES-256 key"))
    }

    fn aad(domain: &str, name: &str) -> Vec<u8> {
        let mut a = Vec::with_capacity(WRAP_LABEL.len() + domain.len() + name.len() + 2);
        a.extend_from_slice(WRAP_LABEL);
        a.push(0);
        a.extend_from_slice(domain.as_bytes());
        a.push(0);
        a.extend_from_slice(name.as_bytes());
        a
    }

    /// `dek` wrapped for the object `name` (a digest, or an upload id) of
    /// `domain`: it unwraps only under this KEK for that very pair. The
    /// nonce is random (2^32 wraps per KEK keep collisions negligible).
    pub fn wrap(&self, domain: &str, name: &str, dek: &DataKey) -> [u8; WRAPPED_LEN] {
        let mut n = [0u8; 12];
        rand::rng().fill_bytes(&mut n);
        let mut buf = dek.0;
        let tag = self
            .aead()
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(n),
                Aad::from(Kek::aad(domain, name)),
                &mut buf,
            )
            .expect("AES-GCM sealing of 32 bytes does not fail");
        let mut out = [0u8; WRAPPED_LEN];
        out[..12].copy_from_slice(&n);
        out[12..44].copy_from_slice(&buf);
        out[44..].copy_from_slice(tag.as_ref());
        out
    }

    /// The data key `wrap` gave, if `wrapped` was made for this (domain,
    /// name) under this KEK.
    pub fn unwrap(&self, domain: &str, name: &str, wrapped: &[u8]) -> Result<DataKey, SealError> {
        let refused = || SealError::Key {
            what: name.to_string(),
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
                Aad::from(Kek::aad(domain, name)),
                &mut buf,
            )
            .map_err(|_| refused())?;
        Ok(DataKey(plain.try_into().map_err(|_| refused())?))
    }
}

/// The key domain of the registry's default encryption (ECR's AES256).
pub const AES256_DOMAIN: &str = "aes256";
/// The pseudo-domain uploads' data keys are wrapped in (for their id).
const UPLOAD_DOMAIN: &str = "upload";

/// The generations of the key hierarchy's root that a deployment holds
/// (ARCHITECTURE.md, "Root rotation"): the current one, under whose KEKs
/// everything new is wrapped, and those being retired, which still open
/// what they wrapped until the re-wrap pass has moved it to the current one.
/// A header's `kek_version` names its generation (1: the first root).
#[derive(Clone)]
pub struct Roots {
    current: u32,
    roots: BTreeMap<u32, [u8; 32]>,
}

impl std::fmt::Debug for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Roots(current {}, held {:?})",
            self.current,
            self.roots.keys()
        )
    }
}

impl Roots {
    /// One root, the deployment's first generation.
    pub fn single(root: &[u8; 32]) -> Roots {
        Roots {
            current: 1,
            roots: BTreeMap::from([(1, *root)]),
        }
    }

    /// Several generations; `None` unless `current` is among them and no
    /// generation is 0.
    pub fn new(current: u32, roots: BTreeMap<u32, [u8; 32]>) -> Option<Roots> {
        (roots.contains_key(&current) && !roots.contains_key(&0))
            .then_some(Roots { current, roots })
    }

    pub fn current(&self) -> u32 {
        self.current
    }

    /// The generations held besides the current one: what a re-wrap pass
    /// still has to move.
    pub fn retiring(&self) -> Vec<u32> {
        self.roots
            .keys()
            .copied()
            .filter(|g| *g != self.current)
            .collect()
    }

    /// The KEK for `label` of every generation held.
    pub fn keks(&self, label: &str) -> Keks {
        Keks {
            current: self.current,
            keks: self
                .roots
                .iter()
                .map(|(g, root)| (*g, Kek::derive(root, label)))
                .collect(),
        }
    }
}

/// One KEK per root generation (`Roots::keks`): new wraps use the current
/// generation's; unwraps use the generation the wrapped key names.
#[derive(Clone, Debug)]
pub struct Keks {
    current: u32,
    keks: BTreeMap<u32, Kek>,
}

impl Keks {
    pub fn current(&self) -> u32 {
        self.current
    }

    fn get(&self, generation: u32) -> Option<&Kek> {
        self.keks.get(&generation)
    }

    /// `dek` wrapped under the current generation (see `Kek::wrap`).
    pub fn wrap(&self, domain: &str, name: &str, dek: &DataKey) -> (u32, [u8; WRAPPED_LEN]) {
        let kek = self
            .get(self.current)
            .expect("Roots holds its current generation");
        (self.current, kek.wrap(domain, name, dek))
    }

    /// The data key `wrap` gave under `generation`.
    pub fn unwrap(
        &self,
        generation: u32,
        domain: &str,
        name: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, SealError> {
        match self.get(generation) {
            Some(kek) => kek.unwrap(domain, name, wrapped),
            None => Err(SealError::Key {
                what: name.to_string(),
            }),
        }
    }

    /// A wrapped key as text for a metadata row: hex for the first
    /// generation (what rows held before roots rotated), `g<n>:` and hex
    /// after.
    pub fn wrap_text(&self, domain: &str, name: &str, dek: &DataKey) -> String {
        let (generation, wrapped) = self.wrap(domain, name, dek);
        match generation {
            1 => hex::encode(wrapped),
            g => format!("g{g}:{}", hex::encode(wrapped)),
        }
    }

    /// The data key in `wrap_text`'s text.
    pub fn unwrap_text(&self, domain: &str, name: &str, text: &str) -> Result<DataKey, SealError> {
        let (generation, hex_text) = split_generation(text);
        let wrapped = hex::decode(hex_text).map_err(|_| SealError::Key {
            what: name.to_string(),
        })?;
        self.unwrap(generation, domain, name, &wrapped)
    }

    /// Whether `wrap_text`'s `text` is wrapped under a generation other than
    /// the current one.
    pub fn is_stale_text(&self, text: &str) -> bool {
        split_generation(text).0 != self.current
    }
}

/// The generation `Keks::wrap_text`'s text names, and its hex.
fn split_generation(text: &str) -> (u32, &str) {
    text.strip_prefix('g')
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(g, hex)| Some((g.parse().ok()?, hex)))
        .unwrap_or((1, text))
}

/// What wraps a keyring's blob data keys.
#[derive(Clone, Debug)]
enum BlobKeks {
    /// The AES256 domain: KEKs of the root's generations.
    Root(Keks),
    /// A KMS key's domain: that key's storage KEK, which is not the root's
    /// (it is sealed under the key's materials), so its headers carry
    /// version 1 whatever the root's generation.
    Storage(Kek),
}

/// The KEKs a store seals with: its key domain's (blobs) and the uploads'.
/// The registry's store: the AES256 domain's KEKs and the uploads' KEKs,
/// both derived from the root's generations, so every node with the same
/// roots has them. A KMS key's domain store (`Keyring::domain`): that key's
/// storage KEK for blobs, the same uploads' KEKs (an upload becomes a blob
/// of whichever domain its repository is in).
pub struct Keyring {
    domain: String,
    blobs: BlobKeks,
    uploads: Keks,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(..)")
    }
}

impl Keyring {
    /// The keyring of a deployment whose root has one generation.
    pub fn from_root(root: &[u8; 32]) -> Keyring {
        Keyring::from_roots(&Roots::single(root))
    }

    pub fn from_roots(roots: &Roots) -> Keyring {
        Keyring {
            domain: AES256_DOMAIN.to_string(),
            blobs: BlobKeks::Root(roots.keks(AES256_DOMAIN)),
            uploads: roots.keks(UPLOAD_DOMAIN),
        }
    }

    /// The keyring of key domain `domain` (`kms/<key id>`), whose blobs'
    /// data keys are wrapped under `kek` for (`domain`, digest): a blob of
    /// one domain never opens under another's keys.
    pub fn domain(&self, domain: &str, kek: Kek) -> Keyring {
        Keyring {
            domain: domain.to_string(),
            blobs: BlobKeks::Storage(kek),
            uploads: self.uploads.clone(),
        }
    }

    /// The key domain blobs are sealed in.
    pub fn domain_name(&self) -> &str {
        &self.domain
    }

    /// The root generation new objects are wrapped under.
    pub fn current_generation(&self) -> u32 {
        self.uploads.current()
    }

    /// A fresh data key for a new upload `id`, and the header that carries
    /// it.
    pub fn new_upload(&self, id: &str) -> (DataKey, Header) {
        let dek = DataKey::generate();
        let (kek_version, wrapped) = self.uploads.wrap(UPLOAD_DOMAIN, id, &dek);
        let header = Header {
            segment: DEFAULT_SEGMENT,
            state: State::Upload,
            kek_version,
            wrapped,
        };
        (dek, header)
    }

    /// A fresh data key for a blob written directly, and its header.
    pub fn new_blob(&self, digest: &str) -> (DataKey, Header) {
        let dek = DataKey::generate();
        (dek.clone(), self.blob_header(digest, &dek, DEFAULT_SEGMENT))
    }

    /// The header of blob `digest` whose data key is `dek`.
    pub fn blob_header(&self, digest: &str, dek: &DataKey, segment: u32) -> Header {
        let (kek_version, wrapped) = match &self.blobs {
            BlobKeks::Root(keks) => keks.wrap(&self.domain, digest, dek),
            BlobKeks::Storage(kek) => (1, kek.wrap(&self.domain, digest, dek)),
        };
        Header {
            segment,
            state: State::Blob,
            kek_version,
            wrapped,
        }
    }

    /// The data key of an object: an upload's (for its id) or a blob's
    /// (for its digest), as its header says it is.
    pub fn data_key(&self, header: &Header, name: &str) -> Result<DataKey, SealError> {
        let v = header.kek_version;
        match (header.state, &self.blobs) {
            (State::Upload, _) => self.uploads.unwrap(v, UPLOAD_DOMAIN, name, &header.wrapped),
            (State::Blob, BlobKeks::Root(keks)) => {
                keks.unwrap(v, &self.domain, name, &header.wrapped)
            }
            (State::Blob, BlobKeks::Storage(kek)) if v == 1 => {
                kek.unwrap(&self.domain, name, &header.wrapped)
            }
            (State::Blob, BlobKeks::Storage(_)) => Err(SealError::Key {
                what: name.to_string(),
            }),
        }
    }

    /// The header of the object `name` with its data key wrapped under the
    /// current root generation, when it is wrapped under an older one
    /// (`None` when it is current, or wrapped by a KMS key's storage KEK,
    /// which no root rotation touches). The data key itself is unchanged,
    /// so the object's segments stay as they are: only the header is new.
    pub fn rewrapped(&self, header: &Header, name: &str) -> Result<Option<Header>, SealError> {
        let (keks, domain) = match (header.state, &self.blobs) {
            (State::Upload, _) => (&self.uploads, UPLOAD_DOMAIN),
            (State::Blob, BlobKeks::Root(keks)) => (keks, self.domain.as_str()),
            (State::Blob, BlobKeks::Storage(_)) => return Ok(None),
        };
        if header.kek_version == keks.current() {
            return Ok(None);
        }
        let dek = self.data_key(header, name)?;
        let (kek_version, wrapped) = keks.wrap(domain, name, &dek);
        Ok(Some(Header {
            kek_version,
            wrapped,
            ..header.clone()
        }))
    }
}

impl Keyring {
    /// A small object (a manifest body) sealed whole, header included, as
    /// the blob `digest` of this keyring's domain.
    pub fn seal_object(&self, digest: &str, plain: &[u8]) -> Vec<u8> {
        let (dek, header) = self.new_blob(digest);
        let mut out =
            Vec::with_capacity((blob_sealed_len(header.segment, plain.len() as u64)) as usize);
        out.extend_from_slice(&header.encode());
        let mut s = Sealer::new(SegmentKey::new(&dek, header.segment));
        s.push(plain, &mut out);
        s.finish_blob(&mut out);
        out
    }

    /// The plaintext of what `seal_object` made for `digest`; an object
    /// stored before encryption (plaintext) as it is.
    pub fn open_object<'a>(
        &self,
        digest: &str,
        stored: &'a [u8],
    ) -> Result<std::borrow::Cow<'a, [u8]>, SealError> {
        if !is_sealed(stored) {
            return Ok(std::borrow::Cow::Borrowed(stored));
        }
        let header = Header::decode(stored)?;
        if header.state != State::Blob {
            return Err(SealError::Header);
        }
        let dek = self.data_key(&header, digest)?;
        let body = &stored[HEADER_LEN as usize..];
        Ok(std::borrow::Cow::Owned(open(
            &dek,
            header.segment,
            body,
            digest,
        )?))
    }
}

/// Seals a whole blob in memory (tests; small objects).
pub fn seal(dek: &DataKey, plain: &[u8], segment: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(blob_sealed_len(segment, plain.len() as u64) as usize);
    let mut s = Sealer::new(SegmentKey::new(dek, segment));
    s.push(plain, &mut out);
    s.finish_blob(&mut out);
    out
}

/// Opens a whole sealed blob body (data segments and terminal, after the
/// header) in memory.
pub fn open(dek: &DataKey, segment: u32, sealed: &[u8], what: &str) -> Result<Vec<u8>, SealError> {
    let total = HEADER_LEN + sealed.len() as u64;
    let o = Opener::new(dek, segment, total, what)?;
    let at = |r: Range<u64>| (r.start - HEADER_LEN) as usize..(r.end - HEADER_LEN) as usize;
    let mut terminal = sealed[at(o.layout().terminal_range())].to_vec();
    o.check_terminal(&mut terminal)?;
    if o.is_empty() {
        return Ok(Vec::new());
    }
    let (_, bytes) = o.layout().covering(&(0..o.len()))?;
    Ok(o.open_range_from(&(0..o.len()), &sealed[at(bytes)])?.into())
}

#[cfg(test)]
#[path = "sealed_tests.rs"]
mod tests;
