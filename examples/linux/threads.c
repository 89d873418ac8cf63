/* threads: the acceptance criteria of "LXSS runs real Linux software", one per section.
 * Exercises: four pthreads (clone with CLONE_THREAD) incrementing a counter under a
 * pthread_mutex (futex wait/wake when they contend), a condition variable waking a
 * thread that is really asleep in pthread_cond_wait, a signal handler that runs and
 * returns to the interrupted code, and a child killed by SIGSEGV as its parent's
 * waitpid sees it (WIFSIGNALED, WTERMSIG == 11). Output is deterministic, exit 0. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define INCREMENTS 10000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static long counter;
static int waiting, ready, woken;
static volatile sig_atomic_t handled;
static volatile int *volatile nowhere;          /* NULL, but the compiler may not assume it */

static void *increment(void *arg) {
    for (int i = 0; i < INCREMENTS; i++) {
        pthread_mutex_lock(&lock);
        long seen = counter;
        if (i % 100 == 0)
            sched_yield();      /* let the others run now and find the lock taken */
        counter = seen + 1;     /* without the lock, their increments would be lost here */
        pthread_mutex_unlock(&lock);
    }
    return arg;
}

static void mutex_counter(void) {
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, increment, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    printf("mutex: %d threads x %d increments = %ld\n", THREADS, INCREMENTS, counter);
}

static void *wait_for_ready(void *arg) {
    pthread_mutex_lock(&lock);
    waiting = 1;
    while (!ready) {
        pthread_cond_wait(&changed, &lock);     /* releases the lock while asleep */
        woken++;
    }
    pthread_mutex_unlock(&lock);
    return arg;
}

static void condition_variable(void) {
    pthread_t waiter;
    pthread_create(&waiter, NULL, wait_for_ready, NULL);
    /* Once the lock is ours with waiting set, the waiter has released it inside
     * pthread_cond_wait: it is asleep on the condition variable, not about to check. */
    for (;;) {
        pthread_mutex_lock(&lock);
        if (waiting)
            break;
        pthread_mutex_unlock(&lock);
        usleep(1000);
    }
    ready = 1;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
    pthread_join(waiter, NULL);
    printf("condvar: the waiter slept in pthread_cond_wait, was woken and saw ready: %s\n",
           woken >= 1 && ready ? "yes" : "no");
}

static void on_usr1(int signal) {
    handled = signal;
}

static void signal_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_usr1;
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, NULL);
    volatile long before = 12345;                 /* must survive the handler's frame */
    int result = raise(SIGUSR1);
    printf("signal: raise returned %d, the handler saw signal %d\n", result, (int)handled);
    printf("signal: the interrupted code went on with its locals intact: %s\n",
           before == 12345 ? "yes" : "no");
}

static void child_killed_by_sigsegv(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);        /* natively, leave no core file behind */
        *nowhere = 1;                             /* the first page is never mapped */
        _exit(0);
    }
    int status;
    pid_t reaped = waitpid(pid, &status, 0);
    printf("segv: waitpid returned the child: %s\n", reaped == pid ? "yes" : "no");
    printf("segv: WIFSIGNALED %d, WTERMSIG %d (SIGSEGV is %d)\n",
           WIFSIGNALED(status), WIFSIGNALED(status) ? WTERMSIG(status) : 0, SIGSEGV);
}

int main(void) {
    mutex_counter();
    condition_variable();
    signal_handler();
    child_killed_by_sigsegv();
    return 0;
}
