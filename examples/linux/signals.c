/* signals: Linux signal semantics, one scenario per argument.
 *
 *   signals [SCENARIO...]      with no argument, the scenarios marked for the default run
 *
 * Each scenario prints what it observed; the output is the same on every run,
 * so a native run is the oracle for an ntsim run. The scenarios "abort",
 * "sigpipe", "segv-default", "kill-default", "no-restorer" and "altstack-overflow"
 * end the process on purpose.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t hits, depth, max_depth;
static int *volatile unmapped = (int *)0x10;     /* nothing is mapped at 0x10 */
static volatile int last_signal;

static void set_handler(int sig, void (*fn)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void set_info_handler(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = flags | SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void count(int sig) { hits++; last_signal = sig; }

static void start_timer(long usec, long interval_usec)
{
    struct itimerval it = {{0, interval_usec}, {0, usec}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void stop_timer(void)
{
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
}

/* --- a handler runs and returns ---------------------------------------------------- */

static void handler(void)
{
    hits = 0;
    set_handler(SIGUSR1, count, 0);
    raise(SIGUSR1);
    printf("handler: raise(SIGUSR1) ran the handler %d time(s), signal %d\n", hits, last_signal);
    kill(getpid(), SIGUSR1);
    printf("handler: kill(getpid(), SIGUSR1) -> %d hit(s)\n", hits);
    set_handler(SIGUSR1, SIG_DFL, 0);
}

/* --- SA_SIGINFO: what the handler is told ------------------------------------------ */

static siginfo_t seen_info;
static int seen_mask_has_usr2, seen_uc_minus_info, seen_stack_flags;
uintptr_t entry_rsp;            /* written by probe_entry */
void probe_entry(int, siginfo_t *, void *);
/* The first instructions of the handler: keep the stack pointer the kernel gave it. */
__asm__(".text\n.globl probe_entry\nprobe_entry:\n"
        "  mov %rsp, entry_rsp(%rip)\n"
        "  jmp probe_body\n");

void probe_body(int sig, siginfo_t *si, void *context)
{
    ucontext_t *uc = context;
    (void)sig;
    seen_info = *si;
    seen_uc_minus_info = (int)((char *)uc - (char *)si);
    seen_mask_has_usr2 = sigismember(&uc->uc_sigmask, SIGUSR2);
    seen_stack_flags = uc->uc_stack.ss_flags;
    hits++;
}

static void siginfo(void)
{
    hits = 0;
    set_info_handler(SIGUSR2, probe_entry, 0);
    kill(getpid(), SIGUSR2);
    printf("siginfo: kill: signo=%d code=%d (SI_USER=%d) pid is mine: %s, uid is mine: %s\n",
           seen_info.si_signo, seen_info.si_code, SI_USER,
           seen_info.si_pid == getpid() ? "yes" : "no", seen_info.si_uid == getuid() ? "yes" : "no");
    printf("siginfo: entry rsp %% 16 = %d, ucontext - siginfo = %d bytes, saved mask has SIGUSR2: %d, "
           "uc_stack.ss_flags = %d\n", (int)(entry_rsp % 16), seen_uc_minus_info, seen_mask_has_usr2,
           seen_stack_flags);
    syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR2);
    printf("siginfo: tgkill: code=%d (SI_TKILL=%d) pid is mine: %s\n", seen_info.si_code, SI_TKILL,
           seen_info.si_pid == getpid() ? "yes" : "no");
    union sigval value = {.sival_int = 1234};
    sigqueue(getpid(), SIGUSR2, value);
    printf("siginfo: sigqueue: code=%d (SI_QUEUE=%d) value=%d, %d hits\n", seen_info.si_code, SI_QUEUE,
           seen_info.si_value.sival_int, hits);
    set_handler(SIGUSR2, SIG_DFL, 0);
}

/* --- masks: blocked signals wait, unblocking delivers ------------------------------- */

static void mask(void)
{
    sigset_t block, old, pending;
    hits = 0;
    set_handler(SIGUSR1, count, 0);
    set_handler(SIGUSR2, count, 0);
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, &old);
    raise(SIGUSR1);
    raise(SIGUSR1);          /* ordinary signals do not queue: still one pending */
    kill(getpid(), SIGUSR2);
    sigpending(&pending);
    printf("mask: blocked: %d hits, pending USR1=%d USR2=%d TERM=%d\n", hits,
           sigismember(&pending, SIGUSR1), sigismember(&pending, SIGUSR2),
           sigismember(&pending, SIGTERM));
    sigprocmask(SIG_SETMASK, &old, NULL);
    sigpending(&pending);
    printf("mask: unblocked: %d hits, pending USR1=%d\n", hits, sigismember(&pending, SIGUSR1));
    /* SIGKILL and SIGSTOP cannot be blocked */
    sigfillset(&block);
    sigprocmask(SIG_SETMASK, &block, NULL);
    sigprocmask(SIG_SETMASK, &old, &block);
    printf("mask: fillset blocks KILL=%d STOP=%d USR1=%d\n", sigismember(&block, SIGKILL),
           sigismember(&block, SIGSTOP), sigismember(&block, SIGUSR1));
    set_handler(SIGUSR1, SIG_DFL, 0);
    set_handler(SIGUSR2, SIG_DFL, 0);
}

/* --- ignoring: SIG_IGN drops a signal, and discards one already pending ------------- */

static void ignore(void)
{
    sigset_t block, old, pending;
    set_handler(SIGUSR1, SIG_IGN, 0);
    raise(SIGUSR1);
    printf("ignore: SIG_IGN: still alive\n");
    set_handler(SIGUSR1, count, 0);
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, &old);
    raise(SIGUSR1);
    sigpending(&pending);
    printf("ignore: pending before SIG_IGN: %d\n", sigismember(&pending, SIGUSR1));
    set_handler(SIGUSR1, SIG_IGN, 0);
    sigpending(&pending);
    printf("ignore: pending after SIG_IGN: %d\n", sigismember(&pending, SIGUSR1));
    sigprocmask(SIG_SETMASK, &old, NULL);
    raise(SIGCHLD);          /* default action: ignore */
    raise(SIGWINCH);
    printf("ignore: SIGCHLD and SIGWINCH by default: still alive\n");
    set_handler(SIGUSR1, SIG_DFL, 0);
}

/* --- SA_RESETHAND and SA_NODEFER ---------------------------------------------------- */

static void nested(int sig)
{
    depth++;
    if (depth > max_depth)
        max_depth = depth;
    hits++;
    if (hits < 3)
        raise(sig);
    depth--;
}

static void flags(void)
{
    struct sigaction now;
    hits = 0;
    set_handler(SIGUSR1, count, SA_RESETHAND);
    raise(SIGUSR1);
    sigaction(SIGUSR1, NULL, &now);
    printf("flags: SA_RESETHAND: %d hit, handler is now SIG_DFL: %s\n", hits,
           now.sa_handler == SIG_DFL ? "yes" : "no");
    hits = depth = max_depth = 0;
    set_handler(SIGUSR2, nested, 0);
    raise(SIGUSR2);
    printf("flags: without SA_NODEFER: %d hits, deepest nesting %d\n", hits, max_depth);
    hits = depth = max_depth = 0;
    set_handler(SIGUSR2, nested, SA_NODEFER);
    raise(SIGUSR2);
    printf("flags: with SA_NODEFER: %d hits, deepest nesting %d\n", hits, max_depth);
    set_handler(SIGUSR2, SIG_DFL, 0);
    /* sa_mask: SIGUSR1 is blocked while the SIGUSR2 handler runs */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR1);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGUSR2, NULL, &now);
    printf("flags: sa_mask kept: USR1=%d USR2=%d\n", sigismember(&now.sa_mask, SIGUSR1),
           sigismember(&now.sa_mask, SIGUSR2));
    set_handler(SIGUSR2, SIG_DFL, 0);
}

