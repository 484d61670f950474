; Several CPUs parked where a debugger and the monitor can find them (run
; with --smp 2 or --smp 4; tests/system/run_gdb.py smp, run_stats.py smp):
; the BSP starts the APs by INIT-SIPI-SIPI (the all-but-self shorthand)
; through a real-mode trampoline at 0x70000; each AP switches to
; protected mode, sets registers that name it (EAX = 0xa9000000 + its
; APIC ID, EBX = 0x11111111 * the ID, ESI = 0x5a5a0000 + the ID), counts
; itself in with LOCK INC and parks: the last AP (APIC ID = the number of
; APs) halts with IF=0 at ap_halt, the others spin at ap_spin (PAUSE, so
; the vCPUs' turns pass). The BSP waits for all of them, stops by at
; bsp_parked (a debugger's breakpoint) and checks the count; with "wait"
; on the command line it then spins at bsp_wait for ever (for the
; monitor's look), else it ends (status 33). The number of APs is
; CPUID leaf 1's span of APIC IDs less one (the vCPUs' count for 2 and 4).
%define GUEST_NAME "smp_park"
%include "lib.inc"
%include "smp.inc"

SPIN		equ 50000000		; rounds the wait gives up after

guest_start
	mov dword [APIC_SVR], 0x1ff	; enabled, spurious 0xff
	mov eax, 1
	cpuid
	shr ebx, 16
	and ebx, 0xff
	dec ebx
	mov [aps], ebx
	smp_copy_trampoline

group "park"
	mov dword [APIC_ICR_HI], 0
	mov dword [APIC_ICR_LO], SH_OTHERS | ICR_ASSERT | ICR_LEVEL | DM_INIT
	mov dword [APIC_ICR_LO], SH_OTHERS | ICR_ASSERT | DM_STARTUP | SIPI_VECTOR
	mov ecx, SPIN
.wait:
	mov eax, [arrived]
	cmp eax, [aps]
	je bsp_parked
	pause
	dec ecx
	jnz .wait
bsp_parked:
	mov eax, [arrived]
	check eax, dword [aps]
	mov esi, s_wait
	call lib_cmdline_has
	test eax, eax
	jz park_done
bsp_wait:
	pause
	jmp bsp_wait
park_done:
	guest_finish

; ---------------------------------------------------------------- the APs
; Copied to TRAMPOLINE (smp.inc): real mode, CS = SIPI_VECTOR << 8, IP 0.
smp_trampoline

ap_main:
	mov ecx, [APIC_ID]
	shr ecx, 24
	lea eax, [ecx + 0xa9000000]
	imul ebx, ecx, 0x11111111
	lea esi, [ecx + 0x5a5a0000]
	lock inc dword [arrived]	; the registers are set: counted in
	cmp ecx, [aps]
	je ap_halt
ap_spin:
	pause
	jmp ap_spin
ap_halt:
	hlt
	jmp ap_halt

section .data
align 4
arrived:	dd 0
aps:		dd 0
s_wait:		db "wait", 0
