; Cross-modifying code on several CPUs (run with --smp 2 and 4, and under
; QEMU -smp N), with the synchronization the SDM requires (vol. 3 8.1.3):
; the modifying CPU stores the new code as data and then sets a flag; each
; executing CPU waits for the flag, executes a serializing instruction
; (CPUID) and only then runs the new code, which it must see.
;
; ROUNDS rounds; round r's modifier is the CPU whose APIC ID is r mod N,
; so every CPU patches code the others have run and runs code the others
; patched. In each round every other CPU first runs the code as it is
; (WARM times: its translations are made and hot, chained into each
; other) and must get the previous round's results; it then says it is
; ready and waits. Once all are ready the modifier patches, in a page of
; its own:
; - an immediate (MOV EAX, imm32);
; - an instruction's opcode (ADD, SUB, XOR or OR EAX, EDX);
; - a short jump's displacement (one of four targets);
; - the immediate of an ADD inside a loop that jumps to itself;
; and sets the flag. Each executor then checks all four against round r.
; The BSP checks that no CPU ever saw other results, and that each ran
; its share of rounds.
%define GUEST_NAME "smp_xmc"
%include "lib.inc"
%include "smp.inc"
%include "smp_lib.inc"

ROUNDS		equ 40
WARM		equ 100			; runs of the old code before each round
LOOP_COUNT	equ 50			; xmc_loop's iterations
OP_EAX		equ 0x12345678		; xmc_op's operands
OP_EDX		equ 0x0f0f0f0f
TARGET_SIZE	equ 6			; MOV EAX, imm32; RET

guest_start
	call lib_pic_init
	call lib_install_idt
	smp_start_group
	mov dword [go], 1
	xor ebx, ebx
	call rounds
	mov eax, [cpus]
	dec eax
	smp_wait_eq [finished], eax
	check dword [finished], eax

group "results"
	; Every CPU: no result of the new code but round r's after the
	; flag and CPUID, none but the old one's before.
	xor ecx, ecx
	xor edx, edx
.cpus:
	cmp dword [bad + ecx * 4], 0
	jne .bad
	cmp dword [warm_bad + ecx * 4], 0
	jne .bad
	inc edx
	jmp .next
.bad:
	mov eax, [bad_what + ecx * 4]	; which probe, which round
	check eax, 0
.next:
	inc ecx
	cmp ecx, [cpus]
	jb .cpus
	check edx, dword [cpus]

group "shares"
	; Each CPU modified the rounds r with r mod N its ID, and ran the
	; others: N - 1 executors a round.
	xor ecx, ecx
	xor esi, esi			; the executions, all CPUs'
	xor edi, edi			; CPUs whose counts are right
.share:
	mov eax, ROUNDS			; rounds r in 1..ROUNDS with r mod N = ID:
	sub eax, ecx			; (ROUNDS - ID) / N, one more but for ID 0
	xor edx, edx
	div dword [cpus]
	test ecx, ecx
	jz .share_bsp
	inc eax
.share_bsp:
	cmp [modified + ecx * 4], eax
	jne .share_off
	inc edi
.share_off:
	add esi, [executed + ecx * 4]
	inc ecx
	cmp ecx, [cpus]
	jb .share
	check edi, dword [cpus]
	mov eax, [cpus]
	dec eax
	imul eax, ROUNDS
	check esi, eax
guest_finish

; ------------------------------------------------------------ the APs
ap_work:
	smp_wait_eq [go], 1
	call rounds
	lock inc dword [finished]
.idle:
	hlt
	jmp .idle

; rounds: every round, as its modifier or as an executor, for the CPU
; whose APIC ID is in EBX. Preserves EBX.
rounds:
	mov esi, 1
.round:
	mov eax, esi
	xor edx, edx
	div dword [cpus]
	cmp edx, ebx
	je .modify
	; An executor: the old code, hot.
	lea eax, [esi - 1]
	mov ecx, WARM
.warm:
	call probe
	test edx, edx
	jz .warm_ok
	add [warm_bad + ebx * 4], edx
	mov [bad_what + ebx * 4], edi
.warm_ok:
	dec ecx
	jnz .warm
	mov [ready + ebx * 4], esi
	smp_wait_eq [flag], esi
	push ebx
	xor eax, eax
	cpuid				; serializing: the new code from here
	pop ebx
	mov eax, esi
	call probe
	test edx, edx
	jz .new_ok
	add [bad + ebx * 4], edx
	mov [bad_what + ebx * 4], edi
.new_ok:
	inc dword [executed + ebx * 4]
	mov [seen + ebx * 4], esi
	jmp .next
.modify:
	; The modifier: once every other CPU is ready, the code for round
	; r (stored as data), then the flag; then until all have run it.
	xor ecx, ecx
.wait_ready:
	cmp ecx, ebx
	je .ready
	smp_wait_eq [ready + ecx * 4], esi
.ready:
	inc ecx
	cmp ecx, [cpus]
	jb .wait_ready
	mov eax, esi
	call patch
	mov [flag], esi
	inc dword [modified + ebx * 4]
	xor ecx, ecx
.wait_seen:
	cmp ecx, ebx
	je .seen
	smp_wait_eq [seen + ecx * 4], esi
.seen:
	inc ecx
	cmp ecx, [cpus]
	jb .wait_seen
.next:
	inc esi
	cmp esi, ROUNDS
	jbe .round
	ret

; expect_* r (EAX) -> EAX: what round r's code gives. Round 0's is the
; code as assembled. Preserve other registers.
expect_imm:
	imul eax, eax, 0x9e3779b1
	ret
expect_op:				; also the opcode's index
	and eax, 3
	mov eax, [op_results + eax * 4]
	ret
expect_branch:
	shr eax, 2
	and eax, 3
	add eax, 100
	ret
expect_loop:				; the ADD's imm8: 1 to 100
	push edx
	push ecx
	xor edx, edx
	mov ecx, 100
	div ecx
	lea eax, [edx + 1]
	pop ecx
	pop edx
	ret

; patch: round r's (EAX) code, stored as data. Preserves registers.
patch:
	pushad
	mov esi, eax
	call expect_imm
	mov [xmc_imm + 1], eax
	mov eax, esi
	and eax, 3
	mov al, [op_codes + eax]
	mov [xmc_op], al
	mov eax, esi
	shr eax, 2
	and eax, 3
	imul eax, eax, TARGET_SIZE
	mov [xmc_branch + 1], al
	mov eax, esi
	call expect_loop
	mov [xmc_loop_imm], al
	popad
	ret

; probe: runs the four pieces of code and compares each with round r's
; (EAX) results. EDX = how many differ, EDI = the last that did (its
; number << 16 | r). Preserves the other registers.
probe:
	push eax
	push ebx
	push ecx
	push esi
	push ebp
	mov esi, eax
	xor ebp, ebp			; how many differ
	xor edi, edi
	call xmc_imm
	mov ebx, eax
	mov eax, esi
	call expect_imm
	cmp eax, ebx
	je .op
	inc ebp
	lea edi, [esi + 0x10000]
.op:
	mov eax, OP_EAX
	mov edx, OP_EDX
	call xmc_op
	mov ebx, eax
	mov eax, esi
	call expect_op
	cmp eax, ebx
	je .branch
	inc ebp
	lea edi, [esi + 0x20000]
.branch:
	call xmc_branch
	mov ebx, eax
	mov eax, esi
	call expect_branch
	cmp eax, ebx
	je .loop
	inc ebp
	lea edi, [esi + 0x30000]
.loop:
	xor eax, eax
	mov ecx, LOOP_COUNT
	call xmc_loop
	mov ebx, eax
	mov eax, esi
	call expect_loop
	imul eax, eax, LOOP_COUNT
	cmp eax, ebx
	je .done
	inc ebp
	lea edi, [esi + 0x40000]
.done:
	mov edx, ebp
	pop ebp
	pop esi
	pop ecx
	pop ebx
	pop eax
	ret

; The code the modifiers patch, in a page of its own (the guest's other
; code and data are not in it), as round 0 has it.
align 4096
xmc_imm:
	mov eax, strict dword 0
	ret
xmc_op:
	add eax, edx			; 01 d0: the opcode byte patched
	ret
xmc_branch:
	jmp short xmc_target0		; eb 00: the displacement patched
xmc_target0:
	mov eax, strict dword 100
	ret
	mov eax, strict dword 101
	ret
	mov eax, strict dword 102
	ret
	mov eax, strict dword 103
	ret
xmc_loop:				; EAX += imm8, ECX times
	add eax, strict byte 1		; 83 c0 ib: the immediate patched
xmc_loop_imm equ $ - 1
	dec ecx
	jnz xmc_loop
	ret
align 4096

section .data
align 4
cpus:		dd 0
go:		dd 0
flag:		dd 0
finished:	dd 0
ready:		times SMP_MAX_CPUS dd 0
seen:		times SMP_MAX_CPUS dd 0
bad:		times SMP_MAX_CPUS dd 0
warm_bad:	times SMP_MAX_CPUS dd 0
bad_what:	times SMP_MAX_CPUS dd 0
executed:	times SMP_MAX_CPUS dd 0
modified:	times SMP_MAX_CPUS dd 0
; ADD, SUB, XOR, OR EAX, EDX: opcodes and results on OP_EAX, OP_EDX.
op_results:	dd 0x21436587, 0x03254769, 0x1d3b5977, 0x1f3f5f7f
op_codes:	db 0x01, 0x29, 0x31, 0x09
