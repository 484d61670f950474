; LOCKed instructions (and XCHG with memory) whose operand crosses a
; 64-byte cache line: a split lock. btvm must not run them as the host's
; own split lock (a bus lock: Linux throttles or kills a thread that takes
; them), so they go another way (docs/DESIGN.md, split locks); this guest
; checks that every form still gives the architectural result there:
; - xadd       LOCK XADD at line offsets 60 (not crossing), 61, 62, 63,
;              and at 62 with a 16-bit operand; the bytes beside kept
; - cmpxchg    LOCK CMPXCHG across a line, equal (ZF=1, stored) and not
;              (ZF=0, the accumulator loaded, memory as it was)
; - cmpxchg8b  LOCK CMPXCHG8B across a line, equal and not
; - xchg       XCHG with memory (locked without the prefix), 32 and 16 bits
; - bts        LOCK BTS/BTR/BTC with a register bit offset whose dword
;              crosses, and with an immediate
; - flags      the flags an instruction leaves alone stay (LOCK NOT: all;
;              LOCK INC: CF) and those it sets are right (LOCK ADD, SUB)
; - esp        an operand at ESP + 2 just after a PUSH (the translator's
;              ESP bookkeeping around the test of the address)
; - smc        LOCK ADD into the immediate of an instruction that ran
;              before, across a line: the code runs with the new value
; - page       (paging) across a page boundary onto a page not present:
;              #PF at the second page, nothing written to the first; then
;              mapped, the update lands on both pages
; Run with one vCPU and with two (the AP never started): with other vCPUs
; btvm runs each such instruction with them kept out of translated code.
; Under QEMU:
;	qemu-system-i386 -accel tcg -kernel split_lock.elf -serial stdio
;		-display none -device isa-debug-exit,iobase=0xf4,iosize=4
;		-no-reboot   (one line; exit status 33)
%define GUEST_NAME "split_lock"
%include "lib.inc"
%include "paging.inc"

FLAGS6		equ 0x8d5		; OF SF ZF AF PF CF
L_PAGE		equ 0x40000000		; present; the next page is not, at first
F_FIRST		equ 0x00d00000
F_SECOND	equ 0x00d01000

guest_start
	call lib_install_idt
	call pg_install_pf

group "xadd"
	mov ebx, line
	call fill
	mov eax, 5
	lock xadd [ebx + 60], eax	; within the line
	check eax, 0x11111111
	check dword [line + 60], 0x11111116
	call fill
	mov eax, 0x100
	lock xadd [ebx + 61], eax
	check eax, 0x11111111
	check dword [line + 61], 0x11111211
	check dword [line + 57], 0x11111111
	check dword [line + 65], 0x11111111
	call fill
	mov eax, 0xf0000000
	lock xadd [ebx + 62], eax
	check eax, 0x11111111
	check dword [line + 62], 0x01111111
	check_flags 1, 1		; CF out of the add
	call fill
	mov eax, 1
	lock xadd [ebx + 63], eax
	check eax, 0x11111111
	check dword [line + 63], 0x11111112
	call fill
	mov eax, 0xffff
	lock xadd [ebx + 63], ax
	check eax, 0x1111
	check dword [line + 63], 0x11111110
	check dword [line + 65], 0x11111111
	check dword [line + 59], 0x11111111

group "cmpxchg"
	call fill
	mov eax, 0x11111111
	mov ecx, 0xcafebabe
	lock cmpxchg [ebx + 62], ecx
	check_flags 0x40, 0x40
	check dword [line + 62], 0xcafebabe
	check eax, 0x11111111
	mov eax, 0x11111111		; not equal now
	mov ecx, 0x12345678
	lock cmpxchg [ebx + 62], ecx
	check_flags 0x40, 0
	check eax, 0xcafebabe
	check dword [line + 62], 0xcafebabe
	call fill
	mov eax, 0x1111
	mov cx, 0x7777
	lock cmpxchg [ebx + 63], cx
	check_flags 0x40, 0x40
	check dword [line + 62], 0x11777711

group "cmpxchg8b"
	call fill
	mov eax, 0x11111111
	mov edx, 0x11111111
	mov ebx, 0xaaaaaaaa
	mov ecx, 0xbbbbbbbb
	mov esi, line
	lock cmpxchg8b [esi + 60]
	check_flags 0x40, 0x40
	check dword [line + 60], 0xaaaaaaaa
	check dword [line + 64], 0xbbbbbbbb
	mov ebx, 0x01010101		; not equal now: EDX:EAX loaded
	lock cmpxchg8b [esi + 60]
	check_flags 0x40, 0
	check eax, 0xaaaaaaaa
	check edx, 0xbbbbbbbb
	check dword [line + 60], 0xaaaaaaaa
	check dword [line + 64], 0xbbbbbbbb
	check dword [line + 56], 0x11111111
	check dword [line + 68], 0x11111111
	mov ebx, line

group "xchg"
	call fill
	mov ecx, 0x89abcdef
	xchg [ebx + 61], ecx
	check ecx, 0x11111111
	check dword [line + 61], 0x89abcdef
	check dword [line + 57], 0x11111111
	xor edx, edx
	mov dx, 0x4242
	xchg dx, [ebx + 63]
	check edx, 0x89ab
	check dword [line + 61], 0x4242cdef

group "bts"
	call fill
	mov dword [line + 56], 0
	mov dword [line + 60], 0
	mov dword [line + 64], 0
	mov ecx, 37			; the dword at line + 58 + 4, bit 5
	lock bts [ebx + 58], ecx
	check_flags 1, 0
	check dword [line + 62], 0x20
	lock bts [ebx + 58], ecx
	check_flags 1, 1
	mov ecx, 32 + 17
	lock btc [ebx + 58], ecx	; bit 17 of the same dword
	check_flags 1, 0
	check dword [line + 62], 0x20020
	mov ecx, 37
	lock btr [ebx + 58], ecx
	check_flags 1, 1
	check dword [line + 62], 0x20000
	lock bts dword [ebx + 62], 1
	check_flags 1, 0
	check dword [line + 62], 0x20002
	check dword [line + 56], 0
	check dword [line + 66], 0x11110000

group "flags"
	call fill
	set_flags FLAGS6
	lock not dword [ebx + 62]
	check_flags FLAGS6, FLAGS6
	check dword [line + 62], 0xeeeeeeee
	set_flags 0
	lock not dword [ebx + 62]
	check_flags FLAGS6, 0
	mov dword [line + 62], 0xffffffff
	set_flags 1
	lock inc dword [ebx + 62]	; ZF set, CF kept
	check_flags 0x41, 0x41
	set_flags 0
	mov word [line + 63], 0xffff
	lock add word [ebx + 63], 1	; CF, ZF
	check_flags 0x41, 0x41
	mov dword [line + 61], 5
	lock sub dword [ebx + 61], 6	; CF, SF
	check_flags 0x81, 0x81
	check dword [line + 61], 0xffffffff

group "esp"
	call fill
	mov [saved_esp], esp
	mov esp, line + 64
	mov eax, 0x22222222
	push eax			; ESP = line + 60
	mov ecx, 0x100
	lock xadd [esp + 2], ecx	; bytes 62-65
	pop edx
	mov eax, esp
	mov esp, [saved_esp]
	check eax, line + 64
	check ecx, 0x11112222
	check edx, 0x23222222
	check dword [line + 62], 0x11112322
	check dword [line + 60], 0x23222222

group "smc"
	mov eax, 0
	call smc_code
	check eax, 0x10000000
	lock add dword [smc_imm], 0x01000001	; across the line
	call smc_code
	check eax, 0x11000001

group "page"
	call pg_alloc
	mov edi, eax
	mov [dir0], eax
	xor esi, esi
	call pg_map_identity
	pg_map_page L_PAGE, F_FIRST | PG_P | PG_RW
	mov dword [F_FIRST + 0xffc], 0x33333333
	mov eax, edi
	call pg_enable
	mov eax, 1
	pf_arm .after
.fault:
	lock xadd [L_PAGE + 0xffe], eax
.after:
	pf_expect_rmw L_PAGE + 0x1000, .fault
	check eax, 1
	check dword [L_PAGE + 0xffc], 0x33333333
	mov dword [F_SECOND], 0x44444444	; through the identity map
	pg_map_page L_PAGE + 0x1000, F_SECOND | PG_P | PG_RW
	mov eax, 0x10001
	lock xadd [L_PAGE + 0xffe], eax
	check eax, 0x44443333
	check dword [L_PAGE + 0xffc], 0x33343333
	check dword [F_SECOND], 0x44444445
	pf_disarm
guest_finish

; fill: the 64 bytes either side of line's end all 0x11.
fill:
	push edi
	push ecx
	push eax
	mov edi, line
	mov ecx, 32
	mov eax, 0x11111111
	rep stosd
	pop eax
	pop ecx
	pop edi
	ret

; smc_code: EAX = its immediate, which crosses a line (offset 62).
align 64
	times 61 nop
smc_code:
	db 0xb8				; mov eax, imm32
smc_imm:
	dd 0x10000000
	ret

section .data
align 64
line:	times 128 db 0
saved_esp:	dd 0
dir0:	dd 0
