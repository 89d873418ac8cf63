/* compute.c - CPU-bound work with no syscalls inside the loop.
 *   compute [ITERATIONS]     (default 100000000)
 * Runs ITERATIONS steps of a xorshift64 generator mixed into an accumulator
 * (a serial dependency chain the compiler cannot vectorise or fold away),
 * then prints the accumulator as a decimal number and exits 0.
 * Deterministic: the same ITERATIONS always prints the same number. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_ITERATIONS 100000000ULL

int main(int argc, char **argv)
{
    unsigned long long iters = DEFAULT_ITERATIONS;
    if (argc > 1) {
        char *end;
        iters = strtoull(argv[1], &end, 10);
        if (*argv[1] == '\0' || *end != '\0') {
            fprintf(stderr, "usage: compute [ITERATIONS]\n");
            return 1;
        }
    }

    uint64_t x = 0x9E3779B97F4A7C15ULL; /* xorshift state, never 0 */
    uint64_t acc = 0;
    for (unsigned long long i = 0; i < iters; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        acc = (acc ^ x) * 0x100000001B3ULL + (acc >> 29);
    }

    printf("%llu\n", (unsigned long long)acc);
    return 0;
}
