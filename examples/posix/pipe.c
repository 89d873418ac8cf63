/* pipe: a parent reads what its child writes into a pipe. pipe() is a message to PSXSS
   (an NPFS pipe, both ends' handles moved into the process); the writes and reads are
   NtWriteFile / NtReadFile on those handles, and the read returns 0 once the child's
   end is closed. With the argument broken: a write with no reader (EPIPE, SIGPIPE). */
#include "psx.h"

int main(int argc, char **argv, char **envp)
{
    int fds[2];
    if (pipe(fds) < 0) {
        printf("pipe: %s\n", strerror(errno));
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "broken") == 0) {
        /* nobody will read: write fails with EPIPE, and SIGPIPE (ignored here, then not) */
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &action, NULL);
        close(fds[0]);
        int r = write(fds[1], "x", 1);
        printf("write with no reader: %d (%s)\n", r, strerror(errno));
        action.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &action, NULL);
        write(fds[1], "x", 1);
        printf("not reached\n");
        return 0;
    }
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        for (int i = 1; i <= 3; i++) {
            char line[32];
            int n = 0;
            const char *text = "line ";
            while (text[n]) { line[n] = text[n]; n++; }
            line[n++] = '0' + i;
            line[n++] = '\n';
            write(fds[1], line, n);
        }
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    static char buffer[256];
    int total = 0, n;
    while ((n = read(fds[0], buffer + total, sizeof buffer - 1 - total)) > 0)
        total += n;
    buffer[total] = 0;
    printf("parent read %d bytes:\n%s", total, buffer);
    int status;
    waitpid(child, &status, 0);
    printf("child exited with %d; read after EOF gives %d\n", WEXITSTATUS(status), (int)read(fds[0], buffer, 1));
    return 0;
}
