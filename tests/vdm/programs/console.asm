; console.com: the character functions, reading standard input (the test types
; "ab" + "cde" + Enter + "xyz" + Enter and then nothing more).
%include "report.inc"
main:
        say "0B status"
        mov ah, 0Bh
        int 21h
        xor ah, ah
        call report
        say "01 echo: "
        mov ah, 01h
        int 21h
        xor ah, ah
        call report                 ; 'a' was echoed before the report
        say "08 quiet"
        mov ah, 08h
        int 21h
        xor ah, ah
        call report                 ; 'b', not echoed
        say "06 read"
        mov dl, 0FFh
        mov ah, 06h
        int 21h
        lahf                        ; ZF clear: a key was there
        and ah, 40h
        call report
        say "02 out"
        mov dl, '*'
        mov ah, 02h
        int 21h
        call report                 ; AL = '*'
        say "0A line: "
        mov dx, line
        mov ah, 0Ah
        int 21h
        mov al, [line + 1]          ; how many were read
        xor ah, ah
        call report
        say "07 raw"
        mov ah, 07h
        int 21h
        xor ah, ah
        call report                 ; 'x'
        say "0C flush+01: "
        mov ax, 0C01h               ; the keys typed ahead ("yz", Enter) are dropped...
        int 21h
        xor ah, ah
        call report                 ; ... so this reads the end of input: 1Ah
        say "06 none"
        mov dl, 0FFh
        mov ah, 06h
        int 21h
        lahf
        and ah, 40h                 ; ZF set: nothing waiting
        call report
        say "09 dollar$"            ; (say itself is AH=09h: the '$' ends the label)
        call newline
        mov ax, 4C00h
        int 21h
line    db 10, 0
        times 10 db 0
