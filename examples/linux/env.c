/* env.c - argument / environment passing test.
 *   env [NAME [ARGS...]]
 * Prints argc, every argv[i], and, if argv[1] is given, the value of the
 * environment variable named argv[1] (or that it is unset).  Nothing else
 * (no pids, addresses or the full environment) is printed, so the output
 * depends only on the arguments and that one variable.  Exit 0. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    if (argc > 1) {
        const char *v = getenv(argv[1]);
        if (v)
            printf("env %s=%s\n", argv[1], v);
        else
            printf("env %s is not set\n", argv[1]);
    }
    return 0;
}
