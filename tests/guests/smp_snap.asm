; Several CPUs across a snapshot (run with --smp 4; test_snapshot --smp
; saves and restores it in the middle). The BSP starts APs 1 and 2 by
; INIT and a start-up IPI to each one's physical ID; AP 3 gets the INIT
; only and goes on waiting for a start-up IPI. AP 1 counts for ever, AP 2
; counts to HALT_AT and halts with IF=1. Each counts in EBX and stores it,
; and checks each time that memory holds what EBX held before: a count
; that went on from anything but its own registers is an error. With
; "mid-stop" on the command line the BSP stops there through isa-debug-exit
; (status 0x45), where test_snapshot saves the machine, restores it into
; a new one, and runs it on; without, it runs on at once.
; After the stop: AP 1's count goes on; AP 2 stays halted (its count does
; not move while AP 1 counts on) until a fixed IPI wakes it, then it
; counts on; AP 3 starts at the start-up IPI sent now, and counts.
; And every AP's TSC agrees with the BSP's: in a handshake each way
; (the BSP's TSC, then the AP's, then the BSP's again, each passed
; through memory) no TSC read later is lower than one read earlier, and
; none after the stop is lower than the BSP's before it.
%define GUEST_NAME "smp_snap"
%include "lib.inc"
%include "smp.inc"

V_WAKE		equ 0x45		; BSP -> AP 2: the end of its HLT
HALT_AT		equ 500			; AP 2 halts at this count
RUN_ON		equ 2000		; counts AP 1 makes while AP 2 should sleep
STACK_SIZE	equ 4096
SPIN		equ 50000000		; rounds a wait gives up after
ISA_DEBUG_EXIT	equ 0xf4
ISA_DEBUG_EXIT_STOP equ 0x22		; exit status 0x45: test_snapshot's stop

; wait_ge mem, value: spin (PAUSE) until dword mem >= value (unsigned)
; or SPIN rounds went by. Preserves registers.
%macro wait_ge 2
	push ecx
	push eax
	mov ecx, SPIN
%%again:
	mov eax, %2
	cmp dword %1, eax
	jae %%done
	pause
	dec ecx
	jnz %%again
%%done:
	pop eax
	pop ecx
%endmacro

; send dest, low: ICR_HI = dest << 24, ICR_LO = low (delivery is at once
; under btvm; the tests here wait for its effect anyway).
%macro send 2
	mov dword [APIC_ICR_HI], (%1) << 24
	mov dword [APIC_ICR_LO], %2
%endmacro

guest_start
	call lib_pic_init
	call lib_install_idt
	gate V_WAKE, wake_isr, 0x8e
	mov dword [APIC_SVR], 0x1ff	; enabled, spurious 0xff

	smp_copy_trampoline

group "before"
	send 0, SH_OTHERS | ICR_ASSERT | ICR_LEVEL | DM_INIT
	send 1, ICR_ASSERT | DM_STARTUP | SIPI_VECTOR
	send 2, ICR_ASSERT | DM_STARTUP | SIPI_VECTOR
	wait_ge [halting], 1
	check dword [halting], 1
	wait_ge [count + 4], 1000
	; Long enough for AP 2 to be in its HLT: AP 1 counts on meanwhile.
	mov eax, [count + 4]
	add eax, RUN_ON
	wait_ge [count + 4], eax
	check dword [count + 8], HALT_AT
	check dword [count + 12], 0
	check dword [errors], 0
	mov ebx, 1
	call tsc_handshake
	check eax, 1
	rdtsc
	mov [before_tsc], eax
	mov [before_tsc + 4], edx

	mov esi, s_cmd_snap
	call lib_cmdline_has
	test eax, eax
	jz .no_stop
	mov al, ISA_DEBUG_EXIT_STOP
	out ISA_DEBUG_EXIT, al
.no_stop:

group "after"
	; No TSC lower than the BSP's before the stop.
	rdtsc
	sub eax, [before_tsc]
	sbb edx, [before_tsc + 4]
	shr edx, 31
	check edx, 0
	; AP 1 counts on from where it was.
	mov eax, [count + 4]
	add eax, RUN_ON
	wait_ge [count + 4], eax
	check dword [count + 8], HALT_AT	; AP 2 still halted
	check dword [count + 12], 0		; AP 3 still waiting
	mov ebx, 1
	call tsc_handshake
	check eax, 1
	; AP 2 woken, counting on.
	send 2, ICR_ASSERT | V_WAKE
	wait_ge [count + 8], HALT_AT + 1000
	check dword [woken], 1
	mov ebx, 2
	call tsc_handshake
	check eax, 1
	; AP 3 started now.
	send 3, ICR_ASSERT | DM_STARTUP | SIPI_VECTOR
	wait_ge [count + 12], 1000
	xor eax, eax
	cmp dword [count + 12], 1000
	setae al
	check eax, 1
	mov ebx, 3
	call tsc_handshake
	check eax, 1
	check dword [errors], 0
	guest_finish

; tsc_handshake: with AP EBX (counting): the BSP's TSC to it, its own
; back, then the BSP's again; EAX = 1 when the AP saw no lower TSC than
; the BSP's and the BSP then none lower than the AP's, else 0.
tsc_handshake:
	rdtsc
	mov [mail], eax
	mov [mail + 4], edx
	mov dword [ask + ebx * 4], 1
	wait_ge [ask + ebx * 4], 2
	cmp dword [ask + ebx * 4], 2
	jne .bad
	rdtsc
	sub eax, [mail]
	sbb edx, [mail + 4]
	jb .bad
	cmp dword [mail_ok], 1
	jne .bad
	mov dword [ask + ebx * 4], 0
	mov eax, 1
	ret
.bad:
	xor eax, eax
	ret

wake_isr:
	lock inc dword [woken]
	mov dword [APIC_EOI], 0
	iretd

; ---------------------------------------------------------------- the APs
; Copied to TRAMPOLINE (smp.inc): real mode, CS = SIPI_VECTOR << 8, IP 0.
smp_trampoline

ap_main:
	mov edi, [APIC_ID]
	shr edi, 24
	and edi, 3			; the APIC ID: a stack and a count of its own
	mov eax, edi
	inc eax
	imul eax, STACK_SIZE
	lea esp, [ap_stacks + eax]
	lidt [lib_idtr]
	mov dword [APIC_SVR], 0x1ff
	xor ebx, ebx
.count:
	lea eax, [ebx + 1]
	cmp ebx, [count + edi * 4]
	je .same
	lock inc dword [errors]
.same:
	mov ebx, eax
	mov [count + edi * 4], ebx
	cmp dword [ask + edi * 4], 1
	jne .no_ask
	call answer
.no_ask:
	cmp edi, 2
	jne .count
	cmp ebx, HALT_AT
	jne .count
	mov dword [halting], 1
	sti
	hlt
	cli
	jmp .count

; The AP's side of tsc_handshake: its TSC no lower than the BSP's in
; mail, then its own there for the BSP.
answer:
	rdtsc
	mov ecx, eax
	mov esi, edx
	sub eax, [mail]
	sbb edx, [mail + 4]
	setae al
	movzx eax, al
	mov [mail_ok], eax
	mov [mail], ecx
	mov [mail + 4], esi
	mov dword [ask + edi * 4], 2
	ret

section .rodata
s_cmd_snap:	db "mid-stop", 0

; A page of their own: the APs' stores never land on a page of code,
; whose translations each store would drop (self-modifying code).
section .data
align 4096, db 0
mail:		dq 0			; a TSC passed in a handshake
before_tsc:	dq 0
mail_ok:	dd 0
ask:		times 4 dd 0		; by APIC ID: 1 BSP asks, 2 AP answered
count:		times 4 dd 0		; by APIC ID
halting:	dd 0
woken:		dd 0
errors:		dd 0

section .bss
alignb 16
ap_stacks:	resb STACK_SIZE * 5
