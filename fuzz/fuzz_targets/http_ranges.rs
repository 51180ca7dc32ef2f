//! `Range` on blob GETs and `Content-Range` on upload chunks: a range that
//! parses resolves inside the blob, or not at all.
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
    let _ = content_range(s);
});
