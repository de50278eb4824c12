# `make run` and `make test` do every step on a fresh clone: nothing to install by hand.
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench lint install assets browser clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# The staff UI's styles and scripts: govuk-frontend and MoJ frontend from npm, pinned by
# package-lock.json, compiled with Sass into lending/web/static (generated, not committed).
NODE_STAMP := node_modules/.installed-stamp
ASSETS := lending/web/static/application.css

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $(NODE_STAMP)

$(ASSETS): $(NODE_STAMP) $(wildcard lending/web/assets/*)
	node lending/web/assets/build.mjs

assets: $(ASSETS)

install: $(STAMP) $(ASSETS)

# The web UI tests drive Debian's Chromium; nothing downloads a browser of its own.
browser:
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

run: install
	$(BIN)/lending db upgrade
	$(BIN)/lending demo --if-empty
	$(BIN)/lending serve

test: install browser
	$(BIN)/pytest -n 2 -q

bench: install
	$(BIN)/pytest tests/benchmarks -s -q -p no:randomly -o addopts=""

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info node_modules \
		lending/web/static/application.css lending/web/static/*.min.js \
		lending/web/static/govuk lending/web/static/moj tests/web/.axe.min.js
