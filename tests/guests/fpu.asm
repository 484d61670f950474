; x87, MMX, SSE and SSE2: loads/stores, arithmetic with exactly known
; results (bit patterns compared), rounding control, fcomi/fucomi/comisd
; into EFLAGS, fnstsw condition codes and TOP, fnstenv, MXCSR flags and
; rounding, conversions, packed integer ops, and an fxsave/fxrstor round
; trip. Transcendentals are avoided: only exactly rounded operations.
%define GUEST_NAME "fpu"
%include "lib.inc"

; checkq mem, value64: the qword at mem equals value64
%macro checkq 2
	check dword [%1], ((%2) & 0xffffffff)
	check dword [%1 + 4], (((%2) >> 32) & 0xffffffff)
%endmacro

; fistp_rc cw, value: load the double at value, store it as a dword
; integer with control word cw, result in EAX
%macro fistp_rc 2
	mov word [cw], %1
	fldcw [cw]
	fld qword [%2]
	fistp dword [i32]
	mov eax, [i32]
%endmacro

guest_start
	call lib_install_idt			; #NM/#UD/#XM would be reported
	mov eax, cr0
	and eax, ~((1 << 2) | (1 << 3))		; EM = 0, TS = 0
	or eax, (1 << 1) | (1 << 5)		; MP = 1, NE = 1
	mov cr0, eax
	mov eax, cr4
	or eax, 0x600				; OSFXSR | OSXMMEXCPT
	mov cr4, eax

; ---------------------------------------------------------------- x87
group "x87"
	fninit
	fnstcw [cw]
	movzx eax, word [cw]
	check eax, 0x037f
	fnstsw ax
	and eax, 0xffff
	check eax, 0
	fld1
	fadd st0, st0
	fstp qword [q]
	checkq q, 0x4000000000000000
	fldpi
	fstp tword [t]
	check dword [t], 0x2168c235
	check dword [t + 4], 0xc90fdaa2
	movzx eax, word [t + 8]
	check eax, 0x4000
	fldpi
	fstp qword [q]
	checkq q, 0x400921fb54442d18
	fldz
	fchs
	fstp qword [q]
	checkq q, 0x8000000000000000
	fild dword [int7]
	fild dword [int3]
	fdivp					; st1 / st0 = 7 / 3
	fstp qword [q]
	checkq q, 0x4002aaaaaaaaaaab
	fld qword [two]
	fsqrt
	fst qword [q]
	checkq q, 0x3ff6a09e667f3bcd
	fstp tword [t]
	check dword [t], 0xf9de6484
	check dword [t + 4], 0xb504f333
	movzx eax, word [t + 8]
	check eax, 0x3fff
	fld qword [one_half]
	fmul st0, st0
	fstp qword [q]
	checkq q, 0x4002000000000000		; 2.25
	fild dword [int10]
	fild dword [int3]
	fsubp st1				; st1 = st1 - st0
	fistp dword [i32]
	check dword [i32], 7
	fild dword [int10]
	fild dword [int3]
	fsubrp st1				; st1 = st0 - st1
	fistp dword [i32]
	check dword [i32], -7
	fild dword [int10]
	fild dword [int3]
	fxch
	fdiv st0, st1				; 10 / 3
	fmul st0, st1				; * 3
	fistp dword [i32]
	fstp st0
	check dword [i32], 10
	fld qword [minus_two_point_five]
	fabs
	fchs
	fchs
	fstp qword [q]
	checkq q, 0x4004000000000000
	fild qword [i64_val]
	fistp qword [i64]
	check dword [i64], 0x9abcdef0
	check dword [i64 + 4], 0x12345678
	fld tword [t80_val]
	fstp tword [t]
	check dword [t], 0x89abcdef
	check dword [t + 4], 0x81234567
	movzx eax, word [t + 8]
	check eax, 0xc00a
	fild word [int16_m5]
	fiadd dword [int10]
	fimul word [int16_m5]
	fistp word [i32]
	movsx eax, word [i32]
	check eax, -25
	; 100000 does not fit a word: integer indefinite, IE set (masked)
	fnclex
	fld qword [hundred_k]
	fistp word [i32]
	movzx eax, word [i32]
	check eax, 0x8000
	fnstsw ax
	and eax, 1
	check eax, 1
	fnclex
	fnstsw ax
	and eax, 0x3f
	check eax, 0
	; tag word and TOP through fnstenv
	fninit
	fld1
	fldz
	fnstenv [env]
	fldcw [env]				; fnstenv masks exceptions: reload
	movzx eax, word [env]
	check eax, 0x037f
	movzx eax, word [env + 4]
	and eax, 0x3800
	check eax, 0x3000			; TOP = 6
	movzx eax, word [env + 8]
	check eax, 0x1fff			; 7: valid, 6: zero, rest empty
	fstp st0
	fstp st0
	fnstsw ax
	and eax, 0x3800
	check eax, 0				; TOP back to 0

