/* epolls: epoll on pipes — an instance is an fd (fstat, /proc/self/fd, close-on-exec,
 * dup, fork), the interest list (ADD, MOD, DEL, and the errnos of wrong requests),
 * level- and edge-triggered readiness (every write to a pipe is a new edge for its
 * reader; a read is one for its writer only if the pipe was full), EPOLLONESHOT, EPOLLHUP / EPOLLERR, data.u64,
 * timeouts, a fair ready list when maxevents is small, nesting, an entry leaving the
 * set when its file is closed, and epoll_wait / epoll_pwait / epoll_pwait2 cut short
 * by a signal handler (EINTR). Output is deterministic (no inode or fd numbers).
 *   epolls               every check, exit 0
 *   epolls stdin         wait (up to 10 s) for standard input with epoll, say whether it
 *                        is readable, and echo a line of it
 *   epolls stdin-et      the same, edge-triggered, twice: a second line typed after
 *                        the first was read is a new edge
 *   epolls exec-check N  (run by the program itself) whether fd N survived execve */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

static const char *names(uint32_t e) {
    static char text[128];
    text[0] = 0;
    const struct { uint32_t bit; const char *name; } all[] = {
        {EPOLLIN, "IN"}, {EPOLLPRI, "PRI"}, {EPOLLOUT, "OUT"}, {EPOLLERR, "ERR"},
        {EPOLLHUP, "HUP"}, {EPOLLRDNORM, "RDNORM"}, {EPOLLWRNORM, "WRNORM"}, {EPOLLRDHUP, "RDHUP"}};
    for (unsigned i = 0; i < sizeof all / sizeof all[0]; i++)
        if (e & all[i].bit) { strcat(text, text[0] ? "|" : ""); strcat(text, all[i].name); }
    return text[0] ? text : "-";
}

static const char *result(long r) {
    static char text[64];
    if (r < 0) return strerror(errno);
    snprintf(text, sizeof text, "%ld", r);
    return text;
}

static int add(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event e = {.events = events, .data.u64 = data};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static int mod(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event e = {.events = events, .data.u64 = data};
    return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}

/* one epoll_wait, printed: the count, then each event's mask and data */
static int show(const char *what, int ep, int maxevents, int timeout) {
    struct epoll_event events[8];
    int n = epoll_wait(ep, events, maxevents, timeout);
    printf("%-44s -> %s", what, result(n));
    for (int i = 0; i < n; i++)
        printf(" [%s %llx]", names(events[i].events), (unsigned long long)events[i].data.u64);
    printf("\n");
    return n;
}

static long elapsed_ms(struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void the_fd_itself(char *self) {
    int ep = epoll_create1(0);
    int cloexec = epoll_create1(EPOLL_CLOEXEC);
    printf("epoll_create1(0): %s, FD_CLOEXEC %d\n", ep >= 0 ? "an fd" : strerror(errno),
           fcntl(ep, F_GETFD));
    printf("epoll_create1(EPOLL_CLOEXEC): FD_CLOEXEC %d\n", fcntl(cloexec, F_GETFD));
    printf("epoll_create1(O_NONBLOCK): %s\n", result(epoll_create1(O_NONBLOCK)));
    printf("epoll_create(0): %s\n", result(syscall(SYS_epoll_create, 0)));
    long old = syscall(SYS_epoll_create, 1);
    printf("epoll_create(1): %s, FD_CLOEXEC %d\n", old >= 0 ? "an fd" : strerror(errno),
           fcntl((int)old, F_GETFD));
    close((int)old);
    printf("F_GETFL: %o\n", fcntl(ep, F_GETFL));
    struct stat st;
    fstat(ep, &st);
    printf("fstat: type %o, permissions %o, size %lld, links %ld\n", st.st_mode & S_IFMT,
           st.st_mode & 07777, (long long)st.st_size, (long)st.st_nlink);
    char path[64], target[64] = {0};
    snprintf(path, sizeof path, "/proc/self/fd/%d", ep);
    readlink(path, target, sizeof target - 1);
    printf("readlink /proc/self/fd/N: %s\n", target);
    char byte;
    printf("read: %s\n", result(read(ep, &byte, 1)));
    printf("write: %s\n", result(write(ep, "x", 1)));
    printf("lseek: %s\n", result(lseek(ep, 0, SEEK_SET)));

    /* close-on-exec: the program runs itself and asks whether the fd is still there */
    pid_t pid = fork();
    if (pid == 0) {
        char number[16];
        snprintf(number, sizeof number, "%d", cloexec);
        char *argv[] = {self, "exec-check", number, NULL};
        execv(self, argv);
        _exit(99);
    }
    int status;
    waitpid(pid, &status, 0);
    pid = fork();
    if (pid == 0) {
        char number[16];
        snprintf(number, sizeof number, "%d", ep);
        char *argv[] = {self, "exec-check", number, NULL};
        execv(self, argv);
        _exit(99);
    }
    waitpid(pid, &status, 0);
    close(ep);
    close(cloexec);
}

static void pipe_from_a_child(void) {
    int p[2], ep = epoll_create1(0);
    pipe(p);
    printf("ADD read end: %s\n", result(add(ep, p[0], EPOLLIN, 0x1122334455667788ULL)));
    show("empty pipe, timeout 0", ep, 8, 0);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(30000);
        write(p[1], "hello", 5);
        _exit(0);
    }
    show("a forked child writes, timeout -1", ep, 8, -1);
    show("still readable (level-triggered)", ep, 8, 0);
    printf("ADD write end: %s\n", result(add(ep, p[1], EPOLLOUT, 0xabc)));
    show("both ends", ep, 8, 0);
    waitpid(pid, NULL, 0);
    close(p[1]);
    show("writer gone, data left", ep, 8, 0);
    char buffer[16];
    read(p[0], buffer, sizeof buffer);
    show("writer gone, drained", ep, 8, -1);
    printf("DEL of the closed write end: %s\n", result(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL)));
    close(p[0]);
    close(ep);
}

static void write_end_errors(void) {
    int p[2], ep = epoll_create1(0);
    pipe(p);
    add(ep, p[1], EPOLLOUT, 2);
    close(p[0]);
    show("write end, reader gone", ep, 8, 0);
    mod(ep, p[1], 0, 3);
    show("write end, reader gone, no events asked", ep, 8, 0);
    close(p[1]);
    close(ep);

    int full[2];
    pipe2(full, O_NONBLOCK);
    ep = epoll_create1(0);
    add(ep, full[1], EPOLLOUT, 4);
    static char chunk[4096];
    while (write(full[1], chunk, sizeof chunk) > 0) {}
    show("full pipe, write end", ep, 8, 0);
    read(full[0], chunk, sizeof chunk);
    show("full pipe less 4096 bytes, write end", ep, 8, 0);
    close(full[0]);
    close(full[1]);
    close(ep);
}

static void timeouts(void) {
    int p[2], ep = epoll_create1(0);
    pipe(p);
    add(ep, p[0], EPOLLIN, 5);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    show("empty pipe, timeout 50 ms", ep, 8, 50);
    printf("waited at least 50 ms: %s\n", elapsed_ms(&start) >= 50 ? "yes" : "no");
    struct epoll_event e;
    struct timespec ts = {0, 20000000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    long n = syscall(SYS_epoll_pwait2, ep, &e, 1, &ts, NULL, 8);
    printf("epoll_pwait2 20 ms: %s, waited at least 20 ms: %s\n", result(n),
           elapsed_ms(&start) >= 20 ? "yes" : "no");
    write(p[1], "x", 1);
    n = syscall(SYS_epoll_pwait2, ep, &e, 1, NULL, NULL, 8);
    printf("epoll_pwait2, no timeout, data: %s [%s %llx]\n", result(n), names(e.events),
           (unsigned long long)e.data.u64);
    ts.tv_nsec = 2000000000;
    printf("epoll_pwait2, tv_nsec 2e9: %s\n", result(syscall(SYS_epoll_pwait2, ep, &e, 1, &ts, NULL, 8)));
    printf("raw epoll_wait: %s\n", result(syscall(SYS_epoll_wait, ep, &e, 1, 0)));
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void interest_list(void) {
    int p[2], ep = epoll_create1(0);
    pipe(p);
    write(p[1], "abc", 3);
    printf("ADD: %s\n", result(add(ep, p[0], EPOLLIN | EPOLLONESHOT, 6)));
    show("one-shot, first wait", ep, 8, 0);
    show("one-shot, second wait (disabled)", ep, 8, 0);
    printf("ADD again: %s\n", result(add(ep, p[0], EPOLLIN, 7)));
    printf("MOD re-arms: %s\n", result(mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 8)));
    show("one-shot after MOD", ep, 8, 0);
    printf("MOD to level-triggered: %s\n", result(mod(ep, p[0], EPOLLIN | EPOLLRDNORM | EPOLLPRI | EPOLLRDHUP, 9)));
    show("after MOD (RDNORM asked too)", ep, 8, 0);
    show("again", ep, 8, 0);
    printf("MOD to EPOLLOUT on the read end: %s\n", result(mod(ep, p[0], EPOLLOUT, 10)));
    show("read end, OUT asked", ep, 8, 0);
    printf("DEL: %s\n", result(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL)));
    show("after DEL", ep, 8, 0);
    printf("DEL again: %s\n", result(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL)));
    printf("MOD of an fd not in the set: %s\n", result(mod(ep, p[0], EPOLLIN, 0)));

    /* two ready entries and maxevents 1: the ready list goes round */
    int q[2];
    pipe(q);
    write(q[1], "q", 1);
    add(ep, p[0], EPOLLIN, 0xa);
    add(ep, q[0], EPOLLIN, 0xb);
    show("two ready, maxevents 1", ep, 1, 0);
    show("two ready, maxevents 1, again", ep, 1, 0);
    show("two ready, maxevents 1, a third time", ep, 1, 0);
    show("two ready, maxevents 8", ep, 8, 0);

    /* an entry lives as long as its open file, not its fd */
    int copy = dup(p[0]);
    add(ep, copy, EPOLLIN, 0xc);
    close(copy);
    show("dup added then closed (p[0] still open)", ep, 8, 0);
    printf("DEL of the closed dup: %s\n", result(epoll_ctl(ep, EPOLL_CTL_DEL, copy, NULL)));
    close(q[0]);
    show("q's read end closed: its entry is gone", ep, 8, 0);
    int again[2];
    pipe(again);
    printf("ADD of a new pipe at the old fd number: %s\n", result(add(ep, again[0], EPOLLIN, 0xd)));
    close(again[0]);
    close(again[1]);
    close(q[1]);
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void errors(char *self) {
    int p[2], ep = epoll_create1(0), other = epoll_create1(0);
    pipe(p);
    struct epoll_event e = {.events = EPOLLIN};
    int file = open(self, O_RDONLY);
    int directory = open("/", O_RDONLY | O_DIRECTORY);
    int null = open("/dev/null", O_RDWR);
    int path = open(self, O_PATH);
    printf("ADD a regular file: %s\n", result(epoll_ctl(ep, EPOLL_CTL_ADD, file, &e)));
    printf("ADD a directory: %s\n", result(epoll_ctl(ep, EPOLL_CTL_ADD, directory, &e)));
    printf("ADD /dev/null: %s\n", result(epoll_ctl(ep, EPOLL_CTL_ADD, null, &e)));
    printf("ADD an O_PATH fd: %s\n", result(epoll_ctl(ep, EPOLL_CTL_ADD, path, &e)));
    printf("ADD a closed fd: %s\n", result(epoll_ctl(ep, EPOLL_CTL_ADD, 999, &e)));
    printf("ADD to a closed epfd: %s\n", result(epoll_ctl(999, EPOLL_CTL_ADD, p[0], &e)));
    printf("ADD to a pipe (not an epoll fd): %s\n", result(epoll_ctl(p[1], EPOLL_CTL_ADD, p[0], &e)));
    printf("ADD a regular file to a pipe: %s\n", result(epoll_ctl(p[1], EPOLL_CTL_ADD, file, &e)));
    printf("ADD the epoll fd to itself: %s\n", result(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &e)));
    int copy = dup(ep);
    printf("ADD a dup of the epoll fd to it: %s\n", result(epoll_ctl(ep, EPOLL_CTL_ADD, copy, &e)));
    printf("op 99: %s\n", result(epoll_ctl(ep, 99, p[0], &e)));
    printf("ADD with a NULL event: %s\n", result(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], NULL)));
    e.events = EPOLLIN | EPOLLEXCLUSIVE;
    printf("ADD EPOLLEXCLUSIVE: %s\n", result(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e)));
    printf("MOD EPOLLEXCLUSIVE: %s\n", result(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &e)));
    e.events = EPOLLIN;
    printf("MOD of an exclusive entry: %s\n", result(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &e)));
    e.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
    printf("ADD EPOLLEXCLUSIVE|EPOLLONESHOT: %s\n", result(epoll_ctl(other, EPOLL_CTL_ADD, p[0], &e)));
    e.events = EPOLLIN;
    printf("ADD one epoll fd to another: %s\n", result(epoll_ctl(other, EPOLL_CTL_ADD, ep, &e)));
    printf("and back (a loop): %s\n", result(epoll_ctl(ep, EPOLL_CTL_ADD, other, &e)));
    struct epoll_event out[2];
    printf("epoll_wait maxevents 0: %s\n", result(epoll_wait(ep, out, 0, 0)));
    printf("epoll_wait maxevents -1: %s\n", result(epoll_wait(ep, out, -1, 0)));
    printf("epoll_wait on a pipe: %s\n", result(epoll_wait(p[0], out, 2, 0)));
    printf("epoll_wait on a closed fd: %s\n", result(epoll_wait(999, out, 2, 0)));
    printf("epoll_pwait sigsetsize 4: %s\n",
           result(syscall(SYS_epoll_pwait, ep, out, 2, 0, &(sigset_t){0}, 4)));
    close(copy);
    close(file);
    close(directory);
    close(null);
    close(path);
    close(p[0]);
    close(p[1]);
    close(ep);
    close(other);
}

/* epoll instances watching epoll instances: at most 4 levels (EP_MAX_NESTS), counted
 * below the one added and above the one it is added to */
static void nesting(void) {
    int down[6], up[6];
    struct epoll_event e = {.events = EPOLLIN};
    for (int i = 0; i < 6; i++) down[i] = epoll_create1(0), up[i] = epoll_create1(0);
    for (int i = 1; i < 6; i++)
        printf("chain built upwards, level %d: %s\n", i,
               result(epoll_ctl(down[i], EPOLL_CTL_ADD, down[i - 1], &e)));
    for (int i = 5; i > 0; i--)
        printf("chain built downwards, level %d: %s\n", i,
               result(epoll_ctl(up[i], EPOLL_CTL_ADD, up[i - 1], &e)));
    for (int i = 0; i < 6; i++) close(down[i]), close(up[i]);
}

static void edge_triggered(void) {
    int p[2], ep = epoll_create1(0);
    pipe2(p, O_NONBLOCK);
    write(p[1], "one", 3);
    add(ep, p[0], EPOLLIN | EPOLLET, 0xe7);
    show("edge-triggered, data there at ADD", ep, 8, 0);
    show("edge-triggered, no new edge", ep, 8, 0);
    char buffer[16];
    while (read(p[0], buffer, sizeof buffer) > 0) {}
    printf("drained: read %s\n", strerror(errno));
    show("edge-triggered, drained", ep, 8, 0);
    write(p[1], "two", 3);
    show("edge-triggered, written again", ep, 8, 0);
    show("edge-triggered, nothing new", ep, 8, 0);
    write(p[1], "two more", 8);          /* nobody has read since the last write */
    show("edge-triggered, a second write, no read", ep, 8, 0);
    show("edge-triggered, no third write", ep, 8, 0);
    while (read(p[0], buffer, sizeof buffer) > 0) {}
    pid_t pid = fork();
    if (pid == 0) {
        read(p[0], buffer, sizeof buffer);
        usleep(20000);
        write(p[1], "three", 5);
        _exit(0);
    }
    show("edge-triggered, a child drains and writes", ep, 8, -1);
    waitpid(pid, NULL, 0);
    printf("MOD re-arms an edge: %s\n", result(mod(ep, p[0], EPOLLIN | EPOLLET, 0xe8)));
    show("edge-triggered after MOD", ep, 8, 0);
    close(p[1]);
    show("edge-triggered, writer closed", ep, 8, 0);
    show("edge-triggered, writer closed, again", ep, 8, 0);
    close(p[0]);
    close(ep);
}

/* The write end, edge-triggered: a write is no edge for it, nor is a read of a pipe
 * that was not full; a read that leaves a full pipe with room is. A full pipe's reader
 * hears of each write that tried, even one that found no room (EAGAIN). */
static void edge_triggered_writes(void) {
    int p[2], ep = epoll_create1(0), readers = epoll_create1(0);
    static char page[4096];
    pipe2(p, O_NONBLOCK);
    add(ep, p[1], EPOLLOUT | EPOLLET, 0xee);
    show("write end, edge-triggered, room at ADD", ep, 8, 0);
    write(p[1], "abc", 3);
    show("write end, after a write", ep, 8, 0);
    read(p[0], page, 1);
    show("write end, after a read, never full", ep, 8, 0);
    add(readers, p[0], EPOLLIN | EPOLLET, 0xef);
    long total = 2;
    long n;
    while ((n = write(p[1], page, sizeof page)) > 0) total += n;
    printf("filled the pipe: %ld bytes, then %s\n", total, strerror(errno));
    show("write end, full", ep, 8, 0);
    show("read end, after the writes", readers, 8, 0);
    printf("one more write: %s\n", result(write(p[1], "x", 1)));
    show("read end, after a write that found no room", readers, 8, 0);
    read(p[0], page, 1);                 /* its first page keeps a byte: still full */
    show("write end, a byte read, still full", ep, 8, 0);
    read(p[0], page, sizeof page);
    show("write end, a page read", ep, 8, 0);
    read(p[0], page, sizeof page);
    show("write end, another page read, was not full", ep, 8, 0);
    close(p[0]);
    close(p[1]);
    close(ep);
    close(readers);
}

