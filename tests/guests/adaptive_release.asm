; Adaptive translation marks an instruction that keeps writing page tables
; (4 trace faults) so it runs on callouts (the memory callouts for a MOV,
; the monitor's stack and string callouts for a PUSH and a STOSD), and
; releases it back to its plain translation after a run of accesses to
; ordinary RAM (64 the first time, twice as many after each new mark).
; Three store instructions (store_mov, store_push, store_stos) are each
; driven through every phase, and each of their page-table writes must
; take effect at once whichever translation they have:
;  mark      PTE rewrites through store_at, each read back through the
;            mapping (the frame's tag), a cleared PTE faults
;  release   stores to ordinary RAM through store_at, read back
;  again     PTE rewrites again (a released instruction is plain: its
;            writes trace-fault and it is marked again), then RAM again,
;            then tables again: the mapping follows every write
;  wide      one plain REP STOSD over three page tables in use, more traced
;            pages than the monitor opens for one step: it goes on as an
;            adaptive instruction and every entry takes effect
;  flood     48 writes to a table in use with no access through it (the
;            monitor then drops its shadows and stops tracing it), then
;            the mapping must show the last entry written, and the table,
;            traced again, must still be followed
;  hint_table the marked MOV stores to a page of ordinary RAM (so it
;            goes straight to that page from then on), the page becomes a
;            page table in use, and the same MOV's entry writes there must
;            take effect (the stale hint costs a trace fault, not a write)
;  hint_mmio  the same with L_WIN's page: RAM when the MOV last stored
;            there, the test device's page after a remap: the next store
;            must reach the device (the stale hint is dropped); btvm's
;            test device only, so not under QEMU
;  dead_dir  an address space run once and left: its directory page is
;            then reused as a stack, 20000 PUSHes into it (as a kernel's
;            stack reuses a dead process's directory while the monitor
;            still keeps a window for it); each must land, and the
;            monitor must stop tracing the page (run_adaptive_release.sh
;            counts the exits)
; tests/guests/run_adaptive_release.sh checks from --stats-json that it was
; released and marked again (this guest alone cannot see which it ran).
%define GUEST_NAME "adaptive_release"
%include "lib.inc"
%include "paging.inc"

FRAME_A		equ 0x00d00000		; tagged frames
FRAME_B		equ 0x00d01000
DATA		equ 0x00d10000		; ordinary RAM: 4 pages
L_WIN		equ 0x40000000		; remapped between FRAME_A and FRAME_B
L_WIDE		equ 0x48000000		; 12 MiB through three consecutive tables
L_HINT		equ 0x50000000		; through the page hint_table makes a table
TD		equ 0xfebf0000		; btvm's test device: 256 bytes of scratch

TAG_A		equ 0xaaaa0001
TAG_B		equ 0xbbbb0002

; The stores under test, each [EDI] = EAX by one instruction (one guest
; physical address, whatever it writes); store_at calls the one in
; [store_fn]. Interrupts are off, so store_push may borrow ESP.
section .text
store_mov:
	mov [edi], eax
	ret
store_push:
	mov [saved_esp], esp
	lea esp, [edi + 4]
	push eax
	mov esp, [saved_esp]
	ret
store_stos:
	push edi
	cld
	stosd
	pop edi
	ret
store_at:
	jmp [store_fn]

; remap n: rewrite L_WIN's PTE n times through store_at, alternating the
; frames, and read the tag back through the mapping after each INVLPG.
%macro remap 1
	mov ebx, %1
%%next:
	mov eax, FRAME_A | PG_P | PG_RW
	mov ecx, TAG_A
	test ebx, 1
	jz %%set
	mov eax, FRAME_B | PG_P | PG_RW
	mov ecx, TAG_B
%%set:
	mov edi, [pte_win]
	call store_at
	invlpg [L_WIN]
	mov edx, [L_WIN]
	cmp edx, ecx
	jne %%bad
	dec ebx
	jnz %%next
	jmp %%done
%%bad:
	check edx, ecx
%%done:
%endmacro

; plain n: n stores to ordinary RAM through store_at, each read back,
; each on another of the four pages than the last (a marked MOV that
; stores to the page its callout last found plain goes straight, without
; the callout that counts towards its release: cpu->store_hints).
%macro plain 1
	mov ebx, %1
%%next:
	mov edi, ebx
	and edi, 3
	shl edi, 12
	mov eax, ebx
	shr eax, 2
	and eax, 0x3ff
	lea edi, [edi + eax * 4 + DATA]
	lea eax, [ebx + 0x5000]
	call store_at
	cmp [edi], eax
	jne %%bad
	dec ebx
	jnz %%next
	jmp %%done
%%bad:
	check dword [edi], eax
%%done:
%endmacro

guest_start
	call lib_install_idt
	call pg_install_pf
	mov dword [FRAME_A], TAG_A
	mov dword [FRAME_B], TAG_B
	call pg_alloc
	mov [dir], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	mov esi, L_WIN
	mov eax, FRAME_A | PG_P | PG_RW
	call pg_map
	call pg_pte_addr
	mov [pte_win], eax
	; three page tables side by side for L_WIDE, each entry 0 -> FRAME_B
	call pg_alloc
	mov [wide_pt], eax
	call pg_alloc
	call pg_alloc
	mov ebx, [wide_pt]
	lea eax, [ebx + 2 * 0x1000]
	mov ecx, 3
	mov esi, L_WIDE
.wide_pde:
	mov dword [ebx], FRAME_B | PG_P | PG_RW
	mov edi, [dir]
	call pg_pde_addr
	lea edx, [ebx + PG_P + PG_RW]
	mov [eax], edx
	add ebx, 0x1000
	add esi, 0x400000
	loop .wide_pde
	mov eax, [dir]
	call pg_enable

%macro phases 2
	mov dword [store_fn], %1
group {%2, "_mark"}
	remap 12
	; a cleared entry faults at once
	mov edi, [pte_win]
	xor eax, eax
	call store_at
	invlpg [L_WIN]
	pf_arm %%m_resume
%%m_fault:
	mov eax, [L_WIN]
%%m_resume:
	pf_expect L_WIN, 0, %%m_fault
	remap 2

group {%2, "_release"}
	plain 300

group {%2, "_again"}
	remap 12
	plain 600
	remap 12
	mov edi, [pte_win]
	xor eax, eax
	call store_at
	invlpg [L_WIN]
	pf_arm %%a_resume
%%a_fault:
	mov eax, [L_WIN]
%%a_resume:
	pf_expect L_WIN, 0, %%a_fault
	remap 3
	check dword [L_WIN], TAG_B

%endmacro

	check dword [L_WIN], TAG_A
	phases store_mov, "mov"
	phases store_push, "push"
	phases store_stos, "stos"

group "wide"
	check dword [L_WIDE], TAG_B		; the three tables now traced
	check dword [L_WIDE + 0x400000], TAG_B
	check dword [L_WIDE + 0x800000], TAG_B
	mov edi, [wide_pt]
	mov ecx, 3 * 1024
	mov eax, FRAME_A | PG_P | PG_RW
	cld
	rep stosd				; every entry of the three -> FRAME_A
	check ecx, 0
	mov eax, [wide_pt]
	add eax, 3 * 0x1000
	check edi, eax
	invlpg [L_WIDE]
	invlpg [L_WIDE + 0x400000]
	invlpg [L_WIDE + 0x800000]
	invlpg [L_WIDE + 0xbff000]
	check dword [L_WIDE], TAG_A
	check dword [L_WIDE + 0x400000], TAG_A
	check dword [L_WIDE + 0x800000], TAG_A
	check dword [L_WIDE + 0xbff000], TAG_A

group "flood"
	mov esi, [pte_win]
	mov ebx, 48
.flood:
	mov eax, FRAME_A | PG_P | PG_RW
	test ebx, 1
	jz .flood_set
	mov eax, FRAME_B | PG_P | PG_RW
.flood_set:
	mov [esi], eax				; no INVLPG, no access between
	dec ebx
	jnz .flood
	invlpg [L_WIN]
	check dword [L_WIN], TAG_B		; the last write (EBX = 1: odd)
	mov dword [esi], FRAME_A | PG_P | PG_RW
	invlpg [L_WIN]
	check dword [L_WIN], TAG_A
	mov dword [esi], 0
	invlpg [L_WIN]
	pf_arm .fl_resume
.fl_fault:
	mov eax, [L_WIN]
.fl_resume:
	pf_expect L_WIN, 0, .fl_fault
	mov dword [esi], FRAME_B | PG_P | PG_RW
	invlpg [L_WIN]
	check dword [L_WIN], TAG_B

; The hint groups change tables through store_push, marked too, so that
; no plain instruction's trace fault (which forgets every hint) comes
; between the MOV's last store and the one on a stale hint.
group "hint_table"
	mov dword [store_fn], store_push
	remap 12				; PUSH marked (again)
	mov dword [store_fn], store_mov
	remap 12				; MOV marked (again)
	call pg_alloc
	mov [hint_pt], eax
	mov edi, eax
	mov eax, 0x1234
	call store_at				; plain RAM: the MOV's hint
	mov eax, 0x5678
	call store_at				; straight
	check dword [edi], 0x5678
	mov dword [edi], FRAME_A | PG_P | PG_RW	; entry 0: not a table yet
	mov esi, L_HINT
	mov edi, [dir]
	call pg_pde_addr
	mov edi, eax
	mov eax, [hint_pt]
	add eax, PG_P + PG_RW
	mov dword [store_fn], store_push
	call store_at				; the directory entry
	mov dword [store_fn], store_mov
	check dword [L_HINT], TAG_A		; a fill through it: traced
	mov ebx, 6
.ht_next:
	mov edi, [hint_pt]
	mov eax, FRAME_B | PG_P | PG_RW
	mov ecx, TAG_B
	test ebx, 1
	jz .ht_set
	mov eax, FRAME_A | PG_P | PG_RW
	mov ecx, TAG_A
.ht_set:
	call store_at
	invlpg [L_HINT]
	mov edx, [L_HINT]
	cmp edx, ecx
	jne .ht_bad
	dec ebx
	jnz .ht_next
	jmp .ht_done
.ht_bad:
	check edx, ecx
.ht_done:

group "hint_mmio"
	mov dword [store_fn], store_push
	remap 12				; PUSH marked; L_WIN -> FRAME_A or B
	mov dword [store_fn], store_mov
	remap 12				; MOV marked
	mov edi, L_WIN + 0x40
	mov eax, 0x600d
	call store_at				; RAM: the hint is L_WIN's page
	mov eax, 0x700d
	call store_at
	check dword [L_WIN + 0x40], 0x700d
	mov edi, [pte_win]
	mov eax, TD | PG_P | PG_RW | PG_PCD
	mov dword [store_fn], store_push
	call store_at
	mov dword [store_fn], store_mov
	invlpg [L_WIN]
	mov esi, [L_WIN + 0x100]		; the device's write count
	mov edi, L_WIN + 0x40
	mov eax, 0xdef1ce
	call store_at				; the device's page now
	check dword [L_WIN + 0x40], 0xdef1ce
	mov eax, [L_WIN + 0x100]
	sub eax, esi
	check eax, 1
	mov edi, [pte_win]
	mov dword [edi], FRAME_B | PG_P | PG_RW
	invlpg [L_WIN]
	check dword [L_WIN], TAG_B

group "dead_dir"
	call pg_alloc
	mov [dir2], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	mov eax, [dir2]
	mov cr3, eax				; a second address space, run once
	check dword [FRAME_A], TAG_A
	mov eax, [dir]
	mov cr3, eax				; and left for good
	mov dword [store_fn], store_push
	mov ebx, 20000
.dd_next:
	mov edi, ebx
	and edi, 0x3ff
	shl edi, 2
	add edi, [dir2]
	lea eax, [ebx + 0x7000]
	call store_at
	cmp [edi], eax
	jne .dd_bad
	dec ebx
	jnz .dd_next
	jmp .dd_done
.dd_bad:
	check dword [edi], eax
.dd_done:
	check dword [L_WIN], TAG_B		; the live space is as it was

	call pg_disable
guest_finish

section .bss
dir:		resd 1
pte_win:	resd 1
store_fn:	resd 1
wide_pt:	resd 1
saved_esp:	resd 1
dir2:		resd 1
hint_pt:	resd 1
