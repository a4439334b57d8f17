#!/usr/bin/env bash
# Runs COMMAND inside the NAT lab (tests/netlab/README.md):
#   tests/netlab/run.sh [--timeout SECONDS] COMMAND [ARGS...]
# e.g. tests/netlab/run.sh node --test tests/netlab/nat.test.mjs
#
# As root it re-executes itself in ONE fresh `unshare --net --mount --pid --fork --mount-proc
# --kill-child` namespace (bounded by `timeout -k 5`), mounts a private tmpfs on /run (so
# `ip netns add` writes nothing on the host), builds the lab (lab.sh), runs COMMAND with the
# lab's environment, and tears it down. Every process started inside dies with the namespace.
# Build first, outside (`make web server`): there is no network in here.
set -uo pipefail
cd "$(dirname "$0")/../.."
TIMEOUT=${NETLAB_TIMEOUT:-900}
if [ "${1:-}" = --timeout ]; then TIMEOUT=$2; shift 2; fi
if [ $# -eq 0 ]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

if [ "${NETLAB_INSIDE:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "netlab: needs root (network namespaces, iptables)" >&2
        exit 2
    fi
    for tool in unshare ip iptables turnserver timeout; do
        command -v "$tool" >/dev/null || { echo "netlab: $tool not found (make setup installs iptables and coturn)" >&2; exit 2; }
    done
    export NETLAB_INSIDE=1
    exec timeout -k 5 "$TIMEOUT" unshare --net --mount --pid --fork --mount-proc --kill-child \
        "$0" --timeout "$TIMEOUT" "$@"
fi

# Inside: a private /run first (ip netns keeps its handles in /run/netns).
mount --make-rprivate / 2>/dev/null
mount -t tmpfs -o mode=755 tmpfs /run || { echo "netlab: cannot mount a tmpfs on /run" >&2; exit 2; }
mkdir -p /run/netns /run/netlab
touch /run/.netlab
# shellcheck source=lab.sh
. tests/netlab/lab.sh
mkdir -p out/netlab
if ! lab_up >out/netlab/lab-up.log 2>&1; then
    echo "netlab: building the lab failed:" >&2
    cat out/netlab/lab-up.log >&2
    exit 2
fi
# Per host, a wrapper playwright can use as Chromium's executablePath, and one puppeteer can use as
# Firefox's (lib/firefox-netns.mjs: Firefox in the host, its BiDi WebSocket bridged to this namespace).
for h in "${LAB_HOSTS[@]}"; do
    printf '#!/bin/sh\nexec ip netns exec %s /usr/lib/chromium/chromium "$@"\n' "$h" >"/run/netlab/chromium-$h"
    printf '#!/bin/sh\nexec %s %s %s /usr/lib/firefox-esr/firefox-esr "$@"\n' \
        "$(command -v node)" "$PWD/tests/netlab/lib/firefox-netns.mjs" "$h" >"/run/netlab/firefox-$h"
    chmod +x "/run/netlab/chromium-$h" "/run/netlab/firefox-$h"
done
export NETLAB_RUN=/run/netlab NETLAB_PUB=$LAB_PUB NETLAB_HOSTS="${LAB_HOSTS[*]}"
"$@"
status=$?
lab_down
exit "$status"
