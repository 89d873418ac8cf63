; dir [PATTERN]: list the names that match (default *.*) with DosFindFirst/DosFindNext,
; one entry at a time, then DosFindClose. Directories get a trailing backslash.
%include "os2.inc"
NAME 'DIR'
MODULE 'DOSCALLS'
%define DOSCALLS 1
%define DATASEG seg2
PROGRAM 1, start, 2, 0, 2, 0, 0x1000

SEGMENT 2, DATA
pattern:        db "*.*", 0
                times 124 db 0
hdir:           dw 0xFFFF               ; HDIR_CREATE: a new search handle
count:          dw 1
findbuf:        times 300 db 0          ; FILEFINDBUF: dates, sizes, attrFile (20), cchName (22), achName (23)
files:          dw 0
LIBDATA

SEGMENT 1, CODE
start:
        mov     es, ax                  ; the command line: skip the program name
.skip:  cmp     byte [es:bx], 0
        je      .args
        inc     bx
        jmp     .skip
.args:  inc     bx
        cmp     byte [es:bx], 0
        je      .find
        mov     di, pattern
.copy:  mov     al, [es:bx]
        mov     [di], al
        inc     di
        inc     bx
        test    al, al
        jnz     .copy
.find:
        push    ds                      ; DosFindFirst(pattern, &hdir, FILE_DIRECTORY,
        push    pattern                 ;   findbuf, sizeof findbuf, &count, 0)
        push    ds
        push    hdir
        push    0x0010
        push    ds
        push    findbuf
        push    300
        push    ds
        push    count
        push    0
        push    0
        IMPORT  DOSCALLS, 64
.entry:
        test    ax, ax
        jnz     .end
        inc     word [files]
        mov     dx, findbuf + 23        ; achName
        xor     cx, cx
        mov     cl, [findbuf + 22]      ; cchName
        call    write
        test    byte [findbuf + 20], 0x10
        jz      .plain
        WRITES  "\"
.plain: call    newline
        mov     word [count], 1
        push    word [hdir]             ; DosFindNext(hdir, findbuf, sizeof findbuf, &count)
        push    ds
        push    findbuf
        push    300
        push    ds
        push    count
        IMPORT  DOSCALLS, 65
        jmp     .entry
.end:
        push    ax
        push    word [hdir]
        IMPORT  DOSCALLS, 63            ; DosFindClose
        mov     ax, [files]
        call    write_dec
        WRITES  {" file(s), last error "}
        pop     ax
        call    write_dec               ; 18: ERROR_NO_MORE_FILES
        call    newline
        push    1
        push    0
        IMPORT  DOSCALLS, 5

%include "lib.inc"
