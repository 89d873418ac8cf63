/* ls.c (binary: dirlist) - list a directory.
 *   dirlist [DIR]     (default ".")
 * Names are sorted with strcmp, one per line, "." and ".." skipped, and
 * directories get a trailing "/".  d_type from getdents64 is used when the
 * file system reports it; DT_UNKNOWN (and symlinks, which are followed) fall
 * back to stat().  If DIR cannot be opened: "dirlist: DIR: <strerror>" on
 * stderr and exit 1. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct entry {
    char *name;
    int is_dir;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name,
                  ((const struct entry *)b)->name);
}

static void die(const char *what)
{
    fprintf(stderr, "dirlist: %s: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    DIR *d = opendir(dir);
    struct dirent *de;
    struct entry *v = NULL;
    size_t n = 0, cap = 0;

    if (!d)
        die(dir);

    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            errno = 0;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            v = realloc(v, cap * sizeof *v);
            if (!v)
                die("realloc");
        }
        v[n].name = strdup(de->d_name);
        if (!v[n].name)
            die("strdup");

        if (de->d_type == DT_DIR) {
            v[n].is_dir = 1;
        } else if (de->d_type == DT_UNKNOWN || de->d_type == DT_LNK) {
            /* fall back to stat(DIR/NAME) */
            size_t len = strlen(dir) + 1 + strlen(de->d_name) + 1;
            char *path = malloc(len);
            struct stat st;
            if (!path)
                die("malloc");
            snprintf(path, len, "%s/%s", dir, de->d_name);
            v[n].is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
            free(path);
        } else {
            v[n].is_dir = 0;
        }
        n++;
        errno = 0;
    }
    if (errno != 0)
        die(dir);
    closedir(d);

    qsort(v, n, sizeof *v, cmp_entry);
    for (size_t i = 0; i < n; i++) {
        printf("%s%s\n", v[i].name, v[i].is_dir ? "/" : "");
        free(v[i].name);
    }
    free(v);
    return 0;
}
