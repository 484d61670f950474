; The PC's NMI wire, LINT1, and the chipset's NMI logic in front of it,
; driven from outside: the front-panel NMI button, which the monitor's
; `nmi` (JSON inject-nmi) presses. A guest cannot press it, so this one
; runs under tests/system/run_nmi_button.py, which presses it each time
; the guest prints "WAIT <n>" (and at "WAIT 5" then presses the ACPI power
; button, the guest's sign that the NMI button was pressed).
;  port61        port 0x61's NMI bits: 2 and 3 read back as written, no
;                latch set (bits 6, 7) at first
;  button        LINT1 in NMI mode, port 0x70 bit 7 clear: one press, one
;                NMI (IF=0), IOCHK latched in bit 6 (SERR's bit 7 clear);
;                setting bit 3 clears the latch
;  nmi_masked    port 0x70 bit 7 set: the press latches IOCHK but no NMI
;                comes; clearing bit 7 lets it through at once
;  lint1_masked  LVT LINT1 masked: no NMI; unmasking it is no edge (no
;                NMI either); the latch cleared, the next press is one
;  iochk_off     port 0x61 bit 3 set: the press is lost (no latch, no
;                NMI, none when bit 3 is cleared after)
;  lint1_fixed   LVT LINT1 in fixed mode: the press is its vector, no NMI
;  apic_off      the APIC hardware-disabled (IA32_APIC_BASE bit 11): the
;                wire is the CPU's NMI pin, one press one NMI
; Not under QEMU: its monitor's `nmi` pulses LINT1 past the chipset (no
; IOCHK latch, no port 0x70 mask).
%define GUEST_NAME "nmi_button"
%include "lib.inc"

APIC		equ 0xfee00000
APIC_SVR	equ APIC + 0xf0
APIC_EOI	equ APIC + 0xb0
APIC_LVT_LINT1	equ APIC + 0x360
DM_NMI		equ 0x400
LVT_MASKED	equ 0x10000
FIXED_VECTOR	equ 0x60
MSR_APIC_BASE	equ 0x1b
APIC_GLOBAL_EN	equ 0x800
PORT_B		equ 0x61
PORT_B_SERR_OFF	equ 0x04
PORT_B_IOCHK_OFF equ 0x08
PORT_B_IOCHK	equ 0x40
PORT_B_SERR	equ 0x80
RTC_INDEX	equ 0x70
NMI_MASK	equ 0x80
RTC_REG_D	equ 0x0d
PM1A_STS	equ 0x600		; ACPI PM1a status (btvm's PM base)
PWRBTN_STS	equ 0x0100
QUIET_SPINS	equ 200000		; "no NMI meanwhile": a while of guest time

; wait_marker n: print "WAIT n", the harness's cue to press the button
%macro wait_marker 1
	mov esi, %%text
	call lib_puts
	section .data
%%text:	db "WAIT ", '0' + %1, 10, 0
	section .text
%endmacro

; port_b_nmi_bits: EAX = port 0x61 & (bits 2, 3, 6, 7)
%macro port_b_nmi_bits 0
	xor eax, eax
	in al, PORT_B
	and eax, PORT_B_SERR_OFF | PORT_B_IOCHK_OFF | PORT_B_IOCHK | PORT_B_SERR
%endmacro

guest_start
	call lib_install_idt
	gate 2, nmi_entry, 0x8e
	gate FIXED_VECTOR, fixed_entry, 0x8e
	mov dword [APIC_SVR], 0x1ff
	mov dword [APIC_LVT_LINT1], DM_NMI
	cli
	mov al, RTC_REG_D			; NMI enabled
	out RTC_INDEX, al
	xor eax, eax
	out PORT_B, al

group "port61"
	port_b_nmi_bits
	check eax, 0
	mov al, PORT_B_SERR_OFF | PORT_B_IOCHK_OFF
	out PORT_B, al
	port_b_nmi_bits
	check eax, PORT_B_SERR_OFF | PORT_B_IOCHK_OFF
	xor eax, eax
	out PORT_B, al
	port_b_nmi_bits
	check eax, 0

group "button"
	call nmi_reset
	wait_marker 1
	call wait_nmi
	check dword [nmi_count], 1
	mov eax, [nmi_eflags]
	and eax, F_IF
	check eax, 0
	call quiet
	check dword [nmi_count], 1		; one press, one NMI
	port_b_nmi_bits
	check eax, PORT_B_IOCHK
	call clear_iochk
	port_b_nmi_bits
	check eax, 0
	check dword [nmi_count], 1

group "nmi_masked"
	call nmi_reset
	mov al, NMI_MASK | RTC_REG_D
	out RTC_INDEX, al
	wait_marker 2
	call wait_iochk
	call quiet
	check dword [nmi_count], 0
	mov al, RTC_REG_D
	out RTC_INDEX, al
.a1:	jmp short .a2
.a2:	nop
	check dword [nmi_count], 1
	call clear_iochk
	check dword [nmi_count], 1

group "lint1_masked"
	call nmi_reset
	mov dword [APIC_LVT_LINT1], DM_NMI | LVT_MASKED
	wait_marker 3
	call wait_iochk
	call quiet
	check dword [nmi_count], 0
	mov dword [APIC_LVT_LINT1], DM_NMI	; the wire is already high: no edge
	call quiet
	check dword [nmi_count], 0
	call clear_iochk
	wait_marker 4
	call wait_nmi
	check dword [nmi_count], 1
	port_b_nmi_bits
	check eax, PORT_B_IOCHK
	call clear_iochk

group "iochk_off"
	call nmi_reset
	mov ax, PWRBTN_STS
	mov dx, PM1A_STS
	out dx, ax				; write 1 to clear
	mov al, PORT_B_IOCHK_OFF
	out PORT_B, al
	wait_marker 5
.w5:	mov dx, PM1A_STS
	in ax, dx
	test ax, PWRBTN_STS
	jz .w5
	out dx, ax
	call quiet
	check dword [nmi_count], 0
	port_b_nmi_bits
	check eax, PORT_B_IOCHK_OFF		; nothing latched
	xor eax, eax
	out PORT_B, al
	call quiet
	check dword [nmi_count], 0

group "lint1_fixed"
	call nmi_reset
	mov dword [fixed_count], 0
	mov dword [APIC_LVT_LINT1], FIXED_VECTOR
	sti
	wait_marker 6
.w6:	cmp dword [fixed_count], 0
	je .w6
	cli
	check dword [fixed_count], 1
	check dword [nmi_count], 0
	call clear_iochk
	mov dword [APIC_LVT_LINT1], DM_NMI

group "apic_off"
	call nmi_reset
	mov ecx, MSR_APIC_BASE
	rdmsr
	and eax, ~APIC_GLOBAL_EN
	wrmsr
	wait_marker 7
	call wait_nmi
	check dword [nmi_count], 1
	call quiet
	check dword [nmi_count], 1
	port_b_nmi_bits
	check eax, PORT_B_IOCHK
	call clear_iochk

	guest_finish

nmi_reset:
	mov dword [nmi_count], 0
	mov dword [nmi_eflags], -1
	ret

; Until the NMI handler has run.
wait_nmi:
	cmp dword [nmi_count], 0
	je wait_nmi
	ret

; Until the IOCHK latch is set (the button was pressed).
wait_iochk:
	in al, PORT_B
	test al, PORT_B_IOCHK
	jz wait_iochk
	ret

; A while in which an NMI, if one were coming, would come.
quiet:
	push ecx
	mov ecx, QUIET_SPINS
.l:	dec ecx
	jnz .l
	pop ecx
	ret

; Port 0x61 bit 3 set then cleared: the IOCHK latch cleared.
clear_iochk:
	push eax
	mov al, PORT_B_IOCHK_OFF
	out PORT_B, al
	xor eax, eax
	out PORT_B, al
	pop eax
	ret

nmi_entry:
	push eax
	inc dword [nmi_count]
	mov eax, [esp + 12]
	mov [nmi_eflags], eax
	pop eax
	iretd

fixed_entry:
	inc dword [fixed_count]
	mov dword [APIC_EOI], 0
	iretd

section .data
nmi_count:	dd 0
nmi_eflags:	dd 0
fixed_count:	dd 0
