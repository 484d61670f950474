; Shadow-paging pressure: more address spaces than the monitor caches
; windows for, more linear pages than its mapping budget, and a loop that
; rewrites one PTE through the identity map hundreds of times (the writing
; instruction turns into an adaptive memory callout under btvm). Every
; value read must be right whatever the monitor evicted in between.
;
; Physical layout (identity mapped by 4 MiB pages 0-16 MiB in every space):
;   0x00800000 + i*4K   page directory of space i (64 spaces)
;   0x00900000 + i*4K   page table of space i for linear 0x40000000
;   0x00A00000 + i*4K   data page of space i: dword i + 0x1000
;   0x00B00000 + k*4K   32 page tables, all mapping the 1024 pages below
;   0x00C00000 + j*4K   data page j: dword j
%define GUEST_NAME "paging_stress"
%include "lib.inc"

SPACES		equ 64
PD_BASE		equ 0x00800000
PT_BASE		equ 0x00900000
DATA_BASE	equ 0x00A00000
WIDE_PT		equ 0x00B00000
WIDE_DATA	equ 0x00C00000
WIDE_TABLES	equ 32
WIDE_LINEAR	equ 0x80000000
SPACE_LINEAR	equ 0x40000000

guest_start
	; --- tables ---------------------------------------------------------
	xor ecx, ecx
.spaces:
	mov edi, ecx
	shl edi, 12
	lea ebx, [edi + PD_BASE]
	; clear the directory
	push ecx
	push edi
	mov edi, ebx
	mov ecx, 1024
	xor eax, eax
	rep stosd
	pop edi
	pop ecx
	mov dword [ebx + 0*4], 0x00000083
	mov dword [ebx + 1*4], 0x00400083
	mov dword [ebx + 2*4], 0x00800083
	mov dword [ebx + 3*4], 0x00C00083
	lea eax, [edi + PT_BASE + 3]
	mov [ebx + (SPACE_LINEAR >> 22) * 4], eax
	lea eax, [edi + DATA_BASE + 3]
	mov [edi + PT_BASE], eax
	lea eax, [ecx + 0x1000]
	mov [edi + DATA_BASE], eax
	inc ecx
	cmp ecx, SPACES
	jb .spaces

	; space 0 also maps 128 MiB at WIDE_LINEAR onto the same 4 MiB
	xor ecx, ecx
.wide_pde:
	mov eax, ecx
	shl eax, 12
	add eax, WIDE_PT + 3
	mov [PD_BASE + (WIDE_LINEAR >> 22) * 4 + ecx * 4], eax
	inc ecx
	cmp ecx, WIDE_TABLES
	jb .wide_pde
	xor ecx, ecx
.wide_pte:
	mov eax, ecx
	and eax, 1023
	shl eax, 12
	add eax, WIDE_DATA
	mov edx, ecx
	and edx, 1023
	mov [eax], edx			; data page j holds j
	or eax, 3
	mov [WIDE_PT + ecx * 4], eax
	inc ecx
	cmp ecx, WIDE_TABLES * 1024
	jb .wide_pte

	mov eax, cr4
	or eax, 0x10			; PSE
	mov cr4, eax
	mov eax, PD_BASE
	mov cr3, eax
	mov eax, cr0
	or eax, 0x80000000
	mov cr0, eax

	; --- many address spaces --------------------------------------------
	group "spaces"
	xor esi, esi			; errors
	mov ebp, 3			; rounds
.round:
	xor ecx, ecx
.each_space:
	mov eax, ecx
	shl eax, 12
	add eax, PD_BASE
	mov cr3, eax
	lea edx, [ecx + 0x1000]
	cmp [SPACE_LINEAR], edx
	je .space_ok
	inc esi
.space_ok:
	inc ecx
	cmp ecx, SPACES
	jb .each_space
	dec ebp
	jnz .round
	check esi, 0

	; --- more linear pages than the mapping budget ----------------------
	group "budget"
	mov eax, PD_BASE
	mov cr3, eax
	xor esi, esi
	mov ebp, 2
.wide_round:
	xor ecx, ecx
.wide_touch:
	mov eax, ecx
	shl eax, 12
	mov edx, ecx
	and edx, 1023
	cmp [eax + WIDE_LINEAR], edx
	je .wide_ok
	inc esi
.wide_ok:
	inc ecx
	cmp ecx, WIDE_TABLES * 1024
	jb .wide_touch
	dec ebp
	jnz .wide_round
	check esi, 0

	; --- one PTE rewritten again and again ------------------------------
	; Space 0's PTE for SPACE_LINEAR points at each space's data page in
	; turn; every read after INVLPG must see the new page.
	group "pte_loop"
	xor esi, esi
	mov ebp, 4
.pte_round:
	xor ecx, ecx
.pte_each:
	mov eax, ecx
	shl eax, 12
	add eax, DATA_BASE + 3
	mov [PT_BASE], eax		; the table page is traced: a write fault, then a callout
	invlpg [SPACE_LINEAR]
	lea edx, [ecx + 0x1000]
	cmp [SPACE_LINEAR], edx
	je .pte_ok
	inc esi
.pte_ok:
	inc ecx
	cmp ecx, SPACES
	jb .pte_each
	dec ebp
	jnz .pte_round
	check esi, 0

	; byte and word writes to the PTE, and a read-modify-write (clear and
	; set P): the adaptive callout carries every width
	group "pte_forms"
	mov dword [PT_BASE], DATA_BASE + 5 * 0x1000 + 3
	invlpg [SPACE_LINEAR]
	check dword [SPACE_LINEAR], 0x1005
	mov ecx, 20
	xor esi, esi
.forms:
	mov byte [PT_BASE + 1], (DATA_BASE + 7 * 0x1000) >> 8 & 0xff
	invlpg [SPACE_LINEAR]
	cmp dword [SPACE_LINEAR], 0x1007
	je .f1
	inc esi
.f1:
	mov word [PT_BASE], ((DATA_BASE + 9 * 0x1000) & 0xffff) | 3
	invlpg [SPACE_LINEAR]
	cmp dword [SPACE_LINEAR], 0x1009
	je .f2
	inc esi
.f2:
	and dword [PT_BASE], ~1		; not present
	invlpg [SPACE_LINEAR]
	or dword [PT_BASE], 1
	invlpg [SPACE_LINEAR]
	cmp dword [SPACE_LINEAR], 0x1009
	je .f3
	inc esi
.f3:
	dec ecx
	jnz .forms
	check esi, 0

	mov eax, cr0
	and eax, 0x7fffffff
	mov cr0, eax
	guest_finish
