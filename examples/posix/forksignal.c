/* forksignal: a forked child's signal handler writes a global (a copy-on-write page the
   child has not written yet) after the signal interrupted pause(); the parent reaps it. */
#include "psx.h"

static volatile int flag;

static void on_usr1(int sig) { flag = sig; }

int main(int argc, char **argv, char **envp)
{
    pid_t child = fork();
    if (child == 0) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = on_usr1;
        sigemptyset(&action.sa_mask);
        sigaction(SIGUSR1, &action, NULL);
        pause();
        printf("child: the handler set flag to %d\n", flag);
        _exit(7);
    }
    sleep(1);
    kill(child, SIGUSR1);
    int status;
    waitpid(child, &status, 0);
    printf("parent: child exited %d, flag still %d here\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1, flag);
    return 0;
}
