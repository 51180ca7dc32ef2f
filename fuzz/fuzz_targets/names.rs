//! Repository names, tags, references and digests from URLs: whatever
//! parses prints back to the same text (so it cannot name two things).
#![no_main]
use berth_oci::{Digest, Reference, RepositoryName, Tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = RepositoryName::parse(s) {
        assert_eq!(n.as_str(), s);
        assert!(!s.contains("..") && !s.starts_with('/'), "{s:?}");
    }
    if let Ok(t) = Tag::parse(s) {
        assert_eq!(t.as_str(), s);
        assert!(!s.contains('/'), "{s:?}");
    }
    if let Ok(d) = s.parse::<Digest>() {
        assert_eq!(d.as_str(), s);
        assert!(d.hex().bytes().all(|b| b.is_ascii_hexdigit()), "{s:?}");
    }
    if let Ok(r) = Reference::parse(s) {
        assert_eq!(r.to_string(), s);
    }
});
