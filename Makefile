# The two first-screen commands of the README, and their parts.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup lint clean

## demo: set up, then run the main job on the embedded default (local vault + a scan)
demo: setup
	$(BIN)/python scripts/demo.py

## test: set up, start the services the tests need, run the whole suite
test: setup
	scripts/test.sh

## setup: create .venv and install the project with every extra and the dev tools
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

## lint: ruff (style), mypy --strict (types, config in pyproject.toml), import-linter (layers)
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist src/*.egg-info
