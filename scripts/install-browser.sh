#!/usr/bin/env bash
# Installs headless-capable Chromium and its WebDriver (Debian packages `chromium`, `chromium-driver`)
# when /usr/bin/chromium or /usr/bin/chromedriver is missing. Skips what is already there.
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

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    apt_install chromium chromium-driver
fi
for f in /usr/bin/chromium /usr/bin/chromedriver; do
    if [ ! -x "$f" ]; then echo "install-browser: $f still missing" >&2; exit 1; fi
done
