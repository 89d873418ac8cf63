/* hello.c - the smallest libc program: one puts(), exit 0. */
#include <stdio.h>

int main(void)
{
    puts("Hello from Linux, via the NT kernel!");
    return 0;
}
