; Hostile guest: random code. Thousands of sequences of random bytes run
; in each of four modes (CPL 3 with paging off, CPL 3 with paging on,
; CPL 0 with paging off, CPL 0 with paging on); whatever each does, the
; guest takes back control and goes on with the next. Pass means the
; monitor survived them all (ASan and UBSan included) and every sequence
; ended as one would on a PC: in an exception or an interrupt, at the INT
; after its bytes, or in a reset. The counts per vector and mode are
; printed at the end, and a line "MODE: N sequences" that the test wants
; for each mode with N = DEFAULT_COUNT (the guest recovers from resets,
; so a run that went wrong could otherwise still end in a pass).
;
; A sequence: a page of random bytes (CODE_PAGE) run from CODE_AT, with
; `int VEC_DONE` after the first 16-64 of them; seven pages of random data
; around it (the stack in the middle; one page read-only, one supervisor,
; one not present where paging is on); the general registers pointing
; into them (three in four) or random; random status flags and DF, IF
; set, IOPL 0, sometimes CR0.TS or CR0.EM. Its bytes come from xorshift32
; seeded from (seed, mode, sequence number) alone, so any one sequence
; runs again by itself. The Multiboot command line (btvm --append) sets:
;	seed=N		the seed (DEFAULT_SEED), printed at the start
;	count=N		sequences per mode (DEFAULT_COUNT)
;	from=N		the first sequence number (0)
;	modes=N		bit mask of the modes (15; bit 0 cpl3_flat, 1
;			cpl3_paging, 2 cpl0_flat, 3 cpl0_paging)
;	verbose=1	each sequence's bytes, registers and flags before it
;			runs and its end after (the last one printed is the
;			culprit when the monitor dies)
; e.g. --append "seed=7 modes=8 from=1234 count=1235 verbose=1".
;
; Every one of the 256 vectors has a gate (interrupt gates of DPL 0 for
; the exceptions, the IRQs and 0x30-0x3f, so that INT n from ring 3
; faults there, DPL 3 for the rest, not present at 0xf0-0xf7, trap gates
; at 0xf8-0xfe) to a stub that trusts nothing of the random code's: not
; its stack, DS, GDT, CR0 or CR3. It loads the guest's GDT and IDT
; through CS, CR4, CR3 and CR0, then segments and a stack of its own,
; checks the image (below) and counts the vector. Before each sequence
; the rest is put back: TR, LDTR, the SYSENTER MSRs, DR7, the FPU and
; MXCSR, the 8259's masks, the watchdog.
;
; The watchdog: PIT channel 0 in mode 0 (one shot), armed before each
; sequence, interrupts after WATCHDOG_TICKS (100 us); a sequence that
; loops ends there, HLT included. IF must be set for that, and the
; random code cannot clear it, as it could on a PC (where the guest
; would then hang): at CPL 3 with IOPL 0 CLI faults and POPF and IRET
; keep IF; at CPL 0 every random byte, code and data, goes through a
; table that makes CLI, POPF and IRET STI, PUSHF and INTO, and OUT and
; OUTS IN and INS (OUT could also end the run through isa-debug-exit,
; reset the PC, or stop the watchdog); SYSENTER, which clears IF,
; faults (SYSENTER_CS is 0). At CPL 0 with paging off the code may jump
; anywhere in RAM, where nothing filtered the bytes: all RAM that is not
; the guest's below 4 MiB holds INT3, and the places masked or shifted
; arena pointers and small offsets from FS and GS reach are filled again
; after each sequence (int3_fill). At CPL 3 the TSS's I/O bitmap denies
; every port but 0x80-0x8f and 0x2f8-0x2ff (nothing that matters).
;
; What random code can damage, and how the guest copes:
; - Paging on, CPL 3: only the arena's user pages.
; - Paging on, CPL 0: the image (code, GDT, IDT, TSS, page tables) and the
;   code page are read-only under CR0.WP; only MOV CR0/CR3/CR4 gets past.
; - Paging off: a store, a push, a REP STOS or MOVS can reach any byte of
;   RAM. ARENA sits where pointers into it, ANDed with random bits (the
;   commonest way random code shrinks one), do not reach the image, and
;   the 100 us watchdog keeps a sweep (REP STOSD runs at about 2 GB/s)
;   well short of the 1.2 MiB between the arena and anything of the
;   guest's.
; Whatever got through: first thing after each sequence, a hash of all
; the guest never writes (code, read-only data, GDT, IDT, TSS and its
; bitmap, page tables, lib's counters) is compared with the one taken at
; boot. On a difference, or a fault inside that check, the guest marks
; CMOS and resets the PC (keyboard controller 0xfe), which loads its image
; again; the next boot counts the sequence as "damage".
;
; Resets: a triple fault resets the PC (at CPL 0 a stack the frame cannot
; be pushed on, an IDT or GDT loaded from random bytes, CR3 at garbage),
; as does the guest itself after damage. Progress therefore lives outside
; the image, in three copies of a record (REC_A, REC_B, REC_C, each with a
; hash; any good one restores the others): mode, sequence, whether one
; is running, the counts. A boot that finds a sequence running counts it
; as "reset" (or "damage") and goes on with the next; a jump to _start
; does the same. Entering the stubs' code without an event (a random
; jump) counts as "stray"; `int VEC_DONE` whose frame went where the guest
; cannot read it (a stack pointer out of RAM) counts as that vector.
;
; What remains (each far below one in a million per sequence): a random
; 32-bit address or a sweep that damages the record's three copies, the
; stubs or the check in a way the check misses; a jump at CPL 0 with
; paging on into the guest's own code (mapped read-only) that reaches a
; CLI and a HLT or an OUT.
;
; Where btvm and a PC part (docs/DESIGN.md, known gaps): MOV CR0 that
; clears PE leaves a PC in real mode, btvm in protected mode (the next
; event lands in a stub as usual); btvm checks no segment limits and runs
; code at EIP whatever CS's base; task switches fault. None ends a run.
;
; What it found in btvm (fixed, with guests that show each: mmio_bounds,
; hostile_far): XLAT, MASKMOVQ/MASKMOVDQU and every stack instruction
; (PUSH, POP, CALL, RET, PUSHA, POPA, ENTER, LEAVE, PUSH of a segment)
; that reached memory without RAM ended the run ("cannot forward"); INT 8
; from ring 3 through a gate of DPL 0 was a triple fault, INT 13 or 14
; whose delivery faulted a #DF, where a PC raises #GP or #NP.
%define GUEST_NAME "hostile_random"
%include "lib.inc"
%include "hostile_lib.inc"
%include "rings.inc"

DEFAULT_SEED	equ 0x1d872b41
DEFAULT_COUNT	equ 10000		; tests/guests/CMakeLists.txt wants it per mode
NMODES		equ 4
MODE_PAGING	equ 1			; mode bits
MODE_CPL0	equ 2

; The arena: eight pages, identity-mapped where paging is on.
ARENA		equ 0x00280000	; bits 21 and 19: AND with random masks (the
				; commonest way random code shrinks a pointer)
				; cannot make 0x10xxxx, the guest's image
ARENA_PAGES	equ 8
ESP_START	equ ARENA + 0x2000	; the random code's stack
PAGE_RO		equ ARENA + 0x4000	; read-only (paging on)
PAGE_SUP	equ ARENA + 0x5000	; supervisor only
PAGE_NP		equ ARENA + 0x6000	; not present
CODE_PAGE	equ ARENA + 0x7000	; user-writable at CPL 3, read-only at CPL 0
CODE_AT		equ CODE_PAGE + 0x400
PTR_MASK3	equ 0x7fff		; where registers point: the whole arena
PTR_MASK0	equ 0x3fff		; at CPL 0 not the code page, where a
					; store of a computed value could make
					; a CLI the filter never saw
VEC_DONE	equ 0x9f		; `int VEC_DONE` ends each sequence
VEC_IRQ0	equ 0x20
WATCHDOG_TICKS	equ 119			; PIT clocks: 100 us (see REC_A)

CR0_PE		equ 0x00000001
CR0_MP		equ 0x00000002
CR0_EM		equ 0x00000004
CR0_TS		equ 0x00000008
CR0_ET		equ 0x00000010
CR0_NE		equ 0x00000020
CR0_WP		equ 0x00010000
CR0_HOME	equ CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG
CR4_HOME	equ 0x10 | 0x200 | 0x400	; PSE, OSFXSR, OSXMMEXCPT
HOME_MAPPED	equ 0x01000000		; home_pd maps 0-16 MiB
PG_P		equ 1
PG_RW		equ 2
PG_US		equ 4
PG_A		equ 0x20
PG_D		equ 0x40
PG_PS		equ 0x80
PG_AD		equ PG_A | PG_D		; set beforehand: the tables never change

; The progress record, outside the image (a reset keeps it), in three
; copies. A REP STOS or MOVS, or a loop of pushes, sweeps RAM up or down
; from the arena until the watchdog stops it: at about 2 GB/s that was
; MiBs with a watchdog of 1 ms, and took the image and two copies at once;
; in 100 us it stays well under the 1.2 MiB between the arena and
; anything of the guest's. One copy lies above the arena, two below (one
; below the image too); none where an arena pointer ANDed with random
; bits or shifted right, or a small offset from lib's FS and GS bases,
; can point. Any copy whose hash holds is good.
REC_A		equ 0x003f0000
REC_B		equ 0x00160000
REC_C		equ 0x00010000
REC_BYTES	equ (R_DWORDS * 4 + 0xfff) & ~0xfff
CMOS_DAMAGED	equ 0x60			; CMOS RAM: set while the guest
DAMAGED_MARK	equ 0xd5			; resets after damage
REC_MAGIC	equ 0x444e5248		; "HRND"
R_MAGIC		equ 0
R_SEED		equ 4
R_COUNT		equ 8
R_FROM		equ 12
R_MODES		equ 16
R_VERBOSE	equ 20
R_MODE		equ 24			; the mode running or next
R_SEQ		equ 28			; the sequence running or next
R_RUNNING	equ 32			; 1 while a sequence runs
R_BOOTS		equ 36
R_COUNTS	equ 64			; dword [mode][slot]
SLOTS		equ 260			; vectors 0-255, then:
S_DONE		equ 256			; reached `int VEC_DONE` after its bytes
S_RESET		equ 257			; the PC reset (or _start was reached)
S_DAMAGE	equ 258			; the image was damaged: the guest reset it
S_STRAY		equ 259			; the stubs' code reached without an event
R_SUM		equ R_COUNTS + NMODES * SLOTS * 4
R_DWORDS	equ R_SUM / 4 + 1

; xs reg, tmp: reg = xorshift32(reg)
%macro xs 2
	mov %2, %1
	shl %2, 13
	xor %1, %2
	mov %2, %1
	shr %2, 17
	xor %1, %2
	mov %2, %1
	shl %2, 5
	xor %1, %2
%endmacro

; puts "text"
%macro puts 1
[section .rodata]
%%s:	db %1, 0
__SECT__
	push esi
	mov esi, %%s
	call lib_puts
	pop esi
%endmacro

guest_start
	mov [mbi], ebx
	; (a jump to _start keeps .bss: only a reset zeroes it)
	mov dword [in_seq], 0
	mov dword [in_check], 0
	mov dword [filled], 0
	call lib_install_idt
	call rings_setup			; ESP0: rings_kstack_top, so that a
						; frame from ring 3 outlives the stub
	mov edx, 0x80
.io:
	call rings_io_allow
	inc edx
	cmp edx, 0x90
	jb .io
	mov edx, 0x2f8
.io2:
	call rings_io_allow
	inc edx
	cmp edx, 0x300
	jb .io2
	call setup_idt
	call setup_paging
	mov eax, CR4_HOME
	mov cr4, eax
	mov eax, home_pd
	mov cr3, eax
	mov eax, CR0_HOME
	mov [home_cr0], eax
	mov cr0, eax
	jmp .paged
.paged:
	; the 8259s at 0x20/0x28, only IRQ 0 open
	call lib_pic_init
	mov al, 0xfe
	out 0x21, al
	; every code and data descriptor accessed already, as an OS leaves
	; them: a load by the random code sets the bit, which the hash below
	; would take for damage
	mov ecx, LIB_GDT_ENTRIES - 1
.accessed:
	test byte [lib_gdt + ecx * 8 + 5], 0x10
	jz .system
	or byte [lib_gdt + ecx * 8 + 5], 0x01
.system:
	dec ecx
	jnz .accessed
	call damage_hash
	mov [ref_hash], eax
	call rec_load
	jmp next_seq

; ---------------------------------------------------------------- record

; rec_hash: EAX = a hash of the R_DWORDS - 1 dwords at ESI (position
; matters: a REP MOVS that shifts the record by a dword does not keep
; it). Preserves the other registers.
rec_hash:
	push ecx
	push esi
	mov eax, REC_MAGIC
	mov ecx, R_DWORDS - 1
.dword:
	rol eax, 7
	xor eax, [esi]
	imul eax, eax, 0x9e3779b1
	add esi, 4
	loop .dword
	pop esi
	pop ecx
	ret

; rec_valid: ESI = a copy; ZF set when its magic and hash are right.
rec_valid:
	push eax
	cmp dword [esi + R_MAGIC], REC_MAGIC
	jne .out
	call rec_hash
	cmp eax, [esi + R_SUM]
.out:
	pop eax
	ret

; rec_check: after a sequence, before the record changes: a store of the
; random code's in REC_A is undone from a good copy (each commit would
; bless it otherwise). Preserves registers.
rec_check:
	pushad
	mov esi, REC_A
	call rec_valid
	je .out
	call rec_restore
	jne .lost
.out:
	popad
	ret
.lost:
	fatal "every copy of the progress record damaged"

; rec_restore: REC_A = the first good one of REC_B and REC_C; ZF set if
; there was one. Clobbers ECX, ESI, EDI.
rec_restore:
	mov esi, REC_B
	call rec_valid
	je .copy
	mov esi, REC_C
	call rec_valid
	jne .out
.copy:
	cld
	mov edi, REC_A
	mov ecx, R_DWORDS
	rep movsd
	cmp eax, eax
.out:
	ret

; rec_commit: REC_A's sum, then the other copies = REC_A. Preserves
; registers.
rec_commit:
	pushad
	mov esi, REC_A
	call rec_hash
	mov [REC_A + R_SUM], eax
	cld
	mov esi, REC_A
	mov edi, REC_B
	mov ecx, R_DWORDS
	rep movsd
	mov esi, REC_A
	mov edi, REC_C
	mov ecx, R_DWORDS
	rep movsd
	popad
	ret

; rec_load: the record of an earlier boot (a reset: count it for the
; sequence that was running) or a new one from the command line.
rec_load:
	; whether the last boot ended in the guest's own reset (damage)
	mov al, CMOS_DAMAGED
	out 0x70, al
	in al, 0x71
	mov bl, al
	mov al, CMOS_DAMAGED
	out 0x70, al
	xor al, al
	out 0x71, al
	mov esi, REC_A
	call rec_valid
	je .resume
	call rec_restore
	jne .fresh
.resume:
	inc dword [REC_A + R_BOOTS]
	cmp dword [REC_A + R_RUNNING], 0
	je .commit
	mov dword [REC_A + R_RUNNING], 0
	mov eax, S_RESET
	cmp bl, DAMAGED_MARK
	jne .reset
	mov eax, S_DAMAGE
.reset:
	call count_slot
	cmp dword [REC_A + R_VERBOSE], 0
	je .quiet
	puts "  -> "
	call put_slot
	puts ": boot "
	mov eax, [REC_A + R_BOOTS]
	call lib_putdec
	call lib_newline
.quiet:
	inc dword [REC_A + R_SEQ]
.commit:
	call rec_commit
	ret
.fresh:
	cld
	mov edi, REC_A
	mov ecx, R_DWORDS
	xor eax, eax
	rep stosd
	mov dword [REC_A + R_MAGIC], REC_MAGIC
	mov dword [REC_A + R_SEED], DEFAULT_SEED
	mov dword [REC_A + R_COUNT], DEFAULT_COUNT
	mov dword [REC_A + R_MODES], (1 << NMODES) - 1
	call parse_cmdline
	mov eax, [REC_A + R_FROM]
	mov [REC_A + R_SEQ], eax
	mov dword [REC_A + R_MODE], 0
	puts "hostile_random: seed "
	mov eax, [REC_A + R_SEED]
	call lib_puthex
	puts ", sequences "
	mov eax, [REC_A + R_FROM]
	call lib_putdec
	puts " to "
	mov eax, [REC_A + R_COUNT]
	call lib_putdec
	puts " in modes "
	mov eax, [REC_A + R_MODES]
	call lib_putdec
	call lib_newline
	call rec_commit
	ret

; count_slot: counts[R_MODE][EAX]++ in REC_A (no commit). Preserves
; registers.
count_slot:
	push eax
	push edx
	cmp eax, SLOTS
	jb .slot
	mov eax, S_STRAY		; not a vector: guest code reached
.slot:					; some other way (see stub_common)
	push eax
	mov eax, [REC_A + R_MODE]
	mov edx, SLOTS
	mul edx
	pop edx
	add eax, edx
	inc dword [REC_A + R_COUNTS + eax * 4]
	pop edx
	pop eax
	ret

; ------------------------------------------------------------ command line

; parse_cmdline: seed=, count=, from=, modes=, verbose= into REC_A.
parse_cmdline:
	pushad
	mov ebx, [mbi]
	test dword [ebx], 1 << 2
	jz .out
	mov esi, [ebx + 16]
.token:
	mov al, [esi]
	test al, al
	jz .out
	cmp al, ' '
	jne .word
	inc esi
	jmp .token
.word:
	mov edi, keywords
.key:
	mov ebp, [edi]			; keyword
	test ebp, ebp
	jz .skip
	mov ecx, esi
.cmp:
	mov al, [ebp]
	test al, al
	jz .match
	cmp al, [ecx]
	jne .next_key
	inc ebp
	inc ecx
	jmp .cmp
.next_key:
	add edi, 8
	jmp .key
.match:
	mov esi, ecx
	call parse_number
	mov edx, [edi + 4]		; its field
	mov [REC_A + edx], eax
	jmp .token
.skip:
	mov al, [esi]
	test al, al
	jz .out
	cmp al, ' '
	je .token
	inc esi
	jmp .skip
.out:
	popad
	ret

; parse_number: ESI = digits (decimal, or hex after 0x) -> EAX, ESI past.
parse_number:
	push ebx
	push ecx
	xor eax, eax
	mov ebx, 10
	cmp word [esi], '0x'
	jne .digit
	mov ebx, 16
	add esi, 2
.digit:
	movzx ecx, byte [esi]
	sub ecx, '0'
	cmp ecx, 10
	jb .have
	movzx ecx, byte [esi]
	or ecx, 0x20
	sub ecx, 'a' - 10
	cmp ecx, 10
	jb .done
	cmp ecx, ebx
	jae .done
.have:
	cmp ecx, ebx
	jae .done
	imul eax, ebx
	add eax, ecx
	inc esi
	jmp .digit
.done:
	pop ecx
	pop ebx
	ret

; ----------------------------------------------------------- the machine

; setup_idt: every vector to its stub, with the gate kinds above; IRQ 0
; to the guest's own tick handler until a sequence runs.
setup_idt:
	pushad
	xor eax, eax
.gate:
	mov edx, [stub_table + eax * 4]
	mov cl, [gate_attr + eax]
	call lib_set_gate
	inc eax
	cmp eax, 256
	jb .gate
	gate VEC_IRQ0, tick_guest, 0x8e
	popad
	ret

; setup_paging: home_pd maps 0-16 MiB with 4 MiB pages; pd0 and pd3 (for
; CPL 0 and CPL 3) map the image and the arena with 4 KiB pages.
setup_paging:
	pushad
	cld
	mov edi, pt_block
	mov ecx, (pt_block_end - pt_block) / 4
	xor eax, eax
	rep stosd
	mov dword [home_pd + 0], 0x00000000 | PG_PS | PG_AD | PG_RW | PG_P
	mov dword [home_pd + 4], 0x00400000 | PG_PS | PG_AD | PG_RW | PG_P
	mov dword [home_pd + 8], 0x00800000 | PG_PS | PG_AD | PG_RW | PG_P
	mov dword [home_pd + 12], 0x00c00000 | PG_PS | PG_AD | PG_RW | PG_P
	mov dword [pd0], pt0 + (PG_A | PG_P | PG_RW | PG_US)
	mov dword [pd3], pt3 + (PG_A | PG_P | PG_RW | PG_US)
	; the image: read-only at CPL 0 (CR0.WP), supervisor at CPL 3
	mov eax, 0x100000
.image:
	mov ebx, eax
	shr ebx, 12
	mov edx, eax
	or edx, PG_AD | PG_P
	mov [pt0 + ebx * 4], edx
	or edx, PG_RW
	mov [pt3 + ebx * 4], edx
	add eax, 0x1000
	cmp eax, image_end
	jb .image
	; the arena, page by page
	xor ecx, ecx
.arena:
	mov eax, ecx
	shl eax, 12
	add eax, ARENA
	mov ebx, eax
	shr ebx, 12
	mov edx, [arena_pte0 + ecx * 4]
	test edx, edx
	jz .np0
	or edx, eax
.np0:
	mov [pt0 + ebx * 4], edx
	mov edx, [arena_pte3 + ecx * 4]
	test edx, edx
	jz .np3
	or edx, eax
.np3:
	mov [pt3 + ebx * 4], edx
	inc ecx
	cmp ecx, ARENA_PAGES
	jb .arena
	popad
	ret

; restore_machine: what the stub does not put back. Preserves registers.
restore_machine:
	pushad
	str ax
	cmp ax, RING_SEL_TSS
	je .tr_ok
	and byte [lib_gdt + RING_SEL_TSS + 5], ~0x02	; not busy
	mov ax, RING_SEL_TSS
	ltr ax
.tr_ok:
	xor eax, eax
	lldt ax
	mov dr7, eax
	xor edx, edx
	mov ecx, 0x174			; SYSENTER_CS, _ESP, _EIP
	wrmsr
	inc ecx
	wrmsr
	inc ecx
	wrmsr
	fninit
	ldmxcsr [mxcsr_default]
	mov al, 0xfe
	out 0x21, al
	mov al, 0xff
	out 0xa1, al
	popad
	ret

; damage_hash: EAX = a hash of everything the guest never writes after
; setup. The ranges are immediates: a table of them in memory, damaged,
; once sent this loop over gigabytes of MMIO. Preserves the other
; registers.
%macro hash_range 2
	mov esi, %1
	mov ecx, %2
	sub ecx, esi
	shr ecx, 2
	call hash_dwords
