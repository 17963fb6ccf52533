# The two commands: `make demo` and `make test`. Both install what is missing first:
# Debian packages (as root, apt-get update before the first install) and a virtualenv in .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# make install: where keepalived finds the tools (README.md, "Install").
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib/kakit
# Debian's own interpreter: root-owned and runnable by every user, unlike a pyenv under /root.
SYSTEM_PYTHON ?= /usr/bin/python3
# A directory of wheels (make wheelhouse) to install from without an index.
WHEELHOUSE ?=
PIP_SOURCE := $(if $(WHEELHOUSE),--no-index --find-links $(abspath $(WHEELHOUSE)))
DEBIAN_PACKAGES := keepalived nginx apache2 iptables nftables iproute2 procps psmisc python3 python3-venv prometheus-alertmanager prometheus openssl
DEBIAN_PACKAGES += frr tcpdump iputils-arping logrotate
HOST_SERVICES := apache2 apache-htcacheclean frr prometheus prometheus-node-exporter prometheus-alertmanager

.PHONY: demo test lint typecheck unit bench bench-failover deps debian-deps clean install uninstall wheelhouse

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
	@# apache2, frr and prometheus are only for the tests (apache2 and bfdd run per namespace,
	@# promtool checks the metrics). Debian's packages enable and start host-wide daemons where an
	@# init system lets them: stop and disable those, the host must serve nothing
	@# (docs/architecture.md, "The lab").
	@for service in $(HOST_SERVICES); do \
	    if command -v systemctl >/dev/null && systemctl is-enabled --quiet $$service 2>/dev/null; then \
	        echo "stopping and disabling the host's $$service (the tests run their own)"; \
	        systemctl disable --now $$service >/dev/null 2>&1 || true; \
	    elif [ -x /etc/init.d/$$service ] && /etc/init.d/$$service status >/dev/null 2>&1; then \
	        echo "stopping and disabling the host's $$service (the tests run their own)"; \
	        /etc/init.d/$$service stop >/dev/null; update-rc.d $$service disable >/dev/null 2>&1 || true; \
	    fi; \
	done

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
	$(BIN)/python bench/kanotify_fifo.py

# The end-to-end failover matrix (docs/tuning.md): about 35 minutes on 2 CPUs (10 runs per cell), so not part of `make bench`.
# FAILOVER_ARGS selects cells (--fault, --setup, --advert, --runs); see bench/failover.py.
FAILOVER_ARGS ?= --runs 10 --markdown failover-results.md
bench-failover: deps
	$(BIN)/python bench/failover.py $(FAILOVER_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache

# A virtualenv of the system python in $(LIBDIR) and links to its console scripts in $(BINDIR),
# all owned by root and writable by root alone: keepalived's enable_script_security refuses a
# root script when any component of its path, or of the path the link resolves to, is not.
# Reinstalling updates kakit in the venv in place (pip sees the same version as installed). A venv's paths are absolute, so there is no DESTDIR.
install:
	@test "$$(id -u)" = 0 || { echo "make install: run as root (keepalived runs only root-owned scripts as root)" >&2; exit 1; }
	@test ! -e $(LIBDIR) -o -f $(LIBDIR)/pyvenv.cfg || { echo "make install: $(LIBDIR) exists and is not a virtualenv; not touching it" >&2; exit 1; }
	@# umask 022: a root umask of 077 would leave the venv unreadable to a non-root script_user.
	umask 022 && set -e && \
	{ test -x $(LIBDIR)/bin/python || $(SYSTEM_PYTHON) -m venv $(LIBDIR); } && \
	$(LIBDIR)/bin/pip install -q $(PIP_SOURCE) --upgrade 'pip>=25' 'setuptools>=77' && \
	rm -rf build && \
	$(LIBDIR)/bin/pip install -q $(PIP_SOURCE) --no-build-isolation . && \
	$(LIBDIR)/bin/pip install -q --no-build-isolation --no-deps --force-reinstall . && \
	install -d -m 0755 $(BINDIR) && \
	tools=$$($(LIBDIR)/bin/python -c 'import importlib.metadata as m; print(*sorted(e.name for e in m.distribution("kakit").entry_points if e.group == "console_scripts"))') && \
	for name in $$tools; do \
	    link=$(BINDIR)/$$name; \
	    if { test -e $$link || test -L $$link; } && test "$$(readlink $$link)" != $(LIBDIR)/bin/$$name; then \
	        echo "make install: $$link exists and is not a link made by make install; not replacing it" >&2; exit 1; \
	    fi; \
	    ln -sfn $(LIBDIR)/bin/$$name $$link; \
	    echo "$$link -> $(LIBDIR)/bin/$$name"; \
	done && \
	$(LIBDIR)/bin/python -c 'import sys; from kakit.core.trust import why_unsafe; bad = [w for p in sys.argv[1:] if (w := why_unsafe(p))]; print(*(f"make install: keepalived would refuse it: {w}" for w in bad), sep="\n", file=sys.stderr); sys.exit(bool(bad))' \
	    $$(for name in $$tools; do echo $(BINDIR)/$$name; done) $(LIBDIR)/bin/python

# Removes the links make install made (those pointing into $(LIBDIR)) and the venv; never the
# configuration (/etc/kakit), the latches and outbox (/var/lib/kakit) or /run/kakit.
uninstall:
	@test "$$(id -u)" = 0 || { echo "make uninstall: run as root" >&2; exit 1; }
	@for link in $(BINDIR)/*; do \
	    if test -L "$$link"; then case "$$(readlink "$$link")" in \
	        $(LIBDIR)/bin/*) rm -f "$$link" && echo "removed $$link";; esac; fi; \
	done
	@if test -f $(LIBDIR)/pyvenv.cfg; then rm -rf $(LIBDIR) && echo "removed $(LIBDIR)"; fi
	@echo "kept: /etc/kakit, /var/lib/kakit (configuration, latches, outbox)"

# For a machine without an index: on a connected twin (same Debian release and architecture),
# `make wheelhouse`, copy the tree, then `make install WHEELHOUSE=wheelhouse` there.
wheelhouse:
	rm -rf build $(CURDIR)/.wheelhouse-venv
	$(SYSTEM_PYTHON) -m venv $(CURDIR)/.wheelhouse-venv
	$(CURDIR)/.wheelhouse-venv/bin/pip install -q --upgrade 'pip>=25'
	$(CURDIR)/.wheelhouse-venv/bin/pip wheel -q -w wheelhouse 'pip>=25' 'setuptools>=77' .
	rm -rf $(CURDIR)/.wheelhouse-venv
