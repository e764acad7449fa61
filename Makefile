# pycrox: `make demo` runs the main job, `make test` the whole test suite. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt

.PHONY: demo test lint docs bench install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) ".[test,docs]"

demo: install
	$(BIN)/pycrox demo --out demo-output

test: install-test
	$(BIN)/ruff check src adapters tests benchmarks examples
	$(BIN)/python -m pytest tests --timeout=900 -p no:cacheprovider
	$(BIN)/python -m pytest --doctest-modules --pyargs pycrox pycrox.adapters -p no:cacheprovider -q

lint: install-test
	$(BIN)/ruff check src adapters tests benchmarks examples
	$(BIN)/ruff format --check src adapters tests benchmarks examples

docs: install-test
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: install-test
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) docs/_build demo-output build *.egg-info
