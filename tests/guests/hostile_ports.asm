; Hostile guest: every I/O port 0..0xffff read and written at widths 1, 2
; and 4, with IN/OUT and with INS/OUTS. The monitor must survive all of
; it, and the guest must see what a PC shows: a read of ports no device
; claims gives all ones at its width (IN AL/AX leave the rest of EAX
; alone), INS stores what the port gave and steps EDI, string forms with a
; 16-bit address size wrap DI and leave the upper halves of ECX/EDI, and
; INS/OUTS may have MMIO (claimed or not) as their memory operand. Ring 3
; with IOPL 0 sweeps the ports under a TSS bitmap that allows them all
; (only the accesses reaching past port 0xffff, into the byte after the
; bitmap, fault), one that denies them all, and none at all.
;
; Writes skip the ports whose garbage would end or reset the machine on a
; PC too (a skipped access is one that covers any of them): 0x64 (the
; keyboard controller's pulse and output-port commands reset the CPU),
; 0x92 (bit 0 is the fast reset), 0xf4-0xf7 (isa-debug-exit ends the run),
; 0x604-0x605 (PM1a control: SLP_EN with SLP_TYP 5 powers off) and 0xcf9
; (a PIIX/ICH reset control register). hostile_devices.asm writes those
; devices' registers with the values that do not end the machine.
%define GUEST_NAME "hostile_ports"
%include "lib.inc"
%include "hostile_lib.inc"
%include "rings.inc"

UNCLAIMED_PORT	equ 0x100		; nothing on a PC or in btvm answers here
TD_PHYS		equ 0xfebf0000		; btvm's test device: a 256-byte scratch
UNCLAIMED_MMIO	equ 0xe0000000		; no RAM, no device

guest_start
	call lib_install_idt
	call lib_pic_init
	call hl_pci_off
	mov esi, claimed_map
	mov edi, claimed_ports
	call hl_mark_table
	mov esi, danger_map
	mov edi, danger_ports
	call hl_mark_table
	mov dword [canary], 0x5a5aa5a5

; ---------------------------------------------------------------- IN
group "in"
t_in:
	hl_begin
	xor edx, edx
.port:
	xor eax, eax
	in al, dx
	mov ecx, 1
	call expect_unclaimed
	xor eax, eax
	in ax, dx
	mov ecx, 2
	call expect_unclaimed
	in eax, dx
	mov ecx, 4
	call expect_unclaimed
	inc edx
	cmp edx, 0x10000
	jb .port
	hl_end
	; the upper bits IN AL and IN AX leave alone
	mov eax, 0x12345678
	mov dx, UNCLAIMED_PORT
	in al, dx
	check eax, 0x123456ff
	in ax, dx
	check eax, 0x1234ffff

; ---------------------------------------------------------------- OUT
group "out"
t_out:
	call hl_com1_loopback		; transmitted garbage stays off the console
	xor edx, edx
.port:
	mov esi, danger_map
	mov ecx, 1
	call hl_any
	jc .w2
	lea eax, [edx * 4 + 1]
	call hl_garbage
	out dx, al
.w2:
	mov ecx, 2
	call hl_any
	jc .w4
	lea eax, [edx * 4 + 2]
	call hl_garbage
	out dx, ax
.w4:
	mov ecx, 4
	call hl_any
	jc .skip
	lea eax, [edx * 4 + 3]
	call hl_garbage
	out dx, eax
.skip:
	inc edx
	cmp edx, 0x10000
	jb .port
	call calm_devices
	check dword [canary], 0x5a5aa5a5	; no device wrote RAM

; ---------------------------------------------------------------- INS
group "ins"
t_ins:
	hl_begin
	cld
	xor edx, edx
.port:
	mov ebx, 1
.width:
	mov dword [buf], 0
	mov dword [buf + 4], 0
	mov ecx, 2
	mov edi, buf
	cmp ebx, 2
	je .w2
	ja .w4
	rep insb
	jmp .did
.w2:
	rep insw
	jmp .did
.w4:
	rep insd
.did:
	; ECX counted down, EDI stepped over both elements
	mov eax, ecx
	mov ecx, ebx
	test eax, eax
	jz .count_ok
	call hl_bad
.count_ok:
	lea eax, [buf + ebx * 2]
	cmp edi, eax
	je .edi_ok
	mov eax, edi
	call hl_bad
.edi_ok:
	mov eax, [buf]
	call mask_width
	call expect_unclaimed
	mov eax, [buf + ebx]
	call mask_width
	call expect_unclaimed
	shl ebx, 1
	cmp ebx, 4
	jbe .width
	inc edx
	cmp edx, 0x10000
	jb .port
	hl_end

; ---------------------------------------------------------------- OUTS
group "outs"
t_outs:
	call hl_com1_loopback
	cld
	xor edx, edx
.port:
	mov eax, edx
	call hl_garbage
	mov [buf], eax
	call hl_garbage
	mov [buf + 4], eax
	mov esi, danger_map
	mov ecx, 1
	call hl_any
	jc .w2
	mov esi, buf
	mov ecx, 2
	rep outsb
	mov esi, danger_map
.w2:
	mov ecx, 2
	call hl_any
	jc .w4
	mov esi, buf
	rep outsw			; ECX = 2 already
	mov esi, danger_map
.w4:
	mov ecx, 4
	call hl_any
	jc .skip
	mov esi, buf
	mov ecx, 2
	rep outsd
.skip:
	inc edx
	cmp edx, 0x10000
	jb .port
	call calm_devices
	check dword [canary], 0x5a5aa5a5

; ------------------------------------------------- string I/O forms
group "string_forms"
t_string_forms:
	; 16-bit address size: DI wraps at 64 KiB, CX alone counts, the upper
	; halves of ECX and EDI stay
	mov ecx, 0xabcd0004
	mov edi, 0x5678fffe
	mov dx, UNCLAIMED_PORT
	mov dword [0xfffc], 0
	mov dword [0], 0
	a16 rep insb
	check ecx, 0xabcd0000
	check edi, 0x56780002
	check dword [0xfffc], 0xffff0000
	check dword [0], 0x0000ffff
	; backwards (DF = 1): the elements go down from EDI
	mov dword [buf], 0
	mov dword [buf + 4], 0
	mov dword [buf + 8], 0x11111111
	mov edi, buf + 4
	mov ecx, 2
	std
	rep insd
	cld
	check edi, buf - 4
	check dword [buf], 0xffffffff
	check dword [buf + 4], 0xffffffff
	check dword [buf + 8], 0x11111111
	; INS into a device's memory and into memory nobody claims
	mov dword [TD_PHYS], 0
	mov edi, TD_PHYS
	mov ecx, 4
	rep insb
	check edi, TD_PHYS + 4
	check dword [TD_PHYS], 0xffffffff
	mov edi, UNCLAIMED_MMIO
	mov ecx, 3
	rep insd
	check edi, UNCLAIMED_MMIO + 12
	check ecx, 0
	; OUTS from them (port 0x80, the POST sink, takes anything)
	mov dx, 0x80
	mov esi, TD_PHYS
	mov ecx, 4
	rep outsb
	check esi, TD_PHYS + 4
	mov esi, UNCLAIMED_MMIO
	mov ecx, 2
	rep outsd
	check esi, UNCLAIMED_MMIO + 8
	; a REP count far beyond one callout's share still finishes
	mov dx, UNCLAIMED_PORT
	mov ecx, 0x3000
	mov edi, big
	rep insd
	check ecx, 0
	check edi, big + 0x3000 * 4
	check dword [big], 0xffffffff
	check dword [big + 0x2fff * 4], 0xffffffff

; --------------------------------------- ring 3 and the I/O bitmap
group "user_io"
t_user_io:
	; a bitmap allowing every port: only the accesses that reach past
	; port 0xffff (into the all-ones byte after the bitmap) fault
	call rings_setup
	mov dword [lib_exc_hook], user_gp_hook
	mov edi, rings_tss + RING_TSS_SIZE
	xor eax, eax
	mov ecx, RING_IOMAP_SIZE / 4
	cld
	rep stosd
	mov dword [gp_count], 0
	mov eax, user_sweep
	xor ecx, ecx			; IOPL 0: the bitmap decides
	call rings_run_user
	check dword [gp_count], 4	; 0xffff (2, 4), 0xfffe (4), 0xfffd (4)
	check dword [gp_first], 0xfffd	; ... counted from the first
	check dword [gp_err], 0
	; every port denied (a sample of them; every width)
	mov edi, rings_tss + RING_TSS_SIZE
	mov eax, 0xffffffff
	mov ecx, RING_IOMAP_SIZE / 4
	rep stosd
	mov dword [gp_count], 0
	mov dword [sweep_step], 61
	mov eax, user_sweep
	xor ecx, ecx
	call rings_run_user
	check dword [gp_count], 3 * ((0x10000 + 60) / 61)
	; the bitmap base past the TSS limit: no bitmap, every port denied
	mov word [rings_tss + 0x66], 0xffff
	mov dword [gp_count], 0
	mov eax, user_sweep
	xor ecx, ecx
	call rings_run_user
	check dword [gp_count], 3 * ((0x10000 + 60) / 61)
	mov word [rings_tss + 0x66], RING_TSS_SIZE
	mov dword [lib_exc_hook], 0

	guest_finish

; user_sweep: ring 3 reads ports 0, step, 2 * step ... (sweep_step) at
; every width; a #GP goes on with the next access (user_gp_hook).
user_sweep:
	xor edx, edx
.port:
	mov dword [gp_resume], .w2
	in al, dx
.w2:
	mov dword [gp_resume], .w4
	in ax, dx
.w4:
	mov dword [gp_resume], .next
	in eax, dx
.next:
	add edx, [sweep_step]
	cmp edx, 0x10000
	jb .port
	leave_user

; user_gp_hook: counts #GP from ring 3, remembers the first port (EDX)
; and error code, and resumes ring 3 at gp_resume.
user_gp_hook:
	cmp dword [ss:esp], 13
	jne .other
	inc dword [ss:gp_count]
	cmp dword [ss:gp_count], 1
	jne .resume
	mov [ss:gp_first], edx
	push eax
	mov eax, [ss:esp + 8]
	mov [ss:gp_err], eax
	pop eax
.resume:
	push eax
	mov eax, [ss:gp_resume]
	mov [ss:esp + 12], eax
	pop eax
	add esp, 8
	iretd
.other:
	mov dword [ss:lib_exc_hook], 0
	jmp lib_catch_common

; expect_unclaimed: EAX = what a read of ECX bytes at port EDX gave (from
; IN, so the bits above the width were zero before). When no port it
; covers is claimed it must be all ones at that width. Preserves
; registers.
expect_unclaimed:
	push esi
	push ebx
	mov esi, claimed_map
	call hl_any
	jc .out
	mov ebx, 0xff
	cmp ecx, 1
	je .cmp
	mov ebx, 0xffff
	cmp ecx, 2
	je .cmp
	mov ebx, 0xffffffff
.cmp:
	cmp eax, ebx
	je .out
	call hl_bad
.out:
	pop ebx
	pop esi
	ret

; mask_width: EAX = its low ECX (1, 2 or 4) bytes, zero-extended.
mask_width:
	cmp ecx, 2
	ja .out
	je .word
	movzx eax, al
	ret
.word:
	movzx eax, ax
.out:
	ret

; calm_devices: after garbage reached every port, the devices that could
; otherwise keep the monitor busy or the console dark are set back:
; COM1 to 8N1 without loopback, the 8259s masked, PIT channel 0 to a
; one-shot that never fires again, the RTC's interrupts off.
calm_devices:
	push eax
	call hl_com1_init
	call lib_pic_init
	mov al, 0x30			; channel 0, lobyte/hibyte, mode 0
	out 0x43, al
	xor al, al
	out 0x40, al
	out 0x40, al
	mov al, 0x8b			; RTC register B, NMI off
	out 0x70, al
	mov al, 0x02			; 24-hour, no interrupts
	out 0x71, al
	mov al, 0x0c
	out 0x70, al
	in al, 0x71			; drop any pending flag
	pop eax
	ret

section .rodata
align 4
; Ports some device claims (btvm's board, as on a PC): reads there are the
; device's business, not necessarily all ones.
claimed_ports:
	dd 0x20, 2			; 8259 master
	dd 0x40, 4			; 8254
	dd 0x60, 2			; keyboard data, port B
	dd 0x64, 1			; keyboard status/command
	dd 0x70, 2			; RTC/CMOS
	dd 0x80, 1			; POST
	dd 0x92, 1			; system control port A
	dd 0xa0, 2			; 8259 slave
	dd 0xf4, 4			; isa-debug-exit
	dd 0x170, 8			; IDE secondary channel (decoded whatever PCI says)
	dd 0x1f0, 8			; IDE primary channel
	dd 0x1ce, 3			; Bochs display DISPI index, data (and the byte after)
	dd 0x376, 1			; IDE secondary device control
	dd 0x3b0, 0x30		; VGA (mono and colour CRTC, sequencer, GC, attribute, DAC)
	dd 0x3f6, 1			; IDE primary device control
	dd 0x3f8, 8			; COM1
	dd 0x402, 1			; debug console (SeaBIOS's log)
	dd 0x4d0, 2			; ELCR
	dd 0x600, 12			; ACPI PM1a event/control, PM timer
	dd 0xcf8, 8			; PCI configuration mechanism #1
	dd 0, 0
danger_ports:
	dd 0x64, 1
	dd 0x92, 1
	dd 0xf4, 4
	dd 0x604, 2
	dd 0xcf9, 1
	dd 0, 0

section .data
align 4
sweep_step:	dd 1

section .bss
alignb 4
gp_count:	resd 1
gp_first:	resd 1
gp_err:		resd 1
gp_resume:	resd 1
canary:		resd 1
buf:		resd 4
; one bit per port, plus the three a 4-byte access at 0xffff reaches
claimed_map:	resb 65536 / 8 + 4
danger_map:	resb 65536 / 8 + 4
alignb 4096
big:		resd 0x3000
