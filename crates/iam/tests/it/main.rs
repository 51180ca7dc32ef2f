//! berth-iam's integration tests, in one test binary (`it`): `cargo nextest run -p berth-iam --test it policy_props::`.

mod policy_eval;
mod policy_parse;
mod policy_props;
