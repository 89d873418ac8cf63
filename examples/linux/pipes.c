/* pipes: pipe semantics in one process — data, end of file, O_NONBLOCK, capacity,
 * EPIPE, fstat, fcntl, FIONREAD, ESPIPE, /proc/self/fd, and a producer/consumer
 * driven by poll. Output is deterministic (no inode numbers or times are printed).
 *   pipes           every check, exit 0
 *   pipes sigpipe   write to a pipe whose reader has gone, with SIGPIPE's default
 *                   action: the process dies of SIGPIPE (status 141)
 *   pipes fork      a parent writes 200000 bytes (blocking: more than the pipe holds)
 *                   to a forked child, which reads to end of file */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char buffer[70000];

static const char *err(long r) { return r < 0 ? strerror(errno) : "ok"; }

/* non-blocking writes of `size` bytes until one falls short: what the pipe holds */
static long capacity(int size) {
    int p[2];
    long total = 0, n;
    pipe2(p, O_NONBLOCK);
    while ((n = write(p[1], buffer, size)) == size)
        total += n;
    if (n > 0)
        total += n;
    printf("capacity with %d-byte writes: %ld (last write: %s)\n", size, total,
           n < 0 ? strerror(errno) : "partial");
    close(p[0]);
    close(p[1]);
    return total;
}

static void producer_consumer(void) {
    int p[2];
    pipe2(p, O_NONBLOCK);
    unsigned long sent = 0, received = 0, sum_in = 0, sum_out = 0, total = 300000;
    while (received < total) {
        struct pollfd f[2] = {{p[0], POLLIN, 0}, {sent < total ? p[1] : -1, POLLOUT, 0}};
        if (poll(f, 2, 1000) <= 0) { printf("poll: stuck\n"); return; }
        if (f[1].revents & POLLOUT) {
            unsigned long chunk = total - sent < 7000 ? total - sent : 7000;
            for (unsigned long i = 0; i < chunk; i++) buffer[i] = (char)((sent + i) * 31 % 251);
            long n = write(p[1], buffer, chunk);
            for (long i = 0; i < n; i++) sum_in += (unsigned char)buffer[i] * (sent + i + 1);
            if (n > 0) sent += n;
        }
        if (f[0].revents & POLLIN) {
            long n = read(p[0], buffer, 5000);
            for (long i = 0; i < n; i++) sum_out += (unsigned char)buffer[i] * (received + i + 1);
            if (n > 0) received += n;
        }
    }
    close(p[1]);
    printf("producer/consumer: %lu bytes, checksums %s, read after close: %ld\n",
           received, sum_in == sum_out ? "match" : "differ", (long)read(p[0], buffer, 1));
    close(p[0]);
}

static void on_alarm(int signal) { (void)signal; }

/* a blocking write cut short by a signal handler returns what it wrote, if anything */
static void interrupted_writes(void) {
    int p[2];
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_alarm;
    sigaction(SIGALRM, &action, NULL);
    struct itimerval in50ms = {{0, 0}, {0, 50000}};
    pipe(p);
    setitimer(ITIMER_REAL, &in50ms, NULL);
    long n = write(p[1], buffer, 70000);
    printf("70000-byte write, nobody reading, interrupted: %ld\n", n);
    setitimer(ITIMER_REAL, &in50ms, NULL);
    n = write(p[1], buffer, 10);
    printf("10-byte write to the full pipe, interrupted: %s\n", err(n));
    close(p[0]);
    close(p[1]);
}

/* the child's copy of the write end is closed, so end of file comes when the parent's is */
static int across_fork(void) {
    int p[2], status;
    unsigned long total = 200000, sum = 0;
    pipe(p);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        unsigned long got = 0;
        long n;
        while ((n = read(p[0], buffer, 3000)) > 0) {
            for (long i = 0; i < n; i++) sum += (unsigned char)buffer[i] * (got + i + 1);
            got += n;
        }
        printf("child: read %lu bytes to end of file (%s), checksum %lu\n", got, err(n), sum);
        return 0;
    }
    close(p[0]);
    for (unsigned long i = 0; i < total; i++) sum += (unsigned char)((i * 7) % 253) * (i + 1);
    unsigned long sent = 0;
    while (sent < total) {
        for (unsigned long i = 0; i < 10000; i++) buffer[i] = (char)(((sent + i) * 7) % 253);
        long n = write(p[1], buffer, 10000);
        if (n <= 0) { printf("parent: write failed: %s\n", err(n)); break; }
        sent += n;
    }
    close(p[1]);
    waitpid(pid, &status, 0);
    printf("parent: wrote %lu bytes, checksum %lu, child exited %d\n", sent, sum, WEXITSTATUS(status));
    return 0;
}

