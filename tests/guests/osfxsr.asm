; CR4.OSFXSR: while it is clear, every instruction with an XMM operand and
; LDMXCSR/STMXCSR is #UD (SDM Vol. 3 13.1.3 and its table of OSFXSR, EM
; and TS; AMD APM Vol. 2 11.5.1), changing nothing; x87, MMX, the SSE
; forms on MMX registers, fences, MOVNTI, PAUSE, the prefetches, CLFLUSH
; and FXSAVE/FXRSTOR run. OSFXSR's #UD comes before TS's #NM. The same
; code runs with OSFXSR set and clear in turn, so what was translated for
; one setting must not run under the other.
%define GUEST_NAME "osfxsr"
%include "lib.inc"
%include "exc_record.inc"

CR0_EM		equ 1 << 2
CR0_TS		equ 1 << 3
CR4_OSFXSR	equ 1 << 9
CR4_OSXMMEXCPT	equ 1 << 10

guest_start
	call lib_install_idt
	mov dword [lib_exc_hook], exc_record
	mov eax, cr0
	and eax, ~(CR0_EM | CR0_TS)
	or eax, (1 << 1) | (1 << 5)		; MP, NE
	mov cr0, eax
	; load known XMM values while SSE is on, then turn it off
	mov eax, cr4
	or eax, CR4_OSFXSR | CR4_OSXMMEXCPT
	mov cr4, eax
	movdqa xmm0, [pattern]
	movdqa xmm1, [pattern + 16]
	mov eax, cr4
	and eax, ~(CR4_OSFXSR | CR4_OSXMMEXCPT)
	mov cr4, eax
	fninit

; ------------------------------------------------------------- #UD
group "ud"
t_ud:
	arm .r1
.f1:
	movaps xmm0, xmm1
.r1:
	expect 6, .f1, 0
	arm .r2
.f2:
	ldmxcsr [mxcsr_val]
.r2:
	expect 6, .f2, 0
	mov dword [scratch], 0x12345678
	arm .r3
.f3:
	stmxcsr [scratch]
.r3:
	expect 6, .f3, 0
	check dword [scratch], 0x12345678	; nothing stored
	mov eax, 0x5a5a5a5a
	arm .r4
.f4:
	movmskps eax, xmm0			; an XMM source, a GPR destination
.r4:
	expect 6, .f4, 0
	check eax, 0x5a5a5a5a
	arm .r5
.f5:
	movd xmm0, eax				; SSE2
.r5:
	expect 6, .f5, 0
	arm .r6
.f6:
	pshufb xmm0, xmm1			; SSSE3
.r6:
	expect 6, .f6, 0
	arm .r8
.f8:
	addps xmm0, [pattern]			; a memory source
.r8:
	expect 6, .f8, 0
	mov dword [scratch], 0x12345678
	arm .r9
.f9:
	movdqu [scratch], xmm0			; a memory destination
.r9:
	expect 6, .f9, 0
	check dword [scratch], 0x12345678
	arm .r10
.f10:
	maskmovdqu xmm0, xmm1			; an implied memory destination
.r10:
	expect 6, .f10, 0
	arm .r11
.f11:
	ptest xmm0, xmm1			; SSE4.1, flags only
.r11:
	expect 6, .f11, 0
	; the registers kept their values: look with SSE on again
	mov eax, cr4
	or eax, CR4_OSFXSR
	mov cr4, eax
	movdqu [out], xmm0
	mov eax, cr4
	and eax, ~CR4_OSFXSR
	mov cr4, eax
	check dword [out], 0x03020100
	check dword [out + 12], 0x0f0e0d0c

; ------------------------------------------------------------- MMX and XMM
; The conversions between MMX and XMM registers have an XMM operand too.
group "mixed"
t_mixed:
	movq mm0, [mmx_a]
	arm .r1
.f1:
	cvtpi2ps xmm0, mm0			; an MMX source, an XMM destination
.r1:
	expect 6, .f1, 0
	arm .r2
.f2:
	cvtps2pi mm0, xmm1			; an XMM source, an MMX destination
.r2:
	expect 6, .f2, 0
	movq [out], mm0
	emms
	check dword [out], 0x00020001		; MM0 kept
	mov eax, cr4
	or eax, CR4_OSFXSR
	mov cr4, eax
	movdqu [out], xmm0
	mov eax, cr4
	and eax, ~CR4_OSFXSR
	mov cr4, eax
	check dword [out], 0x03020100		; XMM0 kept

; ------------------------------------------------------------- what runs
group "runs"
t_runs:
	arm .none
	movq mm0, [mmx_a]
	paddw mm0, [mmx_a]			; MMX
	pshufw mm1, mm0, 0x1b			; SSE on MMX registers
	pavgb mm1, mm0
	pmovmskb eax, mm1
	movq [out], mm1
	emms
	sfence
	lfence
	mfence
	movnti [scratch], eax
	pause
	prefetcht0 [scratch]
	prefetchnta [scratch]
	clflush [scratch]
	fld1
	fstp qword [out + 8]
	fxsave [fxbuf]
	fxrstor [fxbuf]
.none:
	check dword [x_count], 0
	check dword [out], 0x00050005		; PAVGB of words 8,6,4,2 and 2,4,6,8
	check dword [out + 4], 0x00050005
	check dword [out + 12], 0x3ff00000	; 1.0
	check dword [scratch], 0		; PMOVMSKB of those bytes

; ------------------------------------------------------------- priority
; The SDM's table: OSFXSR = 0 is #UD whatever TS says; with OSFXSR set,
; TS gives #NM.
group "priority"
t_priority:
	mov eax, cr0
	or eax, CR0_TS
	mov cr0, eax
	arm .r1
.f1:
	movaps xmm0, xmm1
.r1:
	expect 6, .f1, 0
	arm .r2
.f2:
	ldmxcsr [mxcsr_val]
.r2:
	expect 6, .f2, 0
	arm .r3
.f3:
	paddw mm0, mm1				; MMX: TS's #NM
.r3:
	expect 7, .f3, 0
	arm .r4
.f4:
	fld1
.r4:
	expect 7, .f4, 0
	mov eax, cr4
	or eax, CR4_OSFXSR
	mov cr4, eax
	arm .r5
.f5:
	movaps xmm0, xmm1
.r5:
	expect 7, .f5, 0
	mov eax, cr4
	and eax, ~CR4_OSFXSR
	mov cr4, eax
	clts

; ------------------------------------------------------------- toggle
; One place in the code, run with OSFXSR clear, set, clear, set: each
; MOV to CR4 must reach the code translated before it.
group "toggle"
t_toggle:
	xor esi, esi
	mov dword [faults], 0
.pass:
	mov eax, cr4
	and eax, ~CR4_OSFXSR
	test esi, 1
	jz .load
	or eax, CR4_OSFXSR
.load:
	mov cr4, eax
	mov dword [out], 0
	arm .r1
.f1:
	movd [out], xmm1
.r1:
	mov eax, [x_count]
	add [faults], eax
	test esi, 1
	jz .off
	check dword [x_count], 0
	check dword [out], 0x13121110		; the store happened
	jmp .next
.off:
	expect 6, .f1, 0
	check dword [out], 0
.next:
	inc esi
	cmp esi, 4
	jb .pass
	check dword [faults], 2

	guest_finish

section .rodata
align 16
pattern:	db 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
		db 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
mmx_a:		dw 1, 2, 3, 4
mxcsr_val:	dd 0x1f80

section .bss
alignb 16
fxbuf:		resb 512
out:		resb 16
scratch:	resd 1
faults:		resd 1
