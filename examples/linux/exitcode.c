/* exitcode.c - exit with a chosen status, for exit-status tests.
 *   exitcode [N]     (default 3)
 * Prints "exiting with N" and then calls exit(N).  The parent sees N & 255. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3;
    printf("exiting with %d\n", n);
    fflush(stdout);
    exit(n);
}
