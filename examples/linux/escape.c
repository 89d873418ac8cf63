/* Tries every way out of its root it can think of, and says what each found.
 * argv[1]: the host's absolute path of a secret file outside the root (so the
 * absolute-symlink tricks can name it). Under `ntsim run --root R`, every line
 * must be an error or a file inside R: the secret's contents never appear. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *what, int fd)
{
    if (fd < 0) { printf("%s: %s\n", what, strerror(errno)); return; }
    char buf[128] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0) printf("%s: opened, read: %s\n", what, strerror(errno));
    else { buf[strcspn(buf, "\n")] = 0; printf("%s: read \"%s\"\n", what, buf); }
    close(fd);
}

static void try_open(const char *what, const char *path) { show(what, open(path, O_RDONLY)); }

int main(int argc, char **argv)
{
    const char *secret = argc > 1 ? argv[1] : "/nonexistent/secret";
    char path[8192];
    setvbuf(stdout, 0, _IONBF, 0);
    mkdir("/inside", 0755);
    int fd = open("/inside/file", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    write(fd, "inside\n", 7); close(fd);

    try_open("absolute host path", secret);
    snprintf(path, sizeof path, "/..%s", secret);            try_open("/.. then host path", path);
    snprintf(path, sizeof path, "../../../../../..%s", secret); try_open("../ x6 then host path", path);
    try_open("../secret", "../secret");
    chdir("/inside");
    snprintf(path, sizeof path, "../..%s", secret);          try_open("cwd ../.. then host path", path);
    chdir("/");

    symlink(secret, "/abs-link");                            try_open("absolute symlink", "/abs-link");
    snprintf(path, sizeof path, "../../../../../..%s", secret);
    symlink(path, "/rel-link");                              try_open("relative symlink", "/rel-link");
    symlink("/rel-link", "/chain3"); symlink("/chain3", "/chain2"); symlink("chain2", "/chain1");
    try_open("symlink chain", "/chain1");
    symlink("/loop-b", "/loop-a"); symlink("/loop-a", "/loop-b");
    try_open("symlink loop", "/loop-a");
    symlink("..", "/inside/up"); snprintf(path, sizeof path, "/inside/up/up/up%s", secret);
    try_open("symlink to .. repeated", path);

    snprintf(path, sizeof path, "/proc/self/root/..%s", secret); try_open("/proc/self/root/..", path);
    snprintf(path, sizeof path, "/proc/self/cwd/../..%s", secret); try_open("/proc/self/cwd/../..", path);
    try_open("/proc/self/root/inside/file", "/proc/self/root/inside/file");

    printf("hard link to host path: %s\n", link(secret, "/hard") ? strerror(errno) : "made");
    try_open("the hard link", "/hard");
    snprintf(path, sizeof path, "../..%s.renamed", secret);
    printf("rename out: %s\n", rename("/inside/file", path) ? strerror(errno) : "renamed");
    int dir = open("/inside", O_RDONLY | O_DIRECTORY);
    snprintf(path, sizeof path, "../../..%s", secret);
    show("openat(dirfd, ../../..host)", openat(dir, path, O_RDONLY));
    show("openat(dirfd, absolute host)", openat(dir, secret, O_RDONLY));

    path[0] = 0;
    for (int i = 0; i < 1000; i++) strcat(path, "../");
    strcat(path, secret + 1);
    try_open("1000 x ../ then host path", path);

    char upper[4096]; strcpy(upper, secret);
    for (char *p = upper; *p; p++) if (*p >= 'a' && *p <= 'z') *p -= 32;
    try_open("host path upper-cased", upper);

    fd = open(secret, O_WRONLY | O_TRUNC);
    printf("truncate host path: %s\n", fd < 0 ? strerror(errno) : "opened"); if (fd >= 0) close(fd);
    snprintf(path, sizeof path, "/..%s", secret);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    printf("create over /..host path: %s\n", fd < 0 ? strerror(errno) : "opened"); if (fd >= 0) { write(fd, "pwned\n", 6); close(fd); }
    return 0;
}
