; Hardware task switching between 32-bit TSSs (SDM vol. 3, ch. 7):
;  call_tss   far CALL to a TSS: the new task's registers, TR, NT, CR0.TS,
;             the back link, both busy bits; its IRET back: the old task's
;             registers, NT clear in the image it left, busy bit cleared,
;             the EIPs saved in both TSSs
;  jmp_tss    far JMP to a TSS and back: no nesting (NT clear, link left
;             alone), the old task's busy bit cleared
;  refused    CALL/JMP to a busy TSS #GP(sel), a TSS limit below 0x67
;             #TS(sel), a TSS not present #NP(sel), a task gate called
;             with RPL above its DPL #GP(gate): nothing changed
;  iret_nt    IRET with NT whose link names an available TSS: #TS(link)
;  gates      INT n through an IDT task gate, far CALL through a task gate
;             in the GDT and in the LDT
;  exc_task   #GP(selector) through an IDT task gate: the error code on
;             the new task's stack, the faulting EIP saved in the old TSS
;  df_task    #GP whose gate is not present, then #NP: #DF through a task
;             gate with error code 0
;  commit     a new task whose DS names no descriptor: #TS(DS) delivered in
;             the new task (TR, EIP the new task's), which then IRETs back
;             (QEMU 7.2 pushes the CALL's EIP there: known to fail under it)
;  eip_limit  a new task whose EIP lies past its CS's limit: #GP(0)
;             delivered in the new task (TR, the frame's EIP and CS the
;             new task's), which then IRETs back (QEMU 7.2 raises the
;             #GP but its frame's EIP is off: known to fail under it)
;  tss16      far CALL to a 16-bit TSS: IP, FLAGS and the registers' low
;             words loaded (their upper halves kept), FS and GS null, the
;             link and NT; its IRET back saves IP and FLAGS as words
;  io_task    a far CALL to a ring-3 task whose TSS has an I/O permission
;             bitmap: IN of the port it allows runs, of the next #GP(0) in
;             that task (on its SS0:ESP0); its IRET at CPL 3 returns
;  pf_task    paging on: #PF through a task gate to a task with a CR3 of
;             its own (a page only it maps), error code and CR2, and CR3
;             back to the old task's on the IRET
;  v86_task   far JMP to a TSS whose EFLAGS has VM: the task starts in
;             virtual-8086 mode (selectors as bases * 16, CPL 3), stores
;             through DS and leaves with INT n to a ring-0 handler (on the
;             TSS's SS0:ESP0) whose frame has the v86 CS, EIP, EFLAGS.VM
;             and data selectors; it JMPs back to the main task
;  v86_gate   INT n in a virtual-8086 task through an IDT task gate (DPL
;             3): the v86 state saved in the old TSS (EFLAGS with VM and
;             IOPL 3, CS:EIP after the INT, the segment registers as
;             real-mode selectors, SP untouched), the new task nested
;             (link, NT, both busy) in protected mode at ring 0; its IRET
;             resumes the v86 task in virtual-8086 mode after the INT,
;             which then stores through DS and leaves as in v86_task
;  tbit       the TSS's T bit (SDM 7.3 step 12, 17.2.3): far CALL and JMP
;             to a TSS with T set, far CALL through a task gate, INT n
;             through an IDT task gate: each a #DB with DR6.BT set, taken
;             in the new task (TR) before its first instruction (the
;             frame's EIP; the task sees the #DB done), one per switch
;             and none on the way back to a task with T clear (QEMU 7.2
;             ignores the T bit: known to fail under it)
%define GUEST_NAME "tasks"
%include "lib.inc"
%include "exc_record.inc"
%include "paging.inc"

F_NT		equ 0x4000
CR0_TS		equ 0x8

SEL_TSS_MAIN	equ 0x28
SEL_TSS_B	equ 0x30		; called: records, IRET, again
SEL_TSS_J	equ 0x38		; jumped to: records, JMP back, again
SEL_TGATE_B	equ 0x40		; task gate (DPL 0) to TSS_B
SEL_TSS_SHORT	equ 0x48		; limit 0x50
SEL_TSS_NP	equ 0x50		; not present
SEL_TSS_E	equ 0x58		; DS names nothing
SEL_TSS_X	equ 0x60		; #GP task
SEL_TSS_DF	equ 0x68		; #DF task
SEL_LDT		equ 0x70		; one entry: a task gate to TSS_B
SEL_TSS_PF	equ 0x78		; #PF task, its own CR3
SEL_TSS16	equ 0x80		; 16-bit TSS
SEL_T16CODE	equ 0x88		; its code, based at task16 (IP 0)
SEL_UCODE	equ 0x90 | 3		; flat ring-3 code and data
SEL_UDATA	equ 0x98 | 3
SEL_TSS_IO	equ 0xa0		; a ring-3 task with an I/O bitmap
SEL_TSS_T	equ 0xa8		; T bit set: records, IRET or JMP back, again
SEL_TGATE_T	equ 0xb0		; task gate (DPL 0) to TSS_T
DR6_BT		equ 0x8000
SEL_TSS_V	equ 0xb8		; a virtual-8086 task
SEL_TSS_G	equ 0xc0		; the v86 task's INT gate task
VEC_V86G	equ 0x42		; its IDT task gate
V86_GATE_IP	equ 0x100		; v86_gate_blob's offset in V86_SEG
V86_SEG		equ 0x2000		; its CS, DS, SS: linear 0x20000
V86_MARK	equ 0x10		; where it stores (DS:0x10)
V86_SP		equ 0x0f00
VEC_V86		equ 0x41		; its way out
F_VM		equ 0x20000
F_IOPL3		equ 0x3000
DR6_BS		equ 0x4000
IO_PORT		equ 0x3ff		; COM1's scratch register: allowed
IO_BITMAP_SIZE	equ 0x400 / 8		; ports 0..0x3ff
SEL_LDT_TGATE	equ 0x04
SEL_TGATE_B_RPL3 equ SEL_TGATE_B | 3
SEL_CLIM	equ 0xc8		; 32-bit code, base 0, limit 0x7FFFFFFF
CLIM_EIP	equ 0x80000000		; the first offset past it
GDT_ENTRIES	equ 26		; 0x00..0xc8
SEL_NONE	equ 0x1f8		; past the GDT's limit
TSS_LIMIT	equ 0x67
VEC_TASK	equ 0x40
PF_LINEAR	equ 0x40000000
PF_MARKER	equ 0xfeedface

; tss_type sel: EAX = the type nibble of the TSS descriptor (9 or 0xb)
%macro tss_type 1
	movzx eax, byte [gdt + %1 + 5]
	and eax, 0x0f
%endmacro

; idt_task vector, tss selector: a present task gate in the IDT
%macro idt_task 2
	mov dword [lib_idt + %1 * 8], %2 << 16
	mov dword [lib_idt + %1 * 8 + 4], 0x8500
%endmacro

; save_idt vector / restore_idt vector: keep the entry in idt_saved
%macro save_idt 1
	mov eax, [lib_idt + %1 * 8]
	mov [idt_saved + %1 * 8], eax
	mov eax, [lib_idt + %1 * 8 + 4]
	mov [idt_saved + %1 * 8 + 4], eax
%endmacro
%macro restore_idt 1
	mov eax, [idt_saved + %1 * 8]
	mov [lib_idt + %1 * 8], eax
	mov eax, [idt_saved + %1 * 8 + 4]
	mov [lib_idt + %1 * 8 + 4], eax
%endmacro

; check_v86_exit eip: the v86 task left through INT VEC_V86 at eip (its
; ring-0 frame in v_frame: v86 mode with IOPL 3 and NT clear, the stack
; and selectors the task started with), in its own task, and its JMP to
; the main task freed it.
%macro check_v86_exit 1
	check dword [v_tr], SEL_TSS_V
	check dword [v_frame + 0], %1		; EIP
	check dword [v_frame + 4], V86_SEG	; CS
	mov eax, [v_frame + 8]
	and eax, F_VM | F_IOPL3 | F_NT
	check eax, F_VM | F_IOPL3
	check dword [v_frame + 12], V86_SP	; ESP
	check dword [v_frame + 16], V86_SEG	; SS
	check dword [v_frame + 20], 0x1234	; ES
	check dword [v_frame + 24], V86_SEG	; DS
	check dword [v_frame + 28], 0x5678	; FS
	check dword [v_frame + 32], 0x9abc	; GS
	str ax
	movzx eax, ax
	check eax, SEL_TSS_MAIN
	tss_type SEL_TSS_V
	check eax, 9
%endmacro

guest_start
	call lib_install_idt
	mov dword [lib_exc_hook], exc_record
	call setup

group "call_tss"
	clts
	mov esi, 0x5eed0001
	mov ebp, 0x5eed0002
	mov dword [b_runs], 0
	mov word [tss_b], 0
	call SEL_TSS_B:0
call_tss_ret:
	check esi, 0x5eed0001
	check ebp, 0x5eed0002
	check dword [b_runs], 1
	check dword [b_eax], 0x11111111
	check dword [b_tr], SEL_TSS_B
	mov eax, [b_eflags]
	and eax, F_NT
	check eax, F_NT
	mov eax, [b_cr0]
	and eax, CR0_TS
	check eax, CR0_TS
	check dword [b_type_main], 0xb		; nested: the caller stays busy
	check dword [b_type_self], 0xb
	movzx eax, word [tss_b]
	check eax, SEL_TSS_MAIN			; the back link
	str ax
	movzx eax, ax
	check eax, SEL_TSS_MAIN
	tss_type SEL_TSS_B
	check eax, 9				; IRET cleared it
	tss_type SEL_TSS_MAIN
	check eax, 0xb
	pushfd
	pop eax
	and eax, F_NT
	check eax, 0
	mov eax, [tss_b + 0x24]
	and eax, F_NT
	check eax, 0				; IRET clears NT in the image it saves
	check dword [tss_b + 0x20], task_b_again
	check dword [tss_main + 0x20], call_tss_ret
	check dword [tss_main + 0x28 + 6 * 4], 0x5eed0001	; ESI saved
	mov eax, cr0
	and eax, CR0_TS
	check eax, CR0_TS			; set by the switch back too
	clts

group "jmp_tss"
	mov word [tss_j], 0x1234
	mov esi, 0x5eed0003
	mov dword [j_runs], 0
	jmp SEL_TSS_J:0
jmp_tss_ret:
	check esi, 0x5eed0003
	check dword [j_runs], 1
	check dword [j_tr], SEL_TSS_J
	mov eax, [j_eflags]
	and eax, F_NT
	check eax, 0
	check dword [j_type_main], 9		; JMP cleared the old task's
	check dword [j_type_self], 0xb
	movzx eax, word [tss_j]
	check eax, 0x1234			; no link written
	tss_type SEL_TSS_J
	check eax, 9
	tss_type SEL_TSS_MAIN
	check eax, 0xb
	check dword [tss_main + 0x20], jmp_tss_ret
	str ax
	movzx eax, ax
	check eax, SEL_TSS_MAIN

group "refused"
g_refused:
	mov dword [b_runs], 0
	arm .r1
.f1:	call SEL_TSS_MAIN:0
.r1:	expect 13, .f1, SEL_TSS_MAIN
	arm .r2
.f2:	jmp SEL_TSS_MAIN:0
.r2:	expect 13, .f2, SEL_TSS_MAIN
	arm .r3
.f3:	call SEL_TSS_SHORT:0
.r3:	expect 10, .f3, SEL_TSS_SHORT
	tss_type SEL_TSS_SHORT
	check eax, 9
	arm .r4
.f4:	jmp SEL_TSS_NP:0
.r4:	expect 11, .f4, SEL_TSS_NP
	arm .r5
.f5:	call SEL_TGATE_B_RPL3:0
.r5:	expect 13, .f5, SEL_TGATE_B
	check dword [b_runs], 0
	str ax
	movzx eax, ax
	check eax, SEL_TSS_MAIN
	tss_type SEL_TSS_MAIN
	check eax, 0xb

group "iret_nt"
g_iret_nt:
	mov word [tss_main], SEL_TSS_J		; available: not a task to return to
	mov dword [j_runs], 0
	arm .r1
	pushfd
	or dword [esp], F_NT
	popfd
.f1:	iretd
.r1:	push 2
	popfd
	expect 10, .f1, SEL_TSS_J
	check dword [j_runs], 0
	mov eax, [x_eflags]
	and eax, F_NT
	check eax, F_NT

group "gates"
g_gates:
	mov dword [b_runs], 0
	idt_task VEC_TASK, SEL_TSS_B
	int VEC_TASK
.after_int:
	check dword [b_runs], 1
	check dword [b_tr], SEL_TSS_B
	check dword [tss_main + 0x20], .after_int
	movzx eax, word [tss_b]
	check eax, SEL_TSS_MAIN
	call SEL_TGATE_B:0
.after_gdt:
	check dword [b_runs], 2
	check dword [tss_main + 0x20], .after_gdt
	mov ax, SEL_LDT
	lldt ax
	call SEL_LDT_TGATE:0
.after_ldt:
	check dword [b_runs], 3
	check dword [tss_main + 0x20], .after_ldt
	xor eax, eax
	lldt ax
	tss_type SEL_TSS_B
	check eax, 9
	clts

group "exc_task"
g_exc_task:
	save_idt 13
	idt_task 13, SEL_TSS_X
	mov dword [xt_runs], 0
	mov dword [xt_resume], .r1
	mov ax, SEL_NONE
.f1:	mov ds, ax
.r1:	restore_idt 13
	check dword [xt_runs], 1
	check dword [xt_err], SEL_NONE
	check dword [xt_saved_eip], .f1
	check dword [xt_tr], SEL_TSS_X
	check dword [xt_esp], stack_x_top - 4
	movzx eax, word [tss_x]
	check eax, SEL_TSS_MAIN
	tss_type SEL_TSS_X
	check eax, 9
	clts

group "df_task"
g_df_task:
	save_idt 13
	save_idt 11
	mov dword [lib_idt + 13 * 8 + 4], 0	; not present
	mov dword [lib_idt + 11 * 8 + 4], 0
	idt_task 8, SEL_TSS_DF
	mov dword [xt_runs], 0
	mov dword [xt_resume], .r1
	mov ax, SEL_NONE
.f1:	mov ds, ax
.r1:	restore_idt 13
	restore_idt 11
	check dword [xt_runs], 1
	check dword [xt_err], 0
	check dword [xt_tr], SEL_TSS_DF
	check dword [xt_saved_eip], .f1
	clts

group "commit"
g_commit:
	save_idt 10
	mov eax, 10
	mov edx, ts_handler
	mov cl, 0x8e
	call lib_set_gate
	mov dword [te_count], 0
	call SEL_TSS_E:0
.back:
	restore_idt 10
	check dword [te_count], 1
	check dword [te_err], SEL_NONE
	check dword [te_eip], task_e
	check dword [te_tr], SEL_TSS_E
	check dword [te_ds], SEL_NONE
	check dword [tss_main + 0x20], .back
	str ax
	movzx eax, ax
	check eax, SEL_TSS_MAIN
	tss_type SEL_TSS_E
	check eax, 9
	tss_type SEL_TSS_MAIN
	check eax, 0xb
	clts

; Task E again, started at an EIP past its CS's limit: the #GP(0) is the
; new task's (SDM TASK-SWITCH: "IF EIP not within code segment limit
; THEN #GP(0)"); the handler sends it on to task_e, inside the limit.
group "eip_limit"
g_eip_limit:
	mov dword [gdt + SEL_CLIM], 0x0000ffff	; limit 0x7FFFF pages, base 0
	mov dword [gdt + SEL_CLIM + 4], 0x00c79a00	; G, D; present code, readable
	mov edi, tss_e
	mov eax, CLIM_EIP
	mov edx, stack_e_top
	call init_tss
	mov dword [tss_e + 0x4c], SEL_CLIM
	save_idt 13
	mov eax, 13
	mov edx, gp_lim_handler
	mov cl, 0x8e
	call lib_set_gate
	mov dword [te_count], 0
	call SEL_TSS_E:0
.back:
	restore_idt 13
	check dword [te_count], 1
	check dword [te_err], 0
	check dword [te_eip], CLIM_EIP
	check dword [te_cs], SEL_CLIM
	check dword [te_tr], SEL_TSS_E
	check dword [tss_main + 0x20], .back
	str ax
	movzx eax, ax
	check eax, SEL_TSS_MAIN
	tss_type SEL_TSS_E
	check eax, 9
	clts

group "tss16"
g_tss16:
	mov dword [t16_runs], 0
	mov eax, 0xabcd0000
	call SEL_TSS16:0
.back:
	check dword [t16_runs], 1
	check dword [t16_eax], 0xabcd1616
	check dword [t16_tr], SEL_TSS16
	check dword [t16_fs], 0
	mov eax, [t16_eflags]
	and eax, F_NT
	check eax, F_NT
	movzx eax, word [tss16]
	check eax, SEL_TSS_MAIN
	tss_type SEL_TSS16
	check eax, 1				; available again
	movzx eax, word [tss16 + 0x0e]
	check eax, task16.again - task16	; IP saved as a word
	movzx eax, word [tss16 + 0x10]
	and eax, F_NT
	check eax, 0
	check dword [tss_main + 0x20], .back
	mov ax, fs
	movzx eax, ax
	check eax, SEL_FS
	clts

; tbit_switch instruction..., kind (0 IRET back, 1 JMP back): TSS_T at
; task_t again, no #DB yet, then the switch; the #DB and the task's
; records are checked after it
%macro tbit_switch 2
	mov dword [tss_t + 0x20], task_t
	mov dword [t_jmp], %2
	mov dword [db_count], 0
	mov dword [db_eip], -1
	mov dword [db_dr6], 0
	mov dword [db_tr], 0
	mov dword [t_runs], 0
	mov dword [t_seen_db], -1
	xor eax, eax
	mov dr6, eax
	%1
	check dword [t_runs], 1
	check dword [t_seen_db], 1		; before the task's first instruction
	check dword [db_count], 1		; none on the way back
	check dword [db_eip], task_t
	check dword [db_tr], SEL_TSS_T
	mov eax, [db_dr6]
	and eax, DR6_BT | DR6_BS
	check eax, DR6_BT
	str ax
	movzx eax, ax
	check eax, SEL_TSS_MAIN
	tss_type SEL_TSS_T
	check eax, 9
	clts
%endmacro

group "tbit"
g_tbit:
	save_idt 1
	mov eax, 1
	mov edx, db_handler
	mov cl, 0x8e
	call lib_set_gate
	tbit_switch {call SEL_TSS_T:0}, 0
	tbit_switch {jmp SEL_TSS_T:0}, 1
	tbit_switch {call SEL_TGATE_T:0}, 0
	idt_task VEC_TASK, SEL_TSS_T
	tbit_switch {int VEC_TASK}, 0
	restore_idt 1

group "io_task"
g_io_task:
	mov dword [io_ok], 0
	call SEL_TSS_IO:0
	check dword [io_ok], 1
	check dword [x_count], 1
	check dword [x_vec], 13
	check dword [x_err], 0
	check dword [x_eip], task_io.fault
	check dword [x_cs], SEL_UCODE
	str ax
	movzx eax, ax
	check eax, SEL_TSS_MAIN
	tss_type SEL_TSS_IO
	check eax, 9
	clts

group "v86_task"
g_v86_task:
	save_idt VEC_V86
	mov eax, VEC_V86
	mov edx, v86_exit
	mov cl, 0xee				; DPL 3: INT n from v86 (IOPL 3)
	call lib_set_gate
	mov esi, v86_blob
	mov edi, V86_SEG << 4
	mov ecx, v86_blob_end - v86_blob
	cld
	rep movsb
	mov word [(V86_SEG << 4) + V86_MARK], 0
	mov dword [v_runs], 0
	mov dword [v_back], .back
	jmp SEL_TSS_V:0
.back:
	restore_idt VEC_V86
	check dword [v_runs], 1
	movzx eax, word [(V86_SEG << 4) + V86_MARK]
	check eax, 0x8686
	check_v86_exit v86_blob.after_int - v86_blob
	clts

group "v86_gate"
g_v86_gate:
	save_idt VEC_V86
	save_idt VEC_V86G
	mov eax, VEC_V86
	mov edx, v86_exit
	mov cl, 0xee
	call lib_set_gate
	mov dword [lib_idt + VEC_V86G * 8], SEL_TSS_G << 16
	mov dword [lib_idt + VEC_V86G * 8 + 4], 0xe500	; task gate, DPL 3
	mov esi, v86_gate_blob
	mov edi, (V86_SEG << 4) + V86_GATE_IP
	mov ecx, v86_gate_blob_end - v86_gate_blob
	cld
	rep movsb
	mov dword [(V86_SEG << 4) + V86_MARK], 0
	; the v86 task afresh (v86_task left ring 0's state in its TSS)
	mov eax, V86_GATE_IP
	call init_tss_v
	mov dword [v_runs], 0
	mov dword [g_runs], 0
	mov dword [v_back], .back
	jmp SEL_TSS_V:0
.back:
	restore_idt VEC_V86
	restore_idt VEC_V86G
	check dword [g_runs], 1
	check dword [v_runs], 1
	movzx eax, word [(V86_SEG << 4) + V86_MARK]
	check eax, 0x8686
	movzx eax, word [(V86_SEG << 4) + V86_MARK + 2]
	check eax, 0x4242			; stored after the IRET back
	; in the gate's task: nested, the v86 state in the old TSS
	check dword [g_tr], SEL_TSS_G
	check dword [g_link], SEL_TSS_V
	mov eax, [g_eflags]
	and eax, F_NT | F_VM
	check eax, F_NT
	check dword [g_v_type], 0xb
	mov eax, [g_v_eflags]
	and eax, F_VM | F_IOPL3
	check eax, F_VM | F_IOPL3
	check dword [g_v_eip], V86_GATE_IP + v86_gate_blob.after_gate - v86_gate_blob
	check dword [g_v_esp], V86_SP
	check dword [g_v_cs], V86_SEG
	check dword [g_v_ss], V86_SEG
	check dword [g_v_ds], V86_SEG
	check dword [g_v_es], 0x1234
	check dword [g_v_fs], 0x5678
	check dword [g_v_gs], 0x9abc
	; back in v86 mode (NT clear: the IRET's task return), as the INT to
	; ring 0 shows
	check_v86_exit V86_GATE_IP + v86_gate_blob.after_int - v86_gate_blob
	tss_type SEL_TSS_G
	check eax, 9
	clts

group "pf_task"
g_pf_task:
	; two address spaces: dir0 the identity map, dir1 the same plus a
	; page at PF_LINEAR holding PF_MARKER
	call pg_alloc
	mov [dir0], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	call pg_alloc
	mov [dir1], eax
	mov edi, eax
	call pg_map_identity
	call pg_alloc
	mov dword [eax], PF_MARKER
	or eax, PG_P | PG_RW
	mov esi, PF_LINEAR
	call pg_map
	mov eax, [dir0]
	mov [tss_main + 0x1c], eax
	mov eax, [dir1]
	mov [tss_pf + 0x1c], eax
	save_idt 14
	idt_task 14, SEL_TSS_PF
	mov eax, [dir0]
	call pg_enable
	mov dword [xt_runs], 0
	mov dword [xt_resume], .r1
.f1:	mov dword [PF_LINEAR], 1
.r1:	restore_idt 14
	check dword [xt_runs], 1
	check dword [xt_err], 2			; write, not present
	check dword [xt_cr2], PF_LINEAR
	mov eax, [dir1]
	check dword [xt_cr3], eax
	check dword [xt_marker], PF_MARKER
	check dword [xt_saved_eip], .f1
	mov eax, cr3
	check eax, dword [dir0]
	mov eax, cr0
	and eax, ~CR0_PG
	mov cr0, eax
	clts

	guest_finish

; ------------------------------------------------------------------ setup

; set_desc: EAX = selector, EBX = base, ECX = limit (20 bits), DL =
; access byte, DH = flags nibble. Preserves registers.
set_desc:
	pushad
	and eax, 0xfff8
	lea edi, [gdt + eax]
	mov [edi], cx
	mov [edi + 2], bx
	shr ebx, 16
	mov [edi + 4], bl
	mov [edi + 5], dl
	shr ecx, 16
	and cl, 0x0f
	shl dh, 4
	or cl, dh
	mov [edi + 6], cl
	mov [edi + 7], bh
	popad
	ret

; init_tss: EDI = TSS, EAX = EIP, EDX = ESP. A task at CPL 0 on lib's flat
; segments, EAX 0x11111111, no LDT, interrupts off. Preserves registers.
init_tss:
	pushad
	push eax
	push edi
	mov ecx, TSS_LIMIT + 1
	xor eax, eax
	cld
	rep stosb
	pop edi
	pop eax
	mov [edi + 0x20], eax
	mov dword [edi + 0x24], 2
	mov dword [edi + 0x28], 0x11111111
	mov [edi + 0x38], edx
	mov eax, SEL_DATA
	mov [edi + 0x48], eax			; ES
	mov dword [edi + 0x4c], SEL_CODE
	mov [edi + 0x50], eax			; SS
	mov [edi + 0x54], eax			; DS
	mov [edi + 0x58], eax			; FS
	mov [edi + 0x5c], eax			; GS
	mov word [edi + 0x66], TSS_LIMIT + 1
	popad
	ret

; init_tss_v: the virtual-8086 task at IP EAX: VM and IOPL 3 in EFLAGS,
; real-mode style selectors, ring 0's stack for its way out.
init_tss_v:
	pushad
	mov edi, tss_v
	mov edx, V86_SP
	call init_tss
	mov dword [tss_v + 0x24], F_VM | F_IOPL3 | 2
	mov dword [tss_v + 0x04], stack_v0_top	; ESP0
	mov dword [tss_v + 0x08], SEL_DATA	; SS0
	mov dword [tss_v + 0x48], 0x1234	; ES
	mov dword [tss_v + 0x4c], V86_SEG	; CS
	mov dword [tss_v + 0x50], V86_SEG	; SS
	mov dword [tss_v + 0x54], V86_SEG	; DS
	mov dword [tss_v + 0x58], 0x5678	; FS
	mov dword [tss_v + 0x5c], 0x9abc	; GS
	popad
	ret

; tss_desc selector, tss: a present, available 32-bit TSS descriptor
%macro tss_desc 2
	mov eax, %1
	mov ebx, %2
	mov ecx, TSS_LIMIT
	mov edx, 0x0089
	call set_desc
%endmacro

setup:
	pushad
	; lib's descriptors, then room for ours
	mov esi, lib_gdt
	mov edi, gdt
	mov ecx, 5 * 8
	cld
	rep movsb
	lgdt [gdtr]
	mov edi, tss_b
	mov eax, task_b
	mov edx, stack_b_top
	call init_tss
	mov edi, tss_j
	mov eax, task_j
	mov edx, stack_j_top
	call init_tss
	mov edi, tss_e
	mov eax, task_e
	mov edx, stack_e_top
	call init_tss
	mov dword [tss_e + 0x54], SEL_NONE
	mov edi, tss_x
	mov eax, task_x
	mov edx, stack_x_top
	call init_tss
	mov edi, tss_df
	mov eax, task_x
	mov edx, stack_x_top
	call init_tss
	mov edi, tss_pf
	mov eax, task_pf
	mov edx, stack_x_top
	call init_tss
	tss_desc SEL_TSS_MAIN, tss_main
	tss_desc SEL_TSS_B, tss_b
	tss_desc SEL_TSS_J, tss_j
	tss_desc SEL_TSS_E, tss_e
	tss_desc SEL_TSS_X, tss_x
	tss_desc SEL_TSS_DF, tss_df
	tss_desc SEL_TSS_PF, tss_pf
	tss_desc SEL_TSS_SHORT, tss_short
	mov eax, SEL_TSS_SHORT
	mov ecx, 0x50
	call set_desc
	tss_desc SEL_TSS_NP, tss_short
	mov byte [gdt + SEL_TSS_NP + 5], 0x09	; not present
	; task gates: GDT (DPL 0) and the LDT's entry 0
	mov dword [gdt + SEL_TGATE_B], SEL_TSS_B << 16
	mov dword [gdt + SEL_TGATE_B + 4], 0x8500
	mov dword [ldt], SEL_TSS_B << 16
	mov dword [ldt + 4], 0x8500
	mov eax, SEL_LDT
	mov ebx, ldt
	mov ecx, 7
	mov edx, 0x0082
	call set_desc
	; the 16-bit task: code based at task16, a stack below 64 KiB
	mov word [tss16 + 0x10], 2		; FLAGS
	mov word [tss16 + 0x12], 0x1616		; AX
	mov word [tss16 + 0x1a], 0x8000		; SP
	mov word [tss16 + 0x22], SEL_DATA	; ES
	mov word [tss16 + 0x24], SEL_T16CODE	; CS
	mov word [tss16 + 0x26], SEL_DATA	; SS
	mov word [tss16 + 0x28], SEL_DATA	; DS
	mov eax, SEL_TSS16
	mov ebx, tss16
	mov ecx, 0x2b
	mov edx, 0x0081
	call set_desc
	mov eax, SEL_T16CODE
	mov ebx, task16
	mov ecx, 0xffff
	mov edx, 0x049a
	call set_desc
	; the ring-3 task: its own stacks, every port denied but IO_PORT
	mov edi, tss_io
	mov eax, task_io
	mov edx, stack_io_top
	call init_tss
	mov dword [tss_io + 0x04], stack_io0_top	; ESP0
	mov dword [tss_io + 0x08], SEL_DATA		; SS0
	mov eax, SEL_UDATA
	mov [tss_io + 0x48], eax
	mov [tss_io + 0x50], eax
	mov [tss_io + 0x54], eax
	mov [tss_io + 0x58], eax
	mov [tss_io + 0x5c], eax
	mov dword [tss_io + 0x4c], SEL_UCODE
	lea edi, [tss_io + TSS_LIMIT + 1]
	mov ecx, IO_BITMAP_SIZE + 1
	mov al, 0xff
	rep stosb
	mov edx, IO_PORT
	btr [tss_io + TSS_LIMIT + 1], edx
	mov eax, SEL_TSS_IO
	mov ebx, tss_io
	mov ecx, TSS_LIMIT + 1 + IO_BITMAP_SIZE	; the byte after the bitmap is the last
	mov edx, 0x0089
	call set_desc
	mov eax, SEL_UCODE
	xor ebx, ebx
	mov ecx, 0xfffff
	mov edx, 0x0cfa
	call set_desc
	mov eax, SEL_UDATA
	mov edx, 0x0cf2
	call set_desc
	; the task with the T bit, and a task gate to it
	mov edi, tss_t
	mov eax, task_t
	mov edx, stack_t_top
	call init_tss
	or word [tss_t + 0x64], 1
	tss_desc SEL_TSS_T, tss_t
	mov dword [gdt + SEL_TGATE_T], SEL_TSS_T << 16
	mov dword [gdt + SEL_TGATE_T + 4], 0x8500
	; the virtual-8086 task, and the task its INT gate names
	xor eax, eax
	call init_tss_v
	tss_desc SEL_TSS_V, tss_v
	mov edi, tss_g
	mov eax, task_g
	mov edx, stack_g_top
	call init_tss
	tss_desc SEL_TSS_G, tss_g
	mov ax, SEL_TSS_MAIN
	ltr ax
	popad
	ret

; ------------------------------------------------------------------ tasks

task_b:
	mov [b_eax], eax
	inc dword [b_runs]
	str ax
	movzx eax, ax
	mov [b_tr], eax
	pushfd
	pop dword [b_eflags]
	mov eax, cr0
	mov [b_cr0], eax
	tss_type SEL_TSS_MAIN
	mov [b_type_main], eax
	tss_type SEL_TSS_B
	mov [b_type_self], eax
	iretd
task_b_again:
	jmp task_b

task_j:
	inc dword [j_runs]
	str ax
	movzx eax, ax
	mov [j_tr], eax
	pushfd
	pop dword [j_eflags]
	tss_type SEL_TSS_MAIN
	mov [j_type_main], eax
	tss_type SEL_TSS_J
	mov [j_type_self], eax
	jmp SEL_TSS_MAIN:0
	jmp task_j

; The exception tasks (#GP, #DF): the error code on their stack; the
; faulting task resumes at xt_resume.
task_x:
	mov [xt_esp], esp
	pop dword [xt_err]
	inc dword [xt_runs]
	str ax
	movzx eax, ax
	mov [xt_tr], eax
	mov eax, [tss_main + 0x20]
	mov [xt_saved_eip], eax
	mov eax, [xt_resume]
	mov [tss_main + 0x20], eax
	iretd
	jmp task_x

; The 16-bit task, at IP 0 of its own code segment.
task16:
	movzx esp, sp
	mov [t16_eax], eax
	inc dword [t16_runs]
	str ax
	movzx eax, ax
	mov [t16_tr], eax
	mov ax, fs
	movzx eax, ax
	mov [t16_fs], eax
	pushfd
	pop dword [t16_eflags]
	iretd
.again:
	jmp task16

; The ring-3 task: IN of the allowed port, then of the one below it.
task_io:
	mov edx, IO_PORT
	in al, dx
	mov dword [io_ok], 1
	arm .resume
	dec edx
.fault:
	in al, dx
.resume:
	iretd
	jmp task_io

; The #PF task, in its own address space.
task_pf:
	pop dword [xt_err]
	inc dword [xt_runs]
	mov eax, cr2
	mov [xt_cr2], eax
	mov eax, cr3
	mov [xt_cr3], eax
	mov eax, [PF_LINEAR]
	mov [xt_marker], eax
	mov eax, [tss_main + 0x20]
	mov [xt_saved_eip], eax
	mov eax, [xt_resume]
	mov [tss_main + 0x20], eax
	iretd
	jmp task_pf

; The task whose TSS has T: the #DB comes before its first instruction.
; It goes back with IRET (called) or JMP (t_jmp set).
task_t:
	mov eax, [db_count]
	mov [t_seen_db], eax
	inc dword [t_runs]
	cmp dword [t_jmp], 0
	jne .jmp
	iretd
	jmp task_t
.jmp:
	jmp SEL_TSS_MAIN:0
	jmp task_t

; The v86 task's code, copied to V86_SEG:0: a store through DS, then INT
; VEC_V86 to leave.
v86_blob:
	db 0xc7, 0x06, V86_MARK, 0, 0x86, 0x86	; mov word [V86_MARK], 0x8686
	db 0xcd, VEC_V86			; int VEC_V86
.after_int:
	db 0xeb, 0xfe				; jmp $
v86_blob_end:

; The v86_gate blob, copied to V86_SEG:V86_GATE_IP: a store, INT VEC_V86G
; through the task gate, a second store once the gate's task IRETs back,
; then INT VEC_V86 to leave.
v86_gate_blob:
	db 0xc7, 0x06, V86_MARK, 0, 0x86, 0x86	; mov word [V86_MARK], 0x8686
	db 0xcd, VEC_V86G			; int VEC_V86G
.after_gate:
	db 0xc7, 0x06, V86_MARK + 2, 0, 0x42, 0x42	; mov word [V86_MARK + 2], 0x4242
	db 0xcd, VEC_V86			; int VEC_V86
.after_int:
	db 0xeb, 0xfe				; jmp $
v86_gate_blob_end:

; INT VEC_V86G's task: what the switch left in both TSSs, then IRET (NT
; set: a task return) to the v86 task.
task_g:
	inc dword [g_runs]
	str ax
	movzx eax, ax
	mov [g_tr], eax
	movzx eax, word [tss_g]
	mov [g_link], eax
	pushfd
	pop dword [g_eflags]
	tss_type SEL_TSS_V
	mov [g_v_type], eax
	mov eax, [tss_v + 0x24]
	mov [g_v_eflags], eax
	mov eax, [tss_v + 0x20]
	mov [g_v_eip], eax
	mov eax, [tss_v + 0x38]
	mov [g_v_esp], eax
	movzx eax, word [tss_v + 0x48]
	mov [g_v_es], eax
	movzx eax, word [tss_v + 0x4c]
	mov [g_v_cs], eax
	movzx eax, word [tss_v + 0x50]
	mov [g_v_ss], eax
	movzx eax, word [tss_v + 0x54]
	mov [g_v_ds], eax
	movzx eax, word [tss_v + 0x58]
	mov [g_v_fs], eax
	movzx eax, word [tss_v + 0x5c]
	mov [g_v_gs], eax
	iretd
	jmp task_g

; INT VEC_V86 from the v86 task, at ring 0 on its SS0:ESP0: DS, ES, FS and
; GS are null here, so through SS; back to the main task with JMP.
v86_exit:
	mov eax, [ss:esp + 0]
	mov [ss:v_frame + 0], eax
	mov eax, [ss:esp + 4]
	mov [ss:v_frame + 4], eax
	mov eax, [ss:esp + 8]
	mov [ss:v_frame + 8], eax
	mov eax, [ss:esp + 12]
	mov [ss:v_frame + 12], eax
	mov eax, [ss:esp + 16]
	mov [ss:v_frame + 16], eax
	mov eax, [ss:esp + 20]
	mov [ss:v_frame + 20], eax
	mov eax, [ss:esp + 24]
	mov [ss:v_frame + 24], eax
	mov eax, [ss:esp + 28]
	mov [ss:v_frame + 28], eax
	mov eax, [ss:esp + 32]
	mov [ss:v_frame + 32], eax
	str ax
	movzx eax, ax
	mov [ss:v_tr], eax
	inc dword [ss:v_runs]
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	mov fs, ax
	mov gs, ax
	mov eax, [v_back]
	mov [tss_main + 0x20], eax
	jmp SEL_TSS_MAIN:0

; #DB: what the T bit's trap shows (frame EIP, DR6, the task it runs in).
db_handler:
	push eax
	inc dword [db_count]
	mov eax, [esp + 4]
	mov [db_eip], eax
	mov eax, dr6
	mov [db_dr6], eax
	xor eax, eax
	mov dr6, eax
	str ax
	movzx eax, ax
	mov [db_tr], eax
	pop eax
	iretd

; Task E starts with a DS that names nothing: the #TS its load raises is
; taken here, in task E, before its first instruction. Its IRET (NT set)
; goes back to the caller.
task_e:
	iretd
	jmp task_e

; #TS in task E: DS is unusable, so through SS.
ts_handler:
	push eax
	mov eax, [esp + 4]
	mov [ss:te_err], eax
	mov eax, [esp + 8]
	mov [ss:te_eip], eax
	str ax
	movzx eax, ax
	mov [ss:te_tr], eax
	mov ax, ds
	movzx eax, ax
	mov [ss:te_ds], eax
	mov ax, SEL_DATA
	mov ds, ax
	inc dword [te_count]
	mov dword [esp + 8], task_e		; where QEMU's frame should have pointed
	pop eax
	add esp, 4
	iretd

; #GP in task E past its CS's limit: recorded, then on to task_e.
gp_lim_handler:
	push eax
	mov eax, [esp + 4]
	mov [te_err], eax
	mov eax, [esp + 8]
	mov [te_eip], eax
	mov eax, [esp + 12]
	mov [te_cs], eax
	str ax
	movzx eax, ax
	mov [te_tr], eax
	inc dword [te_count]
	mov dword [esp + 8], task_e
	pop eax
	add esp, 4
	iretd

section .data
align 8
gdt:		times GDT_ENTRIES dq 0
gdt_end:
align 4
	dw 0
gdtr:	dw gdt_end - gdt - 1
	dd gdt
align 8
ldt:		dq 0

section .bss
alignb 16
tss_main:	resb 256
tss_b:		resb 256
tss_j:		resb 256
tss_e:		resb 256
tss_x:		resb 256
tss_df:		resb 256
tss_pf:		resb 256
tss_short:	resb 256
tss16:		resb 64
tss_io:		resb TSS_LIMIT + 1 + IO_BITMAP_SIZE + 1
tss_t:		resb 256
tss_v:		resb 256
tss_g:		resb 256
v_runs:		resd 1
v_back:		resd 1
g_runs:		resd 1
g_tr:		resd 1
g_link:		resd 1
g_eflags:	resd 1
g_v_type:	resd 1
g_v_eflags:	resd 1
g_v_eip:	resd 1
g_v_esp:	resd 1
g_v_es:		resd 1
g_v_cs:		resd 1
g_v_ss:		resd 1
g_v_ds:		resd 1
g_v_fs:		resd 1
g_v_gs:		resd 1
v_tr:		resd 1
v_frame:	resd 9
t_runs:		resd 1
t_jmp:		resd 1
t_seen_db:	resd 1
db_count:	resd 1
db_eip:		resd 1
db_dr6:		resd 1
db_tr:		resd 1
io_ok:		resd 1
t16_runs:	resd 1
t16_eax:	resd 1
t16_tr:		resd 1
t16_fs:		resd 1
t16_eflags:	resd 1
idt_saved:	resq 256
dir0:		resd 1
dir1:		resd 1
b_runs:		resd 1
b_eax:		resd 1
b_tr:		resd 1
b_eflags:	resd 1
b_cr0:		resd 1
b_type_main:	resd 1
b_type_self:	resd 1
j_runs:		resd 1
j_tr:		resd 1
j_eflags:	resd 1
j_type_main:	resd 1
j_type_self:	resd 1
xt_runs:	resd 1
xt_err:		resd 1
xt_esp:		resd 1
xt_tr:		resd 1
xt_saved_eip:	resd 1
xt_resume:	resd 1
xt_cr2:		resd 1
xt_cr3:		resd 1
xt_marker:	resd 1
te_count:	resd 1
te_cs:		resd 1
te_err:		resd 1
te_eip:		resd 1
te_tr:		resd 1
te_ds:		resd 1
alignb 16
		resb 1024
stack_b_top:
		resb 1024
stack_j_top:
		resb 1024
stack_e_top:
		resb 1024
stack_x_top:
		resb 1024
stack_io_top:
		resb 1024
stack_io0_top:
		resb 1024
stack_t_top:
		resb 1024
stack_v0_top:
		resb 1024
stack_g_top:
