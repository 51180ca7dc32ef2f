//! OSV records from an imported vulnerability database (a directory or an
//! osv.dev all.zip a user points berth at).
#![no_main]
use berth_scan::osv::{parse_record, Vulnerability};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = parse_record(data) {
        let _ = Vulnerability::new(record);
    }
});
