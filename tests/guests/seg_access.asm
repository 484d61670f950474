; Segmentation as the SDM has it (issue 44, item 5), the parts btvm does:
;  near16    16-bit operand-size near branches in 32-bit code (66h): CALL
;            rel16 and r/m16 push a word of IP, RET and RET imm16 pop one,
;            JMP rel16/rel8/r/m16 and Jcc rel16 cut the target to IP (a
;            rel16 jump from 0x7000 back past 0 lands at 0xF005); from high
;            code, an o16 JMP through AX lands at AX
;  accessed  a segment load sets the descriptor's accessed bit in the GDT
;            (MOV, POP, LDS/LES/LSS, far JMP/CALL, an interrupt gate's CS),
;            again after the guest cleared it (the translator's remembered
;            loads compare the descriptor's bytes), not on a faulting load
;            (not present) nor for a null selector
;  accessed_cs the same for CS: far JMP, far CALL, an interrupt gate
;            (not under QEMU 7.2, which leaves the bit clear there)
;  stack16   32-bit code on a 16-bit stack (SS.B clear) in protected
;            mode: PUSH/POP, CALL/RET, PUSHAD/POPAD and an interrupt's frame
;            and IRETD move SP alone, wrapping at 64 KiB
;  limits    a data segment with limit 0xFFF: the byte past it and accesses
;            straddling it fault (#GP(0)) for loads, stores, read-modify-
;            writes, LODS, STOS and REP STOSB (ECX/EDI at the element), LFS,
;            PUSH/POP m; inside it they work; one MOV FS of it run again
;            and again from flat code (the translator remembers loads)
;  limits_ss the same segment as SS: POP, RET and [EBP] past it are #SS(0)
;  expand_down expand-down data with B set (offsets above the limit up to
;            4 GiB) and clear (up to 0xFFFF)
;  null_seg  ES loaded null: loads and STOSB through it are #GP(0)
;  callout_limits the memory operands of the instructions the monitor
;            runs (MOV Sreg, LGDT..SIDT, SMSW/STR/SLDT/LLDT/LAR/VERR/ARPL m,
;            BOUND, MASKMOVQ, FXSAVE, CLFLUSH, INS/OUTS) past FS's limit
;            (#GP(0)) and SS's (#SS(0)), nothing written
;  far_limits far JMP, CALL, RET and IRET to an EIP past the new CS's
;            limit: #GP(0) at the instruction, nothing pushed or popped
;  gate_limits a call gate (CALL and JMP) and an interrupt gate (INT n)
;            whose offset is past its CS's limit: #GP(0) at the
;            instruction, nothing pushed; inside the limit the CALL goes
;  csbase    32-bit code segments based at unaligned addresses (0x200A and
;            0x500A) at the same EIP, on two physical copies of a blob that
;            crosses a page boundary where EIP's page does not: each base
;            runs its own bytes; calls push offsets; the blob rewritten
;            through its linear address runs the new bytes
;  csbase_pg the same with paging on, plus two more bases whose linear
;            pages are aliases of the two copies' frames (same EIP, same
;            physical code, other CS.base; and same EIP, other frames)
;  null_fsgs_load FS and GS loaded null at CPL 0 (MOV, POP, LFS, from one
;            instruction again and again, as the translator remembers
;            loads): no fault, MOV r32/PUSH of them give 0; a usable
;            selector loaded again makes accesses through them work
;  null_fsgs the accesses through a null FS or GS at CPL 0: MOV load and
;            store, ADD r/m, MOVS and REP MOVSB from FS:ESI, PUSH/POP m,
;            MOVDQU and FLD through GS/FS, MOV ES from and SGDT to FS/GS
;            memory (the monitor's), and a REP MOVSB that btvm runs in the
;            monitor since it reached the test device: #GP(0) at the
;            instruction, nothing written, registers, flags and the x87
;            stack as they were; again after each of a run of remembered
;            null loads
;  wrap_ss_pg a stack access through a flat SS that runs past 4 GiB
;            (PUSH/POP, CALL/RET, ENTER/LEAVE, PUSHAD/POPAD, [ESP], [EBP],
;            SS:) is #SS(0), through DS #GP(0), before a #PF on the top page
;  wrap_ss   the same with no RAM at the top (the monitor's callouts)
;  null_fsgs_user the same at CPL 3: FS and GS nulled by the IRET to
;            ring 3 (their DPL 0), then loaded with selector 3; a usable
;            selector in between works
; Also under QEMU (guest_seg_access_qemu), which skips accessed_cs, limits,
; limits_ss, expand_down, null_seg, callout_limits, far_limits,
; gate_limits, null_fsgs, null_fsgs_user, wrap_ss_pg and wrap_ss (QEMU 7.2
; wraps an access past 4 GiB to 0, no fault; it lets a null FS/GS be
; used, at base 0; it gives the far CALL #GP(selector), the SDM #GP(0),
; and lets RETF and IRET past the limit, and CALL and INT through a gate
; whose offset is past it; it checks a JMP through one): QEMU 7.2's TCG checks no data
; segment's limit and lets a null DS/ES be used (the groups keep a POP or
; RET that does not fault from running off, so they fail there, not hang).
%define GUEST_NAME "seg_access"
%include "lib.inc"
%include "exc_record.inc"
%include "paging.inc"
%include "rings.inc"

LOW		equ 0x7000		; where near16's blob runs
%define LA(x) (LOW + (x) - n16_blob)
SEL_ACC		equ 0x28		; flat data, accessed bit clear
SEL_ACC_CODE	equ 0x30		; flat 32-bit code, accessed bit clear
SEL_ACC_NP	equ 0x38		; data, not present
SEL_CB1		equ 0x40		; 32-bit code based at CB_BASE1
SEL_CB2		equ 0x48		; 32-bit code based at CB_BASE2
SEL_CB3		equ 0x50		; CB_ALIAS + CB_BASE1 (paging: copy 1's frames)
SEL_CB4		equ 0x58		; CB_ALIAS + CB_BASE2 (paging: copy 2's frames)
SEL_ACC_GATE	equ 0x60		; flat 32-bit code for an interrupt gate, A clear
SEL_STK16	equ 0x68		; 16-bit stack (B clear), base STK_BASE, limit 0xffff
STK_BASE	equ 0x60000
SEL_LIM		equ 0x70		; data, base LIM_BASE, limit 0xfff
SEL_EXPD32	equ 0x78		; expand-down data, limit 0xfff, B set
SEL_EXPD16	equ 0x38		; expand-down data, limit 0xfff, B clear (SEL_ACC_NP's slot, reused)
LIM_BASE	equ 0x80000
CB_EIP		equ 0x5ff0		; where the blob runs in every based segment
CB_COPY1	equ 0x7ffa		; copy 1, across the page boundary at 0x8000
CB_COPY2	equ 0xaffa		; copy 2, across 0xb000
CB_BASE1	equ CB_COPY1 - CB_EIP	; 0x200a
CB_BASE2	equ CB_COPY2 - CB_EIP	; 0x500a
CB_ALIAS	equ 0x40000000		; paging: 0x40007000.. -> copy 1's frames, 0x4000a000.. -> copy 2's
%define ACC_BYTE(sel) byte [lib_gdt + (sel) + 5]

guest_start
	call lib_install_idt
	mov dword [lib_exc_hook], exc_record

; ---------------------------------------------------------------- near16
group "near16"
	mov esi, n16_blob
	mov edi, LOW
	mov ecx, n16_blob_end - n16_blob
	cld
	rep movsb
	mov byte [0xf005], 0xb8			; mov eax, imm32 at 0xf005
	mov dword [0xf006], LA(n16_blob.wrapped)
	mov word [0xf00a], 0xe0ff		; jmp eax
	mov [n16_esp], esp
	mov eax, 0xabcd0000 | LA(n16_blob)
	o16 jmp ax				; IP = AX
	fail_now "o16 jmp ax fell through"
n16_back:
	check dword [n16_call], LA(n16_blob.r1)	; the word CALL rel16 pushed
	check dword [n16_depth], 2		; 2 bytes pushed
	check dword [n16_ret], 0		; o16 RET popped 2
	check dword [n16_ret4], 0		; o16 RET 4 popped 2 + 4
	check dword [n16_ind], LA(n16_blob.r2)	; o16 CALL AX pushed IP
	check dword [n16_jcc], 7		; Jcc rel16, JMP rel8, JMP m16, the wrap
	check dword [x_count], 0

; ---------------------------------------------------------------- accessed
group "accessed"
	mov eax, SEL_ACC
	xor ebx, ebx
	mov ecx, 0xfffff
	mov edx, 0x0c92				; G, B; present data, writable, A clear
	call lib_set_desc
	mov eax, SEL_ACC_CODE
	mov edx, 0x0c9a				; G, D; present code, readable, A clear
	call lib_set_desc
	mov eax, SEL_ACC_GATE
	call lib_set_desc
	mov eax, SEL_ACC_NP
	mov edx, 0x0c12				; not present data
	call lib_set_desc
	; MOV, many times from one instruction, the bit cleared before each
	mov ecx, 4
.mov_loop:
	and ACC_BYTE(SEL_ACC), 0xfe
	call load_fs_acc
	movzx eax, ACC_BYTE(SEL_ACC)
	check eax, 0x93
	dec ecx
	jnz .mov_loop
	mov ax, SEL_FS
	mov fs, ax
	; POP GS
	and ACC_BYTE(SEL_ACC), 0xfe
	push dword SEL_ACC
	pop gs
	movzx eax, ACC_BYTE(SEL_ACC)
	check eax, 0x93
	mov ax, SEL_GS
	mov gs, ax
	; LES
	and ACC_BYTE(SEL_ACC), 0xfe
	les eax, [acc_fptr]
	movzx eax, ACC_BYTE(SEL_ACC)
	check eax, 0x93
	; MOV SS
	and ACC_BYTE(SEL_ACC), 0xfe
	mov ax, SEL_ACC
	mov ss, ax
	movzx eax, ACC_BYTE(SEL_ACC)
	check eax, 0x93
	mov ax, SEL_DATA
	mov ss, ax
	mov es, ax
	; a not-present segment: #NP, the bit stays clear
	arm .np_done
	mov ax, SEL_ACC_NP
.np:	mov fs, ax
.np_done:
	expect 11, .np, SEL_ACC_NP
	movzx eax, ACC_BYTE(SEL_ACC_NP)
	check eax, 0x12
	mov ax, SEL_FS
	mov fs, ax
	; a null selector writes nothing (the null descriptor stays 0)
	xor eax, eax
	mov fs, ax
	check dword [lib_gdt + 4], 0
	mov ax, SEL_FS
	mov fs, ax

; CS loads: QEMU 7.2 does not set the bit there (its far JMP, far CALL
; and interrupt delivery load CS without it)
group "accessed_cs"
	; far JMP and far CALL
	jmp SEL_ACC_CODE:.in_acc
.in_acc:
	movzx eax, ACC_BYTE(SEL_ACC_CODE)
	check eax, 0x9b
	jmp SEL_CODE:.back_flat
.back_flat:
	and ACC_BYTE(SEL_ACC_CODE), 0xfe
	call SEL_ACC_CODE:acc_far_fn
	movzx eax, ACC_BYTE(SEL_ACC_CODE)
	check eax, 0x9b
	; an interrupt gate whose CS has A clear
	mov eax, 0x40
	mov edx, acc_int_fn
	mov cl, 0x8e
	call lib_set_gate
	mov word [lib_idt + 0x40 * 8 + 2], SEL_ACC_GATE
	int 0x40
	movzx eax, ACC_BYTE(SEL_ACC_GATE)
	check eax, 0x9b

; ---------------------------------------------------------------- stack16
; 32-bit code on a 16-bit stack (SS.B clear, base STK_BASE): every push
; and pop moves SP alone, wrapping at 64 KiB, ESP's upper half kept; also
; the frame of an interrupt taken there and its IRETD. Nothing here
; addresses [ESP] (that is SS:ESP, all 32 bits); the results go to flat
; memory and are checked once SS is flat again.
group "stack16"
	mov eax, SEL_STK16
	mov ebx, STK_BASE
	mov ecx, 0xffff
	mov edx, 0x0092				; byte granular, B clear; data
	call lib_set_desc
	mov dword [STK_BASE + 0xfffc], 0
	mov [stk_save], esp
	mov ax, SEL_STK16
	mov ss, ax
	mov esp, 0xabcd0004
	push dword 0x11111111			; SP 0x0000
	push dword 0x22222222			; SP 0xfffc: wrapped
	mov [stk_esp], esp
	pop ebx					; SP 0x0000
	pop ecx					; SP 0x0004
	mov [stk_esp + 4], esp
	mov [stk_val], ebx
	mov [stk_val + 4], ecx
	mov esp, 0xabcd0000
	call stk_fn				; pushes EIP at SP 0xfffc
.ret:
	mov [stk_esp + 8], esp
	mov esp, 0xabcd0008
	mov eax, 0x40
	mov edx, stk_int_fn
	mov cl, 0x8e
	call lib_set_gate
	mov esp, 0xabcd0008			; EFLAGS at 4, CS at 0, EIP at 0xfffc
	int 0x40
.after_int:
	mov [stk_esp + 12], esp
	mov esp, 0xabcd0010
	mov eax, 0x33333333
	pushad					; 32 bytes: SP 0xfff0
	mov [stk_esp + 16], esp
	mov eax, 0
	popad
	mov [stk_esp + 20], esp
	mov [stk_val + 8], eax
	mov ax, SEL_DATA
	mov ss, ax
	mov esp, [stk_save]
	check dword [stk_esp], 0xabcdfffc
	check dword [stk_esp + 4], 0xabcd0004
	check dword [stk_val], 0x22222222
	check dword [stk_val + 4], 0x11111111
	check dword [stk_fn_esp], 0xabcdfffc
	check dword [stk_fn_ret], .ret
	check dword [stk_esp + 8], 0xabcd0000
	check dword [stk_int_esp], 0xabcdfffc
	check dword [stk_int_frame], .after_int
	check dword [stk_int_frame + 4], SEL_CODE
	check dword [stk_esp + 12], 0xabcd0008
	check dword [stk_esp + 16], 0xabcdfff0
	check dword [STK_BASE + 0xc], 0x33333333	; EAX, pushed first
	check dword [STK_BASE], 0x22222222		; EBX, the fourth
	check dword [STK_BASE + 0xfffc], 0xabcd0010	; ESP, the fifth, wrapped
	check dword [stk_esp + 20], 0xabcd0010
	check dword [stk_val + 8], 0x33333333

; ---------------------------------------------------------------- limits
; A data segment at LIM_BASE with limit 0xFFF (byte granular): the first
; byte past it faults, a multi-byte access straddling it too, for loads,
; stores, read-modify-writes, string elements (REP STOSB stops at the
; element with ECX/EDI exact), far pointers and PUSH/POP of memory.
group "limits"
	mov eax, SEL_LIM
	mov ebx, LIM_BASE
	mov ecx, 0xfff
	mov edx, 0x0492				; B; present data, writable
	call lib_set_desc
	mov dword [LIM_BASE + 0xffc], 0x44332211
	mov ax, SEL_LIM
	mov fs, ax
	mov eax, [fs:0xffc]			; the last dword inside
	check eax, 0x44332211
	movzx eax, byte [fs:0xfff]
	check eax, 0x44
	arm .l1
.f1:	mov eax, [fs:0xffd]			; straddles the limit
.l1:	expect 13, .f1, 0
	arm .l2
.f2:	mov byte [fs:0x1000], 1			; the first byte past it
.l2:	expect 13, .f2, 0
	arm .l3
.f3:	add dword [fs:0xffe], 1
.l3:	expect 13, .f3, 0
	check dword [LIM_BASE + 0xffc], 0x44332211
	mov ebx, 0xffd
	arm .l4
.f4:	inc word [fs:ebx + 1]			; 0xffe..0xfff: inside
.l4:	check dword [x_count], 0
	check dword [LIM_BASE + 0xffc], 0x44342211
	arm .l5
.f5:	lfs eax, [fs:0xffc]			; 6 bytes from 0xffc
.l5:	expect 13, .f5, 0
	mov esi, 0xffd
	arm .l6
.f6:	fs lodsd
.l6:	expect 13, .f6, 0
	check esi, 0xffd
	arm .l7
.f7:	push dword [fs:0xffe]
.l7:	expect 13, .f7, 0
	arm .l8
.f8:	pop dword [fs:0xffe]
.l8:	expect 13, .f8, 0
	sub esp, 4				; the POP's slot back (it faulted first)
	; ES limited: STOSD and REP STOSB
	mov ax, SEL_LIM
	mov es, ax
	mov edi, 0xffe
	arm .l9
.f9:	stosd
.l9:	expect 13, .f9, 0
	check edi, 0xffe
	mov edi, 0xffc
	mov ecx, 8
	mov al, 0x5a
	arm .l10
.f10:	rep stosb
.l10:	expect 13, .f10, 0
	check edi, 0x1000
	check ecx, 4
	check dword [LIM_BASE + 0xffc], 0x5a5a5a5a
	mov ax, SEL_DATA
	mov es, ax
	mov ax, SEL_FS
	mov fs, ax
	mov dword [x_count], 0
	mov eax, [fs:0x1000]			; flat again: no fault
	check dword [x_count], 0
	; one MOV FS loading SEL_LIM again and again from flat code, where
	; the translator remembers loads: each still makes the next access
	; checked
	mov ecx, 3
.again:
	mov ax, SEL_FS
	call load_fs_ax
	arm .l11
	mov ax, SEL_LIM
	mov fs, ax				; the same block goes on
.f11:	mov al, [fs:0x1000]
.l11:	expect 13, .f11, 0
	dec ecx
	jnz .again
	mov ax, SEL_FS
	mov fs, ax

; SS limited to 0xFFF: pops and SS-based loads past it raise #SS(0) (the
; exception's frame goes below ESP, inside the limit)
group "limits_ss"
	mov [stk_save], esp
	mov ax, SEL_LIM
	mov ss, ax
	mov esp, 0x800
	push dword 0x12345678			; inside: works
	pop eax
	mov [lim_val], eax
	; what a POP or RET that did not fault would take: the checks then
	; fail on ESP instead of running off
	mov dword [LIM_BASE + 0xffe], ..@limits_ss_no_fault
	mov esp, 0xffe
	arm .s1
.g1:	pop eax					; 0xffe..0x1001
.s1:	mov [lim_esp], esp
	mov ebp, 0xffd
	arm .s2
.g2:	mov eax, [ebp]				; SS-based
.s2:	mov [lim_esp + 4], esp
	mov [lim_rec], eax
	mov eax, [x_vec]
	mov [lim_rec + 4], eax
	mov eax, [x_eip]
	mov [lim_rec + 8], eax
	mov eax, [x_err]
	mov [lim_rec + 12], eax
	mov esp, 0xffe
	arm .s3
.g3:	ret
..@limits_ss_no_fault:
.s3:	mov [lim_esp + 8], esp
	mov ax, SEL_DATA
	mov ss, ax
	mov esp, [stk_save]
	check dword [lim_val], 0x12345678
	check dword [lim_esp], 0xffe
	check dword [lim_esp + 4], 0xffe
	check dword [lim_esp + 8], 0xffe
	check dword [lim_rec + 4], 12
	check dword [lim_rec + 8], .g2
	check dword [lim_rec + 12], 0
	expect 12, .g3, 0

; expand-down data: valid offsets above the limit, up to 0xFFFFFFFF (B
; set) or 0xFFFF (B clear)
group "expand_down"
	mov eax, SEL_EXPD32
	mov ebx, LIM_BASE - 0x1000
	mov ecx, 0xfff
	mov edx, 0x0496				; B; data, writable, expand-down
	call lib_set_desc
	mov eax, SEL_EXPD16
	mov edx, 0x0096				; B clear
	call lib_set_desc
	mov dword [LIM_BASE], 0xcafe0001
	mov ax, SEL_EXPD32
	mov fs, ax
	mov eax, [fs:0x1000]
	check eax, 0xcafe0001
	arm .e1
.h1:	mov al, [fs:0xfff]
.e1:	expect 13, .h1, 0
	arm .e2
.h2:	mov eax, [fs:0xffe]			; 0xffe..0x1001: its start is out
.e2:	expect 13, .h2, 0
	mov dword [x_count], 0
	mov eax, [fs:0xfffffffc]		; the top dword: inside
	check dword [x_count], 0
	mov ax, SEL_EXPD16
	mov fs, ax
	mov eax, [fs:0x1000]
	check eax, 0xcafe0001
	mov dword [LIM_BASE - 0x1000 + 0xfffc], 0xcafe0002
	mov eax, [fs:0xfffc]
	check eax, 0xcafe0002
	arm .e3
.h3:	mov eax, [fs:0xfffe]			; past 0xFFFF
.e3:	expect 13, .h3, 0
	arm .e4
.h4:	mov al, [fs:0x10000]
.e4:	expect 13, .h4, 0
	arm .e5
.h5:	mov al, [fs:0xfff]
.e5:	expect 13, .h5, 0
	mov ax, SEL_FS
	mov fs, ax

; DS/ES loaded with a null selector: loadable, every access through them
; is #GP(0)
group "null_seg"
	xor eax, eax
	mov es, ax
	arm .n1
.k1:	mov eax, [es:0x100]
.n1:	expect 13, .k1, 0
	mov edi, 0x100
	arm .n2
.k2:	stosb
.n2:	expect 13, .k2, 0
	check edi, 0x100
	mov ax, SEL_DATA
	mov dword [x_count], 0
	mov es, ax
	mov eax, [es:0x100]
	check dword [x_count], 0

; The memory operands of the instructions the monitor runs itself, each
; against the same segment (FS, limit 0xFFF) and, through SS, #SS(0):
; MOV Sreg from and to memory, LGDT/LIDT/SGDT/SIDT (6 bytes), SMSW/STR/
; SLDT m, LLDT/LAR/VERR m, ARPL m, BOUND, MASKMOVQ (all 8 bytes checked,
; whatever the mask), FXSAVE (512 bytes), CLFLUSH, INS/OUTS; nothing is
; written by a store that faults. Bytes past the limit hold what a load
; that did not fault would take harmlessly (the GDTR and IDTR images).
group "callout_limits"
	mov ax, SEL_LIM
	mov fs, ax
	sgdt [cl_gdtr]
	sidt [cl_idtr]
	mov edi, LIM_BASE + 0xf00
	mov ecx, 0x200 / 4
	mov eax, 0xeeeeeeee
	cld
	rep stosd				; 0xf00..0x10ff: a marker
	; MOV Sreg, m16 and MOV m16, Sreg
	mov word [LIM_BASE + 0xfff], SEL_DATA
	arm .c1
.d1:	mov es, [fs:0xfff]
.c1:	expect 13, .d1, 0
	mov ax, es
	movzx eax, ax
	check eax, SEL_DATA
	arm .c2
.d2:	mov [fs:0xfff], ds
.c2:	expect 13, .d2, 0
	check dword [LIM_BASE + 0xffc], 0x00eeeeee | (SEL_DATA << 24)
	mov dword [x_count], 0
	mov [fs:0xffe], ds			; the last word: inside
	check dword [x_count], 0
	movzx eax, word [LIM_BASE + 0xffe]
	check eax, SEL_DATA
	; LGDT/LIDT m: 6 bytes from 0xffc run 2 past the limit
	mov eax, [cl_gdtr]
	mov [LIM_BASE + 0xffc], eax
	mov ax, [cl_gdtr + 4]
	mov [LIM_BASE + 0x1000], ax
	arm .c3
.d3:	lgdt [fs:0xffc]
.c3:	expect 13, .d3, 0
	mov eax, [cl_idtr]
	mov [LIM_BASE + 0xffc], eax
	mov ax, [cl_idtr + 4]
	mov [LIM_BASE + 0x1000], ax
	arm .c4
.d4:	lidt [fs:0xffc]
.c4:	expect 13, .d4, 0
	mov eax, [cl_idtr]
	mov [LIM_BASE + 0xff8], eax
	mov ax, [cl_idtr + 4]
	mov [LIM_BASE + 0xffc], ax
	mov dword [x_count], 0
	lidt [fs:0xff8]				; 0xff8..0xffd: inside
	check dword [x_count], 0
	lidt [cl_idtr]
	; SGDT/SIDT m: nothing written
	mov dword [LIM_BASE + 0xff8], 0xeeeeeeee
	mov dword [LIM_BASE + 0xffc], 0xeeeeeeee
	mov dword [LIM_BASE + 0x1000], 0xeeeeeeee
	arm .c5
.d5:	sgdt [fs:0xffb]
.c5:	expect 13, .d5, 0
	arm .c6
.d6:	sidt [fs:0xffe]
.c6:	expect 13, .d6, 0
	check dword [LIM_BASE + 0xff8], 0xeeeeeeee
	check dword [LIM_BASE + 0xffc], 0xeeeeeeee
	; SMSW, STR, SLDT m16; LLDT, LAR, VERR m16; ARPL m16
	arm .c7
.d7:	smsw [fs:0xfff]
.c7:	expect 13, .d7, 0
	arm .c8
.d8:	str [fs:0xfff]
.c8:	expect 13, .d8, 0
	arm .c9
.d9:	sldt [fs:0xfff]
.c9:	expect 13, .d9, 0
	check dword [LIM_BASE + 0xffc], 0xeeeeeeee
	mov word [LIM_BASE + 0xfff], 0		; a null LDT, had it loaded
	arm .c10
.d10:	lldt [fs:0xfff]
.c10:	expect 13, .d10, 0
	arm .c11
.d11:	lar eax, [fs:0xfff]
.c11:	expect 13, .d11, 0
	arm .c12
.d12:	verr [fs:0xfff]
.c12:	expect 13, .d12, 0
	mov ax, 3
	arm .c13
.d13:	arpl [fs:0xfff], ax
.c13:	expect 13, .d13, 0
	check dword [LIM_BASE + 0xffc], 0x00eeeeee
	; BOUND: 8 bytes from 0xffc (inside: 4 from 0xff8 ... 0xfff)
	mov dword [LIM_BASE + 0xff8], 0
	mov dword [LIM_BASE + 0xffc], 0x7fffffff
	mov eax, 5
	mov dword [x_count], 0
	bound eax, [fs:0xff8]
	check dword [x_count], 0
	arm .c14
.d14:	bound eax, [fs:0xffc]
.c14:	expect 13, .d14, 0
	arm .c15
.d15:	bound ax, [fs:0xffe]			; 4 bytes: 0xffe..0x1001
.c15:	expect 13, .d15, 0
	; MASKMOVQ through FS:EDI: all 8 bytes checked, whatever the mask
	mov dword [LIM_BASE + 0xffc], 0xeeeeeeee
	movq mm0, [cl_mm_data]
	movq mm1, [cl_mm_mask]
	mov edi, 0xffc
	arm .c16
.d16:	fs maskmovq mm0, mm1			; the mask selects byte 0 only
.c16:	expect 13, .d16, 0
	check dword [LIM_BASE + 0xffc], 0xeeeeeeee
	mov edi, 0xff8
	mov dword [x_count], 0
	fs maskmovq mm0, mm1
	emms
	check dword [x_count], 0
	check dword [LIM_BASE + 0xff8], 0x00000011
	; FXSAVE: 512 bytes, so 0xe00 fits and 0xe10 does not
	mov dword [LIM_BASE + 0xe10], 0xeeeeeeee
	arm .c17
.d17:	fxsave [fs:0xe10]
.c17:	expect 13, .d17, 0
	check dword [LIM_BASE + 0xe10], 0xeeeeeeee
	mov dword [x_count], 0
	fxsave [fs:0xe00]
	check dword [x_count], 0
	; CLFLUSH: a byte load's checks
	arm .c18
.d18:	clflush [fs:0x1000]
.c18:	expect 13, .d18, 0
	; OUTS from FS:ESI, INS to ES:EDI, to port 0x80 (POST codes)
	mov dx, 0x80
	mov esi, 0x1000
	arm .c19
.d19:	fs outsb
.c19:	expect 13, .d19, 0
	check esi, 0x1000
	mov ax, SEL_LIM
	mov es, ax
	mov edi, 0xfff
	arm .c20
.d20:	insw
.c20:	expect 13, .d20, 0
	check edi, 0xfff
	mov ax, SEL_DATA
	mov es, ax
	; through SS: #SS(0)
	mov [stk_save], esp
	mov ax, SEL_LIM
	mov ss, ax
	mov esp, 0x800
	mov ebp, 0xfff
	arm .c21
.d21:	mov es, [ebp]
.c21:	mov eax, [x_vec]
	mov [cl_rec], eax
	mov eax, [x_eip]
	mov [cl_rec + 4], eax
	mov eax, [x_err]
	mov [cl_rec + 8], eax
	mov ebp, 0xffc
	arm .c22
.d22:	sgdt [ebp]
.c22:	mov eax, [x_vec]
	mov [cl_rec + 12], eax
	mov eax, [x_eip]
	mov [cl_rec + 16], eax
	mov eax, [x_count]
	mov [cl_rec + 20], eax
	mov ax, SEL_DATA
	mov ss, ax
	mov esp, [stk_save]
	mov es, ax
	check dword [cl_rec], 12
	check dword [cl_rec + 4], .d21
	check dword [cl_rec + 8], 0
	check dword [cl_rec + 12], 12
	check dword [cl_rec + 16], .d22
	check dword [cl_rec + 20], 1
	mov ax, SEL_FS
	mov fs, ax

; Far transfers to an EIP past the new CS's limit: JMP, CALL, RET and
; IRET raise #GP(0) at themselves, CS, ESP and the stack unchanged; inside
; the limit they go (a blob at CLIM_LOW in a code segment of limit
; 0x7FFF, which leaves through a far JMP back). A copy of the blob at the
; first offset past the limit keeps a transfer that did not fault going.
SEL_CLIM	equ 0x38		; 32-bit code, base 0, limit 0x7fff (SEL_EXPD16's slot, reused)
CLIM_LOW	equ 0x7000
group "far_limits"
	mov eax, SEL_CLIM
	xor ebx, ebx
	mov ecx, 0x7fff
	mov edx, 0x049a				; D; present code, readable
	call lib_set_desc
	mov esi, clim_blob
	mov edi, CLIM_LOW
	mov ecx, clim_blob_end - clim_blob
	cld
	rep movsb
	mov esi, clim_blob
	mov edi, 0x8000
	mov ecx, clim_blob_end - clim_blob
	rep movsb
	mov [clim_esp], esp
	; inside: JMP and RETF reach the blob
	mov dword [clim_ret], .j_in
	mov dword [x_count], 0
	jmp SEL_CLIM:CLIM_LOW
.j_in:
	mov dword [clim_ret], .r_in
	push dword SEL_CLIM
	push dword CLIM_LOW
	retf
.r_in:
	check dword [x_count], 0
	mov eax, esp
	check eax, dword [clim_esp]
	; past the limit: #GP(0) at the instruction
	mov dword [clim_ret], .j_out
	arm .j_out
.fj1:	jmp SEL_CLIM:0x8000
.j_out:	expect 13, .fj1, 0
	mov dword [clim_ret], .c_out
	arm .c_out
.fc1:	call SEL_CLIM:0x8000
.c_out:	expect 13, .fc1, 0
	mov eax, esp
	check eax, dword [clim_esp]
	mov dword [clim_ret], .r_out
	push dword SEL_CLIM
	push dword 0x8000
	arm .r_out
.fr1:	retf
.r_out:	expect 13, .fr1, 0
	mov eax, esp
	add eax, 8
	check eax, dword [clim_esp]
	mov esp, [clim_esp]
	mov dword [clim_ret], .i_out
	pushfd
	push dword SEL_CLIM
	push dword 0x8000
	arm .i_out
.fi1:	iretd
.i_out:	expect 13, .fi1, 0
	mov eax, esp
	add eax, 12
	check eax, dword [clim_esp]
	mov esp, [clim_esp]

; Gates whose offset lies past their code segment's limit (the SDM's INT n
; and CALL/JMP through a call gate: "IF instruction pointer not within
; code segment limit THEN #GP(0)"): #GP(0) at the INT, CALL or JMP, nothing
; pushed; a call gate to an offset inside the limit goes.
SEL_CLIM_GATE	equ 0x78		; call gate to SEL_CLIM (SEL_EXPD32's slot, reused)
CLIM_VEC	equ 0x41
group "gate_limits"
	mov dword [lib_gdt + SEL_CLIM_GATE], (SEL_CLIM << 16) | 0x8000
	mov dword [lib_gdt + SEL_CLIM_GATE + 4], 0x00008c00	; 32-bit call gate, DPL 0
	mov [clim_esp], esp
	mov dword [clim_ret], .cg_out
	arm .cg_out
.cg1:	call SEL_CLIM_GATE:0
.cg_out: expect 13, .cg1, 0
	mov eax, esp
	check eax, dword [clim_esp]
	mov esp, [clim_esp]
	mov dword [clim_ret], .jg_out
	arm .jg_out
.jg1:	jmp SEL_CLIM_GATE:0
.jg_out: expect 13, .jg1, 0
	mov word [lib_gdt + SEL_CLIM_GATE], CLIM_LOW	; inside: the blob
	mov dword [clim_ret], .cg_in
	mov dword [x_count], 0
	call SEL_CLIM_GATE:0
.cg_in:	check dword [x_count], 0
	mov eax, esp
	add eax, 8				; the gate's CS:EIP, left by the blob's JMP
	check eax, dword [clim_esp]
	mov esp, [clim_esp]
	mov dword [lib_idt + CLIM_VEC * 8], (SEL_CLIM << 16) | 0x8000
	mov dword [lib_idt + CLIM_VEC * 8 + 4], 0x00008e00	; 32-bit interrupt gate
	mov dword [clim_ret], .ig_out
	arm .ig_out
.ig1:	int CLIM_VEC
.ig_out: expect 13, .ig1, 0
	mov eax, esp
	check eax, dword [clim_esp]
	mov esp, [clim_esp]

; ---------------------------------------------------------------- csbase
group "csbase"
	call cb_setup
	call cb_run_both

group "csbase_pg"
	call pg_install_pf
	call pg_alloc
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	mov esi, CB_ALIAS + (CB_COPY1 & ~0xfff)
	mov eax, (CB_COPY1 & ~0xfff) | PG_P | PG_RW
	call pg_map
	add esi, 0x1000
	add eax, 0x1000
	call pg_map
	mov esi, CB_ALIAS + (CB_COPY2 & ~0xfff)
	mov eax, (CB_COPY2 & ~0xfff) | PG_P | PG_RW
	call pg_map
	add esi, 0x1000
	add eax, 0x1000
	call pg_map
	mov eax, edi
	call pg_enable
	call cb_setup
	call cb_run_both
	; the aliases: same EIP, same frames, other bases
	mov ecx, 3
.alias:
	push ecx
	mov esi, SEL_CB3
	call cb_call
	check eax, 0x101 + 1
	mov esi, SEL_CB1
	call cb_call
	check eax, 0x101 + 1
	mov esi, SEL_CB4
	call cb_call
	check eax, 0x202 + 1
	pop ecx
	dec ecx
	jnz .alias
	; copy 1 rewritten through its alias: every base on its frames sees it
	mov dword [CB_ALIAS + CB_COPY1 + cb_blob.imm - cb_blob], 0x303
	mov esi, SEL_CB1
	call cb_call
	check eax, 0x303 + 1
	mov esi, SEL_CB3
	call cb_call
	check eax, 0x303 + 1
	mov esi, SEL_CB2
	call cb_call
	check eax, 0x202 + 1
	call pg_disable

; ---------------------------------------------------------------- null FS/GS
; FS and GS loaded with a null selector: loading and reading them never
; faults; a memory access through them is #GP(0) at the instruction,
; nothing of it done. QEMU 7.2 loads the null selector with base 0 and
; lets it be used (null_fsgs and null_fsgs_user fail there: every access
; goes to NS_BUF, harmlessly).
NS_BUF		equ 0x90000		; a scratch page, flat
NS_TESTDEV	equ 0xfebf0000		; btvm's test device (QEMU: nothing there)
group "null_fsgs_load"
ns_group_load:
	mov dword [NS_BUF], 0x11111111
	mov dword [FS_BASE + NS_BUF], 0x22222222
	mov dword [GS_BASE + NS_BUF], 0x33333333
	mov dword [x_count], 0
	; MOV, again and again from one instruction (remembered loads), with
	; a usable selector in between: each access sees the last load
	mov ecx, 4
.again:
	xor eax, eax
	call load_fs_ax
	mov eax, fs
	check eax, 0
	mov ax, SEL_FS
	call load_fs_ax
	mov eax, [fs:NS_BUF]
	check eax, 0x22222222
	dec ecx
	jnz .again
	; POP GS of a null selector, again and again; PUSH GS gives 0
	mov ecx, 3
.pop_again:
	push dword 0
	pop gs
	push dword 0xffffffff
	pop eax
	push gs
	pop eax
	and eax, 0xffff
	check eax, 0
	push dword SEL_GS
	pop gs
	mov eax, [gs:NS_BUF]
	check eax, 0x33333333
	dec ecx
	jnz .pop_again
	; LFS/LGS of a far pointer with a null selector
	mov dword [ns_fptr], NS_BUF
	mov word [ns_fptr + 4], 0
	lfs eax, [ns_fptr]
	lgs eax, [ns_fptr]
	mov eax, fs
	check eax, 0
	mov eax, gs
	check eax, 0
	mov ax, SEL_FS
	mov fs, ax
	mov ax, SEL_GS
	mov gs, ax
	mov eax, [fs:NS_BUF]
	check eax, 0x22222222
	mov eax, [gs:NS_BUF]
	check eax, 0x33333333
	check dword [x_count], 0

group "null_fsgs"
ns_group_kernel:
	mov eax, cr4
	mov [ns_cr4], eax
	or eax, 0x600				; OSFXSR | OSXMMEXCPT: MOVDQU
	mov cr4, eax
	fninit
	xor eax, eax
	mov fs, ax
	mov gs, ax
	call ns_accesses
	; after each of a run of remembered null loads (and usable ones)
	mov ecx, 3
.again:
	push ecx
	mov ax, SEL_FS
	call load_fs_ax
	mov dword [x_count], 0
	mov eax, [fs:NS_BUF]
	check eax, 0x22222222
	check dword [x_count], 0
	xor eax, eax
	call load_fs_ax
	arm .n1
.k1:	mov eax, [fs:NS_BUF]
.n1:	expect 13, .k1, 0
	push dword 0
	pop gs
	arm .n2
.k2:	mov [gs:NS_BUF], eax
.n2:	expect 13, .k2, 0
	push dword SEL_GS
	pop gs
	pop ecx
	dec ecx
	jnz .again
	check dword [NS_BUF], 0x11111111
	check dword [GS_BASE + NS_BUF], 0x33333333
	; a REP MOVSB from FS:ESI that reached btvm's test device, which
	; makes btvm run it in the monitor (its own check, not the guard)
	mov ax, SEL_DATA
	mov fs, ax
	mov ecx, 2
.mark:
	push ecx
	mov esi, NS_TESTDEV
	mov edi, NS_BUF + 16
	mov ecx, 4
	call ns_rep_fs_movsb
	check ecx, 0
	pop ecx
	dec ecx
	jnz .mark
	xor eax, eax
	mov fs, ax
	mov dword [NS_BUF + 16], 0x88888888
	mov esi, NS_TESTDEV
	mov edi, NS_BUF + 16
	mov ecx, 4
	mov [ns_esp], esp
	arm .marked
	call ns_rep_fs_movsb
.marked:
	mov esp, [ns_esp]
	expect 13, ns_rep_fs_movsb, 0
	check ecx, 4
	check esi, NS_TESTDEV
	check edi, NS_BUF + 16
	check dword [NS_BUF + 16], 0x88888888
	mov ax, SEL_FS
	mov fs, ax
	mov ax, SEL_GS
	mov gs, ax
	mov eax, [ns_cr4]
	mov cr4, eax

; ---------------------------------------------------------------- wrap_ss
WR_TOP		equ 0xbff000		; RAM for the top page (wrap_ss_pg)
WR_MARK		equ 0x5a5a5a5a
; A stack access through a flat SS that runs past the top of the 4 GiB
; linear space is past SS's limit: #SS(0), not #GP(0) (SDM Vol. 3 6.15),
; for the stack instructions and SS-based operands alike, with ESP as it
; was; through DS it stays #GP(0). Run at CPL 3, so that the fault's
; frame goes on the TSS's ring-0 stack, not the wrapped one.
; wrap_ss_pg: the top page mapped to RAM (translated code, whose access
; runs into the window's guard), nothing written there; then wrap_ss:
; nothing at the top of physical memory (the same instructions reach the
; bus there and run in the monitor's stack and memory callouts from then
; on, so this group comes second).
group "wrap_ss_pg"
	call pg_alloc
	mov edi, eax
	xor esi, esi
	mov eax, PG_P | PG_RW | PG_US		; 16 MiB for ring 3
	mov ecx, PG_IDENTITY_MIB * 256
	call pg_map_range
	mov esi, 0xfffff000
	mov eax, WR_TOP | PG_P | PG_RW | PG_US
	call pg_map
	mov eax, edi
	call pg_enable
	mov edi, 0xffffffe0
	mov ecx, 8
	mov eax, WR_MARK
	cld
	rep stosd
	call wr_run
	check dword [wr_top_got], WR_MARK	; the boundary's POP
	check dword [0xfffffffc], 0x10		; PUSHAD's ESP across 0
	mov esi, 0xffffffe0			; nothing written below
	mov ecx, 4
.marks:	lodsd
	check eax, WR_MARK
	loop .marks
	; the top page not present: the limit's fault comes before the #PF
	mov esi, 0xfffff000
	xor eax, eax
	call pg_map
	invlpg [esi]
	mov dword [wr_np], 1
	call wr_run
	mov dword [wr_np], 0
	call pg_disable

group "wrap_ss"
	call wr_run

group "null_fsgs_user"
ns_group_user:
	call rings_setup
	mov eax, cr4
	or eax, 0x600
	mov cr4, eax
	fninit
	; DS and ES flat for ring 3; FS and GS lib's (DPL 0): the IRETD to
	; ring 3 nulls them
	mov ax, RING_SEL_UDATA
	mov ds, ax
	mov es, ax
	mov ax, SEL_FS
	mov fs, ax
	mov ax, SEL_GS
	mov gs, ax
	mov eax, ns_user
	mov ecx, RING_IOPL3			; the checks print at CPL 3
	call rings_run_user_segs
	check dword [rings_exit_frame + 4], RING_SEL_UCODE
	mov eax, [ns_cr4]
	mov cr4, eax
	guest_finish

%include "seg_wrap.inc"

; ns_rep_fs_movsb: one REP MOVSB from FS:ESI for every call
ns_rep_fs_movsb:
	rep fs movsb
	ret

; ns_user: ring 3 (IOPL 3): FS and GS null from the IRETD, then loaded
; with null selector 3 after a usable one
ns_user:
	mov eax, fs
	check eax, 0
	mov eax, gs
	check eax, 0
	call ns_accesses
	mov ax, RING_SEL_UDATA
	mov fs, ax
	mov gs, ax
	mov dword [x_count], 0
	mov eax, [fs:NS_BUF]
	check eax, 0x11111111
	mov [gs:NS_BUF + 4], eax
	check dword [x_count], 0
	mov ax, 3
	mov fs, ax
	mov gs, ax
	mov eax, fs
	check eax, 3
	call ns_accesses
	leave_user

; ns_accesses: with FS and GS null, each access through them faults
; #GP(0) at itself with nothing done. [NS_BUF] holds 0x11111111 and keeps
; it. Clobbers EAX, ECX, ESI, EDI, XMM0.
ns_accesses:
	mov dword [NS_BUF], 0x11111111
	mov dword [NS_BUF + 4], 0x55555555
	; MOV load
	mov eax, 0x5a5a5a5a
	arm .a1
.f1:	mov eax, [fs:NS_BUF]
.a1:	expect 13, .f1, 0
	check eax, 0x5a5a5a5a
	arm .a2
.f2:	movzx eax, byte [gs:NS_BUF]
.a2:	expect 13, .f2, 0
	check eax, 0x5a5a5a5a
	; MOV store
	arm .a3
.f3:	mov dword [fs:NS_BUF], 0x22222222
.a3:	expect 13, .f3, 0
	arm .a4
.f4:	mov [gs:NS_BUF], al
.a4:	expect 13, .f4, 0
	check dword [NS_BUF], 0x11111111
	; ALU r/m: nothing written, the flags as they were (CF and ZF set)
	xor eax, eax
	stc
	arm .a5
.f5:	add dword [fs:NS_BUF], 1
.a5:	check_flags F_CF | F_ZF, F_CF | F_ZF
	expect 13, .f5, 0
	check dword [NS_BUF], 0x11111111
	mov eax, 1
	arm .a6
.f6:	xor [gs:NS_BUF + 4], eax
.a6:	expect 13, .f6, 0
	check dword [NS_BUF + 4], 0x55555555
	; MOVS and REP MOVSB from FS:ESI: ESI, EDI, ECX and ES:[EDI] kept
	cld
	mov esi, NS_BUF
	mov edi, NS_BUF + 4
	arm .a7
.f7:	fs movsd
.a7:	expect 13, .f7, 0
	check esi, NS_BUF
	check edi, NS_BUF + 4
	check dword [NS_BUF + 4], 0x55555555
	mov ecx, 4
	arm .a8
.f8:	rep gs movsb
.a8:	expect 13, .f8, 0
	check ecx, 4
	check esi, NS_BUF
	check edi, NS_BUF + 4
	check dword [NS_BUF + 4], 0x55555555
	mov esi, NS_BUF
	arm .a9
.f9:	fs lodsd
.a9:	expect 13, .f9, 0
	check esi, NS_BUF
	; PUSH m and POP m: ESP kept, nothing written
	mov [ns_esp], esp
	arm .a10
.f10:	push dword [fs:NS_BUF]
.a10:	expect 13, .f10, 0
	mov eax, esp
	check eax, dword [ns_esp]
	mov esp, [ns_esp]
	push dword 0x66666666
	arm .a11
.f11:	pop dword [gs:NS_BUF]
.a11:	expect 13, .f11, 0
	mov eax, esp
	add eax, 4
	check eax, dword [ns_esp]
	mov esp, [ns_esp]
	check dword [NS_BUF], 0x11111111
	; SSE and x87 memory operands: XMM0 and the x87 stack kept
	pxor xmm0, xmm0
	arm .a12
.f12:	movdqu xmm0, [gs:NS_BUF]
.a12:	expect 13, .f12, 0
	movd eax, xmm0
	check eax, 0
	arm .a13
.f13:	movdqu [fs:NS_BUF], xmm0
.a13:	expect 13, .f13, 0
	check dword [NS_BUF], 0x11111111
	fnstsw ax
	mov ecx, eax
	arm .a14
.f14:	fld dword [fs:NS_BUF]
.a14:	expect 13, .f14, 0
	fnstsw ax
	check eax, ecx				; TOP unchanged: nothing pushed
	arm .a15
.f15:	fstp dword [gs:NS_BUF]			; (stack empty: would be #IS)
.a15:	expect 13, .f15, 0
	check dword [NS_BUF], 0x11111111
	; the monitor's own: MOV ES, m16 and SGDT m (CPL 0 only: ring 3 may
	; run SGDT, but MOV ES of a kernel selector would fault anyway)
	mov word [NS_BUF + 8], SEL_DATA
	mov eax, es
	mov ecx, eax
	arm .a16
.f16:	mov es, [fs:NS_BUF + 8]
.a16:	expect 13, .f16, 0
	mov eax, es
	check eax, ecx
	mov dword [NS_BUF + 12], 0x77777777
	arm .a17
.f17:	sgdt [gs:NS_BUF + 12]
.a17:	expect 13, .f17, 0
	check dword [NS_BUF + 12], 0x77777777
	ret

; load_fs_acc: FS = SEL_ACC (one MOV for every call)
load_fs_acc:
	mov ax, SEL_ACC
	mov fs, ax
	ret

; load_fs_ax: FS = AX (one MOV for every call)
load_fs_ax:
	mov fs, ax
	ret

acc_far_fn:
	retf

acc_int_fn:
	iretd

; stk_fn, stk_int_fn: on the 16-bit stack; they read their frames through
; flat DS at STK_BASE + SP.
stk_fn:
	mov [stk_fn_esp], esp
	mov eax, [STK_BASE + 0xfffc]
	mov [stk_fn_ret], eax
	ret

stk_int_fn:
	mov [stk_int_esp], esp
	mov eax, [STK_BASE + 0xfffc]
	mov [stk_int_frame], eax
	movzx eax, word [STK_BASE]
	mov [stk_int_frame + 4], eax
	iretd

; cb_setup: the blob's two copies (imm 0x101 and 0x202) and the four
; code segments. Preserves nothing.
cb_setup:
	mov esi, cb_blob
	mov edi, CB_COPY1
	mov ecx, cb_blob_end - cb_blob
	rep movsb
	mov dword [CB_COPY1 + cb_blob.imm - cb_blob], 0x101
	mov esi, cb_blob
	mov edi, CB_COPY2
	mov ecx, cb_blob_end - cb_blob
	rep movsb
	mov dword [CB_COPY2 + cb_blob.imm - cb_blob], 0x202
	mov ecx, 0xfffff
	mov edx, 0x0c9a
	mov eax, SEL_CB1
	mov ebx, CB_BASE1
	call lib_set_desc
	mov eax, SEL_CB2
	mov ebx, CB_BASE2
	call lib_set_desc
	mov eax, SEL_CB3
	mov ebx, CB_ALIAS + CB_BASE1
	call lib_set_desc
	mov eax, SEL_CB4
	mov ebx, CB_ALIAS + CB_BASE2
	call lib_set_desc
	ret

; cb_call: far call ESI:CB_EIP; EAX = the blob's result. Checks the
; offsets the blob saw (its near call's return offset, the far return
; address), and ESP.
cb_call:
	mov [cb_ptr], dword CB_EIP
	mov [cb_ptr + 4], esi
	mov edx, esp
	call far [cb_ptr]
.ret:
	check ebx, CB_EIP + cb_blob.after - cb_blob
	check ecx, .ret
	mov edi, esp
	check edi, edx
	ret

; cb_run_both: both copies, in turn, several times; then copy 2 rewritten.
cb_run_both:
	mov ecx, 3
.again:
	push ecx
	mov esi, SEL_CB1
	call cb_call
	check eax, 0x101 + 1
	mov esi, SEL_CB2
	call cb_call
	check eax, 0x202 + 1
	pop ecx
	dec ecx
	jnz .again
	mov dword [CB_COPY2 + cb_blob.imm - cb_blob], 0x404
	mov esi, SEL_CB2
	call cb_call
	check eax, 0x404 + 1
	mov dword [CB_COPY2 + cb_blob.imm - cb_blob], 0x202
	mov esi, SEL_CB2
	call cb_call
	check eax, 0x202 + 1
	mov esi, SEL_CB1
	call cb_call
	check eax, 0x101 + 1
	ret

section .data
n16_esp:	dd 0
n16_call:	dd 0
n16_depth:	dd 0
n16_ret:	dd 0
n16_ret4:	dd 0
n16_ind:	dd 0
n16_jcc:	dd 0
n16_jptr:	dd 0
acc_fptr:	dd 0
		dw SEL_ACC
cb_ptr:		dd 0, 0
stk_save:	dd 0
lim_val:	dd 0
lim_esp:	times 3 dd 0
lim_rec:	times 4 dd 0
stk_esp:	times 6 dd 0
stk_val:	times 3 dd 0
stk_fn_esp:	dd 0
stk_fn_ret:	dd 0
stk_int_esp:	dd 0
stk_int_frame:	dd 0, 0
cl_gdtr:	dd 0, 0
clim_esp:	dd 0
clim_ret:	dd 0
		dw SEL_CODE
cl_idtr:	dd 0, 0
cl_rec:		times 6 dd 0
cl_mm_data:	dq 0x8877665544332211
cl_mm_mask:	dq 0x0000000000000080
ns_fptr:	dd 0
		dw 0
ns_esp:		dd 0
ns_cr4:		dd 0
wr_stack:	dd 0
wr_esp:		dd 0, 0
wr_top_got:	dd 0
wr_np:		dd 0

section .text
; n16_blob: copied to LOW (32-bit code below 64 KiB), entered with an o16
; JMP; leaves through JMP EAX to n16_back.
n16_blob:
	mov ebx, esp
	db 0x66, 0xe8				; o16 call rel16
	dw (LA(n16_fn) - LA($ + 2)) & 0xffff
.r1:
	sub ebx, esp
	mov [n16_ret], ebx
	mov ebx, esp
	push word 0x1234
	push word 0x1111
	db 0x66, 0xe8
	dw (LA(n16_fn4) - LA($ + 2)) & 0xffff
	sub ebx, esp
	mov [n16_ret4], ebx
	mov eax, 0xffff0000 | LA(n16_fn_ind)
	o16 call ax
.r2:
	xor eax, eax
	inc eax
	db 0x66, 0x0f, 0x85			; o16 jnz rel16
	dw (LA(.t1) - LA($ + 2)) & 0xffff
	jmp .bad
.t1:	or dword [n16_jcc], 1
	db 0x66, 0xeb, LA(.t2) - LA($ + 3)	; o16 jmp rel8
.bad:	mov eax, n16_fail
	jmp eax
.t2:	or dword [n16_jcc], 2
	mov dword [n16_jptr], 0xffff0000 | LA(.t3)
	o16 jmp word [n16_jptr]
	jmp .bad
.t3:
	db 0x66, 0xe9				; o16 jmp rel16 past 0: IP = 0xf005
	dw (0x1f005 - LA($ + 2)) & 0xffff
	jmp .bad
.wrapped:
	or dword [n16_jcc], 4
	mov eax, n16_back
	jmp eax
n16_fn:
	movzx eax, word [esp]
	mov [n16_call], eax
	mov eax, [n16_esp]
	sub eax, esp
	mov [n16_depth], eax
	o16 ret
n16_fn4:
	o16 ret 4
n16_fn_ind:
	movzx eax, word [esp]
	mov [n16_ind], eax
	o16 ret
n16_blob_end:

; clim_blob: copied to CLIM_LOW and 0x8000, run in SEL_CLIM: back to
; clim_ret's far pointer in flat code.
clim_blob:
	jmp far [clim_ret]
clim_blob_end:

n16_fail:
	fail_now "an o16 branch went the wrong way"
	mov esp, [n16_esp]
	jmp n16_back

; cb_blob: position-independent 32-bit code run at CB_EIP in a based code
; segment: EAX = its immediate + 1 (through a near call), EBX = the
; offset its call pushed, ECX = the far return EIP.
cb_blob:
	db 0xb8					; mov eax, imm32
.imm:	dd 0
	jmp short .on
	times 6 nop				; the copies cross their page here
.on:
	call .inc
.after:
	mov ecx, [esp]
	retf
.inc:
	mov ebx, [esp]
	inc eax
	ret
cb_blob_end:
