"""subsystems/base.py: the one call gate, driven by a personality that is not LXSS.

The gate must serve every personality to come, whatever its ABI. These tests give it a
DOS-style one — INT 21h, the function in AH, an argument in DX, the result in AX and
failure in the carry flag — and check that rows, arguments, results, errors, unknown
functions, trace events and interception all follow from the table, the ABI and the
error mapping alone.
"""

from __future__ import annotations

import pytest
from unicorn.x86_const import UC_X86_REG_AX, UC_X86_REG_DX, UC_X86_REG_EFLAGS

from ntsim.kernel.kernel import Kernel
from ntsim.machine import Interceptors
from ntsim.subsystems.base import Abi, CallGate, ErrorMapping, call
from ntsim.trace import GUEST, VM, CollectingSink, Enum, Hex

CARRY = 1


class DosError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Int21Abi(Abi):
    """AH = function, DX = argument; AX = result, CF set on failure."""

    trap = "int 0x21"

    def call_number(self, cpu):
        return cpu.registers.read(UC_X86_REG_AX) >> 8 & 0xFF

    def arguments(self, caller, row):
        return [caller.cpu.registers.read(UC_X86_REG_DX) & 0xFFFF][:row.arity]

    def return_to_guest(self, caller, row, result, trap, interrupted=False):
        value, failed = result
        registers = caller.cpu.registers
        registers.write(UC_X86_REG_AX, value)
        flags = registers.read(UC_X86_REG_EFLAGS)
        registers.write(UC_X86_REG_EFLAGS, flags | CARRY if failed else flags & ~CARRY)

    def restart(self, caller):
        caller.cpu.pc -= 2                      # back onto the 2-byte INT 21h


class DosErrors(ErrorMapping):
    failures = (DosError,)
    not_implemented = (1, True)                 # ERROR_INVALID_FUNCTION
    NAMES = {1: "ERROR_INVALID_FUNCTION", 2: "ERROR_FILE_NOT_FOUND"}

    def result_of(self, failure):
        return failure.code, True

    def describe(self, result):
        value, failed = result
        return value, self.NAMES.get(value) if failed else None

    def warning(self, process, number, name, note):
        return f"INT 21h function {number:02X}h ({name}) is not implemented"


def get_version(caller):
    return 0x0005, False                        # DOS 5.0: AL major, AH minor


def close_handle(caller, handle):
    if handle != 5:
        raise DosError(2)
    return 0, False


TABLE = (
    call(0x30, "GetVersion", get_version),
    call(0x3E, "CloseHandle", close_handle, ("handle", Enum({5: "HANDLE_5"}))),
    call(0x4B, "Exec", None, ("name", Hex()), level="unsupported", note="no EXEC here"),
)


class Caller:
    def __init__(self, thread):
        self.thread, self.cpu = thread, thread.process.cpu


@pytest.fixture
def machine(tmp_path):
    kernel = Kernel(str(tmp_path), deterministic=True)
    process = kernel.create_process("dos", architecture="x86-64")
    thread = kernel.create_thread(process)
    thread.data = Caller(thread)
    kernel.current_thread = thread
    interceptors = Interceptors()
    gate = CallGate(kernel, "ntvdm", TABLE, Int21Abi(), DosErrors(), interceptors, layer=VM)
    return kernel, gate, thread.data, interceptors


def trap(gate, caller, ah, dx=0):
    caller.cpu.registers.write(UC_X86_REG_AX, ah << 8)
    caller.cpu.registers.write(UC_X86_REG_DX, dx)
    gate.on_trap(caller.cpu.uc)
    registers = caller.cpu.registers
    return registers.read(UC_X86_REG_AX) & 0xFFFF, bool(registers.read(UC_X86_REG_EFLAGS) & CARRY)


def test_the_row_for_ah_runs_and_its_result_goes_where_the_abi_says(machine):
    _, gate, caller, _ = machine
    assert trap(gate, caller, 0x30) == (0x0005, False)
    assert trap(gate, caller, 0x3E, dx=5) == (0, False)


def test_a_failure_is_mapped_by_the_personality(machine):
    _, gate, caller, _ = machine
    assert trap(gate, caller, 0x3E, dx=9) == (2, True)


def test_a_function_without_a_handler_fails_loudly_once(machine, capsys):
    kernel, gate, caller, _ = machine
    assert trap(gate, caller, 0x4B) == (1, True)          # unsupported row
    assert trap(gate, caller, 0x99) == (1, True)          # no row at all
    trap(gate, caller, 0x99)
    assert capsys.readouterr().err == ""                  # never into the guest's streams...
    lines = kernel.notices                                # ...but kept for `ntsim run` to print
    assert lines == ["ntsim: ntvdm: INT 21h function 4Bh (Exec) is not implemented",
                     "ntsim: ntvdm: INT 21h function 99h (call_0x99) is not implemented"]


def test_calls_are_traced_in_the_personalitys_layer_with_typed_arguments(machine):
    kernel, gate, caller, _ = machine
    sink = kernel.tracer.attach(CollectingSink(detail=True))
    trap(gate, caller, 0x3E, dx=5)
    trap(gate, caller, 0x3E, dx=9)
    guest = [e for e in sink.events if e.layer == GUEST]
    calls = [e for e in sink.events if e.layer == VM]
    assert [e.name for e in guest] == ["int 0x21", "int 0x21"]
    assert [(e.name, e.args, e.result, e.error) for e in calls] == [
        ("CloseHandle", {"handle": "HANDLE_5"}, 0, None),
        ("CloseHandle", {"handle": 9}, 2, "ERROR_FILE_NOT_FOUND")]
    assert [e.name for e in sink.started] == ["CloseHandle", "CloseHandle"]


def test_interception_and_call_breakpoints_work_for_any_abi(machine):
    _, gate, caller, interceptors = machine
    interceptors.instead["GetVersion"] = lambda caller: (0x1E07, False)      # "DOS 7.30"
    interceptors.after["CloseHandle"] = [lambda caller, result, handle: (0, False)]
    interceptors._update()
    assert trap(gate, caller, 0x30) == (0x1E07, False)
    assert trap(gate, caller, 0x3E, dx=9) == (0, False)      # the after hook's result wins
    interceptors.break_calls.add("GetVersion")
    interceptors._update()
    caller.cpu.pc = 0x1002
    caller.cpu.registers.write(UC_X86_REG_AX, 0x3000)
    gate.on_trap(caller.cpu.uc)
    assert interceptors.stopped_at.name == "GetVersion"
    assert caller.cpu.pc == 0x1000 and caller.cpu.stop_reason == "breakpoint"
    assert caller.cpu.registers.read(UC_X86_REG_AX) == 0x3000    # the call has not run


def test_a_number_in_the_table_twice_is_refused(tmp_path):
    kernel = Kernel(str(tmp_path))
    with pytest.raises(ValueError, match="twice"):
        CallGate(kernel, "ntvdm", TABLE + (call(0x30, "Again", get_version),), Int21Abi(), DosErrors())
