/* counter.c - add 1 to a counter in memory, N times, with no system call in the loop.
 *   counter [N]     (default 20000000)
 * Each step is one read-modify-write instruction on memory (`addq $1, counter`): the
 * instruction a careless stop from another host thread would run twice (unicorn resumes
 * an interrupted block from its start). Prints the counter: exactly N, however often the
 * run was paused. */
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long counter;

int main(int argc, char **argv)
{
    unsigned long n = 20000000UL;
    if (argc > 1) {
        char *end;
        n = strtoul(argv[1], &end, 10);
        if (*argv[1] == '\0' || *end != '\0') {
            fprintf(stderr, "usage: counter [N]\n");
            return 1;
        }
    }
    for (unsigned long i = 0; i < n; i++)
        __asm__ volatile("addq $1, %0" : "+m"(counter));
    printf("%lu\n", counter);
    return 0;
}
