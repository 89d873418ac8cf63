; parent.com: runs child.com with EXEC (4B00h) and prints the exit code it got back
; (4Dh). A COM program owns all free memory when it starts, so it first gives back what
; it does not need (4Ah); the child is loaded into the memory freed.
        org 100h
        mov sp, stack_top           ; a small stack inside the program
        mov bx, (program_end - $$ + 100h + 15) / 16
        mov ah, 4Ah                 ; resize our block (ES = our PSP) to BX paragraphs
        int 21h
        jc .failed
        mov [block + 4], cs         ; the parameter block's far pointers: our segment
        mov [block + 8], cs
        mov [block + 12], cs
        mov dx, child
        mov bx, block               ; ES:BX = the parameter block
        mov ax, 4B00h
        int 21h
        jc .failed
        mov ah, 4Dh                 ; AL = the child's exit code, AH = how it ended
        int 21h
        push ax
        mov dx, result
        mov ah, 09h
        int 21h
        pop ax
        xor ah, ah
        mov bl, 10
        div bl                      ; two digits are enough here
        add ax, '00'
        push ax
        mov dl, al
        mov ah, 02h
        int 21h
        pop ax
        mov dl, ah
        mov ah, 02h
        int 21h
        mov dx, crlf
        mov ah, 09h
        int 21h
        mov ax, 4C00h
        int 21h
.failed:
        push ax
        mov dx, failed
        mov ah, 09h
        int 21h
        pop ax
        add al, '0'
        mov dl, al
        mov ah, 02h
        int 21h
        mov ax, 4C01h
        int 21h

child   db "CHILD.COM", 0
tail    db 12, " hello there", 13
block   dw 0                        ; the environment: a copy of ours
        dw tail, 0                  ; the command tail (segment filled in)
        dw 5Ch, 0                   ; FCB 1 and FCB 2: ours
        dw 6Ch, 0
result  db "parent: the child exited with code $"
failed  db "parent: EXEC failed, DOS error $"
crlf    db 13, 10, "$"
        align 2
        times 128 dw 0
stack_top:
program_end:
