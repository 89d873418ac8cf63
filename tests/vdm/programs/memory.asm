; memory.com: the MCB chain: allocate, free, resize, strategy, and walking the chain.
%include "report.inc"
main:
        mov sp, stack_top
        say "4A shrink"
        mov bx, 1000h / 16          ; keep 4 KiB
        mov ah, 4Ah
        int 21h
        mov ax, 0
        call report
        say "48 alloc"
        mov bx, 100h
        mov ah, 48h
        int 21h
        mov [block], ax
        mov ax, cs
        add ax, 1000h / 16 + 1      ; right after us (and its MCB)
        sub ax, [block]
        call report                 ; 0: first fit put it there
        say "48 too much"
        mov bx, 0FFFFh
        mov ah, 48h
        int 21h
        call report
        say " largest "
        mov ax, bx
        call hex16
        call newline
        say "49 free"
        mov es, [block]
        mov ah, 49h
        int 21h
        mov ax, 0
        call report
        say "49 again"
        mov es, [block]
        mov ah, 49h
        int 21h
        call report
        say "4A grow"
        push cs
        pop es
        mov bx, 0FFFFh
        mov ah, 4Ah
        int 21h
        call report
        say "58 get"
        mov ax, 5800h
        int 21h
        call report
        say "58 last fit"
        mov ax, 5801h
        mov bx, 2
        int 21h
        mov ax, 5800h
        int 21h
        call report
        say "48 last fit"
        mov bx, 10h
        mov ah, 48h
        int 21h
        add ax, 10h                 ; the block ends at the end of memory: A000h
        call report
        mov ax, 5801h
        xor bx, bx
        int 21h
        say "58 bad"
        mov ax, 5801h
        mov bx, 7
        int 21h
        call report
        say "52 chain "             ; walk the MCBs from the List of Lists
        mov ah, 52h
        int 21h
        mov ax, [es:bx - 2]
        xor cx, cx
.walk:  mov es, ax
        inc cx
        cmp byte [es:0], 'Z'
        je .last
        cmp byte [es:0], 'M'
        jne .broken
        add ax, [es:3]
        inc ax
        jmp .walk
.last:  add ax, [es:3]
        inc ax
        call hex16                  ; where the chain ends
        say " blocks "
        mov ax, cx
        call hex16
        call newline
        say "break it"              ; a program that overwrites an MCB breaks the chain
        mov ax, cs
        dec ax
        mov es, ax
        mov byte [es:0], 'X'
        mov bx, 10h
        mov ah, 48h
        int 21h
        call report
        mov byte [es:0], 'M'
        mov ax, 4C00h
        int 21h
.broken:
        say "broken chain"
        mov ax, 4C01h
        int 21h

block   dw 0
        times 64 dw 0
stack_top:
