# Two commands a new machine needs: `make run` and `make test`. Python 3.11+ is the only prerequisite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench install migrate demo check-migrations clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	mkdir -p instance
	$(BIN)/alembic upgrade head

run: migrate
	$(BIN)/flask --app app demo load
	$(BIN)/flask --app app run --host 127.0.0.1 --port 5000

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check-migrations: $(STAMP)
	$(BIN)/alembic check

bench: migrate
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf $(VENV) instance/*.db*
