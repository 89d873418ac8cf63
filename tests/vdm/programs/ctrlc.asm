; ctrlc.com: the console's Ctrl+C under DOS (tests/e2e/test_e2e_dos_ctrlc.py).
; The command tail picks what happens at Ctrl+C:
;   (none)  DOS's own INT 23h: the program ends (return code 0, termination type 1)
;   c       its INT 23h handler prints a line and IRETs: the loop goes on, and once the
;           handler has run the program exits with code 7
;   s       its handler prints a line and RETFs with CF set: DOS ends the program
;   p       runs C:\CTRLC.COM (no tail) as a child and exits with AH=4Dh's AH (the type)
; It prints "ready", then polls the keyboard with AH=0Bh, a console function, at which
; DOS checks for Ctrl+C.
org 100h
        mov al, [82h]                   ; first character after the tail's space
        mov [mode], al
        cmp al, 'p'
        je parent
        cmp al, 'c'
        je hook
        cmp al, 's'
        jne ready
hook:   mov ax, 2523h                   ; set INT 23h to our handler
        mov dx, handler
        int 21h
ready:  mov ah, 09h
        mov dx, msg_ready
        int 21h
poll:   mov ah, 0Bh                     ; input status: a console function
        int 21h
        cmp byte [handled], 0
        je poll
        mov ah, 09h
        mov dx, msg_after
        int 21h
        mov ax, 4C07h
        int 21h

handler:                                ; DOS issues the interrupted call again with
        push ax                         ; the registers the handler returns: keep them
        push dx
        mov ah, 09h
        mov dx, msg_handler
        int 21h
        mov byte [handled], 1
        pop dx
        pop ax
        cmp byte [mode], 's'
        je .stop
        iret                            ; go on
.stop:  stc
        retf                            ; CF set: DOS ends the program

parent: mov sp, stack_top
        mov ah, 4Ah                     ; give back the memory past the program
        mov bx, (stack_top - $$ + 100h + 15) / 16
        int 21h
        mov [block + 4], cs             ; the command tail's and FCBs' segment
        mov [block + 8], cs
        mov [block + 12], cs
        mov ax, 4B00h
        mov dx, child
        mov bx, block
        int 21h
        jc .failed
        mov ah, 4Dh
        int 21h
        mov [code], ax
        mov ah, 09h
        mov dx, msg_child
        int 21h
        mov al, [code + 1]              ; AH: how the child ended, as two hex digits
        call hex
        mov al, [code]
        call hex
        mov ah, 09h
        mov dx, crlf
        int 21h
        mov al, [code + 1]
        mov ah, 4Ch
        int 21h
.failed:
        mov ax, 4C63h
        int 21h

hex:    push ax                         ; AL as two hex digits
        shr al, 4
        call .digit
        pop ax
        and al, 0Fh
.digit: add al, '0'
        cmp al, '9'
        jbe .out
        add al, 7
.out:   mov dl, al
        mov ah, 02h
        int 21h
        ret

mode    db 0
handled db 0
code    dw 0
msg_ready   db "ready", 13, 10, "$"
msg_handler db "ctrlc: INT 23h handler ran", 13, 10, "$"
msg_after   db "ctrlc: went on after Ctrl+C", 13, 10, "$"
msg_child   db "ctrlc: child ended, AX from 4Dh = $"
crlf        db 13, 10, "$"
child       db "C:\CTRLC.COM", 0
tail        db 0, 13
block   dw 0                            ; environment: the parent's
        dw tail, 0                      ; command tail (segment filled in)
        dw 5Ch, 0, 6Ch, 0               ; FCBs (segments filled in)
        times 256 db 0
stack_top:
