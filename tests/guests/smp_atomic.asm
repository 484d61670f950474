; Guest atomics on several CPUs at once (run with --smp 2 and 4, and under
; QEMU -smp N): every CPU, released together, makes the same series of
; updates to shared memory, and the BSP checks the exact results once all
; have finished (each kind of update begins on every CPU at once, at a
; barrier):
; - a counter incremented ROUNDS times with LOCK XADD; each value XADD
;   returned is marked in a bitmap with LOCK BTS, and a value returned
;   twice (an update lost) or out of range is counted;
; - a counter incremented ROUNDS times with a LOCK CMPXCHG loop, the
;   values it replaced marked likewise;
; - a 64-bit counter (its low dword wrapping into the high one) with a
;   LOCK CMPXCHG8B loop;
; - LOCK INC, LOCK ADD and LOCK SUB on memory operands;
; - a linked list and two counters that must stay equal, updated with
;   plain loads and stores under a lock taken by XCHG with memory
;   (implicitly locked): every node on the list once, each CPU's count
;   right, the counters equal whenever the lock's holder looks;
; - two counters, one twice the other, under a lock taken by LOCK BTS;
; - a counter that straddles a cache line (offset 62 of a 64-byte line)
;   incremented with LOCK XADD: still atomic, the bytes beside it kept.
; With the LOCK prefixes removed (nasm -DNOLOCK) the totals come out short
; under QEMU's MTTCG; under btvm's turns (one vCPU at a time) they do
; not, and with vCPUs on host threads they must not either.
%define GUEST_NAME "smp_atomic"
%include "lib.inc"
%include "smp.inc"
%include "smp_lib.inc"

%ifdef NOLOCK
%define LOCK
%else
%define LOCK lock
%endif

