/* jobs: POSIX.1 job control. A parent stops a child with SIGSTOP, sees the stop through
   waitpid(WUNTRACED) and a SIGCHLD, shows the child does not run while stopped (it has
   its input and still does not exit), continues it with SIGCONT and reaps its exit
   code; a second child is stopped with SIGTSTP and ended, still stopped, by SIGKILL.
   PSXSS stops a process by suspending its thread through the kernel (NtSuspendThread)
   and keeps the stop in its process table. */
#include "psx.h"

static void on_chld(int sig) { }

int main(int argc, char **argv, char **envp)
{
    int ready[2], go[2], status;
    char byte;
    sigset_t chld, pending;
    struct sigaction act = {on_chld, 0, 0};
    sigaction(SIGCHLD, &act, 0);          /* caught (its default ignores it)... */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, 0);     /* ...and blocked: sigpending shows it came */
    pipe(ready);
    pipe(go);
    pid_t child = fork();
    if (child == 0) {
        write(ready[1], "r", 1);
        read(go[0], &byte, 1);            /* then it needs to run to exit */
        _exit(42);
    }
    read(ready[0], &byte, 1);
    kill(child, SIGSTOP);
    if (waitpid(child, &status, WUNTRACED) == child && WIFSTOPPED(status))
        printf("parent: child stopped by signal %d (status 0x%x)\n", WSTOPSIG(status), status);
    sigpending(&pending);
    printf("parent: SIGCHLD %s\n", sigismember(&pending, SIGCHLD) ? "pending" : "missing");
    if (waitpid(child, &status, WUNTRACED | WNOHANG) == 0)
        printf("parent: the stop is reported once\n");
    write(go[1], "g", 1);
    sleep(1);
    if (waitpid(child, &status, WNOHANG) == 0)
        printf("parent: a stopped child does not run\n");
    kill(child, SIGCONT);
    if (waitpid(child, &status, 0) == child && WIFEXITED(status))
        printf("parent: child continued and exited with %d\n", WEXITSTATUS(status));

    child = fork();
    if (child == 0) {
        write(ready[1], "r", 1);
        for (;;)
            pause();
    }
    read(ready[0], &byte, 1);
    kill(child, SIGTSTP);
    if (waitpid(child, &status, WUNTRACED) == child && WIFSTOPPED(status))
        printf("parent: second child stopped by signal %d\n", WSTOPSIG(status));
    kill(child, SIGKILL);
    if (waitpid(child, &status, 0) == child && WIFSIGNALED(status))
        printf("parent: stopped child killed by signal %d\n", WTERMSIG(status));
    return 0;
}
