#!/usr/bin/env bash
# Runs every berth test suite: unit tests, store conformance suites and the
# end-to-end tests that drive real clients (skopeo, podman, buildah, docker)
# against berth processes they start themselves. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

cargo build --workspace --all-targets --locked
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast "$@"
  # nextest does not run doctests.
  cargo test --workspace --locked --doc
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi
