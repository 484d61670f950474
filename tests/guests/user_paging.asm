; Ring-3 tasks in address spaces of their own (paging.inc + rings.inc).
; Covered:
; - sched: two ring-3 tasks A and B, each with its own page directory (the
;   kernel mapped supervisor-only in both, user code/data/stack at the same
;   linear addresses on different frames). A makes system calls with INT
;   0x80 (DPL-3 gate) and is resumed with IRETD, B with SYSENTER and is
;   resumed with SYSEXIT; a round-robin yield switches CR3 from inside the
;   system call. Each task logs the ID word it sees in its data page every
;   round and keeps a counter and a stack: exact values at the end.
; - remap: while B runs (CR3 = B's directory), the kernel moves A's data
;   page to another frame by rewriting A's PTE, no INVLPG; A, switched back
;   to by a CR3 load, sees the new frame from the next round on.
; - upf_*: #PF from ring 3 on the TSS's ring-0 stack with exact CR2, error
;   code and the EIP/CS/EFLAGS/ESP/SS ring 3 left; user read (5) and write
;   (7) of a supervisor page, write of a read-only user page (7), read (4)
;   and write (6) of a not-present page, instruction fetch from a
;   supervisor page (5) and a not-present one (4, CR2 = the target EIP).
;   The handler fixes the PTE and restarts the instruction (or skips it),
;   and ring 3 completes.
; - wp: supervisor write to a read-only user page: allowed with CR0.WP=0,
;   #PF error 3 with CR0.WP=1.
; - ustack: a PUSH to a not-present user stack page: error 6, CR2 = ESP-4,
;   frame ESP unchanged; mapped by the handler, the PUSH completes.
; - ustack_run: the third PUSH of a run (and the third POP of one, a CALL
;   after two PUSHes, a RET after two POPs) meets a not-present page: the
;   frame's ESP is that of the instruction that faulted, the two before it
;   done (the translator moves ESP once for a run: the fault must still
;   see each instruction's own).
; - ad: accessed and dirty bits of user PTEs set by ring-3 reads/writes.
; Under QEMU:
;	qemu-system-i386 -accel tcg -kernel user_paging.elf -serial stdio
;		-display none -device isa-debug-exit,iobase=0xf4,iosize=4
;		-no-reboot   (one line; exit status 33)
%define GUEST_NAME "user_paging"
%include "lib.inc"
%include "paging.inc"
%include "rings.inc"

; Linear layout of a task's user half (the same in both directories).
U_CODE		equ 0x40000000		; the ucode blob, U, read-only
U_DATA		equ 0x40001000		; U, RW
U_STACK		equ 0x40002000		; U, RW, one page
U_STACK_TOP	equ 0x40003000
; Pages of the fault tests (task A's directory only).
P_SUPR		equ 0x40010000		; supervisor RW: user read
P_SUPW		equ 0x40011000		; supervisor RW: user write
P_RO		equ 0x40012000		; user read-only: user write
P_NPR		equ 0x40013000		; not present: user read
P_NPW		equ 0x40014000		; not present: user write
P_SUPX		equ 0x40015000		; supervisor, A's code frame: user fetch
P_NPX		equ 0x40016000		; not present: user fetch
P_ROK		equ 0x40017000		; user read-only: supervisor write
P_AD		equ 0x40018000		; user RW, A = D = 0
P_STK2		equ 0x40020000		; not present: a user stack page
P_STK2_TOP	equ 0x40021000
P_STK3		equ 0x40022000		; not present: a push run meets it
P_STK3_UP	equ 0x40023000		; user RW: where the push run starts
P_STK4		equ 0x40024000		; user RW: where the pop run starts
P_STK4_UP	equ 0x40025000		; not present: the pop run meets it
P_STK5		equ 0x40026000		; not present: a CALL after pushes meets it
P_STK5_UP	equ 0x40027000		; user RW
P_STK6		equ 0x40028000		; user RW
P_STK6_UP	equ 0x40029000		; not present: a RET after pops meets it
KERN_ADDR	equ 0x00100000		; the kernel image: supervisor

; Physical frames (inside the identity map, above the page-table pool).
F_ACODE		equ 0x00d00000
F_ADATA		equ 0x00d01000
F_ASTACK	equ 0x00d02000
F_ADATA2	equ 0x00d03000		; where remap moves A's data page
F_BCODE		equ 0x00d04000
F_BDATA		equ 0x00d05000
F_BSTACK	equ 0x00d06000
F_SUPR		equ 0x00d10000
F_SUPW		equ 0x00d11000
F_RO		equ 0x00d12000
F_NPR		equ 0x00d13000
F_NPW		equ 0x00d14000
F_ROK		equ 0x00d17000
F_AD		equ 0x00d18000
F_STK2		equ 0x00d20000
F_STK3		equ 0x00d21000
F_STK3_UP	equ 0x00d22000
F_STK4		equ 0x00d23000
F_STK4_UP	equ 0x00d24000
F_STK5		equ 0x00d25000
F_STK5_UP	equ 0x00d26000
F_STK6		equ 0x00d27000
F_STK6_UP	equ 0x00d28000

; The data page of a task.
UD_COUNT	equ 0			; rounds done
UD_ID		equ 4			; written by the kernel per frame
UD_BAD		equ 8			; ring 3's own consistency failures
UD_LOG		equ 0x100		; the ID seen in each round

ID_A		equ 0xaaaa0001
ID_A2		equ 0xaaaa0002
ID_B		equ 0xbbbb0001
N_ROUNDS	equ 5
REMAP_AT	equ 2			; B's count when A's page moves

SYS_YIELD	equ 1
SYS_DONE	equ 2
VEC_SYSCALL	equ 0x80

MSR_SYSENTER_CS		equ 0x174
MSR_SYSENTER_ESP	equ 0x175
MSR_SYSENTER_EIP	equ 0x176

; A task.
T_CR3		equ 0
T_EIP		equ 4
T_ESP		equ 8
T_MODE		equ 12			; how it entered the kernel / resumes
T_DONE		equ 16
T_REGS		equ 20			; PUSHAD image (8 dwords)
T_CALLS		equ 52
T_BADCR3	equ 56			; entries with another task's CR3
T_BADFRAME	equ 60			; entries with an unexpected CS/SS/ESP
T_SIZE		equ 64
MODE_IRET	equ 0
MODE_SYSEXIT	equ 1

; #PF handler actions.
ACT_NONE	equ 0			; fail the guest
ACT_SKIP	equ 1			; resume at upf_arg
ACT_OR		equ 2			; PTE |= upf_arg, restart
ACT_MAP		equ 3			; PTE = upf_arg, restart
UPF_LIMIT	equ 4

; U(label): the linear address of a label of the ucode blob.
%define U(l) (U_CODE + ((l) - ucode))

%macro upf_arm 2
	mov dword [upf_count], 0
	mov dword [upf_cr2], -1
	mov dword [upf_err], -1
	mov dword [upf_eip], -1
	mov dword [upf_cs], -1
	mov dword [upf_esp], -1
	mov dword [upf_ss], -1
	mov dword [upf_hesp], -1
	mov dword [upf_action], %1
	mov dword [upf_arg], %2
%endmacro

; upf_user cr2, error, eip, esp: one #PF from ring 3 with this frame, on
; the TSS's ring-0 stack.
%macro upf_user 4
	mov dword [upf_action], ACT_NONE
	check dword [upf_count], 1
	check dword [upf_cr2], %1
	check dword [upf_err], %2
	check dword [upf_eip], %3
	check dword [upf_cs], RING_SEL_UCODE
	check dword [upf_eflags], 2
	check dword [upf_esp], %4
	check dword [upf_ss], RING_SEL_UDATA
	check dword [upf_hesp], rings_kstack_top - 24
%endmacro

; urun label, esp: run ucode's label at CPL 3 (EFLAGS = 2) with this ESP;
; back when it leaves with leave_user.
%macro urun 2
	mov eax, U(%1)
	mov edx, %2
	xor ecx, ecx
	call rings_run_user_at
%endmacro

; stack_fault frame, label, esp, cr2, error, frame_esp: run ucode's label
; (its .f faults once, its .x follows its leave_user) with this ESP; the
; handler maps frame where the fault was; the #PF frame's ESP is frame_esp.
%macro stack_fault 6
	upf_arm ACT_MAP, %1 | PG_P | PG_RW | PG_US
	urun %2, %3
	upf_user %4, %5, U(%2 %+ .f), %6
	exited %2 %+ .x
%endmacro

; exited label: ring 3 left through the leave_user right before label.
%macro exited 1
	check dword [rings_exit_frame], U(%1)
%endmacro

; pte_of_a linear: EAX = address of its PTE in task A's directory.
%macro pte_of_a 1
	mov edi, [task_a + T_CR3]
	mov esi, %1
	call pg_pte_addr
%endmacro

; task_space task, code, data, stack: a fresh page directory for the task
; (EDI, and in its T_CR3) with the kernel identity-mapped and the given
; frames at U_CODE (read-only), U_DATA and U_STACK, all user pages.
%macro task_space 4
	call pg_alloc
	mov edi, eax
	mov [%1 + T_CR3], eax
	xor esi, esi
	call pg_map_identity
	pg_map_page U_CODE, %2 | PG_P | PG_US
	pg_map_page U_DATA, %3 | PG_P | PG_RW | PG_US
	pg_map_page U_STACK, %4 | PG_P | PG_RW | PG_US
%endmacro

	guest_start
	call lib_install_idt
	call rings_setup
	gate VEC_SYSCALL, int80_entry, 0xee	; interrupt gate, DPL 3
	gate 14, upf_entry, 0x8e
	call build_spaces
	mov eax, [task_a + T_CR3]
	call pg_enable
	; SYSENTER: CS 0x40 (SS 0x48, SYSEXIT CS 0x53, SS 0x5b)
	mov ecx, MSR_SYSENTER_CS
	mov eax, RING_SEL_KCODE
	xor edx, edx
	wrmsr
	mov ecx, MSR_SYSENTER_ESP
	mov eax, sysenter_stack_top
	wrmsr
	mov ecx, MSR_SYSENTER_EIP
	mov eax, sysenter_entry
	wrmsr

; ---------------------------------------------------------------- sched
group "sched"
	call sched_run
	mov eax, [task_a + T_CR3]
	mov cr3, eax
	check dword [task_a + T_CALLS], N_ROUNDS + 1
	check dword [task_b + T_CALLS], N_ROUNDS + 1
	check dword [task_a + T_BADCR3], 0
	check dword [task_b + T_BADCR3], 0
	check dword [task_a + T_BADFRAME], 0
	check dword [task_b + T_BADFRAME], 0
	check dword [task_a + T_MODE], MODE_IRET
	check dword [task_b + T_MODE], MODE_SYSEXIT
	; B's page: its own ID every round, never A's
	check dword [F_BDATA + UD_COUNT], N_ROUNDS
	check dword [F_BDATA + UD_ID], ID_B
	check dword [F_BDATA + UD_BAD], 0
%assign r 0
%rep N_ROUNDS
	check dword [F_BDATA + UD_LOG + r * 4], ID_B
%assign r r+1
%endrep
	check dword [F_BDATA + UD_LOG + N_ROUNDS * 4], 0
	; the registers ring 3 left at its last system call
	check dword [task_a + T_REGS + 4], 0x5a5a0001	; ESI
	check dword [task_b + T_REGS + 4], 0x5b5b0001
	check dword [task_a + T_REGS + 28], SYS_DONE	; EAX
	check dword [task_b + T_REGS + 28], SYS_DONE
	; both user stacks: the last round's EBX popped, ESP back at the top
	check dword [task_a + T_ESP], U_STACK_TOP
	check dword [task_b + T_ESP], U_STACK_TOP
	check dword [F_ASTACK + 0xffc], N_ROUNDS - 1
	check dword [F_BSTACK + 0xffc], N_ROUNDS - 1

; ---------------------------------------------------------------- remap
group "remap"
	mov eax, [task_b + T_CR3]
	check dword [remap_seen_cr3], eax	; done while B's space was live
	; the old frame: A's first REMAP_AT rounds, then nothing
	check dword [F_ADATA + UD_COUNT], REMAP_AT
	check dword [F_ADATA + UD_ID], ID_A
	check dword [F_ADATA + UD_LOG + 0], ID_A
	check dword [F_ADATA + UD_LOG + 4], ID_A
	check dword [F_ADATA + UD_LOG + 8], 0
	; the new frame: the copy, then A's later rounds
	check dword [F_ADATA2 + UD_COUNT], N_ROUNDS
	check dword [F_ADATA2 + UD_ID], ID_A2
	check dword [F_ADATA2 + UD_BAD], 0
	check dword [F_ADATA2 + UD_LOG + 0], ID_A
	check dword [F_ADATA2 + UD_LOG + 4], ID_A
%assign r REMAP_AT
%rep N_ROUNDS - REMAP_AT
	check dword [F_ADATA2 + UD_LOG + r * 4], ID_A2
%assign r r+1
%endrep
	check dword [F_ADATA2 + UD_LOG + N_ROUNDS * 4], 0
	; A's PTE as the kernel left it, plus A and D from A's accesses
	pte_of_a U_DATA
	mov eax, [eax]
	check eax, F_ADATA2 | PG_P | PG_RW | PG_US | PG_A | PG_D
	; ring 3 in A's space now reads the new frame
	urun u_read_data, U_STACK_TOP
	check eax, ID_A2
	check ebx, N_ROUNDS

; ---------------------------------------------------------------- upf
group "upf_read_kernel"
	upf_arm ACT_SKIP, U(u_rd_kern.r)
	urun u_rd_kern, U_STACK_TOP
	upf_user KERN_ADDR, PF_P | PF_U, U(u_rd_kern.f), U_STACK_TOP
	exited u_rd_kern.x
	check eax, 0x1111			; the read did not happen

group "upf_read_sup"
	upf_arm ACT_OR, PG_US
	urun u_rd_sup, U_STACK_TOP
	upf_user P_SUPR + 4, PF_P | PF_U, U(u_rd_sup), U_STACK_TOP
	exited u_rd_sup.x
	check eax, 0x5e5e0001

group "upf_write_sup"
	upf_arm ACT_OR, PG_US
	urun u_wr_sup, U_STACK_TOP
	upf_user P_SUPW + 8, PF_P | PF_W | PF_U, U(u_wr_sup), U_STACK_TOP
	exited u_wr_sup.x
	check dword [F_SUPW + 8], 0x77000002

group "upf_write_ro"
	upf_arm ACT_OR, PG_RW
	urun u_wr_ro, U_STACK_TOP
	upf_user P_RO + 0xffc, PF_P | PF_W | PF_U, U(u_wr_ro), U_STACK_TOP
	exited u_wr_ro.x
	check dword [F_RO + 0xffc], 0x77000003
	check dword [F_RO], 0x5e5e0003

group "upf_read_np"
	upf_arm ACT_MAP, F_NPR | PG_P | PG_US
	urun u_rd_np, U_STACK_TOP
	upf_user P_NPR + 0x10, PF_U, U(u_rd_np), U_STACK_TOP
	exited u_rd_np.x
	check eax, 0x5e5e0004

group "upf_write_np"
	upf_arm ACT_MAP, F_NPW | PG_P | PG_RW | PG_US
	urun u_wr_np, U_STACK_TOP
	upf_user P_NPW + 0x20, PF_W | PF_U, U(u_wr_np), U_STACK_TOP
	exited u_wr_np.x
	check dword [F_NPW + 0x20], 0x77000005

group "upf_fetch_sup"
	upf_arm ACT_OR, PG_US
	urun u_fetch_sup, U_STACK_TOP
	upf_user P_SUPX + (u_fetched - ucode), PF_P | PF_U, P_SUPX + (u_fetched - ucode), U_STACK_TOP
	check dword [rings_exit_frame], P_SUPX + (u_fetched.x - ucode)
	check eax, 0xfe7c0001
	check ebx, 0x5a5a0006			; set before the jump

group "upf_fetch_np"
	upf_arm ACT_MAP, F_ACODE | PG_P | PG_US
	urun u_fetch_np, U_STACK_TOP
	upf_user P_NPX + (u_fetched - ucode), PF_U, P_NPX + (u_fetched - ucode), U_STACK_TOP
	check dword [rings_exit_frame], P_NPX + (u_fetched.x - ucode)
	check eax, 0xfe7c0001
	check ebx, 0x5a5a0007

; ---------------------------------------------------------------- wp
group "wp"
	mov eax, CR0_WP
	call pg_clear_cr0
	upf_arm ACT_SKIP, .r1
	mov dword [P_ROK + 0x40], 0x77000008	; WP=0: allowed
.r1:
	check dword [upf_count], 0
	check dword [F_ROK + 0x40], 0x77000008
	mov eax, CR0_WP
	call pg_set_cr0
	upf_arm ACT_SKIP, .r2
.f2:
	mov dword [P_ROK + 0x44], 0x77000009	; WP=1: #PF
.r2:
	mov dword [upf_action], ACT_NONE
	check dword [upf_count], 1
	check dword [upf_cr2], P_ROK + 0x44
	check dword [upf_err], PF_P | PF_W
	check dword [upf_eip], .f2
	check dword [upf_cs], SEL_CODE
	check dword [F_ROK + 0x44], 0
	; and ring 3 still may not write it either way
	upf_arm ACT_SKIP, U(u_wr_rok.r)
	urun u_wr_rok, U_STACK_TOP
	upf_user P_ROK + 0x48, PF_P | PF_W | PF_U, U(u_wr_rok), U_STACK_TOP
	check dword [F_ROK + 0x48], 0
	mov eax, CR0_WP
	call pg_clear_cr0

; ---------------------------------------------------------------- ustack
group "ustack"
	upf_arm ACT_MAP, F_STK2 | PG_P | PG_RW | PG_US
	urun u_push, P_STK2_TOP
	upf_user P_STK2_TOP - 4, PF_W | PF_U, U(u_push), P_STK2_TOP
	exited u_push.x
	check dword [rings_exit_frame + 12], P_STK2_TOP - 4	; ESP after it
	check dword [F_STK2 + 0xffc], 0x5051ab1e
	check eax, P_STK2_TOP - 4

; ---------------------------------------------------------------- ustack_run
group "ustack_run"
	stack_fault F_STK3, u_push_run, P_STK3_UP + 8, P_STK3 + 0xffc, PF_W | PF_U, P_STK3_UP
	check eax, P_STK3_UP
	check ebp, P_STK3_UP
	check esi, 0x44
	check edi, 0x33
	check dword [F_STK3_UP + 4], 0x11
	check dword [F_STK3_UP], 0x22
	check dword [F_STK3 + 0xffc], 0x33
	check dword [F_STK3 + 0xff8], 0x44
	stack_fault F_STK4_UP, u_pop_run, P_STK4 + 0xff8, P_STK4_UP, PF_U, P_STK4_UP
	check eax, P_STK4_UP + 8
	check ebx, 0x61
	check ecx, 0x62
	check edx, 0x63
	check esi, 0x64
	stack_fault F_STK5, u_call_run, P_STK5_UP + 8, P_STK5 + 0xffc, PF_W | PF_U, P_STK5_UP
	check eax, P_STK5_UP
	check edx, U(u_call_run.next)
	check dword [F_STK5 + 0xffc], U(u_call_run.next)
	stack_fault F_STK6_UP, u_ret_run, P_STK6 + 0xff8, P_STK6_UP, PF_U, P_STK6_UP
	check eax, P_STK6_UP + 4
	check ebx, 0x71
	check ecx, 0x72

; ---------------------------------------------------------------- ad
group "ad"
	pte_of_a P_AD
	mov ebx, eax
	urun u_rd_ad, U_STACK_TOP
	check eax, 0x5e5e000a
	mov eax, [ebx]
	check eax, F_AD | PG_P | PG_RW | PG_US | PG_A	; a read: A only
	urun u_wr_ad, U_STACK_TOP
	mov eax, [ebx]
	check eax, F_AD | PG_P | PG_RW | PG_US | PG_A | PG_D
	check dword [F_AD + 4], 0x7700000a
	; cleared (and invalidated), a write alone sets both again
	and dword [ebx], ~(PG_A | PG_D)
	invlpg [P_AD]
	urun u_wr_ad, U_STACK_TOP
	mov eax, [ebx]
	check eax, F_AD | PG_P | PG_RW | PG_US | PG_A | PG_D
	; and the other pages ring 3 used
	pte_of_a U_CODE
	mov eax, [eax]
	check eax, F_ACODE | PG_P | PG_US | PG_A
	pte_of_a P_NPR
	mov eax, [eax]
	check eax, F_NPR | PG_P | PG_US | PG_A
	pte_of_a P_STK2
	mov eax, [eax]
	check eax, F_STK2 | PG_P | PG_RW | PG_US | PG_A | PG_D
	pte_of_a P_SUPX
	mov eax, [eax]
	check eax, F_ACODE | PG_P | PG_RW | PG_US | PG_A
	mov edi, [task_a + T_CR3]
	mov esi, U_CODE
	call pg_pde_addr
	mov eax, [eax]
	and eax, PG_A
	check eax, PG_A

	call pg_disable
	guest_finish

; ---------------------------------------------------------------- setup

; build_spaces: (paging off) the two directories, the frames, the tasks.
build_spaces:
	pushad
	cld
	; the frames: zero, then what the tests expect in them
	mov edi, F_ACODE
	mov ecx, (F_STK6_UP + 0x1000 - F_ACODE) / 4
	xor eax, eax
	rep stosd
	mov esi, ucode
	mov edi, F_ACODE
	mov ecx, ucode_end - ucode
	rep movsb
	mov esi, ucode
	mov edi, F_BCODE
	mov ecx, ucode_end - ucode
	rep movsb
	mov dword [F_ADATA + UD_ID], ID_A
	mov dword [F_BDATA + UD_ID], ID_B
	mov dword [F_SUPR + 4], 0x5e5e0001
	mov dword [F_RO], 0x5e5e0003
	mov dword [F_NPR + 0x10], 0x5e5e0004
	mov dword [F_AD], 0x5e5e000a
	mov dword [F_STK4 + 0xff8], 0x61
	mov dword [F_STK4 + 0xffc], 0x62
	mov dword [F_STK4_UP], 0x63
	mov dword [F_STK4_UP + 4], 0x64
	mov dword [F_STK6 + 0xff8], 0x71
	mov dword [F_STK6 + 0xffc], 0x72
	mov dword [F_STK6_UP], U(u_ret_run.back)
	; task A
	task_space task_a, F_ACODE, F_ADATA, F_ASTACK
	pg_map_page P_SUPR, F_SUPR | PG_P | PG_RW
	pg_map_page P_SUPW, F_SUPW | PG_P | PG_RW
	pg_map_page P_RO, F_RO | PG_P | PG_US
	pg_map_page P_SUPX, F_ACODE | PG_P | PG_RW
	pg_map_page P_ROK, F_ROK | PG_P | PG_US
	pg_map_page P_AD, F_AD | PG_P | PG_RW | PG_US
	pg_map_page P_STK3_UP, F_STK3_UP | PG_P | PG_RW | PG_US
	pg_map_page P_STK4, F_STK4 | PG_P | PG_RW | PG_US
	pg_map_page P_STK5_UP, F_STK5_UP | PG_P | PG_RW | PG_US
	pg_map_page P_STK6, F_STK6 | PG_P | PG_RW | PG_US
	; task B: the same user linear addresses, its own frames
	task_space task_b, F_BCODE, F_BDATA, F_BSTACK
	; the tasks' first entries
	mov dword [task_a + T_EIP], U(ua_start)
	mov dword [task_a + T_ESP], U_STACK_TOP
	mov dword [task_a + T_MODE], MODE_IRET
	mov dword [task_b + T_EIP], U(ub_start)
	mov dword [task_b + T_ESP], U_STACK_TOP
	mov dword [task_b + T_MODE], MODE_SYSEXIT
	popad
	ret

; ---------------------------------------------------------------- kernel

; sched_run: run A and B until both have made SYS_DONE.
sched_run:
	pushfd
	mov [sched_k_esp], esp
	mov ebx, task_a
	jmp task_resume

; INT 0x80 from ring 3: [esp] EIP, CS, EFLAGS, ESP, SS on the TSS stack.
int80_entry:
	pushad
	mov ebx, [ss:cur_task]
	mov eax, [esp + 36]
	and eax, 0xffff
	cmp eax, RING_SEL_UCODE
	jne .bad
	mov eax, [esp + 48]
	and eax, 0xffff
	cmp eax, RING_SEL_UDATA
	jne .bad
	lea eax, [esp + 32]
	cmp eax, rings_kstack_top - 20
	je .good
.bad:
	inc dword [ss:ebx + T_BADFRAME]
.good:
	mov eax, [esp + 32]
	mov [ss:ebx + T_EIP], eax
	mov eax, [esp + 44]
	mov [ss:ebx + T_ESP], eax
	mov dword [ss:ebx + T_MODE], MODE_IRET
	jmp sys_common

; SYSENTER: ECX = ring 3's ESP, EDX = where SYSEXIT resumes it.
sysenter_entry:
	pushad
	mov ebx, [ss:cur_task]
	mov ax, cs
	cmp ax, RING_SEL_KCODE
	jne .bad
	mov ax, ss
	cmp ax, RING_SEL_KDATA
	jne .bad
	lea eax, [esp + 32]
	cmp eax, sysenter_stack_top
	je .good
.bad:
	inc dword [ss:ebx + T_BADFRAME]
.good:
	mov [ss:ebx + T_EIP], edx
	mov [ss:ebx + T_ESP], ecx
	mov dword [ss:ebx + T_MODE], MODE_SYSEXIT
	; fall through

; EBX = the calling task, its PUSHAD image at ESP.
sys_common:
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	cld
	mov esi, esp
	lea edi, [ebx + T_REGS]
	mov ecx, 8
	rep movsd
	mov ax, SEL_DATA
	mov ss, ax
	mov esp, sched_stack_top
	inc dword [ebx + T_CALLS]
	mov eax, cr3
	cmp eax, [ebx + T_CR3]
	je .cr3_ok
	inc dword [ebx + T_BADCR3]
.cr3_ok:
	mov eax, [ebx + T_REGS + 28]
	cmp eax, SYS_YIELD
	je .yield
	cmp eax, SYS_DONE
	je .done
	fatal "unknown system call"
.done:
	mov dword [ebx + T_DONE], 1
.yield:
	cmp ebx, task_b
	jne .pick
	cmp dword [remap_done], 0
	jne .pick
	cmp dword [F_BDATA + UD_COUNT], REMAP_AT
	jne .pick
	call remap_a
.pick:
	mov ecx, task_a
	cmp ebx, task_a
	jne .other
	mov ecx, task_b
.other:
	cmp dword [ecx + T_DONE], 0
	jne .self
	mov ebx, ecx
	jmp task_resume
.self:
	cmp dword [ebx + T_DONE], 0
	je task_resume
	; both done: back to sched_run's caller
	mov ax, SEL_FS
	mov fs, ax
	mov ax, SEL_GS
	mov gs, ax
	mov esp, [sched_k_esp]
	popfd
	ret

; remap_a: (in B's system call) move A's data page to F_ADATA2: copy it,
; give the copy its own ID, rewrite A's PTE. No INVLPG: A's space is not
; the current one, and switching to it reloads CR3.
remap_a:
	pushad
	mov eax, cr3
	mov [remap_seen_cr3], eax
	mov esi, F_ADATA
	mov edi, F_ADATA2
	mov ecx, 1024
	rep movsd
	mov dword [F_ADATA2 + UD_ID], ID_A2
	pte_of_a U_DATA
	mov dword [eax], F_ADATA2 | PG_P | PG_RW | PG_US
	mov dword [remap_done], 1
	popad
	ret

; task_resume: EBX = task. Its CR3, then back to ring 3 the way it left.
task_resume:
	mov [cur_task], ebx
	mov eax, [ebx + T_CR3]
	mov cr3, eax
	mov esp, sched_stack_top
	cmp dword [ebx + T_MODE], MODE_SYSEXIT
	je .sysexit
	push dword RING_SEL_UDATA
	push dword [ebx + T_ESP]
	push dword 2
	push dword RING_SEL_UCODE
	push dword [ebx + T_EIP]
	call .regs
	iretd
.sysexit:
	mov eax, [ebx + T_ESP]
	mov [sx_esp], eax
	mov eax, [ebx + T_EIP]
	mov [sx_eip], eax
	call .regs
	mov ecx, [ss:sx_esp]
	mov edx, [ss:sx_eip]
	sysexit
; the task's registers and DS/ES/FS/GS = RING_SEL_UDATA (returns with
; everything loaded: the PUSHAD image is popped below the return address)
.regs:
	pop edx				; return address
	sub esp, 32
	lea esi, [ebx + T_REGS]
	mov edi, esp
	mov ecx, 8
	cld
	rep movsd
	push edx
	mov ax, RING_SEL_UDATA
	mov ds, ax
	mov es, ax
	mov fs, ax
	mov gs, ax
	pop edx
	mov [ss:sx_ret], edx
	popad
	jmp [ss:sx_ret]

; #PF: [esp] error code, EIP, CS, EFLAGS (ESP, SS from ring 3).
upf_entry:
	pushad
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	lea eax, [esp + 32]
	mov [upf_hesp], eax
	mov eax, cr2
	mov [upf_cr2], eax
	mov eax, [esp + 32]
	mov [upf_err], eax
	mov eax, [esp + 36]
	mov [upf_eip], eax
	mov eax, [esp + 40]
	and eax, 0xffff
	mov [upf_cs], eax
	mov eax, [esp + 44]
	and eax, ~0x10000		; RF: not the point here
	mov [upf_eflags], eax
	test dword [esp + 40], 3
	jz .kernel
	mov eax, [esp + 48]
	mov [upf_esp], eax
	mov eax, [esp + 52]
	and eax, 0xffff
	mov [upf_ss], eax
.kernel:
	inc dword [upf_count]
	cmp dword [upf_count], UPF_LIMIT
	ja .runaway
	mov eax, [upf_action]
	cmp eax, ACT_SKIP
	je .skip
	cmp eax, ACT_OR
	je .or
	cmp eax, ACT_MAP
	je .map
	fatal "unexpected #PF"
.runaway:
	fatal "#PF fix-up did not fix the page"
.skip:
	mov eax, [upf_arg]
	mov [esp + 36], eax
	jmp .out
.or:
	mov edi, cr3
	and edi, PG_FRAME
	mov esi, [upf_cr2]
	call pg_pte_addr
	mov edx, [upf_arg]
	or [eax], edx
	invlpg [esi]
	jmp .out
.map:
	mov edi, cr3
	and edi, PG_FRAME
	mov esi, [upf_cr2]
	and esi, PG_FRAME
	mov eax, [upf_arg]
	call pg_map
	invlpg [esi]
.out:
	test dword [esp + 40], 3
	jz .ret
	mov ax, RING_SEL_UDATA
	mov ds, ax
	mov es, ax
.ret:
	popad
	add esp, 4
	iretd

; ---------------------------------------------------------------- ring 3
; Copied to each task's code frame and run at U_CODE: position-dependent
; addresses only through U() or fixed user addresses, no calls into the
; kernel (its pages are supervisor-only).
ucode:

; round_begin: log the task's ID in the round's UD_LOG slot, count the
; round and keep the count on the stack, for round_end.
%macro round_begin 0
	mov ebx, [U_DATA + UD_COUNT]
	mov eax, [U_DATA + UD_ID]
	mov [U_DATA + UD_LOG + ebx * 4], eax
	inc dword [U_DATA + UD_COUNT]
	push ebx
%endmacro

; round_end esi: after a task's yield (its count pushed before it): count
; in UD_BAD what the switch lost (the count, ESI, ESP), and go round again
; (.loop) until N_ROUNDS.
%macro round_end 1
	pop ebx
	inc ebx
	cmp ebx, [U_DATA + UD_COUNT]
	je %%count_ok
	inc dword [U_DATA + UD_BAD]
%%count_ok:
	cmp esi, %1
	je %%esi_ok
	inc dword [U_DATA + UD_BAD]
%%esi_ok:
	mov eax, esp
	cmp eax, U_STACK_TOP
	je %%esp_ok
	inc dword [U_DATA + UD_BAD]
%%esp_ok:
	cmp dword [U_DATA + UD_COUNT], N_ROUNDS
	jb .loop
%endmacro

; task A: INT 0x80, resumed with IRETD
ua_start:
	mov esi, 0x5a5a0001
.loop:
	round_begin
	mov eax, SYS_YIELD
	int VEC_SYSCALL
	round_end 0x5a5a0001
	mov eax, SYS_DONE
	int VEC_SYSCALL
	jmp $

; task B: SYSENTER, resumed with SYSEXIT
ub_start:
	mov esi, 0x5b5b0001
.loop:
	round_begin
	mov eax, SYS_YIELD
	mov ecx, esp
	mov edx, U(.back)
	sysenter
.back:
	round_end 0x5b5b0001
	mov eax, SYS_DONE
	mov ecx, esp
	mov edx, U(.end)
	sysenter
.end:
	jmp $

u_read_data:
	mov eax, [U_DATA + UD_ID]
	mov ebx, [U_DATA + UD_COUNT]
	leave_user

u_rd_kern:
	mov eax, 0x1111
.f:
	mov eax, [KERN_ADDR]
.r:
	leave_user
.x:

u_rd_sup:
	mov eax, [P_SUPR + 4]
	leave_user
.x:

u_wr_sup:
	mov dword [P_SUPW + 8], 0x77000002
	leave_user
.x:

u_wr_ro:
	mov dword [P_RO + 0xffc], 0x77000003
	leave_user
.x:

u_rd_np:
	mov eax, [P_NPR + 0x10]
	leave_user
.x:

u_wr_np:
	mov dword [P_NPW + 0x20], 0x77000005
	leave_user
.x:

u_fetch_sup:
	mov ebx, 0x5a5a0006
	mov eax, P_SUPX + (u_fetched - ucode)
	jmp eax

u_fetch_np:
	mov ebx, 0x5a5a0007
	mov eax, P_NPX + (u_fetched - ucode)
	jmp eax

u_fetched:
	mov eax, 0xfe7c0001
	leave_user
.x:

u_wr_rok:
	mov dword [P_ROK + 0x48], 0x7700000b
.r:
	leave_user

u_push:
	push dword 0x5051ab1e
	mov eax, esp
	leave_user
.x:

u_push_run:
	mov ebx, 0x11
	mov ecx, 0x22
	mov edx, 0x33
	push ebx
	push ecx
	mov ebp, esp				; ESP's own value, mid-run
.f:	push edx				; into P_STK3: #PF
	push dword 0x44
	pop esi
	pop edi
	mov eax, esp
	leave_user
.x:

u_pop_run:
	pop ebx
	pop ecx
.f:	pop edx					; from P_STK4_UP: #PF
	pop esi
	mov eax, esp
	leave_user
.x:

u_call_run:
	push ebx
	push ecx
.f:	call .next				; its push into P_STK5: #PF
.next:
	pop edx
	mov eax, esp
	leave_user
.x:

u_ret_run:
	pop ebx
	pop ecx
.f:	ret					; from P_STK6_UP: #PF
.back:
	mov eax, esp
	leave_user
.x:

u_rd_ad:
	mov eax, [P_AD]
	leave_user

u_wr_ad:
	mov dword [P_AD + 4], 0x7700000a
	leave_user

ucode_end:

section .data
align 4
cur_task:	dd 0
remap_done:	dd 0
remap_seen_cr3:	dd 0

section .bss
alignb 4
task_a:		resb T_SIZE
task_b:		resb T_SIZE
sched_k_esp:	resd 1
sx_esp:		resd 1
sx_eip:		resd 1
sx_ret:		resd 1
upf_count:	resd 1
upf_cr2:	resd 1
upf_err:	resd 1
upf_eip:	resd 1
upf_cs:		resd 1
upf_eflags:	resd 1
upf_esp:	resd 1
upf_ss:		resd 1
upf_hesp:	resd 1
upf_action:	resd 1
upf_arg:	resd 1
alignb 16
sched_stack:	resb 4096
sched_stack_top:
sysenter_stack:	resb 1024
sysenter_stack_top:
