/* dirlist [DIR]: list a directory, sorted, with each entry's type and size.
   opendir and closedir are messages to PSXSS; readdir is NtQueryDirectoryFile on the
   directory's handle, stat a message again. */
#include "psx.h"

#define MAX 200
static char names[MAX][256];
static int count;

int main(int argc, char **argv, char **envp)
{
    const char *path = argc > 1 ? argv[1] : ".";
    DIR *dir = opendir(path);
    if (!dir) {
        fdprintf(2, "dirlist: %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && count < MAX) {
        int i = count++;
        memcpy(names[i], entry->d_name, strlen(entry->d_name) + 1);
        while (i > 0 && strcmp(names[i - 1], names[i]) > 0) {    /* insertion sort */
            char tmp[256];
            memcpy(tmp, names[i], 256); memcpy(names[i], names[i - 1], 256); memcpy(names[i - 1], tmp, 256);
            i--;
        }
    }
    if (chdir(path) < 0) {
        fdprintf(2, "dirlist: chdir %s: %s\n", path, strerror(errno));
        return 1;
    }
    for (int i = 0; i < count; i++) {
        struct stat st;
        if (stat(names[i], &st) < 0) {
            printf("? %s (%s)\n", names[i], strerror(errno));
            continue;
        }
        if (S_ISDIR(st.st_mode))
            printf("d %s/\n", names[i]);
        else
            printf("- %s %d\n", names[i], (int)st.st_size);
    }
    rewinddir(dir);
    int again = 0;
    while (readdir(dir) != NULL)
        again++;
    closedir(dir);
    printf("%d entries (%d after rewinddir)\n", count, again);
    return 0;
}