ROUNDS		equ 1000000		; LOCK XADD, CMPXCHG loop: each CPU
ROUNDS8		equ 200000		; CMPXCHG8B loop: each CPU
INC_ROUNDS	equ 500000		; LOCK INC, ADD, SUB: each CPU
LOCK_ROUNDS	equ 20000		; under each lock: each CPU
; A split lock would be a bus lock on the host, which Linux and hypervisors
; trap and throttle where the CPU reports them (recent Intel CPUs): on the
; Firecracker guest that runs the tests each took about 150 us when btvm
; still ran them as they are (16,000 took 2.3 s of the test's 2.8); btvm
; runs them on a buffer with the other vCPUs stopped now, and QEMU as
; well. A thousand each.
SPLIT_ROUNDS	equ 1000
CAS8_START	equ 0xffff0000		; the 64-bit counter's low dword at first
NODE_SIZE	equ 16			; next, owner, sequence, pad

guest_start
	call lib_pic_init
	call lib_install_idt
	smp_start_group
	mov eax, [cpus]
	imul eax, ROUNDS
	mov [limit], eax
	mov dword [go], 1		; every CPU at once
	xor ebx, ebx
	call work
	mov eax, [cpus]
	dec eax
	smp_wait_eq [done], eax
	check dword [done], eax

group "xadd"
	mov eax, [cpus]
	imul eax, ROUNDS
	check dword [xadd_ctr], eax
	check dword [xadd_dups], 0

group "cmpxchg"
	mov eax, [cpus]
	imul eax, ROUNDS
	check dword [cas_ctr], eax
	check dword [cas_dups], 0

group "cmpxchg8b"
	mov eax, [cpus]
	imul eax, ROUNDS8
	xor edx, edx
	add eax, CAS8_START
	adc edx, 0
	check dword [cas8_ctr], eax
	check dword [cas8_ctr + 4], edx

group "inc_add_sub"
	mov eax, [cpus]
	imul eax, INC_ROUNDS
	check dword [inc_ctr], eax
	lea edx, [eax * 3]
	check dword [add_ctr], edx
	neg eax
	check dword [sub_ctr], eax

group "xchg_lock"
	; The list: walk it, counting each owner's nodes and the whole.
	xor ecx, ecx
	mov esi, [list_head]
.walk:
	test esi, esi
	jz .walked
	mov eax, [esi + 4]
	cmp eax, SMP_MAX_CPUS
	jae .bad_owner
	inc dword [owner_count + eax * 4]
	jmp .next
.bad_owner:
	inc dword [bad_owners]
.next:
	inc ecx
	cmp ecx, SMP_MAX_CPUS * LOCK_ROUNDS + 1
	jae .walked			; a cycle: stop, the count says so
	mov esi, [esi]
	jmp .walk
.walked:
	mov eax, [cpus]
	imul eax, LOCK_ROUNDS
	check ecx, eax
	check dword [list_len], eax
	check dword [pair_a], eax
	check dword [pair_b], eax
	check dword [torn_ab], 0
	check dword [bad_owners], 0
	check dword [xlock], 0
	xor edx, edx
	xor ecx, ecx
.owners:
	cmp dword [owner_count + ecx * 4], LOCK_ROUNDS
	jne .owner_off
	inc edx
.owner_off:
	inc ecx
	cmp ecx, [cpus]
	jb .owners
	check edx, dword [cpus]		; every CPU's nodes all there

group "bts_lock"
	mov eax, [cpus]
	imul eax, LOCK_ROUNDS
	check dword [pair_c], eax
	add eax, eax
	check dword [pair_d], eax
	check dword [torn_cd], 0
	check dword [block], 0

group "split"
	mov eax, [cpus]
	imul eax, SPLIT_ROUNDS
	check dword [split_ctr], eax
	check dword [split_ctr - 4], 0x5a5a5a5a
	check dword [split_ctr + 4], 0xa5a5a5a5
guest_finish

; ------------------------------------------------------------ the APs
ap_work:
	smp_wait_eq [go], 1
	call work
	lock inc dword [done]
.idle:
	hlt
	jmp .idle

; work: the whole series of updates for the CPU whose APIC ID is in EBX.
; Preserves EBX.
work:
	call smp_barrier
	; LOCK XADD: each value returned marked once.
	mov ecx, ROUNDS
.xadd:
	mov eax, 1
	LOCK xadd [xadd_ctr], eax
	cmp eax, [limit]
	jae .xadd_dup
	lock bts [xadd_seen], eax
	jnc .xadd_next
.xadd_dup:
	lock inc dword [xadd_dups]
.xadd_next:
	dec ecx
	jnz .xadd

	call smp_barrier
	; A CMPXCHG loop: read, add one, store if unchanged, else again.
	mov ecx, ROUNDS
.cas:
	mov eax, [cas_ctr]
.cas_retry:
	lea edx, [eax + 1]
	LOCK cmpxchg [cas_ctr], edx
	jnz .cas_retry			; EAX is the value found: try on it
	cmp eax, [limit]
	jae .cas_dup
	lock bts [cas_seen], eax
	jnc .cas_next
.cas_dup:
	lock inc dword [cas_dups]
.cas_next:
	dec ecx
	jnz .cas

	call smp_barrier
	; CMPXCHG8B: a 64-bit counter.
	push ebx
	mov esi, ROUNDS8
.cas8:
	mov eax, [cas8_ctr]
	mov edx, [cas8_ctr + 4]
.cas8_retry:
	mov ebx, eax
	mov ecx, edx
	add ebx, 1
	adc ecx, 0
	LOCK cmpxchg8b [cas8_ctr]
	jnz .cas8_retry
	dec esi
	jnz .cas8
	pop ebx

	call smp_barrier
	; LOCK INC, ADD and SUB on memory.
	mov ecx, INC_ROUNDS
.inc:
	LOCK inc dword [inc_ctr]
	LOCK add dword [add_ctr], 3
	LOCK sub dword [sub_ctr], 1
	dec ecx
	jnz .inc

	call smp_barrier
	; Under the XCHG lock: a node pushed on the list, then a and b, each
	; read, increased and stored with work in between; they must be
	; equal whenever the lock is held.
	imul edi, ebx, LOCK_ROUNDS * NODE_SIZE
	add edi, nodes
	mov ecx, LOCK_ROUNDS
.xl:
	call xlock_take
	mov [edi + 4], ebx
	mov [edi + 8], ecx
	mov eax, [list_head]
	mov [edi], eax
	mov [list_head], edi
	mov eax, [pair_a]
	cmp eax, [pair_b]
	je .ab_equal
	inc dword [torn_ab]		; under the lock: a plain one will do
.ab_equal:
	inc eax
	mov [pair_a], eax
	mov eax, [list_len]
	inc eax
	mov [list_len], eax
	mov eax, [pair_b]
	inc eax
	mov [pair_b], eax
	mov dword [xlock], 0		; a store releases (x86's order)
	add edi, NODE_SIZE
	dec ecx
	jnz .xl

	call smp_barrier
	; Under the LOCK BTS lock: c and d = 2c.
	mov ecx, LOCK_ROUNDS
.bl:
	lock bts dword [block], 0
	jnc .bl_held
.bl_wait:
	pause
	test dword [block], 1
	jnz .bl_wait
	jmp .bl
.bl_held:
	mov eax, [pair_c]
	mov edx, [pair_d]
	add eax, eax
	cmp eax, edx
	je .cd_ok
	inc dword [torn_cd]
.cd_ok:
	add edx, 2
	mov [pair_d], edx
	mov eax, [pair_c]
	inc eax
	mov [pair_c], eax
	mov dword [block], 0
	dec ecx
	jnz .bl

	call smp_barrier
	; LOCK XADD across a cache line.
	mov ecx, SPLIT_ROUNDS
.split:
	mov eax, 1
	LOCK xadd [split_ctr], eax
	dec ecx
	jnz .split
	ret


; xlock_take: the XCHG lock (a test-and-test-and-set with PAUSE).
; Preserves registers but EAX.
xlock_take:
	smp_lock_take [xlock]
	ret

section .data
align 4
cpus:		dd 0
go:		dd 0
done:		dd 0
limit:		dd 0			; ROUNDS * CPUs: the values XADD may return
xadd_ctr:	dd 0
xadd_dups:	dd 0
cas_ctr:	dd 0
cas_dups:	dd 0
inc_ctr:	dd 0
add_ctr:	dd 0
sub_ctr:	dd 0
xlock:		dd 0
list_head:	dd 0
list_len:	dd 0
pair_a:		dd 0
pair_b:		dd 0
torn_ab:	dd 0
bad_owners:	dd 0
owner_count:	times SMP_MAX_CPUS dd 0
block:		dd 0
pair_c:		dd 0
pair_d:		dd 0
torn_cd:	dd 0
align 8
cas8_ctr:	dd CAS8_START, 0
align 64				; a cache line
		times 58 db 0
		dd 0x5a5a5a5a		; bytes 58-61: must stay
split_ctr:	dd 0			; bytes 62-65: across the line
		dd 0xa5a5a5a5

section .bss
alignb 4
xadd_seen:	resb SMP_MAX_CPUS * ROUNDS / 8
cas_seen:	resb SMP_MAX_CPUS * ROUNDS / 8
nodes:		resb SMP_MAX_CPUS * LOCK_ROUNDS * NODE_SIZE
