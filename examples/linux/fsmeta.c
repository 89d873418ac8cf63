/* fsmeta: calls that change files rather than their data, and their errors.
 *
 * Run in an empty directory; it makes "fsmeta-tmp" and removes it at the end. Every
 * line is "step: result", where a result is a value the step reads back or the errno
 * name of its failure, so a native run and an ntsim run can be compared line by line.
 * Nothing printed depends on the machine (no inode numbers, no current times).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

static const char *err(void) {
    switch (errno) {
    case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case EBADF: return "EBADF";
    case EACCES: return "EACCES"; case EEXIST: return "EEXIST"; case EXDEV: return "EXDEV";
    case ENOTDIR: return "ENOTDIR"; case EISDIR: return "EISDIR"; case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC"; case ELOOP: return "ELOOP"; case ENXIO: return "ENXIO";
    case EOPNOTSUPP: return "EOPNOTSUPP"; case ENOTEMPTY: return "ENOTEMPTY";
    default: return strerror(errno);
    }
}

/* print "name: 0" or "name: ERRNO" for a call that returns 0 / -1 */
#define TRY(name, call) do { errno = 0; long r_ = (long)(call); \
    if (r_ < 0) printf("%s: %s\n", name, err()); else printf("%s: %ld\n", name, r_); } while (0)

static void show_stat(const char *name, const char *path, int follow) {
    struct stat st;
    if ((follow ? stat(path, &st) : lstat(path, &st)) < 0) {
        printf("stat %s: %s\n", name, err());
        return;
    }
    printf("stat %s: mode %06o size %lld links %ld\n", name, (unsigned)st.st_mode,
           (long long)st.st_size, (long)st.st_nlink);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the old getdents(2): d_type is the last byte of each record */
struct old_dirent { unsigned long d_ino, d_off; unsigned short d_reclen; char d_name[]; };

static void list_old_getdents(const char *path) {
    char buf[4096], *names[64];
    int n = 0, fd = open(path, O_RDONLY | O_DIRECTORY);
    long got;
    while ((got = syscall(SYS_getdents, fd, buf, sizeof buf)) > 0) {
        for (long at = 0; at < got;) {
            struct old_dirent *d = (struct old_dirent *)(buf + at);
            char type = buf[at + d->d_reclen - 1];
            if (n < 64) {
                names[n] = malloc(strlen(d->d_name) + 4);
                sprintf(names[n++], "%s:%d", d->d_name, type);
            }
            at += d->d_reclen;
        }
    }
    close(fd);
    qsort(names, n, sizeof *names, by_name);
    printf("getdents:");
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
}

int main(void) {
    char buf[256];
    struct stat st;
    if (mkdir("fsmeta-tmp", 0755) < 0 || chdir("fsmeta-tmp") < 0) {
        printf("setup: %s\n", err());
        return 2;
    }
    umask(022);
    int fd = open("file", O_CREAT | O_RDWR | O_TRUNC, 0666);
    write(fd, "hello, metadata\n", 16);
    show_stat("file", "file", 1);

    /* umask */
    TRY("umask old", umask(0));
    int loose = open("loose", O_CREAT | O_WRONLY, 0666);
    close(loose);
    show_stat("loose", "loose", 1);
    TRY("umask again", umask(027));
    TRY("mkdir dir", mkdir("dir", 0777));
    show_stat("dir", "dir", 1);
    umask(022);

    /* symbolic links */
    TRY("symlink", symlink("file", "link"));
    TRY("symlink dangling", symlink("nowhere/at/all", "dangling"));
    TRY("symlink exists", symlink("file", "link"));
    TRY("symlink empty", symlink("", "empty"));
    TRY("symlink into missing dir", symlink("file", "missing/link"));
    memset(buf, 0, sizeof buf);
    TRY("readlink", readlink("link", buf, sizeof buf));
    printf("readlink target: %s\n", buf);
    TRY("readlink short", readlink("dangling", buf, 5));
    TRY("readlink file", readlink("file", buf, sizeof buf));
    show_stat("link", "link", 0);
    show_stat("link followed", "link", 1);
    show_stat("dangling", "dangling", 1);

    /* hard links */
    TRY("link", link("file", "hard"));
    show_stat("file after link", "file", 1);
    TRY("link exists", link("file", "hard"));
    TRY("link directory", link("dir", "dir2"));
    TRY("link missing", link("nothing", "x"));
    TRY("linkat symlink itself", linkat(AT_FDCWD, "link", AT_FDCWD, "hardlink", 0));
    show_stat("hardlink", "hardlink", 0);
    TRY("linkat follow", linkat(AT_FDCWD, "link", AT_FDCWD, "hardfollow", AT_SYMLINK_FOLLOW));
    show_stat("hardfollow", "hardfollow", 0);
    TRY("linkat bad flags", linkat(AT_FDCWD, "file", AT_FDCWD, "y", 0x8));

    /* modes */
    TRY("chmod 0751", chmod("file", 0751));
    show_stat("file", "file", 1);
    TRY("fchmod 0600", fchmod(fd, 0600));
    show_stat("hard", "hard", 1);
    TRY("chmod via link", chmod("link", 0644));
    show_stat("file", "file", 1);
    TRY("chmod 04755", chmod("file", 04755));
    TRY("chown -1 -1", chown("file", -1, -1));
    show_stat("file after chown", "file", 1);
    TRY("chmod missing", chmod("nothing", 0644));
    TRY("fchmodat", fchmodat(AT_FDCWD, "dir", 0700, 0));
    show_stat("dir", "dir", 1);

    /* owners: as who we are, to who we are (root or not, both runs agree) */
    TRY("chown self", chown("file", getuid(), getgid()));
    TRY("lchown self", lchown("link", getuid(), getgid()));
    TRY("fchown self", fchown(fd, -1, getgid()));
    stat("file", &st);
    printf("owner is me: %s\n", st.st_uid == getuid() && st.st_gid == getgid() ? "yes" : "no");

    /* times: whole microseconds, which every layer keeps */
    struct timeval tv[2] = {{1000000000, 250000}, {1200000000, 500000}};
    TRY("utimes", utimes("file", tv));
    stat("file", &st);
    printf("times: atime %ld.%09ld mtime %ld.%09ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec ts[2] = {{1300000000, 700000000}, {0, UTIME_OMIT}};
    TRY("utimensat omit mtime", utimensat(AT_FDCWD, "file", ts, 0));
    stat("file", &st);
    printf("times: atime %ld.%09ld mtime %ld.%09ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    TRY("utimensat now", utimensat(AT_FDCWD, "file", now, 0));
    stat("file", &st);
    printf("mtime is recent: %s\n", st.st_mtim.tv_sec > 1600000000 ? "yes" : "no");
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    TRY("utimensat bad nsec", utimensat(AT_FDCWD, "file", bad, 0));
    TRY("utimensat bad flags", syscall(SYS_utimensat, AT_FDCWD, "file", NULL, 0x1));
    TRY("utimensat link itself", utimensat(AT_FDCWD, "link", ts, AT_SYMLINK_NOFOLLOW));
    lstat("link", &st);
    printf("link atime: %ld.%09ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
    TRY("futimens (NULL path)", syscall(SYS_utimensat, fd, NULL, ts, 0));

    /* sizes */
    TRY("truncate 5", truncate("file", 5));
    show_stat("file", "file", 1);
    TRY("ftruncate 100", ftruncate(fd, 100));
    show_stat("file", "file", 1);
    int ro = open("file", O_RDONLY);
    TRY("ftruncate read-only", ftruncate(ro, 1));
    TRY("ftruncate negative", ftruncate(fd, -1));
    TRY("truncate directory", truncate("dir", 0));
    TRY("truncate missing", truncate("nothing", 0));
    TRY("fsync", fsync(fd));
    TRY("fdatasync", fdatasync(fd));
    int null = open("/dev/null", O_WRONLY);
    TRY("fsync /dev/null", fsync(null));
    TRY("fsync directory", ({ int d = open("dir", O_RDONLY); int r = fsync(d); close(d); r; }));

    /* copying between descriptors */
    ftruncate(fd, 0);
    pwrite(fd, "0123456789abcdef", 16, 0);
    int out = open("copy", O_CREAT | O_RDWR | O_TRUNC, 0644);
    lseek(ro, 4, SEEK_SET);
    TRY("sendfile from position", sendfile(out, ro, NULL, 6));
    TRY("position after sendfile", lseek(ro, 0, SEEK_CUR));
    off_t offset = 10;
    TRY("sendfile at offset", sendfile(out, ro, &offset, 100));
    printf("offset after: %lld, position still: %lld\n", (long long)offset, (long long)lseek(ro, 0, SEEK_CUR));
    memset(buf, 0, sizeof buf);
    pread(out, buf, sizeof buf - 1, 0);
    printf("copy holds: %s\n", buf);
    int append = open("append", O_CREAT | O_WRONLY | O_APPEND, 0644);
    TRY("sendfile to O_APPEND", sendfile(append, ro, NULL, 1));
    TRY("sendfile from write-only", sendfile(out, append, NULL, 1));
    loff_t in_off = 2, out_off = 0;
    int out2 = open("copy2", O_CREAT | O_RDWR | O_TRUNC, 0644);
    TRY("copy_file_range", copy_file_range(ro, &in_off, out2, &out_off, 8, 0));
    printf("offsets after: %lld %lld\n", (long long)in_off, (long long)out_off);
    memset(buf, 0, sizeof buf);
    pread(out2, buf, sizeof buf - 1, 0);
    printf("copy2 holds: %s\n", buf);
    TRY("copy_file_range to O_APPEND", copy_file_range(ro, NULL, append, NULL, 1, 0));
    TRY("copy_file_range flags", copy_file_range(ro, NULL, out2, NULL, 1, 1));
    in_off = 0; out_off = 2;
    TRY("copy_file_range overlap", copy_file_range(fd, &in_off, fd, &out_off, 8, 0));

    /* special files by mknod */
    TRY("mknod regular", mknod("plain", S_IFREG | 0640, 0));
    show_stat("plain", "plain", 1);
    TRY("mknod fifo", mknod("fifo", S_IFIFO | 0644, 0));
    show_stat("fifo", "fifo", 1);
    TRY("open fifo nonblocking writer", open("fifo", O_WRONLY | O_NONBLOCK));
    TRY("mknod socket", mknod("sock", S_IFSOCK | 0600, 0));
    show_stat("sock", "sock", 1);
    TRY("open socket file", open("sock", O_RDONLY));
    TRY("mknod directory", mknod("notdir", S_IFDIR | 0755, 0));
    TRY("mknod bad type", mknod("bad", 0170000 | 0644, 0));
    TRY("mknod exists", mknod("file", S_IFREG | 0644, 0));
    if (geteuid() == 0) {       /* CAP_MKNOD: what root has, natively and here */
        TRY("mknod null device", mknod("mynull", S_IFCHR | 0666, makedev(1, 3)));
        stat("mynull", &st);
        printf("mynull: mode %06o rdev %u:%u\n", (unsigned)st.st_mode, major(st.st_rdev), minor(st.st_rdev));
        int n = open("mynull", O_RDWR);
        TRY("write to mynull", write(n, "gone", 4));
        TRY("read from mynull", read(n, buf, 10));
        close(n);
        TRY("mknod unknown device", mknod("nodev", S_IFCHR | 0600, makedev(250, 7)));
        TRY("open unknown device", open("nodev", O_RDONLY));
    }

    /* access with faccessat2's flags */
    TRY("access R_OK", access("file", R_OK));
    TRY("faccessat AT_EACCESS", faccessat(AT_FDCWD, "file", R_OK | W_OK, AT_EACCESS));
    TRY("faccessat dangling nofollow", faccessat(AT_FDCWD, "dangling", F_OK, AT_SYMLINK_NOFOLLOW));
    TRY("faccessat dangling", faccessat(AT_FDCWD, "dangling", F_OK, 0));
    TRY("faccessat2 bad flags", syscall(439, AT_FDCWD, "file", F_OK, 0x8000));
    TRY("faccessat2 empty path", syscall(439, fd, "", R_OK, AT_EMPTY_PATH));

    /* the file system */
    struct statfs fs1, fs2;
    TRY("statfs", statfs(".", &fs1));
    TRY("fstatfs", fstatfs(fd, &fs2));
    printf("statfs agrees: %s\n", fs1.f_bsize == fs2.f_bsize && fs1.f_blocks == fs2.f_blocks &&
           fs1.f_namelen == fs2.f_namelen ? "yes" : "no");
    printf("statfs namelen: %ld\n", (long)fs1.f_namelen);
    TRY("statfs missing", statfs("nothing", &fs1));

    list_old_getdents(".");

    /* clean up: everything goes, the directory too */
    close(fd); close(ro); close(out); close(out2); close(append); close(null);
    const char *names[] = {"file", "loose", "link", "dangling", "hard", "hardlink", "hardfollow",
                           "copy", "copy2", "append", "plain", "fifo", "sock", "mynull", "nodev", NULL};
    for (int i = 0; names[i]; i++) unlink(names[i]);
    TRY("rmdir dir", rmdir("dir"));
    chdir("..");
    TRY("rmdir fsmeta-tmp", rmdir("fsmeta-tmp"));
    return 0;
}
