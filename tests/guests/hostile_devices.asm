; Hostile guest: garbage written to every register of every device on the
; bus, through its ports (keyboard controller, port 0x92, ACPI PM, both
; 8259s and the ELCR, the 8254, the RTC/CMOS, COM1, PCI configuration
; space) and its MMIO (I/O APIC at 0xfec00000, local APIC at 0xfee00000,
; btvm's test device at 0xfebf0000), each register at widths 1, 2 and 4
; (and 8 where a device takes it). The monitor must survive; the guest
; checks the few things a PC guarantees whatever was written before:
; read-only PCI identification, all ones from functions that do not
; exist, CMOS RAM that keeps what was written, the keyboard controller's
; self-test answer, the I/O APIC's version register, the test device's
; scratch and identification. The network card (00:03.0) is there by
; default; run with --net none and the command line "nonet", the guest
; expects nothing there instead.
;
; Left out, because on a PC they end or reset the machine or pull the
; floor from under the guest: keyboard controller commands that pulse the
; reset line or A20 low (0xf0-0xfe without bits 0 and 1 both set), A20
; off (0xdd), output-port values (command 0xd1) with bit 0 or 1 clear,
; port 0x92 values with bit 0 set or bit 1 clear (A20 off wraps this
; guest, loaded at 1 MiB, onto low memory; btvm does not apply A20, a PC
; and QEMU do), and PM1a control values with SLP_EN (S5 powers off;
; another sleep type with no wake event enabled would sleep for good). Interrupts stay off (IF =
; 0): the devices may raise whatever they like, the CPU does not take it.
%define GUEST_NAME "hostile_devices"
%include "lib.inc"
%include "hostile_lib.inc"

IOAPIC		equ 0xfec00000
LAPIC		equ 0xfee00000
TD		equ 0xfebf0000
TD_ID		equ 0x10c
TD_MAGIC	equ 0x7e57de71
PCI_ADDR	equ 0xcf8
PCI_DATA	equ 0xcfc

guest_start
	call lib_install_idt
	call lib_pic_init

; ---------------------------------------------- keyboard controller
group "i8042"
t_i8042:
	xor ebx, ebx			; command byte
.cmd:
	cmp ebx, 0xdd
	je .next			; A20 off: skipped
	cmp ebx, 0xf0
	jb .send
	mov eax, ebx
	and eax, 3
	cmp eax, 3
	jne .next			; pulses reset or A20 low: skipped
.send:
	call kbc_wait_input
	mov al, bl
	out 0x64, al
	; the data byte a command may wait for; the output port keeps
	; its reset line (bit 0) and A20 (bit 1) high
	mov eax, ebx
	call hl_garbage
	cmp ebx, 0xd1
	jne .data
	or al, 3
.data:
	call kbc_wait_input
	out 0x60, al
	call kbc_drain
.next:
	inc ebx
	cmp ebx, 0x100
	jb .cmd
	; the keyboard behind it: every command byte with a garbage argument
	xor ebx, ebx
.kbd:
	call kbc_wait_input
	mov al, bl
	out 0x60, al
	mov eax, ebx
	call hl_garbage
	call kbc_wait_input
	out 0x60, al
	call kbc_drain
	inc ebx
	cmp ebx, 0x100
	jb .kbd
	; still a keyboard controller: self test answers 0x55
	call kbc_wait_input
	mov al, 0xaa
	out 0x64, al
	call kbc_read
	check eax, 0x55

; ---------------------------------------------------------- port 0x92
group "port92"
t_port92:
	mov ebx, 2
.val:
	mov al, bl
	out 0x92, al			; bit 0 (fast reset) clear, bit 1 (A20) set
	in al, 0x92
	add bl, 4
	cmp bl, 2
	jne .val
	mov al, 0x02			; A20 on, as firmware leaves it
	out 0x92, al

; ------------------------------------------------------------ ACPI PM
group "acpi_pm"
t_acpi_pm:
	mov edx, 0x600
.port:
	mov ecx, 1
.width:
	lea eax, [edx + ecx * 8]
	call hl_garbage
	; SLP_EN is bit 13 of PM1a control (0x604): bit 5 of port 0x605
	mov esi, 0x605
	sub esi, edx
	jb .write
	cmp esi, ecx
	jae .write
	push ecx
	lea ecx, [esi * 8 + 5]
	mov esi, 1
	shl esi, cl
	not esi
	and eax, esi
	pop ecx
.write:
	cmp ecx, 2
	ja .w4
	je .w2
	out dx, al
	in al, dx
	jmp .done
.w2:
	out dx, ax
	in ax, dx
	jmp .done
.w4:
	out dx, eax
	in eax, dx
.done:
	shl ecx, 1
	cmp ecx, 4
	jbe .width
	inc edx
	cmp edx, 0x60c
	jb .port
	xor eax, eax			; SCI sources off
	mov dx, 0x602
	out dx, ax
	mov ax, 0xffff			; and their status cleared
	mov dx, 0x600
	out dx, ax

; ------------------------------------------------ 8259 pair and ELCR
group "pic"
t_pic:
	mov esi, pic_ports
.port:
	movzx edx, word [esi]
	test edx, edx
	jz .out
	xor ebx, ebx
.val:
	mov eax, ebx
	call hl_garbage
	mov al, bl			; every value, in garbage order of use
	out dx, al
	in al, dx
	mov eax, ebx
	call hl_garbage
	out dx, ax			; and two registers at once
	inc ebx
	cmp ebx, 0x100
	jb .val
	add esi, 2
	jmp .port
.out:
	call lib_pic_init
	mov dx, 0x4d0			; ELCR: every line edge-triggered again
	xor ax, ax
	out dx, ax

; --------------------------------------------------------------- 8254
group "pit"
t_pit:
	xor ebx, ebx			; control word
.ctl:
	mov al, bl
	out 0x43, al
	mov eax, ebx
	call hl_garbage
	mov ecx, ebx
	shr ecx, 6
	cmp ecx, 3
	je .readback			; read-back command: no channel to load
	lea edx, [ecx + 0x40]
	out dx, al			; count bytes, for whatever access mode
	mov al, ah
	out dx, al
	in al, dx
	in al, dx
	jmp .next
.readback:
	in al, 0x40
	in al, 0x41
	in al, 0x42
.next:
	inc ebx
	cmp ebx, 0x100
	jb .ctl
	in eax, 0x40			; all four at once
	mov eax, 0x5a5a5a5a
	out 0x40, eax
	mov al, 0xff			; port B: gate and speaker on, then off
	out 0x61, al
	in al, 0x61
	xor al, al
	out 0x61, al
	call pit_calm

; ----------------------------------------------------------- RTC/CMOS
group "rtc"
t_rtc:
	xor ebx, ebx			; index, bit 7 the NMI mask
.idx:
	mov al, bl
	out 0x70, al
	mov eax, ebx
	call hl_garbage
	out 0x71, al
	in al, 0x71
	mov al, bl
	out 0x70, al
	mov eax, ebx
	call hl_garbage
	out 0x70, ax			; index and data in one access
	inc ebx
	cmp ebx, 0x100
	jb .idx
	call rtc_calm
	; CMOS RAM past the clock registers keeps what it was given
	hl_begin
	mov ebx, 0x0e
.ram:
	mov al, bl
	out 0x70, al
	lea eax, [ebx + 0x77]
	call hl_garbage
	mov cl, al
	out 0x71, al
	in al, 0x71
	cmp al, cl
	je .ram_ok
	cmp ebx, 0x32			; the century: a clock register on many
	je .ram_ok			; chipsets (and in QEMU), RAM in btvm
	cmp ebx, 0x37			; the PS/2 century, the same
	je .ram_ok
	mov edx, ebx
	movzx eax, al
	mov ecx, 1
	call hl_bad
.ram_ok:
	inc ebx
	cmp ebx, 0x80
	jb .ram
	hl_end

; ---------------------------------------------------------------- COM1
group "uart"
t_uart:
	mov edi, COM1			; register
.reg:
	xor ebx, ebx			; value
.val:
	call hl_com1_loopback		; garbage stays off the console
	mov al, bl
	cmp edi, COM1 + 4
	jne .write
	or al, 0x10			; MCR: loopback kept
.write:
	mov edx, edi
	out dx, al
	in al, dx
	mov dx, COM1 + 3		; then the divisor latch in view
	in al, dx
	xor al, 0x80
	out dx, al
	mov dx, COM1
	in al, dx
	out dx, al
	mov dx, COM1 + 1
	in al, dx
	out dx, al
	mov dx, COM1 + 3
	in al, dx
	xor al, 0x80
	out dx, al
	inc ebx
	cmp ebx, 0x100
	jb .val
	inc edi
	cmp edi, COM1 + 8
	jb .reg
	call hl_com1_init

; ------------------------------------------------ PCI configuration
group "pci"
t_pci:
	; CONFIG_ADDRESS garbage, at every width and offset but those that
	; reach 0xcf9 (a PIIX/ICH reset control register on a PC)
	mov edx, PCI_ADDR
.addr:
	mov eax, edx
	call hl_garbage
	cmp edx, PCI_ADDR + 1
	jbe .addr_read
	out dx, al
	out dx, ax
.addr_read:
	in al, dx
	in ax, dx
	inc edx
	cmp edx, PCI_ADDR + 4
	jb .addr
	mov eax, 0xfedcba98
	mov dx, PCI_ADDR
	out dx, eax
	mov dx, PCI_ADDR
	mov eax, 0x7ffff7fc		; enable bit clear: no configuration cycle
	out dx, eax
	mov dx, PCI_DATA
	in eax, dx
	check eax, 0xffffffff
	; every register of the host bridge, the ISA bridge, the display, the
	; network card (or nothing under --net none), a function that does
	; not exist and the last function of the last bus
	push esi
	mov esi, s_cmd_nonet
	call lib_cmdline_has
	pop esi
	test eax, eax
	jz .net_expected
	mov dword [pci_net_id], 0xffffffff
.net_expected:
	hl_begin
	mov esi, pci_functions
.fn:
	mov ebx, [esi]
	test ebx, ebx
	jz .fns_done
	xor edi, edi			; register
.reg:
	mov eax, ebx
	or eax, edi
	mov dx, PCI_ADDR
	out dx, eax
	mov eax, ebx
	xor eax, edi
	call hl_garbage
	mov ecx, edi
	and ecx, 3
	mov dx, PCI_DATA
	add dx, cx
	out dx, al			; byte, word and dword at each offset
	cmp ecx, 3
	je .read
	out dx, ax
	test ecx, ecx
	jnz .read
	out dx, eax
.read:
	in al, dx
	inc edi
	cmp edi, 0x100
	jb .reg
	; then the identification: read-only, or all ones for no function
	mov eax, ebx
	mov dx, PCI_ADDR
	out dx, eax
	mov dx, PCI_DATA
	in eax, dx
	cmp eax, [esi + 4]
	je .id_ok
	mov edx, ebx
	mov ecx, 4
	call hl_bad
.id_ok:
	add esi, 8
	jmp .fn
.fns_done:
	hl_end
	mov dx, PCI_ADDR
	xor eax, eax
	out dx, eax

; ------------------------------------------------------------ I/O APIC
group "ioapic"
t_ioapic:
	; every index, a garbage dword through the window, read back
	xor ebx, ebx
.idx:
	mov [IOAPIC], ebx
	mov eax, ebx
	call hl_garbage
	mov [IOAPIC + 0x10], eax
	mov eax, [IOAPIC + 0x10]
	inc ebx
	cmp ebx, 0x100
	jb .idx
	; every byte of the page at every width
	mov ebx, IOAPIC
	call mmio_page_garbage
	; every pin masked again; the version register is read-only
	mov ebx, 0x10
.mask:
	mov [IOAPIC], ebx
	mov dword [IOAPIC + 0x10], 0x10000
	add ebx, 2
	cmp ebx, 0x40
	jb .mask
	mov dword [IOAPIC], 1
	mov eax, [IOAPIC + 0x10]
	and eax, 0x00ff00ff
	check eax, 0x00170011		; 24 pins, version 0x11

; ---------------------------------------------------------- local APIC
group "lapic"
t_lapic:
	; every register, a garbage dword, read back
	xor ebx, ebx
.reg:
	mov eax, ebx
	call hl_garbage
	mov [LAPIC + ebx], eax
	mov eax, [LAPIC + ebx]
	add ebx, 0x10
	cmp ebx, 0x1000
	jb .reg
	mov ebx, LAPIC
	call mmio_page_garbage
	call lapic_calm
	; the APIC base MSR: disabled (the page then reads all ones) and
	; enabled again
	mov ecx, 0x1b
	rdmsr
	mov esi, eax
	and eax, ~0x800
	wrmsr
	mov eax, [LAPIC + 0x30]
	check eax, 0xffffffff
	mov dword [LAPIC + 0x80], 0x12345678	; dropped
	mov eax, esi
	wrmsr
	call lapic_calm

; -------------------------------------------------------- test device
group "testdev"
t_testdev:
	mov ebx, TD
	call mmio_page_garbage
	movq mm0, [TD]			; 8 bytes at once
	movq [TD + 0xf8], mm0
	emms
	check dword [TD + TD_ID], TD_MAGIC
	mov dword [TD + 0x40], 0xfeedf00d
	check dword [TD + 0x40], 0xfeedf00d

	guest_finish

; mmio_page_garbage: EBX = a device page. Every offset gets a garbage byte,
; word and dword written and read back (the device decides what they
; mean; the monitor must only carry them).
mmio_page_garbage:
	pushad
	xor ecx, ecx
.off:
	lea eax, [ebx + ecx]
	call hl_garbage
	mov [ebx + ecx], al
	mov dl, [ebx + ecx]
	cmp ecx, 0xffe
	ja .next
	mov [ebx + ecx], ax
	mov dx, [ebx + ecx]
	cmp ecx, 0xffc
	ja .next
	mov [ebx + ecx], eax
	mov edx, [ebx + ecx]
.next:
	inc ecx
	cmp ecx, 0x1000
	jb .off
	popad
	ret

; lapic_calm: the local APIC software-enabled with every LVT masked, the
; timer stopped and TPR 0, whatever the garbage left.
lapic_calm:
	mov dword [LAPIC + 0x380], 0		; timer initial count: stopped
	mov dword [LAPIC + 0xf0], 0x1ff		; SVR: enabled, spurious 0xff
	mov dword [LAPIC + 0x80], 0		; TPR
	mov dword [LAPIC + 0x320], 0x10000	; LVT timer, masked
	mov dword [LAPIC + 0x330], 0x10000	; thermal
	mov dword [LAPIC + 0x340], 0x10000	; performance counters
	mov dword [LAPIC + 0x350], 0x10000	; LINT0
	mov dword [LAPIC + 0x360], 0x10000	; LINT1
	mov dword [LAPIC + 0x370], 0x10000	; error
	ret

pit_calm:
	push eax
	mov al, 0x30			; channel 0: mode 0, never reloaded
	out 0x43, al
	xor al, al
	out 0x40, al
	out 0x40, al
	mov al, 0x70			; channel 1 the same
	out 0x43, al
	xor al, al
	out 0x41, al
	out 0x41, al
	pop eax
	ret

rtc_calm:
	push eax
	mov al, 0x8a			; register A: the 32 kHz base, no rate
	out 0x70, al
	mov al, 0x20
	out 0x71, al
	mov al, 0x8b			; register B: 24-hour, no interrupts
	out 0x70, al
	mov al, 0x02
	out 0x71, al
	mov al, 0x0c
	out 0x70, al
	in al, 0x71
	pop eax
	ret

; kbc_wait_input: until the controller's input buffer is empty (bounded:
; a controller that never empties it fails the guest rather than hang).
kbc_wait_input:
	push eax
	push ecx
	mov ecx, 100000
.poll:
	in al, 0x64
	test al, 2
	jz .out
	loop .poll
	pop ecx
	pop eax
	fatal "keyboard controller input buffer stays full"
.out:
	pop ecx
	pop eax
	ret

; kbc_drain: read every byte the controller or keyboard has queued.
kbc_drain:
	push eax
	push ecx
	mov ecx, 64
.poll:
	in al, 0x64
	test al, 1
	jz .out
	in al, 0x60
	loop .poll
.out:
	pop ecx
	pop eax
	ret

; kbc_read: EAX = the next byte from the controller (0xffffffff if none
; comes).
kbc_read:
	push ecx
	mov ecx, 100000
.poll:
	in al, 0x64
	test al, 1
	jnz .got
	loop .poll
	mov eax, 0xffffffff
	pop ecx
	ret
.got:
	xor eax, eax
	in al, 0x60
	pop ecx
	ret


section .rodata
s_cmd_nonet:	db "nonet", 0
align 4
pic_ports:	dw 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0

section .data
align 4
; CONFIG_ADDRESS of a function (enable bit set) and what its vendor and
; device ID register must read after the garbage (writable: the network
; card's entry depends on --net)
pci_functions:
	dd 0x80000000, 0x12378086	; 00:00.0 i440FX host bridge
	dd 0x80000800, 0x70008086	; 00:01.0 PIIX3 ISA bridge
	dd 0x80001000, 0x11111234	; 00:02.0 std VGA (bochs display)
	dd 0x80001800			; 00:03.0 virtio-net (--net user, the default)
pci_net_id:
	dd 0x10411af4
	dd 0x8000f800, 0xffffffff	; 00:1f.0 nothing
	dd 0x80fff800, 0xffffffff	; ff:1f.0 nothing
	dd 0, 0
