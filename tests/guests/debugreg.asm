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
; detect). Data breakpoints (R/W 01 and 11, every LEN): a trap-class #DB
; after the instruction that touched the range, for plain, ALU, x87, SSE,
; stack and REP string accesses. MOV SS and POP SS holding debug
; exceptions off across the next instruction (SDM 6.8.3), and
; IA32_DEBUGCTL.BTF (TF traps after taken branches only).

%define GUEST_NAME "debugreg"
%define EXC_RECORD_OWN
%include "lib.inc"
%include "exc_record.inc"
%include "rings.inc"

EFLAGS_RF	equ 0x10000
DR6_FIXED	equ 0xffff0ff0
DR7_FIXED	equ 0x00000400
CR4_DE		equ 0x8
CR4_OSFXSR	equ 0x200
MSR_DEBUGCTL	equ 0x1d9
DEBUGCTL_BTF	equ 2

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

DR6_BS		equ 0x4000
LEN1		equ 0
LEN2		equ 1
LEN8		equ 2
LEN4		equ 3
%define L(n) (1 << (2 * (n)))
%define G(n) (2 << (2 * (n)))
%define DATA_W(n, len) ((1 | (len) << 2) << (16 + 4 * (n)))
%define DATA_RW(n, len) ((3 | (len) << 2) << (16 + 4 * (n)))

; data_probe n, dr7, address, hits, insn: DRn = address with DR7 = dr7,
; insn run, all disarmed; then one trap-class #DB right after insn with
; DR6's B0-B3 = hits, or none at all when hits is 0.
%macro data_probe 5+
	arm 0
	mov dword [x_dr6], 0
	arm_bp %1, %3, %2
	%5
%%after:
	disarm
%if %4
	check dword [x_count], 1
	check dword [x_vec], 1
	check dword [x_eip], %%after
	check dword [x_dr6], DR6_FIXED | %4
%else
	check dword [x_count], 0
%endif
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

	; --- data breakpoints (SDM 18.2.4-18.2.5, 18.3.1.2) -----------------
	; A trap after the instruction that touched the range (EIP the next
	; one's), DR6.Bn for each enabled breakpoint that matched. wdata+8 is
	; 8-aligned: each LEN covers wdata+8 up to +1, +2, +4 or +8.
	group "data_len1"
	data_probe 0, DATA_W(0, LEN1) | L(0), wdata + 8, 1, mov byte [wdata + 8], 1
	data_probe 0, DATA_W(0, LEN1) | L(0), wdata + 8, 0, mov byte [wdata + 9], 1
	data_probe 0, DATA_W(0, LEN1) | L(0), wdata + 8, 0, mov byte [wdata + 7], 1
	data_probe 0, DATA_W(0, LEN1) | G(0), wdata + 8, 1, mov dword [wdata + 5], 1

	group "data_len2"
	data_probe 1, DATA_W(1, LEN2) | G(1), wdata + 8, 2, mov byte [wdata + 9], 1
	data_probe 1, DATA_W(1, LEN2) | G(1), wdata + 8, 0, mov byte [wdata + 10], 1
	data_probe 1, DATA_W(1, LEN2) | G(1), wdata + 8, 2, mov dword [wdata + 6], 1
	data_probe 1, DATA_W(1, LEN2) | G(1), wdata + 8, 0, mov word [wdata + 6], 1

	group "data_len4"
	data_probe 2, DATA_W(2, LEN4) | L(2), wdata + 8, 4, mov byte [wdata + 11], 1
	data_probe 2, DATA_W(2, LEN4) | L(2), wdata + 8, 0, mov byte [wdata + 12], 1
	data_probe 2, DATA_W(2, LEN4) | L(2), wdata + 8, 4, mov word [wdata + 7], 1
	data_probe 2, DATA_W(2, LEN4) | L(2), wdata + 8, 0, mov dword [wdata + 4], 1

	group "data_len8"
	data_probe 3, DATA_W(3, LEN8) | G(3), wdata + 8, 8, mov byte [wdata + 15], 1
	data_probe 3, DATA_W(3, LEN8) | G(3), wdata + 8, 0, mov byte [wdata + 16], 1
	data_probe 3, DATA_W(3, LEN8) | G(3), wdata + 8, 8, mov dword [wdata + 5], 1
	data_probe 3, DATA_W(3, LEN8) | G(3), wdata + 8, 8, mov dword [wdata + 14], 1

	; An address not aligned to its length is taken aligned down.
	group "data_align"
	data_probe 2, DATA_W(2, LEN4) | G(2), wdata + 9, 4, mov byte [wdata + 8], 1
	data_probe 2, DATA_W(2, LEN8) | G(2), wdata + 13, 4, mov byte [wdata + 8], 1
	data_probe 2, DATA_W(2, LEN2) | G(2), wdata + 9, 0, mov byte [wdata + 10], 1

	; R/W 01 ignores reads; R/W 11 takes reads and writes, ALU r/m and
	; x87/SSE operands too.
	group "data_rw"
	data_probe 0, DATA_W(0, LEN4) | L(0), wdata + 8, 0, mov ebx, [wdata + 8]
	data_probe 0, DATA_W(0, LEN4) | L(0), wdata + 8, 1, add [wdata + 8], ebx
	data_probe 0, DATA_RW(0, LEN4) | L(0), wdata + 8, 1, mov ebx, [wdata + 8]
	data_probe 0, DATA_RW(0, LEN4) | L(0), wdata + 8, 1, cmp [wdata + 10], bl
	data_probe 1, DATA_RW(1, LEN2) | G(1), wdata + 8, 2, fild dword [wdata + 8]
	fstp st0
	mov eax, cr4
	or eax, CR4_OSFXSR
	mov cr4, eax
	data_probe 1, DATA_RW(1, LEN2) | G(1), wdata + 8, 2, movq xmm0, [wdata + 4]
	data_probe 1, DATA_W(1, LEN2) | G(1), wdata + 8, 0, movdqu xmm0, [wdata]
	data_probe 1, DATA_W(1, LEN2) | G(1), wdata + 8, 2, movdqu [wdata], xmm0

	; Neither L nor G: nothing, however the range is touched.
	group "data_disabled"
	data_probe 0, DATA_RW(0, LEN4), wdata + 8, 0, mov [wdata + 8], ebx

	; Two breakpoints on one byte, one more elsewhere: one #DB with the
	; two bits.
	group "data_two"
	mov eax, wdata + 8
	mov dr2, eax
	mov eax, wdata + 12
	mov dr1, eax
	data_probe 0, DATA_W(0, LEN1) | L(0) | DATA_W(2, LEN4) | G(2) | DATA_W(1, LEN1) | L(1), \
		wdata + 8, 5, mov [wdata + 8], bl

	; The stack: PUSH and CALL write it, POP and RET read it. A #DB's
	; frame lands right below ESP, which after a plain POP or RET is the
	; slot just read (its handler would hit it again): the POP is POP ESP
	; to a stack further down, the RET a RET 64 out of a reserved area.
	group "data_stack"
	lea edx, [esp - 4]
	data_probe 0, DATA_W(0, LEN4) | L(0), edx, 1, push ebx
	add esp, 4
	lea edx, [esp - 4]
	arm 0
	mov dword [x_dr6], 0
	arm_bp 0, edx, DATA_W(0, LEN4) | L(0)
	call data_callee
	disarm
	check dword [x_count], 1           ; R/W 01: the RET's read did not hit
	check dword [x_eip], data_callee   ; the trap after the CALL
	check dword [x_dr6], DR6_FIXED | 1
	mov ebp, esp
	lea ecx, [esp - 512]
	push ecx
	mov edx, esp
	data_probe 0, DATA_RW(0, LEN4) | L(0), edx, 1, pop esp
	mov esp, ebp
	sub esp, 64
	lea edx, [esp - 4]
	arm 0
	mov dword [x_dr6], 0
	call data_arm_ret
.after_ret:
	disarm
	check dword [x_count], 1
	check dword [x_eip], .after_ret
	check dword [x_dr6], DR6_FIXED | 1
	mov ecx, esp
	check ecx, ebp

	; REP MOVSD that hits its sixth element: the #DB comes after that
	; iteration, at the MOVSD with ECX, ESI and EDI as it left them, and
	; the handler's IRETD lets it finish.
	group "data_rep"
	arm 0
	mov dword [x_dr6], 0
	arm_bp 3, wdst + 20, DATA_W(3, LEN4) | L(3)
	mov esi, wsrc
	mov edi, wdst
	mov ecx, 16
	cld
.movs:	rep movsd
	disarm
	check dword [x_count], 1
	check dword [x_eip], .movs
	check dword [x_dr6], DR6_FIXED | 8
	check dword [x_ecx], 10
	check dword [x_esi], wsrc + 24
	check dword [x_edi], wdst + 24
	check ecx, 0
	check edi, wdst + 64
	check dword [wdst + 60], 15

	; REP INSB the same way; and the monitor's own store of SGDT's operand.
	group "data_ins"
	arm 0
	mov dword [x_dr6], 0
	arm_bp 1, wdst + 3, DATA_W(1, LEN1) | G(1)
	mov edi, wdst
	mov ecx, 8
	mov edx, 0x80
.insb:	rep insb
	disarm
	check dword [x_count], 1
	check dword [x_eip], .insb
	check dword [x_dr6], DR6_FIXED | 2
	check dword [x_ecx], 4
	check dword [x_edi], wdst + 4
	check ecx, 0
	data_probe 0, DATA_W(0, LEN1) | L(0), wdata + 13, 1, sgdt [wdata + 8]

	; A trap with TF too: one #DB, BS and the breakpoint's bit.
	group "data_tf"
	arm 0
	mov dword [x_dr6], 0
	mov dword [clear_tf], 1
	arm_bp 0, wdata + 8, DATA_W(0, LEN1) | L(0)
	pushfd
	or dword [esp], 0x100
	popfd
	mov [wdata + 8], bl
.tf_after:
	disarm
	mov dword [clear_tf], 0
	check dword [x_count], 1
	check dword [x_eip], .tf_after
	check dword [x_dr6], DR6_FIXED | DR6_BS | 1

	; --- MOV SS and POP SS hold debug exceptions off across the next
	; instruction (SDM 6.8.3) ------------------------------------------
	; Its instruction breakpoint is not reported.
	group "movss_bp"
	arm 0
	arm_bp 0, ..@movss_bp, 0x01
	mov bx, ss
	mov ss, bx
..@movss_bp:	nop
	arm_bp 1, ..@popss_bp, 0x04
	push ss
	pop ss
..@popss_bp:	nop
	disarm
	check dword [x_count], 0

	; TF set by POPFD traps after the next instruction, a MOV SS: held
	; off to after the one after it, one #DB.
	group "movss_step"
	arm 0
	mov dword [x_dr6], 0
	mov dword [clear_tf], 1
	xor eax, eax
	mov dr6, eax
	mov bx, ss
	pushfd
	or dword [esp], 0x100
	popfd
	mov ss, bx
	nop
.step_after:
	push ss
	pushfd
	or dword [esp], 0x100
	popfd
	pop ss
	nop
.step_after2:
	mov dword [clear_tf], 0
	check dword [x_count], 2
	check dword [x_eip], .step_after2
	check dword [x_dr6], DR6_FIXED | DR6_BS

	; A data breakpoint the MOV SS itself hits: reported after the next
	; instruction.
	group "movss_data"
	arm 0
	mov dword [x_dr6], 0
	mov ax, ss
	mov [ss_value], ax
	arm_bp 2, ss_value, DATA_RW(2, LEN2) | L(2)
	mov ss, [ss_value]
	nop
.data_after:
	disarm
	check dword [x_count], 1
	check dword [x_eip], .data_after
	check dword [x_dr6], DR6_FIXED | 4

	; IA32_DEBUGCTL.BTF with TF: the trap comes only after a taken branch
	; (not after other instructions nor a Jcc not taken), and clears BTF
	; (SDM 17.4.3).
	group "btf"
	arm 0
	mov dword [x_dr6], 0
	mov dword [clear_tf], 1
	xor eax, eax
	mov dr6, eax
	mov ecx, MSR_DEBUGCTL
	mov eax, DEBUGCTL_BTF
	xor edx, edx
	wrmsr
	pushfd
	or dword [esp], 0x100
	popfd
	mov eax, 1
	add eax, 1
	test eax, eax
	jz .btf_wrong
	jmp .btf_taken
.btf_wrong:
	fail_now "a Jcc not taken went to its target"
.btf_taken:
	mov dword [clear_tf], 0
	check dword [x_count], 1
	check dword [x_eip], .btf_taken
	check dword [x_dr6], DR6_FIXED | DR6_BS
	mov ecx, MSR_DEBUGCTL
	rdmsr
	check eax, 0
	; A CALL to the next instruction is a taken branch too.
	mov dword [clear_tf], 1
	mov ecx, MSR_DEBUGCTL
	mov eax, DEBUGCTL_BTF
	xor edx, edx
	wrmsr
	pushfd
	or dword [esp], 0x100
	popfd
	mov eax, 1
	call .btf_next
.btf_next:
	pop eax
	mov dword [clear_tf], 0
	check dword [x_count], 2
	check dword [x_eip], .btf_next

	guest_finish

; data_callee: returns at once (the data_stack group's CALLs).
data_callee:
	ret

; data_arm_ret: a read breakpoint on its own return address (at EDX),
; then RET 64
data_arm_ret:
	arm_bp 0, edx, DATA_RW(0, LEN4) | L(0)
	ret 64

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
	mov [x_ecx], ecx
	mov [x_esi], esi
	mov [x_edi], edi
	xor eax, eax
	mov dr6, eax
	cmp dword [clear_tf], 0
	je .tf_kept
	and dword [esp + 20], ~0x100
.tf_kept:
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
clear_tf:	dd 0
ss_value:	dd 0
x_ecx:		dd 0
x_esi:		dd 0
x_edi:		dd 0
align 8
wdata:		times 24 db 0
wsrc:		dd 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
wdst:		times 16 dd 0
