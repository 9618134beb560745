# Development and CI entry points. `make help` lists them.

VENV        := .venv
PY          := $(VENV)/bin/python
VENV_STAMP  := $(VENV)/.installed
PORT        ?= 8000
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv run test lint format clean

help:
	@echo "make venv    create .venv and install the project with its dev extras"
	@echo "make run     migrate, seed demo data, serve http://127.0.0.1:$(PORT)/admin/ + a qcluster worker"
	@echo "make test    the whole suite on SQLite, then on a throwaway PostgreSQL (PYTEST_ARGS=...)"
	@echo "make lint    ruff check, ruff format --check and mypy"
	@echo "make format  ruff format and ruff check --fix"
	@echo "make clean   remove test artefacts and caches (keeps .venv and var/db.sqlite3)"

venv: $(VENV_STAMP)

# Re-installs only when pyproject.toml changes (or the venv is new).
$(VENV_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: export DEBUG := true
run: $(VENV_STAMP)
	mkdir -p var
	$(PY) manage.py migrate --noinput
	# The demo's history goes to the development mailbox, as run_platform.py's
	# emails do, unless EMAIL_URL or EMAIL_BACKEND says otherwise.
	$(if $(EMAIL_URL)$(EMAIL_BACKEND),,EMAIL_BACKEND=emails.mailbox.MailboxBackend) $(PY) manage.py seed_demo
	$(PY) scripts/run_platform.py --port $(PORT)

test: $(VENV_STAMP)
	bash scripts/ensure_system_deps.sh
	$(PY) scripts/run_test_suites.py $(PYTEST_ARGS)

# mypy's Django plugin loads config.settings, which wants DEBUG (or a SECRET_KEY).
lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true SECRET_KEY=mypy-only-insecure-key $(VENV)/bin/mypy .

format: $(VENV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var/test-artifacts var/test.sqlite3 var/test.sqlite3-* .pytest_cache .ruff_cache .mypy_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
