; bios.com: the BIOS services (the test types "k" and then nothing more).
        cpu 386
%include "report.inc"
main:
        say "11 equipment"
        int 11h
        call report
        say "12 memory"
        int 12h
        call report
        say "13 disk"
        mov ah, 02h
        int 13h
        call report
        say "15 88"
        mov ah, 88h
        int 15h
        call report
        say "15 C0"
        mov ah, 0C0h
        int 15h
        call report
        say "1A 00"
        xor ah, ah
        int 1Ah
        mov ax, cx                  ; ticks since midnight: the high word is < 18h
        cmp ax, 18h
        setb al
        xor ah, ah
        call report
        say "1A 04"
        mov ah, 04h
        int 1Ah
        mov ax, cx                  ; century and year, BCD: 19xx or 20xx
        shr ax, 8
        call report
        say "10 0F"
        mov ah, 0Fh
        int 10h
        call report                 ; AL=03h (80x25 colour), AH=80 columns
        say "10 02/03"
        mov ah, 02h
        xor bh, bh
        mov dx, 0A05h               ; row 10, column 5
        int 10h
        mov ah, 03h
        int 10h
        mov ax, dx
        call report
        mov ah, 02h                 ; write a cell at row 12, column 0 and read it back
        mov dx, 0C00h
        int 10h
        mov ax, 0941h               ; 'A'
        mov bx, 004Eh               ; yellow on red
        mov cx, 3
        int 10h
        mov ah, 08h
        int 10h
        say "10 09/08"
        call report
        push es                     ; and it is in video memory
        mov ax, 0B800h
        mov es, ax
        mov ax, [es:(12 * 80 + 2) * 2]
        pop es
        say "b800"
        call report
        say "16 01"
        mov ah, 01h
        int 16h
        lahf
        and ah, 40h                 ; ZF clear: "k" is waiting
        call report
        say "16 00"
        xor ah, ah
        int 16h
        call report                 ; AH scan 25h, AL 'k'
        say "16 02"
        mov ah, 02h
        int 16h
        xor ah, ah
        call report
        say "33 mouse"
        xor ax, ax
        int 33h
        call report
        say "67 ems"
        mov ah, 40h
        int 67h
        call report
        say "2F check"
        mov ax, 1600h
        int 2Fh
        call report
        say "port 70/71"
        mov al, 0Bh                 ; CMOS status B: 24-hour, BCD
        out 70h, al
        in al, 71h
        xor ah, ah
        call report
        say "port 64"
        in al, 64h
        xor ah, ah
        call report
        say "bda cols"
        push es
        mov ax, 40h
        mov es, ax
        mov ax, [es:4Ah]
        pop es
        call report
        mov ax, 4C00h
        int 21h
