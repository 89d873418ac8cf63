; clock.com: the timer of a program that never asks for it. It first computes with no
; INT at all (the VM then runs it uncounted, with no timer armed), then either
;   CLOCK P  waits twice for the BIOS tick count to move, reading it from memory only
;            (Turbo Pascal's Delay calibration), or
;   CLOCK H  hooks INT 1Ch by writing the vector table itself (no INT 21h AH=25h) and
;            waits, without a single INT, until its handler has run three times.
        cpu 386
        org 100h
        mov ecx, 3000000
.spin:  dec ecx                     ; no INT, no port, no page 0: nothing observes the clock
        jnz .spin
        cmp byte [82h], 'H'
        je hook
        xor ax, ax
        mov es, ax
        mov ax, [es:46Ch]
.tick1: cmp ax, [es:46Ch]
        je .tick1
        mov ax, [es:46Ch]
.tick2: cmp ax, [es:46Ch]
        je .tick2
        mov dx, ticked
        jmp done
hook:   mov ax, 351Ch               ; the old vector (a natural stop: page 0 is watched after it)
        int 21h
        mov [old1c], bx
        mov [old1c + 2], es
        xor ax, ax
        mov es, ax
        cli
        mov word [es:1Ch * 4], handler
        mov [es:1Ch * 4 + 2], cs
        sti
.wait:  cmp byte [count], 3
        jb .wait
        cli
        mov ax, [old1c]
        mov [es:1Ch * 4], ax
        mov ax, [old1c + 2]
        mov [es:1Ch * 4 + 2], ax
        sti
        mov dx, hooked
done:   mov ah, 09h
        int 21h
        mov ax, 4C00h
        int 21h
handler:
        inc byte [cs:count]
        iret
old1c   dd 0
count   db 0
hooked  db "INT 1Ch ran 3 times", 13, 10, "$"
ticked  db "the BIOS tick count moved twice", 13, 10, "$"