/* --- timers: alarm, setitimer, pause, sigsuspend ------------------------------------ */

static void timers(void)
{
    struct itimerval left;
    hits = 0;
    set_handler(SIGALRM, count, 0);
    printf("timers: alarm(5) -> %u, alarm(0) -> %u\n", alarm(5), alarm(0));
    start_timer(20000, 0);
    int r = pause();
    printf("timers: pause -> %d (%s), %d hit\n", r, strerror(errno), hits);
    start_timer(5000, 5000);
    while (hits < 4)
        pause();
    stop_timer();
    getitimer(ITIMER_REAL, &left);
    printf("timers: interval timer: %d hits, then disarmed: %ld.%06ld\n", hits,
           (long)left.it_value.tv_sec, (long)left.it_value.tv_usec);
    /* sigsuspend: SIGALRM blocked outside, let through only while suspended */
    sigset_t block, old, during, after;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, &old);
    hits = 0;
    start_timer(10000, 0);
    sigemptyset(&during);
    r = sigsuspend(&during);
    sigprocmask(SIG_SETMASK, NULL, &after);
    printf("timers: sigsuspend -> %d (%s), %d hit, SIGALRM blocked again: %d\n", r, strerror(errno),
           hits, sigismember(&after, SIGALRM));
    sigprocmask(SIG_SETMASK, &old, NULL);
    struct itimerval bad = {{0, 0}, {0, 1000000}};
    r = setitimer(ITIMER_REAL, &bad, NULL);
    printf("timers: setitimer with tv_usec 1000000 -> %d (%s)\n", r, strerror(errno));
    set_handler(SIGALRM, SIG_DFL, 0);
}

/* --- sigwaitinfo and sigtimedwait: taking a signal instead of having it delivered --- */

static void sigwait_scenario(void)
{
    sigset_t set, old;
    siginfo_t si;
    struct timespec short_wait = {0, 10000000}, tenth = {0, 100000000}, long_wait = {5, 0};
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGALRM);
    sigprocmask(SIG_BLOCK, &set, &old);
    raise(SIGUSR1);
    int r = sigwaitinfo(&set, &si);
    printf("sigwait: pending already: %d, code %d (SI_TKILL=%d)\n", r, si.si_code, SI_TKILL);
    errno = 0;
    r = sigtimedwait(&set, &si, &short_wait);
    printf("sigwait: nothing comes -> %d (%s)\n", r, strerror(errno));
    start_timer(10000, 0);
    r = sigtimedwait(&set, &si, &long_wait);
    printf("sigwait: the timer's SIGALRM taken while waiting: %d, code %d (SI_KERNEL=%d)\n", r,
           si.si_code, SI_KERNEL);
    hits = 0;
    set_handler(SIGUSR2, count, 0);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec moment = {0, 10000000};
        nanosleep(&moment, NULL);
        kill(getppid(), SIGUSR2);
        _exit(0);
    }
    errno = 0;
    r = sigtimedwait(&set, &si, &tenth);   /* musl retries after EINTR, glibc does not */
    printf("sigwait: another signal is delivered first -> %d (%s), %d hit\n", r, strerror(errno), hits);
    waitpid(pid, NULL, 0);
    sigprocmask(SIG_SETMASK, &old, NULL);
    set_handler(SIGUSR2, SIG_DFL, 0);
}

/* --- EINTR and SA_RESTART ----------------------------------------------------------- */

static int pipe_fds[2];
static void feed_pipe(int sig) { (void)sig; hits++; write(pipe_fds[1], "x", 1); }

static void eintr(void)
{
    char c;
    struct timespec req = {5, 0}, rem = {0, 0};
    pipe(pipe_fds);
    hits = 0;
    set_handler(SIGALRM, feed_pipe, 0);
    start_timer(20000, 0);
    ssize_t n = read(pipe_fds[0], &c, 1);
    printf("eintr: read without SA_RESTART -> %zd (%s), %d hit\n", n, strerror(errno), hits);
    read(pipe_fds[0], &c, 1);           /* the byte the handler wrote */
    set_handler(SIGALRM, feed_pipe, SA_RESTART);
    start_timer(20000, 0);
    n = read(pipe_fds[0], &c, 1);
    printf("eintr: read with SA_RESTART -> %zd '%c', %d hits\n", n, c, hits);
    set_handler(SIGALRM, count, SA_RESTART);
    start_timer(20000, 0);
    int r = nanosleep(&req, &rem);
    printf("eintr: nanosleep(5 s) with SA_RESTART -> %d (%s), time left between 4 and 5 s: %s\n", r,
           strerror(errno), rem.tv_sec == 4 && rem.tv_nsec > 0 ? "yes" : "no");
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    set_handler(SIGALRM, SIG_DFL, 0);
}

/* A read from standard input that nothing answers yet: the timer interrupts it, and the
   input that comes later goes to the next read (run with input that arrives late). */
static void stdin_eintr(void)
{
    char buf[64];
    set_handler(SIGALRM, count, 0);
    start_timer(100000, 0);
    ssize_t n = read(0, buf, sizeof buf);
    printf("stdin-eintr: first read -> %zd (%s)\n", n, n < 0 ? strerror(errno) : "data");
    n = read(0, buf, sizeof buf);
    printf("stdin-eintr: second read -> %zd: %.*s\n", n, (int)(n > 0 ? n : 0), buf);
    set_handler(SIGALRM, SIG_DFL, 0);
}

/* --- faults: SIGSEGV caught, and left with siglongjmp ------------------------------- */

static sigjmp_buf recover;
static void *fault_address;
static int fault_code;
static long fault_trapno, fault_cr2_matches, fault_write;

static void on_segv(int sig, siginfo_t *si, void *context)
{
    ucontext_t *uc = context;
    (void)sig;
    fault_address = si->si_addr;
    fault_code = si->si_code;
    fault_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
    fault_cr2_matches = (void *)uc->uc_mcontext.gregs[REG_CR2] == si->si_addr;
    fault_write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
    siglongjmp(recover, 1);
}

static void segv(void)
{
    set_info_handler(SIGSEGV, on_segv, 0);
    if (sigsetjmp(recover, 1) == 0) {
        *unmapped = 1;
        printf("segv: no fault?\n");
    } else {
        printf("segv: caught write at %p, code %d (SEGV_MAPERR=%d), trapno %ld, cr2 = si_addr: %ld, "
               "write: %ld\n", fault_address, fault_code, SEGV_MAPERR, fault_trapno,
               fault_cr2_matches, fault_write);
    }
    char *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sigsetjmp(recover, 1) == 0) {
        page[5] = 1;
        printf("segv: no fault?\n");
    } else {
        printf("segv: caught write to a read-only page at +%ld, code %d (SEGV_ACCERR=%d)\n",
               (long)((char *)fault_address - page), fault_code, SEGV_ACCERR);
    }
    /* siglongjmp restored the mask: SIGSEGV is not blocked any more */
    sigset_t now;
    sigprocmask(SIG_SETMASK, NULL, &now);
    printf("segv: SIGSEGV blocked after siglongjmp: %d\n", sigismember(&now, SIGSEGV));
    munmap(page, 4096);
    set_handler(SIGSEGV, SIG_DFL, 0);
}

/* --- other processor exceptions: divide error, breakpoint, invalid opcode ---------- */

static volatile int zero;
static int trap_code;
static void *trap_addr;
static long trap_trapno;

static void on_trap(int sig, siginfo_t *si, void *context)
{
    ucontext_t *uc = context;
    trap_code = si->si_code;
    trap_addr = si->si_addr;
    trap_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
    last_signal = sig;
    if (sig != SIGTRAP)
        siglongjmp(recover, 1);          /* returning would run the instruction again */
}

extern char divide_here[], breakpoint_after[], invalid_here[];

static void traps(void)
{
    set_info_handler(SIGFPE, on_trap, 0);
    set_info_handler(SIGTRAP, on_trap, 0);
    set_info_handler(SIGILL, on_trap, 0);
    if (sigsetjmp(recover, 1) == 0) {
        __asm__ volatile("mov $7, %%eax\n cltd\n divide_here: idivl %0" : : "m"(zero) : "eax", "edx");
        printf("traps: no divide error?\n");
    } else {
        printf("traps: SIGFPE %d, code %d (FPE_INTDIV=%d), at the idiv: %d, trapno %ld\n",
               last_signal, trap_code, FPE_INTDIV, trap_addr == (void *)divide_here, trap_trapno);
    }
    __asm__ volatile("int3\n breakpoint_after:");
    printf("traps: SIGTRAP %d from int3, the handler returned after it, trapno %ld\n", last_signal,
           trap_trapno);
    if (sigsetjmp(recover, 1) == 0) {
        __asm__ volatile("invalid_here: ud2");
        printf("traps: no SIGILL?\n");
    } else {
        printf("traps: SIGILL %d, code %d (ILL_ILLOPN=%d), at the ud2: %d, trapno %ld\n", last_signal,
               trap_code, ILL_ILLOPN, trap_addr == (void *)invalid_here, trap_trapno);
    }
    set_handler(SIGFPE, SIG_DFL, 0);
    set_handler(SIGTRAP, SIG_DFL, 0);
    set_handler(SIGILL, SIG_DFL, 0);
}

/* --- the alternate signal stack ----------------------------------------------------- */

static char *alt_base;
static int on_alt, alt_flags_inside;
static void on_altstack(int sig)
{
    char here;
    stack_t now;
    (void)sig;
    on_alt = &here > alt_base && &here < alt_base + SIGSTKSZ;
    sigaltstack(NULL, &now);
    alt_flags_inside = now.ss_flags;
}

static void altstack(void)
{
    stack_t ss, old;
    alt_base = malloc(SIGSTKSZ);
    ss.ss_sp = alt_base;
    ss.ss_size = SIGSTKSZ;
    ss.ss_flags = 0;
    printf("altstack: sigaltstack -> %d\n", sigaltstack(&ss, &old));
    printf("altstack: the old one was disabled: %d\n", old.ss_flags == SS_DISABLE);
    set_handler(SIGUSR1, on_altstack, SA_ONSTACK);
    raise(SIGUSR1);
    printf("altstack: handler ran on it: %d, ss_flags inside = %d (SS_ONSTACK=%d)\n", on_alt,
           alt_flags_inside, SS_ONSTACK);
    set_handler(SIGUSR1, on_altstack, 0);
    raise(SIGUSR1);
    printf("altstack: without SA_ONSTACK: %d\n", on_alt);
    ss.ss_size = 100;
    int r = sigaltstack(&ss, NULL);
    printf("altstack: a 100-byte stack -> %d (%s)\n", r, strerror(errno));
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    sigaltstack(NULL, &old);
    printf("altstack: disabled again: %d\n", old.ss_flags == SS_DISABLE);
    set_handler(SIGUSR1, SIG_DFL, 0);
    free(alt_base);
}

/* --- floating point survives a handler ---------------------------------------------- */

static volatile double handler_sum;
static void clobber_fp(int sig)
{
    (void)sig;
    double x = 1.0;
    for (int i = 0; i < 50; i++)
        x = x * 1.5 + 0.25;
    handler_sum += x;
    hits++;
}

static volatile double seed = 1.0;
static double __attribute__((noinline)) work(void)
{
    double a = 0.0, b = seed;
    for (int i = 0; i < 3000000; i++) {
        a += b * 0.5;
        b = b * 1.0000001;
    }
    return a + b;
}

static void fpu(void)
{
    double quiet = work();
    hits = 0;
    set_handler(SIGALRM, clobber_fp, SA_RESTART);
    start_timer(1000, 1000);
    double noisy = work();
    stop_timer();
    /* the loop keeps a and b in XMM registers; each handler runs with a fresh FPU state
       and does its own floating-point work: the result is the same only if every
       interrupted register came back from the signal frame */
    printf("fpu: handlers ran during the loop: %s; result %s\n", hits > 0 ? "yes" : "no",
           noisy == quiet ? "identical to a run without signals" : "DIFFERENT");
    set_handler(SIGALRM, SIG_DFL, 0);
}

/* --- errors ------------------------------------------------------------------------- */

static void errors(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count;
#define SHOW(what, call) do { errno = 0; int r_ = (call); \
        printf("errors: %s -> %d (%s)\n", what, r_, r_ ? strerror(errno) : "ok"); } while (0)
    SHOW("kill(getpid(), 0)", kill(getpid(), 0));
    SHOW("kill(getpid(), 65)", kill(getpid(), 65));
    SHOW("kill(99999999, SIGUSR1)", kill(99999999, SIGUSR1));
    SHOW("tgkill(getpid(), 99999999, SIGUSR1)", (int)syscall(SYS_tgkill, getpid(), 99999999, SIGUSR1));
    SHOW("tgkill(0, 1, SIGUSR1)", (int)syscall(SYS_tgkill, 0, 1, SIGUSR1));
    SHOW("sigaction(SIGKILL)", sigaction(SIGKILL, &sa, NULL));
    SHOW("sigaction(SIGSTOP)", sigaction(SIGSTOP, &sa, NULL));
    SHOW("rt_sigaction(65)", (int)syscall(SYS_rt_sigaction, 65, NULL, NULL, 8));
    SHOW("rt_sigprocmask(how 7)", (int)syscall(SYS_rt_sigprocmask, 7, &sa.sa_mask, NULL, 8));
    SHOW("rt_sigprocmask(size 4)", (int)syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, NULL, 4));
}

/* --- threads: a signal for one thread, asleep in pthread_cond_wait ---------------- */

static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int cond_ready;
static volatile pid_t handler_tid;

static void count_in_thread(int sig) { (void)sig; handler_tid = (pid_t)syscall(SYS_gettid); hits++; }

static void *cond_waiter(void *arg)
{
    *(volatile pid_t *)arg = (pid_t)syscall(SYS_gettid);
    pthread_mutex_lock(&cond_lock);
    while (!cond_ready)
        pthread_cond_wait(&cond, &cond_lock);    /* a futex wait, restarted after each handler */
    pthread_mutex_unlock(&cond_lock);
    return NULL;
}

static void thread_signals(void)
{
    pthread_t thread;
    volatile pid_t waiter_tid = 0;
    struct timespec moment = {0, 1000000};
    hits = 0;
    set_handler(SIGUSR1, count_in_thread, SA_RESTART);
    pthread_create(&thread, NULL, cond_waiter, (void *)&waiter_tid);
    while (!waiter_tid)
        nanosleep(&moment, NULL);
    for (int i = 1; i <= 3; i++) {
        pthread_kill(thread, SIGUSR1);
        while (hits < i)
            nanosleep(&moment, NULL);
    }
    pthread_mutex_lock(&cond_lock);
    cond_ready = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&cond_lock);
    pthread_join(thread, NULL);
    printf("threads: pthread_kill x3: the handler ran %d times, in the waiting thread: %s; "
           "the wait went on and ended normally\n", hits, handler_tid == waiter_tid ? "yes" : "no");
    set_handler(SIGUSR1, SIG_DFL, 0);
}

/* --- other processes: kill() across processes, stop and continue ------------------- */

static void on_usr1_exit(int sig) { (void)sig; printf("children: child: SIGUSR1 arrived\n"); _exit(4); }

static pid_t ready_child(void (*child_body)(int ready_fd))
{
    int ready[2];
    char c;
    pipe(ready);
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        child_body(ready[1]);
        _exit(0);
    }
    close(ready[1]);
    read(ready[0], &c, 1);              /* the child is ready: its handlers are set */
    close(ready[0]);
    return pid;
}

static void waits_for_usr1(int ready_fd)
{
    set_handler(SIGUSR1, on_usr1_exit, 0);
    write(ready_fd, "r", 1);
    for (;;)
        pause();
}

static void waits_forever(int ready_fd)
{
    write(ready_fd, "r", 1);
    for (;;)
        pause();
}

static void children(void)
{
    int status;
    pid_t pid = ready_child(waits_for_usr1);
    kill(pid, SIGUSR1);
    waitpid(pid, &status, 0);
    printf("children: the child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    pid = ready_child(waits_forever);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    printf("children: SIGTERM: signalled %d, by signal %d\n", WIFSIGNALED(status),
           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    errno = 0;
    int r = kill(pid, 0);
    printf("children: kill(reaped child, 0) -> %d (%s)\n", r, strerror(errno));
}

static void stops(int ready_fd)
{
    write(ready_fd, "r", 1);
    raise(SIGSTOP);
    printf("stop: child: continued\n");
}

static void stop(void)
{
    int status;
    pid_t pid = ready_child(stops);
    struct timespec pause_a_moment = {0, 20000000};
    nanosleep(&pause_a_moment, NULL);
    kill(pid, SIGCONT);
    waitpid(pid, &status, 0);
    printf("stop: the child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static volatile pid_t chld_pid;
static volatile int chld_code, chld_status;
static void on_chld(int sig, siginfo_t *si, void *context)
{
    (void)sig;
    (void)context;
    chld_pid = si->si_pid;
    chld_code = si->si_code;
    chld_status = si->si_status;
}

static void sigchld(void)
{
    sigset_t block, old;
    int status;
    set_info_handler(SIGCHLD, on_chld, SA_RESTART);
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    pid_t pid = fork();
    if (pid == 0)
        _exit(3);
    sigsuspend(&old);
    printf("sigchld: from the child: %s, code %d (CLD_EXITED=%d), status %d\n",
           chld_pid == pid ? "yes" : "no", chld_code, CLD_EXITED, chld_status);
    sigprocmask(SIG_SETMASK, &old, NULL);
    waitpid(pid, &status, 0);
    set_handler(SIGCHLD, SIG_DFL, 0);
}

/* --- endings: each of these ends the process ---------------------------------------- */

static void do_abort(void)
{
    printf("abort: calling abort()\n");
    fflush(stdout);
    abort();
}

static void sigpipe(void)
{
    int fds[2];
    pipe(fds);
    close(fds[0]);
    printf("sigpipe: writing to a pipe with no reader\n");
    fflush(stdout);
    write(fds[1], "x", 1);
    printf("sigpipe: still alive?\n");
}

static void sigpipe_ignored(void)
{
    int fds[2];
    pipe(fds);
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    errno = 0;
    ssize_t n = write(fds[1], "x", 1);
    printf("sigpipe-ignored: write -> %zd (%s)\n", n, strerror(errno));
}

static void segv_default(void)
{
    printf("segv-default: writing to address 0x10\n");
    fflush(stdout);
    *unmapped = 1;
}

static void kill_default(void)
{
    printf("kill-default: SIGTERM to myself\n");
    fflush(stdout);
    kill(getpid(), SIGTERM);
    printf("kill-default: still alive?\n");
}

static void no_restorer(void)
{
    /* the kernel's struct sigaction, without SA_RESTORER: on x86-64 the kernel has
       nowhere to return the handler to, and the process dies of SIGSEGV instead */
    struct { void (*handler)(int); unsigned long flags; void (*restorer)(void); unsigned long mask; }
        raw = {count, 0, 0, 0};
    syscall(SYS_rt_sigaction, SIGUSR1, &raw, NULL, 8);
    printf("no-restorer: raising SIGUSR1\n");
    fflush(stdout);
    raise(SIGUSR1);
    printf("no-restorer: still alive?\n");
}

static void recurse_on_altstack(int sig) { raise(sig); }

static void altstack_overflow(void)
{
    static char small[2048];            /* the kernel's MINSIGSTKSZ */
    stack_t ss = {.ss_sp = small, .ss_size = sizeof small, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    set_handler(SIGUSR1, recurse_on_altstack, SA_ONSTACK | SA_NODEFER);
    printf("altstack-overflow: nesting handlers on a %d-byte stack\n", (int)sizeof small);
    fflush(stdout);
    raise(SIGUSR1);
}

struct scenario { const char *name; void (*run)(void); int in_default_run; };
static const struct scenario scenarios[] = {
    {"handler", handler, 1}, {"siginfo", siginfo, 1}, {"mask", mask, 1}, {"ignore", ignore, 1},
    {"flags", flags, 1}, {"timers", timers, 1}, {"eintr", eintr, 1}, {"segv", segv, 1},
    {"traps", traps, 1}, {"altstack", altstack, 1}, {"fpu", fpu, 1}, {"errors", errors, 1},
    {"sigpipe-ignored", sigpipe_ignored, 1}, {"children", children, 1}, {"stop", stop, 1},
    {"sigwait", sigwait_scenario, 1}, {"threads", thread_signals, 1},
    /* on their own: sigchld needs the kernel to send SIGCHLD, stdin-eintr late input */
    {"sigchld", sigchld, 0}, {"stdin-eintr", stdin_eintr, 0},
    {"abort", do_abort, 0}, {"sigpipe", sigpipe, 0}, {"segv-default", segv_default, 0},
    {"kill-default", kill_default, 0}, {"no-restorer", no_restorer, 0},
    {"altstack-overflow", altstack_overflow, 0},
};
#define COUNT (sizeof scenarios / sizeof scenarios[0])

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        for (size_t i = 0; i < COUNT; i++)
            if (scenarios[i].in_default_run)
                scenarios[i].run();
        return 0;
    }
    for (int a = 1; a < argc; a++) {
        size_t i;
        for (i = 0; i < COUNT && strcmp(scenarios[i].name, argv[a]); i++)
            ;
        if (i == COUNT) {
            fprintf(stderr, "signals: no scenario %s\n", argv[a]);
            return 2;
        }
        scenarios[i].run();
    }
    return 0;
}
