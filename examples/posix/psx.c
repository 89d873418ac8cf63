/* psx.c - a few C library pieces the examples need, written on PSXDLL's exports. */
#include "psx.h"

size_t strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) { a++; b++; }
    return (unsigned char)*a - (unsigned char)*b;
}
void *memset(void *d, int c, size_t n) { char *p = d; while (n--) *p++ = (char)c; return d; }
void *memcpy(void *d, const void *s, size_t n)
{
    char *p = d; const char *q = s;
    while (n--) *p++ = *q++;
    return d;
}

const char *strerror(int e)
{
    static const char *names[] = { "0", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO",
        "E2BIG", "ENOEXEC", "EBADF", "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK",
        "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE",
        "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE", "EROFS", "EMLINK", "EPIPE" };
    return e >= 0 && e < (int)(sizeof names / sizeof names[0]) ? names[e] : "E?";
}

/* A printf with %d %u %x %s %c %% and a width for %d: enough for the examples. */
static int format(char *out, int room, const char *f, __builtin_va_list ap)
{
    int n = 0;
#define PUT(c) do { if (n < room) out[n] = (c); n++; } while (0)
    for (; *f; f++) {
        if (*f != '%') { PUT(*f); continue; }
        f++;
        int width = 0;
        while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
        if (*f == 's') {
            const char *s = __builtin_va_arg(ap, const char *);
            int len = (int)strlen(s ? s : "(null)");
            for (int i = len; i < width; i++) PUT(' ');
            for (s = s ? s : "(null)"; *s; s++) PUT(*s);
        } else if (*f == 'c') {
            PUT((char)__builtin_va_arg(ap, int));
        } else if (*f == 'd' || *f == 'u' || *f == 'x') {
            unsigned v = __builtin_va_arg(ap, unsigned);
            char digits[12]; int k = 0, negative = 0;
            unsigned base = *f == 'x' ? 16 : 10;
            if (*f == 'd' && (int)v < 0) { negative = 1; v = -v; }
            do { digits[k++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
            for (int i = k + negative; i < width; i++) PUT(' ');
            if (negative) PUT('-');
            while (k) PUT(digits[--k]);
        } else {
            PUT(*f);
        }
    }
    return n;
#undef PUT
}

static char buffer[1024];

int fdprintf(int fd, const char *f, ...)
{
    __builtin_va_list ap;
    __builtin_va_start(ap, f);
    int n = format(buffer, sizeof buffer, f, ap);
    __builtin_va_end(ap);
    if (n > (int)sizeof buffer) n = sizeof buffer;
    return write(fd, buffer, n);
}

int printf(const char *f, ...)
{
    __builtin_va_list ap;
    __builtin_va_start(ap, f);
    int n = format(buffer, sizeof buffer, f, ap);
    __builtin_va_end(ap);
    if (n > (int)sizeof buffer) n = sizeof buffer;
    return write(1, buffer, n);
}
