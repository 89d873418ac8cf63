; hellovio: VioWrtTTY (VIOCALLS.19) between two DosWrite lines, then the screen's mode
; (VioGetMode) and the cursor (VioGetCurPos) written out: all one console, in order.
%include "os2.inc"
NAME 'HELLOVIO'
MODULE 'DOSCALLS'
MODULE 'VIOCALLS'
%define DOSCALLS 1
%define VIOCALLS 2
%define DATASEG seg2
PROGRAM 1, start, 2, 0, 2, 0, 0x1000

SEGMENT 2, DATA
vio_text:       db "Hello from VioWrtTTY", 13, 10
vio_length      equ $ - vio_text
mode:           dw 12                   ; VIOMODEINFO.cb: ask for all 12 bytes
                times 10 db 0
row:            dw 0
column:         dw 0
LIBDATA

SEGMENT 1, CODE
start:
        WRITES  {"DosWrite first", 13, 10}
        push    ds                      ; VioWrtTTY(pchString, cbString, hvio 0)
        push    vio_text
        push    vio_length
        push    0
        IMPORT  VIOCALLS, 19
        WRITES  {"DosWrite after", 13, 10}
        push    ds                      ; VioGetMode(pviomi, hvio)
        push    mode
        push    0
        IMPORT  VIOCALLS, 21
        WRITES  "mode "
        mov     ax, [mode + 4]          ; columns
        call    write_dec
        WRITES  "x"
        mov     ax, [mode + 6]          ; rows
        call    write_dec
        call    newline
        push    ds                      ; VioGetCurPos(pusRow, pusColumn, hvio)
        push    row
        push    ds
        push    column
        push    0
        IMPORT  VIOCALLS, 9
        WRITES  "cursor row "
        mov     ax, [row]
        call    write_dec
        WRITES  " column "
        mov     ax, [column]
        call    write_dec
        call    newline
        push    1
        push    0
        IMPORT  DOSCALLS, 5

%include "lib.inc"
