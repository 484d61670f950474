; HLT with interrupts disabled: nothing can ever wake the CPU, so btvm must
; end the run with a message instead of sleeping forever.
%include "multiboot.inc"
	multiboot_header
	section .text
	global _start
_start:
	cli
	hlt
	jmp _start
