"""TCP and UDP on loopback between two processes: an echo of 4000 bytes with a half-close,
a datagram, EAGAIN from an empty non-blocking socket, a refused connection, IPv6, an
option. Addresses and ports that change from run to run are not printed."""
import os
import socket

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(5)
port = listener.getsockname()[1]
print("bound to an ephemeral port:", port > 0, flush=True)
child = os.fork()
if child == 0:
    client = socket.create_connection(("localhost", port))      # localhost from /etc/hosts
    client.sendall(b"ping" * 1000)
    client.shutdown(socket.SHUT_WR)
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    print("client got", len(received), received[:8], flush=True)
    os._exit(0)
connection, address = listener.accept()
print("server: the peer is", address[0], flush=True)
data = b""
while chunk := connection.recv(1000):
    data += chunk
connection.sendall(b"echo" + data)
connection.close()
os.waitpid(child, 0)
receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sender.sendto(b"datagram", receiver.getsockname())
message, source = receiver.recvfrom(100)
print("udp", message, source[0], source[1] == sender.getsockname()[1])
receiver.setblocking(False)
try:
    receiver.recv(10)
except BlockingIOError:
    print("udp, nothing waiting: EAGAIN")
try:
    socket.create_connection(("127.0.0.1", 1), timeout=5)
except OSError as error:
    print("port 1:", error.strerror)
v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
v6.bind(("::1", 0))
v6.listen(1)
print("v6", v6.getsockname()[0])
print("TCP_NODELAY", socket.create_connection(("::1", v6.getsockname()[1])).getsockopt(
    socket.IPPROTO_TCP, socket.TCP_NODELAY))
