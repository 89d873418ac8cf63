"""The dispatcher: waiting and signalling, timeouts under the virtual clock, and guest
threads interleaved by instruction quanta in one host thread."""

from __future__ import annotations

import datetime
import os
import time

import pytest

from ntsim.kernel.dispatcher import WaitPending
from ntsim.kernel.io import FILE_OPEN, FILE_READ_DATA
from ntsim.kernel.kernel import Kernel
from ntsim.kernel.memory import MEM_COMMIT, MEM_RESERVE, PAGE_EXECUTE_READ
from ntsim.kernel.processes import NotificationEvent, SynchronizationEvent, ThreadState
from ntsim.kernel.services import NtCurrentProcess, WaitAll, WaitAny
from ntsim.kernel.status import STATUS_SUCCESS, STATUS_TIMEOUT, STATUS_WAIT_0
from ntsim.subsystems.windows.csrss import Csrss, HostConsole

from . import guest

MS = 1_000_000


def caller(kernel, process, call, log: list | None = None):
    """A thread that makes `call()` when first scheduled, as a personality would: if the
    call must wait, the thread is parked and the call finished when it is woken. The
    returned dict gets the call's result under "result" (and the dict is appended to
    `log` when it does), then the thread ends."""
    outcome: dict = {}

    def finish(result) -> None:
        outcome["result"] = result
        if log is not None:
            log.append(outcome)
        kernel.terminate_thread(kernel.current_thread, 0)

    def body(thread) -> None:
        if "started" in outcome:
            return
        outcome["started"] = True
        try:
            finish(call())
        except WaitPending as pending:
            kernel.dispatcher.park(thread, pending,
                                  lambda status, pending=pending: finish(pending.complete(status)))

    thread = kernel.create_thread(process, host_body=body)
    kernel.start_thread(thread)
    return thread, outcome


def settle(kernel) -> None:
    """Run every ready thread until none is ready (they have finished or wait)."""
    kernel.dispatcher.run(lambda: not kernel.dispatcher.ready)


def spinner(kernel, nt, name="spin.exe", code=guest.SPIN, base=guest.CODE_BASE):
    """A guest process whose one thread runs `code` (by default `jmp $`) for ever."""
    process = kernel.create_process(name, architecture="x86-64")
    thread = kernel.create_thread(process)
    saved = kernel.current_thread
    kernel.current_thread = thread
    nt.NtAllocateVirtualMemory(NtCurrentProcess, base, 0x1000, MEM_RESERVE | MEM_COMMIT,
                               PAGE_EXECUTE_READ)
    kernel.current_thread = saved
    process.memory.write(base, code)
    process.cpu.pc = base
    kernel.start_thread(thread)
    return process, thread


@pytest.fixture
def waiters(kernel, process):
    """The test process, whose extra threads wait; its first thread (the current thread
    when the test starts) signals. They share the process's handles."""
    return process


def until_done(*outcomes):
    return lambda: all("result" in outcome for outcome in outcomes)


# --- events --------------------------------------------------------------------------------


def test_a_synchronization_event_wakes_exactly_one_waiter_and_resets(nt, kernel, waiters):
    handle = nt.NtCreateEvent(EventType=SynchronizationEvent)
    event = kernel.current_thread.process.handles.lookup(handle)
    setter = kernel.current_thread
    first = caller(kernel, waiters, lambda: nt.NtWaitForSingleObject(handle))
    second = caller(kernel, waiters, lambda: nt.NtWaitForSingleObject(handle))
    settle(kernel)
    assert [t.state for t, _ in (first, second)] == [ThreadState.WAITING] * 2

    kernel.current_thread = setter
    nt.NtSetEvent(handle)
    settle(kernel)
    done = [outcome for _, outcome in (first, second) if "result" in outcome]
    assert len(done) == 1
    assert done[0]["result"] == STATUS_WAIT_0
    assert event.signalled is False

    kernel.current_thread = setter
    nt.NtSetEvent(handle)
    settle(kernel)
    assert all("result" in outcome for _, outcome in (first, second))


def test_a_notification_event_wakes_every_waiter_and_stays_set(nt, kernel, waiters):
    handle = nt.NtCreateEvent(EventType=NotificationEvent)
    setter = kernel.current_thread
    callers = [caller(kernel, waiters, lambda: nt.NtWaitForSingleObject(handle)) for _ in range(3)]
    settle(kernel)
    kernel.current_thread = setter
    nt.NtSetEvent(handle)
    settle(kernel)
    assert [outcome.get("result") for _, outcome in callers] == [STATUS_WAIT_0] * 3
    kernel.current_thread = setter
    assert nt.NtWaitForSingleObject(handle, TimeoutNs=0) == STATUS_WAIT_0   # still set


def test_a_watch_is_told_of_every_signal_and_ends_no_wait(nt, kernel, waiters):
    """Dispatcher.watch, what lxcore's epoll needs: a callback each time the object is
    signalled. It never satisfies a wait, so a waiter on the same object still takes it."""
    handle = nt.NtCreateEvent(EventType=SynchronizationEvent)
    event = kernel.current_thread.process.handles.lookup(handle)
    setter = kernel.current_thread
    seen: list[bool] = []
    watch = kernel.dispatcher.watch(event, lambda: seen.append(event.signalled))
    _, outcome = caller(kernel, waiters, lambda: nt.NtWaitForSingleObject(handle))
    settle(kernel)
    kernel.current_thread = setter
    nt.NtSetEvent(handle)
    settle(kernel)
    assert outcome["result"] == STATUS_WAIT_0 and event.signalled is False   # the waiter took it
    assert seen == [True]
    kernel.current_thread = setter
    nt.NtSetEvent(handle)                                # no waiter: told again, stays set
    assert seen == [True, True] and event.signalled is True
    kernel.dispatcher.unwatch(watch)
    nt.NtSetEvent(handle)
    assert seen == [True, True] and event.wait_blocks == []


def test_a_signalled_synchronization_event_satisfies_one_wait_at_once(nt):
    handle = nt.NtCreateEvent(EventType=SynchronizationEvent, InitialState=True)
    assert nt.NtWaitForSingleObject(handle, TimeoutNs=0) == STATUS_WAIT_0
    assert nt.NtWaitForSingleObject(handle, TimeoutNs=0) == STATUS_TIMEOUT


def test_set_and_reset_report_the_previous_state(nt):
    handle = nt.NtCreateEvent()
    assert nt.NtSetEvent(handle) == 0
    assert nt.NtSetEvent(handle) == 1
    assert nt.NtResetEvent(handle) == 1
    assert nt.NtWaitForSingleObject(handle, TimeoutNs=0) == STATUS_TIMEOUT


def test_wait_any_reports_which_object_was_signalled(nt, kernel, waiters):
    handles = [nt.NtCreateEvent() for _ in range(3)]
    setter = kernel.current_thread
    _, outcome = caller(kernel, waiters, lambda: nt.NtWaitForMultipleObjects(handles, WaitAny))
    settle(kernel)
    kernel.current_thread = setter
    nt.NtSetEvent(handles[2])
    settle(kernel)
    assert outcome["result"] == STATUS_WAIT_0 + 2


def test_wait_all_needs_every_object(nt, kernel, waiters):
    handles = [nt.NtCreateEvent() for _ in range(2)]
    setter = kernel.current_thread
    _, outcome = caller(kernel, waiters, lambda: nt.NtWaitForMultipleObjects(handles, WaitAll))
    settle(kernel)
    kernel.current_thread = setter
    nt.NtSetEvent(handles[0])
    settle(kernel)
    assert "result" not in outcome
    kernel.current_thread = setter
    nt.NtSetEvent(handles[1])
    settle(kernel)
    assert outcome["result"] == STATUS_WAIT_0


# --- processes are waitable ----------------------------------------------------------------


