/* locks: file locks between processes — flock (shared, exclusive, LOCK_NB, conversion,
 * inherited across fork, released with the last fd of the description), POSIX record
 * locks (F_SETLK, F_SETLKW, F_GETLK with the holder's pid, ranges split by an unlock,
 * not inherited across fork, all dropped by closing any fd on the file, EDEADLK when two
 * processes would wait for each other), OFD locks (F_OFD_*: owned by the description),
 * and a blocked F_SETLKW or flock that a signal interrupts (EINTR). It works in
 * ./locks-tmp and removes it. Output is deterministic (pids shown as "parent"/"child").
 *   locks    every check, exit 0 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define FILE_A "locks-tmp/a"

static const char *err(int r) { return r < 0 ? strerror(errno) : "ok"; }

static int lk(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

static pid_t parent_pid;

static void show_getlk(const char *what, int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    if (fcntl(fd, cmd, &fl) < 0) {
        printf("%s: %s\n", what, strerror(errno));
        return;
    }
    const char *who = fl.l_pid == parent_pid ? "parent" : fl.l_pid == -1 ? "-1" : fl.l_pid == 0 ? "0" : "other";
    printf("%s: type %s start %ld len %ld pid %s\n", what,
           fl.l_type == F_UNLCK ? "F_UNLCK" : fl.l_type == F_RDLCK ? "F_RDLCK" : "F_WRLCK",
           (long)fl.l_start, (long)fl.l_len, fl.l_type == F_UNLCK ? "-" : who);
}

static void on_alarm(int sig) { (void)sig; }

/* SIGALRM in 200 ms: what interrupts a blocked lock request */
static void alarm_soon(void) {
    struct itimerval soon = {.it_value = {.tv_sec = 0, .tv_usec = 200000}};
    setitimer(ITIMER_REAL, &soon, NULL);
}

/* run `body` in a child, wait for it; the child's output comes first */
static void in_child(void (*body)(void)) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        body();
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
}

static int shared_fd;

static void child_flock_tries(void) {
    int fd = open(FILE_A, O_RDWR);
    printf("child: flock LOCK_EX|LOCK_NB on its own open: %s\n", err(flock(fd, LOCK_EX | LOCK_NB)));
    printf("child: flock LOCK_SH|LOCK_NB on its own open: %s\n", err(flock(fd, LOCK_SH | LOCK_NB)));
    printf("child: flock LOCK_EX|LOCK_NB on the inherited fd: %s\n", err(flock(shared_fd, LOCK_EX | LOCK_NB)));
}

static void child_flock_waits(void) {
    int fd = open(FILE_A, O_RDWR);
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    alarm_soon();
    int r = flock(fd, LOCK_EX);
    printf("child: blocking flock interrupted by a signal: %s\n", err(r));
}

static void child_posix_tries(void) {
    int fd = open(FILE_A, O_RDWR);
    show_getlk("child: F_GETLK F_WRLCK 0..99", fd, F_GETLK, F_WRLCK, 0, 100);
    show_getlk("child: F_GETLK F_RDLCK 0..9", fd, F_GETLK, F_RDLCK, 0, 10);
    show_getlk("child: F_GETLK F_WRLCK 10..19 (unlocked hole)", fd, F_GETLK, F_WRLCK, 10, 10);
    printf("child: F_SETLK F_RDLCK 0..9: %s\n", err(lk(fd, F_SETLK, F_RDLCK, 0, 10)));
    printf("child: F_SETLK F_WRLCK 50..59: %s\n", err(lk(fd, F_SETLK, F_WRLCK, 50, 10)));
    printf("child: F_SETLK F_WRLCK 10..19: %s\n", err(lk(fd, F_SETLK, F_WRLCK, 10, 10)));
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    alarm_soon();
    printf("child: F_SETLKW F_WRLCK 50..59 interrupted by a signal: %s\n",
           err(lk(fd, F_SETLKW, F_WRLCK, 50, 10)));
    show_getlk("child: F_OFD_GETLK F_WRLCK 50..59", fd, F_OFD_GETLK, F_WRLCK, 50, 10);
}

static void child_posix_after_close(void) {
    int fd = open(FILE_A, O_RDWR);
    printf("child: F_SETLK F_WRLCK 0..99 after the parent closed another fd: %s\n",
           err(lk(fd, F_SETLK, F_WRLCK, 0, 100)));
}

static void child_inherits_nothing(void) {
    /* POSIX locks are not inherited: the child's F_SETLK on the same range conflicts */
    printf("child: F_SETLK F_WRLCK on the parent's range through the inherited fd: %s\n",
           err(lk(shared_fd, F_SETLK, F_WRLCK, 0, 1)));
    /* OFD locks belong to the description the child shares */
    printf("child: F_OFD_SETLK F_WRLCK 200..209 through the inherited fd: %s\n",
           err(lk(shared_fd, F_OFD_SETLK, F_WRLCK, 200, 10)));
    int own = open(FILE_A, O_RDWR);
    printf("child: F_OFD_SETLK F_WRLCK 200..209 through its own open: %s\n",
           err(lk(own, F_OFD_SETLK, F_WRLCK, 200, 10)));
}

static void deadlock(void) {
    int fd = open(FILE_A, O_RDWR);
    lk(fd, F_SETLK, F_WRLCK, 0, 1);       /* the parent holds byte 0 */
    int go[2], done[2];
    if (pipe(go) < 0 || pipe(done) < 0)
        exit(1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int own = open(FILE_A, O_RDWR);
        lk(own, F_SETLK, F_WRLCK, 1, 1);  /* the child holds byte 1 */
        write(go[1], "g", 1);
        int r = lk(own, F_SETLKW, F_WRLCK, 0, 1);   /* waits for the parent */
        printf("child: F_SETLKW byte 0 after the parent gave up: %s\n", err(r));
        fflush(stdout);
        _exit(0);
    }
    char c;
    read(go[0], &c, 1);
    usleep(200000);                      /* let the child start waiting */
    int r = lk(fd, F_SETLKW, F_WRLCK, 1, 1);
    printf("parent: F_SETLKW byte 1 while the child waits for byte 0: %s\n", err(r));
    fflush(stdout);
    lk(fd, F_SETLK, F_UNLCK, 0, 0);
    int status;
    waitpid(pid, &status, 0);
    close(fd);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    parent_pid = getpid();
    mkdir("locks-tmp", 0755);
    int fd = open(FILE_A, O_RDWR | O_CREAT | O_TRUNC, 0644);
    shared_fd = fd;

    /* flock */
    printf("flock LOCK_SH: %s\n", err(flock(fd, LOCK_SH)));
    printf("flock LOCK_EX (conversion): %s\n", err(flock(fd, LOCK_EX)));
    in_child(child_flock_tries);
    in_child(child_flock_waits);
    int dup_fd = dup(fd);
    close(fd);
    in_child(child_flock_tries);          /* the dup keeps the description's lock */
    printf("flock LOCK_UN through the dup: %s\n", err(flock(dup_fd, LOCK_UN)));
    in_child(child_flock_tries);
    printf("flock bad operation: %s\n", err(flock(dup_fd, 3)));
    close(dup_fd);

    /* POSIX record locks */
    fd = shared_fd = open(FILE_A, O_RDWR);
    printf("F_SETLK F_WRLCK 0..99: %s\n", err(lk(fd, F_SETLK, F_WRLCK, 0, 100)));
    printf("F_SETLK F_UNLCK 10..19 (splits it): %s\n", err(lk(fd, F_SETLK, F_UNLCK, 10, 10)));
    printf("F_SETLK F_RDLCK 0..9 (downgrades): %s\n", err(lk(fd, F_SETLK, F_RDLCK, 0, 10)));
    show_getlk("F_GETLK F_WRLCK 0..99 (own locks never conflict)", fd, F_GETLK, F_WRLCK, 0, 100);
    in_child(child_posix_tries);
    in_child(child_inherits_nothing);
    int ro = open(FILE_A, O_RDONLY);
    printf("F_SETLK F_WRLCK on a read-only fd: %s\n", err(lk(ro, F_SETLK, F_WRLCK, 0, 1)));
    printf("F_SETLK bad type: %s\n", err(lk(fd, F_SETLK, 7, 0, 1)));
    printf("F_SETLK negative start: %s\n", err(lk(fd, F_SETLK, F_RDLCK, -5, 1)));
    close(ro);                           /* drops every POSIX lock of this process on the file */
    in_child(child_posix_after_close);
    close(fd);

    deadlock();
    unlink(FILE_A);
    rmdir("locks-tmp");
    return 0;
}
