"""A sleep that SIGSTOP and SIGCONT cut short sleeps on to its deadline (restart_syscall)."""
import os
import signal
import time

signal.signal(signal.SIGUSR1, signal.SIG_IGN)
child = os.fork()
if child == 0:
    started = time.monotonic()
    time.sleep(0.5)
    print("slept the whole time:", time.monotonic() - started >= 0.5, flush=True)
    os._exit(0)
time.sleep(0.1)
os.kill(child, signal.SIGSTOP)
time.sleep(0.1)
os.kill(child, signal.SIGCONT)
os.waitpid(child, 0)
