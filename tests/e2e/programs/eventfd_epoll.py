"""eventfd: EAGAIN when empty and non-blocking, epoll readiness, counting, semaphore mode,
the largest value refused, /proc/self/fd, a write from a child process, fstat."""
import errno
import os
import select

fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
try:
    os.eventfd_read(fd)
except BlockingIOError as error:
    print("empty read:", errno.errorcode[error.errno])
poller = select.epoll()
poller.register(fd, select.EPOLLIN)
print("before:", poller.poll(0))
os.eventfd_write(fd, 3)
os.eventfd_write(fd, 4)
print("after:", poller.poll(1))
print("read:", os.eventfd_read(fd))
semaphore = os.eventfd(2, os.EFD_SEMAPHORE)
print("semaphore:", os.eventfd_read(semaphore), os.eventfd_read(semaphore))
try:
    os.write(semaphore, b"\xff" * 8)
except OSError as error:
    print("largest value:", errno.errorcode[error.errno])
print(os.readlink(f"/proc/self/fd/{fd}"))
child = os.fork()
if child == 0:
    os.eventfd_write(semaphore, 5)
    os._exit(0)
print("from the child:", os.eventfd_read(semaphore))     # waits for the child's write
os.waitpid(child, 0)
print("mode", oct(os.fstat(fd).st_mode))
