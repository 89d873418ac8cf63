; hello_asm.asm - pure x86-64 Linux, no libc.
; write(1, msg, len) via `syscall`, then exit_group(0).
; Build: nasm -f elf64 hello_asm.asm -o hello_asm.o && ld -static -s -o hello-asm hello_asm.o

        bits 64
        default rel

        section .rodata
msg:    db "Hello from Linux, via the NT kernel!", 10
len     equ $ - msg

        section .text
        global _start
_start:
        mov     eax, 1          ; SYS_write
        mov     edi, 1          ; fd = stdout
        lea     rsi, [msg]      ; buf
        mov     edx, len        ; count
        syscall

        mov     eax, 231        ; SYS_exit_group
        xor     edi, edi        ; status = 0
        syscall
