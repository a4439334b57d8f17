#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz) for a bounded time, at the
# lowest CPU priority, and prints a table: executions, rate, corpus size,
# findings. Exits non-zero if any target found something; the inputs are in
# fuzz/artifacts/<target>/ (reproduce: cd fuzz && cargo +nightly fuzz run
# -s none -a <target> <file>).
#
#   scripts/fuzz.sh [seconds per target] [target ...]
#
# Each run is appended to fuzz/runs.tsv (committed: BENCHMARKS.md sums it), so the executions
# of several runs can be added up.
set -euo pipefail

seconds=${1:-${FUZZ_SECONDS:-60}}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(wire_decode signal_decode node_messages sim_ring peer_frames native_input)

cd "$(dirname "$0")/../fuzz"
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzzing needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
fi
if ! command -v cargo-fuzz >/dev/null; then
    nice -n 19 cargo install cargo-fuzz
fi
# No sanitizer: the crate is safe Rust, so AddressSanitizer finds nothing more
# and costs half the speed. -a keeps debug assertions and overflow checks on.
flags=(-s none -a)
nice -n 19 cargo +nightly fuzz build "${flags[@]}"

commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- ../src ../Cargo.toml fuzz_targets src Cargo.toml || echo +)
rows=()
found=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    log=$(mktemp)
    # -timeout: an input that runs 30 s is a finding (a hang), not a slow input.
    nice -n 19 cargo +nightly fuzz run "${flags[@]}" "$t" -- \
        -max_total_time="$seconds" -timeout=30 -print_final_stats=1 >"$log" 2>&1 || true
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
    execs=${execs:-0}
    corpus=$(find "corpus/$t" -type f | wc -l)
    new=$(( $(find "artifacts/$t" -type f | wc -l) - before ))
    if grep -q -e 'panicked at' -e 'ERROR: libFuzzer' "$log" && [ "$new" -eq 0 ]; then
        new=1  # a finding libFuzzer could not save
    fi
    if [ "$new" -gt 0 ]; then
        found=1
        grep -m1 -A3 -e 'panicked at' -e 'ERROR: libFuzzer' "$log" >&2 || true
    fi
    rows+=("$(printf '%-14s %12s %9s %8s %9s' "$t" "$execs" "$(( execs / seconds ))" "$corpus" "$new")")
    # date, target, seconds, executions, corpus size, new findings, the commit fuzzed (+ if the tree had changes)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$seconds" "$execs" "$corpus" "$new" "$commit" >>runs.tsv
    rm -f "$log"
done

printf '\n%-14s %12s %9s %8s %9s\n' target executions "exec/s" corpus findings
printf '%s\n' "${rows[@]}"
if [ "$found" -ne 0 ]; then
    echo "findings saved in fuzz/artifacts/" >&2
    exit 1
fi
