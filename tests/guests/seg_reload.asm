; Segment register reloads at CPL 0 of the selector the register already
; holds. The translator makes such a reload nothing when the GDT
; descriptor still has the bytes of the last load (translate.c,
; translate_segment_load), so every group reloads through one subroutine,
; many times, before and after the descriptor changes:
;  mov_fs     MOV FS of SEL_FS, base 0x200000; the GDT entry rewritten to
;             base 0x280000: the next reload of the same selector takes
;             the new base; rewritten back: the old one
;  pop_gs     the same with POP GS and SEL_GS (base 0x300000 / 0x380000),
;             ESP stepping by 4 each time
;  mov_ds     MOV DS of a flat copy of SEL_DATA (0x28), reloaded in a loop;
;             the entry given base 0x80000: DS-relative reads see it, and
;             the entry made flat again: they do not
;  mov_es     MOV ES of the same entry, its base changed: ES-relative
;             reads follow it
;  lgdt       FS reloaded after LGDT of a copy of the table where SEL_FS
;             has base 0x280000, and after LGDT of the original
;  not_present SEL_FS marked not present: the reload raises #NP with the
;             selector as error code, the earlier reloads did not
;  switch_fs  FS switched between two selectors, as a kernel does at every
;             entry and exit (translate_segment_load keeps two per
;             register): SEL_GS from memory and the null selector from a
;             register, then SEL_FS by POP and SEL_GS from a register;
;             SEL_GS's entry rewritten meanwhile: the next switch to it
;             takes the new base; then three selectors in turn
;  ring1      FS loaded with SEL_FS at CPL 0 (cached), then at CPL 1 in a
;             loop: SEL_FS's DPL is 0, so each load raises #GP (blocks at
;             CPL 1 are translated as CPL 0's: entering CPL 1 must forget
;             the loads cached at CPL 0)
%define GUEST_NAME "seg_reload"
%include "lib.inc"
%include "rings.inc"
%include "ring1.inc"

MARK_A	equ 0x11111111
MARK_B	equ 0x22222222
SEL_FLAT2 equ 0x28

guest_start
	call lib_load_gdt
	call lib_install_idt			; a stray exception is reported
	mov dword [FS_BASE], MARK_A
	mov dword [FS_BASE + 0x80000], MARK_B
	mov dword [GS_BASE], MARK_A + 1
	mov dword [GS_BASE + 0x80000], MARK_B + 1

group "mov_fs"
	mov ecx, 40
mov_fs_a:	call reload_fs
	check ebx, MARK_A
	loop mov_fs_a
	mov eax, SEL_FS
	mov ebx, FS_BASE + 0x80000
	call set_data_desc
	mov ecx, 40
mov_fs_b:	call reload_fs
	check ebx, MARK_B
	loop mov_fs_b
	mov eax, SEL_FS
	mov ebx, FS_BASE
	call set_data_desc
	mov ecx, 40
mov_fs_c:	call reload_fs
	check ebx, MARK_A
	loop mov_fs_c

group "pop_gs"
	mov ecx, 40
pop_gs_a:	mov edx, esp
	call reload_gs
	check ebx, MARK_A + 1
	sub edx, esp
	check edx, 0
	loop pop_gs_a
	mov eax, SEL_GS
	mov ebx, GS_BASE + 0x80000
	call set_data_desc
	mov ecx, 40
pop_gs_b:	call reload_gs
	check ebx, MARK_B + 1
	loop pop_gs_b
	mov eax, SEL_GS
	mov ebx, GS_BASE
	call set_data_desc
	mov ecx, 40
pop_gs_c:	call reload_gs
	check ebx, MARK_A + 1
	loop pop_gs_c

group "mov_ds"
	mov eax, SEL_FLAT2
	xor ebx, ebx
	call set_data_desc
	mov ecx, 40
mov_ds_a:	call read_via_ds
	check ebx, MARK_A
	loop mov_ds_a
	mov eax, SEL_FLAT2
	mov ebx, 0x80000
	call set_data_desc
	mov ecx, 40
mov_ds_b:	call read_via_ds
	check ebx, MARK_B
	loop mov_ds_b
	mov eax, SEL_FLAT2
	xor ebx, ebx
	call set_data_desc
	mov ecx, 40
mov_ds_c:	call read_via_ds
	check ebx, MARK_A
	loop mov_ds_c

group "mov_es"
	mov ecx, 40
mov_es_a:	call read_via_es
	check ebx, MARK_A
	loop mov_es_a
	mov eax, SEL_FLAT2
	mov ebx, 0x80000
	call set_data_desc
	mov ecx, 40
mov_es_b:	call read_via_es
	check ebx, MARK_B
	loop mov_es_b
	mov eax, SEL_FLAT2
	xor ebx, ebx
	call set_data_desc
	mov ecx, 40
mov_es_c:	call read_via_es
	check ebx, MARK_A
	loop mov_es_c

group "lgdt"
	; A copy of the table where SEL_FS has base 0x280000.
	mov esi, lib_gdt
	mov edi, gdt_copy
	mov ecx, (LIB_GDT_ENTRIES * 8) / 4
	rep movsd
	mov ecx, 40
lgdt_a:	call reload_fs
	check ebx, MARK_A
	loop lgdt_a
	mov eax, [lib_gdt + SEL_FS + 4]
	and eax, 0x00ffff00
	or eax, 0x00000028			; base 23:16 = 0x28
	mov [gdt_copy + SEL_FS + 4], eax
	lgdt [gdt_copy_reg]
	mov ecx, 40
lgdt_b:	call reload_fs
	check ebx, MARK_B
	loop lgdt_b
	lgdt [lib_gdtr]
	mov ecx, 40
lgdt_c:	call reload_fs
	check ebx, MARK_A
	loop lgdt_c

group "not_present"
	gate 11, np_handler, 0x8E
	mov dword [np_count], 0
	mov ecx, 40
not_present_a:	call reload_fs
	check ebx, MARK_A
	loop not_present_a
	check dword [np_count], 0
	and byte [lib_gdt + SEL_FS + 5], 0x7f	; P = 0
	call reload_fs
	check dword [np_count], 1
	check dword [np_error], SEL_FS
	or byte [lib_gdt + SEL_FS + 5], 0x80
	mov ecx, 40
not_present_b:	call reload_fs
	check ebx, MARK_A
	loop not_present_b
	check dword [np_count], 1

group "switch_fs"
	mov ecx, 40
switch_fs_a:	call fs_gs_null
	check ebx, MARK_A + 1
	check esi, 0
	loop switch_fs_a
	mov eax, SEL_GS
	mov ebx, GS_BASE + 0x80000
	call set_data_desc
	mov ecx, 40
switch_fs_b:	call fs_gs_null
	check ebx, MARK_B + 1
	check esi, 0
	loop switch_fs_b
	mov ecx, 40
switch_fs_c:	call fs_fs_gs
	check edx, MARK_A
	check ebx, MARK_B + 1
	loop switch_fs_c
	mov eax, SEL_GS
	mov ebx, GS_BASE
	call set_data_desc
	mov ecx, 40
switch_fs_d:	call fs_fs_gs
	check edx, MARK_A
	check ebx, MARK_A + 1
	loop switch_fs_d
	mov ecx, 40
switch_fs_e:	call fs_gs_null
	check ebx, MARK_A + 1
	check esi, 0
	call fs_fs_gs
	check edx, MARK_A
	check ebx, MARK_A + 1
	dec ecx
	jnz switch_fs_e
	mov ax, SEL_FS
	mov fs, ax

group "ring1"
	call rings_setup
	call ring1_setup
	gate 13, gp_handler, 0x8E
	mov dword [gp_count], 0
	mov ecx, 40
ring1_warm:	call reload_fs
	check ebx, MARK_A
	loop ring1_warm
	mov eax, ring1_code
	mov ecx, 0				; IF clear
	call ring1_run
	check dword [gp_count], 40
	check dword [gp_error], SEL_FS
	call reload_fs
	check ebx, MARK_A

	guest_finish

; ring1_code: at CPL 1 (ring1.inc), back by leave_user.
ring1_code:
	mov ax, RING_SEL_R1DATA
	mov ds, ax
	mov es, ax
	mov ecx, 40
.next:
	mov ax, SEL_FS
	mov fs, ax				; DPL 0 at CPL 1: #GP, stepped over
	dec ecx
	jnz .next
	leave_user

; #GP: count it, keep the error code, return past the MOV FS (8E E0).
gp_handler:
	inc dword [ss:gp_count]
	pop dword [ss:gp_error]
	add dword [ss:esp], 2
	iretd

; fs_gs_null: FS = SEL_GS from memory, EBX = [FS:0]; then FS = null from a
; register, ESI = FS.
fs_gs_null:
	mov word [sel_in_memory], SEL_GS
	mov fs, [sel_in_memory]
	mov ebx, [fs:0]
	xor eax, eax
	mov fs, ax
	mov esi, -1
	mov esi, fs
	ret

; fs_fs_gs: FS = SEL_FS by POP, EDX = [FS:0]; then FS = SEL_GS from a
; register, EBX = [FS:0].
fs_fs_gs:
	push dword SEL_FS
	pop fs
	mov edx, [fs:0]
	mov ax, SEL_GS
	mov fs, ax
	mov ebx, [fs:0]
	ret

; reload_fs: FS = SEL_FS again; EBX = [FS:0].
reload_fs:
	mov ax, SEL_FS
	mov fs, ax
	mov ebx, [fs:0]
	ret

; reload_gs: GS = SEL_GS again through the stack; EBX = [GS:0].
reload_gs:
	push dword SEL_GS
	pop gs
	mov ebx, [gs:0]
	ret

; read_via_ds: DS = SEL_FLAT2 again; EBX = [DS:FS_BASE]; DS back to SEL_DATA.
read_via_ds:
	mov ax, SEL_FLAT2
	mov ds, ax
	mov ebx, [FS_BASE]
	mov ax, SEL_DATA
	mov ds, ax
	ret

; read_via_es: ES = SEL_FLAT2 again; EBX = ES:[FS_BASE] (MOVSD to a
; scratch dword); ES back to SEL_DATA.
read_via_es:
	push esi
	push edi
	mov ax, SEL_FLAT2
	mov es, ax
	mov edi, FS_BASE
	mov ebx, [es:edi]
	mov ax, SEL_DATA
	mov es, ax
	pop edi
	pop esi
	ret

; set_data_desc: EAX = selector, EBX = base: a present writable 32-bit
; data segment, 4 GiB limit.
set_data_desc:
	push ecx
	push edx
	mov ecx, 0xfffff
	mov dl, 0x92
	mov dh, 0xc
	call lib_set_desc
	pop edx
	pop ecx
	ret

; #NP: count it, keep the error code, and return past the MOV FS (8E E0).
np_handler:
	inc dword [np_count]
	pop dword [np_error]
	add dword [esp], 2
	iretd

section .data
align 8
gdt_copy:	times LIB_GDT_ENTRIES dq 0
align 4
	dw 0
gdt_copy_reg:
	dw LIB_GDT_ENTRIES * 8 - 1
	dd gdt_copy

section .bss
gp_count:	resd 1
gp_error:	resd 1
sel_in_memory:	resw 1
	resw 1
np_count:	resd 1
np_error:	resd 1
