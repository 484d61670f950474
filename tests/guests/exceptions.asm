; Exceptions and software interrupts through our own IDT (interrupt gates,
; selector 0x08, lib.inc's GDT). One handler records the vector, the error
; code (vectors 8, 10-14, 17 push one), the saved EIP/CS/EFLAGS and the
; EFLAGS inside the handler; faults are resumed at a label stored in
; resume_eip before the faulting instruction, traps return normally.
; Covered: #DE (div/idiv/8-bit/aam 0/memory operand), #DB (single step,
; icebp), #BP (int3 and int 3), #OF (into), #BR (bound), #UD (ud2, 0F FF,
; 0F B9, lock nop, lock on a register destination, mov cs), #NM (TS set),
; #GP/#NP/#SS from segment loads (error code = selector), #NP from a
; not-present IDT gate (error code = vector*8+2), int 0x30 through an
; interrupt gate (IF cleared) and int 0x31 through a trap gate (IF kept),
; precise state at a fault (also past branches not taken, in one block),
; EFLAGS restored by iretd, #MF (x87 with CR0.NE) and #XM (SSE with
; CR4.OSXMMEXCPT). qemu-system-i386 7.2 (TCG) does not raise #XM at all, so
; the four #XM checks fail there; the SDM and real processors raise it at
; the faulting instruction.
%define GUEST_NAME "exceptions"
%include "lib.inc"
%define EXC_RECORD_OWN			; exc_record below: also CS, EFLAGS, #DB
%include "exc_record.inc"

SEL_SYS		equ 0x28		; an LDT descriptor: not loadable into DS
SEL_NP		equ 0x30		; data segment, not present

guest_start
	call lib_pic_init			; so that STI is harmless

	call lib_install_idt
	mov dword [lib_exc_hook], exc_record
	gate 0x30, soft_int_30, 0x8e		; interrupt gate, DPL 0
	gate 0x31, soft_int_31, 0x8f		; trap gate, DPL 0
	gate 0x40, soft_int_31, 0x0e		; interrupt gate, not present
	; descriptors for the segment faults
	mov eax, SEL_SYS
	mov ebx, lib_gdt
	mov ecx, 0xff
	mov edx, 0x0082				; LDT
	call lib_set_desc
	mov eax, SEL_NP
	mov ebx, 0
	mov ecx, 0xfffff
	mov edx, 0x0c12				; data, P = 0
	call lib_set_desc
	; FPU usable: EM = 0, MP = 1, NE = 1, TS = 0
	mov eax, cr0
	and eax, ~((1 << 2) | (1 << 3))
	or eax, (1 << 1) | (1 << 5)
	mov cr0, eax

; ---------------------------------------------------------------- #DE
group "de"
t_de:
	mov eax, 0x1234
	xor edx, edx
	xor ecx, ecx
	arm .r1
.f1:
	div ecx
.r1:
	expect 0, .f1, 0
	check dword [x_cs], SEL_CODE
	check eax, 0x1234			; unchanged
	check edx, 0
	mov eax, 0x80000000
	mov edx, 0xffffffff
	mov ecx, -1
	arm .r2
.f2:
	idiv ecx				; INT_MIN / -1
.r2:
	expect 0, .f2, 0
	check eax, 0x80000000
	mov eax, 0x1000
	mov bl, 2
	arm .r3
.f3:
	div bl					; quotient 0x800 > 0xff
.r3:
	expect 0, .f3, 0
	check eax, 0x1000
	mov eax, 0x55
	arm .r4
.f4:
	aam 0
.r4:
	expect 0, .f4, 0
	arm .r5
.f5:
	div dword [zero]
.r5:
	expect 0, .f5, 0
	; precise state: what comes before the fault is done, after it is not
	xor esi, esi
	mov edi, 7
	xor ecx, ecx
	arm .r6
	inc esi
	mov edi, 8
.f6:
	div ecx
	inc esi					; skipped
	mov edi, 9				; skipped
.r6:
	expect 0, .f6, 0
	check esi, 1
	check edi, 8
	; the same past branches not taken, which a block goes on after: the
	; fault is at its own instruction, what ran before it is done
	xor esi, esi
	xor ecx, ecx
	arm .r8
	inc esi
	test esi, esi
	jz .r8					; not taken
	inc esi
	cmp esi, 1
	jb .r8					; not taken (CF = 0)
	inc esi
	mov edi, 10
.f8:
	div ecx
	inc esi					; skipped
	mov edi, 11				; skipped
.r8:
	expect 0, .f8, 0
	check esi, 3
	check edi, 10
	; a branch taken back from the middle of a block, then on past it
	mov ecx, 5
	xor esi, esi
.loop9:
	inc esi
	dec ecx
	jnz .loop9
	add esi, 10
	check esi, 15
	check ecx, 0
	; flags come back through iretd
	set_flags F_CF|F_ZF|F_SF|F_DF
	arm .r7
.f7:
	div ecx
.r7:
	check_flags F_ALU|F_DF, F_CF|F_ZF|F_SF|F_DF
	cld
	check dword [x_eflags], F_CF|F_ZF|F_SF|F_DF|2|0x10000	; RF: a fault's image

; ---------------------------------------------------------------- #BP, #OF
group "bp_of"
t_bp_of:
	arm .a1					; traps resume where they would anyway;
	set_flags 0				; the label only stops a runaway loop
	sti
	int3
.a1:
	cli
	expect 3, .a1, 0
	check dword [x_eflags], F_IF|2		; IF was set at the int3
	mov eax, [h_eflags]
	and eax, F_IF
	check eax, 0				; cleared in the interrupt gate
	arm .a2
	int 3					; the two-byte form
.a2:
	expect 3, .a2, 0
	arm .a3
	mov al, 0x7f
	add al, 1				; OF = 1
	into
.a3:
	expect 4, .a3, 0
	arm .n1
	mov al, 1
	add al, 1				; OF = 0
	into
.n1:
	check dword [x_count], 0
	arm .r4
	mov eax, 30
.f4:
	bound eax, [bounds]			; 30 outside [10, 20]
.r4:
	expect 5, .f4, 0
	arm .r5
	mov eax, 9
.f5:
	bound eax, [bounds]
.r5:
	expect 5, .f5, 0
	arm .n2
	mov eax, 20
	bound eax, [bounds]			; inside: nothing
.n2:
	check dword [x_count], 0

; ---------------------------------------------------------------- #UD
group "ud"
t_ud:
	arm .r1
.f1:
	ud2
.r1:
	expect 6, .f1, 0
	arm .r2
.f2:
	db 0x0f, 0xff, 0xc0			; ud0
.r2:
	expect 6, .f2, 0
	arm .r3
.f3:
	db 0x0f, 0xb9, 0xc0			; ud1
.r3:
	expect 6, .f3, 0
	arm .r4
.f4:
	db 0xf0, 0x90				; lock nop
.r4:
	expect 6, .f4, 0
	mov eax, 1
	mov ebx, 2
	arm .r5
.f5:
	db 0xf0, 0x01, 0xd8			; lock add eax, ebx
.r5:
	expect 6, .f5, 0
	check eax, 1
	arm .r6
.f6:
	db 0x8e, 0xc8				; mov cs, ax
.r6:
	expect 6, .f6, 0
	xor eax, eax
	mov ax, cs
	check eax, SEL_CODE

; ---------------------------------------------------------------- #NM
group "nm"
t_nm:
	mov eax, cr0
	or eax, 1 << 3				; TS
	mov cr0, eax
	arm .r1
.f1:
	fld1
.r1:
	expect 7, .f1, 0
	arm .r2
.f2:
	fwait					; MP = 1 and TS = 1
.r2:
	expect 7, .f2, 0
	clts
	arm .n3
	fninit
	fld1
	fstp st0
.n3:
	check dword [x_count], 0

; ---------------------------------------------------------------- #MF, #XM
; An unmasked x87 exception is reported (CR0.NE = 1) as #MF at the next
; waiting x87 instruction; an unmasked SSE exception as #XM at the faulting
; instruction when CR4.OSXMMEXCPT is set.
group "mf_xm"
t_mf:
	fninit
	fnstcw [fcw]
	and word [fcw], ~(1 << 2)		; unmask ZE
	fldcw [fcw]
	fld1
	fldz
	fdivp st1, st0				; 1/0: pending, no fault yet
	arm .r1
.f1:
	fwait
.r1:
	expect 16, .f1, 0
	fnstsw ax
	and eax, 0x0084				; ES and ZE
	check eax, 0x0084
	fninit
	mov eax, cr4
	or eax, (1 << 9) | (1 << 10)		; OSFXSR, OSXMMEXCPT
	mov cr4, eax
	stmxcsr [mxcsr]
	and dword [mxcsr], ~(1 << 9)		; unmask ZE
	ldmxcsr [mxcsr]
	mov eax, 1
	cvtsi2ss xmm0, eax
	xorps xmm1, xmm1
	arm .r2
.f2:
	divss xmm0, xmm1
.r2:
	expect 19, .f2, 0
	stmxcsr [mxcsr]
	mov eax, [mxcsr]
	and eax, 4				; ZE flag
	check eax, 4
	mov dword [mxcsr], 0x1f80
	ldmxcsr [mxcsr]

; ---------------------------------------------------------------- software interrupts
group "int"
t_int:
	arm .a1
	mov ebx, 0x1111
	set_flags 0
	sti
	int 0x30
.a1:
	cli
	expect 0x30, .a1, 0
	check dword [x_eflags], F_IF|2
	mov eax, [h_eflags]
	and eax, F_IF
	check eax, 0				; interrupt gate clears IF
	check ebx, 0x1111
	arm .a2
	sti
	int 0x31
.a2:
	cli
	expect 0x31, .a2, 0
	mov eax, [h_eflags]
	and eax, F_IF
	check eax, F_IF				; trap gate keeps IF
	arm .r3
.f3:
	int 0x40				; gate not present: #NP(0x40*8+2)
.r3:
	expect 11, .f3, 0x202
	arm .r4
.f4:
	int 0x41				; not a gate (all zero): #GP(0x41*8+2)
.r4:
	expect 13, .f4, 0x20a
%ifdef TEST_ICEBP
	arm .a5
	db 0xf1					; icebp: #DB trap
.a5:
	expect 1, .a5, 0
%endif

; ---------------------------------------------------------------- segment faults
group "segfault"
t_segfault:
	mov eax, 0x1233				; beyond the GDT limit, RPL 3
	arm .r1
.f1:
	mov ds, ax
.r1:
	expect 13, .f1, 0x1230
	xor eax, eax
	mov ax, ds
	check eax, SEL_DATA			; unchanged
	mov eax, 0x0f07				; TI = 1 with a null LDTR, RPL 3
	arm .r2
.f2:
	mov es, ax
.r2:
	expect 13, .f2, 0x0f04
	xor eax, eax				; null selector into SS
	arm .r3
.f3:
	mov ss, ax
.r3:
	expect 13, .f3, 0
	mov eax, SEL_SYS			; system descriptor into DS
	arm .r4
.f4:
	mov ds, ax
.r4:
	expect 13, .f4, SEL_SYS
	mov eax, SEL_NP				; not present into DS: #NP
	arm .r5
.f5:
	mov fs, ax
.r5:
	expect 11, .f5, SEL_NP
	mov eax, SEL_NP				; not present into SS: #SS
	arm .r6
.f6:
	mov ss, ax
.r6:
	expect 12, .f6, SEL_NP
	mov eax, SEL_CODE			; code into SS
	arm .r7
.f7:
	mov ss, ax
.r7:
	expect 13, .f7, SEL_CODE
	xor eax, eax
	mov ax, ss
	check eax, SEL_DATA
	xor eax, eax				; null into DS is allowed
	arm .n4
	mov gs, ax
.n4:
	check dword [x_count], 0
	mov ax, SEL_GS
	mov gs, ax

; ---------------------------------------------------------------- single step
; step_on n: arm the recorder (no resume label) for n single-step traps,
; logged in step_log, after which the handler clears TF, and set TF.
%macro step_on 1
	mov dword [tf_steps], %1
	mov dword [step_n], 0
	arm 0
	pushfd
	or dword [esp], F_TF
	popfd
%endmacro

group "step"
t_step:
	xor eax, eax
	mov dr6, eax
	step_on 1
	mov eax, 1				; completes, then #DB
.s1:
	nop
	expect 1, .s1, 0
	mov eax, [x_eflags]
	and eax, F_TF
	check eax, F_TF				; TF was set in the saved EFLAGS
	pushfd
	pop eax
	and eax, F_TF
	check eax, 0				; and cleared by the handler
	mov eax, dr6
	and eax, 0x4000
	check eax, 0x4000			; DR6.BS
	; three steps, then the handler clears TF
	step_on 3
	nop
.t1:
	inc eax
.t2:
	nop
.t3:
	nop
	nop
	check dword [x_count], 3
	check dword [step_n], 3
	check dword [step_log], .t1
	check dword [step_log + 4], .t2
	check dword [step_log + 8], .t3
	; a taken jump is one step; its trap reports the target
	step_on 1
	jmp .j_target
	nop
.j_target:
	nop
	check dword [x_count], 1
	check dword [step_log], .j_target
	xor eax, eax
	mov dr6, eax

guest_finish

; ---------------------------------------------------------------- handlers
soft_int_30:
	push 0
	push 0x30
	jmp exc_record
soft_int_31:
	push 0
	push 0x31
	jmp exc_record

; exc_record: [esp] vector, [esp+4] error, [esp+8] EIP, [esp+12] CS,
; [esp+16] EFLAGS
exc_record:
	push eax
	pushfd
	pop eax
	mov [h_eflags], eax
	x_record_frame
	inc dword [x_count]
	x_resume .no_resume
.no_resume:
	cmp dword [esp + 4], 1
	jne .out
	mov eax, [step_n]			; #DB: log the EIP
	cmp eax, 8
	jae .log_full
	push ebx
	mov ebx, [esp + 16]
	mov [step_log + eax * 4], ebx
	pop ebx
	inc dword [step_n]
.log_full:
	cmp dword [tf_steps], 0
	je .clear_tf
	dec dword [tf_steps]
	jnz .out
.clear_tf:
	and dword [esp + 20], ~F_TF
.out:
	pop eax
	add esp, 8
	iretd

section .rodata
align 4
bounds:		dd 10, 20
zero:		dd 0

section .bss
alignb 4
h_eflags:	resd 1
tf_steps:	resd 1
step_n:		resd 1
step_log:	resd 8
fcw:		resw 1
alignb 4
mxcsr:		resd 1
