; child: says hello, shows its command-line arguments, and ends with result code 7.
; With the argument "share" it opens the shared segment \SHAREMEM\NTSIM (DosGetShrSeg),
; shows the text its parent left there and leaves its own.
%include "os2.inc"
NAME 'CHILD'
MODULE 'DOSCALLS'
%define DOSCALLS 1
%define DATASEG seg2
PROGRAM 1, start, 2, 0, 2, 0, 0x1000

SEGMENT 2, DATA
pidinfo:        dw 0, 0, 0
shared_name:    db "\SHAREMEM\NTSIM", 0
shared:         dw 0
reply:          db "child was here", 0
reply_length    equ $ - reply
arguments:      dw 0
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
        mov     [arguments], dx
        call    write_es
        WRITES  {"'", 13, 10}
        mov     bx, [arguments]
        cmp     dword [es:bx], 'shar'
        jne     .done
        push    ds                      ; DosGetShrSeg("\SHAREMEM\NTSIM", &shared)
        push    shared_name
        push    ds
        push    shared
        IMPORT  DOSCALLS, 36
        test    ax, ax
        jnz     .done
        WRITES  "child: the shared segment says '"
        push    ds
        mov     es, [shared]
        xor     bx, bx
.strlen: cmp    byte [es:bx], 0
        je      .said
        inc     bx
        jmp     .strlen
.said:  mov     cx, bx
        xor     dx, dx
        call    write_es
        pop     ds
        WRITES  {"'", 13, 10}
        mov     si, reply               ; leave a reply in it
        xor     di, di
        mov     cx, reply_length
        rep movsb
.done:
        push    7                       ; wait: DosExit(EXIT_PROCESS, 7)
        pop     ax
        push    1
        push    ax
        IMPORT  DOSCALLS, 5

%include "lib.inc"
