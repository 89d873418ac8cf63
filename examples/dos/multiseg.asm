; multiseg.exe: an MZ executable of three segments (code, far code, data) whose segment
; numbers the loader fixes up (relocations): the entry point, a far call, a far pointer
; kept in the data segment and called through, and the stack, all relative to wherever
; DOS loaded the program. Exit code 7.
;
; nasm -f bin has no MZ output, so the header is written here by hand: the same fields
; `ntsim info multiseg.exe` shows. Each segment starts on a paragraph; an address in a
; segment is written as its distance from the segment's start.

        bits 16
HEADER_SIZE equ 64
%define PARA(base) ((base - file) - HEADER_SIZE) / 16
%define IN_CODE(label) (label - code_base)
%define IN_FAR(label) (label - far_base)
%define IN_DATA(label) (label - data_base)

file:
        db "MZ"
        dw (file_end - file) % 512        ; e_cblp: bytes in the last page
        dw ((file_end - file) + 511) / 512   ; e_cp: pages
        dw (relocations_end - relocations) / 4   ; e_crlc
        dw HEADER_SIZE / 16               ; e_cparhdr
        dw 0x0020                         ; e_minalloc: the stack (512 bytes)
        dw 0xFFFF                         ; e_maxalloc
        dw PARA(stack_base)               ; e_ss
        dw 0x0200                         ; e_sp
        dw 0                              ; e_csum
        dw IN_CODE(start)                 ; e_ip
        dw PARA(code_base)                ; e_cs
        dw relocations - file             ; e_lfarlc
        dw 0                              ; e_ovno
relocations:                              ; (offset, segment) of each word to fix up
        dw IN_CODE(fix_data) + 1, PARA(code_base)     ; mov ax, data segment
        dw IN_CODE(fix_call) + 3, PARA(code_base)     ; call far segment:greet
        dw IN_DATA(far_pointer) + 2, PARA(data_base)  ; dd far segment:add_numbers
relocations_end:
        times HEADER_SIZE - ($ - file) db 0

code_base:
start:
fix_data:
        mov ax, PARA(data_base)           ; the data segment, relocated
        mov ds, ax
        mov dx, IN_DATA(hello)
        mov ah, 09h
        int 21h
fix_call:
        call PARA(far_base):IN_FAR(greet) ; a far call into the other code segment
        mov ax, 30
        mov bx, 12
        call far [IN_DATA(far_pointer)]   ; ... and one through a far pointer in the data
        mov si, IN_DATA(number_end)       ; AX = 42: print it in decimal
        mov cx, 10
.digit: xor dx, dx
        div cx
        add dl, '0'
        dec si
        mov [si], dl
        test ax, ax
        jnz .digit
        mov dx, si
        mov ah, 09h
        int 21h
        mov ax, 4C07h
        int 21h

        align 16, db 0
far_base:
greet:                                    ; far procedure: DS is still the data segment
        mov dx, IN_DATA(from_far)
        mov ah, 09h
        int 21h
        retf
add_numbers:                              ; far procedure: AX = AX + BX
        add ax, bx
        retf

        align 16, db 0
data_base:
hello       db "multiseg: started in the code segment", 13, 10, "$"
from_far    db "multiseg: hello from the far segment", 13, 10, "$"
far_pointer dw IN_FAR(add_numbers), PARA(far_base)
            db "00000"
number_end  db 13, 10, "$"
        align 16, db 0
file_end:
stack_base:                               ; (not in the file: e_minalloc's paragraphs)
