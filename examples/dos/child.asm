; child.com: prints its command tail and ends with exit code 42 (parent.com runs it).
        org 100h
        mov dx, says
        mov ah, 09h
        int 21h
        mov cl, [80h]               ; the tail's length, then the tail (DS = the PSP)
        xor ch, ch
        mov si, 81h
        jcxz .done
.char:  lodsb
        mov dl, al
        mov ah, 02h
        int 21h
        loop .char
.done:  mov dx, crlf
        mov ah, 09h
        int 21h
        mov ax, 4C2Ah               ; exit code 42
        int 21h
says    db "child: my command tail is:$"
crlf    db 13, 10, "$"