def test_waiting_on_a_process_completes_when_it_exits(nt, kernel, waiters, process):
    child = kernel.create_process("child.exe")
    kernel.create_thread(child)
    handle = process.handles.insert(child)
    parent_thread = kernel.current_thread
    _, outcome = caller(kernel, waiters, lambda: nt.NtWaitForSingleObject(handle))
    settle(kernel)
    assert "result" not in outcome
    kernel.current_thread = parent_thread
    nt.NtTerminateProcess(handle, 3)
    settle(kernel)
    assert outcome["result"] == STATUS_WAIT_0
    kernel.current_thread = parent_thread
    assert nt.NtQueryInformationProcess(handle)["ExitStatus"] == 3


# --- time ----------------------------------------------------------------------------------


def test_a_timed_out_wait_advances_the_virtual_clock_not_the_host_clock(nt, kernel, waiters):
    handle = nt.NtCreateEvent()
    started = kernel.clock.monotonic_ns()
    wall = time.monotonic()
    _, outcome = caller(kernel, waiters, lambda: nt.NtWaitForSingleObject(handle, TimeoutNs=10_000 * MS))
    assert kernel.dispatcher.run(until_done(outcome)) == "done"
    assert outcome["result"] == STATUS_TIMEOUT
    assert kernel.clock.monotonic_ns() - started >= 10_000 * MS
    assert time.monotonic() - wall < 5           # ten virtual seconds, no real sleep


def test_a_wait_satisfied_in_time_is_not_a_timeout(nt, kernel, waiters):
    handle = nt.NtCreateEvent()
    setter = kernel.current_thread
    _, outcome = caller(kernel, waiters, lambda: nt.NtWaitForSingleObject(handle, TimeoutNs=5 * MS))
    settle(kernel)
    kernel.current_thread = setter
    nt.NtSetEvent(handle)
    kernel.dispatcher.run(until_done(outcome))
    assert outcome["result"] == STATUS_WAIT_0
    # the abandoned timeout must not fire later: nothing is left to wake
    assert kernel.dispatcher.run(lambda: False) == "deadlock"


def test_a_zero_timeout_polls_without_waiting(nt, kernel):
    handle = nt.NtCreateEvent()
    before = kernel.clock.monotonic_ns()
    assert nt.NtWaitForSingleObject(handle, TimeoutNs=0) == STATUS_TIMEOUT
    assert kernel.clock.monotonic_ns() == before


def test_delay_execution_sleeps_on_the_virtual_clock(nt, kernel, waiters):
    started = kernel.clock.monotonic_ns()
    _, outcome = caller(kernel, waiters, lambda: nt.NtDelayExecution(False, 250 * MS))
    assert kernel.dispatcher.run(until_done(outcome)) == "done"
    assert outcome["result"] == STATUS_SUCCESS
    assert kernel.clock.monotonic_ns() - started >= 250 * MS


def test_sleepers_wake_in_deadline_order(nt, kernel, waiters):
    log: list = []
    sleepers = {}
    for delay in (30, 10, 20):
        _, outcome = caller(kernel, waiters, lambda d=delay: nt.NtDelayExecution(False, d * MS), log)
        sleepers[id(outcome)] = delay
    kernel.dispatcher.run(lambda: len(log) == 3)
    assert [sleepers[id(outcome)] for outcome in log] == [10, 20, 30]


def test_a_sleeper_wakes_while_another_thread_keeps_the_processor_busy(nt, kernel, waiters):
    spinner(kernel, nt)
    _, outcome = caller(kernel, waiters, lambda: nt.NtDelayExecution(False, 1 * MS))
    limit = 50 * MS
    kernel.dispatcher.run(lambda: "result" in outcome or kernel.clock.monotonic_ns() > limit)
    assert outcome.get("result") == STATUS_SUCCESS
    assert kernel.clock.monotonic_ns() < limit


def test_the_virtual_clock_starts_at_2024_in_nt_time(nt):
    # NT time counts 100 ns units since 1601-01-01 (KeQuerySystemTime)
    elapsed = datetime.datetime(2024, 1, 1) - datetime.datetime(1601, 1, 1)
    assert nt.NtQuerySystemTime() // (10_000_000 * 86_400) == elapsed.days


# --- nothing can wake: a deadlock is reported ----------------------------------------------


def test_a_wait_nothing_can_satisfy_is_reported_as_a_deadlock(nt, kernel, waiters):
    handle = nt.NtCreateEvent()
    caller(kernel, waiters, lambda: nt.NtWaitForSingleObject(handle))
    assert kernel.dispatcher.run(lambda: False) == "deadlock"


