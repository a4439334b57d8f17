# One entry point for building, testing and measuring. `make help` lists targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
BENCH_OUT ?= out/bench

.PHONY: help setup test test-native test-wasm sim bench paper fmt clippy clean

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## Install what the build needs (wasm target); safe to repeat
	@./scripts/setup.sh

test: setup test-native test-wasm ## All tests: unit, property, simulator (1000 churn schedules), CLI, wasm build
	@echo "make test: all green"

test-native: ## Native tests, release-optimised (the simulator tests need it)
	$(CARGO) test --release --workspace --all-targets
	$(CARGO) test --release --workspace --doc

test-wasm: ## The core must build for wasm32-unknown-unknown
	$(CARGO) build --release --lib --target wasm32-unknown-unknown

clippy: ## Lints
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

sim: ## Build the simulator (run it with ./target/release/chord-sim --help)
	$(CARGO) build --release --bin chord-sim

bench: sim ## The simulator benchmarks of BENCHMARKS.md; JSON in $(BENCH_OUT)/
	@./scripts/bench.sh $(BENCH_OUT)

paper: sim ## The Chord paper's experiments: SVG plots and a table in out/paper/
	./target/release/chord-sim paper --out out/paper

clean: ## Remove build output
	$(CARGO) clean
	rm -rf out
