; The virtual-8086 mode extensions (CR4.VME) and protected-mode virtual
; interrupts (CR4.PVI) (issue 44, item 6): SDM Vol. 3 20.3 and 20.4, the
; instruction pages of CLI, STI, PUSHF, POPF, INT n and IRET; AMD's APM
; vol. 2 8.10 agrees on every case checked here. A ring-0 monitor (rings.inc's TSS, its
; I/O bitmap base moved up 32 bytes so that the interrupt redirection
; bitmap lies below it: bits 0x30 and 0x42 set, the rest clear) enters
; v86 mode by IRETD and records every event of the 8086 code as v86.asm
; does (vector, error code, EIP, opcode byte; the exit frame), skipping
; the instruction of each #GP; HLT's #GP ends a run. The 8086 code
; stores what PUSHF shows and what its INT 0x41 handler (through the
; IVT) finds on its stack through ES (RESULTS, linear 0x31000).
;
; Groups (the methods are the rows of the SDM's table 20-2):
;	cpuid      CPUID.1:EDX.VME (bit 1) set
;	cr4        CR4.VME and CR4.PVI written and read back, then cleared
;	novme      VME off, INT 0x41 with its redirection bit clear: #GP(0)
;	           at IOPL 0 (method 2), through the IDT at IOPL 3 (method 1)
;	vme0       VME on, IOPL 0: CLI/STI change VIF, not IF; PUSHF shows
;	           VIF as IF and IOPL 3; POPF and IRET load VIF from IF and
;	           keep IOPL; PUSHFD, POPFD, IRETD #GP(0); POPF and IRET of
;	           an image with TF #GP(0); INT 0x41 (bit clear) through the
;	           IVT: its frame word by word (IP, CS, FLAGS with VIF as IF
;	           and IOPL 3), VIF cleared in the handler, back by its IRET
;	           (method 6), with VIF set and clear; INT 0x42 (bit set)
;	           #GP(0) (method 3); INT3 through the IDT though its bit is
;	           clear; the exit frame: IF, IOPL unchanged, VIF as left
;	vip        VME on, IOPL 0, VIP set: STI, POPF and IRET that would set
;	           VIF #GP(0); CLI, POPF and IRET that clear it run; INT 0x41
;	           still redirected; VIP kept
;	vme3       VME on, IOPL 3: INT 0x41 (bit clear) through the IVT with
;	           the real IF and IOPL in FLAGS, IF cleared (method 5);
;	           INT 0x30 (bit set) through the IDT (method 4); CLI and STI
;	           change IF; VIF untouched
;	vme_events VME on, IOPL 0: #UD and the PIT's IRQ 0 (IF set, VIF
;	           clear) through the IDT, with VM in the frame
;	pvi        CR4.PVI at CPL 3, IOPL 0: CLI and STI change VIF, not IF;
;	           POPFD changes neither; the exit frame
;	pvi_vip    ... with VIP: STI #GP(0), CLI runs
;	pvi_iopl3  ... at IOPL 3: CLI and STI change IF, VIF kept
;	pvi_cpl0   CLI and STI at CPL 0 change IF, VIF kept
;	pvi_off    CR4.PVI clear at CPL 3, IOPL 0: CLI #GP(0)
; Under QEMU (guest_vme_qemu, built with -DQEMU_TCG) only novme and
; pvi_off run: QEMU 7.2's TCG has no VME at all (CPUID.1:EDX.VME clear
; whatever -cpu asks, CR4.VME and CR4.PVI reserved: #GP(0)), and its CLI,
; STI, PUSHF, POPF, INT n and IRET know neither VIF nor the redirection
; bitmap, so every other group is left out there.

%define GUEST_NAME "vme"
%include "lib.inc"
%include "rings.inc"

V86_BASE	equ 0x20000
V86_CS		equ V86_BASE >> 4
V86_DS		equ 0x3000
V86_ES		equ 0x3100		; results: linear 0x31000
V86_SS		equ 0x4000
V86_SP		equ 0xfff0
RESULTS		equ V86_ES << 4
F_VM		equ 0x20000
F_VIF		equ 0x80000
F_VIP		equ 0x100000
F_IOPL3		equ 0x3000
CR4_VME		equ 1
CR4_PVI		equ 2
PIT_1MS		equ 1193
REDIR		equ rings_tss + RING_TSS_SIZE	; the 32 bytes below the new base

%define R(x) ((x) - v86_start)

; ev i, vector, error, eip: event i of the last run
%macro ev 4
	check dword [ev_log + (%1) * 16], %2
	check dword [ev_log + (%1) * 16 + 4], %3
	check dword [ev_log + (%1) * 16 + 8], %4
%endmacro
%macro evop 2
	check dword [ev_log + (%1) * 16 + 12], %2
%endmacro
; result offset, value: the word the 8086 code stored at RESULTS + offset
%macro result 2
	movzx eax, word [RESULTS + (%1)]
	check eax, %2
%endmacro
; exit_flags mask, value: the EFLAGS of the last run's exit frame
%macro exit_flags 2
	mov eax, [rec + 16]
	and eax, %1
	check eax, %2
%endmacro

guest_start
	call lib_install_idt
	call lib_pic_init
	call rings_setup
	gate 3, vme_stub_3, 0xee
	gate 6, vme_stub_6, 0x8e
	gate 12, vme_stub_12, 0x8e
	gate 13, vme_stub_13, 0x8e
	gate 14, vme_stub_14, 0x8e
	gate 0x30, vme_stub_30, 0xee
	gate 0x20, vme_stub_20, 0x8e
	; the redirection bitmap below the I/O bitmap's new base
	mov word [rings_tss + 0x66], RING_TSS_SIZE + 32
	cld
	mov edi, REDIR
	xor eax, eax
	mov ecx, 8
	rep stosd
	mov eax, 0x30				; a register bit offset: an
	bts [REDIR], eax			; immediate one is modulo 32
	mov eax, 0x42
	bts [REDIR], eax
	mov esi, v86_start
	mov edi, V86_BASE
	mov ecx, v86_end - v86_start
	rep movsb
	mov dword [0x41 * 4], (V86_CS << 16) | R(v86_int41)
	call paging_on

%ifndef QEMU_TCG
group "cpuid"
	mov eax, 1
	cpuid
	and edx, 1 << 1
	check edx, 1 << 1

group "cr4"
	mov eax, cr4
	or eax, CR4_VME | CR4_PVI
	mov cr4, eax
	mov eax, cr4
	and eax, CR4_VME | CR4_PVI
	check eax, CR4_VME | CR4_PVI
	mov eax, cr4
	and eax, ~(CR4_VME | CR4_PVI)
	mov cr4, eax
	mov eax, cr4
	and eax, CR4_VME | CR4_PVI
	check eax, 0
%endif

group "novme"
	mov eax, R(v86_novme)
	xor ecx, ecx
	call v86_run
	check dword [ev_count], 2
	ev 0, 13, 0, R(v86_novme.int41)		; method 2
	evop 0, 0xcd
	ev 1, 13, 0, R(v86_novme.exit)
	gate 0x41, vme_stub_41, 0xee
	mov eax, R(v86_novme)
	mov ecx, F_IOPL3
	call v86_run
	check dword [ev_count], 2
	ev 0, 0x41, 0, R(v86_novme.int41) + 2	; method 1: the IDT
	ev 1, 13, 0, R(v86_novme.exit)

%ifndef QEMU_TCG
group "vme0"
	call vme_on
	mov eax, R(v86_vme0)
	mov ecx, F_VIF
	call v86_run
	check dword [ev_count], 9
	ev 0, 13, 0, R(v86_vme0.pushfd)
	evop 0, 0x66
	ev 1, 13, 0, R(v86_vme0.popfd)
	ev 2, 13, 0, R(v86_vme0.popf_tf)
	evop 2, 0x9d
	ev 3, 13, 0, R(v86_vme0.iretd)
	ev 4, 13, 0, R(v86_vme0.iret_tf)
	evop 4, 0xcf
	ev 5, 13, 0, R(v86_vme0.int42)		; method 3
	evop 5, 0xcd
	ev 6, 3, 0, R(v86_vme0.int3) + 1		; INT3 is never redirected
	ev 7, 13, 0, R(v86_vme0.sti_vip)	; VIP set by the monitor below
	ev 8, 13, 0, R(v86_vme0.exit)
	result 0x00, 0x3046			; CLI: IF (VIF) clear, IOPL 3 shown
	result 0x02, 0x3246			; STI: VIF set
	result 0x04, 0x3003			; POPF 0x0001: VIF clear, CF
	result 0x06, 0x3203			; POPF 0x3201: VIF set, IOPL kept
	result 0x08, 0x3002			; IRET of FLAGS 0
	result 0x0a, 0x3283			; IRET of 0x0281: VIF set, SF CF
	; INT 0x41 with VIF set (method 6): the frame, the handler's flags
	result 0x10, R(v86_vme0.int41a) + 2	; IP
	result 0x12, V86_CS			; CS
	result 0x14, 0x3246			; FLAGS: VIF as IF, IOPL 3
	result 0x16, V86_SP - 6			; the handler's SP
	result 0x18, 0x3046			; its PUSHF: VIF clear, TF clear
	result 0x1a, 0x3246			; after its IRET: VIF back
	; INT 0x41 with VIF clear
	result 0x20, R(v86_vme0.int41b) + 2
	result 0x22, V86_CS
	result 0x24, 0x3046
	result 0x26, V86_SP - 6
	result 0x28, 0x3046
	result 0x2a, 0x3046
	exit_flags F_VM | F_IOPL3 | F_IF | F_VIF | F_VIP | F_TF, F_VM | F_VIP
	call vme_off

group "vip"
	call vme_on
	mov eax, R(v86_vip)
	mov ecx, F_VIP
	call v86_run
	check dword [ev_count], 4
	ev 0, 13, 0, R(v86_vip.sti)
	evop 0, 0xfb
	ev 1, 13, 0, R(v86_vip.popf)
	evop 1, 0x9d
	ev 2, 13, 0, R(v86_vip.iret)
	evop 2, 0xcf
	ev 3, 13, 0, R(v86_vip.exit)
	result 0x30, 0x3002			; POPF 0: allowed, VIF clear
	result 0x32, 0x3002			; IRET of FLAGS 0: allowed
	result 0x34, 0x3002			; CLI: allowed
	result 0x36, 0x3002			; INT 0x41's FLAGS: VIF clear
	exit_flags F_VM | F_IOPL3 | F_IF | F_VIF | F_VIP, F_VM | F_VIP
	call vme_off

group "vme3"
	call vme_on
	mov eax, R(v86_vme3)
	mov ecx, F_IOPL3 | F_IF
	call v86_run
	check dword [ev_count], 2
	ev 0, 0x30, 0, R(v86_vme3.int30) + 2	; method 4: the IDT
	ev 1, 13, 0, R(v86_vme3.exit)
	; INT 0x41 (method 5): the real IF and IOPL in the frame, IF cleared
	result 0x40, R(v86_vme3.int41) + 2
	result 0x42, V86_CS
	result 0x44, 0x3246
	result 0x46, V86_SP - 6
	result 0x48, 0x3046			; the handler: IF clear
	result 0x4a, 0x3246			; after its IRET
	result 0x4c, 0x3046			; CLI clears IF
	exit_flags F_VM | F_IOPL3 | F_IF | F_VIF | F_VIP, F_VM | F_IOPL3 | F_IF
	call vme_off

group "vme_events"
	; exceptions and hardware interrupts keep the IDT under VME: #UD,
	; then the PIT's IRQ 0 with IF set and VIF clear
	call vme_on
	mov eax, R(v86_ud)
	xor ecx, ecx
	call v86_run
	check dword [ev_count], 1
	ev 0, 6, 0, R(v86_ud)
	exit_flags F_VM | F_IOPL3 | F_IF | F_VIF, F_VM
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
	ev 1, 13, 0, R(v86_irq.exit)
	movzx eax, byte [RESULTS + 0x60]
	check eax, 1
	mov eax, [irq_eflags]
	and eax, F_VM | F_IF | F_VIF | F_IOPL3
	check eax, F_VM | F_IF
	call vme_off

group "pvi"
	call pvi_on
	mov eax, pvi_user
	mov ecx, F_IF
	call rings_run_user
	mov eax, [pvi_res]
	and eax, F_IF | F_VIF | F_VIP | F_IOPL3
	check eax, F_IF				; CLI: VIF clear, IF kept
	mov eax, [pvi_res + 4]
	and eax, F_IF | F_VIF | F_VIP | F_IOPL3
	check eax, F_IF | F_VIF			; STI: VIF set
	mov eax, [pvi_res + 8]
	and eax, F_IF | F_VIF | F_VIP | F_IOPL3
	check eax, F_IF | F_VIF			; POPFD 0 changes neither
	mov eax, [rings_exit_frame + 8]
	and eax, F_IF | F_VIF | F_VIP | F_IOPL3
	check eax, F_IF | F_VIF

group "pvi_vip"
	mov dword [ev_count], 0
	mov eax, pvi_user_vip
	mov ecx, F_IF | F_VIF | F_VIP
	call rings_run_user
	check dword [ev_count], 1
	ev 0, 13, 0, pvi_user_vip.sti
	evop 0, 0xfb
	mov eax, [rings_exit_frame + 8]
	and eax, F_IF | F_VIF | F_VIP
	check eax, F_IF | F_VIP			; CLI ran: VIF clear

group "pvi_iopl3"
	mov eax, pvi_user_iopl3
	mov ecx, F_IF | F_VIF | F_IOPL3
	call rings_run_user
	mov eax, [pvi_res]
	and eax, F_IF | F_VIF
	check eax, F_VIF			; CLI: IF clear, VIF kept
	mov eax, [rings_exit_frame + 8]
	and eax, F_IF | F_VIF
	check eax, F_IF | F_VIF			; STI: IF set

group "pvi_cpl0"
	pushfd					; VIF as ring 3 left it: no
	pop ebx					; POPF or interrupt changes it
	and ebx, F_VIF
	cli
	pushfd
	pop eax
	and eax, F_IF | F_VIF
	check eax, ebx
	sti
	pushfd
	pop eax
	cli
	and eax, F_IF | F_VIF
	or ebx, F_IF
	check eax, ebx
	call pvi_off
%endif

group "pvi_off"
	mov dword [ev_count], 0
	mov eax, pvi_user_off
	xor ecx, ecx
	call rings_run_user
	check dword [ev_count], 1
	ev 0, 13, 0, pvi_user_off.cli
	evop 0, 0xfa
guest_finish

vme_on:
	mov eax, cr4
	or eax, CR4_VME
	mov cr4, eax
	ret
vme_off:
	mov eax, cr4
	and eax, ~CR4_VME
	mov cr4, eax
	ret
pvi_on:
	mov eax, cr4
	or eax, CR4_PVI
	mov cr4, eax
	ret
pvi_off:
	mov eax, cr4
	and eax, ~CR4_PVI
	mov cr4, eax
	ret

; paging_on: 0-4 MiB identity through pt0, user and writable.
paging_on:
	pushad
	mov edi, pt0
	mov eax, 7
	mov ecx, 1024
.fill:
	mov [edi], eax
	add edi, 4
	add eax, 0x1000
	loop .fill
	mov dword [pd0], pt0 + 7
	mov eax, pd0
	mov cr3, eax
	mov eax, cr0
	or eax, 0x80000000
	mov cr0, eax
	popad
	ret

; v86_run: EAX = the blob offset to start at, ECX = EFLAGS (VM added).
; Returns when the v86 code executes HLT.
v86_run:
	pushad
	mov dword [ev_count], 0
	pushfd
	mov [k_esp], esp
	push dword 0				; GS
	push dword 0				; FS
	push dword V86_DS
	push dword V86_ES
	push dword V86_SS
	push dword V86_SP
	or ecx, F_VM | 2
	push ecx
	push dword V86_CS
	push eax
	iretd

%macro vme_stub 3
%1:
%if %3 == 0
	push 0
%endif
	push %2
	jmp vme_common
%endmacro
vme_stub vme_stub_3, 3, 0
vme_stub vme_stub_6, 6, 0
vme_stub vme_stub_12, 12, 1
vme_stub vme_stub_13, 13, 1
vme_stub vme_stub_14, 14, 1
vme_stub vme_stub_30, 0x30, 0
vme_stub vme_stub_41, 0x41, 0
vme_stub vme_stub_20, 0x20, 0

; [esp] vector, error, EIP, CS, EFLAGS (ESP, SS, ES, DS, FS, GS from v86
; mode, ESP and SS from ring 3). Events from ring 3 (pvi) log the same.
vme_common:
	push ds
	push es
	push eax
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	pop eax
	pushad					; [esp + FRAME] vector
	lea esi, [esp + FRAME]
	mov edi, rec
	mov ecx, 11
	cld
	rep movsd
	; ESI = the instruction's linear address
	mov esi, [rec + 8]
	test dword [rec + 16], F_VM
	jz .flat
	mov eax, [rec + 12]
	and eax, 0xffff
	shl eax, 4
	add esi, eax
.flat:
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
	movzx eax, byte [esi]
	mov [edi + 12], eax
.logged:
	inc dword [ev_count]
	cmp dword [rec], 3
	jne .not3
	or dword [esp + FRAME + 16], F_VIP	; INT3 (vme0): the monitor posts VIP
.not3:
	cmp dword [rec], 0x20
	jne .not20
	mov eax, [rec + 16]
	mov [irq_eflags], eax
	mov byte [RESULTS + 0x60], 1
	mov al, 0xff				; IRQ 0 masked again
	out 0x21, al
	mov al, 0x20				; EOI
	out 0x20, al
	jmp .back
.not20:
	cmp dword [rec], 6
	je .exit				; #UD, #SS, #PF: not expected, the
	cmp dword [rec], 12			; run ends (the checks fail)
	je .exit
	cmp dword [rec], 14
	je .exit
	cmp dword [rec], 13
	jne .back				; INT3, INT 0x30, 0x41: return
	movzx eax, byte [esi]
	cmp al, 0xf4
	je .exit
	cmp al, 0x66
	je .skip2				; PUSHFD, POPFD, IRETD
	cmp al, 0xcd
	je .skip2
	jmp .skip1				; CLI, STI, PUSHF, POPF, IRET
.skip2:
	inc dword [esp + FRAME + 8]
.skip1:
	inc dword [esp + FRAME + 8]
.back:
	popad
	pop es
	pop ds
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
FRAME		equ 40

; ------------------------------------------------------- ring-3 code (PVI)
pvi_user:
	cli
	pushfd
	pop dword [pvi_res]
	sti
	pushfd
	pop dword [pvi_res + 4]
	push dword 0
	popfd
	pushfd
	pop dword [pvi_res + 8]
	leave_user

pvi_user_vip:
.sti:	sti
	cli
	leave_user

pvi_user_iopl3:
	cli
	pushfd
	pop dword [pvi_res]
	sti
	leave_user

pvi_user_off:
.cli:	cli
	leave_user

; ------------------------------------------------------------- v86 code
bits 16
v86_start:

v86_novme:
.int41:	int 0x41
.exit:	hlt

; FLAGS images: bit 1 always set; CMP CX, CX leaves ZF and PF (0x46).
v86_vme0:
	cmp cx, cx
	cli
	pushf
	pop ax
	mov [es:0x00], ax
	cmp cx, cx
	sti
	pushf
	pop ax
	mov [es:0x02], ax
	push word 0x0001
	popf
	pushf
	pop ax
	mov [es:0x04], ax
	push word 0x3201			; IOPL 3 asked for: kept at 0
	popf
	pushf
	pop ax
	mov [es:0x06], ax
.pushfd: pushfd
.popfd:	popfd
	push word 0x0100
.popf_tf: popf
	add sp, 2
.iretd:	iretd
	push word 0x0000
	push cs
	push word R(.after1)
	iret
.after1:
	pushf
	pop ax
	mov [es:0x08], ax
	push word 0x0281
	push cs
	push word R(.after2)
	iret
.after2:
	pushf
	pop ax
	mov [es:0x0a], ax
	push word 0x0100
	push cs
	push word R(.after2)
.iret_tf: iret
	add sp, 6
	mov bx, 0x10
	cmp cx, cx
.int41a: int 0x41
	pushf
	pop ax
	mov [es:0x1a], ax
	cli
	mov bx, 0x20
	cmp cx, cx
.int41b: int 0x41
	pushf
	pop ax
	mov [es:0x2a], ax
.int42:	int 0x42
.int3:	int3
	; VIP is set now (the monitor posted it at the IRETD): STI #GP(0)
.sti_vip: sti
.exit:	hlt

v86_vip:
.sti:	sti
	push word 0x0200
.popf:	popf
	add sp, 2
	push word 0x0000
	popf
	pushf
	pop ax
	mov [es:0x30], ax
	push word 0x0200
	push cs
	push word R(.exit)
.iret:	iret
	add sp, 6
	push word 0x0000
	push cs
	push word R(.after)
	iret
.after:
	pushf
	pop ax
	mov [es:0x32], ax
	cli
	pushf
	pop ax
	mov [es:0x34], ax
	mov bx, 0x50
	int 0x41
	mov ax, [es:0x54]
	mov [es:0x36], ax
.exit:	hlt

v86_vme3:
	mov bx, 0x40
	cmp cx, cx
.int41:	int 0x41
	pushf
	pop ax
	mov [es:0x4a], ax
.int30:	int 0x30
	cmp cx, cx
	cli
	pushf
	pop ax
	mov [es:0x4c], ax
	sti
.exit:	hlt

v86_ud:	ud2

v86_irq:
	mov ecx, 0x08000000
.spin:	cmp byte [es:0x60], 0
	jne .exit
	dec ecx
	jnz .spin
.exit:	hlt

; INT 0x41's handler: its frame (IP, CS, FLAGS) to ES:BX, SP to BX+6,
; its own PUSHF to BX+8.
v86_int41:
	push bp
	mov bp, sp
	mov ax, [bp + 2]
	mov [es:bx], ax
	mov ax, [bp + 4]
	mov [es:bx + 2], ax
	mov ax, [bp + 6]
	mov [es:bx + 4], ax
	lea ax, [bp + 2]
	mov [es:bx + 6], ax
	pop bp
	pushf
	pop ax
	mov [es:bx + 8], ax
	iret

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
rec:		resd 11
k_esp:		resd 1
pvi_res:	resd 4
irq_eflags:	resd 1
