#!/usr/bin/env bash
# Installs what building and testing need, skipping what is already there.
set -euo pipefail
if ! command -v cargo >/dev/null; then
    echo "setup: cargo not found; install Rust from https://rustup.rs first" >&2
    exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    echo "setup: adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi
