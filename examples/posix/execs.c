/* execs: exec replaces the program, keeps the pid and the descriptors, except those
   marked FD_CLOEXEC. The first run opens two files (one close-on-exec) and execs itself
   with its pid as an argument; the second reports what it inherited. */
#include "psx.h"

int execl(const char *path, const char *arg0, ...);       /* PSXDLL exports it too */

int main(int argc, char **argv, char **envp)
{
    if (argc > 2 && strcmp(argv[1], "again") == 0) {
        int before = 0;
        for (const char *s = argv[2]; *s; s++) before = before * 10 + (*s - '0');
        printf("after exec: %s pid, fd 3 %s, fd 4 %s\n", getpid() == before ? "the same" : "another",
               fcntl(3, F_GETFD) >= 0 ? "open" : "closed", fcntl(4, F_GETFD) >= 0 ? "open" : "closed");
        return 0;
    }
    int kept = open(argv[0], O_RDONLY);
    int dropped = open(argv[0], O_RDONLY);
    fcntl(dropped, F_SETFD, FD_CLOEXEC);
    printf("before exec: fd %d kept, fd %d close-on-exec\n", kept, dropped);
    char pid[12];
    int n = 0, value = getpid();
    char digits[12];
    do { digits[n++] = '0' + value % 10; value /= 10; } while (value);
    for (int i = 0; i < n; i++) pid[i] = digits[n - 1 - i];
    pid[n] = 0;
    execl(argv[0], argv[0], "again", pid, (char *)0);
    printf("execl: %s\n", strerror(errno));
    return 1;
}