group "rounding"
	fninit
	fistp_rc 0x037f, two_point_five		; nearest even
	check eax, 2
	fistp_rc 0x037f, three_point_five
	check eax, 4
	fistp_rc 0x037f, minus_two_point_five
	check eax, -2
	fistp_rc 0x077f, two_point_seven	; down
	check eax, 2
	fistp_rc 0x077f, minus_two_point_five
	check eax, -3
	fistp_rc 0x0b7f, two_point_one		; up
	check eax, 3
	fistp_rc 0x0b7f, minus_two_point_seven
	check eax, -2
	fistp_rc 0x0f7f, minus_two_point_seven	; chop
	check eax, -2
	fistp_rc 0x0f7f, two_point_seven
	check eax, 2
	; precision control double, rounding down/up on 1/3
	mov word [cw], 0x067f			; PC = double, RC = down
	fldcw [cw]
	fld1
	fild dword [int3]
	fdivp
	fstp qword [q]
	checkq q, 0x3fd5555555555555
	mov word [cw], 0x0a7f			; PC = double, RC = up
	fldcw [cw]
	fld1
	fild dword [int3]
	fdivp
	fstp qword [q]
	checkq q, 0x3fd5555555555556
	mov word [cw], 0x027f			; PC = double, RC = nearest
	fldcw [cw]
	fld qword [two]
	fsqrt
	fstp qword [q]
	checkq q, 0x3ff6a09e667f3bcd
	fnstcw [cw]
	movzx eax, word [cw]
	check eax, 0x027f
	mov word [cw], 0x037f
	fldcw [cw]
	fld qword [two_point_five]
	frndint
	fistp dword [i32]
	check dword [i32], 2

group "compare"
; FCOMI and friends set ZF/PF/CF. The SDM says they also clear OF/SF/AF
; (hardware does), but QEMU 7.2 TCG leaves those three unchanged, so only
; ZF/PF/CF are compared here (set beforehand so a stale value shows).
%define F_FCOMI (F_ZF|F_PF|F_CF)
	fninit
	fld1
	fld qword [two]				; st0 = 2, st1 = 1
	set_flags F_ALU
	fcomi st0, st1
	check_flags F_FCOMI, 0
	fxch
	fcomi st0, st1				; 1 vs 2
	check_flags F_FCOMI, F_CF
	fld st0
	fucomi st0, st1				; equal
	check_flags F_FCOMI, F_ZF
	fstp st0
	fld qword [qnan]
	set_flags 0
	fucomi st0, st1				; unordered
	check_flags F_FCOMI, F_ZF|F_PF|F_CF
	fstp st0
	set_flags F_ZF|F_PF
	fcomip st0, st1				; pops
	check_flags F_FCOMI, F_CF
	fnstsw ax
	and eax, 0x3800
	check eax, 0x3800			; TOP = 7: one left
	fstp st0
	fninit
	fld1
	fld qword [two]
	fcom st1				; 2 vs 1
	fnstsw ax
	mov ebx, eax
	and eax, 0x4500
	check eax, 0
	shr ebx, 11
	and ebx, 7
	check ebx, 6
	fxch
	fcom st1				; 1 vs 2
	fnstsw ax
	and eax, 0x4500
	check eax, 0x0100
	fcom st0
	fnstsw ax
	and eax, 0x4500
	check eax, 0x4000
	sahf					; the classic fnstsw/sahf idiom
	check_flags F_ZF|F_CF|F_PF, F_ZF
	fld qword [qnan]
	fucom st1
	fnstsw ax
	and eax, 0x4500
	check eax, 0x4500
	fstp st0
	ftst					; 1 vs 0
	fnstsw ax
	and eax, 0x4500
	check eax, 0
	fldz
	fchs
	ftst					; -0 vs 0: equal
	fnstsw ax
	and eax, 0x4500
	check eax, 0x4000
	fcompp
	fstp st0
	fninit

