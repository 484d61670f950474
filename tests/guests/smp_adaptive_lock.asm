; LOCKed instructions made adaptive, against other CPUs' plain LOCKed
; instructions on the same ordinary RAM (run with --smp 2 and 4, and under
; QEMU -smp N). btvm runs an adaptive instruction (one that wrote a traced
; page table: docs/DESIGN.md, "Adaptive translation") through memory
; callouts; with vCPUs on host threads, the other vCPUs' translated code
; takes no lock, so one on a buffer between its prepare and its finish
; would lose a plain LOCK XADD another CPU made in between. On plain RAM a
; LOCKed one (or XCHG) must run on the RAM itself (src/cpu/callout_mem.c).
;
; Paging on (the identity map's tables are in use, hence traced). Three
; shared sites, each a single instruction made adaptive by a write to a
; page-table entry in use that leaves the entry as it was: bump (LOCK
; XADD), bump_cas (LOCK CMPXCHG) and swap (XCHG, implicitly locked). Then,
; each kind of update on every CPU at once (a barrier): the CPUs of even
; APIC ID through the adaptive site, ROUNDS times, calling it on the entry
; again every REFRESH calls (an adaptive instruction that meets only RAM
; is released to plain code after 64 accesses in a row:
; src/mmu/shadow_adaptive.c);
; the CPUs of odd APIC ID through a plain instruction of their own, for as
; long as an adaptive one is at it (the more overlap, the likelier a lost
; update), each counting its own (for CMPXCHG and the XCHG lock, one
; update each time an adaptive CPU has made one, so as not to starve it). The BSP checks the exact totals: the
; shared counter is the sum of every CPU's own count, and each adaptive
; CPU went through its site ROUNDS times.
; - xadd: a counter, LOCK XADD;
; - cmpxchg: a counter, a LOCK CMPXCHG loop;
; - xchg: a spin lock taken by XCHG, and under it two counters (read,
;   increased, stored) that must stay equal: on a buffer, a CPU's XCHG
;   could take the lock another had just taken.
; tests/guests/CMakeLists.txt checks with --stats that the adaptive
; accesses were made (this guest cannot see how its instructions ran).
%define GUEST_NAME "smp_adaptive_lock"
%include "lib.inc"
%include "smp.inc"
%include "smp_lib.inc"
%include "paging.inc"

ROUNDS		equ 400000	; each adaptive CPU, each kind
REFRESH		equ 16			; entry writes keep a site adaptive
KINDS		equ 3

guest_start
	call lib_pic_init
	call lib_install_idt
	call pg_alloc
	mov [dir0], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	mov esi, APIC			; every CPU's local APIC, uncached
	mov eax, APIC | PG_P | PG_RW | PG_PCD | PG_PWT
	call pg_map
	mov eax, [dir0]
	call pg_enable
	pte_of xadd_ctr			; an entry of a table in use
	mov [entry], eax
	; Accessed and dirty already, so that no CPU's access through it
	; changes it from now on.
	or dword [eax], PG_A | PG_D
	invlpg [xadd_ctr]
	mov eax, [eax]
	mov [entry_value], eax
	smp_start_group
	smp_wait_eq [paged], eax	; every AP in the directory
	check dword [paged], eax

group "adaptive"
	; Each site on the entry, which must stay as it was; the first write
	; to a traced table with other CPUs running makes the site adaptive.
	call refresh
	mov eax, [entry]
	check dword [eax], dword [entry_value]
	check dword [refresh_bad], 0
	xor ebx, ebx
	mov dword [go], 1		; every CPU at once
	call work
	mov eax, [cpus]
	dec eax
	smp_wait_eq [done], eax
	check dword [done], eax
	mov eax, [entry]
	check dword [eax], dword [entry_value]
	check dword [refresh_bad], 0

group "xadd"
	mov esi, own_xadd
	call sum_own
	check dword [xadd_ctr], eax
	check edx, ROUNDS		; each adaptive CPU through bump

group "cmpxchg"
	mov esi, own_cas
	call sum_own
	check dword [cas_ctr], eax
	check edx, ROUNDS

group "xchg"
	mov esi, own_xchg
	call sum_own
	check dword [pair_a], eax
	check dword [pair_b], eax
	check dword [torn], 0
	check dword [xlock], 0
	check edx, ROUNDS
guest_finish

; sum_own: EAX = the sum of every CPU's own count in the array at ESI;
; EDX = ROUNDS when every adaptive CPU's (even APIC ID) is ROUNDS, else
; the first that is not.
sum_own:
	xor eax, eax
	xor ecx, ecx
	mov edx, ROUNDS
.cpu:
	add eax, [esi + ecx * 4]
	test ecx, 1
	jnz .next
	cmp dword [esi + ecx * 4], ROUNDS
	je .next
	mov edx, [esi + ecx * 4]
.next:
	inc ecx
	cmp ecx, [cpus]
	jb .cpu
	ret

; ------------------------------------------------------------ the APs
ap_work:
	mov eax, [dir0]
	call pg_enable
	lock inc dword [paged]
	smp_wait_eq [go], 1
	call work
	lock inc dword [done]
.idle:
	hlt
	jmp .idle

; ------------------------------------------------- the shared sites
; Each a single instruction, reached from every adaptive CPU's loop and
; from refresh.

; bump: LOCK XADD [EBX], EAX.
bump:
	lock xadd [ebx], eax
	ret

; bump_cas: LOCK CMPXCHG [EBX], EDX (ZF, EAX as the instruction leaves
; them).
bump_cas:
	lock cmpxchg [ebx], edx
	ret

; swap: XCHG [EBX], EAX.
swap:
	xchg [ebx], eax
	ret

; refresh: each site once on the entry, leaving it as it was (the write
; still reaches the traced table); a value read back that is not the
; entry's is counted in refresh_bad. Preserves registers.
refresh:
	pushad
	mov ebx, [entry]
	mov ecx, [entry_value]
	xor eax, eax
	call bump
	cmp eax, ecx
	je .cas
	lock inc dword [refresh_bad]
.cas:
	mov eax, ecx
	mov edx, ecx
	call bump_cas
	je .swap
	lock inc dword [refresh_bad]
.swap:
	mov eax, ecx
	call swap
	cmp eax, ecx
	je .out
	lock inc dword [refresh_bad]
.out:
	popad
	ret

; ------------------------------------------------------------ the work
; work: every kind of update for the CPU whose APIC ID is in EBX; even
; IDs through the adaptive sites, odd ones plain. Preserves EBX.
work:
	mov ebp, ebx
	test ebp, 1
	jnz .plain
	call smp_barrier
	call adaptive_xadd
	lock inc dword [adaptive_done]
	call smp_barrier
	call adaptive_cas
	lock inc dword [adaptive_done + 4]
	call smp_barrier
	call adaptive_xchg
	lock inc dword [adaptive_done + 8]
	ret
.plain:
	call smp_barrier
	xor esi, esi
	call plain_xadd
	call smp_barrier
	mov esi, 4
	call plain_cas
	call smp_barrier
	mov esi, 8
	call plain_xchg
	ret

; through site: call site, but first the entry written through every
; site (refresh) each REFRESH calls, failed CMPXCHGs and XCHGs that found
; the lock taken included (they too count towards a release). ESI counts
; the calls. Preserves EAX, EBX, EDX.
%macro through 1
	inc esi
	test esi, REFRESH - 1
	jnz %%call
	call refresh
%%call:
	call %1
%endmacro

; The adaptive CPUs: ROUNDS updates each through the site. EBP = the
; APIC ID.
adaptive_xadd:
	xor edi, edi
	xor esi, esi
.loop:
	mov ebx, xadd_ctr
	mov eax, 1
	through bump
	inc edi
	cmp edi, ROUNDS
	jb .loop
	mov [own_xadd + ebp * 4], edi
	ret

adaptive_cas:
	xor edi, edi
	xor esi, esi
.loop:
	mov ebx, cas_ctr
	mov eax, [ebx]
.retry:
	lea edx, [eax + 1]
	through bump_cas
	jnz .retry			; EAX is the value found: try on it
	lock inc dword [progress]
	inc edi
	cmp edi, ROUNDS
	jb .loop
	mov [own_cas + ebp * 4], edi
	ret

adaptive_xchg:
	xor edi, edi
	xor esi, esi
.take:
	mov ebx, xlock
	mov eax, 1
	through swap
	test eax, eax
	jz .held
.wait:
	pause
	cmp dword [xlock], 0
	jne .wait
	jmp .take
.held:
	call under_lock
	lock inc dword [progress]
	inc edi
	cmp edi, ROUNDS
	jb .take
	mov [own_xchg + ebp * 4], edi
	ret

; The plain CPUs: updates through instructions of their own until every
; adaptive CPU has done this kind (ESI = its offset in adaptive_done),
; then the count kept. EBP = the APIC ID.
plain_xadd:
	xor edi, edi
.loop:
	mov eax, 1
	lock xadd [xadd_ctr], eax
	inc edi
	call adaptive_left
	jnz .loop
	mov [own_xadd + ebp * 4], edi
	ret

plain_cas:
	xor edi, edi
.loop:
	mov ecx, [progress]
	mov eax, [cas_ctr]
.retry:
	lea edx, [eax + 1]
	lock cmpxchg [cas_ctr], edx
	jnz .retry
	inc edi
	call adaptive_turn
	jnz .loop
	mov [own_cas + ebp * 4], edi
	ret

plain_xchg:
	xor edi, edi
.loop:
	mov ecx, [progress]
	smp_lock_take [xlock]
	call under_lock
	inc edi
	call adaptive_turn
	jnz .loop
	mov [own_xchg + ebp * 4], edi
	ret

; adaptive_left: ZF clear while an adaptive CPU is still at the kind
; whose done count is at adaptive_done + ESI. Clobbers EAX.
adaptive_left:
	mov eax, [cpus]
	inc eax
	shr eax, 1			; the CPUs of even APIC ID
	cmp [adaptive_done + esi], eax
	ret

; adaptive_turn: after a plain CPU's CMPXCHG or XCHG-lock update, waits
; until an adaptive CPU has made one since [progress] was ECX, or until
; none is left at the kind (ESI as for adaptive_left); ZF clear while one
; is. Else a plain CPU, faster by far, could starve an adaptive one: its
; CMPXCHG fails whenever a plain one got in after its read (the callout
; is a wide window), and its XCHG finds the lock taken. Clobbers EAX.
adaptive_turn:
	call adaptive_left
	jz .out				; none left
	cmp [progress], ecx
	jne .out			; one moved on: ZF clear
	pause
	jmp adaptive_turn
.out:
	ret

; under_lock: with xlock held, a and b each read, increased and stored,
; equal whenever the holder looks; then the lock released. Clobbers EAX.
under_lock:
	mov eax, [pair_a]
	cmp eax, [pair_b]
	je .equal
	inc dword [torn]		; under the lock: a plain one will do
.equal:
	inc eax
	mov [pair_a], eax
	mov eax, [pair_b]
	inc eax
	mov [pair_b], eax
	mov dword [xlock], 0		; a store releases (x86's order)
	ret


section .data
align 4
dir0:		dd 0
cpus:		dd 0
paged:		dd 0
go:		dd 0
done:		dd 0
entry:		dd 0			; the PTE the sites write
entry_value:	dd 0			; what it holds, throughout
refresh_bad:	dd 0
adaptive_done:	times KINDS dd 0
progress:	dd 0			; the adaptive CPUs' CMPXCHG and XCHG updates
own_xadd:	times SMP_MAX_CPUS dd 0
own_cas:	times SMP_MAX_CPUS dd 0
own_xchg:	times SMP_MAX_CPUS dd 0
xadd_ctr:	dd 0
cas_ctr:	dd 0
xlock:		dd 0
pair_a:		dd 0
pair_b:		dd 0
torn:		dd 0
