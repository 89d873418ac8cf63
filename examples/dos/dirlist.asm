; dirlist.com [PATTERN]: lists a directory as DIR does: find first (4Eh) and find next
; (4Fh) through the DTA (1Ah), directories marked <DIR>, sizes in decimal computed with
; the 386's 32-bit registers (operand-size prefixes in 16-bit code), then a count.
        cpu 386
        org 100h
        mov dx, dta                 ; our own DTA, not the PSP's command tail
        mov ah, 1Ah
        int 21h
        mov si, 81h                 ; a pattern on the command line, else *.*
.skip:  lodsb
        cmp al, ' '
        je .skip
        cmp al, 13
        je .default
        lea dx, [si - 1]
.scan:  lodsb
        cmp al, 13
        je .terminate
        cmp al, ' '
        jne .scan
.terminate:
        mov byte [si - 1], 0
        jmp .search
.default:
        mov dx, all_files
.search:
        mov cx, 10h                 ; directories too
        mov ah, 4Eh
        int 21h
        jc .none
.entry: mov si, dta + 1Eh           ; the name found, ASCIZ
        xor cx, cx
.name:  lodsb
        test al, al
        jz .pad
        mov dl, al
        mov ah, 02h
        int 21h
        inc cx
        jmp .name
.pad:   mov dl, ' '
        mov ah, 02h
        int 21h
        inc cx
        cmp cx, 14
        jb .pad
        test byte [dta + 15h], 10h  ; the attribute: a directory?
        jz .file
        mov dx, dir_mark
        mov ah, 09h
        int 21h
        jmp .next
.file:  mov eax, [dta + 1Ah]        ; the 32-bit size
        call print_decimal32
        mov dx, crlf
        mov ah, 09h
        int 21h
.next:  inc word [count]
        mov ah, 4Fh
        int 21h
        jnc .entry
        movzx eax, word [count]
        call print_decimal32
        mov dx, entries
        mov ah, 09h
        int 21h
        mov ax, 4C00h
        int 21h
.none:  mov dx, nothing
        mov ah, 09h
        int 21h
        mov ax, 4C01h
        int 21h

; print_decimal32: EAX in decimal
print_decimal32:
        mov ebx, 10
        xor cx, cx
.divide:
        xor edx, edx
        div ebx
        push dx
        inc cx
        test eax, eax
        jnz .divide
.print: pop dx
        add dl, '0'
        mov ah, 02h
        int 21h
        loop .print
        ret

all_files db "*.*", 0
dir_mark  db "<DIR>", 13, 10, "$"
entries   db " entries", 13, 10, "$"
nothing   db "no files", 13, 10, "$"
crlf      db 13, 10, "$"
count     dw 0
dta       times 43 db 0
