; Virtual-8086 mode (issue 44, item 6): a ring-0 monitor with a TSS
; (rings.inc: SS0:ESP0, an I/O permission bitmap) enters v86 mode with
; IRETD (the 9-dword frame, VM in EFLAGS) and runs 8086 code copied to
; V86_BASE, with paging on (the low 4 MiB user pages, a few made absent
; or supervisor-only). Everything v86 code does comes back to the
; monitor through the IDT: its handlers (v86_stub_*) record each event
; (vector, error code, EIP, first opcode byte or CR2) in ev_log and the
; whole frame in rec, then act: HLT (#GP(0): privileged) ends the run;
; INT n trapped by IOPL < 3 is reflected through the IVT as Linux's
; vm86() or a DOS extender does, and the IRET of its real-mode handler
; emulated; CLI, STI, PUSHF, POPF, the denied I/O and the privileged
; instructions are skipped; a #PF maps the page and restarts; a #UD is
; skipped. The checks run in 32-bit code after each run, on ev_log, rec
; and what the v86 code stored through ES (V86_ES, linear 0x31000).
; Passes under QEMU (guest_v86_qemu) as under btvm.
;
; Groups:
;	enter       segment bases (selector * 16) for DS/ES/FS/GS/SS/CS,
;	            a segment load, reads and a store through CS, the stack,
;	            a far CALL/RETF to another CS; the exit frame: error
;	            code 0, EIP, CS, EFLAGS (VM), ESP, SS, ES, DS, FS, GS
;	            exactly, the handler's DS/ES/FS/GS null, its EFLAGS
;	            without VM, the frame at ESP0 - 40
;	iopl0       CLI, STI, PUSHF, POPF, PUSHFD, INT n and IRET each
;	            #GP(0); INT 0x40 reflected through the IVT and back;
;	            I/O through the bitmap (allowed port works, denied one
;	            #GP(0) and has no effect); INT3 and INTO through DPL-3
;	            gates without an IOPL check; MOV from CR0 #GP(0)
;	iopl3       CLI, STI, PUSHF, POPF, IRET run, POPF and IRET keep
;	            IOPL, PUSHFD's image has VM clear; INT 0x30 through a
;	            DPL-3 gate (its frame), INT 0x31 through a DPL-0 gate
;	            #GP(0x18a), INT 0x32 to a DPL-3 code segment
;	            #GP(0x50); the denied port still #GP(0) with IOPL 3
;	gates       INT 0x33 through a DPL-3 gate to conforming ring-0 code:
;	            #GP(selector), not a handler at CPL 3
;	ext         #UD delivered through a gate to that conforming code:
;	            #GP(selector + EXT) (QEMU 7.2 leaves EXT clear there:
;	            guest_v86_qemu lists this group)
;	ud          LAR, LSL, VERR, VERW, ARPL, LLDT, SLDT, LTR, STR #UD;
;	            SMSW runs
;	pf          #PF from v86 code: not present (read 4, write 6),
;	            supervisor page (5), CR2, restarted after the fix-up
;	irq         the PIT's IRQ 0 taken in v86 code that spins with IF set
;	            (as soon as IRETD enters it, if the tick came first):
;	            through the IDT with the v86 frame (VM and IF in its
;	            EFLAGS), the handler's IF clear, back to the code
;	limits      accesses past the 64 KiB limits: #GP(0), #SS(0) through
;	            SS, a string element with SI kept; a byte at 0xFFFF and
;	            a dword ending there run (not under QEMU 7.2, which checks
;	            no limit there: the -DQEMU_TCG build leaves it out)
;	cslimit     code fetched past CS's 64 KiB limit: INCs up to 0xFFFF
;	            run, the fetch at 0x10000 is #GP(0) (EIP 0x10000 in the
;	            frame); a MOV AX, imm16 across 0xFFFF is #GP(0) at it; a
;	            JMP EAX to 0x1FFF0 is #GP(0) at the JMP (not under QEMU
;	            7.2, which checks no fetch against CS's limit)
;	snapshot    v86 code writes isa-debug-exit's port: with "v86-snap" on
;	            the command line the port is allowed and the machine
;	            stops there, in v86 mode, for tests/unit/test_snapshot.c
;	            (--v86) to save, restore and run on; without, the port is
;	            denied (#GP, skipped). Either way the code after it runs
;	            with its segments and stack intact.

%define GUEST_NAME "v86"
%include "lib.inc"
%include "rings.inc"

V86_BASE	equ 0x20000		; the blob runs at V86_CS:offset
V86_CS		equ V86_BASE >> 4
V86_DS		equ 0x3000
V86_ES		equ 0x3100		; results: linear 0x31000
V86_FS		equ 0x3200
V86_GS		equ 0x3300
V86_SS		equ 0x4000
V86_SP		equ 0xfff0
RESULTS		equ V86_ES << 4
PF_SEG		equ 0x5000		; pages 0x50, 0x51 absent, 0x52 supervisor
CSL_SEG		equ 0x6000		; cslimit: its 0xFFFF at linear 0x6FFFF
F_VM		equ 0x20000
F_NT		equ 0x4000
F_IOPL3		equ 0x3000
SEL_UCODE16	equ 0x50		; rings.inc's RING_SEL_UCODE without RPL
SEL_CONF0	equ 0x60		; flat conforming code, DPL 0
COM1_SCR	equ 0x3ff		; COM1's scratch register: allowed
DENIED_PORT	equ 0x3fe		; denied: a word OUT there covers both
ISA_DEBUG_EXIT	equ 0xf4
PIT_1MS		equ 1193
ISA_DEBUG_EXIT_STOP equ 0x22		; exit status 0x45: test_snapshot's stop

%define R(x) ((x) - v86_start)

; ev i, vector, error, eip: event i of the last run
%macro ev 4
	check dword [ev_log + (%1) * 16], %2
	check dword [ev_log + (%1) * 16 + 4], %3
	check dword [ev_log + (%1) * 16 + 8], %4
%endmacro
; evop i, byte: event i's first opcode byte (CR2 for a #PF)
%macro evop 2
	check dword [ev_log + (%1) * 16 + 12], %2
%endmacro

guest_start
	call lib_install_idt
	call lib_pic_init
	call rings_setup
	; the monitor's gates: exceptions at DPL 0, the INTs v86 code may use
	; at DPL 3 (INT3, INTO, 0x30), 0x31 at DPL 0, 0x32 to ring-3 code
	gate 3, v86_stub_3, 0xee
	gate 4, v86_stub_4, 0xee
	gate 6, v86_stub_6, 0x8e
	gate 12, v86_stub_12, 0x8e
	gate 13, v86_stub_13, 0x8e
	gate 14, v86_stub_14, 0x8e
	gate 0x30, v86_stub_30, 0xee
	gate 0x31, v86_stub_31, 0x8e
	gate 0x32, v86_stub_32, 0xee
	gate 0x20, v86_stub_20, 0x8e
	mov word [lib_idt + 0x32 * 8 + 2], RING_SEL_UCODE
	; the blob, the IVT entry INT 0x40 reflects through, the data
	cld
	mov esi, v86_start
	mov edi, V86_BASE
	mov ecx, v86_end - v86_start
	rep movsb
	mov dword [0x40 * 4], (V86_CS << 16) | R(v86_int40)
	mov word [0x50010], 0xa5c3
	mov word [0x52030], 0x7e81
	mov edx, COM1_SCR
	call rings_io_allow
	call paging_on

group "enter"
	mov eax, R(v86_enter)
	xor ecx, ecx
	call v86_run
	check dword [ev_count], 1
	ev 0, 13, 0, R(v86_enter.exit)
	evop 0, 0xf4
	; the frame, as the handler found it
	check dword [rec + 8], R(v86_enter.exit)	; EIP
	check dword [rec + 12], V86_CS
	mov eax, [rec + 16]
	and eax, F_VM | F_IOPL3 | F_IF | F_TF | F_NT
	check eax, F_VM
	check dword [rec + 20], V86_SP
	check dword [rec + 24], V86_SS
	check dword [rec + 28], V86_ES
	check dword [rec + 32], 0x3010			; DS as loaded in v86
	check dword [rec + 36], V86_FS
	check dword [rec + 40], V86_GS
	check dword [h_segs], 0				; DS, ES null in the handler
	check dword [h_segs + 4], 0			; FS, GS
	check dword [h_frame], rings_kstack_top - 40
	mov eax, [h_eflags]
	and eax, F_VM | F_IF | F_TF | F_NT
	check eax, 0
	; what the v86 code did
	movzx eax, word [0x30000]
	check eax, 0x1234
	movzx eax, word [0x31000]
	check eax, 0x5678
	movzx eax, word [0x32000]
	check eax, 0x9abc
	movzx eax, word [0x33000]
	check eax, 0xdef0
	movzx eax, word [0x30100]
	check eax, 0x4321
	movzx eax, word [RESULTS + 2]
	check eax, V86_CS				; MOV AX, CS
	movzx eax, word [RESULTS + 4]
	check eax, 0x6b2d				; read through CS
	movzx eax, word [V86_BASE + R(v86_cs_word)]
	check eax, 0xbeef				; stored through CS
	movzx eax, word [RESULTS + 6]
	check eax, 0x1111				; pushed and popped
	movzx eax, word [RESULTS + 8]
	check eax, V86_CS - 1				; CS in the far procedure
	movzx eax, word [RESULTS + 10]
	check eax, V86_CS				; CS after RETF
	movzx eax, word [(V86_SS << 4) + V86_SP - 2]
	check eax, V86_CS				; the far CALL's frame
	movzx eax, word [(V86_SS << 4) + V86_SP - 4]
	check eax, R(v86_enter.ret)

group "iopl0"
	mov byte [RESULTS + 0x10], 0
	mov eax, R(v86_iopl0)
	xor ecx, ecx
	call v86_run
	check dword [ev_count], 12
	ev 0, 13, 0, R(v86_iopl0.cli)
	evop 0, 0xfa
	ev 1, 13, 0, R(v86_iopl0.sti)
	evop 1, 0xfb
	ev 2, 13, 0, R(v86_iopl0.pushf)
	evop 2, 0x9c
	ev 3, 13, 0, R(v86_iopl0.popf)
	evop 3, 0x9d
	ev 4, 13, 0, R(v86_iopl0.pushfd)
	evop 4, 0x66
	ev 5, 13, 0, R(v86_iopl0.int40)
	evop 5, 0xcd
	ev 6, 13, 0, R(v86_int40.iret)
	evop 6, 0xcf
	ev 7, 13, 0, R(v86_iopl0.denied)
	evop 7, 0xef
	ev 8, 3, 0, R(v86_iopl0.int3) + 1		; a trap: EIP after it
	ev 9, 4, 0, R(v86_iopl0.into) + 1
	ev 10, 13, 0, R(v86_iopl0.cr0)
	evop 10, 0x0f
	ev 11, 13, 0, R(v86_iopl0.exit)
	evop 11, 0xf4
	movzx eax, byte [RESULTS + 0x10]
	check eax, 0x77					; the reflected handler ran
	movzx eax, word [RESULTS + 0x12]
	check eax, V86_SP				; and its IRET popped its frame
	movzx eax, byte [RESULTS + 0x14]
	check eax, 0x5a					; allowed port read back
	movzx eax, byte [RESULTS + 0x15]
	check eax, 0x5a					; denied OUT changed nothing
	; the reflection's frame on the v86 stack: IP, CS, FLAGS
	movzx eax, word [(V86_SS << 4) + V86_SP - 6]
	check eax, R(v86_iopl0.int40) + 2
	movzx eax, word [(V86_SS << 4) + V86_SP - 4]
	check eax, V86_CS

group "iopl3"
	mov eax, R(v86_iopl3)
	mov ecx, F_IOPL3
	call v86_run
	check dword [ev_count], 5
	ev 0, 0x30, 0, R(v86_iopl3.int30) + 2
	ev 1, 13, 0x31 * 8 + 2, R(v86_iopl3.int31)
	evop 1, 0xcd
	ev 2, 13, SEL_UCODE16, R(v86_iopl3.int32)
	evop 2, 0xcd
	ev 3, 13, 0, R(v86_iopl3.denied)
	evop 3, 0xef
	ev 4, 13, 0, R(v86_iopl3.exit)
	; INT 0x30's frame (rec30): the 9 dwords, no error code
	check dword [rec30 + 8], R(v86_iopl3.int30) + 2
	check dword [rec30 + 12], V86_CS
	mov eax, [rec30 + 16]
	and eax, F_VM | F_IOPL3 | F_IF
	check eax, F_VM | F_IOPL3			; IF clear: the CLI before
	check dword [rec30 + 20], V86_SP
	check dword [rec30 + 24], V86_SS
	check dword [rec30 + 28], V86_ES
	check dword [rec30 + 32], V86_DS
	check dword [rec30 + 36], V86_FS
	check dword [rec30 + 40], V86_GS
	check dword [h_frame], rings_kstack_top - 40	; HLT's #GP frame
	movzx eax, word [RESULTS + 0x20]
	and eax, F_IOPL3 | F_IF
	check eax, F_IOPL3				; PUSHF at entry (IF clear)
	movzx eax, word [RESULTS + 0x22]
	and eax, F_IOPL3 | F_IF
	check eax, F_IOPL3 | F_IF			; after STI
	movzx eax, word [RESULTS + 0x24]
	and eax, F_IOPL3 | F_IF
	check eax, F_IOPL3				; after CLI
	movzx eax, word [RESULTS + 0x26]
	and eax, F_IOPL3 | F_IF | F_ALU
	check eax, F_IOPL3 | F_IF			; POPF of 0x0200: IOPL kept
	mov eax, [RESULTS + 0x28]
	and eax, F_VM | F_IOPL3
	check eax, F_IOPL3				; PUSHFD: VM clear in the image
	movzx eax, word [RESULTS + 0x2c]
	and eax, F_IOPL3 | F_IF | F_CF
	check eax, F_IOPL3 | F_CF			; IRET of 0x0001: IOPL kept
	movzx eax, byte [RESULTS + 0x2e]
	check eax, 1					; IRET went where it said

group "gates"
	mov eax, SEL_CONF0
	xor ebx, ebx
	mov ecx, 0xfffff
	mov edx, 0x0c9e				; present, DPL 0, code, conforming, readable
	call lib_set_desc
	gate 0x33, v86_stub_30, 0xee
	mov word [lib_idt + 0x33 * 8 + 2], SEL_CONF0
	mov eax, R(v86_gates)
	mov ecx, F_IOPL3
	call v86_run
	check dword [ev_count], 2
	ev 0, 13, SEL_CONF0, R(v86_gates.int33)
	evop 0, 0xcd
	ev 1, 13, 0, R(v86_gates.exit)

group "ext"
	mov word [lib_idt + 6 * 8 + 2], SEL_CONF0
	mov eax, R(v86_ext)
	xor ecx, ecx
	call v86_run
	mov word [lib_idt + 6 * 8 + 2], SEL_CODE
	check dword [ev_count], 2
	ev 0, 13, SEL_CONF0 | 1, R(v86_ext.lar)	; EXT: a processor event
	evop 0, 0x0f
	ev 1, 13, 0, R(v86_ext.exit)

group "ud"
	mov eax, R(v86_ud)
	xor ecx, ecx
	call v86_run
	check dword [ev_count], 10
	ev 0, 6, 0, R(v86_ud.lar)
	ev 1, 6, 0, R(v86_ud.lsl)
	ev 2, 6, 0, R(v86_ud.verr)
	ev 3, 6, 0, R(v86_ud.verw)
	ev 4, 6, 0, R(v86_ud.arpl)
	ev 5, 6, 0, R(v86_ud.lldt)
	ev 6, 6, 0, R(v86_ud.sldt)
	ev 7, 6, 0, R(v86_ud.ltr)
	ev 8, 6, 0, R(v86_ud.str)
	ev 9, 13, 0, R(v86_ud.exit)
	mov eax, cr0
	movzx ecx, word [RESULTS + 0x40]
	and eax, 0xffff
	check ecx, eax					; SMSW

group "pf"
	mov eax, R(v86_pf)
	xor ecx, ecx
	call v86_run
	check dword [ev_count], 4
	ev 0, 14, 4, R(v86_pf.read)			; user, read, not present
	evop 0, (PF_SEG << 4) + 0x10
	ev 1, 14, 6, R(v86_pf.write)			; user, write, not present
	evop 1, (PF_SEG << 4) + 0x1020
	ev 2, 14, 5, R(v86_pf.super)			; user, read, protection
	evop 2, (PF_SEG << 4) + 0x2030
	ev 3, 13, 0, R(v86_pf.exit)
	movzx eax, word [RESULTS + 0x30]
	check eax, 0xa5c3
	movzx eax, word [0x51020]
	check eax, 0x3c5a
	movzx eax, word [RESULTS + 0x32]
	check eax, 0x7e81
	mov eax, [rec + 16]
	and eax, F_VM
	check eax, F_VM

%ifndef QEMU_TCG
group "limits"
	mov eax, R(v86_limits)
	xor ecx, ecx
	call v86_run
	check dword [ev_count], 4
	ev 0, 13, 0, R(v86_limits.gp)
	ev 1, 12, 0, R(v86_limits.ss)
	ev 2, 13, 0, R(v86_limits.lods)
	ev 3, 13, 0, R(v86_limits.exit)
	movzx eax, word [RESULTS + 0x70]
	check eax, 0x5a5a				; the word ending at 0xFFFF
	movzx eax, word [RESULTS + 0x72]
	check eax, 0xfffd				; SI kept by the fault
	movzx eax, word [RESULTS + 0x74]
	check eax, 0					; SI after the last LODSD

; The #GP handler ends the run at an EIP past 0xFFFF (IRETD could not
; resume it) and at a HLT, and skips a MOV AX, imm16 by one byte: a fetch
; let through past the limit runs the NOP at 0x10000, or the MOV, and
; leaves other events.
group "cslimit"
	mov dword [(CSL_SEG << 4) + 0xfffc], 0x43434343	; inc bx x4
	mov word [(CSL_SEG << 4) + 0x10000], 0xf490	; nop; hlt: past the limit
	mov eax, R(v86_cslimit)
	xor ecx, ecx
	call v86_run
	check dword [ev_count], 1
	ev 0, 13, 0, 0x10000
	check dword [rec + 12], CSL_SEG
	mov dword [(CSL_SEG << 4) + 0xfffc], 0xf4b84343	; mov ax, imm16 at 0xFFFE
	mov eax, R(v86_cslimit)
	call v86_run
	check dword [ev_count], 2
	ev 0, 13, 0, 0xfffe
	ev 1, 13, 0, 0xffff				; its imm16's first byte: HLT
	mov byte [V86_BASE + 0x1fff0], 0xf4
	mov eax, R(v86_cslimit.jmp)
	call v86_run
	check dword [ev_count], 2
	ev 0, 13, 0, R(v86_cslimit.jmp_at)
	ev 1, 13, 0, R(v86_cslimit.exit)
%endif

group "irq"
	mov byte [RESULTS + 0x60], 0
	mov al, 0x34				; PIT channel 0, rate generator
	out 0x43, al
	mov al, PIT_1MS & 0xff
	out 0x40, al
	mov al, PIT_1MS >> 8
	out 0x40, al
	mov al, 0xfe				; IRQ 0 only
	out 0x21, al
	mov eax, R(v86_irq)
	mov ecx, F_IF
	call v86_run
	check dword [ev_count], 2
	check dword [ev_log], 0x20
	check dword [ev_log + 4], 0
	mov eax, [ev_log + 8]
	sub eax, R(v86_irq)
	cmp eax, R(v86_irq.exit) - R(v86_irq)
	setb al
	movzx eax, al
	check eax, 1					; EIP in the v86 code
	ev 1, 13, 0, R(v86_irq.exit)
	movzx eax, byte [RESULTS + 0x60]
	check eax, 1
	mov eax, [rec20 + 16]
	and eax, F_VM | F_IF | F_IOPL3
	check eax, F_VM | F_IF
	check dword [rec20 + 12], V86_CS
	check dword [rec20 + 24], V86_SS
	check dword [rec20 + 28], V86_ES
	mov eax, [h_eflags20]
	and eax, F_VM | F_IF
	check eax, 0

group "snapshot"
	push esi
	mov esi, s_cmd_snap
	call lib_cmdline_has
	pop esi
	mov ebx, eax
	test eax, eax
	jz .denied
	mov edx, ISA_DEBUG_EXIT
	call rings_io_allow
.denied:
	mov eax, R(v86_snap)
	xor ecx, ecx
	call v86_run
	add ebx, [ev_count]
	check ebx, 2					; the #GP, or the stop
	movzx eax, word [RESULTS + 0x50]
	check eax, 0x600d
	movzx eax, word [RESULTS + 0x52]
	check eax, V86_CS
	movzx eax, word [RESULTS + 0x54]
	check eax, 0x6b2d
	movzx eax, word [RESULTS + 0x56]
	check eax, V86_SP
	check dword [rec + 8], R(v86_snap.exit)
guest_finish

s_cmd_snap:	db "v86-snap", 0

; paging_on: 0-4 MiB identity through pt0, user and writable, but pages
; 0x50 and 0x51 absent and 0x52 supervisor-only.
paging_on:
	pushad
	mov edi, pt0
	mov eax, PG_USER_RW
	mov ecx, 1024
.fill:
	mov [edi], eax
	add edi, 4
	add eax, 0x1000
	loop .fill
	mov dword [pt0 + 0x50 * 4], 0
	mov dword [pt0 + 0x51 * 4], 0
	mov dword [pt0 + 0x52 * 4], 0x52000 | 3
	mov dword [pd0], pt0 + PG_USER_RW
	mov eax, pd0
	mov cr3, eax
	mov eax, cr0
	or eax, 0x80000000
	mov cr0, eax
	popad
	ret
PG_USER_RW	equ 7

; v86_run: EAX = the blob offset to start at, ECX = EFLAGS (VM added).
; Returns when the v86 code executes HLT, with segments as lib.inc's.
v86_run:
	pushad
	mov dword [ev_count], 0
	pushfd
	mov [k_esp], esp
	push dword V86_GS
	push dword V86_FS
	push dword V86_DS
	push dword V86_ES
	push dword V86_SS
	push dword V86_SP
	or ecx, F_VM | 2
	push ecx
	push dword V86_CS
	push eax
	iretd

; The handlers: each pushes 0 if the CPU pushed no error code, then its
; vector.
%macro v86_stub 3
%1:
%if %3 == 0
	push 0
%endif
	push %2
	jmp v86_common
%endmacro
v86_stub v86_stub_3, 3, 0
v86_stub v86_stub_4, 4, 0
v86_stub v86_stub_6, 6, 0
v86_stub v86_stub_12, 12, 1
v86_stub v86_stub_13, 13, 1
v86_stub v86_stub_14, 14, 1
v86_stub v86_stub_30, 0x30, 0
v86_stub v86_stub_31, 0x31, 0
v86_stub v86_stub_32, 0x32, 0
v86_stub v86_stub_20, 0x20, 0

; [esp] vector, error, EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS
v86_common:
	push eax
	pushfd
	pop eax
	mov [ss:h_eflags], eax
	lea eax, [esp + 8]
	mov [ss:h_frame], eax
	mov ax, ds
	mov [ss:h_segs], ax
	mov ax, es
	mov [ss:h_segs + 2], ax
	mov ax, fs
	mov [ss:h_segs + 4], ax
	mov ax, gs
	mov [ss:h_segs + 6], ax
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	pushad					; [esp + 36] vector
	lea esi, [esp + 36]
	mov edi, rec
	mov ecx, 11
	cld
	rep movsd
	cmp dword [rec], 0x30
	jne .not30
	mov esi, rec
	mov edi, rec30
	mov ecx, 11
	rep movsd
.not30:
	cmp dword [rec], 0x20
	jne .not20
	mov esi, rec
	mov edi, rec20
	mov ecx, 11
	rep movsd
	mov eax, [h_eflags]
	mov [h_eflags20], eax
	mov byte [RESULTS + 0x60], 1
	mov al, 0xff				; IRQ 0 masked again
	out 0x21, al
	mov al, 0x20				; EOI
	out 0x20, al
.not20:
	test dword [rec + 16], F_VM
	jnz .from_v86
	fail_now "an event from outside v86 mode"
	jmp .exit
.from_v86:
	; ev_log[ev_count] = vector, error, EIP, opcode (CR2 for #PF)
	mov eax, [ev_count]
	cmp eax, EV_MAX
	jae .logged
	shl eax, 4
	lea edi, [ev_log + eax]
	mov eax, [rec]
	mov [edi], eax
	mov eax, [rec + 4]
	mov [edi + 4], eax
	mov eax, [rec + 8]
	mov [edi + 8], eax
	call code_linear			; ESI = CS * 16 + EIP
	movzx eax, byte [esi]
	cmp dword [rec], 14
	jne .op
	mov eax, cr2
.op:
	mov [edi + 12], eax
.logged:
	inc dword [ev_count]
	mov eax, [rec]
	cmp eax, 13
	je .gp
	cmp eax, 12
	je .gp					; #SS: skipped as a #GP is
	cmp eax, 14
	je .pf
	cmp eax, 6
	jne .back				; INT3, INTO, INT 0x30, IRQ 0: return
	; #UD: skip the instruction (ARPL is two bytes, the 0F ones three)
	call code_linear
	cmp byte [esi], 0x63
	je .skip2
	jmp .skip3
.pf:
	; map the page user and writable, restart the instruction
	mov eax, cr2
	shr eax, 12
	mov ecx, eax
	shl ecx, 12
	or ecx, PG_USER_RW
	mov [pt0 + eax * 4], ecx
	mov eax, cr2
	invlpg [eax]
	jmp .back
.gp:
	cmp dword [rec + 8], 0xffff
	ja .exit				; past the limit (cslimit): nothing to resume
	call code_linear
	movzx eax, byte [esi]
	cmp al, 0xf4
	je .exit
	cmp al, 0xcd
	je .int
	cmp al, 0xcf
	je .iret
	cmp al, 0x66
	je .skip2
	cmp al, 0xe4
	jb .not_io_imm
	cmp al, 0xe7
	jbe .skip2
.not_io_imm:
	cmp al, 0x0f
	je .skip3
	jmp .skip1				; CLI, STI, PUSHF, POPF, IN/OUT DX
.int:
	cmp dword [rec + 4], 0
	jne .skip2				; a gate's #GP: not the IOPL trap
	; reflect INT n through the IVT: FLAGS, CS, IP+2 on the v86 stack
	movzx ebx, byte [esi + 1]
	call stack_linear			; EDI = SS * 16 + SP - 6
	mov eax, [rec + 8]
	add eax, 2
	mov [edi], ax
	mov eax, [rec + 12]
	mov [edi + 2], ax
	mov eax, [rec + 16]
	mov [edi + 4], ax
	sub word [esp + 36 + 20], 6		; SP
	movzx eax, word [ebx * 4]
	mov [esp + 36 + 8], eax			; EIP
	movzx eax, word [ebx * 4 + 2]
	mov [esp + 36 + 12], eax		; CS
	and dword [esp + 36 + 16], ~(F_IF | F_TF)
	jmp .back
.iret:
	; a 16-bit IRET: IP, CS, FLAGS from the v86 stack (IOPL kept)
	movzx edi, word [rec + 24]
	shl edi, 4
	movzx eax, word [rec + 20]
	add edi, eax
	movzx eax, word [edi]
	mov [esp + 36 + 8], eax
	movzx eax, word [edi + 2]
	mov [esp + 36 + 12], eax
	movzx eax, word [edi + 4]
	and eax, 0x0fd5
	and dword [esp + 36 + 16], ~0x0fd5
	or [esp + 36 + 16], eax
	add word [esp + 36 + 20], 6
	jmp .back
.skip3:
	inc dword [esp + 36 + 8]
.skip2:
	inc dword [esp + 36 + 8]
.skip1:
	inc dword [esp + 36 + 8]
.back:
	popad
	pop eax
	add esp, 8
	iretd
.exit:
	mov esp, [k_esp]
	mov ax, SEL_FS
	mov fs, ax
	mov ax, SEL_GS
	mov gs, ax
	popfd
	popad
	ret

; code_linear: ESI = rec's CS * 16 + EIP
code_linear:
	mov esi, [rec + 12]
	and esi, 0xffff
	shl esi, 4
	add esi, [rec + 8]
	ret

; stack_linear: EDI = rec's SS * 16 + SP - 6
stack_linear:
	movzx edi, word [rec + 24]
	shl edi, 4
	movzx eax, word [rec + 20]
	sub eax, 6
	and eax, 0xffff
	add edi, eax
	ret

; ------------------------------------------------------------- v86 code
bits 16
v86_start:

v86_enter:
	mov word [0], 0x1234			; DS: 0x30000
	mov word [es:0], 0x5678			; 0x31000
	mov word [fs:0], 0x9abc			; 0x32000
	mov word [gs:0], 0xdef0			; 0x33000
	mov ax, 0x3010
	mov ds, ax
	mov word [0], 0x4321			; 0x30100
	mov ax, cs
	mov [es:2], ax
	mov ax, [cs:R(v86_cs_const)]
	mov [es:4], ax
	mov word [cs:R(v86_cs_word)], 0xbeef
	push word 0x1111
	pop bx
	mov [es:6], bx
	call (V86_CS - 1):(R(v86_far) + 16)
.ret:
	mov ax, cs
	mov [es:10], ax
.exit:
	hlt

v86_far:
	mov ax, cs
	mov [es:8], ax
	retf

v86_iopl0:
.cli:	cli
.sti:	sti
.pushf:	pushf
.popf:	popf
.pushfd: pushfd
.int40:	int 0x40
	mov [es:0x12], sp
	mov dx, COM1_SCR
	mov al, 0x5a
	out dx, al
	in al, dx
	mov [es:0x14], al
	mov dx, DENIED_PORT
	mov ax, 0xa5a5
.denied: out dx, ax
	mov dx, COM1_SCR
	in al, dx
	mov [es:0x15], al
.int3:	int3
	mov al, 0x7f
	add al, 1				; OF set
.into:	into
.cr0:	mov eax, cr0
.exit:	hlt

v86_int40:
	mov byte [es:0x10], 0x77
.iret:	iret

v86_iopl3:
	pushf
	pop ax
	mov [es:0x20], ax
	sti
	pushf
	pop ax
	mov [es:0x22], ax
	cli
	pushf
	pop ax
	mov [es:0x24], ax
	push word 0x0200			; IF set, IOPL 0 asked for
	popf
	pushf
	pop ax
	mov [es:0x26], ax
	pushfd
	pop eax
	mov [es:0x28], eax
	mov byte [es:0x2e], 0
	push word 0x0001			; CF set, IF and IOPL 0 asked for
	push cs
	push word R(.after_iret)
	iret
	mov byte [es:0x2e], 2			; not reached
.after_iret:
	pushf
	pop ax
	mov [es:0x2c], ax
	inc byte [es:0x2e]
	cli
.int30:	int 0x30
.int31:	int 0x31
.int32:	int 0x32
	mov dx, DENIED_PORT
.denied: out dx, ax
.exit:	hlt

v86_gates:
.int33:	int 0x33
.exit:	hlt

v86_ext:
.lar:	lar ax, bx
.exit:	hlt

v86_ud:
.lar:	lar ax, bx
.lsl:	lsl ax, bx
.verr:	verr ax
.verw:	verw ax
.arpl:	arpl bx, ax
.lldt:	lldt ax
.sldt:	sldt ax
.ltr:	ltr ax
.str:	str ax
	smsw ax
	mov [es:0x40], ax
.exit:	hlt

; (the #GP handler skips by the first byte: 0F three bytes, 66 two)
v86_limits:
	mov bx, 0xffff
	mov word [bx - 1], 0x5a5a
	mov al, [bx]				; a byte at the limit: inside
	mov ax, [bx - 1]
	mov [es:0x70], ax
.gp:	imul ax, [bx]				; 0F AF 07: #GP(0)
	xor si, si
	mov bp, 0xffff
.ss:	imul ax, [bp + si]			; 0F AF 02: #SS(0)
	mov si, 0xfffd
.lods:	db 0x66, 0xad				; LODSD: #GP(0), SI kept
	mov [es:0x72], si
	mov si, 0xfffc
	db 0x66, 0xad				; LODSD ending at the limit: inside
	mov [es:0x74], si
.exit:	hlt

v86_cslimit:
	jmp CSL_SEG:0xfffc
.jmp:
	mov eax, 0x1fff0
.jmp_at:
	db 0x66, 0xff, 0xe0			; jmp eax: #GP, skipped by two bytes
	db 0x00					; to E0 00, a LOOPNE to the next
.exit:	hlt

v86_pf:
	mov ax, PF_SEG
	mov ds, ax
.read:	mov ax, [0x10]
	mov [es:0x30], ax
.write:	mov word [0x1020], 0x3c5a
.super:	mov ax, [0x2030]
	mov [es:0x32], ax
.exit:	hlt

v86_irq:
	mov ecx, 0x08000000
.spin:	cmp byte [es:0x60], 0
	jne .exit
	dec ecx
	jnz .spin
.exit:	hlt

v86_snap:
	mov word [es:0x50], 0
	mov al, ISA_DEBUG_EXIT_STOP
.out:	out ISA_DEBUG_EXIT, al
	mov word [es:0x50], 0x600d
	mov ax, cs
	mov [es:0x52], ax
	mov ax, [cs:R(v86_cs_const)]
	mov [es:0x54], ax
	mov [es:0x56], sp
.exit:	hlt

v86_cs_const:	dw 0x6b2d
v86_cs_word:	dw 0
v86_end:
bits 32

section .bss
alignb 4096
pd0:		resb 4096
pt0:		resb 4096
alignb 4
EV_MAX		equ 16
ev_count:	resd 1
ev_log:		resd 4 * EV_MAX
rec:		resd 11				; vector, error, EIP .. GS
rec30:		resd 11
rec20:		resd 11
h_eflags20:	resd 1
h_segs:		resw 4				; DS, ES, FS, GS in the handler
h_eflags:	resd 1
h_frame:	resd 1				; where the error code slot was
k_esp:		resd 1
