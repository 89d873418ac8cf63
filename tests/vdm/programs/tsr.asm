; tsr.com: stays resident (31h) keeping 20h paragraphs, exit code 7
org 100h
mov dx, 20h
mov ax, 3107h
int 21h
