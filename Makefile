# `make demo` and `make test` each set up everything they need first, so on a
# fresh machine with only Python 3 either one works as the very first command.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Reinstall only when the build inputs change: compiling the kernels takes a
# while, and `make test` is run often.
BUILD_INPUTS := pyproject.toml setup.py setup.cfg $(wildcard skgd/*.pyx skgd/*.pxd)
STAMP := $(VENV)/.skgd-installed

.PHONY: install demo test lint bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# The kernels are compiled here, on the machine that runs them, so they may
# use its full instruction set (SKGD_NATIVE=1, see setup.py).
$(STAMP): $(PY) $(BUILD_INPUTS)
	$(PY) -m pip install --quiet "setuptools>=70" wheel "Cython>=3.0" "numpy>=1.26"
	SKGD_NATIVE=1 $(PY) -m pip install --quiet --no-build-isolation -e ".[test,plot,dask,dev,docs]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) docs/examples/demo.py
	MPLBACKEND=Agg $(PY) docs/examples/tutorial_pictures.py

lint: install
	$(PY) -m ruff check .

# pytest exits 5 when it collected no test: that is a failure, and it is
# reported as one.
test: lint
	@rc=0; SCIPY_ARRAY_API=1 $(PY) -m pytest -q -p no:cacheprovider || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing." >&2; fi; \
	exit $$rc

# The HTML site in docs/_build/html: API pages from the docstrings, the
# markdown guides, and the gallery, whose scripts run during the build.
# Any Sphinx warning fails the build (all of them are reported first).
docs: install
	rm -rf docs/_build docs/generated docs/auto_examples docs/sg_execution_times.rst
	MPLBACKEND=Agg $(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "The site is in docs/_build/html/index.html"

bench: install
	cd benchmarks && ../$(PY) bench_regressor.py && ../$(PY) bench_classifier.py && ../$(PY) bench_threads.py

clean:
	rm -rf build *.egg-info skgd/*.c skgd/*.so $(VENV) docs/_build docs/generated docs/auto_examples docs/sg_execution_times.rst
