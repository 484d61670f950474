; Integer arithmetic and flags: add/adc/sub/sbb/cmp/neg/inc/dec (with the
; one-byte 0x40-0x4F forms), logic, shifts and rotates, mul/imul/div/idiv,
; bit scans and bit tests (register and memory, large and negative
; offsets), setcc/cmovcc, exchanges, bswap, extensions, lea in all
; addressing forms, and the high byte registers with ESP-based memory.
; Flags are compared only where the SDM defines them.
%define GUEST_NAME "arith"
%include "lib.inc"

guest_start

; ---------------------------------------------------------------- add/adc
group "add"
	mov eax, 0x7fffffff
	add eax, 1
	check_flags F_ALU, F_OF|F_SF|F_AF|F_PF
	check eax, 0x80000000
	mov eax, 0xffffffff
	add eax, 1
	check_flags F_ALU, F_CF|F_ZF|F_AF|F_PF
	check eax, 0
	mov ebx, 0x12345678
	add ebx, 0x11111111
	check_flags F_ALU, 0
	check ebx, 0x23456789
	mov eax, 0x00007f80
	add ah, al				; 0x7f + 0x80
	check_flags F_ALU, F_SF|F_PF
	check eax, 0x0000ff80
	add al, 0x80				; 0x80 + 0x80
	check_flags F_ALU, F_CF|F_OF|F_ZF|F_PF
	check eax, 0x0000ff00
	mov eax, 0x1234ffff
	add ax, 1
	check_flags F_ALU, F_CF|F_ZF|F_AF|F_PF
	check eax, 0x12340000
	mov dword [mem0], 0x80000000
	add dword [mem0], 0x80000000
	check_flags F_ALU, F_CF|F_OF|F_ZF|F_PF
	check dword [mem0], 0
	mov dword [mem0], 0x0000000f
	mov ecx, 1
	add [mem0], ecx
	check_flags F_ALU, F_AF
	check dword [mem0], 0x10
	mov edx, 0x100
	add edx, [mem0]
	check edx, 0x110
	mov byte [mem0], 0xf0
	add byte [mem0], 0x20
	check_flags F_ALU, F_CF
	check dword [mem0], 0x10
	mov ax, 0x7fff
	mov ebx, 1
	add bx, ax
	check_flags F_ALU, F_OF|F_SF|F_AF|F_PF
	check ebx, 0x8000

	stc
	mov eax, 0xffffffff
	adc eax, 0
	check_flags F_ALU, F_CF|F_ZF|F_AF|F_PF
	check eax, 0
	clc
	mov eax, 5
	adc eax, 0x10
	check_flags F_ALU, 0
	check eax, 0x15
	stc
	mov eax, 5
	adc eax, 0x10
	check_flags F_ALU, 0
	check eax, 0x16
	stc
	mov eax, 0x7fffffff
	adc eax, 0
	check_flags F_ALU, F_OF|F_SF|F_AF|F_PF
	check eax, 0x80000000
	mov eax, 0x12345600
	stc
	adc al, 0xff
	check_flags F_ALU, F_CF|F_ZF|F_AF|F_PF
	check eax, 0x12345600
	mov dword [mem0], 0xfffffffe
	stc
	adc [mem0], eax				; 0xfffffffe + 0x12345600 + 1
	check_flags F_ALU, F_CF|F_PF
	check dword [mem0], 0x123455ff
	; 64-bit add through add/adc
	mov eax, 0xffffffff
	mov edx, 0x00000001
	add eax, 0x00000002
	adc edx, 0x00000010
	check eax, 1
	check edx, 0x12

; ---------------------------------------------------------------- sub/sbb/cmp/neg
group "sub"
	mov eax, 0
	sub eax, 1
	check_flags F_ALU, F_CF|F_SF|F_AF|F_PF
	check eax, 0xffffffff
	mov eax, 0x80000000
	sub eax, 1
	check_flags F_ALU, F_OF|F_AF|F_PF
	check eax, 0x7fffffff
	mov eax, 10
	sub eax, 10
	check_flags F_ALU, F_ZF|F_PF
	check eax, 0
	mov eax, 0x100
	sub eax, 1
	check_flags F_ALU, F_AF|F_PF
	check eax, 0xff
	mov dword [mem0], 0x50
	mov ecx, 0x60
	sub [mem0], ecx
	check_flags F_ALU, F_CF|F_SF|F_PF
	check dword [mem0], 0xfffffff0
	mov ecx, 0x10
	sub ecx, [mem0]
	check_flags F_ALU, F_CF
	check ecx, 0x20
	mov eax, 0x8000
	sub ax, 1
	check_flags F_ALU, F_OF|F_AF|F_PF
	check eax, 0x7fff
	mov eax, 0x1122
	sub ah, 0x22
	check_flags F_ALU, F_CF|F_SF|F_AF
	check eax, 0xef22

	stc
	mov eax, 0x10
	sbb eax, 0x10
	check_flags F_ALU, F_CF|F_SF|F_AF|F_PF
	check eax, 0xffffffff
	clc
	mov eax, 0x10
	sbb eax, 0x10
	check_flags F_ALU, F_ZF|F_PF
	check eax, 0
	stc
	mov eax, 0
	sbb eax, 0xffffffff
	check_flags F_ALU, F_CF|F_ZF|F_AF|F_PF
	check eax, 0
	stc
	mov eax, 0x80000000
	sbb eax, 0
	check_flags F_ALU, F_OF|F_AF|F_PF
	check eax, 0x7fffffff
	; 64-bit subtract through sub/sbb: 0x1_00000000 - 1
	mov eax, 0
	mov edx, 1
	sub eax, 1
	sbb edx, 0
	check eax, 0xffffffff
	check edx, 0
	mov dword [mem0], 5
	stc
	sbb dword [mem0], 2
	check dword [mem0], 2
	mov bl, 0
	stc
	sbb bl, 0
	check_flags F_ALU, F_CF|F_SF|F_AF|F_PF
	movzx ebx, bl
	check ebx, 0xff

	mov eax, 5
	cmp eax, 7
	check_flags F_ALU, F_CF|F_SF|F_AF
	check eax, 5
	cmp eax, 5
	check_flags F_ALU, F_ZF|F_PF
	mov eax, 0x80000000
	cmp eax, 1
	check_flags F_ALU, F_OF|F_AF|F_PF
	mov dword [mem0], 3
	mov eax, 4
	cmp [mem0], eax
	check_flags F_ALU, F_CF|F_SF|F_AF|F_PF
	cmp eax, [mem0]
	check_flags F_ALU, 0
	cmp byte [mem0], 3
	check_flags F_ALU, F_ZF|F_PF
	mov eax, 0x7f00
	cmp ah, 0x80
	check_flags F_ALU, F_CF|F_OF|F_SF|F_PF
	cmp ax, 0x7f00
	check_flags F_ALU, F_ZF|F_PF

	mov eax, 0
	neg eax
	check_flags F_ALU, F_ZF|F_PF
	check eax, 0
	mov eax, 5
	neg eax
	check_flags F_ALU, F_CF|F_SF|F_AF
	check eax, 0xfffffffb
	mov eax, 0x80000000
	neg eax
	check_flags F_ALU, F_CF|F_OF|F_SF|F_PF
	check eax, 0x80000000
	mov dword [mem0], 1
	neg byte [mem0]
	check_flags F_ALU, F_CF|F_SF|F_AF|F_PF
	check dword [mem0], 0xff
	mov eax, 0x0100
	neg ah
	check_flags F_ALU, F_CF|F_SF|F_AF|F_PF
	check eax, 0xff00

; ---------------------------------------------------------------- inc/dec
group "incdec"
	stc
	mov eax, 0x7fffffff
	inc eax
	check_flags F_ALU, F_CF|F_OF|F_SF|F_AF|F_PF
	check eax, 0x80000000
	clc
	mov eax, 0xffffffff
	inc eax
	check_flags F_ALU, F_ZF|F_AF|F_PF
	check eax, 0
	stc
	mov eax, 0
	dec eax
	check_flags F_ALU, F_CF|F_SF|F_AF|F_PF
	check eax, 0xffffffff
	clc
	mov eax, 0x80000000
	dec eax
	check_flags F_ALU, F_OF|F_AF|F_PF
	check eax, 0x7fffffff
	mov eax, 0x12ff
	stc
	inc ah
	check_flags F_ALU, F_CF
	check eax, 0x13ff
	mov dword [mem0], 0x0000ffff
	inc word [mem0]
	check_flags F_ALU, F_CF|F_ZF|F_AF|F_PF	; CF kept from the stc
	check dword [mem0], 0
	dec byte [mem0]
	check dword [mem0], 0xff
	inc dword [mem0]
	check dword [mem0], 0x100
	dec dword [mem0]
	check dword [mem0], 0xff

	; the one-byte forms 0x40-0x47 (inc r32) and 0x48-0x4f (dec r32)
	push ebp
	mov eax, 0x10
	mov ecx, 0x20
	mov edx, 0x30
	mov ebx, 0x40
	mov ebp, 0x60
	mov esi, 0x70
	mov edi, 0x80
	mov [saved_esp], esp
	stc
	db 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47
	mov [temp_esp], esp
	lea esp, [esp - 1]			; back to even, flags kept
	check_flags F_ALU, F_CF|F_PF		; last: inc edi 0x80 -> 0x81
	check eax, 0x11
	check ecx, 0x21
	check edx, 0x31
	check ebx, 0x41
	check ebp, 0x61
	check esi, 0x71
	check edi, 0x81
	mov eax, [temp_esp]
	sub eax, [saved_esp]
	check eax, 1
	mov eax, esp
	check eax, dword [saved_esp]
	mov eax, 0
	mov ecx, 1
	mov edx, 0x81
	mov ebx, 0x8000
	mov ebp, 0x80000000
	mov esi, 0x10
	mov edi, 0x11
	clc
	db 0x48, 0x49, 0x4a, 0x4b
	db 0x4c
	mov [temp_esp], esp
	db 0x44
	db 0x4d, 0x4e, 0x4f
	check_flags F_ALU, 0			; last: dec edi 0x11 -> 0x10
	check eax, 0xffffffff
	check ecx, 0
	check edx, 0x80
	check ebx, 0x7fff
	check ebp, 0x7fffffff
	check esi, 0x0f
	check edi, 0x10
	mov eax, [saved_esp]
	sub eax, [temp_esp]
	check eax, 1
	pop ebp

; ---------------------------------------------------------------- logic
group "logic"
	set_flags F_ALU
	mov eax, 0xf0f0f0f0
	and eax, 0x0ff00ff0
	check_flags F_LOGIC, F_PF
	check eax, 0x00f000f0
	set_flags F_ALU
	or eax, 0x80000000
	check_flags F_LOGIC, F_SF|F_PF
	check eax, 0x80f000f0
	xor eax, eax
	check_flags F_LOGIC, F_ZF|F_PF
	check eax, 0
	mov eax, 0x80
	set_flags F_CF|F_OF
	test al, 0x80
	check_flags F_LOGIC, F_SF
	check eax, 0x80
	test eax, 0x100
	check_flags F_LOGIC, F_ZF|F_PF
	mov ebx, 0x00010000
	test ebx, eax
	check_flags F_LOGIC, F_ZF|F_PF
	set_flags F_ALU
	mov eax, 0x0f0f0f0f
	not eax
	check_flags F_ALU, F_ALU		; NOT leaves the flags alone
	check eax, 0xf0f0f0f0
	mov eax, 0x1234
	and ah, 0x0f
	check eax, 0x0234
	mov dword [mem0], 0x00ff00ff
	or dword [mem0], 0x0f000000
	check dword [mem0], 0x0fff00ff
	mov ecx, 0x0ff00ff0
	xor [mem0], ecx
	check_flags F_LOGIC, F_PF
	check dword [mem0], 0x000f0f0f
	and cl, [mem0]
	check ecx, 0x0ff00f00
	check_flags F_LOGIC, F_ZF|F_PF
	mov dword [mem0], 0x1234
	not word [mem0]
	check dword [mem0], 0xedcb
	xor ax, ax
	check eax, 0
	mov eax, 0xaaaa5555
	xor ax, 0xffff
	check_flags F_LOGIC, F_SF|F_PF
	check eax, 0xaaaaaaaa

; ---------------------------------------------------------------- shifts
group "shift"
%define F_SH (F_CF|F_OF|F_ZF|F_SF|F_PF)
%define F_SHN (F_CF|F_ZF|F_SF|F_PF)	; OF undefined for counts other than 1
	mov eax, 0x80000001
	shl eax, 1
	check_flags F_SH, F_CF|F_OF
	check eax, 2
	mov eax, 0x40000000
	shl eax, 1
	check_flags F_SH, F_OF|F_SF|F_PF
	check eax, 0x80000000
	mov eax, 0x80000001
	shr eax, 1
	check_flags F_SH, F_CF|F_OF|F_PF
	check eax, 0x40000000
	mov eax, 0x80000001
	sar eax, 1
	check_flags F_SH, F_CF|F_SF|F_PF
	check eax, 0xc0000000
	mov eax, 0x12345678
	shl eax, 4
	check_flags F_SHN, F_CF
	check eax, 0x23456780
	mov eax, 0x12345678
	mov cl, 8
	shr eax, cl
	check_flags F_SHN, F_PF
	check eax, 0x00123456
	mov eax, 0x80000000
	mov cl, 31
	sar eax, cl
	check_flags F_SHN, F_SF|F_PF
	check eax, 0xffffffff
	; count 0 (by CL and by immediate) and count 32 (masked to 0): no change
	set_flags F_ALU
	mov eax, 0x1234
	mov cl, 0
	shl eax, cl
	check_flags F_ALU, F_ALU
	check eax, 0x1234
	mov cl, 32
	shr eax, cl
	check_flags F_ALU, F_ALU
	check eax, 0x1234
	db 0xc1, 0xe0, 0x00			; shl eax, 0
	check_flags F_ALU, F_ALU
	check eax, 0x1234
	set_flags 0
	; count 33 is count 1
	mov eax, 0x80000001
	mov cl, 33
	shl eax, cl
	check_flags F_SH, F_CF|F_OF
	check eax, 2
	mov eax, 0x81
	shl al, 1
	check_flags F_SH, F_CF|F_OF
	check eax, 0x02
	mov eax, 0x8100
	sar ah, 1
	check_flags F_SH, F_CF|F_SF|F_PF
	check eax, 0xc000
	mov dword [mem0], 0xff
	shr byte [mem0], 3
	check_flags F_SHN, F_CF
	check dword [mem0], 0x1f
	mov eax, 0x8000
	shl ax, 1
	check_flags F_SH, F_CF|F_OF|F_ZF|F_PF
	check eax, 0
	mov eax, 0xff
	mov cl, 9
	shl al, cl				; 8-bit shifted by 9: result 0
	check_flags F_ZF|F_SF|F_PF, F_ZF|F_PF
	check eax, 0
	mov eax, 0xfffe
	mov cl, 17
	sar ax, cl
	check_flags F_ZF|F_SF|F_PF, F_SF|F_PF
	check eax, 0xffff
	mov dword [mem0], 0x00000003
	shl dword [mem0], 30
	check_flags F_SHN, F_SF|F_PF
	check dword [mem0], 0xc0000000
	mov cl, 2
	sar dword [mem0], cl
	check_flags F_SHN, F_SF|F_PF
	check dword [mem0], 0xf0000000
	mov dword [mem0], 0x80000000
	shr dword [mem0], 1
	check_flags F_SH, F_OF|F_PF
	check dword [mem0], 0x40000000

	; shld / shrd
	mov eax, 0x12345678
	mov edx, 0x9abcdef0
	shld eax, edx, 8
	check_flags F_SHN, F_PF
	check eax, 0x3456789a
	check edx, 0x9abcdef0
	mov eax, 0x12345678
	mov edx, 0x9abcdef1
	mov cl, 4
	shrd eax, edx, cl
	check_flags F_SHN, F_CF
	check eax, 0x11234567
	mov dword [mem0], 0x80000000
	mov ebx, 0xffffffff
	shld [mem0], ebx, 1
	check_flags F_SH, F_CF|F_OF
	check dword [mem0], 0x00000001
	mov eax, 0x1234
	mov ebx, 0xabcd
	shrd ax, bx, 4
	check eax, 0xd123

group "rotate"
	set_flags F_ZF|F_SF|F_PF|F_AF
	mov eax, 0x80000000
	rol eax, 1
	check_flags F_ALU, F_ZF|F_SF|F_PF|F_AF|F_CF|F_OF	; SF/ZF/AF/PF kept
	check eax, 1
	set_flags F_ZF|F_SF|F_PF|F_AF
	mov eax, 1
	ror eax, 1
	check_flags F_ALU, F_ZF|F_SF|F_PF|F_AF|F_CF|F_OF
	check eax, 0x80000000
	set_flags 0
	mov eax, 0x12345678
	rol eax, 4
	check_flags F_ALU & ~F_OF, F_CF
	check eax, 0x23456781
	set_flags F_CF
	mov eax, 0x12345678
	mov cl, 8
	ror eax, cl
	check_flags F_ALU & ~F_OF, 0
	check eax, 0x78123456
	set_flags F_ALU
	mov cl, 0
	ror eax, cl
	check_flags F_ALU, F_ALU
	check eax, 0x78123456
	set_flags 0
	mov eax, 0x81
	rol al, 1
	check_flags F_CF|F_OF, F_CF|F_OF
	check eax, 0x03
	mov eax, 0x81
	mov cl, 8				; 8-bit rotate by 8: value kept, CF = LSB
	clc
	rol al, cl
	check_flags F_CF, F_CF
	check eax, 0x81
	mov eax, 0x8001
	ror ax, 4
	check_flags F_CF, 0
	check eax, 0x1800
	mov dword [mem0], 0x80000001
	rol dword [mem0], 1
	check_flags F_CF|F_OF, F_CF|F_OF
	check dword [mem0], 0x00000003
	mov eax, 0x4000
	rol ah, 2
	check eax, 0x0100

	stc
	mov eax, 0x80000000
	rcl eax, 1
	check_flags F_CF|F_OF, F_CF|F_OF
	check eax, 1
	set_flags 0
	mov eax, 0x80000000
	rcl eax, 1
	check_flags F_CF|F_OF|F_ZF, F_CF|F_OF	; result 0 but ZF not affected
	check eax, 0
	clc
	mov eax, 1
	rcr eax, 1
	check_flags F_CF|F_OF, F_CF
	check eax, 0
	stc
	mov eax, 1
	rcr eax, 1
	check_flags F_CF|F_OF, F_CF|F_OF
	check eax, 0x80000000
	stc
	mov eax, 0x12345678
	rcl eax, 8
	check_flags F_CF, 0
	check eax, 0x34567889
	clc
	mov eax, 0x12345678
	mov cl, 4
	rcr eax, cl
	check_flags F_CF, F_CF
	check eax, 0x01234567
	stc
	mov eax, 0x55
	mov cl, 9				; 9-bit rotate by 9: nothing changes
	rcl al, cl
	check_flags F_CF, F_CF
	check eax, 0x55
	clc
	mov eax, 0x80
	mov cl, 10				; 10 mod 9 = 1
	rcl al, cl
	check_flags F_CF, F_CF
	check eax, 0
	clc
	mov eax, 0x1234
	mov cl, 17				; 17-bit rotate by 17: nothing changes
	rcr ax, cl
	check_flags F_CF, 0
	check eax, 0x1234
	stc
	mov eax, 0x0100
	rcr ah, 1
	check_flags F_CF|F_OF, F_CF|F_OF
	check eax, 0x8000
	mov dword [mem0], 0x00000001
	stc
	rcr dword [mem0], 1
	check_flags F_CF, F_CF
	check dword [mem0], 0x80000000

; ---------------------------------------------------------------- mul/div
group "mul"
	mov eax, 0x12345678
	mov ebx, 0x100
	mul ebx
	check_flags F_CF|F_OF, F_CF|F_OF
	check eax, 0x34567800
	check edx, 0x12
	mov eax, 1000
	mov ecx, 1000
	mul ecx
	check_flags F_CF|F_OF, 0
	check eax, 1000000
	check edx, 0
	mov eax, 0xaaaa00c8
	mov bl, 3
	mul bl
	check_flags F_CF|F_OF, F_CF|F_OF
	check eax, 0xaaaa0258
	mov eax, 0xaaaa1234
	mov edx, 0xdddd0000
	mov cx, 0x100
	mul cx
	check_flags F_CF|F_OF, F_CF|F_OF
	check eax, 0xaaaa3400
	check edx, 0xdddd0012
	mov dword [mem0], 0xffffffff
	mov eax, 0xffffffff
	mul dword [mem0]
	check eax, 1
	check edx, 0xfffffffe
	mov eax, 0x0000000c
	mov ebx, 0x00001400
	mul bh					; 12 * 0x14
	check eax, 0xf0
	check_flags F_CF|F_OF, 0

	mov eax, -2
	mov ebx, 3
	imul ebx
	check_flags F_CF|F_OF, 0
	check eax, 0xfffffffa
	check edx, 0xffffffff
	mov eax, 0x40000000
	mov ebx, 4
	imul ebx
	check_flags F_CF|F_OF, F_CF|F_OF
	check eax, 0
	check edx, 1
	mov eax, 0x80
	mov bl, 2
	imul bl
	check_flags F_CF|F_OF, F_CF|F_OF
	check eax, 0xff00
	mov eax, 0xfd				; -3
	mov bl, 5
	imul bl
	check_flags F_CF|F_OF, 0
	check eax, 0xfff1
	mov eax, 0xffff				; ax = -1
	mov edx, 0x12345678
	mov cx, 0x7fff
	imul cx
	check eax, 0x8001
	check edx, 0x1234ffff
	mov dword [mem0], -5
	mov eax, 7
	imul dword [mem0]
	check eax, -35
	check edx, 0xffffffff

	mov eax, 7
	mov ebx, -6
	imul eax, ebx
	check_flags F_CF|F_OF, 0
	check eax, -42
	mov eax, 0x10000
	imul eax, eax
	check_flags F_CF|F_OF, F_CF|F_OF
	check eax, 0
	mov dword [mem0], 3
	mov ecx, 5
	imul ecx, [mem0]
	check ecx, 15
	mov eax, 300
	imul ax, ax
	check_flags F_CF|F_OF, F_CF|F_OF
	check eax, 0x5f90

	mov ebx, 12
	imul eax, ebx, 10
	check eax, 120
	mov dword [mem0], 7
	imul eax, [mem0], -3
	check eax, -21
	imul eax, ebx, 100000
	check_flags F_CF|F_OF, 0
	check eax, 1200000
	mov edx, 2
	imul edx, edx, 0x7fffffff
	check_flags F_CF|F_OF, F_CF|F_OF
	check edx, 0xfffffffe
	mov ecx, 0xcccc0000
	mov ebx, 1000
	imul cx, bx, 7
	check ecx, 0xcccc1b58
	imul esi, ebx, -1
	check esi, -1000

