/* pingpong: a one-byte round trip between two processes, N times, over an AF_UNIX stream
 * socket (a path name) or a TCP connection on 127.0.0.1 — what a socket's latency costs.
 *   pingpong unix N     prints "N round trips", exit 0
 *   pingpong tcp N */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void bounce(int fd, long rounds, int first) {
    char byte = 'x';
    for (long i = 0; i < rounds; i++) {
        if (first && write(fd, &byte, 1) != 1) exit(2);
        if (read(fd, &byte, 1) != 1) exit(3);
        if (!first && write(fd, &byte, 1) != 1) exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: pingpong unix|tcp N\n");
        return 1;
    }
    long rounds = atol(argv[2]);
    int tcp = strcmp(argv[1], "tcp") == 0;
    int listener = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    struct sockaddr_in in = {.sin_family = AF_INET};
    socklen_t length;
    struct sockaddr *address;
    if (tcp) {
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address = (struct sockaddr *)&in;
        length = sizeof in;
    } else {
        snprintf(un.sun_path, sizeof un.sun_path, "pingpong-%d.sock", (int)getpid());
        unlink(un.sun_path);
        address = (struct sockaddr *)&un;
        length = sizeof un;
    }
    if (bind(listener, address, length) < 0 || listen(listener, 1) < 0) {
        perror("bind/listen");
        return 1;
    }
    getsockname(listener, address, &length);
    pid_t child = fork();
    if (child == 0) {
        int fd = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, address, length) < 0) {
            perror("connect");
            _exit(1);
        }
        int one = 1;
        if (tcp) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        bounce(fd, rounds, 1);
        _exit(0);
    }
    int fd = accept(listener, NULL, NULL);
    int one = 1;
    if (tcp) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bounce(fd, rounds, 0);
    int status;
    waitpid(child, &status, 0);
    if (!tcp) unlink(un.sun_path);
    printf("%ld round trips\n", rounds);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
