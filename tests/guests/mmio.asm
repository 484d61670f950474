; MMIO through the btvm test device (src/devices/testdev.h: a page at
; physical 0xfebf0000, a 256-byte scratch array at offset 0, then
; read-only registers: write count 0x100, last access width 0x104, last
; access offset 0x108, 0x7e57de71 at 0x10c).
;
; Runs the same suite twice: with paging off (the device at its physical
; address), then with paging on and the device mapped by a PTE at
; TD_LINEAR. Each case does one kind of access and then reads the
; registers back to check that it reached the device whole, with the width
; and offset the instruction asked for, and the data: MOV loads and stores
; of 8/16/32 bits (moffs, ModRM, high-byte registers), MOVQ (MMX and SSE),
; MOVDQU/MOVUPS, read-modify-write ALU (ADD, OR, INC, SUB, with flags),
; XCHG, MOVZX/MOVSX, CMP/TEST, every addressing form (disp32, base, SIB
; with disp8/disp32, index only, ESP and EBP bases, 16-bit addressing with
; a 67 prefix and its 64 KiB wrap, FS/GS segment bases), and the same
; instruction reaching RAM and the device in turn.
;
; What it expects of btvm beyond the architecture: an access of 1, 2, 4 or
; 8 bytes reaches the device as one access of that width; a 16-byte SSE
; access as two 8-byte accesses, low half first; a read-modify-write as a
; read and then a write of the operand's width; CMP/TEST/MOVZX as one read
; and no write. No such device exists in QEMU, so this guest runs under
; btvm only.
%define GUEST_NAME "mmio"
%include "lib.inc"
%include "paging.inc"

TD_PHYS		equ 0xfebf0000
TD_LINEAR	equ 0x50000000
TD_WRITES	equ 0x100
TD_WIDTH	equ 0x104
TD_OFFSET	equ 0x108
TD_ID		equ 0x10c
TD_MAGIC	equ 0x7e57de71
SEL_A16		equ 0x28		; data segment based at the device

; tgroup "name": a group named <prefix>_<name>, the prefix telling the
; two runs apart.
%macro tgroup 1
%strcat tgroup_name TD_PREFIX, "_", %1
	group tgroup_name
%endmacro

; td_expect writes, width, offset: since the last td_expect the device saw
; this many more writes, and its last access had this width and offset.
; Reading the registers does not change them.
%macro td_expect 3
	add dword [td_writes], %1
	check dword [TD + TD_WRITES], dword [td_writes]
	check dword [TD + TD_WIDTH], %2
	check dword [TD + TD_OFFSET], %3
%endmacro

; The suite, for the device at linear address TD.
%macro mmio_suite 0
	tgroup "id"
	mov eax, [TD + TD_ID]
	check eax, TD_MAGIC
	mov eax, [TD + TD_WRITES]
	mov [td_writes], eax

	; ------------------------------------------------ MOV 8/16/32
	tgroup "mov"
	mov byte [TD + 0x10], 0x11
	td_expect 1, 1, 0x10
	mov word [TD + 0x12], 0x2222
	td_expect 1, 2, 0x12
	mov dword [TD + 0x14], 0x33333333
	td_expect 1, 4, 0x14
	mov eax, [TD + 0x10]			; moffs form (A1)
	check eax, 0x22220011
	td_expect 0, 4, 0x10
	mov cl, [TD + 0x10]			; ModRM disp32
	movzx ecx, cl
	check ecx, 0x11
	td_expect 0, 1, 0x10
	xor edx, edx
	mov dx, [TD + 0x12]
	check edx, 0x2222
	td_expect 0, 2, 0x12
	mov ebx, 0x44332211
	mov [TD + 0x18], ebx
	td_expect 1, 4, 0x18
	mov [TD + 0x1c], bl
	mov [TD + 0x1d], bh			; a high-byte register
	td_expect 2, 1, 0x1d
	mov eax, 0x5566
	mov [TD + 0x1e], ax			; moffs form (66 A3)
	td_expect 1, 2, 0x1e
	mov esi, [TD + 0x1c]
	check esi, 0x55662211
	td_expect 0, 4, 0x1c
	mov ah, [TD + 0x1f]
	shr eax, 8
	and eax, 0xff
	check eax, 0x55
	td_expect 0, 1, 0x1f

	; ------------------------------------------------ 64 and 128 bits
	tgroup "wide"
	mov dword [TD + 0x20], 0x03020100
	mov dword [TD + 0x24], 0x07060504
	td_expect 2, 4, 0x24
	movq mm0, [TD + 0x20]			; MMX
	td_expect 0, 8, 0x20
	movq [TD + 0x28], mm0
	td_expect 1, 8, 0x28
	emms
	check dword [TD + 0x28], 0x03020100
	check dword [TD + 0x2c], 0x07060504
	movq xmm0, [TD + 0x28]			; SSE2 movq
	td_expect 0, 8, 0x28
	movq [TD + 0x30], xmm0
	td_expect 1, 8, 0x30
	check dword [TD + 0x34], 0x07060504
	mov dword [TD + 0x38], 0x0b0a0908
	mov dword [TD + 0x3c], 0x0f0e0d0c
	td_expect 2, 4, 0x3c
	movdqu xmm1, [TD + 0x30]		; 16 bytes: two 8-byte reads
	td_expect 0, 8, 0x38
	movdqu [TD + 0x40], xmm1		; and two 8-byte writes
	td_expect 2, 8, 0x48
	check dword [TD + 0x40], 0x03020100
	check dword [TD + 0x4c], 0x0f0e0d0c
	movups xmm2, [TD + 0x41]		; unaligned
	td_expect 0, 8, 0x49
	movups [TD + 0x51], xmm2
	td_expect 2, 8, 0x59
	; 0x41..0x50 held 01 02 .. 0f and a zero (0x50 is never written)
	check dword [TD + 0x51], 0x04030201
	check dword [TD + 0x5d], 0x000f0e0d
	movd xmm3, [TD + 0x40]
	td_expect 0, 4, 0x40
	movd eax, xmm3
	check eax, 0x03020100

	; ------------------------------------------------ read-modify-write
	tgroup "rmw"
	mov dword [TD + 0x60], 0xfffffff0
	td_expect 1, 4, 0x60
	mov eax, 0x20
	add [TD + 0x60], eax			; carries out
	check_flags F_CF | F_ZF, F_CF
	td_expect 1, 4, 0x60
	check dword [TD + 0x60], 0x10
	mov byte [TD + 0x64], 0x80
	or byte [TD + 0x64], 1
	check_flags F_SF | F_ZF, F_SF
	td_expect 2, 1, 0x64
	check dword [TD + 0x64], 0x81
	mov dword [TD + 0x68], 0x7fffffff
	inc dword [TD + 0x68]
	check_flags F_OF | F_SF, F_OF | F_SF
	td_expect 2, 4, 0x68
	check dword [TD + 0x68], 0x80000000
	mov word [TD + 0x6c], 1
	sub word [TD + 0x6c], 1
	check_flags F_ZF, F_ZF
	td_expect 2, 2, 0x6c
	check dword [TD + 0x6c], 0
	mov ecx, 0x12345678
	mov dword [TD + 0x70], 0xaaaa5555
	xchg [TD + 0x70], ecx
	td_expect 2, 4, 0x70
	check ecx, 0xaaaa5555
	check dword [TD + 0x70], 0x12345678
	mov dl, 0x99
	xchg dl, [TD + 0x73]
	td_expect 1, 1, 0x73
	movzx edx, dl
	check edx, 0x12
	check dword [TD + 0x70], 0x99345678

	; ------------------------------------------------ MOVZX/MOVSX, CMP/TEST
	tgroup "extend_cmp"
	mov dword [TD + 0x80], 0x8001fff0
	td_expect 1, 4, 0x80
	movzx eax, byte [TD + 0x80]
	check eax, 0xf0
	td_expect 0, 1, 0x80
	movsx eax, byte [TD + 0x80]
	check eax, 0xfffffff0
	movzx eax, word [TD + 0x82]
	check eax, 0x8001
	td_expect 0, 2, 0x82
	movsx eax, word [TD + 0x82]
	check eax, 0xffff8001
	movsx ax, byte [TD + 0x83]
	and eax, 0xffff
	check eax, 0xff80
	td_expect 0, 1, 0x83
	mov dword [TD + 0x84], 0x1234
	td_expect 1, 4, 0x84
	cmp dword [TD + 0x84], 0x1234
	check_flags F_ZF | F_CF, F_ZF
	td_expect 0, 4, 0x84
	mov eax, 0x1235
	cmp [TD + 0x84], eax
	check_flags F_ZF | F_CF, F_CF
	cmp word [TD + 0x84], 0x1233
	check_flags F_ZF | F_CF, 0
	td_expect 0, 2, 0x84
	test byte [TD + 0x85], 0x10
	check_flags F_ZF, 0
	td_expect 0, 1, 0x85

	; ------------------------------------------------ addressing forms
	tgroup "forms"
	mov eax, 0xa0a0a0a0
	mov ebx, TD + 0x90			; base
	mov [ebx], eax
	td_expect 1, 4, 0x90
	mov ebx, TD
	mov esi, 0x25
	mov [ebx + esi * 4], eax		; base + index * 4, no disp
	td_expect 1, 4, 0x94
	mov [ebx + esi * 4 + 0x4], eax		; base + index * 4 + disp8
	td_expect 1, 4, 0x98
	mov ebx, TD - 0x100000			; base + index * 2 + disp32
	mov esi, 0x4e
	mov [ebx + esi * 2 + 0x100000], ax
	td_expect 1, 2, 0x9c
	mov esi, (0x9e / 2)			; index only + disp32
	mov [esi * 2 + TD], al
	td_expect 1, 1, 0x9e
	mov ebp, TD + 0x100			; EBP base, negative disp8
	mov [ebp - 0x60], eax
	td_expect 1, 4, 0xa0
	mov edx, [ebp - 0x60]
	check edx, 0xa0a0a0a0
	td_expect 0, 4, 0xa0
	mov ecx, TD + 0xa4			; ESP base + index
	sub ecx, esp
	mov [esp + ecx], eax
	td_expect 1, 4, 0xa4
	mov edx, [esp + ecx * 1 + 4]
	td_expect 0, 4, 0xa8
	; 16-bit addressing (67 prefix), a segment based at the device
	mov ax, SEL_A16
	mov es, ax
	mov ebx, 0x00b0
	mov esi, 0x0004
	mov eax, 0xb4b4b4b4
	a16 mov [es:bx + si], eax
	td_expect 1, 4, 0xb4
	a16 mov edx, [es:bx + si]
	check edx, 0xb4b4b4b4
	td_expect 0, 4, 0xb4
	mov ebp, 0xb0
	mov edi, 0x8
	a16 mov [es:bp + di], ax		; ES, not the SS that BP implies
	td_expect 1, 2, 0xb8
	mov ebx, 0xfff0				; 0xfff0 + 0xcc wraps to 0xbc
	a16 mov [es:bx + 0xcc], al
	td_expect 1, 1, 0xbc
	a16 mov eax, [es:0x00b4]		; disp16 only
	check eax, 0xb4b4b4b4
	td_expect 0, 4, 0xb4
	mov ax, SEL_DATA
	mov es, ax
	; FS and GS with their non-zero bases from lib.inc
	mov edx, TD + 0xc0 - FS_BASE
	mov dword [fs:edx], 0xc0c0c0c0
	td_expect 1, 4, 0xc0
	mov edx, TD + 0xc4 - GS_BASE
	mov word [gs:edx], 0xc4c4
	td_expect 1, 2, 0xc4
	mov eax, [fs:TD + 0xc0 - FS_BASE]	; disp32 with a segment
	check eax, 0xc0c0c0c0
	td_expect 0, 4, 0xc0
	mov dword [TD + 0xc8], 0
	add dword [gs:edx + 4], 3		; RMW with a segment base
	td_expect 2, 4, 0xc8
	check dword [TD + 0xc8], 3

	; ------------------------------------------------ RAM and device in turn
	tgroup "ram_after"
	; the same instructions reach RAM and the device alternately: an
	; instruction that went to the device works on RAM afterwards
	mov dword [ram_word], 0
	mov dword [TD + 0xd0], 0
	td_expect 1, 4, 0xd0
	xor ecx, ecx