%endmacro
damage_hash:
	push ecx
	push esi
	xor eax, eax
	hash_range 0x100000, rodata_end		; code and read-only data
	hash_range lib_gdt, lib_gdt_end
	hash_range lib_idt, lib_idt + 256 * 8
	hash_range rings_tss, rings_tss + RING_TSS_SIZE + RING_IOMAP_SIZE
	hash_range pt_block, pt_block_end
	hash_range lib_entry_eax, lib_exc_hook + 4	; lib's counters (for the end)
	pop esi
	pop ecx
	ret

; hash_dwords: EAX = hash of EAX and ECX dwords at ESI. Clobbers ECX, ESI.
hash_dwords:
	rol eax, 5
	add eax, [esi]
	add esi, 4
	loop hash_dwords
	ret

; int3_fill: INT3 (0xcc) over each range [start, end) of the table at
; ESI (ending with 0, 0). At CPL 0 with paging off the random code may
; jump anywhere, and bytes nobody filtered there (the record, stores of
; computed values, the zeros that slide on into the guest's own code)
; could clear IF and halt or loop where no watchdog reaches it, as on a
; PC: INT3 ends the sequence instead. Low RAM and the other places that
; masked or shifted arena pointers and FS and GS offsets reach are filled
; again after each sequence. Preserves registers.
int3_fill:
	pushad
	cld
	mov ebx, esi
.range:
	mov edi, [ebx]
	mov ecx, [ebx + 4]
	test ecx, ecx
	jz .out
	sub ecx, edi
	shr ecx, 2
	mov eax, 0xcccccccc
	rep stosd
	add ebx, 8
	jmp .range
.out:
	popad
	ret

; the reset a PC's keyboard controller gives: the image loads again
reset_pc:
	mov al, 0xfe
	out 0x64, al
	jmp reset_pc

; ------------------------------------------------------------ sequences

next_seq:
	mov eax, [REC_A + R_MODE]
	cmp eax, NMODES
	jae report
	bt dword [REC_A + R_MODES], eax
	jnc .next_mode
	mov ebx, [REC_A + R_SEQ]
	cmp ebx, [REC_A + R_COUNT]
	jb .run
.next_mode:
	inc dword [REC_A + R_MODE]
	mov eax, [REC_A + R_FROM]
	mov [REC_A + R_SEQ], eax
	call rec_commit
	jmp next_seq
.run:
	mov [cur_mode], eax
	mov [cur_seq], ebx
	; the guest runs with paging as the mode has it: turning it on and
	; off costs btvm its translations each time
	mov ecx, CR0_HOME
	test eax, MODE_PAGING
	jnz .cr0
	and ecx, ~CR0_PG
.cr0:
	mov [home_cr0], ecx
	mov cr0, ecx
	jmp .sti
.sti:
	; a watchdog tick that outlived its sequence is taken here (tick_guest)
	sti
	; progress, so that a monitor failure can be found again
	test ebx, 2047
	jnz .quiet
	mov esi, [mode_names + eax * 4]
	call lib_puts
	puts " at "
	mov eax, ebx
	call lib_putdec
	call lib_newline
.quiet:
	cmp dword [cur_mode], MODE_CPL0
	jne .gen
	; CPL 0, paging off: RAM that is not the guest's holds INT3 (see
	; int3_fill)
	cmp dword [filled], 0
	jne .hot
	mov esi, fill_all
	call int3_fill
	mov dword [filled], 1
.hot:
	mov esi, fill_hot
	call int3_fill
.gen:
	call gen_seq
	cmp dword [REC_A + R_VERBOSE], 0
	je .go
	call print_seq
.go:
	mov dword [REC_A + R_RUNNING], 1
	call rec_commit
	call restore_machine
	; into the random code
	cli
	gate VEC_IRQ0, [stub_table + VEC_IRQ0 * 4], 0x8e
	mov al, 0x30			; channel 0, LSB then MSB, mode 0
	out 0x43, al
	mov al, WATCHDOG_TICKS & 0xff
	out 0x40, al
	mov al, WATCHDOG_TICKS >> 8
	out 0x40, al
	mov dword [in_seq], 1
	test dword [cur_mode], MODE_CPL0
	jnz enter_cpl0

; CPL 3: the frame for POPAD and IRETD on the ring-0 stack (ESP0)
enter_cpl3:
	cld
	mov esi, seq_regs
	mov edi, rings_kstack_top - 52
	mov ecx, 8
	rep movsd
	mov dword [edi], CODE_AT
	mov dword [edi + 4], RING_SEL_UCODE
	mov eax, [seq_eflags]
	mov [edi + 8], eax
	mov dword [edi + 12], ESP_START
	mov dword [edi + 16], RING_SEL_UDATA
	mov ebx, [seq_cr0]
	mov ecx, pd3
	mov esp, rings_kstack_top - 52
	mov ax, RING_SEL_UDATA
	mov ds, ax
	mov es, ax
	mov fs, ax
	mov gs, ax
	jmp enter_common

; CPL 0: the frame on the random code's own stack
enter_cpl0:
	cld
	mov esi, seq_regs
	mov edi, ESP_START - 44
	mov ecx, 8
	rep movsd
	mov dword [edi], CODE_AT
	mov dword [edi + 4], SEL_CODE
	mov eax, [seq_eflags]
	mov [edi + 8], eax
	mov ebx, [seq_cr0]
	mov ecx, pd0
	mov esp, ESP_START - 44
	; DS, ES, SS flat, FS and GS lib's based segments
	jmp enter_common

; EBX = CR0 for the sequence, ECX = its page directory (paging on)
enter_common:
	test byte [ss:cur_mode], MODE_PAGING
	jz .flat
	mov cr3, ecx
.flat:
	mov cr0, ebx
	jmp .go
.go:
	popad
	iretd