; ---------------------------------------------------------------- SSE
group "sse"
	ldmxcsr [mxcsr_default]
	movups xmm0, [unaligned + 1]
	movaps [xout], xmm0
	check dword [xout], 0x04030201
	check dword [xout + 12], 0x100f0e0d
	movups [unaligned + 3], xmm0
	movups xmm1, [unaligned + 3]
	movaps [xout], xmm1
	check dword [xout + 4], 0x08070605
	movaps xmm0, [ps_1234]
	movaps xmm1, [ps_half]
	addps xmm0, xmm1
	movaps [xout], xmm0
	check dword [xout], 0x3fc00000		; 1.5
	check dword [xout + 4], 0x40200000	; 2.5
	check dword [xout + 8], 0x40600000	; 3.5
	check dword [xout + 12], 0x40900000	; 4.5
	movaps xmm0, [ps_1234]
	mulps xmm0, [ps_two]
	movaps [xout], xmm0
	check dword [xout], 0x40000000
	check dword [xout + 4], 0x40800000
	check dword [xout + 8], 0x40c00000
	check dword [xout + 12], 0x41000000
	movaps xmm2, [ps_1234]
	shufps xmm2, xmm2, 0x1b			; reverse
	movaps [xout], xmm2
	check dword [xout], 0x40800000
	check dword [xout + 12], 0x3f800000

	movaps xmm0, [sd_one_hi]		; low 1.0, high 0x1122334455667788
	movsd xmm1, [two]
	addsd xmm0, xmm1
	movaps [xout], xmm0
	checkq xout, 0x4008000000000000		; 3.0
	checkq xout + 8, 0x1122334455667788	; high half kept
	mulsd xmm0, [one_half_sd]		; 3.0 * 0.5
	movsd [q], xmm0
	checkq q, 0x3ff8000000000000
	movsd xmm0, [one]
	movsd xmm1, [three]
	divsd xmm0, xmm1
	movsd [q], xmm0
	checkq q, 0x3fd5555555555555
	sqrtsd xmm0, [two]
	movsd [q], xmm0
	checkq q, 0x3ff6a09e667f3bcd
	ldmxcsr [mxcsr_default]			; clear PE from the above
	movsd xmm0, [one]
	xorpd xmm1, xmm1
	divsd xmm0, xmm1			; 1 / 0: inf, ZE
	movsd [q], xmm0
	checkq q, 0x7ff0000000000000
	stmxcsr [mx]
	check dword [mx], 0x1f84
	ldmxcsr [mxcsr_default]
	mov dword [mx], 0x5f80			; RC = up
	ldmxcsr [mx]
	movsd xmm0, [one]
	divsd xmm0, [three]
	movsd [q], xmm0
	checkq q, 0x3fd5555555555556
	ldmxcsr [mxcsr_default]
	movsd xmm0, [one]
	set_flags F_ALU
	comisd xmm0, [two]			; also clears OF/SF/AF
	check_flags F_ALU, F_CF
	ucomisd xmm0, [one]
	check_flags F_ALU, F_ZF
	ucomisd xmm0, [qnan]
	check_flags F_ALU, F_ZF|F_PF|F_CF
	comiss xmm2, [ps_1234 + 12]		; 4.0 vs 4.0
	check_flags F_ALU, F_ZF

	mov eax, -7
	cvtsi2sd xmm0, eax
	movsd [q], xmm0
	checkq q, 0xc01c000000000000
	cvttsd2si eax, [minus_two_point_seven]
	check eax, -2
	cvttsd2si eax, [two_point_seven]
	check eax, 2
	cvtsd2si eax, [two_point_five]		; nearest even
	check eax, 2
	cvtsd2si eax, [three_point_five]
	check eax, 4
	cvttsd2si eax, [qnan]
	check eax, 0x80000000			; integer indefinite
	cvttsd2si eax, [ten_billion]
	check eax, 0x80000000
	cvtsd2ss xmm3, [point_one]
	movd eax, xmm3
	check eax, 0x3dcccccd
	cvtss2sd xmm4, xmm3
	movsd [q], xmm4
	checkq q, 0x3fb99999a0000000
	ldmxcsr [mxcsr_default]

