/* hello: one write(), client stub -> console host -> CSRSS -> your terminal. */
#include "psx.h"

int main(int argc, char **argv, char **envp)
{
    static const char message[] = "Hello from the POSIX subsystem, via PSXSS!\n";
    write(1, message, sizeof message - 1);
    return 0;
}
