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
	@echo '$$ ntsim run --trace examples/linux/hello-asm     # one Linux write, end to end'
	@$(VENV)/bin/ntsim run --trace examples/linux/hello-asm
	@echo
	@echo '$$ ntsim run --stats examples/linux/family        # fork, exec, wait, threads: what each costs'
	@$(VENV)/bin/ntsim run --stats examples/linux/family

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
