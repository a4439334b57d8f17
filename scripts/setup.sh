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

# The NAT lab (tests/netlab, `make test-netlab`): iptables and coturn (Debian packages), only when
# missing. coturn's package would start its service; a policy-rc.d (exit 101) keeps it from
# starting while installing, and afterwards the service is stopped and disabled, so no turnserver
# is left running (the lab starts its own, inside its namespace).
netlab_tools() {
    local need=() sudo_=() policy=/usr/sbin/policy-rc.d made_policy=
    [ -x /usr/sbin/iptables ] || command -v iptables >/dev/null || need+=(iptables)
    command -v turnserver >/dev/null || need+=(coturn)
    [ ${#need[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then sudo_=(sudo); fi
    if ! command -v apt-get >/dev/null; then
        echo "setup: no apt-get; install ${need[*]} by hand for make test-netlab" >&2
        return 1
    fi
    echo "setup: apt-get install ${need[*]} (NAT lab)"
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# scripts/setup.sh: no service starts while installing\nexit 101\n' | "${sudo_[@]}" tee "$policy" >/dev/null
        "${sudo_[@]}" chmod 755 "$policy"
        made_policy=1
    fi
    "${sudo_[@]}" apt-get update -qq
    local rc=0
    DEBIAN_FRONTEND=noninteractive "${sudo_[@]}" apt-get install -y -qq "${need[@]}" || rc=$?
    if [ -n "$made_policy" ]; then "${sudo_[@]}" rm -f "$policy"; fi
    [ "$rc" -eq 0 ] || return "$rc"
    if [[ " ${need[*]} " == *" coturn "* ]]; then
        # Stop and disable the package's service, whichever manager runs it.
        if [ -d /run/systemd/system ]; then
            "${sudo_[@]}" systemctl disable --now coturn >/dev/null 2>&1 || true
        elif [ -x /etc/init.d/coturn ]; then
            "${sudo_[@]}" /etc/init.d/coturn stop >/dev/null 2>&1 || true
        fi
    fi
}
netlab_tools
# No turnserver may run outside the lab: the service's pid file names the one the package started.
for pidfile in /run/turnserver/turnserver.pid /var/run/turnserver.pid; do
    if [ -s "$pidfile" ] && pid=$(cat "$pidfile") && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = turnserver ]; then
        echo "setup: stopping the coturn service's turnserver (pid $pid)"
        kill "$pid" 2>/dev/null || true
    fi
done
if pgrep -x turnserver >/dev/null; then
    echo "setup: warning: a turnserver is running outside the NAT lab (pids $(pgrep -x turnserver | tr '\n' ' ')); stop it (service coturn stop)" >&2
fi
