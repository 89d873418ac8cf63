"""AF_UNIX stream sockets between two processes: a path name and an abstract one, an
echo, SO_PEERCRED, a descriptor passed with SCM_RIGHTS, the errors of names nobody
listens on. The server's lines are printed after the client has finished, so the
output does not depend on how the two processes are scheduled."""
import array
import os
import select
import socket
import struct

PATH = "srv.sock"
lines = []


def serve(listener):
    readable, _, _ = select.select([listener], [], [], 10)
    lines.append(f"server: listener readable {bool(readable)}")
    conn, addr = listener.accept()
    lines.append(f"server: peer address {addr!r}")
    conn.sendall(b"echo:" + conn.recv(100))
    msg, ancillary, flags, _ = conn.recvmsg(100, socket.CMSG_SPACE(4))
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload)
    lines.append(f"server: got {msg!r} and {len(fds)} fd(s), flags {flags}")
    os.lseek(fds[0], 0, 0)
    lines.append(f"server: the passed file says {os.read(fds[0], 100)!r}")
    conn.close()


def client(address):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(address)
    print("client: peer", repr(sock.getpeername()), "sockname", repr(sock.getsockname()))
    pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    print("client: the peer's pid is the parent's", pid == os.getppid())
    sock.sendall(b"hello")
    print("client:", sock.recv(100))
    with open("passed.txt", "w+") as passed:
        passed.write("through SCM_RIGHTS\n")
        passed.flush()
        sock.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [passed.fileno()]))])
    print("client: after the server closed, a read gives", sock.recv(10), flush=True)


if os.path.exists(PATH):
    os.unlink(PATH)
for kind, address in (("path", PATH), ("abstract", "\0ntsim-test-abstract")):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(4)
    print(kind, "name", repr(listener.getsockname()),
          "SO_ACCEPTCONN", listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN), flush=True)
    child = os.fork()
    if child == 0:
        listener.close()
        client(address)
        os._exit(0)
    serve(listener)
    os.waitpid(child, 0)
    print("\n".join(lines), flush=True)
    lines.clear()
    listener.close()
for what, action in (("connect to a missing name", lambda s: s.connect(PATH + ".none")),
                     ("connect where nobody listens", lambda s: s.connect(PATH)),
                     ("recv unconnected", lambda s: s.recv(1)),
                     ("send unconnected", lambda s: s.send(b"x")),
                     ("listen unbound", lambda s: s.listen(1)),
                     ("accept unbound", lambda s: s.accept())):
    try:
        action(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
    except OSError as error:
        print(what + ":", error.strerror)
print("the socket file's mode", oct(os.stat(PATH).st_mode & 0o170000))
os.unlink(PATH)
os.unlink("passed.txt")
