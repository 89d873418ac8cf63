; hook21.com: hooks INT 21h the way TSRs do. It reads the old vector (35h), points the
; vector at its own handler (25h), and the handler passes every call on to the old one:
; AH=09h by calling it (PUSHF; CALL FAR) and counting after it returns, every other
; function by jumping to it (JMP FAR). Then it puts the old vector back and prints
; how many AH=09h calls went through its hook.
        org 100h
        mov ax, 3521h               ; the old vector: ES:BX
        int 21h
        mov [old21], bx
        mov [old21 + 2], es
        mov dx, handler             ; the new one: DS:DX
        mov ax, 2521h
        int 21h

        mov dx, line1
        mov ah, 09h
        int 21h
        mov dx, line2
        mov ah, 09h
        int 21h
        mov dl, '!'                 ; AH=02h goes through the hook too (JMP FAR)
        mov ah, 02h
        int 21h
        mov dx, crlf
        mov ah, 09h
        int 21h

        push ds                     ; unhook: the old vector back
        lds dx, [old21]
        mov ax, 2521h
        int 21h
        pop ds
        mov dx, line3               ; this one is not counted
        mov ah, 09h
        int 21h

        mov dx, counted
        mov ah, 09h
        int 21h
        mov dl, [cs:count]
        add dl, '0'
        mov ah, 02h
        int 21h
        mov dx, crlf
        mov ah, 09h
        int 21h
        mov ax, 4C00h
        int 21h

handler:
        cmp ah, 09h
        jne .chain
        pushf                       ; call the old handler as INT would, and come back
        call far [cs:old21]
        inc byte [cs:count]
        retf 2                      ; return keeping the flags it set (IRET would not)
.chain: jmp far [cs:old21]          ; everything else: the old handler returns for us

old21   dd 0
count   db 0
line1   db "first line, through the hook", 13, 10, "$"
line2   db "second line, through the hook", 13, 10, "$"
line3   db "third line, after unhooking", 13, 10, "$"
counted db "AH=09h calls seen by the hook: $"
crlf    db 13, 10, "$"
