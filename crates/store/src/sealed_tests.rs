use super::*;

const D: &str = "sha256:0d5f0e7e3c7e4b8e";

fn plain(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn every_length_round_trips_and_is_sized_as_the_layout_says() {
    let k = DataKey::generate();
    for n in [0usize, 1, 15, 16, 17, 31, 32, 33, 100] {
        let p = plain(n);
        let s = seal(&k, &p, 16);
        assert_eq!(
            s.len() as u64 + HEADER_LEN,
            blob_sealed_len(16, n as u64),
            "{n}"
        );
        assert_eq!(
            blob_plain_len(16, s.len() as u64 + HEADER_LEN),
            Some(n as u64)
        );
        assert_eq!(open(&k, 16, &s, D).unwrap(), p, "{n}");
    }
    let big = plain(300_000);
    let s = seal(&k, &big, DEFAULT_SEGMENT);
    assert_eq!(open(&k, DEFAULT_SEGMENT, &s, D).unwrap(), big);
    assert_eq!(s.len(), 300_000 + 5 * 28 + 36);
}

#[test]
fn upload_sizes_map_both_ways_and_torn_sizes_are_refused() {
    for len in 0..200u64 {
        let sealed = upload_sealed_len(16, len);
        assert_eq!(upload_plain_len(16, sealed), Some(len), "{len}");
    }
    // A last segment of 28 bytes or fewer holds no plaintext: torn.
    for torn in 1..=28 {
        assert_eq!(upload_plain_len(16, HEADER_LEN + 44 + torn), None);
    }
    assert_eq!(upload_plain_len(16, HEADER_LEN - 1), None);
}

#[test]
fn every_range_decrypts_only_its_segments_and_returns_exactly_its_bytes() {
    let k = DataKey::generate();
    let p = plain(70);
    let s = seal(&k, &p, 16);
    let o = Opener::new(&k, 16, HEADER_LEN + s.len() as u64, D).unwrap();
    assert_eq!(o.len(), 70);
    for a in 0..70u64 {
        for b in a + 1..=70 {
            let (segs, bytes) = o.layout().covering(&(a..b)).unwrap();
            assert!(segs.end - segs.start <= (b - 1) / 16 - a / 16 + 1);
            let sealed = &s[(bytes.start - HEADER_LEN) as usize..(bytes.end - HEADER_LEN) as usize];
            let from = o.open_range_from(&(a..b), sealed).unwrap();
            assert_eq!(&from[..], &p[a as usize..b as usize], "{a}..{b}");
        }
    }
    // Opened out of place, a changed byte is refused just the same.
    let (_, bytes) = o.layout().covering(&(0..70)).unwrap();
    let whole = s[(bytes.start - HEADER_LEN) as usize..(bytes.end - HEADER_LEN) as usize].to_vec();
    for i in 0..whole.len() {
        let mut t = whole.clone();
        t[i] ^= 0x20;
        assert!(o.open_range_from(&(0..70), &t).is_err(), "byte {i}");
    }
    assert!(matches!(
        o.layout().covering(&(10..71)),
        Err(SealError::Range { .. })
    ));
}

#[test]
fn a_flipped_bit_anywhere_in_the_body_is_detected() {
    let k = DataKey::generate();
    let s = seal(&k, &plain(40), 16);
    for i in 0..s.len() {
        for bit in [0x01u8, 0x80] {
            let mut t = s.clone();
            t[i] ^= bit;
            assert!(
                open(&k, 16, &t, D).is_err(),
                "byte {i} bit {bit:#x} went unnoticed"
            );
        }
    }
}

#[test]
fn truncation_reordering_swapping_and_an_old_tail_are_detected() {
    let k = DataKey::generate();
    let p = plain(40);
    let s = seal(&k, &p, 16);
    let stride = 16 + 28;
    // Cut anywhere.
    for cut in 1..s.len() {
        assert!(open(&k, 16, &s[..s.len() - cut], D).is_err(), "{cut}");
    }
    // The terminal moved up to just after the second segment: it says 40.
    let mut short = s[..2 * stride].to_vec();
    short.extend_from_slice(&s[s.len() - 36..]);
    assert!(open(&k, 16, &short, D).is_err());
    // Two segments swapped.
    let mut swapped = s.clone();
    let first = s[..stride].to_vec();
    swapped.copy_within(stride..2 * stride, 0);
    swapped[stride..2 * stride].copy_from_slice(&first);
    assert!(open(&k, 16, &swapped, D).is_err());
    // An upload's earlier, shorter tail put back with a matching terminal
    // is impossible to make without the key; with the old tail and the
    // real terminal, the lengths disagree.
    let mut up = Vec::new();
    let mut sealer = Sealer::new(SegmentKey::new(&k, 16));
    sealer.push(&p[..35], &mut up);
    sealer.finish_upload(&mut up);
    let old_tail = up[2 * stride..].to_vec();
    let mut spliced = s[..2 * stride].to_vec();
    spliced.extend_from_slice(&old_tail);
    spliced.extend_from_slice(&s[s.len() - 36..]);
    assert!(open(&k, 16, &spliced, D).is_err());
    // Another key.
    assert!(open(&DataKey::generate(), 16, &s, D).is_err());
}

#[test]
fn an_upload_resumed_anywhere_commits_to_the_same_plaintext() {
    let k = DataKey::generate();
    let p = plain(100);
    for cut in [0usize, 1, 15, 16, 17, 48, 99, 100] {
        let key = || SegmentKey::new(&k, 16);
        // First request: `cut` bytes, then the upload rests.
        let mut first = Vec::new();
        let mut s = Sealer::new(key());
        s.push(&p[..cut], &mut first);
        assert_eq!(s.finish_upload(&mut first), cut as u64);
        assert_eq!(
            upload_plain_len(16, HEADER_LEN + first.len() as u64),
            Some(cut as u64)
        );
        // Second request: re-open the tail segment and go on.
        let index = cut as u64 / 16;
        let keep = HEADER_LEN as usize + index as usize * 44 - HEADER_LEN as usize;
        let mut tail_sealed = first[keep..].to_vec();
        let tail = if tail_sealed.is_empty() {
            Vec::new()
        } else {
            key()
                .open_data_segment(index, &mut tail_sealed)
                .expect("the tail opens")
                .to_vec()
        };
        let mut body = first[..keep].to_vec();
        let mut s = Sealer::resume(key(), index, &tail);
        s.push(&p[cut..], &mut body);
        assert_eq!(s.finish_blob(&mut body), 100);
        assert_eq!(open(&k, 16, &body, D).unwrap(), p, "{cut}");
    }
}

#[test]
fn sealed_bytes_do_not_contain_the_plaintext() {
    let k = DataKey::generate();
    let marker = b"BERTH-SECRET-MARKER-0123456789";
    let mut p = plain(200_000);
    p[100_000..100_000 + marker.len()].copy_from_slice(marker);
    let s = seal(&k, &p, DEFAULT_SEGMENT);
    assert!(!s.windows(marker.len()).any(|w| w == marker));
}

#[test]
fn headers_round_trip_and_keys_unwrap_only_for_their_object() {
    let ring = Keyring::from_root(&[9u8; 32]);
    let (dek, h) = ring.new_upload("u-1");
    assert_eq!(Header::decode(&h.encode()).unwrap(), h);
    assert!(is_sealed(&h.encode()));
    assert!(!is_sealed(b"plain layer bytes"));
    assert!(!is_sealed(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), "gzip");
    assert!(!is_sealed(b"{\"schemaVersion\":2}"));
    // A damaged magic still counts as sealed (and fails to decode).
    let mut damaged = h.encode();
    damaged[0] ^= 0xff;
    damaged[5] ^= 0x01;
    assert!(is_sealed(&damaged));
    assert!(Header::decode(&damaged).is_err());
    damaged[..8].copy_from_slice(b"\0\0\0\0\0\0\0\0");
    assert!(is_sealed(&damaged), "the rest of the header fits");
    assert_eq!(ring.data_key(&h, "u-1").unwrap().as_bytes(), dek.as_bytes());
    assert!(ring.data_key(&h, "u-2").is_err());
    let b = ring.blob_header(D, &dek, DEFAULT_SEGMENT);
    assert_eq!(ring.data_key(&b, D).unwrap().as_bytes(), dek.as_bytes());
    assert!(ring.data_key(&b, "sha256:other").is_err());
    // An upload's header is not a blob's, nor the reverse.
    let as_blob = Header {
        state: State::Blob,
        ..h.clone()
    };
    assert!(ring.data_key(&as_blob, "u-1").is_err());
    // Another root (another deployment's server key) has other KEKs.
    assert!(Keyring::from_root(&[8u8; 32]).data_key(&b, D).is_err());
    // Every flipped bit of a header is refused, by parsing or unwrapping.
    let bytes = b.encode();
    for i in 0..bytes.len() {
        let mut t = bytes;
        t[i] ^= 1;
        let refused = match Header::decode(&t) {
            Err(_) => true,
            Ok(h) => match ring.data_key(&h, D) {
                Err(_) => true,
                // The segment size is not covered by the wrap: a changed
                // size breaks every segment instead.
                Ok(_) => h.segment != DEFAULT_SEGMENT,
            },
        };
        assert!(refused, "header byte {i}");
    }
}

#[test]
fn keks_unwrap_only_under_their_root_domain_and_name() {
    let root = [9u8; 32];
    let kek = Kek::derive(&root, "aes256");
    let dek = DataKey::generate();
    let w = kek.wrap("aes256", D, &dek);
    assert_ne!(w, kek.wrap("aes256", D, &dek), "random nonces");
    assert_eq!(
        kek.unwrap("aes256", D, &w).unwrap().as_bytes(),
        dek.as_bytes()
    );
    assert!(kek.unwrap("kms:1234", D, &w).is_err());
    assert!(kek.unwrap("aes256", "sha256:other", &w).is_err());
    assert!(Kek::derive(&root, "aes256#2")
        .unwrap("aes256", D, &w)
        .is_err());
    for i in 0..w.len() {
        let mut t = w;
        t[i] ^= 1;
        assert!(kek.unwrap("aes256", D, &t).is_err(), "byte {i}");
    }
    assert!(kek.unwrap("aes256", D, &w[..40]).is_err());
    // Derivation is deterministic: every node derives the same KEK.
    assert!(Kek::derive(&root, "aes256").unwrap("aes256", D, &w).is_ok());
}

#[test]
fn small_objects_seal_whole_and_plaintext_ones_read_as_they_are() {
    let ring = Keyring::from_root(&[4u8; 32]);
    let body = br#"{"schemaVersion":2,"secret":"BERTH-MARKER"}"#;
    let sealed = ring.seal_object(D, body);
    assert!(!sealed.windows(12).any(|w| w == b"BERTH-MARKER"));
    assert_eq!(&*ring.open_object(D, &sealed).unwrap(), &body[..]);
    assert!(ring.open_object("sha256:other", &sealed).is_err());
    let mut bad = sealed.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(ring.open_object(D, &bad).is_err());
    assert_eq!(&*ring.open_object(D, body).unwrap(), &body[..]);
    assert_eq!(
        &*ring.open_object(D, &ring.seal_object(D, b"")).unwrap(),
        b""
    );
}

#[test]
fn a_new_root_generation_rewraps_headers_without_changing_data_keys() {
    let (r1, r2) = ([1u8; 32], [2u8; 32]);
    let old = Keyring::from_roots(&Roots::single(&r1));
    let both = Keyring::from_roots(&Roots::new(2, [(1, r1), (2, r2)].into()).unwrap());
    let new = Keyring::from_roots(&Roots::new(2, [(2, r2)].into()).unwrap());
    assert!(
        Roots::new(3, [(2, r2)].into()).is_none(),
        "current not held"
    );

    let (dek, blob) = old.new_blob(D);
    assert_eq!(blob.kek_version, 1);
    assert!(new.data_key(&blob, D).is_err(), "generation 1 not held");
    let moved = both.rewrapped(&blob, D).unwrap().expect("stale");
    assert_eq!(moved.kek_version, 2);
    assert_eq!(moved.segment, blob.segment);
    assert_eq!(new.data_key(&moved, D).unwrap().as_bytes(), dek.as_bytes());
    assert!(old.data_key(&moved, D).is_err());
    assert!(both.rewrapped(&moved, D).unwrap().is_none(), "current");
    // Wrapped for one name, it re-wraps for no other.
    assert!(both.rewrapped(&blob, "sha256:other").is_err());

    let (udek, upload) = old.new_upload("u1");
    let moved = both
        .rewrapped(&upload, "u1")
        .unwrap()
        .expect("stale upload");
    assert_eq!(moved.state, State::Upload);
    assert_eq!(
        new.data_key(&moved, "u1").unwrap().as_bytes(),
        udek.as_bytes()
    );
    assert_eq!(
        both.new_upload("u2").1.kek_version,
        2,
        "new objects: current"
    );

    // A KMS key's domain is wrapped by its storage KEK: no rotation of the
    // root touches it, and its headers say version 1 under any root.
    let domain = both.domain("kms/1.r.k", Kek::from_bytes([5; 32]));
    let (ddek, dh) = domain.new_blob(D);
    assert_eq!(dh.kek_version, 1);
    assert!(domain.rewrapped(&dh, D).unwrap().is_none());
    let later = new.domain("kms/1.r.k", Kek::from_bytes([5; 32]));
    assert_eq!(later.data_key(&dh, D).unwrap().as_bytes(), ddek.as_bytes());
}

#[test]
fn wrapped_key_text_names_its_generation() {
    let (r1, r2) = ([1u8; 32], [2u8; 32]);
    let old = Roots::single(&r1).keks("kms");
    let both = Roots::new(2, [(1, r1), (2, r2)].into())
        .unwrap()
        .keks("kms");
    let dek = DataKey::generate();
    let t1 = old.wrap_text("d", "n", &dek);
    assert!(
        !t1.contains(':'),
        "generation 1 is plain hex, as rows held before rotation"
    );
    assert!(both.is_stale_text(&t1) && !old.is_stale_text(&t1));
    let t2 = both.wrap_text("d", "n", &dek);
    assert!(t2.starts_with("g2:"), "{t2}");
    assert!(!both.is_stale_text(&t2));
    for t in [&t1, &t2] {
        assert_eq!(
            both.unwrap_text("d", "n", t).unwrap().as_bytes(),
            dek.as_bytes()
        );
    }
    assert!(old.unwrap_text("d", "n", &t2).is_err());
    assert!(both.unwrap_text("d", "other", &t2).is_err());
}
