; Several CPUs (run with --smp 4, and under QEMU with -smp 4): the BSP
; starts the three APs by INIT-SIPI-SIPI (the all-but-self shorthand)
; with a real-mode trampoline at 0x70000 (start-up vector 0x70); each AP
; switches to protected mode, takes a stack by LOCK XADD on a ticket,
; loads the shared IDT, enables its local APIC, reads its APIC ID (and
; CPUID leaf 1 and 0xB's topology), sets its logical ID (flat model, bit = APIC
; ID), counts itself in with LOCK XADD and sends a fixed IPI back to the
; BSP, then halts with IF=1. The BSP checks all three arrived with
; distinct IDs 1-3 (a fixed IPI from each), then sends each AP a fixed IPI and an NMI by its
; physical ID, a fixed IPI to logical destination 0x0a (APs 1 and 3
; only), one to all but itself and one to itself, and checks each
; handler ran where it should, exactly once, with the ICR's
; delivery-status bit idle after each send. Last, all four add to a
; counter under a spinlock (LOCK BTS and PAUSE) and the total is exact.
; Between the two, CR4.OSFXSR set on the BSP alone: an SSE instruction is
; #UD on an AP and runs on the BSP.
%define GUEST_NAME "smp"
%include "lib.inc"
%include "smp.inc"

APS		equ 3
V_ARRIVED	equ 0x50		; + APIC ID: AP -> BSP (one vector each: the
					; same vector twice before the BSP takes
					; it would be one request in IRR)
V_FIXED		equ 0x41		; BSP -> one AP
V_OTHERS	equ 0x42		; all but self, then self
V_LOGICAL	equ 0x43		; logical destination 0x0a
V_SPIN		equ 0x44		; all but self: the spinlock round
V_SSE		equ 0x45		; BSP -> AP 1: run sse_probe
SPIN_ROUNDS	equ 2000		; increments each CPU makes under the lock
STACK_SIZE	equ 4096
SPIN		equ 50000000		; rounds a wait gives up after

; wait_eq mem, value: spin (PAUSE, IF as it is) until dword mem == value
; or SPIN rounds went by. Preserves registers.
%macro wait_eq 2
	push ecx
	mov ecx, SPIN
%%again:
	cmp dword %1, %2
	je %%done
	pause
	dec ecx
	jnz %%again
%%done:
	pop ecx
%endmacro

; send dest, low: ICR_HI = dest << 24, ICR_LO = low; then the
; delivery-status bit must read idle (it may be busy briefly on hardware:
; waited for, as an OS does). Preserves registers.
%macro send 2
	push eax
	mov dword [APIC_ICR_HI], (%1) << 24
	mov dword [APIC_ICR_LO], %2
	call wait_idle
	pop eax
%endmacro

guest_start
	call lib_pic_init
	call lib_install_idt
	gate 2, nmi_isr, 0x8e
	gate V_ARRIVED + 1, arrived_isr1, 0x8e
	gate V_ARRIVED + 2, arrived_isr2, 0x8e
	gate V_ARRIVED + 3, arrived_isr3, 0x8e
	gate V_FIXED, fixed_isr, 0x8e
	gate V_OTHERS, others_isr, 0x8e
	gate V_LOGICAL, logical_isr, 0x8e
	gate V_SPIN, spin_isr, 0x8e
	gate V_SSE, sse_isr, 0x8e
	mov dword [APIC_SVR], 0x1ff	; enabled, spurious 0xff
	mov dword [APIC_LDR], 1 << 24	; logical ID: bit 0, as the APs use their ID's bit

	; The trampoline below 1 MiB, where a start-up vector can point.
	smp_copy_trampoline

group "startup"
	mov eax, [APIC_ID]
	shr eax, 24
	check eax, 0
	sti
	send 0, SH_OTHERS | ICR_ASSERT | ICR_LEVEL | DM_INIT
	send 0, SH_OTHERS | ICR_LEVEL | DM_INIT	; de-assert: no effect
	send 0, SH_OTHERS | ICR_ASSERT | DM_STARTUP | SIPI_VECTOR
	send 0, SH_OTHERS | ICR_ASSERT | DM_STARTUP | SIPI_VECTOR	; ignored by the started
	wait_eq [arrived], APS
	check dword [arrived], APS
	wait_eq [arrived_ipis], 0xe
	check dword [arrived_ipis], 0xe	; one from each of APIC IDs 1-3
	check dword [ap_next], APS	; each took one ticket
	; Distinct IDs 1-3: their bits together make 0b1110.
	xor edx, edx
	xor ebx, ebx
.ids:
	mov ecx, [ap_ids + ebx * 4]
	cmp ecx, 8
	jae .bad_id
	bts edx, ecx
.bad_id:
	inc ebx
	cmp ebx, APS
	jb .ids
	check edx, 0xe
	; CPUID leaf 1 EBX[31:24] is each AP's APIC ID.
	xor ebx, ebx
	xor edx, edx
.cpuid_ids:
	mov ecx, [ap_cpuid_ids + ebx * 4]
	cmp ecx, [ap_ids + ebx * 4]
	jne .cpuid_bad
	inc edx
.cpuid_bad:
	inc ebx
	cmp ebx, APS
	jb .cpuid_ids
	check edx, APS
	check dword [bsp_fixed], 0

group "topology"
	; One package of four cores of a thread each: CPUID leaf 1's span of
	; APIC IDs and HTT, leaf 0xB's SMT level (one thread, no ID bits)
	; and core level (four cores over two ID bits, EDX the x2APIC ID),
	; the BSP's and each AP's.
	mov eax, 1
	cpuid
	shr ebx, 16
	and ebx, 0xff
	check ebx, 4
	shr edx, 28
	and edx, 1
	check edx, 1
	mov eax, 0xb
	xor ecx, ecx
	cpuid
	and eax, 0x1f
	check eax, 0
	and ebx, 0xffff
	check ebx, 1
	and ecx, 0xff00
	check ecx, 0x100
	check edx, 0
	mov eax, 0xb
	mov ecx, 1
	cpuid
	and eax, 0x1f
	check eax, 2
	and ebx, 0xffff
	check ebx, 4
	and ecx, 0xff00
	check ecx, 0x200
	check edx, 0
	xor esi, esi
	xor edi, edi
.ap_topology:
	xor edx, edx
	cmp dword [ap_span + esi * 4], 4
	sete dl
	add edi, edx
	cmp dword [ap_htt + esi * 4], 1
	sete dl
	add edi, edx
	mov eax, [ap_b1_eax + esi * 4]
	and eax, 0x1f
	cmp eax, 2
	sete dl
	add edi, edx
	mov eax, [ap_b1_ebx + esi * 4]
	and eax, 0xffff
	cmp eax, 4
	sete dl
	add edi, edx
	mov eax, [ap_b1_edx + esi * 4]
	cmp eax, [ap_ids + esi * 4]
	sete dl
	add edi, edx
	inc esi
	cmp esi, APS
	jb .ap_topology
	check edi, 5 * APS	; every AP's five fields right

group "fixed"
	send 1, ICR_ASSERT | V_FIXED
	wait_eq [fixed_count + 4], 1
	send 2, ICR_ASSERT | V_FIXED
	wait_eq [fixed_count + 8], 1
	send 3, ICR_ASSERT | V_FIXED
	wait_eq [fixed_count + 12], 1
	check dword [fixed_count + 4], 1
	check dword [fixed_count + 8], 1
	check dword [fixed_count + 12], 1
	check dword [fixed_count], 0

group "nmi"
	send 1, ICR_ASSERT | DM_NMI
	wait_eq [nmi_count + 4], 1
	send 2, ICR_ASSERT | DM_NMI
	wait_eq [nmi_count + 8], 1
	send 3, ICR_ASSERT | DM_NMI
	wait_eq [nmi_count + 12], 1
	check dword [nmi_count + 4], 1
	check dword [nmi_count + 8], 1
	check dword [nmi_count + 12], 1
	check dword [nmi_count], 0

