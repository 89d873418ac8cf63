/* fork: fork children that exit with known codes, one killed by a signal, and wait
   for each. fork is a message to PSXSS, which has the kernel clone the process
   (NtCreateProcessEx with no section) and copies the descriptor table. */
#include "psx.h"

int main(int argc, char **argv, char **envp)
{
    pid_t me = getpid();
    int status;
    for (int i = 1; i <= 3; i++) {
        pid_t child = fork();
        if (child < 0) {
            printf("fork: %s\n", strerror(errno));
            return 1;
        }
        if (child == 0) {
            printf("child %d: my parent is %s\n", i, getppid() == me ? "the forker" : "someone else");
            _exit(10 * i + 1);
        }
        if (waitpid(child, &status, 0) != child) {
            printf("waitpid: %s\n", strerror(errno));
            return 1;
        }
        printf("parent: child %d exited with status %d\n", i, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    pid_t sleeper = fork();
    if (sleeper == 0) {
        pause();                          /* until a signal ends it */
        _exit(99);
    }
    if (waitpid(sleeper, &status, WNOHANG) == 0)
        printf("parent: the sleeper is still running\n");
    kill(sleeper, SIGTERM);
    if (wait(&status) == sleeper && WIFSIGNALED(status))
        printf("parent: the sleeper was killed by signal %d\n", WTERMSIG(status));
    if (wait(&status) < 0)
        printf("parent: wait: %s (no children left)\n", strerror(errno));
    return 7;
}
