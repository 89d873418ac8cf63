/* cat [FILE...]: copy files (or standard input) to standard output.
   open and close are messages to PSXSS; each read and write on a file is NtReadFile /
   NtWriteFile on the handle PSXSS gave the process; the terminal goes to posix.exe. */
#include "psx.h"

static char buffer[4096];

static int copy(int fd, const char *name)
{
    for (;;) {
        int n = read(fd, buffer, sizeof buffer);
        if (n == 0)
            return 0;
        if (n < 0) {
            fdprintf(2, "cat: %s: %s\n", name, strerror(errno));
            return 1;
        }
        for (int done = 0; done < n; ) {
            int w = write(1, buffer + done, n - done);
            if (w < 0) {
                fdprintf(2, "cat: write: %s\n", strerror(errno));
                return 1;
            }
            done += w;
        }
    }
}

int main(int argc, char **argv, char **envp)
{
    int status = 0;
    if (argc < 2)
        return copy(0, "-");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0) {
            status |= copy(0, "-");
            continue;
        }
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) {
            fdprintf(2, "cat: %s: %s\n", argv[i], strerror(errno));
            status = 1;
            continue;
        }
        status |= copy(fd, argv[i]);
        close(fd);
    }
    return status;
}
