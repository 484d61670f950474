; The debug registers' instruction breakpoints (SDM vol. 3 18.2-18.3):
; DR0-DR3 with R/W 00 enabled by L or G in DR7 raise a fault-class #DB
; before the instruction at their linear address, with DR6.Bn set and EIP
; the instruction's; the image shows RF clear (SDM 18.3.1.1: only other
; faults push RF set), and a handler that sets RF there resumes past the
; breakpoint once; the next pass fires again. A breakpoint in the middle of
; an already translated straight-line block, at a jump's target, reached by
; an IRETD with RF set, after a POPFD that tried to set RF; disabled by L/G
; clear; in ring-3 code. Also DR4/DR5 (DR6/DR7 with CR4.DE clear, #UD with
; it set), the bits of DR6/DR7 that read as fixed, and DR7.GD (general
; detect).

%define GUEST_NAME "debugreg"
%define EXC_RECORD_OWN
%include "lib.inc"
%include "exc_record.inc"
%include "rings.inc"

EFLAGS_RF	equ 0x10000
DR6_FIXED	equ 0xffff0ff0
DR7_FIXED	equ 0x00000400
CR4_DE		equ 0x8

; arm_bp n, label, dr7: DRn = label, DR6 = 0 (reads DR6_FIXED), DR7 = dr7
%macro arm_bp 3
	mov eax, %2
	mov dr%1, eax
	xor eax, eax
	mov dr6, eax
	mov eax, %3 | DR7_FIXED
	mov dr7, eax
%endmacro

%macro disarm 0
	xor eax, eax
	mov dr7, eax
	mov dr6, eax
%endmacro

	guest_start
	call lib_install_idt
	call rings_setup
	mov dword [lib_exc_hook], dbh
	mov dword [set_rf], 1

	group "fixed_bits"
	xor eax, eax
	mov dr6, eax
	mov dr7, eax
	mov eax, dr6
	check eax, DR6_FIXED
	mov eax, dr7
	check eax, DR7_FIXED
	mov eax, 0x0000e00f
	mov dr6, eax
	mov eax, dr6
	check eax, DR6_FIXED | 0xe00f
	xor eax, eax
	mov dr6, eax

	; One breakpoint in each register, enabled by L, G or both.
%macro one_bp 3
	group %1
	arm 0
	mov dword [x_dr6], 0
	xor ecx, ecx
	arm_bp %2, %%bp, %3
%%bp:	inc ecx
	disarm
	check dword [x_count], 1
	check dword [x_vec], 1
	check dword [x_eip], %%bp
	check dword [x_dr6], DR6_FIXED | (1 << %2)
	mov eax, [x_eflags]
	and eax, EFLAGS_RF
	check eax, 0
	check ecx, 1
%endmacro
	one_bp "dr0", 0, 0x01
	one_bp "dr1", 1, 0x08
	one_bp "dr2", 2, 0x30
	one_bp "dr3", 3, 0xc0

	group "again"
	arm 0
	xor ebx, ebx
	mov ecx, 3
	arm_bp 0, ..@again_bp, 0x02
..@again_bp:
	inc ebx
	dec ecx
	jnz ..@again_bp
	disarm
	check dword [x_count], 3
	check dword [x_eip], ..@again_bp
	check ebx, 3

	; Translated without the breakpoint first, then run with it: the
	; block must end before it now.
	group "mid_block"
	arm 0
	call straight
	check dword [x_count], 0
	check eax, 4
	arm_bp 1, straight_bp, 0x04
	call straight
	mov esi, eax
	disarm
	check dword [x_count], 1
	check dword [x_eip], straight_bp
	check dword [x_eax], 2
	check dword [x_dr6], DR6_FIXED | 2
	check esi, 4

	group "disabled"
	arm 0
	arm_bp 0, ..@disabled_bp, 0x00
	mov eax, 0x00000300   ; LE and GE alone enable nothing
	mov dr7, eax
..@disabled_bp:	nop
	call straight
	disarm
	check dword [x_count], 0

	group "rw_not_execute"
	arm 0
	arm_bp 2, ..@rw_not_execute_bp, 0x01000020   ; R/W2 = 01: a data write breakpoint
..@rw_not_execute_bp:	nop
	disarm
	check dword [x_count], 0

	group "jump"
	arm 0
	arm_bp 3, jump_bp, 0x40
	mov edx, .back1
	jmp jump_bp
.back1:
	mov edx, .back2
	mov eax, jump_bp
	jmp eax
.back2:
	disarm
	check dword [x_count], 2
	check dword [x_eip], jump_bp

	; POPFD cannot set RF (SDM POPF: RF is cleared): the breakpoint fires.
	group "popf_rf"
	arm 0
	arm_bp 0, ..@popf_rf_bp, 0x01
	push dword EFLAGS_RF | 2
	popfd
..@popf_rf_bp:	nop
	disarm
	check dword [x_count], 1
	check dword [x_eip], ..@popf_rf_bp

	; IRETD loads RF: the instruction it returns to does not break, the
	; next pass over it does.
	group "iret_rf"
	arm 0
	xor ecx, ecx
	arm_bp 2, ..@iret_bp, 0x10
	push dword EFLAGS_RF | 2
	push cs
	push dword ..@iret_bp
	iretd
..@iret_bp:
	inc ecx
	cmp ecx, 2
	jb ..@iret_bp
	disarm
	check dword [x_count], 1
	check dword [x_eip], ..@iret_bp
	check ecx, 2

	; A handler that does not set RF and removes the breakpoint instead.
	group "no_rf"
	arm 0
	mov dword [set_rf], 0
	mov dword [clear_dr7], 1
	xor ecx, ecx
	arm_bp 0, ..@no_rf_bp, 0x01
..@no_rf_bp:	inc ecx
	mov dword [set_rf], 1
	mov dword [clear_dr7], 0
	disarm
	check dword [x_count], 1
	check ecx, 1

	; Two registers on the same address: both bits in DR6, one #DB.
	group "two"
	arm 0
	mov eax, ..@two_bp
	mov dr1, eax
	arm_bp 3, ..@two_bp, 0x44
..@two_bp:	nop
	disarm
	check dword [x_count], 1
	check dword [x_dr6], DR6_FIXED | 0xa

	; A breakpoint in ring-3 code: the #DB comes to ring 0 with the ring-3
	; frame, and the IRETD (RF set) goes back past it.
	group "cpl3"
	arm 0
	xor ebx, ebx
	arm_bp 1, user_bp, 0x04
	mov eax, user_bp
	xor ecx, ecx
	call rings_run_user
	disarm
	check dword [x_count], 1
	check dword [x_eip], user_bp
	check dword [x_cs], RING_SEL_UCODE
	check dword [x_dr6], DR6_FIXED | 2
	check ebx, 1

	group "dr4_dr5"
	arm ..@dr45_fault
	xor eax, eax
	mov dr6, eax
	mov eax, 0x00000401
	mov dr5, eax            ; DR7
	mov eax, dr7
	check eax, 0x00000401
	mov eax, dr4            ; DR6
	check eax, DR6_FIXED
	xor eax, eax
	mov dr7, eax
	; CR4.DE exists only with CPUID.1:EDX.DE (I/O breakpoints, which
	; btvm's model has not: there CR4.DE is #GP and DR4/DR5 stay
	; aliases); with it DR4/DR5 are #UD.
	mov eax, 1
	cpuid
	test edx, 1 << 2
	jnz .has_de
	arm .gp_done
	mov eax, cr4
	or eax, CR4_DE
.gp_at:	mov cr4, eax
.gp_done:
	expect 13, .gp_at, 0
	jmp .dr45_done
.has_de:
	mov eax, cr4
	or eax, CR4_DE
	mov cr4, eax
	arm .ud_done
.ud_at:	mov eax, dr4
.ud_done:
	expect 6, .ud_at, 0
	mov eax, cr4
	and eax, ~CR4_DE
	mov cr4, eax
	jmp .dr45_done
..@dr45_fault:
	fail_now "a fault with CR4.DE clear"
.dr45_done:

	; General detect: the MOV DR is a fault with BD set, GD cleared for
	; the handler, so that it runs on the resume.
	group "gd"
	arm 0
	xor eax, eax
	mov dr6, eax
	mov eax, 0x2000 | DR7_FIXED
	mov dr7, eax
	mov eax, 0x1234
.gd_at:	mov dr0, eax
	check dword [x_count], 1
	check dword [x_vec], 1
	check dword [x_eip], .gd_at
	check dword [x_dr6], DR6_FIXED | 0x2000
	mov eax, dr0
	check eax, 0x1234
	mov eax, dr7
	check eax, DR7_FIXED
	check dword [x_count], 1
	xor eax, eax
	mov dr6, eax

	guest_finish

; user_bp: ring-3 code with a breakpoint on its first instruction
user_bp:
	inc ebx
	leave_user

; jump_bp: the target of two jumps; returns to EDX.
jump_bp:
	jmp edx

; straight: a straight-line run with straight_bp in its middle
straight:
	mov eax, 1
	mov eax, 2
straight_bp:
	mov eax, 3
	mov eax, 4
	ret

; The #DB (and #UD) recorder: [esp] vector, [esp+4] error, [esp+8] EIP.
; Keeps DR6 and EAX, clears DR6, sets RF in the image when set_rf says so
; and clears DR7 when clear_dr7 does.
dbh:
	push eax
	mov [x_eax], eax
	x_record_frame
	inc dword [x_count]
	cmp dword [x_vec], 1
	jne .not_db
	mov eax, dr6
	mov [x_dr6], eax
	xor eax, eax
	mov dr6, eax
	cmp dword [clear_dr7], 0
	je .keep
	mov dr7, eax
.keep:
	cmp dword [set_rf], 0
	je .not_db
	or dword [esp + 20], EFLAGS_RF
.not_db:
	x_resume .done
.done:
	pop eax
	add esp, 8
	iretd

section .data
x_dr6:		dd 0
x_eax:		dd 0
set_rf:		dd 0
clear_dr7:	dd 0