%%round:
	mov ebx, ram_word
	test ecx, 1
	jz %%go
	mov ebx, TD + 0xd0
%%go:
	call add_to_ebx				; add dword [ebx], 1
	inc ecx
	cmp ecx, 8
	jb %%round
	check dword [ram_word], 4
	td_expect 4, 4, 0xd0
	check dword [TD + 0xd0], 4
	mov dword [ram_word], 0x600d
	mov eax, [ram_word]
	check eax, 0x600d
%endmacro

guest_start
	call lib_install_idt
	call pg_install_pf
	; x87/MMX/SSE usable: EM = 0, MP = 1, TS = 0, CR4.OSFXSR
	mov eax, cr0
	and eax, ~((1 << 2) | (1 << 3))
	or eax, (1 << 1)
	mov cr0, eax
	mov eax, CR4_OSFXSR
	call pg_set_cr4
	; the 16-bit forms' segment: base TD_PHYS first, TD_LINEAR later
	mov eax, SEL_A16
	mov ebx, TD_PHYS
	mov ecx, 0xfffff
	mov edx, 0x0c92
	call lib_set_desc

%define TD TD_PHYS
%define TD_PREFIX "phys"
	mmio_suite

	; paging on, the device at TD_LINEAR (cache disabled, as an OS maps
	; device memory)
	call pg_alloc
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	pg_map_page TD_LINEAR, TD_PHYS | PG_P | PG_RW | PG_PCD | PG_PWT
	mov eax, edi
	call pg_enable
	mov eax, SEL_A16
	mov ebx, TD_LINEAR
	mov ecx, 0xfffff
	mov edx, 0x0c92
	call lib_set_desc

%undef TD
%undef TD_PREFIX
%define TD TD_LINEAR
%define TD_PREFIX "paged"
	mmio_suite

	; one device behind both addresses
	group "same_device"
	mov dword [TD_LINEAR + 0xe0], 0x0000d00d
	call pg_disable
	mov eax, [TD_PHYS + 0xe0]
	check eax, 0x0000d00d
guest_finish

add_to_ebx:
	add dword [ebx], 1
	ret

section .bss
alignb 4
td_writes:	resd 1
ram_word:	resd 1
