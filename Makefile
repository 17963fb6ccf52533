# The two commands: `make demo` and `make test`. Both install what is missing first:
# Debian packages (as root, apt-get update before the first install) and a virtualenv in .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEBIAN_PACKAGES := keepalived nginx apache2 iptables nftables iproute2 procps psmisc python3 python3-venv prometheus-alertmanager openssl

.PHONY: demo test lint typecheck unit bench deps debian-deps clean

deps: debian-deps $(VENV)/.deps
	@# The project itself is reinstalled every time, not in editable mode: keepalived runs the
	@# installed console scripts, and an editable install's import hook costs kacheck ~20 ms.
	@# A build/ left by an older tree would carry deleted modules (the old kakit/lab) into the install.
	rm -rf build
	$(BIN)/pip install -q --no-deps --no-build-isolation --force-reinstall . >/dev/null

debian-deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# apache2 is only for the lab (one per namespace, lab/apache.py). Debian's package enables
	@# and starts a host-wide apache2 on port 80 where an init system lets it: stop and disable
	@# that one, the host must not serve anything (docs/architecture.md, "The lab").
	@if command -v systemctl >/dev/null && systemctl is-active --quiet apache2 2>/dev/null; then \
	    echo "stopping and disabling the host's apache2 (the lab runs its own)"; \
	    systemctl disable --now apache2 apache-htcacheclean >/dev/null 2>&1 || true; \
	elif [ -x /etc/init.d/apache2 ] && /etc/init.d/apache2 status >/dev/null 2>&1; then \
	    echo "stopping and disabling the host's apache2 (the lab runs its own)"; \
	    /etc/init.d/apache2 stop >/dev/null; update-rc.d apache2 disable >/dev/null 2>&1 || true; \
	fi

$(VENV)/.deps: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# pip >= 25 writes console-script wrappers without `import re` (5-6 ms per kacheck run,
	@# docs/benchmarks.md); Debian 12's pip 23 still imports it.
	$(BIN)/pip install -q --upgrade 'pip>=25' 'setuptools>=77' >/dev/null
	$(BIN)/pip install -q '.[test]'
	@touch $@

demo: deps
	$(BIN)/python -m lab.demo

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: deps
	$(BIN)/mypy

unit: deps
	$(BIN)/pytest

test: lint typecheck unit

bench: deps
	$(BIN)/python bench/kacheck_startup.py
	$(BIN)/python bench/kacheck_watch.py
	$(BIN)/python bench/kanotify_hooks.py
	$(BIN)/python bench/kanotify_delivery.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
