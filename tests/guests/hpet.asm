; The HPET as the IA-PC HPET specification 1.0a has it, found as an OS
; finds it and checked against the ACPI PM timer:
; - find: the RSDP in the BIOS area, the RSDT, its HPET table; the block
;   there answers with the table's event timer block ID, at least three
;   comparators, legacy replacement and a 64-bit counter, a period of at
;   most 100 ns (the specification's bound).
; - halted: with ENABLE_CNF clear the counter stands still and takes a
;   64-bit value written as two dwords.
; - rate: the counter advances at 10^15 / period Hz against the PM timer
;   (1%, both read between two PM readings close together, so that a host
;   stall between the reads is told apart).
; - oneshot_ioapic: timer 2 one-shot, edge, on the highest I/O APIC pin
;   its route capability offers (btvm: 23; QEMU: 2, the PIT's, which is
;   stopped): one interrupt, not before the comparator.
; - legacy: legacy replacement routing, the PIT running at 4 kHz meanwhile
;   (cut off from IRQ 0 now): timer 0 periodic at 1 kHz on the 8259's IRQ
;   0, timer 1 one-shot and level-triggered on IRQ 8, its status bit set
;   until the handler clears it. Missed periods may be lost under a loaded
;   host (the specification promises no catching up), so the count must
;   only not exceed the periods that passed, and repeat.
; - level_32bit: timer 2 periodic, level-triggered (edge where its pin is
;   below 16, shared with an ISA line), in 32-bit mode, on its
;   I/O APIC pin: the handler clears the status bit before the EOI, and
;   the count stays within the periods; a 32-bit one-shot comparator
;   42 ms past the 32-bit wrap interrupts at the wrap and at the match.
;   btvm fires it at the access that sees the wrap, so its count is
;   exact; QEMU fires from a host timer, so there 1 or 2 pass.
; - stopped: the HPET disabled with timers armed: no interrupt, the counter
;   still.
; Also run under QEMU (guest_hpet_qemu, built with -DQEMU_TCG), whose
; hpet follows the same specification.
%define GUEST_NAME "hpet"
%include "lib.inc"
%include "timer.inc"

HPET_CAP	equ 0x000
HPET_CONFIG	equ 0x010
HPET_STATUS	equ 0x020
HPET_COUNTER	equ 0x0f0
HPET_T0		equ 0x100
HPET_T1		equ 0x120
HPET_T2		equ 0x140
TN_CMP		equ 0x08
CFG_ENABLE	equ 1
CFG_LEGACY	equ 2
TN_LEVEL	equ 1 << 1
TN_ENB		equ 1 << 2
TN_PERIODIC	equ 1 << 3
TN_VAL_SET	equ 1 << 6
TN_32BIT	equ 1 << 8
TN_ROUTE_SHIFT	equ 9
IOAPIC_BASE	equ 0xfec00000
IOAPIC_REDIR	equ 0x10
RED_LEVEL	equ 1 << 15
RED_ACTIVE_LOW	equ 1 << 13
RED_MASKED	equ 1 << 16
VEC_HPET	equ 0x50
WRAP_MATCH	equ 0x400000		; 4,194,304 ticks: 42 ms
BRACKET_PM	equ 512			; 143 us: a reading pair no stall split

; hpet_rd OFF: EAX = the dword at the HPET's OFF.
%macro hpet_rd 1
	mov eax, [ebp + %1]
%endmacro
; hpet_wr OFF, VALUE: the dword at OFF = VALUE (through EAX).
%macro hpet_wr 2
	mov eax, %2
	mov [ebp + %1], eax
%endmacro

guest_start
	call lib_install_idt
	call lib_pic_init
	gate 0x20, irq0_isr, 0x8e
	gate 0x28, irq8_isr, 0x8e
	gate VEC_HPET, hpet_isr, 0x8e
	gate TIMER_APIC_SPURIOUS, spurious_isr, 0x8e
	gate 0x27, spurious_isr, 0x8e
	gate 0x2f, spurious_slave_isr, 0x8e
	call timer_apic_on
	; The PIT stopped (mode 0, no count: OUT stays low): where a timer
	; can only be routed to pin 2 (QEMU's intcap), nothing else drives
	; it, and firmware's 18.2 Hz tick would.
	mov al, 0x30
	out 0x43, al

; ---------------------------------------------------------------- find
group "find"
	call find_hpet_table
	test esi, esi
	jnz .found
	fatal "no HPET table in the RSDT"
.found:
	mov ebp, [esi + 44]			; its base address (below 4 GiB)
	mov [hpet_base], ebp			; for the handlers
	check ebp, 0xfed00000
	mov eax, [esi + 36]			; event timer block ID
	mov [table_id], eax
	hpet_rd HPET_CAP
	check eax, dword [table_id]
	mov ebx, eax
	shr ebx, 8
	and ebx, 0x1f
	cmp ebx, 2				; NUM_TIM_CAP: the last timer's number
	setae al
	movzx eax, al
	check eax, 1
	hpet_rd HPET_CAP
	and eax, 0xa000				; LEG_RT_CAP, COUNT_SIZE_CAP
	check eax, 0xa000
	hpet_rd HPET_CAP + 4			; COUNTER_CLK_PERIOD, fs
	mov [period_fs], eax
	test eax, eax
	setnz bl
	cmp eax, 100000000
	setbe al
	and al, bl
	movzx eax, al
	check eax, 1
	; The counter's rate, 10^15 / period (0x38d7e_a4c68000 / period).
	mov ecx, [period_fs]
	test ecx, ecx
	jz .no_rate
	xor edx, edx
	mov eax, 0x38d7e
	div ecx
	mov eax, 0xa4c68000
	div ecx
	mov [hpet_hz], eax
.no_rate:
	; The highest I/O APIC pin timer 2 can be routed to.
	mov eax, [ebp + HPET_T2 + 4]		; Tn_INT_ROUTE_CAP
	bsr ecx, eax
	jnz .pin
	fatal "timer 2 offers no I/O APIC pin"
.pin:
	mov [t2_pin], ecx
	; Level-triggered only on a pin of its own (16 and up): QEMU offers
	; only pin 2, which the PIT's output shares.
	cmp ecx, 16
	jb .edge_only
	mov dword [t2_red_level], RED_LEVEL
	mov dword [t2_tn_level], TN_LEVEL
	mov byte [t2_level_mode], 1
.edge_only:

; ---------------------------------------------------------------- halted
group "halted"
	hpet_wr HPET_CONFIG, 0
	hpet_wr HPET_COUNTER, 0x9abcdef0
	hpet_wr HPET_COUNTER + 4, 0x12345678
	mov eax, PM_HZ / 1000			; 1 ms
	call timer_pm_wait
	hpet_rd HPET_COUNTER
	check eax, 0x9abcdef0
	hpet_rd HPET_COUNTER + 4
	check eax, 0x12345678

; ---------------------------------------------------------------- rate
group "rate"
	hpet_wr HPET_COUNTER, 0
	hpet_wr HPET_COUNTER + 4, 0
	hpet_wr HPET_CONFIG, CFG_ENABLE
	mov edi, 20				; tries
.rate_try:
	call pair
	jc .rate_next
	mov [r_pm0], ebx
	mov [r_hpet0], eax
	mov eax, PM_HZ / 10			; 100 ms
	call timer_pm_wait
	call pair
	jc .rate_next
	sub eax, [r_hpet0]
	sub ebx, [r_pm0]
	and ebx, 0xffffff
	mov ecx, [hpet_hz]
	mov edx, PM_HZ
	check_ratio 7				; within 0.8%
	jmp .rate_done
.rate_next:
	dec edi
	jnz .rate_try
	fail_now "no counter reading without a host stall across it"
.rate_done:
	; The high dword carried from the low one's wrap, not set aside.
	hpet_wr HPET_CONFIG, 0
	hpet_wr HPET_COUNTER, 0xfffffff0
	hpet_wr HPET_COUNTER + 4, 0
	hpet_wr HPET_CONFIG, CFG_ENABLE
	mov eax, PM_HZ / 1000
	call timer_pm_wait
	hpet_rd HPET_COUNTER + 4
	check eax, 1

; ---------------------------------------------------------------- oneshot_ioapic
group "oneshot_ioapic"
	hpet_wr HPET_CONFIG, 0
	hpet_wr HPET_COUNTER, 0
	hpet_wr HPET_COUNTER + 4, 0
	mov ecx, [t2_pin]
	mov eax, VEC_HPET | RED_ACTIVE_LOW	; edge
	call ioapic_route
	mov eax, [t2_pin]
	shl eax, TN_ROUTE_SHIFT
	or eax, TN_ENB
	mov [ebp + HPET_T2], eax
	mov eax, [hpet_hz]
	xor edx, edx
	mov ecx, 100				; 10 ms
	div ecx
	mov [cmp_value], eax
	mov [ebp + HPET_T2 + TN_CMP], eax
	mov dword [ebp + HPET_T2 + TN_CMP + 4], 0
	mov dword [hpet_count], 0
	hpet_wr HPET_CONFIG, CFG_ENABLE
	sti
	mov eax, PM_HZ / 5			; 200 ms: the first, then none
	call timer_pm_wait			; (busy: nothing else would end a HLT)
	cli
	check dword [hpet_count], 1
	mov eax, [hpet_seen]			; the counter in the handler
	cmp eax, [cmp_value]
	setae al
	movzx eax, al
	check eax, 1
	hpet_wr HPET_T2, 0
	mov ecx, [t2_pin]
	mov eax, RED_MASKED
	call ioapic_route

; ---------------------------------------------------------------- legacy
group "legacy"
	hpet_wr HPET_CONFIG, 0
	hpet_wr HPET_COUNTER, 0
	hpet_wr HPET_COUNTER + 4, 0
	mov eax, 298				; the PIT at 4 kHz
	call timer_pit_periodic
	mov al, 0xfa				; IRQ 0 and the cascade
	out 0x21, al
	mov al, 0xfe				; IRQ 8
	out 0xa1, al
	; Timer 0: periodic, 1 kHz.
	mov eax, [hpet_hz]
	xor edx, edx
	mov ecx, 1000
	div ecx
	mov [period_ticks], eax
	hpet_wr HPET_T0, TN_ENB | TN_PERIODIC | TN_VAL_SET
	mov eax, [period_ticks]
	mov [ebp + HPET_T0 + TN_CMP], eax
	mov dword [ebp + HPET_T0 + TN_CMP + 4], 0
	mov eax, [period_ticks]
	mov [ebp + HPET_T0 + TN_CMP], eax	; the period
	; Timer 1: one-shot, level, at 5 ms.
	hpet_wr HPET_T1, TN_ENB | TN_LEVEL
	mov eax, [period_ticks]
	imul eax, 5
	mov [ebp + HPET_T1 + TN_CMP], eax
	mov dword [ebp + HPET_T1 + TN_CMP + 4], 0
	mov dword [irq0_count], 0
	mov dword [irq8_count], 0
	mov dword [irq8_status], 0
	hpet_wr HPET_CONFIG, CFG_ENABLE | CFG_LEGACY
	call timer_pm_read
	mov [r_pm0], eax
	sti
	mov eax, PM_HZ / 5			; 200 ms
	call timer_pm_idle
	cli
	hpet_wr HPET_CONFIG, CFG_LEGACY		; halted: no more ticks
	mov ebx, [r_pm0]
	call timer_pm_since
	mov ebx, eax				; PM ticks that passed
	mov eax, [irq0_count]
	mov ecx, 1000
	call within_periods
	check dword [irq8_count], 1
	check dword [irq8_status], 2		; bit 1 set in the handler
	hpet_rd HPET_STATUS
	and eax, 2
	check eax, 0				; and clear after it
	hpet_wr HPET_T0, 0
	hpet_wr HPET_T1, 0
	hpet_wr HPET_CONFIG, 0
	mov al, 0x30				; PIT channel 0 stopped (mode 0, no count)
	out 0x43, al
	mov al, 0xff
	out 0x21, al
	out 0xa1, al

; ---------------------------------------------------------------- level_32bit
group "level_32bit"
	hpet_wr HPET_COUNTER, 0
	hpet_wr HPET_COUNTER + 4, 0
	mov ecx, [t2_pin]
	mov eax, VEC_HPET | RED_ACTIVE_LOW
	or eax, [t2_red_level]
	call ioapic_route
	mov eax, [t2_pin]
	shl eax, TN_ROUTE_SHIFT
	or eax, TN_ENB | TN_PERIODIC | TN_VAL_SET | TN_32BIT
	or eax, [t2_tn_level]
	mov [ebp + HPET_T2], eax
	mov eax, [period_ticks]
	mov [ebp + HPET_T2 + TN_CMP], eax
	mov [ebp + HPET_T2 + TN_CMP], eax
	mov dword [hpet_count], 0
	mov dword [level_bad], 0
	mov al, [t2_level_mode]
	mov [hpet_level_mode], al
	hpet_wr HPET_CONFIG, CFG_ENABLE
	call timer_pm_read
	mov [r_pm0], eax
	sti
	mov eax, PM_HZ / 10			; 100 ms
	call timer_pm_idle
	cli
	hpet_wr HPET_CONFIG, 0
	mov ebx, [r_pm0]
	call timer_pm_since
	mov ebx, eax
	mov eax, [hpet_count]
	mov ecx, 1000
	call within_periods
	check dword [level_bad], 0		; the status bit was set each time
	; One-shot across the 32-bit wrap, from 0xfffff000 (41 us before it)
	; to WRAP_MATCH (42 ms after it): an interrupt at the wrap, and
	; another at the match (specification 2.3.9.2.1).
	mov eax, [t2_pin]
	shl eax, TN_ROUTE_SHIFT
	or eax, TN_ENB | TN_32BIT
	or eax, [t2_tn_level]
	mov [ebp + HPET_T2], eax
	hpet_wr HPET_STATUS, 4
	; A period that ended between the CLI and the disable above left its
	; vector pending in the local APIC (a host stall there makes that
	; likely): it is taken now, before the count starts.
	sti
	mov eax, PM_HZ / 1000			; 1 ms
	call timer_pm_wait
	cli
	hpet_wr HPET_COUNTER, 0xfffff000
	hpet_wr HPET_COUNTER + 4, 0
	hpet_wr HPET_T2 + TN_CMP, WRAP_MATCH
	mov dword [hpet_count], 0
	hpet_wr HPET_CONFIG, CFG_ENABLE
	sti
.before_wrap:
	hpet_rd HPET_COUNTER
	test eax, eax
	js .before_wrap				; still 0xfffff000 and up
	mov [r_wrapped_at], eax
	mov eax, PM_HZ / 1000			; 1 ms: the wrap's interrupt is taken
	call timer_pm_wait
	cli
	mov eax, [hpet_count]
	mov [r_wrap_count], eax
	sti
	mov eax, PM_HZ / 10			; 100 ms: past the match
	call timer_pm_wait
	cli
%ifdef QEMU_TCG
	; QEMU raises the wrap's interrupt from a host timer: one that came
	; late (a host stall) may merge with the match's. 1 or 2 pass there.
	mov eax, [hpet_count]
	cmp eax, 2
	sete cl
	movzx ecx, cl
	sub eax, ecx
	check eax, 1
%else
	; btvm raises it at the access that sees the wrap: the read above,
	; unless that read came after the match too (a host stall of 42 ms),
	; which is one look and one interrupt.
	cmp dword [r_wrapped_at], WRAP_MATCH
	jae .one_look
	check dword [r_wrap_count], 1
	check dword [hpet_count], 2
	jmp .wrap_done
.one_look:
	check dword [hpet_count], 1
.wrap_done:
%endif

; ---------------------------------------------------------------- stopped
group "stopped"
	hpet_wr HPET_CONFIG, 0
	hpet_wr HPET_STATUS, 4
	hpet_wr HPET_COUNTER, 0
	hpet_wr HPET_COUNTER + 4, 0
	mov eax, [t2_pin]
	shl eax, TN_ROUTE_SHIFT
	or eax, TN_ENB | TN_LEVEL
	mov [ebp + HPET_T2], eax
	hpet_wr HPET_T2 + TN_CMP, 100
	hpet_wr HPET_T2 + TN_CMP + 4, 0
	mov dword [hpet_count], 0
	sti
	mov eax, PM_HZ / 50			; 20 ms; the LAPIC has no timer:
	call timer_pm_wait			; busy, not HLT
	cli
	check dword [hpet_count], 0
	hpet_rd HPET_COUNTER
	check eax, 0
	hpet_rd HPET_STATUS
	check eax, 0
	hpet_wr HPET_T2, 0
	mov ecx, [t2_pin]
	mov eax, RED_MASKED
	call ioapic_route

	guest_finish

; find_hpet_table: ESI = the HPET table the RSDT lists, or 0.
find_hpet_table:
	mov esi, 0xe0000
.scan:
	cmp dword [esi], "RSD "
	jne .next
	cmp dword [esi + 4], "PTR "
	je .rsdp
.next:
	add esi, 16
	cmp esi, 0x100000
	jb .scan
	xor esi, esi
	ret
.rsdp:
	mov ebx, [esi + 16]			; the RSDT
	mov ecx, [ebx + 4]
	sub ecx, 36
	shr ecx, 2
	lea edx, [ebx + 36]
.entry:
	test ecx, ecx
	jz .none
	mov esi, [edx]
	cmp dword [esi], "HPET"
	je .done
	add edx, 4
	dec ecx
	jmp .entry
.none:
	xor esi, esi
.done:
	ret

; pair: EAX = the counter's low dword, EBX = the PM timer when it was
; read; CF set when the PM readings around it are BRACKET_PM or more
; apart (a host stall there). Clobbers ECX, EDX.
pair:
	call timer_pm_read
	mov ecx, eax
	mov edx, [ebp + HPET_COUNTER]
	call timer_pm_read
	mov ebx, eax
	sub eax, ecx
	and eax, 0xffffff
	cmp eax, BRACKET_PM
	cmc					; CF = (gap >= BRACKET_PM)
	mov eax, edx
	ret

; within_periods: one check that the EAX interrupts of a timer at ECX Hz
; over EBX PM ticks are no more than the periods that passed plus 2 (and
; 1%), and at least 2: periods missed in a host stall are lost (one
; interrupt for them all; the specification promises no catching up),
; and a stall may take most of the window.
within_periods:
	pushad
	mov esi, eax
	mov eax, ebx
	mul ecx
	mov ecx, PM_HZ
	div ecx					; the periods that passed
	mov edi, eax
	shr edi, 7
	add edi, eax
	add edi, 2				; upper bound
	mov eax, 2				; lower bound: it repeats
	cmp esi, edi
	seta bl
	cmp esi, eax
	setb bh
	or bl, bh
	movzx eax, bl
	check eax, 0
	popad
	ret

; ioapic_route: the I/O APIC redirection entry of pin ECX = EAX, to APIC
; id 0. Preserves registers.
ioapic_route:
	push ecx
	push edx
	lea edx, [IOAPIC_REDIR + ecx * 2 + 1]
	mov [IOAPIC_BASE], edx
	mov dword [IOAPIC_BASE + 0x10], 0
	dec edx
	mov [IOAPIC_BASE], edx
	mov [IOAPIC_BASE + 0x10], eax
	pop edx
	pop ecx
	ret

irq0_isr:
	push eax
	inc dword [irq0_count]
	mov al, 0x20
	out 0x20, al
	pop eax
	iret

irq8_isr:
	push eax
	push edx
	mov edx, [hpet_base]
	inc dword [irq8_count]
	mov eax, [edx + HPET_STATUS]
	and eax, 2
	or [irq8_status], eax
	mov dword [edx + HPET_STATUS], 2	; the line goes down
	mov al, 0x20
	out 0xa0, al
	out 0x20, al
	pop edx
	pop eax
	iret

hpet_isr:
	push eax
	push edx
	mov edx, [hpet_base]
	inc dword [hpet_count]
	mov eax, [edx + HPET_COUNTER]
	mov [hpet_seen], eax
	cmp byte [hpet_level_mode], 0
	je .eoi
	mov eax, [edx + HPET_STATUS]
	test eax, 4
	jnz .clear
	inc dword [level_bad]
.clear:
	mov dword [edx + HPET_STATUS], 4	; before the EOI: the line goes down
.eoi:
	mov dword [APIC_EOI], 0
	pop edx
	pop eax
	iret

spurious_isr:
	iret

; IRQ 15 with nothing in the slave's ISR: the master still saw IRQ 2.
spurious_slave_isr:
	push eax
	mov al, 0x20
	out 0x20, al
	pop eax
	iret

section .data
hpet_level_mode:	db 0
t2_level_mode:	db 0
alignb 4
t2_red_level:	dd 0			; RED_LEVEL where timer 2 is level-triggered
t2_tn_level:	dd 0			; TN_LEVEL likewise

section .bss
alignb 4
hpet_base:	resd 1
table_id:	resd 1
period_fs:	resd 1
hpet_hz:	resd 1
t2_pin:		resd 1
r_pm0:		resd 1
r_hpet0:	resd 1
cmp_value:	resd 1
period_ticks:	resd 1
hpet_count:	resd 1
hpet_seen:	resd 1
level_bad:	resd 1
r_wrapped_at:	resd 1
r_wrap_count:	resd 1
irq0_count:	resd 1
irq8_count:	resd 1
irq8_status:	resd 1
