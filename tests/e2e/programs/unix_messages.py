"""AF_UNIX datagram and seqpacket sockets: message boundaries, truncation, named datagram
sockets with sender addresses, connect, errors, a seqpacket connection passing a descriptor,
end of file."""
import array
import errno
import os
import socket

a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
a.send(b"one")
a.send(b"two, longer")
print("boundaries:", b.recv(100), b.recv(4))
print("type:", b.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_DGRAM)
b.setblocking(False)
try:
    b.recv(10)
except BlockingIOError:
    print("empty: EAGAIN")
a.send(b"truncated message")
data, _ancillary, flags, _address = b.recvmsg(5)
print("recvmsg:", data, bool(flags & socket.MSG_TRUNC))

for path in ("dg-server.sock", "dg-client.sock", "sp.sock"):
    if os.path.exists(path):
        os.unlink(path)
server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
server.bind("dg-server.sock")
client = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
client.bind("dg-client.sock")
client.sendto(b"hello", "dg-server.sock")
message, sender = server.recvfrom(100)
print("recvfrom:", message, sender)
server.sendto(b"reply", sender)
print("reply:", client.recv(100))
try:
    client.send(b"x")
except OSError as error:
    print("send unconnected:", errno.errorcode[error.errno])
client.connect("dg-server.sock")
client.send(b"connected send")
print(server.recv(100))
try:
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"x", "nowhere.sock")
except OSError as error:
    print("to nowhere:", errno.errorcode[error.errno])

listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
listener.bind("sp.sock")
listener.listen(1)
child = os.fork()
if child == 0:
    listener.close()
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    connection.connect("sp.sock")
    read_end, write_end = os.pipe()
    os.write(write_end, b"through the pipe")
    connection.sendmsg([b"first"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [read_end]))])
    connection.send(b"second")
    connection.close()
    os._exit(0)
accepted, _ = listener.accept()
message, ancillary, flags, _ = accepted.recvmsg(100, socket.CMSG_SPACE(4))
fds = array.array("i")
for _level, kind, payload in ancillary:
    if kind == socket.SCM_RIGHTS:
        fds.frombytes(payload)
print("seqpacket:", message, os.read(fds[0], 100))
print("then:", accepted.recv(100), "then the end:", accepted.recv(100))
os.waitpid(child, 0)
for path in ("dg-server.sock", "dg-client.sock", "sp.sock"):
    os.unlink(path)
