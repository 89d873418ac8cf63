; system.com: version, vectors, the VM's own clock, flags, country, parsing, errors.
        cpu 386
%include "report.inc"
main:
        say "30 version"
        mov ah, 30h
        int 21h
        call report                 ; AL=5 AH=0: DOS 5.0
        say "3306 true"
        mov ax, 3306h
        int 21h
        mov ax, bx
        call report                 ; BL=5 BH=50: 5.50
        say "35 get 60"
        mov ax, 3560h
        int 21h
        mov ax, es
        call report                 ; F000h: a BIOS stub
        say "25 set 60"
        mov dx, 1234h
        mov ax, 2560h
        int 21h
        mov ax, 3560h
        int 21h
        mov ax, bx
        call report
        xor ax, ax                  ; and it is in the table at 0000:0180
        mov es, ax
        mov ax, [es:60h * 4]
        say "ivt"
        call report
        push ds
        pop es
        say "2B set date"
        mov cx, 1999
        mov dx, 0C1Fh               ; 31 December
        mov ah, 2Bh
        int 21h
        xor ah, ah
        call report
        say "2A get date"
        mov ah, 2Ah
        int 21h
        mov ax, cx
        call report                 ; the year the VM was set to
        say "2A month/day"
        mov ax, dx
        call report
        say "2B bad date"
        mov cx, 1999
        mov dx, 021Eh               ; 30 February
        mov ah, 2Bh
        int 21h
        xor ah, ah
        call report
        say "2D set time"
        mov cx, 1703h               ; 23:03
        mov dx, 0400h
        mov ah, 2Dh
        int 21h
        xor ah, ah
        call report
        say "2C get time"
        mov ah, 2Ch
        int 21h
        mov ax, cx
        call report
        say "2D bad time"
        mov cx, 1900h
        xor dx, dx
        mov ah, 2Dh
        int 21h
        xor ah, ah
        call report
        say "3300 break"
        mov ax, 3301h
        mov dl, 1
        int 21h
        mov ax, 3300h
        int 21h
        mov al, dl
        xor ah, ah
        call report
        say "3305 boot"
        mov ax, 3305h
        int 21h
        mov al, dl
        xor ah, ah
        call report
        say "37 switch"
        mov ax, 3700h
        int 21h
        mov al, dl
        xor ah, ah
        call report
        say "38 country"
        mov dx, country
        mov ax, 3800h
        int 21h
        mov ax, bx
        call report
        say " currency "
        mov dl, [country + 2]
        mov ah, 02h
        int 21h
        say " time sep "
        mov dl, [country + 0Dh]
        mov ah, 02h
        int 21h
        call newline
        say "29 parse"
        mov si, filename
        mov di, fcb
        mov ax, 2901h
        int 21h
        xor ah, ah
        call report
        say " fcb "
        mov dx, fcb + 1
        mov byte [fcb + 12], '$'
        mov ah, 09h
        int 21h
        say " drive "
        mov al, [fcb]
        xor ah, ah
        call hex16
        call newline
        say "29 wildcard"
        mov si, wild
        mov di, fcb
        mov ax, 2900h
        int 21h
        xor ah, ah
        call report
        say "59 after error"
        mov dx, missing
        mov ax, 3D00h
        int 21h
        mov ah, 59h
        xor bx, bx
        int 21h
        call report
        say "6520 upper"
        mov dl, 'q'
        mov ax, 6520h
        int 21h
        mov al, dl
        xor ah, ah
        call report
        say "6601 cp"
        mov ax, 6601h
        int 21h
        mov ax, bx
        call report
        say "62 psp=cs"
        mov ah, 62h
        int 21h
        mov ax, cs
        sub ax, bx
        call report
        say "54 verify"
        mov ax, 2E01h
        int 21h
        mov ah, 54h
        int 21h
        xor ah, ah
        call report
        say "34 indos"
        mov ah, 34h
        int 21h
        mov al, [es:bx]
        xor ah, ah
        call report
        say "unknown F0"
        mov ah, 0F0h
        int 21h
        call report
        say "FCB 0F"
        mov dx, fcb
        mov ah, 0Fh
        int 21h
        call report
        mov ax, 4C00h
        int 21h

country  times 34 db 0
filename db " notes.txt rest", 0
wild     db "a*.?x", 0
missing  db "MISSING.TXT", 0
fcb      times 40 db 0