; The stubs: one per vector, no stack.
%assign v 0
%rep 256
stub_ %+ v:
	cli
	mov eax, v
	jmp near stub_common
%assign v v + 1
%endrep

; EAX = vector; nothing else is known (the random code may have left any
; stack, segments, GDT, CR0, CR3, CR4). Reads only through CS until CR3
; and the GDT are the guest's again.
stub_common:
	lgdt [cs:h_gdtr]
	lidt [cs:h_idtr]
	mov ebx, CR4_HOME
	mov cr4, ebx
	mov ebx, home_pd
	mov cr3, ebx
	mov ebx, [cs:home_cr0]
	mov cr0, ebx
	jmp .paged
.paged:
	mov edx, esp			; where the frame went (not always RAM)
	mov bx, SEL_DATA
	mov ds, bx
	mov es, bx
	mov ss, bx
	mov esp, lib_stack_top
	mov bx, SEL_FS
	mov fs, bx
	mov bx, SEL_GS
	mov gs, bx
	push 2
	popfd
	; IRQ 0 back to the guest's handler (the gate's other half is the same)
	mov ecx, tick_guest
	mov [lib_idt + VEC_IRQ0 * 8], cx
	shr ecx, 16
	mov [lib_idt + VEC_IRQ0 * 8 + 6], cx
	; the image first: what follows runs the guest's own code. A fault
	; in the check itself means it is the damaged part.
	cmp dword [in_check], 0
	jne damaged
	mov dword [in_check], 1
	mov ebp, eax
	call damage_hash
	cmp eax, [ref_hash]
	jne damaged
	mov eax, ebp
	mov dword [in_check], 0
	cmp dword [in_seq], 0
	je guest_fault
	mov dword [in_seq], 0
	mov [fault_vec], eax
	mov [fault_esp], edx
	cmp eax, VEC_IRQ0
	jne .no_eoi
	push eax
	mov al, 0x20
	out 0x20, al
	pop eax
