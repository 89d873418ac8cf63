/* spawnloop.c - process creation benchmark: fork + execve + waitpid in a loop.
 *   spawnloop [COUNT]      (default 100)
 * Each round forks; the child execve's this same program (argv[0]) as
 * "spawnloop -child I", which exits at once with status I & 127 and prints
 * nothing; the parent waitpid's and checks the status.  Prints
 * "spawnloop x COUNT: ok" and exits 0, or says which round went wrong and
 * exits 1.  Needs argv[0] to be a path to this binary (run it as ./spawnloop). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "-child") == 0)
        return atoi(argv[2]) & 127;

    long count = 100;
    if (argc > 1) {
        char *end;
        count = strtol(argv[1], &end, 10);
        if (*argv[1] == '\0' || *end != '\0' || count < 1) {
            fprintf(stderr, "usage: spawnloop [COUNT>=1]\n");
            return 2;
        }
    }

    for (long i = 0; i < count; i++) {
        char round[24];
        snprintf(round, sizeof round, "%ld", i);
        pid_t pid = fork();
        if (pid < 0) {
            perror("spawnloop: fork");
            return 1;
        }
        if (pid == 0) {
            char *child_argv[] = { argv[0], "-child", round, NULL };
            execve(argv[0], child_argv, environ);
            _exit(126);                         /* execve failed */
        }
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)
                || WEXITSTATUS(status) != (int)(i & 127)) {
            printf("spawnloop x %ld: round %ld went wrong (status 0x%x)\n", count, i, status);
            return 1;
        }
    }
    printf("spawnloop x %ld: ok\n", count);
    return 0;
}
