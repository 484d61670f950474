; Every guest clock agrees with every other, as on one crystal: the TSC,
; the ACPI PM timer, the 8254 (interrupts and counter reads), the local
; APIC timer (interrupts and current count) and the CMOS RTC (periodic
; interrupts and its seconds). The PM timer is the reference:
; - ticks: with the PIT at 250 Hz, the APIC timer at 1 kHz and the RTC's
;   periodic interrupt at 1024 Hz all running, busy stretches and HLT
;   stretches alternate for about 1.2 s; each source's interrupt count
;   must then match the PM time that passed (2 + 0.2%): a lost tick shows
;   here. A count is judged once its source has nothing queued, and only
;   the ticks btvm may have dropped are allowed short (judge_count); one
;   still catching up after 2 s must only not be ahead. The timers
;   start between two PM readings, after a 100 ms stall with IF clear
;   whose queued ticks must not count: no tick that came due before the
;   PM time started may show in a count.
;   In each busy stretch the TSC's rate against the PM timer is measured;
;   all stretches must agree to 0.1%.
; - countdown: the check Linux makes before it trusts the PM timer (PIT
;   channel 2 counting down in mode 0, OUT polled on port 0x61, the PM
;   timer read on both sides), ten times, each within 0.2% (Linux: 5%),
;   every reading bracketed so that a host stall is told from a bad rate.
; - pit_counter, apic_counter: counter reads against the PM timer, 30 ms
;   apart, each read between two PM reads (the closest of five): rates
;   within 0.2%, plus half the two gaps, where a host stall put the read.
; - rtc_seconds: RTC second boundaries 2 s or more apart against the PM
;   timer (0.2%), bracketed as the countdown's edges are; each try costs a
;   second, so when every edge found fell in a host stall the last one is
;   judged all the same, within 0.2% plus its brackets' uncertainty.
; The host may be loaded meanwhile (CTest's guest_clocks_loaded runs it
; beside two busy loops): a stall of the vCPU moves every clock alike, and
; the ticks that came due meanwhile are delivered late (past 1 s of them,
; dropped).
%define GUEST_NAME "clocks"
%include "lib.inc"
%include "timer.inc"

PIT_DIVISOR	equ 4773		; 249.98 Hz
PIT_RATE	equ 250
APIC_INITIAL	equ APIC_BUS_HZ / 1000	; 1 kHz at divide-by-1
APIC_RATE	equ 1000
RTC_RATE	equ 1024		; register A rate 6
WINDOWS		equ 8
SETTLE_PM	equ PM_HZ * 2		; at most 2 s for each source to go quiet
QUIET_PM	equ PM_HZ * 6 / 10000	; 600 us without a tick: nothing queued
GAP_PM		equ PM_HZ * 3 / 10000	; 300 us between two looks: a host stall
LOOK_PM		equ PM_HZ / 500		; 2 ms: a tick-to-tick stretch and more
SLEEP_PM	equ PM_HZ / 125		; 8 ms of HLT between looks
LOST_SLACK	equ 4			; ticks taken before a look saw a loss
SOURCES		equ 3			; PIT, APIC timer, RTC: ticks, tick_rates
STALL_PM	equ PM_HZ / 10		; before the timers start: 100 ms
BUSY_PM		equ PM_HZ / 10		; 100 ms
IDLE_PM		equ PM_HZ / 20		; 50 ms
COUNTDOWNS	equ 10			; measurements wanted
COUNTDOWN_TRIES	equ 200			; under load 1 in 5 may be unstalled
COUNTDOWN_BRACKET equ 512		; PM ticks (143 us) of uncertainty at most
; A countdown judged to 0.2% may be off by half its two brackets: at the
; shortest count (32768 PIT clocks, 98,304 PM ticks) 0.2% is 196 ticks, so
; its brackets stay under 2 x 196 (a run under load measured 0.197% over
; with brackets inside 512 and failed, btvm's clocks being right).
COUNTDOWN_EDGE_BRACKET equ 256
RTC_TRIES	equ 10			; second boundaries to find one unstalled

; rtc_read REG: AL = CMOS register REG (NMI left enabled).
%macro rtc_read 1
	mov al, %1
	out 0x70, al
	in al, 0x71
%endmacro

guest_start
	call lib_install_idt
	call lib_pic_init
	gate 0x20, pit_isr, 0x8e
	gate 0x28, rtc_isr, 0x8e
	gate TIMER_APIC_VECTOR, apic_isr, 0x8e
	gate TIMER_APIC_SPURIOUS, spurious_isr, 0x8e
	call timer_apic_on
	; RTC: 32.768 kHz time base, periodic interrupt at 1024 Hz
	mov al, 0x0a
	out 0x70, al
	mov al, 0x26
	out 0x71, al
	rtc_read 0x0b
	or al, 0x40				; PIE
	mov ah, al
	mov al, 0x0b
	out 0x70, al
	mov al, ah
	out 0x71, al
	rtc_read 0x0c				; nothing pending

; ---------------------------------------------------------------- ticks
group "ticks"
	cli
	mov dword [APIC_LVT_TIMER], APIC_PERIODIC | TIMER_APIC_VECTOR
	mov al, 0xfa				; IRQ0 and the cascade
	out 0x21, al
	mov al, 0xfe				; IRQ8
	out 0xa1, al
	; With IF clear, ticks that come due wait (tick_backlog.h: the PIT,
	; the APIC timer and the RTC deliver them late, not lost): a host
	; stall before the count starts queued some, and the count ran ahead
	; of the PM timer by them (PIT 820 against 815, one-insn blocks at a
	; load of 10 on 2 cores). Such a stall happens here on purpose, every
	; run. Then the three timers start again between two PM readings,
	; which drops what they queued (a reprogrammed counter starts afresh;
	; for the RTC, a new rate) and leaves at most one interrupt pending
	; from before each; the counts are judged against PM time from the
	; second reading, their starts within the bracket (start_bracket) of
	; PM ticks before it.
	call timer_pm_read
	mov ebx, eax
.stall:
	call timer_pm_since
	cmp eax, STALL_PM
	jb .stall
	call timer_pm_read
	mov [start_before], eax
	mov eax, PIT_DIVISOR
	call timer_pit_periodic
	mov dword [APIC_TIMER_INIT], APIC_INITIAL
	; The periods since PIE went on found PF set (nothing acknowledged
	; them): hardware loses them, btvm's RTC would deliver them late
	; (tick_backlog.h), as many as the set-up took, a host stall in it
	; included: counted, they made the RTC's count run ahead of the PM
	; timer's (1394 against 1389 on a loaded host). Writing the rate
	; again starts the periods afresh; then PF is acknowledged.
	mov al, 0x0a
	out 0x70, al
	mov al, 0x26
	out 0x71, al
	rtc_read 0x0c
	call pm_start
	mov eax, [pm_last]
	sub eax, [start_before]
	and eax, 0xffffff
	mov [start_bracket], eax
	mov dword [pit_ticks], 0
	mov dword [apic_ticks], 0
	mov dword [rtc_ticks], 0
	mov dword [max_short], 0
	mov dword [max_short + 4], 0
	mov dword [max_short + 8], 0
	sti
	xor edi, edi				; window number
.window:
	call tsc_pm_pair
	mov [w_tsc0], eax
	mov [w_pm0], edx
.busy:
	call pm_advance
	call track_short
	mov eax, [pm_total]
	sub eax, [w_pm_start]
	cmp eax, BUSY_PM
	jb .busy
	call tsc_pm_pair
	sub eax, [w_tsc0]
	mov [win_tsc + edi * 4], eax
	sub edx, [w_pm0]
	and edx, 0xffffff
	mov [win_pm + edi * 4], edx
	mov eax, [pm_total]
	mov [w_pm_start], eax
.idle:
	hlt
	call pm_advance
	call track_short
	mov eax, [pm_total]
	sub eax, [w_pm_start]
	cmp eax, IDLE_PM
	jb .idle
	mov eax, [pm_total]
	mov [w_pm_start], eax
	inc edi
	cmp edi, WINDOWS
	jb .window
	; Ticks that came due in a host stall are queued, and a count can be
	; judged only once its source has none left. btvm sends a queued tick
	; 100 us after the last (tick_backlog.h), so a source that sent none
	; for QUIET_PM while the vCPU ran (no GAP_PM between two looks) has
	; none queued: its count is judged there. Looks spin for LOOK_PM, the
	; vCPU HLTs for SLEEP_PM between them (a vCPU that spins gets less of
	; a loaded host's CPU, and took the queue more slowly). On a loaded
	; host a source may not get there at all (the vCPU, off its CPU most
	; of the time, took 2274 ticks a second slower than they came: APIC
	; 3015 against 3623 after 2 s), and its count is then judged only for
	; not running ahead. A timer that stops or runs slow goes quiet in a
	; look and is judged.
	mov eax, [pm_total]
	mov [settle_from], eax
	mov dword [judged], 0
	mov dword [judged + 4], 0
	mov dword [judged + 8], 0
.settle:
	call pm_advance
	mov ebx, [pm_total]
	mov [look_from], ebx
	mov [settle_prev], ebx
	xor ecx, ecx
.look_init:
	mov edx, [ticks + ecx * 4]
	mov [seen + ecx * 4], edx
	mov [quiet_from + ecx * 4], ebx
	inc ecx
	cmp ecx, SOURCES
	jb .look_init
.look:
	call pm_advance
	call track_short
	mov ebx, [pm_total]
	mov edx, ebx
	sub edx, [settle_prev]			; since the last look
	mov [settle_prev], ebx
	xor ecx, ecx
	xor ebp, ebp				; sources not judged yet
.source:
	cmp dword [judged + ecx * 4], 0
	jne .next_source
	inc ebp
	mov eax, [ticks + ecx * 4]
	cmp edx, GAP_PM
	ja .not_quiet
	cmp eax, [seen + ecx * 4]
	jne .not_quiet
	mov esi, ebx
	sub esi, [quiet_from + ecx * 4]
	cmp esi, QUIET_PM
	jb .next_source
	mov dword [judged + ecx * 4], 1
	mov [judged_count + ecx * 4], eax
	mov [judged_pm + ecx * 4], ebx
	dec ebp
	jmp .next_source
.not_quiet:
	mov [seen + ecx * 4], eax
	mov [quiet_from + ecx * 4], ebx
.next_source:
	inc ecx
	cmp ecx, SOURCES
	jb .source
	test ebp, ebp
	jz .settled
	mov eax, ebx
	sub eax, [look_from]
	cmp eax, LOOK_PM
	jb .look
	mov [look_from], ebx
.sleep:
	hlt
	call pm_advance
	call track_short
	mov eax, [pm_total]
	sub eax, [look_from]
	cmp eax, SLEEP_PM
	jb .sleep
	mov eax, [pm_total]
	sub eax, [settle_from]
	cmp eax, SETTLE_PM
	jb .settle
.settled:
	cli
	call pm_advance
	mov al, 0xff
	out 0x21, al
	out 0xa1, al
	call timer_apic_stop
	mov al, 0x0b				; RTC periodic interrupt off
	out 0x70, al
	mov al, 0x02
	out 0x71, al
	rtc_read 0x0c

	xor edi, edi
.report:
	call report_count
	inc edi
	cmp edi, SOURCES
	jb .report

	; the TSC's rate in every busy stretch against the first
	mov esi, s_tsc
	call lib_puts
	mov edi, 1
.ratio:
	mov eax, [win_tsc + edi * 4]
	mov ebx, [win_pm + edi * 4]
	mov ecx, [win_tsc]
	mov edx, [win_pm]
	check_ratio 10
	mov eax, [win_tsc + edi * 4]
	xor edx, edx
	div dword [win_pm + edi * 4]
	call lib_putdec				; TSC ticks per PM tick
	mov al, ' '
	call lib_putc
	inc edi
	cmp edi, WINDOWS
	jb .ratio
	call lib_newline

; ---------------------------------------------------------------- tsc_cpuid
; CPUID leaf 0x15 gives the TSC's rate as crystal * EBX / EAX with the
; APIC timer's input clock as the crystal (Linux takes it from there and
; calibrates nothing), and leaf 0x16 exactly its whole MHz: the rate the
; first busy stretch measured against the PM timer, to 2^-10.
group "tsc_cpuid"
	xor eax, eax
	cpuid
	check eax, 0x16
	mov eax, 0x15
	cpuid
	check ecx, APIC_BUS_HZ
	mov esi, eax				; the denominator
	mov eax, ebx
	mov ecx, APIC_BUS_HZ / 1000
	mul ecx					; crystal kHz * numerator, as Linux
	check edx, 0				; ... computes it: in 32 bits
	div esi
	mov [tsc_khz], eax
	mov ecx, eax
	mov edx, PM_HZ
	mov eax, [win_tsc]
	imul ebx, [win_pm], 1000
	check_ratio 10				; TSC/PM tick against kHz/PM Hz
	mov eax, 0x16
	cpuid
	mov esi, eax
	mov edi, ecx
	mov eax, [tsc_khz]
	xor edx, edx
	mov ecx, 1000
	div ecx
	; Leaf 0x16 is leaf 0x15's rate in whole MHz, truncated as Linux
	; truncates tsc_khz (its cpu_khz and tsc_khz agree): the same MHz even
	; where the host's rate is just below a whole one (tests/unit/
	; test_cpuid.c sweeps such rates).
	check esi, eax
	check edi, APIC_BUS_HZ / 1000000

; ---------------------------------------------------------------- countdown
; PIT channel 2 counts 32768-65535 down in mode 0 and its OUT is polled on port
; 0x61, the PM timer read before and after the count starts and before
; and after every poll: the start and the edge are each known to within
; the readings around them. A measurement whose brackets are wide (the
; host stalled the vCPU in one, which all clocks saw alike: an SMI to the
; guest; on a loaded host the edge falls in a stall as often as the vCPU
; is off its CPU) is not judged; the others must be within 0.2%.
group "countdown"
	in al, 0x61
	and al, 0xfd				; speaker off
	or al, 0x01				; channel 2 gate high
	out 0x61, al
	mov esi, s_countdown
	call lib_puts
	mov dword [cd_good], 0
	mov dword [cd_tries], 0
.again:
	cmp dword [cd_good], COUNTDOWNS
	jae .done
	cmp dword [cd_tries], COUNTDOWN_TRIES
	jae .done
	inc dword [cd_tries]
	; a count from 32768 to 65535 that changes with every try, so that
	; the edges do not fall into a loaded host's scheduling rhythm
	mov eax, [cd_tries]
	imul eax, 7919
	and eax, 0x7fff
	or eax, 0x8000
	mov [cd_count], eax
	mov al, 0xb0				; channel 2, LSB then MSB, mode 0
	out 0x43, al
	mov eax, [cd_count]
	out 0x42, al
	call timer_pm_read
	mov ebx, eax				; before the start
	mov eax, [cd_count]
	mov al, ah
	out 0x42, al				; counting from here
	call timer_pm_read
	mov ecx, eax				; after it
	mov edi, eax				; the reading before the last low poll
.poll:
	call timer_pm_read
	mov edx, eax				; before this poll
	in al, 0x61
	test al, 0x20				; channel 2's OUT
	jnz .edge
	mov edi, edx
	jmp .poll
.edge:
	call timer_pm_read			; after the poll that saw it high
	; width = (after - lastlow) + (after start - before start)
	mov edx, eax
	sub edx, edi
	and edx, 0xffffff
	mov ebp, ecx
	sub ebp, ebx
	and ebp, 0xffffff
	add edx, ebp
	cmp edx, COUNTDOWN_EDGE_BRACKET
	ja .wide
	; duration: from the start's midpoint to the edge's,
	; ((after - before) + (lastlow - after start)) / 2
	sub eax, ebx
	and eax, 0xffffff
	sub edi, ecx
	and edi, 0xffffff
	add eax, edi
	shr eax, 1
	push eax
	push edx
	mov edx, eax
	shr edx, 16
	shl eax, 16				; measured * 65536 / count
	div dword [cd_count]
	call lib_putdec
	mov al, ' '
	call lib_putc
	pop edx
	pop eax
	inc dword [cd_good]
	mov ebx, [cd_count]
	mov ecx, PM_HZ
	mov edx, PIT_HZ
	check_ratio 9
	jmp .again
.wide:
	mov al, '-'
	call lib_putc
	mov eax, edx
	call lib_putdec
	mov al, ' '
	call lib_putc
	jmp .again
.done:
	call lib_newline
	mov eax, [cd_good]
	cmp eax, COUNTDOWNS / 2
	jae .enough
	fail_now "too few countdowns measured without a host stall"
.enough:

; ---------------------------------------------------------------- pit_counter
group "pit_counter"
	mov al, 0xb0
	out 0x43, al
	mov al, 0xff
	out 0x42, al
	out 0x42, al
	call pit2_pm_pair
	mov [c_count0], eax
	mov [c_pm0], edx
	mov eax, [pair_gap]
	mov [c_bracket0], eax
	mov eax, PM_HZ * 3 / 100		; 30 ms
	call timer_pm_wait
	call pit2_pm_pair
	mov ecx, [c_count0]
	sub ecx, eax				; counts down,
	and ecx, 0xffff				; modulo 65536 (55 ms)
	mov ebx, edx
	sub ebx, [c_pm0]
	and ebx, 0xffffff
	; a host stall in the wait may have let it wrap: the whole turns
	; are the ones the PM time says (the reads are microseconds apart
	; from the PM reads around them; a turn off would take a stall of
	; 27 ms in each of the five tries of a pair)
	push ecx
	mov eax, ebx
	mov edx, PIT_HZ
	mul edx
	mov esi, PM_HZ
	div esi					; PIT clocks in the PM time
	pop ecx
	add eax, 0x8000
	sub eax, ecx
	jb .no_turns
	and eax, 0xffff0000
	add ecx, eax
.no_turns:
	mov eax, ecx
	mov ecx, PIT_HZ
	call pair_toward_expected
	mov edx, PM_HZ
	check_ratio 9

; ---------------------------------------------------------------- apic_counter
group "apic_counter"
	mov dword [APIC_LVT_TIMER], APIC_MASKED | TIMER_APIC_VECTOR	; one-shot, no interrupt
	mov dword [APIC_TIMER_INIT], 0xffffffff
	call apic_pm_pair
	mov [c_count0], eax
	mov [c_pm0], edx
	mov eax, [pair_gap]
	mov [c_bracket0], eax
	mov eax, PM_HZ * 3 / 100
	call timer_pm_wait
	call apic_pm_pair
	mov ecx, [c_count0]
	sub ecx, eax
	mov eax, ecx
	mov ebx, edx
	sub ebx, [c_pm0]
	and ebx, 0xffffff
	mov ecx, APIC_BUS_HZ
	call pair_toward_expected
	mov edx, PM_HZ
	check_ratio 9
	call timer_apic_stop

; ---------------------------------------------------------------- rtc_seconds
; Second boundaries of the RTC, each bracketed by PM readings as the
; countdown's edge is; one with a wide bracket is passed over while tries
; remain. On a host loaded enough that all RTC_TRIES fell in a stall (as
; often as the vCPU is off its CPU: under ASan with one instruction per
; block beside a CPU hog, most of them), the last is used: the edge is
; somewhere in its bracket, so the time measured is off by up to half of
; the two brackets, and it is the closest point of that range to the
; right time that must be within 0.2%.
group "rtc_seconds"
	call pm_start
	mov ecx, RTC_TRIES
.first:
	call rtc_edge
	cmp edx, COUNTDOWN_BRACKET
	jbe .have_first
	loop .first
.have_first:
	mov [c_pm0], eax
	mov [c_bracket0], edx
	xor ebx, ebx				; seconds since
.next:
	call rtc_edge
	inc ebx
	cmp ebx, 2
	jb .next
	cmp edx, COUNTDOWN_BRACKET
	jbe .have_last
	cmp ebx, RTC_TRIES
	jb .next
.have_last:
	sub eax, [c_pm0]
	add edx, [c_bracket0]
	shr edx, 1				; the uncertainty
	push esi
	mov esi, s_rtc_seconds
	call lib_puts
	pop esi
	call lib_putdec
	push eax
	mov al, '/'
	call lib_putc
	mov eax, ebx
	call lib_putdec
	mov al, ' '
	call lib_putc
	mov al, '~'
	call lib_putc
	mov eax, edx
	call lib_putdec
	call lib_newline
	pop eax
	xchg eax, ebx				; EBX seconds at 1 per second
	mov ecx, 1
	call pm_toward_expected
	xchg eax, ebx
	mov ecx, PM_HZ
	mov edx, 1
	check_ratio 9

	guest_finish

; pm_start: the PM total restarts from 0 at the current reading.
pm_start:
	push eax
	call timer_pm_read
	mov [pm_last], eax
	mov dword [pm_total], 0
	mov dword [w_pm_start], 0
	pop eax
	ret

; pm_advance: adds the PM ticks since the last reading to pm_total
; (called at least every 4.6 s). Preserves registers.
pm_advance:
	push eax
	push ebx
	mov ebx, [pm_last]
	call timer_pm_read
	mov [pm_last], eax
	sub eax, ebx
	and eax, 0xffffff
	add [pm_total], eax
	pop ebx
	pop eax
	ret

; tsc_pm_pair: EAX = TSC (low half) and EDX = PM timer read together: the
; PM read between two TSC reads, the closest of five tries (a host stall
; between them would skew one pair). Also advances pm_total.
tsc_pm_pair:
	push ebx
	push ecx
	push esi
	push edi
	push ebp
	mov ebp, 5
	mov esi, 0xffffffff			; best gap
.try:
	rdtsc
	mov ecx, eax
	call timer_pm_read
	mov ebx, eax
	rdtsc
	sub eax, ecx				; gap
	cmp eax, esi
	jae .worse
	mov esi, eax
	shr eax, 1
	add eax, ecx
	mov edi, eax				; TSC at the middle
	mov [pair_pm], ebx
.worse:
	dec ebp
	jnz .try
	call pm_advance
	mov eax, edi
	mov edx, [pair_pm]
	pop ebp
	pop edi
	pop esi
	pop ecx
	pop ebx
	ret

; pm_pair_body read: the body of pit2_pm_pair and apic_pm_pair, with the
; macro that reads their counter into EBX between two PM readings.
%macro pm_pair_body 1
	push ebx
	push ecx
	push esi
	push edi
	push ebp
	mov ebp, 5
	mov esi, 0xffffffff
%%try:
	call timer_pm_read
	mov ecx, eax
	%1
	call timer_pm_read
	sub eax, ecx
	and eax, 0xffffff			; gap
	cmp eax, esi
	jae %%worse
	mov esi, eax
	shr eax, 1
	add eax, ecx
	and eax, 0xffffff
	mov edi, eax
	mov [pair_count], ebx
%%worse:
	dec ebp
	jnz %%try
	mov eax, [pair_count]
	mov edx, edi
	mov [pair_gap], esi
	pop ebp
	pop edi
	pop esi
	pop ecx
	pop ebx
	ret
%endmacro

%macro read_pit2_count 0
	mov al, 0x80				; latch channel 2
	out 0x43, al
	in al, 0x42
	mov bl, al
	in al, 0x42
	mov bh, al
	movzx ebx, bx
%endmacro

%macro read_apic_count 0
	mov ebx, [APIC_TIMER_CUR]
%endmacro

; pit2_pm_pair: EAX = PIT channel 2's latched count, EDX = the PM reading
; at its middle, the closest of five tries.
pit2_pm_pair:
	pm_pair_body read_pit2_count

; apic_pm_pair: as pit2_pm_pair for the APIC timer's current count.
apic_pm_pair:
	pm_pair_body read_apic_count

; pair_toward_expected: pm_toward_expected for two counter reads, the
; uncertainty half the gaps around them ([c_bracket0], [pair_gap]).
pair_toward_expected:
	push edx
	mov edx, [c_bracket0]
	add edx, [pair_gap]
	shr edx, 1
	call pm_toward_expected
	pop edx
	ret

; pm_toward_expected: EBX, PM ticks measured for EAX counts of a clock at
; ECX per second, known to within EDX, moved toward the PM ticks those
; counts take by at most EDX: the value within the measurement's range
; that a check of the rate is to judge (a host stall widened the range;
; a wrong rate still shows outside it). Preserves other registers.
pm_toward_expected:
	push eax
	push ecx
	push edx
	push esi
	mov esi, edx
	mov edx, PM_HZ
	mul edx
	div ecx					; EAX = the PM ticks expected
	cmp ebx, eax
	jbe .below
	mov ecx, ebx
	sub ecx, eax
	cmp ecx, esi
	jbe .within
	sub ebx, esi
	jmp .out
.below:
	mov ecx, eax
	sub ecx, ebx
	cmp ecx, esi
	jbe .within
	add ebx, esi
	jmp .out
.within:
	mov ebx, eax
.out:
	pop esi
	pop edx
	pop ecx
	pop eax
	ret

; rtc_edge: waits for the RTC's seconds register to change. EAX = the
; midpoint of the PM readings (pm_total) around the change (the one before
; the last read of the old second, the one after the first read of the
; new), EDX = their distance. Preserves other registers.
rtc_edge:
	push ebx
	push ecx
	push esi
	call pm_advance
	mov esi, [pm_total]			; before the read
	rtc_read 0x00
	mov bl, al
.poll:
	mov ecx, esi				; before the last read of the old second
	call pm_advance
	mov esi, [pm_total]
	rtc_read 0x00
	cmp al, bl
	je .poll
	call pm_advance
	mov edx, [pm_total]
	sub edx, ecx
	mov eax, edx
	shr eax, 1
	add eax, ecx
	pop esi
	pop ecx
	pop ebx
	ret

; expect_ticks: whether COUNT interrupts since the timers started match
; the PM ticks in EBX (from the end of their start's bracket) at RATE per
; second, as timer_expect_count judges them, a timer that started up to
; start_bracket PM ticks earlier allowed the ticks that came due meanwhile.
; In: EAX = count, EBX = PM ticks, ECX = rate (Hz). Out: ZF set if so,
; EDX = the count expected from EBX. Preserves other registers.
expect_ticks:
	call timer_expect_count
	jz .out					; EDX: the expected count
	push edx
	push ebx
	add ebx, [start_bracket]
	call timer_expect_count			; the early start's count
	pop ebx
	jz .early
	cmp eax, edx				; or between the two
	ja .early_no
	pop edx
	cmp eax, edx
	jb .no
	cmp eax, eax				; ZF set
	ret
.early_no:
	pop edx
.no:
	test esp, esp				; ZF clear
	ret
.early:
	pop edx
	cmp eax, eax
.out:
	ret

; track_short: the largest shortfall of each count against the PM time
; (max_short). btvm drops ticks only with 1 s of them queued
; (tick_backlog.h), so no more were dropped than that shortfall went past
; 1 s (and LOST_SLACK taken before the look). Preserves registers.
track_short:
	pushad
	xor ecx, ecx
.source:
	mov eax, [pm_total]
	mul dword [tick_rates + ecx * 4]
	mov esi, PM_HZ
	div esi
	sub eax, [ticks + ecx * 4]
	cmp eax, [max_short + ecx * 4]
	jle .next
	mov [max_short + ecx * 4], eax
.next:
	inc ecx
	cmp ecx, SOURCES
	jb .source
	popad
	ret

; report_count: "<name> N, PM time says E" for source EDI, its count as
; judged (judge_count), and the check.
report_count:
	pushad
	mov esi, [tick_names + edi * 4]
	call lib_puts
	mov ecx, [tick_rates + edi * 4]
	mov eax, [ticks + edi * 4]
	mov ebx, [pm_total]
	cmp dword [judged + edi * 4], 0
	je .counted
	mov eax, [judged_count + edi * 4]
	mov ebx, [judged_pm + edi * 4]
.counted:
	call lib_putdec
	mov esi, s_expected
	call lib_puts
	call judge_count
	setz cl
	push eax
	mov eax, edx
	call lib_putdec
	pop eax
	cmp dword [judged + edi * 4], 0
	jne .said
	mov esi, s_queued
	call lib_puts
.said:
	call lib_newline
	movzx eax, cl
	check eax, 1
	popad
	ret

; judge_count: EAX interrupts of source EDI at ECX per second over EBX PM
; ticks. One judged with nothing queued (judged) must match the PM time
; (expect_ticks), short by at most the ticks btvm may have dropped (how far
; max_short went past 1 s of them); one still catching up must only not
; exceed it. Out: ZF set if so, EDX = the count expected. Preserves other
; registers.
judge_count:
	call expect_ticks
	jz .out
	cmp eax, edx
	ja .no					; ahead: never
	cmp dword [judged + edi * 4], 0
	je .yes					; still queued
	push eax
	push ecx
	mov ecx, [max_short + edi * 4]
	sub ecx, [tick_rates + edi * 4]
	add ecx, LOST_SLACK
	jle .none_lost
	add eax, ecx				; the dropped ones counted
	cmp eax, edx
	jbe .judge
	mov eax, edx
.judge:
	mov ecx, [esp]
	call expect_ticks
	pop ecx
	pop eax
	ret
.none_lost:
	pop ecx
	pop eax
	test esp, esp				; ZF clear
	ret
.yes:
	cmp eax, eax
.out:
	ret
.no:
	test esp, esp
	ret

pit_isr:
	inc dword [pit_ticks]
	push eax
	mov al, 0x20
	out 0x20, al
	pop eax
	iretd

rtc_isr:
	inc dword [rtc_ticks]
	push eax
	rtc_read 0x0c				; acknowledge
	mov al, 0x20
	out 0xa0, al
	out 0x20, al
	pop eax
	iretd

apic_isr:
	inc dword [apic_ticks]
	mov dword [APIC_EOI], 0
	iretd

spurious_isr:
	iretd

section .rodata
s_pit:		db "PIT interrupts ", 0
s_apic:		db "APIC timer interrupts ", 0
s_rtc:		db "RTC interrupts ", 0
s_expected:	db ", PM time says ", 0
s_queued:	db ", ticks still queued", 0
alignb 4
tick_names:	dd s_pit, s_apic, s_rtc
tick_rates:	dd PIT_RATE, APIC_RATE, RTC_RATE
s_tsc:		db "TSC ticks per PM tick: ", 0
s_rtc_seconds:	db "PM ticks / RTC seconds (~ the uncertainty): ", 0
s_countdown:	db "PIT countdowns, PM ticks per 65536 PIT clocks (196608 expected; -N: a host stall of N PM ticks in a bracket, not judged): ", 0

section .bss
alignb 4
ticks:		resd SOURCES		; PIT, APIC timer, RTC
pit_ticks	equ ticks
apic_ticks	equ ticks + 4
rtc_ticks	equ ticks + 8
max_short:	resd SOURCES
seen:		resd SOURCES
quiet_from:	resd SOURCES
judged:		resd SOURCES
judged_count:	resd SOURCES
judged_pm:	resd SOURCES
settle_prev:	resd 1
look_from:	resd 1
start_before:	resd 1
start_bracket:	resd 1
pm_last:	resd 1
pm_total:	resd 1
w_pm_start:	resd 1
w_tsc0:		resd 1
w_pm0:		resd 1
win_tsc:	resd WINDOWS
win_pm:		resd WINDOWS
tsc_khz:	resd 1
pair_pm:	resd 1
pair_count:	resd 1
cd_good:	resd 1
cd_tries:	resd 1
cd_count:	resd 1
settle_from:	resd 1
c_count0:	resd 1
c_pm0:		resd 1
c_bracket0:	resd 1
pair_gap:	resd 1
