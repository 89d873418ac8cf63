/* getpid_loop.c - syscall round-trip benchmark / stress test.
 *   getpid_loop [COUNT]      (default 100000)
 * Calls syscall(SYS_getpid) COUNT times through libc's generic syscall()
 * wrapper (so no libc pid caching can skip the kernel), and checks every
 * value equals the first.  Prints "getpid x COUNT: ok" and exits 0, or
 * "getpid x COUNT: MISMATCH at I (...)" and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long count = 100000;
    if (argc > 1) {
        char *end;
        count = strtol(argv[1], &end, 10);
        if (*argv[1] == '\0' || *end != '\0' || count < 1) {
            fprintf(stderr, "usage: getpid_loop [COUNT>=1]\n");
            return 2;
        }
    }

    long first = syscall(SYS_getpid);
    for (long i = 1; i < count; i++) {
        long pid = syscall(SYS_getpid);
        if (pid != first) {
            printf("getpid x %ld: MISMATCH at %ld (%ld != %ld)\n",
                   count, i, pid, first);
            return 1;
        }
    }
    printf("getpid x %ld: ok\n", count);
    return 0;
}
