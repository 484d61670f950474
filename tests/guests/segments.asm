; Segmentation: our own GDT (lib.inc: flat code 0x08, flat data 0x10, data
; based at 0x00200000 as 0x18 and at 0x00300000 as 0x20), far jumps/calls/
; returns and iretd at CPL 0, FS/GS/DS/SS/ES with non-zero bases (memory
; operands, string instructions, the stack), segment register moves,
; push/pop, lfs/lgs/lss, an LDT (lldt/sldt and a data segment from it), a TSS
; (ltr/str, busy bit), sgdt/sidt/smsw, lar/lsl/verr/verw, control registers.
%define GUEST_NAME "segments"
%include "lib.inc"

SEL_LDT		equ 0x28
SEL_TSS		equ 0x30
SEL_RO		equ 0x38		; read-only data, base 0, 4 GiB
SEL_SMALL	equ 0x40		; data, base 0x00200000, limit 0xfff, byte granular
SEL_LDT_DATA	equ 0x04 | 0	; LDT index 0, TI = 1, RPL 0

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

; ss_fn: runs on the based stack; records its return address
ss_fn:
	mov ecx, [esp]
	mov [ss_fn_ret], ecx
	ret

section .rodata
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
alignb 16
tss_area:	resb 104
alignb 16
		resb 1024
alt_stack_top:
