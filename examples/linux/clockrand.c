/* clockrand.c - read every clock and ask for random bytes.
 *   clockrand
 * Prints CLOCK_REALTIME, CLOCK_MONOTONIC, gettimeofday(), time() and 16 bytes
 * from getrandom(), sleeps 1 ms with nanosleep, and then checks that the
 * clocks behave: the monotonic clock advanced by at least the sleep, and the
 * real-time clock agrees with gettimeofday() and time().  The values differ
 * from run to run natively; under `ntsim run --deterministic` (a virtual clock
 * and fixed seeds) they repeat exactly.  Exit 0 if every check passes, else 1. */
#include <stdio.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

static long long ns_of(const struct timespec *t)
{
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

int main(void)
{
    struct timespec real, mono, mono_after, pause = {0, 1000000};
    struct timeval tv;
    unsigned char random_bytes[16];
    int ok = 1;

    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    gettimeofday(&tv, NULL);
    time_t now = time(NULL);
    ssize_t got = getrandom(random_bytes, sizeof random_bytes, 0);

    printf("realtime: %lld.%09ld\n", (long long)real.tv_sec, real.tv_nsec);
    printf("monotonic: %lld.%09ld\n", (long long)mono.tv_sec, mono.tv_nsec);
    printf("gettimeofday: %lld.%06ld\n", (long long)tv.tv_sec, (long)tv.tv_usec);
    printf("time: %lld\n", (long long)now);
    printf("getrandom: %zd bytes ", got);
    for (size_t i = 0; i < sizeof random_bytes; i++)
        printf("%02x", random_bytes[i]);
    printf("\n");

    nanosleep(&pause, NULL);
    clock_gettime(CLOCK_MONOTONIC, &mono_after);

    long long slept = ns_of(&mono_after) - ns_of(&mono);
    long long skew = (long long)tv.tv_sec - (long long)real.tv_sec;
    int sleep_ok = slept >= 1000000;
    int agree_ok = skew >= 0 && skew <= 1 && now - real.tv_sec >= 0 && now - real.tv_sec <= 1;
    int random_ok = got == (ssize_t)sizeof random_bytes;
    printf("monotonic advanced by the 1 ms sleep: %s\n", sleep_ok ? "yes" : "no");
    printf("realtime, gettimeofday and time agree: %s\n", agree_ok ? "yes" : "no");
    printf("getrandom filled the buffer: %s\n", random_ok ? "yes" : "no");
    ok = sleep_ok && agree_ok && random_ok;
    return ok ? 0 : 1;
}
