# Two commands a new machine needs: `make run` and `make test`. Python 3.11+ is the only prerequisite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench install migrate demo check-migrations clean translations
CATALOG := translations/zh_Hans_CN/LC_MESSAGES/messages

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The compiled catalogue is built, not committed.
$(CATALOG).mo: $(CATALOG).po $(STAMP)
	$(BIN)/pybabel compile -d translations -D messages

# Re-extract the strings and merge them into the catalogue (then translate the new entries).
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -l zh_Hans_CN --no-fuzzy-matching

install: $(STAMP) $(CATALOG).mo

migrate: $(STAMP) $(CATALOG).mo
	mkdir -p instance
	$(BIN)/alembic upgrade head

# The background worker (imports, scheduled sweeps) runs beside the web server and stops with it.
run: migrate
	$(BIN)/flask --app app demo load
	@$(BIN)/huey_consumer app.worker.huey --workers 2 --logfile instance/worker.log & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/flask --app app run --host 127.0.0.1 --port 5000

test: $(STAMP) $(CATALOG).mo
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Ruff (lint and format check) and mypy over ledger/ and app/ (tests are linted too); CI runs it.
lint: $(STAMP)
	$(BIN)/ruff check app ledger tests config.py
	$(BIN)/ruff format --check app ledger tests config.py
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix app ledger tests config.py
	$(BIN)/ruff format app ledger tests config.py

check-migrations: $(STAMP)
	$(BIN)/alembic check

bench: migrate
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf $(VENV) instance/*.db*