int main(int argc, char **argv) {
    int p[2];
    char link[64], expect[64];
    struct stat st;

    if (argc > 1 && strcmp(argv[1], "fork") == 0)
        return across_fork();
    if (argc > 1 && strcmp(argv[1], "sigpipe") == 0) {
        pipe(p);
        close(p[0]);
        write(1, "writing to a pipe with no reader\n", 33);
        write(p[1], "x", 1);
        write(1, "still alive\n", 12);
        return 0;
    }

    printf("pipe: %s\n", err(pipe(p)));
    printf("write 5: %ld\n", (long)write(p[1], "hello", 5));
    printf("read: %ld\n", (long)read(p[0], buffer, sizeof buffer));
    printf("flags: read end %o, write end %o, cloexec %d\n", fcntl(p[0], F_GETFL),
           fcntl(p[1], F_GETFL), fcntl(p[0], F_GETFD));
    fstat(p[0], &st);
    printf("fstat: fifo %d, mode %o, size %ld, links %ld, blksize %ld, mine %d\n",
           S_ISFIFO(st.st_mode), st.st_mode, (long)st.st_size, (long)st.st_nlink,
           (long)st.st_blksize, st.st_uid == geteuid() && st.st_gid == getegid());
    snprintf(expect, sizeof expect, "pipe:[%lu]", (unsigned long)st.st_ino);
    snprintf(link, sizeof link, "/proc/self/fd/%d", p[1]);
    long length = readlink(link, buffer, 64);
    printf("readlink of the write end is pipe:[st_ino]: %s\n",
           length > 0 && (size_t)length == strlen(expect) && !memcmp(buffer, expect, length) ? "yes" : "no");
    printf("lseek: %s\n", err(lseek(p[0], 0, SEEK_SET)));
    printf("pread: %s\n", err(pread(p[0], buffer, 1, 0)));
    printf("read on the write end: %s\n", err(read(p[1], buffer, 1)));
    write(p[1], "0123456789", 10);
    int queued = -1, queued_at_writer = -1;
    ioctl(p[0], FIONREAD, &queued);
    ioctl(p[1], FIONREAD, &queued_at_writer);
    printf("FIONREAD: %d at the read end, %d at the write end\n", queued, queued_at_writer);
    long first = read(p[0], buffer, 4);
    printf("read 4: %ld, then %ld\n", first, (long)read(p[0], buffer, 100));
    int file = open(argv[0], O_RDONLY);
    printf("F_GETPIPE_SZ: %d %d, of a file: %s\n", fcntl(p[0], F_GETPIPE_SZ), fcntl(p[1], F_GETPIPE_SZ),
           err(fcntl(file, F_GETPIPE_SZ)));
    close(file);
    write(p[1], "tail", 4);
    close(p[1]);
    long reads[3];
    for (int i = 0; i < 3; i++) reads[i] = read(p[0], buffer, 100);
    printf("after closing the write end: read %ld, then %ld, then %ld\n", reads[0], reads[1], reads[2]);
    close(p[0]);

    printf("pipe2(O_NONBLOCK|O_CLOEXEC): %s\n", err(pipe2(p, O_NONBLOCK | O_CLOEXEC)));
    printf("flags: %o %o, cloexec %d %d\n", fcntl(p[0], F_GETFL), fcntl(p[1], F_GETFL),
           fcntl(p[0], F_GETFD), fcntl(p[1], F_GETFD));
    printf("read empty: %s\n", err(read(p[0], buffer, 10)));
    fcntl(p[0], F_SETFL, 0);
    printf("after F_SETFL 0: %o\n", fcntl(p[0], F_GETFL));
    int on = 1;
    ioctl(p[0], FIONBIO, &on);
    printf("after FIONBIO 1: %o, read empty: %s\n", fcntl(p[0], F_GETFL), err(read(p[0], buffer, 10)));
    on = 0;
    ioctl(p[0], FIONBIO, &on);
    write(p[1], "x", 1);
    printf("blocking read with data: %ld\n", (long)read(p[0], buffer, 10));
    close(p[0]);
    close(p[1]);
    printf("pipe2(bad flags): %s\n", err(pipe2(p, 0x7)));
    printf("pipe(NULL): %s\n", err(pipe(NULL)));

    capacity(1);
    capacity(100);
    capacity(3000);
    capacity(4096);
    capacity(4097);
    capacity(10000);
    capacity(65537);

    signal(SIGPIPE, SIG_IGN);
    pipe(p);
    close(p[0]);
    printf("write with no reader, SIGPIPE ignored: %s\n", err(write(p[1], "x", 1)));
    printf("empty write with no reader: %ld\n", (long)write(p[1], "", 0));
    close(p[1]);

    producer_consumer();
    interrupted_writes();
    return 0;
}
