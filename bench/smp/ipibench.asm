; The IPI and TLB shootdown round trips of bench/smp/run.py (issue 45):
; a Multiboot kernel on the test guests' library (tests/guests/lib.inc,
; paging.inc, smp.inc), run with two or more vCPUs (btvm --smp N, QEMU
; -smp N). The BSP pages with 4 KiB pages (the identity map of the low
; 16 MiB, the local APIC's page, one victim page at VICTIM), starts AP 1
; alone by INIT-SIPI-SIPI to its physical ID (the other APs stay waiting
; for a start-up IPI), and times two loops of `rounds=N` rounds each
; (from the command line; 20000 without):
;
;   ipi        the BSP sends AP 1 a fixed IPI; AP 1's handler sends one
;              back; the BSP spins (PAUSE, IF=1) until its own handler
;              has counted it: one round trip, as smp_call_function's
;              sender waits for its callee.
;   shootdown  the BSP points VICTIM's PTE at the other of two frames
;              (each holds its own value), INVLPGs it, sends AP 1 a
;              fixed IPI and spins until AP 1 acknowledges in memory;
;              AP 1's handler INVLPGs VICTIM, reads it and stores what it
;              read and the round's number: Linux's flush_tlb_others with
;              its wait. The value AP 1 read each round is checked, so a
;              stale translation on AP 1 fails the run.
;
; The host times each loop between its "begin" and "end" lines on COM1
; (the guest's own clock is not used: its TSC rate differs between btvm
; and QEMU). Both loops' counts are checked; then the usual PASS line and
; GUEST_PASS through isa-debug-exit. The AP idles in HLT with IF=1 between
; rounds, as an idle CPU waits for its next IPI.
%define GUEST_NAME "ipibench"
%include "lib.inc"
%include "paging.inc"
%include "smp.inc"

V_PING		equ 0x41		; BSP -> AP 1
V_PONG		equ 0x42		; AP 1 -> BSP
V_SHOOT		equ 0x43		; BSP -> AP 1: flush VICTIM
VICTIM		equ 0x40000000		; the page whose PTE the shootdown changes
FRAME_A		equ 0x00e00000		; VICTIM's two frames (in the identity map)
FRAME_B		equ 0x00e01000
VALUE_A		equ 0xa5a50000
VALUE_B		equ 0x5a5a0000
DEFAULT_ROUNDS	equ 20000
SPIN		equ 200000000		; PAUSE rounds a wait gives up after
AP_STACK_SIZE	equ 4096

; wait_for mem, reg: spin (PAUSE, IF as it is) until dword mem == reg;
; fatal after SPIN rounds (a lost IPI must not hang the benchmark).
%macro wait_for 2
	push ecx
	mov ecx, SPIN
%%again:
	cmp %1, %2
	je %%done
	pause
	dec ecx
	jnz %%again
	fatal "timed out waiting for the other vCPU"
%%done:
	pop ecx
%endmacro

; send dest, low: ICR_HI = dest << 24, ICR_LO = low, then until the
; delivery status reads idle. Preserves registers.
%macro send 2
	push eax
	mov dword [APIC_ICR_HI], (%1) << 24
	mov dword [APIC_ICR_LO], %2
%%busy:
	mov eax, [APIC_ICR_LO]
	test eax, ICR_BUSY
	jz %%idle
	pause
	jmp %%busy
%%idle:
	pop eax
%endmacro

guest_start
	call lib_pic_init
	call lib_install_idt
	gate V_PONG, pong_isr, 0x8e
	gate V_PING, ping_isr, 0x8e
	gate V_SHOOT, shoot_isr, 0x8e
	call parse_rounds

	; The address space both CPUs run in.
	mov dword [FRAME_A], VALUE_A
	mov dword [FRAME_B], VALUE_B
	call pg_alloc
	mov edi, eax
	mov [page_dir], eax
	xor esi, esi
	call pg_map_identity
	mov esi, APIC
	mov eax, APIC | PG_P | PG_RW | PG_PCD
	call pg_map
	mov esi, VICTIM
	mov eax, FRAME_A | PG_P | PG_RW
	call pg_map
	call pg_pte_addr
	mov [victim_pte], eax
	mov eax, edi
	call pg_enable

	mov dword [APIC_SVR], 0x1ff	; enabled, spurious 0xff
	smp_copy_trampoline

group "startup"
	sti
	send 1, ICR_ASSERT | ICR_LEVEL | DM_INIT
	send 1, ICR_ASSERT | DM_STARTUP | SIPI_VECTOR
	send 1, ICR_ASSERT | DM_STARTUP | SIPI_VECTOR	; ignored by a started AP
	mov eax, 1
	wait_for dword [ap_ready], eax
	check dword [ap_ready], 1
	mov esi, s_ready
	call lib_puts

group "ipi"
	mov esi, s_begin_ipi
	call begin_line
	xor ebx, ebx
.round:
	inc ebx
	send 1, ICR_ASSERT | V_PING
	wait_for dword [pongs], ebx
	cmp ebx, [rounds]
	jb .round
	mov esi, s_end_ipi
	call lib_puts
	mov eax, [rounds]
	check dword [pings], eax
	check dword [pongs], eax

group "shootdown"
	mov esi, s_begin_shoot
	call begin_line
	mov edx, [victim_pte]
	xor ebx, ebx
.shoot:
	inc ebx
	; Odd rounds map FRAME_B, even ones FRAME_A (round 0 left FRAME_A).
	mov eax, FRAME_A | PG_P | PG_RW
	mov ecx, VALUE_A
	test ebx, 1
	jz .even
	mov eax, FRAME_B | PG_P | PG_RW
	mov ecx, VALUE_B
.even:
	mov [edx], eax
	invlpg [VICTIM]
	cmp [VICTIM], ecx
	je .bsp_ok
	inc dword [bsp_stale]
.bsp_ok:
	mov [shoot_req], ebx
	send 1, ICR_ASSERT | V_SHOOT
	wait_for dword [shoot_ack], ebx
	cmp [ap_seen], ecx
	je .ap_ok
	inc dword [ap_stale]
.ap_ok:
	cmp ebx, [rounds]
	jb .shoot
	mov esi, s_end_shoot
	call lib_puts
	check dword [shoot_ack], ebx
	check dword [bsp_stale], 0
	check dword [ap_stale], 0
	guest_finish

; begin_line: ESI's text, then the round count and a newline.
begin_line:
	call lib_puts
	mov eax, [rounds]
	call lib_putdec
	call lib_newline
	ret

; parse_rounds: [rounds] = the number after "rounds=" on the Multiboot
; command line, DEFAULT_ROUNDS when there is none or it is 0.
parse_rounds:
	pushad
	mov dword [rounds], DEFAULT_ROUNDS
	mov edi, [lib_entry_ebx]
	test dword [edi], 1 << 2	; the command line field is valid
	jz .done
	mov edi, [edi + 16]
.scan:
	xor ecx, ecx
.compare:
	mov bl, [s_rounds_key + ecx]
	test bl, bl
	jz .found
	cmp bl, [edi + ecx]		; the line's NUL ends any match
	jne .next
	inc ecx
	jmp .compare
.next:
	cmp byte [edi], 0
	je .done
	inc edi
	jmp .scan
.found:
	add edi, ecx
	xor eax, eax
.digit:
	movzx edx, byte [edi]
	sub edx, '0'
	cmp edx, 9
	ja .end
	imul eax, 10
	add eax, edx
	inc edi
	jmp .digit
.end:
	test eax, eax
	jz .done
	mov [rounds], eax
.done:
	popad
	ret

; ---------------------------------------------------------------- AP 1

ap_main:
	mov esp, ap_stack + AP_STACK_SIZE
	lidt [lib_idtr]
	mov eax, [page_dir]
	call pg_enable
	mov dword [APIC_SVR], 0x1ff
	mov dword [ap_ready], 1
	sti
.idle:
	hlt
	jmp .idle

ping_isr:
	push eax
	inc dword [pings]
	mov dword [APIC_EOI], 0
	send 0, ICR_ASSERT | V_PONG
	pop eax
	iret

shoot_isr:
	push eax
	invlpg [VICTIM]
	mov eax, [VICTIM]
	mov [ap_seen], eax
	mov dword [APIC_EOI], 0
	mov eax, [shoot_req]
	mov [shoot_ack], eax		; last: the BSP reads ap_seen after it
	pop eax
	iret

; ---------------------------------------------------------------- BSP

pong_isr:
	inc dword [pongs]
	mov dword [APIC_EOI], 0
	iret

	smp_trampoline

section .rodata
s_rounds_key:	db "rounds=", 0
s_ready:	db "ipibench ready", 10, 0
s_begin_ipi:	db "ipibench begin ipi rounds ", 0
s_end_ipi:	db "ipibench end ipi", 10, 0
s_begin_shoot:	db "ipibench begin shootdown rounds ", 0
s_end_shoot:	db "ipibench end shootdown", 10, 0

section .data
align 4
rounds:		dd 0
page_dir:	dd 0
victim_pte:	dd 0
ap_ready:	dd 0
pings:		dd 0
pongs:		dd 0
shoot_req:	dd 0
shoot_ack:	dd 0
ap_seen:	dd 0
bsp_stale:	dd 0
ap_stale:	dd 0

section .bss
alignb 16
ap_stack:	resb AP_STACK_SIZE
