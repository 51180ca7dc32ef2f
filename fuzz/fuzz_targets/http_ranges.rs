//! `Range` on blob GETs and `Content-Range` on upload chunks: a range that
//! parses resolves inside the blob, or not at all; a chunk's claimed length
//! is counted without wrapping (`0-18446744073709551615` claims more than a
//! u64 holds, and must say so rather than claim 0 bytes).
#![no_main]
use berth_server::byte_range::{content_range, parse, RangeRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let RangeRequest::One(r) = parse(Some(s)) {
        for size in [0u64, 1, 2, 1000, u64::MAX] {
            if let Some((a, b)) = r.resolve(size) {
                assert!(a <= b && b < size, "{s:?} resolved to {a}-{b} of {size}");
            }
        }
    }
    if let Some(r) = content_range(s) {
        match r.claimed_len() {
            Some(n) => assert!(
                n >= 1 && r.start.checked_add(n - 1) == Some(r.end),
                "{s:?} claims {n} bytes"
            ),
            None => assert!(
                r.end < r.start || (r.start == 0 && r.end == u64::MAX),
                "{s:?} claims no countable length"
            ),
        }
    }
});