group "div"
	mov edx, 1
	mov eax, 0
	mov ebx, 0x10
	div ebx
	check eax, 0x10000000
	check edx, 0
	mov edx, 0
	mov eax, 100
	mov ecx, 7
	div ecx
	check eax, 14
	check edx, 2
	mov eax, 0xaaaa03e8			; ax = 1000
	mov bl, 7
	div bl
	check eax, 0xaaaa068e			; al = 142, ah = 6
	mov eax, 0x99990005
	mov edx, 0x88880001
	mov cx, 0x10
	div cx					; 0x10005 / 16
	check eax, 0x99991000
	check edx, 0x88880005
	mov dword [mem0], 1000
	mov edx, 0
	mov eax, 123456789
	div dword [mem0]
	check eax, 123456
	check edx, 789
	mov eax, 0x000001ff
	mov ecx, 0x00000300
	div ch					; 511 / 3 = 170 rem 1
	check eax, 0x000001aa

	mov eax, -7
	cdq
	mov ecx, 2
	idiv ecx
	check eax, -3
	check edx, -1
	mov eax, 7
	cdq
	mov ecx, -2
	idiv ecx
	check eax, -3
	check edx, 1
	mov eax, 0xff9c				; ax = -100
	mov bl, 7
	idiv bl
	check eax, 0xfef2			; al = -14, ah = -2
	mov eax, -1000
	cwd
	mov cx, 33
	idiv cx
	and eax, 0xffff
	and edx, 0xffff
	check eax, 0xffe2			; -30
	check edx, 0xfff6			; -10
	mov eax, 0x80000000
	mov edx, 0xffffffff
	mov ecx, 2
	idiv ecx
	check eax, 0xc0000000
	check edx, 0
	mov dword [mem0], -10
	mov eax, 100
	cdq
	idiv dword [mem0]
	check eax, -10
	check edx, 0

; ---------------------------------------------------------------- bit scans
group "bitscan"
	mov eax, 0x00010000
	bsf ecx, eax
	check_flags F_ZF, 0
	check ecx, 16
	mov eax, 0x80000001
	bsr ecx, eax
	check_flags F_ZF, 0
	check ecx, 31
	bsf ecx, eax
	check ecx, 0
	mov eax, 0
	bsf ecx, eax
	check_flags F_ZF, F_ZF
	bsr ecx, eax
	check_flags F_ZF, F_ZF
	mov eax, 0x0100
	mov ecx, 0xffff0000
	bsf cx, ax
	check_flags F_ZF, 0
	check ecx, 0xffff0008
	mov dword [mem0], 0x00f00000
	bsr edx, [mem0]
	check edx, 23
	bsf edx, [mem0]
	check edx, 20

