//! berth-scan's integration tests, in one test binary (`it`): `cargo nextest run -p berth-scan --test it scan_image::`.

mod layers;
mod osv_fixtures;
mod scan_image;
mod synthetic;
