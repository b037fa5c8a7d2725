# Project Nexus. `make book` and `make test` are the two set-up commands; both create
# .venv from requirements.txt first when it is missing or older than the pins.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2
NB     ?=

# Stored outputs and strict checks always use the embedded services.
SERVICE_VARS := NEXUS_DATABASE_URL NEXUS_REDIS_URL NEXUS_BROKER_URL NEXUS_RESULT_BACKEND \
                NEXUS_MEMCACHED_URL NEXUS_CONTAINER_BUILDER NEXUS_BASE_IMAGE NEXUS_CAPTURE
EMBEDDED     := env $(foreach v,$(SERVICE_VARS),-u $(v))

# The real services this project's machines run on loopback (override as needed; set one to
# an empty value to keep that service embedded). .ci/run starts memcached, installs buildah and
# builds the local base image first (see .ci/base-image).
REAL_DATABASE_URL  ?= mysql+pymysql://root@127.0.0.1:3306/test
REAL_REDIS_URL     ?= redis://127.0.0.1:6379/0
REAL_BROKER_URL    ?= amqp://guest:guest@127.0.0.1:5672//
REAL_RESULTS_URL   ?= redis://127.0.0.1:6379/1
REAL_MEMCACHED_URL ?= 127.0.0.1:11211
REAL_BUILDER       ?= buildah
REAL_BASE_IMAGE    ?= localhost/nexus-python:3.11
REAL_CAPTURE       ?= live
# The final project (capstone/) reads the conventional variables of a Django project.
CAPSTONE_MARIADB   ?= mysql://root@127.0.0.1:3306/test
CAPSTONE_POSTGRES  ?= postgres://postgres@127.0.0.1:5432/test
CAPSTONE_REDIS     ?= redis://127.0.0.1:6379/3
CAPSTONE_BROKER    ?= amqp://guest:guest@127.0.0.1:5672//
CAPSTONE_CLEAN := env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL -u CELERY_RESULT_BACKEND \
                  -u DJANGO_SETTINGS_MODULE COVERAGE_FILE=$(CURDIR)/_build/.coverage-capstone
CAPSTONE_PYTEST := ../$(BIN)/pytest -q -p no:cacheprovider

REAL := NEXUS_DATABASE_URL=$(REAL_DATABASE_URL) NEXUS_REDIS_URL=$(REAL_REDIS_URL) \
        NEXUS_BROKER_URL=$(REAL_BROKER_URL) NEXUS_RESULT_BACKEND=$(REAL_RESULTS_URL) \
        NEXUS_MEMCACHED_URL=$(REAL_MEMCACHED_URL) NEXUS_CONTAINER_BUILDER=$(REAL_BUILDER) \
        NEXUS_BASE_IMAGE=$(REAL_BASE_IMAGE) NEXUS_CAPTURE=$(REAL_CAPTURE)

NBVAL := --nbval-current-env --nbval-cell-timeout=120 --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: help venv book test test-capstone test-services check lab execute bench doctor lint lock clean

help:
	@echo "make book           build the HTML book into _build/html (runs every notebook)"
	@echo "make test           unit, structure, strict nbval, papermill and -W book build tests"
	@echo "make test-capstone  the final project's suite alone (no services)"
	@echo "make test-services  the notebooks again against real MariaDB/Redis/RabbitMQ"
	@echo "make lab            JupyterLab on this repository"
	@echo "make execute [NB=path]  refresh stored outputs (all notebooks, or one)"
	@echo "make check NB=path  one notebook through every gate (structure, strict, papermill, services)"
	@echo "make bench          measure the performance budgets"
	@echo "make doctor         check the services the notebooks will use"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

book: $(STAMP)
	$(EMBEDDED) $(BIN)/jupyter-book build . -W --keep-going

# --no-loadscope-reorder: files are handed out in collection order, so the longest single test
# (tests/test_book.py, the book build) starts first instead of last.
test: $(STAMP)
	$(EMBEDDED) $(BIN)/pytest -n $(JOBS) --dist loadfile --no-loadscope-reorder --nbval $(NBVAL)
	$(MAKE) --no-print-directory test-capstone

# The final project's own suite, with no services: SQLite, local-memory cache, eager Celery.
test-capstone: $(STAMP)
	@mkdir -p _build
	cd capstone && ../$(BIN)/ruff check .
	cd capstone && $(CAPSTONE_CLEAN) $(CAPSTONE_PYTEST) --cov --cov-config=.coveragerc

test-services: $(STAMP)
	$(REAL) $(BIN)/pytest -n $(JOBS) --dist loadfile --nbval-lax $(NBVAL) --nbval-cell-timeout=300 \
		-m "services or not slow" \
		notebooks tests/test_services.py tests/test_containers.py
	cd capstone && $(CAPSTONE_CLEAN) DATABASE_URL=$(CAPSTONE_MARIADB) REDIS_URL=$(CAPSTONE_REDIS) \
		CELERY_BROKER_URL=$(CAPSTONE_BROKER) $(CAPSTONE_PYTEST)
	cd capstone && $(CAPSTONE_CLEAN) DATABASE_URL=$(CAPSTONE_POSTGRES) REDIS_URL=$(CAPSTONE_REDIS) \
		CELERY_BROKER_URL=$(CAPSTONE_BROKER) $(CAPSTONE_PYTEST)

# One notebook through every gate a chapter must pass, fastest first.
check: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make check NB=notebooks/<part>/NN_name.ipynb"; exit 2; }
	$(EMBEDDED) NB=$(NB) $(BIN)/pytest -q -p no:cacheprovider tests/test_structure.py \
		tests/test_papermill.py::test_runs_twice_in_one_kernel_with_the_small_parameter_set -k "not in_the_toc"
	$(EMBEDDED) $(BIN)/pytest -q -p no:cacheprovider --nbval $(NBVAL) $(NB)
	$(REAL) $(BIN)/pytest -q -p no:cacheprovider --nbval-lax $(NBVAL) $(NB)
	$(BIN)/pytest -q -p no:cacheprovider tests/test_structure.py -k "in_the_toc"

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=.

execute: $(STAMP)
	$(EMBEDDED) $(BIN)/python -m nexus execute $(NB)

# Both measurements always run; the target fails afterwards if either reported a budget over.
bench: $(STAMP)
	@mkdir -p _build
	@status=0; $(BIN)/python -m nexus bench || status=$$?; \
	  (cd capstone && $(CAPSTONE_CLEAN) ../$(BIN)/python -m loadtest.run --json ../_build/capstone-load.json) \
	  || status=$$?; exit $$status

doctor: $(STAMP)
	$(BIN)/python -m nexus doctor

lint: $(STAMP)
	$(BIN)/ruff check nexus tests data
	$(BIN)/nbqa ruff notebooks

# Re-resolve the newest releases of the direct dependencies (pyproject.toml, extra `all`)
# and write them back pinned. Review the diff, then run `make test`.
lock:
	rm -rf /tmp/nexus-lock && $(PYTHON) -m venv /tmp/nexus-lock
	/tmp/nexus-lock/bin/pip install --quiet --upgrade pip
	/tmp/nexus-lock/bin/pip install --quiet ".[all]"
	{ echo "# Every runtime and test dependency, pinned. Regenerate with: make lock"; echo "-e ."; \
	  /tmp/nexus-lock/bin/pip freeze --exclude-editable | grep -v -E '^(pip|setuptools|wheel|nexus)[= ]'; } > requirements.txt

clean:
	rm -rf _build .pytest_cache .ruff_cache
