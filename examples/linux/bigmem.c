/* bigmem: memory at the sizes real programs use, one scenario per argument.
 *
 *   bigmem malloc MIB    malloc MIB MiB and write one byte in every page, then check them
 *   bigmem lazy MIB      mmap MIB MiB, touch 4 pages, read back (the rest is never touched)
 *   bigmem dontneed      madvise(MADV_DONTNEED) zeroes private anonymous pages
 *   bigmem fork MIB      touch MIB MiB, fork; parent and child each write their own data
 *                        over all of it and check that they see only their own
 *   bigmem sharedfork    a MAP_SHARED file mapping written by a forked child, seen by the parent
 *   bigmem touch MIB     write one byte per page of MIB MiB (a benchmark: no output but the sum)
 *   bigmem stride N      read 24 pages spaced 1 MiB apart, N rounds (a benchmark)
 *
 * Deterministic output; exit 0 when every check holds, 1 otherwise. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL
#define MIB (1024UL * 1024UL)

static int failures;

static void check(const char *what, int ok) {
    printf("%s: %s\n", what, ok ? "yes" : "NO");
    if (!ok)
        failures++;
}

static unsigned long fill(unsigned char *p, size_t size, unsigned char seed) {
    unsigned long sum = 0;
    for (size_t at = 0; at < size; at += PAGE) {
        p[at] = (unsigned char)(seed + at / PAGE);
        sum += p[at];
    }
    return sum;
}

static int verify(const unsigned char *p, size_t size, unsigned char seed) {
    for (size_t at = 0; at < size; at += PAGE)
        if (p[at] != (unsigned char)(seed + at / PAGE))
            return 0;
    return 1;
}

static int scenario_malloc(size_t mib) {
    unsigned char *p = malloc(mib * MIB);
    if (!p)
        return printf("malloc failed\n"), 1;
    unsigned long sum = fill(p, mib * MIB, 7);
    printf("malloc %zu MiB, one byte per page: sum %lu\n", mib, sum);
    check("every page kept its byte", verify(p, mib * MIB, 7));
    free(p);
    return failures != 0;
}

static int scenario_lazy(size_t mib) {
    unsigned char *p = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return printf("mmap failed\n"), 1;
    size_t places[4] = {0, mib * MIB / 3, mib * MIB / 2 + 123, mib * MIB - 1};
    for (int i = 0; i < 4; i++)
        p[places[i]] = (unsigned char)(i + 1);
    int ok = 1;
    for (int i = 0; i < 4; i++)
        ok &= p[places[i]] == i + 1;
    printf("mapped %zu MiB, touched 4 pages\n", mib);
    check("the four bytes read back", ok);
    check("an untouched page reads as zeros", p[mib * MIB / 4] == 0 && p[PAGE * 7 + 5] == 0);
    return failures != 0;          /* still mapped at exit: ntsim --stats shows it */
}

static int scenario_dontneed(void) {
    size_t size = 64 * PAGE;
    unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(p, 0xAB, size);
    check("written", p[0] == 0xAB && p[size - 1] == 0xAB);
    madvise(p + 16 * PAGE, 16 * PAGE, MADV_DONTNEED);
    check("MADV_DONTNEED pages read as zeros", p[16 * PAGE] == 0 && p[32 * PAGE - 1] == 0);
    check("the pages around them keep their data", p[16 * PAGE - 1] == 0xAB && p[32 * PAGE] == 0xAB);
    p[20 * PAGE] = 1;
    check("a zeroed page can be written again", p[20 * PAGE] == 1 && p[20 * PAGE + 1] == 0);
    munmap(p, size);
    return failures != 0;
}

static int scenario_fork(size_t mib) {
    size_t size = mib * MIB;
    unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fill(p, size, 1);
    printf("touched %zu MiB before fork\n", mib);
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        int before = verify(p, size, 1);
        fill(p, size, 100);
        _exit(before && verify(p, size, 100) ? 0 : 1);
    }
    int saw_own = verify(p, size, 1);
    fill(p, size, 200);
    int status;
    waitpid(child, &status, 0);
    check("the child saw the parent's data, then only its own", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    check("the parent saw its data while the child wrote", saw_own);
    check("the parent sees only its own writes", verify(p, size, 200));
    munmap(p, size);
    return failures != 0;
}

static int scenario_sharedfork(void) {
    const char *name = "bigmem-shared.tmp";
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ftruncate(fd, 16 * PAGE);
    unsigned char *p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    p[0] = 'P';
    pid_t child = fork();
    if (child == 0) {
        p[5 * PAGE] = 'C';
        p[1] = p[0];
        _exit(0);
    }
    waitpid(child, NULL, 0);
    check("the parent sees the child's writes to a shared file mapping", p[5 * PAGE] == 'C' && p[1] == 'P');
    munmap(p, 16 * PAGE);
    char c = 0;
    pread(fd, &c, 1, 5 * PAGE);
    check("and so does the file", c == 'C');
    close(fd);
    unlink(name);
    return failures != 0;
}

static int scenario_touch(size_t mib) {
    unsigned char *p = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("%lu\n", fill(p, mib * MIB, 3));
    return 0;
}

static int scenario_stride(long rounds) {
    unsigned char *p = mmap(NULL, 24 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 24; i++)
        p[i * MIB] = (unsigned char)i;
    unsigned long sum = 0;
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < 24; i++)
            sum += *(volatile unsigned char *)&p[i * MIB];
    printf("%lu\n", sum);
    return 0;
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    long n = argc > 2 ? atol(argv[2]) : 0;
    if (!strcmp(what, "malloc")) return scenario_malloc(n ? n : 50);
    if (!strcmp(what, "lazy")) return scenario_lazy(n ? n : 256);
    if (!strcmp(what, "dontneed")) return scenario_dontneed();
    if (!strcmp(what, "fork")) return scenario_fork(n ? n : 64);
    if (!strcmp(what, "sharedfork")) return scenario_sharedfork();
    if (!strcmp(what, "touch")) return scenario_touch(n ? n : 256);
    if (!strcmp(what, "stride")) return scenario_stride(n ? n : 100000);
    fprintf(stderr, "usage: bigmem malloc|lazy|dontneed|fork|sharedfork|touch|stride [N]\n");
    return 2;
}
