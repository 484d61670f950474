; Supervisor-mode paging (32-bit, no PAE), checked exactly against the SDM
; (Vol. 3A ch. 4, "Paging", and 6.15 "#PF"):
;  on_off      CR0.PG on and off, a mapping made while paging is on used
;              without invalidation (not-present entries are never cached)
;  higher_half code, data and stack run through an alias at 0xC0000000
;  pse         4 MiB pages (CR4.PSE), a reserved bit in a 4 MiB PDE (#PF
;              with RSVD|P), PS ignored while CR4.PSE = 0
;  pf          #PF CR2/error code/EIP: not-present PTE and PDE (read, write,
;              fetch), CR0.WP on a read-only PTE or PDE, accesses straddling
;              two pages, state (registers, flags, memory) left untouched,
;              AH too where the store ran on AL between two swaps
;  restart     a fix-up maps the page, IRET restarts the instruction and it
;              completes (load, read-modify-write, MOVS, POP m, an
;              instruction straddling two code pages)
;  ad          accessed and dirty bits in PDE and PTE, on read, write and
;              fetch, set again after clearing + INVLPG; a 4 MiB PDE
;  tlb         INVLPG, CR3 reload, global pages (CR4.PGE), a 4 MiB page
;  spaces      two page directories, same linear address, different
;              physical data and code
;  remap_code  code alone in its 4 MiB, remapped after its translation ran:
;              after INVLPG, and after a CR3 reload, calls run the new code
;  held_unmap  an entry of dir1 cleared without INVLPG, then CR3 to dir0
;              and back: the page faults (the monitor may hold the host
;              unmap back while dir1 is not in use, never past its return);
;              and cleared, CR3 to dir0, set to another frame from there,
;              back to dir1: the new frame, each way several times
;  offline     a directory written while another is in use: zeroed and
;              copied back (a new process's directory in an exited one's
;              page), an entry pointed at another table, an entry cleared
;              and restored while a PTE under it changed; each seen at the
;              next switch to it; a page written through one space made a
;              table of another, then written through the first again
;  pt_alias    page-table writes through an alias and through a recursive
;              page-directory slot
;  smc_alias   code rewritten through a second (writable) linear alias
;  string      REP STOSD/MOVSD into a not-present page: progress in
;              ECX/ESI/EDI, restart; DF = 1
;  forms       memory operand forms the translator rewrites (SIB, disp8/32,
;              ESP/EBP bases, moffs, 16-bit addressing with wrap, segment
;              bases, BT bit offsets, x87/SSE, indirect CALL/JMP, PUSH/POP m)
;              faulting at the exact CR2
;  off         paging off at the end: physical view again
;
; Memory: the kernel at 1 MiB; page tables from paging.inc's pool at 12 MiB;
; test frames at 13 MiB (FRAME(n)); 4 MiB frames at 4 and 8 MiB. All of it
; is below 16 MiB, which every address space maps 1:1.
%define GUEST_NAME "paging"
%include "lib.inc"
%include "paging.inc"

FRAME_BASE	equ 0x00d00000
%define FRAME(n) (FRAME_BASE + (n) * 0x1000)
BIG0		equ 0x00400000		; 4 MiB frames
BIG1		equ 0x00800000

HH		equ 0xc0000000		; higher-half alias of the identity map

; Linear pages under PDE 0x100 (all in one page table, T0)
L_ON		equ 0x40000000		; -> FRAME(0)
L_NP		equ 0x40001000		; never mapped
L_RO		equ 0x40002000		; -> FRAME(2), read-only
L_SPLIT		equ 0x40003000		; -> FRAME(3); the next page not present
L_SPLIT2	equ 0x40005000		; not present; the next page -> FRAME(6)
L_FIX		equ 0x40007000		; mapped by fix-ups -> FRAME(7)
L_CODE		equ 0x40008000		; -> FRAME(8); the next page by fix-up -> FRAME(9)
L_TLB		equ 0x4000a000		; -> FRAME(12) / FRAME(13)
L_PTW		equ 0x4000b000		; -> FRAME(14) / FRAME(15), changed via aliases
L_X		equ 0x4000c000		; -> FRAME(16), read-only: code runs here
L_W		equ 0x4000d000		; -> FRAME(16), writable: code written here
L_STR		equ 0x4000e000		; -> FRAME(17); the next page not present
L_STR_NEXT	equ 0x4000f000		; not present; fix-up -> FRAME(18)
L_STRD		equ 0x40012000		; -> FRAME(19); the page below not present
L_PTA		equ 0x40020000		; -> T0 itself
L_FORMS		equ 0x40100000		; 64 KiB not present...
L_FORMS_HI	equ 0x40110000		; ...then -> FRAME(24)
; PDE 0x101: a table whose PDE is read-only
L_PDE_RO	equ 0x40400000		; -> FRAME(5), PTE writable
; PDE 0x102: the accessed/dirty tests' own table
L_AD		equ 0x40800000		; -> FRAME(10)
L_AD_CODE	equ 0x40801000		; -> FRAME(11), code
; PDE 0x103: the two address spaces
L_SP_DATA	equ 0x40c00000		; dir0 -> FRAME(20), dir1 -> FRAME(21)
L_SP_CODE	equ 0x40c01000		; dir0 -> FRAME(22), dir1 -> FRAME(23)
; PDEs 0x104 and 0x105: a page written through dir1, then a table of dir0
L_OFF_X		equ 0x41000000		; dir1 -> FRAME(27)
L_OFF_Y		equ 0x41400000		; dir0, its table FRAME(27) -> FRAME(28), then (29)
; PDE 0x106: code only, remapped
L_RC_CODE	equ 0x41800000		; -> FRAME(30), then FRAME(31)
L_NOPDE		equ 0x50000000		; PDE not present
L_BIG		equ 0x80000000		; 4 MiB page -> BIG0
L_BIG_RSVD	equ 0x84000000		; 4 MiB PDE with bit 21 set
L_BIG_RSVD13	equ 0x84400000		; 4 MiB PDE with bit 13 set
L_PS_NOPSE	equ 0x88000000		; PS = 1 while CR4.PSE = 0
RECURSIVE	equ 0xffc00000		; page tables through PDE 1023

PTW_IDX		equ (L_PTW >> 12) & 0x3ff	; L_PTW's slot in T0
SEL_A16		equ 0x28		; data, base L_FORMS, for 16-bit forms

CPUID_PSE	equ 1 << 3
CPUID_PGE	equ 1 << 13
CPUID_PSE36	equ 1 << 17




