/* family: a process family on one page — fork, execve, wait, vfork, and threads.
 * Exercises: fork/clone, execve (of itself), wait4 status encoding, vfork
 * (CLONE_VM|CLONE_VFORK), pthreads (clone with CLONE_THREAD, futex join),
 * getppid before and after the parent is gone. Output is deterministic. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int counter;

static void *worker(void *arg) {
    for (int i = 0; i < 1000; i++)
        __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
    return arg;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "exec") == 0) {
        printf("execve'd copy says %s\n", argv[2]);
        return 7;
    }
    pid_t parent = getpid();
    int status;

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        printf("child: getppid() is my parent: %s\n", getppid() == parent ? "yes" : "no");
        fflush(stdout);
        _exit(3);
    }
    pid_t reaped = waitpid(pid, &status, 0);
    printf("parent: reaped %s, exited %d with %d\n", reaped == pid ? "the child" : "something else",
           WIFEXITED(status), WEXITSTATUS(status));

    pid = fork();
    if (pid == 0) {
        char *args[] = {argv[0], "exec", "hello", NULL};
        execv(argv[0], args);
        perror("execv");
        _exit(127);
    }
    waitpid(pid, &status, 0);
    printf("parent: the execve'd child exited with %d\n", WEXITSTATUS(status));

    pid = fork();
    if (pid == 0)
        abort();
    waitpid(pid, &status, 0);
    printf("parent: abort() child signalled %d, signal %d\n", WIFSIGNALED(status), WTERMSIG(status));

    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    printf("threads: 4 x 1000 increments = %d\n", counter);

    pid = vfork();
    if (pid == 0)
        _exit(5);
    waitpid(pid, &status, 0);
    printf("vfork: child exited with %d\n", WEXITSTATUS(status));
    printf("no children left: %s\n", wait(NULL) == -1 ? "yes" : "no");
    return 0;
}
