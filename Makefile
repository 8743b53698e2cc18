# Two entry points: `make demo` (the main job) and `make test`. Both install what they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
NXF_VERSION := $(shell sed -n 's:.*<nextflow.version>\(.*\)</nextflow.version>.*:\1:p' tools/nextflow/pom.xml)
NXF_LIBDIR ?= $(HOME)/.cache/sent/nextflow-$(NXF_VERSION)
PYTEST_ARGS ?=
# one pytest worker per core (pytest-xdist); a module's tests stay in one worker with its fixtures
TEST_WORKERS ?= auto

.PHONY: setup demo test bench clean clean-work
setup: $(VENV)/.python-installed $(VENV)/bin/nextflow

$(VENV)/.python-installed: pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

$(VENV)/bin/nextflow: tools/nextflow/pom.xml tools/nextflow/install.sh $(VENV)/.python-installed
	tools/nextflow/install.sh $(VENV)/bin $(NXF_LIBDIR)
	$(VENV)/bin/nextflow -version >/dev/null

demo: setup
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH bin/demo

test: setup
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

bench: setup
	for b in bench/bench_*.py; do PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) $$b || exit 1; done

# the space the pipeline's intermediate files take; results/ stays usable, -resume starts over
clean-work:
	rm -rf work .nextflow .nextflow.log* .demo

clean: clean-work
	rm -rf results
