#!/usr/bin/env bash
# The browser tests, run INSIDE scripts/loopback-only after everything was built outside it
# (`make test-browser` does both):
#   1. the wasm-bindgen tests (tests/web_ring.rs) in headless Chromium and in headless Firefox ESR
#      (geckodriver) via wasm-bindgen-test-runner,
#      against a signaling server on 127.0.0.1:8090 (the port the tests expect);
#   2. the end-to-end tests (tests/e2e/*.test.mjs, node --test), which start their own servers
#      (types.test.mjs among them: the .d.ts checked with tsc against a real peer);
#      the longest is churn.test.mjs (~3 min);
#   3. the suites that take any browser (ring, files, split, two-servers, tab-life, churn) again
#      with Firefox ESR only and with mixed Chromium/Firefox rings (native-tabs with mixed rings only).
# The 32-tab stress test (tests/e2e/stress/) is not part of it: `make test-scale` runs it on its
# own in all three ways (`make test` runs both).
# All run even if one fails; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
CARGO=${CARGO:-cargo}
SERVER=target/release/chord-signaling
PORT=${WEB_RING_PORT:-8090}
LOG_DIR=out/test-browser
mkdir -p "$LOG_DIR"

if [ "$(ip -o link show | wc -l)" -ne 1 ]; then
    echo "test-browser: run me inside scripts/loopback-only (found interfaces besides lo)" >&2
    exit 2
fi

server_pid=
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=
    fi
}
trap stop_server EXIT

status=0

# 1. wasm-bindgen tests against the server on :$PORT.
RUST_LOG=${RUST_LOG:-info} "$SERVER" --addr "127.0.0.1:$PORT" --www www --grace 1 >"$LOG_DIR/server-$PORT.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    curl -fsS --max-time 1 "http://127.0.0.1:$PORT/stats" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if ! curl -fsS --max-time 1 "http://127.0.0.1:$PORT/stats" >/dev/null; then
    echo "test-browser: the signaling server did not come up on 127.0.0.1:$PORT:" >&2
    cat "$LOG_DIR/server-$PORT.log" >&2
    status=1
else
    # webdriver.json (crate root) carries the Chromium flags and the Firefox prefs; the runner
    # adds headless itself. The runner picks the browser from the driver variable it finds.
    GECKODRIVER_BIN=${GECKODRIVER:-${CARGO_HOME:-$HOME/.cargo}/bin/geckodriver}
    for browser in chromium firefox; do
        echo "test-browser: wasm tests (tests/web_ring.rs) in headless $browser"
        start=$SECONDS
        if [ "$browser" = chromium ]; then
            driver=(CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}")
        else
            driver=(GECKODRIVER="$GECKODRIVER_BIN")
        fi
        if env -u CHROMEDRIVER -u GECKODRIVER "${driver[@]}" \
            CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
            WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-90} \
            "$CARGO" test --offline --release --target wasm32-unknown-unknown --test web_ring; then
            echo "test-browser: wasm tests in $browser passed ($((SECONDS - start)) s)"
        else
            echo "test-browser: wasm tests in $browser FAILED ($((SECONDS - start)) s); server log: $LOG_DIR/server-$PORT.log" >&2
            status=1
        fi
    done
    echo "test-browser: server stats: $(curl -fsS --max-time 1 "http://127.0.0.1:$PORT/stats" || echo unavailable)"
fi
stop_server

# 2. End-to-end tests: real server, several Chromium processes (playwright-core), and the
#    Firefox/Chromium suites (firefox.test.mjs, page.test.mjs; puppeteer-core for Firefox ESR).
echo "test-browser: end-to-end tests (tests/e2e)"
start=$SECONDS
if node --test --test-concurrency=1 --test-timeout=450000 tests/e2e/*.test.mjs; then
    echo "test-browser: end-to-end tests passed ($((SECONDS - start)) s)"
else
    echo "test-browser: end-to-end tests FAILED ($((SECONDS - start)) s); page and server logs in out/e2e/" >&2
    status=1
fi

# 3. The suites that take any browser, again with Firefox ESR only and with mixed
#    Chromium/Firefox rings (issue 14; E2E_BROWSERS, tests/e2e/lib/browser.mjs), churn among
#    them (a Firefox tab is crashed by SIGKILL of its own content process and frozen by SIGSTOP,
#    lib/churn.mjs): Firefox churn passed 2 of 2 runs on 2026-12-02, mixed churn 5 of 5 on
#    2026-12-07 (survivors' ring 6.9–8.6 s after the kill, target 10 s).
#    tab-life runs in both modes: the page leaves on beforeunload, whose hand-over Firefox
#    delivers (8 of 8 runs in each mode on 2026-12-07; from pagehide alone 3 of 6).
#    native-tabs (a chord-node among the tabs; its str0m links open with Firefox as with
#    Chromium) runs with mixed rings only: 3 of 3 runs on 2026-12-07 (~130 s a run). With Firefox
#    only it passed 9 of 10: once a 2 MiB put from a Firefox tab, whose primary was the other
#    Firefox tab and a replica the just-restarted node, failed `primary_gone` (not yet explained).
for mode in firefox mixed; do
    echo "test-browser: end-to-end tests with E2E_BROWSERS=$mode"
    start=$SECONDS
    suites=(tests/e2e/ring.test.mjs tests/e2e/files.test.mjs tests/e2e/split.test.mjs tests/e2e/two-servers.test.mjs tests/e2e/tab-life.test.mjs tests/e2e/churn.test.mjs)
    if [ "$mode" = mixed ]; then suites+=(tests/e2e/native-tabs.test.mjs); fi
    if E2E_BROWSERS=$mode node --test --test-concurrency=1 --test-timeout=450000 "${suites[@]}"; then
        echo "test-browser: end-to-end tests with $mode passed ($((SECONDS - start)) s)"
    else
        echo "test-browser: end-to-end tests with $mode FAILED ($((SECONDS - start)) s); logs in out/e2e/" >&2
        status=1
    fi
done

exit "$status"
