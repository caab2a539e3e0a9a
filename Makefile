# gridloop — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
# uv from PATH, or a private copy bootstrapped from PyPI into .tools/ on first use.
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)

# The web front end (web/): npm packages from package-lock.json, then one Vite build into
# web/dist, which the gateway serves. Rebuilt only when a source file changed.
WEB_SOURCES := $(shell find web/src web/public web/index.html web/console/index.html web/vite.config.ts web/tsconfig.json -type f 2>/dev/null)

.PHONY: help install web browser screenshots run test test-unit test-integration bench lint typecheck layers contracts contracts-check validate-deploy check clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.tools/bin/uv:
	@echo "uv not found on PATH: installing it from PyPI into .tools/"
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gridloop needs Python >= 3.11")'
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set (CI images often set
# it), every service process would otherwise compile its imports anew at each start (~4 s of
# CPU each).
install: $(UV)  ## install every package and tool into .venv (from uv.lock)
	$(UV) sync --all-packages --all-extras --locked --compile-bytecode --quiet
	.venv/bin/python -m compileall -q -j 0 libs/common/src services/*/src tools/src > /dev/null

web/node_modules/.package-lock.json: web/package-lock.json
	@command -v npm >/dev/null || { echo "the web front end needs Node.js 20 and npm"; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run --silent typecheck && npm run --silent build

web: web/dist/index.html  ## build the web front end (rider's app and staff console) into web/dist

# The browser tests drive the system's Chromium (Debian's package; Playwright's own download
# cannot be reached from every machine).
browser:  ## install Chromium for the browser tests (Debian's package) if it is missing
	@command -v chromium >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "no chromium and no apt-get: install Chromium and set GRIDLOOP_CHROMIUM"; exit 1; }; \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }
	@# Chinese text in screenshots needs a CJK font (else it renders as boxes).
	@fc-list :lang=zh 2>/dev/null | grep -q . || ! command -v apt-get >/dev/null || \
	  apt-get install -y -q fonts-noto-cjk >/dev/null || echo "no CJK font: screenshots will show boxes for Chinese"

screenshots: install web browser  ## refresh docs/screenshots: the browser tests, saving each main screen there
	GRIDLOOP_SCREENSHOTS_DIR=docs/screenshots $(UV) run pytest tests/browser -q

run: install web  ## start a broker, the four services and the web front end on :8000 (Ctrl-C stops)
	$(UV) run gridloop run

test: install web browser  ## run every test: unit, service, cross-service integration and browser
	$(UV) run pytest

test-unit: install  ## the fast tests only (no broker, no PostgreSQL)
	$(UV) run pytest libs/common/tests services tools/tests -m "not integration"

test-integration: install  ## the four services against a real broker, on SQLite and PostgreSQL
	$(UV) run pytest tests/integration

BENCH_ARGS ?=
bench: install  ## measure the loop on a stack of its own (PostgreSQL if it answers, else SQLite); BENCH_ARGS='--replicas 2 --record'
	$(UV) run gridloop bench --prefer-postgres --reports 1500 --concurrency 32 $(BENCH_ARGS)

lint: install  ## ruff lint and format check
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: install  ## mypy: strict over the runtime library; the services, the tools and every test
	$(UV) run mypy --strict -p common
	$(UV) run mypy -p reporting -p dispatch -p ledger -p notification -p gateway -p gridloop_tools
	@# one run per test tree: each has its own conftest module
	@for tree in libs/common/tests services/*/tests tools/tests tests; do \
	  echo "mypy $$tree"; $(UV) run mypy $$tree || exit 1; done

layers: install  ## the layer contracts (import-linter, [tool.importlinter] in pyproject.toml)
	$(UV) run lint-imports

contracts: install  ## regenerate docs/contracts (JSON Schema, AsyncAPI, OpenAPI)
	$(UV) run gridloop contracts

contracts-check: install  ## fail if docs/contracts differ from the code
	$(UV) run gridloop contracts --check

PROMTOOL := .tools/prometheus/usr/bin/promtool

# promtool from Debian's prometheus package, unpacked (not installed: no service is started).
$(PROMTOOL):
	@command -v apt-get >/dev/null || { echo "no apt-get: promtool checks will be skipped"; exit 0; }
	mkdir -p .tools/prometheus
	cd .tools/prometheus && apt-get download prometheus >/dev/null 2>&1 \
	  && dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb \
	  || echo "could not fetch Debian's prometheus package: promtool checks will be skipped"

validate-deploy: install $(PROMTOOL)  ## offline checks of compose, Kubernetes, Prometheus and Grafana files
	PATH="$(abspath $(dir $(UV))):$(abspath $(dir $(PROMTOOL))):$$PATH" bash deploy/validate.sh

check: lint layers typecheck contracts-check validate-deploy test  ## everything CI runs

clean:  ## remove local data, caches and the virtualenv
	rm -rf data .venv .tools .pytest_cache .mypy_cache .ruff_cache web/node_modules web/dist
