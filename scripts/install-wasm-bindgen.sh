#!/usr/bin/env bash
# Installs wasm-bindgen-cli (wasm-bindgen + wasm-bindgen-test-runner) at exactly the version of the
# `wasm-bindgen` crate in Cargo.lock: the CLI and the crate must match or the generated glue breaks.
# Skips the install when the right version is already on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# The version of the `[[package]] name = "wasm-bindgen"` entry (the line after its name).
want=$(awk '
    /^\[\[package\]\]/ { in_wb = 0 }
    /^name = "wasm-bindgen"$/ { in_wb = 1; next }
    in_wb && /^version = / { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock)
if [ -z "$want" ]; then
    echo "install-wasm-bindgen: no wasm-bindgen package in Cargo.lock" >&2
    exit 1
fi

have() { "$1" --version 2>/dev/null | awk '{print $2}'; }
if [ "$(have wasm-bindgen)" = "$want" ] && [ "$(have wasm-bindgen-test-runner)" = "$want" ]; then
    exit 0
fi
echo "install-wasm-bindgen: installing wasm-bindgen-cli $want (takes a few minutes)"
# No --locked: the CLI's own lockfile pins a crate version the registry mirror here lacks.
cargo install wasm-bindgen-cli --version "$want" --force
got=$(have wasm-bindgen)
if [ "$got" != "$want" ]; then
    echo "install-wasm-bindgen: expected wasm-bindgen $want on PATH, found '${got:-none}' ($(command -v wasm-bindgen || true))" >&2
    exit 1
fi
