# One entry point for building, testing and measuring. `make help` lists targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
BENCH_OUT ?= out/bench
SERVE_ADDR ?= 127.0.0.1:8080
# cargo install puts wasm-bindgen here; make it visible even if the login shell did not.
export PATH := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin:$(PATH)

.PHONY: help setup setup-wasm lint test test-native test-page test-wasm test-browser test-churn web server serve sim bench bench-report bench-sim bench-browser bench-files bench-browsers bench-heal bench-native paper fmt clippy clean fuzz

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

setup: ## Install everything: wasm target, wasm-bindgen-cli, Chromium + driver, npm packages; safe to repeat
	@./scripts/setup.sh

setup-wasm: ## Install only what the web build needs (wasm target, wasm-bindgen-cli)
	@./scripts/setup.sh wasm

test: setup lint test-native test-page test-wasm test-browser test-scale test-netlab ## All tests: lints, unit, property, simulator, CLI, page modules, wasm build, browser (wasm-bindgen + end-to-end, 32-tab stress), NAT lab
	@echo "make test: all green"

test-native: ## Native tests, release-optimised (the simulator tests need it)
	$(CARGO) test --release --workspace --all-targets
	$(CARGO) test --release --workspace --doc

test-page: ## Unit tests of the page's pure modules (www/*.js), node --test
	node --test tests/page/

test-wasm: ## The core must build for wasm32-unknown-unknown
	$(CARGO) build --release --lib --target wasm32-unknown-unknown

test-browser: setup web server ## Browser tests in headless Chromium, inside a loopback-only network namespace
	$(CARGO) test --release --target wasm32-unknown-unknown --test web_ring --no-run
	./scripts/loopback-only ./scripts/test-browser.sh

web: setup-wasm ## Build the browser bundle into www/pkg (fails if gzipped wasm + js > 256 KiB)
	@./scripts/build-web.sh

server: ## Build the signaling server and the native node (target/release/chord-signaling, chord-node)
	$(CARGO) build --release -p chord-signaling -p chord-node

serve: web server ## Build, then serve the page and signaling on http://$(SERVE_ADDR)/ (foreground)
	@echo "Open http://$(SERVE_ADDR)/"
	./target/release/chord-signaling --addr $(SERVE_ADDR) --www www

FUZZ_SECONDS ?= 60
fuzz: ## Fuzz each target (fuzz/) for FUZZ_SECONDS (60) under nice; table of executions, corpus, findings
	@./scripts/fuzz.sh $(FUZZ_SECONDS)

lint: ## rustfmt --check and clippy (warnings are errors), native and wasm32; make test runs it
	$(CARGO) fmt --all --check
	$(MAKE) --no-print-directory clippy

fmt: ## Format the Rust code (rustfmt.toml)
	$(CARGO) fmt --all

clippy: setup-wasm ## Lints (clippy, warnings are errors), native and wasm32
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	$(CARGO) clippy --release --lib --test web_ring --target wasm32-unknown-unknown -- -D warnings

sim: ## Build the simulator (run it with ./target/release/chord-sim --help)
	$(CARGO) build --release --features sim --bin chord-sim

bench: ## Every benchmark of BENCHMARKS.md, all of them even when one misses a target; then writes their ✓/✗ into BENCHMARKS.md and fails naming each miss; JSON in $(BENCH_OUT)/
	rc=0; \
	$(MAKE) --no-print-directory -k bench-sim bench-browser bench-files bench-heal bench-netlab bench-browsers bench-native || rc=1; \
	node scripts/bench-report.mjs --out $(BENCH_OUT) || rc=1; \
	exit $$rc

bench-report: ## Only the last step of make bench: the verdicts of the reports in $(BENCH_OUT)/ (and fuzz/runs.tsv) into BENCHMARKS.md
	node scripts/bench-report.mjs --out $(BENCH_OUT)

bench-sim: sim ## The simulator benchmarks; JSON in $(BENCH_OUT)/
	@./scripts/bench.sh $(BENCH_OUT)

