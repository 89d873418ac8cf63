; exec: DosExecPgm CHILD.EXE synchronously (the result codes come back at once), then
; asynchronously (its pid comes back) and collect it with DosCWait. Both go to OS2SS.
%include "os2.inc"
NAME 'EXEC'
MODULE 'DOSCALLS'
%define DOSCALLS 1
%define DATASEG seg2
PROGRAM 1, start, 2, 0, 2, 0, 0x1000

SEGMENT 2, DATA
program:        db "CHILD.EXE", 0
arguments:      db "CHILD", 0, "one two", 0, 0
failname:       times 32 db 0
results:        dw 0, 0                 ; RESULTCODES: codeTerminate, codeResult
child:          dw 0
waited:         dw 0
LIBDATA

SEGMENT 1, CODE
start:
        push    ds                      ; DosExecPgm(failname, 32, EXEC_SYNC, args, NULL env,
        push    failname                ;   &results, "CHILD.EXE")
        push    32
        push    0
        push    ds
        push    arguments
        push    0
        push    0
        push    ds
        push    results
        push    ds
        push    program
        IMPORT  DOSCALLS, 144
        test    ax, ax
        jnz     failed
        WRITES  "exec: synchronous child ended, termination "
        mov     ax, [results]
        call    write_dec
        WRITES  ", result "
        mov     ax, [results + 2]
        call    write_dec
        call    newline

        push    ds                      ; DosExecPgm(..., EXEC_ASYNCRESULT, ...)
        push    failname
        push    32
        push    2
        push    ds
        push    arguments
        push    0
        push    0
        push    ds
        push    results
        push    ds
        push    program
        IMPORT  DOSCALLS, 144
        test    ax, ax
        jnz     failed
        mov     ax, [results]           ; codeTerminate holds the child's pid
        mov     [child], ax
        push    0                       ; DosCWait(DCWA_PROCESS, DCWW_WAIT, &results, &waited, child)
        push    0
        push    ds
        push    results
        push    ds
        push    waited
        push    word [child]
        IMPORT  DOSCALLS, 2
        test    ax, ax
        jnz     failed
        mov     ax, [waited]
        cmp     ax, [child]
        jne     failed
        WRITES  "exec: DosCWait collected the asynchronous child, result "
        mov     ax, [results + 2]
        call    write_dec
        call    newline
        push    0                       ; DosCWait again: no child left (128)
        push    1
        push    ds
        push    results
        push    ds
        push    waited
        push    0
        IMPORT  DOSCALLS, 2
        push    ax
        WRITES  "exec: DosCWait with no children left: error "
        pop     ax
        call    write_dec
        call    newline
        push    1
        push    0
        IMPORT  DOSCALLS, 5

failed:
        push    ax
        WRITES  "exec: error "
        pop     ax
        push    ax
        call    write_dec
        call    newline
        pop     ax
        push    1
        push    ax
        IMPORT  DOSCALLS, 5

%include "lib.inc"
