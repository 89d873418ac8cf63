/* procself: /proc/self, /dev/fd, and the small system calls around them.
 *
 * Each line is "what: result". Where the value itself differs between machines (pids,
 * memory sizes, times), the line says only what a program would check: that the pid in
 * /proc/self/stat is getpid(), that a map of the stack exists, that a count is positive.
 * Run with one argument (any word); it reads back its own command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <unistd.h>

static const char *err(void) {
    switch (errno) {
    case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case EBADF: return "EBADF";
    case EACCES: return "EACCES"; case EEXIST: return "EEXIST"; case EINVAL: return "EINVAL";
    case ENOTDIR: return "ENOTDIR"; case EISDIR: return "EISDIR"; case ESRCH: return "ESRCH";
    case ENOTTY: return "ENOTTY"; case ELOOP: return "ELOOP"; case EXDEV: return "EXDEV";
    default: return strerror(errno);
    }
}

#define TRY(name, call) do { errno = 0; long r_ = (long)(call); \
    if (r_ < 0) printf("%s: %s\n", name, err()); else printf("%s: %ld\n", name, r_); } while (0)
#define YES(name, cond) printf("%s: %s\n", name, (cond) ? "yes" : "no")

static long slurp(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    long total = 0, got;
    while (total < (long)size - 1 && (got = read(fd, buf + total, size - 1 - total)) > 0) total += got;
    buf[total] = 0;
    close(fd);
    return total;
}

int main(void) {
    static char buf[65536];
    char path[64], link[256];
    struct stat st;

    /* cmdline: the arguments, NUL-separated */
    long n = slurp("/proc/self/cmdline", buf, sizeof buf);
    printf("cmdline:");
    for (long i = 0; i < n; i += strlen(buf + i) + 1) printf(" [%s]", buf + i);
    printf("\n");

    /* comm, and prctl's name */
    slurp("/proc/self/comm", buf, sizeof buf);
    printf("comm: %s", buf);
    TRY("PR_SET_NAME", prctl(PR_SET_NAME, "renamed-by-prctl-and-cut"));
    char name[17] = {0};
    TRY("PR_GET_NAME", prctl(PR_GET_NAME, name));
    printf("name: %s\n", name);
    slurp("/proc/self/comm", buf, sizeof buf);
    printf("comm now: %s", buf);
    TRY("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE));
    TRY("prctl unknown option", prctl(0x7fff0000, 0, 0, 0, 0));

    /* stat and status tell the same pid as getpid */
    slurp("/proc/self/stat", buf, sizeof buf);
    long pid = strtol(buf, NULL, 10);
    char *after = strrchr(buf, ')');
    char state = after ? after[2] : '?';
    long ppid = after ? strtol(after + 4, NULL, 10) : -1;
    YES("stat pid is getpid", pid == getpid());
    YES("stat ppid is getppid", ppid == getppid());
    printf("stat state: %c\n", state);
    slurp("/proc/self/status", buf, sizeof buf);
    char *line = strstr(buf, "\nPid:");
    YES("status Pid is getpid", line && strtol(line + 5, NULL, 10) == getpid());
    line = strstr(buf, "\nUid:");
    YES("status Uid is getuid", line && strtol(line + 5, NULL, 10) == (long)getuid());
    YES("status has VmRSS", strstr(buf, "\nVmRSS:") != NULL);

    /* maps: the stack and the program are there */
    slurp("/proc/self/maps", buf, sizeof buf);
    YES("maps has [stack]", strstr(buf, "[stack]") != NULL);
    YES("maps has a r-xp line", strstr(buf, " r-xp ") != NULL);
    readlink("/proc/self/exe", link, sizeof link);
    YES("maps names the program", strstr(buf, link + 1) != NULL);

    /* links */
    memset(link, 0, sizeof link);
    YES("readlink /proc/self/exe", readlink("/proc/self/exe", link, sizeof link) > 0);
    printf("exe ends with /procself: %s\n", strlen(link) >= 9 && !strcmp(link + strlen(link) - 9, "/procself") ? "yes" : "no");
    int exe = open("/proc/self/exe", O_RDONLY);
    char magic[4] = {0};
    read(exe, magic, 4);
    YES("/proc/self/exe opens the program", !memcmp(magic, "\177ELF", 4));
    close(exe);
    memset(link, 0, sizeof link);
    chdir("/");
    readlink("/proc/self/cwd", link, sizeof link);
    printf("cwd link: %s\n", link);
    memset(link, 0, sizeof link);
    TRY("readlink /dev/stdin", readlink("/dev/stdin", link, sizeof link));
    printf("/dev/stdin -> %s\n", link);
    memset(link, 0, sizeof link);
    TRY("readlink /dev/fd", readlink("/dev/fd", link, sizeof link));
    printf("/dev/fd -> %s\n", link);
    TRY("readlink /proc/self/status", readlink("/proc/self/status", link, sizeof link));
    TRY("lstat /proc/self", lstat("/proc/self", &st));
    YES("/proc/self is a link", S_ISLNK(st.st_mode));
    TRY("stat /proc/self", stat("/proc/self", &st));
    printf("/proc/self: mode %06o\n", (unsigned)st.st_mode);

    /* a /proc file: S_IFREG, size 0, read-only, seekable from the start only */
    int fd = open("/proc/self/status", O_RDONLY);
    fstat(fd, &st);
    printf("status file: mode %06o size %lld blksize %ld\n", (unsigned)st.st_mode,
           (long long)st.st_size, (long)st.st_blksize);
    TRY("lseek SEEK_SET", lseek(fd, 5, SEEK_SET));
    TRY("lseek SEEK_CUR", lseek(fd, 3, SEEK_CUR));
    TRY("lseek SEEK_END", lseek(fd, 0, SEEK_END));
    char first[8] = {0};
    lseek(fd, 0, SEEK_SET);
    read(fd, first, 5);
    printf("status starts: %s\n", first);
    YES("isatty on a /proc file", isatty(fd));
    printf("isatty errno: %s\n", err());
    TRY("write to /proc/self/status", write(fd, "x", 1));
    close(fd);
    TRY("unlink /proc/self/status", unlink("/proc/self/status"));
    TRY("mkdir in /proc/self", mkdir("/proc/self/new", 0755));
    TRY("chmod /proc/self/status", chmod("/proc/self/status", 0777));
    TRY("open missing /proc file", open("/proc/self/no-such-file", O_RDONLY));

    /* /proc/self/fd: a regular file reopens with its own offset and access */
    int file = open("/proc/self/exe", O_RDONLY);
    lseek(file, 100, SEEK_SET);
    sprintf(path, "/proc/self/fd/%d", file);
    int again = open(path, O_RDONLY);
    TRY("reopened offset", lseek(again, 0, SEEK_CUR));
    TRY("original offset", lseek(file, 0, SEEK_CUR));
    sprintf(path, "/dev/fd/%d", file);
    int third = open(path, O_RDONLY);
    YES("/dev/fd/N opens", third >= 0);
    fstat(third, &st);
    struct stat st2;
    fstat(file, &st2);
    YES("same file", st.st_ino == st2.st_ino);
    close(file); close(again); close(third);
    TRY("open closed fd link", open(path, O_RDONLY));

    /* the directory of fds lists the open ones */
    int dirfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY);
    YES("/proc/self/fd opens as a directory", dirfd >= 0);
    sprintf(path, "%d", dirfd);
    TRY("fstatat in /proc/self/fd", fstatat(dirfd, "0", &st, AT_SYMLINK_NOFOLLOW));
    YES("fd 0 is a link", S_ISLNK(st.st_mode));
    close(dirfd);

    /* accounting and the machine */
    struct rusage ru;
    TRY("getrusage self", getrusage(RUSAGE_SELF, &ru));
    YES("max rss positive", ru.ru_maxrss > 0);
    TRY("getrusage children", getrusage(RUSAGE_CHILDREN, &ru));
    TRY("getrusage bad", getrusage(7, &ru));
    struct tms t;
    YES("times counts up", times(&t) > 0);
    struct sysinfo si;
    TRY("sysinfo", sysinfo(&si));
    YES("sysinfo total > free", si.totalram > si.freeram && si.mem_unit == 1);
    cpu_set_t set;
    CPU_ZERO(&set);
    TRY("sched_getaffinity", sched_getaffinity(0, sizeof set, &set) < 0 ? -1 : 0);
    YES("CPU 0 is allowed", CPU_ISSET(0, &set));
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    TRY("sched_setaffinity CPU 0", sched_setaffinity(0, sizeof set, &set));
    TRY("sched_getaffinity other pid", sched_getaffinity(999999, sizeof set, &set));
    unsigned cpu = 99;
    TRY("getcpu", syscall(SYS_getcpu, &cpu, NULL, NULL));
    YES("cpu is allowed", cpu < CPU_SETSIZE);
    TRY("sched_getscheduler", syscall(SYS_sched_getscheduler, 0));
    struct sched_param sp;
    sp.sched_priority = 99;
    TRY("sched_getparam", syscall(SYS_sched_getparam, 0, &sp));
    printf("priority: %d\n", sp.sched_priority);
    TRY("sched_get_priority_max FIFO", sched_get_priority_max(SCHED_FIFO));
    errno = 0;
    TRY("getpriority", getpriority(PRIO_PROCESS, 0));
    TRY("setpriority 5", setpriority(PRIO_PROCESS, 0, 5));
    TRY("getpriority now", getpriority(PRIO_PROCESS, 0));
    TRY("personality query", personality(0xffffffff));
    TRY("getpgrp is getpid", getpgrp() == getpid() || getpgrp() > 0);
    uid_t r, e, s;
    TRY("getresuid", getresuid(&r, &e, &s));
    YES("getresuid agrees", r == getuid() && e == geteuid() && s == geteuid());
    TRY("setuid to self", setuid(getuid()));
    TRY("getgroups count", getgroups(0, NULL) >= 0 ? 0 : -1);
    static char page[8192] __attribute__((aligned(4096)));
    TRY("mlock", mlock(page, 4096));
    TRY("munlock", munlock(page, 4096));
    TRY("mlock unmapped", mlock((void *)0x1000, 4096));

    /* credentials: root may step down and (through the saved id) back up; anyone else
     * may only move among the ids it has. The transitions are the same for both runs. */
    struct { unsigned version; int pid; } header = {0x20080522, 0};
    struct { unsigned effective, permitted, inheritable; } caps[2];
    TRY("capget", syscall(SYS_capget, &header, caps));
    YES("some capability is effective", caps[0].effective || caps[1].effective);
    header.version = 0x12345678;
    TRY("capget bad version", syscall(SYS_capget, &header, caps));
    printf("version the kernel wants: %#x\n", header.version);
    if (geteuid() == 0) {
        TRY("setresuid -1 1000 -1", setresuid(-1, 1000, -1));
        getresuid(&r, &e, &s);
        printf("ids: %u %u %u\n", r, e, s);
        header.version = 0x20080522;
        syscall(SYS_capget, &header, caps);
        YES("capabilities gone with euid 0", !caps[0].effective && !caps[1].effective);
        YES("permitted kept while an id is 0", caps[0].permitted != 0);
        TRY("chown as euid 1000", chown("/proc/self/exe", 0, 0) < 0 && errno == EPERM ? -1 : 0);
        TRY("seteuid back to 0", seteuid(0));
        TRY("setgroups", setgroups(0, NULL));
        TRY("setuid 1000 for good", setuid(1000));
        getresuid(&r, &e, &s);
        printf("ids: %u %u %u\n", r, e, s);
        TRY("setuid 0 again", setuid(0));
        TRY("setreuid to 0", setreuid(0, 0));
        TRY("setgroups unprivileged", setgroups(0, NULL));
    } else {
        TRY("setuid 0 unprivileged", setuid(0));
        TRY("setresuid own ids", setresuid(getuid(), getuid(), getuid()));
    }
    return 0;
}
