# shadowcat — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
NPM_STAMP := node_modules/.package-lock.json

.PHONY: install build binary test test-only run bench profile cost-split instructions clean

# npm ci only when the lockfile changed since the last install.
$(NPM_STAMP): package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $(NPM_STAMP)

install: $(NPM_STAMP)

# dist/ is made anew: npm pack ships all of it, so nothing stale may stay behind.
build: install
	rm -rf dist
	npx tsc -p tsconfig.json
	chmod +x dist/cli.js

# One executable with Node inside (Node's single executable applications): dist/bin/shadowcat.
binary: build
	node tools/build-binary.mjs

test: build binary
	rm -rf build-test
	npx tsc -p test/tsconfig.json
	node tools/run-tests.mjs

# Tests only, without reinstalling or rebuilding src (for quick iteration).
test-only:
	npx tsc -p test/tsconfig.json
	node tools/run-tests.mjs $(FILTER)

# Started for speed (README, "Running it for speed"): single-threaded GC, glibc keeps freed heap.
# `make run PORT=8081 ADMIN_PORT=9091` when 8080 or 9090 is taken.
PORT ?= 8080
ADMIN_PORT ?= 9090
run: build
	GLIBC_TUNABLES=glibc.malloc.trim_threshold=33554432 node --single-threaded-gc dist/cli.js forward http --port $(PORT) --multi-session --admin-port $(ADMIN_PORT)

bench: build
	npx tsc -p test/tsconfig.json
	bash native-bench/run.sh

profile: build
	bash native-bench/profile.sh

# Proxy CPU per request by layer (kernel, V8, node streams, shadowcat JS), beside a socket pipe; needs perf.
cost-split: build
	bash native-bench/ensure-tools.sh
	node native-bench/cost-split.mjs

# Scenario (b)'s user-space instructions per request of each target under callgrind (repeatable where req/s is not); needs valgrind.
instructions: build
	node native-bench/instructions.mjs

clean:
	rm -rf dist build-test build-binary native-bench/.work