; map0 linear, pte: map one page in dir0 (no invalidation).
%macro map0 2
	push edi
	push esi
	push eax
	mov edi, [dir0]
	pg_map_page %1, %2
	pop eax
	pop esi
	pop edi
%endmacro

guest_start
	call lib_install_idt
	call pg_install_pf
	mov eax, 1
	cpuid
	mov [cpuid1_edx], edx
	; every test frame starts out zeroed
	cld
	mov edi, FRAME(0)
	mov ecx, 32 * 1024
	xor eax, eax
	rep stosd

	; dir0: the kernel's 16 MiB 1:1 and at the higher half
	call pg_alloc
	mov [dir0], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	mov esi, HH
	call pg_map_identity

; ---------------------------------------------------------------- on/off
group "on_off"
t_on_off:
	mov dword [FRAME(0)], 0x600df00d	; written physically, paging off
	map0 L_ON, FRAME(0) | PG_P | PG_RW
	mov eax, [dir0]
	call pg_enable
	mov eax, cr0
	and eax, CR0_PG
	check eax, CR0_PG
	mov eax, cr3
	check eax, dword [dir0]
	mov eax, [L_ON]
	check eax, 0x600df00d
	mov dword [L_ON + 4], 0x12345678
	call pg_disable
	mov eax, cr0
	and eax, CR0_PG
	check eax, 0
	mov eax, [FRAME(0) + 4]			; the linear write hit the frame
	check eax, 0x12345678
	mov dword [FRAME(0) + 8], 0x0000abcd
	mov eax, [dir0]
	call pg_enable
	mov eax, [L_ON + 8]
	check eax, 0x0000abcd
	; a new mapping made with paging on is used at once: a not-present
	; entry is never cached, so no invalidation is needed (SDM 4.10.4.3)
	mov dword [FRAME(1)], 0x0000f1f1
	pf_arm .r1
	map0 L_ON + 0x1000 * 0x30, FRAME(1) | PG_P | PG_RW
	mov eax, [L_ON + 0x1000 * 0x30]
.r1:
	pf_none
	check eax, 0x0000f1f1
	pte_of L_ON + 0x1000 * 0x30
	mov dword [eax], 0
	invlpg [L_ON + 0x1000 * 0x30]

; ---------------------------------------------------------------- higher half
group "higher_half"
	mov dword [hh_data], 0
	mov eax, hh_run + HH
	jmp eax
hh_run:						; from here on EIP is above HH
	call hh_here
hh_here:
	pop eax
	check eax, hh_here + HH
	mov dword [hh_data + HH], 0xcafe0001	; data through the alias...
	mov eax, [hh_data]			; ...is the identity-mapped word
	check eax, 0xcafe0001
	mov dword [hh_data], 0xcafe0002
	mov eax, [hh_data + HH]
	check eax, 0xcafe0002
	call hh_func				; relative: stays in the alias
	check eax, hh_func_here + HH
	; the stack through the alias as well
	mov ebx, esp
	add esp, HH
	push dword 0x5151aaaa
	mov eax, [ebx - 4]			; same word through the identity map
	pop ecx
	mov esp, ebx
	check eax, 0x5151aaaa
	check ecx, 0x5151aaaa
	mov eax, hh_back
	jmp eax
hh_func:
	call hh_func_here
hh_func_here:
	pop eax
	ret
hh_back:					; back in the identity map
	call hh_back_here
hh_back_here:
	pop eax
	check eax, hh_back_here

; ---------------------------------------------------------------- 4 MiB pages
group "pse"
t_pse:
	mov eax, [cpuid1_edx]
	and eax, CPUID_PSE
	check eax, CPUID_PSE			; CPUID must offer PSE
	jz pse_basic_done
	mov eax, CR4_PSE
	call pg_set_cr4
	mov dword [BIG0 + 0x1234], 0x4d4d0001
	mov dword [BIG0 + 0x3ffffc], 0x4d4d0002
	mov edi, [dir0]
	mov esi, L_BIG
	mov eax, BIG0 | PG_P | PG_RW
	call pg_map_large
	pf_arm .r0
	mov eax, [L_BIG + 0x1234]
	mov ebx, [L_BIG + 0x3ffffc]		; last dword of the 4 MiB page
	mov dword [L_BIG + 0x200000], 0x4d4d0003
.r0:
	pf_none
	check eax, 0x4d4d0001
	check ebx, 0x4d4d0002
	check dword [BIG0 + 0x200000], 0x4d4d0003
	; with CR4.PSE = 0, PS is ignored and the PDE points to a page table
	; (SDM table 4-5): L_PS_NOPSE + 0x5000 is then FRAME(4), not the
	; 4 MiB frame the PDE's address bits would make of it
	call pg_alloc
	mov ebx, eax
	mov dword [ebx + 5 * 4], FRAME(4) | PG_P | PG_RW
	mov dword [FRAME(4) + 0x10], 0x0000050e
	mov edi, [dir0]
	mov esi, L_PS_NOPSE
	call pg_pde_addr
	or ebx, PG_PS | PG_P | PG_RW
	mov [eax], ebx
	mov eax, CR4_PSE
	call pg_clear_cr4			; also flushes the TLB
	pf_arm .r4
	mov eax, [L_PS_NOPSE + 0x5010]
.r4:
	pf_none
	check eax, 0x0000050e
	mov eax, CR4_PSE
	call pg_set_cr4
	pde_of L_PS_NOPSE
	mov dword [eax], 0			; as a 4 MiB PDE it would map the pool
	invlpg [L_PS_NOPSE]
pse_basic_done:

; A reserved bit in a 4 MiB PDE: #PF with RSVD and P (SDM 4.7: RSVD can
; only be set together with P, since reserved bits are checked only in
; present entries). Its own group: qemu-system-i386 7.2 (TCG) disagrees
; with the SDM twice here. It reports RSVD without P (error 0x8/0xa), and
; it treats bits 20:13 as physical address bits 39:32 even when CPUID does
; not offer PSE-36, so bit 13 does not fault there. The SDM (table 4-4
; and its note: without PSE-36, M = 32 and bits 21:13 are reserved) is
; followed; tests/guests/run_qemu_guest.sh knows this group may fail under QEMU.
group "pse_rsvd"
t_pse_rsvd:
	mov eax, [cpuid1_edx]
	test eax, CPUID_PSE
	jz pse_done
	mov edi, [dir0]
	; bit 21 of a 4 MiB PDE is reserved whatever MAXPHYADDR is
	mov esi, L_BIG_RSVD
	mov eax, BIG0 | PG_P | PG_RW | (1 << 21)
	call pg_map_large
	mov eax, 0x77
	pf_faults L_BIG_RSVD + 0x10, PF_RSVD | PF_P, mov eax, [L_BIG_RSVD + 0x10]
	check eax, 0x77
	pf_faults L_BIG_RSVD + 0x3ff000, PF_RSVD | PF_W | PF_P, mov [L_BIG_RSVD + 0x3ff000], eax
	; bits 20:13 hold physical address bits 39:32 with PSE-36; without it
	; (btvm does not offer it) bit 13 is reserved too
	mov eax, [cpuid1_edx]
	test eax, CPUID_PSE36
	jnz pse_done
	mov esi, L_BIG_RSVD13
	mov eax, BIG0 | PG_P | PG_RW | (1 << 13)
	call pg_map_large
	pf_faults L_BIG_RSVD13 + 0x123456, PF_RSVD | PF_P, mov eax, [L_BIG_RSVD13 + 0x123456]
