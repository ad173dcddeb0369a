# Berth: `make run` starts the service on its embedded defaults; `make test` installs what the tests need and runs them.
SHELL := /bin/bash
RUN_DIR := .run
TEST_FILES = $(shell find test vault-dev/test -name '*.test.ts' 2>/dev/null | sort)

.PHONY: install build run vault-dev test typecheck test-deps bench clean

install: node_modules/.install-stamp
node_modules/.install-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

build: install
	npx tsc -p tsconfig.build.json
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

test: install test-deps typecheck
	node --import tsx --test --test-concurrency=2 --test-timeout=300000 $(TEST_FILES)

bench: build test-deps
	@for b in bench/*.bench.ts; do echo "== $$b"; node --import tsx $$b || exit 1; done

clean:
	rm -rf dist node_modules/.install-stamp