static void shared(void) {
    int p[2], ep = epoll_create1(0);
    pipe(p);
    add(ep, p[0], EPOLLIN, 0x5);
    int copy = dup(ep);
    close(ep);
    write(p[1], "x", 1);
    show("through a dup of the closed epoll fd", copy, 8, 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct epoll_event e;
        int n = epoll_wait(copy, &e, 1, 0);
        printf("a forked child waits on the inherited epoll fd: %d [%s %llx]\n", n, names(e.events),
               (unsigned long long)e.data.u64);
        char byte;
        read(p[0], &byte, 1);
        epoll_ctl(copy, EPOLL_CTL_DEL, p[0], NULL);
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    write(p[1], "y", 1);
    show("after the child's DEL (the set is shared)", copy, 8, 0);

    /* nesting: an epoll fd in poll, and in another epoll */
    add(copy, p[0], EPOLLIN, 0x6);
    int outer = epoll_create1(0);
    add(outer, copy, EPOLLIN | EPOLLOUT, 0x77);
    struct pollfd f = {copy, POLLIN | POLLOUT, 0};
    int n = poll(&f, 1, 0);
    printf("poll of an epoll fd with a ready entry: %d %s\n", n, names(f.revents));
    show("epoll in epoll, inner ready", outer, 8, 0);
    char byte;
    read(p[0], &byte, 1);
    n = poll(&f, 1, 0);
    printf("poll of an epoll fd, nothing ready: %d %s\n", n, names(f.revents));
    show("epoll in epoll, inner not ready", outer, 8, 0);
    pid = fork();
    if (pid == 0) {
        usleep(20000);
        write(p[1], "z", 1);
        _exit(0);
    }
    show("epoll in epoll, a child writes", outer, 8, -1);
    waitpid(pid, NULL, 0);
    close(outer);
    close(copy);
    close(p[0]);
    close(p[1]);
}

static volatile sig_atomic_t handled;
static void on_signal(int signal) { handled = signal; }

static void interrupted(void) {
    int p[2], ep = epoll_create1(0);
    pipe(p);
    add(ep, p[0], EPOLLIN, 1);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &action, NULL);
    sigaction(SIGUSR1, &action, NULL);
    struct itimerval in50ms = {{0, 0}, {0, 50000}};
    struct epoll_event e;

    setitimer(ITIMER_REAL, &in50ms, NULL);
    handled = 0;
    int n = epoll_wait(ep, &e, 1, 5000);
    printf("epoll_wait, SIGALRM handler (SA_RESTART): %s, handler ran %d\n", result(n), handled == SIGALRM);
    setitimer(ITIMER_REAL, &in50ms, NULL);
    handled = 0;
    n = (int)syscall(SYS_epoll_wait, ep, &e, 1, -1);
    printf("raw epoll_wait, SIGALRM handler: %s, handler ran %d\n", result(n), handled == SIGALRM);

    /* epoll_pwait: SIGALRM blocked, the call's mask lets it through */
    sigset_t block, none, now;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &block, NULL);
    setitimer(ITIMER_REAL, &in50ms, NULL);
    handled = 0;
    n = epoll_pwait(ep, &e, 1, 5000, &none);
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("epoll_pwait, mask unblocks SIGALRM: %s, handler ran %d, blocked again after %d\n",
           result(n), handled == SIGALRM, sigismember(&now, SIGALRM));

    /* a signal already pending that the call's mask unblocks: EINTR at once */
    raise(SIGUSR1);
    handled = 0;
    n = epoll_pwait(ep, &e, 1, -1, &none);
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("epoll_pwait, SIGUSR1 pending: %s, handler ran %d, blocked again after %d\n",
           result(n), handled == SIGUSR1, sigismember(&now, SIGUSR1));

    /* the call's mask blocks the signal: the wait runs its course */
    setitimer(ITIMER_REAL, &in50ms, NULL);
    handled = 0;
    n = epoll_pwait(ep, &e, 1, 100, &block);
    printf("epoll_pwait, mask blocks SIGALRM: %s, handler ran %d\n", result(n), handled == SIGALRM);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    printf("after unblocking: handler ran %d\n", handled == SIGALRM);

    struct timespec ts = {5, 0};
    setitimer(ITIMER_REAL, &in50ms, NULL);
    handled = 0;
    n = (int)syscall(SYS_epoll_pwait2, ep, &e, 1, &ts, NULL, 8);
    printf("epoll_pwait2, SIGALRM handler: %s, handler ran %d\n", result(n), handled == SIGALRM);
    close(p[0]);
    close(p[1]);
    close(ep);
}

