"""signalfd with epoll: a blocked SIGUSR1 read as a record, EAGAIN when none, a child's
SIGCHLD with its pid and status."""
import ctypes
import os
import select
import signal
import struct

libc = ctypes.CDLL(None, use_errno=True)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGCHLD})
mask = ctypes.c_uint64((1 << (signal.SIGUSR1 - 1)) | (1 << (signal.SIGCHLD - 1)))
fd = libc.signalfd(-1, ctypes.byref(mask), os.O_NONBLOCK | os.O_CLOEXEC)
ep = select.epoll()
ep.register(fd, select.EPOLLIN)
print("before:", ep.poll(0))
os.kill(os.getpid(), signal.SIGUSR1)
print("after kill:", [(f == fd, e) for f, e in ep.poll(1)])
rec = os.read(fd, 128)
signo, _errno, code, pid = struct.unpack_from("<IiiI", rec)
print("read:", signo == signal.SIGUSR1, code, pid == os.getpid())
try:
    os.read(fd, 128)
except BlockingIOError:
    print("empty: EAGAIN")
child = os.fork()
if child == 0:
    os._exit(7)
print("child exit seen:", bool(ep.poll(10)))
rec = os.read(fd, 128)
signo, _errno, code, pid, _uid, _, _, _, _, _, status = struct.unpack_from("<IiiIIiIIIIi", rec)
print("SIGCHLD:", signo == signal.SIGCHLD, code == 1, pid == child, status)
os.waitpid(child, 0)
