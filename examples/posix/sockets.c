/* sockets: a program that wants a socket. The POSIX subsystem was POSIX.1 only, so
   PSXDLL.DLL exports no socket(): ntsim refuses the image at load time (exit 126). */
#include "psx.h"

int socket(int domain, int type, int protocol);

int main(int argc, char **argv, char **envp)
{
    return socket(2, 1, 0) < 0;
}
