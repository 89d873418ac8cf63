/* psx.h - the examples' own tiny helpers on top of psxdll.h (not part of PSXDLL). */
#ifndef PSX_H
#define PSX_H
#include "psxdll.h"

/* PSXDLL's documented additions: errno and the arguments */
int *__psx_errno(void);
void __psx_getargs(int *argc, char ***argv, char ***envp);
#define errno (*__psx_errno())
#define EINTR 4
#define ECHILD 10
#define ENOENT 2

extern char **environ;
int main(int argc, char **argv, char **envp);

size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int printf(const char *format, ...);
int fdprintf(int fd, const char *format, ...);
const char *strerror(int e);
#endif