; ---------------------------------------------------------------- bit tests
group "bittest"
	set_flags F_ZF
	mov eax, 0x20
	bt eax, 5
	check_flags F_CF|F_ZF, F_CF|F_ZF	; ZF unaffected
	set_flags 0
	bt eax, 4
	check_flags F_CF|F_ZF, 0
	mov ecx, 37				; register operand: offset mod 32
	bt eax, ecx
	check_flags F_CF, F_CF
	bts eax, 0
	check_flags F_CF, 0
	check eax, 0x21
	btr eax, 5
	check_flags F_CF, F_CF
	check eax, 0x01
	btc eax, 31
	check_flags F_CF, 0
	check eax, 0x80000001
	btc eax, 31
	check_flags F_CF, F_CF
	check eax, 0x00000001
	mov ecx, 33
	bts eax, ecx
	check_flags F_CF, 0
	check eax, 0x3
	mov eax, 0xabcd0000
	bts ax, 17				; 17 mod 16
	check eax, 0xabcd0002
	mov ecx, 0xfff0
	btc ax, cx				; 0xfff0 mod 16 = 0
	check eax, 0xabcd0003

	; memory: immediate offsets are masked, register offsets are not
	mov dword [bitarr - 8], 0
	mov dword [bitarr - 4], 0
	mov dword [bitarr], 0
	mov dword [bitarr + 4], 0
	mov dword [bitarr + 8], 0
	mov dword [bitarr + 12], 0
	mov dword [bitarr + 32], 0
	mov dword [bitarr + 36], 0
	bts dword [bitarr], 3
	check_flags F_CF, 0
	check dword [bitarr], 8
	bts dword [bitarr], 35			; immediate: 35 mod 32 = 3
	check_flags F_CF, F_CF
	check dword [bitarr], 8
	check dword [bitarr + 4], 0
	mov ecx, 35				; register: dword at +4, bit 3
	bts [bitarr], ecx
	check_flags F_CF, 0
	check dword [bitarr + 4], 8
	bt [bitarr], ecx
	check_flags F_CF, F_CF
	mov ecx, 64 + 31
	bt [bitarr], ecx
	check_flags F_CF, 0
	btc [bitarr], ecx
	check_flags F_CF, 0
	check dword [bitarr + 8], 0x80000000
	bt [bitarr], ecx
	check_flags F_CF, F_CF
	mov ecx, 0x100				; +32 bytes, bit 0
	bts [bitarr], ecx
	check dword [bitarr + 32], 1
	mov ebx, bitarr
	mov ecx, 0x121				; +36 bytes, bit 1, through [ebx]
	bts [ebx], ecx
	check dword [bitarr + 36], 2
	mov ecx, -1				; bit 7 of the byte before: bit 31 at -4
	bts [bitarr], ecx
	check_flags F_CF, 0
	check dword [bitarr - 4], 0x80000000
	check dword [bitarr], 8
	mov ecx, -32				; bit 0 at -4
	bts dword [bitarr], ecx
	check_flags F_CF, 0
	check dword [bitarr - 4], 0x80000001
	mov ecx, -33				; bit 31 at -8
	btc [bitarr], ecx
	check dword [bitarr - 8], 0x80000000
	mov ecx, -1
	btr [bitarr], ecx
	check_flags F_CF, F_CF
	check dword [bitarr - 4], 0x00000001
	mov ecx, 3
	btr [bitarr], ecx
	check_flags F_CF, F_CF
	check dword [bitarr], 0
	mov cx, 17				; 16-bit: word at +2, bit 1
	bts word [bitarr + 8], cx
	check dword [bitarr + 8], 0x80020000
	mov ecx, 0x1234ffff			; cx = -1: bit 15 of the word at -2
	bts word [bitarr + 8], cx
	check dword [bitarr + 4], 0x80000008
	mov ecx, 5
	lock bts [bitarr], ecx
	check dword [bitarr], 0x20
	lock btr dword [bitarr], 5
	check_flags F_CF, F_CF
	check dword [bitarr], 0
	mov dword [bitarr], 0x00000010
	bt dword [bitarr], 4
	check_flags F_CF, F_CF

; ---------------------------------------------------------------- setcc/cmovcc
group "setcc"
	mov eax, 5
	cmp eax, 7				; CF=1 ZF=0 SF=1 OF=0 PF=0
	call store_setcc
	check dword [setres], 0x00010100
	check dword [setres + 4], 0x00010100
	check dword [setres + 8], 0x01000001
	check dword [setres + 12], 0x00010001
	mov eax, 0x80000000
	cmp eax, 1				; CF=0 ZF=0 SF=0 OF=1 PF=1
	call store_setcc
	check dword [setres], 0x01000001
	check dword [setres + 4], 0x01000100
	check dword [setres + 8], 0x00010100
	check dword [setres + 12], 0x00010001
	mov eax, 3
	cmp eax, eax				; ZF=1 PF=1
	call store_setcc
	check dword [setres], 0x01000100
	check dword [setres + 4], 0x00010001
	check dword [setres + 8], 0x00010100
	check dword [setres + 12], 0x00010100
	mov eax, 0x11223344
	stc
	setc ah
	check eax, 0x11220144
	mov ebx, 0x55667788
	setnc bh
	check ebx, 0x55660088
	mov ecx, 0xffffffff
	xor edx, edx				; ZF=1
	setz cl
	setnz ch
	check ecx, 0xffff0001

	mov eax, 1
	mov ebx, 2
	mov ecx, 9
	cmp eax, ebx
	cmovl eax, ebx
	cmovg ecx, ebx
	check eax, 2
	check ecx, 9
	mov dword [mem0], 0x77
	cmp eax, 2
	cmove edx, [mem0]
	cmovne esi, [mem0]
	check edx, 0x77
	mov esi, 0x55
	cmovne esi, [mem0]
	check esi, 0x55
	mov eax, 0x12340000
	mov ebx, 0x5678abcd
	stc
	cmovc ax, bx
	check eax, 0x1234abcd
	clc
	cmovc eax, ebx
	check eax, 0x1234abcd
	cmovnc eax, ebx
	check eax, 0x5678abcd
	set_flags F_SF|F_OF
	mov eax, 0
	cmovge eax, ebx
	check eax, 0x5678abcd
	set_flags F_PF
	mov eax, 0
	cmovnp eax, ebx
	check eax, 0
	cmovp eax, ebx
	check eax, 0x5678abcd

