/* Hostile guest: each argument names one thing a misbehaving program does.
 * ntsim must treat each as native Linux does (tests compare with a native run):
 * privileged instructions fault, limits end in errors, never in a host crash. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    /* one line, async-signal-safe enough for a test program */
    char line[96];
    int n = snprintf(line, sizeof line, "caught signal %d code %d\n", sig, info->si_code);
    write(1, line, n);
    _exit(3);
}

static void catch_faults(void)
{
    struct sigaction action = {0};
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO;
    int signals[] = {SIGSEGV, SIGILL, SIGBUS, SIGFPE, SIGTRAP};
    for (unsigned i = 0; i < sizeof signals / sizeof *signals; i++)
        sigaction(signals[i], &action, 0);
}

static void *idle(void *arg) { (void)arg; pause(); return 0; }

static int report(const char *what, long result)
{
    if (result < 0)
        printf("%s: %s\n", what, strerror(errno));
    else
        printf("%s: ok\n", what);
    return 0;
}

static int run(const char *what)
{
    volatile char frame[256];
    frame[0] = what[0];
    (void)frame[0];   /* a frame on the stack: "recurse" uses it up */
    volatile long zero = 0;
    if (!strcmp(what, "hlt"))        __asm__ volatile("hlt");
    else if (!strcmp(what, "cli"))   __asm__ volatile("cli");
    else if (!strcmp(what, "sti"))   __asm__ volatile("sti");
    else if (!strcmp(what, "in"))    __asm__ volatile("inb $0x60, %%al" ::: "al");
    else if (!strcmp(what, "out"))   __asm__ volatile("outb %%al, $0x80" ::: "al");
    else if (!strcmp(what, "indx"))  __asm__ volatile("mov $0x3f8, %%dx; inb %%dx, %%al" ::: "al", "dx");
    else if (!strcmp(what, "rdmsr")) __asm__ volatile("xor %%ecx, %%ecx; rdmsr" ::: "eax", "ecx", "edx");
    else if (!strcmp(what, "wrmsr")) __asm__ volatile("xor %%ecx, %%ecx; xor %%eax, %%eax; xor %%edx, %%edx; wrmsr" ::: "eax", "ecx", "edx");
    else if (!strcmp(what, "movcr0")) __asm__ volatile("mov %%cr0, %%rax" ::: "rax");
    else if (!strcmp(what, "tocr3")) __asm__ volatile("xor %%eax, %%eax; mov %%rax, %%cr3" ::: "rax");
    else if (!strcmp(what, "lgdt")) { char t[10] = {0}; __asm__ volatile("lgdt %0" :: "m"(t)); }
    else if (!strcmp(what, "lidt")) { char t[10] = {0}; __asm__ volatile("lidt %0" :: "m"(t)); }
    else if (!strcmp(what, "invlpg")) __asm__ volatile("invlpg (%%rsp)" ::: "memory");
    else if (!strcmp(what, "wbinvd")) __asm__ volatile("wbinvd");
    else if (!strcmp(what, "ud2"))   __asm__ volatile("ud2");
    else if (!strcmp(what, "int3"))  __asm__ volatile("int3");
    else if (!strcmp(what, "int81")) __asm__ volatile("int $0x81");
    else if (!strcmp(what, "swapgs")) __asm__ volatile("swapgs");
    else if (!strcmp(what, "div0"))  __asm__ volatile("xor %%ecx, %%ecx; mov $1, %%eax; cdq; idiv %%ecx" ::: "eax", "ecx", "edx");
    else if (!strcmp(what, "null"))  { printf("%d\n", *(volatile int *)(long)zero); }
    else if (!strcmp(what, "kernel")) { printf("%d\n", *(volatile int *)0xffffffff81000000UL); }
    else if (!strcmp(what, "noncanonical")) { printf("%d\n", *(volatile int *)0x0000900000000000UL); }
    else if (!strcmp(what, "jumpnull")) { void (*f)(void) = (void (*)(void))(long)zero; f(); }
    else if (!strcmp(what, "readtop")) { printf("%d\n", *(volatile int *)0xfffffffffffff000UL); }
    else if (!strcmp(what, "jumptop")) { void (*f)(void) = (void (*)(void))0xfffffffffffff000UL; f(); }
    else if (!strcmp(what, "jumptop32")) { void (*f)(void) = (void (*)(void))0xfffff000UL; f(); }
    else if (!strcmp(what, "catch")) { catch_faults(); return 0; }
    else if (!strcmp(what, "mmap-huge")) {
        /* reserve ~8 TiB in 64 GiB pieces, touch none of it */
        long mapped = 0;
        for (int i = 0; i < 128; i++) {
            void *p = mmap(0, 64UL << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == MAP_FAILED) break;
            mapped += 64;
        }
        printf("mapped %ld GiB\n", mapped);
        /* what pthread_getattr_np and a debugger read: every mapping, listed at once */
        char line[256];
        FILE *maps = fopen("/proc/self/maps", "r");
        long lines = 0, huge = 0;
        while (maps && fgets(line, sizeof line, maps)) {
            unsigned long start, end;
            lines++;
            if (sscanf(line, "%lx-%lx", &start, &end) == 2 && end - start >= (64UL << 30)) huge++;
        }
        if (maps) fclose(maps);
        printf("/proc/self/maps: %s\n", lines > 0 && huge >= 1 ? "lists them" : "does not");
    }
    else if (!strcmp(what, "mmap-exec")) {
        /* 1 TiB of executable mapping, made read-write-execute, then unmapped */
        char *p = mmap(0, 1UL << 40, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return report("mmap 1 TiB PROT_EXEC", -1);
        report("mprotect 1 TiB rwx", mprotect(p, 1UL << 40, PROT_READ | PROT_WRITE | PROT_EXEC));
        p[12345] = 1;
        report("munmap 1 TiB", munmap(p, 1UL << 40));
    }
    else if (!strcmp(what, "mmap-file-huge")) {
        /* a small file mapped 1 TiB long (Linux allows it: past the end is SIGBUS),
           then every call that walks a range walks all of it */
        int fd = open("small", O_CREAT | O_RDWR | O_TRUNC, 0644);
        write(fd, "small file\n", 11);
        char *p = mmap(0, 1UL << 40, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) return report("mmap 1 TiB of a file", -1);
        printf("first line: %.10s\n", p);
        report("mprotect 1 TiB read-write", mprotect(p, 1UL << 40, PROT_READ | PROT_WRITE));
        report("msync 1 TiB", msync(p, 1UL << 40, MS_SYNC));
        report("madvise DONTNEED 1 TiB", madvise(p, 1UL << 40, MADV_DONTNEED));
        char *q = mremap(p, 1UL << 40, 1UL << 41, MREMAP_MAYMOVE);
        report("mremap to 2 TiB", q == MAP_FAILED ? -1 : 0);
        report("munmap", munmap(q == MAP_FAILED ? p : q, q == MAP_FAILED ? 1UL << 40 : 1UL << 41));
        close(fd);
        unlink("small");
        char *anon = mmap(0, 1UL << 40, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        anon[4096 * 3] = 1;
        report("madvise DONTNEED 1 TiB anonymous", madvise(anon, 1UL << 40, MADV_DONTNEED));
        char *moved = mremap(anon, 1UL << 40, 1UL << 40, MREMAP_MAYMOVE | MREMAP_FIXED, anon + (2UL << 40));
        report("mremap 1 TiB anonymous elsewhere", moved == MAP_FAILED ? -1 : 0);
    }
    else if (!strcmp(what, "bigio")) {
        /* counts far larger than any buffer: Linux caps one call at MAX_RW_COUNT */
        char *p = mmap(0, 1UL << 40, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        int fd = open("/dev/null", O_RDWR);
        long n = read(fd, p, 1UL << 40);
        printf("read 1 TiB from /dev/null: %ld\n", n);
        int zero = open("/dev/zero", O_RDONLY);
        n = read(zero, p, 1UL << 20);
        printf("read 1 MiB from /dev/zero: %ld\n", n);
        n = write(fd, p, 1UL << 40);
        printf("write 1 TiB to /dev/null: %ld\n", n);
        int small = open("small", O_CREAT | O_RDWR | O_TRUNC, 0644);
        write(small, "abc", 3);
        n = pread(small, p, 1UL << 40, 0);
        printf("pread 1 TiB from a 3-byte file: %ld\n", n);
        n = read(small, p, -1UL);
        printf("read -1 bytes: %ld %s\n", n, n < 0 ? strerror(errno) : "");
        unlink("small");
    }
    else if (!strcmp(what, "mmap-many")) {
        /* page after page, each its own mapping, until refused (vm.max_map_count) */
        long n = 0;
        for (;;) {
            void *p = mmap(0, 4096, (n & 1) ? PROT_READ : PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) { printf("mmap refused after %s: %s\n", n > 60000 ? "about 65,530" : "few", strerror(errno)); break; }
            if (++n > 200000) { printf("mmap never refused\n"); break; }
        }
    }
    else if (!strcmp(what, "sigflood")) {
        /* queue real-time signals, blocked, until the queue is full (RLIMIT_SIGPENDING) */
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, 0);
        struct rlimit limit = {1000, 1000};
        setrlimit(RLIMIT_SIGPENDING, &limit);
        union sigval value = {0};
        long n = 0;
        while (sigqueue(getpid(), SIGRTMIN + 1, value) == 0)
            if (++n > 2000000) break;
        printf("sigqueue refused after %ld: %s\n", n, strerror(errno));
        for (int i = 0; i < 10; i++) kill(getpid(), SIGRTMIN + 2);
        printf("kill past the limit: survived\n");
        _exit(0);
    }
    else if (!strcmp(what, "recurse")) {
        /* unbounded recursion: the stack meets its rlimit, and the guard is SIGSEGV */
        return run("recurse") + (int)zero;
    }
    else if (!strcmp(what, "brk-huge")) {
        char *start = sbrk(0);
        report("brk + 1 TiB", brk(start + (1UL << 40)) == 0 ? 0 : -1);
        start[(1UL << 40) - 1] = 1;
        report("brk back", brk(start));
    }
    else if (!strcmp(what, "mmap-touch")) {
        /* touch 1 GiB: more than a small --max-memory allows */
        char *p = mmap(0, 1UL << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return report("mmap", -1);
        for (long i = 0; i < (1L << 30); i += 4096) p[i] = 1;
        printf("touched 1 GiB\n");
    }
    else if (!strcmp(what, "mlock-huge")) {
        void *p = mmap(0, 1UL << 40, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return report("mmap 1 TiB", -1);
        report("mlock 1 TiB", mlock(p, 1UL << 40));
    }
    else if (!strcmp(what, "malloc-huge")) {
        void *p = malloc(1UL << 42);
        printf("malloc 4 TiB: %s\n", p ? "ok" : "null");
    }
    else if (!strcmp(what, "forkbomb")) {
        /* children wait; the parent forks until refused, then kills them all */
        int n = 0;
        for (;;) {
            pid_t pid = fork();
            if (pid < 0) { printf("fork refused after %s: %s\n", n >= 10 ? "many" : "few", strerror(errno)); break; }
            if (pid == 0) { pause(); _exit(0); }
            if (++n >= 100000) { printf("fork never refused\n"); break; }
        }
        signal(SIGTERM, SIG_IGN);
        kill(0, SIGTERM);
        while (wait(0) > 0) ;
    }
    else if (!strcmp(what, "threadbomb")) {
        int n = 0;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 16384);
        for (;;) {
            pthread_t t;
            int e = pthread_create(&t, &attr, idle, 0);
            if (e) { printf("thread refused after %s: %s\n", n >= 10 ? "many" : "few", strerror(e)); break; }
            if (++n >= 100000) { printf("threads never refused\n"); break; }
        }
    }
    else if (!strcmp(what, "nofile")) {
        struct rlimit limit;
        getrlimit(RLIMIT_NOFILE, &limit);
        int n = 0, last = 0;
        for (;;) {
            int fd = open("/", O_RDONLY | O_DIRECTORY);
            if (fd < 0) { last = errno; break; }
            n++;
        }
        printf("open refused: %s (%s)\n", strerror(last), (rlim_t)n + 3 >= limit.rlim_cur ? "at the limit" : "before the limit");
    }
    else if (!strcmp(what, "longpath")) {
        char path[4200];
        memset(path, 'a', sizeof path - 1);
        path[sizeof path - 1] = 0;
        report("open 4199-byte name O_CREAT", open(path, O_CREAT | O_WRONLY, 0644));
        path[300] = 0;
        report("open 300-byte name O_CREAT", open(path, O_CREAT | O_WRONLY, 0644));
        for (int i = 0; i < 4199; i += 2) path[i] = '/';
        memset(path, 'a', sizeof path - 1);
        for (int i = 1; i < 4199; i += 2) path[i] = '/';
        path[4199] = 0;
        report("stat 4199-byte path", access(path, F_OK));
        struct stat st;
        report("stat . ", stat(".", &st));
    }
    else if (!strcmp(what, "e2big")) {
        size_t size = 200 * 1024;
        char *big = malloc(size + 1);
        memset(big, 'x', size); big[size] = 0;
        char *argv[] = {"/proc/self/exe", big, 0};
        execv("/proc/self/exe", argv);
        report("execve 200 KiB argument", -1);
        size = 100 * 1024;
        big[size] = 0;
        char *many[64];
        many[0] = "/proc/self/exe";
        for (int i = 1; i < 63; i++) many[i] = big;
        many[63] = 0;
        execv("/proc/self/exe", many);
        report("execve 6 MiB of arguments", -1);
    }
    else if (!strcmp(what, "exec-noexec")) {
        int fd = open("plain", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        write(fd, "#!/bin/sh\n", 10); close(fd);
        char *argv[] = {"plain", 0};
        execv("plain", argv);
        report("execve 0644 file", -1);
        execv("/", argv);
        report("execve directory", -1);
        mkfifo("fifo", 0755);
        execv("fifo", argv);
        report("execve FIFO", -1);
        unlink("plain");
        unlink("fifo");
    }
    else if (!strcmp(what, "writes")) {
        /* every way to change a file system: under --read-only each is EROFS */
        report("creat new", open("new-file", O_CREAT | O_WRONLY, 0644));
        report("open existing for writing", open("hostile", O_WRONLY));
        report("open existing O_TRUNC", open("hostile", O_RDONLY | O_TRUNC));
        report("unlink", unlink("hostile"));
        report("mkdir", mkdir("new-dir", 0755));
        report("rename", rename("hostile", "renamed"));
        report("chmod", chmod("hostile", 0600));
        report("symlink", symlink("hostile", "link"));
        report("link", link("hostile", "hard"));
        report("truncate", truncate("hostile", 0));
        report("mkfifo", mkfifo("fifo", 0644));
        report("open for reading", open("hostile", O_RDONLY));
    }
    else if (!strcmp(what, "mapfault")) {
        /* a shared mapping of a file written, then a fault ends the program: the
           kernel still writes the page back, and the plain write is there too */
        int fd = open("mapped", O_CREAT | O_RDWR | O_TRUNC, 0644);
        ftruncate(fd, 4096);
        char *page = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        memcpy(page, "kept through the fault\n", 23);
        int log = open("written", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        write(log, "written before the fault\n", 25);
        __asm__ volatile("hlt");
    }
    else if (!strcmp(what, "stamp")) {
        /* what a file the program just wrote says about the host's clock and inodes */
        int fd = open("stamped", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        write(fd, "x", 1);
        struct stat st;
        fstat(fd, &st);
        close(fd);
        struct tm *when = gmtime(&st.st_mtime);
        printf("mtime %04d-%02d-%02d %02d:%02d:%02d.%09ld ctime %ld.%09ld inode %lu\n",
               when->tm_year + 1900, when->tm_mon + 1, when->tm_mday, when->tm_hour,
               when->tm_min, when->tm_sec, st.st_mtim.tv_nsec, (long)st.st_ctime,
               st.st_ctim.tv_nsec, (unsigned long)st.st_ino);
        int pipes[2];
        pipe(pipes);
        fstat(pipes[0], &st);
        printf("pipe inode %lu, dev %lu\n", (unsigned long)st.st_ino, (unsigned long)st.st_dev);
        stat("/", &st);
        printf("root inode %lu dev %lu\n", (unsigned long)st.st_ino, (unsigned long)st.st_dev);
        unlink("stamped");
    }
    else { fprintf(stderr, "hostile: unknown case %s\n", what); return 2; }
    printf("%s: survived\n", what);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    for (int i = 1; i < argc; i++) {
        int status = run(argv[i]);
        if (status) return status;
    }
    return 0;
}
