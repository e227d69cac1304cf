# The README's first two commands: `make demo` and `make test`.
# Each sets itself up from nothing but python3 and make.
# `make test PYTHON=python3.13 VENV=.venv313` runs the suite on another Python in its own venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ifeq ($(OS),Windows_NT)
BIN := $(VENV)/Scripts
endif
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test check lint format-check typecheck bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(STAMP)
	$(BIN)/mlc demo $(ARGS)

# `make test` holds the habits first: lint, format and types (configured in pyproject.toml).
test: check
	$(BIN)/python -m pytest $(ARGS)

check: lint format-check typecheck

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

format-check: $(TEST_STAMP)
	$(BIN)/ruff format --check .

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

bench: $(TEST_STAMP)
	$(BIN)/python -m bench $(ARGS)

soak: $(TEST_STAMP)
	MLC_SOAK=1 $(BIN)/python -m pytest tests -m slow $(ARGS)

clean:
	rm -rf $(VENV) .venv313 var .pytest_cache
