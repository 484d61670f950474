; The instructions btvm translates inline at CPL 0, run by the same code at
; CPL 1, where the processor checks them against CPL and IOPL. Blocks at
; CPL 1 and 2 have the translation mode of CPL 0's (only CPL 3 has a mode
; bit), so code first run at CPL 0 must not keep its inline forms at CPL 1.
; Each group calls one subroutine REPS times at CPL 0, then REPS times at
; CPL 1 (entered by IRETD, left by rings.inc's exit gate):
;  cli_sti  CLI and STI: at CPL 1 with IOPL 0 each raises #GP(0); with
;           IOPL 1 they set and clear IF
;  popf     POPFD of IF=1 (and of IF=1, IOPL=3) at CPL 1 with IOPL 0: the
;           arithmetic flags change, IF and IOPL do not
;  rdtsc    CR4.TSD set: RDTSC at CPL 0 runs, at CPL 1 raises #GP(0)
;  verw     VERW of SEL_DATA (DPL 0): ZF=1 at CPL 0, ZF=0 at CPL 1; of a
;           DPL 1 data selector: ZF=1 at CPL 1
;  mov_cr   MOV EAX, CR2 / EDX, CR0 / EBX, CR4 read what was written (CR2,
;           CR4.TSD) at CPL 0; at CPL 1 each raises #GP(0) and writes
;           nothing
;  io       IN and OUT at CPL 1: #GP(0) with IOPL 0 and the port denied in
;           the TSS's bitmap; allowed with IOPL 1, or by the bitmap
;  privileged  HLT at CPL 1 with IOPL 3: #GP(0)
;  gate_r1  a call gate from ring 3 to ring 1: the stack from SS1:ESP1 of
;           the TSS, the parameter copied, RETF 4 back
; The exception handlers count and step over the faulting instruction.
%define GUEST_NAME "ring1"
%include "lib.inc"
%include "rings.inc"
%include "ring1.inc"

REPS	equ 40
IOPL1	equ 0x1000
IOPL3	equ 0x3000
CR4_TSD	equ 0x4
IO_PORT	equ 0x3ff				; COM1's scratch register
SEL_GATE_R1 equ 0x70			; call gate from ring 3 to ring 1
SEL_GATE_R1_RPL3 equ SEL_GATE_R1 | 3

guest_start
	call lib_load_gdt
	call lib_install_idt			; a stray exception is reported
	call lib_pic_init			; STI lets nothing in
	call rings_setup
	call ring1_setup
	gate 13, gp_handler, 0x8E

group "cli_sti"
	mov dword [gp_count], 0
	mov ecx, REPS
cli_sti_warm:
	call do_sti
	call do_cli
	loop cli_sti_warm
	check dword [gp_count], 0
	mov dword [skip_bytes], 1
	mov eax, r1_cli_sti
	xor ecx, ecx				; IOPL 0
	call ring1_run
	check dword [gp_count], 2 * REPS
	check dword [gp_error], 0
	mov dword [gp_count], 0
	mov eax, r1_cli_sti_counted
	mov ecx, IOPL1
	call ring1_run
	check dword [gp_count], 0
	check esi, REPS				; IF seen set after STI
	check edi, REPS				; IF seen clear after CLI

group "popf"
	mov ecx, REPS
popf_warm:
	mov eax, F_IF | F_CF | 2
	call do_popf
	mov ebx, eax
	mov eax, 2
	call do_popf
	loop popf_warm
	and ebx, F_IF | F_CF | IOPL3
	check ebx, F_IF | F_CF
	and eax, F_IF | F_CF
	check eax, 0
	mov dword [gp_count], 0
	mov eax, r1_popf
	xor ecx, ecx				; IOPL 0, IF 0
	call ring1_run
	check dword [gp_count], 0
	check esi, F_CF				; OR of the results: CF set, IF and IOPL never
	check edi, REPS				; results with CF

group "rdtsc"
	mov eax, cr4
	or eax, CR4_TSD
	mov cr4, eax
	mov dword [gp_count], 0
	mov ecx, REPS
rdtsc_warm:
	call do_rdtsc
	loop rdtsc_warm
	check dword [gp_count], 0
	mov dword [skip_bytes], 2
	mov eax, r1_rdtsc
	xor ecx, ecx
	call ring1_run
	check dword [gp_count], REPS
	check dword [gp_error], 0
	mov eax, cr4
	and eax, ~CR4_TSD
	mov cr4, eax

group "verw"
	xor esi, esi
	mov ecx, REPS
verw_warm:
	mov eax, SEL_DATA
	call do_verw
	add esi, eax
	loop verw_warm
	check esi, REPS
	mov dword [gp_count], 0
	mov eax, r1_verw
	xor ecx, ecx
	call ring1_run
	check dword [gp_count], 0
	check esi, 0				; SEL_DATA: DPL 0 < CPL 1
	check edi, REPS				; RING_SEL_R1DATA: DPL 1

group "mov_cr"
	mov eax, cr4
	or eax, CR4_TSD
	mov cr4, eax
	mov ecx, REPS
	xor esi, esi
mov_cr_warm:
	mov eax, 0x12345000
	add eax, ecx
	mov cr2, eax
	call do_mov_cr
	sub eax, ecx
	xor eax, 0x12345000			; zero when CR2 read back right
	or esi, eax
	and edx, 1				; CR0.PE
	xor edx, 1
	or esi, edx
	and ebx, CR4_TSD
	xor ebx, CR4_TSD
	or esi, ebx
	loop mov_cr_warm
	check esi, 0
	mov dword [gp_count], 0
	mov dword [skip_bytes], 3
	mov eax, r1_mov_cr
	xor ecx, ecx
	call ring1_run
	check dword [gp_count], 3 * REPS
	check dword [gp_error], 0
	check esi, 0				; nothing written by the reads
	mov eax, cr4
	and eax, ~CR4_TSD
	mov cr4, eax

group "io"
	mov ecx, REPS
	mov edx, IO_PORT
io_warm:
	call do_io
	loop io_warm
	mov dword [gp_count], 0
	mov dword [skip_bytes], 1
	mov eax, r1_io
	xor ecx, ecx				; IOPL 0, the port denied
	call ring1_run
	check dword [gp_count], 2 * REPS
	check dword [gp_error], 0
	mov dword [gp_count], 0
	mov eax, r1_io
	mov ecx, IOPL1				; IOPL 1: no bitmap
	call ring1_run
	check dword [gp_count], 0
	mov edx, IO_PORT
	call rings_io_allow
	mov eax, r1_io
	xor ecx, ecx				; IOPL 0, the port allowed
	call ring1_run
	check dword [gp_count], 0
	mov edx, IO_PORT
	call rings_io_deny

group "privileged"
	mov dword [gp_count], 0
	mov dword [skip_bytes], 1
	mov eax, r1_hlt
	mov ecx, IOPL3				; IOPL does not help
	call ring1_run
	check dword [gp_count], REPS
	check dword [gp_error], 0

group "gate_r1"
	mov dword [rings_tss + 0x0c], ring1_gate_stack_top	; ESP1
	mov dword [rings_tss + 0x10], RING_SEL_R1DATA		; SS1
	mov eax, SEL_GATE_R1
	mov edx, r1_gate_target
	and edx, 0xffff
	or edx, (RING_SEL_R1CODE & ~3) << 16
	mov [lib_gdt + eax], edx
	mov edx, r1_gate_target
	and edx, 0xffff0000
	or edx, 0xec01				; 32-bit call gate, DPL 3, one parameter
	mov [lib_gdt + eax + 4], edx
	mov eax, r3_gate_r1
	xor ecx, ecx
	call rings_run_user
	check dword [g_esp], ring1_gate_stack_top - 20
	check dword [g_cs], RING_SEL_R1CODE
	check dword [g_ss], RING_SEL_R1DATA
	check dword [g_param], 0x7777
	check dword [g_ret_cs], RING_SEL_UCODE
	check dword [g_esp_diff], 0		; RETF 4 dropped the parameter

	guest_finish


; The subroutines both rings call.
do_cli:
	cli
	ret

do_sti:
	sti
	ret

; do_popf: EFLAGS = EAX through POPFD; EAX = EFLAGS after.
do_popf:
	push eax
	popfd
	pushfd
	pop eax
	ret

do_rdtsc:
	rdtsc
	ret

; do_mov_cr: EAX = CR2, EDX = CR0, EBX = CR4 (three 3-byte instructions).
do_mov_cr:
	mov eax, cr2
	mov edx, cr0
	mov ebx, cr4
	ret

; do_verw: EAX = 1 if VERW of selector AX sets ZF, else 0.
do_verw:
	verw ax
	setz al
	movzx eax, al
	ret

; The ring-1 sides. IRETD to an outer ring left DS and ES null.
%macro ring1_data 0
	mov dx, RING_SEL_R1DATA
	mov ds, dx
	mov es, dx
%endmacro

r1_cli_sti:
	ring1_data
	mov ecx, REPS
.next:	call do_cli				; #GP, stepped over
	call do_sti				; #GP, stepped over
	loop .next
	leave_user

; ESI = how often IF was set after STI, EDI = how often clear after CLI.
r1_cli_sti_counted:
	ring1_data
	xor esi, esi
	xor edi, edi
	mov ecx, REPS
.next:	call do_sti
	pushfd
	pop eax
	test eax, F_IF
	jz .cli
	inc esi
.cli:	call do_cli
	pushfd
	pop eax
	test eax, F_IF
	jnz .again
	inc edi
.again:	loop .next
	leave_user

; ESI = the OR of every POPFD's result, EDI = how many had CF.
r1_popf:
	ring1_data
	xor esi, esi
	xor edi, edi
	mov ecx, REPS
.next:	mov eax, F_IF | F_CF | 2
	test ecx, 1
	jz .go
	or eax, IOPL3
.go:	call do_popf
	or esi, eax
	test eax, F_CF
	jz .again
	inc edi
.again:	mov eax, 2				; CF clear again between rounds
	call do_popf
	loop .next
	and esi, F_IF | F_CF | IOPL3
	leave_user

r1_rdtsc:
	ring1_data
	mov ecx, REPS
.next:	call do_rdtsc				; #GP, stepped over
	loop .next
	leave_user

; ESI = the OR of what the reads left in EAX, EDX and EBX (zero before).
r1_mov_cr:
	ring1_data
	xor esi, esi
	mov ecx, REPS
.next:	xor eax, eax
	xor edx, edx
	xor ebx, ebx
	call do_mov_cr				; three #GP, stepped over
	or esi, eax
	or esi, edx
	or esi, ebx
	loop .next
	leave_user

; ESI = VERW hits for SEL_DATA, EDI = for RING_SEL_R1DATA.
r1_verw:
	ring1_data
	xor esi, esi
	xor edi, edi
	mov ecx, REPS
.next:	mov eax, SEL_DATA
	call do_verw
	add esi, eax
	mov eax, RING_SEL_R1DATA
	call do_verw
	add edi, eax
	loop .next
	leave_user

; IN and OUT of the COM1 scratch register (one byte each).
do_io:
	in al, dx
	out dx, al
	ret

r1_io:
	ring1_data
	mov edx, IO_PORT
	mov ecx, REPS
.next:	call do_io				; two #GP where denied, stepped over
	loop .next
	leave_user

r1_hlt:
	ring1_data
	mov ecx, REPS
.next:	hlt					; #GP, stepped over
	loop .next
	leave_user

; Ring 3 calls ring 1 through a gate: the stack from SS1:ESP1.
r3_gate_r1:
	mov ebx, esp
	push dword 0x7777
	call SEL_GATE_R1_RPL3:0
	sub ebx, esp
	mov [g_esp_diff], ebx
	leave_user

r1_gate_target:
	mov [ss:g_esp], esp
	mov ax, cs
	movzx eax, ax
	mov [ss:g_cs], eax
	mov ax, ss
	movzx eax, ax
	mov [ss:g_ss], eax
	mov eax, [esp + 8]
	mov [ss:g_param], eax
	mov eax, [esp + 4]
	mov [ss:g_ret_cs], eax
	retf 4

; #GP: count it, keep the error code, step over skip_bytes.
gp_handler:
	inc dword [ss:gp_count]
	pop dword [ss:gp_error]
	push eax
	mov eax, [ss:skip_bytes]
	add [ss:esp + 4], eax
	pop eax
	iretd

section .bss
g_esp:		resd 1
g_cs:		resd 1
g_ss:		resd 1
g_param:	resd 1
g_ret_cs:	resd 1
g_esp_diff:	resd 1
alignb 16
		resb 512
ring1_gate_stack_top:
gp_count:	resd 1
gp_error:	resd 1
skip_bytes:	resd 1
