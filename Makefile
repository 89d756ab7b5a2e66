# Two commands a new machine needs: `make run` and `make test`. Python 3.11+ is the only prerequisite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run serve test lint format bench install migrate demo check-migrations clean translations
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
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -o translations/messages.pot .
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

# Production settings under gunicorn (README, "Running in production"): AIXIN_ENV=production, migrations
# first, workers from WEB_CONCURRENCY or cores + 1, one background worker beside it. SECRET_KEY and
# ID_HASH_KEY come from the environment; any that is unset is generated once into $(SERVE_ENV_FILE)
# (mode 600) and reused on every later start, so sessions and stored ID-number hashes survive a restart.
SERVE_BIND ?= 127.0.0.1:8000
SERVE_ENV_FILE ?= instance/serve.env
serve: migrate
	@set -e; umask 077; \
	if [ -z "$$SECRET_KEY" ] || [ -z "$$ID_HASH_KEY" ]; then \
	  if [ ! -f $(SERVE_ENV_FILE) ]; then \
	    $(BIN)/python -c 'import secrets; print("SECRET_KEY=" + secrets.token_urlsafe(48)); print("ID_HASH_KEY=" + secrets.token_urlsafe(48))' > $(SERVE_ENV_FILE); \
	    echo "make serve: generated SECRET_KEY and ID_HASH_KEY into $(SERVE_ENV_FILE) (set them in the environment in a real deployment)"; \
	  fi; \
	  SECRET_KEY="$${SECRET_KEY:-$$(sed -n 's/^SECRET_KEY=//p' $(SERVE_ENV_FILE))}"; \
	  ID_HASH_KEY="$${ID_HASH_KEY:-$$(sed -n 's/^ID_HASH_KEY=//p' $(SERVE_ENV_FILE))}"; \
	fi; \
	export SECRET_KEY ID_HASH_KEY AIXIN_ENV=production; \
	workers="$${WEB_CONCURRENCY:-$$(( $$(nproc) + 1 ))}"; \
	if [ "$${SERVE_JOBS:-1}" != 0 ]; then \
	  $(BIN)/huey_consumer app.worker.huey --workers 2 --logfile instance/worker.log & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	fi; \
	echo "make serve: gunicorn, $$workers workers, on http://$(SERVE_BIND)"; \
	$(BIN)/gunicorn --workers "$$workers" --bind "$(SERVE_BIND)" --graceful-timeout 20 --no-control-socket $(GUNICORN_ARGS) 'app:create_app()'

test: $(STAMP) $(CATALOG).mo
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Ruff (lint and format check) and mypy over ledger/ and app/ (tests are linted too); CI runs it.
lint: $(STAMP)
	$(BIN)/ruff check app ledger tests config.py gunicorn.conf.py
	$(BIN)/ruff format --check app ledger tests config.py gunicorn.conf.py
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix app ledger tests config.py gunicorn.conf.py
	$(BIN)/ruff format app ledger tests config.py gunicorn.conf.py

check-migrations: $(STAMP)
	$(BIN)/alembic check

bench: migrate
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf $(VENV) instance/*.db*
