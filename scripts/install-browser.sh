#!/usr/bin/env bash
# Installs the browsers the tests drive, skipping what is already there:
#   Chromium and its WebDriver (Debian packages `chromium`, `chromium-driver`);
#   Firefox ESR (Debian `firefox-esr`) and geckodriver, built from crates.io with `cargo install`
#   at GECKODRIVER_VERSION (no prebuilt download can work here; TOOLCHAIN.md).
set -euo pipefail

sudo_=()
if [ "$(id -u)" -ne 0 ]; then sudo_=(sudo); fi

apt_install() {
    if ! command -v apt-get >/dev/null; then
        echo "install-browser: no apt-get; install $* by hand" >&2
        return 1
    fi
    echo "install-browser: apt-get install $*"
    "${sudo_[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_[@]}" apt-get install -y -qq "$@"
}

need=()
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || need+=(chromium chromium-driver)
[ -x /usr/bin/firefox-esr ] || need+=(firefox-esr)
if [ ${#need[@]} -gt 0 ]; then
    apt_install "${need[@]}"
fi
for f in /usr/bin/chromium /usr/bin/chromedriver /usr/bin/firefox-esr; do
    if [ ! -x "$f" ]; then echo "install-browser: $f still missing" >&2; exit 1; fi
done

GECKODRIVER_VERSION=0.37.1
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
if ! "$cargo_bin/geckodriver" --version 2>/dev/null | grep -q "^geckodriver $GECKODRIVER_VERSION"; then
    echo "install-browser: cargo install geckodriver $GECKODRIVER_VERSION (a few minutes)"
    cargo install --quiet geckodriver --version "$GECKODRIVER_VERSION"
fi
