; Loops across a page boundary (paging.inc): a translator that lets one
; block go on into the next linear page (and chains its branches within
; it) must still run, in every address space and after every remapping,
; the code the next page holds there and then.
;
; Two pairs of linear pages, each a first page whose frame every mapping
; shares and a second page mapped to one of two frames (A, B) whose code
; differs:
;	L1 (F_P1), L1 + 4 KiB: F_P2A in dir0, F_P2B in dir1
;	L3 (F_P3), L3 + 4 KiB: F_P4A in dir0, F_P4B in dir1
;	L5 (F_P1), L5 + 4 KiB: F_P2B, in dir0 (L1's first frame at another
;	linear address, followed by the other second frame)
; Case "straddle" (L1): a loop from 0xff0 on the first page whose MOV EDX,
; imm32 has two immediate bytes on each page, then ADD (A) or SUB (B) EAX,
; EDX, DEC ECX and JNZ back to the first page; entered by a JMP from a
; block on the first page alone. Case "boundary" (L3): a loop whose last
; instruction on the first page ends at its last byte; the second page
; XORs with its own constant (A or B), loops back, then JMPs forward on
; the second page to a tail that adds its own constant (A or B). Each call
; runs N iterations, so every branch has been chained long before the
; next call. The expected values are worked out by the assembler.
; Groups (ROUNDS rounds each):
;  straddle  L1 under dir0 (A) and dir1 (B), and L5 (B), alternating
;  boundary  L3 under dir0 (A) and dir1 (B), alternating
;  remap     dir0's second page of L1, then of L3, remapped to B and back
;            (PTE write, INVLPG) between calls
;  mixed     all of the above interleaved, CR3 changing between calls
; Under QEMU:
;	qemu-system-i386 -accel tcg -kernel page_span.elf -serial stdio
;		-display none -device isa-debug-exit,iobase=0xf4,iosize=4
;		-no-reboot   (one line; exit status 33)
%define GUEST_NAME "page_span"
%include "lib.inc"
%include "paging.inc"

; Frames (inside the identity map, above the page-table pool).
F_P1		equ 0x00d00000
F_P2A		equ 0x00d01000
F_P2B		equ 0x00d02000
F_P3		equ 0x00d03000
F_P4A		equ 0x00d04000
F_P4B		equ 0x00d05000

L1		equ 0x40000000
L2		equ L1 + 0x1000
L3		equ 0x40010000
L4		equ L3 + 0x1000
L5		equ 0x40400000

N		equ 500
ROUNDS		equ 4

ENTRY		equ 0xf00		; both cases' entry on their first page
SA_LOOP		equ 0xff0
SB_LOOP		equ 0xff8
IMM_LO		equ 0x1234		; the straddling immediate's bytes on the first page
IMM_HI_A	equ 0x0005		; ... and on the second
IMM_HI_B	equ 0x0007
K_A		equ 0x55
K_B		equ 0x2a
T_A		equ 0x1000
T_B		equ 0x2000

; The expected results.
%assign ea_add 0
%assign ea_sub 0
%assign c N
%rep N
%assign ea_add (ea_add + c + 3 + 2 * c + 0x11111111 + ((IMM_HI_A << 16) | IMM_LO)) & 0xffffffff
%assign ea_sub (ea_sub + c + 3 + 2 * c + 0x11111111 - ((IMM_HI_B << 16) | IMM_LO)) & 0xffffffff
%assign c c - 1
%endrep
%assign eb_a 1
%assign eb_b 1
%assign c N
%rep N
%assign eb_a ((((eb_a + c) * 3 + 7) & 0xffffffff) ^ K_A)
%assign eb_b ((((eb_b + c) * 3 + 7) & 0xffffffff) ^ K_B)
%assign c c - 1
%endrep
EXP_A_ADD	equ ea_add
EXP_A_SUB	equ ea_sub
EXP_B_A		equ (eb_a + T_A) & 0xffffffff
EXP_B_B		equ (eb_b + T_B) & 0xffffffff

; call_at dir, entry: CR3 = [dir], ECX = N, call entry; EAX = its result.
%macro call_at 2
	mov eax, [%1]
	mov cr3, eax
	mov ecx, N
	mov ebx, %2
	call ebx
%endmacro

; remap page, frame: dir0's PTE of linear page = frame (present), then
; INVLPG of it.
%macro remap 2
	pte_of %1
	mov dword [eax], %2 | PG_P
	invlpg [%1]
%endmacro

guest_start
	call lib_install_idt
	call pg_install_pf
	call build

group "straddle"
	mov dword [round], ROUNDS
.straddle:
	call_at dir0, L1 + ENTRY
	check eax, EXP_A_ADD
	call_at dir1, L1 + ENTRY
	check eax, EXP_A_SUB
	call_at dir0, L5 + ENTRY
	check eax, EXP_A_SUB
	dec dword [round]
	jnz .straddle

group "boundary"
	mov dword [round], ROUNDS
.boundary:
	call_at dir0, L3 + ENTRY
	check eax, EXP_B_A
	call_at dir1, L3 + ENTRY
	check eax, EXP_B_B
	dec dword [round]
	jnz .boundary

group "remap"
	mov dword [round], ROUNDS
.remap:
	call_at dir0, L1 + ENTRY
	check eax, EXP_A_ADD
	remap L2, F_P2B
	call_at dir0, L1 + ENTRY
	check eax, EXP_A_SUB
	remap L2, F_P2A
	call_at dir0, L3 + ENTRY
	check eax, EXP_B_A
	remap L4, F_P4B
	call_at dir0, L3 + ENTRY
	check eax, EXP_B_B
	remap L4, F_P4A
	dec dword [round]
	jnz .remap

group "mixed"
	mov dword [round], ROUNDS
.mixed:
	call_at dir1, L3 + ENTRY
	check eax, EXP_B_B
	call_at dir0, L5 + ENTRY
	check eax, EXP_A_SUB
	call_at dir1, L1 + ENTRY
	check eax, EXP_A_SUB
	call_at dir0, L3 + ENTRY
	check eax, EXP_B_A
	remap L2, F_P2B
	call_at dir0, L1 + ENTRY
	check eax, EXP_A_SUB
	remap L2, F_P2A
	call_at dir0, L1 + ENTRY
	check eax, EXP_A_ADD
	dec dword [round]
	jnz .mixed
	guest_finish

; copy_page source, frame
%macro copy_page 2
	mov esi, %1
	mov edi, %2
	mov ecx, 4096
	rep movsb
%endmacro

; map_page linear, frame: in the directory at EDI, supervisor, read-only.
%macro map_page 2
	mov esi, %1
	mov eax, %2 | PG_P
	call pg_map
%endmacro

; build: the frames, both directories, paging on (CR3 = dir0).
build:
	pushad
	cld
	copy_page t_p1, F_P1
	copy_page t_p2a, F_P2A
	copy_page t_p2b, F_P2B
	copy_page t_p3, F_P3
	copy_page t_p4a, F_P4A
	copy_page t_p4b, F_P4B
	call pg_alloc
	mov [dir0], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	map_page L1, F_P1
	map_page L2, F_P2A
	map_page L3, F_P3
	map_page L4, F_P4A
	map_page L5, F_P1
	map_page L5 + 0x1000, F_P2B
	call pg_alloc
	mov [dir1], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	map_page L1, F_P1
	map_page L2, F_P2B
	map_page L3, F_P3
	map_page L4, F_P4B
	mov eax, [dir0]
	call pg_enable
	popad
	ret

; The code, copied to the frames: position-independent, each second page
; assembled as if right after its first page (its branches back are
; relative), so both of its versions follow the first page alike.
section .rodata
t_p1:
	times ENTRY db 0xcc
	xor eax, eax
	jmp near t_p1 + SA_LOOP			; from a block of this page alone
	times SA_LOOP - ($ - t_p1) db 0xcc
	add eax, ecx				; 0xff0
	add eax, byte 3				; 0xff2
	lea eax, [eax + ecx * 2]		; 0xff5
	add eax, strict dword 0x11111111	; 0xff8
	db 0xba, IMM_LO & 0xff, IMM_LO >> 8	; 0xffd: MOV EDX, imm32 across
%if $ - t_p1 != 4096
%error "the straddle's first page is not 4 KiB"
%endif

; second_page_a imm_hi, opcode (0x01 ADD, 0x29 SUB of EDX from EAX)
%macro second_page_a 2
%%base:
	dw %1
	db %2, 0xd0
	dec ecx
	jnz near %%base - 0x1000 + SA_LOOP
	ret
	times 4096 - ($ - %%base) db 0xcc
%endmacro
t_p2a:	second_page_a IMM_HI_A, 0x01
t_p2b:	second_page_a IMM_HI_B, 0x29

t_p3:
	times ENTRY db 0xcc
	mov eax, 1
	jmp near t_p3 + SB_LOOP
	times SB_LOOP - ($ - t_p3) db 0xcc
	add eax, ecx				; 0xff8
	imul eax, eax, byte 3			; 0xffa
	add eax, byte 7				; 0xffd, its last byte the page's
%if $ - t_p3 != 4096
%error "the boundary's first page is not 4 KiB"
%endif

; second_page_b k, t
%macro second_page_b 2
%%base:
	xor eax, byte %1
	dec ecx
	jnz near %%base - 0x1000 + SB_LOOP
	jmp short %%tail			; forward, on this page
	times 0x40 - ($ - %%base) db 0xcc
%%tail:
	add eax, strict dword %2
	ret
	times 4096 - ($ - %%base) db 0xcc
%endmacro
t_p4a:	second_page_b K_A, T_A
t_p4b:	second_page_b K_B, T_B

section .bss
alignb 4
dir0:	resd 1
dir1:	resd 1
round:	resd 1
