/* sockets: socketpair(AF_UNIX, SOCK_STREAM) — both ways, fstat (S_ISSOCK),
 * /proc/self/fd/N, send/recv and their flags (MSG_DONTWAIT, MSG_PEEK, MSG_NOSIGNAL),
 * sendmsg/recvmsg with iovecs, FIONBIO and FIONREAD, poll and epoll readiness, a forked
 * child talking over the pair, EPIPE with SIGPIPE ignored, shutdown, socket names and
 * options, and the errnos. Output is deterministic (no inode numbers or pids printed).
 * Exit 0.
 *   sockets dgram   socketpair(AF_UNIX, SOCK_DGRAM and SOCK_SEQPACKET): Linux makes them;
 *                   ntsim does not model message boundaries (ESOCKTNOSUPPORT) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerror(errno) : "ok"; }

static void show_poll(const char *what, int fd, short events) {
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, 0);
    printf("poll %s: %d revents=%s%s%s%s%s\n", what, n, p.revents & POLLIN ? " IN" : "",
           p.revents & POLLOUT ? " OUT" : "", p.revents & POLLHUP ? " HUP" : "",
           p.revents & POLLERR ? " ERR" : "", p.revents & POLLRDHUP ? " RDHUP" : "");
}

static void both_ways(void) {
    int sv[2];
    char buf[64];
    printf("socketpair: %s\n", err(socketpair(AF_UNIX, SOCK_STREAM, 0, sv)));
    printf("write 0->1: %zd\n", write(sv[0], "ping", 4));
    long n = read(sv[1], buf, sizeof buf);
    printf("read at 1: %ld '%.*s'\n", n, (int)n, buf);
    printf("send 1->0: %zd\n", send(sv[1], "pong!", 5, 0));
    n = recv(sv[0], buf, sizeof buf, 0);
    printf("recv at 0: %ld '%.*s'\n", n, (int)n, buf);

    struct stat st;
    fstat(sv[0], &st);
    printf("fstat: S_ISSOCK %d, mode %o\n", S_ISSOCK(st.st_mode), (unsigned)(st.st_mode & 07777));
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", sv[1]);
    n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("readlink starts with socket:[ %d\n", strncmp(link, "socket:[", 8) == 0);
    printf("open /proc/self/fd/N: %s\n", err(open(path, O_RDWR)));
    printf("lseek: %s\n", err(lseek(sv[0], 0, SEEK_SET)));

    printf("recv MSG_DONTWAIT (empty): %s\n", err(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT)));
    send(sv[1], "abcdef", 6, 0);
    int avail = -1;
    ioctl(sv[0], FIONREAD, &avail);
    printf("FIONREAD: %d\n", avail);
    n = recv(sv[0], buf, 3, MSG_PEEK);
    printf("recv MSG_PEEK: %ld '%.*s'\n", n, (int)n, buf);
    n = recv(sv[0], buf, sizeof buf, MSG_DONTWAIT);
    printf("recv MSG_DONTWAIT: %ld '%.*s'\n", n, (int)n, buf);

    int on = 1;
    printf("FIONBIO on: %s\n", err(ioctl(sv[0], FIONBIO, &on)));
    printf("O_NONBLOCK now: %d\n", !!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));
    printf("read (empty, non-blocking): %s\n", err(read(sv[0], buf, sizeof buf)));
    on = 0;
    ioctl(sv[0], FIONBIO, &on);
    printf("O_NONBLOCK after FIONBIO off: %d\n", !!(fcntl(sv[0], F_GETFL) & O_NONBLOCK));

    /* vectors */
    struct iovec out[2] = {{"hello ", 6}, {"world", 5}};
    struct msghdr m = {0};
    m.msg_iov = out;
    m.msg_iovlen = 2;
    printf("sendmsg: %zd\n", sendmsg(sv[0], &m, 0));
    char a[4], b[16];
    struct iovec in[2] = {{a, 4}, {b, sizeof b}};
    struct sockaddr_un from;
    memset(&m, 0, sizeof m);
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = in;
    m.msg_iovlen = 2;
    char control[64];
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    n = recvmsg(sv[1], &m, 0);
    printf("recvmsg: %ld '%.4s' '%.*s' namelen %u controllen %zu flags %d\n", n, a, (int)(n - 4), b,
           (unsigned)m.msg_namelen, (size_t)m.msg_controllen, m.msg_flags);
    writev(sv[1], out, 2);
    n = readv(sv[0], in, 2);
    printf("writev/readv: %ld '%.4s' '%.*s'\n", n, a, (int)(n - 4), b);
    close(sv[0]);
    close(sv[1]);
}

static void flags_and_readiness(void) {
    int sv[2];
    char buf[16];
    printf("socketpair SOCK_NONBLOCK|SOCK_CLOEXEC: %s\n",
           err(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)));
    printf("O_NONBLOCK %d, FD_CLOEXEC %d\n", !!(fcntl(sv[0], F_GETFL) & O_NONBLOCK),
           !!(fcntl(sv[1], F_GETFD) & FD_CLOEXEC));
    printf("recv (empty): %s\n", err(recv(sv[1], buf, sizeof buf, 0)));
    show_poll("empty", sv[1], POLLIN | POLLOUT);
    send(sv[0], "x", 1, 0);
    show_poll("after send", sv[1], POLLIN | POLLOUT);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42}, got[2];
    printf("epoll_ctl ADD: %s\n", err(epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev)));
    int k = epoll_wait(ep, got, 2, 0);
    printf("epoll_wait: %d events=%#x data=%llu\n", k, k > 0 ? got[0].events : 0,
           k > 0 ? (unsigned long long)got[0].data.u64 : 0);
    recv(sv[1], buf, sizeof buf, 0);
    printf("epoll_wait after recv: %d\n", epoll_wait(ep, got, 2, 0));
    close(ep);

    /* shutdown */
    send(sv[0], "tail", 4, 0);
    printf("shutdown SHUT_WR: %s\n", err(shutdown(sv[0], SHUT_WR)));
    show_poll("peer after SHUT_WR", sv[1], POLLIN | POLLOUT | POLLRDHUP);
    long n = recv(sv[1], buf, sizeof buf, 0);
    printf("peer recv: %ld '%.*s'\n", n, (int)n, buf);
    printf("peer recv again (EOF): %ld\n", (long)recv(sv[1], buf, sizeof buf, 0));
    printf("send after own SHUT_WR: %s\n", err(send(sv[0], "x", 1, MSG_NOSIGNAL)));
    printf("peer can still send back: %zd\n", send(sv[1], "back", 4, 0));
    n = recv(sv[0], buf, sizeof buf, 0);
    printf("recv back: %ld '%.*s'\n", n, (int)n, buf);
    printf("shutdown SHUT_RD at peer: %s\n", err(shutdown(sv[1], SHUT_RD)));
    show_poll("after both", sv[1], POLLIN | POLLOUT);
    printf("shutdown how=7: %s\n", err(shutdown(sv[0], 7)));
    close(sv[0]);
    close(sv[1]);
}

static void names_and_options(void) {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    memset(&addr, 0xff, sizeof addr);
    long r = getsockname(sv[0], (struct sockaddr *)&addr, &len);
    printf("getsockname: %s family %d len %u\n", err(r), addr.ss_family, (unsigned)len);
    memset(&addr, 0xff, sizeof addr);
    len = sizeof addr;
    r = getpeername(sv[0], (struct sockaddr *)&addr, &len);
    printf("getpeername: %s family %d len %u\n", err(r), addr.ss_family, (unsigned)len);
    len = 1;
    r = getsockname(sv[0], (struct sockaddr *)&addr, &len);
    printf("getsockname with room for 1 byte: %s len %u\n", err(r), (unsigned)len);
    int value = -1;
    len = sizeof value;
    getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &value, &len);
    printf("SO_TYPE: %d (SOCK_STREAM %d) len %u\n", value, SOCK_STREAM, (unsigned)len);
    getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &value, &len);
    printf("SO_DOMAIN: %d (AF_UNIX %d)\n", value, AF_UNIX);
    getsockopt(sv[0], SOL_SOCKET, SO_ERROR, &value, &len);
    printf("SO_ERROR: %d\n", value);
    getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &value, &len);
    printf("SO_ACCEPTCONN: %d\n", value);
    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &value, &len);
    printf("SO_SNDBUF > 0: %d\n", value > 0);
    value = 8192;
    printf("setsockopt SO_RCVBUF: %s\n", err(setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &value, sizeof value)));
    len = sizeof value;
    getsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &value, &len);
    printf("SO_RCVBUF after setting 8192: %d\n", value);
    value = 1;
    printf("setsockopt SO_PASSCRED: %s\n", err(setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &value, sizeof value)));
    struct ucred cred;
    len = sizeof cred;
    getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cred, &len);
    printf("SO_PEERCRED: pid is mine %d, uid %d, len %u\n", cred.pid == getpid(), cred.uid == geteuid(),
           (unsigned)len);
    printf("getsockopt level 0: %s\n", err(getsockopt(sv[0], 0, SO_TYPE, &value, &len)));
    printf("setsockopt short: %s\n", err(setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &value, 2)));
    printf("connect: %s\n", err(connect(sv[0], (struct sockaddr *)&addr, sizeof(sa_family_t))));
    printf("listen: %s\n", err(listen(sv[0], 1)));
    printf("accept: %s\n", err(accept(sv[0], NULL, NULL)));
    close(sv[0]);
    close(sv[1]);
}

static void peer_gone(void) {
    int sv[2];
    char buf[8];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    send(sv[1], "last", 4, 0);
    close(sv[1]);
    show_poll("peer closed", sv[0], POLLIN | POLLOUT);
    long n = recv(sv[0], buf, sizeof buf, 0);
    printf("recv what was left: %ld\n", n);
    printf("recv after (EOF): %ld\n", (long)recv(sv[0], buf, sizeof buf, 0));
    printf("send MSG_NOSIGNAL: %s\n", err(send(sv[0], "x", 1, MSG_NOSIGNAL)));
    signal(SIGPIPE, SIG_IGN);
    printf("write, SIGPIPE ignored: %s\n", err(write(sv[0], "x", 1)));
    signal(SIGPIPE, SIG_DFL);
    close(sv[0]);
}

static void with_child(void) {
    int sv[2];
    char buf[256];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        long total = 0, n;
        while ((n = recv(sv[1], buf, sizeof buf, 0)) > 0) {
            total += n;
            if (total == 100000) break;
        }
        char reply[32];
        int len = snprintf(reply, sizeof reply, "child got %ld", total);
        send(sv[1], reply, len, 0);
        _exit(0);
    }
    close(sv[1]);
    static char big[100000];
    memset(big, 'z', sizeof big);
    printf("parent sent: %zd\n", send(sv[0], big, sizeof big, 0));   /* blocks until the child reads */
    long n = recv(sv[0], buf, sizeof buf, 0);
    printf("reply: '%.*s'\n", (int)n, buf);
    int status;
    waitpid(pid, &status, 0);
    printf("child exit: %d\n", WEXITSTATUS(status));
    printf("recv after child exit: %ld\n", (long)recv(sv[0], buf, sizeof buf, 0));
    close(sv[0]);
}

static void errors(void) {
    int sv[2], p[2];
    printf("socketpair AF_INET: %s\n", err(socketpair(AF_INET, SOCK_STREAM, 0, sv)));
    printf("socketpair AF_UNIX SOCK_STREAM protocol 9: %s\n", err(socketpair(AF_UNIX, SOCK_STREAM, 9, sv)));
    printf("socketpair bad flags: %s\n", err(socketpair(AF_UNIX, SOCK_STREAM | 0x10000, 0, sv)));
    printf("socketpair family 4000: %s\n", err(socketpair(4000, SOCK_STREAM, 0, sv)));
    pipe(p);
    char c;
    printf("send on a pipe: %s\n", err(send(p[1], "x", 1, 0)));
    printf("recv on a pipe: %s\n", err(recv(p[0], &c, 1, 0)));
    printf("shutdown on a pipe: %s\n", err(shutdown(p[0], SHUT_RD)));
    close(p[0]);
    close(p[1]);
    printf("send on a closed fd: %s\n", err(send(p[1], "x", 1, 0)));
    printf("getsockopt on a closed fd: %s\n", err(getsockopt(p[1], SOL_SOCKET, SO_TYPE, &c, NULL)));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "dgram") == 0) {   /* where ntsim and Linux differ */
        int sv[2];
        printf("socketpair AF_UNIX SOCK_DGRAM: %s\n", err(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv)));
        printf("socketpair AF_UNIX SOCK_SEQPACKET: %s\n", err(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv)));
        return 0;
    }
    both_ways();
    flags_and_readiness();
    names_and_options();
    peer_gone();
    with_child();
    errors();
    return 0;
}
