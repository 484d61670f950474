; Decimal adjust and other legacy/miscellaneous instructions: daa/das,
; aaa/aas, aam/aad (base 10 and immediate bases), salc, bound (in-range
; only), lahf/sahf, cmc, into with OF=0, multi-byte nops, cpuid leaves 0 and
; 1, rdtsc monotonicity. Flags are compared only where the SDM defines them.
%define GUEST_NAME "bcd"
%include "lib.inc"

guest_start
	call lib_install_idt			; a stray #BR/#UD is reported

; ---------------------------------------------------------------- daa/das
group "daa"
%define F_DAA (F_CF|F_AF|F_ZF|F_SF|F_PF)	; OF undefined
	mov eax, 0x79
	add al, 0x35				; 79 + 35 = 114
	daa
	check_flags F_DAA, F_CF|F_AF|F_PF
	check eax, 0x14
	mov eax, 0x38
	add al, 0x45				; 38 + 45 = 83
	daa
	check_flags F_DAA, F_AF|F_SF
	check eax, 0x83
	mov eax, 0x99
	add al, 0x01				; 99 + 1 = 100
	daa
	check_flags F_DAA, F_CF|F_AF|F_ZF|F_PF
	check eax, 0x00
	mov eax, 0x12
	add al, 0x34				; no adjustment
	daa
	check_flags F_DAA, 0
	check eax, 0x46
	mov eax, 0x1208
	add al, 0x09				; 08 + 09: AF set by the add
	daa
	check_flags F_DAA, F_AF|F_PF
	check eax, 0x1217
	mov eax, 0x35
	sub al, 0x47				; 35 - 47 = -12 -> 88 borrow
	das
	check_flags F_DAA, F_CF|F_AF|F_SF|F_PF
	check eax, 0x88
	mov eax, 0x50
	sub al, 0x01				; 50 - 1 = 49
	das
	check_flags F_DAA, F_AF
	check eax, 0x49
	mov eax, 0x47
	sub al, 0x12				; no adjustment
	das
	check_flags F_DAA, F_PF
	check eax, 0x35
	mov eax, 0x00
	sub al, 0x01				; 0 - 1 = 99 borrow
	das
	check_flags F_DAA, F_CF|F_AF|F_SF|F_PF
	check eax, 0x99
	mov eax, 0x03
	set_flags F_AF				; the low borrow alone sets CF
	das
	check_flags F_DAA, F_CF|F_AF|F_SF
	check eax, 0xfd
	mov eax, 0x9a
	set_flags 0				; both adjustments, AL wraps to 0
	daa
	check_flags F_DAA, F_CF|F_AF|F_ZF|F_PF
	check eax, 0x00
	mov eax, 0x5566
	set_flags F_CF				; CF alone: + 0x60
	daa
	check_flags F_DAA, F_CF|F_SF|F_PF
	check eax, 0x55c6

; ---------------------------------------------------------------- aaa/aas
group "aaa"
	mov eax, 0x0008
	add al, 0x09
	aaa
	check_flags F_CF|F_AF, F_CF|F_AF
	check eax, 0x0107
	mov eax, 0x0005
	add al, 0x03
	aaa
	check_flags F_CF|F_AF, 0
	check eax, 0x0008
	mov eax, 0xffff0505
	add al, 0x05				; AL = 0x0a, AF clear
	aaa
	check_flags F_CF|F_AF, F_CF|F_AF
	check eax, 0xffff0600
	mov eax, 0x0502
	sub al, 0x08
	aas
	check_flags F_CF|F_AF, F_CF|F_AF
	check eax, 0x0404
	mov eax, 0x0209
	sub al, 0x03
	aas
	check_flags F_CF|F_AF, 0
	check eax, 0x0206
	mov eax, 0x0300
	sub al, 0x01				; AL = 0xff, AF set
	aas
	check_flags F_CF|F_AF, F_CF|F_AF
	check eax, 0x0209
	mov eax, 0x01fb				; AL > 0xf9: the carry reaches AH too
	set_flags 0
	aaa
	check_flags F_CF|F_AF, F_CF|F_AF
	check eax, 0x0301
	mov eax, 0x0203				; AL < 6: the borrow reaches AH too
	set_flags F_AF
	aas
	check_flags F_CF|F_AF, F_CF|F_AF
	check eax, 0x000d
	mov eax, 0x1234
	set_flags F_CF				; no adjustment clears CF and AF
	aaa
	check_flags F_CF|F_AF, 0
	check eax, 0x1204

; ---------------------------------------------------------------- aam/aad
group "aam"
%define F_AAM (F_ZF|F_SF|F_PF)
	mov eax, 0x1234004f			; 79
	aam
	check_flags F_AAM, F_PF
	check eax, 0x12340709
	mov eax, 0x4f
	aam 16
	check_flags F_AAM, F_PF
	check eax, 0x040f
	mov eax, 0xff00
	aam
	check_flags F_AAM, F_ZF|F_PF
	check eax, 0
	mov eax, 0xff
	aam 7					; 255 = 36 * 7 + 3
	check eax, 0x2403
	mov eax, 0x0709
	aad
	check_flags F_AAM, 0
	check eax, 0x4f
	mov eax, 0xabcd0409
	aad 16
	check_flags F_AAM, 0
	check eax, 0xabcd0049
	mov eax, 0x0f0f
	aad					; 165
	check_flags F_AAM, F_SF|F_PF
	check eax, 0xa5
	mov eax, 0x0000
	aad
	check_flags F_AAM, F_ZF|F_PF
	check eax, 0
	mov eax, 0x0203
	aad 0					; 2 * 0 + 3
	check eax, 0x03

