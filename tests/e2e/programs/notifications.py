"""timerfd with epoll, a pidfd that becomes readable when its child exits, signalling
through a pidfd, waitid(P_PIDFD), close_range, subprocess (which uses close_range)."""
import ctypes
import os
import select
import signal
import struct
import subprocess
import time

libc = ctypes.CDLL(None, use_errno=True)              # timerfd through libc (Python < 3.13)
timer = libc.timerfd_create(time.CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
period = struct.pack("<qqqq", 0, 50_000_000, 0, 50_000_000)   # every 50 ms, first in 50 ms
libc.timerfd_settime(timer, 0, period, None)
try:
    os.read(timer, 8)
except BlockingIOError:
    print("timerfd before it fires: EAGAIN")
poller = select.epoll()
poller.register(timer, select.EPOLLIN)
print("timer fired:", bool(poller.poll(5)))
time.sleep(0.2)
print("expirations counted:", int.from_bytes(os.read(timer, 8), "little") >= 2)
current = ctypes.create_string_buffer(32)
libc.timerfd_gettime(timer, current)
print("still armed, interval 50 ms:", struct.unpack("<qqqq", current.raw)[:2] == (0, 50_000_000))
child = os.fork()
if child == 0:
    signal.pause()
    os._exit(3)
pidfd = os.pidfd_open(child)
print("pidfd readable while the child lives:", bool(select.select([pidfd], [], [], 0.1)[0]))
signal.pidfd_send_signal(pidfd, signal.SIGTERM)
print("pidfd readable after:", bool(select.select([pidfd], [], [], 10)[0]))
info = os.waitid(os.P_PIDFD, pidfd, os.WEXITED)
print("waitid P_PIDFD:", info.si_code == os.CLD_KILLED, info.si_status == signal.SIGTERM)
low = [os.open("/dev/null", os.O_RDONLY) for _ in range(5)]
os.closerange(low[1], low[3] + 1)                        # close_range(2) in Python 3.10+
print("after close_range:", [fd for fd in low if os.path.exists(f"/proc/self/fd/{fd}")] == [low[0], low[4]])
print(subprocess.run(["/bin/echo", "subprocess"], capture_output=True, close_fds=True).stdout)
