/* writes.c - the same work done N times: write one short line with write(2).
 *   writes N [FILE]     (to stdout when no FILE is given)
 * Lesson 7 runs it twice: to the console (each write an LPC round trip to CSRSS, as
 * every USER/GDI call was in NT 3.x) and to /dev/null (a device the kernel serves
 * itself, as win32k.sys serves USER/GDI calls since NT 4.0). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: writes N [FILE]\n");
        return 1;
    }
    char *end;
    unsigned long n = strtoul(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0') {
        fprintf(stderr, "usage: writes N [FILE]\n");
        return 1;
    }
    int fd = 1;
    if (argc > 2 && (fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0) {
        perror(argv[2]);
        return 1;
    }
    static const char line[] = "a line of text\n";
    for (unsigned long i = 0; i < n; i++) {
        if (write(fd, line, sizeof line - 1) != (ssize_t)(sizeof line - 1)) {
            perror("write");
            return 1;
        }
    }
    return 0;
}
