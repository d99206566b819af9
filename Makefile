# Two commands on a fresh machine:
#   make drill   install what is missing, boot the embedded cluster if needed, run drills/, write the report
#   make test    install what is missing, run the project's own checks and tests (unit + integration)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
KUBEDRILL := $(VENV)/bin/kubedrill
PYTEST := $(VENV)/bin/pytest
REPORTS ?= reports
PYTEST_ARGS ?=
# Debian packages the embedded cluster runs (Prometheus and HAProxy) or needs (namespaces, iptables, sshd, and
# sudo for the ssh tests' non-root user), and the headless browser the report's test opens it in.
APT_PACKAGES := iproute2 util-linux iptables nftables haproxy keepalived prometheus openssh-server sudo procps chromium chromium-driver
# Tools whose absence means the packages above are missing.
APT_PROBES := ip unshare iptables nft haproxy keepalived prometheus sshd sudo chromium chromedriver

.PHONY: help deps deps-system deps-python deps-node binaries lint test test-unit test-integration drill report up down status clean bench mutation kind kind-down

help:
	@echo "make drill   boot the embedded cluster (if needed), run drills/, write the Allure report under $(REPORTS)/"
	@echo "make test    lint, type-check, unit and integration tests (boots the embedded cluster)"
	@echo "make up|down|status   the embedded cluster"
	@echo "make kind    the kind cluster of ci/ (3+3 nodes, Prometheus inside), with a Docker engine started if none answers"
	@echo "make kind-down   delete it, kind's network and the engine kubedrill started (node images stay cached)"
	@echo "make mutation   mutation testing of the pure modules (mutmut, one worker, ~5 min): killed mutants per module"

deps: deps-system deps-python deps-node

deps-system:
	@missing=""; for t in $(APT_PROBES); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "[make] installing Debian packages (missing:$$missing)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi
	@# Debian's packages start nothing by themselves here, but make sure no packaged instance holds our ports.
	@for s in prometheus haproxy keepalived ssh; do (systemctl stop $$s >/dev/null 2>&1 || service $$s stop >/dev/null 2>&1 || true); done

deps-python: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	@echo "[make] creating $(VENV) and installing pinned Python dependencies"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip==25.3
	@$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	@touch $@

deps-node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@echo "[make] installing the Allure 3 CLI (npm)"
	@npm ci --no-audit --no-fund --silent
	@touch $@

binaries: deps-python
	@$(KUBEDRILL) build >/dev/null

lint: deps-python
	$(VENV)/bin/ruff check src tests drills conftest.py bench
	$(VENV)/bin/ruff format --check src tests drills conftest.py bench
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test-unit: deps-python
	$(PYTEST) tests/unit -q $(PYTEST_ARGS)

test-integration: deps binaries
	$(PYTEST) tests/integration -v $(PYTEST_ARGS)

test: lint deps binaries
	$(PYTEST) tests -v -p no:cacheprovider $(PYTEST_ARGS)

up: deps binaries
	@# Up means its supervisor runs; a momentarily unhealthy target is not a reason to start it again.
	@$(PY) -c "from kubedrill.local.lifecycle import is_up; raise SystemExit(0 if is_up() else 1)" || $(KUBEDRILL) up

kind: deps binaries
	@$(KUBEDRILL) up --provider kind

kind-down: deps-python
	@$(KUBEDRILL) down --provider kind

down: deps-python
	@$(KUBEDRILL) down

status: deps-python
	@$(KUBEDRILL) status

# The embedded cluster `make drill` boots is disposable, so its run includes the quorum_loss drills
# (quorum loss, restore). Against any other cluster run pytest yourself and select them explicitly.
DRILL_ARGS ?= --allow-quorum-loss

drill: deps binaries up
	@mkdir -p $(REPORTS)
	@rc=0; $(PYTEST) drills/ $(DRILL_ARGS) --alluredir=$(REPORTS)/allure-results --clean-alluredir \
	  --junitxml=$(REPORTS)/junit.xml $(PYTEST_ARGS) || rc=$$?; \
	$(KUBEDRILL) report --results $(REPORTS)/allure-results --output $(REPORTS)/allure-report; \
	exit $$rc

report: deps
	@$(KUBEDRILL) report --results $(REPORTS)/allure-results --output $(REPORTS)/allure-report

# Every benchmark of BENCHMARKS.md, one after another (about 65 min); each prints its figures. Issue 19's
# runs: the prober's load at 5/s beside the default 10/s, the suite against its floor (all but paged), the
# outage compared on one API server, and two drills' wall time by function.
bench: deps binaries up
	@for b in outage leader_detection prober_load ctk suite memory up; do echo "== bench/bench_$$b.py"; \
	  $(PY) bench/bench_$$b.py || exit 1; done
	@echo "== bench/bench_prober_load.py --rate 5"; \
	  $(PY) bench/bench_prober_load.py --rate 5 --states "off,writes,reads,drill (all)" || exit 1
	@echo "== bench/bench_suite.py --select all-but-paged"; $(PY) bench/bench_suite.py --select all-but-paged
	@echo "== bench/bench_ctk.py --direct cp-1 --rounds 10"; $(PY) bench/bench_ctk.py --direct cp-1 --rounds 10
	@echo "== bench/bench_profile.py (quorum loss, leader kill)"; \
	  $(PY) bench/bench_profile.py -k test_api_refuses_writes_without_quorum --allow-quorum-loss && \
	  $(PY) bench/bench_profile.py -k test_api_stays_available_when_the_etcd_leader_is_killed

# Mutation testing of the pure modules (BENCHMARKS.md §9): mutmut from a clean mutants/, then the share of
# mutants the unit tests kill, per module, and every one that survived (bench/mutation_score.py --no-run --show).
mutation: deps-python
	@$(PY) bench/mutation_score.py

clean:
	rm -rf $(REPORTS)/allure-results $(REPORTS)/allure-report $(REPORTS)/junit.xml
