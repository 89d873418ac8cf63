; multiseg: two code segments and a data segment. The first calls a routine in the
; second with far calls (each a 16:16-pointer fixup; the loader patches all of them
; through one chained relocation record), loads the data segment's selector (a
; selector fixup), and reads values the loader computed: an additive offset, the low
; byte of an offset, and a far pointer stored in data. It imports DosWrite by name.
%include "os2.inc"
NAME 'MULTISEG'
MODULE 'DOSCALLS'
%define DOSCALLS 1
%define DATASEG seg3
PROGRAM 1, start, 3, 0, 3, 0, 0x1000

SEGMENT 3, DATA
banner:         db "multiseg: "
banner_length   equ $ - banner
calls:          dw 0
additive:       OFFSETADD 2, routine, 0x100   ; 0x100 + routine's offset in segment 2
low:            LOWBYTE 2, routine            ; the low byte of routine's offset
pointer:        FARPTR 2, routine             ; 2's selector : routine
LIBDATA

SEGMENT 1, CODE
start:
        CALLSEG 2, routine              ; three far calls to one target: one chained record
        CALLSEG 2, routine
        CALLSEG 2, routine
        call    far [pointer]           ; and one through the far pointer in data
        LOADSEG ax, 3                   ; the data segment's selector, from a fixup
        mov     bx, ds
        cmp     ax, bx
        jne     wrong
        WRITES  "calls "
        mov     ax, [calls]
        call    write_dec
        WRITES  ", additive "
        mov     ax, [additive]
        sub     ax, 0x100
        call    write_hex
        WRITES  ", low byte "
        xor     ax, ax
        mov     al, [low]
        call    write_hex
        WRITES  ", routine at "
        mov     ax, [pointer + 2]
        call    write_hex
        WRITES  ":"
        mov     ax, [pointer]
        call    write_hex
        call    newline
        push    1
        push    0
        IMPORT  DOSCALLS, 5
wrong:
        push    1
        push    1
        IMPORT  DOSCALLS, 5

%include "lib.inc"

SEGMENT 2, CODE
        times 0x34 db 0x90              ; so the routine is not at offset 0
routine:                                ; a far routine: count the call, write the banner
        inc     word [calls]
        push    1                       ; DosWrite, imported by name
        push    ds
        push    banner
        push    banner_length
        push    ds
        push    written
        IMPORTN DOSCALLS, 'DOSWRITE'
        retf
