; MMIO and port devices from several CPUs at once (run with --smp 2 and 4,
; and under QEMU -smp N). Every CPU, released together, repeatedly:
; - reads its local APIC's ID at 0xfee00000 + 0x20 (each must see its
;   own, CPUID leaf 1's, while the others read theirs at the same
;   address) and writes and reads back its own TPR;
; - under a lock taken by XCHG (the I/O APIC's index/data window and the
;   CMOS index port are one per machine, as an OS serializes them): its
;   own I/O APIC redirection entry (pin 16 + ID, masked) written and read
;   back through IOREGSEL/IOWIN, the version register read, and its own
;   CMOS RAM byte (0x60 + ID) through ports 0x70/0x71;
; - without a lock, its own dword of btvm's test device's scratch array
;   written and read back, and LOCK XADD on one shared dword there (an
;   atomic read-modify-write on MMIO).
; The BSP then checks each CPU's results, the final entries and bytes,
; the shared dword's exact total and the test device's count of scratch
; writes (each store and each XADD one: none lost). The test device is
; btvm's own (src/devices/testdev.h): under QEMU the group "testdev"
; fails, as run_qemu_guest.sh is told.
%define GUEST_NAME "smp_mmio"
%include "lib.inc"
%include "smp.inc"
%include "smp_lib.inc"

APIC_TPR	equ APIC + 0x80
IOAPIC		equ 0xfec00000
IOREGSEL	equ IOAPIC
IOWIN		equ IOAPIC + 0x10
IOAPIC_VER	equ 1
IOAPIC_PIN0	equ 16			; + ID: each CPU's redirection entry
CMOS_BYTE0	equ 0x60		; + ID: each CPU's CMOS RAM byte
TD		equ 0xfebf0000
TD_WRITES	equ TD + 0x100
TD_ID		equ TD + 0x10c
TD_MAGIC	equ 0x7e57de71
TD_SHARED	equ TD + 0x80		; the dword every CPU adds to
ID_ROUNDS	equ 20000		; LAPIC ID reads, TPR writes: each CPU
LOCKED_ROUNDS	equ 2000		; I/O APIC and CMOS rounds: each CPU
TD_ROUNDS	equ 5000		; test device stores, XADDs: each CPU
RTE_MASKED	equ 0x10000
RTE_LAST	equ RTE_MASKED | 0x80 | ((LOCKED_ROUNDS - 1) & 0xf)	; but the ID
CMOS_LAST	equ (LOCKED_ROUNDS - 1) & 7	; a CPU's byte at the end, but the ID

guest_start
	call lib_pic_init
	call lib_install_idt
	smp_start_group
	; The test device's scratch zeroed, its write count noted.
	xor ecx, ecx
.zero:
	mov dword [TD + ecx * 4], 0
	inc ecx
	cmp ecx, 64
	jb .zero
	mov eax, [TD_WRITES]
	mov [td_writes0], eax
	mov eax, IOAPIC_VER
	call ioapic_read
	mov [ioapic_ver], eax
	mov dword [go], 1
	xor ebx, ebx
	call work
	mov eax, [cpus]
	dec eax
	smp_wait_eq [finished], eax
	check dword [finished], eax

group "lapic"
	; Each CPU read its own ID every time, and its own TPR back.
	xor ecx, ecx
	xor edx, edx
.lapic:
	mov eax, [id_bad + ecx * 4]
	or eax, [tpr_bad + ecx * 4]
	jnz .lapic_bad
	cmp [cpuid_id + ecx * 4], ecx	; CPUID leaf 1's ID: the array's index
	jne .lapic_bad
	inc edx
.lapic_bad:
	inc ecx
	cmp ecx, [cpus]
	jb .lapic
	check edx, dword [cpus]
	check dword [id_bad], 0
	check dword [tpr_bad], 0
	check dword [id_bad + 4], 0
	check dword [tpr_bad + 4], 0

group "ioapic"
	; Every entry read back as its CPU wrote it, every time, and as its
	; CPU's last write left it now; the version register the same for all.
	xor ecx, ecx
	xor edi, edi
.ioapic:
	cmp dword [io_bad + ecx * 4], 0
	jne .ioapic_bad
	lea eax, [ecx * 2 + IOAPIC_PIN0 * 2 + 0x10]
	call ioapic_read
	mov edx, ecx
	shl edx, 4
	or edx, RTE_LAST
	cmp eax, edx
	jne .ioapic_bad
	lea eax, [ecx * 2 + IOAPIC_PIN0 * 2 + 0x11]
	call ioapic_read
	mov edx, ecx
	shl edx, 24
	cmp eax, edx
	jne .ioapic_bad
	inc edi
.ioapic_bad:
	inc ecx
	cmp ecx, [cpus]
	jb .ioapic
	check edi, dword [cpus]
	check dword [io_bad], 0
	check dword [io_bad + 4], 0
	check dword [ver_bad], 0
	mov eax, [ioapic_ver]
	and eax, 0xff0000
	check eax, 0x170000		; 24 entries

group "cmos"
	xor ecx, ecx
	xor edi, edi
.cmos:
	cmp dword [cmos_bad + ecx * 4], 0
	jne .cmos_bad
	lea eax, [ecx + CMOS_BYTE0]
	out 0x70, al
	in al, 0x71
	movzx eax, al
	lea edx, [ecx * 8 + CMOS_LAST]
	cmp eax, edx
	jne .cmos_bad
	inc edi
