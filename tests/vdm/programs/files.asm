; files.com: the handle functions of INT 21h, and their errors.
        cpu 386
%include "report.inc"
main:
        say "3C create"
        mov dx, name1
        xor cx, cx
        mov ah, 3Ch
        int 21h
        call report
        mov [handle], ax
        say "40 write"
        mov bx, [handle]
        mov cx, text_length
        mov dx, text
        mov ah, 40h
        int 21h
        call report
        say "42 seek end"
        mov bx, [handle]
        mov ax, 4202h
        xor cx, cx
        xor dx, dx
        int 21h
        call report
        say "42 seek start+3"
        mov bx, [handle]
        mov ax, 4200h
        xor cx, cx
        mov dx, 3
        int 21h
        call report
        say "40 truncate"
        mov bx, [handle]
        xor cx, cx
        mov ah, 40h
        int 21h
        call report
        say "44 00 file"
        mov bx, [handle]
        mov ax, 4400h
        int 21h
        mov ax, dx
        call report
        say "57 00 time"
        mov bx, [handle]
        mov ax, 5700h
        int 21h
        mov ax, 0
        call report
        say "68 commit"
        mov bx, [handle]
        mov ah, 68h
        int 21h
        mov ax, 0
        call report
        say "3E close"
        mov bx, [handle]
        mov ah, 3Eh
        int 21h
        mov ax, 0
        call report
        say "3E again"
        mov bx, [handle]
        mov ah, 3Eh
        int 21h
        call report
        say "3D open ro"
        mov dx, name1
        mov ax, 3D00h
        int 21h
        call report
        mov [handle], ax
        say "3F read"
        mov bx, [handle]
        mov cx, 100
        mov dx, buffer
        mov ah, 3Fh
        int 21h
        call report
        say "3F at end"
        mov bx, [handle]
        mov cx, 100
        mov dx, buffer
        mov ah, 3Fh
        int 21h
        call report
        say "40 to ro"
        mov bx, [handle]
        mov cx, 1
        mov dx, text
        mov ah, 40h
        int 21h
        call report
        say "45 dup"
        mov bx, [handle]
        mov ah, 45h
        int 21h
        call report
        mov [second], ax
        say "46 force 19"
        mov bx, [handle]
        mov cx, 19
        mov ah, 46h
        int 21h
        mov ax, 0
        call report
        say "3E dup"
        mov bx, [second]
        mov ah, 3Eh
        int 21h
        mov ax, 0
        call report
        say "42 on 19"
        mov bx, 19
        mov ax, 4200h
        xor cx, cx
        mov dx, 1
        int 21h
        call report
        say "3F via 19"
        mov bx, 19
        mov cx, 2
        mov dx, buffer
        mov ah, 3Fh
        int 21h
        mov ax, [buffer]
        call report
        say "44 00 con"
        mov ax, 4400h
        mov bx, 1
        int 21h
        mov ax, dx
        call report
        say "43 00 attr"
        mov ax, 4300h
        mov dx, name1
        int 21h
        mov ax, cx
        call report
        say "5B exists"
        mov dx, name1
        xor cx, cx
        mov ah, 5Bh
        int 21h
        call report
        say "56 rename"
        mov dx, name1
        mov di, name2
        mov ah, 56h
        int 21h
        mov ax, 0
        call report
        say "3D old name"
        mov dx, name1
        mov ax, 3D00h
        int 21h
        call report
        say "3D no dir"
        mov dx, in_missing_dir
        mov ax, 3D00h
        int 21h
        call report
        say "3D bad mode"
        mov dx, name2
        mov ax, 3D07h
        int 21h
        call report
        say "6C create"
        mov ax, 6C00h
        mov bx, 0002h
        xor cx, cx
        mov dx, 0010h
        mov si, name3
        int 21h
        mov ax, cx
        call report
        say "6C open"
        mov ax, 6C00h
        mov bx, 0000h
        xor cx, cx
        mov dx, 0001h
        mov si, name3
        int 21h
        mov ax, cx
        call report
        say "6C exists"
        mov ax, 6C00h
        mov bx, 0000h
        xor cx, cx
        mov dx, 0010h
        mov si, name3
        int 21h
        call report
        say "5A temp"
        mov dx, temp_dir
        xor cx, cx
        mov ah, 5Ah
        int 21h
        mov ax, 0
        call report
        say "41 delete"
        mov dx, name2
        mov ah, 41h
        int 21h
        mov ax, 0
        call report
        say "41 again"
        mov dx, name2
        mov ah, 41h
        int 21h
        call report
        say "3E bad"
        mov bx, 99
        mov ah, 3Eh
        int 21h
        call report
        say "44 bad"
        mov bx, 18
        mov ax, 4400h
        int 21h
        call report
        say "3D NUL"
        mov dx, nul_device
        mov ax, 3D02h
        int 21h
        call report
        say "3D dir"
        mov dx, a_directory
        mov ax, 3D00h
        int 21h
        call report
        say "open all"              ; until the job file table is full
        xor si, si
.more:  mov dx, name3
        mov ax, 3D00h
        int 21h
        jc .full
        inc si
        jmp .more
.full:  call report
        mov ax, si
        call hex16
        call newline
        mov ax, 4C00h
        int 21h

handle  dw 0
second  dw 0
name1   db "FIRST.TXT", 0
name2   db "second.txt", 0
name3   db "THIRD.DAT", 0
in_missing_dir db "NODIR\FILE.TXT", 0
temp_dir db "TMP\", 0, "            "
nul_device db "NUL", 0
a_directory db "TMP", 0
text    db "Hello, DOS files"
text_length equ $ - text
buffer  times 100 db 0
