; apis: a tour of DOSCALLS, VIOCALLS and KBDCALLS. Each line is an API's result (an
; OS/2 error code, 0 for success) or a value it returned.
%include "os2.inc"
NAME 'APIS'
MODULE 'DOSCALLS'
MODULE 'VIOCALLS'
MODULE 'KBDCALLS'
%define DOSCALLS 1
%define VIOCALLS 2
%define KBDCALLS 3
%define DATASEG seg2
PROGRAM 1, start, 2, 0, 2, 0, 0x1000

SEGMENT 2, DATA
start_env:      dw 0
start_cmd:      dw 0
word1:          dw 0
word2:          dw 0
long1:          dd 0
global_sel:     dw 0
local_sel:      dw 0
pidinfo:        dw 0, 0, 0
handle:         dw 0
handle2:        dw 0
action:         dw 0
status:         times 24 db 0
datetime:       times 12 db 0
curdir:         times 64 db 0
newdir:         db "NEWDIR", 0
updir:          db "..", 0
file:           db "FILE.TXT", 0
moved:          db "MOVED.TXT", 0
hello:          db "hello"
pipe_read:      dw 0
pipe_write:     dw 0
pipe_text:      db "ping"
pipe_buffer:    times 8 db 0
huge_sel:       dw 0
prev_handler:   dd 0
prev_action:    dw 0
blank_cell:     db ' ', 0x07
colour:         db 0x1F
abc:            db "ABC"
cells:          times 8 db 0
keyinfo:        times 10 db 0
line:           times 16 db 0
stringin:       dw 16, 0
results:        dw 0, 0
failname:       times 16 db 0
child_args:     db "CHILD", 0, 0, 0
child_name:     db "CHILD.EXE", 0
child_pid:      dw 0
shared_name:    db "\SHAREMEM\NTSIM", 0
bad_name:       db "NOT-SHAREMEM", 0
shared_sel:     dw 0
share_args:     db "CHILD", 0, "share", 0, 0
greeting:       db "from the parent", 0
greeting_length equ $ - greeting
piped_args:     db "CHILD", 0, "piped", 0, 0
saved_stdout:   dw 0xFFFF
stdout:         dw 1
piped:          times 64 db 0
LIBDATA

SEGMENT 1, CODE
start:
        mov     [start_env], ax
        mov     [start_cmd], bx

        ; --- the system and the process ---
        PTR     word1
        IMPORT  DOSCALLS, 92            ; DosGetVersion
        mov     ax, [word1]
        REPORT  "DosGetVersion"
        PTR     global_sel
        PTR     local_sel
        IMPORT  DOSCALLS, 8             ; DosGetInfoSeg
        REPORT  "DosGetInfoSeg"
        mov     es, [global_sel]
        xor     ax, ax
        mov     al, [es:21]             ; GINFOSEG.uchMajorVersion
        REPORT  "GINFOSEG major"
        mov     al, [es:22]
        REPORT  "GINFOSEG minor"
        mov     ax, [es:18]             ; the year
        cmp     ax, 2020
        setae   al
        xor     ah, ah
        REPORT  "GINFOSEG year>=2020"
        PTR     pidinfo
        IMPORT  DOSCALLS, 94            ; DosGetPID
        mov     es, [local_sel]
        mov     ax, [es:0]              ; LINFOSEG.pidCurrent
        cmp     ax, [pidinfo]
        sete    al
        xor     ah, ah
        REPORT  "LINFOSEG pid = DosGetPID pid"
        mov     ax, [es:16]             ; LINFOSEG.selEnvironment
        cmp     ax, [start_env]
        sete    al
        xor     ah, ah
        REPORT  "LINFOSEG environment = AX at start"
        PTR     word1
        PTR     word2
        IMPORT  DOSCALLS, 91            ; DosGetEnv
        mov     ax, [word1]
        cmp     ax, [start_env]
        jne     .env_differs
        mov     ax, [word2]
        cmp     ax, [start_cmd]
.env_differs:
        sete    al
        xor     ah, ah
        REPORT  "DosGetEnv = AX:BX at start"
        PTR     word1
        PTR     long1
        IMPORT  DOSCALLS, 72            ; DosQCurDisk
        mov     ax, [word1]
        REPORT  "DosQCurDisk disk"
        mov     ax, [long1]
        REPORT  "DosQCurDisk map"
        push    4
        IMPORT  DOSCALLS, 81            ; DosSelectDisk(D:)
        REPORT  "DosSelectDisk(4)"

        ; --- directories and files ---
        PTR     newdir
        push    0
        push    0
        IMPORT  DOSCALLS, 66            ; DosMkDir
        REPORT  "DosMkDir"
        PTR     newdir
        push    0
        push    0
        IMPORT  DOSCALLS, 57            ; DosChDir
        REPORT  "DosChDir"
        mov     word [word1], 64
        push    0
        PTR     curdir
        PTR     word1
        IMPORT  DOSCALLS, 71            ; DosQCurDir
        REPORT  "DosQCurDir"
        WRITES  "current directory \"
        mov     dx, curdir
        mov     cx, [word1]
        dec     cx
        call    write
        call    newline
        PTR     file                    ; DosOpen(FILE.TXT, create, write-only)
        PTR     handle
        PTR     action
        push    0
        push    0
        push    0
        push    0x0012
        push    0x0011
        push    0
        push    0
        IMPORT  DOSCALLS, 70
        REPORT  "DosOpen"
        mov     ax, [action]
        REPORT  "DosOpen action"
        push    word [handle]
        PTR     hello
        push    5
        PTR     word1
        IMPORT  DOSCALLS, 138           ; DosWrite
        push    word [handle]           ; DosChgFilePtr(handle, -2, FILE_END, &long1)
        push    0xFFFF
        push    0xFFFE
        push    2
        PTR     long1
        IMPORT  DOSCALLS, 58
        mov     ax, [long1]
        REPORT  "DosChgFilePtr(-2 from the end)"
        push    word [handle]           ; DosNewSize(handle, 3)
        push    0
        push    3
        IMPORT  DOSCALLS, 68
        REPORT  "DosNewSize"
        push    word [handle]
        IMPORT  DOSCALLS, 56            ; DosBufReset
        REPORT  "DosBufReset"
        push    word [handle]           ; DosQFileInfo(handle, 1, &status, 24)
        push    1
        PTR     status
        push    24
        IMPORT  DOSCALLS, 74
        REPORT  "DosQFileInfo"
        mov     ax, [status + 12]       ; FILESTATUS.cbFile
        REPORT  "DosQFileInfo size"
        push    word [handle]           ; DosDupHandle(handle, &handle2 = 0xFFFF: a new one)
        mov     word [handle2], 0xFFFF
        PTR     handle2
        IMPORT  DOSCALLS, 61
        REPORT  "DosDupHandle"
        mov     ax, [handle2]
        REPORT  "DosDupHandle new handle"
        push    word [handle2]
        IMPORT  DOSCALLS, 59            ; DosClose
        push    word [handle]
        IMPORT  DOSCALLS, 59
        REPORT  "DosClose"
        push    word [handle]
        IMPORT  DOSCALLS, 59
        REPORT  "DosClose again"
        PTR     file                    ; DosSetFileMode(FILE.TXT, read-only)
        push    1
        push    0
        push    0
        IMPORT  DOSCALLS, 84
        REPORT  "DosSetFileMode"
        PTR     file
        PTR     word1
        push    0
        push    0
        IMPORT  DOSCALLS, 75            ; DosQFileMode
        mov     ax, [word1]
        REPORT  "DosQFileMode"
        PTR     file
        push    0
        push    0
        push    0
        IMPORT  DOSCALLS, 84
        PTR     file
        PTR     moved
        push    0
        push    0
        IMPORT  DOSCALLS, 67            ; DosMove
        REPORT  "DosMove"
        PTR     moved
        push    0
        push    0
        IMPORT  DOSCALLS, 60            ; DosDelete
        REPORT  "DosDelete"
        PTR     moved
        push    0
        push    0
        IMPORT  DOSCALLS, 60
        REPORT  "DosDelete again"
        PTR     updir
        push    0
        push    0
        IMPORT  DOSCALLS, 57
        PTR     newdir
        push    0
        push    0
        IMPORT  DOSCALLS, 80            ; DosRmDir
        REPORT  "DosRmDir"
        PTR     newdir
        push    0
        push    0
        IMPORT  DOSCALLS, 80
        REPORT  "DosRmDir again"

        ; --- a pipe ---
        PTR     pipe_read
        PTR     pipe_write
        push    0
        IMPORT  DOSCALLS, 16            ; DosMakePipe
        REPORT  "DosMakePipe"
        push    word [pipe_write]
        PTR     pipe_text
        push    4
        PTR     word1
        IMPORT  DOSCALLS, 138
        push    word [pipe_read]
        PTR     pipe_buffer
        push    8
        PTR     word1
        IMPORT  DOSCALLS, 137           ; DosRead
        WRITES  "DosRead from the pipe "
        mov     dx, pipe_buffer
        mov     cx, [word1]
        call    write
        call    newline

        ; --- memory ---
        push    2                       ; DosAllocHuge(2 segments + 100 bytes, &sel, 0, 0)
        push    100
        PTR     huge_sel
        push    0
        push    0
        IMPORT  DOSCALLS, 40
        REPORT  "DosAllocHuge"
        mov     ax, [huge_sel]
        add     ax, 16                  ; the third segment: selector + 2 << huge shift 3
        mov     es, ax
        mov     byte [es:99], 1         ; its last byte
        mov     al, [es:99]
        xor     ah, ah
        REPORT  "DosAllocHuge third segment"

        ; --- time ---
        push    0
        push    10
        IMPORT  DOSCALLS, 32            ; DosSleep(10 ms)
        REPORT  "DosSleep"
        PTR     datetime
        IMPORT  DOSCALLS, 33            ; DosGetDateTime
        REPORT  "DosGetDateTime"
        push    440
        push    1
        IMPORT  DOSCALLS, 50            ; DosBeep
        REPORT  "DosBeep"
        push    1
        IMPORT  DOSCALLS, 120           ; DosError
        REPORT  "DosError"
        push    0                       ; DosSetSigHandler(NULL, &prev, &action, SIGA_IGNORE, SIGINTR)
        push    0
        PTR     prev_handler
        PTR     prev_action
        push    1
        push    1
        IMPORT  DOSCALLS, 14
        REPORT  "DosSetSigHandler ignore"
        push    cs                      ; ... SIGA_ACCEPT with a handler (never called here)
        push    start
        PTR     prev_handler
        PTR     prev_action
        push    2
        push    1
        IMPORT  DOSCALLS, 14
        REPORT  "DosSetSigHandler accept"

        ; --- processes ---
        PTR     failname                ; DosExecPgm(EXEC_ASYNC) then DosKillProcess at once
        push    16
        push    1
        PTR     child_args
        push    0
        push    0
        PTR     results
        PTR     child_name
        IMPORT  DOSCALLS, 144
        REPORT  "DosExecPgm async"
        mov     ax, [results]
        mov     [child_pid], ax
        push    1
        push    word [child_pid]
        IMPORT  DOSCALLS, 51            ; DosKillProcess
        REPORT  "DosKillProcess"
        push    0
        push    0
        PTR     results
        PTR     word1
        push    word [child_pid]
        IMPORT  DOSCALLS, 2             ; DosCWait
        REPORT  "DosCWait"
        mov     ax, [results]
        REPORT  "DosCWait termination code"
        push    1
        push    word [child_pid]
        IMPORT  DOSCALLS, 51
        REPORT  "DosKillProcess again"

        ; --- a shared segment, seen by a child ---
        push    100                     ; DosAllocShrSeg(100, "\SHAREMEM\NTSIM", &shared_sel)
        PTR     shared_name
        PTR     shared_sel
        IMPORT  DOSCALLS, 35
        REPORT  "DosAllocShrSeg"
        push    100
        PTR     shared_name
        PTR     word1
        IMPORT  DOSCALLS, 35
        REPORT  "DosAllocShrSeg again"
        push    100
        PTR     bad_name
        PTR     word1
        IMPORT  DOSCALLS, 35
        REPORT  "DosAllocShrSeg without \SHAREMEM\"
        mov     es, [shared_sel]
        mov     si, greeting
        xor     di, di
        mov     cx, greeting_length
        rep movsb
        PTR     failname                ; DosExecPgm(EXEC_SYNC, "CHILD share")
        push    16
        push    0
        PTR     share_args
        push    0
        push    0
        PTR     results
        PTR     child_name
        IMPORT  DOSCALLS, 144
        WRITES  "the shared segment now says '"
        mov     es, [shared_sel]
        xor     bx, bx
.strlen: cmp    byte [es:bx], 0
        je      .said
        inc     bx
        jmp     .strlen
.said:  mov     cx, bx
        xor     dx, dx
        call    write_es
        WRITES  {"'", 13, 10}
        push    word [shared_sel]
        IMPORT  DOSCALLS, 39            ; DosFreeSeg: the last user frees it
        REPORT  "DosFreeSeg shared"
        PTR     shared_name
        PTR     word1
        IMPORT  DOSCALLS, 36            ; DosGetShrSeg: it is gone
        REPORT  "DosGetShrSeg after"

        ; --- a child's standard output through a pipe (inherited handles) ---
        PTR     pipe_read
        PTR     pipe_write
        push    0
        IMPORT  DOSCALLS, 16            ; DosMakePipe
        push    1                       ; DosDupHandle(1, &saved_stdout = FFFFh: a new handle)
        PTR     saved_stdout
        IMPORT  DOSCALLS, 61
        push    word [pipe_write]       ; DosDupHandle(pipe_write, &1): stdout is the pipe
        PTR     stdout
        IMPORT  DOSCALLS, 61
        PTR     failname                ; DosExecPgm(EXEC_SYNC, "CHILD piped"): it inherits handle 1
        push    16
        push    0
        PTR     piped_args
        push    0
        push    0
        PTR     results
        PTR     child_name
        IMPORT  DOSCALLS, 144
        push    word [saved_stdout]     ; stdout back
        PTR     stdout
        IMPORT  DOSCALLS, 61
        push    word [saved_stdout]
        IMPORT  DOSCALLS, 59
        push    word [pipe_write]
        IMPORT  DOSCALLS, 59
        push    word [pipe_read]        ; DosRead(pipe_read, piped, 64, &word1)
        PTR     piped
        push    64
        PTR     word1
        IMPORT  DOSCALLS, 137
        WRITES  "from the child through the pipe: "
        mov     dx, piped
        mov     cx, [word1]
        call    write

        ; --- the screen ---
        push    0                       ; VioScrollUp(whole screen, all lines, blank cell)
        push    0
        push    0xFFFF
        push    0xFFFF
        push    0xFFFF
        PTR     blank_cell
        push    0
        IMPORT  VIOCALLS, 7
        REPORT  "VioScrollUp"
        push    5
        push    10
        push    0
        IMPORT  VIOCALLS, 15            ; VioSetCurPos(5, 10)
        REPORT  "VioSetCurPos"
        PTR     word1
        PTR     word2
        push    0
        IMPORT  VIOCALLS, 9             ; VioGetCurPos
        mov     ax, [word1]
        REPORT  "VioGetCurPos row"
        mov     ax, [word2]
        REPORT  "VioGetCurPos column"
        push    99
        push    0
        push    0
        IMPORT  VIOCALLS, 15
        REPORT  "VioSetCurPos(99, 0)"
        PTR     abc                     ; VioWrtCharStrAtt("ABC", 3, row 2, column 0, 1Fh)
        push    3
        push    2
        push    0
        PTR     colour
        push    0
        IMPORT  VIOCALLS, 48
        REPORT  "VioWrtCharStrAtt"
        mov     word [word1], 6
        PTR     cells                   ; VioReadCellStr(cells, &6, row 2, column 0)
        PTR     word1
        push    2
        push    0
        push    0
        IMPORT  VIOCALLS, 24
        REPORT  "VioReadCellStr"
        WRITES  "cells "
        mov     ax, [cells]
        call    write_hex
        mov     ax, [cells + 2]
        call    write_hex
        mov     ax, [cells + 4]
        call    write_hex
        call    newline

        ; --- the keyboard ---
        PTR     keyinfo
        push    0
        IMPORT  KBDCALLS, 22            ; KbdPeek
        xor     ax, ax
        mov     al, [keyinfo]
        REPORT  "KbdPeek character"
        PTR     keyinfo
        push    0
        push    0
        IMPORT  KBDCALLS, 4             ; KbdCharIn(wait)
        xor     ax, ax
        mov     al, [keyinfo]
        REPORT  "KbdCharIn character"
        PTR     line
        PTR     stringin
        push    0
        push    0
        IMPORT  KBDCALLS, 9             ; KbdStringIn(wait)
        REPORT  "KbdStringIn"
        WRITES  "line "
        mov     dx, line
        mov     cx, [stringin + 2]
        call    write
        call    newline
        push    1
        push    0
        IMPORT  DOSCALLS, 5

%include "lib.inc"
