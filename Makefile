# Berth: `make run` starts the service on its embedded defaults; `make test` installs what the tests need and runs them.
SHELL := /bin/bash
RUN_DIR := .run

# Every target runs on one node: the machine's when it is Node >= 22.18, else Node 24 LTS fetched from the npm
# registry into .tools/ (scripts/node-toolchain.sh). Its bin/ goes first on PATH, so npm, tsc, the tests, the
# benchmarks and `make run` all use it, and node-gyp would build any native addon against its headers.
NODE_BIN := $(shell bash scripts/node-toolchain.sh)
ifeq ($(NODE_BIN),)
$(error no usable Node.js (see the message above))
endif
export PATH := $(NODE_BIN):$(PATH)
ifneq ($(wildcard $(NODE_BIN)/../include/node/node.h),)
export npm_config_nodedir := $(abspath $(NODE_BIN)/..)
endif
TEST_FILES = $(shell find test vault-dev/test -name '*.test.ts' 2>/dev/null | sort)

.PHONY: install build run vault-dev test typecheck test-deps bench clean

install: node_modules/.install-stamp
node_modules/.install-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: install
	npx tsc -p tsconfig.build.json
	node dist/src/contract/write-contract-json.js
	@chmod +x dist/src/cli/main.js

typecheck: install
	npx tsc --noEmit -p tsconfig.json

# The admin token lives in .run/admin-token (made once, mode 600) so every `make run` can print how to call Berth.
# `make run SITE=a [LABELS=region=eu]`: a site following that tower, all of it under .run/sites/a/ (scripts/run-site.sh).
run: build
	@mkdir -p $(RUN_DIR) && chmod 700 $(RUN_DIR)
	@[ -s $(RUN_DIR)/admin-token ] || (umask 077; echo "berth-admin-$$(openssl rand -hex 20)" > $(RUN_DIR)/admin-token)
	@[ -s $(RUN_DIR)/vault-root-token ] || (umask 077; echo "vault-root-$$(openssl rand -hex 16)" > $(RUN_DIR)/vault-root-token)
	@if [ -n "$(SITE)" ]; then bash scripts/run-site.sh "$(SITE)" "$(LABELS)"; else bash scripts/run.sh; fi

# vault-dev on its own, as `vault server` takes flags: make vault-dev ARGS="--dev" (default) or ARGS="--data-dir=DIR".
vault-dev: build
	node dist/vault-dev/src/main.js server $(or $(ARGS),--dev)

test-deps:
	@bash scripts/install-test-deps.sh

# Tests start Berth and vault-dev from dist/ (test/helpers/built.ts), so the build comes first.
test: install test-deps typecheck build
	@echo "node $$(node --version) from $(NODE_BIN)"
	node --import tsx --test --test-concurrency=2 --test-timeout=300000 $(TEST_FILES)

# Every benchmark in turn, then one table of every figure beside its goal (bench/summary.ts). About 10 minutes.
bench: build test-deps
	node --import tsx bench/summary.ts

clean:
	rm -rf dist node_modules/.install-stamp
