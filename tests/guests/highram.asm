; Guest RAM above 4 GiB under PAE, run with more than 3 GiB of RAM (-m
; 5120, and 4064): 3 GiB from 0 and the rest from 4 GiB (the PCI hole
; between), as btvm and QEMU's pc lay it out. The guest takes the high
; range's length from the memory map and works at its top, which at -m
; 5120 lies past 4 GiB of btvm's memfd (RAM below 4 GiB, then above):
; code, a page table and a 2 MiB page there are keyed and traced by their
; wide memfd offsets. The low 32 bits of the top frame's address must be
; low RAM (true at both sizes).
;  mmap        Multiboot's memory map has one RAM range at 4 GiB: its
;              length gives the last frame TOP (4 GiB + length - 4 KiB)
;  enable      CR4.PAE, CR3 -> PDPT, CR0.PG: the first 16 MiB 1:1
;              through 2 MiB pages
;  aliases     the frame at 4 GiB and TOP each through two linear pages:
;              a pattern written through one reads back through the
;              other, both ways
;  past_end    the frame after TOP reads all ones, writes dropped (QEMU
;              reads zeros)
;  large       a 2 MiB page over the top 2 MiB of RAM: TOP's pattern at
;              its end, a write through it
;  strings     REP MOVSD from high RAM to low and back, REP STOSD there
;  code        a function copied to TOP - 8 KiB through one alias and
;              called through the other; rewritten through the first and
;              called again (the new code runs)
;  table       a page table at TOP - 16 KiB (its PDE names it): a PTE
;              written there maps, changed and INVLPG'd maps anew
;  off         paging and PAE off again; the low RAM at the low 32 bits
;              of every high address written holds what it did
; With "wait" on the command line (tests/system/run_monitor_highram.py)
; the guest stops before "off", paging still on, prints "INFO highram:
; waiting" with TOP's address and spins there, for the monitor to read
; high RAM (xp), TOP through its alias (x) and the code's translation.
%define GUEST_NAME "highram"
%include "lib.inc"
%include "exc_record.inc"
%include "pae.inc"

LOWBUF		equ 0x00b00000		; low RAM scratch

TOP_LO		equ 0x00b10000		; the last frame's address, low dword
TOP_HI		equ 0x00b10004		; and high

L_BIG		equ 0x40200000		; PD1[1]: the top 2 MiB
L_TAB		equ 0x40400000		; PD1[2]: a table in high RAM

; PT1 entries: 0 and 1 -> 4 GiB, 2 and 3 -> TOP, 4 -> the frame after it,
; 5 -> the high table (TOP - 16 KiB), 6 and 7 -> TOP - 8 KiB (code).

; top_frame reg_lo, reg_hi, delta: the address TOP + delta (signed).
%macro top_frame 3
	mov %1, [TOP_LO]
	mov %2, [TOP_HI]
	add %1, %3
	adc %2, -((%3) < 0)			; the delta's sign extension
%endmacro

guest_start
	call lib_install_idt
	mov dword [lib_exc_hook], exc_record

group "mmap"
t_mmap:
	; Multiboot info: flags bit 6, mmap_length at +44, mmap_addr at +48;
	; entries: size, base (8), length (8), type, the next at +size+4
	mov ebx, [lib_entry_ebx]
	mov eax, [ebx]
	and eax, 1 << 6
	check eax, 1 << 6
	mov esi, [ebx + 48]
	mov edi, esi
	add edi, [ebx + 44]
	xor edx, edx				; found
.next:	cmp esi, edi
	jae .done
	cmp dword [esi + 4], 0
	jne .skip
	cmp dword [esi + 8], 1			; base 4 GiB
	jne .skip
	cmp dword [esi + 20], 1			; RAM
	jne .skip
	mov eax, [esi + 12]			; TOP = 4 GiB + length - 4 KiB
	mov ecx, [esi + 16]
	sub eax, 0x1000
	sbb ecx, 0
	inc ecx
	mov [TOP_LO], eax
	mov [TOP_HI], ecx
	inc edx
.skip:	add esi, [esi]
	add esi, 4
	jmp .next
.done:	check edx, 1

group "enable"
t_enable:
	cld
	mov edi, TABLES
	mov ecx, 0x4000 / 4
	xor eax, eax
	rep stosd
	mov dword [LOWBUF], 0x10101010
	; the low RAM at the low 32 bits of the high frames: checked at the end
	mov dword [0x100], 0x22222222
	mov ebx, [TOP_LO]
	mov dword [ebx + 0x10], 0x33333333
	mov dword [ebx + 0xff8], 0x44444444
	mov dword [ebx - 0x2000 + 1], 0x55555555
	pae_identity P | RW | PS
	mov dword [PDPT], PD0 | P
	mov dword [PDPT + 8], PD1 | P
	mov dword [PD1], PT1 | P | RW
	top_frame eax, edx, 0			; the top 2 MiB
	and eax, ~0x1fffff
	or eax, P | RW | PS
	mov [PD1 + 8], eax
	mov [PD1 + 12], edx
	pte 0, P | RW, 1
	pte 1, P | RW, 1
	top_frame eax, edx, P | RW
	pte 2, eax, edx
	pte 3, eax, edx
	top_frame eax, edx, 0x1000 | P | RW
	pte 4, eax, edx
	top_frame eax, edx, -0x4000 + (P | RW)
	pte 5, eax, edx
	top_frame eax, edx, -0x2000 + (P | RW)
	pte 6, eax, edx
	pte 7, eax, edx
	mov eax, cr4
	or eax, CR4_PAE
	mov cr4, eax
	mov eax, PDPT
	mov cr3, eax
	mov eax, cr0
	or eax, CR0_PG
	mov cr0, eax
	mov eax, [LOWBUF]
	check eax, 0x10101010

group "aliases"
t_aliases:
	mov dword [L4K(0)], 0x4a4a0001
	mov dword [L4K(0) + 0xffc], 0x4a4a0ffc
	mov eax, [L4K(1)]
	check eax, 0x4a4a0001
	mov eax, [L4K(1) + 0xffc]
	check eax, 0x4a4a0ffc
	mov dword [L4K(1) + 0x100], 0x5b5b0100
	mov eax, [L4K(0) + 0x100]
	check eax, 0x5b5b0100
	mov dword [L4K(2) + 0x10], 0x7e7e0010
	mov eax, [L4K(3) + 0x10]
	check eax, 0x7e7e0010
	mov dword [L4K(3) + 0xff8], 0x7e7e0ff8
	mov eax, [L4K(2) + 0xff8]
	check eax, 0x7e7e0ff8

group "past_end"
t_past_end:
	mov eax, [L4K(4)]			; the frame after the last
	check eax, 0xffffffff
	mov dword [L4K(4)], 0
	mov eax, [L4K(4)]
	check eax, 0xffffffff

group "large"
t_large:
	mov eax, [L_BIG + 0x1ff010]
	check eax, 0x7e7e0010
	mov eax, [L_BIG + 0x1ffff8]
	check eax, 0x7e7e0ff8
	mov dword [L_BIG + 0x1f0000], 0x6c6c6c6c
	mov eax, [L_BIG + 0x1f0000]
	check eax, 0x6c6c6c6c

group "strings"
t_strings:
	mov esi, L4K(0)
	mov edi, LOWBUF + 0x100
	mov ecx, 0x400
	rep movsd
	mov eax, [LOWBUF + 0x100]
	check eax, 0x4a4a0001
	mov eax, [LOWBUF + 0x100 + 0xffc]
	check eax, 0x4a4a0ffc
	mov dword [LOWBUF + 0x2000], 0x3c3c3c3c
	mov esi, LOWBUF + 0x2000
	mov edi, L4K(2) + 0x800
	mov ecx, 1
	rep movsd
	mov eax, [L4K(3) + 0x800]
	check eax, 0x3c3c3c3c
	mov edi, L4K(3) + 0x400
	mov ecx, 0x100
	mov eax, 0x2d2d2d2d
	rep stosd
	mov eax, [L4K(2) + 0x7fc]
	check eax, 0x2d2d2d2d

group "code"
t_code:
	; mov eax, imm32; ret
	mov byte [L4K(6)], 0xb8
	mov dword [L4K(6) + 1], 0x600df00d
	mov byte [L4K(6) + 5], 0xc3
	mov eax, L4K(7)
	call eax
	check eax, 0x600df00d
	mov dword [L4K(6) + 1], 0x0badc0de
	mov eax, L4K(7)
	call eax
	check eax, 0x0badc0de

group "table"
t_table:
	; the table at TOP - 16 KiB, zeroed through PT1[5]
	mov edi, L4K(5)
	mov ecx, 0x400
	xor eax, eax
	rep stosd
	top_frame eax, edx, -0x4000 + (P | RW)
	mov [PD1 + 2 * 8], eax
	mov [PD1 + 2 * 8 + 4], edx
	invlpg [L_TAB]
	mov dword [L4K(5) + 4], 1		; entry 0 -> 4 GiB
	mov dword [L4K(5)], P | RW
	mov eax, [L_TAB]
	check eax, 0x4a4a0001
	top_frame eax, edx, P | RW		; -> TOP
	mov [L4K(5) + 4], edx
	mov [L4K(5)], eax
	invlpg [L_TAB]
	mov eax, [L_TAB + 0x10]
	check eax, 0x7e7e0010
	mov dword [L4K(5) + 4], 0		; -> low RAM at LOWBUF
	mov dword [L4K(5)], LOWBUF | P | RW
	invlpg [L_TAB]
	mov eax, [L_TAB]
	check eax, 0x10101010

	push esi
	mov esi, s_cmd_wait
	call lib_cmdline_has
	pop esi
	test eax, eax
	jz .go_on
	mov esi, s_waiting
	call lib_puts
	mov eax, [TOP_HI]
	call lib_puthex
	mov eax, [TOP_LO]
	call lib_puthex
	call lib_newline
.spin:	jmp .spin
.go_on:

group "off"
t_off:
	mov eax, cr0
	and eax, ~CR0_PG
	mov cr0, eax
	mov eax, cr4
	and eax, ~CR4_PAE
	mov cr4, eax
	mov eax, [LOWBUF]
	check eax, 0x10101010
	mov eax, [0x100]
	check eax, 0x22222222
	mov ebx, [TOP_LO]
	mov eax, [ebx + 0x10]
	check eax, 0x33333333
	mov eax, [ebx + 0xff8]
	check eax, 0x44444444
	mov eax, [ebx - 0x2000 + 1]
	check eax, 0x55555555

	guest_finish


section .rodata
s_cmd_wait:	db "wait", 0
s_waiting:	db "INFO highram: waiting, TOP at ", 0
