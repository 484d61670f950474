; Hostile guest: descriptor tables and page tables where no OS would put
; them. Outside RAM (unclaimed physical memory) every read gives all ones,
; as on a PC: a descriptor of all ones is present, readable conforming
; code of DPL 3 with base 0xffffffff and a 4 GiB limit, so it loads into
; a data segment register, faults as SS or as a far JMP target, and LAR,
; LSL, VERR and VERW report it; a page-table entry of all ones maps the
; last page of the 4 GiB (unclaimed: reads all ones, writes dropped), or
; with CR4.PSE too (its bit 7 selects a PAT entry: btvm offers PAT). In
; device memory (btvm's test device, 256 bytes of scratch) the tables
; work: a GDT (CS, DS, SS reloaded from it, an interrupt's gate selector
; looked up in it, LTR setting the busy bit in it), an IDT, an LDT and a
; TSS (ring 3's I/O bitmap and ring 0's stack); LGDT/LIDT and SGDT take
; their operands from and to it, and an interrupt's frame can be pushed
; there and popped by IRETD. A GDT at 0xfffffff8 wraps to linear 0 for its
; next entries, an IDT at 0xffffff00 for vector 0x20. The monitor must survive each, and
; deliver each fault with the SDM's vector and error code.
;
; Not here: an IDT, GDT or TSS outside RAM that an exception needs (triple
; fault: hostile_triple.asm), CR3 outside RAM (all of the address space
; then maps to unclaimed memory, code too: hostile_triple.asm), page tables
; in device memory (btvm's page walk reads entries outside RAM as all
; ones without asking the device; src/mmu/paging.c).
%define GUEST_NAME "hostile_tables"
%include "lib.inc"
%include "hostile_lib.inc"
%include "rings.inc"

TD		equ 0xfebf0000		; test device scratch (256 bytes)
UNCLAIMED	equ 0xe0000000
SLOT_LDT	equ 0x60		; an LDT descriptor
SLOT_TSS	equ 0x68		; a TSS descriptor
SEL_TD_TSS	equ 0x30		; a TSS descriptor in the device's GDT
PT_LINEAR	equ 0x40000000		; mapped through a page table outside RAM

; faults vector, error, instruction: it must raise exactly that.
%macro faults 3+
	hl_arm %%r
%%f:
	%3
%%r:
	check dword [x_count], 1
	check dword [x_vec], %1
	check dword [x_err], %2
	check dword [x_eip], %%f
%endmacro

; no_fault instruction: it must complete without an exception (one would
; resume after it, so a wrong #PF fails the checks instead of looping).
%macro no_fault 1+
	hl_arm %%r
	%1
%%r:
	check dword [x_count], 0
%endmacro

; all_ones_descriptor sel: what LAR, LSL, VERR and VERW see for a
; descriptor of all ones, and that it loads into ES but not into SS nor
; as a far JMP/CALL target (DPL 3 conforming code, CPL 0). fault_ok: the
; faults may be delivered (the GDT holding the gates' CS is in RAM).
%macro all_ones_descriptor 2
	mov eax, %1
	mov es, ax
	xor eax, eax
	mov ax, es
	check eax, %1
	xor eax, eax
	lar eax, [sel_word_%1]
	check_flags F_ZF, F_ZF
	and eax, 0x00f0ff00		; bits 19:16 are the SDM's "undefined"
	check eax, 0x00f0ff00
	lsl eax, [sel_word_%1]
	check_flags F_ZF, F_ZF
	check eax, 0xffffffff
	verr word [sel_word_%1]
	check_flags F_ZF, F_ZF
	verw word [sel_word_%1]
	check_flags F_ZF, 0
	mov ax, SEL_DATA
	mov es, ax
%if %2
	mov ebx, %1
	faults 13, %1 & ~3, mov ss, bx
	faults 13, %1 & ~3, jmp %1:never
	faults 13, %1 & ~3, call %1:never
%endif
%endmacro

guest_start
	hl_setup
	mov word [sel_word_0x10], 0x10
	mov word [sel_word_0x07], 0x07

; ---------------------------------------------- a GDT nobody claims
group "gdt_unclaimed"
t_gdt_unclaimed:
	; nothing may fault in between: the gates' CS would be looked up in it
	lgdt [gdtr_unclaimed]
	all_ones_descriptor 0x10, 0
	mov ax, 0x10
	mov fs, ax			; FS and GS too
	mov gs, ax
	lgdt [lib_gdtr]
	mov ax, SEL_FS
	mov fs, ax
	mov ax, SEL_GS
	mov gs, ax
	xor eax, eax
	str ax
	check eax, RING_SEL_TSS		; untouched

; ------------------------------------------ an LDT nobody claims
group "ldt_unclaimed"
t_ldt_unclaimed:
	mov eax, SLOT_LDT
	mov ebx, UNCLAIMED
	mov ecx, 0xffff
	mov edx, 0x0082
	call lib_set_desc
	mov ax, SLOT_LDT
	lldt ax
	all_ones_descriptor 0x07, 1
	xor eax, eax
	lldt ax

; -------------------------------------- a GDT in device memory
group "gdt_device"
t_gdt_device:
	mov esi, lib_gdt
	mov edi, TD
	mov ecx, LIB_GDT_ENTRIES * 2
	call copy_dwords
	; a TSS descriptor in it, for LTR (a TSS in RAM, no bitmap)
	mov eax, tss_plain
	shl eax, 16
	or eax, 103
	mov [TD + SEL_TD_TSS], eax
	mov eax, tss_plain
	shr eax, 16
	and eax, 0xff
	mov ebx, tss_plain
	and ebx, 0xff000000
	or eax, ebx
	or eax, 0x00008900		; present, 32-bit TSS, available
	mov [TD + SEL_TD_TSS + 4], eax
	lgdt [gdtr_device]
	jmp SEL_CODE:.cs		; every register from the device
.cs:
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov ax, SEL_FS
	mov fs, ax
	hl_arm .after_int3_1		; where the trap returns anyway
	int3
.after_int3_1:				; the gate's CS is looked up there
	check dword [x_count], 1
	check dword [x_vec], 3
	mov ebx, 0x28			; an empty entry: not a data segment
	faults 13, 0x28, mov ds, bx
	mov ax, SEL_TD_TSS
	ltr ax
	mov eax, [TD + SEL_TD_TSS + 4]
	and eax, 0x00000f00
	check eax, 0x00000b00		; busy, written back to the device
	xor eax, eax
	str ax
	check eax, SEL_TD_TSS
	lgdt [lib_gdtr]
	call lib_load_gdt

; -------------------------------------- a GDT wrapping at 4 GiB
group "gdt_wrap"
t_gdt_wrap:
	; entry 0 at 0xfffffff8, entries 1 and 2 at linear 0 and 8
	mov esi, lib_gdt + 8
	xor edi, edi
	mov ecx, 4
	cld
	rep movsd
	lgdt [gdtr_wrap]
	jmp SEL_CODE:.cs
.cs:
	mov ax, SEL_DATA
	mov ds, ax
	mov ss, ax
	hl_arm .after_int3_2		; where the trap returns anyway
	int3
.after_int3_2:
	check dword [x_count], 1
	check dword [x_vec], 3
	mov ebx, 0x18			; beyond its limit
	faults 13, 0x18, mov ds, bx
	lgdt [lib_gdtr]
	call lib_load_gdt

; -------------------------------------- an IDT in device memory
group "idt_device"
t_idt_device:
	mov esi, lib_idt
	mov edi, TD
	mov ecx, 64
	call copy_dwords
	lidt [idtr_device]
	hl_arm .after_int3_3		; where the trap returns anyway
	int3
.after_int3_3:
	check dword [x_count], 1
	check dword [x_vec], 3
	faults 6, 0, ud2
	faults 13, 0x40 * 8 + 2, int 0x40	; beyond its 32 gates
	lidt [lib_idtr]

; -------------------------------------- an IDT wrapping at 4 GiB
group "idt_wrap"
t_idt_wrap:
	; vectors 0-31 at 0xffffff00 (nobody claims it: no exception may
	; happen meanwhile), vector 0x20 on at linear 0
	mov eax, wrap_handler
	mov [0], ax
	mov word [2], SEL_CODE
	mov word [4], 0x8e00
	shr eax, 16
	mov [6], ax
	lidt [idtr_wrap]
	mov dword [wrapped], 0
	int 0x20
	lidt [lib_idtr]
	check dword [wrapped], 1

; -------------------------------------- an LDT in device memory
group "ldt_device"
t_ldt_device:
	; one flat data segment based at ldt_data
	mov eax, ldt_data
	shl eax, 16
	or eax, 0xffff
	mov [TD], eax
	mov eax, ldt_data
	shr eax, 16
	and eax, 0xff
	mov ebx, ldt_data
	and ebx, 0xff000000
	or eax, ebx
	or eax, 0x00cf9200
	mov [TD + 4], eax
	mov eax, SLOT_LDT
	mov ebx, TD
	mov ecx, 7			; one entry
	mov edx, 0x0082
	call lib_set_desc
	mov ax, SLOT_LDT
	lldt ax
	mov dword [ldt_data + 8], 0x600df00d
	mov ax, 0x04
	mov fs, ax
	mov eax, [fs:8]
	check eax, 0x600df00d
	mov ebx, 0x0c			; beyond its limit
	faults 13, 0x0c, mov fs, bx
	mov ax, SEL_FS
	mov fs, ax
	xor eax, eax
	lldt ax

; ------------------- pseudo-descriptors and a stack in device memory
group "mmio_operands"
t_mmio_operands:
	; SGDT/SIDT store into the device, LGDT/LIDT load from it
	sgdt [TD + 0x40]
	sidt [TD + 0x48]
	lgdt [TD + 0x40]
	lidt [TD + 0x48]
	mov ax, SEL_DATA
	mov ds, ax
	hl_arm .after_int3_4		; where the trap returns anyway
	int3
.after_int3_4:
	check dword [x_count], 1
	check dword [x_vec], 3
	; from memory nobody claims: limit 0xffff, base 0xffffffff
	lgdt [UNCLAIMED]
	sgdt [sgdt_out]
	lgdt [lib_gdtr]
	movzx eax, word [sgdt_out]
	check eax, 0xffff
	check dword [sgdt_out + 2], 0xffffffff
	; an interrupt's frame pushed into the device and IRETD's pops from
	; there (the handler is IRETD alone: no instruction of its own
	; touches the stack)
	gate 0x30, bare_iret, 0x8e
	mov ebp, esp
	mov esp, TD + 0x80
	int 0x30
.after_int:
	mov ebx, esp
	mov esp, ebp
	check ebx, TD + 0x80
	check dword [TD + 0x80 - 12], .after_int
	check dword [TD + 0x80 - 8], SEL_CODE

; ------------------------------------ page tables nobody claims
group "pt_unclaimed"
t_pt_unclaimed:
	call build_tables
	hl_paging_on pd
	jmp .on
.on:
	; the directory entry points at a table outside RAM: its entries
	; read all ones, present, so the page is the last one of the 4 GiB
	mov eax, 0x5a5a5a5a
	no_fault mov eax, [PT_LINEAR + 0x123]
	check eax, 0xffffffff
	no_fault mov dword [PT_LINEAR + 0x4000], 0x12345678
	mov eax, 0x5a5a5a5a
	no_fault mov eax, [PT_LINEAR + 0x4000]
	check eax, 0xffffffff
	mov eax, 0x5a5a5a5a
	no_fault mov al, [PT_LINEAR + 0x3fffff]
	check eax, 0x5a5a5aff
	; with CR4.PSE an entry of all ones sets bit 7 of a PTE, the PAT
	; bit (the virtual CPU reports PAT; SDM vol. 3, 4.3): the same page
	mov eax, CR4_PSE
	mov cr4, eax
	mov eax, 0x5a5a5a5a
	no_fault mov eax, [PT_LINEAR + 0x2000]
	check eax, 0xffffffff
	no_fault mov dword [PT_LINEAR + 0x2000], 0x12345678
	xor eax, eax
	mov cr4, eax
	mov eax, cr0
	and eax, ~CR0_PG
	mov cr0, eax
	jmp .off
.off:

; ------------------------------------------ a TSS in device memory
group "tss_device"
t_tss_device:
	; ring 0's stack and ring 3's I/O bitmap (ports 0-1023, only 0x80
	; allowed), read from the device
	mov edi, TD
	xor eax, eax
	mov ecx, 64
	call fill_dwords
	mov dword [TD + 4], rings_kstack_top	; ESP0
	mov dword [TD + 8], SEL_DATA		; SS0
	mov word [TD + 0x66], 104		; bitmap base
	mov edi, TD + 104
	mov eax, 0xffffffff
	mov ecx, 33				; 128 bytes and the ones after
	call fill_dwords
	and byte [TD + 104 + 0x80 / 8], 0xfe
	mov eax, SLOT_TSS
	mov ebx, TD
	mov ecx, 104 + 128
	mov edx, 0x0089
	call lib_set_desc
	mov ax, SLOT_TSS
	ltr ax
	mov eax, user_io
	xor ecx, ecx			; IOPL 0: the bitmap decides
	call rings_run_user
	check dword [u_in80], 0xff	; allowed: the POST port reads ones
	check dword [x_count], 1
	check dword [x_vec], 13
	check dword [x_err], 0
	check dword [x_eip], user_io.denied
	check dword [x_cs], RING_SEL_UCODE

	guest_finish

; Ring 3 under the device's TSS: one allowed port, one denied.
user_io:
	xor eax, eax
	in al, 0x80
	mov [u_in80], eax
	mov dword [x_count], 0
	mov dword [x_resume], .back
.denied:
	in al, 0x81
.back:
	leave_user

; copy_dwords: ECX dwords from ESI to EDI, one MOV at a time (string
; instructions on MMIO are another test's subject). Preserves registers.
copy_dwords:
	pushad
.next:
	mov eax, [esi]
	mov [edi], eax
	add esi, 4
	add edi, 4
	loop .next
	popad
	ret

; fill_dwords: ECX dwords at EDI get EAX, one MOV at a time.
fill_dwords:
	pushad
.next:
	mov [edi], eax
	add edi, 4
	loop .next
	popad
	ret

; build_tables: pd maps the first 4 MiB through pt_low (4 KiB pages, so
; CR4.PSE may be either) and PT_LINEAR through a table at UNCLAIMED.
build_tables:
	pushad
	xor ecx, ecx
.pte:
	mov eax, ecx
	shl eax, 12
	or eax, 3
	mov [pt_low + ecx * 4], eax
	inc ecx
	cmp ecx, 1024
	jb .pte
	mov eax, pt_low
	or eax, 3
	mov [pd], eax
	mov dword [pd + (PT_LINEAR >> 22) * 4], UNCLAIMED | 3
	popad
	ret

; never: where far transfers that must fault would go.
never:
	fatal "a far transfer that must fault went through"

bare_iret:
	iretd

wrap_handler:
	inc dword [wrapped]
	iretd

section .data
align 4
	dw 0
gdtr_unclaimed:
	dw 0xffff
	dd UNCLAIMED
	dw 0
gdtr_device:
	dw LIB_GDT_ENTRIES * 8 - 1
	dd TD
	dw 0
gdtr_wrap:
	dw 0x17
	dd 0xfffffff8
	dw 0
idtr_device:
	dw 32 * 8 - 1
	dd TD
	dw 0
idtr_wrap:
	dw 33 * 8 - 1
	dd 0xffffff00

section .bss
alignb 4096
pd:		resd 1024
pt_low:		resd 1024
alignb 16
ldt_data:	resd 4
tss_plain:	resb 104
alignb 4
sel_word_0x10:	resw 1
sel_word_0x07:	resw 1
u_in80:		resd 1
sgdt_out:	resd 2
wrapped:	resd 1