.no_eoi:
	; the frame, if it lies where the guest maps memory (the random
	; code's stack may be anywhere: then the frame went there, or nowhere)
	mov dword [fault_frame], -1
	mov dword [fault_frame + 4], -1
	mov dword [fault_frame + 8], -1
	mov dword [fault_frame + 12], -1
	cmp edx, HOME_MAPPED - 16
	ja .landed
	mov ecx, [edx]
	mov [fault_frame], ecx
	mov ecx, [edx + 4]
	mov [fault_frame + 4], ecx
	mov ecx, [edx + 8]
	mov [fault_frame + 8], ecx
	mov ecx, [edx + 12]
	mov [fault_frame + 12], ecx
.landed:
	call rec_check
	; which end: `int VEC_DONE` just after the bytes, or anything else
	cmp eax, VEC_DONE
	jne .count
	mov ecx, [seq_len]
	add ecx, CODE_AT + 2
	cmp [fault_frame], ecx
	jne .count
	mov eax, S_DONE
.count:
	mov [fault_vec], eax
	call count_slot
	mov dword [REC_A + R_RUNNING], 0
	inc dword [REC_A + R_SEQ]
	call rec_commit
	cmp dword [REC_A + R_VERBOSE], 0
	je .check
	call print_end
.check:
	jmp next_seq

; The random code wrote where the guest never does (a REP STOS or MOVS
; over it, a store to a random address, a stack pointer in the image with
; paging off, MOV CR0 without WP): a reset loads the image again, and the
; boot counts the sequence. Nothing else of the guest's runs here: any
; of it may be what was damaged (COM1 output, for one, hung the guest).
damaged:
	mov al, CMOS_DAMAGED
	out 0x70, al
	mov al, DAMAGED_MARK
	out 0x71, al
	jmp reset_pc

; IRQ 0 while the guest itself runs (the watchdog outlived a sequence)
tick_guest:
	push eax
	mov al, 0x20
	out 0x20, al
	pop eax
	iretd

; An exception in the guest's own code: a bug here, not in the monitor.
guest_fault:
	mov [fault_vec], eax
	fatal "exception in the guest's own code"

; gen_seq: the sequence cur_seq of cur_mode: code page, terminator,
; registers, flags, CR0, data pages.
gen_seq:
	pushad
	; the seed: a hash of (seed, mode, sequence)
	mov eax, [cur_seq]
	imul eax, eax, 0x9e3779b1
	xor eax, [REC_A + R_SEED]
	mov edx, [cur_mode]
	shl edx, 28
	xor eax, edx
	mov edx, eax
	shr edx, 16
	xor eax, edx
	imul eax, eax, 0x85ebca6b
	mov edx, eax
	shr edx, 13
	xor eax, edx
	imul eax, eax, 0xc2b2ae35
	mov edx, eax
	shr edx, 16
	xor eax, edx
	test eax, eax
	jnz .seeded
	inc eax
.seeded:
	mov ebp, eax			; the xorshift state from here on
	mov esi, xlat_id
	mov ebx, PTR_MASK3
	test dword [cur_mode], MODE_CPL0
	jz .table
	mov esi, xlat_cpl0
	mov ebx, PTR_MASK0
.table:
	mov [ptr_mask], ebx
	; the code page
	mov edi, CODE_PAGE
	mov ecx, 1024
	call fill
	xs ebp, edx
	mov eax, ebp
	xor edx, edx
	mov ecx, 49
	div ecx
	add edx, 16
	mov [seq_len], edx
	mov byte [CODE_AT + edx], 0xcd
	mov byte [CODE_AT + edx + 1], VEC_DONE
	; registers (POPAD order; ESP's slot is skipped)
	mov edi, seq_regs
	mov ecx, 8
.reg:
	xs ebp, edx
	mov eax, ebp
	test eax, 3 << 30
	jz .random
	xs ebp, edx
	mov eax, ebp
	and eax, [ptr_mask]
	add eax, ARENA
	jmp .store
.random:
	xs ebp, edx
	mov eax, ebp
.store:
	mov [edi], eax
	add edi, 4
	loop .reg
	; EFLAGS: IF, random status flags and DF
	xs ebp, edx
	mov eax, ebp
	and eax, F_ALU | F_DF
	or eax, F_IF | 2
	mov [seq_eflags], eax
	; CR0: TS one time in eight, EM one in sixteen
	xs ebp, edx
	mov eax, CR0_HOME
	test dword [cur_mode], MODE_PAGING
	jnz .pg
	and eax, ~CR0_PG
.pg:
	test ebp, 7
	jnz .no_ts
	or eax, CR0_TS
.no_ts:
	test ebp, 0xf0
	jnz .no_em
	or eax, CR0_EM
.no_em:
	mov [seq_cr0], eax
	; the data pages (the not-present one too: RAM with paging off)
	mov edi, ARENA
	mov ecx, 7 * 1024
	call fill
	popad
	ret

; fill: ECX dwords at EDI of random bytes from EBP's stream, each byte
; through the table at ESI. Clobbers EAX, ECX, EDX, EDI.
fill:
	cld
	cmp esi, xlat_id
	je .plain
.xlat:
	xs ebp, edx
	mov eax, ebp
	movzx edx, al
	mov al, [esi + edx]
	movzx edx, ah
	mov ah, [esi + edx]
	ror eax, 16
	movzx edx, al
	mov al, [esi + edx]
	movzx edx, ah
	mov ah, [esi + edx]
	ror eax, 16
	stosd
	loop .xlat
	ret
.plain:
	xs ebp, edx
	mov eax, ebp
	stosd
	loop .plain
	ret

; print_seq: "seq MODE N: bytes" (verbose)
print_seq:
	pushad
	puts "seq "
	mov eax, [cur_mode]
	mov esi, [mode_names + eax * 4]
	call lib_puts
	mov al, ' '
	call lib_putc
	mov eax, [cur_seq]
	call lib_putdec
	mov al, ':'
	call lib_putc
	mov esi, CODE_AT
	mov ecx, [seq_len]
	add ecx, 2
.byte:
	mov al, ' '
	call lib_putc
	mov al, [esi]
	call put_byte
	inc esi
	loop .byte
	call lib_newline
	puts "  regs"
	mov esi, seq_regs
	mov ecx, 8
.reg:
	mov al, ' '
	call lib_putc
	mov eax, [esi]
	call lib_puthex
	add esi, 4
	loop .reg
	puts " eflags "
	mov eax, [seq_eflags]
	call lib_puthex
	puts " cr0 "
	mov eax, [seq_cr0]
	call lib_puthex
	call lib_newline
	popad
	ret

; print_end: "  -> vector V frame F0 F1 F2 F3" (verbose)
print_end:
	pushad
	puts "  -> "
	mov eax, [fault_vec]
	call put_slot
	puts " at ESP "
	mov eax, [fault_esp]
	call lib_puthex
	puts ":"
	mov esi, fault_frame
	mov ecx, 4
.f:
	mov al, ' '
	call lib_putc
	mov eax, [esi]
	call lib_puthex
	add esi, 4
	loop .f
	call lib_newline
	popad
	ret

; put_byte: AL as two hex digits. Preserves registers.
put_byte:
	push eax
	push eax
	shr al, 4
	call .nibble
	pop eax
	call .nibble
	pop eax
	ret
.nibble:
	and al, 0x0f
	add al, '0'
	cmp al, '9'
	jbe .put
	add al, 'a' - '0' - 10
.put:
	jmp lib_putc

; put_slot: the name of slot EAX. Preserves registers.
put_slot:
	pushad
	cmp eax, 32
	jae .high
	mov esi, [exc_names + eax * 4]
	call lib_puts
	jmp .out
.high:
	cmp eax, 256
	jae .extra
	cmp eax, VEC_IRQ0
	jne .int
	puts "irq0"
	jmp .out
.int:
	puts "int 0x"
	call put_byte
	jmp .out
.extra:
	mov esi, [extra_names - 256 * 4 + eax * 4]
	call lib_puts
.out:
	popad
	ret

; --------------------------------------------------------------- report

report:
	xor ebx, ebx			; mode
.mode:
	bt dword [REC_A + R_MODES], ebx
	jnc .next
	mov eax, [mode_names + ebx * 4]
	push eax
	call lib_group
	; the counts of this mode
	mov eax, ebx
	mov edx, SLOTS * 4
	mul edx
	lea edi, [REC_A + R_COUNTS + eax]
	xor ecx, ecx			; slot
	xor ebp, ebp			; total
.sum:
	add ebp, [edi + ecx * 4]
	inc ecx
	cmp ecx, SLOTS
	jb .sum
	mov esi, [mode_names + ebx * 4]
	call lib_puts
	puts ": "
	mov eax, ebp
	call lib_putdec
	puts " sequences"		; a line of its own: the test wants it
	call lib_newline
	puts " "
	xor ecx, ecx
.slot:
	mov edx, [edi + ecx * 4]
	test edx, edx
	jz .skip
	mov al, ' '
	call lib_putc
	mov eax, ecx
	call put_slot
	mov al, ' '
	call lib_putc
	mov eax, edx
	call lib_putdec
.skip:
	inc ecx
	cmp ecx, SLOTS
	jb .slot
	call lib_newline
	mov eax, [REC_A + R_COUNT]
	sub eax, [REC_A + R_FROM]
	check ebp, eax
.next:
	inc ebx
	cmp ebx, NMODES
	jb .mode
	puts "boots "
	mov eax, [REC_A + R_BOOTS]
	inc eax
	call lib_putdec
	call lib_newline
	; a later run in this PC starts afresh
	mov dword [REC_A + R_MAGIC], 0
	mov dword [REC_B + R_MAGIC], 0
	mov dword [REC_C + R_MAGIC], 0
	guest_finish

; ----------------------------------------------------------------- data

section .rodata
align 4
	dw 0
h_gdtr:
	dw lib_gdt_end - lib_gdt - 1
	dd lib_gdt
align 4
	dw 0
h_idtr:
	dw 256 * 8 - 1
	dd lib_idt

stub_table:
%assign v 0
%rep 256
	dd stub_ %+ v
%assign v v + 1
%endrep

; interrupt gates of DPL 0 for the exceptions, IRQs and 0x30-0x3f (INT n
; from ring 3 faults), DPL 3 for INT3, INTO and the rest, not present at
; 0xf0-0xf7, trap gates (IF stays) at 0xf8-0xfe
gate_attr:
%assign v 0
%rep 256
%if v == 3 || v == 4
	db 0xee
%elif v < 0x40
	db 0x8e
%elif v >= 0xf0 && v < 0xf8
	db 0x6e
%elif v >= 0xf8 && v < 0xff
	db 0xef
%else
	db 0xee
%endif
%assign v v + 1
%endrep

; The arena's PTE flags, page by page: pages 0-3 data (the stack at the
; top of page 1), 4 read-only, 5 supervisor, 6 not present, 7 code.
arena_pte0:
	dd PG_AD | PG_P | PG_RW, PG_AD | PG_P | PG_RW
	dd PG_AD | PG_P | PG_RW, PG_AD | PG_P | PG_RW
	dd PG_AD | PG_P, PG_AD | PG_P | PG_RW, 0, PG_AD | PG_P
arena_pte3:
	dd PG_AD | PG_P | PG_RW | PG_US, PG_AD | PG_P | PG_RW | PG_US
	dd PG_AD | PG_P | PG_RW | PG_US, PG_AD | PG_P | PG_RW | PG_US
	dd PG_AD | PG_P | PG_US, PG_AD | PG_P | PG_RW, 0, PG_AD | PG_P | PG_RW | PG_US

; The bytes random code sees: as they are at CPL 3; at CPL 0 with CLI,
; POPF and IRET made STI, PUSHF and INTO, OUT and OUTS made IN and INS.
xlat_id:
%assign b 0
%rep 256
	db b
%assign b b + 1
%endrep
xlat_cpl0:
%assign b 0
%rep 256
%if b == 0xfa || b == 0x9d || b == 0xcf
	db b ^ 1
%elif b == 0xe6 || b == 0xe7 || b == 0xee || b == 0xef || b == 0x6e || b == 0x6f
	db b ^ 2
%else
	db b
%endif
%assign b b + 1
%endrep

mxcsr_default:	dd 0x1f80

fill_all:
	dd 0, REC_C
	dd REC_C + REC_BYTES, 0x100000
	dd image_end, REC_B
	dd REC_B + REC_BYTES, ARENA
	dd ARENA + ARENA_PAGES * 0x1000, REC_A
	dd REC_A + REC_BYTES, 0x400000
	dd 0, 0
fill_hot:
	dd 0, 0x9000
	dd 0x80000, 0x88000
	dd FS_BASE, FS_BASE + 0x8000
	dd GS_BASE, GS_BASE + 0x8000
	dd 0, 0

keywords:
	dd kw_seed, R_SEED
	dd kw_count, R_COUNT
	dd kw_from, R_FROM
	dd kw_modes, R_MODES
	dd kw_verbose, R_VERBOSE
	dd 0, 0
kw_seed:	db "seed=", 0
kw_count:	db "count=", 0
kw_from:	db "from=", 0
kw_modes:	db "modes=", 0
kw_verbose:	db "verbose=", 0

mode_names:	dd mn0, mn1, mn2, mn3
mn0:		db "cpl3_flat", 0
mn1:		db "cpl3_paging", 0
mn2:		db "cpl0_flat", 0
mn3:		db "cpl0_paging", 0

exc_names:
%assign v 0
%rep 32
	dd en %+ v
%assign v v + 1
%endrep
en0:	db "#DE", 0
en1:	db "#DB", 0
en2:	db "NMI", 0
en3:	db "#BP", 0
en4:	db "#OF", 0
en5:	db "#BR", 0
en6:	db "#UD", 0
en7:	db "#NM", 0
en8:	db "#DF", 0
en9:	db "v9", 0
en10:	db "#TS", 0
en11:	db "#NP", 0
en12:	db "#SS", 0
en13:	db "#GP", 0
en14:	db "#PF", 0
en15:	db "v15", 0
en16:	db "#MF", 0
en17:	db "#AC", 0
en18:	db "#MC", 0
en19:	db "#XM", 0
%assign v 20
%rep 12
en %+ v: db "v", '0' + v / 10, '0' + v % 10, 0
%assign v v + 1
%endrep
extra_names:	dd xn0, xn1, xn2, xn3
xn0:		db "done", 0
xn1:		db "reset", 0
xn2:		db "damage", 0
xn3:		db "stray", 0
rodata_end:

section .bss
alignb 4
mbi:		resd 1
home_cr0:	resd 1			; CR0 while the guest itself runs
ref_hash:	resd 1
in_seq:		resd 1
in_check:	resd 1			; the damage check is running
filled:		resd 1			; int3_fill's fill_all is done
cur_mode:	resd 1
cur_seq:	resd 1
seq_len:	resd 1
seq_regs:	resd 8
seq_eflags:	resd 1
seq_cr0:	resd 1
ptr_mask:	resd 1
fault_vec:	resd 1
fault_frame:	resd 4
fault_esp:	resd 1
alignb 4096
pt_block:
home_pd:	resb 4096
pd0:		resb 4096
pt0:		resb 4096
pd3:		resb 4096
pt3:		resb 4096
pt_block_end:
alignb 4096
image_end:
