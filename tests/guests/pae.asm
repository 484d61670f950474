; PAE paging with NX (issue 44), checked exactly against the SDM (vol. 3A
; 4.4 "PAE paging", 4.6 access rights, 4.7 #PF error codes, 4.8 A/D bits,
; 4.10 INVLPG) at CPL 0:
;  cpuid       PAE (leaf 1 EDX bit 6) and NX (0x80000001 EDX bit 20)
;  efer        IA32_EFER reads 0, NXE sets and reads back
;  efer_rsvd   writing SCE or LME (not offered) is #GP(0) (QEMU ignores
;              such a write)
;  enable      CR4.PAE, CR3 -> PDPT, CR0.PG: the identity map through
;              2 MiB pages
;  translate   a 4 KiB page and a 2 MiB page at their frames
;  not_present #PF error and CR2 with P clear in the PDPTE, the PDE and the
;              PTE, for reads, writes, and fetches (I/D only with NXE)
;  rsvd        a physical-address bit above 32 in a PTE, a PDE and a 2 MiB
;              PDE (RSVD|P, W for a write); XD with NXE clear (RSVD), the
;              same entry fine once NXE is set; PAT bits where CPUID has
;              no PAT (QEMU 7.2 leaves P clear in the error code of a
;              reserved-bit fault, as for 32-bit paging's: paging.pse_rsvd)
;  rsvd_high   bit 60 of a PTE (reserved in PAE paging, 62:M; QEMU ignores
;              bits 62:52)
;  wp          a read-only PTE and a read-only PDE: supervisor write #PF
;              (P|W) with CR0.WP, done with WP clear
;  xd          with NXE: a call into an XD page (PTE, or the PDE of a
;              2 MiB page) is #PF P|I/D at the target; code that ran,
;              then XD set and INVLPG: #PF; cleared and INVLPG: it runs;
;              reads and writes of an XD page work
;  xd_nxe_off  with NXE toggled off the same entry is RSVD, its fetch
;              without I/D; on again, XD
;  ad          accessed and dirty bits in the PDE and PTE (the high dword,
;              XD, kept), a 2 MiB PDE's D on a write, none on a fault
;  invlpg      a PTE pointed at another frame, INVLPG, the new data
;  user        CPL 3: supervisor PTE and PDE (U|P), read-only user page
;              (U|W|P), not present (U, U|W), XD fetch (U|I|P with NXE,
;              U|I not present, U without NXE); A and D of a user write
;  pdpte_rsvd  MOV CR3 to a PDPT whose present entry has a reserved bit:
;              #GP(0) at the MOV, CR3 unchanged; a not-present one with
;              the same bits loads (QEMU does not check PDPTEs at loads)
;  pdpte_cache the PDPTEs are read at MOV CR3 only: a PDPTE cleared in
;              memory still maps until CR3 is reloaded, one set in memory
;              does not map until then (QEMU reads the PDPT on every walk)
;  off         paging and PAE off again
;
; Memory: the kernel at 1 MiB; tables at 10 MiB (TABLES), test frames at
; 11 MiB, a 2 MiB frame at 12 MiB. PDPTE 0 maps the first 16 MiB 1:1 with
; 2 MiB pages; PDPTE 1 (1 GiB up) holds the test mappings.
%define GUEST_NAME "pae"
%include "lib.inc"
%include "exc_record.inc"
%include "rings.inc"
%include "pae.inc"

PDPT_B		equ TABLES + 0x40	; another PDPT, for the load checks
PT2		equ TABLES + 0x4000	; under PD1[3], its PDE with reserved bits
FRAMES		equ 0x00b00000
%define FRAME(n) (FRAMES + (n) * 0x1000)
BIG		equ 0x00c00000		; a 2 MiB frame

ACC		equ 0x020
DIRTY		equ 0x040
XD_HI		equ 0x80000000		; bit 63, in the high dword

CR0_WP		equ 0x00010000
MSR_EFER	equ 0xc0000080
EFER_NXE	equ 0x800

L_BIG		equ 0x40200000		; PD1[1]: 2 MiB -> BIG
L_NOPDE		equ 0x40400000		; PD1[2]: not present
L_BADPDE	equ 0x40600000		; PD1[3]: -> PT2 with bit 40 set
L_BIG2		equ 0x40800000		; PD1[4]: 2 MiB page for XD and RSVD
L_NOPDPTE	equ 0x80000000		; PDPTE 2: not present

%macro set_nxe 1
	mov ecx, MSR_EFER
	rdmsr
	and eax, ~EFER_NXE
	or eax, (%1) * EFER_NXE
	wrmsr
%endmacro

; user_pf code, address, error: run code at CPL 3, where it takes one
; #PF with that CR2 and error code, at its first instruction (a read or a
; write) or at the address (a fetch: u_fetch).
%macro user_pf 3
	arm %1.done
	mov eax, %1
	xor ecx, ecx
	call rings_run_user
%ifidn %1, u_fetch
	pf %2, %3, %2
%else
	pf %1, %3, %2
%endif
%endmacro

guest_start
	call lib_install_idt
	call rings_setup
	mov dword [lib_exc_hook], exc_record
	mov eax, 1
	cpuid
	mov [cpuid1_edx], edx

group "cpuid"
t_cpuid:
	mov eax, [cpuid1_edx]
	and eax, 1 << 6
	check eax, 1 << 6
	mov eax, 0x80000000
	cpuid
	cmp eax, 0x80000001
	setae al
	movzx eax, al
	check eax, 1
	mov eax, 0x80000001
	cpuid
	and edx, 1 << 20
	check edx, 1 << 20

group "efer"
t_efer:
	mov ecx, MSR_EFER
	rdmsr
	check eax, 0
	check edx, 0
	set_nxe 1
	rdmsr
	check eax, EFER_NXE
	check edx, 0
	set_nxe 0
	rdmsr
	check eax, 0

group "efer_rsvd"
t_efer_rsvd:
	mov ecx, MSR_EFER
	xor edx, edx
	mov eax, 1				; SCE: no SYSCALL here
	arm .r1
.f1:	wrmsr
.r1:	expect 13, .f1, 0
	mov eax, 0x100				; LME: no long mode
	arm .r2
.f2:	wrmsr
.r2:	expect 13, .f2, 0
	xor eax, eax
	mov ecx, MSR_EFER
	rdmsr
	check eax, 0

group "enable"
t_enable:
	; zero the tables and the frames
	cld
	mov edi, TABLES
	mov ecx, 0x5000 / 4
	xor eax, eax
	rep stosd
	mov edi, FRAMES
	mov ecx, 32 * 0x1000 / 4
	rep stosd
	; frame n holds n * 0x1111 at its start; the 2 MiB frame a marker
	xor ecx, ecx
.frames:
	mov eax, ecx
	imul eax, 0x1111
	mov edx, ecx
	shl edx, 12
	mov [FRAMES + edx], eax
	inc ecx
	cmp ecx, 32
	jb .frames
	mov dword [BIG + 0x12344], 0xb16b16
	; PD0: 8 x 2 MiB, 1:1, user too (the user group's code and stack)
	pae_identity P | RW | US | PS
	mov dword [PDPT], PD0 | P
	mov dword [PDPT + 8], PD1 | P
	mov dword [PD1], PT1 | P | RW | US
	mov dword [PD1 + 8], BIG | P | RW | US | PS
	mov dword [PD1 + 3 * 8], PT2 | P | RW | US
	mov dword [PD1 + 3 * 8 + 4], 1 << 8	; bit 40
	mov dword [PT2], FRAME(9) | P | RW
	mov dword [PD1 + 4 * 8], BIG | P | RW | PS
	xor ecx, ecx
.ptes:
	mov eax, ecx
	shl eax, 12
	add eax, FRAMES | P | RW | US
	mov [PT1 + ecx * 8], eax
	inc ecx
	cmp ecx, 16
	jb .ptes
	mov eax, cr4
	or eax, CR4_PAE
	mov cr4, eax
	mov eax, PDPT
	mov cr3, eax
	mov eax, cr0
	or eax, CR0_PG | CR0_WP
	mov cr0, eax
	mov eax, cr0
	and eax, CR0_PG
	check eax, CR0_PG
	mov eax, cr3
	check eax, PDPT
	mov eax, [FRAMES + 0x1000 * 3]		; through the identity's 2 MiB page
	check eax, 3 * 0x1111

group "translate"
t_translate:
	mov eax, [L4K(5)]
	check eax, 5 * 0x1111
	mov dword [L4K(6) + 0x10], 0xabcd
	mov eax, [FRAME(6) + 0x10]
	check eax, 0xabcd
	mov eax, [L_BIG + 0x12344]
	check eax, 0xb16b16
	mov eax, [L_BIG2 + 0x12344]
	check eax, 0xb16b16

group "not_present"
t_not_present:
	arm .r1
.f1:	mov eax, [L_NOPDPTE + 0x123]
.r1:	pf .f1, 0, L_NOPDPTE + 0x123
	arm .r2
.f2:	mov dword [L_NOPDE + 8], 1
.r2:	pf .f2, 2, L_NOPDE + 8
	pte 7, 0, 0
	arm .r3
.f3:	mov eax, [L4K(7) + 0xffc]
.r3:	pf .f3, 0, L4K(7) + 0xffc
	arm .r4
.f4:	mov dword [L4K(7) + 0x40], 1
.r4:	pf .f4, 2, L4K(7) + 0x40
	; fetches: no I/D without NXE, I/D with it
	arm .r5
	mov eax, L4K(7) + 0x20
	call eax
.r5:	add esp, 4
	pf L4K(7) + 0x20, 0, L4K(7) + 0x20
	set_nxe 1
	arm .r6
	mov eax, L_NOPDE + 0x30
	call eax
.r6:	add esp, 4
	pf L_NOPDE + 0x30, 0x10, L_NOPDE + 0x30
	arm .r7
	mov eax, L_NOPDPTE
	call eax
.r7:	add esp, 4
	pf L_NOPDPTE, 0x10, L_NOPDPTE
	set_nxe 0
	pte 7, FRAME(7) | P | RW | US, 0

group "rsvd"
t_rsvd:
	pte 8, FRAME(8) | P | RW | US, 1 << 8	; bit 40
	arm .r1
.f1:	mov eax, [L4K(8)]
.r1:	pf .f1, 9, L4K(8)
	arm .r2
.f2:	mov [L4K(8) + 4], eax
.r2:	pf .f2, 0xb, L4K(8) + 4
	arm .r3
.f3:	mov eax, [L_BADPDE + 0x10]		; the PDE's reserved bit
.r3:	pf .f3, 9, L_BADPDE + 0x10
	pde 4, BIG | P | RW | PS | (1 << 13), 0	; bits 20:13 of a 2 MiB PDE
	arm .r4
.f4:	mov eax, [L_BIG2]
.r4:	pf .f4, 9, L_BIG2
	pde 4, BIG | P | RW | PS, 0
	; XD without NXE: reserved, also for a fetch (no I/D)
	pte 8, FRAME(8) | P | RW | US, XD_HI
	arm .r5
.f5:	mov eax, [L4K(8)]
.r5:	pf .f5, 9, L4K(8)
	arm .r6
	mov eax, L4K(8) + 0x40
	call eax
.r6:	add esp, 4
	pf L4K(8) + 0x40, 9, L4K(8) + 0x40
	; with NXE it is XD: data goes
	set_nxe 1
	arm .r7
	mov eax, [L4K(8)]
.r7:	check dword [x_count], 0
	check eax, 8 * 0x1111
	set_nxe 0
	pte 8, FRAME(8) | P | RW | US, 0
	; PAT: bit 7 of a PTE, bit 12 of a 2 MiB PDE, reserved without PAT
	test dword [cpuid1_edx], 1 << 16
	jnz .pat_done
	pte 8, FRAME(8) | P | RW | US | 0x80, 0
	arm .r8
.f8:	mov eax, [L4K(8)]
.r8:	pf .f8, 9, L4K(8)
	pte 8, FRAME(8) | P | RW | US, 0
	pde 4, BIG | P | RW | PS | (1 << 12), 0
	arm .r9
.f9:	mov eax, [L_BIG2]
.r9:	pf .f9, 9, L_BIG2
	pde 4, BIG | P | RW | PS, 0
.pat_done:
	mov eax, [L4K(8)]
	check eax, 8 * 0x1111

group "rsvd_high"
t_rsvd_high:
	pte 8, FRAME(8) | P | RW | US, 1 << 28	; bit 60
	arm .r1
.f1:	mov eax, [L4K(8)]
.r1:	pf .f1, 9, L4K(8)
	pte 8, FRAME(8) | P | RW | US, 0

group "wp"
t_wp:
	pte 9, FRAME(9) | P | US, 0		; read-only
	arm .r1
.f1:	mov dword [L4K(9) + 8], 0x99
.r1:	pf .f1, 3, L4K(9) + 8
	mov eax, cr0
	and eax, ~CR0_WP
	mov cr0, eax
	arm .r2
	mov dword [L4K(9) + 8], 0x99		; WP clear: a supervisor write goes
.r2:	check dword [x_count], 0
	check dword [FRAME(9) + 8], 0x99
	mov eax, cr0
	or eax, CR0_WP
	mov cr0, eax
	; a read-only 2 MiB PDE
	pde 4, BIG | P | PS, 0
	arm .r3
.f3:	mov dword [L_BIG2 + 0x100], 1
.r3:	pf .f3, 3, L_BIG2 + 0x100
	pde 4, BIG | P | RW | PS, 0
	pte 9, FRAME(9) | P | RW | US, 0

group "xd"
t_xd:
	; frame 10: mov eax, 0x600d; ret
	mov byte [FRAME(10) + 0x80], 0xb8
	mov dword [FRAME(10) + 0x81], 0x600d
	mov byte [FRAME(10) + 0x85], 0xc3
	set_nxe 1
	pte 10, FRAME(10) | P | RW | US, XD_HI
	arm .r1
	mov eax, L4K(10) + 0x80
	call eax
.r1:	add esp, 4
	pf L4K(10) + 0x80, 0x11, L4K(10) + 0x80
	; the data of an XD page
	mov eax, [L4K(10) + 0x81]
	check eax, 0x600d
	; cleared: it runs
	pte 10, FRAME(10) | P | RW | US, 0
	xor eax, eax
	mov ebx, L4K(10) + 0x80
	call ebx
	check eax, 0x600d
	xor eax, eax
	call ebx
	check eax, 0x600d
	; set again (its block translated): #PF after INVLPG
	pte 10, FRAME(10) | P | RW | US, XD_HI
	arm .r2
	call ebx
.r2:	add esp, 4
	pf L4K(10) + 0x80, 0x11, L4K(10) + 0x80
	; XD in the PDE of a 2 MiB page; its code copied there
	mov byte [BIG + 0x80], 0xb8
	mov dword [BIG + 0x81], 0x2bad
	mov byte [BIG + 0x85], 0xc3
	pde 4, BIG | P | RW | PS, XD_HI
	arm .r3
	mov eax, L_BIG2 + 0x80
	call eax
.r3:	add esp, 4
	pf L_BIG2 + 0x80, 0x11, L_BIG2 + 0x80
	pde 4, BIG | P | RW | PS, 0
	mov eax, L_BIG2 + 0x80
	call eax
	check eax, 0x2bad
	; XD in the PDE over a table
	pde 0, PT1 | P | RW | US, XD_HI
	invlpg [L4K(10)]			; each page under the PDE may be cached
	arm .r4
	call ebx
.r4:	add esp, 4
	pf L4K(10) + 0x80, 0x11, L4K(10) + 0x80
	pde 0, PT1 | P | RW | US, 0
	invlpg [L4K(10)]
	pte 10, FRAME(10) | P | RW | US, XD_HI

group "xd_nxe_off"
t_xd_nxe_off:
	; NXE off: the XD PTE is reserved, its fetch without I/D
	mov ebx, L4K(10) + 0x80
	set_nxe 0
	arm .r5
	call ebx
.r5:	add esp, 4
	pf L4K(10) + 0x80, 9, L4K(10) + 0x80
	; and on again: XD
	set_nxe 1
	arm .r6
	call ebx
.r6:	add esp, 4
	pf L4K(10) + 0x80, 0x11, L4K(10) + 0x80
	pte 10, FRAME(10) | P | RW | US, 0
	xor eax, eax
	call ebx
	check eax, 0x600d
	set_nxe 0

group "ad"
t_ad:
	set_nxe 1
	mov dword [PD1 + 5 * 8], PT1 | P | RW | US	; PD1[5]: the same table again
	mov dword [PD1 + 5 * 8 + 4], 0
	pte 11, FRAME(11) | P | RW | US, XD_HI
	invlpg [0x40a00000 + 11 * 0x1000]
	mov eax, [0x40a00000 + 11 * 0x1000]
	check eax, 11 * 0x1111
	mov eax, [PD1 + 5 * 8]
	check eax, PT1 | P | RW | US | ACC	; A in the PDE, no D
	mov eax, [PT1 + 11 * 8]
	check eax, FRAME(11) | P | RW | US | ACC
	mov eax, [PT1 + 11 * 8 + 4]
	check eax, XD_HI
	mov dword [0x40a00000 + 11 * 0x1000 + 4], 5
	mov eax, [PT1 + 11 * 8]
	check eax, FRAME(11) | P | RW | US | ACC | DIRTY
	mov eax, [PT1 + 11 * 8 + 4]
	check eax, XD_HI
	mov eax, [PD1 + 5 * 8]
	check eax, PT1 | P | RW | US | ACC
	; cleared and invalidated: set again by a read, D not
	and dword [PT1 + 11 * 8], ~(ACC | DIRTY)
	invlpg [0x40a00000 + 11 * 0x1000]
	mov eax, [0x40a00000 + 11 * 0x1000 + 4]
	check eax, 5
	mov eax, [PT1 + 11 * 8]
	check eax, FRAME(11) | P | RW | US | ACC
	; a write that faults sets nothing
	pte 12, FRAME(12) | P | US, 0
	arm .r1
.f1:	mov dword [L4K(12)], 1
.r1:	pf .f1, 3, L4K(12)
	mov eax, [PT1 + 12 * 8]
	and eax, DIRTY
	check eax, 0
	; a 2 MiB page: A on a read, D on a write
	pde 4, BIG | P | RW | PS, 0
	mov eax, [L_BIG2 + 0x40]
	mov eax, [PD1 + 4 * 8]
	check eax, BIG | P | RW | PS | ACC
	mov dword [L_BIG2 + 0x44], 1
	mov eax, [PD1 + 4 * 8]
	check eax, BIG | P | RW | PS | ACC | DIRTY
	mov dword [PD1 + 5 * 8], 0
	invlpg [0x40a00000 + 11 * 0x1000]
	set_nxe 0

group "invlpg"
t_invlpg:
	mov eax, [L4K(13)]
	check eax, 13 * 0x1111
	pte 13, FRAME(14) | P | RW | US, 0
	mov eax, [L4K(13)]
	check eax, 14 * 0x1111
	pte 13, FRAME(13) | P | RW | US, 0
	mov eax, [L4K(13)]
	check eax, 13 * 0x1111

group "user"
t_user:
	; CPL 3: a supervisor PTE, a supervisor PDE, a read-only user page,
	; a not-present page, an XD page (with NXE), and a user page that goes
	pte 15, FRAME(15) | P | RW, 0
	user_pf u_read, L4K(15) + 4, 5
	pte 15, FRAME(15) | P | US, 0
	user_pf u_write, L4K(15) + 8, 7
	pte 15, 0, 0
	user_pf u_read, L4K(15) + 4, 4
	user_pf u_write, L4K(15) + 8, 6
	pte 15, FRAME(15) | P | RW | US, 0
	pde 0, PT1 | P | RW, 0			; the PDE forbids CPL 3
	invlpg [L4K(15)]
	user_pf u_read, L4K(15) + 4, 5
	pde 0, PT1 | P | RW | US, 0
	invlpg [L4K(15)]
	set_nxe 1
	mov byte [FRAME(15) + 0x80], 0xc3	; ret... never reached
	pte 15, FRAME(15) | P | RW | US, XD_HI
	user_pf u_fetch, L4K(15) + 0x80, 0x15
	pte 15, 0, 0
	user_pf u_fetch, L4K(15) + 0x80, 0x14
	set_nxe 0
	user_pf u_fetch, L4K(15) + 0x80, 4
	pte 15, FRAME(15) | P | RW | US, 0
	arm 0
	mov eax, u_write
	xor ecx, ecx
	call rings_run_user
	check dword [x_count], 0
	mov eax, [PT1 + 15 * 8]
	check eax, FRAME(15) | P | RW | US | ACC | DIRTY
	check dword [FRAME(15) + 8], 0x7777

group "pdpte_rsvd"
t_pdpte_rsvd:
	mov dword [PDPT_B], PD0 | P
	mov dword [PDPT_B + 8], PD1 | P | 2	; bit 1: reserved
	arm .r1
	mov eax, PDPT_B
.f1:	mov cr3, eax
.r1:	expect 13, .f1, 0
	mov eax, cr3
	check eax, PDPT
	mov dword [PDPT_B + 8], PD1 | P
	mov dword [PDPT_B + 12], 0x10		; bit 36: above the address width
	arm .r2
	mov eax, PDPT_B
.f2:	mov cr3, eax
.r2:	expect 13, .f2, 0
	mov dword [PDPT_B + 8], PD1 | 2		; not present: anything goes
	mov dword [PDPT_B + 12], 0x10
	arm .r3
	mov eax, PDPT_B
	mov cr3, eax
.r3:	check dword [x_count], 0
	mov eax, cr3
	check eax, PDPT_B
	mov eax, PDPT
	mov cr3, eax
	mov eax, [L4K(5)]
	check eax, 5 * 0x1111

group "pdpte_cache"
t_pdpte_cache:
	; PDPTE 2 set in memory: not used until CR3 is loaded again
	mov dword [PDPT + 16], PD1 | P
	arm .r1
.f1:	mov eax, [L_NOPDPTE + 0x5000]
.r1:	pf .f1, 0, L_NOPDPTE + 0x5000
	mov eax, PDPT
	mov cr3, eax
	arm .r2
	mov eax, [L_NOPDPTE + 0x5000]		; PD1[0] -> PT1[5]
.r2:	check dword [x_count], 0
	check eax, 5 * 0x1111
	; PDPTE 2 cleared in memory: still maps until the next load
	mov dword [PDPT + 16], 0
	arm .r3
	mov eax, [L_NOPDPTE + 0x6000]
.r3:	check dword [x_count], 0
	check eax, 6 * 0x1111
	mov eax, PDPT
	mov cr3, eax
	arm .r4
.f4:	mov eax, [L_NOPDPTE + 0x6000]
.r4:	pf .f4, 0, L_NOPDPTE + 0x6000

group "off"
t_off:
	mov eax, cr0
	and eax, ~CR0_PG
	mov cr0, eax
	mov eax, cr4
	and eax, ~CR4_PAE
	mov cr4, eax
	mov eax, [FRAME(5)]
	check eax, 5 * 0x1111

	guest_finish

; The user group's ring-3 code: one access each, then back to ring 0.
u_read:
	mov eax, [L4K(15) + 4]
.done:
	leave_user
u_write:
	mov dword [L4K(15) + 8], 0x7777
.done:
	leave_user
u_fetch:
	mov eax, L4K(15) + 0x80
	jmp eax
.done:
	leave_user

section .bss
cpuid1_edx:	resd 1
