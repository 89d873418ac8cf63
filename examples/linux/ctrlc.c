/* ctrlc: Ctrl+C from the terminal, caught while waiting and fatal while computing.
 *   ctrlc      installs a SIGINT handler, prints "ready" and waits in pause(); the
 *              first Ctrl+C runs the handler and pause() returns EINTR. Then it
 *              restores the default action, says so, and computes without a single
 *              system call: the second Ctrl+C ends it (status 128+2).
 * Under ntsim the host's Ctrl+C (SIGINT to ntsim) becomes the console's CTRL_C_EVENT;
 * CSRSS hands it to LXSS, which sends SIGINT to the terminal's foreground group. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupts;
static volatile int code_seen;

static void on_interrupt(int signal, siginfo_t *info, void *context)
{
    (void)signal;
    (void)context;
    code_seen = info->si_code;
    interrupts++;
}

int main(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_interrupt;
    action.sa_flags = SA_SIGINFO;
    sigaction(SIGINT, &action, NULL);

    printf("ready\n");
    fflush(stdout);
    int result = pause();
    printf("pause() = %d (%s), handler ran %d time(s), si_code %s\n", result, strerror(errno),
           (int)interrupts, code_seen == SI_KERNEL ? "SI_KERNEL" : code_seen == SI_USER ? "SI_USER" : "other");

    signal(SIGINT, SIG_DFL);
    printf("default action restored\n");
    fflush(stdout);
    volatile unsigned long turns = 0;
    for (;;)
        turns++;                               /* no system call: only Ctrl+C ends this */
}
