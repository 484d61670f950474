; The PIIX3's reset control register at port 0xcf9 (82371SB datasheet,
; 2.2.2): SYS_RST (bit 1) alone only chooses the kind of reset and reads
; back; a write with RST_CPU (bit 2) resets the PC. The first boot checks
; the register, leaves a mark in a RAM word at 32 MiB (a reset keeps
; DRAM; QEMU's firmware reuses low RAM and rewrites the CMOS on the way)
; and writes 0x06; the second boot finds the mark, sees
; the register cleared by the reset and passes. Under --no-reboot btvm
; must end at the reset instead, with status 0 (CTest's guest_cf9_no_reboot).
%define GUEST_NAME "cf9"
%include "lib.inc"

RCR_PORT	equ 0xcf9
RCR_SYS_RST	equ 0x02
RCR_RST_CPU	equ 0x04
MARK		equ 0x2000000
MARK_VALUE	equ 0xc9c9c9c9
PM_TMR_PORT	equ 0x608

guest_start
	cmp dword [MARK], MARK_VALUE
	je second_boot

group "rcr"
	mov dx, RCR_PORT
	in al, dx
	movzx eax, al
	check eax, 0
	mov al, RCR_SYS_RST			; the kind of reset only
	out dx, al
	call wait_1ms
	in al, dx
	movzx eax, al
	and eax, RCR_SYS_RST | RCR_RST_CPU
	check eax, RCR_SYS_RST
	mov dword [MARK], MARK_VALUE
	push 0
	call lib_group				; prints this group's PASS line
	mov esi, s_resetting
	call lib_puts
	mov dx, RCR_PORT
	mov al, RCR_SYS_RST | RCR_RST_CPU
	out dx, al
	; The reset comes within a few instructions (QEMU's at the end of
	; its translation block): a second of the PM timer is ample.
	mov ecx, 1000
.wait:
	call wait_1ms
	loop .wait
	fatal "still running 1 s after RST_CPU"

second_boot:
	mov dword [MARK], 0
group "after_reset"
	mov dx, RCR_PORT
	in al, dx
	movzx eax, al
	check eax, 0				; a hard reset clears it
	guest_finish

; wait_1ms: 1 ms by the ACPI PM timer (3,580 ticks). Preserves registers
; but EAX.
wait_1ms:
	push ebx
	push edx
	mov dx, PM_TMR_PORT
	in eax, dx
	mov ebx, eax
.spin:
	in eax, dx
	sub eax, ebx
	and eax, 0xffffff
	cmp eax, 3580
	jb .spin
	pop edx
	pop ebx
	ret

section .rodata
s_resetting:	db "INFO cf9: resetting through 0xcf9", 10, 0
