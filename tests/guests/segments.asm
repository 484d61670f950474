; Segmentation: our own GDT (lib.inc: flat code 0x08, flat data 0x10, data
; based at 0x00200000 as 0x18 and at 0x00300000 as 0x20), far jumps/calls/
; returns and iretd at CPL 0, FS/GS/DS/SS/ES with non-zero bases (memory
; operands, string instructions, the stack), segment register moves,
; push/pop, lfs/lgs/lss, an LDT (lldt/sldt and a data segment from it), a TSS
; (ltr/str, busy bit), sgdt/sidt/smsw, lar/lsl/verr/verw, control registers;
; 16-bit far calls/returns/jumps from code copied below 64 KiB (and from a
; code segment based at .text), lds/les, 16-bit lar/lsl, lar on gates and
; conforming code, arpl, smsw r32, lmsw, the SYSENTER/APIC/TSC MSRs, and the
; faults of segment loads, far transfers, ltr/lldt, rdmsr and bound.
%define GUEST_NAME "segments"
%include "lib.inc"
%include "exc_record.inc"

SEL_LDT		equ 0x28
SEL_TSS		equ 0x30
SEL_RO		equ 0x38		; read-only data, base 0, 4 GiB
SEL_SMALL	equ 0x40		; data, base 0x00200000, limit 0xfff, byte granular
SEL_LDT_DATA	equ 0x04 | 0	; LDT index 0, TI = 1, RPL 0
SEL_CB		equ 0x48		; code based at .text (set at run time)
SEL_CONF	equ 0x50		; conforming readable code, base 0
SEL_GATE	equ 0x58		; a 32-bit call gate (only looked at)
SEL_NP		equ 0x60		; data, not present
LOW16		equ 0x7000		; where low16_blob runs
%define LOWADDR(x) (LOW16 + (x) - low16_blob)

; Offsets in SEL_CB, whose base is the start of this file's .text
; (assemble-time constants: no 16-bit relocations needed).
%define CB(x) ((x) - $$)

guest_start
	call lib_install_idt			; loads the GDT and reloads segments

; ---------------------------------------------------------------- GDT
group "gdt"
	xor eax, eax
	mov ax, cs
	check eax, SEL_CODE
	mov ax, ds
	check eax, SEL_DATA
	mov ax, es
	check eax, SEL_DATA
	mov ax, ss
	check eax, SEL_DATA
	mov ax, fs
	check eax, SEL_FS
	mov ax, gs
	check eax, SEL_GS
	sgdt [gdtr_out]
	movzx eax, word [gdtr_out]
	check eax, LIB_GDT_ENTRIES * 8 - 1
	check dword [gdtr_out + 2], lib_gdt
	sidt [gdtr_out]
	movzx eax, word [gdtr_out]
	check eax, 256 * 8 - 1
	check dword [gdtr_out + 2], lib_idt
	; reload the GDTR with a smaller limit and back, read it again
	mov word [gdtr_tmp], 8 * 8 - 1
	mov dword [gdtr_tmp + 2], lib_gdt
	lgdt [gdtr_tmp]
	sgdt [gdtr_out]
	movzx eax, word [gdtr_out]
	check eax, 63
	lgdt [lib_gdtr]

group "far"
	jmp SEL_CODE:.direct
	fail_now "far jmp fell through"
.direct:
	jmp far [far_ptr]
	fail_now "jmp far [mem] fell through"
.via_mem:
	mov esi, esp
	call SEL_CODE:far_fn			; pushes CS and EIP
.after_far_call:
	check eax, SEL_CODE			; CS image seen by the callee
	check ebx, .after_far_call
	mov edi, esp
	check edi, esi
	mov esi, esp
	push 0x1234
	push 0x5678
	call far [far_fn_ptr]			; far_fn_ret8: retf 8
	mov edi, esp
	check edi, esi
	check eax, 0x1234 + 0x5678
	; iretd at the same privilege level: EFLAGS, CS and EIP from the stack
	push dword F_CF|F_ZF|2
	push dword SEL_CODE
	push dword .after_iret
	mov esi, esp
	iretd
	fail_now "iretd fell through"
.after_iret:
	check_flags F_ALU, F_CF|F_ZF
	mov edi, esp
	sub edi, esi
	check edi, 12

; ---------------------------------------------------------------- based segments
group "fsgs"
	mov eax, 0x11223344
	mov [fs:0x10], eax
	check dword [FS_BASE + 0x10], 0x11223344
	mov dword [GS_BASE + 0x20], 0x55667788
	mov eax, [gs:0x20]
	check eax, 0x55667788
	mov ebx, 0x10
	mov ecx, 2
	mov dword [FS_BASE + 0x20], 0xabcdef01
	mov eax, [fs:ebx + ecx * 4 + 8]		; fs:0x20
	check eax, 0xabcdef01
	add dword [fs:0x20], 1
	check dword [FS_BASE + 0x20], 0xabcdef02
	mov byte [gs:0x21], 0x99
	check dword [GS_BASE + 0x20], 0x55669988
	mov dword [FS_BASE + 0x30], 0x0f0f0f0f
	mov esi, 0x30
	fs lodsd
	check eax, 0x0f0f0f0f
	check esi, 0x34
	mov dword [GS_BASE + 0x40], 0x600dd00d
	mov esi, 0x40
	mov edi, flat_buf
	gs movsd
	check dword [flat_buf], 0x600dd00d
	; segment register moves
	mov eax, 0xffffffff
	mov ax, fs
	check eax, 0xffff0000 | SEL_FS
	mov eax, 0xffffffff
	mov eax, gs				; 32-bit form zero-extends
	check eax, SEL_GS
	mov dword [mem0], 0xaaaaaaaa
	mov [mem0], fs				; stores 16 bits
	check dword [mem0], 0xaaaa0000 | SEL_FS
	mov word [mem0], SEL_GS
	mov fs, [mem0]				; fs = gs selector
	mov eax, [fs:0x20]
	check eax, 0x55669988
	mov ax, SEL_FS
	mov fs, ax
	; a 32-bit PUSH of a segment register writes the selector's word; the
	; slot's upper half either keeps what it had (current Intel CPUs, and
	; btvm) or is zeroed (older ones, and QEMU): the SDM allows both
	mov dword [esp - 4], 0xabcd0000
	push fs
	pop eax
	mov ebx, eax
	and ebx, 0xffff
	check ebx, SEL_FS
	shr eax, 16
	cmp eax, 0xabcd
	je .push_upper_kept
	check eax, 0
.push_upper_kept:
	; MOV r32, Sreg zero-extends (P6 and later)
	mov eax, 0xffffffff
	mov eax, fs
	check eax, SEL_FS
	mov eax, 0xffffffff
	mov ax, fs				; MOV r16 leaves the upper half
	check eax, 0xffff0000 | SEL_FS
	; push/pop of segment registers (only the low word is defined)
	mov esi, esp
	push fs
	mov edi, esp
	mov eax, [esp]
	pop gs					; gs = SEL_FS
	sub esi, edi
	check esi, 4
	and eax, 0xffff
	check eax, SEL_FS
	mov eax, [gs:0x10]
	check eax, 0x11223344
	push dword SEL_GS
	pop gs
	mov eax, [gs:0x20]
	check eax, 0x55669988
	mov esi, esp
	o16 push ds
	mov edi, esp
	o16 pop es
	sub esi, edi
	check esi, 2
	; lfs/lgs/lss load a far pointer
	lfs esi, [fptr_fs]
	check esi, 0x10
	mov eax, [fs:esi]
	check eax, 0x11223344
	lgs edi, [fptr_gs]
	mov eax, [gs:edi]
	check eax, 0x55669988
	mov [saved_esp], esp
	lss esp, [fptr_ss]			; ss = flat data, esp = alt stack
	mov eax, esp
	mov esp, [saved_esp]
	check eax, alt_stack_top
	; DS with a base: every default-DS access moves
	push ds
	mov ax, SEL_FS
	mov ds, ax
	mov eax, [0x10]				; FS_BASE + 0x10
	mov ebx, [ss:esp]			; the saved DS selector, through SS
	pop ds
	check eax, 0x11223344
	and ebx, 0xffff
	check ebx, SEL_DATA

	; SS with a base: pushes, pops, calls and [ebp] go through it
	mov edi, esp				; (EBP would use SS)
	mov ax, SEL_GS
	mov ss, ax
	mov esp, 0x1000				; linear GS_BASE + 0x1000
	push dword 0x12345678
	mov ebp, esp
	mov eax, [ebp]				; SS-relative
	mov ebx, [ds:ebp]			; DS-relative: linear 0xffc
	call ss_fn
.ss_ret:
	pop edx
	mov esi, esp
	mov ecx, SEL_DATA
	mov ss, cx
	mov esp, edi
	check eax, 0x12345678
	check dword [GS_BASE + 0xffc], 0x12345678
	check ecx, SEL_DATA
	check edx, 0x12345678
	check esi, 0x1000
	check dword [ss_fn_ret], .ss_ret
	mov eax, [0xffc]
	check ebx, eax

; ---------------------------------------------------------------- LDT
group "ldt"
	mov eax, SEL_LDT
	mov ebx, ldt_table
	mov ecx, 4 * 8 - 1
	mov edx, 0x0082				; present, system, type 2 (LDT)
	call lib_set_desc
	mov ax, SEL_LDT
	lldt ax
	sldt ax
	and eax, 0xffff
	check eax, SEL_LDT
	mov dword [mem0], 0xaaaaaaaa
	sldt [mem0]
	check dword [mem0], 0xaaaa0000 | SEL_LDT
	mov ax, SEL_LDT_DATA
	mov fs, ax				; from the LDT: base FS_BASE
	mov eax, [fs:0x10]
	check eax, 0x11223344
	xor eax, eax
	mov ax, fs
	check eax, SEL_LDT_DATA
	mov ax, SEL_LDT_DATA | 0x08		; LDT index 1: base GS_BASE
	mov gs, ax
	mov eax, [gs:0x20]
	check eax, 0x55669988
	xor eax, eax
	lldt ax					; null LDT
	sldt ax
	and eax, 0xffff
	check eax, 0
	mov eax, [fs:0x10]			; the loaded descriptor stays cached
	check eax, 0x11223344
	mov ax, SEL_FS
	mov fs, ax
	mov ax, SEL_GS
	mov gs, ax

; ---------------------------------------------------------------- TSS
group "tss"
	mov eax, SEL_TSS
	mov ebx, tss_area
	mov ecx, 104 - 1
	mov edx, 0x0089				; present, 32-bit TSS, available
	call lib_set_desc
	mov ax, SEL_TSS
	ltr ax
	mov eax, 0xffffffff
	str eax					; 32-bit form zero-extends
	check eax, SEL_TSS
	mov dword [mem0], 0xaaaaaaaa
	str [mem0]
	check dword [mem0], 0xaaaa0000 | SEL_TSS
	movzx eax, byte [lib_gdt + SEL_TSS + 5]
	check eax, 0x8b				; now busy

; ---------------------------------------------------------------- system
group "sysregs"
	mov eax, 0xffff0000
	smsw ax
	and eax, 0xffff0001
	check eax, 0xffff0001			; PE
	mov dword [mem0], 0xaaaaaaaa
	smsw [mem0]
	mov eax, [mem0]
	and eax, 0xffff0001
	check eax, 0xaaaa0001
	mov eax, cr0
	and eax, 0x80000001
	check eax, 1				; PE on, PG off
	mov eax, cr3
	mov ebx, eax
	mov eax, 0x00123000
	mov cr3, eax
	mov eax, cr3
	mov cr3, ebx
	check eax, 0x00123000
	mov eax, cr2
	mov eax, cr4
	; lsl / lar / verr / verw
	mov eax, SEL_RO
	mov ebx, 0
	mov ecx, 0xfffff
	mov edx, 0x0c90				; G, D; present data read-only
	call lib_set_desc
	mov eax, SEL_SMALL
	mov ebx, FS_BASE
	mov ecx, 0xfff
	mov edx, 0x0492				; D; present data read/write
	call lib_set_desc
	mov ecx, SEL_FS
	lsl eax, ecx
	check_flags F_ZF, F_ZF
	check eax, 0xffffffff
	mov ecx, SEL_SMALL
	lsl eax, ecx
	check_flags F_ZF, F_ZF
	check eax, 0xfff
	mov ecx, SEL_LDT
	lsl eax, ecx
	check_flags F_ZF, F_ZF
	check eax, 31
	mov eax, 0x5555
	xor ecx, ecx				; null selector
	lsl eax, ecx
	check_flags F_ZF, 0
	check eax, 0x5555			; unchanged
	mov ecx, 0x7ff8				; beyond the GDT limit
	lsl eax, ecx
	check_flags F_ZF, 0
	mov ecx, SEL_CODE
	lar eax, ecx
	check_flags F_ZF, F_ZF
	and eax, 0x00f0fe00			; ignore limit 19:16 and accessed
	check eax, 0x00c09a00
	mov ecx, SEL_SMALL
	lar eax, ecx
	and eax, 0x00f0fe00
	check eax, 0x00409200
	mov ecx, SEL_TSS
	lar eax, ecx
	check_flags F_ZF, F_ZF
	and eax, 0x00f0ff00
	check eax, 0x00008b00
	mov cx, SEL_CODE
	verr cx
	check_flags F_ZF, F_ZF			; readable code
	verw cx
	check_flags F_ZF, 0			; code is never writable
	mov cx, SEL_DATA
	verw cx
	check_flags F_ZF, F_ZF
	mov cx, SEL_RO
	verr cx
	check_flags F_ZF, F_ZF
	verw cx
	check_flags F_ZF, 0
	mov cx, SEL_TSS
	verr cx
	check_flags F_ZF, 0			; system segment
	; a byte-granular limit: lsl sees it, accesses inside work
	mov ax, SEL_SMALL
	mov fs, ax
	mov eax, [fs:0x10]
	check eax, 0x11223344
	mov eax, [fs:0xffc]
	check eax, dword [FS_BASE + 0xffc]
	mov ax, SEL_FS
	mov fs, ax

; ---------------------------------------------------------------- 16-bit far transfers
; low16_blob runs from LOW16, below 64 KiB, so the 16-bit forms can push
; and return to its offsets; it records what it saw for the checks here.
group "far16"
	mov esi, low16_blob
	mov edi, LOW16
	mov ecx, low16_blob_end - low16_blob
	cld
	rep movsb
	mov eax, LOW16
	call eax
	check dword [low_res + 12], 0x600d	; the o16 jmp far arrived
	movzx ebx, word [low_res]		; [esp] in the callee: IP, CS
	check ebx, LOWADDR(low16_blob.r1)
	movzx ebx, word [low_res + 2]
	check ebx, SEL_CODE
	mov eax, [low_esp]
	check dword [low_esp + 4], eax		; CALL/RETF o16: 4 bytes each way
	check dword [low_res + 4], 0x3333	; RETF 4 dropped the two words
	check dword [low_esp + 8], eax
	movzx ebx, word [low_res + 8]		; the ptr16:16 form
	check ebx, LOWADDR(low16_blob.r3)
	check dword [low_esp + 12], eax

; ---------------------------------------------------------------- based CS
; With CS based at the start of .text, EIP is an offset below 64 KiB, so
; the 16-bit forms can push and return to it.
group "csbase"
	mov eax, SEL_CB
	mov ebx, $$
	mov ecx, 0xfffff
	mov edx, 0x0c9a				; G, D; present code, readable
	call lib_set_desc
	mov eax, CB(far16_fn)
	mov [fptr16], ax
	mov word [fptr16 + 2], SEL_CB
	mov eax, CB(far16_ret4)
	mov [fptr16 + 4], ax
	mov word [fptr16 + 6], SEL_CB
	mov eax, CB(_start.j16)
	mov [fptr16 + 8], ax
	mov word [fptr16 + 10], SEL_CB
	jmp SEL_CB:CB(_start.based)
	fail_now "far jmp to the based segment fell through"
.based:
	xor eax, eax
	mov ax, cs
	check eax, SEL_CB
	mov esi, esp
	o16 call far [fptr16]			; m16:16: pushes CS and IP, words
.ret1:
	mov edi, esp
	check edi, esi
	movzx ebx, ax				; the callee's [esp] dword: IP | CS << 16
	check ebx, CB(.ret1)
	shr eax, 16
	check eax, SEL_CB
	push word 0x1111
	push word 0x2222
	o16 call far [fptr16 + 4]		; far16_ret4: o16 retf 4
	mov edi, esp
	check edi, esi
	check eax, 0x3333
	db 0x66, 0x9a				; o16 call ptr16:16
	dw CB(far16_fn), SEL_CB
.ret3:
	movzx ebx, ax
	check ebx, CB(.ret3)
	mov edi, esp
	check edi, esi
	o16 jmp far [fptr16 + 8]		; m16:16
	fail_now "o16 jmp far fell through"
.j16:
	mov esi, esp
	call SEL_CB:CB(far32_fn)		; 32-bit far call inside the segment
.ret4:
	check ebx, CB(.ret4)
	check eax, SEL_CB
	mov edi, esp
	check edi, esi
	jmp SEL_CODE:.flat			; back to the flat code segment
.flat:
	xor eax, eax
	mov ax, cs
	check eax, SEL_CODE

; ---------------------------------------------------------------- lds/les
group "lxs"
	mov edi, 0xffff0000
	les di, [fptr16_gs]			; 16-bit: DI only, ES = SEL_GS
	mov ecx, [es:0x20]
	lds esi, [fptr_fs]			; DS = SEL_FS: base FS_BASE
	mov eax, [esi]				; FS_BASE + 0x10
	mov ebx, ds
	mov dx, SEL_DATA
	mov ds, dx
	mov es, dx
	check eax, 0x11223344
	check ebx, SEL_FS
	check edi, 0xffff0020
	check ecx, 0x55669988
	les esi, [fptr_ss]			; a flat selector back into ES
	check esi, alt_stack_top
	xor eax, eax
	mov ax, es
	check eax, SEL_DATA

; ---------------------------------------------------------------- descriptor queries
group "desc"
	mov eax, SEL_CONF
	mov ebx, 0
	mov ecx, 0xfffff
	mov edx, 0x0c9e				; conforming code, readable
	call lib_set_desc
	mov eax, SEL_GATE
	mov edx, 0x008c				; present 32-bit call gate
	call lib_set_desc
	mov eax, SEL_NP
	mov edx, 0x0c12				; data, P = 0
	call lib_set_desc
	; 16-bit forms write AX only
	mov eax, 0xaaaa5555
	mov ecx, SEL_SMALL
	lsl ax, cx
	check_flags F_ZF, F_ZF
	check eax, 0xaaaa0fff
	mov ecx, SEL_FS
	lsl ax, cx				; a 4 GiB limit truncated to 16 bits
	check eax, 0xaaaaffff
	mov eax, 0xaaaa5555
	lar ax, cx
	check_flags F_ZF, F_ZF
	and eax, 0xfffffeff			; ignore accessed
	check eax, 0xaaaa9200
	; memory operands
	mov dword [mem0], SEL_DATA
	lar eax, [mem0]
	check_flags F_ZF, F_ZF
	and eax, 0x00f0fe00
	check eax, 0x00c09200
	verr [mem0]
	check_flags F_ZF, F_ZF
	verw [mem0]
	check_flags F_ZF, F_ZF
	mov dword [mem0], SEL_GATE
	lsl eax, [mem0]
	check_flags F_ZF, 0			; gates have no limit
	; a call gate has access rights, but is neither readable nor writable
	mov ecx, SEL_GATE
	mov eax, 0x12345678
	lar eax, ecx
	check_flags F_ZF, F_ZF
	and eax, 0x0000ff00
	check eax, 0x00008c00
	verr cx
	check_flags F_ZF, 0
	; RPL 3 above DPL 0: invisible, except conforming code
	mov ecx, SEL_DATA | 3
	mov eax, 0x12345678
	lar eax, ecx
	check_flags F_ZF, 0
	check eax, 0x12345678
	verr cx
	check_flags F_ZF, 0
	mov ecx, SEL_CONF | 3
	verr cx
	check_flags F_ZF, F_ZF
	verw cx
	check_flags F_ZF, 0
	lar eax, ecx
	check_flags F_ZF, F_ZF
	and eax, 0x0000fe00
	check eax, 0x00009e00
	; not present: lar still reports it
	mov ecx, SEL_NP
	lar eax, ecx
	check_flags F_ZF, F_ZF
	and eax, 0x0000fe00
	check eax, 0x00001200
	; TI = 1 with the null LDTR the ldt group left
	mov ecx, SEL_LDT_DATA
	lar eax, ecx
	check_flags F_ZF, 0
	; lar/lsl/verr set ZF only
	set_flags F_CF|F_SF|F_OF|F_PF|F_AF
	mov ecx, SEL_CODE
	lar eax, ecx
	check_flags F_ALU, F_CF|F_SF|F_OF|F_PF|F_AF|F_ZF
	set_flags F_ALU
	mov ecx, 0
	verr cx
	check_flags F_ALU, F_CF|F_SF|F_OF|F_PF|F_AF
	; arpl
	mov eax, 0xffff0010
	mov ecx, 0x0003
	arpl ax, cx
	check_flags F_ZF, F_ZF
	check eax, 0xffff0013
	arpl ax, cx
	check_flags F_ZF, 0
	mov dword [mem0], 0xaaaa0021
	mov ecx, 2
	arpl [mem0], cx
	check_flags F_ZF, F_ZF
	check dword [mem0], 0xaaaa0022
	; smsw r32 is all of CR0; lmsw sets PE/MP/EM/TS but never clears PE
	mov ebx, cr0
	smsw eax
	check eax, ebx
	mov eax, ebx
	and eax, ~0xf
	or eax, 8				; TS, PE clear
	lmsw ax
	mov ecx, cr0
	mov word [mem0], 0x0002			; MP only
	lmsw [mem0]
	mov esi, cr0
	mov cr0, ebx
	mov edx, ebx
	and edx, ~0xf
	or edx, 9
	check ecx, edx
	xor edx, 9 ^ 3
	check esi, edx

; ---------------------------------------------------------------- VERW again
; The same VERW run again and again (btvm: inline at CPL 0 once a callout
; found the selector writable): ZF set, the other flags kept; the
; descriptor made read-only in the GDT between two runs: ZF clear; made
; writable again: set; RPL 3 above DPL 0: clear.
group "verw"
	mov eax, SEL_NP
	mov ebx, 0
	mov ecx, 0xfffff
	mov edx, 0x0c92				; writable data, present
	call lib_set_desc
	mov dword [mem0], SEL_NP
	mov ebx, verw_expect
	mov esi, 0
.again:
	mov al, [ebx + esi]
	mov [lib_gdt + SEL_NP + 5], al		; the type byte: 0x92 or read-only 0x90
	mov dx, SEL_NP
	xor ecx, ecx				; ZF set, CF clear
	stc					; CF set
	verw dx
	pushfd
	pop edi
	and edi, F_ZF | F_CF
	xor eax, eax
	inc eax					; ZF clear
	verw [mem0]
	pushfd
	pop ecx
	and ecx, F_ZF | F_CF
	movzx eax, byte [ebx + esi + 4]		; the ZF expected
	or eax, F_CF
	check edi, eax
	and eax, F_ZF
	check ecx, eax
	inc esi
	cmp esi, 4
	jb .again
	mov dx, SEL_NP | 3
	verw dx
	check_flags F_ZF, 0
	mov eax, SEL_NP
	mov ebx, 0
	mov ecx, 0xfffff
	mov edx, 0x0c12				; back to P = 0
	call lib_set_desc

; ---------------------------------------------------------------- MSRs
group "msr"
	mov ecx, 0x174				; SYSENTER_CS/ESP/EIP read back
	mov eax, SEL_CODE
	xor edx, edx
	wrmsr
	mov ecx, 0x175
	mov eax, 0x00abcdef
	wrmsr
	mov ecx, 0x176
	mov eax, 0xcafe0000
	wrmsr
	mov ecx, 0x174
	rdmsr
	check eax, SEL_CODE
	check edx, 0
	mov ecx, 0x175
	rdmsr
	check eax, 0x00abcdef
	mov ecx, 0x176
	rdmsr
	check eax, 0xcafe0000
	check edx, 0
	mov ecx, 0x1b				; APIC base: 0xfee00000, enabled, BSP
	rdmsr
	check eax, 0xfee00900
	check edx, 0
	; TSC: read and written back (nothing checked: QEMU's TCG neither
	; reads the running counter through the MSR nor takes the write).
	mov ecx, 0x10
	rdmsr
	wrmsr

; ---------------------------------------------------------------- faults
group "faults"
	mov dword [lib_exc_hook], exc_record
	arm .r1
.f1:
	lds eax, [fptr_sys]			; a system descriptor: #GP(sel)
.r1:
	expect 13, .f1, SEL_LDT
	xor eax, eax
	mov ax, ds
	check eax, SEL_DATA
	arm .r2
.f2:
	les eax, [fptr_np]			; not present: #NP(sel)
.r2:
	expect 11, .f2, SEL_NP
	mov esi, esp
	arm .r3
.f3:
	lss esp, [fptr_null]			; null into SS: #GP(0)
.r3:
	expect 13, .f3, 0
	mov edi, esp
	check edi, esi
	arm .r4
.f4:
	call far [fptr_data_cs]			; a data segment into CS
.r4:
	expect 13, .f4, SEL_DATA
	mov edi, esp
	check edi, esi
	push dword 0x7ff8			; beyond the GDT limit
	arm .r5
.f5:
	pop ds
.r5:
	expect 13, .f5, 0x7ff8
	mov edi, esp
	add esp, 4
	add edi, 4
	check edi, esi				; ESP was left alone
	push dword SEL_NP
	arm .r6
.f6:
	pop ss					; not present into SS: #SS(sel)
.r6:
	expect 12, .f6, SEL_NP
	add esp, 4
	push dword 0				; a null CS to return to
	push dword .r7
	arm .r7
.f7:
	retf
.r7:
	expect 13, .f7, 0
	add esp, 8
	mov ax, SEL_TSS
	arm .r8
.f8:
	ltr ax					; busy since the tss group
.r8:
	expect 13, .f8, SEL_TSS
	mov ax, SEL_DATA
	arm .r9
.f9:
	lldt ax					; not an LDT descriptor
.r9:
	expect 13, .f9, SEL_DATA
	; An MSR this CPU does not have: #GP(0) on hardware. QEMU's TCG reads
	; it as 0 and drops writes instead, so no exception passes too.
	mov ecx, 0x00001234
	arm .r10
.f10:
	rdmsr
.r10:
	cmp dword [x_count], 0
	je .msr_no_gp1
	expect 13, .f10, 0
.msr_no_gp1:
	arm .r11
	mov eax, 0
	xor edx, edx
.f11:
	wrmsr
.r11:
	cmp dword [x_count], 0
	je .msr_no_gp2
	expect 13, .f11, 0
.msr_no_gp2:
	mov ecx, 6
	arm .r12
.f12:
	bound cx, [bounds16]			; 6 outside [-5, 5]
.r12:
	expect 5, .f12, 0
	mov dword [lib_exc_hook], 0

guest_finish

; far_fn: called far; returns EAX = CS image, EBX = return EIP
far_fn:
	mov eax, [esp + 4]
	and eax, 0xffff
	mov ebx, [esp]
	retf

; far_fn_ret8: adds its two stack arguments, retf 8
far_fn_ret8:
	mov eax, [esp + 8]
	add eax, [esp + 12]
	retf 8

; low16_blob: copied to LOW16 and called near from there. 16-bit far
; calls (m16:16 and ptr16:16), o16 retf with and without an immediate and
; an o16 far jmp; results in low_res/low_esp.
low16_blob:
	mov [low_esp], esp
	o16 call far [LOWADDR(low16_ptrs)]
.r1:
	mov [low_res], eax
	mov [low_esp + 4], esp
	push word 0x1111
	push word 0x2222
	o16 call far [LOWADDR(low16_ptrs) + 4]
	mov [low_res + 4], eax
	mov [low_esp + 8], esp
	db 0x66, 0x9a				; o16 call ptr16:16
	dw LOWADDR(low16_fn), SEL_CODE
.r3:
	mov [low_res + 8], eax
	mov [low_esp + 12], esp
	o16 jmp far [LOWADDR(low16_ptrs) + 8]
	ret
.j16:
	mov dword [low_res + 12], 0x600d
	ret
low16_fn:
	mov eax, [esp]
	o16 retf
low16_ret4:
	movzx eax, word [esp + 4]
	movzx ecx, word [esp + 6]
	add eax, ecx
	o16 retf 4
low16_ptrs:
	dw LOWADDR(low16_fn), SEL_CODE
	dw LOWADDR(low16_ret4), SEL_CODE
	dw LOWADDR(low16_blob.j16), SEL_CODE
low16_blob_end:

; far16_fn: called with a 16-bit far call; EAX = the return IP | CS << 16
far16_fn:
	mov eax, [esp]
	o16 retf

; far16_ret4: adds its two word arguments, o16 retf 4
far16_ret4:
	movzx eax, word [esp + 4]
	movzx ecx, word [esp + 6]
	add eax, ecx
	o16 retf 4

; far32_fn: EAX = the CS image, EBX = the return EIP
far32_fn:
	mov eax, [esp + 4]
	and eax, 0xffff
	mov ebx, [esp]
	retf

; ss_fn: runs on the based stack; records its return address
ss_fn:
	mov ecx, [esp]
	mov [ss_fn_ret], ecx
	ret

section .rodata
verw_expect:	db 0x92, 0x92, 0x90, 0x92	; the type byte per run
		db F_ZF, F_ZF, 0, F_ZF		; and ZF after VERW
far_ptr:	dd _start.via_mem
		dw SEL_CODE
far_fn_ptr:	dd far_fn_ret8
		dw SEL_CODE
fptr_fs:	dd 0x10
		dw SEL_FS
fptr_gs:	dd 0x20
		dw SEL_GS
fptr_ss:	dd alt_stack_top
		dw SEL_DATA
fptr16_gs:	dw 0x20, SEL_GS
fptr_sys:	dd 0
		dw SEL_LDT
fptr_np:	dd 0
		dw SEL_NP
fptr_null:	dd 0
		dw 0
fptr_data_cs:	dd 0
		dw SEL_DATA
bounds16:	dw -5, 5

section .data
align 8
ldt_table:
	dq 0x00CF92200000FFFF			; 0x04: data, base 0x00200000
	dq 0x00CF92300000FFFF			; 0x0c: data, base 0x00300000
	dq 0, 0

section .bss
alignb 4
gdtr_out:	resb 8
gdtr_tmp:	resb 8
mem0:		resd 1
saved_esp:	resd 1
ss_fn_ret:	resd 1
flat_buf:	resd 4
fptr16:		resw 6
low_res:	resd 4
low_esp:	resd 4
alignb 16
tss_area:	resb 104
alignb 16
		resb 1024
alt_stack_top:
