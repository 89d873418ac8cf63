/* signals: a SIGALRM handler with alarm() and pause(), sleep() cut short by it, a blocked signal left pending
   and delivered when unblocked, and (with the argument "die") the default action of
   SIGUSR2, which ends the program: exit status 128+12 under ntsim. */
#include "psx.h"

static volatile int alarms, usr1s;

static void on_alarm(int sig) { alarms++; }
static void on_usr1(int sig) { usr1s++; }

int main(int argc, char **argv, char **envp)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_alarm;
    sigemptyset(&action.sa_mask);
    sigaction(SIGALRM, &action, NULL);
    alarm(1);
    int r = pause();
    printf("pause returned %d (%s) after %d SIGALRM\n", r, strerror(errno), alarms);
    alarm(1);
    unsigned left = sleep(5);
    printf("sleep(5) interrupted by SIGALRM with %u seconds left, %d SIGALRM\n", left, alarms);

    action.sa_handler = on_usr1;
    sigaction(SIGUSR1, &action, NULL);
    sigset_t block, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    kill(getpid(), SIGUSR1);
    sigpending(&pending);
    printf("blocked SIGUSR1: pending %d, handled %d times\n", sigismember(&pending, SIGUSR1), usr1s);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    printf("unblocked SIGUSR1: handled %d times\n", usr1s);

    action.sa_handler = SIG_IGN;
    sigaction(SIGTERM, &action, NULL);
    kill(getpid(), SIGTERM);
    printf("ignored SIGTERM: still here\n");
    if (argc > 1 && strcmp(argv[1], "die") == 0) {
        printf("now SIGUSR2, whose default action ends the process\n");
        kill(getpid(), SIGUSR2);
        printf("not reached\n");
    }
    return 0;
}
