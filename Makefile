# qmu-kit: `make app` runs the kit, `make test` runs every check. Both create or update the local
# virtual environment (.venv) first, so a fresh machine needs only Python 3.11 and pip.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.qmu-kit-installed
# Extra pip options, e.g. PIP_OPTIONS="--extra-index-url https://download.pytorch.org/whl/cpu" on a
# machine whose default index would hand out torch's multi-GB CUDA build.
PIP_OPTIONS ?=
HOST ?= 127.0.0.1
PORT ?= 8866

.PHONY: app test bench reproduce venv chromium clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_OPTIONS) -e '.[test]'
	@touch $@

# The apps (Voila, localhost only); the first start precomputes their default results.
app: $(STAMP)
	$(VENV)/bin/qmu-kit app --host $(HOST) --port $(PORT)

# Debian's Chromium for the browser tests, installed with apt-get when missing. Only where apt-get
# is unavailable do the browser tests skip (loudly).
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "make: installing Debian's chromium for the browser tests (apt-get)"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium > /dev/null \
			|| echo "make: !!! apt-get could not install chromium: the browser tests will FAIL !!!"; \
	else \
		echo "make: !!!!!! apt-get is unavailable: no chromium, the browser tests will be SKIPPED !!!!!!"; \
	fi

# The notebooks run under nbval (copies ending in a check of their recorded metrics against the references, see
# tests/notebook_tools.py) before the unit tests, which rerun them through papermill with other
# parameters and drive the apps in Chromium; all share one cache, invalidated automatically when the
# kit's code changes.
test: $(STAMP) chromium
	$(PY) -m tests.notebook_tools prepare build/nbval > /dev/null
	QMU_KIT_CACHE=$(CURDIR)/build/test-cache $(PY) -m pytest build/nbval tests \
		--nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_experiment.py

# Every notebook at the paper preset into reports/, and reports/summary.md.
reproduce: $(STAMP)
	$(VENV)/bin/qmu-kit reproduce --out reports --preset paper

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts build
