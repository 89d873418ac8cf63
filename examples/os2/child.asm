; child: says hello, shows its command-line arguments, and ends with result code 7.
%include "os2.inc"
NAME 'CHILD'
MODULE 'DOSCALLS'
%define DOSCALLS 1
%define DATASEG seg2
PROGRAM 1, start, 2, 0, 2, 0, 0x1000

SEGMENT 2, DATA
pidinfo:        dw 0, 0, 0
LIBDATA

SEGMENT 1, CODE
start:
        push    ax
        push    bx
        WRITES  "child: arguments '"
        pop     bx
        pop     es
.skip:  cmp     byte [es:bx], 0         ; past the program name to the arguments
        je      .args
        inc     bx
        jmp     .skip
.args:  inc     bx
        mov     dx, bx
.len:   cmp     byte [es:bx], 0
        je      .show
        inc     bx
        jmp     .len
.show:  mov     cx, bx
        sub     cx, dx
        push    ds
        push    es
        pop     ds
        call    write
        pop     ds
        WRITES  {"'", 13, 10}
        push    7                       ; wait: DosExit(EXIT_PROCESS, 7)
        pop     ax
        push    1
        push    ax
        IMPORT  DOSCALLS, 5

%include "lib.inc"
