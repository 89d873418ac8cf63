; video.com: INT 10h drawing on the screen (the test reads it back with --screen), and
; the odd ends: INT 16h's enhanced functions, INT 1Ah's RTC time, IOCTL 01h, AH=50h,
; and INT 27h (stay resident) to end.
%include "report.inc"
main:
        mov ax, 0003h               ; 00h: mode 3, the screen cleared
        int 10h
        mov ah, 01h                 ; 01h: a block cursor
        mov cx, 0007h
        int 10h
        mov ax, 0500h               ; 05h: page 0
        int 10h
        mov ax, 1301h               ; 13h: "STRING" at row 3, column 10, attribute 1Eh
        mov bx, 001Eh
        mov cx, 6
        mov dx, 030Ah
        push cs
        pop es
        mov bp, string
        int 10h
        mov ah, 02h                 ; 0Ah: five '#' at row 5, column 0
        xor bh, bh
        mov dx, 0500h
        int 10h
        mov ax, 0A23h
        mov cx, 5
        int 10h
        mov ah, 02h                 ; rows 7-9: 'a', 'b', 'c' in column 0
        mov dx, 0700h
        int 10h
        mov ax, 0E61h
        int 10h
        mov ah, 02h
        mov dx, 0800h
        int 10h
        mov ax, 0E62h
        int 10h
        mov ah, 02h
        mov dx, 0900h
        int 10h
        mov ax, 0E63h
        int 10h
        mov ax, 0601h               ; 06h: rows 7-9 up one line: b, c, blank
        mov bh, 07h
        mov cx, 0700h
        mov dx, 094Fh
        int 10h
        mov ax, 0702h               ; 07h: rows 12-14... first put 'z' on row 12
        mov ah, 02h
        mov dx, 0C00h
        int 10h
        mov ax, 0E7Ah
        int 10h
        mov ax, 0702h               ; ... then down two lines: 'z' on row 14
        mov bh, 07h
        mov cx, 0C00h
        mov dx, 0E4Fh
        int 10h
        mov ah, 02h                 ; the reports from row 16 on
        mov dx, 1000h
        int 10h
        say "16 11"
        mov ah, 11h
        int 16h
        lahf
        and ah, 40h
        call report                 ; ZF clear: the Down arrow waits (grey key: E0h)
        say "16 10"
        mov ah, 10h
        int 16h
        call report                 ; scan 50h, E0h (enhanced keyboard)
        say "1A 02"
        mov ah, 02h
        int 1Ah
        mov ax, 0
        call report
        say "44 01 raw"
        mov ax, 4401h
        mov bx, 1
        mov dx, 00A0h
        int 21h
        mov ax, 4400h
        int 21h
        mov ax, dx
        call report
        say "50 psp"
        mov ah, 51h
        int 21h
        push bx
        mov bx, 1234h
        mov ah, 50h
        int 21h
        mov ah, 51h
        int 21h
        mov ax, bx
        pop bx
        push ax
        mov ah, 50h
        int 21h
        pop ax
        call report
        mov dx, 100h                ; INT 27h: stay resident keeping our first 256 bytes
        int 27h
string  db "STRING"
