; copy.com SOURCE TARGET: copies a file with DOS handles (3Dh open, 3Ch create, 3Fh read,
; 40h write, 3Eh close). The names come from the command tail at PSP:0081h. On an error
; it prints the DOS error code and exits with 1.
        org 100h
        cld
        mov si, 81h                 ; the command tail: " SOURCE TARGET", CR
        call next_word
        jc usage
        mov [source], di
        call next_word
        jc usage
        mov [target], di

        mov dx, [source]            ; open the source for reading
        mov ax, 3D00h
        int 21h
        jc .open_failed
        mov [input], ax
        mov dx, [target]            ; create (or truncate) the target
        xor cx, cx
        mov ah, 3Ch
        int 21h
        jc .create_failed
        mov [output], ax
.copy:  mov bx, [input]             ; read up to 512 bytes...
        mov cx, 512
        mov dx, buffer
        mov ah, 3Fh
        int 21h
        jc .io_failed
        test ax, ax                 ; 0 bytes: the end of the source
        jz .done
        mov cx, ax                  ; ... and write what was read
        mov bx, [output]
        mov ah, 40h
        int 21h
        jc .io_failed
        add [total], ax
        jmp .copy
.done:  mov bx, [input]
        mov ah, 3Eh
        int 21h
        mov bx, [output]
        mov ah, 3Eh
        int 21h
        mov ax, [total]
        call print_decimal
        mov dx, copied
        mov ah, 09h
        int 21h
        mov ax, 4C00h
        int 21h
.open_failed:
        mov dx, cannot_open
        jmp fail
.create_failed:
        mov dx, cannot_create
        jmp fail
.io_failed:
        mov dx, io_error
fail:   push ax
        mov ah, 09h
        int 21h
        pop ax
        call print_decimal
        mov dx, crlf
        mov ah, 09h
        int 21h
        mov ax, 4C01h
        int 21h
usage:  mov dx, usage_text
        mov ah, 09h
        int 21h
        mov ax, 4C02h
        int 21h

; next_word: skip blanks at SI, then make the word there ASCIZ (its end, a blank or the
; tail's CR, becomes a 0, which also ends the tail for the next call); DI = its start,
; CF set if there is none
next_word:
.skip:  lodsb
        cmp al, ' '
        je .skip
        cmp al, 13
        je .none
        test al, al
        jz .none
        lea di, [si - 1]
.scan:  lodsb
        cmp al, ' '
        je .end
        test al, al
        jz .end
        cmp al, 13
        jne .scan
.end:   mov byte [si - 1], 0
        clc
        ret
.none:  dec si
        stc
        ret

; print_decimal: AX in decimal
print_decimal:
        mov bx, 10
        xor cx, cx
.divide:
        xor dx, dx
        div bx
        push dx
        inc cx
        test ax, ax
        jnz .divide
.print: pop dx
        add dl, '0'
        mov ah, 02h
        int 21h
        loop .print
        ret

source  dw 0
target  dw 0
input   dw 0
output  dw 0
total   dw 0
copied        db " bytes copied", 13, 10, "$"
cannot_open   db "copy: cannot open the source, DOS error $"
cannot_create db "copy: cannot create the target, DOS error $"
io_error      db "copy: read or write failed, DOS error $"
usage_text    db "usage: copy SOURCE TARGET", 13, 10, "$"
crlf          db 13, 10, "$"
buffer:
