//! Manifest and index bodies as a client PUTs them, with each Content-Type.
#![no_main]
use berth_oci::manifest::{Manifest, Reference};
use libfuzzer_sys::fuzz_target;

const TYPES: [Option<&str>; 5] = [
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let content_type = TYPES[which as usize % TYPES.len()];
    if let Ok(m) = Manifest::parse(body, content_type) {
        // What the registry stores about an accepted manifest must be
        // well-formed: every reference a digest that prints as it parses.
        for r in m.references() {
            let d = match r {
                Reference::Blob(d, _) | Reference::Manifest(d, _) => d,
            };
            assert_eq!(d.to_string().parse::<berth_oci::Digest>().unwrap(), d);
        }
    }
});
