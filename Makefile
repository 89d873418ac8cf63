# ntsim — `make demo` and `make test` work on a fresh clone by themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench bench-qiling lint examples clean fuzz

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
	@echo
	@echo '$$ ntsim run --stats examples/linux/bigmem lazy 256   # 256 MiB reserved and committed, 6 pages touched'
	@cd examples/linux && ../../$(VENV)/bin/ntsim run --stats --root . ./bigmem lazy 256 2>&1 | grep -E '^(mapped|the|an)|memory|bigmem'

	@[ -x /bin/dash ] || exit 0; echo; \
	  echo '$$ ntsim run --root / --trace /bin/dash -c "echo hi | tr a-z A-Z"   # the host'"'"'s own shell: a pipe is NPFS, a fork an NT process'; \
	  $(VENV)/bin/ntsim run --root / --trace /bin/dash -c 'echo hi | tr a-z A-Z' 2>&1 \
	  | grep -E '^(\[pid +[0-9]+\] )?(clone|pipe2|execve)|NtCreateProcessEx|NtCreateNamedPipeFile|\+\+\+|^HI' | cut -c1-120

test: $(STAMP)
	$(PY) -m pytest

# The fuzzers at length: 10,000 cases per format (make test runs 200), with the counts.
FUZZ_EXAMPLES ?= 10000
fuzz: $(STAMP)
	NTSIM_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -p no:cacheprovider tests/fuzz

# The software rows compare with Debian's qemu-user: installed here when missing and we are
# root with apt-get; otherwise the table says its column was skipped, and why.
bench: $(STAMP)
	@command -v qemu-x86_64 >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && apt-get install -y -qq qemu-user >/dev/null; } \
	  || echo "make bench: no qemu-x86_64 (Debian: apt-get install qemu-user): its column is skipped"
	$(PY) benchmarks/run.py

# Qiling's column: Qiling in its own virtual environment (it pins its own unicorn).
QILING_VENV := .venv-qiling
$(QILING_VENV)/.installed:
	$(PYTHON) -m venv $(QILING_VENV)
	$(QILING_VENV)/bin/pip install -q qiling
	touch $@

bench-qiling: $(QILING_VENV)/.installed bench

lint: $(STAMP)
	$(VENV)/bin/ruff check ntsim tests benchmarks

examples:
	$(MAKE) -C examples/linux
	$(MAKE) -C examples/posix
	$(MAKE) -C examples os2
	$(MAKE) -C examples/dos

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