.cmos_bad:
	inc ecx
	cmp ecx, [cpus]
	jb .cmos
	check edi, dword [cpus]
	check dword [cmos_bad], 0
	check dword [cmos_bad + 4], 0

group "testdev"
	check dword [TD_ID], TD_MAGIC
	xor ecx, ecx
	xor edi, edi
.td:
	cmp dword [td_bad + ecx * 4], 0
	jne .td_bad
	mov eax, ecx
	shl eax, 24
	or eax, TD_ROUNDS - 1
	cmp [TD + ecx * 4], eax
	jne .td_bad
	inc edi
.td_bad:
	inc ecx
	cmp ecx, [cpus]
	jb .td
	check edi, dword [cpus]
	mov eax, [cpus]
	imul eax, TD_ROUNDS
	check dword [TD_SHARED], eax
	add eax, eax			; a store and an XADD a round
	add eax, [td_writes0]
	check dword [TD_WRITES], eax
guest_finish

; ------------------------------------------------------------ the APs
ap_work:
	smp_wait_eq [go], 1
	call work
	lock inc dword [finished]
.idle:
	hlt
	jmp .idle

; work: every round of every kind for the CPU whose APIC ID is in EBX.
; Preserves EBX.
work:
	push ebx
	mov eax, 1
	cpuid
	shr ebx, 24
	mov eax, ebx
	pop ebx
	mov [cpuid_id + ebx * 4], eax

	; The local APIC: its ID, its TPR.
	mov esi, eax
	shl esi, 24			; the ID register's value
	xor ecx, ecx
.lapic:
	cmp [APIC_ID], esi
	je .id_ok
	inc dword [id_bad + ebx * 4]
.id_ok:
	lea eax, [ecx + ebx]
	and eax, 0xf
	shl eax, 4
	mov [APIC_TPR], eax
	mov edx, [APIC_TPR]
	and edx, 0xff
	cmp eax, edx
	je .tpr_ok
	inc dword [tpr_bad + ebx * 4]
.tpr_ok:
	inc ecx
	cmp ecx, ID_ROUNDS
	jb .lapic
	mov dword [APIC_TPR], 0

	; Under the lock: the I/O APIC's entry and version, the CMOS byte.
	xor ecx, ecx
.locked:
	call lock_take
	; Low dword: masked, fixed, vector 0x80 | ID << 4 | the round's low
	; four bits.
	lea eax, [ebx * 2 + IOAPIC_PIN0 * 2 + 0x10]
	mov edx, ebx
	shl edx, 4
	mov edi, ecx
	and edi, 0xf
	or edx, edi
	or edx, RTE_MASKED | 0x80
	call ioapic_write
	call ioapic_read
	cmp eax, edx
	je .low_ok
	inc dword [io_bad + ebx * 4]
.low_ok:
	lea eax, [ebx * 2 + IOAPIC_PIN0 * 2 + 0x11]
	mov edx, ebx
	shl edx, 24
	call ioapic_write
	call ioapic_read
	cmp eax, edx
	je .high_ok
	inc dword [io_bad + ebx * 4]
.high_ok:
	mov eax, IOAPIC_VER
	call ioapic_read
	cmp eax, [ioapic_ver]
	je .ver_ok
	inc dword [ver_bad]
.ver_ok:
	lea eax, [ebx + CMOS_BYTE0]
	out 0x70, al
	lea eax, [ebx * 8]
	mov edx, ecx
	and edx, 7
	or eax, edx
	out 0x71, al
	mov edx, eax
	lea eax, [ebx + CMOS_BYTE0]
	out 0x70, al
	in al, 0x71
	cmp al, dl
	je .cmos_ok
	inc dword [cmos_bad + ebx * 4]
.cmos_ok:
	mov dword [mmio_lock], 0
	inc ecx
	cmp ecx, LOCKED_ROUNDS
	jb .locked

	; The test device: its own dword, the shared one.
	mov esi, ebx
	shl esi, 24
	xor ecx, ecx
.td:
	lea eax, [esi + ecx]
	mov [TD + ebx * 4], eax
	cmp [TD + ebx * 4], eax
	je .td_ok
	inc dword [td_bad + ebx * 4]
.td_ok:
	mov eax, 1
	lock xadd [TD_SHARED], eax
	inc ecx
	cmp ecx, TD_ROUNDS
	jb .td
	ret

; ioapic_write: register EAX = EDX. ioapic_read: EAX = register EAX.
; Preserve the other registers.
ioapic_write:
	mov [IOREGSEL], eax
	mov [IOWIN], edx
	ret
ioapic_read:
	mov [IOREGSEL], eax
	mov eax, [IOWIN]
	ret

; lock_take: the lock of the index registers (XCHG, PAUSE while taken).
; Preserves registers but EAX.
lock_take:
	smp_lock_take [mmio_lock]
	ret

section .data
align 4
cpus:		dd 0
go:		dd 0
finished:	dd 0
mmio_lock:	dd 0
td_writes0:	dd 0
ioapic_ver:	dd 0
ver_bad:	dd 0
cpuid_id:	times SMP_MAX_CPUS dd -1
id_bad:		times SMP_MAX_CPUS dd 0
tpr_bad:	times SMP_MAX_CPUS dd 0
io_bad:		times SMP_MAX_CPUS dd 0
cmos_bad:	times SMP_MAX_CPUS dd 0
td_bad:		times SMP_MAX_CPUS dd 0
