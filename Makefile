# pycrox: `make demo` runs the main job, `make test` the whole test suite. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt

# `make soak`: the long fuzz and kill runs (more mutated files per format, more kills per writer)
SOAK_FUZZ_MULTIPLIER ?= 10
SOAK_KILL_TRIALS ?= 60

.PHONY: soak demo test lint typecheck formats-table docs bench install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) ".[test,docs]"

demo: install
	$(BIN)/pycrox demo --out demo-output

LINTED := src adapters tests benchmarks examples docs/conf.py

test: install-test typecheck
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/python -m pytest tests --timeout=900 -p no:cacheprovider
	$(BIN)/python -m pytest --doctest-modules --pyargs pycrox pycrox.adapters -p no:cacheprovider -q

soak: install-test
	PYCROX_FUZZ_MULTIPLIER=$(SOAK_FUZZ_MULTIPLIER) PYCROX_KILL_TRIALS=$(SOAK_KILL_TRIALS) \
	$(BIN)/python -m pytest tests/test_fuzz.py tests/hardening/test_kill.py --timeout=0 -p no:cacheprovider -q

lint: install-test typecheck
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

# mypy on the installed (non-editable) package: mypy cannot see through an editable install
typecheck: install-test
	$(BIN)/mypy -p pycrox

formats-table: install
	$(BIN)/python -c "import re, pathlib; from pycrox import formats; p = pathlib.Path('README.md'); \
	p.write_text(re.sub(r'(?s)<!-- formats:start -->.*<!-- formats:end -->', \
	'<!-- formats:start -->\n' + formats.docs_table() + '\n<!-- formats:end -->', p.read_text()))"

docs: install-test
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

bench: install-test
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) docs/_build demo-output build *.egg-info
