//! IAM policy documents (identity, repository and registry policies).
#![no_main]
use berth_iam::policy::{Policy, PolicyKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Policy::parse(text, PolicyKind::Identity);
    let _ = Policy::parse(text, PolicyKind::Resource);
});
