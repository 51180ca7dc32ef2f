#!/usr/bin/env bash
# Runs every berth test suite: unit tests, store conformance suites, the
# end-to-end tests that drive real clients (skopeo, podman, buildah, docker)
# against berth processes they start themselves, a short run of every fuzz
# target, and the benchmark harness in its quick form (to keep it working;
# it asserts nothing about speed).
# Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

# One PostgreSQL cluster for the whole run (the metadata store's PostgreSQL
# conformance suites make a database each in it), stopped on exit.
pg_dir=$(mktemp -d)
eval "$(scripts/postgres.sh start "$pg_dir")"
# One S3 server (SeaweedFS, fixed ports) likewise: the S3 blob store's
# suites and the end-to-end tests on S3 use prefixes of their own in it.
s3_dir=$(mktemp -d)
eval "$(scripts/seaweedfs.sh start "$s3_dir")"
trap 'scripts/postgres.sh stop "$pg_dir"; scripts/seaweedfs.sh stop "$s3_dir"; rm -rf "$pg_dir" "$s3_dir"' EXIT

# No module of a crate depends on a sibling in a cycle (ARCHITECTURE.md).
python3 scripts/module-cycles.py

cargo build --workspace --all-targets --locked
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
  # The end-to-end suites again with every server's metadata in PostgreSQL
  # (a database per server) and its blobs in the S3 server (a prefix per
  # server): all but the tests that open the data dir's SQLite file or
  # blob files themselves or run offline commands on it (fsck, gc
  # --offline, vulndb import --offline, seeded push times, crash and
  # disk-full runs, a server restarted on its own stores), which the pass
  # above covers on the embedded stores.
  # `--workspace` and a binary filter rather than `-p berth --test it`:
  # the same package selection as the pass above reuses its build, where
  # `-p berth` alone unifies features differently and recompiled ~20 crates.
  BERTH_TEST_METADATA=postgres BERTH_TEST_BLOBS=s3 cargo nextest run --workspace --locked --no-fail-fast -E \
    'package(berth) & binary(it) & ((test(/^(api|ecr|authz|authz_clients|iam|clients|artifacts|spec|concurrency|isolation|lifecycle|hostile|kms|templates|replication)::/)
      | test(=gc::a_push_storm_beside_gc_in_a_loop_loses_nothing)
      | test(=scanning::artifacts_are_not_images_and_images_without_packages_are_unsupported))
     - test(=lifecycle::expire_untagged_images_older_than_30_days_previewed_then_scheduled)
     - test(=kms::repositories_under_keys_from_before_grants_get_ecrs_grant_on_upgrade))'
  # nextest does not run doctests.
  cargo test --workspace --locked --doc
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi

# Every fuzz target for a few seconds (the long run: scripts/fuzz.sh 600).
scripts/fuzz.sh "${BERTH_FUZZ_SECONDS:-5}"

# The benchmark harness, quick: every workload at small sizes beside CNCF
# Distribution, and the scale-out phase on the run's PostgreSQL and S3
# server. It keeps the harness working and asserts nothing about speed, so
# it measures the debug build made above: a release build of the whole
# tree (thin LTO) would be a second full compile in a fresh run. The full run is
# `cargo run --release -p berth-bench` (README, "Performance").
cargo run --locked -p berth-bench -- --quick --shared --berth target/debug/berth --out target/bench-quick
