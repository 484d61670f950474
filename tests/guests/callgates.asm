; Call gates of 16 and 32 bits and 16-bit interrupt and trap gates:
;  gate32_in   ring 3 calls a 32-bit gate (DPL 3, count 2) to ring 0: the
;              stack from the TSS with EIP, CS, both parameters, ESP, SS;
;              RETF 8 back to ring 3 drops the parameters
;  gate32_same a 32-bit gate at ring 0: EIP and CS on the same stack, no
;              parameters copied; JMP through it: nothing pushed
;  refused     from ring 3: a DPL-0 gate #GP(gate), a gate not present
;              #NP(gate), a target not present #NP(cs), JMP through a gate
;              to ring 0 #GP(cs)
;  gate16_in   ring 3 (code and stack based, so IP and SP fit in 16 bits)
;              calls a 16-bit gate (count 2) to ring 0: a frame of words,
;              O16 RETF 4 back
;  int16       a 16-bit interrupt gate at ring 0: IP, CS, FLAGS words, IF
;              cleared; IRET with a 16-bit operand back
;  trap16_in   a 16-bit trap gate (DPL 3) from ring 3: the inner stack
;              with IP, CS, FLAGS, SP, SS words, IF kept
%define GUEST_NAME "callgates"
%include "lib.inc"
%include "rings.inc"
%include "exc_record.inc"

SEL_CG32_U	equ 0x30		; 32-bit call gate, DPL 3, count 2 -> KCODE:cg32_inner
SEL_CG16_U	equ 0x38		; 16-bit call gate, DPL 3, count 2 -> SEL_B0:cg16_inner
SEL_B0		equ 0x60		; ring-0 code based at seg16_start
SEL_B3		equ 0x68 | 3		; ring-3 code based at seg16_start
SEL_S3		equ 0x70 | 3		; ring-3 stack based at ustack16
SEL_CG32_K	equ 0x78		; 32-bit call gate, DPL 0 -> SEL_CODE:cg_same
SEL_CG32_U_R3	equ SEL_CG32_U | 3
SEL_CG16_U_R3	equ SEL_CG16_U | 3
SEL_CG32_K_R3	equ SEL_CG32_K | 3
VEC_INT16	equ 0x50
VEC_TRAP16	equ 0x51
USTACK16_SIZE	equ 1024
B0_INT_OFFSET	equ b0_int - seg16_start

; call_gate selector, target cs, offset, access, count
%macro call_gate 5
	mov eax, %3
	and eax, 0xffff
	or eax, %2 << 16
	mov [lib_gdt + %1], eax
	mov eax, %3
	and eax, 0xffff0000
	or eax, (%4 << 8) | %5
	mov [lib_gdt + %1 + 4], eax
%endmacro

; idt16 vector, offset in seg16, access: a 16-bit gate to SEL_B0
%macro idt16 3
	mov dword [lib_idt + %1 * 8], (SEL_B0 << 16) | (%2 - seg16_start)
	mov dword [lib_idt + %1 * 8 + 4], %3 << 8
%endmacro

guest_start
	call lib_install_idt
	call lib_pic_init
	call rings_setup
	mov dword [lib_exc_hook], exc_record
	; code segments based at seg16_start (32-bit, 64 KiB), ring 3's stack
	mov eax, SEL_B0
	mov ebx, seg16_start
	mov ecx, 0xffff
	mov edx, 0x049a
	call lib_set_desc
	mov eax, SEL_B3
	mov edx, 0x04fa
	call lib_set_desc
	mov eax, SEL_S3
	mov ebx, ustack16
	mov edx, 0x04f2
	call lib_set_desc
	call_gate SEL_CG32_U, RING_SEL_KCODE, cg32_inner, 0xec, 2
	call_gate SEL_CG16_U, SEL_B0, cg16_inner - seg16_start, 0xe4, 2
	call_gate SEL_CG32_K, SEL_CODE, cg_same, 0x8c, 3

group "gate32_in"
	mov eax, r3_cg32
	mov ecx, 0
	call rings_run_user
	check dword [k_esp], rings_kstack_top - 24
	check dword [f_eip], r3_cg32.ret
	check dword [f_cs], RING_SEL_UCODE
	check dword [f_p0], 0x2222
	check dword [f_p1], 0x1111
	mov eax, [r3_esp_before]
	sub eax, 8
	check dword [f_esp], eax
	check dword [f_ss], RING_SEL_UDATA
	check dword [k_cs], RING_SEL_KCODE
	check dword [k_ss], SEL_DATA
	mov eax, [r3_esp_before]
	check dword [r3_esp_after], eax		; RETF 8 dropped the parameters
	check dword [r3_cs], RING_SEL_UCODE

group "gate32_same"
	mov ebx, esp
	push dword 0x3333
	call SEL_CG32_K:0
.ret:
	add esp, 4
	check dword [f_eip], .ret
	check dword [f_cs], SEL_CODE
	sub ebx, 12
	check dword [k_esp], ebx
	check dword [f_p0], 0x3333		; the caller's push, not a copy
	call_gate SEL_CG32_K, SEL_CODE, jmp_target, 0x8c, 3
	mov [jmp_esp_before], esp
	jmp SEL_CG32_K:0
jmp_back:
	mov eax, [jmp_esp_before]
	check dword [k_esp], eax
	check dword [k_cs], SEL_CODE
	call_gate SEL_CG32_K, SEL_CODE, cg_same, 0x8c, 3

group "refused"
	mov eax, r3_refused
	mov ecx, 0
	call rings_run_user
	check dword [r_vec + 0], 13
	check dword [r_err + 0], SEL_CG32_K
	check dword [r_vec + 4], 11
	check dword [r_err + 4], SEL_CG32_U
	check dword [r_vec + 8], 11
	check dword [r_err + 8], RING_SEL_KCODE
	check dword [r_vec + 12], 13
	check dword [r_err + 12], RING_SEL_KCODE
	check dword [r_count], 4

group "gate16_in"
	mov eax, r3_cg16 - seg16_start
	mov ecx, 0
	call enter_b3
	check dword [k_esp], rings_kstack_top - 12
	check dword [f_eip], r3_cg16.ret - seg16_start
	check dword [f_cs], SEL_B3
	check dword [f_p0], 0x5555
	check dword [f_p1], 0x4444
	check dword [f_esp], USTACK16_SIZE - 4
	check dword [f_ss], SEL_S3
	check dword [k_cs], SEL_B0
	check dword [r3_esp_after], USTACK16_SIZE
	check dword [r3_cs], SEL_B3

group "int16"
	idt16 VEC_INT16, isr16, 0x86
	call SEL_B0:B0_INT_OFFSET
	mov eax, [r3_esp_before]
	sub eax, 6
	check dword [k_esp], eax
	check dword [f_eip], b0_int.ret - seg16_start
	check dword [f_cs], SEL_B0
	mov eax, [f_flags]
	and eax, F_IF
	check eax, F_IF
	mov eax, [k_flags]
	and eax, F_IF
	check eax, 0				; an interrupt gate
	check dword [r3_esp_after], 0		; IRETW went back

group "trap16_in"
	idt16 VEC_TRAP16, isr16_trap, 0xe7
	mov eax, r3_trap16 - seg16_start
	mov ecx, F_IF
	call enter_b3
	check dword [k_esp], rings_kstack_top - 10
	check dword [f_eip], r3_trap16.ret - seg16_start
	check dword [f_cs], SEL_B3
	mov eax, [f_flags]
	and eax, F_IF
	check eax, F_IF
	check dword [f_esp], USTACK16_SIZE
	check dword [f_ss], SEL_S3
	mov eax, [k_flags]
	and eax, F_IF
	check eax, F_IF				; a trap gate keeps IF
	check dword [r3_esp_after], USTACK16_SIZE
	cli

	guest_finish

; enter_b3: EAX = offset in seg16, ECX = EFLAGS: ring 3 there on the
; based stack (SP = USTACK16_SIZE), back after leave_user.
enter_b3:
	push eax
	mov ax, RING_SEL_UDATA
	mov ds, ax
	mov es, ax
	mov fs, ax
	mov gs, ax
	pop eax
	pushfd
	mov [ss:rings_k_esp], esp
	push dword SEL_S3
	push dword USTACK16_SIZE
	or ecx, 2
	push ecx
	push dword SEL_B3
	push eax
	iretd

; ---------------------------------------------------------- ring 0 targets

; 32-bit gate from ring 3: record the frame, RETF 8.
cg32_inner:
	mov [ss:k_esp], esp
	mov eax, [esp]
	mov [ss:f_eip], eax
	mov eax, [esp + 4]
	mov [ss:f_cs], eax
	mov eax, [esp + 8]
	mov [ss:f_p0], eax
	mov eax, [esp + 12]
	mov [ss:f_p1], eax
	mov eax, [esp + 16]
	mov [ss:f_esp], eax
	mov eax, [esp + 20]
	mov [ss:f_ss], eax
	mov ax, cs
	movzx eax, ax
	mov [ss:k_cs], eax
	mov ax, ss
	movzx eax, ax
	mov [ss:k_ss], eax
	retf 8

; 32-bit gate at ring 0: EIP, CS, then the caller's own push above them.
cg_same:
	mov [k_esp], esp
	mov eax, [esp]
	mov [f_eip], eax
	mov eax, [esp + 4]
	mov [f_cs], eax
	mov eax, [esp + 8]
	mov [f_p0], eax
	retf

jmp_target:
	mov [k_esp], esp
	mov ax, cs
	movzx eax, ax
	mov [k_cs], eax
	jmp jmp_back

; -------------------------------------------------------------- ring 3

r3_cg32:
	mov [r3_esp_before], esp
	push dword 0x1111
	push dword 0x2222
	call SEL_CG32_U_R3:0
.ret:
	mov [r3_esp_after], esp
	mov ax, cs
	movzx eax, ax
	mov [r3_cs], eax
	leave_user

; Each refused far transfer is recorded and skipped.
%macro refused 2
	arm %%r
	%1 %2:0
%%r:
	mov eax, [r_count]
	mov edx, [x_vec]
	mov [r_vec + eax * 4], edx
	mov edx, [x_err]
	mov [r_err + eax * 4], edx
	inc dword [r_count]
%endmacro

r3_refused:
	mov dword [r_count], 0
	refused call, SEL_CG32_K_R3
	; the gate, then the target, made not present (ring 3 may write the
	; GDT here: it is flat and unpaged)
	and byte [lib_gdt + SEL_CG32_U + 5], 0x7f
	refused call, SEL_CG32_U_R3
	or byte [lib_gdt + SEL_CG32_U + 5], 0x80
	and byte [lib_gdt + RING_SEL_KCODE + 5], 0x7f
	refused call, SEL_CG32_U_R3
	or byte [lib_gdt + RING_SEL_KCODE + 5], 0x80
	refused jmp, SEL_CG32_U_R3
	leave_user

; --------------------------------------------- code based at seg16_start
align 16
seg16_start:

; Ring 3, CS and SS based: IP and SP fit in a word.
r3_cg16:
	push word 0x4444
	push word 0x5555
	call SEL_CG16_U_R3:0
.ret:
	mov [r3_esp_after], esp
	mov ax, cs
	movzx eax, ax
	mov [r3_cs], eax
	leave_user

r3_trap16:
	int VEC_TRAP16
.ret:
	mov [r3_esp_after], esp
	leave_user

; 16-bit gate from ring 3: a frame of words on the TSS's stack.
cg16_inner:
	mov [ss:k_esp], esp
	movzx eax, word [ss:esp]
	mov [ss:f_eip], eax
	movzx eax, word [ss:esp + 2]
	mov [ss:f_cs], eax
	movzx eax, word [ss:esp + 4]
	mov [ss:f_p0], eax
	movzx eax, word [ss:esp + 6]
	mov [ss:f_p1], eax
	movzx eax, word [ss:esp + 8]
	mov [ss:f_esp], eax
	movzx eax, word [ss:esp + 10]
	mov [ss:f_ss], eax
	mov ax, cs
	movzx eax, ax
	mov [ss:k_cs], eax
	o16 retf 4

; Ring 0 in the based segment: INT through the 16-bit interrupt gate.
b0_int:
	mov dword [r3_esp_after], -1
	mov [r3_esp_before], esp
	sti
	int VEC_INT16
.ret:
	cli
	mov dword [r3_esp_after], 0
	retf

; The 16-bit gates' handlers: IP, CS, FLAGS (and SP, SS from ring 3).
isr16:
isr16_trap:
	mov [ss:k_esp], esp
	movzx eax, word [ss:esp]
	mov [ss:f_eip], eax
	movzx eax, word [ss:esp + 2]
	mov [ss:f_cs], eax
	movzx eax, word [ss:esp + 4]
	mov [ss:f_flags], eax
	movzx eax, word [ss:esp + 6]
	mov [ss:f_esp], eax
	movzx eax, word [ss:esp + 8]
	mov [ss:f_ss], eax
	pushfd
	pop eax
	mov [ss:k_flags], eax
	iretw

section .bss
alignb 4
k_esp:		resd 1
k_cs:		resd 1
k_ss:		resd 1
k_flags:	resd 1
f_eip:		resd 1
f_cs:		resd 1
f_flags:	resd 1
f_p0:		resd 1
f_p1:		resd 1
f_esp:		resd 1
f_ss:		resd 1
r3_esp_before:	resd 1
r3_esp_after:	resd 1
r3_cs:		resd 1
jmp_esp_before:	resd 1
r_count:	resd 1
r_vec:		resd 8
r_err:		resd 8
alignb 16
ustack16:	resb USTACK16_SIZE
