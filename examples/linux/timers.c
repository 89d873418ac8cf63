/* timers: POSIX per-process timers (timer_create and friends), checked step by step.
 * Prints one line per check and "timers: all steps ok"; exits 1 at the first failure.
 * Every line is the same natively and under ntsim: no timing is printed, only facts. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void check(const char *step, int ok)
{
    printf("%-56s %s\n", step, ok ? "ok" : "FAIL");
    if (!ok) {
        fflush(stdout);
        exit(1);
    }
}

static volatile sig_atomic_t caught_code, caught_value, caught_timerid, caught_count;

static void on_alarm(int signal, siginfo_t *info, void *context)
{
    (void)signal;
    (void)context;
    caught_code = info->si_code;
    caught_value = info->si_value.sival_int;
    caught_timerid = info->si_timerid;
    caught_count++;
}

static long long ns_of(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static void arm(timer_t timer, long long value_ns, long long interval_ns, int flags)
{
    struct itimerspec spec = {{interval_ns / 1000000000, interval_ns % 1000000000},
                              {value_ns / 1000000000, value_ns % 1000000000}};
    if (timer_settime(timer, flags, &spec, NULL) != 0) {
        perror("timer_settime");
        exit(1);
    }
}

int main(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_alarm;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGALRM, &action, NULL);

    /* NULL sigevent: SIGALRM, with the timer's id as the value */
    timer_t plain;
    check("timer_create(CLOCK_REALTIME, NULL)", timer_create(CLOCK_REALTIME, NULL, &plain) == 0);
    struct itimerspec now;
    timer_gettime(plain, &now);
    check("  a new timer is disarmed", ns_of(now.it_value) == 0 && ns_of(now.it_interval) == 0);
    arm(plain, 200000000, 0, 0);
    timer_gettime(plain, &now);
    check("  armed for 200 ms: between 0 and 200 ms remain",
          ns_of(now.it_value) > 0 && ns_of(now.it_value) <= 200000000);
    while (!caught_count)
        pause();
    check("  SIGALRM came with si_code SI_TIMER", caught_code == SI_TIMER);
    check("  si_value is the timer's id", caught_value == (int)(long)plain);
    check("  si_timerid is the timer's id too", caught_timerid == (int)(long)plain);
    timer_gettime(plain, &now);
    check("  a one-shot timer is disarmed once it fired", ns_of(now.it_value) == 0);

    /* a chosen signal and value, an interval, and overruns while the signal is blocked */
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    struct sigevent event;
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_SIGNAL;
    event.sigev_signo = SIGUSR1;
    event.sigev_value.sival_int = 42;
    timer_t periodic;
    check("timer_create(CLOCK_MONOTONIC, SIGUSR1, value 42)",
          timer_create(CLOCK_MONOTONIC, &event, &periodic) == 0);
    check("  another id than the first", periodic != plain);
    arm(periodic, 10000000, 10000000, 0);
    struct timespec nap = {0, 120000000};
    nanosleep(&nap, NULL);                         /* about 12 expiries, one signal */
    siginfo_t info;
    check("  sigwaitinfo takes one SIGUSR1", sigwaitinfo(&usr1, &info) == SIGUSR1);
    check("  with si_code SI_TIMER and value 42", info.si_code == SI_TIMER && info.si_value.sival_int == 42);
    check("  the expiries while it waited are overruns", info.si_overrun > 0);
    check("  timer_getoverrun says so too", timer_getoverrun(periodic) > 0);
    timer_gettime(periodic, &now);
    check("  the interval is still 10 ms", ns_of(now.it_interval) == 10000000);
    check("timer_delete", timer_delete(periodic) == 0);
    check("  a deleted timer is gone (EINVAL)", timer_gettime(periodic, &now) == -1 && errno == EINVAL);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&usr1, &info, &zero) == SIGUSR1)
        ;                                          /* one may have been queued meanwhile */

    /* an absolute time on the monotonic clock */
    timer_t absolute;
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_SIGNAL;
    event.sigev_signo = SIGUSR1;
    event.sigev_value.sival_int = 7;
    timer_create(CLOCK_MONOTONIC, &event, &absolute);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    arm(absolute, ns_of(start) + 30000000, 0, TIMER_ABSTIME);
    check("TIMER_ABSTIME 30 ms from now fires", sigwaitinfo(&usr1, &info) == SIGUSR1 && info.si_value.sival_int == 7);
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    check("  not before its time", ns_of(end) >= ns_of(start) + 30000000);
    timer_delete(absolute);

    /* SIGEV_NONE: it runs, and says how long is left, but sends nothing */
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_NONE;
    timer_t silent;
    check("timer_create(SIGEV_NONE)", timer_create(CLOCK_MONOTONIC, &event, &silent) == 0);
    arm(silent, 20000000, 0, 0);
    nap.tv_nsec = 40000000;
    nanosleep(&nap, NULL);
    timer_gettime(silent, &now);
    check("  it expired without a signal", ns_of(now.it_value) == 0 && caught_count == 1);
    timer_delete(silent);

    /* SIGEV_THREAD_ID: the signal goes to the thread named */
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = SIGUSR1;
    event.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
    timer_t directed;
    check("timer_create(SIGEV_THREAD_ID, this thread)", timer_create(CLOCK_MONOTONIC, &event, &directed) == 0);
    arm(directed, 10000000, 0, 0);
    check("  the signal reaches this thread", sigwaitinfo(&usr1, &info) == SIGUSR1 && info.si_code == SI_TIMER);
    event.sigev_notify_thread_id = 999999;
    timer_t nowhere;
    check("  a thread not in this process: EINVAL",
          timer_create(CLOCK_MONOTONIC, &event, &nowhere) == -1 && errno == EINVAL);

    /* errors, and what fork and a child see */
    check("timer_settime on a bad id: EINVAL", timer_settime((timer_t)12345, 0, &now, NULL) == -1 && errno == EINVAL);
    struct itimerspec bad = {{0, 0}, {0, 1000000000}};
    check("a timespec with 10^9 ns: EINVAL", timer_settime(directed, 0, &bad, NULL) == -1 && errno == EINVAL);
    pid_t child = fork();
    if (child == 0)
        _exit(timer_gettime(plain, &now) == -1 && errno == EINVAL ? 0 : 1);
    int status;
    waitpid(child, &status, 0);
    check("a fork's child has no timers", WIFEXITED(status) && WEXITSTATUS(status) == 0);

    printf("timers: all steps ok\n");
    return 0;
}
