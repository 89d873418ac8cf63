; hello.com: the smallest DOS program that talks. INT 21h AH=09h writes a '$'-terminated
; string to standard output; AH=4Ch ends the program with an exit code (AL).
        org 100h
        mov dx, message
        mov ah, 09h
        int 21h
        mov ax, 4C00h
        int 21h
message db "Hello from DOS!", 13, 10, "$"
