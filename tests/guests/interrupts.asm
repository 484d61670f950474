; External interrupts: the 8259 PIC remapped to 0x20/0x28 with only IRQ0
; unmasked, PIT channel 0 in mode 2 at ~100 Hz (divisor 11932), an
; interrupt gate at 0x20 counting ticks and sending EOI. Checks: sti/hlt
; wakes up until 5 ticks; IF=0 inside the handler and IF=1 in the saved
; EFLAGS; with CLI nothing is taken while IRQ0 is pending in the IRR, and
; STI then delivers it after the instruction in the STI shadow; a masked
; IRQ is held in the IRR and delivered on unmasking; ISR/IMR read back;
; the PIT count latches a value in range; no stray IRQs.
;
; Time is not the guest's to assume: the host may stall the vCPU anywhere,
; and ticks that came due meanwhile are then delivered late, one after the
; other (btvm reinjects them as KVM's PIT does, src/devices/tick_backlog.h),
; so between any two instructions with IF=1 any number of ticks may come.
; The checks are what the architecture promises whatever the timing: none
; taken while IF=0 or while the IRQ is masked, at least the pending one
; taken once it can be, and where the first one comes (the handler records
; the marker only for the first interrupt after it is reset: later ones of
; a burst would overwrite it with a marker of their own).
%define GUEST_NAME "interrupts"
%include "lib.inc"

PIT_DIVISOR	equ 11932
SPIN_LIMIT	equ 200000000		; bounded waits: far longer than a tick

; read_irr: AL = master IRR
%macro read_irr 0
	mov al, 0x0a
	out 0x20, al
	in al, 0x20
%endmacro

guest_start
	call lib_install_idt			; unexpected exceptions fail the guest
	call lib_pic_init			; all masked while we set up
	; gates: 0x20 timer, 0x21..0x2f stray
	gate 0x20, timer_isr, 0x8e
	mov eax, 0x21
	mov edx, stray_master_isr
.stray_master:
	call lib_set_gate
	inc eax
	cmp eax, 0x28
	jb .stray_master
	mov edx, stray_slave_isr
.stray_slave:
	call lib_set_gate
	inc eax
	cmp eax, 0x30
	jb .stray_slave
	; PIT channel 0: lo/hi access, mode 2, binary
	mov al, 0x34
	out 0x43, al
	mov al, PIT_DIVISOR & 0xff
	out 0x40, al
	mov al, PIT_DIVISOR >> 8
	out 0x40, al
	mov dword [ticks], 0
	mov dword [stray], 0
	mov al, 0xfe
	out 0x21, al				; unmask IRQ0

; ---------------------------------------------------------------- ticks
group "tick"
t_tick:
	sti
	mov ecx, SPIN_LIMIT
.first:
	cmp dword [ticks], 0
	jne .got_first
	dec ecx
	jnz .first
	fatal "no timer interrupt within the wait limit"
.got_first:
.wait:
	hlt					; woken by the next tick
	cmp dword [ticks], 5
	jb .wait
	cli
	; (How many ticks came by now is not checked: 5, or more if a stall
	; queued some that came in a burst before the CLI.)
	mov eax, [isr_eflags]
	and eax, F_IF
	check eax, 0				; interrupt gate: IF clear inside
	mov eax, [isr_saved_eflags]
	and eax, F_IF
	check eax, F_IF				; and set where it interrupted
	check dword [isr_cs], SEL_CODE

; ---------------------------------------------------------------- cli
group "cli"
t_cli:
	cli
	mov ebx, [ticks]
	call wait_irq0_pending
	mov ecx, 100000				; keep IF=0 a while longer
.spin:
	dec ecx
	jnz .spin
	mov eax, [ticks]
	sub eax, ebx
	check eax, 0				; nothing taken with IF=0
	mov dword [shadow_marker], 0
	mov dword [isr_marker], -1
	sti
	mov dword [shadow_marker], 1		; in the STI shadow: runs first
	nop
	nop
	cli
	mov eax, [ticks]
	sub eax, ebx
	setnz al				; the pending tick, maybe more behind it
	movzx eax, al
	check eax, 1
	check dword [isr_marker], 1		; the first came after the shadow

; ---------------------------------------------------------------- popf
; POPFD at CPL 0 (inline in btvm when only the arithmetic flags and IF
; change and no interrupt waits): an IRQ pending while IF = 0 is taken
; right after a POPFD that sets IF (no shadow), the arithmetic flags as
; popped; a POPFD that changes DF, and one that clears IF.
group "popf"
t_popf:
	cli
	call wait_irq0_pending
	mov ecx, 100000				; the run loop sees it wait on IF
.spin:
	dec ecx
	jnz .spin
	mov ebx, [ticks]
	mov dword [shadow_marker], 0
	mov dword [isr_marker], -1
	push dword 0x202 | 0x41			; IF, ZF, CF
	popfd
	mov dword [shadow_marker], 1		; after the interrupt
	pushfd
	pop edx
	cli
	check dword [isr_marker], 0		; the first came right after POPFD
	mov eax, [ticks]
	sub eax, ebx
	setnz al				; the pending tick, maybe more behind it
	movzx eax, al
	check eax, 1
	and edx, 0x8d5 | 0x200			; OF SF ZF AF PF CF, IF
	check edx, 0x241
	push dword 0x202 | 0x884		; IF, OF, SF, PF: no interrupt waits
	popfd
	pushfd
	pop edx
	cli
	and edx, 0xfd7
	check edx, 0xa86
	push dword 0x002 | 0x400 | 0x01		; DF, CF, IF clear: the mode changes
	popfd
	pushfd
	pop edx
	mov esi, popf_bytes + 1
	lodsb					; backwards
	cld
	and edx, 0xfd7
	check edx, 0x403
	check esi, popf_bytes
	movzx eax, al
	check eax, 0x5b

; ---------------------------------------------------------------- mask
group "mask"
t_mask:
	mov al, 0xff
	out 0x21, al				; mask IRQ0
	sti
	mov ebx, [ticks]
	mov ecx, SPIN_LIMIT
.poll:
	read_irr				; the IRR still latches it
	test al, 1
	jnz .pending
	dec ecx
	jnz .poll
	cli
	fatal "masked IRQ0 never showed in the IRR"
.pending:
	mov eax, [ticks]
	sub eax, ebx
	check eax, 0				; masked: not delivered
	in al, 0x21
	movzx eax, al
	check eax, 0xff
	mov al, 0xfe
	out 0x21, al				; unmask: delivered now (how soon
	hlt					; after the OUT is not architectural,
	cli					; so wait for it; hlt cannot hang here)
	mov eax, [ticks]
	sub eax, ebx
	setnz al				; the held tick, maybe more behind it
	movzx eax, al
	check eax, 1
	in al, 0x21
	movzx eax, al
	check eax, 0xfe

; ---------------------------------------------------------------- registers
group "regs"
t_regs:
	mov al, 0x0b				; OCW3: read ISR
	out 0x20, al
	in al, 0x20
	movzx eax, al
	check eax, 0				; every EOI was sent
	mov al, 0x00				; latch channel 0
	out 0x43, al
	in al, 0x40
	mov bl, al
	in al, 0x40
	mov bh, al
	movzx eax, bx
	dec eax					; 1..11932 -> 0..11931
	cmp eax, PIT_DIVISOR
	jb .count_ok
	fail_now "PIT count out of range"
.count_ok:
	check dword [stray], 0

	; stop: mask everything again
	mov al, 0xff
	out 0x21, al
	out 0xa1, al

guest_finish

; ---------------------------------------------------------------- handlers
; wait_irq0_pending: with IF clear, until IRQ0 shows in the master's IRR.
wait_irq0_pending:
	mov ecx, SPIN_LIMIT
.poll:
	read_irr
	test al, 1
	jnz .pending
	dec ecx
	jnz .poll
	fatal "IRQ0 never became pending in the IRR"
.pending:
	ret

popf_bytes:	db 0x5a, 0x5b
timer_isr:
	push eax
	inc dword [ticks]
	pushfd
	pop eax
	mov [isr_eflags], eax
	mov eax, [esp + 12]
	mov [isr_saved_eflags], eax
	mov eax, [esp + 8]
	and eax, 0xffff
	mov [isr_cs], eax
	cmp dword [isr_marker], -1		; only the first after a reset
	jne .marked
	mov eax, [shadow_marker]
	mov [isr_marker], eax
.marked:
	mov al, 0x20
	out 0x20, al				; EOI
	pop eax
	iretd

stray_master_isr:
	push eax
	inc dword [stray]
	mov al, 0x20
	out 0x20, al
	pop eax
	iretd

stray_slave_isr:
	push eax
	inc dword [stray]
	mov al, 0x20
	out 0xa0, al
	out 0x20, al
	pop eax
	iretd

section .bss
alignb 4
ticks:			resd 1
stray:			resd 1
isr_eflags:		resd 1
isr_saved_eflags:	resd 1
isr_cs:			resd 1
shadow_marker:		resd 1
isr_marker:		resd 1