static int stdin_check(void) {
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = 0x57d1};
    printf("ADD stdin: %s\n", result(epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e)));
    int n = epoll_wait(ep, &e, 1, 10000);
    printf("epoll_wait(stdin): %d, readable %s, data %llx\n", n, n == 1 && e.events & EPOLLIN ? "yes" : "no",
           (unsigned long long)e.data.u64);
    char line[256];
    if (fgets(line, sizeof line, stdin)) printf("got: %s", line);
    return 0;
}

static int stdin_edge(void) {
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.u64 = 0xed6e};
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &e);
    char line[256];
    for (int i = 0; i < 2; i++) {
        int n = epoll_wait(ep, &e, 1, 10000);
        long r = n == 1 ? read(0, line, sizeof line - 1) : -1;
        line[r > 0 ? r : 0] = 0;
        printf("edge %d: %d [%s %llx], got: %s", i, n, names(n == 1 ? e.events : 0),
               (unsigned long long)e.data.u64, r > 0 ? line : "nothing\n");
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "stdin") == 0) return stdin_check();
    if (argc > 1 && strcmp(argv[1], "stdin-et") == 0) return stdin_edge();
    if (argc > 2 && strcmp(argv[1], "exec-check") == 0) {
        int fd = atoi(argv[2]);
        printf("after execve: the epoll fd is %s\n", fcntl(fd, F_GETFD) < 0 ? "closed" : "open");
        return 0;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    the_fd_itself(argv[0]);
    pipe_from_a_child();
    write_end_errors();
    timeouts();
    interest_list();
    errors(argv[0]);
    nesting();
    edge_triggered();
    edge_triggered_writes();
    shared();
    interrupted();
    printf("epolls: done\n");
    return 0;
}
