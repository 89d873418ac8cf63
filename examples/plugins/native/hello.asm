; hello.asm - a program for the Native subsystem (ntsim's `native` plug-in personality).
;
; It uses no subsystem at all: it opens the console's output stream by its NT name,
; writes one line, closes the handle and terminates, each with an NT system service
; called through an ntdll-style stub (`NTSTUB`, in native.inc).
;
; Build: nasm -f bin -o hello.ntn hello.asm      (or `make`)
; Run:   ntsim run --trace examples/plugins/native/hello.ntn

        bits    64
        default rel
%include "native.inc"
        org     NATIVE_IMAGE_BASE

; --- the NTNATIVE header: magic, then the entry point's offset from the image base -------
header:
        db      "NTNATIVE"
        dq      start - header

; --- the program ---------------------------------------------------------------------------
; Frame (RSP is 16-aligned after the `sub`, as at any call):
;   [rsp+0x00] four home slots for the callee     [rsp+0x30] HANDLE output
;   [rsp+0x20] 5th argument, [rsp+0x28] 6th       [rsp+0x38] IO_STATUS_BLOCK (16 bytes)
start:
        sub     rsp, 0x48

        ; NtCreateFile(&output, FILE_WRITE_DATA | SYNCHRONIZE, name, name_length,
        ;              FILE_OPEN, FILE_SYNCHRONOUS_IO_NONALERT)
        lea     rcx, [rsp+0x30]
        mov     edx, FILE_WRITE_DATA | SYNCHRONIZE
        lea     r8, [console]
        mov     r9d, console_length
        mov     qword [rsp+0x20], FILE_OPEN
        mov     qword [rsp+0x28], FILE_SYNCHRONOUS_IO_NONALERT
        call    NtCreateFile
        test    eax, eax                ; NT_SUCCESS(status): not negative
        js      failed

        ; NtWriteFile(output, &io_status, message, message_length, NULL)
        mov     rcx, [rsp+0x30]
        lea     rdx, [rsp+0x38]
        lea     r8, [message]
        mov     r9d, message_length
        mov     qword [rsp+0x20], 0     ; ByteOffset NULL: at the file's position
        call    NtWriteFile
        test    eax, eax
        js      failed

        ; NtClose(output)
        mov     rcx, [rsp+0x30]
        call    NtClose
        test    eax, eax
        js      failed

        ; NtTerminateProcess(NtCurrentProcess, 0): does not return
        xor     eax, eax
failed:                                 ; or end with the failing NTSTATUS as the exit code
        mov     rcx, NtCurrentProcess
        mov     edx, eax
        call    NtTerminateProcess
        ud2

; --- the stubs, one per service, as ntdll.dll has them -------------------------------------
        NTSTUB  NtCreateFile
        NTSTUB  NtWriteFile
        NTSTUB  NtClose
        NTSTUB  NtTerminateProcess

; --- data (object names are counted UTF-8 strings: pointer and length, no NUL) -------------
console:        db      "\Device\ConDrv\Output"
console_length  equ     $ - console
message:        db      "Hello from the native subsystem", 10
message_length  equ     $ - message
