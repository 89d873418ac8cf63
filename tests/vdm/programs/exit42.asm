org 100h
mov ax, 4C2Ah
int 21h
