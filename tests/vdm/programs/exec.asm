; exec.com: EXEC and the return code: a child ending with 4Ch, one staying resident
; (31h), a missing program, a file that is no program, and a subfunction not there.
%include "report.inc"
main:
        mov sp, stack_top
        mov bx, (program_end - $$ + 100h + 15) / 16
        mov ah, 4Ah
        int 21h
        mov [block + 4], cs
        mov [block + 8], cs
        mov [block + 12], cs
        say "4B00 exit"
        mov dx, exit_child
        call run
        say "4D code"
        mov ah, 4Dh
        int 21h
        call report                 ; AH=00 normal, AL=2Ah
        say "4D again"
        mov ah, 4Dh
        int 21h
        call report                 ; read once: 0
        say "4B00 tsr"
        mov dx, tsr_child
        call run
        say "4D code"
        mov ah, 4Dh
        int 21h
        call report                 ; AH=03 resident, AL=07
        say "4B00 missing"
        mov dx, missing
        call run
        say "4B00 not exe"
        mov dx, not_a_program
        call run
        say "4B01"
        mov dx, exit_child
        mov bx, block
        mov ax, 4B01h
        int 21h
        call report
        mov ax, 4C00h
        int 21h

run:    mov bx, block
        mov ax, 4B00h
        int 21h
        call report
        ret

exit_child    db "EXIT42.COM", 0
tsr_child     db "TSR.COM", 0
missing       db "NOPE.COM", 0
not_a_program db "BAD.EXE", 0
tail    db 0, 13
block   dw 0
        dw tail, 0
        dw 5Ch, 0
        dw 6Ch, 0
        align 2
        times 128 dw 0
stack_top:
program_end:
