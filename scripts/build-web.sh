#!/usr/bin/env bash
# Builds the browser bundle into www/pkg: the wasm peer (`chord` crate, cdylib, wasm32) and its
# JavaScript glue (`wasm-bindgen --target web`), shrunk with `wasm-opt -Oz --converge` when a recent enough
# binaryen is installed (SKIP_WASM_OPT=1 skips it). Prints the gzipped size of chord_bg.wasm + chord.js and fails above the budget
# (WEB_GZIP_BUDGET bytes, default 256 KiB: 250 KiB until 2026-12-02, raised with NAT traversal — trickle ICE,
# ICE restarts, STUN/TURN configuration and path statistics took the bundle from 229.4 to 252.1 KiB).
# --converge (repeat -Oz until it gains nothing; 18 s instead of 11) took 1.1 KiB off on 2026-12-07, when
# the code-health work (one Input enum, bounded intake, error codes) had taken the bundle to 257.0 KiB.
#
# Needs the wasm32-unknown-unknown target and wasm-bindgen-cli at Cargo.lock's version
# (scripts/setup.sh installs both; `make web` runs it first).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
CARGO=${CARGO:-cargo}
OUT=www/pkg
BUDGET=${WEB_GZIP_BUDGET:-$((256 * 1024))}
WASM=target/wasm32-unknown-unknown/web/chord.wasm

command -v wasm-bindgen >/dev/null || { echo "build-web: wasm-bindgen not found; run scripts/install-wasm-bindgen.sh" >&2; exit 1; }

"$CARGO" build --profile web --lib --target wasm32-unknown-unknown -p chord

rm -rf "$OUT"
wasm-bindgen --target web --out-dir "$OUT" --out-name chord "$WASM"

# wasm-opt: $WASM_OPT, else the npm binaryen of scripts/tools (scripts/setup.sh installs it), else
# one on PATH. Binaryen before 116 is not used: Debian 12's 108 rewrites wasm-bindgen's externref
# table so that the page fails at start ("WebAssembly.Table.set(): Argument 1 is invalid").
MIN_BINARYEN=116
wasm_opt=${WASM_OPT:-}
if [ -z "$wasm_opt" ]; then
    if [ -x scripts/tools/node_modules/.bin/wasm-opt ]; then
        wasm_opt=scripts/tools/node_modules/.bin/wasm-opt
    else
        wasm_opt=$(command -v wasm-opt || true)
    fi
fi
binaryen=0
if [ -n "$wasm_opt" ]; then
    binaryen=$("$wasm_opt" --version 2>/dev/null | sed -n 's/^wasm-opt version \([0-9]*\).*/\1/p')
    binaryen=${binaryen:-0}
fi
if [ -n "${SKIP_WASM_OPT:-}" ]; then
    echo "build-web: SKIP_WASM_OPT set; bundle not optimised"
elif [ -z "$wasm_opt" ]; then
    echo "build-web: no wasm-opt (scripts/setup.sh installs one into scripts/tools); bundle not optimised"
elif [ "$binaryen" -lt "$MIN_BINARYEN" ]; then
    echo "build-web: $wasm_opt is binaryen $binaryen (< $MIN_BINARYEN, breaks externref tables); bundle not optimised"
else
    start=$SECONDS
    # The features rustc's default wasm32 CPU enables; wasm-bindgen drops the section that lists them.
    if "$wasm_opt" -Oz --converge --strip-debug --strip-producers \
        --enable-bulk-memory --enable-multivalue --enable-mutable-globals \
        --enable-nontrapping-float-to-int --enable-reference-types --enable-sign-ext \
        "$OUT/chord_bg.wasm" -o "$OUT/chord_bg.opt.wasm"; then
        mv "$OUT/chord_bg.opt.wasm" "$OUT/chord_bg.wasm"
        echo "build-web: wasm-opt -Oz --converge (binaryen $binaryen) applied in $((SECONDS - start)) s"
    else
        rm -f "$OUT/chord_bg.opt.wasm"
        echo "build-web: wasm-opt failed; keeping the unoptimised module" >&2
    fi
fi

gz() { gzip -9 -c "$1" | wc -c; }
wasm_raw=$(wc -c <"$OUT/chord_bg.wasm"); wasm_gz=$(gz "$OUT/chord_bg.wasm")
js_raw=$(wc -c <"$OUT/chord.js"); js_gz=$(gz "$OUT/chord.js")
total=$((wasm_gz + js_gz))
printf 'build-web: %-14s %8d bytes, %8d gzipped\n' chord_bg.wasm "$wasm_raw" "$wasm_gz" chord.js "$js_raw" "$js_gz"
printf 'build-web: total gzipped %d bytes (%d.%d KiB); budget %d bytes\n' \
    "$total" $((total / 1024)) $(((total % 1024) * 10 / 1024)) "$BUDGET"
if [ "$total" -gt "$BUDGET" ]; then
    echo "build-web: FAIL: the gzipped bundle exceeds the budget by $((total - BUDGET)) bytes" >&2
    exit 1
fi
