; String instructions btvm has made adaptive (src/cpu/callout_string.c):
; each instruction under test lives in a subroutine of its own (REP
; STOSD/STOSW/STOSB, REP MOVSD/MOVSW/MOVSB, REP FS MOVSD, plain STOSD and
; MOVSD), is run once on the btvm test device so that btvm marks it and
; retranslates it as the string callout, and is then run on RAM, where
; forward MOVS and STOS with paging on go a page at a time (string_bulk)
; and everything else element by element. Every result is checked exactly
; against the SDM (Vol. 2B MOVS/STOS/REP, Vol. 3A 4.10 and 6.15 #PF):
;  mark     the device gets each element (one write each), the registers
;           step as on RAM; skipped when the device's ID register does not
;           read TESTDEV_MAGIC (QEMU has no such device): the btvm tests
;           want the line saying it was there
;  fill     REP STOSD/STOSW/STOSB over several pages mapped to frames in
;           reverse order, unaligned start and end, an element straddling
;           a page boundary, more elements than one callout moves, ECX = 0
;           (nothing written, EDI kept), a plain STOSD straddling two pages
;  copy     REP MOVSD/MOVSW/MOVSB between such regions with different page
;           offsets (source and destination straddling), ECX = 0, a plain
;           MOVSD; the source left as it was
;  large    a fill and a copy inside a 4 MiB page (CR4.PSE), its A and D
;  segs     REP STOSD with a based ES, REP MOVSD with an FS source too
;  overlap  dst = src + 1 and src + 3 (MOVSB, MOVSW, MOVSD): the pattern
;           replicated element by element as hardware does (checked against
;           a MOV loop and, for MOVSB, against the one byte it must be);
;           dst < src (a forward memmove); DF = 1 with dst > src, and a
;           fill and a copy downwards (DF = 1 goes element by element)
;  alias    source and destination two linear aliases of the same frames:
;           the same bytes, physically dst = src + 1, + 3, + 0x800, and
;           dst < src
;  fault    #PF in the middle of a fill or a copy: destination or source
;           running into a not-present page, an element straddling into it
;           (CR2 = the first byte of the missing page, nothing of the
;           element written), after whole pages were moved; ECX/ESI/EDI
;           count exactly the elements done, memory before the fault
;           written and after it untouched; a fix-up maps the page and IRET
;           restarts the instruction, which completes. A read-only page
;           with CR0.WP = 1 (P|W) the same way, and no fault with WP = 0.
;           Accessed and dirty bits of the pages moved
;  traced   REP MOVSD/STOSD rewriting PTEs of the table in use (to other
;           frames, cleared, not present to present without INVLPG); REP
;           MOVSB/MOVSD/STOSB/STOSW over code that already ran, directly
;           and through a writable alias: the next call runs the new code;
;           a REP STOSB (marked) rewriting the MOV right after it
;  user     at CPL 3, REP STOSD in a user page (no fault) and running into
;           a supervisor page (#PF U|W|P, exact progress)
;  wrap     REP STOSD running past 4 GiB to linear 0 (EDI wraps); REP
;           STOSB/STOSW of 65,536 elements and more (the plain
;           translation's passes)
;  off      paging off: the same subroutines on physical memory
;
; Memory: the kernel at 1 MiB, page tables from paging.inc's pool at
; 12 MiB, test frames at 13 MiB (FRAME(n)), all inside the 16 MiB every
; address space maps 1:1; the regions under test at 0x40000000 (one page
; table, T0).
%define GUEST_NAME "string_bulk"
%include "lib.inc"
%include "paging.inc"
%include "rings.inc"

TESTDEV		equ 0xfebf0000		; btvm's test device: 256-byte scratch array
TESTDEV_WRITES	equ TESTDEV + 0x100	; RO: write accesses so far
TESTDEV_ID	equ TESTDEV + 0x10c	; RO: TESTDEV_MAGIC
TESTDEV_MAGIC	equ 0x7e57de71

FRAME_BASE	equ 0x00d00000
%define FRAME(n) (FRAME_BASE + (n) * 0x1000)

; the byte fill_seq writes at index i: not periodic within 64 KiB pages
%define SEQ(i) ((((i) & 0xffff) + (((i) & 0xffff) >> 8) * 0x35) & 0xff)
%define SEQ4(i) (SEQ(i) * 0x01010101)
BG		equ 0xee		; background byte
BG4		equ 0xeeeeeeee

; Linear layout (all under PDE 0x100, page table T0)
L_A		equ 0x40000000		; 8 pages -> FRAME(7) .. FRAME(0)
L_B		equ 0x40010000		; 8 pages -> FRAME(8 + (3 * i) % 8)
L_E		equ 0x40020000		; -> FRAME(16); next page not present (fix-up 17)
L_S		equ 0x40022000		; -> FRAME(18); next page not present (fix-up 19)
L_W		equ 0x40024000		; -> FRAME(20); next page FRAME(21) read-only
L_F		equ 0x40026000		; 2 pages -> FRAME(22, 23); the third not present
L_C		equ 0x40030000		; 2 pages -> FRAME(24, 25)
L_D		equ 0x40032000		; 2 pages -> FRAME(24, 25): alias of L_C
L_C2		equ 0x40034000		; 2 pages -> FRAME(26, 27): reference pair
L_D2		equ 0x40036000		; 2 pages -> FRAME(26, 27)
L_G		equ 0x40040000		; 4 pages -> FRAME(28..31), PTEs rewritten
L_X		equ 0x40050000		; -> FRAME(40), writable alias of the code page
L_BIG		equ 0x80000000		; a 4 MiB page -> BIG
BIG		equ 0x00400000
CPUID_PSE	equ 1 << 3
L_U		equ 0x40060000		; -> FRAME(41) user; next -> FRAME(42) supervisor
CODE		equ FRAME(40)		; code rewritten by string instructions
CODE2		equ FRAME(46)		; a REP STOSB rewriting the next instruction
W_BIG		equ 0x00600000		; 192 KiB of the identity map (group wrap)




; map0 linear, pte: map one page in dir0 and invalidate it.
%macro map0 2
	push edi
	push esi
	push eax
	mov edi, [dir0]
	pg_map_page %1, %2
	invlpg [esi]
	pop eax
	pop esi
	pop edi
%endmacro

; want_pat addr, len, pattern, width: the len bytes at addr repeat the
; width low bytes of pattern.
%macro want_pat 4
	mov esi, %1
	mov ecx, %2
	mov ebx, %3
	mov edx, %4
	call cmp_pat
	check eax, -1
%endmacro

; want_bg addr, len: the background byte all along.
%macro want_bg 2
	want_pat %1, %2, BG4, 1
%endmacro

; want_seq addr, len, index: the bytes fill_seq wrote from index on.
%macro want_seq 3
	mov esi, %1
	mov ecx, %2
	mov edx, %3
	call cmp_seq
	check eax, -1
%endmacro

; want_same a, b, len: the len bytes at a and at b are equal.
%macro want_same 3
	mov esi, %1
	mov edi, %2
	mov ecx, %3
	call cmp_mem
	check eax, -1
%endmacro

; set_bg addr, len / set_seq addr, len, index
%macro set_bg 2
	mov edi, %1
	mov ecx, %2
	mov al, BG
	call memset_b
%endmacro
%macro set_seq 3
	mov edi, %1
	mov ecx, %2
	mov edx, %3
	call fill_seq
%endmacro

; run sub, esi, edi, ecx: call a subroutine under test with those
; registers (EAX as it is).
%macro run 4
	mov esi, %2
	mov edi, %3
	mov ecx, %4
	call %1
%endmacro

; ref width, step, esi, edi, ecx: the same move done with MOV, element by
; element (the reference the overlapping copies are compared with).
%macro ref 5
	mov edx, %1
	mov ebx, %2
	mov esi, %3
	mov edi, %4
	mov ecx, %5
	call ref_movs
%endmacro

guest_start
	call lib_install_idt
	call pg_install_pf
	call rings_setup
	cld
	mov edi, FRAME(0)
	mov ecx, 48 * 1024
	xor eax, eax
	rep stosd

	call pg_alloc
	mov [dir0], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	pg_map_page TESTDEV, TESTDEV | PG_P | PG_RW | PG_PCD
	xor ecx, ecx
.map_ab:
	lea esi, [ecx * 4]
	shl esi, 10
	add esi, L_A
	mov eax, 7
	sub eax, ecx
	shl eax, 12
	add eax, FRAME(0) | PG_P | PG_RW
	call pg_map
	lea eax, [ecx * 2 + ecx]
	and eax, 7
	add eax, 8
	shl eax, 12
	add eax, FRAME(0) | PG_P | PG_RW
	add esi, L_B - L_A
	call pg_map
	inc ecx
	cmp ecx, 8
	jb .map_ab
	pg_map_page L_E, FRAME(16) | PG_P | PG_RW
	pg_map_page L_S, FRAME(18) | PG_P | PG_RW
	pg_map_page L_W, FRAME(20) | PG_P | PG_RW
	pg_map_page L_W + 0x1000, FRAME(21) | PG_P
	pg_map_page L_F, FRAME(22) | PG_P | PG_RW
	pg_map_page L_F + 0x1000, FRAME(23) | PG_P | PG_RW
	pg_map_page L_C, FRAME(24) | PG_P | PG_RW
	pg_map_page L_C + 0x1000, FRAME(25) | PG_P | PG_RW
	pg_map_page L_D, FRAME(24) | PG_P | PG_RW
	pg_map_page L_D + 0x1000, FRAME(25) | PG_P | PG_RW
	pg_map_page L_C2, FRAME(26) | PG_P | PG_RW
	pg_map_page L_C2 + 0x1000, FRAME(27) | PG_P | PG_RW
	pg_map_page L_D2, FRAME(26) | PG_P | PG_RW
	pg_map_page L_D2 + 0x1000, FRAME(27) | PG_P | PG_RW
	pg_map_page L_G, FRAME(28) | PG_P | PG_RW
	pg_map_page L_G + 0x1000, FRAME(29) | PG_P | PG_RW
	pg_map_page L_G + 0x2000, FRAME(30) | PG_P | PG_RW
	pg_map_page L_G + 0x3000, FRAME(31) | PG_P | PG_RW
	pg_map_page L_X, CODE | PG_P | PG_RW
	pg_map_page L_U, FRAME(41) | PG_P | PG_RW | PG_US
	pg_map_page L_U + 0x1000, FRAME(42) | PG_P | PG_RW
	mov eax, [dir0]
	call pg_enable

; ---------------------------------------------------------------- mark
group "mark"
	set_seq src_buf, 64, 0
%ifdef PLAIN
	; string_bulk_plain: nothing marked, so every group below runs the
	; plain translation
	mov esi, s_plain
	call lib_puts
	call lib_newline
	jmp mark_done
%endif
	cmp dword [TESTDEV_ID], TESTDEV_MAGIC
	je .dev
	mov esi, s_nodev
	call lib_puts
	call lib_newline
	jmp mark_done
.dev:
	mov esi, s_dev
	call lib_puts
	call lib_newline
	; twice each: the first run makes btvm mark the instruction, the
	; second runs through the callout, one device write per element
%rep 2
	mov ebp, [TESTDEV_WRITES]
	mov eax, 0x11223344
	run s_rep_stosd, 0, TESTDEV, 4
	check ecx, 0
	check edi, TESTDEV + 16
	check dword [TESTDEV + 12], 0x11223344
	mov eax, 0x55667788
	run s_rep_stosw, 0, TESTDEV + 0x10, 6
	check ecx, 0
	check edi, TESTDEV + 0x1c
	check dword [TESTDEV + 0x18], 0x77887788
	mov eax, 0x99
	run s_rep_stosb, 0, TESTDEV + 0x20, 5
	check ecx, 0
	check edi, TESTDEV + 0x25
	check dword [TESTDEV + 0x21], 0x99999999
	run s_rep_movsd, src_buf, TESTDEV + 0x40, 4
	check ecx, 0
	check esi, src_buf + 16
	check edi, TESTDEV + 0x50
	check dword [TESTDEV + 0x4c], 0x0f0e0d0c
	run s_rep_movsw, src_buf, TESTDEV + 0x60, 3
	check ecx, 0
	check esi, src_buf + 6
	check edi, TESTDEV + 0x66
	run s_rep_movsb, src_buf, TESTDEV + 0x80, 7
	check ecx, 0
	check esi, src_buf + 7
	check edi, TESTDEV + 0x87
	mov eax, 0xa1b2c3d4
	run s_stosd, 0, TESTDEV + 0xa0, 0
	check edi, TESTDEV + 0xa4
	check dword [TESTDEV + 0xa0], 0xa1b2c3d4
	run s_movsd, src_buf + 8, TESTDEV + 0xa4, 0
	check esi, src_buf + 12
	check edi, TESTDEV + 0xa8
	mov eax, [TESTDEV_WRITES]
	sub eax, ebp
	check eax, 4 + 6 + 5 + 4 + 3 + 7 + 1 + 1
%endrep
	; REP MOVSD with an FS source and a based ES (SEL_GS)
	set_seq L_B, 0x40, 0
	push es
	push SEL_GS
	pop es
	run s_fs_rep_movsd, L_B - FS_BASE, TESTDEV + 0xc0 - GS_BASE, 4
	pop es
	check ecx, 0
	check esi, L_B - FS_BASE + 16
	check edi, TESTDEV + 0xd0 - GS_BASE
	check dword [TESTDEV + 0xcc], 0x0f0e0d0c
	; what the device holds, compared with the source through MOV
	want_same src_buf, TESTDEV + 0x40, 16
	want_same src_buf, TESTDEV + 0x60, 6
	want_same src_buf, TESTDEV + 0x80, 7
	want_same src_buf + 8, TESTDEV + 0xa4, 4
mark_done:

; ---------------------------------------------------------------- fill
group "fill"
	; REP STOSD from 0xff6: the element at 0xffe straddles pages 0 and 1
	; (FRAME(7) and FRAME(6)); 0xc49 dwords end at 0x411a
	set_bg L_A, 0x8000
	mov eax, 0x44332211
	run s_rep_stosd, 0, L_A + 0xff6, 0xc49
	check ecx, 0
	check edi, L_A + 0xff6 + 0xc49 * 4
	want_bg L_A, 0xff6
	want_pat L_A + 0xff6, 0xc49 * 4, 0x44332211, 4
	want_bg L_A + 0xff6 + 0xc49 * 4, 0x8000 - 0xff6 - 0xc49 * 4
	check dword [FRAME(7) + 0xffc], 0x22114433
	check dword [FRAME(6)], 0x22114433
	check dword [FRAME(3) + 0x118], 0xeeee4433
	; REP STOSB, odd start and end
	set_bg L_A, 0x8000
	mov eax, 0xffffff5a
	run s_rep_stosb, 0, L_A + 0x123, 0x2345
	check ecx, 0
	check edi, L_A + 0x123 + 0x2345
	check eax, 0xffffff5a
	want_bg L_A, 0x123
	want_pat L_A + 0x123, 0x2345, 0x5a, 1
	want_bg L_A + 0x123 + 0x2345, 0x8000 - 0x123 - 0x2345
	; REP STOSW from 0x1fff: the first word straddles pages 1 and 2
	set_bg L_A, 0x8000
	mov eax, 0xbeef
	run s_rep_stosw, 0, L_A + 0x1fff, 0x1801
	check ecx, 0
	check edi, L_A + 0x1fff + 0x3002
	want_bg L_A, 0x1fff
	want_pat L_A + 0x1fff, 0x3002, 0xbeef, 2
	want_bg L_A + 0x1fff + 0x3002, 0x8000 - 0x1fff - 0x3002
	check dword [FRAME(6) + 0xffc], 0xefeeeeee
	check dword [FRAME(5)], 0xefbeefbe
	; all 8 pages, 0x2000 dwords: more than one callout moves
	set_bg L_A, 0x8000
	mov eax, 0x0badcafe
	run s_rep_stosd, 0, L_A, 0x2000
	check ecx, 0
	check edi, L_A + 0x8000
	want_pat L_A, 0x8000, 0x0badcafe, 4
	check dword [FRAME(0) + 0xffc], 0x0badcafe
	; ECX = 0: nothing written, EDI kept
	set_bg L_A, 0x8000
	mov eax, 0x12345678
	run s_rep_stosd, 0, L_A + 0x100, 0
	check ecx, 0
	check edi, L_A + 0x100
	run s_rep_stosb, 0, L_A + 0x100, 0
	check edi, L_A + 0x100
	run s_rep_stosw, 0, L_A + 0x100, 0
	check edi, L_A + 0x100
	want_bg L_A, 0x2000
	; plain STOSD straddling pages 2 and 3 (ECX ignored)
	mov eax, 0x87654321
	run s_stosd, 0, L_A + 0x2ffe, 77
	check ecx, 77
	check edi, L_A + 0x3002
	check dword [FRAME(5) + 0xffc], 0x4321eeee
	check dword [FRAME(4)], 0xeeee8765
	want_bg L_A, 0x2ffe
	want_bg L_A + 0x3002, 0x1000

; ---------------------------------------------------------------- copy
group "copy"
	set_seq L_B, 0x8000, 0
	; REP MOVSD, source at offset 0x3f5, destination at 0xffd (its fourth
	; element straddles), 16 KiB
	set_bg L_A, 0x8000
	run s_rep_movsd, L_B + 0x3f5, L_A + 0xffd, 0x1000
	check ecx, 0
	check esi, L_B + 0x43f5
	check edi, L_A + 0x4ffd
	want_bg L_A, 0xffd
	want_seq L_A + 0xffd, 0x4000, 0x3f5
	want_bg L_A + 0x4ffd, 0x3003
	; REP MOVSB
	set_bg L_A, 0x8000
	run s_rep_movsb, L_B + 0x777, L_A + 0x1001, 0x3333
	check ecx, 0
	check esi, L_B + 0x777 + 0x3333
	check edi, L_A + 0x1001 + 0x3333
	want_bg L_A, 0x1001
	want_seq L_A + 0x1001, 0x3333, 0x777
	want_bg L_A + 0x1001 + 0x3333, 0x8000 - 0x1001 - 0x3333
	; REP MOVSW, the source's first element straddles
	set_bg L_A, 0x8000
	run s_rep_movsw, L_B + 0xfff, L_A + 0x10, 0x900
	check ecx, 0
	check esi, L_B + 0xfff + 0x1200
	check edi, L_A + 0x10 + 0x1200
	want_bg L_A, 0x10
	want_seq L_A + 0x10, 0x1200, 0xfff
	want_bg L_A + 0x1210, 0x8000 - 0x1210
	; ECX = 0
	set_bg L_A, 0x2000
	run s_rep_movsd, L_B, L_A, 0
	check ecx, 0
	check esi, L_B
	check edi, L_A
	run s_rep_movsb, L_B, L_A, 0
	check esi, L_B
	check edi, L_A
	want_bg L_A, 0x2000
	; plain MOVSD, both straddling
	run s_movsd, L_B + 0x1ffe, L_A + 0xffd, 5
	check ecx, 5
	check esi, L_B + 0x2002
	check edi, L_A + 0x1001
	want_bg L_A, 0xffd
	want_seq L_A + 0xffd, 4, 0x1ffe
	want_bg L_A + 0x1001, 0xfff
	; the source is as it was
	want_seq L_B, 0x8000, 0

; ---------------------------------------------------------------- segs
group "segs"
	; the same with segment bases: ES = SEL_GS (base GS_BASE) for the
	; destination, an FS (base FS_BASE) source
	set_bg L_A, 0x8000
	push es
	push SEL_GS
	pop es
	mov eax, 0x13579bdf
	run s_rep_stosd, 0, L_A + 0x7fe - GS_BASE, 0x500
	pop es
	check ecx, 0
	check edi, L_A + 0x7fe + 0x1400 - GS_BASE
	want_bg L_A, 0x7fe
	want_pat L_A + 0x7fe, 0x1400, 0x13579bdf, 4
	want_bg L_A + 0x1bfe, 0x8000 - 0x1bfe
	set_seq L_B, 0x8000, 0
	set_bg L_A, 0x8000
	push es
	push SEL_GS
	pop es
	run s_fs_rep_movsd, L_B + 0x123 - FS_BASE, L_A + 0xffd - GS_BASE, 0x900
	pop es
	check ecx, 0
	check esi, L_B + 0x123 + 0x2400 - FS_BASE
	check edi, L_A + 0xffd + 0x2400 - GS_BASE
	want_bg L_A, 0xffd
	want_seq L_A + 0xffd, 0x2400, 0x123
	want_bg L_A + 0x33fd, 0x8000 - 0x33fd

; ---------------------------------------------------------------- large
group "large"
	; a 4 MiB page (CR4.PSE) at L_BIG -> BIG: a fill across several of
	; its 4 KiB pieces, a copy from 4 KiB pages into it; its PDE's A and D
	mov eax, 1
	cpuid
	and edx, CPUID_PSE
	check edx, CPUID_PSE
	jz large_done
	mov eax, CR4_PSE
	call pg_set_cr4
	set_bg BIG, 0x8000
	mov edi, [dir0]
	mov esi, L_BIG
	mov eax, BIG | PG_P | PG_RW
	call pg_map_large
	mov eax, 0x31415926
	run s_rep_stosd, 0, L_BIG + 0xffe, 0x1000
	check ecx, 0
	check edi, L_BIG + 0x4ffe
	want_bg BIG, 0xffe
	want_pat BIG + 0xffe, 0x4000, 0x31415926, 4
	want_bg BIG + 0x4ffe, 0x3002
	set_seq L_B, 0x8000, 0
	run s_rep_movsb, L_B + 0x345, L_BIG + 0x5003, 0x2abc
	check ecx, 0
	check esi, L_B + 0x345 + 0x2abc
	check edi, L_BIG + 0x5003 + 0x2abc
	want_bg BIG + 0x4ffe, 5
	want_seq BIG + 0x5003, 0x2abc, 0x345
	want_bg BIG + 0x7abf, 0x541
	pde_of L_BIG
	mov eax, [eax]
	check eax, BIG | PG_P | PG_RW | PG_PS | PG_A | PG_D
	pde_of L_BIG
	mov dword [eax], 0
	invlpg [L_BIG]
	mov eax, CR4_PSE
	call pg_clear_cr4
large_done:

; ---------------------------------------------------------------- overlap
group "overlap"
	; each case on A through the subroutine and on B through MOV, both
	; starting from the same bytes
%macro both_seq 0
	set_seq L_A, 0x8000, 0
	set_seq L_B, 0x8000, 0
%endmacro
	; MOVSB, dst = src + 1: the first byte all along
	both_seq
	run s_rep_movsb, L_A + 0x800, L_A + 0x801, 0x1900
	check ecx, 0
	check esi, L_A + 0x800 + 0x1900
	check edi, L_A + 0x801 + 0x1900
	want_pat L_A + 0x800, 0x1901, SEQ4(0x800), 1
	want_seq L_A, 0x800, 0
	want_seq L_A + 0x2101, 0x8000 - 0x2101, 0x2101
	ref 1, 1, L_B + 0x800, L_B + 0x801, 0x1900
	want_same L_A, L_B, 0x8000
	; MOVSD, dst = src + 3, across page 2
	both_seq
	run s_rep_movsd, L_A + 0x1800, L_A + 0x1803, 0x500
	check ecx, 0
	check esi, L_A + 0x1800 + 0x1400
	check edi, L_A + 0x1803 + 0x1400
	ref 4, 4, L_B + 0x1800, L_B + 0x1803, 0x500
	want_same L_A, L_B, 0x8000
	want_seq L_A + 0x2c03, 0x8000 - 0x2c03, 0x2c03
	; the first element moved the bytes as they were
	check dword [L_A + 0x1803], SEQ(0x1800) | (SEQ(0x1801) << 8) | (SEQ(0x1802) << 16) | (SEQ(0x1803) << 24)
	; MOVSD, dst = src + 1, an element straddling pages 2 and 3
	both_seq
	run s_rep_movsd, L_A + 0x2ff0, L_A + 0x2ff1, 0x600
	check ecx, 0
	check esi, L_A + 0x2ff0 + 0x1800
	check edi, L_A + 0x2ff1 + 0x1800
	ref 4, 4, L_B + 0x2ff0, L_B + 0x2ff1, 0x600
	want_same L_A, L_B, 0x8000
	want_seq L_A + 0x47f1, 0x8000 - 0x47f1, 0x47f1
	; MOVSW, dst = src + 1
	both_seq
	run s_rep_movsw, L_A + 0x6ff0, L_A + 0x6ff1, 0x300
	check ecx, 0
	ref 2, 2, L_B + 0x6ff0, L_B + 0x6ff1, 0x300
	want_same L_A, L_B, 0x8000
	want_seq L_A + 0x75f1, 0x8000 - 0x75f1, 0x75f1
	; dst < src: a forward memmove
	both_seq
	run s_rep_movsd, L_A + 0x4003, L_A + 0x4000, 0x800
	check ecx, 0
	check esi, L_A + 0x6003
	check edi, L_A + 0x6000
	want_seq L_A + 0x4000, 0x2000, 0x4003
	want_seq L_A + 0x6000, 0x2000, 0x6000
	want_seq L_A, 0x4000, 0
	both_seq
	run s_rep_movsb, L_A + 0x5001, L_A + 0x5000, 0x1800
	check ecx, 0
	check esi, L_A + 0x6801
	check edi, L_A + 0x6800
	want_seq L_A + 0x5000, 0x1800, 0x5001
	want_seq L_A + 0x6800, 0x1800, 0x6800
	; DF = 1 (element by element), dst > src: a backward memmove
	both_seq
	std
	run s_rep_movsd, L_A + 0x3000, L_A + 0x3004, 0x800
	cld
	check ecx, 0
	check esi, L_A + 0x1000
	check edi, L_A + 0x1004
	want_seq L_A + 0x1008, 0x2000, 0x1004
	want_seq L_A, 0x1008, 0
	want_seq L_A + 0x3008, 0x5000 - 8, 0x3008
	ref 4, -4, L_B + 0x3000, L_B + 0x3004, 0x800
	want_same L_A, L_B, 0x8000
	; DF = 1 without overlap: a fill and a copy downwards across pages
	set_bg L_A, 0x8000
	mov eax, 0x24681357
	std
	run s_rep_stosd, 0, L_A + 0x2ffe, 0x900
	cld
	check ecx, 0
	check edi, L_A + 0x2ffe - 0x2400
	want_bg L_A, 0xc02
	want_pat L_A + 0xc02, 0x2400, 0x24681357, 4
	want_bg L_A + 0x3002, 0x8000 - 0x3002
	set_seq L_B, 0x8000, 0
	set_bg L_A, 0x8000
	std
	run s_rep_movsd, L_B + 0x4ffd, L_A + 0x3ff1, 0x700
	cld
	check ecx, 0
	check esi, L_B + 0x4ffd - 0x1c00
	check edi, L_A + 0x3ff1 - 0x1c00
	want_bg L_A, 0x23f5
	want_seq L_A + 0x23f5, 0x1c00, 0x3401
	want_bg L_A + 0x3ff5, 0x8000 - 0x3ff5

; ---------------------------------------------------------------- alias
group "alias"
	; L_C and L_D are the same two frames (FRAME(24, 25)), L_C2 and L_D2
	; another two (FRAME(26, 27)) where the reference runs
%macro both_alias 0
	set_seq FRAME(24), 0x2000, 0
	set_seq FRAME(26), 0x2000, 0
%endmacro
	; the same bytes: nothing changes
	both_alias
	run s_rep_movsd, L_C + 0x100, L_D + 0x100, 0x700
	check ecx, 0
	check esi, L_C + 0x1d00
	check edi, L_D + 0x1d00
	want_seq FRAME(24), 0x2000, 0
	; physically dst = src + 1: the first byte all along
	both_alias
	run s_rep_movsb, L_C + 0x100, L_D + 0x101, 0x1500
	check ecx, 0
	check esi, L_C + 0x1600
	check edi, L_D + 0x1601
	want_pat FRAME(24) + 0x100, 0x1501, SEQ4(0x100), 1
	want_seq FRAME(24) + 0x1601, 0x2000 - 0x1601, 0x1601
	; physically dst = src + 3, MOVSD
	both_alias
	run s_rep_movsd, L_C + 0x200, L_D + 0x203, 0x600
	check ecx, 0
	ref 4, 4, L_C2 + 0x200, L_D2 + 0x203, 0x600
	want_same FRAME(24), FRAME(26), 0x2000
	want_seq FRAME(24) + 0x1a03, 0x2000 - 0x1a03, 0x1a03
	; physically dst = src + 0x800: a period of 0x800 bytes
	both_alias
	run s_rep_movsd, L_C + 0x100, L_D + 0x900, 0x500
	check ecx, 0
	ref 4, 4, L_C2 + 0x100, L_D2 + 0x900, 0x500
	want_same FRAME(24), FRAME(26), 0x2000
	want_seq FRAME(24) + 0x900, 0x800, 0x100
	want_seq FRAME(24) + 0x1100, 0x600, 0x100
	; physically dst < src
	both_alias
	run s_rep_movsd, L_C + 0x104, L_D + 0x100, 0x700
	check ecx, 0
	want_seq FRAME(24) + 0x100, 0x1c00, 0x104
	want_seq FRAME(24) + 0x1d00, 0x300, 0x1d00

; ---------------------------------------------------------------- fault
group "fault"
	; REP STOSD into the not-present page after L_E: the rest of L_E's
	; page is written (0x3fc elements), nothing more
	set_bg FRAME(16), 0x1000
	set_bg FRAME(17), 0x1000
	pf_arm s_rep_stosd.ret
	mov eax, 0x5ca1ab1e
	run s_rep_stosd, 0, L_E + 0x10, 0x800
	pf_expect L_E + 0x1000, PF_W, s_rep_stosd
	check ecx, 0x800 - 0x3fc
	check edi, L_E + 0x1000
	check eax, 0x5ca1ab1e
	want_bg FRAME(16), 0x10
	want_pat FRAME(16) + 0x10, 0xff0, 0x5ca1ab1e, 4
	want_bg FRAME(17), 0x1000
	; the element at 0xffe straddles into it: CR2 is the first byte of
	; the missing page and nothing of the element is written
	set_bg FRAME(16), 0x1000
	pf_arm s_rep_stosd.ret
	mov eax, 0x5ca1ab1e
	run s_rep_stosd, 0, L_E + 0x12, 0x800
	pf_expect L_E + 0x1000, PF_W, s_rep_stosd
	check ecx, 0x800 - 0x3fb
	check edi, L_E + 0xffe
	want_bg FRAME(16), 0x12
	want_pat FRAME(16) + 0x12, 0xfec, 0x5ca1ab1e, 4
	want_bg FRAME(16) + 0xffe, 2
	; a fix-up maps the page, IRET restarts REP STOSD, the rest completes
	mov dword [pf_fix_pte], FRAME(17) | PG_P | PG_RW
	pf_arm_fixup pg_fix_map
	mov eax, 0x5ca1ab1e
	run s_rep_stosd, 0, L_E + 0x12, 0x600
	pf_expect L_E + 0x1000, PF_W, s_rep_stosd
	check ecx, 0
	check edi, L_E + 0x1812
	want_pat L_E + 0x12, 0x1800, 0x5ca1ab1e, 4
	want_bg FRAME(17) + 0x812, 0x7ee
	check dword [FRAME(17)], 0xab1e5ca1
	; REP MOVSD whose source runs into the not-present page after L_S
	set_seq FRAME(18), 0x1000, 0
	set_bg L_A, 0x2000
	pf_arm s_rep_movsd.ret
	run s_rep_movsd, L_S + 0x20, L_A, 0x500
	pf_expect L_S + 0x1000, 0, s_rep_movsd
	check ecx, 0x500 - 0x3f8
	check esi, L_S + 0x1000
	check edi, L_A + 0xfe0
	want_seq L_A, 0xfe0, 0x20
	want_bg L_A + 0xfe0, 0x1020
	; its element at 0xffe straddles: 0x3f7 elements done
	set_bg L_A, 0x2000
	pf_arm s_rep_movsd.ret
	run s_rep_movsd, L_S + 0x22, L_A, 0x500
	pf_expect L_S + 0x1000, 0, s_rep_movsd
	check ecx, 0x500 - 0x3f7
	check esi, L_S + 0xffe
	check edi, L_A + 0xfdc
	want_seq L_A, 0xfdc, 0x22
	want_bg L_A + 0xfdc, 0x1024
	; mapped by a fix-up, the copy completes
	set_seq FRAME(19), 0x1000, 0x1000
	mov dword [pf_fix_pte], FRAME(19) | PG_P | PG_RW
	pf_arm_fixup pg_fix_map
	run s_rep_movsd, L_S + 0x22, L_A, 0x500
	pf_expect L_S + 0x1000, 0, s_rep_movsd
	check ecx, 0
	check esi, L_S + 0x1422
	check edi, L_A + 0x1400
	want_seq L_A, 0x1400, 0x22
	want_bg L_A + 0x1400, 0xc00
	; again with the status flags set: the #PF frame and the restart
	; carry the guest's flags (the plain translation's host REP MOVS keeps
	; them on the host stack meanwhile)
	pte_of L_S + 0x1000
	mov dword [eax], 0
	invlpg [L_S + 0x1000]
	set_bg L_A, 0x2000
	mov dword [pf_fix_pte], FRAME(19) | PG_P | PG_RW
	pf_arm_fixup pg_fix_map
	mov esi, L_S + 0x20
	mov edi, L_A
	mov ecx, 0x500
	mov eax, 0x7fffffff
	add eax, 1				; OF, SF, AF, PF set; ZF, CF clear
	call s_rep_movsd
	check_flags F_ALU, F_OF | F_SF | F_AF | F_PF
	pf_expect L_S + 0x1000, 0, s_rep_movsd
	check ecx, 0
	check esi, L_S + 0x1420
	want_seq L_A, 0x1400, 0x20
	; REP MOVSB whose destination runs into the not-present page after
	; two whole pages (L_F, L_F + 0x1000), and its fix-up
	set_seq L_B, 0x8000, 0
	pte_of L_B + 0x1000
	and dword [eax], ~(PG_A | PG_D)
	invlpg [L_B + 0x1000]
	set_bg FRAME(22), 0x2000
	set_bg FRAME(43), 0x1000
	pf_arm s_rep_movsb.ret
	run s_rep_movsb, L_B + 0x10, L_F + 0x8, 0x2ff8
	pf_expect L_F + 0x2000, PF_W, s_rep_movsb
	check ecx, 0x1000
	check esi, L_B + 0x10 + 0x1ff8
	check edi, L_F + 0x2000
	want_bg FRAME(22), 8
	want_seq L_F + 8, 0x1ff8, 0x10
	want_bg FRAME(43), 0x1000
	; accessed and dirty bits as the elements set them
	pte_of L_F
	mov eax, [eax]
	check eax, FRAME(22) | PG_P | PG_RW | PG_A | PG_D
	pte_of L_F + 0x1000
	mov eax, [eax]
	check eax, FRAME(23) | PG_P | PG_RW | PG_A | PG_D
	pte_of L_B + 0x1000
	mov eax, [eax]
	and eax, PG_A | PG_D
	check eax, PG_A
	mov dword [pf_fix_pte], FRAME(43) | PG_P | PG_RW
	pf_arm_fixup pg_fix_map
	run s_rep_movsb, L_B + 0x10, L_F + 0x8, 0x2ff8
	pf_expect L_F + 0x2000, PF_W, s_rep_movsb
	check ecx, 0
	check esi, L_B + 0x3008
	check edi, L_F + 0x3000
	want_seq L_F + 8, 0x2ff8, 0x10
	want_seq FRAME(43), 0x1000, 0x2008
	; CR0.WP = 1: a supervisor REP STOSD into the read-only page after
	; L_W faults with P|W
	mov eax, CR0_WP
	call pg_set_cr0
	set_bg FRAME(20), 0x2000
	mov eax, 0x01020304
	pf_arm s_rep_stosd.ret
	run s_rep_stosd, 0, L_W + 0x800, 0x400
	pf_expect L_W + 0x1000, PF_P | PF_W, s_rep_stosd
	check ecx, 0x200
	check edi, L_W + 0x1000
	want_bg FRAME(20), 0x800
	want_pat FRAME(20) + 0x800, 0x800, 0x01020304, 4
	want_bg FRAME(21), 0x1000
	; REP MOVSB the same way
	pf_arm s_rep_movsb.ret
	run s_rep_movsb, L_B, L_W + 0xff0, 0x40
	pf_expect L_W + 0x1000, PF_P | PF_W, s_rep_movsb
	check ecx, 0x30
	check esi, L_B + 0x10
	check edi, L_W + 0x1000
	want_seq L_W + 0xff0, 0x10, 0
	want_bg FRAME(21), 0x1000
	; a fix-up makes it writable, the fill completes
	mov eax, 0x01020304
	mov dword [pf_fix_pte], FRAME(21) | PG_P | PG_RW
	pf_arm_fixup pg_fix_map
	run s_rep_stosd, 0, L_W + 0x800, 0x400
	pf_expect L_W + 0x1000, PF_P | PF_W, s_rep_stosd
	check ecx, 0
	want_pat L_W + 0x800, 0x1000, 0x01020304, 4
	want_bg FRAME(21) + 0x800, 0x800
	; CR0.WP = 0: the supervisor writes a read-only page
	map0 L_W + 0x1000, FRAME(21) | PG_P
	mov eax, CR0_WP
	call pg_clear_cr0
	mov eax, 0x0a0b0c0d
	pf_arm 0
	run s_rep_stosd, 0, L_W + 0x802, 0x3ff
	pf_none
	check ecx, 0
	check edi, L_W + 0x17fe
	want_pat L_W + 0x802, 0xffc, 0x0a0b0c0d, 4
	want_bg FRAME(21) + 0x800, 0x800

; ---------------------------------------------------------------- traced
group "traced"
	; each of L_G's frames (and the ones its PTEs move to) holds its
	; number at +0
	mov ecx, 28
.ids:
	mov eax, ecx
	shl eax, 12
	mov [FRAME(0) + eax], ecx
	inc ecx
	cmp ecx, 40
	jb .ids
	mov eax, [L_G]
	add eax, [L_G + 0x1000]
	add eax, [L_G + 0x2000]
	add eax, [L_G + 0x3000]
	check eax, 28 + 29 + 30 + 31
	; REP MOVSD rewrites four PTEs of T0 (in use: it maps this whole
	; region): two to other frames, one cleared, one kept
	mov dword [new_ptes], FRAME(32) | PG_P | PG_RW
	mov dword [new_ptes + 4], FRAME(33) | PG_P | PG_RW
	mov dword [new_ptes + 8], 0
	mov dword [new_ptes + 12], FRAME(31) | PG_P | PG_RW
	pte_of L_G
	mov ebx, eax
	run s_rep_movsd, new_ptes, ebx, 4
	check ecx, 0
	invlpg [L_G]
	invlpg [L_G + 0x1000]
	invlpg [L_G + 0x2000]
	invlpg [L_G + 0x3000]
	pf_arm .r1
	mov eax, [L_G]
	mov edx, [L_G + 0x1000]
	mov ecx, [L_G + 0x3000]
	mov esi, -1
.f1:
	mov esi, [L_G + 0x2000]
.r1:
	pf_expect L_G + 0x2000, 0, .f1
	check eax, 32
	check edx, 33
	check ecx, 31
	check esi, -1
	; not present to present needs no INVLPG: the entries of L_G + 0x4000
	; .. + 0x6000 were never present; one read of them faults first
	pf_arm .r2
.f2:
	mov eax, [L_G + 0x5000]
.r2:
	pf_expect L_G + 0x5000, 0, .f2
	mov dword [new_ptes], FRAME(34) | PG_P | PG_RW
	mov dword [new_ptes + 4], FRAME(35) | PG_P | PG_RW
	mov dword [new_ptes + 8], FRAME(36) | PG_P | PG_RW
	pte_of L_G + 0x4000
	mov ebx, eax
	run s_rep_movsd, new_ptes, ebx, 3
	pf_arm 0
	mov eax, [L_G + 0x4000]
	mov edx, [L_G + 0x5000]
	mov ecx, [L_G + 0x6000]
	pf_none
	check eax, 34
	check edx, 35
	check ecx, 36
	; REP STOSD clears them all
	pte_of L_G
	mov ebx, eax
	xor eax, eax
	run s_rep_stosd, 0, ebx, 7
	check ecx, 0
	mov ecx, 7
	mov esi, L_G
.inv:
	invlpg [esi]
	add esi, 0x1000
	loop .inv
	pf_faults L_G + 0x1000, 0, mov eax, [L_G + 0x1000]
	pf_faults L_G + 0x5000, PF_W, mov dword [L_G + 0x5000], 1
	; and REP STOSD maps them again (not present to present)
	pte_of L_G + 0x1000
	mov ebx, eax
	mov eax, FRAME(37) | PG_P | PG_RW
	run s_rep_stosd, 0, ebx, 2
	pf_arm 0
	mov eax, [L_G + 0x1000]
	mov edx, [L_G + 0x2000]
	pf_none
	check eax, 37
	check edx, 37

	; code that already ran, rewritten by REP MOVSB: the next call runs
	; the new code
	put_ret_imm CODE, 1
	mov ebx, CODE
	call ebx
	check eax, 1
	run s_rep_movsb, code2, CODE, 64
	check ecx, 0
	xor eax, eax
	mov ebx, CODE
	call ebx
	check eax, 2
	; REP MOVSD through the writable alias L_X of the code's frame
	run s_rep_movsd, code3, L_X, 16
	xor eax, eax
	mov ebx, CODE
	call ebx
	check eax, 3
	; REP STOSB: 31 x INC EAX before code3's RET at +31
	mov eax, 0x40
	run s_rep_stosb, 0, CODE, 31
	xor eax, eax
	mov ebx, CODE
	call ebx
	check eax, 31
	; REP STOSW through the alias: 15 x (INC EAX, DEC EAX), then the
	; INC EAX at +30 and the RET
	mov eax, 0x4840
	run s_rep_stosw, 0, L_X, 15
	xor eax, eax
	mov ebx, CODE
	call ebx
	check eax, 1
	; a REP STOSB (in RAM, marked too) that rewrites the immediate of the
	; MOV right after it: the MOV runs as rewritten (SDM Vol. 3A 11.6)
	mov dword [CODE2], 0x01b8aaf3		; rep stosb; mov eax, 1
	mov dword [CODE2 + 4], 0xc3000000	; ret
	mov ebx, CODE2
	run ebx, 0, CODE2 + 0x100, 0
	check eax, 1
	cmp dword [TESTDEV_ID], TESTDEV_MAGIC
	jne .nodev
	mov ebx, CODE2
	run ebx, 0, TESTDEV + 0xc0, 4
	check eax, 1
	mov ebx, CODE2
	run ebx, 0, CODE2 + 0x100, 0
.nodev:
	mov eax, 2
	mov ebx, CODE2
	run ebx, 0, CODE2 + 3, 4
	check eax, 0x02020202
	check ecx, 0
	check edi, CODE2 + 7

; ---------------------------------------------------------------- user
group "user"
	; the kernel image becomes user-accessible (its code and the ring-3
	; stack); L_U is a user page, the one after it supervisor
	mov esi, 0x100000
.us:
	pte_of esi
	or dword [eax], PG_US
	add esi, 0x1000
	cmp esi, image_end
	jb .us
	call pg_flush_tlb
	set_bg FRAME(41), 0x2000
	; a fill inside the user page
	pf_arm 0
	mov eax, u_fill_ok
	xor ecx, ecx
	call rings_run_user
	pf_none
	check ecx, 0
	check edi, L_U + 0x408
	want_pat FRAME(41) + 8, 0x400, 0x7e7e7e7e, 4
	; running into the supervisor page: #PF U|W|P
	set_bg FRAME(41), 0x2000
	pf_arm s_rep_stosd.ret
	mov eax, u_fill_sup
	xor ecx, ecx
	call rings_run_user
	pf_expect L_U + 0x1000, PF_U | PF_W | PF_P, s_rep_stosd
	check ecx, 0x400 - 0x200
	check edi, L_U + 0x1000
	check eax, 0x3c3c3c3c
	want_bg FRAME(41), 0x800
	want_pat FRAME(41) + 0x800, 0x800, 0x3c3c3c3c, 4
	want_bg FRAME(42), 0x1000

; ---------------------------------------------------------------- wrap
group "wrap"
	; a fill running past 4 GiB goes on at linear 0, as EDI wraps: the
	; last page (FRAME(47)) and the first (the identity map's)
	mov edi, [dir0]
	pg_map_page 0xfffff000, FRAME(47) | PG_P | PG_RW
	set_bg FRAME(47), 0x1000
	set_bg 0, 0x400
	mov eax, 0x5a5a1234
	run s_rep_stosd, 0, 0xffffff00, 0x80
	check ecx, 0
	check edi, 0x100
	want_bg FRAME(47), 0xf00
	want_pat FRAME(47) + 0xf00, 0x100, 0x5a5a1234, 4
	want_pat 0, 0x100, 0x5a5a1234, 4
	want_bg 0x100, 0x300
	; more elements than a pass of the plain translation takes (65,536):
	; exactly one pass, then one element more, then two passes and a half
	set_bg W_BIG, 0x30000
	mov eax, 0x77777777
	run s_rep_stosb, 0, W_BIG + 3, 0x10000
	check ecx, 0
	check edi, W_BIG + 3 + 0x10000
	want_bg W_BIG, 3
	want_pat W_BIG + 3, 0x10000, 0x77777777, 1
	want_bg W_BIG + 3 + 0x10000, 0x10
	mov eax, 0x66666666
	run s_rep_stosb, 0, W_BIG + 3, 0x10001
	check edi, W_BIG + 4 + 0x10000
	want_pat W_BIG + 3, 0x10001, 0x66666666, 1
	want_bg W_BIG + 4 + 0x10000, 0x10
	set_bg W_BIG, 0x30000
	mov eax, 0x1f2e3d4c
	run s_rep_stosw, 0, W_BIG + 1, 0x12345
	check ecx, 0
	check edi, W_BIG + 1 + 0x12345 * 2
	want_bg W_BIG, 1
	want_pat W_BIG + 1, 0x12345 * 2, 0x3d4c3d4c, 2
	want_bg W_BIG + 1 + 0x12345 * 2, 0x30000 - 1 - 0x12345 * 2

; ---------------------------------------------------------------- off
group "off"
	call pg_disable
	set_bg FRAME(44), 0x2000
	mov eax, 0x600d0ff0
	run s_rep_stosd, 0, FRAME(44) + 0xffe, 0x100
	check ecx, 0
	check edi, FRAME(44) + 0x13fe
	want_bg FRAME(44), 0xffe
	want_pat FRAME(44) + 0xffe, 0x400, 0x600d0ff0, 4
	want_bg FRAME(44) + 0x13fe, 0xc02
	set_seq FRAME(44), 0x1000, 0
	run s_rep_movsb, FRAME(44) + 0x10, FRAME(44) + 0x11, 0x100
	want_pat FRAME(44) + 0x10, 0x101, SEQ4(0x10), 1
	run s_rep_movsd, FRAME(44) + 0x400, FRAME(45), 0x300
	want_seq FRAME(45), 0xc00, 0x400

	guest_finish

; ---------------------------------------------------------------- ring 3
u_fill_ok:
	mov eax, 0x7e7e7e7e
	mov edi, L_U + 8
	mov ecx, 0x100
	call s_rep_stosd
	leave_user
u_fill_sup:
	mov eax, 0x3c3c3c3c
	mov edi, L_U + 0x800
	mov ecx, 0x400
	call s_rep_stosd
	leave_user

; ---------------------------------------------------------------- helpers
; memset_b: EDI = address, ECX = bytes, AL = value. Preserves registers.
memset_b:
	pushad
	jecxz .done
.next:
	mov [edi], al
	inc edi
	dec ecx
	jnz .next
.done:
	popad
	ret

; seq_byte: EAX = index -> EAX = SEQ(index).
seq_byte:
	push ebx
	and eax, 0xffff
	mov ebx, eax
	shr ebx, 8
	imul ebx, ebx, 0x35
	add eax, ebx
	and eax, 0xff
	pop ebx
	ret

; fill_seq: EDI = address, ECX = bytes, EDX = index of the first.
; Preserves registers.
fill_seq:
	pushad
	jecxz .done
.next:
	mov eax, edx
	call seq_byte
	mov [edi], al
	inc edi
	inc edx
	dec ecx
	jnz .next
.done:
	popad
	ret

; cmp_seq: ESI = address, ECX = bytes, EDX = index of the first ->
; EAX = offset of the first byte that differs from fill_seq's, or -1.
cmp_seq:
	pushad
	mov dword [esp + 28], -1
	xor ebx, ebx
.next:
	cmp ebx, ecx
	jae .done
	lea eax, [edx + ebx]
	call seq_byte
	cmp al, [esi + ebx]
	jne .bad
	inc ebx
	jmp .next
.bad:
	mov [esp + 28], ebx
.done:
	popad
	ret

; cmp_pat: ESI = address, ECX = bytes, EBX = pattern, EDX = width (1, 2
; or 4) -> EAX = offset of the first byte that differs, or -1.
cmp_pat:
	pushad
	mov dword [esp + 28], -1
	lea ebp, [edx - 1]
	xor edi, edi
.next:
	cmp edi, ecx
	jae .done
	push ecx
	mov ecx, edi
	and ecx, ebp
	shl ecx, 3
	mov eax, ebx
	shr eax, cl
	pop ecx
	cmp al, [esi + edi]
	jne .bad
	inc edi
	jmp .next
.bad:
	mov [esp + 28], edi
.done:
	popad
	ret

; cmp_mem: ESI, EDI = addresses, ECX = bytes -> EAX = offset of the first
; byte that differs, or -1.
cmp_mem:
	pushad
	mov dword [esp + 28], -1
	xor ebx, ebx
.next:
	cmp ebx, ecx
	jae .done
	mov al, [esi + ebx]
	cmp al, [edi + ebx]
	jne .bad
	inc ebx
	jmp .next
.bad:
	mov [esp + 28], ebx
.done:
	popad
	ret

; ref_movs: ESI, EDI, ECX elements of EDX bytes, EBX = step (+/- width):
; MOVS done with MOV, one element at a time. Preserves registers.
ref_movs:
	pushad
	jecxz .done
.next:
	cmp edx, 1
	jne .w2
	mov al, [esi]
	mov [edi], al
	jmp .step
.w2:
	cmp edx, 2
	jne .w4
	mov ax, [esi]
	mov [edi], ax
	jmp .step
.w4:
	mov eax, [esi]
	mov [edi], eax
.step:
	add esi, ebx
	add edi, ebx
	dec ecx
	jnz .next
.done:
	popad
	ret

; ---------------------------------------------------------------- under test
; One string instruction each, at a distinct address, so that each is
; marked adaptive on its own; .ret is where a #PF resumes.
%macro strop 2
align 16
%1:
	%2
.ret:
	ret
%endmacro
	strop s_rep_stosd, rep stosd
	strop s_rep_stosw, rep stosw
	strop s_rep_stosb, rep stosb
	strop s_rep_movsd, rep movsd
	strop s_rep_movsw, rep movsw
	strop s_rep_movsb, rep movsb
	strop s_stosd, stosd
	strop s_movsd, movsd
	strop s_fs_rep_movsd, rep fs movsd

section .rodata
s_dev:		db "INFO string_bulk: test device present, instructions marked", 0
s_nodev:	db "INFO string_bulk: no test device, marking skipped", 0
s_plain:	db "INFO string_bulk: plain translation, nothing marked", 0
; code templates (64 bytes each): mov eax, 2 / 3; ret; the rest NOPs, but
; code3 has a RET at +31 too
code2:		db 0xb8
		dd 2
		db 0xc3
		times 58 db 0x90
code3:		db 0xb8
		dd 3
		db 0xc3
		times 25 db 0x90
		db 0xc3
		times 32 db 0x90

section .data
align 4
dir0:		dd 0
new_ptes:	times 4 dd 0
src_buf:	times 64 db 0

section .bss
alignb 4096
image_end:
