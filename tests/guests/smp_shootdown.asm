; TLB shootdown on several CPUs (run with --smp 2 and 4, and under QEMU
; -smp N). Paging on, every CPU in one page directory; the readers read
; the test page (linear TEST_LIN) in a loop, so its translation is cached
; wherever the CPU or the monitor caches one. Phase k: the initiator
; changes the page's PTE, invalidates its own entry, checks its own read,
; sets what the readers must see from now on and sends a fixed IPI to all
; but itself; each reader's handler invalidates the page (INVLPG, or a
; CR3 reload every other phase) and acknowledges. After its
; acknowledgement each reader judges its next JUDGED reads of the page:
; they must all fault (#PF, recorded by the handler) after an unmap, and
; all read the new frame's value after a remap to another frame. The
; initiator waits for every reader's acknowledgement and judgement before
; it changes the PTE again (so no reader judges a read made while the
; PTE is written). Two series of PHASES phases (half unmaps, half
; remaps, over four frames in turn): the BSP initiates the first, with
; every AP reading, and AP 1 the second, with the BSP and the other APs
; reading.
%define GUEST_NAME "smp_shootdown"
%include "lib.inc"
%include "smp.inc"
%include "smp_lib.inc"
%include "paging.inc"
%include "shootdown.inc"

TEST_LIN	equ 0x40000000
FRAMES		equ 0x00d00000		; four frames, outside the page-table pool
PHASES		equ 20			; each series: remap (odd k), unmap (even k)
JUDGED		equ 8			; reads a reader judges after each shootdown
FAULTED		equ 0xfa17fa17		; read_test's result when it faulted
PATTERN		equ 0x5e000000		; + k: frame contents for phase k
V_SHOOT		equ 0x41
SHOOT_CR3_PHASE_BIT equ 2		; the phases whose IPI reloads CR3 (shootdown.inc)

guest_start
	call lib_pic_init
	call lib_install_idt
	gate 14, pf_isr, 0x8e
	gate V_SHOOT, shoot_isr, 0x8e
	call pg_alloc
	mov [dir0], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	mov dword [FRAMES], PATTERN	; phase 0: frame 0
	mov esi, TEST_LIN
	mov eax, FRAMES | PG_P | PG_RW
	call pg_map
	mov esi, APIC			; every CPU's local APIC, uncached
	mov eax, APIC | PG_P | PG_RW | PG_PCD | PG_PWT
	call pg_map
	mov eax, [dir0]
	call pg_enable
	smp_start_group
	smp_wait_eq [paged], eax	; every AP in the directory, reading
	check dword [paged], eax
	call read_test
	check eax, PATTERN

group "shootdowns"
	xor ebx, ebx
	mov esi, 1
	call phases
	mov dword [stop], 1
	smp_wait_eq [ap1_left], 1	; AP 1 out of its loop: it initiates now
	; The BSP reads while AP 1 initiates.
	sti
	mov dword [go2], 1
	mov ebp, 2
	call read_loop
	cli
	mov eax, [cpus]
	dec eax
	smp_wait_eq [finished], eax
	check dword [finished], eax

group "results"
	; Every CPU: no judged read wrong (neither a reader's nor an
	; initiator's own), JUDGED judged each phase it read in, at least
	; the unmaps' judged reads faulted, at TEST_LIN.
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
	mov eax, PHASES * JUDGED	; the BSP and AP 1 read in one series
	cmp ecx, 2
	jb .one_series
	add eax, eax			; the others in both
.one_series:
	cmp [judged + ecx * 4], eax
	jne .next
	shr eax, 1
	cmp [cpu_pf_count + ecx * 4], eax
	jb .next
	cmp dword [cpu_pf_cr2 + ecx * 4], TEST_LIN
	jne .next
	inc edi
.next:
	inc ecx
	cmp ecx, [cpus]
	jb .cpu
	check edi, dword [cpus]
	check dword [judged], PHASES * JUDGED
	check dword [judged + 4], PHASES * JUDGED
	check dword [initiated], 2 * PHASES
guest_finish

; phases: PHASES phases, k = ESI on, initiated by the CPU whose APIC ID
; is in EBX; returns once every other CPU has judged the last.
phases:
	lea edi, [esi + PHASES]
	mov [phases_end], edi
.phase:
	pte_of TEST_LIN
	mov edi, eax
	test esi, 1
	jz .unmap
	; Remap to frame (k / 2 + 1) mod 4 (never the one before), which
	; holds PATTERN + k now.
	mov eax, esi
	shr eax, 1
	inc eax
	and eax, 3
	shl eax, 12
	add eax, FRAMES
	lea edx, [esi + PATTERN]
	mov [eax], edx
	or eax, PG_P | PG_RW
	mov [edi], eax
	jmp .shoot
.unmap:
	mov dword [edi], 0
	mov edx, FAULTED
.shoot:
	invlpg [TEST_LIN]
	call read_test			; the initiator's own: at once
	cmp eax, edx
	je .own_ok
	inc dword [bad + ebx * 4]
	mov [bad_what + ebx * 4], esi
.own_ok:
	shoot_start edx, esi
	xor ecx, ecx
.wait:
	cmp ecx, ebx
	je .waited
	smp_wait_eq [ack + ecx * 4], esi
	smp_wait_eq [judged_phase + ecx * 4], esi
.waited:
	inc ecx
	cmp ecx, [cpus]
	jb .wait
	inc dword [initiated]
	inc esi
	cmp esi, [phases_end]
	jb .phase
	ret

; read_loop: a reader, the CPU whose APIC ID is in EBX, until [stop]
; reaches EBP. Each read that began after a shootdown's IPI was handled
; here is judged, JUDGED of them a phase.
read_loop:
	xor edi, edi			; reads judged in the current phase
.loop:
%ifdef QEMU_TCG
	; QEMU 7.2's TCG (MTTCG and round robin alike) can leave a fixed IPI
	; in the IRR of a CPU that loops in chained blocks, IF set, for ever
	; (about one run in two with -smp 2); PAUSE leaves its loop of blocks.
	; Under btvm the loop has none: an IPI must reach a vCPU spinning in
	; translated code.
	pause
%endif
	cmp [stop], ebp
	jae .out
	; The phase and its expectation as one: the phase read again after
	; the expectation is the same only if no IPI came in between.
	mov ecx, [cur_phase + ebx * 4]
	mov edx, [cur_expect + ebx * 4]
	cmp ecx, [cur_phase + ebx * 4]
	jne .loop
	call read_test
	test ecx, ecx
	jz .loop			; no shootdown yet
	cmp ecx, [judged_phase + ebx * 4]
	je .loop			; this phase judged
	; A read that began after this phase's shootdown on this CPU.
	cmp eax, edx
	je .right
	inc dword [bad + ebx * 4]
	mov [bad_what + ebx * 4], ecx
.right:
	inc dword [judged + ebx * 4]
	inc edi
	cmp edi, JUDGED
	jb .loop
	xor edi, edi
	mov [judged_phase + ebx * 4], ecx
	jmp .loop
.out:
	ret

; read_test: EAX = the dword at TEST_LIN, or FAULTED when that faults
; (pf_isr). Preserves the other registers.
read_test:
	mov eax, [TEST_LIN]
read_test_end:
	ret

; #PF: only read_test's access may fault (shootdown.inc).
shoot_pf_isr_define read_test, read_test_end

shoot_isr_define

; ------------------------------------------------------------ the APs
ap_work:
	mov eax, [dir0]
	call pg_enable
	sti
	call read_test			; the translation cached from the start
	lock inc dword [paged]
	cmp ebx, 1
	je .ap1
	mov ebp, 2			; the other APs read in both series
	call read_loop
	jmp .out
.ap1:
	mov ebp, 1			; AP 1 reads in the first, then initiates
	call read_loop
	mov dword [ap1_left], 1
	smp_wait_eq [go2], 1
	mov esi, PHASES + 1
	call phases
	mov dword [stop], 2
.out:
	cli
	lock inc dword [finished]
.idle:
	hlt
	jmp .idle

section .data
align 4
dir0:		dd 0
cpus:		dd 0
paged:		dd 0
stop:		dd 0			; the series that ended last
finished:	dd 0
ap1_left:	dd 0
go2:		dd 0
phases_end:	dd 0
initiated:	dd 0
judged_phase:	times SMP_MAX_CPUS dd 0
judged:		times SMP_MAX_CPUS dd 0
bad:		times SMP_MAX_CPUS dd 0
bad_what:	times SMP_MAX_CPUS dd 0
cpu_pf_count:	times SMP_MAX_CPUS dd 0
cpu_pf_cr2:	times SMP_MAX_CPUS dd 0
