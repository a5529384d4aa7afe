# The two commands of the README: `make up` (the whole platform, locally) and `make test` (the whole suite).
# Both install what they need first: uv from PyPI when missing, then the locked workspace.

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
UV_VERSION := 0.13.8

.PHONY: up test lint pytest bootstrap browser clean

bootstrap:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	@$(UV) sync --locked --all-packages --quiet

up: bootstrap ## broker, database, catalog, routing, notify, three intakes and the sandbox SMS provider, until Ctrl-C
	$(UV) run mpp-up

test: lint pytest ## everything CI runs

lint: bootstrap
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy libs services bench
	$(UV) run mypy tests --allow-untyped-defs --allow-incomplete-defs --allow-any-generics --no-warn-return-any

browser: ## Debian's Chromium and its driver for the web's real-browser tests (installed when missing)
	@sh tests/web/install-browser.sh

pytest: bootstrap browser
	$(UV) run pytest

clean: ## forget the local broker's and database's data (.devstack/)
	rm -rf .devstack
