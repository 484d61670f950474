; String instructions: movs/stos/lods/cmps/scas in byte, word and dword
; sizes, with and without REP/REPE/REPNE, forward and backward, with ECX=0,
; overlapping copies, a segment override on the source (FS/GS with a
; non-zero base from lib.inc's GDT), ES with a non-zero base on the
; destination, xlatb, and 16-bit addressing (SI/DI/CX). Final ESI/EDI/ECX,
; flags and memory are checked. ins/outs in all three sizes run against
; COM1's scratch and divisor-latch registers (with REP, DF=1, a16, a
; source override, an ES base, and INS ignoring an override).
%define GUEST_NAME "string"
%include "lib.inc"

guest_start
	call lib_install_idt			; our GDT (FS/GS based) + fault catchers

; ---------------------------------------------------------------- movs
group "movs"
	call clear_dst
	mov esi, src
	mov edi, dst
	movsb
	check esi, src + 1
	check edi, dst + 1
	movsw
	check esi, src + 3
	check edi, dst + 3
	movsd
	check esi, src + 7
	check edi, dst + 7
	check dword [dst], 0x33323130
	check dword [dst + 4], 0x00363534
	std
	mov esi, src + 16
	mov edi, dst + 32
	movsb
	check esi, src + 15
	check edi, dst + 31
	movsw
	check esi, src + 13
	check edi, dst + 29
	movsd
	check esi, src + 9
	check edi, dst + 25
	cld
	check dword [dst + 28], 0x66656400	; dst[29..32] = "defg"
	check dword [dst + 32], 0x00000067

	call clear_dst
	mov esi, src
	mov edi, dst
	mov ecx, 13
	rep movsb
	check ecx, 0
	check esi, src + 13
	check edi, dst + 13
	check dword [dst], 0x33323130
	check dword [dst + 8], 0x62613938
	check dword [dst + 12], 0x00000063
	std
	mov esi, src + 12
	mov edi, dst + 64 + 12
	mov ecx, 4
	rep movsd				; dwords 3, 2, 1, 0
	cld
	check ecx, 0
	check esi, src - 4
	check edi, dst + 64 - 4
	check dword [dst + 64], 0x33323130
	check dword [dst + 76], 0x66656463
	mov esi, src
	mov edi, dst + 128
	mov ecx, 5
	rep movsw
	check esi, src + 10
	check edi, dst + 138
	check dword [dst + 136], 0x00003938
	; overlapping: forward byte copy by one replicates the first byte
	mov dword [ovl], 'ABCD'
	mov dword [ovl + 4], 'EFGH'
	mov esi, ovl
	mov edi, ovl + 1
	mov ecx, 7
	rep movsb
	check dword [ovl], 'AAAA'
	check dword [ovl + 4], 'AAAA'
	; backward copy by one shifts
	mov dword [ovl], 'ABCD'
	mov dword [ovl + 4], 'EFGH'
	std
	mov esi, ovl + 6
	mov edi, ovl + 7
	mov ecx, 7
	rep movsb
	cld
	check dword [ovl], 'AABC'
	check dword [ovl + 4], 'DEFG'
	; forward dword copy with overlap of 4: replicates the first dword
	mov dword [ovl], 0x11111111
	mov dword [ovl + 4], 0x22222222
	mov dword [ovl + 8], 0x33333333
	mov esi, ovl
	mov edi, ovl + 4
	mov ecx, 2
	rep movsd
	check dword [ovl + 8], 0x11111111
	; ECX = 0: nothing moves, flags unchanged
	set_flags F_CF|F_ZF|F_PF
	mov esi, src
	mov edi, dst
	mov dword [dst], 0x5a5a5a5a
	mov ecx, 0
	rep movsb
	check_flags F_ALU, F_CF|F_ZF|F_PF
	check esi, src
	check edi, dst
	check dword [dst], 0x5a5a5a5a
	rep movsd
	check dword [dst], 0x5a5a5a5a
	; a long copy
	mov esi, 0x00100000			; our own image
	mov edi, big
	mov ecx, 4096
	rep movsb
	check ecx, 0
	mov eax, [0x00100000 + 4092]
	check dword [big + 4092], eax
	mov eax, [0x00100000]
	check dword [big], eax
	mov esi, big
	mov edi, big + 4096
	mov ecx, 1024
	rep movsd
	mov eax, [0x00100000 + 2048]
	check dword [big + 4096 + 2048], eax

; ---------------------------------------------------------------- stos
group "stos"
	call clear_dst
	mov eax, 0x11223344
	mov edi, dst
	stosb
	stosw
	stosd
	check edi, dst + 7
	check dword [dst], 0x44334444
	check dword [dst + 4], 0x00112233
	mov edi, dst + 16
	mov ecx, 8
	mov eax, 0xcafef00d
	rep stosd
	check ecx, 0
	check edi, dst + 48
	check dword [dst + 16], 0xcafef00d
	check dword [dst + 44], 0xcafef00d
	check dword [dst + 48], 0
	std
	mov edi, dst + 63
	mov ecx, 3
	mov al, 0x77
	rep stosb
	cld
	check edi, dst + 60
	check dword [dst + 60], 0x77777700
	mov edi, dst + 100
	mov ecx, 3
	mov ax, 0x5566
	rep stosw
	check dword [dst + 100], 0x55665566
	check dword [dst + 104], 0x00005566
	mov dword [big + 8192], 0
	mov edi, big
	mov ecx, 8192
	mov al, 0xab
	rep stosb
	check ecx, 0
	check edi, big + 8192
	check dword [big + 8188], 0xabababab
	check dword [big + 8192], 0
	; STOS writes to ES:EDI; an FS override does not redirect it
	mov dword [dst], 0
	mov dword [FS_BASE + dst], 0
	mov edi, dst
	mov al, 0x42
	fs stosb
	check dword [dst], 0x42
	check dword [FS_BASE + dst], 0
	; ECX = 0
	set_flags F_SF|F_OF
	mov edi, dst
	mov ecx, 0
	rep stosd
	check_flags F_ALU, F_SF|F_OF
	check edi, dst
	check dword [dst], 0x42

; ---------------------------------------------------------------- lods
group "lods"
	mov esi, src
	mov eax, 0xffffffff
	lodsb
	check eax, 0xffffff30
	lodsw
	check eax, 0xffff3231
	lodsd
	check eax, 0x36353433
	check esi, src + 7
	std
	lodsb
	check eax, 0x36353437
	check esi, src + 6
	lodsd
	check eax, 0x39383736
	check esi, src + 2
	cld
	mov esi, src
	mov ecx, 5
	rep lodsb
	check eax, 0x39383734
	check esi, src + 5
	check ecx, 0

; ---------------------------------------------------------------- cmps
group "cmps"
	mov esi, str_hello_world
	mov edi, str_hello_there
	cmpsb
	check_flags F_ALU, F_ZF|F_PF
	check esi, str_hello_world + 1
	check edi, str_hello_there + 1
	mov esi, str_a
	mov edi, str_b
	cmpsb					; 'a' - 'b'
	check_flags F_ALU, F_CF|F_SF|F_AF|F_PF
	mov esi, str_hello_world
	mov edi, str_hello_there
	mov ecx, 11
	repe cmpsb				; stops after 'w' vs 't'
	check_flags F_ALU, F_PF
	check ecx, 4
	check esi, str_hello_world + 7
	check edi, str_hello_there + 7
	mov esi, str_hello_world
	mov edi, str_hello_world2
	mov ecx, 11
	repe cmpsb
	check_flags F_ZF, F_ZF
	check ecx, 0
	mov esi, str_hello_world
	mov edi, str_xxxxo
	mov ecx, 11
	repne cmpsb				; first equal byte at index 4
	check_flags F_ZF, F_ZF
	check ecx, 6
	check esi, str_hello_world + 5
	mov esi, dwords_a
	mov edi, dwords_b
	mov ecx, 4
	repe cmpsd				; differ at index 2
	check_flags F_ALU, F_CF|F_SF|F_AF
	check ecx, 1
	check esi, dwords_a + 12
	mov esi, dwords_a
	mov edi, dwords_b
	mov ecx, 2
	repe cmpsw
	check_flags F_ZF, F_ZF
	check ecx, 0
	std
	mov esi, str_hello_world + 10
	mov edi, str_hello_there + 10
	mov ecx, 11
	repe cmpsb				; 'd' vs 'e' at once
	cld
	check ecx, 10
	check esi, str_hello_world + 9
	check_flags F_CF|F_ZF, F_CF
	; ECX = 0: no comparison, flags unchanged
	set_flags F_CF|F_SF|F_OF
	mov esi, str_a
	mov edi, str_a
	mov ecx, 0
	repe cmpsb
	check_flags F_ALU, F_CF|F_SF|F_OF
	check esi, str_a
	check edi, str_a
	set_flags F_ZF
	repne cmpsd
	check_flags F_ALU, F_ZF

