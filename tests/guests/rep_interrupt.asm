; REP string instructions are interruptible between iterations: with the
; PIT at 1 kHz, REP LODSB/STOSB/MOVSB (both directions), REP MOVSD, REPE
; CMPSB and REPNE SCASB over tens of MiB each take timer interrupts whose
; saved EIP is the string instruction itself. At every such interrupt the
; handler checks that ECX, ESI and EDI agree on how many elements were
; done (the SDM's state between iterations); afterwards the final
; registers, flags and memory are checked. Each operation is repeated
; until it has run for REPEAT_MS of PM-timer time, so the number of
; interrupts expected does not depend on the host's speed, and then until
; MIN_MID interrupts came inside it: a host stall outside the instruction
; (in the PM-timer read between two runs) may use up the REPEAT_MS, its
; queued ticks landing after the last run. Only REPEAT_CAP runs with too
; few (a monitor that never interrupts the instruction) end the loop.
%define GUEST_NAME "rep_interrupt"
%include "lib.inc"
%include "timer.inc"

PIT_DIVISOR	equ 1193		; 1 kHz
REPEAT_MS	equ 60			; per operation: about 60 ticks
MIN_MID		equ 10			; interrupts inside the instruction, at least
REPEAT_CAP	equ 500			; runs at most (up to 20 GiB moved: a hang guard)
BUF_A		equ 0x00400000		; 4 MiB..
BUF_B		equ 0x01800000		; 24 MiB..
LEN		equ 0x01000000		; 16 MiB per operand (RAM is 64 MiB)
LODS_LEN	equ 0x02800000		; 40 MiB read by LODSB

; describe LABEL, N, ESI0, EDI0, STEP, USES_SI, USES_DI: the operation at
; LABEL (its REP instruction), for the handler's checks.
%macro describe 7
	mov dword [op_eip], %1
	mov dword [op_n], %2
	mov dword [op_esi0], %3
	mov dword [op_edi0], %4
	mov dword [op_step], %5
	mov dword [op_uses_si], %6
	mov dword [op_uses_di], %7
%endmacro

; repeat_start / repeat_until: the body between them runs until REPEAT_MS
; of PM time has passed since repeat_start and MIN_MID interrupts came
; inside the instruction (at least once, at most REPEAT_CAP times).
; repeat_until changes EAX and the flags.
%macro repeat_start 0
	call timer_pm_read
	mov [rep_start_pm], eax
	mov dword [rep_runs], 0
%%again:
%define repeat_label %%again
%endmacro

%macro repeat_until 0
	inc dword [rep_runs]
	cmp dword [rep_runs], REPEAT_CAP
	jae %%done				; op_end tells whether enough came
	push ebx
	mov ebx, [rep_start_pm]
	call timer_pm_since
	pop ebx
	cmp eax, REPEAT_MS * (PM_HZ / 1000)
	jb repeat_label
	cmp dword [mid], MIN_MID
	jb repeat_label
%%done:
%endmacro

guest_start
	call lib_install_idt
	call lib_pic_init
	gate 0x20, tick_isr, 0x8e
	mov eax, PIT_DIVISOR
	call timer_pit_periodic
	mov al, 0xfe
	out 0x21, al				; IRQ0 only
	cld
	sti

; ---------------------------------------------------------------- LODSB
group "lodsb"
	mov byte [BUF_A + LODS_LEN - 1], 0x5a
	describe lods_insn, LODS_LEN, BUF_A, 0, 1, 1, 0
	call op_begin
	repeat_start
	mov esi, BUF_A
	mov ecx, LODS_LEN
	xor eax, eax
lods_insn:
	rep lodsb
	mov edx, eax
	repeat_until
	call op_end
	check ecx, 0
	check esi, BUF_A + LODS_LEN
	check edx, 0x5a				; the last byte loaded

; ---------------------------------------------------------------- STOSB
group "stosb"
	mov byte [BUF_A + LEN], 0x11		; just past the end
	describe stos_insn, LEN, 0, BUF_A, 1, 0, 1
	call op_begin
	repeat_start
	mov edi, BUF_A
	mov ecx, LEN
	mov eax, 0xa5
stos_insn:
	rep stosb
	repeat_until
	call op_end
	check ecx, 0
	check edi, BUF_A + LEN
	movzx eax, byte [BUF_A]
	check eax, 0xa5
	movzx eax, byte [BUF_A + LEN / 2 + 12345]
	check eax, 0xa5
	movzx eax, byte [BUF_A + LEN - 1]
	check eax, 0xa5
	movzx eax, byte [BUF_A + LEN]
	check eax, 0x11				; one element too many would show

; ---------------------------------------------------------------- MOVSB
group "movsb"
	call place_markers
	describe movs_insn, LEN, BUF_A, BUF_B, 1, 1, 1
	call op_begin
	repeat_start
	mov esi, BUF_A
	mov edi, BUF_B
	mov ecx, LEN
movs_insn:
	rep movsb
	repeat_until
	call op_end
	check ecx, 0
	check esi, BUF_A + LEN
	check edi, BUF_B + LEN
	call check_markers

; ---------------------------------------------------------------- MOVSB, DF=1
group "movsb_down"
	call place_markers
	mov dword [BUF_B], 0			; the copy must bring the first markers back
	mov dword [BUF_B + LEN - 4], 0
	describe movs_down_insn, LEN, BUF_A + LEN - 1, BUF_B + LEN - 1, -1, 1, 1
	call op_begin
	repeat_start
	mov esi, BUF_A + LEN - 1
	mov edi, BUF_B + LEN - 1
	mov ecx, LEN
	std
movs_down_insn:
	rep movsb
	cld
	repeat_until
	call op_end
	check ecx, 0
	check esi, BUF_A - 1
	check edi, BUF_B - 1
	call check_markers

; ---------------------------------------------------------------- MOVSD
group "movsd"
	call place_markers
	mov dword [BUF_B], 0
	describe movsd_insn, LEN / 4, BUF_A, BUF_B, 4, 1, 1
	call op_begin
	repeat_start
	mov esi, BUF_A
	mov edi, BUF_B
	mov ecx, LEN / 4
movsd_insn:
	rep movsd
	repeat_until
	call op_end
	check ecx, 0
	check esi, BUF_A + LEN
	check edi, BUF_B + LEN
	call check_markers

; ---------------------------------------------------------------- REPE CMPSB
; BUF_B is a copy of BUF_A; one byte differs 100 bytes before the end.
group "repe_cmpsb"
	xor byte [BUF_B + LEN - 100], 0xff
	describe cmps_insn, LEN, BUF_A, BUF_B, 1, 1, 1
	call op_begin
	repeat_start
	mov esi, BUF_A
	mov edi, BUF_B
	mov ecx, LEN
	cmp eax, eax				; ZF=1 going in
cmps_insn:
	repe cmpsb
	pushfd
	pop ebx
	repeat_until
	call op_end
	and ebx, F_ZF
	check ebx, 0				; stopped on the difference
	check ecx, 99
	check esi, BUF_A + LEN - 99
	check edi, BUF_B + LEN - 99

; ---------------------------------------------------------------- REPNE SCASB
; BUF_A holds 0xa5 bar the markers; 0x3c sits 5 bytes before the end.
group "repne_scasb"
	mov edi, BUF_A
	mov ecx, LEN
	mov eax, 0xa5
	rep stosb
	mov byte [BUF_A + LEN - 5], 0x3c
	describe scas_insn, LEN, 0, BUF_A, 1, 0, 1
	call op_begin
	repeat_start
	mov edi, BUF_A
	mov ecx, LEN
	mov eax, 0x3c
	test eax, eax				; ZF=0 going in
scas_insn:
	repne scasb
	pushfd
	pop ebx
	repeat_until
	call op_end
	and ebx, F_ZF
	check ebx, F_ZF				; found
	check ecx, 4
	check edi, BUF_A + LEN - 4

	cli
	mov al, 0xff
	out 0x21, al
	guest_finish

; op_begin: clears the handler's counters for the operation described.
op_begin:
	mov dword [mid], 0
	mov dword [bad_state], 0
	ret

; op_end: the interrupts taken inside the instruction: at least MIN_MID,
; each with consistent ECX/ESI/EDI. Prints the count.
op_end:
	pushad
	mov esi, s_mid
	call lib_puts
	mov eax, [mid]
	call lib_putdec
	call lib_newline
	popad
	push eax
	mov eax, [mid]
	cmp eax, MIN_MID
	jae .enough
	fail_now "fewer interrupts inside the REP instruction than expected"
.enough:
	check dword [bad_state], 0
	pop eax
	ret

; place_markers: BUF_A gets words the copy must move to the same offsets
; of BUF_B.
place_markers:
	mov dword [BUF_A], 0x11223344
	mov dword [BUF_A + LEN / 3], 0x55667788
	mov dword [BUF_A + 2 * LEN / 3 + 1], 0x99aabbcc
	mov dword [BUF_A + LEN - 4], 0xddeeff00
	ret

check_markers:
	push eax
	mov eax, [BUF_B]
	check eax, 0x11223344
	mov eax, [BUF_B + LEN / 3]
	check eax, 0x55667788
	mov eax, [BUF_B + 2 * LEN / 3 + 1]
	check eax, 0x99aabbcc
	mov eax, [BUF_B + LEN - 4]
	check eax, 0xddeeff00
	pop eax
	ret

; IRQ0. An interrupt whose saved EIP is the REP instruction came between
; two iterations: the elements done by ECX's count must match how far ESI
; and EDI moved.
tick_isr:
	inc dword [ticks]
	push eax
	mov eax, [esp + 4]			; saved EIP
	cmp eax, [op_eip]
	jne .done
	inc dword [mid]
	push ebx
	push edx
	mov ebx, [op_n]
	sub ebx, ecx				; elements done
	imul ebx, [op_step]			; bytes moved, signed
	cmp dword [op_uses_si], 0
	je .no_si
	mov edx, esi
	sub edx, [op_esi0]
	cmp edx, ebx
	je .no_si
	inc dword [bad_state]
.no_si:
	cmp dword [op_uses_di], 0
	je .no_di
	mov edx, edi
	sub edx, [op_edi0]
	cmp edx, ebx
	je .no_di
	inc dword [bad_state]
.no_di:
	cmp ecx, [op_n]				; 0 < ECX <= N between iterations
	ja .bad_count
	test ecx, ecx
	jnz .counted
.bad_count:
	inc dword [bad_state]
.counted:
	pop edx
	pop ebx
.done:
	mov al, 0x20
	out 0x20, al
	pop eax
	iretd

section .rodata
s_mid:	db "interrupts inside the instruction: ", 0

section .bss
alignb 4
ticks:		resd 1
mid:		resd 1
bad_state:	resd 1
op_eip:		resd 1
op_n:		resd 1
op_esi0:	resd 1
op_edi0:	resd 1
op_step:	resd 1
op_uses_si:	resd 1
op_uses_di:	resd 1
rep_start_pm:	resd 1
rep_runs:	resd 1
