; sigint: DosSetSigHandler installs a Ctrl+C handler (SIGA_ACCEPT); the program waits in
; DosSleep until it runs. The handler, a far pascal function called on thread 1 with the
; signal number and argument pushed, says so, acknowledges the signal (SIGA_ACKNOWLEDGE,
; so that another Ctrl+C could be delivered) and returns; the program then exits 0.
%include "os2.inc"
NAME 'SIGINT'
MODULE 'DOSCALLS'
%define DOSCALLS 1
%define DATASEG seg2
PROGRAM 1, start, 2, 0, 2, 0, 0x1000

SEGMENT 2, DATA
previous:       dd 0                    ; the handler before ours (none: 0:0)
previous_action: dw 0                   ; and its action (SIGA_KILL: 0)
handled:        db 0
LIBDATA

SEGMENT 1, CODE
start:
        push    cs                      ; DosSetSigHandler(handler, &previous, &previous_action,
        push    handler                 ;   SIGA_ACCEPT, SIG_CTRLC)
        PTR     previous
        PTR     previous_action
        push    2
        push    1
        IMPORT  DOSCALLS, 14
        test    ax, ax
        jnz     failed
        WRITES  "previous action "
        mov     ax, [previous_action]
        call    write_dec
        WRITES  {"; waiting for Ctrl+C", 13, 10}
idle:
        cmp     byte [handled], 0
        jne     done
        push    0                       ; DosSleep(50 ms)
        push    50
        IMPORT  DOSCALLS, 32
        jmp     idle
done:
        WRITES  {"back in the main loop; exiting", 13, 10}
        push    1                       ; DosExit(EXIT_PROCESS, 0)
        push    0
        IMPORT  DOSCALLS, 5

failed:
        push    1
        push    ax
        IMPORT  DOSCALLS, 5

; VOID FAR PASCAL handler(USHORT usSigArg, USHORT usSigNum): the far return address at
; [bp+2], the number at [bp+6], the argument at [bp+8]; the callee pops both (RETF 4)
handler:
        push    bp
        mov     bp, sp
        WRITES  "handler: signal "
        mov     ax, [bp+6]
        call    write_dec
        WRITES  ", argument "
        mov     ax, [bp+8]
        call    write_dec
        call    newline
        push    0                       ; DosSetSigHandler(NULL, NULL, NULL, SIGA_ACKNOWLEDGE, number)
        push    0
        push    0
        push    0
        push    0
        push    0
        push    4
        push    word [bp+6]
        IMPORT  DOSCALLS, 14
        REPORT  "acknowledged"
        mov     byte [handled], 1
        pop     bp
        retf    4

%include "lib.inc"
