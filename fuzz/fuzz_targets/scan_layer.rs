//! Whole layers as a pusher supplies them (gzip, zstd or tar, picked by the
//! first bytes), stacked and searched for packages, under small limits.
#![no_main]
use berth_scan::detect::detect;
use berth_scan::layers::{apply_layers, read_layer, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_layer_bytes: 4 << 20,
        max_entries: 10_000,
        ..Limits::default()
    };
    if let Ok(inventory) = read_layer(data, &limits) {
        let view = apply_layers([&inventory]);
        let _ = detect(&view);
    }
});
