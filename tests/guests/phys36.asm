; PAE paging's 36-bit physical addresses (CPUID 0x80000008 EAX[7:0] =
; MAXPHYADDR 36; SDM vol. 3, 4.4), with RAM below 4 GiB only:
;  cpuid       0x80000008 EAX = 0x2024: 36 physical, 32 linear bits
;              (QEMU's qemu32 has no such leaf)
;  enable      CR4.PAE, CR3 -> PDPT, CR0.PG: the first 16 MiB 1:1
;              through 2 MiB pages
;  rsvd        bits 36 and 51 of a PTE, bit 40 of a PDE, bit 36 of a 2 MiB
;              PDE: #PF RSVD|P (W for a write) with CR2 (QEMU 7.2 leaves P
;              clear in a reserved-bit fault's error code: pae.rsvd)
;  pdpte       a present PDPTE with bit 36 set: #GP(0) at MOV CR3; with
;              bit 32 it loads, and its directory (above RAM) reads all
;              ones, whose reserved bits fault (QEMU does not check
;              PDPTEs at loads, and leaves P clear)
;  above_ram   a PTE naming frame 4 GiB + 11 MiB (bits 35:32 are address
;              bits now) and a 2 MiB page at 8 GiB + 12 MiB: no RAM there,
;              so reads give all ones and writes are dropped, and the RAM
;              at the low 32 bits of those addresses is left alone (no
;              alias at the address truncated to 32 bits); accesses
;              straddling into it; REP MOVSD from it (QEMU reads
;              unassigned memory as zeros, a PC's bus as all ones)
;  fetch       a call into the page above RAM: the bus's all ones are
;              FF FF, an invalid opcode: #UD at the target (QEMU TCG
;              runs no code from unassigned memory: it stops)
;  off         paging and PAE off again
;
; Memory: the kernel at 1 MiB; tables at 10 MiB, test frames at 11 MiB, a
; 2 MiB frame at 12 MiB. PDPTE 0 maps the first 16 MiB 1:1 with 2 MiB
; pages; PDPTE 1 (1 GiB up) holds the test mappings.
%define GUEST_NAME "phys36"
%include "lib.inc"
%include "exc_record.inc"
%include "pae.inc"

PDPT_B		equ TABLES + 0x40	; another PDPT, for the load checks
FRAMES		equ 0x00b00000
%define FRAME(n) (FRAMES + (n) * 0x1000)
BIG		equ 0x00c00000		; a 2 MiB frame

L_BIG		equ 0x40200000		; PD1[1]: a 2 MiB page
L_BADPDE	equ 0x40400000		; PD1[2]: a PDE with a reserved bit

guest_start
	call lib_install_idt
	mov dword [lib_exc_hook], exc_record

group "cpuid"
t_cpuid:
	mov eax, 0x80000000
	cpuid
	cmp eax, 0x80000008
	setae al
	movzx eax, al
	check eax, 1
	mov eax, 0x80000008
	cpuid
	check eax, 0x2024

group "enable"
t_enable:
	cld
	mov edi, TABLES
	mov ecx, 0x4000 / 4
	xor eax, eax
	rep stosd
	; frame n holds n * 0x1111 at its start and 0x5a5a5a5a at +0x10;
	; the 2 MiB frame a marker
	xor ecx, ecx
.frames:
	mov eax, ecx
	imul eax, 0x1111
	mov edx, ecx
	shl edx, 12
	mov [FRAMES + edx], eax
	mov dword [FRAMES + edx + 0x10], 0x5a5a5a5a
	inc ecx
	cmp ecx, 16
	jb .frames
	mov dword [BIG + 0x12344], 0xb16b16
	pae_identity P | RW | PS
	mov dword [PDPT], PD0 | P
	mov dword [PDPT + 8], PD1 | P
	mov dword [PD1], PT1 | P | RW
	mov dword [PD1 + 8], BIG | P | RW | PS
	xor ecx, ecx
.ptes:
	mov eax, ecx
	shl eax, 12
	add eax, FRAMES | P | RW
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
	or eax, CR0_PG
	mov cr0, eax
	mov eax, [L4K(3)]
	check eax, 3 * 0x1111
	mov eax, [L_BIG + 0x12344]
	check eax, 0xb16b16

group "rsvd"
t_rsvd:
	pte 4, FRAME(4) | P | RW, 0x10		; bit 36: MAXPHYADDR
	arm .r1
.f1:	mov eax, [L4K(4)]
.r1:	pf .f1, 9, L4K(4)
	arm .r2
.f2:	mov [L4K(4) + 8], eax
.r2:	pf .f2, 0xb, L4K(4) + 8
	pte 4, FRAME(4) | P | RW, 0x80000	; bit 51
	arm .r3
.f3:	mov eax, [L4K(4)]
.r3:	pf .f3, 9, L4K(4)
	pte 4, FRAME(4) | P | RW, 0		; fine again
	arm .r4
	mov eax, [L4K(4)]
.r4:	check dword [x_count], 0
	check eax, 4 * 0x1111
	pde 2, PT1 | P | RW, 1 << 8		; bit 40 of a PDE
	arm .r5
.f5:	mov eax, [L_BADPDE + 0x3000]
.r5:	pf .f5, 9, L_BADPDE + 0x3000
	pde 2, BIG | P | RW | PS, 0x10		; bit 36 of a 2 MiB PDE
	arm .r6
.f6:	mov eax, [L_BADPDE + 0x12344]
.r6:	pf .f6, 9, L_BADPDE + 0x12344
	pde 2, 0, 0

group "pdpte"
t_pdpte:
	mov dword [PDPT_B], PD0 | P
	mov dword [PDPT_B + 8], PD1 | P
	mov dword [PDPT_B + 12], 0x10		; bit 36: reserved
	arm .r1
	mov eax, PDPT_B
.f1:	mov cr3, eax
.r1:	expect 13, .f1, 0
	mov eax, cr3
	check eax, PDPT
	mov dword [PDPT_B + 12], 1		; bit 32: an address bit
	arm .r2
	mov eax, PDPT_B
	mov cr3, eax
.r2:	check dword [x_count], 0
	mov eax, cr3
	check eax, PDPT_B
	; its directory is at 4 GiB + 10 MiB + 8 KiB: no RAM, all ones
	arm .r3
.f3:	mov eax, [L4K(1)]
.r3:	pf .f3, 9, L4K(1)
	mov eax, [FRAME(0)]			; PDPTE 0 still maps
	check eax, 0
	mov eax, PDPT
	mov cr3, eax

group "above_ram"
t_above_ram:
	pte 5, FRAME(0) | P | RW, 1		; 4 GiB + 11 MiB
	mov eax, [L4K(5)]
	check eax, 0xffffffff
	mov eax, [L4K(5) + 0x10]
	check eax, 0xffffffff
	mov dword [L4K(5)], 0x12345678
	mov eax, [L4K(5)]
	check eax, 0xffffffff
	mov byte [L4K(5) + 0x10], 0x11
	; the low 32 bits name FRAME(0), which saw none of it
	mov eax, [L4K(0)]
	check eax, 0
	mov eax, [L4K(0) + 0x10]
	check eax, 0x5a5a5a5a
	; a dword and a word straddling from frame 4 into it
	mov eax, [L4K(4) + 0xffe]
	check eax, 0xffff0000
	mov ax, [L4K(4) + 0xfff]
	check eax, 0xffffff00
	mov eax, 0x2211
	mov [L4K(4) + 0xfff], ax
	movzx eax, byte [L4K(4) + 0xfff]
	check eax, 0x11
	movzx eax, byte [FRAME(0)]
	check eax, 0
	; REP MOVSD from it
	mov esi, L4K(5) + 0x100
	mov edi, FRAME(6) + 0x100
	mov ecx, 4
	rep movsd
	mov eax, [FRAME(6) + 0x10c]
	check eax, 0xffffffff
	mov eax, [FRAME(6)]
	check eax, 6 * 0x1111
	; a 2 MiB page at 8 GiB + 12 MiB: the low bits name BIG
	pde 3, BIG | P | RW | PS, 2
	mov eax, [L_BASE + 3 * 0x200000 + 0x12344]
	check eax, 0xffffffff
	mov dword [L_BASE + 3 * 0x200000 + 0x12344], 0
	mov eax, [BIG + 0x12344]
	check eax, 0xb16b16

group "fetch"
t_fetch:
	arm .r1
	mov eax, L4K(5) + 0x40
	call eax
.r1:	add esp, 4
	expect 6, L4K(5) + 0x40, 0

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
