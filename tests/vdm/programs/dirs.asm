; dirs.com: directories, searches and drives.
%include "report.inc"
main:
        say "39 mkdir"
        mov dx, newdir
        mov ah, 39h
        int 21h
        mov ax, 0
        call report
        say "39 again"
        mov dx, newdir
        mov ah, 39h
        int 21h
        call report
        say "39 no parent"
        mov dx, deep
        mov ah, 39h
        int 21h
        call report
        say "3B chdir"
        mov dx, newdir
        mov ah, 3Bh
        int 21h
        mov ax, 0
        call report
        say "47 cwd "
        mov dl, 0
        mov si, buffer
        mov ah, 47h
        int 21h
        mov dx, buffer
        call print_asciz
        call report
        say "3A current"
        mov dx, back_to_sub
        mov ah, 3Ah
        int 21h
        call report
        say "3B missing"
        mov dx, missing
        mov ah, 3Bh
        int 21h
        call report
        say "3B above root"
        mov dx, above
        mov ah, 3Bh
        int 21h
        call report
        say "3B .."
        mov dx, dotdot
        mov ah, 3Bh
        int 21h
        mov ax, 0
        call report
        say "3A rmdir"
        mov dx, newdir
        mov ah, 3Ah
        int 21h
        mov ax, 0
        call report
        say "3A again"
        mov dx, newdir
        mov ah, 3Ah
        int 21h
        call report
        say "3A not empty"
        mov dx, full
        mov ah, 3Ah
        int 21h
        call report
        say "19 disk"
        mov ah, 19h
        int 21h
        xor ah, ah
        call report
        say "0E select"
        mov dl, 2
        mov ah, 0Eh
        int 21h
        xor ah, ah
        call report
        say "36 space"
        mov dl, 0
        mov ah, 36h
        int 21h
        mov ax, cx                  ; bytes per sector
        call report
        say "36 bad drive"
        mov dl, 9
        mov ah, 36h
        int 21h
        call report
        say "47 bad drive"
        mov dl, 5
        mov si, buffer
        mov ah, 47h
        int 21h
        call report
        say "1A/2F dta"
        mov dx, dta
        mov ah, 1Ah
        int 21h
        mov ah, 2Fh
        int 21h
        mov ax, bx
        sub ax, dta
        call report
        say "4E *.TXT "
        mov dx, pattern
        xor cx, cx
        mov ah, 4Eh
        int 21h
        jc .none
.found: mov dx, dta + 1Eh
        call print_asciz
        say " "
        mov ah, 4Fh
        int 21h
        jnc .found
.none:  call report
        say "4E nothing"
        mov dx, nothing
        xor cx, cx
        mov ah, 4Eh
        int 21h
        call report
        say "4E no dir"
        mov dx, in_missing
        xor cx, cx
        mov ah, 4Eh
        int 21h
        call report
        say "4E drive A"
        mov dx, on_a
        xor cx, cx
        mov ah, 4Eh
        int 21h
        call report
        mov ax, 4C00h
        int 21h

print_asciz:                        ; DS:DX
        push ax
        push dx
        push si
        mov si, dx
.next:  lodsb
        test al, al
        jz .end
        mov dl, al
        mov ah, 02h
        int 21h
        jmp .next
.end:   pop si
        pop dx
        pop ax
        ret

newdir   db "NEWDIR", 0
deep     db "NOPE\INNER", 0
back_to_sub db "\NEWDIR", 0
missing  db "NOPE", 0
above    db "..\..", 0
dotdot   db "..", 0
full     db "FULL", 0
pattern  db "*.TXT", 0
nothing  db "*.XYZ", 0
in_missing db "NOPE\*.*", 0
on_a     db "A:*.*", 0
buffer   times 64 db 0
dta      times 43 db 0
