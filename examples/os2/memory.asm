; memory: DosAllocSeg a 100-byte segment, fill it through ES, DosWrite from it, grow it
; with DosReallocSeg (the new bytes are usable), DosFreeSeg it. Then load the freed
; selector: the processor refuses it (#GP) and the program ends with SYS3175.
%include "os2.inc"
NAME 'MEMORY'
MODULE 'DOSCALLS'
%define DOSCALLS 1
%define DATASEG seg2
PROGRAM 1, start, 2, 0, 2, 0, 0x1000

SEGMENT 2, DATA
selector:       dw 0
text:           db "written from a DosAllocSeg segment", 13, 10
text_length     equ $ - text
LIBDATA

SEGMENT 1, CODE
start:
        push    100                     ; DosAllocSeg(100, &selector, SEG_NONSHARED)
        push    ds
        push    selector
        push    0
        IMPORT  DOSCALLS, 34
        test    ax, ax
        jnz     failed
        WRITES  "allocated selector "
        mov     ax, [selector]
        call    write_hex
        call    newline
        mov     es, [selector]          ; copy the text into the new segment
        mov     si, text
        xor     di, di
        mov     cx, text_length
        rep movsb
        push    1                       ; DosWrite(1, selector:0, length, &written)
        push    word [selector]
        push    0
        push    text_length
        push    ds
        push    written
        IMPORT  DOSCALLS, 138
        push    8000                    ; DosReallocSeg(8000, selector)
        push    word [selector]
        IMPORT  DOSCALLS, 38
        test    ax, ax
        jnz     failed
        mov     es, [selector]          ; (reload: ES keeps the old limit until then)
        mov     word [es:7998], 0x4B4F  ; "OK" at the new end
        mov     ax, [es:7998]
        cmp     ax, 0x4B4F
        jne     failed
        WRITES  {"grew to 8000 bytes", 13, 10}
        push    word [selector]         ; DosFreeSeg(selector)
        IMPORT  DOSCALLS, 39
        test    ax, ax
        jnz     failed
        WRITES  {"freed; loading the selector again", 13, 10}
        xor     ax, ax
        mov     es, ax
        mov     es, [selector]          ; #GP: the LDT entry is gone
        push    1
        push    0
        IMPORT  DOSCALLS, 5

failed:
        push    1
        push    ax
        IMPORT  DOSCALLS, 5

%include "lib.inc"