group "sse2int"
	pcmpeqd xmm2, xmm2			; all ones
	pxor xmm2, xmm2
	movaps [xout], xmm2
	check dword [xout], 0
	check dword [xout + 12], 0
	movdqa xmm0, [pd_a]
	paddd xmm0, [pd_b]
	movdqa [xout], xmm0
	check dword [xout], 0
	check dword [xout + 4], 2
	check dword [xout + 8], 0x80000000
	check dword [xout + 12], 10
	movdqu xmm0, [pw_a]
	pmullw xmm0, [pw_b]
	movdqu [xout], xmm0
	check dword [xout], 0xfffa0003
	check dword [xout + 4], 0x00005f90
	check dword [xout + 8], 0x00010000
	check dword [xout + 12], 0x80018000
	mov eax, 0x12345678
	pcmpeqd xmm5, xmm5
	movd xmm5, eax				; zeroes bits 32..127
	movdqa [xout], xmm5
	check dword [xout], 0x12345678
	check dword [xout + 4], 0
	check dword [xout + 12], 0
	movd ebx, xmm5
	check ebx, 0x12345678
	pcmpeqd xmm6, xmm6
	movq xmm6, [i64_val]			; zeroes bits 64..127
	movdqa [xout], xmm6
	check dword [xout], 0x9abcdef0
	check dword [xout + 4], 0x12345678
	check dword [xout + 8], 0
	movq [q], xmm6
	checkq q, 0x123456789abcdef0
	pshufd xmm1, [pd_b], 0x1b
	movdqa [xout], xmm1
	check dword [xout], 5
	check dword [xout + 12], 1
	movdqa xmm1, [pd_a]
	psrlq xmm1, 4
	movdqa [xout], xmm1
	check dword [xout], 0x1fffffff
	check dword [xout + 4], 0x00000000
	movdqa xmm1, [pd_a]
	pcmpeqd xmm1, [pd_b]			; equal in lanes 1 and 3
	pmovmskb eax, xmm1
	check eax, 0xf0f0
	movdqa xmm1, [pd_a]
	psubb xmm1, [pd_b]
	movdqa [xout], xmm1
	check dword [xout], 0xfffffffe
	check dword [xout + 12], 0
	movd xmm1, [int7]
	punpcklbw xmm1, xmm1
	movd eax, xmm1
	check eax, 0x0707

group "mmx"
	movq mm0, [mmx_a]
	paddw mm0, [mmx_b]
	movq [q], mm0
	check dword [q], 0x00050003
	check dword [q + 4], 0x80070007
	movd eax, mm0
	check eax, 0x00050003
	psllq mm0, 16
	movq [q], mm0
	check dword [q], 0x00030000
	emms
	fninit
	fld1
	fstp qword [q]				; x87 usable again after emms
	checkq q, 0x3ff0000000000000

; ---------------------------------------------------------------- fxsave
group "fxsave"
	fninit
	mov word [cw], 0x027f
	fldcw [cw]
	fld1
	fldpi					; st0 = pi, st1 = 1
	movdqa xmm0, [pattern_a]
	movdqa xmm7, [pattern_b]
	mov dword [mx], 0x3f80			; RC = down
	ldmxcsr [mx]
	fxsave [fxbuf1]
	movzx eax, word [fxbuf1]
	check eax, 0x027f
	movzx eax, word [fxbuf1 + 2]
	check eax, 0x3000			; TOP = 6
	movzx eax, byte [fxbuf1 + 4]
	check eax, 0xc0				; abridged tags: 6 and 7 valid
	check dword [fxbuf1 + 24], 0x3f80
	check dword [fxbuf1 + 32], 0x2168c235	; ST0 = pi
	check dword [fxbuf1 + 36], 0xc90fdaa2
	movzx eax, word [fxbuf1 + 40]
	check eax, 0x4000
	check dword [fxbuf1 + 48], 0		; ST1 = 1
	check dword [fxbuf1 + 52], 0x80000000
	movzx eax, word [fxbuf1 + 56]
	check eax, 0x3fff
	check dword [fxbuf1 + 160], 0x03020100	; XMM0
	check dword [fxbuf1 + 172], 0x0f0e0d0c
	check dword [fxbuf1 + 272], 0xdeadbeef	; XMM7
	check dword [fxbuf1 + 284], 0x01234567
	; clobber, restore, save again
	fninit
	pxor xmm0, xmm0
	pxor xmm7, xmm7
	ldmxcsr [mxcsr_default]
	fxrstor [fxbuf1]
	fxsave [fxbuf2]
	mov esi, fxbuf1
	mov edi, fxbuf2
	mov ecx, 6				; FCW FSW FTW FOP (first 6 bytes)
	repe cmpsb
	check ecx, 0
	mov eax, [fxbuf2 + 24]
	check eax, 0x3f80
	mov esi, fxbuf1 + 32			; ST0..ST7 and XMM0..XMM7
	mov edi, fxbuf2 + 32
	xor ebx, ebx				; mismatches
