; copy SOURCE TARGET: DosOpen both, DosRead/DosWrite 512 bytes at a time, DosClose.
; The arguments come from the command line, which OS/2 passes as AX (the environment
; segment's selector) and BX (the command line's offset in it): "COPY\0source target\0\0".
%include "os2.inc"
NAME 'COPY'
MODULE 'DOSCALLS'
%define DOSCALLS 1
%define DATASEG seg2
PROGRAM 1, start, 2, 0, 2, 0, 0x1000

SEGMENT 2, DATA
source:         times 128 db 0
target:         times 128 db 0
source_handle:  dw 0
target_handle:  dw 0
action:         dw 0
got:            dw 0
total:          dw 0
buffer:         times 512 db 0
LIBDATA

SEGMENT 1, CODE
start:
        mov     es, ax                  ; ES:BX -> the program name
.skip_name:
        cmp     byte [es:bx], 0
        je      .arguments
        inc     bx
        jmp     .skip_name
.arguments:
        inc     bx                      ; ES:BX -> "source target"
        mov     di, source
        call    word_to_di
        mov     di, target
        call    word_to_di
        cmp     byte [source], 0
        je      usage
        cmp     byte [target], 0
        je      usage

        push    ds                      ; DosOpen(source, &handle, &action, 0, 0,
        push    source                  ;   OPEN_ACTION_OPEN_IF_EXISTS (fail if missing),
        push    ds                      ;   OPEN_ACCESS_READONLY | OPEN_SHARE_DENYWRITE, 0)
        push    source_handle
        push    ds
        push    action
        push    0
        push    0
        push    0
        push    0x0001
        push    0x0020
        push    0
        push    0
        IMPORT  DOSCALLS, 70
        test    ax, ax
        jnz     failed
        push    ds                      ; DosOpen(target, ..., replace or create, write-only)
        push    target
        push    ds
        push    target_handle
        push    ds
        push    action
        push    0
        push    0
        push    0
        push    0x0012
        push    0x0011
        push    0
        push    0
        IMPORT  DOSCALLS, 70
        test    ax, ax
        jnz     failed
.loop:
        push    word [source_handle]    ; DosRead(source, buffer, 512, &got)
        push    ds
        push    buffer
        push    512
        push    ds
        push    got
        IMPORT  DOSCALLS, 137
        test    ax, ax
        jnz     failed
        mov     cx, [got]
        jcxz    .done
        add     [total], cx
        push    word [target_handle]    ; DosWrite(target, buffer, got, &written)
        push    ds
        push    buffer
        push    cx
        push    ds
        push    written
        IMPORT  DOSCALLS, 138
        test    ax, ax
        jnz     failed
        jmp     .loop
.done:
        push    word [source_handle]
        IMPORT  DOSCALLS, 59            ; DosClose
        push    word [target_handle]
        IMPORT  DOSCALLS, 59
        WRITES  "copied "
        mov     ax, [total]
        call    write_dec
        WRITES  {" bytes", 13, 10}
        push    1
        push    0
        IMPORT  DOSCALLS, 5

failed:                                 ; AX = the OS/2 error code
        push    ax
        WRITES  "copy: error "
        pop     ax
        push    ax
        call    write_dec
        call    newline
        pop     ax
        push    1
        push    ax
        IMPORT  DOSCALLS, 5

usage:
        WRITES  {"usage: copy SOURCE TARGET", 13, 10}
        push    1
        push    1
        IMPORT  DOSCALLS, 5

; word_to_di: copy the next blank-separated word at ES:BX to DS:DI (NUL-terminated)
word_to_di:
.blanks:
        cmp     byte [es:bx], ' '
        jne     .copy
        inc     bx
        jmp     .blanks
.copy:
        mov     al, [es:bx]
        cmp     al, ' '
        je      .end
        test    al, al
        jz      .end
        mov     [di], al
        inc     di
        inc     bx
        jmp     .copy
.end:
        mov     byte [di], 0
        ret

%include "lib.inc"