; ---------------------------------------------------------------- exchanges
group "xchg"
	mov eax, 1
	mov ebx, 2
	xchg eax, ebx
	check eax, 2
	check ebx, 1
	mov ecx, 3
	mov edx, 4
	xchg ecx, edx
	check ecx, 4
	check edx, 3
	mov dword [mem0], 0xaaaa
	mov esi, 0xbbbb
	xchg [mem0], esi
	check esi, 0xaaaa
	check dword [mem0], 0xbbbb
	mov eax, 0x1234
	xchg ah, al
	check eax, 0x3412
	mov ebx, 0x1100
	mov ecx, 0x22
	xchg bh, cl
	check ebx, 0x2200
	check ecx, 0x11
	mov eax, 0xffff1111
	mov edx, 0xeeee2222
	xchg ax, dx
	check eax, 0xffff2222
	check edx, 0xeeee1111

	mov dword [mem0], 10
	mov eax, 5
	xadd [mem0], eax
	check_flags F_ALU, F_PF
	check dword [mem0], 15
	check eax, 10
	mov eax, 0xffffffff
	mov ebx, 1
	xadd eax, ebx
	check_flags F_ALU, F_CF|F_ZF|F_AF|F_PF
	check eax, 0
	check ebx, 0xffffffff
	mov eax, 3
	lock xadd [mem0], eax
	check eax, 15
	check dword [mem0], 18
	mov ecx, 0x0110
	xadd cl, ch
	check ecx, 0x1011

	mov dword [mem0], 100
	mov eax, 100
	mov ecx, 200
	cmpxchg [mem0], ecx
	check_flags F_ZF, F_ZF
	check dword [mem0], 200
	check eax, 100
	mov eax, 5
	cmpxchg [mem0], ecx
	check_flags F_ALU, F_CF|F_SF|F_AF	; flags of cmp eax(5), 200
	check eax, 200
	check dword [mem0], 200
	mov ebx, 7
	mov eax, 7
	mov edx, 9
	cmpxchg ebx, edx
	check_flags F_ZF, F_ZF
	check ebx, 9
	mov dword [mem0], 0x44332211
	mov eax, 0x11
	mov ecx, 0x99
	lock cmpxchg [mem0], cl
	check_flags F_ZF, F_ZF
	check dword [mem0], 0x44332299

	mov dword [mem64], 0x22222222
	mov dword [mem64 + 4], 0x11111111
	mov eax, 0x22222222
	mov edx, 0x11111111
	mov ebx, 0x44444444
	mov ecx, 0x33333333
	cmpxchg8b [mem64]
	check_flags F_ZF, F_ZF
	check dword [mem64], 0x44444444
	check dword [mem64 + 4], 0x33333333
	check eax, 0x22222222
	check edx, 0x11111111
	lock cmpxchg8b [mem64]
	check_flags F_ZF, 0
	check eax, 0x44444444
	check edx, 0x33333333
	check dword [mem64], 0x44444444

	mov eax, 0x12345678
	bswap eax
	check eax, 0x78563412
	mov esi, 0x01020304
	bswap esi
	check esi, 0x04030201

; ---------------------------------------------------------------- extensions
group "extend"
	mov dword [mem0], 0x8000ff80
	movzx eax, byte [mem0]
	check eax, 0x80
	movsx eax, byte [mem0]
	check eax, 0xffffff80
	movzx eax, word [mem0]
	check eax, 0xff80
	movsx eax, word [mem0 + 2]
	check eax, 0xffff8000
	mov ebx, 0x00008100
	movzx eax, bh
	check eax, 0x81
	movsx ecx, bh
	check ecx, 0xffffff81
	mov edx, 0x12345678
	movzx dx, bl				; 16-bit destination
	check edx, 0x12340000
	movsx dx, bh
	check edx, 0x1234ff81
	mov eax, 0x7f00
	movsx esi, ah
	check esi, 0x7f

	mov eax, 0x1234557f
	cbw
	check eax, 0x1234007f
	mov eax, 0x123455f0
	cbw
	check eax, 0x1234fff0
	mov eax, 0x12348000
	cwde
	check eax, 0xffff8000
	mov eax, 0x80000000
	mov edx, 0
	cdq
	check edx, 0xffffffff
	mov eax, 5
	cdq
	check edx, 0
	mov eax, 0x8000
	mov edx, 0x12345678
	cwd
	check edx, 0x1234ffff
	mov eax, 0x7fff
	cwd
	check edx, 0x12340000

; ---------------------------------------------------------------- lea
group "lea"
	mov eax, 0x1000
	mov ebx, 0x20
	mov ecx, 3
	lea edx, [eax]
	check edx, 0x1000
	lea edx, [eax + ebx]
	check edx, 0x1020
	lea edx, [eax + ecx * 4 + 0x10]
	check edx, 0x101c
	lea edx, [ecx * 8 + 0x12345678]
	check edx, 0x12345690
	lea edx, [eax + ebx * 2 - 4]
	check edx, 0x103c
	lea edx, [eax + eax * 8]
	check edx, 0x9000
	lea edx, [nosplit eax * 2]
	check edx, 0x2000
	lea edx, [0x1234]
	check edx, 0x1234
	lea edx, [eax + 0x7ffff000]
	check edx, 0x80000000
	lea edx, [ebx - 0x21]
	check edx, 0xffffffff
	push ebp
	mov ebp, 0x5000
	lea edx, [ebp]				; needs a disp8 of 0
	check edx, 0x5000
	lea edx, [ebp + ecx * 2 + 1]
	check edx, 0x5007
	lea edx, [ebx + ebp * 4]
	check edx, 0x14020
	pop ebp
	lea edx, [esp + 8]
	mov esi, esp
	add esi, 8
	check edx, esi
	lea edx, [esp + eax * 2 + 0x10]
	mov esi, esp
	add esi, 0x2010
	check edx, esi
	lea edx, [esp]
	mov esi, esp
	check edx, esi
	lea edx, [esp - 0x100]
	mov esi, esp
	sub esi, 0x100
	check edx, esi
	mov eax, 0xfffffff0
	lea edx, [eax + 0x20]			; wraps
	check edx, 0x10
	mov edx, 0xffff0000
	mov eax, 0x1000
	lea dx, [eax + ebx]			; 16-bit destination
	check edx, 0xffff1020
	; 16-bit addressing (0x67 prefix): the address wraps at 64 KiB
	mov ebx, 0x1234ffff
	mov esi, 0x00010002
	lea edx, [bx + si + 0x10]
	check edx, 0x11
	push ebp
	mov ebp, 0x100
	mov edi, 0x20
	lea edx, [bp + di - 2]
	check edx, 0x11e
	pop ebp
	lea edx, [bx]
	check edx, 0xffff
	; 16-bit addressing of memory in the first 64 KiB
	mov dword [0x6000], 0xcafebabe
	mov dword [0x7000], 0x0badf00d
	mov ebx, 0x6000
	mov esi, 0x1000
	mov eax, [bx + si]
	check eax, 0x0badf00d
	mov ebx, 0xf000
	mov esi, 0x7000				; 0xf000 + 0x7000 wraps to 0x6000
	mov eax, [bx + si]
	check eax, 0xcafebabe
	mov ebx, 0x7000
	mov dword [bx - 4 + 4], 0x600dcafe
	check dword [0x7000], 0x600dcafe

; ---------------------------------------------------------------- high bytes
group "highbyte"
	sub esp, 8
	mov dword [esp], 0x44332211
	mov dword [esp + 4], 0x88776655
	mov eax, 0x0000ab00
	mov [esp + 4], ah			; 0x887766ab
	add ah, [esp]				; 0xab + 0x11 = 0xbc
	mov ebx, 0
	mov bh, [esp + 1]			; 0x22
	mov ecx, 0
	mov esi, 2
	mov ch, [esp + esi]			; 0x33
	mov edx, 0
	mov dh, [esp + 3]			; 0x44
	sub [esp + 2], bh			; 0x33 - 0x22 = 0x11
	xchg [esp + 1], dh			; [esp+1] = 0x44, dh = 0x22
	cmp ch, [esp + 2]
	check_flags F_ALU, F_PF			; 0x33 - 0x11 = 0x22
	clc
	adc dh, ah				; 0x22 + 0xbc = 0xde
	movzx edi, byte [esp + 4]
	mov ebp, [esp]
	mov [esp + esi * 2 + 1], ch		; [esp+5] = 0x33
	or [esp + 7], bh			; 0x88 | 0x22 = 0xaa
	mov esi, [esp + 4]
	add esp, 8
	check eax, 0xbc00
	check ebx, 0x2200
	check ecx, 0x3300
	check edx, 0xde00
	check edi, 0xab
	check ebp, 0x44114411
	check esi, 0xaa7733ab

	push dword 0x000000f0
	mov eax, 0x0f00
	and ah, [esp]				; 0x0f & 0xf0 = 0
	check_flags F_ZF, F_ZF
	mov ah, 0x81
	test ah, [esp]
	check_flags F_ZF|F_SF, F_SF
	add [esp], ah				; 0xf0 + 0x81 = 0x71, CF
	check_flags F_CF, F_CF
	mov ebx, [esp]
	check ebx, 0x71
	mov byte [esp + 1], 0x5a
	movsx ecx, byte [esp + 1]
	mov ch, [esp + 1]
	check ecx, 0x5a5a
	pop edx
	check edx, 0x5a71

	mov eax, 0x1234
	mov ebx, 0
	mov bh, ah
	check ebx, 0x1200
	mov ecx, 0x5600
	xchg ah, ch
	check eax, 0x5634
	check ecx, 0x1200
	mov edx, 0x0f00
	test dh, ah
	check_flags F_ZF, 0
	inc ah
	check eax, 0x5734
	neg bh
	check ebx, 0xee00
	shl ch, 1
	check ecx, 0x2400
	mov eax, 10
	mov ebx, 0x1400
	mul bh					; 10 * 20
	check eax, 200
	mov eax, 0x0300
	mov edx, 0x0500
	imul ah					; al(0) * ah
	check eax, 0
	mov eax, 0x0007
	mov ecx, 0x0900
	add al, ch
	sub ch, al
	check eax, 0x10
	check ecx, 0xf900

group "pushfd"
	; PUSHFD builds EFLAGS from the live status flags, the virtual IF and
	; the rest of the monitor's copy (DF, IOPL, ID): each part on its own.
	set_flags F_CF|F_ZF|F_OF		; (POPFD: IF and DF clear)
	std
	pushfd
	cld
	pop eax
	and eax, F_ALU|F_IF|F_DF|0x3000|0x2
	check eax, F_CF|F_ZF|F_OF|F_DF|0x2
	set_flags F_SF|F_PF|F_AF
	sti
	pushfd
	pop eax
	cli
	and eax, F_ALU|F_IF|F_DF|0x2
	check eax, F_SF|F_PF|F_AF|F_IF|0x2
	pushfd					; ID (bit 21) round trip through POPFD
	or dword [esp], 0x200000
	popfd
	pushfd
	pop eax
	and eax, 0x200000
	check eax, 0x200000
	pushfd
	and dword [esp], ~0x200000
	popfd
	pushfd
	pop eax
	and eax, 0x200000
	check eax, 0
	mov ebx, esp
	pushfd					; 4 bytes, ESP down by 4
	sub ebx, esp
	pop eax
	check ebx, 4

guest_finish

; store_setcc: the 16 setcc results for the current flags into setres.
store_setcc:
	seto [setres + 0]
	setno [setres + 1]
	setb [setres + 2]
	setae [setres + 3]
	sete [setres + 4]
	setne [setres + 5]
	setbe [setres + 6]
	seta [setres + 7]
	sets [setres + 8]
	setns [setres + 9]
	setp [setres + 10]
	setnp [setres + 11]
	setl [setres + 12]
	setge [setres + 13]
	setle [setres + 14]
	setg [setres + 15]
	ret

section .bss
alignb 8
mem0:		resd 1
saved_esp:	resd 1
temp_esp:	resd 1
alignb 8
mem64:		resq 1
setres:		resb 16
alignb 16
		resb 16
bitarr:		resb 64
