#!/usr/bin/env bash
# Runs every fuzz target for a fixed time: `scripts/fuzz.sh [SECONDS]`
# (default 10 each; CI's smoke run). Needs cargo-fuzz (scripts/
# install-test-deps.sh installs it). libFuzzer without a sanitizer
# (`--sanitizer none`: the address sanitizer needs nightly): panics,
# failed asserts and overflow checks (--dev builds) are what it catches.
# Each target starts from fuzz/seeds/<target> and keeps what it finds in
# target/fuzz-corpus/<target>; a crash leaves its input in
# fuzz/artifacts/<target>/ and fails the run. The executions per target
# are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-10}"
cargo fuzz build --dev --sanitizer none
summary=()
for target in $(cargo fuzz list); do
  corpus="../target/fuzz-corpus/$target"
  mkdir -p "$corpus"
  log="$(mktemp)"
  if ! cargo fuzz run --dev --sanitizer none "$target" "$corpus" "seeds/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $target failed; its input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')"
  summary+=("$target: $runs executions in ${seconds}s")
  rm -f "$log"
done
printf '%s\n' "${summary[@]}"
