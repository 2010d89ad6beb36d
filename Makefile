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

# A CJK font so that maps and charts can print Chinese names.
system-deps:
	@if ! fc-list 2>/dev/null | grep -qi -E "wqy|noto sans cjk|noto serif cjk"; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei fontconfig; \
	  else echo "warning: no CJK font; run 'sudo apt-get install fonts-wqy-microhei' for Chinese map labels"; fi; \
	fi
	@# PostgreSQL + PostGIS for the PostGIS workspace; the tests start a private cluster of their own
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql \
	    && ver=$$(ls /usr/lib/postgresql | sort -n | tail -1) \
	    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-$$ver-postgis-3; \
	  else echo "warning: no PostgreSQL/PostGIS; run 'sudo apt-get install postgresql postgresql-15-postgis-3' (the tests of the PostGIS workspace need them)"; fi; \
	fi

	@# Debian's chromium for the browser tests of the web app (pytest-playwright drives it; `playwright install` never runs)
	@if ! [ -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "warning: no chromium; run 'sudo apt-get install chromium' (the browser tests of the web app need it)"; fi; \
	fi

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