; ---------------------------------------------------------------- salc, bound
group "salc"
	mov eax, 0x12345600
	stc
	db 0xd6					; salc
	check_flags F_CF, F_CF
	check eax, 0x123456ff
	clc
	db 0xd6
	check_flags F_CF, 0
	check eax, 0x12345600
	set_flags F_ZF|F_PF
	db 0xd6
	check_flags F_ALU, F_ZF|F_PF		; flags unchanged

group "bound"
	mov eax, 15
	bound eax, [bounds32]
	mov eax, 10
	bound eax, [bounds32]
	mov eax, 20
	bound eax, [bounds32]
	mov ebx, -7
	bound ebx, [bounds_neg]
	mov ecx, 0x12340000 | 0xfffb		; CX = -5
	bound cx, [bounds16]
	mov cx, 5
	bound cx, [bounds16]
	mov esi, bounds32
	mov edx, 11
	bound edx, [esi]
	check eax, 20				; reached without #BR
	check ecx, 0x12340005

; ---------------------------------------------------------------- lahf/sahf
group "lahf"
	set_flags F_OF
	mov eax, 0xd500
	sahf
	check_flags F_ALU, F_SF|F_ZF|F_AF|F_PF|F_CF|F_OF	; OF untouched
	set_flags 0
	mov eax, 0xffffffff
	lahf
	check eax, 0xffff02ff
	set_flags F_ALU
	lahf
	check eax, 0xffffd7ff
	mov ah, 0xff
	sahf					; bits 1, 3, 5 are fixed
	pushfd
	pop eax
	and eax, 0xff
	check eax, 0xd7
	set_flags F_ALU
	mov ah, 0x00
	sahf
	check_flags F_ALU, F_OF
	set_flags 0
	mov ah, 0x41				; ZF | CF
	sahf
	lahf
	shr eax, 8
	and eax, 0xff
	check eax, 0x43

group "misc"
	set_flags F_CF|F_ZF
	cmc
	check_flags F_ALU, F_ZF
	cmc
	check_flags F_ALU, F_CF|F_ZF
	set_flags 0
	mov al, 1
	add al, 1				; OF = 0
	into					; no #OF
	set_flags F_ALU
	db 0x0f, 0x1f, 0x00			; nop dword [eax]
	db 0x0f, 0x1f, 0x40, 0x00		; nop dword [eax+0]
	db 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00	; nop word [eax+eax+0]
	db 0x0f, 0x1f, 0x84, 0x00, 0, 0, 0, 0	; nop dword [eax+eax+0] disp32
	db 0x66, 0x90				; xchg ax, ax
	pause
	check_flags F_ALU, F_ALU
	mov eax, 0x5a5a5a5a
	xchg eax, eax
	check eax, 0x5a5a5a5a

; ---------------------------------------------------------------- cpuid/rdtsc
group "cpuid"
	xor eax, eax
	cpuid
	mov [cpuid0], eax
	mov [cpuid0 + 4], ebx
	mov [cpuid0 + 8], edx
	mov [cpuid0 + 12], ecx
	cmp eax, 1
	jae .leaf0_ok
	fail_now "cpuid leaf 0 EAX < 1"
.leaf0_ok:
	mov eax, 1
	mov ecx, 0
	cpuid					; must not fault
	mov [cpuid1], eax
	mov [cpuid1 + 4], edx
	mov eax, [cpuid0 + 4]
	or eax, [cpuid0 + 8]
	or eax, [cpuid0 + 12]
	jnz .vendor_ok
	fail_now "cpuid vendor string empty"
.vendor_ok:

group "rdtsc"
	rdtsc
	mov [tsc0], eax
	mov [tsc0 + 4], edx
	mov ecx, 10000
.spin:
	dec ecx
	jnz .spin
	rdtsc
	mov [tsc1], eax
	mov [tsc1 + 4], edx
	mov eax, [tsc1]
	mov edx, [tsc1 + 4]
	sub eax, [tsc0]
	sbb edx, [tsc0 + 4]
	jnc .monotonic				; second - first >= 0 (unsigned)
	fail_now "rdtsc went backwards"
.monotonic:
	mov ebx, 100
.more:
	rdtsc
	mov esi, eax
	mov edi, edx
	rdtsc
	sub eax, esi
	sbb edx, edi
	jc .backwards
	dec ebx
	jnz .more
	jmp .tsc_done
.backwards:
	fail_now "rdtsc back to back went backwards"
.tsc_done:

guest_finish

section .rodata
align 4
bounds32:	dd 10, 20
bounds_neg:	dd -10, -5
bounds16:	dw -5, 5

section .bss
alignb 8
cpuid0:		resd 4
cpuid1:		resd 2
tsc0:		resq 1
tsc1:		resq 1
