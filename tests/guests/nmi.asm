; The NMI and exact event delivery: self-NMIs through the local APIC's ICR
; (a destination and the shorthands), taken with IF=0 through vector 2;
; NMIs blocked from the handler's entry until its IRET (a second and a
; third NMI sent from inside it arrive once, right after the IRET); the
; order of simultaneous events (the single-step trap, then the NMI, then a
; maskable interrupt, then a fault of the next instruction: SDM 6.9); the
; 8259's INT as an NMI through LVT LINT0 (its mask, its edges, waking a HLT
; with IF=0); an I/O APIC entry in NMI mode waking a HLT; EFLAGS.RF in the
; images of faults (#DE, #UD, #GP, #PF: set) and of INT n, INT3 and the
; single-step trap (clear), IRET loading RF (an NMI taken right after it
; shows RF=1) and RF clear once the next instruction has run.
;
; LINT1, the PC's NMI line, has no source a guest can drive (the chipset's
; NMI comes from outside it): tests/guests/nmi_button.asm, pressed through
; the monitor, tests it.
;
; Under QEMU (guest_nmi_qemu) the groups rf_fault, rf_cleared and rf_rep
; fail: QEMU 7.2 never sets RF in a fault's EFLAGS image or in that of an
; interrupt between the iterations of a REP string instruction, where the
; SDM (17.3.1.1) does, and it clears RF only at the end of a translation
; block, where the SDM clears it at the start of the next instruction.
%define GUEST_NAME "nmi"
%include "lib.inc"
%include "exc_record.inc"
%include "timer.inc"
%include "paging.inc"

APIC_ID		equ APIC_BASE + 0x20
APIC_TPR	equ APIC_BASE + 0x80
APIC_ICR_LO	equ APIC_BASE + 0x300
APIC_ICR_HI	equ APIC_BASE + 0x310
APIC_LVT_LINT0	equ APIC_BASE + 0x350
DM_NMI		equ 0x400
DM_EXTINT	equ 0x700
SH_SELF		equ 0x40000
SH_ALL		equ 0x80000
SH_OTHERS	equ 0xc0000
IPI_VECTOR	equ 0x50
F_RF		equ 0x10000
IOAPIC		equ 0xfec00000
PIT_PIN		equ 2			; ISA IRQ 0 on the I/O APIC (the MADT's override)

; ev_expect a, b, c, d: the last four events logged, oldest first ('N' an
; NMI, 'I' the fixed IPI, a number an exception's vector; 0 for none).
%define ev4(a, b, c, d) (((a) << 24) | ((b) << 16) | ((c) << 8) | (d))

; check_either value, a, b: value (a register or dword [mem]) is a or b.
%macro check_either 3
	push eax
	mov eax, %1
	cmp eax, %2
	je %%yes
	cmp eax, %3
	je %%yes
	jmp %%done
%%yes:
	mov eax, 1
%%done:
	check eax, 1
	pop eax
%endmacro

guest_start
	call lib_pic_init
	call lib_install_idt
	mov dword [lib_exc_hook], exc_hook
	gate 2, nmi_entry, 0x8e
	gate 0x30, soft_int, 0x8e
	gate IPI_VECTOR, ipi_entry, 0x8e
	mov dword [APIC_BASE + 0xf0], 0x1ff	; SVR: enabled, spurious 0xff
	mov dword [APIC_TPR], 0
	mov eax, [APIC_ID]
	mov [apic_id], eax

; ---------------------------------------------------------------- ICR
; Fixed destination (this APIC's ID, physical), with IF=0. The NMI comes
; at the instruction boundary after the ICR write (btvm) or after the
; branch that ends QEMU's block; the frame shows IF=0, and the handler
; runs with IF=0.
group "icr_dest"
	cli
	call nmi_reset
	mov eax, [apic_id]
	mov [APIC_ICR_HI], eax
	mov dword [APIC_ICR_LO], DM_NMI
.a1:	jmp short .a2
.a2:
	check dword [nmi_count], 1
	check_either dword [nmi_eip], .a1, .a2
	mov eax, [nmi_eflags]
	and eax, F_IF
	check eax, 0
	check dword [nmi_cs], SEL_CODE
	; another APIC's ID: nobody takes it
	mov eax, [apic_id]
	add eax, 0x01000000
	mov [APIC_ICR_HI], eax
	mov dword [APIC_ICR_LO], DM_NMI
	jmp short .a3
.a3:	nop
	nop
	check dword [nmi_count], 1
	; the vector field means nothing for an NMI (no illegal-vector error)
	mov eax, [apic_id]
	mov [APIC_ICR_HI], eax
	mov dword [APIC_ESR], 0
	mov dword [APIC_ICR_LO], DM_NMI | 3
	jmp short .a4
.a4:	nop
	check dword [nmi_count], 2
	mov dword [APIC_ESR], 0
	check dword [APIC_ESR], 0

; Self and all-including-self take it, all-excluding-self (no other CPU)
; does not; IF=1 does not matter either.
group "icr_shorthand"
	call nmi_reset
	mov dword [APIC_ICR_LO], DM_NMI | SH_SELF
	jmp short .b1
.b1:	nop
	check dword [nmi_count], 1
	mov dword [APIC_ICR_LO], DM_NMI | SH_ALL
	jmp short .b2
.b2:	nop
	check dword [nmi_count], 2
	mov dword [APIC_ICR_LO], DM_NMI | SH_OTHERS
	jmp short .b3
.b3:	nop
	nop
	check dword [nmi_count], 2
	sti
	mov dword [APIC_ICR_LO], DM_NMI | SH_SELF
	jmp short .b4
.b4:	nop
	cli
	check dword [nmi_count], 3
	mov eax, [nmi_eflags]
	and eax, F_IF
	check eax, F_IF

; ---------------------------------------------------------------- blocking
; The handler sends two more NMIs and spins: none nests, and one (not two)
; arrives right after its IRET, before the instruction the first returned
; to.
group "blocked"
	call nmi_reset
	mov dword [nmi_action], act_send_two
	mov dword [APIC_ICR_LO], DM_NMI | SH_SELF
	jmp short .c1
.c1:	nop
	nop
	nop
	check dword [nmi_count], 2
	check dword [inside_count], 1
	mov eax, [nmi_eip1]
	check dword [nmi_eip], eax
	check dword [ev_word], ev4(0, 0, 'N', 'N')

; ---------------------------------------------------------------- priorities
; Inside the handler: a fixed IPI (held: IF=0) and a second NMI (held:
; blocked); the IRET returns with IF=1 to a UD2. Then the NMI comes first,
; the maskable interrupt after the second NMI's IRET, and only then the
; UD2's #UD, all at the UD2.
group "priority"
	call nmi_reset
	mov dword [nmi_action], act_nmi_intr_ud
	arm prio_done
	mov dword [APIC_ICR_LO], DM_NMI | SH_SELF
	jmp short .d0
.d0:	nop
	fail_now "the handler's IRET did not go to its UD2"
	jmp prio_done
d_target:
	ud2
prio_done:
	cli
	check dword [ev_word], ev4('N', 'N', 'I', EXC_UD_V)
	check dword [nmi_count], 2
	check dword [nmi_eip], d_target
	check dword [ipi_eip], d_target
	expect EXC_UD_V, d_target, 0

; The single-step trap of the instruction that sent the NMI comes first:
; the NMI arrives at the #DB handler's first instruction.
group "tf_before_nmi"
	call nmi_reset
	arm 0
	mov dword [db_clear_tf], 1
	pushfd
	or dword [esp], F_TF
	popfd
	mov dword [APIC_ICR_LO], DM_NMI | SH_SELF	; TF: a trap after this
.e1:	nop
	mov dword [db_clear_tf], 0
	check dword [nmi_count], 1
	check dword [nmi_eip], lib_catch_1
	expect 1, .e1, 0
	mov eax, [x_eflags]			; TF: the hook took it out
	and eax, F_RF | F_TF
	check eax, 0				; a trap's image: RF clear

; ---------------------------------------------------------------- LINT0
; The 8259's INT reaches LINT0; programmed as an NMI, its rising edge is one.
; With IF=0 a HLT waits for the PIT's one-shot through it. Then: an edge
; while LINT0 is masked is lost, and unmasking does not bring it back; the
; next edge is an NMI again.
group "lint0_hlt"
	call nmi_reset
	cli
	mov al, 0x30				; channel 0, lobyte/hibyte, mode 0:
	out 0x43, al				; stopped until its count comes
	; an edge of the BIOS's periodic count may wait in IRR: take it out
	; (LINT0 still ExtINT, IF=0)
	mov al, 0xfe
	out 0x21, al
	call pic_clear_irr
	mov al, 0xff
	out 0x21, al
	mov dword [APIC_LVT_LINT0], DM_NMI
	mov al, 0xfe				; IRQ 0 only
	out 0x21, al
	call pit_one_shot
lint0_hlt_insn:
	hlt
.g1:
	; woken from the HLT, or (a host stall of 10 ms) taken just before it
	; and the HLT skipped by the handler
	check_either dword [nmi_eip], .g1, lint0_hlt_insn
	check dword [nmi_count], 1
	mov al, 0xff				; INT falls (IRQ 0 stays in IRR)
	out 0x21, al
	mov dword [APIC_LVT_LINT0], DM_NMI | APIC_MASKED
	mov al, 0xfe				; INT rises: LINT0 masked
	out 0x21, al
	nop
	nop
	mov al, 0xff
	out 0x21, al
	mov dword [APIC_LVT_LINT0], DM_NMI
	nop
	nop
	check dword [nmi_count], 1
	mov al, 0xfe				; a new edge: an NMI
	out 0x21, al
	jmp short .g2
.g2:	nop
	check dword [nmi_count], 2
	mov dword [APIC_LVT_LINT0], DM_EXTINT	; as the BIOS left it
	call pic_clear_irr
	mov al, 0xff
	out 0x21, al

; ---------------------------------------------------------------- I/O APIC
; The PIT's pin in NMI mode (vector ignored) wakes a HLT with IF=0.
group "ioapic_hlt"
	call nmi_reset
	mov eax, [apic_id]
	mov dword [IOAPIC], 0x10 + 2 * PIT_PIN + 1
	mov [IOAPIC + 0x10], eax
	mov dword [IOAPIC], 0x10 + 2 * PIT_PIN
	mov dword [IOAPIC + 0x10], DM_NMI | 0x33
	mov al, 0x30
	out 0x43, al
	cli
	call pit_one_shot
ioapic_hlt_insn:
	hlt
.h1:
	check_either dword [nmi_eip], .h1, ioapic_hlt_insn
	check dword [nmi_count], 1
	mov dword [IOAPIC], 0x10 + 2 * PIT_PIN
	mov dword [IOAPIC + 0x10], APIC_MASKED
	check dword [ev_word], ev4(0, 0, 0, 'N')

; ---------------------------------------------------------------- RF
; A fault's EFLAGS image has RF set.
group "rf_fault"
	arm .f1r
.f1:	ud2
.f1r:
	expect EXC_UD_V, .f1, 0
	mov eax, [x_eflags]
	and eax, F_RF
	check eax, F_RF
	arm .f2r
	mov ax, 0xfff8				; past the GDT's limit
.f2:	mov ds, ax
.f2r:
	expect 13, .f2, 0xfff8
	mov eax, [x_eflags]
	and eax, F_RF
	check eax, F_RF
	xor edx, edx
	xor ecx, ecx
	mov eax, 1
	arm .f3r
.f3:	div ecx
.f3r:
	expect 0, .f3, 0
	mov eax, [x_eflags]
	and eax, F_RF
	check eax, F_RF
	; #PF: paging on, an unmapped page
	call pg_alloc
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	mov eax, edi
	call pg_enable
	arm .f4r
.f4:	mov eax, [0x40001000]
.f4r:
	call pg_disable
	expect 14, .f4, 0
	mov eax, [x_eflags]
	and eax, F_RF
	check eax, F_RF

; INT n, INT3 (traps) and the single-step trap (above): RF clear.
group "rf_trap"
	mov dword [soft_eflags], -1
	int 0x30
	mov eax, [soft_eflags]
	and eax, F_RF
	check eax, 0
	arm .t1
	int3
.t1:
	expect 3, .t1, 0
	mov eax, [x_eflags]
	and eax, F_RF
	check eax, 0

; IRET loads RF: the handler sets RF in its frame and sends another NMI,
; which comes before the instruction returned to has run, so its own image
; shows RF=1. Its IRET loads RF again, and the PUSHFD there stores RF=0
; as it always does. Also RF in an interrupt between REP iterations.
group "rf_iret"
	call nmi_reset
	mov dword [nmi_action], act_rf_resend
	mov dword [APIC_ICR_LO], DM_NMI | SH_SELF
	jmp short .i0
.i0:	nop
	fail_now "the handler's IRET did not go to rf_target"
	jmp rf_done
rf_target:
	pushfd
	mov dword [soft_eflags], -1
	int 0x30
	pop eax
	and eax, F_RF
	check eax, 0				; PUSHFD: RF never stored
rf_done:
	check dword [nmi_count], 2
	check dword [nmi_eip], rf_target
	mov eax, [nmi_eflags]
	and eax, F_RF
	check eax, F_RF

; RF is cleared at the start of the next instruction (SDM 17.3.1.1), so
; the INT n two instructions on shows RF=0. QEMU 7.2 clears RF only at the
; end of its translation block: this group fails there.
group "rf_cleared"
	mov eax, [soft_eflags]
	and eax, F_RF
	check eax, 0

; An interrupt between two iterations of a REP STOSD (EIP at the REP) shows
; RF=1; one after the last iteration or between other instructions RF=0.
; The PIT at 10 kHz through the 8259 until one lands inside (QEMU 7.2 sets
; no RF there either: this group fails under it).
group "rf_rep"
	gate 0x20, irq0_entry, 0x8e
	mov eax, 119
	call timer_pit_periodic
	call pic_clear_irr
	mov al, 0xfe
	out 0x21, al
	mov ecx, 500				; passes at most
rep_pass:
	push ecx
	mov edi, 0x400000			; 1 MiB of zeros
	mov ecx, REP_COUNT
	xor eax, eax
	sti
	nop					; past STI's shadow
rep_insn:
	rep stosd
	cli
	pop ecx
	cmp dword [rep_hits], 0
	jne rep_hit
	loop rep_pass
rep_hit:
	mov al, 0xff
	out 0x21, al
	mov eax, [rep_hits]
	test eax, eax
	setnz al
	movzx eax, al
	check eax, 1				; an interrupt landed inside
	mov eax, [rep_eflags]
	and eax, F_RF
	check eax, F_RF
	check dword [other_rf], 0

	guest_finish

EXC_UD_V	equ 6
REP_COUNT	equ 0x40000		; four of the fast REP STOSD's passes
APIC_ESR	equ APIC_BASE + 0x280

; ---------------------------------------------------------------- helpers
section .text

nmi_reset:
	mov dword [nmi_count], 0
	mov dword [nmi_eip], -1
	mov dword [nmi_eip1], -1
	mov dword [nmi_eflags], -1
	mov dword [nmi_action], 0
	mov dword [inside_count], 0
	mov dword [ev_word], 0
	ret

; ev_log: shift AL into ev_word. Preserves registers.
ev_log:
	push eax
	and eax, 0xff
	shl dword [ev_word], 8
	or [ev_word], eax
	pop eax
	ret

; The NMI handler: counts, records the frame (the first NMI's EIP apart),
; logs 'N', returns past a HLT it interrupted just before, and runs a
; one-shot action with ESI at the frame (EIP, CS, EFLAGS).
nmi_entry:
	push eax
	push esi
	lea esi, [esp + 8]
	inc dword [nmi_count]
	mov eax, [esi]
	mov [nmi_eip], eax
	cmp dword [nmi_eip1], -1
	jne .not_first
	mov [nmi_eip1], eax
.not_first:
	mov eax, [esi + 4]
	and eax, 0xffff
	mov [nmi_cs], eax
	mov eax, [esi + 8]
	mov [nmi_eflags], eax
	mov al, 'N'
	call ev_log
	; an NMI that came just before a HLT (IF=0) ends it: skip the HLT
	mov eax, [esi]
	cmp byte [eax], 0xf4
	jne .no_hlt
	inc dword [esi]
.no_hlt:
	mov eax, [nmi_action]
	mov dword [nmi_action], 0
	test eax, eax
	jz .done
	call eax
.done:
	pop esi
	pop eax
	iretd

; Two more NMIs while this one is handled, a wait, and the count then.
act_send_two:
	push ecx
	mov dword [APIC_ICR_LO], DM_NMI | SH_SELF
	mov dword [APIC_ICR_LO], DM_NMI | SH_SELF
	mov ecx, 2000
.spin:	loop .spin
	mov ecx, [nmi_count]
	mov [inside_count], ecx
	pop ecx
	ret

; A fixed IPI and an NMI held back; return with IF=1 to d_target.
act_nmi_intr_ud:
	mov dword [APIC_ICR_LO], SH_SELF | IPI_VECTOR
	mov dword [APIC_ICR_LO], DM_NMI | SH_SELF
	mov dword [esi], d_target
	or dword [esi + 8], F_IF
	ret

; Return to rf_target with RF set, another NMI pending.
act_rf_resend:
	mov dword [APIC_ICR_LO], DM_NMI | SH_SELF
	mov dword [esi], rf_target
	or dword [esi + 8], F_RF
	ret

ipi_entry:
	push eax
	mov eax, [esp + 4]
	mov [ipi_eip], eax
	mov al, 'I'
	call ev_log
	mov dword [APIC_EOI], 0
	pop eax
	iretd

; IRQ 0: where it landed, and RF in its image.
irq0_entry:
	push eax
	cmp dword [esp + 4], rep_insn
	jne .other
	cmp ecx, REP_COUNT			; before the first iteration
	je .other
	mov eax, [esp + 12]
	mov [rep_eflags], eax
	inc dword [rep_hits]
	jmp .eoi
.other:
	mov eax, [esp + 12]
	and eax, F_RF
	or [other_rf], eax
.eoi:
	mov al, 0x20
	out 0x20, al
	pop eax
	iretd

soft_int:
	push eax
	mov eax, [esp + 12]
	mov [soft_eflags], eax
	pop eax
	iretd

; The exceptions: logged by vector, then recorded (exc_record.inc); a
; #DB's frame loses TF when db_clear_tf says so.
exc_hook:
	push eax
	mov eax, [esp + 4]
	call ev_log
	cmp eax, 1
	jne .record
	cmp dword [db_clear_tf], 0
	je .record
	and dword [esp + 20], ~F_TF
.record:
	pop eax
	jmp exc_record

; pit_one_shot: channel 0 (in mode 0) counts 10 ms from now. Preserves
; registers.
pit_one_shot:
	push eax
	mov ax, 11932
	out 0x40, al
	mov al, ah
	out 0x40, al
	pop eax
	ret

; pic_clear_irr: acknowledge IRQ 0 through the 8259's poll command and end
; it, so that it does not wait in IRR.
pic_clear_irr:
	push eax
	mov al, 0x0c				; OCW3: poll
	out 0x20, al
	in al, 0x20
	mov al, 0x20				; non-specific EOI
	out 0x20, al
	pop eax
	ret

section .data
apic_id:	dd 0
nmi_count:	dd 0
nmi_eip:	dd 0
nmi_eip1:	dd 0
nmi_cs:		dd 0
nmi_eflags:	dd 0
nmi_action:	dd 0
inside_count:	dd 0
ipi_eip:	dd 0
soft_eflags:	dd 0
ev_word:	dd 0
db_clear_tf:	dd 0
dir0:		dd 0
rep_hits:	dd 0
rep_eflags:	dd 0
other_rf:	dd 0