# --- guest threads share one host thread ---------------------------------------------------


COUNT_FOREVER = b"\x48\xff\xc0\xeb\xfb"            # again: inc rax; jmp again


def test_guest_processes_run_interleaved_by_quanta(nt, kernel):
    first, _ = spinner(kernel, nt, "one.exe", COUNT_FOREVER)
    second, _ = spinner(kernel, nt, "two.exe", COUNT_FOREVER)
    kernel.dispatcher.run(lambda: kernel.clock.monotonic_ns() > 4 * MS)
    assert first.cpu.read_register("rax") > 0
    assert second.cpu.read_register("rax") > 0


def test_threads_of_one_process_keep_their_own_registers(nt, kernel, process):
    nt.NtAllocateVirtualMemory(NtCurrentProcess, guest.CODE_BASE, 0x1000,
                               MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READ)
    process.memory.write(guest.CODE_BASE, COUNT_FOREVER)
    cpu = process.cpu
    threads = [kernel.create_thread(process) for _ in range(2)]
    for thread, start in zip(threads, (0, 1 << 40), strict=True):
        cpu.pc = guest.CODE_BASE
        cpu.write_register("rax", start)
        thread.context = cpu.save_context()
        kernel.start_thread(thread)
    cpu.loaded_thread = None
    kernel.dispatcher.run(lambda: kernel.clock.monotonic_ns() > 4 * MS)

    def rax(thread) -> int:
        if cpu.loaded_thread is not thread:
            cpu.restore_context(thread.context)
        return cpu.read_register("rax")

    low, high = rax(threads[0]), rax(threads[1])
    assert 0 < low < 1 << 40
    assert high > 1 << 40


def test_console_input_reaches_a_waiting_reader_while_another_thread_spins(tmp_path):
    """CSRSS answers a console read once host input arrives, even while a guest keeps
    the processor busy (the dispatcher polls host input between quanta)."""
    stdin_read, stdin_write = os.pipe()
    out_read, out_write = os.pipe()
    try:
        kernel = Kernel(str(tmp_path), deterministic=True)
        console = HostConsole(stdin_read, out_write, out_write)
        kernel.smss.register_subsystem("Windows", lambda k: Csrss(k, console), required=True)
        kernel.boot()
        reader = kernel.create_process("reader.exe")
        kernel.current_thread = kernel.create_thread(reader)
        nt = kernel.services
        handle = nt.NtCreateFile("\\Device\\ConDrv\\Input", FILE_READ_DATA, FILE_OPEN)
        _, outcome = caller(kernel, reader, lambda: nt.NtReadFile(handle, 64))
        spinner(kernel, nt)
        kernel.dispatcher.run(lambda: kernel.clock.monotonic_ns() > 2 * MS)
        assert "result" not in outcome                 # no input yet: the read waits
        os.write(stdin_write, b"typed\n")
        limit = kernel.clock.monotonic_ns() + 50 * MS
        kernel.dispatcher.run(lambda: "result" in outcome or kernel.clock.monotonic_ns() > limit)
        assert outcome.get("result") == b"typed\n"
    finally:
        for fd in (stdin_read, stdin_write, out_read, out_write):
            os.close(fd)


# --- timers with a DPC, alerts and user APCs (what Linux signals are built on) --------------


def test_a_timer_calls_its_routine_at_its_deadline_on_the_virtual_clock(kernel):
    fired = []
    dispatcher = kernel.dispatcher
    dispatcher.set_timer(5 * MS, lambda: fired.append(kernel.clock.monotonic_ns()))
    cancelled = dispatcher.set_timer(3 * MS, lambda: fired.append("cancelled"))
    cancelled.cancel()
    start = kernel.clock.monotonic_ns()
    dispatcher.run(lambda: bool(fired))
    assert len(fired) == 1 and fired[0] - start >= 5 * MS


