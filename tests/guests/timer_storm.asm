; Timer interrupts at the fastest rates the hardware allows slow the guest
; down, they never stop it: the PIT in mode 2 with divisors 1, 2, 3, 5,
; 10 and 20 (up to 1.19 MHz), then the local APIC timer periodic with
; initial counts 1, 2 and 7 at divide-by-1 (up to 100 MHz), each while
; the guest does a fixed amount of work with interrupts on. Each run must
; finish (CTest's timeout is the only clock here), must have taken at
; least MIN_TICKS interrupts, and the timer's counter must read in range
; meanwhile: how often the interrupts come is the monitor's business,
; the counter is the guest's view of time. The counts are printed.
%define GUEST_NAME "timer_storm"
%include "lib.inc"
%include "timer.inc"

WORK		equ 30000000		; loop iterations per run
MIN_TICKS	equ 10

guest_start
	call lib_install_idt
	call lib_pic_init
	gate 0x20, pit_isr, 0x8e
	gate TIMER_APIC_VECTOR, apic_isr, 0x8e
	gate TIMER_APIC_SPURIOUS, spurious_isr, 0x8e

; ---------------------------------------------------------------- PIT
group "pit"
	mov esi, divisors
.pit_next:
	lodsd
	test eax, eax
	jz .pit_done
	mov [cur_divisor], eax
	call timer_pit_periodic
	mov dword [ticks], 0
	mov dword [bad_count], 0
	mov al, 0xfe
	out 0x21, al				; IRQ0 only
	sti
	call work_reading_pit
	cli
	mov al, 0xff
	out 0x21, al
	mov eax, [cur_divisor]
	call report
	check dword [bad_count], 0
	jmp .pit_next
.pit_done:
	mov al, 0x30				; channel 0 stopped (mode 0, no count)
	out 0x43, al

; ---------------------------------------------------------------- APIC
group "apic"
	call timer_apic_on
	mov esi, apic_counts
.apic_next:
	lodsd
	test eax, eax
	jz .apic_done
	mov [cur_divisor], eax
	mov dword [ticks], 0
	mov dword [bad_count], 0
	mov dword [APIC_LVT_TIMER], APIC_PERIODIC | TIMER_APIC_VECTOR
	mov [APIC_TIMER_INIT], eax
	sti
	call work_reading_apic
	cli
	call timer_apic_stop
	mov eax, [cur_divisor]
	call report
	check dword [bad_count], 0
	jmp .apic_next
.apic_done:

	guest_finish

; work_reading_pit: WORK iterations; every 2^20th latches channel 0,
; whose count must be 1..divisor in mode 2.
work_reading_pit:
	mov ecx, WORK
.loop:
	test ecx, 0xfffff
	jnz .work
	mov al, 0x00
	out 0x43, al
	in al, 0x40
	mov ah, al
	in al, 0x40
	xchg al, ah
	movzx eax, ax
	test eax, eax
	jz .bad
	cmp eax, [cur_divisor]
	jbe .work
.bad:
	inc dword [bad_count]
.work:
	dec ecx
	jnz .loop
	ret

; work_reading_apic: WORK iterations; every 2^20th reads the current
; count, which must be at most the initial count.
work_reading_apic:
	mov ecx, WORK
.loop:
	test ecx, 0xfffff
	jnz .work
	mov eax, [APIC_TIMER_CUR]
	cmp eax, [cur_divisor]
	jbe .work
	inc dword [bad_count]
.work:
	dec ecx
	jnz .loop
	ret

; report: "<EAX>: N interrupts", and N >= MIN_TICKS.
report:
	push esi
	call lib_putdec
	mov esi, s_colon
	call lib_puts
	mov eax, [ticks]
	call lib_putdec
	mov esi, s_ints
	call lib_puts
	call lib_newline
	pop esi
	cmp dword [ticks], MIN_TICKS
	jae .ok
	fail_now "too few timer interrupts during the work"
.ok:
	ret

pit_isr:
	inc dword [ticks]
	push eax
	mov al, 0x20
	out 0x20, al
	pop eax
	iretd

apic_isr:
	inc dword [ticks]
	mov dword [APIC_EOI], 0
	iretd

spurious_isr:
	iretd

section .rodata
divisors:	dd 1, 2, 3, 5, 10, 20, 0
apic_counts:	dd 1, 2, 7, 0
s_colon:	db ": ", 0
s_ints:		db " interrupts", 0

section .bss
alignb 4
ticks:		resd 1
bad_count:	resd 1
cur_divisor:	resd 1
