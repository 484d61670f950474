; TLB shootdown on several CPUs (run with --smp 2 and 4, and under QEMU
; -smp N). Paging on, every CPU in one page directory; the APs read the
; test page (linear TEST_LIN) in a loop, so its translation is cached
; wherever the CPU or the monitor caches one. Phase k: the BSP changes the
; page's PTE, invalidates its own entry, sets what the APs must see from
; now on and sends a fixed IPI to all but itself; each AP's handler
; invalidates the page (INVLPG, or a CR3 reload every other phase) and
; acknowledges. After its acknowledgement each AP judges its next
; JUDGED reads of the page: they must all fault (#PF, recorded by the
; handler) after an unmap, and all read the new frame's value after a
; remap to another frame. The BSP waits for every AP's acknowledgement
; and judgement before it changes the PTE again (so no AP judges a read
; made while the BSP writes), and checks its own reads too. PHASES / 2
; unmaps and as many remaps, over four frames in turn.
%define GUEST_NAME "smp_shootdown"
%include "lib.inc"
%include "smp.inc"
%include "smp_lib.inc"
%include "paging.inc"

TEST_LIN	equ 0x40000000
FRAMES		equ 0x00d00000		; four frames, outside the page-table pool
PHASES		equ 40			; remap (odd k), unmap (even k)
JUDGED		equ 8			; reads an AP judges after each shootdown
FAULTED		equ 0xfa17fa17		; read_test's result when it faulted
PATTERN		equ 0x5e000000		; + k: frame contents for phase k
V_SHOOT		equ 0x41

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
	call smp_start
	mov [cpus], eax

group "start"
	mov eax, [cpus]
	dec eax
	check dword [smp_arrived], eax
	smp_wait_eq [paged], eax	; every AP in the directory, reading
	check dword [paged], eax
	call read_test
	check eax, PATTERN

group "phases"
	mov esi, 1
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
	call read_test			; the BSP's own: at once
	cmp eax, edx
	je .bsp_ok
	inc dword [bsp_bad]
.bsp_ok:
	mov [shoot_expect], edx
	mov [shoot_phase], esi
	smp_send 0, SH_OTHERS | ICR_ASSERT | V_SHOOT
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
	smp_wait_eq [finished], eax
	check dword [bsp_bad], 0
	check dword [cpu_pf_count], PHASES / 2	; the BSP's: one each unmap

group "aps"
	; Each AP: no judged read wrong, JUDGED judged each phase, all the
	; unmaps' judged reads faulted at TEST_LIN.
	mov ecx, 1
	xor edi, edi
.ap:
	mov eax, [bad + ecx * 4]
	test eax, eax
	jz .ap_good
	mov eax, [bad_what + ecx * 4]	; phase << 16 | APIC ID, for the log
	shl eax, 16
	or eax, ecx
	check eax, 0
	jmp .ap_next
.ap_good:
	cmp dword [judged + ecx * 4], PHASES * JUDGED
	jne .ap_next
	cmp dword [cpu_pf_count + ecx * 4], PHASES / 2 * JUDGED
	jb .ap_next
	cmp dword [cpu_pf_cr2 + ecx * 4], TEST_LIN
	jne .ap_next
	inc edi
.ap_next:
	inc ecx
	cmp ecx, [cpus]
	jb .ap
	mov eax, [cpus]
	dec eax
	check edi, eax
	check dword [judged + 4], PHASES * JUDGED
	check dword [cpu_pf_cr2 + 4], TEST_LIN
	check dword [cpu_pf_cr2], TEST_LIN
guest_finish

; read_test: EAX = the dword at TEST_LIN, or FAULTED when that faults
; (pf_isr). Preserves the other registers.
read_test:
	mov eax, [TEST_LIN]
read_test_end:
	ret

; #PF: only read_test's read may fault; counted per CPU, CR2 recorded,
; read_test resumed with EAX = FAULTED.
pf_isr:
	push eax
	cmp dword [esp + 8], read_test
	jne .unexpected
	mov dword [esp + 8], read_test_end
	push ebx
	call smp_apic_id
	mov ebx, cr2
	mov [cpu_pf_cr2 + eax * 4], ebx
	inc dword [cpu_pf_count + eax * 4]	; this CPU's own
	pop ebx
	pop eax
	mov eax, FAULTED
	add esp, 4			; the error code
	iretd
.unexpected:
	fatal "#PF not in read_test"

; The shootdown's IPI: the page invalidated (every other phase by a CR3
; reload: the whole TLB), then what reads must give from now on, the
; phase, the acknowledgement.
shoot_isr:
	push eax
	push ebx
	call smp_apic_id
	mov ebx, eax
	test dword [shoot_phase], 2
	jz .invlpg
	mov eax, cr3
	mov cr3, eax
	jmp .flushed
.invlpg:
	invlpg [TEST_LIN]
.flushed:
	mov eax, [shoot_expect]
	mov [cur_expect + ebx * 4], eax
	mov eax, [shoot_phase]
	mov [cur_phase + ebx * 4], eax
	mov [ack + ebx * 4], eax
	mov dword [APIC_EOI], 0
	pop ebx
	pop eax
	iretd

; ------------------------------------------------------------ the APs
ap_work:
	mov eax, [dir0]
	call pg_enable
	sti
	call read_test			; the translation cached from the start
	lock inc dword [paged]
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
	cmp dword [stop], 0
	jne .out
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
stop:		dd 0
finished:	dd 0
bsp_bad:	dd 0
shoot_expect:	dd 0
shoot_phase:	dd 0
cur_expect:	times SMP_MAX_CPUS dd 0
cur_phase:	times SMP_MAX_CPUS dd 0
ack:		times SMP_MAX_CPUS dd 0
judged_phase:	times SMP_MAX_CPUS dd 0
judged:		times SMP_MAX_CPUS dd 0
bad:		times SMP_MAX_CPUS dd 0
bad_what:	times SMP_MAX_CPUS dd 0
cpu_pf_count:	times SMP_MAX_CPUS dd 0
cpu_pf_cr2:		times SMP_MAX_CPUS dd 0
