; A guest that counts for ever on COM1, for the monitor's tests
; (tests/system/run_monitor.py): "count N" ten times a second of guest time, on
; the PIT's interrupts at 100 Hz, waiting for them alternately in HLT and
; in a busy loop, so that both ways the vCPU spends a guest's time are
; seen to go on while clients talk to the monitor.
%define GUEST_NAME "counter"
%include "lib.inc"
%include "timer.inc"

TICKS_PER_COUNT	equ 10

guest_start
	call lib_install_idt
	call lib_pic_init
	gate 0x20, pit_isr, 0x8e
	mov eax, PIT_HZ / 100
	call timer_pit_periodic
	mov al, 0xfe
	out 0x21, al				; IRQ0 only
	xor ebx, ebx				; the count
	mov edi, TICKS_PER_COUNT		; the tick it is due at
	sti
.next:
	test ebx, 1
	jnz .spin
.sleep:
	hlt
	cmp [ticks], edi
	jb .sleep
	jmp .due
.spin:
	cmp [ticks], edi
	jb .spin
.due:
	add edi, TICKS_PER_COUNT
	inc ebx
	mov esi, s_count
	call lib_puts
	mov eax, ebx
	call lib_putdec
	call lib_newline
	jmp .next

pit_isr:
	inc dword [ticks]
	push eax
	mov al, 0x20
	out 0x20, al
	pop eax
	iretd

section .rodata
s_count:	db "count ", 0

section .bss
alignb 4
ticks:		resd 1
