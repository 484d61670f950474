; Rings 0 and 3 (rings.inc: TSS, ring-3 descriptors, the way in and out).
; Ring-3 code checks what it can see itself (COM1's ports are open in the
; I/O bitmap, so a failing check can report even at IOPL 0); faults go to
; one hook that records the frame, the handler's own CS/SS/ESP, and
; resumes at a label armed before the faulting instruction.
; Covered: entering ring 3 with IRETD and leaving through a DPL-3 gate
; (stack switch to SS0:ESP0, the pushed SS/ESP/EFLAGS/CS/EIP, CPL 0 in the
; handler, IRETD back); INT to a DPL-0 gate, INT3 and INTO from ring 3 ->
; #GP(vector*8+2), #NP for a not-present DPL-3 gate; #DE/#UD/#GP/#BP
; taken in ring 3 (frame, handler stack); every privileged instruction ->
; #GP(0) at its EIP, even at IOPL 3; RDTSC and RDTSCP in ring 3 (flags
; kept, TSC_AUX in ECX) and their #GP under CR4.TSD; POPF/IRETD
; keeping IF and IOPL, CLI/STI #GP at IOPL 0 and allowed at IOPL 3;
; PUSHF/SGDT/SIDT/SLDT/STR/SMSW/LAR/VERR at CPL 3; IN/OUT/INS/OUTS by the
; I/O bitmap (per port, 2-byte accesses half allowed, across a bitmap
; byte, beyond the TSS limit) and by IOPL; segment loads at CPL 3 and 0
; (#GP/#NP/#SS with the selector), far JMP/CALL/RET/IRETD privilege
; rules, conforming code; IRETD/RETF to ring 3 nulling DS..GS that ring 3
; may not use, and their SS checks; SYSENTER/SYSEXIT (and #GP with
; SYSENTER_CS = 0); #TS/#SS for a bad SS0 in the TSS (handled in
; conforming code at CPL 3); a timer interrupt taken in ring 3 through a
; DPL-0 gate.
; Under QEMU (see QEMU_TCG below):
;	nasm -f elf32 -DQEMU_TCG -I tests/guests/ -o rings.o tests/guests/rings.asm
;	ld -m elf_i386 -nostdlib -T tests/guests/guest.ld -o rings.elf rings.o
;	qemu-system-i386 -accel tcg -kernel rings.elf -serial stdio -display none
;		-device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot   (one line; status 33)
%define GUEST_NAME "rings"
%include "lib.inc"
%include "rings.inc"
%define EXC_RECORD_OWN			; exc_record below: a fault with no
%include "exc_record.inc"		; resume label fails the guest

SEL_TSS2	equ 0x30		; rings_tss again, limit inside the bitmap
SEL_KNP		equ 0x30		; later: ring-0 writable data, not present
SEL_UNP		equ 0x38 | 3		; ring-3 writable data, not present
SEL_URO		equ 0x60 | 3		; ring-3 read-only data
SEL_UXO		equ 0x68 | 3		; ring-3 execute-only code
SEL_KCONF	equ 0x70		; conforming readable code, DPL 0
SEL_UCNP	equ 0x78 | 3		; ring-3 code, not present
SEL_CODE3	equ SEL_CODE | 3
TSS2_LIMIT	equ RING_TSS_SIZE + 0x10	; bitmap bytes 0..0x10: ports < 0x88
USER_FRAME	equ 28			; vector, error code, EIP, CS, EFLAGS, ESP, SS
EXC_TS		equ 10
EXC_SS		equ 12
SPIN_LIMIT	equ 200000000
; A stack segment that is not present, for IRETD to an outer level and
; for an interrupt's switch to the TSS's SS0: the SDM's pseudo-code raises
; #SS(selector) for both (as Bochs does; btvm follows it). QEMU 7.2's TCG
; raises #NP(selector) and #TS(selector) instead; -DQEMU_TCG expects
; those, to run this guest under QEMU.
%ifdef QEMU_TCG
RETURN_SS_NP	equ 11
INNER_SS_NP	equ 10
%else
RETURN_SS_NP	equ 12
INNER_SS_NP	equ 12
%endif
PIT_DIVISOR	equ 1193		; ~1 kHz

; faults vector, error, instruction: it faults at its own EIP with these
%macro faults 3+
	arm %%r
%%f:
	%3
%%r:
	expect %1, %%f, %2
%endmacro

%macro gp0 1+
	faults 13, 0, %1
%endmacro

; from_user: the last fault came from ring 3 at ESP = EBP and went to the
; ring-0 handler on the TSS's stack
%macro from_user 0
	check dword [x_cs], RING_SEL_UCODE
	check dword [x_ss], RING_SEL_UDATA
	check dword [x_esp], ebp
	check dword [h_cs], SEL_CODE
	check dword [h_ss], SEL_DATA
	check dword [h_esp], rings_kstack_top - USER_FRAME
%endmacro

; user code, flags: run code in ring 3 with EFLAGS = flags
%macro user 2
	mov eax, %1
	mov ecx, %2
	call rings_run_user
%endmacro

; iret_frame ss, esp, cs, eip: an IRETD frame to an outer level
%macro iret_frame 4
	push dword %1
	push dword %2
	push dword 2
	push dword %3
	push dword %4
%endmacro

guest_start
	call lib_pic_init			; everything masked until the irq group

	call lib_install_idt
	call rings_setup
	mov dword [lib_exc_hook], exc_record
	mov edx, COM1				; ring-3 checks may report
.com1:
	call rings_io_allow
	inc edx
	cmp edx, COM1 + 8
	jb .com1
	mov edx, 0xf4				; isa-debug-exit: see exc_record
	call rings_io_allow
	mov edx, 0x80
	call rings_io_allow
	mov edx, 0x87
	call rings_io_allow
	; gates ring 3 may use: 0x80 interrupt gate, 0x82 trap gate, 0x40 not
	; present; 0x42 not present and DPL 0; 0x30 DPL 0; 0x41 left empty
	gate 0x80, sys_handler, 0xee
	mov eax, 0x82
	mov cl, 0xef
	call lib_set_gate
	mov eax, 0x40
	mov cl, 0x6e
	call lib_set_gate
	mov eax, 0x42
	mov cl, 0x0e
	call lib_set_gate
	mov eax, 0x30
	mov cl, 0x8e
	call lib_set_gate
	; descriptors for the segment checks (EAX sel, EBX base, ECX limit,
	; DL access, DH flags)
	xor ebx, ebx
	mov ecx, 0xfffff
	mov eax, SEL_UNP
	mov edx, 0x0c72				; DPL 3 data, P = 0
	call lib_set_desc
	mov eax, SEL_URO
	mov edx, 0x0cf0				; DPL 3 data, read-only
	call lib_set_desc
	mov eax, SEL_UXO
	mov edx, 0x0cf8				; DPL 3 code, execute-only
	call lib_set_desc
	mov eax, SEL_KCONF
	mov edx, 0x0c9e				; DPL 0 conforming code, readable
	call lib_set_desc
	mov eax, SEL_UCNP
	mov edx, 0x0c7a				; DPL 3 code, P = 0
	call lib_set_desc
	mov eax, cr0
	mov [cr0_word], ax

; ---------------------------------------------------------------- enter
group "enter"
	mov ebx, 0x1234abcd
	user u_enter, 0
	check ebx, 0x1234abce			; ring 3's registers come back
	check dword [rings_exit_frame], u_enter.exit
	mov eax, [rings_exit_frame + 4]
	and eax, 0xffff
	check eax, RING_SEL_UCODE
	mov eax, [rings_exit_frame + 8]
	and eax, ~F_ALU
	check eax, 2				; IOPL 0, IF 0
	check dword [rings_exit_frame + 12], rings_ustack_top
	mov eax, [rings_exit_frame + 16]
	and eax, 0xffff
	check eax, RING_SEL_UDATA
	xor eax, eax
	mov ax, cs
	check eax, SEL_CODE
	mov ax, ss
	check eax, SEL_DATA

; ---------------------------------------------------------------- INT from ring 3
group "syscall"
	user u_syscall, 0
	check dword [h_cs], SEL_CODE		; the handler ran in ring 0 ...
	check dword [h_ss], SEL_DATA		; ... on SS0:ESP0
	check dword [h_esp], rings_kstack_top - 20
	check dword [s_frame], u_syscall.after
	mov eax, [s_frame + 4]
	and eax, 0xffff
	check eax, RING_SEL_UCODE
	check dword [s_frame + 8], F_CF|F_ZF|2
	check dword [s_frame + 12], dword [u_esp]
	mov eax, [s_frame + 16]
	and eax, 0xffff
	check eax, RING_SEL_UDATA
	mov eax, [h_eflags]
	and eax, F_IF
	check eax, 0				; interrupt gate
	user u_syscall_trap, F_IF
	mov eax, [h_eflags]
	and eax, F_IF
	check eax, F_IF				; trap gate keeps IF
	check dword [s_frame + 8], F_IF|2
	check dword [h_esp], rings_kstack_top - 20

group "intgp"
	user u_intgp, 0

group "exceptions"
	mov eax, 3				; #BP through a gate ring 3 may use
	mov edx, [lib_catch_table + 3 * 4]
	mov cl, 0xee
	call lib_set_gate
	user u_exc, 0
	gate 3, [lib_catch_table + 3 * 4], 0x8e

; ---------------------------------------------------------------- privileged
group "privileged"
	user u_priv, RING_IOPL3			; IOPL does not help
	mov eax, cr0
	movzx eax, ax
	movzx ebx, word [cr0_word]
	check eax, ebx				; CR0 as it was
	user u_rdtsc, 0				; no TSD: allowed
	mov ecx, 0xc0000103			; IA32_TSC_AUX, for RDTSCP
	xor edx, edx
	mov eax, 0x5eed1234
	wrmsr
	rdtsc
	mov [tsc_before], eax
	mov [tsc_before + 4], edx
	user u_rdtscp, 0
	mov eax, cr4
	or eax, 4				; CR4.TSD
	mov cr4, eax
	arm 0
	rdtsc					; ring 0 still may
	user u_rdtsc_gp, 0
	user u_rdtscp_gp, 0
	mov eax, cr4
	and eax, ~4
	mov cr4, eax
	user u_rdtsc, 0				; allowed again (inline forms check TSD as it is now)

; ---------------------------------------------------------------- flags
group "flags"
	user u_popf_iopl0, 0
	user u_popf_if1, F_IF
	user u_popf_iopl3, RING_IOPL3
	user u_cli_sti_gp, F_IF
	user u_cli_sti_gp, 0
	; rings_run_user gave EFLAGS back as they were
	pushfd
	pop eax
	and eax, F_IF|RING_IOPL3
	check eax, 0

group "sysregs"
	user u_sysregs, 0

; ---------------------------------------------------------------- I/O
group "io"
	user u_io, 0
	mov edx, 0x81				; now all of 0x80..0x81, 0x87..0x88
	call rings_io_allow
	mov edx, 0x88
	call rings_io_allow
	user u_io_allowed, 0
	user u_io_iopl3, RING_IOPL3
	; a TSS whose limit ends inside the bitmap
	mov edx, 0x7f
	call rings_io_allow
	mov eax, SEL_TSS2
	mov ebx, rings_tss
	mov ecx, TSS2_LIMIT
	mov edx, 0x0089
	call lib_set_desc
	mov ax, SEL_TSS2
	ltr ax
	user u_io_limit, 0
	expect 13, u_io_limit.f, 0
	and byte [lib_gdt + RING_SEL_TSS + 5], ~2	; available again
	mov ax, RING_SEL_TSS
	ltr ax
	xor eax, eax
	str ax
	check eax, RING_SEL_TSS

; ---------------------------------------------------------------- segments
group "segments"
	user u_segs, 0

group "segments0"
	mov ebx, SEL_DATA | 3
	faults 13, SEL_DATA, mov ds, bx		; RPL above DPL
	mov ebx, RING_SEL_UDATA
	faults 13, RING_SEL_UDATA & ~3, mov ss, bx	; SS: DPL and RPL = CPL
	faults 13, SEL_CODE, jmp SEL_CODE3:never	; non-conforming: RPL <= CPL
	faults 13, RING_SEL_UCODE & ~3, jmp RING_SEL_UCODE:never	; DPL = CPL
	faults 13, RING_SEL_UCODE & ~3, call RING_SEL_UCODE:never
	push dword SEL_CODE3			; RETF/IRETD to ring 3 code of ring 0
	push dword never
	faults 13, SEL_CODE, retf
	add esp, 8
	mov ebx, RING_SEL_UDATA			; ring 0 may use ring-3 data
	arm 0
	mov es, bx
	mov ebx, SEL_DATA
	mov es, bx
	; conforming code keeps the CPL: ring 0 stays ring 0
	jmp SEL_KCONF:.conf
.conf:
	xor eax, eax
	mov ax, cs
	check eax, SEL_KCONF
	jmp SEL_CODE:.back
.back:
	check dword [x_count], 0

; ---------------------------------------------------------------- outer returns
group "outer"
	; IRETD to ring 3 nulls the data segments ring 3 may not use
	mov ax, SEL_DATA
	mov ds, ax				; DPL 0 data: nulled
	mov ax, RING_SEL_UDATA
	mov es, ax				; DPL 3 data: kept
	mov ax, SEL_FS
	mov fs, ax				; nulled
	mov ax, SEL_KCONF
	mov gs, ax				; conforming code: kept
	mov eax, u_nulled
	xor ecx, ecx
	call rings_run_user_segs
	check dword [u_seen], 0
	check dword [u_seen + 4], RING_SEL_UDATA
	check dword [u_seen + 8], 0
	check dword [u_seen + 12], SEL_KCONF
	; RETF 8 to ring 3: SS:ESP from above the parameters, plus 8
	call retf_to_user
	check dword [u_seen], 0			; DS was SEL_DATA
	check dword [u_seen + 4], rings_ustack_top - 64 + 8
	xor eax, eax
	mov ax, cs
	check eax, SEL_CODE
	; bad stacks and code for ring 3: the IRETD/RETF faults, nothing changes
	mov ebp, esp
	iret_frame SEL_DATA | 3, rings_ustack_top, RING_SEL_UCODE, never
	faults 13, SEL_DATA, iretd		; SS of ring 0
	iret_frame RING_SEL_UDATA & ~3, rings_ustack_top, RING_SEL_UCODE, never
	faults 13, RING_SEL_UDATA & ~3, iretd	; SS RPL 0 for CS RPL 3
	iret_frame SEL_URO, rings_ustack_top, RING_SEL_UCODE, never
	faults 13, SEL_URO & ~3, iretd		; read-only SS
	iret_frame SEL_UNP, rings_ustack_top, RING_SEL_UCODE, never
	faults RETURN_SS_NP, SEL_UNP & ~3, iretd	; SS not present
	iret_frame 0, rings_ustack_top, RING_SEL_UCODE, never
	faults 13, 0, iretd			; null SS
	iret_frame RING_SEL_UDATA, rings_ustack_top, SEL_UCNP, never
	faults 11, SEL_UCNP & ~3, iretd		; CS not present: #NP
	mov eax, ebp
	sub eax, esp
	check eax, 6 * 20			; all six frames still there
	mov esp, ebp
	push dword RING_SEL_UDATA & ~3
	push dword rings_ustack_top
	push dword RING_SEL_UCODE
	push dword never
	faults 13, RING_SEL_UDATA & ~3, retf
	mov esp, ebp
	xor eax, eax
	mov ax, cs
	check eax, SEL_CODE
	mov ax, ss
	check eax, SEL_DATA

; ---------------------------------------------------------------- TSS stack
; A bad SS0 in the TSS: INT 0x80 from ring 3 faults at the INT. #TS and
; #SS go to handlers in conforming code meanwhile, which run at CPL 3 on
; the user's stack (a ring-0 handler would need SS0 itself).
group "tss"
	mov eax, SEL_KNP
	xor ebx, ebx
	mov ecx, 0xfffff
	mov edx, 0x0c12				; DPL 0 data, P = 0
	call lib_set_desc
	mov eax, EXC_TS
	call conf_gate
	mov eax, EXC_SS
	call conf_gate
	mov word [rings_tss + 8], SEL_DATA | 3	; RPL 3 for ring 0
	user u_tss, 0
	expect EXC_TS, u_tss.f, SEL_DATA
	check dword [h_cs], SEL_KCONF | 3	; the handler ran at CPL 3 ...
	check dword [h_esp], rings_ustack_top - 20	; ... on the user stack
	check dword [x_cs], RING_SEL_UCODE
	mov word [rings_tss + 8], RING_SEL_UDATA & ~3	; DPL 3
	user u_tss, 0
	expect EXC_TS, u_tss.f, RING_SEL_UDATA & ~3
	mov word [rings_tss + 8], 0		; null
	user u_tss, 0
	expect EXC_TS, u_tss.f, 0
	mov word [rings_tss + 8], SEL_KNP	; not present
	user u_tss, 0
	expect INNER_SS_NP, u_tss.f, SEL_KNP
	user u_tss, 0				; and the good one again
	check dword [x_count], 0
	check dword [h_cs], SEL_CODE
	gate EXC_TS, [lib_catch_table + EXC_TS * 4], 0x8e
	mov eax, EXC_SS
	mov edx, [lib_catch_table + EXC_SS * 4]
	call lib_set_gate

; ---------------------------------------------------------------- SYSENTER
group "sysenter"
	mov eax, 1
	cpuid
	and edx, 1 << 11
	check edx, 1 << 11			; SEP
	mov ecx, 0x174
	mov eax, RING_SEL_KCODE
	xor edx, edx
	wrmsr
	mov ecx, 0x175
	mov eax, sysenter_stack_top
	wrmsr
	mov ecx, 0x176
	mov eax, sysenter_entry
	wrmsr
	user u_sysenter, F_IF
	check dword [se_cs], RING_SEL_KCODE
	check dword [se_ss], RING_SEL_KDATA
	check dword [se_esp], sysenter_stack_top
	mov eax, [se_eflags]
	and eax, F_IF
	check eax, 0				; SYSENTER clears IF
	mov ecx, 0x174				; SYSENTER_CS = 0: #GP(0)
	xor eax, eax
	xor edx, edx
	wrmsr
	user u_sysenter_gp, 0

; ---------------------------------------------------------------- IRQ
group "irq"
	mov eax, 0x20
	mov edx, irq_isr			; DPL 0: hardware ignores it
	mov cl, 0x8e
	call lib_set_gate
	mov dword [irq_count], 0
	mov al, 0x34				; PIT channel 0, mode 2
	out 0x43, al
	mov al, PIT_DIVISOR & 0xff
	out 0x40, al
	mov al, PIT_DIVISOR >> 8
	out 0x40, al
	mov al, 0xfe
	out 0x21, al				; IRQ0 only
	user u_irq, F_IF
	mov al, 0xff
	out 0x21, al
	check dword [u_seen], 1			; taken in ring 3
	check dword [irq_cs], RING_SEL_UCODE
	check dword [irq_ss], RING_SEL_UDATA
	check dword [irq_h_cs], SEL_CODE
	mov dword [lib_exc_hook], 0

guest_finish

; ================================================================ ring 3

u_enter:
	xor eax, eax
	mov ax, cs
	check eax, RING_SEL_UCODE
	mov ax, ss
	check eax, RING_SEL_UDATA
	mov ax, ds
	check eax, RING_SEL_UDATA
	mov eax, esp
	check eax, rings_ustack_top
	pushfd
	pop eax
	and eax, ~F_ALU
	check eax, 2				; IOPL 0, IF 0
	inc ebx
	leave_user
.exit:

u_syscall:
	mov [u_esp], esp
	set_flags F_CF|F_ZF
	mov eax, 41
	int 0x80
.after:
	check_flags F_ALU, F_CF|F_ZF		; IRETD restored them
	check eax, 42
	mov eax, esp
	check eax, dword [u_esp]
	xor eax, eax
	mov ax, cs
	check eax, RING_SEL_UCODE
	mov ax, ss
	check eax, RING_SEL_UDATA
	leave_user

u_syscall_trap:
	set_flags F_IF				; IOPL 0: IF stays as it is (set)
	int 0x82
	leave_user

u_intgp:
	mov ebp, esp
	faults 13, 0x30 * 8 + 2, int 0x30	; DPL 0 gate
	from_user
	faults 13, 3 * 8 + 2, int3
	mov al, 0x7f
	add al, 1				; OF = 1
	faults 13, 4 * 8 + 2, into
	faults 13, 0x42 * 8 + 2, int 0x42	; DPL checked before P
	faults 11, 0x40 * 8 + 2, int 0x40	; DPL 3, not present
	faults 13, 0x41 * 8 + 2, int 0x41	; not a gate
	from_user
	leave_user

u_exc:
	mov ebp, esp
	xor ecx, ecx
	mov eax, 7
	faults 0, 0, div ecx
	from_user
	check eax, 7
	mov eax, [x_eflags]
	and eax, F_IF|RING_IOPL3
	check eax, 0
	faults 6, 0, ud2
	from_user
	push dword 0x1111			; deeper in the user stack
	mov ebp, esp
	mov ebx, SEL_DATA
	faults 13, SEL_DATA, mov ds, bx		; an error code from ring 3
	from_user
	add esp, 4
	mov ebp, esp
	arm .bp
	int3					; DPL-3 gate: a trap
.bp:
	expect 3, .bp, 0
	from_user
	leave_user

u_priv:
	gp0 hlt
	gp0 lgdt [zero6]
	gp0 lidt [zero6]
	xor eax, eax
	gp0 lldt ax
	mov eax, RING_SEL_TSS
	gp0 ltr ax
	xor eax, eax
	gp0 mov cr0, eax
	gp0 mov eax, cr0
	check eax, 0				; nothing read
	gp0 mov eax, cr2
	gp0 mov cr3, eax
	gp0 mov eax, cr3
	gp0 mov cr4, eax
	gp0 mov eax, cr4
	gp0 mov dr7, eax
	gp0 mov eax, dr6
	gp0 mov dr0, eax
	gp0 clts
	gp0 lmsw ax
	gp0 invlpg [zero6]
	mov ecx, 0x174
	gp0 rdmsr
	gp0 wrmsr
	gp0 wbinvd
	gp0 invd
	gp0 sysexit
	xor ecx, ecx
	gp0 rdpmc				; CR4.PCE clear
	; IOPL 3 lets the IOPL-sensitive ones through
	arm 0
	cli
	sti
	cli
	check dword [x_count], 0
	leave_user

; RDTSC in ring 3 leaves the arithmetic flags as they were (its inline
; form computes with the host's flags saved).
u_rdtsc:
	arm 0
	mov eax, 0x7fffffff
	add eax, 1				; OF, SF, AF, PF set; CF, ZF clear
	pushfd
	rdtsc
	pushfd
	pop eax
	pop ebx
	check eax, ebx
	check dword [x_count], 0
	leave_user

; RDTSCP in ring 3: TSC_AUX in ECX, the TSC not behind ring 0's earlier
; read, the flags as they were.
u_rdtscp:
	arm 0
	mov ecx, -1
	stc
	pushfd
	rdtscp
	pushfd
	pop esi
	pop edi
	check esi, edi
	check ecx, 0x5eed1234
	sub eax, [tsc_before]
	sbb edx, [tsc_before + 4]
	shr edx, 31
	check edx, 0
	check dword [x_count], 0
	leave_user

u_rdtscp_gp:
	mov ecx, 0x1111
	gp0 rdtscp
	check ecx, 0x1111			; a faulting RDTSCP writes nothing
	leave_user

u_rdtsc_gp:
	gp0 rdtsc
	leave_user

; IOPL 0, IF 0: POPF changes neither IF nor IOPL, and does not fault
u_popf_iopl0:
	arm 0
	push dword F_IF | RING_IOPL3 | F_CF | 2
	popfd
	pushfd
	pop eax
	check eax, F_CF | 2
	push word F_IF | RING_IOPL3 | F_ZF | 2
	popfw
	pushfd
	pop eax
	check eax, F_ZF | 2
	check dword [x_count], 0
	leave_user

; IOPL 0, IF 1: POPF and a same-level IRETD leave IF set
u_popf_if1:
	arm 0
	push dword 2
	popfd
	pushfd
	pop eax
	check eax, F_IF | 2
	push dword RING_IOPL3 | F_SF | 2
	push dword RING_SEL_UCODE
	push dword .after
	iretd
.after:
	pushfd
	pop eax
	check eax, F_IF | F_SF | 2
	check dword [x_count], 0
	leave_user

; IOPL 3: POPF changes IF but still not IOPL; CLI/STI work
u_popf_iopl3:
	arm 0
	push dword F_IF | 2
	popfd
	pushfd
	pop eax
	check eax, F_IF | RING_IOPL3 | 2	; PUSHF shows the real IOPL
	cli
	pushfd
	pop eax
	check eax, RING_IOPL3 | 2
	sti
	pushfd
	pop eax
	check eax, F_IF | RING_IOPL3 | 2
	check dword [x_count], 0
	leave_user

; IOPL 0: CLI and STI fault, IF stays
u_cli_sti_gp:
	pushfd
	pop ebx
	gp0 cli
	gp0 sti
	pushfd
	pop eax
	check eax, ebx
	leave_user

u_sysregs:
	arm 0
	sgdt [u_buf]
	movzx eax, word [u_buf]
	check eax, LIB_GDT_ENTRIES * 8 - 1
	check dword [u_buf + 2], lib_gdt
	sidt [u_buf]
	movzx eax, word [u_buf]
	check eax, 256 * 8 - 1
	check dword [u_buf + 2], lib_idt
	mov eax, 0xffff
	sldt ax
	check eax, 0
	xor eax, eax
	str ax
	check eax, RING_SEL_TSS
	mov word [u_buf], 0
	smsw [u_buf]
	movzx eax, word [u_buf]
	movzx ebx, word [cr0_word]
	check eax, ebx
	push cs
	pop eax
	and eax, 0xffff
	check eax, RING_SEL_UCODE		; RPL = CPL
	mov ecx, SEL_DATA
	verr cx
	check_flags F_ZF, 0			; DPL 0: not for ring 3
	mov ecx, RING_SEL_UDATA
	verr cx
	check_flags F_ZF, F_ZF
	mov ecx, SEL_CODE
	lar eax, ecx
	check_flags F_ZF, 0
	check dword [x_count], 0
	leave_user

; IOPL 0; the bitmap allows COM1, 0x80 and 0x87
u_io:
	arm 0
	out 0x80, al
	mov edx, COM1 + 7			; the UART's scratch register
	mov al, 0x5a
	out dx, al
	xor eax, eax
	in al, dx
	check eax, 0x5a
	check dword [x_count], 0
	gp0 out 0x84, al
	gp0 in al, 0x84
	gp0 out 0x80, ax			; 0x81 denied
	gp0 in ax, 0x87				; 0x88 denied, in the next bitmap byte
	mov edx, 0x86
	gp0 in eax, dx				; 0x86 denied, 0x87 allowed
	; INS/OUTS: checked before any element moves
	mov esi, u_buf
	mov ecx, 1
	mov edx, 0x80
	arm 0
	rep outsb
	check esi, u_buf + 1
	check ecx, 0
	mov edi, u_buf
	mov ecx, 3
	mov edx, 0x84
	gp0 rep insb
	check edi, u_buf
	check ecx, 3
	leave_user

; now 0x81 and 0x88 are allowed too
u_io_allowed:
	arm 0
	in ax, 0x87
	mov edx, 0x80
	mov esi, u_buf
	outsw
	check dword [x_count], 0
	leave_user

; IOPL 3: no bitmap
u_io_iopl3:
	arm 0
	in al, 0x84
	check dword [x_count], 0
	leave_user

; TSS limit RING_TSS_SIZE + 0x10: bitmap bytes up to 0x10 are inside, and
; the processor reads two. Checked in ring 0: COM1's bits are beyond the
; limit too, so a failing check here could not report.
u_io_limit:
	arm 0
	in al, 0x7f				; bytes 0x0f, 0x10
	arm .r
.f:
	in al, 0x80				; bytes 0x10, 0x11: #GP though allowed
.r:
	leave_user

u_segs:
	mov ebp, esp
	mov ebx, SEL_DATA
	faults 13, SEL_DATA, mov ds, bx		; DPL 0
	mov ebx, SEL_DATA | 3
	faults 13, SEL_DATA, mov es, bx
	mov ebx, RING_SEL_UDATA & ~3		; RPL 0 for DPL 3: fine
	arm 0
	mov fs, bx
	xor eax, eax
	mov ax, fs
	check eax, RING_SEL_UDATA & ~3
	mov ebx, SEL_UNP
	faults 11, SEL_UNP & ~3, mov gs, bx	; not present: #NP
	mov ebx, SEL_UXO
	faults 13, SEL_UXO & ~3, mov ds, bx	; execute-only code
	mov ebx, RING_SEL_KCODE | 3
	faults 13, RING_SEL_KCODE, mov ds, bx	; readable, but DPL 0
	arm 0
	mov ebx, RING_SEL_UCODE			; readable code of ring 3
	mov fs, bx
	mov ebx, SEL_KCONF | 3			; conforming: readable from any level
	mov gs, bx
	xor eax, eax
	mov ax, gs
	check eax, SEL_KCONF | 3
	xor ebx, ebx				; null: allowed, until used
	mov fs, bx
	mov ax, fs
	check eax, 0
	mov ebx, RING_SEL_UDATA
	mov fs, bx
	mov gs, bx
	; SS: writable data with DPL = RPL = CPL
	mov ebx, RING_SEL_UDATA & ~3
	faults 13, RING_SEL_UDATA & ~3, mov ss, bx
	mov ebx, SEL_DATA | 3
	faults 13, SEL_DATA, mov ss, bx
	mov ebx, SEL_URO
	faults 13, SEL_URO & ~3, mov ss, bx
	mov ebx, SEL_UNP
	faults 12, SEL_UNP & ~3, mov ss, bx	; not present: #SS
	xor ebx, ebx
	faults 13, 0, mov ss, bx
	mov eax, esp
	check eax, ebp
	xor eax, eax
	mov ax, ss
	check eax, RING_SEL_UDATA
	; CS
	faults 13, SEL_CODE, jmp SEL_CODE:never	; DPL 0, non-conforming
	faults 13, SEL_CODE, call SEL_CODE:never
	mov eax, esp
	check eax, ebp				; nothing pushed
	faults 11, SEL_UCNP & ~3, jmp SEL_UCNP:never
	arm 0
	jmp SEL_KCONF:.conf			; conforming: runs at CPL 3
.conf:
	xor eax, eax
	mov ax, cs
	check eax, SEL_KCONF | 3
	jmp RING_SEL_UCODE:.back
.back:
	mov ax, cs
	check eax, RING_SEL_UCODE
	; no return inward
	push dword SEL_CODE
	push dword never
	faults 13, SEL_CODE, retf
	add esp, 8
	push dword 2
	push dword SEL_CODE
	push dword never
	faults 13, SEL_CODE, iretd
	add esp, 12
	mov eax, esp
	check eax, ebp
	leave_user

; entered by IRETD with DS..GS as ring 0 left them: record, then reload
; (memory through a null DS would fault)
u_nulled:
	xor eax, eax
	xor ebx, ebx
	xor ecx, ecx
	xor edx, edx
	mov ax, ds
	mov bx, es
	mov cx, fs
	mov dx, gs
	mov si, RING_SEL_UDATA
	mov ds, si
	mov es, si
	mov fs, si
	mov gs, si
	mov [u_seen], eax
	mov [u_seen + 4], ebx
	mov [u_seen + 8], ecx
	mov [u_seen + 12], edx
	leave_user

; entered by RETF 8 from ring 0
u_retf:
	xor eax, eax
	mov ax, ds
	mov bx, RING_SEL_UDATA
	mov ds, bx
	mov es, bx
	mov fs, bx
	mov gs, bx
	mov [u_seen], eax
	mov [u_seen + 4], esp
	leave_user

; leave_user needs SS0 too: with paging off ring 3 can write the TSS,
; so it puts the good SS0 back itself first
u_tss:
	arm .r
.f:
	int 0x80
.r:
	mov word [rings_tss + 8], SEL_DATA
	leave_user

u_sysenter:
	mov ebp, esp
	mov ecx, esp				; where SYSEXIT puts ESP and EIP
	mov edx, .back
	mov ebx, 0x77
	sysenter
	fail_now "sysenter fell through"
.back:
	check ebx, 0x78				; the ring-0 side ran
	mov eax, esp
	check eax, ebp
	xor eax, eax
	mov ax, cs
	check eax, RING_SEL_UCODE
	mov ax, ss
	check eax, RING_SEL_UDATA
	check_flags F_IF, 0			; SYSEXIT does not restore IF
	leave_user

u_sysenter_gp:
	mov ebp, esp
	gp0 sysenter
	from_user
	leave_user

u_irq:
	mov ecx, SPIN_LIMIT
.spin:
	cmp dword [irq_count], 0
	jne .got
	dec ecx
	jnz .spin
	mov dword [u_seen], 0
	leave_user
.got:
	mov dword [u_seen], 1
	leave_user

; ================================================================ ring 0

; never: the target of far transfers that must fault
never:
	fatal "a far transfer that must fault went through"

; conf_gate: EAX = vector: lib's catcher for it behind an interrupt gate
; into SEL_KCONF (conforming code, base 0). Preserves registers.
conf_gate:
	push ecx
	push edx
	mov edx, [lib_catch_table + eax * 4]
	mov cl, 0x8e
	call lib_set_gate
	mov word [lib_idt + eax * 8 + 2], SEL_KCONF
	pop edx
	pop ecx
	ret

; retf_to_user: RETF 8 from ring 0 into u_retf, ring 3's stack at
; rings_ustack_top - 64; comes back here through leave_user
retf_to_user:
	pushfd
	mov [rings_k_esp], esp
	push dword RING_SEL_UDATA
	push dword rings_ustack_top - 64
	push dword 0x1111			; the two parameters RETF 8 drops
	push dword 0x2222
	push dword RING_SEL_UCODE
	push dword u_retf
	retf 8

; push_level esp_var, cs_var, ss_var: at a handler's entry, record its
; own ESP, CS and SS (which level it runs at, on which stack), then push
; EAX.
%macro push_level 3
	mov [%1], esp
	push eax
	xor eax, eax
	mov ax, cs
	mov [%2], eax
	mov ax, ss
	mov [%3], eax
%endmacro

; sys_handler: INT 0x80/0x82 from ring 3. Records its own ESP, CS, SS and
; EFLAGS and the frame; returns EAX + 1.
sys_handler:
	push_level h_esp, h_cs, h_ss
	pushfd
	pop eax
	mov [h_eflags], eax
	mov eax, [esp + 4]
	mov [s_frame], eax
	mov eax, [esp + 8]
	mov [s_frame + 4], eax
	mov eax, [esp + 12]
	mov [s_frame + 8], eax
	mov eax, [esp + 16]
	mov [s_frame + 12], eax
	mov eax, [esp + 20]
	mov [s_frame + 16], eax
	pop eax
	inc eax
	iretd

; exc_record (lib_exc_hook): [esp] vector, error, EIP, CS, EFLAGS and,
; from ring 3, ESP, SS. Records them with the handler's ESP/CS/SS and
; resumes at resume_eip; with none armed the exception fails the guest.
exc_record:
	push_level h_esp, h_cs, h_ss
	x_record_frame
	mov dword [x_esp], -1
	mov dword [x_ss], -1
	mov eax, [esp + 16]
	xor eax, [h_cs]
	test al, 3				; a privilege change pushed SS:ESP
	jz .same_level
	mov eax, [esp + 24]
	mov [x_esp], eax
	mov eax, [esp + 28]
	and eax, 0xffff
	mov [x_ss], eax
.same_level:
	inc dword [x_count]
	x_resume .unexpected
	pop eax
	add esp, 8
	iretd
.unexpected:
	pop eax
	test byte [h_cs], 3
	jnz .unexpected_user
	jmp lib_catch_common.report
.unexpected_user:
	; a handler in conforming code at CPL 3 may not CLI as lib's report
	; does: say so and exit through the port the I/O bitmap allows
	mov esi, s_user_handler_fault
	call lib_puts
	mov al, GUEST_FAIL
	out 0xf4, al
	jmp $

sysenter_entry:
	push_level se_esp, se_cs, se_ss
	pushfd
	pop eax
	mov [se_eflags], eax
	pop eax
	inc ebx
	sysexit

irq_isr:
	push eax
	mov eax, [esp + 8]
	and eax, 0xffff
	mov [irq_cs], eax
	mov eax, [esp + 20]
	and eax, 0xffff
	mov [irq_ss], eax
	xor eax, eax
	mov ax, cs
	mov [irq_h_cs], eax
	inc dword [irq_count]
	mov al, 0x20
	out 0x20, al				; EOI
	pop eax
	iretd

section .rodata
align 4
zero6:		dd 0, 0
s_user_handler_fault: db "FAIL rings: unexpected exception in a handler at CPL 3", 10, 0

section .bss
alignb 4
x_esp:		resd 1
x_ss:		resd 1
h_esp:		resd 1
h_cs:		resd 1
h_ss:		resd 1
h_eflags:	resd 1
s_frame:	resd 5
u_esp:		resd 1
u_seen:		resd 4
tsc_before:	resd 2
u_buf:		resd 4
se_cs:		resd 1
se_ss:		resd 1
se_esp:		resd 1
se_eflags:	resd 1
irq_count:	resd 1
irq_cs:		resd 1
irq_ss:		resd 1
irq_h_cs:	resd 1
cr0_word:	resw 1
alignb 16
sysenter_stack:	resb 1024
sysenter_stack_top:
