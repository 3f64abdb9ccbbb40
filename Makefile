# The two commands a newcomer needs: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
PORT ?= 5000

.PHONY: run test check bench demo build release dev setup format format-check lint clean

setup:
	@./scripts/setup

release: setup
	@cmake --preset release >/dev/null
	@cmake --build build/release -j$(JOBS)

dev:
	@./scripts/setup --test
	@cmake --preset dev >/dev/null
	@cmake --build build/dev -j$(JOBS)

build: dev

## Installs what is missing, builds the server (only), and serves http://127.0.0.1:$(PORT) on the embedded SQLite store.
run: setup
	@cmake --preset release >/dev/null
	@cmake --build build/release -j$(JOBS) --target gpuopt
	./build/release/src/server/gpuopt serve --port $(PORT)

## The server and three simulated GPU hosts reporting for a demo account (scenarios/demo.json).
demo: release
	@PORT=$(PORT) ./scripts/demo

## Installs what is missing, checks the format, builds with ASan + UBSan (warnings are errors), runs every test (two at a time).
test: dev format-check
	@cd build/dev && ctest --output-on-failure -j2 --timeout 900

## The unit tests alone, in parallel (no servers, no browser).
check: dev
	@cd build/dev && ctest --output-on-failure -L unit -j$(JOBS) --timeout 300

## Release build, then the benchmarks of bench/README.md: HTTP against nginx, the agent, analysis, ingest vs baseline, webhooks, PostgreSQL vs SQLite.
bench:
	@./scripts/setup --bench
	@cmake --preset release >/dev/null
	@cmake --build build/release -j$(JOBS)
	@./bench/http_bench.sh
	@./build/release/bench/agent_bench
	@./bench/analysis_bench.sh
	@./bench/ingest_compare.sh
	@./bench/webhook_bench.sh
	@./bench/postgres_bench.sh

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

## Fails when a C++ file differs from .clang-format (make format fixes it).
format-check:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

lint: dev
	@git ls-files 'src/*.cpp' | xargs clang-tidy -p build/dev --quiet

clean:
	rm -rf build
