/* spinwake: a child writes to a pipe, then computes without any system call; the parent,
   woken by that write, must get the processor (preemption) to read, kill and reap it. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int flag;

int main(void)
{
    int ends[2];
    if (pipe(ends) < 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        write(ends[1], "x", 1);
        while (!flag)
            ;
        return 0;
    }
    char byte;
    read(ends[0], &byte, 1);
    printf("parent read %c while the child computes\n", byte);
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    printf("child killed by signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 0;
}
