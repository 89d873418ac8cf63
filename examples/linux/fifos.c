/* fifos: named pipes (mkfifo, fifo(7)) — the opens that wait for the other side, in
 * either order and across fork; O_NONBLOCK opens (a reader at once, a writer ENXIO);
 * end of file, EAGAIN, EPIPE and SIGPIPE; two links to one FIFO sharing its data; data
 * kept while any end is open and dropped with the last; fstat, lseek, poll; fchmod,
 * fchown and futimens through a FIFO's fd (they change the node, and fstat shows it);
 * and blocked opens that a signal interrupts (EINTR) or that SA_RESTART resumes. It works in
 * ./fifos-tmp and removes it. Output is deterministic (no inode numbers or times).
 *   fifos    every check, exit 0 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FIFO "fifos-tmp/fifo"
#define LINK "fifos-tmp/fifo-link"

static char buffer[4096];

static const char *err(long r) { return r < 0 ? strerror(errno) : "ok"; }

/* a read's result as text: the bytes read, "EOF", or the error */
static const char *got(long n) {
    static char text[256];
    if (n < 0)
        snprintf(text, sizeof text, "%s", strerror(errno));
    else if (n == 0)
        snprintf(text, sizeof text, "EOF");
    else
        snprintf(text, sizeof text, "\"%.*s\"", (int)n, buffer);
    return text;
}

static const char *revents(int fd, short events) {
    static char texts[2][64];
    static int turn;
    char *text = texts[turn++ % 2];       /* two in one printf */
    struct pollfd f = {fd, events, 0};
    int n = poll(&f, 1, 0);
    text[0] = 0;
    const char *names[] = {"IN", "PRI", "OUT", "ERR", "HUP", "NVAL"};
    for (int i = 0; i < 6; i++)
        if (f.revents & (1 << i)) { strcat(text, text[0] ? "|" : ""); strcat(text, names[i]); }
    if (n < 0) return strerror(errno);
    return text[0] ? text : "-";
}

static void pause_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

static long elapsed_ms(struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void cleanup(void) {
    unlink(LINK);
    unlink(FIFO);
    rmdir("fifos-tmp");
}

/* The reader opens first and waits; a forked child opens for writing 300 ms later,
 * writes, and exits: the reader gets the data, then end of file. (300 ms: time enough
 * for the parent to be waiting in its open first, even on a slow machine.) */
static void reader_first(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        pause_ms(300);
        int fd = open(FIFO, O_WRONLY);
        write(fd, "from the writer", 15);
        _exit(0);
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int fd = open(FIFO, O_RDONLY);
    long waited = elapsed_ms(&start);
    printf("reader first: open %s, it waited for the writer: %s\n", err(fd), waited >= 50 ? "yes" : "no");
    long n = read(fd, buffer, sizeof buffer);
    printf("reader first: read %s", got(n));
    printf(", then %s\n", got(read(fd, buffer, sizeof buffer)));
    close(fd);
    int status;
    waitpid(pid, &status, 0);
    printf("reader first: the writer exited %d\n", WEXITSTATUS(status));
}

/* The writer opens first and waits; the reader (the parent) opens 300 ms later. */
static void writer_first(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        int fd = open(FIFO, O_WRONLY);
        long waited = elapsed_ms(&start);
        char line[128];
        int length = snprintf(line, sizeof line, "writer open %s, waited for the reader: %s",
                              err(fd), waited >= 50 ? "yes" : "no");
        write(fd, line, length);
        close(fd);
        _exit(0);
    }
    pause_ms(300);
    int fd = open(FIFO, O_RDONLY);
    printf("writer first: reader open %s\n", err(fd));
    long total = 0, n;
    while ((n = read(fd, buffer + total, sizeof buffer - total - 1)) > 0)
        total += n;
    printf("writer first: the writer said \"%.*s\", then %s\n", (int)total, buffer, got(n));
    close(fd);
    int status;
    waitpid(pid, &status, 0);
    printf("writer first: the writer exited %d\n", WEXITSTATUS(status));
}

/* A larger transfer through the FIFO between two processes (blocking writes). */
static void bulk(void) {
    unsigned long total = 200000, sum = 0, got_bytes = 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(FIFO, O_WRONLY);
        unsigned long sent = 0;
        while (sent < total) {
            for (unsigned long i = 0; i < 3000; i++) buffer[i] = (char)(((sent + i) * 7) % 253);
            long n = write(fd, buffer, total - sent < 3000 ? total - sent : 3000);
            if (n <= 0) _exit(1);
            sent += n;
        }
        _exit(0);
    }
    int fd = open(FIFO, O_RDONLY);
    long n;
    while ((n = read(fd, buffer, 1000)) > 0) {
        for (long i = 0; i < n; i++)
            sum += (unsigned long)(unsigned char)buffer[i] * (got_bytes + i + 1);
        got_bytes += n;
    }
    unsigned long expect = 0;
    for (unsigned long i = 0; i < total; i++) expect += (unsigned long)((i * 7) % 253) * (i + 1);
    close(fd);
    int status;
    waitpid(pid, &status, 0);
    printf("bulk: %lu bytes through the FIFO, checksums %s, writer exited %d\n",
           got_bytes, sum == expect ? "match" : "differ", WEXITSTATUS(status));
}

static volatile int alarms, pipes;
static void on_alarm(int signal) { (void)signal; alarms++; }
static void on_pipe(int signal) { (void)signal; pipes++; }

/* A blocked open cut short by a signal: EINTR without SA_RESTART, and the end it was
 * opening is gone (a writer then finds no reader). With SA_RESTART, it goes on. */
static void interrupted_opens(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_alarm;
    sigaction(SIGALRM, &action, NULL);
    alarms = 0;
    alarm(1);
    int fd = open(FIFO, O_RDONLY);
    printf("blocked reader open, alarm without SA_RESTART: %s, handler ran %d time(s)\n", err(fd), alarms);
    printf("then a non-blocking writer finds no reader: %s\n", err(open(FIFO, O_WRONLY | O_NONBLOCK)));

    alarms = 0;
    struct itimerval in100ms = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &in100ms, NULL);
    fd = open(FIFO, O_WRONLY);
    printf("blocked writer open, timer without SA_RESTART: %s, handler ran %d time(s)\n", err(fd), alarms);

    action.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &action, NULL);
    alarms = 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        pause_ms(300);
        int writer = open(FIFO, O_WRONLY);
        write(writer, "after the restart", 17);
        _exit(0);
    }
    setitimer(ITIMER_REAL, &in100ms, NULL);
    fd = open(FIFO, O_RDONLY);
    printf("blocked reader open, timer with SA_RESTART: %s, handler ran %d time(s)\n", err(fd), alarms);
    printf("and it reads %s\n", got(read(fd, buffer, sizeof buffer)));
    close(fd);
    waitpid(pid, NULL, 0);
    signal(SIGALRM, SIG_DFL);
}

/* fchmod, fchown and futimens on a FIFO's fds change the node the FIFO was opened
 * from; stat by its name and fstat of any of its fds then agree. */
static void node_through_fds(int r, int w) {
    struct stat by_name, by_fd;
    printf("fchmod of the reader: %s", err(fchmod(r, 0600)));
    stat(FIFO, &by_name);
    fstat(w, &by_fd);
    printf(", stat mode %o, fstat of the writer mode %o\n", by_name.st_mode, by_fd.st_mode);
    printf("chmod by the name: %s", err(chmod(FIFO, 0640)));
    fstat(r, &by_fd);
    printf(", fstat of the reader mode %o\n", by_fd.st_mode);
    printf("fchown of the writer to its owner: %s", err(fchown(w, geteuid(), getegid())));
    printf(", to (-1, -1): %s", err(fchown(w, -1, -1)));
    fstat(w, &by_fd);
    printf(", owner still ours: %s\n", by_fd.st_uid == geteuid() && by_fd.st_gid == getegid() ? "yes" : "no");
    struct timespec times[2] = {{1000000000, 0}, {1234567890, 123456700}};
    printf("futimens of the reader: %s", err(futimens(r, times)));
    stat(FIFO, &by_name);
    fstat(r, &by_fd);
    printf(", stat atime %ld mtime %ld.%09ld, fstat atime %ld mtime %ld.%09ld\n",
           (long)by_name.st_atime, (long)by_name.st_mtim.tv_sec, by_name.st_mtim.tv_nsec,
           (long)by_fd.st_atime, (long)by_fd.st_mtim.tv_sec, by_fd.st_mtim.tv_nsec);
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_nsec = UTIME_NOW;
    printf("futimens of the writer, mtime now: %s", err(futimens(w, times)));
    fstat(w, &by_fd);
    long age = (long)time(NULL) - (long)by_fd.st_mtime;
    printf(", atime kept %ld, mtime now: %s\n", (long)by_fd.st_atime, age >= -2 && age <= 10 ? "yes" : "no");
    printf("futimens(NULL) of the reader: %s", err(futimens(r, NULL)));
    stat(FIFO, &by_name);
    age = (long)time(NULL) - (long)by_name.st_atime;
    printf(", atime now: %s\n", age >= -2 && age <= 10 ? "yes" : "no");
    chmod(FIFO, 0644);
}

