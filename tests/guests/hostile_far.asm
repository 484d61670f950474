; Hostile guest: far JMP, far CALL (both with an immediate pointer and
; through memory), far RET and IRETD to every kind of selector: null,
; beyond the GDT limit, TI = 1 with no LDT and beyond the LDT's limit,
; system descriptors of every type that is no valid target (reserved,
; LDT, busy TSSs, interrupt and trap gates), data segments, code that is
; not present, and code whose DPL or RPL the rules refuse; for the
; returns to an outer level also every kind of bad SS. Each must raise
; the exception the SDM gives, with its error code (the selector with
; RPL cleared, 0 for a null one), at the instruction, with CS and ESP
; unchanged; the valid kinds (conforming code, execute-only code, an LDT
; code segment, a return to ring 3) must land. The 16-bit operand-size
; forms (m16:16 pointers, word frames) the same. INT n through every kind
; of gate and gate CS likewise (the IDT limit, the gate's type, its DPL
; against ring 3, its presence, then its CS), with the EXT bit in the
; error code for the processor's own events, and #DF when delivering the
; fault faults too, but never for INT n, whatever n (INT 8, 13, 14 through
; a gate ring 3 may not use, or not present, are #GP or #NP). Far
; pointers in memory nobody claims (all ones: selector 0xffff) and in a
; device's memory work as anywhere else. Ring 3 tries the same against
; ring-0 code. The monitor must survive them all.
;
; qemu-system-i386 7.2 (TCG) differs from the SDM and a PC in three
; groups: it raises #NP where the SDM has #SS for a return to an outer
; level with a stack segment not present (outer_ss), leaves the EXT bit
; out of the error code of a fault met delivering an exception (gates),
; and reads unclaimed memory as zeros, with no test device (mmio_pointer).
;
; Not here, because btvm does not model them (docs/DESIGN.md, known
; gaps): call gates, task gates and TSSs as targets (task switches),
; 16-bit interrupt and trap gates, IRET with NT, segment limit checks on
; the new EIP.
%define GUEST_NAME "hostile_far"
%include "lib.inc"
%include "hostile_lib.inc"
%include "rings.inc"

SLOT		equ 0x60		; the descriptor each case rewrites
SLOT_SS		equ 0x68		; the stack descriptor of the outer returns
SEL_LDTD	equ 0x70		; the LDT's descriptor in the GDT
BEYOND		equ LIB_GDT_ENTRIES * 8	; first selector past the GDT limit
LDT_SEL		equ 0x64		; TI = 1, index 12
LDT_CODE	equ 0x04		; TI = 1, index 0: flat ring-0 code
VEC		equ 0x50		; the interrupt vector the gate cases use
UNCLAIMED	equ 0xe0000000		; no RAM, no device: reads all ones
TD		equ 0xfebf0000		; btvm's test device: 256 bytes of scratch
STUB		equ 0x8000		; a landing 16-bit offsets reach

; Descriptor high dwords (the low dword is 0x0000ffff: limit 0xfffff,
; base 0, G and D set in the high dword).
D_CODE0		equ 0x00cf9a00		; code, DPL 0
D_CODE3		equ 0x00cffa00		; code, DPL 3
D_CONF0		equ 0x00cf9e00		; conforming code, DPL 0
D_CONF3		equ 0x00cffe00		; conforming code, DPL 3
D_XONLY0	equ 0x00cf9800		; execute-only code, DPL 0
D_CODE0_NP	equ 0x00cf1a00		; code, DPL 0, not present
D_CODE3_NP	equ 0x00cf7a00		; code, DPL 3, not present
D_DATA0		equ 0x00cf9200		; writable data, DPL 0
D_DATA3		equ 0x00cff200		; writable data, DPL 3
D_RO3		equ 0x00cff000		; read-only data, DPL 3
D_DATA3_NP	equ 0x00cf7200		; writable data, DPL 3, not present
D_SYS		equ 0x00008000		; system, present, DPL 0: | type << 8

; arm: clear the record; a fault resumes at the label.
%macro arm 1
	hl_arm %1
	mov dword [back], %1
	mov dword [landed], 0
%endmacro

; expect vector, error, eip, esp: exactly one exception with these values,
; raised with CS as it was, and no landing.
%macro expect 4
	check dword [x_count], 1
	check dword [x_vec], %1
	check dword [x_err], %2
	check dword [x_eip], %3
	check dword [x_esp], dword %4
	push eax
	xor eax, eax
	mov ax, cs
	check dword [x_cs], eax
	pop eax
	check dword [landed], 0
%endmacro

; set_slot hi: the descriptor at SLOT becomes (hi, 0x0000ffff).
%macro set_slot 1
	mov dword [lib_gdt + SLOT], 0x0000ffff
	mov dword [lib_gdt + SLOT + 4], %1
%endmacro

; set_ss hi: the same for SLOT_SS.
%macro set_ss 1
	mov dword [lib_gdt + SLOT_SS], 0x0000ffff
	mov dword [lib_gdt + SLOT_SS + 4], %1
%endmacro

; xfer_bad sel, vector, error: far JMP and far CALL to sel, with an
; immediate pointer and through memory, each must fault.
%macro xfer_bad 3
	xfer_one jmp, %1, %2, %3
	xfer_one call, %1, %2, %3
	xfer_mem jmp, %1, %2, %3
	xfer_mem call, %1, %2, %3
%endmacro

%macro xfer_one 4
	arm %%r
	mov [saved_esp], esp
%%f:
	%1 %2:landing
%%r:
	mov esp, [saved_esp]
	expect %3, %4, %%f, [saved_esp]
%endmacro

%macro xfer_mem 4
	arm %%r
	mov dword [farptr], landing
	mov word [farptr + 4], %2
	mov [saved_esp], esp
%%f:
	%1 far [farptr]
%%r:
	mov esp, [saved_esp]
	expect %3, %4, %%f, [saved_esp]
%endmacro

; xfer_ok sel: far JMP and CALL to sel land, with CS = sel (RPL = CPL).
%macro xfer_ok 2
	arm %%r1
	%%f1:
	jmp %1:landing
%%r1:
	check dword [landed], 1
	check dword [landed_cs], %2
	check dword [x_count], 0
	arm %%r2
	mov [saved_esp], esp
	call %1:landing
%%r2:
	mov esp, [saved_esp]
	check dword [landed], 1
	check dword [landed_cs], %2
	check dword [x_count], 0
%endmacro

; ret_bad cs, vector, error: RETF and IRETD to cs at the same or an inner
; level (a two- or three-dword frame) must fault.
%macro ret_bad 3
	arm %%r1
	mov [saved_esp], esp
	push dword %1
	push dword landing
	mov [frame_esp], esp
%%f1:
	retf
%%r1:
	mov esp, [saved_esp]
	expect %2, %3, %%f1, [frame_esp]
	arm %%r2
	mov [saved_esp], esp
	pushfd
	push dword %1
	push dword landing
	mov [frame_esp], esp
%%f2:
	iretd
%%r2:
	mov esp, [saved_esp]
	expect %2, %3, %%f2, [frame_esp]
%endmacro

; ret_outer_bad cs, ss, vector, error: the same to an outer level (the
; frame also holds ESP and SS).
%macro ret_outer_bad 4
	arm %%r1
	mov [saved_esp], esp
	push dword %2
	push dword rings_ustack_top
	push dword %1
	push dword landing
	mov [frame_esp], esp
%%f1:
	retf
%%r1:
	mov esp, [saved_esp]
	expect %3, %4, %%f1, [frame_esp]
	arm %%r2
	mov [saved_esp], esp
	push dword %2
	push dword rings_ustack_top
	push dword 2
	push dword %1
	push dword landing
	mov [frame_esp], esp
%%f2:
	iretd
%%r2:
	mov esp, [saved_esp]
	expect %3, %4, %%f2, [frame_esp]
%endmacro

; o16_xfer op, vector, error: a 16-bit far JMP/CALL through farptr
; (m16:16) must fault.
%macro o16_xfer 3
	arm %%r
	mov [saved_esp], esp
%%f:
	o16 %1 far [farptr]
%%r:
	mov esp, [saved_esp]
	expect %2, %3, %%f, [saved_esp]
%endmacro

; o16_ret cs, vector, error: 16-bit RETF and IRET to cs must fault.
%macro o16_ret 3
	arm %%r1
	mov [saved_esp], esp
	push word %1
	push word STUB
	mov [frame_esp], esp
%%f1:
	o16 retf
%%r1:
	mov esp, [saved_esp]
	expect %2, %3, %%f1, [frame_esp]
	arm %%r2
	push word 2
	push word %1
	push word STUB
	mov [frame_esp], esp
%%f2:
	o16 iret
%%r2:
	mov esp, [saved_esp]
	expect %2, %3, %%f2, [frame_esp]
%endmacro

; set_gate vector, selector, attributes: a gate to landing_int with
; that CS and type/attribute byte (P, DPL, type).
%macro set_gate 3
	push eax
	mov eax, landing_int
	mov [lib_idt + (%1) * 8], ax
	mov word [lib_idt + (%1) * 8 + 2], %2
	shr eax, 16
	mov [lib_idt + (%1) * 8 + 6], ax
	mov word [lib_idt + (%1) * 8 + 4], (%3) << 8
	pop eax
%endmacro

; int_bad vector, exception, error: INT vector must raise that.
%macro int_bad 3
	arm %%r
	mov [saved_esp], esp
%%f:
	int %1
%%r:
	mov esp, [saved_esp]
	expect %2, %3, %%f, [saved_esp]
%endmacro

guest_start
	hl_setup
	mov dword [back + 4], SEL_CODE

; ------------------------------------------------- null and absent
group "null"
t_null:
	xfer_bad 0, 13, 0
	xfer_bad 3, 13, 0
	ret_bad 0, 13, 0
	ret_bad 3, 13, 0

group "beyond_gdt"
t_beyond:
	xfer_bad BEYOND, 13, BEYOND
	xfer_bad BEYOND | 3, 13, BEYOND
	xfer_bad 0xfff8, 13, 0xfff8
	ret_bad BEYOND, 13, BEYOND
	ret_bad 0xfffb, 13, 0xfff8

group "no_ldt"
t_no_ldt:
	xor eax, eax
	lldt ax				; no LDT: every TI = 1 selector is beyond it
	xfer_bad LDT_SEL, 13, LDT_SEL
	xfer_bad LDT_CODE, 13, LDT_CODE
	ret_bad LDT_SEL, 13, LDT_SEL

group "ldt"
t_ldt:
	; an LDT of one flat code segment: index 0 lands, index 12 is beyond
	mov dword [ldt], 0x0000ffff
	mov dword [ldt + 4], D_CODE0
	mov eax, SEL_LDTD
	mov ebx, ldt
	mov ecx, 7
	mov edx, 0x0082
	call lib_set_desc
	mov ax, SEL_LDTD
	lldt ax
	xfer_ok LDT_CODE, LDT_CODE
	xfer_bad LDT_SEL, 13, LDT_SEL
	ret_bad LDT_SEL, 13, LDT_SEL
	xor eax, eax
	lldt ax

; ------------------------------------------------- system descriptors
group "system"
t_system:
%assign ty 0
%rep 16
%if ty != 1 && ty != 4 && ty != 5 && ty != 9 && ty != 12
	; (1 and 9 are available TSSs and 4, 5, 12 gates: task switches and
	; call gates, not modelled)
	set_slot D_SYS | (ty << 8)
	xfer_bad SLOT, 13, SLOT
	ret_bad SLOT, 13, SLOT
%endif
%assign ty ty + 1
%endrep

; --------------------------------------------------- data as code
group "data"
t_data:
	set_slot D_DATA0
	xfer_bad SLOT, 13, SLOT
	ret_bad SLOT, 13, SLOT
	set_slot D_DATA3
	xfer_bad SLOT | 3, 13, SLOT
	ret_outer_bad SLOT | 3, RING_SEL_UDATA, 13, SLOT

; ------------------------------------------------------- not present
group "not_present"
t_np:
	set_slot D_CODE0_NP
	xfer_bad SLOT, 11, SLOT
	ret_bad SLOT, 11, SLOT
	; a descriptor the rules refuse faults #GP before presence is seen
	set_slot D_CODE3_NP
	xfer_bad SLOT, 13, SLOT
	ret_outer_bad SLOT | 3, RING_SEL_UDATA, 11, SLOT

; ----------------------------------------------------- DPL and RPL
group "privilege"
t_priv:
	set_slot D_CODE3			; non-conforming: DPL must be CPL
	xfer_bad SLOT, 13, SLOT
	xfer_bad SLOT | 3, 13, SLOT
	ret_bad SLOT, 13, SLOT			; return: DPL must be RPL
	set_slot D_CODE0			; RPL above CPL
	xfer_bad SLOT | 3, 13, SLOT
	xfer_bad SLOT | 1, 13, SLOT
	ret_outer_bad SLOT | 3, RING_SEL_UDATA, 13, SLOT
	set_slot D_CONF3			; conforming: DPL at most CPL
	xfer_bad SLOT, 13, SLOT
	ret_bad SLOT, 13, SLOT			; ... at most RPL
	; what the rules allow lands
	set_slot D_CONF0
	xfer_ok SLOT | 3, SLOT			; RPL ignored, CPL kept
	set_slot D_XONLY0
	xfer_ok SLOT, SLOT

; ------------------------------------------ outer returns, bad stacks
group "outer_ss"
t_outer_ss:
	ret_outer_bad RING_SEL_UCODE, 0, 13, 0
	ret_outer_bad RING_SEL_UCODE, 3, 13, 0
	ret_outer_bad RING_SEL_UCODE, BEYOND | 3, 13, BEYOND
	ret_outer_bad RING_SEL_UCODE, LDT_SEL | 3, 13, LDT_SEL
	ret_outer_bad RING_SEL_UCODE, RING_SEL_UDATA & ~3, 13, RING_SEL_UDATA & ~3
	ret_outer_bad RING_SEL_UCODE, SEL_DATA | 3, 13, SEL_DATA
	ret_outer_bad RING_SEL_UCODE, RING_SEL_UCODE, 13, RING_SEL_UCODE & ~3
	set_ss D_RO3
	ret_outer_bad RING_SEL_UCODE, SLOT_SS | 3, 13, SLOT_SS
	set_ss D_SYS | (2 << 8)
	ret_outer_bad RING_SEL_UCODE, SLOT_SS | 3, 13, SLOT_SS
	set_ss D_DATA3_NP
	ret_outer_bad RING_SEL_UCODE, SLOT_SS | 3, 12, SLOT_SS
	; and a good one lands in ring 3
	set_ss D_DATA3
	mov dword [u_landed], 0
	call retf_to_user
	check dword [u_landed], 1
	mov dword [u_landed], 0
	call iret_to_user
	check dword [u_landed], 1

; ------------------------------------ 16-bit operand size forms
group "o16"
t_o16:
	; a landing below 64 KiB, where a 16-bit offset can reach:
	; inc dword [landed]; jmp far [back]
	mov word [STUB], 0x05ff
	mov dword [STUB + 2], landed
	mov word [STUB + 6], 0x2dff
	mov dword [STUB + 8], back
	mov word [farptr], STUB		; m16:16
	mov word [farptr + 2], 0
	o16_xfer jmp, 13, 0
	o16_xfer call, 13, 0
	mov word [farptr + 2], BEYOND
	o16_xfer jmp, 13, BEYOND
	o16_xfer call, 13, BEYOND
	set_slot D_CODE0_NP
	mov word [farptr + 2], SLOT
	o16_xfer jmp, 11, SLOT
	mov word [farptr + 2], SEL_CODE
	arm .r1
	o16 jmp far [farptr]
.r1:
	check dword [landed], 1
	arm .r2
	mov [saved_esp], esp
	o16 call far [farptr]		; pushes IP and CS, a word each
.r2:
	mov eax, [saved_esp]
	sub eax, esp
	check eax, 4
	mov esp, [saved_esp]
	check dword [landed], 1
	; returns: a word each for IP, CS (and FLAGS)
	o16_ret 0, 13, 0
	o16_ret BEYOND, 13, BEYOND
	o16_ret SLOT, 11, SLOT
	set_slot D_CODE3
	o16_ret SLOT, 13, SLOT
	arm .r3
	mov [saved_esp], esp
	push word SEL_CODE
	push word STUB
	o16 retf
.r3:
	mov esp, [saved_esp]
	check dword [landed], 1
	check dword [x_count], 0
	arm .r4
	pushfd
	pop eax
	push ax
	push word SEL_CODE
	push word STUB
	o16 iret
.r4:
	mov esp, [saved_esp]
	check dword [landed], 1
	check dword [x_count], 0

; -------------------------------------- far pointers in device memory
group "mmio_pointer"
t_mmio_pointer:
	; nobody claims it: the pointer reads all ones, selector 0xffff
	arm .r1
	mov [saved_esp], esp
.f1:
	jmp far [UNCLAIMED]
.r1:
	mov esp, [saved_esp]
	expect 13, 0xfffc, .f1, [saved_esp]
	arm .r2
.f2:
	call far [UNCLAIMED + 0x10]
.r2:
	mov esp, [saved_esp]
	expect 13, 0xfffc, .f2, [saved_esp]
	; the test device holds a good one
	mov dword [TD], landing
	mov dword [TD + 4], SEL_CODE
	arm .r3
	jmp far [TD]
.r3:
	check dword [landed], 1
	check dword [x_count], 0
	mov dword [TD + 4], BEYOND
	arm .r4
.f4:
	call far [TD]
.r4:
	mov esp, [saved_esp]
	expect 13, BEYOND, .f4, [saved_esp]

; ------------------------------------------------ interrupt gates
group "gates"
t_gates:
	; (the IDT's limit, then the gate, then its CS, in the SDM's order)
	lidt [idtr_short]
	int_bad VEC, 13, VEC * 8 + 2		; beyond the IDT limit
	lidt [lib_idtr]
%assign ty 0
%rep 16
%if ty != 5 && ty != 6 && ty != 7 && ty != 14 && ty != 15
	; (5, 6, 7: task and 16-bit gates, not modelled)
	set_gate VEC, SEL_CODE, 0x80 | ty
	int_bad VEC, 13, VEC * 8 + 2		; no gate type
%endif
%assign ty ty + 1
%endrep
	set_gate VEC, SEL_CODE, 0x0e		; not present
	int_bad VEC, 11, VEC * 8 + 2
	set_gate VEC, 0, 0x8e			; null CS
	int_bad VEC, 13, 0
	set_gate VEC, 3, 0x8e
	int_bad VEC, 13, 0
	set_gate VEC, BEYOND, 0x8e		; CS beyond the GDT
	int_bad VEC, 13, BEYOND
	set_gate VEC, LDT_SEL, 0x8e		; no LDT
	int_bad VEC, 13, LDT_SEL
	set_slot D_DATA0			; not code
	set_gate VEC, SLOT, 0x8e
	int_bad VEC, 13, SLOT
	set_slot D_SYS | (9 << 8)
	int_bad VEC, 13, SLOT
	set_slot D_CODE3			; DPL above CPL
	int_bad VEC, 13, SLOT
	set_slot D_CODE0_NP			; not present
	int_bad VEC, 11, SLOT
	set_slot D_CODE3_NP			; the DPL first
	int_bad VEC, 13, SLOT
	; an event from the processor itself: the error code has EXT set
	set_gate 6, SEL_CODE, 0x0e		; #UD's gate not present
	arm .r_ext
	mov [saved_esp], esp
.f_ext:
	ud2
.r_ext:
	expect 11, 6 * 8 + 2 + 1, .f_ext, [saved_esp]
	gate 6, lib_catch_6, 0x8e
	; a fault delivering a fault: #NP, then #NP's own gate fails (#GP),
	; two contributory exceptions make #DF (error code 0)
	set_gate 11, BEYOND, 0x8e
	set_gate VEC, SEL_CODE, 0x0e
	arm .r_df
	int VEC
.r_df:
	check dword [x_count], 1
	check dword [x_vec], 8
	check dword [x_err], 0
	gate 11, lib_catch_11, 0x8e
	; INT 13 through its gate not present: #NP, no #DF (a software
	; interrupt is not an exception, whatever its vector)
	set_gate 13, SEL_CODE, 0x0e
	int_bad 13, 11, 13 * 8 + 2
	gate 13, lib_catch_13, 0x8e
	; what the rules allow lands: a trap gate, conforming code of DPL 0
	set_gate VEC, SEL_CODE, 0x8f
	arm .r_ok1
	int VEC
.r_ok1:
	check dword [landed], 1
	check dword [x_count], 0
	set_slot D_CONF0
	set_gate VEC, SLOT | 3, 0x8e		; gate selector RPL ignored
	arm .r_ok2
	int VEC
.r_ok2:
	check dword [landed], 1
	check dword [landed_cs], SLOT
	check dword [x_count], 0
	; ring 3 may only use gates of DPL 3 (next group)
	set_gate VEC, SEL_CODE, 0x8e
	set_gate VEC + 1, SEL_CODE, 0xee

; ------------------------------------------------------------ ring 3
group "user"
t_user:
	set_slot D_CONF0
	mov dword [lib_gdt + SLOT_SS + 4], D_CONF3
	mov dword [lib_gdt + SLOT_SS], 0x0000ffff
	mov eax, user_tests
	mov ecx, RING_IOPL3			; its checks report on COM1
	call rings_run_user
	check dword [u_done], 1

	guest_finish

; Ring 3: far transfers to ring-0 code fault, returns to ring 0 fault,
; conforming code of any DPL runs at CPL 3.
user_tests:
	xfer_bad RING_SEL_KCODE, 13, RING_SEL_KCODE
	xfer_bad RING_SEL_KCODE & ~3, 13, RING_SEL_KCODE
	xfer_bad SEL_CODE, 13, SEL_CODE
	xfer_bad 0, 13, 0
	xfer_bad BEYOND | 3, 13, BEYOND
	ret_bad SEL_CODE, 13, SEL_CODE		; RPL below CPL
	ret_bad RING_SEL_KCODE & ~3, 13, RING_SEL_KCODE
	ret_bad 3, 13, 0
	int_bad VEC, 13, VEC * 8 + 2		; a gate of DPL 0
	; INT n is no exception, whatever n: a fault delivering it is no
	; double fault (INT 8 was a triple fault, INT 13 and 14 a #DF)
	int_bad 8, 13, 8 * 8 + 2
	int_bad 13, 13, 13 * 8 + 2
	int_bad 14, 13, 14 * 8 + 2
	arm .r_int
	int VEC + 1				; DPL 3: ring 0 takes it
.r_int:
	check dword [landed], 1
	check dword [landed_cs], SEL_CODE
	check dword [x_count], 0
	mov dword [back + 4], RING_SEL_UCODE
	xfer_ok SLOT, SLOT | 3			; conforming DPL 0 from CPL 3
	xfer_ok SLOT_SS | 3, SLOT_SS | 3	; conforming DPL 3
	mov dword [back + 4], SEL_CODE
	mov dword [u_done], 1
	leave_user

; landing: where the transfers that must fault would go, and the valid
; ones go; records the landing and CS, then goes back (far) to [back].
landing:
	inc dword [ss:landed]
	push eax
	xor eax, eax
	mov ax, cs
	mov [ss:landed_cs], eax
	pop eax
	jmp far [ss:back]

; landing_int: where the gates lead; records the landing and CS and
; returns (IRETD, to whatever level the INT came from).
landing_int:
	inc dword [ss:landed]
	push eax
	xor eax, eax
	mov ax, cs
	mov [ss:landed_cs], eax
	pop eax
	iretd

; retf_to_user / iret_to_user: into ring 3 at u_land with SS = SLOT_SS
; (RPL 3); back here through leave_user.
retf_to_user:
	pushfd
	mov [rings_k_esp], esp
	push dword SLOT_SS | 3
	push dword rings_ustack_top
	push dword RING_SEL_UCODE
	push dword u_land
	retf

iret_to_user:
	pushfd
	mov [rings_k_esp], esp
	push dword SLOT_SS | 3
	push dword rings_ustack_top
	push dword 2
	push dword RING_SEL_UCODE
	push dword u_land
	iretd

u_land:
	mov dword [ss:u_landed], 1	; DS was nulled on the way out
	leave_user

section .data
align 4
	dw 0
idtr_short:
	dw VEC * 8 - 1			; every vector below VEC
	dd lib_idt

section .bss
alignb 8
ldt:		resd 2
alignb 4
farptr:		resd 2
back:		resd 2
saved_esp:	resd 1
frame_esp:	resd 1
landed:		resd 1
landed_cs:	resd 1
u_landed:	resd 1
u_done:		resd 1
