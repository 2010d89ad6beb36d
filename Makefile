# pianqu — the two commands of the README: `make demo` and `make test`.
# Both set up everything they need on a fresh machine (Debian fonts, PostgreSQL + PostGIS, a virtualenv).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_FLAGS ?= -q
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export XDG_CACHE_HOME := $(CURDIR)/.cache
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup system-deps demo test bench clean

# Debian packages: a CJK font for Chinese map labels, PostgreSQL + PostGIS, chromium (scripts/system-deps.sh).
system-deps:
	@bash scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) -e '.[test]'
	touch $@

setup: system-deps $(VENV)/.installed
	@mkdir -p $(MPLCONFIGDIR)

demo: setup
	$(VENV)/bin/pianqu demo --out out/demo

test: setup
	$(VENV)/bin/lint-imports --no-cache   # the package layers (pyproject.toml [tool.importlinter])
	$(PY) -m pytest -q -p no:cacheprovider

bench: setup
	$(PY) -m pip install $(PIP_FLAGS) -e '.[test,bench]'
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .cache out