group "logical"
	; Flat model: logical destination 0x0a is the APs with IDs 1 and 3.
	send 0x0a, ICR_ASSERT | ICR_LOGICAL | V_LOGICAL
	wait_eq [logical_count + 4], 1
	wait_eq [logical_count + 12], 1
	check dword [logical_count + 4], 1
	check dword [logical_count + 12], 1
	check dword [logical_count + 8], 0
	check dword [logical_count], 0

group "all_but_self"
	send 0, SH_OTHERS | ICR_ASSERT | V_OTHERS
	wait_eq [others_count + 4], 1
	wait_eq [others_count + 8], 1
	wait_eq [others_count + 12], 1
	check dword [others_count + 4], 1
	check dword [others_count + 8], 1
	check dword [others_count + 12], 1
	check dword [others_count], 0
	; Self: the BSP alone.
	send 0, SH_SELF | ICR_ASSERT | V_OTHERS
	wait_eq [others_count], 1
	check dword [others_count], 1
	check dword [others_count + 4], 1
	check dword [others_count + 8], 1
	check dword [others_count + 12], 1

group "osfxsr"
	; CR4.OSFXSR is each CPU's own: set on the BSP alone, an SSE
	; instruction is #UD on AP 1, then runs on the BSP, then is #UD on
	; AP 1 again (the setting is in the translation's key: neither CPU
	; may run the other's translation).
	gate 6, ud_isr, 0x8e
	mov eax, cr4
	or eax, 1 << 9
	mov cr4, eax
	xorps xmm0, xmm0
	send 1, ICR_ASSERT | V_SSE
	wait_eq [sse_done], 1
	check dword [sse_done], 1
	check dword [ud_count], 1
	check dword [ud_eip], sse_probe
	check dword [ud_cpu], 1
	mov dword [sse_mem], -1
	call sse_probe
	check dword [ud_count], 1		; none on the BSP
	check dword [sse_mem], 0		; its store done
	; And the other way: the BSP's translation (OSFXSR set) must not
	; serve AP 1, whose OSFXSR is still clear: #UD there again.
	send 1, ICR_ASSERT | V_SSE
	wait_eq [sse_done], 2
	check dword [sse_done], 2
	check dword [ud_count], 2
	check dword [ud_cpu], 1

group "spinlock"
	; Every CPU adds 1 SPIN_ROUNDS times to a counter under a spinlock
	; (LOCK BTS, PAUSE while taken), with a plain load and store inside:
	; the total is exact only if the lock excludes. The lock's holder
	; takes it again right after releasing it, so a waiter must get its
	; turn while it is free (PAUSE passes the turn).
	send 0, SH_OTHERS | ICR_ASSERT | V_SPIN
	call spin_rounds
	wait_eq [spin_done], APS
	check dword [spin_done], APS
	check dword [spin_total], (APS + 1) * SPIN_ROUNDS
	check dword [spin_lock], 0
	cli
guest_finish

; spin_rounds: SPIN_ROUNDS increments of spin_total under spin_lock.
; Preserves registers but EAX and ECX.
spin_rounds:
	mov ecx, SPIN_ROUNDS
.round:
	lock bts dword [spin_lock], 0
	jnc .held
	pause
	jmp .round
.held:
	mov eax, [spin_total]
	inc eax
	mov [spin_total], eax
	mov dword [spin_lock], 0
	dec ecx
	jnz .round
	ret

; sse_probe: one SSE instruction (a store, which the monitor cannot run
; for the BSP: it must translate it anew), skipped by ud_isr.
sse_probe:
	movd [sse_mem], xmm0
sse_probe_end:
	ret

ud_isr:
	push eax
	mov eax, [esp + 4]
	mov [ud_eip], eax
	call apic_id
	mov [ud_cpu], eax
	pop eax
	lock inc dword [ud_count]
	add dword [esp], sse_probe_end - sse_probe
	iretd

sse_isr:
	call sse_probe
	lock inc dword [sse_done]
	mov dword [APIC_EOI], 0
	iretd

spin_isr:
	push eax
	push ecx
	call spin_rounds
	lock inc dword [spin_done]
	mov dword [APIC_EOI], 0
	pop ecx
	pop eax
	iretd

; wait_idle: until ICR's delivery status reads idle (SPIN rounds at most),
; then checks it. Preserves registers but EAX.
wait_idle:
	push ecx
	mov ecx, SPIN
.again:
	mov eax, [APIC_ICR_LO]
	test eax, ICR_BUSY
	jz .idle
	pause
	dec ecx
	jnz .again
.idle:
	pop ecx
	and eax, ICR_BUSY
	check eax, 0
	ret

; The caller's APIC ID in EAX.
apic_id:
	mov eax, [APIC_ID]
	shr eax, 24
	and eax, 7
	ret

; count_isr counts: lock inc counts[APIC ID], EOI (no EOI for NMI).
%macro count_isr 2
	push eax
	call apic_id
	lock inc dword [%1 + eax * 4]
%if %2
	mov dword [APIC_EOI], 0
%endif
	pop eax
	iretd
%endmacro

%macro arrived_isr 1
arrived_isr%1:
	lock or dword [arrived_ipis], 1 << %1
	mov dword [APIC_EOI], 0
	iretd
%endmacro
	arrived_isr 1
	arrived_isr 2
	arrived_isr 3
fixed_isr:
	count_isr fixed_count, 1
nmi_isr:
	count_isr nmi_count, 0
others_isr:
	count_isr others_count, 1
logical_isr:
	count_isr logical_count, 1

; ---------------------------------------------------------------- the APs
; Copied to TRAMPOLINE (smp.inc): real mode, CS = SIPI_VECTOR << 8, IP 0.
smp_trampoline

ap_main:
	; A stack of its own: ticket t (LOCK XADD) takes stack t.
	mov eax, 1
	lock xadd [ap_next], eax
	mov ebx, eax			; the ticket, for the tables below
	inc eax
	imul eax, STACK_SIZE
	lea esp, [ap_stacks + eax]
	lidt [lib_idtr]
	mov dword [APIC_SVR], 0x1ff
	call apic_id
	mov [ap_ids + ebx * 4], eax
	mov ecx, eax
	mov edx, 1 << 24
	shl edx, cl
	mov [APIC_LDR], edx		; flat model: the ID's bit
	mov esi, ebx
	mov eax, 1
	cpuid
	mov eax, ebx
	shr eax, 24
	mov [ap_cpuid_ids + esi * 4], eax
	shr ebx, 16
	and ebx, 0xff
	mov [ap_span + esi * 4], ebx
	shr edx, 28
	and edx, 1
	mov [ap_htt + esi * 4], edx
	mov eax, 0xb
	mov ecx, 1
	cpuid
	mov [ap_b1_eax + esi * 4], eax
	mov [ap_b1_ebx + esi * 4], ebx
	mov [ap_b1_edx + esi * 4], edx
	mov ebx, esi
	; Counted in, then the BSP told.
	mov eax, 1
	lock xadd [arrived], eax
	mov dword [APIC_ICR_HI], 0
	call apic_id
	add eax, ICR_ASSERT | V_ARRIVED
	mov [APIC_ICR_LO], eax
	sti
.idle:
	hlt
	jmp .idle

section .data
align 4
arrived:	dd 0
arrived_ipis:	dd 0
ap_next:	dd 0
ap_ids:		times APS dd 0xff
ap_cpuid_ids:	times APS dd 0xfe
ap_span:	times APS dd 0		; CPUID.1 EBX[23:16]
ap_htt:		times APS dd 0		; CPUID.1 EDX.HTT
ap_b1_eax:	times APS dd 0		; CPUID.0xB subleaf 1 (the core level)
ap_b1_ebx:	times APS dd 0
ap_b1_edx:	times APS dd 0
bsp_fixed:	dd 0
fixed_count:	times 8 dd 0		; by APIC ID
nmi_count:	times 8 dd 0
others_count:	times 8 dd 0
logical_count:	times 8 dd 0
spin_lock:	dd 0
spin_total:	dd 0
spin_done:	dd 0
sse_done:	dd 0
sse_mem:	dd 0
ud_eip:		dd 0
ud_cpu:		dd -1
ud_count:	dd 0

section .bss
alignb 16
ap_stacks:	resb STACK_SIZE * (APS + 1)
