//! Test support shared by every end-to-end suite.
//!
//! * [`TestServer`]: the one way tests start berth (free port, fresh data
//!   dir, log captured and printed when a test fails).
//! * [`image`]: generated images (layers, configs, manifests, OCI layouts,
//!   root filesystems for `docker import`).
//! * [`postgres`]: with `BERTH_TEST_METADATA=postgres`, every test server
//!   keeps its metadata in a PostgreSQL database of its own.
//! * [`tools`]: real clients: requiring them (a hard failure under `CI=true`)
//!   and running them with their output kept for failure messages.
#![forbid(unsafe_code)]

pub mod admin;
pub mod ecr;
pub mod image;
pub mod kms;
pub mod postgres;
pub mod query;
mod server;
pub mod signed;
pub mod tools;

pub use server::{s3_var, TestServer, ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY};
