# zhidu — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/sh
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test test-only install install-test assets chromium serve worker messages clean bench bench-full wrk

run: install assets
	$(BIN)/zhidu run

test: install-test assets chromium test-only

test-only:
	$(BIN)/pytest $(PYTEST_ARGS)

$(BIN)/python:
	"$$(scripts/find-python)" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

src/zhidu/web/static/vendor/.copied: node_modules/.package-lock.json scripts/copy-assets.sh
	scripts/copy-assets.sh
	touch $@

assets: src/zhidu/web/static/vendor/.copied

# Debian's Chromium (and CJK fonts for readable screenshots) for the browser tests; installed only
# where we are root and they are missing.
chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/opentype/noto ]; then \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install chromium fonts-noto-cjk"; fi; \
	fi

serve: install assets
	$(BIN)/zhidu serve

worker: install
	$(BIN)/zhidu worker

# Benchmarks (bench/, docs/benchmarks.md): 10k and 100k customers on SQLite and PostgreSQL in under ten
# minutes; bench-full at a million. PostgreSQL: ZHIDU_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432).
bench: install-test assets wrk
	$(BIN)/python -m bench.run --scales 10k,100k $(BENCH_ARGS)

bench-full: install-test assets wrk
	$(BIN)/python -m bench.run --scales 1m --name 1m $(BENCH_ARGS)

# Debian's wrk for the HTTP throughput benchmark; installed only where we are root and it is missing.
wrk:
	@if ! command -v wrk >/dev/null; then \
	  if [ "$$(id -u)" = "0" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else echo "The HTTP benchmark needs Debian's wrk: sudo apt-get install wrk"; fi; \
	fi

clean:
	rm -rf $(VENV) node_modules src/zhidu/web/static/vendor

# Compile the English translations (.po → .mo, committed so a machine without gettext still has them).
messages:
	@for po in $$(find src/zhidu -path '*/locale/*/LC_MESSAGES/django.po'); do msgfmt --check-format -o "$${po%.po}.mo" "$$po" || exit 1; done