; ---------------------------------------------------------------- scas
group "scas"
	mov edi, str_hello_world
	mov al, 0
	mov ecx, -1
	repne scasb
	not ecx
	dec ecx
	check ecx, 11				; strlen
	check edi, str_hello_world + 12
	mov edi, str_spaces
	mov al, ' '
	mov ecx, 16
	repe scasb				; stops at the 't'
	check ecx, 11
	check edi, str_spaces + 5
	mov edi, str_hello_world
	mov eax, 'o'
	mov ecx, 11
	repne scasb
	check_flags F_ZF, F_ZF
	check edi, str_hello_world + 5
	mov edi, dwords_b
	mov eax, 0x55555555
	mov ecx, 4
	repne scasd				; found at index 3
	check_flags F_ZF, F_ZF
	check ecx, 0
	check edi, dwords_b + 16
	mov edi, dwords_b
	mov ax, 0x1111
	scasw
	check_flags F_ALU, F_ZF|F_PF
	check edi, dwords_b + 2
	std
	mov edi, str_hello_world + 10
	mov al, 'h'
	mov ecx, 20
	repne scasb
	cld
	check edi, str_hello_world - 1
	check ecx, 9
	set_flags F_AF
	mov ecx, 0
	mov edi, str_a
	repne scasb
	check_flags F_ALU, F_AF
	check edi, str_a

; ---------------------------------------------------------------- overrides
group "override"
	; fill FS_BASE+0x100 and GS_BASE+0x100 through the flat alias
	mov dword [FS_BASE + 0x100], 0xf5f5f501
	mov dword [FS_BASE + 0x104], 0xf5f5f502
	mov dword [FS_BASE + 0x108], 0xf5f5f503
	mov dword [GS_BASE + 0x100], 0x65656501
	mov dword [GS_BASE + 0x104], 0x65656502
	call clear_dst
	mov esi, 0x100
	mov edi, dst
	fs movsb
	check esi, 0x101
	check edi, dst + 1
	check dword [dst], 0x01
	mov esi, 0x100
	mov edi, dst
	mov ecx, 3
	rep fs movsd
	check dword [dst], 0xf5f5f501
	check dword [dst + 8], 0xf5f5f503
	mov esi, 0x104
	gs lodsd
	check eax, 0x65656502
	mov esi, 0x100
	mov edi, dst
	mov ecx, 2
	rep gs movsd
	check dword [dst], 0x65656501
	check dword [dst + 4], 0x65656502
	mov esi, 0x100
	mov edi, dst + 8
	fs cmpsd				; fs:0x100 vs f5f5f503
	check_flags F_CF|F_ZF, F_CF
	mov esi, 0x108
	mov edi, dst + 8
	fs cmpsd
	check_flags F_ZF, F_ZF
	; a based ES moves the destination
	mov dword [FS_BASE + dst], 0
	mov ax, SEL_FS
	mov es, ax
	mov esi, src
	mov edi, dst
	movsd
	mov ax, SEL_DATA
	mov es, ax
	check dword [FS_BASE + dst], 0x33323130
	; xlatb, with and without an override
	mov ebx, xlat_table
	mov eax, 0x12345603
	xlatb
	check eax, 0x123456d3
	mov byte [FS_BASE + 0x205], 0x99
	mov ebx, 0x200
	mov al, 5
	fs xlatb
	and eax, 0xff
	check eax, 0x99

