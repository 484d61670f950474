; Hostile guest: resets in a loop. Each boot counts itself in CMOS RAM
; (battery-backed: a reset keeps it, as on a PC) and in DRAM outside the
; image (a warm reset keeps that too), then ends the boot a different way:
; triple faults from an empty IDT, an IDT in memory nobody claims (its
; gates read all ones), an IDT of not-present gates, a GDT nobody claims
; (the gate's CS is unusable), gates whose CS lies beyond the GDT limit, a
; stack in a not-present page (the frame cannot be pushed), a TSS nobody
; claims under a fault in ring 3 (no ring-0 stack), CR3 nobody claims
; (with CR4.PSE reserved bits in every directory entry; without it all of
; the address space maps to unclaimed memory), and the two reset
; lines a PC has: the keyboard controller's 0xfe and port 0x92's bit 0.
; Every kind twice; the boot after the last checks both counters and
; passes. btvm must restart the machine each time, as a PC does, and not
; end the run (CTest runs it without --no-reboot).
%define GUEST_NAME "hostile_triple"
%include "lib.inc"
%include "hostile_lib.inc"
%include "rings.inc"

CMOS_MAGIC_IDX	equ 0x50		; free CMOS RAM (past the checksummed area)
CMOS_COUNT_IDX	equ 0x51
CMOS_MAGIC	equ 0xb7
RAM_COUNT	equ 0x7000		; below the Multiboot information (0x9000)
KINDS		equ 11
ROUNDS		equ 2
UNCLAIMED	equ 0xe0000000
SLOT_TSS	equ 0x68

guest_start
	call hl_pci_off
	; the boot count: CMOS holds it from the second boot on
	mov al, CMOS_MAGIC_IDX
	out 0x70, al
	in al, 0x71
	cmp al, CMOS_MAGIC
	je .counted
	mov al, CMOS_MAGIC_IDX
	out 0x70, al
	mov al, CMOS_MAGIC
	out 0x71, al
	mov al, CMOS_COUNT_IDX
	out 0x70, al
	xor al, al
	out 0x71, al
	mov dword [RAM_COUNT], 0
.counted:
	mov al, CMOS_COUNT_IDX
	out 0x70, al
	in al, 0x71
	inc al
	mov bl, al
	mov al, CMOS_COUNT_IDX
	out 0x70, al
	mov al, bl
	out 0x71, al
	movzx ebx, bl
	inc dword [RAM_COUNT]
	mov esi, s_boot
	call lib_puts
	mov eax, ebx
	call lib_putdec
	call lib_newline
	cmp ebx, KINDS * ROUNDS
	ja finish
	; this boot's way out: kind (count - 1) mod KINDS
	lea eax, [ebx - 1]
	xor edx, edx
	mov ecx, KINDS
	div ecx
	jmp [kinds + edx * 4]

finish:
group "resets"
	check ebx, KINDS * ROUNDS + 1
	check dword [RAM_COUNT], KINDS * ROUNDS + 1
	guest_finish

; --------------------------------------------------------------- kinds

; An empty IDT: INT3 cannot be delivered (#GP), nor can #GP (#DF), nor #DF.
kind_empty_idt:
	lidt [idtr_empty]
	int3
	jmp still_here

; The IDT in memory nobody claims: every gate reads all ones (no gate).
kind_idt_unclaimed:
	lidt [idtr_unclaimed]
	ud2
	jmp still_here

; An IDT of not-present gates: #DE, then #NP, then #DF find nothing.
kind_idt_not_present:
	lidt [idtr_zero]
	xor ecx, ecx
	div ecx
	jmp still_here

; The GDT in memory nobody claims: the gates' CS (0x08) reads as DPL 3
; conforming code, which no handler at CPL 0 may run in.
kind_gdt_unclaimed:
	call lib_install_idt
	lgdt [gdtr_unclaimed]
	int3
	jmp still_here

; The GDT cut to its null entry: the gates' CS lies beyond its limit.
kind_gdt_short:
	call lib_install_idt
	lgdt [gdtr_short]
	int3
	jmp still_here

; Paging on, ESP in a not-present page: the frame of INT3 faults (#PF),
; so does #PF's and #DF's.
kind_stack_not_present:
	call lib_install_idt
	mov dword [pd], 0 | 0x83	; 0-4 MiB, a 4 MiB page; the rest absent
	mov eax, CR4_PSE
	mov cr4, eax
	hl_paging_on pd
	jmp .on
.on:
	mov esp, 0x00800000
	int3
	jmp still_here

; A TSS nobody claims, and a fault in ring 3: ring 0's SS:ESP read all
; ones (SS beyond the GDT: #TS), which #TS and #DF need as well.
kind_tss_unclaimed:
	call lib_install_idt
	call rings_setup
	mov eax, SLOT_TSS
	mov ebx, UNCLAIMED
	mov ecx, 0x67
	mov edx, 0x0089
	call lib_set_desc
	mov ax, SLOT_TSS
	ltr ax
	mov eax, user_fault
	xor ecx, ecx
	call rings_run_user
	jmp still_here

user_fault:
	ud2
	leave_user

; The keyboard controller's reset line.
kind_kbc_reset:
	call kbc_wait
	mov al, 0xfe
	out 0x64, al
	mov ecx, 10000000
	loop $
	jmp still_here

; Port 0x92's fast reset.
kind_port92_reset:
	in al, 0x92
	and al, ~1
	out 0x92, al
	or al, 1
	out 0x92, al
	mov ecx, 10000000
	loop $
	jmp still_here

; Paging on with CR3 nobody claims and CR4.PSE: every directory entry
; reads all ones, a 4 MiB page with reserved bits set, so the next fetch
; takes a #PF (RSVD), and so does every IDT read after it.
kind_cr3_unclaimed:
	call lib_install_idt
	mov eax, CR4_PSE
	mov cr4, eax
	hl_paging_on UNCLAIMED
	jmp still_here

; The same without CR4.PSE: every entry is present and points at the
; last page of the 4 GiB, so all linear addresses, code and IDT included,
; map to unclaimed memory. The fetch reads 0xff bytes (FF /7: #UD), the
; gate all ones (#GP), and so on to the shutdown.
kind_cr3_unclaimed_4k:
	call lib_install_idt
	xor eax, eax
	mov cr4, eax
	hl_paging_on UNCLAIMED
	jmp still_here

; A kind whose reset did not come: the monitor went on where a PC stops.
still_here:
	mov esp, lib_stack_top
	call lib_load_gdt
	fatal "the machine went on after what must reset it"

kbc_wait:
	in al, 0x64
	test al, 2
	jnz kbc_wait
	ret

section .rodata
align 4
kinds:
	dd kind_empty_idt, kind_idt_unclaimed, kind_idt_not_present
	dd kind_gdt_unclaimed, kind_gdt_short, kind_stack_not_present
	dd kind_tss_unclaimed, kind_kbc_reset, kind_port92_reset
	dd kind_cr3_unclaimed, kind_cr3_unclaimed_4k
s_boot:	db "boot ", 0
align 4
	dw 0
idtr_empty:
	dw 0
	dd 0
	dw 0
idtr_unclaimed:
	dw 0x7ff
	dd UNCLAIMED
	dw 0
idtr_zero:
	dw 0x7ff
	dd idt_zero
	dw 0
gdtr_unclaimed:
	dw 0xffff
	dd UNCLAIMED
	dw 0
gdtr_short:
	dw 7
	dd lib_gdt

section .bss
alignb 4096
pd:		resd 1024
idt_zero:	resq 256
