/* getpid_loop N [write]: N getpid() calls (an LPC round trip to PSXSS each), or N
   one-byte writes to /dev/null (NtWriteFile, no message): what benchmarks/posix.py times. */
#include "psx.h"

int main(int argc, char **argv, char **envp)
{
    int n = 0;
    const char *s = argc > 1 ? argv[1] : "1000";
    while (*s >= '0' && *s <= '9') n = n * 10 + (*s++ - '0');
    if (argc > 2 && strcmp(argv[2], "write") == 0) {
        int fd = open("/dev/null", O_WRONLY);
        for (int i = 0; i < n; i++) write(fd, "x", 1);
    } else {
        for (int i = 0; i < n; i++) getpid();
    }
    return 0;
}
