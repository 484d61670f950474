; A kernel's temporary mapping slot, as Linux's kmap_local uses one for a
; high-memory page: one linear page whose entry is set to another frame,
; used, cleared and invalidated, over and over. btvm leaves such a slot
; unmapped once it has seen an entry cleared and invalidated there at once
; (shadow.h's reused slots), and the instructions that reach it run
; through the memory callouts; this guest checks that every access through
; the slot still reaches the frame its entry names at that moment, in
; each form a kernel uses:
;  rounds    64 rounds over 8 frames: REP STOSD clears the slot's page
;            (the kernel's clear_page), plain MOVs write and read it, REP
;            MOVSD copies out of it and into it, PUSH and POP run with ESP
;            in it; each checked through the identity map; every round
;            ends with the entry cleared and INVLPG, and every fourth the
;            cleared slot must fault
;  release   one MOV that reached the slot (adaptive) then stores 600
;            times to ordinary RAM (released to its plain translation),
;            then reaches the slot again (marked again), and every store
;            lands
;  table     the slot maps a page table in use (Linux's HIGHPTE), and
;            entries written through it take effect at the next INVLPG
;  long      the slot keeps one frame for 5000 stores and loads
; tests/guests/CMakeLists.txt checks from btvm's --stats that
; instructions were made adaptive for the slot, and one released; the
; guest alone cannot see which translation ran.
%define GUEST_NAME "kmap_slot"
%include "lib.inc"
%include "paging.inc"

FRAMES		equ 0x00d00000		; 8 frames the slot maps in turn
BUF		equ 0x00d10000		; 2 pages of ordinary RAM
DATA		equ 0x00d20000		; 4 pages for the release phase
L_SLOT		equ 0x7fc00000		; the slot
L_X		equ 0x60000000		; a page mapped through the table phase's table
NROUNDS		equ 64

; pattern r: EAX = the value round r (in EBX) clears the slot's page with.
%macro pattern 0
	mov eax, ebx
	imul eax, eax, 0x01010101
	xor eax, 0x5a5a5a5a
%endmacro

; slot_set: the slot's entry = frame EDX | P | RW (no INVLPG: it was
; not present, as kmap_local's new entry).
%macro slot_set 0
	mov edi, [pte_slot]
	lea eax, [edx + PG_P + PG_RW]
	mov [edi], eax
%endmacro

; slot_clear: the entry cleared and invalidated, as kunmap_local does.
%macro slot_clear 0
	mov edi, [pte_slot]
	mov dword [edi], 0
	invlpg [L_SLOT]
%endmacro

guest_start
	call lib_install_idt
	call pg_install_pf
	call pg_alloc
	mov [dir], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	mov esi, L_SLOT
	mov eax, FRAMES | PG_P | PG_RW
	call pg_map
	call pg_pte_addr
	mov [pte_slot], eax
	mov esi, L_X
	mov eax, FRAMES | PG_P | PG_RW
	call pg_map
	call pg_pte_addr
	mov [pte_x], eax
	mov eax, [dir]
	call pg_enable

group "rounds"
	xor ebx, ebx
.round:
	mov edx, ebx
	and edx, 7
	shl edx, 12
	add edx, FRAMES			; EDX = this round's frame
	slot_set
	; clear_page
	pattern
	mov edi, L_SLOT
	mov ecx, 1024
	cld
	rep stosd
	cmp [edx], eax
	jne .bad_clear
	cmp [edx + 0x800], eax
	jne .bad_clear
	cmp [edx + 0xffc], eax
	jne .bad_clear
	; plain stores and loads
	lea eax, [ebx + 0x1000]
	mov [L_SLOT + 0x10], eax
	cmp [edx + 0x10], eax
	jne .bad_plain
	lea eax, [ebx + 0x2000]
	mov [edx + 0x20], eax
	mov ecx, [L_SLOT + 0x20]
	cmp ecx, eax
	jne .bad_plain
	; copies out of the slot and into it
	mov esi, L_SLOT
	mov edi, BUF
	mov ecx, 1024
	rep movsd
	lea eax, [ebx + 0x1000]
	cmp [BUF + 0x10], eax
	jne .bad_copy
	pattern
	cmp [BUF + 0xffc], eax
	jne .bad_copy
	lea eax, [ebx + 0x3000]
	mov [BUF + 0x1000], eax
	mov [BUF + 0x1004], ebx
	mov esi, BUF + 0x1000
	mov edi, L_SLOT + 0x100
	mov ecx, 2
	rep movsd
	cmp [edx + 0x100], eax
	jne .bad_copy
	cmp [edx + 0x104], ebx
	jne .bad_copy
	; a stack in the slot (interrupts are off)
	mov [saved_esp], esp
	mov esp, L_SLOT + 0x800
	lea eax, [ebx + 0x4000]
	push eax
	pop ecx
	mov esp, [saved_esp]
	cmp ecx, eax
	jne .bad_stack
	cmp [edx + 0x7fc], eax
	jne .bad_stack
	slot_clear
	test ebx, 3
	jnz .next
	pf_arm .resume
.fault:
	mov eax, [L_SLOT]			; cleared: not present
.resume:
	pf_expect L_SLOT, 0, .fault
.next:
	inc ebx
	cmp ebx, NROUNDS
	jb .round
	jmp .rounds_done
.bad_clear:
	fail_now "REP STOSD through the slot missed its frame"
	jmp .rounds_done
.bad_plain:
	fail_now "a MOV through the slot missed its frame"
	jmp .rounds_done
.bad_copy:
	fail_now "REP MOVSD through the slot missed its frame"
	jmp .rounds_done
.bad_stack:
	fail_now "PUSH or POP through the slot missed its frame"
.rounds_done:

group "release"
	; store_slot's MOV reaches the slot, then ordinary RAM 600 times (a
	; run long enough to release an adaptive instruction), then the slot
	; again; every store must land.
	mov edx, FRAMES + 0x3000
	slot_set
	mov edi, L_SLOT + 0x40
	mov eax, 0x51075107
	call store_slot
	check dword [FRAMES + 0x3040], 0x51075107
	mov ebx, 600
.plain:
	mov edi, ebx
	and edi, 3
	shl edi, 12
	lea edi, [edi + ebx * 4 + DATA]
	lea eax, [ebx + 0x6000]
	call store_slot
	cmp [edi], eax
	jne .bad_release
	dec ebx
	jnz .plain
	mov edi, L_SLOT + 0x44
	mov eax, 0x51075108
	call store_slot
	check dword [FRAMES + 0x3044], 0x51075108
	slot_clear
	mov edx, FRAMES + 0x4000
	slot_set
	mov edi, L_SLOT + 0x48
	mov eax, 0x51075109
	call store_slot
	check dword [FRAMES + 0x4048], 0x51075109
	slot_clear
	jmp .release_done
.bad_release:
	fail_now "a released MOV's store to ordinary RAM missed"
.release_done:

group "table"
	; tag each frame, then point L_X at them in turn by writing its entry
	; through the slot, which maps L_X's page table
	xor ebx, ebx
.tag:
	mov eax, ebx
	shl eax, 12
	lea ecx, [ebx + 0x7a90000]
	mov [FRAMES + eax + 0xff0], ecx
	inc ebx
	cmp ebx, 8
	jb .tag
	check dword [L_X + 0xff0], 0x7a90000	; L_X's table now in use
	mov edx, [pte_x]
	and edx, PG_FRAME			; the table's frame
	mov esi, [pte_x]
	and esi, 0xfff				; L_X's entry in it
	mov ebx, 1
.retable:
	slot_set
	mov eax, ebx
	shl eax, 12
	add eax, FRAMES + PG_P + PG_RW
	mov [L_SLOT + esi], eax			; a plain store into the table
	invlpg [L_X]
	lea ecx, [ebx + 0x7a90000]
	cmp [L_X + 0xff0], ecx
	jne .bad_table
	slot_clear
	inc ebx
	cmp ebx, 8
	jb .retable
	; and with a string store, as a kernel's memset of a table
	slot_set
	lea edi, [L_SLOT + esi]
	mov eax, FRAMES + 0x2000 + PG_P + PG_RW
	mov ecx, 1
	rep stosd
	invlpg [L_X]
	check dword [L_X + 0xff0], 0x7a90002
	slot_clear
	jmp .table_done
.bad_table:
	fail_now "an entry written through the slot did not take effect"
.table_done:

group "long"
	mov edx, FRAMES + 0x5000
	slot_set
	mov ebx, 5000
.long:
	mov eax, ebx
	and eax, 0x3ff
	lea ecx, [ebx + 0x9000]
	mov [L_SLOT + eax * 4], ecx
	cmp [FRAMES + 0x5000 + eax * 4], ecx
	jne .bad_long
	cmp [L_SLOT + eax * 4], ecx
	jne .bad_long
	dec ebx
	jnz .long
	slot_clear
	jmp .long_done
.bad_long:
	fail_now "a long-lived slot's store missed its frame"
.long_done:

	call pg_disable
guest_finish

; [EDI] = EAX by one instruction, wherever EDI points.
store_slot:
	mov [edi], eax
	ret

section .bss
dir:		resd 1
pte_slot:	resd 1
pte_x:		resd 1
saved_esp:	resd 1
