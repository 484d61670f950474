; Write permissions taken away and given back while other CPUs write
; (run with --smp 2 and 4, and under QEMU -smp N). btvm holds a
; write-protection made in a page-table entry back until the guest's next
; TLB flush (a fork's copy-on-write marks, a dirty bit cleared), and gives
; a page that stops being a page table its write permission back only in
; the window of the CPU that freed it, the others taking a fault for it at
; their first write. Both must stay invisible to a guest that flushes as
; the SDM asks.
;
; Group "wp": the BSP runs in directory dir0, the APs in dir1, which
; shares dir0's identity map and the page table of TEST_LIN (as processes
; share a kernel's tables), so the BSP's page-table writes change what
; every CPU's address space maps. The APs write their own dword of the
; test page (linear TEST_LIN) in a loop. Phase k: the BSP rewrites the
; page's PTE, invalidates its own entry (INVLPG), checks its own write,
; then sends a fixed IPI to all but itself; each writer's handler
; invalidates the page (INVLPG, or a CR3 reload every other time) and
; acknowledges. After its acknowledgement each writer judges its next
; JUDGED writes: with RW clear (same frame, A and D kept) they must all
; fault; with RW set they must all land (read back through the page and
; through the identity map); with RW set and D clear they must land and
; set D in the PTE.
;
; Group "relax": page table PT2 maps TEST2_LIN in dir0 alone; the APs read
; PT2 through the identity map of dir1 while the BSP fills through it
; (PT2 is then a table every window maps read-only), the BSP clears the
; directory entry and reloads CR3 (PT2 is a table no more), and then each
; AP in turn takes an INT whose frame the CPU writes on a stack in PT2
; (through dir1's identity map), pushes and pops there and writes a dword
; of its own. The BSP
; checks their words afterwards.
%define GUEST_NAME "smp_wp"
%include "lib.inc"
%include "smp.inc"
%include "smp_lib.inc"
%include "paging.inc"
%include "shootdown.inc"

TEST_LIN	equ 0x40000000
TEST2_LIN	equ 0x48000000
FRAME		equ 0x00d00000		; the test page's frame, outside the pool
FRAME2		equ 0x00d01000		; TEST2_LIN's
PHASES		equ 30			; k mod 3: 1 protect, 2 unprotect, 0 clean
JUDGED		equ 8			; writes a writer judges after each phase's IPI
FAULTED		equ 0xfa17fa17		; write_test's result when it faulted
V_SHOOT		equ 0x41
SHOOT_CR3_PHASE_BIT equ 1		; the phases whose IPI reloads CR3 (shootdown.inc)
V_FRAME		equ 0x42		; the INT whose frame lands on PT2

; What a phase's writes must do.
EXPECT_FAULT	equ 1
EXPECT_LAND	equ 2
EXPECT_DIRTY	equ 3

guest_start
	call lib_pic_init
	call lib_install_idt
	gate 14, pf_isr, 0x8e
	gate V_SHOOT, shoot_isr, 0x8e
	gate V_FRAME, frame_isr, 0x8e
	call pg_alloc
	mov [dir0], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	mov esi, TEST_LIN
	mov eax, FRAME | PG_P | PG_RW
	call pg_map
	mov esi, APIC			; every CPU's local APIC, uncached
	mov eax, APIC | PG_P | PG_RW | PG_PCD | PG_PWT
	call pg_map
	; dir1: the identity map, the APIC and TEST_LIN's table, all shared.
	call pg_alloc
	mov [dir1], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	pde_of TEST_LIN
	mov edx, [eax]
	mov [edi + (TEST_LIN >> 22) * 4], edx
	pde_of APIC
	mov edx, [eax]
	mov [edi + (APIC >> 22) * 4], edx
	; TEST2_LIN in dir0 alone, through a table of its own: PT2.
	mov edi, [dir0]
	mov esi, TEST2_LIN
	mov eax, FRAME2 | PG_P | PG_RW
	call pg_map
	pde_of TEST2_LIN
	mov eax, [eax]
	and eax, PG_FRAME
	mov [pt2], eax
	mov eax, [dir0]
	call pg_enable
	mov eax, cr0			; supervisor writes honour RW
	or eax, CR0_WP
	mov cr0, eax
	; PT2's identity entry dirty, so that a window may map it writable
	; (the page-table pool was written with paging off).
	mov edi, [dir0]
	mov esi, [pt2]
	call pg_pte_addr
	or dword [eax], PG_A | PG_D
	mov eax, cr3
	mov cr3, eax
	smp_start_group
	smp_wait_eq [paged], eax	; every AP in dir1, writing
	check dword [paged], eax

group "wp"
	mov esi, 1
.phase:
	pte_of TEST_LIN
	mov edi, eax
	mov eax, esi
	xor edx, edx
	mov ecx, 3
	div ecx				; EDX = k mod 3
	cmp edx, 1
	je .protect
	cmp edx, 2
	je .unprotect
	mov dword [edi], FRAME | PG_P | PG_RW | PG_A	; clean: D clear
	mov edx, EXPECT_DIRTY
	jmp .shoot
.protect:
	mov dword [edi], FRAME | PG_P | PG_A | PG_D	; the same frame, RW clear
	mov edx, EXPECT_FAULT
	jmp .shoot
.unprotect:
	mov dword [edi], FRAME | PG_P | PG_RW | PG_A | PG_D
	mov edx, EXPECT_LAND
.shoot:
	invlpg [TEST_LIN]
	xor ebx, ebx			; the BSP's own write, at once: its window
	call judge_write		; maps the page writable before a protect
	jz .own_ok
	inc dword [bad]
	mov [bad_what], esi
.own_ok:
	shoot_start edx, esi
	mov ecx, 1
.wait:
	smp_wait_eq [ack + ecx * 4], esi
	smp_wait_eq [judged_phase + ecx * 4], esi
	inc ecx
	cmp ecx, [cpus]
	jb .wait
	inc esi
	cmp esi, PHASES
	jbe .phase
	mov dword [stop], 1
	mov eax, [cpus]
	dec eax
	smp_wait_eq [left_wp], eax
	; Every CPU: no judged write wrong, JUDGED a phase judged by each
	; writer, a third of them faulted, at its dword of TEST_LIN.
	xor ecx, ecx
	xor edi, edi
.cpu:
	mov eax, [bad + ecx * 4]
	test eax, eax
	jz .good
	mov eax, [bad_what + ecx * 4]	; phase << 16 | APIC ID, for the log
	shl eax, 16
	or eax, ecx
	check eax, 0
	jmp .next
.good:
	test ecx, ecx
	jz .counted			; the BSP judges its own writes only
	cmp dword [judged + ecx * 4], PHASES * JUDGED
	jne .next
	cmp dword [cpu_pf_count + ecx * 4], PHASES / 3 * JUDGED
	jb .next
	lea eax, [TEST_LIN + ecx * 4]	; its own dword
	cmp [cpu_pf_cr2 + ecx * 4], eax
	jne .next
.counted:
	inc edi
.next:
	inc ecx
	cmp ecx, [cpus]
	jb .cpu
	check edi, dword [cpus]
	check dword [cpu_pf_count], PHASES / 3	; the BSP's own, one a protect phase

group "relax"
	; PT2 a table in use: a fill through it (the APs read it meanwhile).
	mov dword [relax_go], 1
	mov eax, [cpus]
	dec eax
	smp_wait_eq [relax_reading], eax
	mov eax, [TEST2_LIN]
	mov dword [TEST2_LIN], 0x7e57
	mov eax, [FRAME2]
	check eax, 0x7e57
	; No longer one: its directory entry cleared, the TLB flushed.
	pde_of TEST2_LIN
	mov dword [eax], 0
	mov eax, cr3
	mov cr3, eax
	mov dword [relax_freed], 1
	; Each AP in turn writes PT2 (its dword, a stack, an INT's frame).
	mov ecx, 1
.ap:
	mov [relax_turn], ecx
	smp_wait_eq [relax_done + ecx * 4], 1
	inc ecx
	cmp ecx, [cpus]
	jb .ap
	; Their words, seen by the BSP through dir0.
	mov edx, [pt2]
	mov ecx, 1
	xor edi, edi
.word:
	lea eax, [ecx + 0x5a5a0000]
	cmp [edx + ecx * 4], eax
	jne .skip
	cmp dword [relax_ok + ecx * 4], 1
	jne .skip
	inc edi
.skip:
	inc ecx
	cmp ecx, [cpus]
	jb .word
	mov eax, [cpus]
	dec eax
	check edi, eax
	mov dword [relax_end], 1
guest_finish

; judge_write: CPU EBX writes (phase << 16 | id) to its dword of
; TEST_LIN; ZF set when that did what [shoot_expect]-style EDX says
; (EXPECT_FAULT: it faulted; EXPECT_LAND: it landed, read back both
; through the page and through the identity map; EXPECT_DIRTY: landed,
; and the PTE's D set). ESI = the phase. Preserves registers.
judge_write:
	push eax
	push ecx
	mov eax, esi
	shl eax, 16
	or eax, ebx
	mov ecx, eax
	call write_test
	cmp edx, EXPECT_FAULT
	jne .landing
	cmp eax, FAULTED
	jmp .out
.landing:
	cmp eax, FAULTED
	je .out_bad
	cmp [TEST_LIN + ebx * 4], ecx
	jne .out
	cmp [FRAME + ebx * 4], ecx
	jne .out
	cmp edx, EXPECT_DIRTY
	je .dirty
	cmp eax, eax			; ZF set: it landed
	jmp .out
.dirty:
	pte_of TEST_LIN
	test dword [eax], PG_D
	jz .out_bad
	cmp eax, eax
	jmp .out
.out_bad:
	or eax, 1			; ZF clear (EAX is not 0 here)
	test eax, eax
.out:
	pop ecx
	pop eax
	ret

; write_test: writes EAX to CPU EBX's dword of TEST_LIN; EAX = FAULTED
; when that faulted (pf_isr), else unchanged. Preserves the other
; registers.
write_test:
	mov [TEST_LIN + ebx * 4], eax
write_test_end:
	ret

; #PF: only write_test's access may fault (shootdown.inc).
shoot_pf_isr_define write_test, write_test_end

shoot_isr_define

; An INT taken with ESP in PT2: its frame is written there.
frame_isr:
	iretd

; ------------------------------------------------------------ the APs
ap_work:
	mov eax, [dir1]
	call pg_enable
	mov eax, cr0
	or eax, CR0_WP
	mov cr0, eax
	sti
	mov eax, 0xffff			; an unjudged write: the mapping made
	call write_test
	lock inc dword [paged]
	; Group "wp": write until [stop]; judge JUDGED writes of each phase
	; that began after its IPI was handled here.
	xor edi, edi			; writes judged in the current phase
.loop:
%ifdef QEMU_TCG
	pause				; QEMU 7.2's pending IPI: smp_shootdown.asm says
%endif
	cmp dword [stop], 0
	jne .wp_out
	mov esi, [cur_phase + ebx * 4]
	mov edx, [cur_expect + ebx * 4]
	cmp esi, [cur_phase + ebx * 4]
	jne .loop
	test esi, esi
	jz .unjudged			; no phase yet
	cmp esi, [judged_phase + ebx * 4]
	je .unjudged			; this phase judged
	call judge_write
	jz .right
	inc dword [bad + ebx * 4]
	mov [bad_what + ebx * 4], esi
.right:
	inc dword [judged + ebx * 4]
	inc edi
	cmp edi, JUDGED
	jb .loop
	xor edi, edi
	mov [judged_phase + ebx * 4], esi
	jmp .loop
.unjudged:
	mov eax, ebx			; keep the mapping in use, as judged or not
	call write_test
	jmp .loop
.wp_out:
	cli
	lock inc dword [left_wp]
	; Group "relax": PT2 read through dir1's identity map while it is a
	; table (mapped in this window, read-only), then written once the BSP
	; freed it.
	smp_wait_eq [relax_go], 1
	mov edx, [pt2]
	mov eax, [edx]
	lock inc dword [relax_reading]
.reading:
	mov eax, [edx]
	cmp dword [relax_freed], 1
	jne .reading
	smp_wait_eq [relax_turn], ebx
	mov ecx, esp			; a stack on PT2: an INT's frame first
	lea esp, [edx + 4096 - 64]
	int V_FRAME
	push dword 0x600d
	pop eax
	mov esp, ecx
	cmp eax, 0x600d
	jne .relax_bad
	lea eax, [ebx + 0x5a5a0000]
	mov [edx + ebx * 4], eax	; a plain write
	cmp [edx + ebx * 4], eax
	jne .relax_bad
	mov dword [relax_ok + ebx * 4], 1
.relax_bad:
	mov dword [relax_done + ebx * 4], 1
	smp_wait_eq [relax_end], 1
.idle:
	hlt
	jmp .idle

section .data
align 4
dir0:		dd 0
dir1:		dd 0
pt2:		dd 0
cpus:		dd 0
paged:		dd 0
stop:		dd 0
left_wp:	dd 0
relax_go:	dd 0
relax_reading:	dd 0
relax_freed:	dd 0
relax_turn:	dd 0
relax_end:	dd 0
judged_phase:	times SMP_MAX_CPUS dd 0
judged:		times SMP_MAX_CPUS dd 0
bad:		times SMP_MAX_CPUS dd 0
bad_what:	times SMP_MAX_CPUS dd 0
cpu_pf_count:	times SMP_MAX_CPUS dd 0
cpu_pf_cr2:	times SMP_MAX_CPUS dd 0
relax_done:	times SMP_MAX_CPUS dd 0
relax_ok:	times SMP_MAX_CPUS dd 0
