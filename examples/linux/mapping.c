/* mapping: what a C library and a dynamic loader ask of mmap, checked step by step.
 *
 * File mappings (private and shared, at fixed addresses over a PROT_NONE reservation,
 * with offsets, the zeroed tail of the last page), copy-on-write, writes that reach the
 * file through msync / munmap, mprotect, partial munmap, mremap (grow, shrink, move),
 * madvise(MADV_DONTNEED), mincore, shared anonymous memory across fork, and the errors
 * Linux gives for the wrong requests. Prints one line per step; deterministic output.
 *
 *   mapping            every step, exit 0 (exit 2 at the first failure)
 *   mapping sigbus     touch a page past the end of a mapped file: killed by SIGBUS
 *   mapping hole       touch a page unmapped from the middle of a mapping: SIGSEGV
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define FILE_SIZE (3 * PAGE + 100)          /* three pages and a bit */

static int failures;

static void check(const char *step, int ok)
{
    printf("%-52s %s\n", step, ok ? "ok" : "FAIL");
    if (!ok) {
        failures++;
        fflush(stdout);
        exit(2);
    }
}

static void check_errno(const char *step, long result, int expected)
{
    int got = result == -1 ? errno : 0;
    printf("%-52s %s (%s)\n", step, got == expected ? "ok" : "FAIL", strerror(got));
    if (got != expected) {
        fflush(stdout);
        exit(2);
    }
}

static unsigned char pattern(long i) { return (unsigned char)(i * 7 + i / 251); }

static void write_file(const char *name)
{
    unsigned char buf[FILE_SIZE];
    for (long i = 0; i < FILE_SIZE; i++)
        buf[i] = pattern(i);
    int fd = open(name, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0 || write(fd, buf, FILE_SIZE) != FILE_SIZE || close(fd) != 0) {
        perror("mapping: cannot write the data file");
        exit(2);
    }
}

static int file_byte(const char *name, off_t offset)
{
    unsigned char c;
    int fd = open(name, O_RDONLY);
    ssize_t n = pread(fd, &c, 1, offset);
    close(fd);
    return n == 1 ? c : -1;
}

static int matches_file(const unsigned char *p, long from, long count)
{
    for (long i = 0; i < count; i++)
        if (p[i] != pattern(from + i))
            return 0;
    return 1;
}

static void private_mappings(void)
{
    int fd = open("data", O_RDONLY);
    unsigned char *p = mmap(NULL, FILE_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    check("private read-only mapping of the whole file", p != MAP_FAILED);
    check("  it shows the file", matches_file(p, 0, FILE_SIZE));
    int zero = 1;
    for (long i = FILE_SIZE; i < 4 * PAGE; i++)
        zero &= p[i] == 0;
    check("  the rest of the last page is zero", zero);
    munmap(p, FILE_SIZE);

    /* what ld.so does: reserve the span, then map segments over it with MAP_FIXED */
    unsigned char *span = mmap(NULL, 8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("PROT_NONE reservation of 8 pages", span != MAP_FAILED);
    unsigned char *seg = mmap(span + 2 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_FIXED, fd, PAGE);
    check("  MAP_FIXED file pages 1-2 at reservation page 2", seg == span + 2 * PAGE);
    check("  they show the file from offset 4096", matches_file(seg, PAGE, 2 * PAGE));
    seg[10] = 0xAB;
    check("  a write to the private mapping is seen there", seg[10] == 0xAB);
    check("  but not in the file", file_byte("data", PAGE + 10) == pattern(PAGE + 10));
    check_errno("  mprotect(PROT_READ) on it", mprotect(seg, 2 * PAGE, PROT_READ), 0);
    check("  still readable, still private", seg[10] == 0xAB && seg[PAGE] == pattern(2 * PAGE));
    check_errno("  mprotect(PROT_READ|PROT_WRITE) on the PROT_NONE part",
                mprotect(span, 2 * PAGE, PROT_READ | PROT_WRITE), 0);
    span[5] = 1;
    check("  the reservation's pages are zero-filled memory now", span[5] == 1 && span[6] == 0);
    check_errno("  munmap of the whole span", munmap(span, 8 * PAGE), 0);

    /* a mapping that starts at an offset and runs past the end of the file */
    p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 3 * PAGE);
    check("mapping of the last page, two pages long", p != MAP_FAILED);
    check("  it shows the last 100 bytes", matches_file(p, 3 * PAGE, 100) && p[100] == 0);
    munmap(p, 2 * PAGE);
    close(fd);
}

static void shared_mappings(void)
{
    int fd = open("data", O_RDWR);
    unsigned char *p = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check("shared writable mapping", p != MAP_FAILED);
    unsigned char *q = mmap(NULL, FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    check("  a second shared mapping of the same file", q != MAP_FAILED && q != p);
    p[PAGE + 1] = 'S';
    check("  a write through one is seen through the other", q[PAGE + 1] == 'S');
    check_errno("  msync(MS_SYNC)", msync(p, FILE_SIZE, MS_SYNC), 0);
    check("  the file has it after msync", file_byte("data", PAGE + 1) == 'S');
    p[2 * PAGE + 2] = 'U';
    check_errno("  munmap of the writable one", munmap(p, FILE_SIZE), 0);
    check("  the file has a write made just before munmap", file_byte("data", 2 * PAGE + 2) == 'U');
    check("  the other mapping still sees it", q[2 * PAGE + 2] == 'U');
    munmap(q, FILE_SIZE);

    struct stat st;
    fstat(fd, &st);
    check("  the file did not grow", st.st_size == FILE_SIZE);

    /* read() and write() go through the same pages as the mapping (Linux's page
     * cache, NT's cache manager): no msync needed in either direction */
    p = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char *r = mmap(NULL, FILE_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    check("  a shared and a private mapping again", p != MAP_FAILED && r != MAP_FAILED);
    check("  both show the file (their pages are in memory now)",
          p[PAGE - 1] == pattern(PAGE - 1) && r[PAGE - 1] == pattern(PAGE - 1) && r[PAGE + 1] == 'S');
    check("  pwrite of 3 bytes across a page boundary", pwrite(fd, "pwr", 3, PAGE - 1) == 3);
    check("  the shared mapping shows them at once", p[PAGE - 1] == 'p' && p[PAGE] == 'w' && p[PAGE + 1] == 'r');
    check("  so does the private one, which never wrote there", r[PAGE - 1] == 'p' && r[PAGE + 1] == 'r');
    p[3 * PAGE + 5] = 'M';
    unsigned char c = 0;
    check("  pread sees a store to the mapping without msync",
          pread(fd, &c, 1, 3 * PAGE + 5) == 1 && c == 'M');
    lseek(fd, 2 * PAGE, SEEK_SET);
    check("  write at the file position", write(fd, "W", 1) == 1 && p[2 * PAGE] == 'W');
    check_errno("  ftruncate to 100 bytes past page 2", ftruncate(fd, 2 * PAGE + 100), 0);
    check_errno("  ftruncate back to the full size", ftruncate(fd, FILE_SIZE), 0);
    check("  the cut part reads back as zeros", file_byte("data", 2 * PAGE + 200) == 0
          && p[2 * PAGE + 200] == 0 && p[2 * PAGE] == 'W');
    munmap(p, FILE_SIZE);
    munmap(r, FILE_SIZE);
    close(fd);

    fd = open("data", O_RDONLY);
    check_errno("MAP_SHARED|PROT_WRITE of a read-only fd",
                (long)mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EACCES);
    q = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
    check_errno("mprotect(PROT_WRITE) of that mapping made read-only",
                mprotect(q, PAGE, PROT_READ | PROT_WRITE), EACCES);
    munmap(q, PAGE);
    check_errno("MAP_PRIVATE|PROT_WRITE of a read-only fd is fine",
                munmap(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), PAGE), 0);
    close(fd);

    fd = open("data", O_WRONLY);
    check_errno("mapping a write-only fd", (long)mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0), EACCES);
    close(fd);
    fd = open(".", O_RDONLY | O_DIRECTORY);
    check_errno("mapping a directory", (long)mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0), ENODEV);
    close(fd);
    check_errno("mapping a closed fd", (long)mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, 99, 0), EBADF);
}

