# Earshot: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
URL    ?= http://127.0.0.1:8000

.PHONY: help install run demo test test-unit test-embedded bench proto lint clean

help:
	@echo "make run    start the whole platform on $(URL) (embedded: no servers, no keys)"
	@echo "make test   install and run every test tier"
	@echo "make demo   send the sample recordings to a running platform (or start one)"
	@echo "make bench  run the benchmarks (JSON on stdout)"
	@echo "make proto  regenerate gRPC stubs from proto/"
	@echo "make lint   ruff and mypy"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/earshot up

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --url $(URL)

test: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -q tests

test-unit: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -q tests/unit

test-embedded: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -q tests/embedded

bench: $(STAMP)
	$(BIN)/python benchmarks/temperature.py

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

lint: $(STAMP)
	$(BIN)/ruff check services tests benchmarks scripts
	$(BIN)/ruff format --check services tests benchmarks scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .earshot .mypy_cache .ruff_cache
