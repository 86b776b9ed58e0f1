# rnnmcu: `make demo` and `make test` on a fresh Debian 12 machine (as root) install what they
# need first: system packages (only the missing ones), then the venv at .venv.  Stamp files under
# .venv/ make a second run fast.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
RNNMCU      := $(VENV)/bin/rnnmcu
PIP_FLAGS   ?= --disable-pip-version-check -q
PYTEST_ARGS ?=
# make test runs the test files on this many workers (pytest-xdist; a file stays on one worker, so
# its module fixtures, trained models among them, are made once)
TEST_JOBS   ?= 2

APT_PACKAGES := build-essential clang libclang-rt-dev qemu-system-arm qemu-system-misc \
	gcc-arm-none-eabi libnewlib-arm-none-eabi picolibc-arm-none-eabi \
	gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf \
	gcc-xtensa-lx106 picolibc-xtensa-lx106-elf python3-venv

STAMP_VENV    := $(VENV)/.stamp-venv
STAMP_INSTALL := $(VENV)/.stamp-install
INSTALL_DEPS  := pyproject.toml setup.py
# The editable install records which folders are packages; when one appears (a part lands),
# `make setup` reinstalls rnnmcu itself (no dependencies, a few seconds).
PKG_ROOTS     := rnnmcu trainer codegen firmware boards
PKG_LIST      := $(VENV)/.packages

# Steps run by `make setup` after the Python install.  A step whose module has not landed yet is
# skipped; add further provisioning modules here.
SETUP_HOOK_MODULES := rnnmcu.boards.provision

DEMO_BOARD  ?= qemu-m4
DEMO_EPOCHS ?= 15
DEMO_OUT    ?= out/demo

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PLATFORMIO_SETTING_ENABLE_TELEMETRY ?= No
export PLATFORMIO_DISABLE_UPGRADE_CHECK ?= true

.PHONY: help setup apt test demo clean distclean

help:
	@echo "make demo       install everything, then data -> train -> convert -> eval -> test on DEMO_BOARD=$(DEMO_BOARD)"
	@echo "make test       install everything, then run the whole test suite (slow and emulator tests too)"
	@echo "make setup      install system packages (if missing) and the venv at $(VENV)"
	@echo "make clean      remove build and demo outputs (keeps $(VENV))"
	@echo "make distclean  clean, and remove $(VENV)"

apt:
	@scripts/ensure_apt.sh $(APT_PACKAGES)

$(STAMP_VENV):
	@scripts/ensure_apt.sh $(APT_PACKAGES)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "error: rnnmcu needs Python >= 3.11, $(PYTHON) is " + sys.version.split()[0] + "\nnext: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip 'setuptools>=69' wheel
	@touch $@

$(STAMP_INSTALL): $(STAMP_VENV) $(INSTALL_DEPS)
	$(PY) -m pip install $(PIP_FLAGS) --no-build-isolation -e '.[dev]'
	@find $(PKG_ROOTS) -name __init__.py -not -path '*/__pycache__/*' | sort > $(PKG_LIST)
	@touch $@

setup: apt $(STAMP_INSTALL)
	@if [ "$$(find $(PKG_ROOTS) -name __init__.py -not -path '*/__pycache__/*' | sort)" != "$$(cat $(PKG_LIST) 2>/dev/null)" ]; then \
		echo "rnnmcu: the set of packages changed, refreshing the editable install"; \
		$(PY) -m pip install $(PIP_FLAGS) --no-build-isolation --no-deps -e . ; \
		find $(PKG_ROOTS) -name __init__.py -not -path '*/__pycache__/*' | sort > $(PKG_LIST); \
	fi
	@for m in $(SETUP_HOOK_MODULES); do \
		if $(PY) -c 'import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(sys.argv[1]) else 1)' "$$m" 2>/dev/null; then \
			echo "$(PY) -m $$m"; $(PY) -m $$m; \
		fi; \
	done

test: setup
	$(PY) -m pytest tests/ -n $(TEST_JOBS) --dist loadfile --durations=10 $(PYTEST_ARGS)

demo: setup
	@mkdir -p $(DEMO_OUT)
	$(RNNMCU) data synth -o $(DEMO_OUT)/data.npz
	$(RNNMCU) train $(DEMO_OUT)/data.npz -o $(DEMO_OUT)/model.keras --cell lstm --units 16 --epochs $(DEMO_EPOCHS)
	$(RNNMCU) convert $(DEMO_OUT)/model.keras --calib $(DEMO_OUT)/data.npz --precision int8 -o $(DEMO_OUT)/model.rnnmcu
	$(RNNMCU) eval $(DEMO_OUT)/model.rnnmcu --data $(DEMO_OUT)/data.npz --keras $(DEMO_OUT)/model.keras
	$(RNNMCU) test --board $(DEMO_BOARD) --model $(DEMO_OUT)/model.rnnmcu --data $(DEMO_OUT)/data.npz \
		--junit $(DEMO_OUT)/hil-junit.xml --report $(DEMO_OUT)/hil-report.json
	@echo "demo: done; outputs in $(DEMO_OUT)/"

clean:
	rm -rf out build dist .pytest_cache .hypothesis *.egg-info
	find $(PKG_ROOTS) tests bench -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
