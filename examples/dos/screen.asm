; screen.com: draws a box straight into colour text video memory at B800:0000 (each cell
; a character and an attribute byte), then puts the cursor under it with INT 10h AH=02h.
; Nothing goes through DOS: `ntsim run --screen` shows what the machine's screen holds.
        org 100h
        mov ax, 0B800h
        mov es, ax
        ; the top and bottom edges: row 2 and row 6, columns 10..49
        mov di, (2 * 80 + 10) * 2
        mov ax, 1FC9h               ; attribute 1Fh (white on blue), character C9h
        stosw
        mov al, 0CDh
        mov cx, 38
        rep stosw
        mov al, 0BBh
        stosw
        mov di, (6 * 80 + 10) * 2
        mov al, 0C8h
        stosw
        mov al, 0CDh
        mov cx, 38
        rep stosw
        mov al, 0BCh
        stosw
        ; the sides and the inside: rows 3..5
        mov bx, 3
.row:   mov ax, bx
        imul di, ax, 80
        add di, 10
        shl di, 1
        mov ax, 1FBAh
        stosw
        mov al, ' '
        mov cx, 38
        rep stosw
        mov al, 0BAh
        stosw
        inc bx
        cmp bx, 6
        jb .row
        ; the title, centred on row 4: characters only, the attribute stays
        mov si, title
        mov di, (4 * 80 + 10 + 1 + (38 - title_length) / 2) * 2
.title: lodsb
        test al, al
        jz .cursor
        stosb
        inc di
        jmp .title
.cursor:
        mov ah, 02h                 ; the cursor to row 8, column 0
        xor bh, bh
        mov dx, 0800h
        int 10h
        mov ax, 4C00h
        int 21h
title   db "Drawn in video memory"
title_length equ $ - title
        db 0
