/* fileops.c - exercises the basic file-system syscalls in the current
 * directory, printing one line per step.  Output is deterministic: no inode
 * numbers, times or pids are printed.
 *
 * Steps: mkdir, open(O_CREAT|O_WRONLY|O_TRUNC, 0644), write, close,
 * open+read back, lseek/pwrite/pread byte patch, fstat, stat, rename,
 * opendir/readdir (sorted, skipping . and ..), unlink, rmdir.
 *
 * Exit 0 on success; on any failure prints "fileops: FAIL <step>: <strerror>"
 * to stderr and exits 2. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define DIRNAME  "fileops-tmp"
#define FILE1    DIRNAME "/data.txt"
#define FILE2    DIRNAME "/renamed.txt"
#define FILE3    DIRNAME "/empty.txt"

static void fail(const char *step)
{
    int e = errno;
    fflush(stdout);
    fprintf(stderr, "fileops: FAIL %s: %s\n", step, strerror(e));
    exit(2);
}

static void failmsg(const char *step, const char *msg)
{
    fflush(stdout);
    fprintf(stderr, "fileops: FAIL %s: %s\n", step, msg);
    exit(2);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char text[] =
    "line 1: alpha\n"
    "line 2: bravo\n"
    "line 3: charlie\n";

int main(void)
{
    char buf[256];
    int fd;
    ssize_t n;
    struct stat st;

    /* 1. mkdir */
    if (mkdir(DIRNAME, 0755) < 0)
        fail("mkdir " DIRNAME);
    printf("mkdir %s: ok\n", DIRNAME);

    /* 2. create + write (three separate write() calls) + close */
    fd = open(FILE1, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        fail("open " FILE1 " for writing");
    printf("open %s (O_CREAT|O_WRONLY|O_TRUNC, 0644): ok\n", FILE1);
    {
        const char *p = text;
        int lines = 0;
        size_t total = 0;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t len = (size_t)(nl - p) + 1;
            n = write(fd, p, len);
            if (n < 0)
                fail("write");
            if ((size_t)n != len)
                failmsg("write", "short write");
            total += (size_t)n;
            lines++;
            p += len;
        }
        printf("write: %d lines, %zu bytes\n", lines, total);
    }
    if (close(fd) < 0)
        fail("close after write");
    printf("close: ok\n");

    /* 3. reopen read-only and read back */
    fd = open(FILE1, O_RDONLY);
    if (fd < 0)
        fail("open " FILE1 " for reading");
    {
        size_t got = 0;
        while ((n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)n;
        if (n < 0)
            fail("read");
        buf[got] = '\0';
        printf("read back %zu bytes:\n%s", got, buf);
        if (got != sizeof text - 1 || memcmp(buf, text, got) != 0)
            failmsg("read", "contents differ from what was written");
    }
    if (close(fd) < 0)
        fail("close after read");

    /* 4. lseek + pwrite/pread: patch the '1' in "line 1" to '!' */
    fd = open(FILE1, O_RDWR);
    if (fd < 0)
        fail("open " FILE1 " for read/write");
    {
        off_t end = lseek(fd, 0, SEEK_END);
        if (end < 0)
            fail("lseek SEEK_END");
        printf("lseek SEEK_END: %lld\n", (long long)end);

        off_t pos = lseek(fd, 5, SEEK_SET);
        if (pos < 0)
            fail("lseek SEEK_SET");
        printf("lseek SEEK_SET 5: %lld\n", (long long)pos);

        char c;
        if (pread(fd, &c, 1, 5) != 1)
            fail("pread before patch");
        printf("pread @5: '%c'\n", c);

        if (pwrite(fd, "!", 1, 5) != 1)
            fail("pwrite");
        printf("pwrite @5: '!'\n");

        if (pread(fd, &c, 1, 5) != 1)
            fail("pread after patch");
        printf("pread @5: '%c'\n", c);
        if (c != '!')
            failmsg("pread after patch", "byte was not patched");

        /* pread/pwrite must not move the file offset */
        pos = lseek(fd, 0, SEEK_CUR);
        if (pos < 0)
            fail("lseek SEEK_CUR");
        printf("lseek SEEK_CUR (unchanged by pread/pwrite): %lld\n",
               (long long)pos);
        if (pos != 5)
            failmsg("lseek SEEK_CUR", "offset moved by pread/pwrite");

        /* read the first line through the ordinary offset */
        if (lseek(fd, 0, SEEK_SET) < 0)
            fail("lseek SEEK_SET 0");
        n = read(fd, buf, 14);
        if (n != 14)
            fail("read patched line");
        buf[n] = '\0';
        printf("patched first line: %s", buf);

        /* 5. fstat */
        if (fstat(fd, &st) < 0)
            fail("fstat");
        printf("fstat: size %lld, regular file %s\n", (long long)st.st_size,
               S_ISREG(st.st_mode) ? "yes" : "no");
    }
    if (close(fd) < 0)
        fail("close after patch");

    /* 6. stat */
    if (stat(FILE1, &st) < 0)
        fail("stat " FILE1);
    printf("stat %s: size %lld, regular file %s\n", FILE1,
           (long long)st.st_size, S_ISREG(st.st_mode) ? "yes" : "no");

    /* 7. rename */
    if (rename(FILE1, FILE2) < 0)
        fail("rename");
    printf("rename %s -> %s: ok\n", FILE1, FILE2);
    if (stat(FILE1, &st) == 0 || errno != ENOENT)
        failmsg("stat old name after rename", "old name still exists");
    printf("stat %s after rename: %s\n", FILE1, strerror(ENOENT));

    /* a second (empty) file so the listing has something to sort */
    fd = open(FILE3, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        fail("open " FILE3);
    if (close(fd) < 0)
        fail("close " FILE3);
    printf("create %s: ok\n", FILE3);

    /* 8. opendir/readdir, sorted, skipping . and .. */
    {
        DIR *d = opendir(DIRNAME);
        struct dirent *de;
        char *names[64];
        int count = 0;

        if (!d)
            fail("opendir");
        errno = 0;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            if (count == 64)
                failmsg("readdir", "too many entries");
            names[count] = strdup(de->d_name);
            if (!names[count])
                fail("strdup");
            count++;
            errno = 0;
        }
        if (errno != 0)
            fail("readdir");
        if (closedir(d) < 0)
            fail("closedir");
        qsort(names, (size_t)count, sizeof names[0], cmp_names);
        printf("readdir %s: %d entries\n", DIRNAME, count);
        for (int i = 0; i < count; i++) {
            printf("  %s\n", names[i]);
            free(names[i]);
        }
    }

    /* 9. unlink */
    if (unlink(FILE2) < 0)
        fail("unlink " FILE2);
    printf("unlink %s: ok\n", FILE2);
    if (unlink(FILE3) < 0)
        fail("unlink " FILE3);
    printf("unlink %s: ok\n", FILE3);

    /* 10. rmdir */
    if (rmdir(DIRNAME) < 0)
        fail("rmdir");
    printf("rmdir %s: ok\n", DIRNAME);

    printf("fileops: all steps ok\n");
    return 0;
}