bench-browser: setup web server ## The browser ring benchmark (8 tabs/2 processes, 16 tabs/4 processes, 3 runs each; fails on a missed target); $(BENCH_OUT)/browser.json, browser-16.json
	rc=0; \
	./scripts/loopback-only node tests/e2e/bench/ring-bench.mjs --tabs 8 --browsers 2 --runs 3 --out $(BENCH_OUT)/browser.json || rc=1; \
	./scripts/loopback-only node tests/e2e/bench/ring-bench.mjs --tabs 16 --browsers 4 --runs 3 --out $(BENCH_OUT)/browser-16.json || rc=1; \
	exit $$rc

test-scale: setup web server ## The 32-tab stress test (4 processes on 2 cores, 3 runs each in Chromium, Firefox and mixed; make test runs it too)
	rc=0; for b in chromium firefox mixed; do \
	  E2E_BROWSERS=$$b ./scripts/loopback-only node --test --test-timeout=1800000 tests/e2e/stress/scale.test.mjs || rc=1; \
	done; exit $$rc

test-churn: setup web server ## Only the churn end-to-end test (16 tabs, 4 processes; make test runs it too)
	./scripts/loopback-only node --test --test-timeout=450000 tests/e2e/churn.test.mjs

bench-heal: setup web server ## Partition heal: 8 tabs in two rings of 4 → one ring (target ≤ 10 s after they can reach each other); $(BENCH_OUT)/heal.json
	./scripts/loopback-only node tests/e2e/bench/heal-bench.mjs --tabs 8 --browsers 2 --runs 3 --out $(BENCH_OUT)/heal.json

# Both scripts run even if the first misses a target; the target fails if either did.
BROWSER_PAIRINGS ?= chromium-chromium,firefox-firefox,firefox-chromium
FILE_PAIRINGS ?= $(BROWSER_PAIRINGS),chromium-firefox
bench-browsers: setup web server ## Firefox and Chromium pairings in one run: join, 4 KiB get (8 tabs/2 processes), 16 MiB get / raw; fails on a missed target; $(BENCH_OUT)/browsers.json, files-browsers.json
	rc=0; \
	./scripts/loopback-only node tests/e2e/bench/ring-bench.mjs --pairings $(BROWSER_PAIRINGS) --tabs 8 --browsers 2 --runs 3 --out $(BENCH_OUT)/browsers.json || rc=1; \
	./scripts/loopback-only node tests/e2e/bench/file-bench.mjs --pairings $(FILE_PAIRINGS) --mib 16 --big-mib 0 --runs 3 --out $(BENCH_OUT)/files-browsers.json || rc=1; \
	if [ $$rc -ne 0 ]; then echo "make bench-browsers: a pairing missed a target or failed (MISSED / FAILED lines above)" >&2; fi; \
	exit $$rc

bench-files: setup web server ## File transfers: raw data channel vs chord get (16 MiB), 100 MiB round trip (fails on a missed target); $(BENCH_OUT)/files.json
	./scripts/loopback-only node tests/e2e/bench/file-bench.mjs --mib 16 --big-mib 100 --runs 3 --out $(BENCH_OUT)/files.json

bench-native: setup web server ## A native chord-node among 4 tabs (2 processes): idle VmRSS, node → tab 16 MiB get vs raw, cold start → joined (5 rounds / 5 starts; fails on a missed target); $(BENCH_OUT)/native.json
	$(CARGO) build --release -p chord-node
	./scripts/loopback-only node tests/e2e/bench/native-bench.mjs --runs 5 --starts 5 --out $(BENCH_OUT)/native.json

.PHONY: test-netlab bench-netlab test-scale
test-netlab: setup web server ## WebRTC through NATs, STUN and TURN (coturn) in a simulated internet (tests/netlab; root), a native node on its public host; logs in out/netlab/
	./tests/netlab/run.sh --timeout 1000 node --test --test-concurrency=1 --test-timeout=600000 tests/netlab/nat.test.mjs tests/netlab/native.test.mjs

bench-netlab: setup web server ## Ring over TURN in the NAT lab: joins, convergence, 16 MiB get vs raw relayed channel; $(BENCH_OUT)/netlab.json
	./tests/netlab/run.sh --timeout 600 node tests/netlab/bench.mjs --out $(BENCH_OUT)/netlab.json

paper: sim ## The Chord paper's experiments: SVG plots and a table in out/paper/
	./target/release/chord-sim paper --out out/paper

clean: ## Remove build output
	$(CARGO) clean
	rm -rf out www/pkg