def test_an_alert_ends_a_wait_early_without_satisfying_it(nt, kernel, waiters):
    from ntsim.kernel.status import STATUS_USER_APC

    handle = nt.NtCreateEvent(EventType=SynchronizationEvent)
    event = kernel.current_thread.process.handles.lookup(handle)
    thread, outcome = caller(kernel, waiters, lambda: nt.NtWaitForSingleObject(handle))
    settle(kernel)
    assert thread.state == ThreadState.WAITING
    assert kernel.dispatcher.alert(thread, STATUS_USER_APC)
    settle(kernel)
    assert outcome["result"] == STATUS_USER_APC
    assert event.wait_blocks == []                       # the wait is gone from the event
    assert kernel.dispatcher.alert(thread, STATUS_USER_APC) is False   # nothing to alert


def test_a_user_apc_runs_before_the_thread_next_executes_an_instruction(nt, kernel):
    process, thread = spinner(kernel, nt, "apc.exe", COUNT_FOREVER)
    # A lone thread is given quanta (and the virtual clock moves with them) only while
    # something else may want the processor: a timer, armed past the end of the test.
    kernel.dispatcher.set_timer(10 * MS, lambda: None)
    kernel.dispatcher.run(lambda: kernel.clock.monotonic_ns() > 1 * MS)
    seen = []

    def apc() -> None:
        seen.append((kernel.current_thread is thread, process.cpu.read_register("rax")))
        process.cpu.write_register("rax", 1 << 50)       # as a signal frame moves registers

    kernel.dispatcher.queue_user_apc(thread, apc)
    kernel.dispatcher.run(lambda: kernel.clock.monotonic_ns() > 2 * MS)
    assert len(seen) == 1 and seen[0][0] is True
    assert process.cpu.read_register("rax") > 1 << 50    # it went on from where the APC left it
    assert thread.user_apcs == []


def test_a_lone_thread_that_ran_unpreempted_is_preempted_once_a_timer_is_set(tmp_path):
    """The quantum's counter lives in the translated code: a loop translated while its
    thread ran alone, with no counter, would never stop for a timer (cpu.run)."""
    import threading

    kernel = Kernel(str(tmp_path), deterministic=False)
    kernel.boot()
    process, _ = spinner(kernel, kernel.services, "alone.exe", COUNT_FOREVER)
    cpu = process.cpu
    runs = []
    original = cpu.run

    def run(instructions=0, *, blocks=0):
        runs.append(blocks)
        # Stop the run from outside after a while: the uncounted one to end the first
        # step, a counted one only if preemption failed (so the test fails, not hangs).
        watchdog = threading.Timer(0.02 if not blocks else 3.0, cpu.uc.emu_stop)
        watchdog.start()
        try:
            return original(instructions, blocks=blocks)
        finally:
            watchdog.cancel()

    cpu.run = run
    kernel.dispatcher.run(lambda: bool(runs))            # alone: one run with no count
    assert runs == [0]
    fired = []
    kernel.dispatcher.set_timer(1 * MS, lambda: fired.append(time.monotonic()))
    started = time.monotonic()
    kernel.dispatcher.run(lambda: bool(fired))
    assert fired[0] - started < 1.0, "the timer waited for a watchdog: no preemption"


def test_a_lone_thread_runs_uncounted_under_deterministic_too(nt, kernel):
    """Nothing else could want the processor: the thread runs at full speed, with no
    quantum, and the virtual clock stands still while it computes (it moves with calls,
    quanta and sleeps only), so the run stays the same run after run."""
    import threading

    process, _ = spinner(kernel, nt, "alone.exe", COUNT_FOREVER)
    runs = []
    original = process.cpu.run

    def run(instructions=0, *, blocks=0):
        runs.append(blocks)
        watchdog = threading.Timer(0.05, process.cpu.uc.emu_stop)   # (a `jmp`: no stores)
        watchdog.start()
        try:
            return original(instructions, blocks=blocks)
        finally:
            watchdog.cancel()

    process.cpu.run = run
    before = kernel.clock.monotonic_ns()
    kernel.dispatcher.run(lambda: bool(runs))
    assert runs == [0]
    assert kernel.clock.monotonic_ns() == before
    assert process.cpu.read_register("rax") > 0          # it did compute
