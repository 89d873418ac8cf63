; hello: "Hello, OS/2!" with DosWrite (DOSCALLS.138) to standard output, then DosExit.
%include "os2.inc"
NAME 'HELLO'
MODULE 'DOSCALLS'
%define DOSCALLS 1
PROGRAM 1, start, 2, 0, 2, 0, 0x1000

SEGMENT 1, CODE
start:
        push    1                       ; DosWrite(hFile = 1 (standard output),
        push    ds                      ;   PVOID pBuffer = DS:message,
        push    message
        push    message_length          ;   USHORT cbBuffer,
        push    ds                      ;   PUSHORT pcbWritten = DS:written)
        push    written
        IMPORT  DOSCALLS, 138
        push    1                       ; DosExit(EXIT_PROCESS, result code 0)
        push    0
        IMPORT  DOSCALLS, 5

SEGMENT 2, DATA
message:        db "Hello, OS/2!", 13, 10
message_length  equ $ - message
written:        dw 0
