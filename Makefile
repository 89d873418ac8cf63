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
	@echo '$$ ntsim run --trace examples/linux/hello-asm     # LXSS: one Linux write, end to end'
	@$(VENV)/bin/ntsim run --trace examples/linux/hello-asm
	@echo
	@echo '$$ ntsim run --trace examples/posix/fork          # PSXSS: fork is a message to a server, which asks NT for a clone'
	@$(VENV)/bin/ntsim run --trace examples/posix/fork 2>&1 \
	  | grep -E '^(fork|parent|child)|PsxFork|NtCreateProcessEx|PsxDuplicate' | head -7 | cut -c1-150
	@echo
	@echo '$$ ntsim run --trace examples/os2/hello.exe       # OS2SS: a 16-bit far call into DOSCALLS becomes NtWriteFile'
	@$(VENV)/bin/ntsim run --trace examples/os2/hello.exe 2>&1 | grep -E 'DosWrite|NtWriteFile|^Hello' | cut -c1-150
	@echo
	@echo '$$ ntsim run --stats examples/dos/hello.com       # NTVDM: a whole machine; only its edges reach NT'
	@cd examples/dos && ../../$(VENV)/bin/ntsim run --stats --root . hello.com 2>&1 | grep -E '^Hello|ntvdm.exe \(|VM memory|BIOS/DOS|Nt\* calls'
	@echo
	@echo '$$ ntsim run --stats examples/linux/bigmem lazy 256   # 256 MiB reserved and committed, a few pages touched'
	@cd examples/linux && ../../$(VENV)/bin/ntsim run --stats --root . ./bigmem lazy 256 2>&1 | grep -E '^(mapped|the|an)|memory|bigmem'

	@[ -x /bin/dash ] || exit 0; echo; \
	  echo '$$ ntsim run --root / --trace /bin/dash -c "echo hi | tr a-z A-Z"   # the host'"'"'s own shell: a pipe is NPFS, a fork an NT process'; \
	  $(VENV)/bin/ntsim run --root / --trace /bin/dash -c 'echo hi | tr a-z A-Z' 2>&1 \
	  | grep -E '^(\[pid +[0-9]+\] )?(clone|pipe2|execve)|NtCreateProcessEx|NtCreateNamedPipeFile|\+\+\+|^HI' | cut -c1-120
	@echo
	@echo "$$ ntsim tui --root examples --compare 'examples/linux/hello' 'examples/dos/hello.com'   # a subsystem beside a VM"
	@if [ -t 0 ] && [ -t 1 ]; then \
	  $(VENV)/bin/ntsim tui --root examples --compare 'examples/linux/hello' 'examples/dos/hello.com'; \
	else echo '(not a terminal: run that line yourself, or ntsim tui --lesson list)'; fi

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
