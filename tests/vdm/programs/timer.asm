; timer.com: the VM's clock interrupt. It hooks INT 1Ch (the BIOS calls it from IRQ 0,
; 18.2 times a second) and waits, without a single INT, until its handler has run three
; times; then it waits for the tick count in the BIOS data area to move, again polling
; memory only (as Turbo Pascal's CRT unit calibrates its Delay).
        org 100h
        mov ax, 351Ch
        int 21h
        mov [old1c], bx
        mov [old1c + 2], es
        mov dx, handler
        mov ax, 251Ch
        int 21h
.wait:  cmp byte [count], 3         ; no INT here: only the timer can end this loop
        jb .wait
        push ds
        lds dx, [old1c]             ; unhook
        mov ax, 251Ch
        int 21h
        pop ds
        mov dx, hooked
        mov ah, 09h
        int 21h
        push ds
        mov ax, 40h
        mov ds, ax
        mov ax, [6Ch]
.tick:  cmp ax, [6Ch]               ; the BIOS tick count, in memory
        je .tick
        pop ds
        mov dx, ticked
        mov ah, 09h
        int 21h
        mov ax, 4C00h
        int 21h
handler:
        inc byte [cs:count]
        iret
old1c   dd 0
count   db 0
hooked  db "INT 1Ch ran 3 times", 13, 10, "$"
ticked  db "the BIOS tick count moved", 13, 10, "$"