static void anonymous_and_errors(void)
{
    check_errno("mmap of length 0", (long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
    check_errno("mmap at an unaligned offset",
                (long)mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 5), EINVAL);
    check_errno("mmap with neither SHARED nor PRIVATE",
                (long)mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
    check_errno("munmap at an unaligned address", munmap((void *)0x10001, PAGE), EINVAL);

    unsigned char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check("anonymous mapping of 4 pages", p != MAP_FAILED);
    check_errno("MAP_FIXED_NOREPLACE over it",
                (long)mmap(p + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
                EEXIST);
    unsigned char vec[4];
    p[0] = 1;
    p[2 * PAGE] = 1;
    check_errno("mincore", mincore(p, 4 * PAGE, vec), 0);
    printf("  resident: %d %d %d %d\n", vec[0] & 1, vec[1] & 1, vec[2] & 1, vec[3] & 1);
    check_errno("munmap of page 1 only", munmap(p + PAGE, PAGE), 0);
    check_errno("mincore over the hole", mincore(p, 4 * PAGE, vec), ENOMEM);
    check_errno("msync over the hole", msync(p, 4 * PAGE, MS_SYNC), ENOMEM);
    check_errno("msync with MS_SYNC|MS_ASYNC", msync(p, PAGE, MS_SYNC | MS_ASYNC), EINVAL);
    check_errno("msync of anonymous memory", msync(p, PAGE, MS_SYNC), 0);
    check_errno("mprotect over the hole", mprotect(p, 4 * PAGE, PROT_READ), ENOMEM);
    memset(p + 2 * PAGE, 0x5A, PAGE);
    check_errno("madvise(MADV_DONTNEED)", madvise(p + 2 * PAGE, PAGE, MADV_DONTNEED), 0);
    check("  the page reads zero again", p[2 * PAGE] == 0 && p[3 * PAGE - 1] == 0);
    check_errno("madvise over the hole", madvise(p, 4 * PAGE, MADV_DONTNEED), ENOMEM);
    check_errno("madvise with unknown advice", madvise(p, PAGE, 12345), EINVAL);
    munmap(p, 4 * PAGE);
}

static void remapping(void)
{
    unsigned char *p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 2 * PAGE; i++)
        p[i] = (unsigned char)i;
    /* block growth in place: another mapping right after the first two pages */
    unsigned char *wall = mmap(p + 2 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check("a page mapped right after a 2-page mapping", wall == p + 2 * PAGE);
    check_errno("mremap growing in place, blocked, no MAYMOVE",
                (long)mremap(p, 2 * PAGE, 8 * PAGE, 0), ENOMEM);
    unsigned char *q = mremap(p, 2 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);
    check("mremap growing with MREMAP_MAYMOVE moves it", q != MAP_FAILED && q != p);
    int same = 1;
    for (int i = 0; i < 2 * PAGE; i++)
        same &= q[i] == (unsigned char)i;
    check("  the contents moved with it", same);
    check("  the new pages are zero", q[5 * PAGE] == 0);
    q[7 * PAGE] = 9;
    check("  and writable", q[7 * PAGE] == 9);
    check_errno("  the old address is unmapped", mincore(p, PAGE, (unsigned char[1]){0}), ENOMEM);
    unsigned char *r = mremap(q, 8 * PAGE, 3 * PAGE, 0);
    check("mremap shrinking keeps the address", r == q);
    check_errno("  the cut-off part is unmapped", mincore(q + 3 * PAGE, PAGE, (unsigned char[1]){0}), ENOMEM);
    munmap(r, 3 * PAGE);
    munmap(wall, PAGE);

    int fd = open("data", O_RDONLY);
    unsigned char *f = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    unsigned char *g = mremap(f, PAGE, 3 * PAGE, MREMAP_MAYMOVE);
    check("mremap growing a file mapping", g != MAP_FAILED);
    check("  it shows more of the file", g[2 * PAGE + 3] == file_byte("data", 2 * PAGE + 3) && g[5] == file_byte("data", 5));
    munmap(g, 3 * PAGE);
    close(fd);
}

static void shared_across_fork(void)
{
    volatile int *shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    volatile int *private = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *shared = 1;
    *private = 1;
    pid_t child = fork();
    if (child == 0) {
        *shared = 42;
        *private = 42;
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    check("MAP_SHARED|MAP_ANONYMOUS: the child's write is seen", *shared == 42);
    check("MAP_PRIVATE|MAP_ANONYMOUS: the child's write is not", *private == 1);
}

int main(int argc, char **argv)
{
    write_file("data");
    if (argc > 1 && strcmp(argv[1], "sigbus") == 0) {
        int fd = open("data", O_RDONLY);
        volatile unsigned char *p = mmap(NULL, 8 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
        printf("last page: %d\n", p[3 * PAGE]);
        fflush(stdout);
        printf("past the end: %d\n", p[5 * PAGE]);    /* SIGBUS */
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "hole") == 0) {
        volatile unsigned char *p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        munmap((void *)(p + PAGE), PAGE);
        p[0] = p[2 * PAGE] = 1;
        printf("around the hole: ok\n");
        fflush(stdout);
        p[PAGE] = 1;                                   /* SIGSEGV */
        return 0;
    }
    private_mappings();
    shared_mappings();
    anonymous_and_errors();
    remapping();
    shared_across_fork();
    unlink("data");
    printf("mapping: all steps ok\n");
    return failures ? 2 : 0;
}