; ---------------------------------------------------------------- port strings
; COM1 with DLAB set: DLL/DLM at +0/+1 and LCR at +3 read back what was
; written, SCR at +7 too; IIR at +2 reads 0x01 (no interrupt, no FIFO once
; FCR is written with 0). All I/O is done before any check, with the UART
; restored, since a failed check prints through it.
group "portio"
	call clear_dst
	mov dword [0x9000], 0
	cld
	mov dx, COM1 + 3
	mov al, 0x83				; DLAB = 1, 8N1
	out dx, al
	mov dx, COM1 + 7			; SCR
	mov esi, port_src
	outsb
	mov [pio_esi], esi
	in al, dx
	mov [pio_al], al			; 0x5a
	mov ecx, 3
	rep outsb				; SCR = last byte, 0x3c
	mov [pio_esi + 4], esi
	mov [pio_ecx], ecx
	mov edi, dst
	mov ecx, 4
	rep insb				; 3c 3c 3c 3c
	mov [pio_edi], edi
	mov [pio_ecx + 4], ecx
	mov ecx, 0				; REP with ECX = 0: nothing
	rep insb
	mov [pio_edi + 4], edi
	std					; backwards: dst+13, then dst+12
	mov edi, dst + 13
	mov ecx, 2
	mov byte [port_tmp], 0x11
	mov esi, port_tmp
	outsb					; SCR = 0x11, ESI moves down
	mov [pio_esi + 8], esi
	rep insb
	cld
	mov [pio_edi + 8], edi
	mov edi, 0xabcd9000			; a16: DI/CX only
	mov ecx, 0x55550002
	a16 rep insb
	mov [pio_edi + 12], edi
	mov [pio_ecx + 8], ecx
	mov byte [FS_BASE + 0x300], 0x77	; an override on the source
	mov esi, 0x300
	fs outsb
	in al, dx
	mov [pio_al + 1], al			; 0x77
	mov edi, dst + 16			; an override does not move INS
	fs insb
	mov ax, SEL_FS				; but ES with a base does
	mov es, ax
	mov byte [FS_BASE + dst + 20], 0
	mov edi, dst + 20
	insb
	mov ax, SEL_DATA
	mov es, ax
	mov dx, COM1				; DLL/DLM as a word
	mov esi, port_src + 4
	outsw					; 0x1234
	mov edi, dst + 24
	insw
	mov esi, port_src + 8
	outsd					; DLL 56, DLM 78, FCR 00, LCR 83
	mov edi, dst + 28
	insd					; DLL, DLM, IIR, LCR
	mov [pio_edi + 16], edi
	mov esi, port_src + 12
	mov ecx, 2
	rep outsw				; divisor 0x0001 last
	mov [pio_esi + 12], esi
	mov dx, COM1 + 3
	mov al, 0x03				; DLAB = 0, 8N1
	out dx, al
	check dword [pio_esi], port_src + 1
	movzx eax, byte [pio_al]
	check eax, 0x5a
	check dword [pio_esi + 4], port_src + 4
	check dword [pio_ecx], 0
	check dword [dst], 0x3c3c3c3c
	check dword [pio_edi], dst + 4
	check dword [pio_ecx + 4], 0
	check dword [pio_edi + 4], dst + 4
	check dword [pio_esi + 8], port_tmp - 1
	check dword [dst + 12], 0x00001111
	check dword [pio_edi + 8], dst + 11
	check dword [0x9000], 0x00001111
	check dword [pio_edi + 12], 0xabcd9002
	check dword [pio_ecx + 8], 0x55550000
	movzx eax, byte [pio_al + 1]
	check eax, 0x77
	movzx eax, byte [dst + 16]
	check eax, 0x77
	movzx eax, byte [FS_BASE + dst + 20]
	check eax, 0x77
	movzx eax, byte [dst + 20]
	check eax, 0
	movzx eax, word [dst + 24]
	check eax, 0x1234
	check dword [dst + 28], 0x83017856
	check dword [pio_edi + 16], dst + 32
	check dword [pio_esi + 12], port_src + 16

; ---------------------------------------------------------------- 16-bit addressing
group "addr16"
	mov dword [0x8000], 'ABCD'
	mov dword [0x9000], 0
	mov esi, 0x12348000
	mov edi, 0x56789000
	mov ecx, 0xabcd0004
	a16 rep movsb
	check esi, 0x12348004
	check edi, 0x56789004
	check ecx, 0xabcd0000
	check dword [0x9000], 'ABCD'
	mov byte [0xffff], 0x7e
	mov esi, 0x1234ffff
	a16 lodsb				; SI wraps to 0
	and eax, 0xff
	check eax, 0x7e
	check esi, 0x12340000
	mov edi, 0x00009000
	mov ecx, 0x00010002			; CX = 2
	mov al, 'z'
	a16 rep stosb
	check ecx, 0x00010000
	check dword [0x9000], 'zzCD'

guest_finish

; clear_dst: zero dst (256 bytes) and ovl
clear_dst:
	pushad
	pushfd
	cld
	mov edi, dst
	mov ecx, 64
	xor eax, eax
	rep stosd
	popfd
	popad
	ret

section .rodata
		db "----"
src:		db "0123456789abcdefghijklmnopqrstuvwxyz"
str_hello_world:	db "hello world", 0
str_hello_world2:	db "hello world", 0
str_hello_there:	db "hello there", 0
str_xxxxo:	db "xxxxoxxxxxx", 0
str_a:		db "a"
str_b:		db "b"
str_spaces:	db "    text        ", 0
align 4
dwords_a:	dd 0x11111111, 0x22222222, 0x33333333, 0x44444444
dwords_b:	dd 0x11111111, 0x22222222, 0x44444444, 0x55555555
xlat_table:	db 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7
port_src:	db 0x5a, 0xa5, 0x00, 0x3c	; outsb, then rep outsb x3
		dw 0x1234, 0			; outsw
		dd 0x83007856			; outsd
		dw 0x0c00, 0x0001		; rep outsw: divisor back to 1

section .bss
alignb 16
dst:		resb 256
ovl:		resb 16
pio_esi:	resd 4
pio_edi:	resd 5
pio_ecx:	resd 3
pio_al:		resb 4
port_tmp:	resb 4
alignb 16
big:		resb 16384
