; INIT to the bootstrap processor (run with --smp 2): the BSP resets its
; registers and starts at the reset vector, 0xFFFFFFF0 (SDM vol. 3, 9.1
; and 10.6.1), while memory, the devices and the other CPUs go on: no
; machine reset. The BSP starts the AP, both work a while (a loop whose
; sum is checked; with "long" on the command line a long one, for
; --profile's test of every vCPU's samples, tests/system/run_smp_reports.py),
; then the AP sends INIT to APIC ID 0 and counts on. A direct kernel
; boot has no firmware at the reset vector: the bytes there read all
; ones, an #UD in real mode, which the guest's real-mode IVT entry 6
; sends to `landing` (copied below 1 MiB). Through a BIOS (QEMU's
; SeaBIOS) the reset vector sees POST done and CMOS shutdown code 0x0A
; and jumps through 40:67 to `landing` instead. `landing` notes what
; INIT left (CR0, the APIC base MSR, the 8259's mask), goes back to
; protected mode and checks it: CR0 in its INIT state, the LAPIC at its
; power-up state (software-disabled) and still the BSP's, memory and the
; 8259 as they were, the AP still counting.
%define GUEST_NAME "smp_init"
%include "lib.inc"
%include "smp.inc"

LANDING		equ 0x8000		; where landing is copied (real mode, CS 0)
SPIN		equ 200000000		; rounds a wait for the AP gives up after
WORK_SHORT	equ 100000
WORK_LONG	equ 300000000
MARK		equ 0x5eed1e55
IMR		equ 0xa5		; the master 8259's mask, as left before INIT

guest_start
	smp_copy_trampoline
	mov esi, landing
	mov edi, LANDING
	mov ecx, landing_end - landing
	rep movsb
	; Real mode's way to landing: IVT entry 6 (#UD) for a direct boot,
	; the warm-start pointer at 40:67 with shutdown code 0x0A for a BIOS.
	mov dword [6 * 4], LANDING
	mov dword [0x467], LANDING
	mov al, 0x0f
	out 0x70, al
	mov al, 0x0a
	out 0x71, al
	mov dword [mark], MARK
	mov al, IMR
	out 0x21, al
	mov dword [work_iters], WORK_SHORT
	mov esi, s_long
	call lib_cmdline_has
	test eax, eax
	jz .short
	mov dword [work_iters], WORK_LONG
.short:

group "startup"
	mov dword [APIC_SVR], 0x1ff
	mov dword [APIC_ICR_HI], 1 << 24
	mov dword [APIC_ICR_LO], ICR_ASSERT | ICR_LEVEL | DM_INIT
	mov dword [APIC_ICR_LO], ICR_ASSERT | DM_STARTUP | SIPI_VECTOR
	mov ecx, SPIN
.wait:
	cmp dword [ap_up], 0
	jne .up
	pause
	dec ecx
	jnz .wait
.up:
	check dword [ap_up], 1

group "work"
	call work
	mov ecx, SPIN
.ap_done:
	cmp dword [ap_sum_ok], 0
	jne .compare
	pause
	dec ecx
	jnz .ap_done
.compare:
	check eax, dword [work_expect]

group "init"
	; CD and NW set: INIT leaves them as they are (SDM vol. 3, table
	; 9-1), where QEMU's INIT sets them as RESET does; both then agree.
	mov eax, cr0
	or eax, 0x60000000
	mov cr0, eax
	mov dword [bsp_worked], 1		; the AP's signal to send INIT
	; The AP's INIT comes while this waits: without a bound (a bound
	; would be a timing assumption), a CTest TIMEOUT catches a BSP that
	; never gets it.
.spin:
	pause
	jmp .spin

; EAX = the sum work makes; every vCPU the same.
work:
	mov ecx, [work_iters]
	xor eax, eax
	mov edx, 1
.loop:
	add eax, edx
	imul edx, edx, 3
	xor edx, ecx
	dec ecx
	jnz .loop
	ret

; Back in protected mode after the INIT (landing's far jump): flat
; segments, the library's stack and IDT again.
after_init:
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov fs, ax
	mov gs, ax
	mov esp, lib_stack_top
	call lib_install_idt
	mov eax, [LANDING + l_cr0 - landing]
	mov [seen_cr0], eax
	mov eax, [LANDING + l_apic_base - landing]
	mov [seen_apic_base], eax
	movzx eax, byte [LANDING + l_imr - landing]
	mov [seen_imr], eax
	check dword [bsp_worked], 1
	check dword [seen_cr0], 0x60000010	; ET, and CD and NW as before
	check dword [seen_apic_base], 0xfee00900	; enabled, still the BSP
	check dword [seen_imr], IMR		; the 8259 not reset
	check dword [mark], MARK		; nor memory
	mov eax, [APIC_SVR]
	and eax, 0x1ff
	check eax, 0xff				; the LAPIC at power-up: disabled
	mov eax, [APIC_ID]
	shr eax, 24
	check eax, 0

group "ap_goes_on"
	mov ebx, [ap_beat]
	mov ecx, SPIN
.wait:
	cmp [ap_beat], ebx
	jne .moved
	pause
	dec ecx
	jnz .wait
.moved:
	mov eax, [ap_beat]
	sub eax, ebx
	setnz al
	movzx eax, al
	check eax, 1
	guest_finish

; ---------------------------------------------------------------- the AP
smp_trampoline

ap_main:
	mov esp, ap_stack_top
	mov dword [ap_up], 1
	call work
	mov [work_expect], eax
	mov dword [ap_sum_ok], 1
.wait:
	cmp dword [bsp_worked], 0
	jne .send
	pause
	jmp .wait
.send:
	mov dword [APIC_ICR_HI], 0
	mov dword [APIC_ICR_LO], ICR_ASSERT | ICR_LEVEL | DM_INIT
.count:
	inc dword [ap_beat]
	pause
	jmp .count

; ------------------------------------------------- real mode, after INIT
; Copied to LANDING; reached with CS 0, IP LANDING, interrupts off.
	bits 16
landing:
	cli
	xor ax, ax
	mov ds, ax
	mov eax, cr0
	mov [LANDING + l_cr0 - landing], eax
	mov ecx, 0x1b				; IA32_APIC_BASE
	rdmsr
	mov [LANDING + l_apic_base - landing], eax
	in al, 0x21
	mov [LANDING + l_imr - landing], al
	o32 lgdt [LANDING + l_gdtr - landing]
	mov eax, cr0
	or eax, 1
	mov cr0, eax
	jmp dword SEL_CODE:after_init
l_gdtr:
	dw LIB_GDT_ENTRIES * 8 - 1
	dd lib_gdt
l_cr0:		dd 0
l_apic_base:	dd 0
l_imr:		db 0
landing_end:
	bits 32

section .rodata
s_long:		db "long", 0

section .data
align 4
mark:		dd 0
work_iters:	dd 0
work_expect:	dd 0
ap_up:		dd 0
ap_sum_ok:	dd 0
ap_beat:	dd 0
bsp_worked:	dd 0
seen_cr0:	dd 0
seen_apic_base:	dd 0
seen_imr:	dd 0

section .bss
align 16
ap_stack:	resb 4096
ap_stack_top:
