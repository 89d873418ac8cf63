# ntsim — `make demo` and `make test` work on a fresh clone by themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint examples clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@echo '$$ ntsim run --trace examples/linux/hello'
	@$(VENV)/bin/ntsim run --trace examples/linux/hello
	@echo
	@echo '$$ ntsim run --stats examples/linux/fileops   (in a scratch root)'
	@rm -rf .demo-root && mkdir -p .demo-root
	@$(VENV)/bin/ntsim run --root .demo-root --stats examples/linux/fileops
	@rm -rf .demo-root

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check ntsim tests benchmarks

examples:
	$(MAKE) -C examples/linux

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
