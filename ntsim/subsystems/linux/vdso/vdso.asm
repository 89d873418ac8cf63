; The vDSO ntsim maps into every Linux process (AT_SYSINFO_EHDR): a shared object named
; linux-vdso.so.1 with the functions C libraries look for under version LINUX_2.6.
; Linux's answer these from memory without entering the kernel; ntsim's enter it, with
; the `syscall` those calls would make otherwise (so the call gate and the trace see them).
; Build: make -C ntsim/subsystems/linux/vdso (nasm, ld); the built vdso.so is committed.
BITS 64
section .text

%macro VSYSCALL 2
global %1:function
%1:
    mov eax, %2
    syscall
    ret
%endmacro

VSYSCALL __vdso_clock_gettime, 228
VSYSCALL __vdso_gettimeofday, 96
VSYSCALL __vdso_time, 201
VSYSCALL __vdso_getcpu, 309
VSYSCALL __vdso_clock_getres, 229
