; HLT with IF set but every PIC input masked (the state a Multiboot kernel
; starts in): no device can interrupt, so btvm must end the run with a
; message instead of sleeping forever.
%include "multiboot.inc"
	multiboot_header
	section .text
	global _start
_start:
	mov al, 0xff
	out 0x21, al
	out 0xa1, al
	sti
	hlt
	jmp _start
