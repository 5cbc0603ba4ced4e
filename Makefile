# The two commands of the README: `make serve` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

PEERS := tests/fhir_server
PEERS_STAMP := $(PEERS)/node_modules/.installed

.PHONY: serve test bench slow-peers lint check-cards system-packages peers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/neutropenia-cds serve

lint: $(STAMP)
	$(BIN)/ruff check cds_service tests bench
	$(BIN)/mypy

check-cards: $(STAMP)
	$(BIN)/neutropenia-cds check-cards

# System packages the tests start -- redis-server (JWT replay cache), PostgreSQL (feedback store), nginx (the load
# balancer in front of three replicas), Node.js and npm (FHIR server and CDS client peers), Chromium (the review page
# and the patient handout, driven headless by Playwright; Liberation fonts, metric-compatible with the CDS Hooks
# Sandbox's, for the card heights) -- installed from Debian when missing. The tests start and
# stop them.
system-packages:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	[ -d /usr/share/fonts/truetype/liberation ] || missing="$$missing fonts-liberation"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get -o DPkg::Lock::Timeout=300 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq $$missing; \
	fi

# Real peers for the integration tests (Medplum's FHIR search engine and CDS Hooks client), from package-lock.json.
$(PEERS_STAMP): $(PEERS)/package.json $(PEERS)/package-lock.json | system-packages
	cd $(PEERS) && npm ci --no-audit --no-fund --loglevel=error
	touch $(PEERS_STAMP)

peers: $(PEERS_STAMP)

test: lint check-cards system-packages peers
	$(BIN)/pytest

# The benchmark: the service against a bare Flask floor under the same gunicorn settings (README, Performance).
bench: $(STAMP)
	command -v wrk >/dev/null || (apt-get -o DPkg::Lock::Timeout=300 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq wrk)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Slow clients and a slow FHIR server against `serve` as deployed: p50 and throughput of normal calls, alone and under them.
slow-peers: $(STAMP)
	$(BIN)/python bench/slow_peers.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache $(PEERS)/node_modules
