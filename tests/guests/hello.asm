; The smallest useful guest: checks the Multiboot entry state, says hello
; on COM1 and exits through isa-debug-exit with the pass status.
bits 32
%include "multiboot.inc"
multiboot_header

section .text
global _start
_start:
	guest_check_magic
	mov esi, message
.next:
	lodsb
	test al, al
	jz .done
	mov ah, al
	mov dx, COM1 + 5
.wait:
	in al, dx
	test al, 0x20
	jz .wait
	mov al, ah
	mov dx, COM1
	out dx, al
	jmp .next
.done:
	mov al, GUEST_PASS
	out 0xf4, al
	guest_fail_exit

section .rodata
message: db "hello from a btvm guest", 10, 0

section .bss
align 16
	resb 4096
stack_top:
