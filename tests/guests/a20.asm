; The A20 gate (issue 43, item 1): a Multiboot guest that closes and opens
; A20 through port 0x92 and through the keyboard controller (0xd1 and a
; data byte, 0xdd, 0xdf) and checks that physical-address bit 20 is
; cleared on every access while the gate is closed: data, instruction
; fetches, string instructions, real-mode FFFF:xxxx addresses, and with
; paging on the page walk's own reads as well as the address it makes.
; Port 0x92's bit 1 and the output port's bit 1 (0xd0) read back as
; written. It passes under QEMU (guest_a20_qemu) as under btvm.
;
; The PC opens A20 when either source opens it; QEMU lets the last write
; of either set it. The steps here only toggle one source while the other
; is closed, where both rules agree (machine/wiring.c, board__a20_update).
;
; The kernel lives at 1 MiB, which a closed gate folds onto 0, so
; everything that runs with the gate closed is a blob (blob_start ..
; blob_end) copied to BLOB_BASE, with its own copy of the GDT there and a
; stack below 1 MiB; it records what it sees in its own memory, and the
; kernel checks the records once it is back with the gate open. Its 32-bit
; code runs with CS based at BLOB_BASE (offsets R(label)) and flat data.
;
; Groups (checked after the blob ran):
;	start       the gate open at entry: no alias, both bits read 1
;	closed      port 0x92 and the keyboard controller both closed
;	port92      port 0x92 alone opens and closes it
;	kbc         the output port (0xd1) and 0xdd/0xdf alone, 0xd0 reads it
;	fetch       a far call to 0x134000 runs the code at 0x34000 (and the
;	            block translated there with the gate open is not reused)
;	strings     REP MOVSD and REP STOSD aimed above 1 MiB land below it
;	realmode    FFFF:F010 is 0000:F000, a far call to FFFF:E010 runs
;	            0000:E000, and not once port 0x92 opens the gate
;	paging      a page table at 0x152000 is read at 0x52000, the page it
;	            maps is masked too, and the gate toggled with paging on

%define GUEST_NAME "a20"
%include "lib.inc"

BLOB_BASE	equ 0x20000		; where the blob runs
BLOB_SEG	equ BLOB_BASE >> 4
STACK_TOP	equ 0x7fff0		; the blob's stack, flat and real mode
RM_STACK_SEG	equ 0x7000

ALIAS		equ 0x100000		; bit 20
LOW_DATA	equ 0x30000		; the probe's pair
HIGH_DATA	equ LOW_DATA + ALIAS
LOW_CODE	equ 0x34000		; mov eax, 1; retf
HIGH_CODE	equ LOW_CODE + ALIAS	; mov eax, 2; retf
STR_SRC		equ 0x36000		; 16 dwords
MOVS_LOW	equ 0x37000
MOVS_HIGH	equ MOVS_LOW + ALIAS
STOS_LOW	equ 0x38000		; 40 dwords
STOS_HIGH	equ STOS_LOW + ALIAS
MOVS2_DST	equ 0x39000		; copied from STR_SRC + ALIAS
PD		equ 0x50000
PT0		equ 0x51000		; identity for 0-4 MiB
PT1_LOW		equ 0x52000		; linear 4 MiB -> MARK_B
PT1_HIGH	equ PT1_LOW + ALIAS	; linear 4 MiB -> MARK_A (PD[1] names it)
MARK_A		equ 0x58000
MARK_B		equ 0x59000
RM_DATA_OFF	equ 0xf010		; FFFF:F010 = 0x10F000, or 0xF000 closed
RM_CODE_OFF	equ 0xe010		; FFFF:E010 = 0x10E000, or 0xE000 closed
KERNEL_LIMIT	equ 0x10e000		; the kernel must end below both

OPEN		equ 0x11111111		; what the probe reads with the gate open
FOLDED		equ 0x22222222		; and closed

SEL_CODE32B	equ 0x28		; 32-bit code, base BLOB_BASE, 4 GiB
SEL_CODE16	equ 0x30		; 16-bit code, base BLOB_BASE, 64 KiB
SEL_DATA16	equ 0x38		; 16-bit data, base 0, 64 KiB

%define R(x) ((x) - blob_start)
%define B(x) (BLOB_BASE + R(x))

guest_start
	call lib_install_idt
	call lib_pic_init
	cmp dword [kernel_end_ptr], KERNEL_LIMIT
	jb .fits
	fatal "the kernel reaches the real-mode test's addresses"
.fits:
	cld
	mov esi, blob_start
	mov edi, BLOB_BASE
	mov ecx, blob_end - blob_start
	rep movsb

	mov eax, SEL_CODE32B
	mov ebx, BLOB_BASE
	mov ecx, 0xfffff
	mov dx, 0x0c9a			; G, D: 32-bit code
	call lib_set_desc
	mov eax, SEL_CODE16
	mov ecx, 0xffff
	mov dx, 0x009a
	call lib_set_desc
	mov eax, SEL_DATA16
	xor ebx, ebx
	mov dx, 0x0092
	call lib_set_desc
	; The GDT the blob runs on: a copy below 1 MiB, same selectors.
	sgdt [gdtr_saved]
	movzx ecx, word [gdtr_saved]
	inc ecx
	mov esi, [gdtr_saved + 2]
	mov edi, B(gdt_copy)
	rep movsb
	mov ax, [gdtr_saved]
	mov [B(gdtr_copy)], ax
	mov dword [B(gdtr_copy) + 2], B(gdt_copy)
	lgdt [B(gdtr_copy)]

	mov [pm_esp], esp
	jmp SEL_CODE32B:R(blob32)

; Back from the blob, the gate open again.
pm_back:
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov esp, [pm_esp]
	call lib_load_gdt
	cmp dword [B(res_done)], 1
	je .ran
	fail_now "the blob did not run to its end"
.ran:
	group "start"
	check dword [B(res_s0)], OPEN
	check dword [B(res_92_s0)], 2
	check dword [B(res_kbc_s0)], 2
	group "closed"
	check dword [B(res_s1)], FOLDED
	check dword [B(res_92_s1)], 0
	check dword [B(res_kbc_s1)], 0
	group "port92"
	check dword [B(res_s2)], OPEN
	check dword [B(res_92_s2)], 2
	check dword [B(res_s3)], FOLDED
	check dword [B(res_92_s3)], 0
	group "kbc"
	check dword [B(res_s4)], OPEN
	check dword [B(res_kbc_s4)], 2
	check dword [B(res_s5)], FOLDED
	check dword [B(res_kbc_s5)], 0
	check dword [B(res_s6)], OPEN
	check dword [B(res_kbc_s6)], 2
	check dword [B(res_s7)], FOLDED
	check dword [B(res_kbc_s7)], 0
	check dword [B(res_92_s7)], 0
	group "fetch"
	check dword [B(res_fetch_open)], 2
	check dword [B(res_fetch_closed)], 1
	check dword [B(res_fetch_reopen)], 2
	group "strings"
	check dword [B(res_movs_low)], 0xa500000f
	check dword [B(res_movs_high)], 0
	check dword [B(res_stos_low)], 0x5a5a5a5a
	check dword [B(res_stos_high)], 0
	check dword [B(res_movs_src)], 0xa500000f
	group "realmode"
	check dword [B(res_rm_alias)], 0x5555aaaa
	check dword [B(res_rm_fetch_closed)], 0x1111
	check dword [B(res_rm_open_low)], 0
	check dword [B(res_rm_open_high)], 0x6666bbbb
	check dword [B(res_rm_fetch_open)], 0x2222
	check dword [B(res_rm_92)], 0
	check dword [B(res_rm_alias2)], 0x7777cccc
	group "paging"
	check dword [B(res_pg_open)], 0xaaaa0001
	check dword [B(res_pg_probe_open)], OPEN
	check dword [B(res_pg_closed)], 0xbbbb0002
	check dword [B(res_pg_probe_closed)], FOLDED
	check dword [B(res_pg_reopen)], 0xaaaa0001
	check dword [B(res_pg_probe_reopen)], OPEN

	; The end: a failure ends as usual; a pass prints lib_finish's line
	; and exits from the blob with the gate closed, so that a snapshot
	; of the machine as it ends holds a closed gate (test_snapshot_a20).
	push 0
	call lib_group
	cmp dword [lib_fails], 0
	jne lib_finish
	mov esi, lib_s_pass
	call lib_puts
	mov esi, lib_guest_name
	call lib_puts
	mov esi, lib_s_lparen
	call lib_puts
	mov eax, [lib_checks]
	call lib_putdec
	mov esi, lib_s_checks
	call lib_puts
	call lib_newline
	jmp SEL_CODE32B:R(exit_closed)

kernel_end_ptr:	dd kernel_end

section .bss
alignb 4
pm_esp:		resd 1
gdtr_saved:	resb 6

; ====================================================================
; The blob, run at BLOB_BASE.
section .text
align 16
blob_start:

; --- 32-bit, CS = SEL_CODE32B, data flat, the gate open ---
bits 32
blob32:
	mov esp, STACK_TOP
	; What the closed gate will be found by, set up while it is open.
	mov dword [LOW_CODE], 0x000001b8	; mov eax, 1
	mov dword [LOW_CODE + 4], 0x0000cb00	; retf
	mov dword [HIGH_CODE], 0x000002b8	; mov eax, 2
	mov dword [HIGH_CODE + 4], 0x0000cb00
	mov dword [RM_CODE_OFF - 0x10], 0xcb1111b8		; mov ax, 0x1111; retf
	mov dword [RM_CODE_OFF - 0x10 + ALIAS], 0xcb2222b8	; mov ax, 0x2222; retf
	xor ecx, ecx
.src:
	lea eax, [0xa5000000 + ecx]
	mov [STR_SRC + ecx * 4], eax
	inc ecx
	cmp ecx, 16
	jb .src
	xor eax, eax
	mov edi, MOVS_LOW
	mov ecx, 1024
	rep stosd
	mov edi, MOVS_HIGH
	mov ecx, 1024
	rep stosd
	mov edi, STOS_LOW
	mov ecx, 1024
	rep stosd
	mov edi, STOS_HIGH
	mov ecx, 1024
	rep stosd
	mov edi, MOVS2_DST
	mov ecx, 1024
	rep stosd
	; Page tables: PD[0] -> PT0 (identity), PD[1] -> PT1_HIGH.
	mov edi, PD
	mov ecx, 1024
	rep stosd
	mov dword [PD], PT0 | 3
	mov dword [PD + 4], PT1_HIGH | 3
	xor ecx, ecx
.pt0:
	mov eax, ecx
	shl eax, 12
	or eax, 3
	mov [PT0 + ecx * 4], eax
	inc ecx
	cmp ecx, 1024
	jb .pt0
	xor eax, eax
	mov edi, PT1_LOW
	mov ecx, 1024
	rep stosd
	mov edi, PT1_HIGH
	mov ecx, 1024
	rep stosd
	mov dword [PT1_HIGH], MARK_A | 3
	mov dword [PT1_LOW], MARK_B | 3
	mov dword [MARK_A], 0xaaaa0001
	mov dword [MARK_B], 0xbbbb0002

	; start: the gate as the guest found it.
	call probe
	mov [B(res_s0)], eax
	call read92
	mov [B(res_92_s0)], eax
	call kbc_gate
	mov [B(res_kbc_s0)], eax
	call SEL_CODE:HIGH_CODE
	mov [B(res_fetch_open)], eax

	; closed: both sources, one after the other (in between, the PC's
	; gate and QEMU's differ).
	xor al, al
	call set92
	mov al, 0xdd
	call kbc_cmd
	call probe
	mov [B(res_s1)], eax
	call read92
	mov [B(res_92_s1)], eax
	call kbc_gate
	mov [B(res_kbc_s1)], eax
	; fetch: the block at 0x134000 is not the code there now.
	call SEL_CODE:HIGH_CODE
	mov [B(res_fetch_closed)], eax
	; strings, closed.
	mov esi, STR_SRC
	mov edi, MOVS_HIGH
	mov ecx, 16
	rep movsd
	mov edi, STOS_HIGH
	mov eax, 0x5a5a5a5a
	mov ecx, 40
	rep stosd
	mov esi, STR_SRC + ALIAS
	mov edi, MOVS2_DST
	mov ecx, 16
	rep movsd

	; port92: opens it alone, and closes it again.
	mov al, 1
	call set92
	call probe
	mov [B(res_s2)], eax
	call read92
	mov [B(res_92_s2)], eax
	call SEL_CODE:HIGH_CODE
	mov [B(res_fetch_reopen)], eax
	mov eax, [MOVS_LOW + 60]
	mov [B(res_movs_low)], eax
	mov eax, [MOVS_HIGH + 60]
	mov [B(res_movs_high)], eax
	mov eax, [STOS_LOW + 156]
	mov [B(res_stos_low)], eax
	mov eax, [STOS_HIGH + 156]
	mov [B(res_stos_high)], eax
	mov eax, [MOVS2_DST + 60]
	mov [B(res_movs_src)], eax
	xor al, al
	call set92
	call probe
	mov [B(res_s3)], eax
	call read92
	mov [B(res_92_s3)], eax

	; kbc: the output port written (0xd1), then 0xdf and 0xdd.
	call kbc_read_out
	or al, 3			; bit 0 high: no reset
	call kbc_write_out
	call probe
	mov [B(res_s4)], eax
	call kbc_gate
	mov [B(res_kbc_s4)], eax
	call kbc_read_out
	and al, ~2
	or al, 1
	call kbc_write_out
	call probe
	mov [B(res_s5)], eax
	call kbc_gate
	mov [B(res_kbc_s5)], eax
	mov al, 0xdf
	call kbc_cmd
	call probe
	mov [B(res_s6)], eax
	call kbc_gate
	mov [B(res_kbc_s6)], eax
	mov al, 0xdd
	call kbc_cmd
	call probe
	mov [B(res_s7)], eax
	call kbc_gate
	mov [B(res_kbc_s7)], eax
	call read92
	mov [B(res_92_s7)], eax

	; realmode, entered with the gate closed.
	jmp SEL_CODE16:R(rm16)

; Back from real mode in 32-bit protected mode, the gate closed.
pm_again:
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov esp, STACK_TOP

	; paging: on with the gate open, then closed and open again.
	mov al, 1
	call set92
	mov eax, PD
	mov cr3, eax
	mov eax, cr0
	or eax, 0x80000000
	mov cr0, eax
	jmp .paged
.paged:
	mov eax, [0x400000]
	mov [B(res_pg_open)], eax
	call probe
	mov [B(res_pg_probe_open)], eax
	xor al, al
	call set92
	mov eax, [0x400000]
	mov [B(res_pg_closed)], eax
	call probe
	mov [B(res_pg_probe_closed)], eax
	mov al, 1
	call set92
	mov eax, [0x400000]
	mov [B(res_pg_reopen)], eax
	call probe
	mov [B(res_pg_probe_reopen)], eax
	mov eax, cr0
	and eax, 0x7fffffff
	mov cr0, eax
	jmp .unpaged
.unpaged:
	; Leave both sources open, as the guest found them.
	mov al, 0xdf
	call kbc_cmd
	mov dword [B(res_done)], 1
	jmp SEL_CODE:pm_back

; exit_closed: GUEST_PASS through isa-debug-exit with the gate closed.
exit_closed:
	mov esp, STACK_TOP
	xor al, al
	call set92
	mov al, 0xdd
	call kbc_cmd
	mov al, GUEST_PASS
	out 0xf4, al
	hlt
	jmp exit_closed

; probe: writes OPEN below 1 MiB and FOLDED 1 MiB above it, and returns
; what the first address holds then (FOLDED when the gate is closed).
probe:
	mov dword [LOW_DATA], OPEN
	mov dword [HIGH_DATA], FOLDED
	mov eax, [LOW_DATA]
	ret

; read92: port 0x92's bit 1.
read92:
	in al, 0x92
	movzx eax, al
	and eax, 2
	ret

; set92: port 0x92's gate opened (AL = 1) or closed (AL = 0), its reset
; bit never set.
set92:
	mov ah, al
	in al, 0x92
	and al, ~3
	test ah, ah
	jz .write
	or al, 2
.write:
	out 0x92, al
	ret

kbc_wait_input:
	push eax
.wait:
	in al, 0x64
	test al, 2
	jnz .wait
	pop eax
	ret

; kbc_cmd: AL to the command port.
kbc_cmd:
	call kbc_wait_input
	out 0x64, al
	ret

; kbc_write_out: AL to the output port (0xd1, then the data).
kbc_write_out:
	push eax
	mov al, 0xd1
	call kbc_cmd
	pop eax
	call kbc_wait_input
	out 0x60, al
	ret

; kbc_gate: the output port's bit 1 (0xd0) in EAX.
kbc_gate:
	call kbc_read_out
	and eax, 2
	ret

; kbc_read_out: the output port (0xd0) in EAX.
kbc_read_out:
.drain:
	in al, 0x64
	test al, 1
	jz .empty
	in al, 0x60
	jmp .drain
.empty:
	mov al, 0xd0
	call kbc_cmd
.wait:
	in al, 0x64
	test al, 1
	jz .wait
	in al, 0x60
	movzx eax, al
	ret

; --- 16-bit protected mode, then real mode, the gate closed ---
bits 16
rm16:
	mov ax, SEL_DATA16
	mov ds, ax
	mov es, ax
	mov fs, ax
	mov gs, ax
	mov ss, ax
	mov eax, cr0
	and eax, ~1
	mov cr0, eax
	jmp BLOB_SEG:R(rm_real)

rm_real:
	mov ax, RM_STACK_SEG
	mov ss, ax
	mov sp, STACK_TOP & 0xffff
	xor ax, ax
	mov ds, ax
	mov ax, 0xffff
	mov es, ax
	mov ax, BLOB_SEG		; the records
	mov gs, ax
	; Closed: FFFF:F010 is 0000:F000, FFFF:E010 runs 0000:E000.
	mov dword [RM_DATA_OFF - 0x10], 0
	mov dword [es:RM_DATA_OFF], 0x5555aaaa
	mov eax, [RM_DATA_OFF - 0x10]
	mov [gs:R(res_rm_alias)], eax
	xor eax, eax
	call 0xffff:RM_CODE_OFF
	mov [gs:R(res_rm_fetch_closed)], eax
	; Port 0x92 opens it: 1 MiB + 0xF000 is its own byte.
	in al, 0x92
	and al, ~3
	or al, 2
	out 0x92, al
	mov dword [RM_DATA_OFF - 0x10], 0
	mov dword [es:RM_DATA_OFF], 0x6666bbbb
	mov eax, [RM_DATA_OFF - 0x10]
	mov [gs:R(res_rm_open_low)], eax
	mov eax, [es:RM_DATA_OFF]
	mov [gs:R(res_rm_open_high)], eax
	xor eax, eax
	call 0xffff:RM_CODE_OFF
	mov [gs:R(res_rm_fetch_open)], eax
	; And closes it again.
	in al, 0x92
	and al, ~3
	out 0x92, al
	in al, 0x92
	movzx eax, al
	and eax, 2
	mov [gs:R(res_rm_92)], eax
	mov dword [es:RM_DATA_OFF], 0x7777cccc
	mov eax, [RM_DATA_OFF - 0x10]
	mov [gs:R(res_rm_alias2)], eax
	; Back to 32-bit protected mode (the GDT copy is below 1 MiB).
	mov eax, cr0
	or eax, 1
	mov cr0, eax
	jmp dword SEL_CODE32B:R(pm_again)

; --- the blob's data ---
align 8
gdt_copy:	times 8 * LIB_GDT_ENTRIES db 0
gdtr_copy:	dw 0
		dd 0
align 4
res_done:		dd 0
res_s0:			dd 0
res_92_s0:		dd 0
res_kbc_s0:		dd 0
res_s1:			dd 0
res_92_s1:		dd 0
res_kbc_s1:		dd 0
res_s2:			dd 0
res_92_s2:		dd 0
res_s3:			dd 0
res_92_s3:		dd 0
res_s4:			dd 0
res_kbc_s4:		dd 0
res_s5:			dd 0
res_kbc_s5:		dd 0
res_s6:			dd 0
res_kbc_s6:		dd 0
res_s7:			dd 0
res_kbc_s7:		dd 0
res_92_s7:		dd 0
res_fetch_open:		dd 0
res_fetch_closed:	dd 0
res_fetch_reopen:	dd 0
res_movs_low:		dd 0
res_movs_high:		dd 0
res_stos_low:		dd 0
res_stos_high:		dd 0
res_movs_src:		dd 0
res_rm_alias:		dd 0
res_rm_fetch_closed:	dd 0
res_rm_open_low:	dd 0
res_rm_open_high:	dd 0
res_rm_fetch_open:	dd 0
res_rm_92:		dd 0
res_rm_alias2:		dd 0
res_pg_open:		dd 0
res_pg_probe_open:	dd 0
res_pg_closed:		dd 0
res_pg_probe_closed:	dd 0
res_pg_reopen:		dd 0
res_pg_probe_reopen:	dd 0
blob_end:

section .bss
kernel_end:
