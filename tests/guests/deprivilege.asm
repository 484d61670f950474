; The sensitive-but-unprivileged instructions of classic x86, checked as
; the SDM says they behave at CPL 0 and at CPL 3. The lesson of
; docs/TEACHING.md runs it twice: under btvm every check passes (the
; kernel's view is a real CPU's at both levels); under --trap-and-emulate,
; where the guest kernel runs deprivileged as on a pre-VT trap-and-emulate
; monitor, the CPL 0 checks fail: POPF cannot clear IF, PUSHF shows the
; real IF, CS shows RPL 3, SMSW and SGDT show the monitor's machine, and
; nothing traps to say so.
%define GUEST_NAME "deprivilege"
%include "lib.inc"
%include "rings.inc"

	guest_start
	call lib_install_idt
	call lib_pic_init
	call rings_setup

	group "popf_cpl0"		; POPF sets and clears IF at CPL 0
	set_flags F_IF
	set_flags 0
	check_flags F_IF, 0
	set_flags F_IF
	check_flags F_IF, F_IF
	set_flags 0

	group "pushf_cpl0"		; PUSHF shows the IF that CLI cleared
	cli
	pushfd
	pop eax
	and eax, F_IF
	check eax, 0

	group "cs_rpl_cpl0"		; the selector's RPL is the CPL
	mov eax, cs
	and eax, 3
	check eax, 0

	group "smsw_cpl0"		; SMSW agrees with MOV from CR0 (which traps)
	smsw eax
	and eax, 0xffff
	mov ebx, cr0
	and ebx, 0xffff
	check eax, ebx

	group "sgdt_cpl0"		; SGDT shows the GDT the guest loaded
	sgdt [gdtr_seen]
	movzx eax, word [gdtr_seen]
	movzx ebx, word [lib_gdtr]
	check eax, ebx
	mov eax, [gdtr_seen + 2]
	check eax, dword [lib_gdtr + 2]

	group "cpl3"			; at CPL 3 with IOPL 0: IF stays, RPL 3
	mov eax, user_code
	mov ecx, F_IF
	call rings_run_user
	check dword [user_if_after_popf], F_IF
	check dword [user_cs_rpl], 3

	guest_finish

user_code:
	push dword 2			; POPF asking for IF = 0 ...
	popfd
	pushfd				; ... is ignored, without a trap
	pop eax
	and eax, F_IF
	mov [user_if_after_popf], eax
	mov eax, cs
	and eax, 3
	mov [user_cs_rpl], eax
	leave_user

section .bss
align 4
	resw 1
gdtr_seen:		resb 6
user_if_after_popf:	resd 1
user_cs_rpl:		resd 1
