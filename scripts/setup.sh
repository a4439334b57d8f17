#!/usr/bin/env bash
# Installs what building and testing need, skipping what is already there:
#   the wasm32-unknown-unknown target, wasm-bindgen-cli at Cargo.lock's version, binaryen's
#   wasm-opt (npm, scripts/tools), Chromium + chromedriver (apt), playwright-core (npm, tests/e2e).
# `scripts/setup.sh wasm` installs only what `make web` needs (no browser, no playwright).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! command -v cargo >/dev/null; then
    echo "setup: cargo not found; install Rust from https://rustup.rs first" >&2
    exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "setup: adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi
./scripts/install-wasm-bindgen.sh

have_node() {
    command -v node >/dev/null && command -v npm >/dev/null &&
        [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]
}
# npm ci only when the installed packages differ from the lockfile (npm ci wipes node_modules).
npm_ci() {
    if ! cmp -s "$1/package-lock.json" "$1/node_modules/.setup-lock.json" 2>/dev/null; then
        echo "setup: npm ci in $1"
        (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
        cp "$1/package-lock.json" "$1/node_modules/.setup-lock.json"
    fi
}

# binaryen's wasm-opt for scripts/build-web.sh (Debian 12's binaryen 108 breaks the bundle).
if have_node; then
    npm_ci scripts/tools
elif [ "${1:-}" = wasm ]; then
    echo "setup: no node >= 20; the web bundle will not be wasm-opt'ed" >&2
fi
if [ "${1:-}" = wasm ]; then exit 0; fi

./scripts/install-browser.sh
if ! have_node; then
    echo "setup: node >= 20 and npm are needed for the end-to-end tests (found: $(node --version 2>/dev/null || echo none))" >&2
    exit 1
fi
npm_ci tests/e2e  # playwright-core, to drive Chromium from the end-to-end tests
