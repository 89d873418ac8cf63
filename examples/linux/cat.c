/* cat.c - minimal cat(1) using raw read()/write() with a 4096-byte buffer,
 * so each chunk is exactly one read syscall and (normally) one write syscall.
 *   cat            copy stdin to stdout
 *   cat F1 F2 ...  copy each file ("-" means stdin)
 * An unopenable file prints "cat: NAME: <strerror>" to stderr; the exit
 * status is 1 at the end if any file failed, otherwise 0. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char buf[4096];

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Returns 0 on success, -1 on error (message already printed). */
static int copy_fd(int fd, const char *name)
{
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0)
            return 0;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "cat: %s: %s\n", name, strerror(errno));
            return -1;
        }
        if (write_all(1, buf, (size_t)r) < 0) {
            fprintf(stderr, "cat: write error: %s\n", strerror(errno));
            return -1;
        }
    }
}

int main(int argc, char **argv)
{
    int status = 0;

    if (argc < 2)
        return copy_fd(0, "stdin") < 0 ? 1 : 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0) {
            if (copy_fd(0, "stdin") < 0)
                status = 1;
            continue;
        }
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) {
            fprintf(stderr, "cat: %s: %s\n", argv[i], strerror(errno));
            status = 1;
            continue;
        }
        if (copy_fd(fd, argv[i]) < 0)
            status = 1;
        close(fd);
    }
    return status;
}
