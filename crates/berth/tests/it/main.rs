//! berth's end-to-end tests, in one test binary (`it`) so that the
//! workspace links them once: a module per area, each driving a real berth
//! process (and real clients) through `common`, the one fixture. Run one
//! area with `cargo nextest run -p berth --test it crash::` (the module
//! path is the filter: `--test it ecr::`, `--test it attacks::`), or
//! `cargo nextest run -p berth -E 'test(/^crash::/)'`.
// roles.rs spells out a large expected answer with `json!`.
#![recursion_limit = "256"]

mod common;

mod admin;
mod api;
mod archive;
mod artifacts;
mod attack_scan;
mod attacks;
mod authz;
mod authz_clients;
mod clients;
mod cluster;
mod concurrency;
mod console;
mod crash;
mod disk_full;
mod ecr;
mod encryption;
mod faults;
mod fsck;
mod gallery;
mod gc;
mod hostile;
mod iam;
mod isolation;
mod kms;
mod lifecycle;
mod migrate;
mod postgres;
mod public;
mod public_api;
mod public_pulls;
mod replication;
mod replication_remote;
mod roles;
mod root;
mod s3;
mod scanning;
mod spec;
mod templates;
