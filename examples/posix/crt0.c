/* crt0.c - the examples' start-up: PSXDLL calls nothing; `start` is the image's entry. */
#include "psx.h"

char **environ;

void __main(void) {}                 /* gcc calls it from main on this target: nothing to run */

void start(void)
{
    int argc;
    char **argv, **envp;
    __psx_getargs(&argc, &argv, &envp);
    environ = envp;
    _exit(main(argc, argv, envp));
}