pse_done:

; ---------------------------------------------------------------- #PF basics
group "pf"
t_pf:
	; not-present PTE (its page table exists: L_ON's)
	mov eax, 0x11111111
	pf_faults L_NP + 0x234, 0, mov eax, [L_NP + 0x234]			; in the middle of the page
	check eax, 0x11111111			; destination untouched
	mov ebx, 0x2222
	pf_faults L_NP + 0x238, PF_W, mov [L_NP + 0x238], ebx
	pf_faults L_NP + 0xfff, PF_W, mov byte [L_NP + 0xfff], 1		; last byte of the page
	; AH with an FS-based address (the base in r14, which needs REX, so
	; the store runs on AL between two swaps): the fault leaves AH and AL
	; as they were
	mov eax, 0x1234abcd
	mov ebx, L_NP + 0x40 - FS_BASE
	pf_faults L_NP + 0x40, PF_W, mov [fs:ebx], ah
	check eax, 0x1234abcd
	pf_faults L_NP + 0x44, 0, add ah, [fs:ebx + 4]
	check eax, 0x1234abcd
	; not-present PDE
	pf_faults L_NOPDE + 0x10, 0, mov eax, [L_NOPDE + 0x10]
	pf_faults L_NOPDE + 0x3ffffe, PF_W, mov word [L_NOPDE + 0x3ffffe], 5
	; instruction fetch: the fault belongs to the target instruction, so
	; CR2 = EIP = the target, and a CALL has already pushed its return
	; address. I/D (bit 4) is reported only with NX or SMEP: 0 here.
	mov ecx, L_NP + 0x100
	pf_arm .r6
	jmp ecx
.r6:
	pf_expect L_NP + 0x100, 0, L_NP + 0x100
	mov ebx, esp
	pf_arm .r7
	call ecx
.ret7:
.r7:
	pf_expect L_NP + 0x100, 0, L_NP + 0x100
	mov eax, ebx
	sub eax, esp
	check eax, 4
	pop eax
	check eax, .ret7

	; read-only PTE: reads work, supervisor writes fault with CR0.WP = 1
	mov dword [FRAME(2)], 0x0000aaaa
	map0 L_RO, FRAME(2) | PG_P
	mov eax, CR0_WP
	call pg_set_cr0
	pf_arm .r8
	mov eax, [L_RO]
.r8:
	pf_none
	check eax, 0x0000aaaa
	pf_faults L_RO + 8, PF_W | PF_P, mov dword [L_RO + 8], 0x5555
	check dword [FRAME(2) + 8], 0
	; a read-modify-write: neither memory nor flags change
	mov eax, 1
	set_flags F_CF | F_ZF
	pf_arm .r10
.f10:
	add [L_RO], eax
.r10:
	check_flags F_ALU, F_CF | F_ZF
	pf_expect L_RO, PF_W | PF_P, .f10
	check dword [FRAME(2)], 0x0000aaaa
	mov eax, 0x12
	pf_faults L_RO, PF_W | PF_P, xchg [L_RO], eax
	check eax, 0x12
	check dword [FRAME(2)], 0x0000aaaa
	; read-only PDE over a writable PTE: the stricter level wins
	map0 L_PDE_RO, FRAME(5) | PG_P | PG_RW
	pde_of L_PDE_RO
	and dword [eax], ~PG_RW
	pf_faults L_PDE_RO + 0x20, PF_W | PF_P, mov dword [L_PDE_RO + 0x20], 0x12
	check dword [FRAME(5) + 0x20], 0
	; CR0.WP = 0: supervisor writes ignore R/W at both levels
	mov eax, CR0_WP
	call pg_clear_cr0
	pf_arm .r13
	mov dword [L_RO + 8], 0x5555
	mov dword [L_PDE_RO + 0x20], 0x12
.r13:
	pf_none
	check dword [FRAME(2) + 8], 0x5555
	check dword [FRAME(5) + 0x20], 0x12
	mov eax, CR0_WP
	call pg_set_cr0

	; an access straddling two pages, only the second not present: CR2
	; is the first byte of the second page, the linear address whose
	; translation failed (SDM 4.7: CR2 = the linear address that caused
	; the fault; hardware, Bochs and QEMU report the page start here)
	map0 L_SPLIT, FRAME(3) | PG_P | PG_RW
	mov dword [FRAME(3) + 0xffc], 0x12345678
	mov eax, 0x77
	pf_faults L_SPLIT + 0x1000, 0, mov eax, [L_SPLIT + 0xffe]
	check eax, 0x77
	pf_faults L_SPLIT + 0x1000, PF_W, mov dword [L_SPLIT + 0xffe], 0xdeadbeef
	check dword [FRAME(3) + 0xffc], 0x12345678	; no half-done store
	; the first page not present: CR2 is the access's own address
	map0 L_SPLIT2 + 0x1000, FRAME(6) | PG_P | PG_RW
	pf_faults L_SPLIT2 + 0xffe, 0, mov eax, [L_SPLIT2 + 0xffe]
	; read-only second page: the write faults with P, the first page
	; (writable) keeps its bytes
	map0 L_SPLIT + 0x1000, FRAME(4) | PG_P
	invlpg [L_SPLIT + 0x1000]
	pf_faults L_SPLIT + 0x1000, PF_W | PF_P, mov dword [L_SPLIT + 0xffd], 0xdeadbeef
	check dword [FRAME(3) + 0xffc], 0x12345678
	pte_of L_SPLIT + 0x1000
	mov dword [eax], 0
	invlpg [L_SPLIT + 0x1000]
	mov eax, CR0_WP
	call pg_clear_cr0

; ---------------------------------------------------------------- restart
group "restart"
t_restart:
	mov dword [FRAME(7) + 0x10], 0x70070001
	mov dword [FRAME(7) + 0x20], 10
	mov dword [pf_fix_pte], FRAME(7) | PG_P | PG_RW
	mov eax, 0x99
	pf_arm_fixup pg_fix_map
.f1:
	mov eax, [L_FIX + 0x10]
	pf_expect L_FIX + 0x10, 0, .f1
	check eax, 0x70070001
	call unmap_fix
	mov eax, 5
	pf_arm_fixup pg_fix_map
.f2:
	add dword [L_FIX + 0x20], eax		; read-modify-write, once
	pf_expect_rmw L_FIX + 0x20, .f2
	check dword [FRAME(7) + 0x20], 15
	call unmap_fix
	mov esi, movs_src
	mov edi, L_FIX + 0x30
	pf_arm_fixup pg_fix_map
.f3:
	movsd
	pf_expect L_FIX + 0x30, PF_W, .f3
	check esi, movs_src + 4
	check edi, L_FIX + 0x34
	check dword [FRAME(7) + 0x30], 0x3333cccc
	call unmap_fix
	; POP m: the fault leaves ESP alone, the restart pops once
	mov ebx, esp
	push dword 0x0000b0b0
	pf_arm_fixup pg_fix_map
.f4:
	pop dword [L_FIX + 0x40]
	pf_expect L_FIX + 0x40, PF_W, .f4
	mov edx, esp				; check pushes: no ESP operand
	check edx, ebx
	check dword [FRAME(7) + 0x40], 0x0000b0b0
	call unmap_fix
	; an instruction straddling two code pages, the second not present:
	; mov eax, 0x12345678 at L_CODE + 0xffe, its last 3 bytes (and a ret)
	; on the next page
	map0 L_CODE, FRAME(8) | PG_P | PG_RW
	mov dword [FRAME(8) + 0xffc], 0x78b89090	; nop, nop, mov eax, 0x..78
	mov dword [FRAME(9)], 0xc3123456		; 0x123456.., ret
	mov ecx, L_CODE + 0xffe
	mov eax, 0
	mov ebx, esp
	pf_arm .r5
	call ecx
.r5:
	pf_expect L_CODE + 0x1000, 0, L_CODE + 0xffe
	check eax, 0
	add esp, 4				; the call's return address
	mov edx, esp				; check pushes: no ESP operand
	check edx, ebx
	mov dword [pf_fix_pte], FRAME(9) | PG_P | PG_RW
	pf_arm_fixup pg_fix_map
	call ecx
	pf_expect L_CODE + 0x1000, 0, L_CODE + 0xffe
	check eax, 0x12345678
	pte_of L_CODE + 0x1000
	mov dword [eax], 0
	invlpg [L_CODE + 0x1000]

; ---------------------------------------------------------------- accessed/dirty
; check_ad reg, bits: one check of the A and D bits of the page-table
; entry at [reg].
%macro check_ad 2
	mov eax, [%1]
	and eax, PG_A | PG_D
	check eax, %2
%endmacro

group "ad"
t_ad:
	map0 L_AD, FRAME(10) | PG_P | PG_RW
	pte_of L_AD
	mov [ad_pte], eax
	pde_of L_AD
	mov [ad_pde], eax
	; a read sets A in the PDE and the PTE, and never D
	mov edx, [ad_pte]
	mov ebx, [ad_pde]
	and dword [edx], ~(PG_A | PG_D)
	and dword [ebx], ~(PG_A | PG_D)
	invlpg [L_AD]
	mov eax, [L_AD]
	check_ad edx, PG_A
	check_ad ebx, PG_A			; bit 6 of a PDE that points to a
						; table is ignored: never set
	; a write after a read (the TLB holds a clean entry): D set
	mov dword [L_AD + 4], 1
	check_ad edx, PG_A | PG_D
	check_ad ebx, PG_A
	; cleared, invalidated, written first: both set again
	and dword [edx], ~(PG_A | PG_D)
	and dword [ebx], ~(PG_A | PG_D)
	invlpg [L_AD]
	mov byte [L_AD + 8], 1
	check_ad edx, PG_A | PG_D
	check_ad ebx, PG_A
	; D cleared, A kept: a read leaves D clear, the next write sets it
	and dword [edx], ~PG_D
	invlpg [L_AD]
	mov eax, [L_AD + 12]
	check_ad edx, PG_A
	inc dword [L_AD + 12]
	check_ad edx, PG_A | PG_D
	; a write that faults (read-only, WP = 1) does not set D
	mov dword [edx], FRAME(10) | PG_P
	invlpg [L_AD]
	mov eax, CR0_WP
	call pg_set_cr0
	pf_faults L_AD, PF_W | PF_P, mov dword [L_AD], 2
	mov eax, [edx]
	and eax, PG_D
	check eax, 0
	mov eax, CR0_WP
	call pg_clear_cr0
	; an instruction fetch sets A, not D, in a read-only code page
	map0 L_AD_CODE, FRAME(11) | PG_P
	put_ret_imm FRAME(11) + 0x40, 0x0000adad
	pte_of L_AD_CODE
	mov edx, eax
	and dword [ebx], ~PG_A
	invlpg [L_AD_CODE]
	mov eax, L_AD_CODE + 0x40
	call eax
	check eax, 0x0000adad
	check_ad edx, PG_A
	mov eax, [ebx]
	and eax, PG_A
	check eax, PG_A
	; a 4 MiB page: A and D live in the PDE
	mov eax, [cpuid1_edx]
	test eax, CPUID_PSE
	jz .no_pse
	pde_of L_BIG
	mov ebx, eax
	and dword [ebx], ~(PG_A | PG_D)
	invlpg [L_BIG]
	mov eax, [L_BIG + 0x100]
	check_ad ebx, PG_A
	mov dword [L_BIG + 0x100], 0
	check_ad ebx, PG_A | PG_D
	and dword [ebx], ~(PG_A | PG_D)
	invlpg [L_BIG + 0x200000]		; any address inside the page
	mov dword [L_BIG + 0x300000], 0
	check_ad ebx, PG_A | PG_D
.no_pse:

; ---------------------------------------------------------------- TLB
group "tlb"
t_tlb:
	mov dword [FRAME(12)], 0x12000012
	mov dword [FRAME(13)], 0x13000013
	map0 L_TLB, FRAME(12) | PG_P | PG_RW
	pte_of L_TLB
	mov edx, eax
	mov eax, [L_TLB]			; now cached
	check eax, 0x12000012
	; PTE changed + INVLPG: the new frame
	mov dword [edx], FRAME(13) | PG_P | PG_RW
	invlpg [L_TLB]
	mov eax, [L_TLB]
	check eax, 0x13000013
	; PTE changed + CR3 reload
	mov dword [edx], FRAME(12) | PG_P | PG_RW
	call pg_flush_tlb
	mov eax, [L_TLB]
	check eax, 0x12000012
	; INVLPG through a SIB operand
	mov dword [edx], FRAME(13) | PG_P | PG_RW
	mov ebx, L_TLB - 0x100
	mov esi, 0x3f
	invlpg [ebx + esi * 4 + 4]		; = L_TLB
	mov eax, [L_TLB]
	check eax, 0x13000013
	; INVLPG of an address with no mapping does not fault
	pf_arm .r1
	invlpg [L_NOPDE]
	invlpg [L_NP]
.r1:
	pf_none
	; global pages: only what the SDM guarantees is checked (INVLPG or
	; clearing CR4.PGE drops a global entry); a global entry surviving a
	; CR3 load is allowed but not required, so it is not looked at
	mov eax, [cpuid1_edx]
	and eax, CPUID_PGE
	check eax, CPUID_PGE			; CPUID must offer PGE
	jz .no_pge
	mov eax, CR4_PGE
	call pg_set_cr4
	mov dword [edx], FRAME(12) | PG_P | PG_RW | PG_G
	invlpg [L_TLB]
	mov eax, [L_TLB]
	check eax, 0x12000012
	mov dword [edx], FRAME(13) | PG_P | PG_RW | PG_G
	invlpg [L_TLB]
	mov eax, [L_TLB]
	check eax, 0x13000013
	mov dword [edx], FRAME(12) | PG_P | PG_RW | PG_G
	mov eax, CR4_PGE			; clearing PGE flushes global entries
	call pg_clear_cr4
	mov eax, [L_TLB]
	check eax, 0x12000012
	mov eax, CR4_PGE
	call pg_set_cr4
	mov eax, [L_TLB]			; global and cached again
	mov dword [edx], FRAME(13) | PG_P | PG_RW | PG_G
	call pg_flush_tlb			; may keep it: do not look
	invlpg [L_TLB]				; must drop it
	mov eax, [L_TLB]
	check eax, 0x13000013
	mov eax, CR4_PGE
	call pg_clear_cr4
.no_pge:
	; a 4 MiB page moved to another frame; INVLPG of any address in it
	mov eax, [cpuid1_edx]
	test eax, CPUID_PSE
	jz .no_pse
	mov dword [BIG0 + 0x10], 0x0b160010
	mov dword [BIG1 + 0x10], 0x0b161010
	mov eax, [L_BIG + 0x10]
	check eax, 0x0b160010
	pde_of L_BIG
	mov dword [eax], BIG1 | PG_PS | PG_P | PG_RW
	invlpg [L_BIG + 0x123456]
	mov eax, [L_BIG + 0x10]
	check eax, 0x0b161010
	pde_of L_BIG
	mov dword [eax], BIG0 | PG_PS | PG_P | PG_RW
	invlpg [L_BIG]
.no_pse:

; ---------------------------------------------------------------- address spaces
group "spaces"
t_spaces:
	; dir1 shares the kernel's tables; L_SP_DATA and L_SP_CODE differ
	call pg_alloc
	mov [dir1], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	mov dword [FRAME(20)], 0xaaaa0000
	mov dword [FRAME(21)], 0xbbbb1111
	put_ret_imm FRAME(22), 0xc0de0000
	put_ret_imm FRAME(23), 0xc0de1111
	map0 L_SP_DATA, FRAME(20) | PG_P | PG_RW
	map0 L_SP_CODE, FRAME(22) | PG_P | PG_RW
	mov edi, [dir1]
	pg_map_page L_SP_DATA, FRAME(21) | PG_P | PG_RW
	pg_map_page L_SP_CODE, FRAME(23) | PG_P | PG_RW
	; back and forth, so that both spaces' code is translated and cached
	xor ecx, ecx
	xor ebp, ebp				; mismatches
.round:
	mov eax, [dir0]
	mov cr3, eax
	cmp dword [L_SP_DATA], 0xaaaa0000
	je .d0
	inc ebp
.d0:
	call L_SP_CODE				; direct call
	cmp eax, 0xc0de0000
	je .c0
	inc ebp
.c0:
	mov eax, [dir1]
	mov cr3, eax
	cmp dword [L_SP_DATA], 0xbbbb1111
	je .d1
	inc ebp
.d1:
	call L_SP_CODE
	cmp eax, 0xc0de1111
	je .c1
	inc ebp
.c1:
	mov edx, L_SP_CODE			; indirect call
	call edx
	cmp eax, 0xc0de1111
	je .c2
	inc ebp
.c2:
	inc ecx
	cmp ecx, 8
	jb .round
	check ebp, 0
	; a write in one space is not seen in the other
	mov dword [L_SP_DATA + 4], 0x0000d1d1	; dir1
	mov eax, [dir0]
	mov cr3, eax
	mov eax, [L_SP_DATA + 4]
	check eax, 0
	check dword [FRAME(21) + 4], 0x0000d1d1
	call L_SP_CODE
	check eax, 0xc0de0000

group "held_unmap"
	mov edi, [dir1]
	mov esi, L_SP_DATA
	call pg_pte_addr
	mov [held_pte], eax
	mov ebx, 6
.hu_round:
	mov eax, [dir1]
	mov cr3, eax
	mov edi, [held_pte]
	mov dword [edi], FRAME(21) | PG_P | PG_RW
	invlpg [L_SP_DATA]
	check dword [L_SP_DATA], 0xbbbb1111
	mov dword [edi], 0			; cleared, no INVLPG
	mov eax, [dir0]
	mov cr3, eax
	check dword [L_SP_DATA], 0xaaaa0000	; dir0's own page
	mov eax, [dir1]
	mov cr3, eax				; the TLB is flushed: it must fault
	pf_arm .hu_resume
.hu_fault:
	mov eax, [L_SP_DATA]
.hu_resume:
	pf_expect L_SP_DATA, 0, .hu_fault
	; mapped, cleared, and set to FRAME(20) while dir0 is in use
	mov dword [edi], FRAME(21) | PG_P | PG_RW
	check dword [L_SP_DATA], 0xbbbb1111
	mov dword [edi], 0
	mov eax, [dir0]
	mov cr3, eax
	mov dword [edi], FRAME(20) | PG_P | PG_RW
	mov eax, [dir1]
	mov cr3, eax
	check dword [L_SP_DATA], 0xaaaa0000
	dec ebx
	jnz .hu_round
	mov dword [edi], FRAME(21) | PG_P | PG_RW
	invlpg [L_SP_DATA]
	check dword [L_SP_DATA], 0xbbbb1111
	mov eax, [dir0]
	mov cr3, eax

; A temporary mapping slot (as Linux's kmap_local uses one): its entry
; set, the page read, the entry cleared and invalidated, and set again to
; another frame. After the INVLPG a touch must fault; each new entry must
; show its own frame at once (btvm maps a slot's entry when it is written
; again: shadow_invlpg's reused slots).
group "reused_slot"
	mov edi, [dir0]
	mov esi, L_SP_DATA
	call pg_pte_addr
	mov edi, eax
	mov dword [edi], 0
	invlpg [L_SP_DATA]			; given back
	pf_arm .rs_resume
.rs_fault:
	mov eax, [L_SP_DATA]
.rs_resume:
	pf_expect L_SP_DATA, 0, .rs_fault
	mov ebx, 6
.rs_round:
	mov dword [edi], FRAME(21) | PG_P | PG_RW
	check dword [L_SP_DATA], 0xbbbb1111
	mov dword [edi], 0
	invlpg [L_SP_DATA]
	pf_arm .rs_np_resume			; a #PF elsewhere in between
.rs_np_fault:
	mov eax, [L_NP]
.rs_np_resume:
	pf_expect L_NP, 0, .rs_np_fault
	mov dword [edi], FRAME(20) | PG_P | PG_RW	; the slot again, another frame
	check dword [L_SP_DATA], 0xaaaa0000
	mov dword [edi], 0
	invlpg [L_SP_DATA]
	dec ebx
	jnz .rs_round
	pf_arm .rs_resume2
.rs_fault2:
	mov eax, [L_SP_DATA]			; and after the last INVLPG too
.rs_resume2:
	pf_expect L_SP_DATA, 0, .rs_fault2
	mov dword [edi], FRAME(20) | PG_P | PG_RW	; dir0's own, as before
	check dword [L_SP_DATA], 0xaaaa0000

; ---------------------------------------------------------------- directories not in use
group "offline"
t_offline:
	mov eax, [dir1]
	mov cr3, eax
	check dword [L_SP_DATA], 0xbbbb1111	; dir1's mappings in use
	mov edi, [dir1]
	mov esi, L_SP_DATA
	call pg_pde_addr
	mov ebx, eax				; dir1's PDE of L_SP_DATA
	mov edx, [ebx]				; and its own value
	call pg_pte_addr
	mov [offline_pte], eax			; the PTE under it
	mov eax, [dir0]
	mov cr3, eax
	; zeroed and copied back whole, dir0 in use
	cld
	mov esi, [dir1]
	mov edi, FRAME(25)
	mov ecx, 1024
	rep movsd
	mov edi, [dir1]
	xor eax, eax
	mov ecx, 1024
	rep stosd
	mov esi, FRAME(25)
	mov edi, [dir1]
	mov ecx, 1024
	rep movsd
	mov eax, [dir1]
	mov cr3, eax
	check dword [L_SP_DATA], 0xbbbb1111
	call L_SP_CODE
	check eax, 0xc0de1111
	; the entry pointed at dir0's table meanwhile
	mov eax, [dir0]
	mov cr3, eax
	pde_of L_SP_DATA
	mov eax, [eax]
	mov [ebx], eax
	mov eax, [dir1]
	mov cr3, eax
	check dword [L_SP_DATA], 0xaaaa0000
	call L_SP_CODE
	check eax, 0xc0de0000
	; its own table again, then cleared and restored with the PTE under
	; it changed in between
	mov eax, [dir0]
	mov cr3, eax
	mov [ebx], edx
	mov eax, [dir1]
	mov cr3, eax
	check dword [L_SP_DATA], 0xbbbb1111
	mov eax, [dir0]
	mov cr3, eax
	mov dword [FRAME(26)], 0x26262626
	mov dword [ebx], 0
	mov eax, [offline_pte]
	mov dword [eax], FRAME(26) | PG_P | PG_RW
	mov [ebx], edx
	mov eax, [dir1]
	mov cr3, eax
	check dword [L_SP_DATA], 0x26262626
	mov eax, [dir0]
	mov cr3, eax
	mov eax, [offline_pte]
	mov dword [eax], FRAME(21) | PG_P | PG_RW
	; a page dir1 wrote through its mapping, then made a table of dir0
	; while dir1 was not in use: written through dir1 again, the change
	; is a table write that dir0 sees
	mov dword [FRAME(28)], 0x28282828
	mov dword [FRAME(29)], 0x29292929
	mov edi, [dir1]
	pg_map_page L_OFF_X, FRAME(27) | PG_P | PG_RW
	mov eax, [dir1]
	mov cr3, eax
	mov dword [L_OFF_X], FRAME(28) | PG_P | PG_RW
	mov eax, [dir0]
	mov cr3, eax
	pde_of L_OFF_Y
	mov dword [eax], FRAME(27) | PG_P | PG_RW
	check dword [L_OFF_Y], 0x28282828
	mov eax, [dir1]
	mov cr3, eax
	mov dword [L_OFF_X], FRAME(29) | PG_P | PG_RW
	mov eax, [dir0]
	mov cr3, eax
	check dword [L_OFF_Y], 0x29292929
	pde_of L_OFF_Y
	mov dword [eax], 0
	mov eax, cr3
	mov cr3, eax

; ---------------------------------------------------------------- page tables through aliases
group "pt_alias"
t_pt_alias:
	mov dword [FRAME(14)], 0x14141414
	mov dword [FRAME(15)], 0x15151515
	map0 L_PTW, FRAME(14) | PG_P | PG_RW
	pde_of L_PTW
	mov ebx, [eax]
	and ebx, PG_FRAME			; T0, the table holding L_PTW's PTE
	or ebx, PG_P | PG_RW
	map0 L_PTA, ebx				; T0 seen at L_PTA
	mov eax, [L_PTW]
	check eax, 0x14141414
	mov dword [L_PTA + PTW_IDX * 4], FRAME(15) | PG_P | PG_RW
	invlpg [L_PTW]
	mov eax, [L_PTW]
	check eax, 0x15151515
	pte_of L_PTW				; the same entry seen 1:1
	mov eax, [eax]
	and eax, PG_FRAME
	check eax, FRAME(15)
	; recursive slot: PDE 1023 -> the directory, so every PTE of dir0
	; appears at RECURSIVE + (linear >> 12) * 4 and every PDE at
	; RECURSIVE + 0x3ff000 + (linear >> 22) * 4
	mov eax, [dir0]
	mov ebx, eax
	or ebx, PG_P | PG_RW
	mov [eax + 1023 * 4], ebx
	mov dword [RECURSIVE + (L_PTW >> 12) * 4], FRAME(14) | PG_P | PG_RW
	invlpg [L_PTW]
	mov eax, [L_PTW]
	check eax, 0x14141414
	; a PDE written through the recursive slot: L_NOPDE's 4 MiB now use
	; T0, so L_NOPDE + (L_PTW - L_ON) shows FRAME(14)
	mov eax, [RECURSIVE + 0x3ff000 + (L_ON >> 22) * 4]
	mov [RECURSIVE + 0x3ff000 + (L_NOPDE >> 22) * 4], eax
	mov eax, [L_NOPDE + (L_PTW - L_ON)]
	check eax, 0x14141414
	mov dword [RECURSIVE + 0x3ff000 + (L_NOPDE >> 22) * 4], 0
	invlpg [L_NOPDE + (L_PTW - L_ON)]
	pf_faults L_NOPDE + (L_PTW - L_ON), 0, mov eax, [L_NOPDE + (L_PTW - L_ON)]
	mov eax, [dir0]
	mov dword [eax + 1023 * 4], 0
	call pg_flush_tlb
	pte_of L_PTA
	mov dword [eax], 0
	invlpg [L_PTA]

; ---------------------------------------------------------------- code through aliases
group "smc_alias"
t_smc_alias:
	; one frame at L_X (read-only, executed) and L_W (written)
	put_ret_imm FRAME(16) + 0x100, 0x5a5a0001
	map0 L_X, FRAME(16) | PG_P
	map0 L_W, FRAME(16) | PG_P | PG_RW
	xor ecx, ecx
	xor ebp, ebp
.run1:
	call L_X + 0x100
	cmp eax, 0x5a5a0001
	je .ok1
	inc ebp
.ok1:
	inc ecx
	cmp ecx, 4
	jb .run1
	check ebp, 0
	mov dword [L_W + 0x101], 0x5a5a0002	; the immediate, via the alias
	call L_X + 0x100
	check eax, 0x5a5a0002
	; new instructions: xor eax, eax; inc eax; inc eax; ret
	mov dword [L_W + 0x100], 0x4040c031
	mov byte [L_W + 0x104], 0xc3
	xor ecx, ecx
	xor ebp, ebp
.run2:
	call L_X + 0x100
	cmp eax, 2
	je .ok2
	inc ebp
.ok2:
	inc ecx
	cmp ecx, 4
	jb .run2
	check ebp, 0
	; the executed alias stays read-only (WP = 1): the write faults and
	; the code is unchanged
	mov eax, CR0_WP
	call pg_set_cr0
	pf_faults L_X + 0x100, PF_W | PF_P, mov byte [L_X + 0x100], 0xc3
	call L_X + 0x100
	check eax, 2
	mov eax, CR0_WP
	call pg_clear_cr0
	; and once more through the alias, after the code ran many times
	put_ret_imm L_W + 0x100, 0x5a5a0003
	call L_X + 0x100
	check eax, 0x5a5a0003

; ---------------------------------------------------------------- string operations
group "string"
t_string:
	map0 L_STR, FRAME(17) | PG_P | PG_RW
	cld
	; REP STOSD: two dwords fit, the third is on the not-present page.
	; The SDM (REP, "string operations") makes the fault precise at the
	; element: ECX/EDI count the elements done
	mov edi, L_STR + 0xff8
	mov ecx, 6
	mov eax, 0xa5a5a5a5
	pf_faults L_STR_NEXT, PF_W, rep stosd
	check ecx, 4
	check edi, L_STR_NEXT
	check dword [FRAME(17) + 0xff8], 0xa5a5a5a5
	check dword [FRAME(17) + 0xffc], 0xa5a5a5a5
	; REP MOVSD, the source runs into the page
	mov dword [FRAME(17) + 0xff8], 0x01010101
	mov dword [FRAME(17) + 0xffc], 0x02020202
	mov dword [str_buf + 8], 0x0000eeee
	mov esi, L_STR + 0xff8
	mov edi, str_buf
	mov ecx, 4
	pf_faults L_STR_NEXT, 0, rep movsd
	check ecx, 2
	check esi, L_STR_NEXT
	check edi, str_buf + 8
	check dword [str_buf], 0x01010101
	check dword [str_buf + 4], 0x02020202
	check dword [str_buf + 8], 0x0000eeee
	; REP MOVSD, the destination runs into the page
	mov esi, str_buf
	mov edi, L_STR + 0xffc
	mov ecx, 3
	pf_faults L_STR_NEXT, PF_W, rep movsd
	check ecx, 2
	check esi, str_buf + 4
	check edi, L_STR_NEXT
	; restarted after a fix-up, the instruction finishes the rest
	mov dword [pf_fix_pte], FRAME(18) | PG_P | PG_RW
	mov edi, L_STR + 0xff8
	mov ecx, 6
	mov eax, 0x5a5a5a5a
	pf_arm_fixup pg_fix_map
.f4:
	rep stosd
	pf_expect L_STR_NEXT, PF_W, .f4
	check ecx, 0
	check edi, L_STR_NEXT + 0x10
	check dword [FRAME(17) + 0xffc], 0x5a5a5a5a
	check dword [FRAME(18)], 0x5a5a5a5a
	check dword [FRAME(18) + 0xc], 0x5a5a5a5a
	check dword [FRAME(18) + 0x10], 0
	; DF = 1: downwards into the not-present page below L_STRD
	map0 L_STRD, FRAME(19) | PG_P | PG_RW
	mov edi, L_STRD + 4
	mov ecx, 5
	mov eax, 0x3c3c3c3c
	std
	pf_arm .r5
.f5:
	rep stosd
.r5:
	cld
	pf_expect L_STRD - 4, PF_W, .f5
	check ecx, 3
	check edi, L_STRD - 4
	check dword [FRAME(19)], 0x3c3c3c3c
	check dword [FRAME(19) + 4], 0x3c3c3c3c

; ---------------------------------------------------------------- operand forms
group "forms"
t_forms:
	mov dword [FRAME(24)], 0x24242424
	map0 L_FORMS_HI, FRAME(24) | PG_P | PG_RW
	mov eax, 0x99
	; base + index * scale + disp32
	mov ebx, L_FORMS - 0x100
	mov esi, 0x20
	pf_faults L_FORMS + 0x0a3, 0, mov eax, [ebx + esi * 4 + 0x123]
	; base + index * 8 + disp8 (negative)
	mov esi, 0x40
	pf_faults L_FORMS + 0xf0, PF_W, mov [ebx + esi * 8 - 0x10], eax
	; index only, disp32
	pf_faults L_FORMS + 0x80, 0, mov ax, [esi * 2 + L_FORMS]
	; EBP and ESP bases
	mov ebp, L_FORMS + 0x1000
	pf_faults L_FORMS + 0x1055, 0, movzx eax, byte [ebp + 0x55]
	mov ecx, L_FORMS + 0x2000
	sub ecx, esp
	pf_faults L_FORMS + 0x2006, 0, movsx eax, word [esp + ecx + 6]
	; moffs (A1)
	pf_faults L_FORMS + 0x44, 0, mov eax, [L_FORMS + 0x44]
	; CMP and TEST with memory
	pf_faults L_FORMS + 0x100, 0, cmp dword [ebx + 0x200], 0x1234
	pf_faults L_FORMS + 0x40, 0, test [ebx + esi + 0x100], ecx
	; BT with a register bit offset reaches ebx + 4 * (offset >> 5)
	mov ecx, (0x100 + 0x80) * 8 + 3
	pf_faults L_FORMS + 0x80, 0, bt [ebx], ecx
	pf_arm .r10
.f10:
	bts [ebx], ecx
.r10:
	pf_expect_rmw L_FORMS + 0x80, .f10
	; a segment base: FS (base FS_BASE) + offset
	mov edx, L_FORMS + 0x3000 - FS_BASE
	pf_faults L_FORMS + 0x3008, 0, mov eax, [fs:edx + 8]
	; 16-bit addressing: the offset wraps at 64 KiB before the segment
	; base is added; without the wrap the access would land on the
	; present page at L_FORMS_HI and not fault
	mov eax, SEL_A16
	mov ebx, L_FORMS
	mov ecx, 0xfffff
	mov edx, 0x0c92				; data, read/write, 4 KiB granular
	call lib_set_desc
	mov ax, SEL_A16
	mov es, ax
	mov ebx, 0xfff0
	mov esi, 0x0020
	pf_faults L_FORMS + 0x20, 0, a16 mov eax, [es:bx + si + 0x10]	; (0xfff0 + 0x20 + 0x10) & 0xffff
	xor ebp, ebp
	mov edi, 1
	pf_faults L_FORMS + 0xffff, PF_W, a16 mov [es:bp + di - 2], ax		; offset 0xffff, a word
	mov eax, 0x20
	mov ebx, 0x8020
	pf_arm .r14
.f14:
	a16 inc dword [es:bx + 0x8000]		; 0x10020 -> 0x0020
.r14:
	pf_expect_rmw L_FORMS + 0x20, .f14
	mov ax, SEL_DATA
	mov es, ax
	; x87 and SSE loads and stores
	mov eax, CR4_OSFXSR
	call pg_set_cr4
	mov ebx, L_FORMS - 0x100
	pf_faults L_FORMS + 4, 0, fld dword [ebx + 0x104]
	fninit
	pf_faults L_FORMS + 0x1000, 0, movups xmm0, [ebx + 0x1100]
	pf_faults L_FORMS + 0x1100, PF_W, movq [ebx + 0x1200], xmm0
	; indirect CALL/JMP through memory, PUSH/POP m: ESP unchanged
	mov edx, esp
	pf_faults L_FORMS + 0x200, 0, call [ebx + 0x300]
	mov eax, esp				; check pushes: no ESP operand
	check eax, edx
	pf_faults L_FORMS + 0x204, 0, jmp [ebx + 0x304]
	pf_faults L_FORMS + 0x208, 0, push dword [ebx + 0x308]
	mov eax, esp				; check pushes: no ESP operand
	check eax, edx
	push dword 0x1234
	pf_faults L_FORMS + 0x20c, PF_W, pop dword [ebx + 0x30c]
	mov eax, esp				; as before the faulting POP
	add esp, 4
	add eax, 4
	check eax, edx
	; the access right after all these faults goes through
	mov eax, [L_FORMS_HI]
	check eax, 0x24242424

; ---------------------------------------------------------------- code remapped
group "remap_code"
t_remap_code:
	; code alone in its 4 MiB (no data access there), called until its
	; translation is cached, then its PTE pointed at other code: after
	; INVLPG the call runs the new code, indirect and direct alike
	mov eax, [dir0]
	mov cr3, eax
	put_ret_imm FRAME(30), 0x30303030
	put_ret_imm FRAME(31), 0x31313131
	map0 L_RC_CODE, FRAME(30) | PG_P
	invlpg [L_RC_CODE]
	xor ecx, ecx
.warm:
	mov edx, L_RC_CODE
	call edx
	check eax, 0x30303030
	call L_RC_CODE
	check eax, 0x30303030
	inc ecx
	cmp ecx, 8
	jb .warm
	map0 L_RC_CODE, FRAME(31) | PG_P
	invlpg [L_RC_CODE]
	mov edx, L_RC_CODE
	call edx
	check eax, 0x31313131
	call L_RC_CODE
	check eax, 0x31313131
	; and back, flushed by a CR3 reload this time
	map0 L_RC_CODE, FRAME(30) | PG_P
	mov eax, cr3
	mov cr3, eax
	mov edx, L_RC_CODE
	call edx
	check eax, 0x30303030
	call L_RC_CODE
	check eax, 0x30303030

; ---------------------------------------------------------------- paging off
group "off"
t_off:
	mov dword [L_ON + 0x10], 0x0ff0ff01
	call pg_disable
	mov eax, cr0
	and eax, CR0_PG
	check eax, 0
	check dword [FRAME(0) + 0x10], 0x0ff0ff01
	mov dword [FRAME(0) + 0x14], 0x0ff0ff02
	; and on once more, through the second directory
	mov eax, [dir1]
	call pg_enable
	mov edi, [dir1]
	pg_map_page L_ON, FRAME(0) | PG_P | PG_RW
	mov eax, [L_ON + 0x14]
	check eax, 0x0ff0ff02
	call pg_disable

guest_finish

; unmap_fix: drop L_FIX's mapping again (for the next fix-up case)
unmap_fix:
	pte_of L_FIX
	mov dword [eax], 0
	invlpg [L_FIX]
	ret

section .rodata
align 4
movs_src:	dd 0x3333cccc

section .data
align 4
hh_data:	dd 0

section .bss
held_pte:	resd 1
alignb 4
cpuid1_edx:	resd 1
dir0:		resd 1
dir1:		resd 1
offline_pte:	resd 1
ad_pte:		resd 1
ad_pde:		resd 1
str_buf:	resd 4
