/* faults NAME: one privileged or faulting instruction, as a hostile POSIX program would
 * run it. Each must end the process with SIGSEGV (SIGILL, SIGFPE), never run. */
#include "psx.h"

static int same(const char *a, const char *b)
{
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

int main(int argc, char **argv, char **envp)
{
    volatile int zero = 0;
    const char *what = argc > 1 ? argv[1] : "";
    if (same(what, "hlt"))        __asm__ volatile("hlt");
    else if (same(what, "cli"))   __asm__ volatile("cli");
    else if (same(what, "in"))    __asm__ volatile("inb $0x60, %%al" ::: "al");
    else if (same(what, "out"))   __asm__ volatile("outb %%al, $0x80" ::: "al");
    else if (same(what, "rdmsr")) __asm__ volatile("xor %%ecx, %%ecx; rdmsr" ::: "eax", "ecx", "edx");
    else if (same(what, "movcr0")) __asm__ volatile("mov %%cr0, %%eax" ::: "eax");
    else if (same(what, "ud2"))   __asm__ volatile("ud2");
    else if (same(what, "div0"))  __asm__ volatile("xor %%ecx, %%ecx; mov $1, %%eax; cdq; idiv %%ecx" ::: "eax", "ecx", "edx");
    else if (same(what, "null"))  zero = *(volatile int *)zero;
    write(1, "survived\n", 9);
    return 0;
}