.cmp_regs:
	mov eax, [esi]
	cmp eax, [edi]
	je .same1
	inc ebx
.same1:
	mov eax, [esi + 4]
	cmp eax, [edi + 4]
	je .same2
	inc ebx
.same2:
	mov ax, [esi + 8]
	cmp ax, [edi + 8]
	je .same3
	inc ebx
.same3:
	add esi, 16
	add edi, 16
	cmp esi, fxbuf1 + 160
	jb .cmp_regs
	mov esi, fxbuf1 + 160
	mov edi, fxbuf2 + 160
	mov ecx, 32
	repe cmpsd
	je .xmm_same
	inc ebx
.xmm_same:
	check ebx, 0
	; and the restored state works
	stmxcsr [mx]
	check dword [mx], 0x3f80
	fnstcw [cw]
	movzx eax, word [cw]
	check eax, 0x027f
	fstp qword [q]
	checkq q, 0x400921fb54442d18		; pi
	fstp qword [q]
	checkq q, 0x3ff0000000000000		; 1
	movdqa [xout], xmm0
	check dword [xout], 0x03020100
	movdqa [xout], xmm7
	check dword [xout + 12], 0x01234567
	ldmxcsr [mxcsr_default]
	fninit

guest_finish

section .rodata
align 16
ps_1234:	dd 1.0, 2.0, 3.0, 4.0
ps_half:	dd 0.5, 0.5, 0.5, 0.5
ps_two:		dd 2.0, 2.0, 2.0, 2.0
sd_one_hi:	dq 1.0, 0x1122334455667788
pd_a:		dd 0xffffffff, 1, 0x7fffffff, 5
pd_b:		dd 1, 1, 1, 5
pw_a:		dw 1, -2, 300, 0x1000, 0, 1, 0x4000, 0x7fff
pw_b:		dw 3, 3, 300, 0x10, 5, 1, 2, 0xffff
pattern_a:	db 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
pattern_b:	dd 0xdeadbeef, 0xcafef00d, 0x0badc0de, 0x01234567
one:		dq 1.0
two:		dq 2.0
three:		dq 3.0
one_half:	dq 1.5
one_half_sd:	dq 0.5
two_point_five:	dq 2.5
three_point_five: dq 3.5
minus_two_point_five: dq -2.5
two_point_seven: dq 2.7
minus_two_point_seven: dq -2.7
two_point_one:	dq 2.1
hundred_k:	dq 100000.0
ten_billion:	dq 1.0e10
point_one:	dq 0.1
qnan:		dq 0x7ff8000000000000
i64_val:	dq 0x123456789abcdef0
t80_val:	dq 0x8123456789abcdef
		dw 0xc00a
mmx_a:		dw 1, 2, 3, 0x7fff
mmx_b:		dw 2, 3, 4, 0x0008
int3:		dd 3
int7:		dd 7
int10:		dd 10
int16_m5:	dw -5
align 4
mxcsr_default:	dd 0x1f80

section .data
align 16
unaligned:	db 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20

section .bss
alignb 16
xout:		resb 16
fxbuf1:		resb 512
fxbuf2:		resb 512
q:		resq 1
t:		resb 16
i64:		resq 1
i32:		resd 1
mx:		resd 1
env:		resb 28
cw:		resw 1
