# qmu-kit: `make app` runs the kit, `make test` runs every check. Both create or update the local
# virtual environment (.venv) first, so a fresh machine needs only Python 3.11 and pip.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.qmu-kit-installed
# Extra options for pip and uv (a mirror: --index-url URL).
PIP_OPTIONS ?=
# torch's CPU build (PyPI's is the multi-GB CUDA build); the same URL as qmu_kit/_environment.py's EXTRA_INDEX.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# uv installs the lock (downloads and bytecode compilation in parallel).
UV_VERSION ?= 0.13.9
HOST ?= 127.0.0.1
PORT ?= 8866
LAB_PORT ?= 8888
# Preheated kernels per app (about 0.3 GB each, refilled as visitors take them). APP_OPTIONS=--warm
# computes every slider stop before serving.
POOL ?= 2
APP_OPTIONS ?=
# Worker processes of make check and make test (the CI machine has 2 cores), and extra pytest options
# (e.g. PYTEST_OPTIONS=--durations=40).
TEST_WORKERS ?= 2
PYTEST_OPTIONS ?=
# The course site (make site) and the lessons it executes at once.
SITE ?= build/site
SITE_JOBS ?= 2

.PHONY: app classroom site lab check test bench reproduce venv lock chromium clean

venv: $(STAMP)

# The exact versions in requirements.lock (what CI, Binder and conda get), then the kit itself. torch
# comes first and alone, with pip, from TORCH_INDEX (or pip's configured find-links), so no other package
# is looked up there; where that index is out of reach (an offline mirror serving the CPU build itself),
# one short try costs seconds, not minutes. uv then installs the rest of the lock next to it.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(PIP_OPTIONS) --retries 0 --timeout 10 --no-deps --extra-index-url $(TORCH_INDEX) $$(grep '^torch==' requirements.lock)
	$(PY) -m pip install --quiet $(PIP_OPTIONS) uv==$(UV_VERSION)
	$(PY) -m uv pip install --quiet --compile-bytecode --python $(PY) $(PIP_OPTIONS) -r requirements.lock
	$(PY) -m uv pip install --quiet --python $(PY) --no-deps -e .
	@touch $@

# After a change to pyproject.toml's dependencies: install what its ranges now ask for on top of the
# current environment, pin the result into requirements.lock and regenerate binder/ and environment.yml.
# To move every pin to the newest allowed version: make lock PIP_OPTIONS="--upgrade --upgrade-strategy eager"
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(PIP_OPTIONS) --retries 0 --timeout 10 --no-deps --extra-index-url $(TORCH_INDEX) $$(grep '^torch==' requirements.lock)
	$(PY) -m pip install --quiet $(PIP_OPTIONS) -e '.[test]'
	$(PY) -m qmu_kit._environment write
	@touch $(STAMP)

# The apps (Voila, localhost only); the first start precomputes their default results. A taken port
# stops it with one line naming the port (make app PORT=N).
app: $(STAMP)
	$(VENV)/bin/qmu-kit app --host $(HOST) --port $(PORT) --pool $(POOL) $(APP_OPTIONS)

# The course site (docs/build_site.py): the landing page, every notebook executed at the classroom
# preset as a lesson page (only lessons whose notebook or kit code changed run again), the guides of
# docs/guides, the reports, the API reference; offline, into $(SITE). With the classroom pages when
# they were built for today's code.
site: $(STAMP)
	$(PY) docs/build_site.py --out $(SITE) --jobs $(SITE_JOBS)

# The classroom: every slider stop of every app computed once into a small JSON file its page draws the
# charts from (resumable; stops missing from the cache are computed first; built in a process of their
# own while the lessons execute), the course site built with them beside their lessons, then served as
# plain files on 127.0.0.1: no kernel per visitor, so a whole class can use the lessons and apps at once.
# APP_OPTIONS=--warm computes the stops in parallel first.
# (qmu-kit app --static serves the apps alone.)
classroom: $(STAMP)
	$(PY) docs/build_site.py --classroom --out $(SITE) --jobs $(SITE_JOBS) --host $(HOST) --port $(PORT) $(APP_OPTIONS)
	$(PY) docs/build_site.py --serve --out $(SITE) --host $(HOST) --port $(PORT)

# JupyterLab on notebooks/ (localhost only) with this environment as the notebooks' kernel.
lab: $(STAMP)
	$(PY) -m qmu_kit.apps.lab --host $(HOST) --port $(LAB_PORT)

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

# The edit loop: the package's own tests (tests/unit, marker `unit`), on TEST_WORKERS processes with one
# torch thread each and no process pools of their own (QMU_KIT_JOBS=1): the test workers already keep
# every core busy, so more threads or pool processes per worker only make them wait on each other.
check: $(STAMP)
	OMP_NUM_THREADS=1 QMU_KIT_JOBS=1 $(PY) -m pytest tests/unit -n $(TEST_WORKERS) $(PYTEST_OPTIONS)

# Every check CI guarantees, by tier (the directory sets the marker): tests/unit; every notebook under nbval
# (copies ending in a check of their recorded metrics against the references, see tests/notebook_tools.py)
# and tests/notebooks, which rerun them through papermill with other parameters; tests/apps, which drive
# the servers and the apps in Chromium; tests/site, the course site built small and walked in Chromium
# (no request leaves it, axe-core finds no serious violation); tests/project, the set-up files. All share one cache, invalidated
# automatically when the kit's computing code changes. TEST_WORKERS processes run the files side by side,
# in the order tests/conftest.py's RUN_ORDER gives (notebooks first: they fill the cache later files replay),
# with one torch thread and no process pools of their own, as in make check.
test: $(STAMP) chromium
	$(PY) -m qmu_kit._environment check
	$(PY) -m tests.notebook_tools prepare build/nbval > /dev/null
	OMP_NUM_THREADS=1 QMU_KIT_JOBS=1 QMU_KIT_CACHE=$(CURDIR)/build/test-cache $(PY) -m pytest build/nbval tests \
		-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		--nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg $(PYTEST_OPTIONS)

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_experiment.py

# Every notebook at the paper preset into reports/, and reports/summary.md.
reproduce: $(STAMP)
	$(VENV)/bin/qmu-kit reproduce --out reports --preset paper

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts build
