; Triple fault and reset: each boot counts itself in a RAM word outside the
; kernel image (a warm reset keeps DRAM), prints "boot N" and triple-faults
; through an empty IDT; the third boot exits with GUEST_PASS. Under
; --no-reboot btvm must end at the first triple fault instead.
%include "multiboot.inc"

BOOT_COUNT equ 0x7000

	multiboot_header
	section .text
	global _start
_start:
	mov esp, 0x8000
	inc dword [BOOT_COUNT]
	mov esi, msg
.puts:
	lodsb
	test al, al
	jz .num
	mov dx, COM1
	out dx, al
	jmp .puts
.num:
	mov al, [BOOT_COUNT]
	add al, '0'
	out dx, al
	mov al, 10
	out dx, al
	cmp dword [BOOT_COUNT], 3
	jae .pass
	lidt [empty_idt]
	int3				; no IDT: #GP, then #DF, then reset
	hlt
.pass:
	mov eax, GUEST_PASS
	out 0xf4, eax
	hlt

	section .rodata
msg:	db "boot ", 0
empty_idt:
	dw 0
	dd 0
