/* polls: poll, ppoll, select and pselect on pipes, a regular file and /dev/null —
 * readiness, POLLHUP / POLLERR / POLLNVAL, timeouts (the time left is written back),
 * EBADF. Output is deterministic.
 *   polls          every check, exit 0
 *   polls stdin    wait (up to 10 s) for standard input to become readable, then
 *                  print whether poll and select say so and echo a line of it
 *   polls eintr    poll, select and ppoll on an empty pipe, each cut short by a
 *                  SIGALRM handler: EINTR, even with SA_RESTART; then ppoll and
 *                  pselect with a mask that unblocks a SIGUSR1 already pending:
 *                  EINTR at once, the handler run, the old mask back after */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *names(int r) {
    static char text[128];
    text[0] = 0;
    const char *n[] = {"IN", "PRI", "OUT", "ERR", "HUP", "NVAL"};
    for (int i = 0; i < 6; i++)
        if (r & (1 << i)) { strcat(text, text[0] ? "|" : ""); strcat(text, n[i]); }
    return text[0] ? text : "-";
}

static void show(const char *what, int fd, short events, int timeout) {
    struct pollfd f = {fd, events, 0};
    int n = poll(&f, 1, timeout);
    printf("%-40s poll -> %d %s\n", what, n, n < 0 ? strerror(errno) : names(f.revents));
}

static long elapsed_ms(struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static int stdin_check(void) {
    struct pollfd f = {0, POLLIN, 0};
    int n = poll(&f, 1, 10000);
    printf("poll(stdin): %d, readable %s\n", n, f.revents & POLLIN ? "yes" : "no");
    fd_set r;
    FD_ZERO(&r);
    FD_SET(0, &r);
    struct timeval tv = {10, 0};
    n = select(1, &r, NULL, NULL, &tv);
    printf("select(stdin): %d, readable %s\n", n, FD_ISSET(0, &r) ? "yes" : "no");
    char line[256];
    if (fgets(line, sizeof line, stdin)) printf("got: %s", line);
    return 0;
}

static void on_alarm(int signal) { (void)signal; }

static volatile sig_atomic_t usr1_count;
static void on_usr1(int signal) { (void)signal; usr1_count++; }

/* SIGUSR1 blocked and pending; ppoll (which 0) or pselect (1) waits on `fd` for up to
 * `seconds` with a mask that lets it through: Linux looks for pending signals before it
 * sleeps (and even with a zero timeout), but a ready fd wins, and then the signal stays
 * pending under the old mask until it is unblocked. */
static void pending_check(const char *what, int which, int fd, int seconds) {
    sigset_t usr1, without, now;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    sigprocmask(SIG_BLOCK, NULL, &without);
    sigdelset(&without, SIGUSR1);
    usr1_count = 0;
    raise(SIGUSR1);
    int before = usr1_count;
    struct timespec start, ts = {seconds, 0};
    clock_gettime(CLOCK_MONOTONIC, &start);
    int n;
    if (which == 0) {
        struct pollfd f = {fd, POLLIN, 0};
        n = ppoll(&f, 1, &ts, &without);
    } else {
        fd_set r;
        FD_ZERO(&r);
        FD_SET(fd, &r);
        n = pselect(fd + 1, &r, NULL, NULL, &ts, &without);
    }
    int error = errno;
    long waited = elapsed_ms(&start);
    int during = usr1_count;
    sigprocmask(SIG_BLOCK, NULL, &now);
    sigprocmask(SIG_UNBLOCK, &usr1, NULL);
    printf("%s, SIGUSR1 pending: %d %s, handler ran %d time(s) (%d before, %d after unblocking),"
           " at once: %s, SIGUSR1 blocked after: %s\n", what, n, n < 0 ? strerror(error) : "",
           during, before, usr1_count, waited < 1000 ? "yes" : "no",
           sigismember(&now, SIGUSR1) ? "yes" : "no");
}

static int eintr_check(void) {
    int p[2];
    pipe(p);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_alarm;
    struct itimerval in50ms = {{0, 0}, {0, 50000}};
    struct pollfd f = {p[0], POLLIN, 0};
    fd_set r;
    for (int restart = 0; restart < 2; restart++) {
        action.sa_flags = restart ? SA_RESTART : 0;
        sigaction(SIGALRM, &action, NULL);
        setitimer(ITIMER_REAL, &in50ms, NULL);
        int n = poll(&f, 1, 5000);
        printf("%s poll: %d %s\n", restart ? "SA_RESTART" : "plain", n, n < 0 ? strerror(errno) : "");
        setitimer(ITIMER_REAL, &in50ms, NULL);
        FD_ZERO(&r);
        FD_SET(p[0], &r);
        n = select(p[0] + 1, &r, NULL, NULL, NULL);
        printf("%s select: %d %s\n", restart ? "SA_RESTART" : "plain", n, n < 0 ? strerror(errno) : "");
        setitimer(ITIMER_REAL, &in50ms, NULL);
        struct timespec ts = {5, 0};
        n = ppoll(&f, 1, &ts, NULL);
        printf("%s ppoll: %d %s\n", restart ? "SA_RESTART" : "plain", n, n < 0 ? strerror(errno) : "");
    }
    action.sa_handler = on_usr1;
    action.sa_flags = 0;
    sigaction(SIGUSR1, &action, NULL);
    pending_check("ppoll 5 s", 0, p[0], 5);
    pending_check("pselect 5 s", 1, p[0], 5);
    pending_check("ppoll 0 s", 0, p[0], 0);
    pending_check("pselect 0 s", 1, p[0], 0);
    write(p[1], "x", 1);
    pending_check("ppoll 5 s, data", 0, p[0], 5);
    pending_check("pselect 5 s, data", 1, p[0], 5);
    return 0;
}

int main(int argc, char **argv) {
    int p[2];
    struct timespec start;
    if (argc > 1 && strcmp(argv[1], "stdin") == 0) return stdin_check();
    if (argc > 1 && strcmp(argv[1], "eintr") == 0) return eintr_check();

    pipe(p);
    show("empty pipe, read end", p[0], POLLIN, 0);
    show("empty pipe, write end", p[1], POLLIN | POLLOUT, 0);
    write(p[1], "data", 4);
    show("pipe with data, read end", p[0], POLLIN | POLLOUT, 0);
    show("pipe with data, read end, no events", p[0], 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &start);
    show("empty pipe, 50 ms", p[1], POLLIN, 50);
    printf("poll waited at least 50 ms: %s\n", elapsed_ms(&start) >= 50 ? "yes" : "no");

    struct pollfd two[3] = {{p[0], POLLIN, 0}, {-1, POLLIN, 77}, {p[1], POLLOUT, 0}};
    int ready = poll(two, 3, -1);
    printf("poll of three (one fd -1): %d, revents %s", ready, names(two[0].revents));
    printf(" / %d / %s\n", two[1].revents, names(two[2].revents));
    close(p[1]);
    show("read end, writer closed, data left", p[0], POLLIN, 0);
    char buffer[16];
    read(p[0], buffer, sizeof buffer);
    show("read end, writer closed, drained", p[0], POLLIN, -1);
    close(p[0]);

    pipe(p);
    close(p[0]);
    show("write end, reader closed", p[1], POLLOUT, 0);
    show("write end, reader closed, no events", p[1], 0, 0);
    show("a closed fd", p[0], POLLIN, 0);
    close(p[1]);

    pipe2(p, O_NONBLOCK);
    while (write(p[1], buffer, sizeof buffer) > 0) {}
    show("full pipe, write end", p[1], POLLOUT, 0);
    read(p[0], buffer, sizeof buffer);
    show("full pipe less 16 bytes, write end", p[1], POLLOUT, 0);
    close(p[0]);
    close(p[1]);

    int file = open(argv[0], O_RDONLY);
    show("a regular file", file, POLLIN | POLLOUT, 0);
    int null = open("/dev/null", O_RDWR);
    show("/dev/null", null, POLLIN | POLLOUT, -1);
    int path = open(argv[0], O_PATH);
    show("an O_PATH fd", path, POLLIN, 0);

    struct timespec ts = {0, 20000000};
    pipe(p);
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct pollfd f = {p[0], POLLIN, 0};
    int n = ppoll(&f, 1, &ts, NULL);
    printf("ppoll 20 ms on an empty pipe: %d, waited at least 20 ms: %s\n", n,
           elapsed_ms(&start) >= 20 ? "yes" : "no");

    clock_gettime(CLOCK_MONOTONIC, &start);
    n = poll(NULL, 0, 20);
    printf("poll(NULL, 0, 20) as a sleep: %d, waited at least 20 ms: %s\n", n,
           elapsed_ms(&start) >= 20 ? "yes" : "no");

    fd_set r, w;
    FD_ZERO(&r); FD_ZERO(&w);
    FD_SET(p[0], &r); FD_SET(p[1], &w); FD_SET(file, &r);
    struct timeval tv = {1, 0};
    n = select(p[1] + 2, &r, &w, NULL, &tv);
    printf("select: %d, pipe readable %d, pipe writable %d, file readable %d\n", n,
           FD_ISSET(p[0], &r), FD_ISSET(p[1], &w), FD_ISSET(file, &r));
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    tv.tv_sec = 0; tv.tv_usec = 30000;
    clock_gettime(CLOCK_MONOTONIC, &start);
    n = select(p[0] + 1, &r, NULL, NULL, &tv);
    printf("select 30 ms on an empty pipe: %d, set %d, time left %ld.%06ld, waited: %s\n", n,
           FD_ISSET(p[0], &r), (long)tv.tv_sec, (long)tv.tv_usec, elapsed_ms(&start) >= 30 ? "yes" : "no");
    write(p[1], "x", 1);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    ts.tv_sec = 1; ts.tv_nsec = 0;
    n = pselect(p[0] + 1, &r, NULL, NULL, &ts, &mask);
    printf("pselect with data: %d, set %d\n", n, FD_ISSET(p[0], &r));
    FD_ZERO(&r);
    FD_SET(p[1] + 5, &r);
    tv.tv_sec = 0; tv.tv_usec = 0;
    n = select(p[1] + 6, &r, NULL, NULL, &tv);
    printf("select with a closed fd: %d %s\n", n, n < 0 ? strerror(errno) : "");
    n = select(-1, NULL, NULL, NULL, &tv);
    printf("select with nfds -1: %d %s\n", n, n < 0 ? strerror(errno) : "");
    close(p[1]);
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    read(p[0], buffer, 1);
    n = select(p[0] + 1, &r, NULL, NULL, NULL);
    printf("select, writer closed: %d, set %d\n", n, FD_ISSET(p[0], &r));
    return 0;
}