int main(void) {
    struct stat st, link_st;
    int r, w, rw;

    cleanup();
    printf("mkdir: %s\n", err(mkdir("fifos-tmp", 0755)));
    printf("mkfifo: %s\n", err(mkfifo(FIFO, 0644)));
    printf("mkfifo again: %s\n", err(mkfifo(FIFO, 0644)));
    stat(FIFO, &st);
    printf("stat: fifo %d, mode %o, size %ld\n", S_ISFIFO(st.st_mode), st.st_mode, (long)st.st_size);

    /* non-blocking opens */
    printf("non-blocking writer, no reader: %s\n", err(open(FIFO, O_WRONLY | O_NONBLOCK)));
    r = open(FIFO, O_RDONLY | O_NONBLOCK);
    printf("non-blocking reader: %s, flags %o\n", err(r), fcntl(r, F_GETFL));
    printf("read, no writer yet: %s\n", got(read(r, buffer, sizeof buffer)));
    printf("poll of the reader, no writer yet: %s\n", revents(r, POLLIN));
    w = open(FIFO, O_WRONLY | O_NONBLOCK);
    printf("non-blocking writer, a reader there: %s, flags %o\n", err(w), fcntl(w, F_GETFL));
    printf("read, a writer and no data: %s\n", got(read(r, buffer, sizeof buffer)));
    printf("poll: reader %s, writer %s\n", revents(r, POLLIN), revents(w, POLLOUT));
    printf("write: %ld\n", (long)write(w, "abc", 3));
    int queued = -1;
    ioctl(r, FIONREAD, &queued);
    printf("FIONREAD: %d, poll of the reader: %s\n", queued, revents(r, POLLIN));
    printf("read: %s\n", got(read(r, buffer, sizeof buffer)));

    /* what fstat and friends say of a FIFO's fd */
    fstat(r, &link_st);
    printf("fstat: fifo %d, mode %o, size %ld, same inode as stat: %s\n", S_ISFIFO(link_st.st_mode),
           link_st.st_mode, (long)link_st.st_size,
           link_st.st_ino == st.st_ino && link_st.st_dev == st.st_dev ? "yes" : "no");
    printf("lseek: %s\n", err(lseek(r, 0, SEEK_SET)));
    printf("pread: %s\n", err(pread(r, buffer, 1, 0)));
    printf("F_GETPIPE_SZ: %d\n", fcntl(w, F_GETPIPE_SZ));
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", r);
    long length = readlink(path, buffer, sizeof buffer);
    printf("readlink of the fd names the FIFO: %s\n",
           length > 4 && !memcmp(buffer + length - 5, "/fifo", 5) ? "yes" : "no");
    int again = open(path, O_WRONLY | O_NONBLOCK);     /* the FIFO opened again, to write */
    printf("reopen of the reader's /proc/self/fd/N for writing: %s\n", err(again));
    write(again, "again", 5);
    close(again);
    printf("the reader reads %s\n", got(read(r, buffer, sizeof buffer)));
    node_through_fds(r, w);

    /* end of file when the writers have gone; data kept while any end is open */
    write(w, "tail", 4);
    close(w);
    printf("after the writer closed: read %s", got(read(r, buffer, sizeof buffer)));
    printf(", then %s\n", got(read(r, buffer, sizeof buffer)));
    printf("poll of the reader after the writer went: %s\n", revents(r, POLLIN));
    w = open(FIFO, O_WRONLY | O_NONBLOCK);
    write(w, "a", 1);
    close(w);
    w = open(FIFO, O_WRONLY | O_NONBLOCK);
    write(w, "b", 1);
    close(w);
    printf("two writers in turn: read %s", got(read(r, buffer, sizeof buffer)));
    printf(", then %s\n", got(read(r, buffer, sizeof buffer)));
    close(r);

    rw = open(FIFO, O_RDWR);
    printf("O_RDWR open: %s (it does not wait)\n", err(rw));
    write(rw, "kept", 4);
    r = open(FIFO, O_RDONLY | O_NONBLOCK);
    printf("a new reader while an end is open reads %s\n", got(read(r, buffer, sizeof buffer)));
    write(rw, "dropped", 7);
    close(r);
    close(rw);
    r = open(FIFO, O_RDONLY | O_NONBLOCK);
    printf("after the last end closed, a new reader reads %s\n", got(read(r, buffer, sizeof buffer)));
    close(r);

    /* two names for one FIFO: one pipe */
    printf("link: %s\n", err(link(FIFO, LINK)));
    r = open(LINK, O_RDONLY | O_NONBLOCK);
    w = open(FIFO, O_WRONLY | O_NONBLOCK);
    printf("reader by the link, writer by the name: %s %s\n", err(r), err(w));
    write(w, "shared", 6);
    printf("the reader reads %s\n", got(read(r, buffer, sizeof buffer)));

    /* a writer whose readers have gone */
    close(r);
    signal(SIGPIPE, SIG_IGN);
    printf("write with no reader, SIGPIPE ignored: %s\n", err(write(w, "x", 1)));
    printf("poll of the writer: %s\n", revents(w, POLLOUT));
    signal(SIGPIPE, on_pipe);
    errno = 0;
    long n = write(w, "x", 1);
    printf("write with no reader, SIGPIPE caught: %s, handler ran %d time(s)\n", err(n), pipes);
    close(w);
    signal(SIGPIPE, SIG_DFL);
    unlink(LINK);

    /* blocking opens between processes */
    reader_first();
    writer_first();
    bulk();
    interrupted_opens();

    printf("unlink: %s\n", err(unlink(FIFO)));
    cleanup();
    return 0;
}
