; One physical code page run through several linear aliases (paging.inc +
; rings.inc): a shared library mapped at a different address in every
; process. A translator that reuses a block's translation for the same
; physical code at another linear address must get everything that
; depends on the linear EIP right for the alias being run: return
; addresses, relative branch targets, the EIP an exception or INT pushes,
; where execution goes on after an emulated instruction, and instructions
; that cross into the neighbouring page (which need not be an alias too).
;
; The code frame (ccode below, exactly 4 KiB) is copied to F_CODE and mapped
; read-only at six linear aliases, each with a neighbour page on either
; side (nA or nB, two copies of ncode that differ in their last byte):
;	a0  dir0  0x40001000  supervisor  prev nA  next nA
;	a1  dir0  0x403ff000  user        prev nB  next nA (next page in
;	                                  another page table)
;	a2  dir0  0x9abcd000  user        prev nA  next nB
;	a3  dir1  0x40201000  user        prev nB  next nB
;	a4  dir1  0xbfffe000  user        prev nA  next nA
;	a5  dir1  0x403ff000  user        prev nA  next nB (a1's linear address
;	                                  and frame, another previous page)
; Each run enters the code at ring 0 (CALL) or ring 3 (IRETD, back with
; INT 0x81); the code writes what it saw into a results page (RES, user
; read-write at the same linear address in both directories), and the
; kernel then checks every slot against the value for the alias run
; (alias base + the label's offset in the frame, or a constant), each with
; a name of its own: "FAIL code_alias.<group> #<1000 + slot> (<name>): got
; G expected E", after a line giving the alias, its base, ring and round.
; Every `here` records the linear EIP of the instruction after a CALL $+5
; (so every control transfer is followed by a check that execution is in
; the alias it should be in). Checked in each run:
;  - the code's own base from CALL $+5 / POP
;  - CALL rel32 within the frame (callee records the return address and
;    its own EIP, returns with RET), CALL through a register and through
;    memory (the same)
;  - JMP rel8 and rel32, Jcc rel8 and rel32 taken and not taken, LOOP (the
;    count and where it ends), JECXZ taken and not taken, JMP through a
;    register to a block at mid-page (offset 0xc00)
;  - CALL rel32 to a routine outside the frame (in the next page; a rel32
;    target keeps its distance from the alias, so it is in the
;    neighbouring page of each alias), its return address and EIP
;  - ring 0 only: CALL through memory to a routine in the kernel (return
;    address), MOV from CR0 and from CR3 (the value, and the EIP after)
;  - CPUID (vendor EBX, EIP after), POPFD/PUSHFD (the flags, EIP after)
;  - UD2: #UD with EIP = the alias's address of the UD2; a read of an
;    unmapped page: #PF with that EIP, CR2 and error (0 at ring 0, U at
;    ring 3); ring 3 only: CLI, #GP(0) with its EIP. The handler resumes
;    at the alias's address of the label the code names (by its offset)
;  - INT 0x40 (DPL 3 gate): the pushed EIP and CS
;  - a block that ends at the page end (the last instruction's last byte
;    is the frame's last byte), falling through into the next page
;  - an instruction that straddles the previous page and the frame (MOV
;    EAX, imm32: one immediate byte in the previous page, three in the
;    frame): its value depends on which neighbour the alias has (a1 and
;    a5 are the same linear address and frame with different previous
;    pages)
;  - ring 3 only: the EIP the INT 0x81 exit pushed
; Groups (ROUNDS rounds each, aliases alternating within a round):
;  ring0_dir0  a0 a1 a2 at ring 0
;  ring3_dir0  a1 a2 at ring 3 (after their ring-0 runs)
;  ring0_dir1  a3 a4 a5 at ring 0, CR3 = dir1
;  ring3_dir1  a3 a4 a5 at ring 3
;  mixed       every alias, CR3 and ring changing on every run
;  smc         the frame's code rewritten through its physical address
;              (the identity map) between rounds: a MOV EAX, imm32; RET
;              called at every alias (CR3 switched as needed) returns the
;              immediate last written, at each alias, every round (check
;              #999), so no alias keeps a translation of the old code
; Under QEMU:
;	qemu-system-i386 -accel tcg -kernel code_alias.elf -serial stdio
;		-display none -device isa-debug-exit,iobase=0xf4,iosize=4
;		-no-reboot   (one line; exit status 33)
%define GUEST_NAME "code_alias"
%include "lib.inc"
%include "paging.inc"
%include "rings.inc"

; Physical frames (inside the identity map, above the page-table pool).
F_CODE		equ 0x00d00000
F_NA		equ 0x00d01000
F_NB		equ 0x00d02000
F_RES		equ 0x00d03000
F_USTK		equ 0x00d04000

; Linear pages mapped in both directories.
L_RES		equ 0x50000000		; user RW: the results
L_USTK		equ 0x50001000		; user RW: the ring-3 stack
L_USTK_TOP	equ 0x50002000
L_UNMAPPED	equ 0x60000000		; nothing there (no PDE)

NA_BYTE		equ 0xa5		; the last byte of nA
NB_BYTE		equ 0x5b		; the last byte of nB
STRADDLE_HI	equ 0x11223300		; the frame's three immediate bytes

VEC_INT		equ 0x40
XTAG		equ 0xa11a5000		; EDI = XTAG | vector: a fault is expected
ROUNDS		equ 3

; An alias (alias_tab).
AL_DIR		equ 0			; address of the dword holding the directory
AL_BASE		equ 4
AL_PREV		equ 8			; the previous page's frame
AL_NEXT		equ 12			; the next page's frame
AL_PTE		equ 16			; PG_US or 0
AL_SIZE		equ 20
N_ALIASES	equ 6

; A result slot's check (vtab): slot, flags, value at ring 0, value at
; ring 3, name. V_REL: the value is an offset from the alias base; V_VAR:
; the value is the address of a dword holding it; V_R0 / V_R3: only that
; ring writes the slot (the other must leave it 0).
V_REL		equ 1
V_VAR		equ 2
V_R0		equ 4
V_R3		equ 8
VT_SIZE		equ 20

%define R(n) (L_RES + (n) * 4)
%assign nslot 0
%assign here_flags 0
%define HBASE ccode
%define HDELTA 0

section .rodata.vtab progbits alloc noexec nowrite align=4
vtab:

; vent flags, v0, v3, "name": the check of the next slot (nslot).
%macro vent 4
[section .rodata]
%%t:	db %4, 0
[section .rodata.vtab]
	dd nslot, %1, %2, %3, %%t
__SECT__
%endmacro

; slot NAME, flags, v0, v3, "name": a slot the code or a handler writes.
%macro slot 5
	vent %2, %3, %4, %5
%assign %1 nslot
%assign nslot nslot+1
%endmacro

; here "name": record the linear EIP (of the POP after CALL $+5) in a slot
; of its own, expected at the alias base + its offset (HBASE, HDELTA: the
; blob the code is in and where that page sits from the alias base).
; Clobbers EAX, keeps EFLAGS. 11 bytes.
%macro here 1
	call %%p
%%p:	pop eax
	mov [R(nslot)], eax
	vent V_REL | here_flags, %%p - HBASE + HDELTA, %%p - HBASE + HDELTA, %1
%assign nslot nslot+1
%endmacro

; callee_ret "name": in a routine entered by CALL, record its return
; address; expected the alias base + offset of label %2.
%macro callee_ret 2
	mov eax, [esp]
	mov [R(nslot)], eax
	vent V_REL | here_flags, %2 - ccode, %2 - ccode, %1
%assign nslot nslot+1
%endmacro

; Transfers between the frame and its neighbours (the rel32 is the
; distance between the two linear addresses in any one alias).
%macro call_next 1			; from ccode to ncode at base + 0x1000
	db 0xe8
	dd (0x1000 + ((%1) - ncode)) - (($ + 4) - ccode)
%endmacro
%macro jmp_prev 1			; from ccode to ncode at base - 0x1000
	db 0xe9
	dd (-0x1000 + ((%1) - ncode)) - (($ + 4) - ccode)
%endmacro
%macro jmp_frame_from_next 1		; from ncode at base + 0x1000 to ccode
	db 0xe9
	dd ((%1) - ccode) - (0x1000 + (($ + 4) - ncode))
%endmacro

; expect_fault vector, resume: EDI says which fault comes, ESI where (the
; offset in the frame) the handler resumes.
%macro expect_fault 2
	mov edi, XTAG | %1
	mov esi, (%2) - ccode
%endmacro

; run_list label: run the (alias, ring) byte pairs at label (ended by
; 0xff) ROUNDS times.
%macro run_list 1
	mov esi, %1
	call run_rounds
%endmacro

; ------------------------------------------------------------ the slots
; written by the handlers and the kernel (the rest by `here` and
; callee_ret in the code)
	slot S_UD_N, 0, 1, 1, "#UD count"
	slot S_UD_EIP, V_REL, c_ud - ccode, c_ud - ccode, "#UD EIP"
	slot S_UD_ERR, 0, 0, 0, "#UD error"
	slot S_UD_CR2, 0, 0, 0, "#UD (no CR2)"
	slot S_GP_N, V_R3, 0, 1, "#GP count"
	slot S_GP_EIP, V_REL | V_R3, 0, c_gp - ccode, "#GP EIP"
	slot S_GP_ERR, V_R3, 0, 0, "#GP error"
	slot S_GP_CR2, V_R3, 0, 0, "#GP (no CR2)"
	slot S_PF_N, 0, 1, 1, "#PF count"
	slot S_PF_EIP, V_REL, c_pf - ccode, c_pf - ccode, "#PF EIP"
	slot S_PF_ERR, 0, 0, PF_U, "#PF error"
	slot S_PF_CR2, 0, L_UNMAPPED, L_UNMAPPED, "#PF CR2"
	slot S_INT_N, 0, 1, 1, "INT count"
	slot S_INT_EIP, V_REL, c_int_ret - ccode, c_int_ret - ccode, "INT pushed EIP"
	slot S_INT_CS, 0, SEL_CODE, RING_SEL_UCODE, "INT pushed CS"
	slot S_EXIT_EIP, V_REL | V_R3, 0, c_user_exit - ccode, "INT 0x81 exit EIP"
	slot S_BASE, V_REL, 0, 0, "CALL $+5 / POP base"
	slot S_TMP, V_REL, c_callee3 - ccode, c_callee3 - ccode, "CALL [mem] pointer"
	slot S_LOOP, 0, 5, 5, "LOOP iterations"
	slot S_CPUID, V_VAR, k_vendor, k_vendor, "CPUID 0 EBX"
	slot S_FLAGS, 0, 0x8d7, 0x8d7, "PUSHFD after POPFD"
	slot S_CR0, V_VAR | V_R0, k_cr0, 0, "MOV EAX, CR0"
	slot S_CR3, V_VAR | V_R0, cur_cr3, 0, "MOV EAX, CR3"
	slot S_STRADDLE, V_VAR, exp_straddle, exp_straddle, "MOV imm32 across the previous page"
	slot S_DONE, 0, 0xd0d0d0d0, 0xd0d0d0d0, "reached the end"


	guest_start
	call lib_install_idt
	call rings_setup
	gate VEC_INT, int_handler, 0xee		; interrupt gate, DPL 3
	mov dword [lib_exc_hook], alias_exc
	xor eax, eax
	cpuid
	mov [k_vendor], ebx
	call build

; ---------------------------------------------------------------- groups
group "ring0_dir0"
	run_list list_r0_dir0
group "ring3_dir0"
	run_list list_r3_dir0
group "ring0_dir1"
	run_list list_r0_dir1
group "ring3_dir1"
	run_list list_r3_dir1
group "mixed"
	run_list list_mixed
group "smc"
	call smc_rounds
	guest_finish

section .rodata
list_r0_dir0:	db 0, 0, 1, 0, 2, 0, 0xff
list_r3_dir0:	db 1, 3, 2, 3, 0xff
list_r0_dir1:	db 3, 0, 4, 0, 5, 0, 0xff
list_r3_dir1:	db 3, 3, 4, 3, 5, 3, 0xff
list_mixed:	db 0, 0, 3, 3, 1, 0, 5, 3, 2, 3, 4, 0, 1, 3, 5, 0, 4, 3, 3, 0, 2, 0, 0xff

align 4
alias_tab:
	dd dir0, 0x40001000, F_NA, F_NA, 0
	dd dir0, 0x403ff000, F_NB, F_NA, PG_US
	dd dir0, 0x9abcd000, F_NA, F_NB, PG_US
	dd dir1, 0x40201000, F_NB, F_NB, PG_US
	dd dir1, 0xbfffe000, F_NA, F_NA, PG_US
	dd dir1, 0x403ff000, F_NA, F_NB, PG_US

section .text

; build: the frames, both directories, paging on (CR3 = dir0).
build:
	pushad
	cld
	mov esi, ccode
	mov edi, F_CODE
	mov ecx, 4096
	rep movsb
	mov esi, ncode
	mov edi, F_NA
	mov ecx, 4096
	rep movsb
	mov esi, ncode
	mov edi, F_NB
	mov ecx, 4096
	rep movsb
	mov byte [F_NA + 0xfff], NA_BYTE
	mov byte [F_NB + 0xfff], NB_BYTE
	call pg_alloc
	mov [dir0], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	pg_map_page L_RES, F_RES | PG_P | PG_RW | PG_US
	pg_map_page L_USTK, F_USTK | PG_P | PG_RW | PG_US
	call pg_alloc
	mov [dir1], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	pg_map_page L_RES, F_RES | PG_P | PG_RW | PG_US
	pg_map_page L_USTK, F_USTK | PG_P | PG_RW | PG_US
	; the aliases and their neighbours
	mov ebx, alias_tab
	mov ecx, N_ALIASES
.alias:
	mov edi, [ebx + AL_DIR]
	mov edi, [edi]
	mov edx, [ebx + AL_PTE]
	or edx, PG_P
	mov esi, [ebx + AL_BASE]
	mov eax, F_CODE
	or eax, edx
	call pg_map
	sub esi, 0x1000
	mov eax, [ebx + AL_PREV]
	or eax, edx
	call pg_map
	add esi, 0x2000
	mov eax, [ebx + AL_NEXT]
	or eax, edx
	call pg_map
	add ebx, AL_SIZE
	loop .alias
	mov eax, [dir0]
	call pg_enable
	popad
	ret

; run_rounds: ESI = the list of (alias, ring) pairs; ROUNDS times.
run_rounds:
	pushad
	mov dword [cur_round], 1
.round:
	push esi
.next:
	movzx eax, byte [esi]
	cmp al, 0xff
	je .end
	movzx edx, byte [esi + 1]
	call run_one
	add esi, 2
	jmp .next
.end:
	pop esi
	inc dword [cur_round]
	cmp dword [cur_round], ROUNDS
	jbe .round
	popad
	ret

; run_one: EAX = alias, EDX = ring (0 or 3). Runs the code once at that
; alias and checks every slot.
run_one:
	pushad
	mov [cur_alias], eax
	mov [cur_ring], edx
	imul ebx, eax, AL_SIZE
	add ebx, alias_tab
	mov eax, [ebx + AL_BASE]
	mov [cur_base], eax
	mov eax, [ebx + AL_PREV]
	movzx eax, byte [eax + 0xfff]
	or eax, STRADDLE_HI
	mov [exp_straddle], eax
	mov eax, [ebx + AL_DIR]
	mov eax, [eax]
	mov [cur_cr3], eax
	mov cr3, eax
	mov eax, cr0
	mov [k_cr0], eax
	cld
	mov edi, F_RES
	mov ecx, 1024
	xor eax, eax
	rep stosd
	cmp dword [cur_ring], 0
	jne .user
	mov eax, [cur_base]
	add eax, c_main - ccode
	call eax
	jmp .verify
.user:
	mov eax, [cur_base]
	add eax, c_user - ccode
	mov edx, L_USTK_TOP
	xor ecx, ecx
	call rings_run_user_at
	mov eax, [rings_exit_frame]
	mov [F_RES + S_EXIT_EIP * 4], eax
.verify:
	call verify
	popad
	ret

; verify: every vtab slot against its value for the alias just run.
verify:
	pushad
	mov esi, vtab
.next:
	cmp esi, vtab_end
	jae .done
	mov eax, [esi + 4]		; flags
	cmp dword [cur_ring], 0
	jne .r3
	mov edx, [esi + 8]
	test eax, V_R3
	jz .value
	xor edx, edx
	jmp .have
.r3:
	mov edx, [esi + 12]
	test eax, V_R0
	jz .value
	xor edx, edx
	jmp .have
.value:
	test eax, V_VAR
	jz .novar
	mov edx, [edx]
.novar:
	test eax, V_REL
	jz .have
	add edx, [cur_base]
.have:
	mov ebx, [esi]			; slot
	mov ecx, [F_RES + ebx * 4]
	inc dword [lib_checks]
	cmp ecx, edx
	je .pass
	call print_ctx
	push edx			; expected
	push ecx			; got
	add ebx, 1000
	push ebx			; number: 1000 + slot
	push dword [esi + 16]		; name
	call lib_check_failed
	add esp, 16
.pass:
	add esi, VT_SIZE
	jmp .next
.done:
	popad
	ret

; smc_rounds: ROUNDS * 2 times, rewrite the immediate of c_smc through
; the identity map (the frame's own physical address), then call c_smc
; at every alias at ring 0: each must return the value just written.
smc_rounds:
	pushad
	mov dword [cur_round], 1
.round:
	mov eax, [cur_round]
	or eax, 0x5eed0000
	mov [exp_smc], eax
	mov [F_CODE + c_smc_imm - ccode], eax
	xor ebp, ebp
.alias:
	mov [cur_alias], ebp
	mov dword [cur_ring], 0
	imul ebx, ebp, AL_SIZE
	add ebx, alias_tab
	mov eax, [ebx + AL_BASE]
	mov [cur_base], eax
	mov eax, [ebx + AL_DIR]
	mov eax, [eax]
	mov [cur_cr3], eax
	mov cr3, eax
	mov eax, [cur_base]
	add eax, c_smc - ccode
	call eax
	inc dword [lib_checks]
	cmp eax, [exp_smc]
	je .pass
	call print_ctx
	push dword [exp_smc]		; expected
	push eax			; got
	push 999
	push s_smc
	call lib_check_failed
	add esp, 16
.pass:
	inc ebp
	cmp ebp, N_ALIASES
	jb .alias
	inc dword [cur_round]
	cmp dword [cur_round], ROUNDS * 2
	jbe .round
	mov eax, [dir0]
	mov cr3, eax
	popad
	ret

; print_ctx: "  in alias aN (base B, dirD), ring R, round K".
print_ctx:
	pushad
	mov esi, s_ctx_alias
	call lib_puts
	mov eax, [cur_alias]
	call lib_putdec
	mov esi, s_ctx_base
	call lib_puts
	mov eax, [cur_base]
	call lib_puthex
	mov esi, s_ctx_cr3
	call lib_puts
	mov eax, [cur_cr3]
	call lib_puthex
	mov esi, s_ctx_ring
	call lib_puts
	mov eax, [cur_ring]
	call lib_putdec
	mov esi, s_ctx_round
	call lib_puts
	mov eax, [cur_round]
	call lib_putdec
	call lib_newline
	popad
	ret

; A routine in the kernel, called (through memory) from the frame at ring 0.
kfn:
%assign here_flags V_R0
	callee_ret "kernel routine's return address", c_kfn_ret
%assign here_flags 0
	ret

; The exception hook: [esp] vector, error, EIP, CS, EFLAGS. An expected
; fault (EDI = XTAG | vector) is recorded in its slots (count, EIP,
; error, CR2 for #PF) and resumed at the alias base + ESI; anything else
; fails the guest.
alias_exc:
	push eax
	push ebx
	mov eax, [esp + 8]
	lea ebx, [eax + XTAG]
	cmp ebx, edi
	jne .unexpected
	mov ebx, R(S_UD_N)
	cmp eax, 6
	je .rec
	mov ebx, R(S_GP_N)
	cmp eax, 13
	je .rec
	mov ebx, R(S_PF_N)
	cmp eax, 14
	jne .unexpected
	mov eax, cr2
	mov [ebx + 12], eax
.rec:
	inc dword [ebx]
	mov eax, [esp + 16]
	mov [ebx + 4], eax
	mov eax, [esp + 12]
	mov [ebx + 8], eax
	mov eax, [cur_base]
	add eax, esi
	mov [esp + 16], eax
	pop ebx
	pop eax
	add esp, 8
	iretd
.unexpected:
	pop ebx
	pop eax
	call print_ctx
	jmp lib_catch_common.report

; INT VEC_INT: record the count, the pushed EIP and CS.
int_handler:
	push eax
	inc dword [R(S_INT_N)]
	mov eax, [esp + 4]
	mov [R(S_INT_EIP)], eax
	mov eax, [esp + 8]
	and eax, 0xffff
	mov [R(S_INT_CS)], eax
	pop eax
	iretd

section .rodata
s_smc:		db "c_smc returns the immediate last written", 0
s_ctx_alias:	db "  in alias a", 0
s_ctx_base:	db " (base ", 0
s_ctx_cr3:	db ", CR3 ", 0
s_ctx_ring:	db "), ring ", 0
s_ctx_round:	db ", round ", 0

section .data
align 4
kfn_ptr:	dd kfn
dir0:		dd 0
dir1:		dd 0
cur_alias:	dd 0
cur_ring:	dd 0
cur_round:	dd 0
cur_base:	dd 0
cur_cr3:	dd 0
k_cr0:		dd 0
k_vendor:	dd 0
exp_straddle:	dd 0
exp_smc:	dd 0

; ------------------------------------------------------------ the frame
; ccode: exactly one page, copied to F_CODE. Position-independent: only
; relative transfers inside it, rel32 transfers to the neighbour pages
; (call_next, jmp_prev), absolute data addresses (RES) and EBP = its base
; once computed.
section .text
align 16
ccode:
	; the last three immediate bytes of the MOV that starts at the end
	; of the previous page (n_pre)
	db (STRADDLE_HI >> 8) & 0xff, (STRADDLE_HI >> 16) & 0xff, STRADDLE_HI >> 24
c_straddle_cont:
	mov [R(S_STRADDLE)], eax
	here "after the MOV across the previous page"
	jmp c_after_straddle

; ring 3 enters here
c_user:
	call c_main
%assign here_flags V_R3
	here "ring 3: back from CALL rel32 (RET)"
%assign here_flags 0
	int RING_VEC_EXIT
c_user_exit:
	int3

; ring 0 calls here
c_main:
	pushfd
	pushad
	call .b
.b:	pop ebp
	sub ebp, .b - ccode
	mov [R(S_BASE)], ebp

	; CALL rel32 within the frame
	call c_callee1
c_ret1:
	here "after CALL rel32"
	; CALL through a register
	lea eax, [ebp + c_callee2 - ccode]
	call eax
c_ret2:
	here "after CALL reg"
	; CALL through memory
	lea eax, [ebp + c_callee3 - ccode]
	mov [R(S_TMP)], eax
	call [R(S_TMP)]
c_ret3:
	here "after CALL [mem]"

	; JMP rel8, rel32
	jmp short .j1
	int3
.j1:	here "JMP rel8 target"
	jmp near .j2
	times 140 int3
.j2:	here "JMP rel32 target"

	; Jcc rel8 / rel32, taken and not taken
	xor eax, eax			; ZF = 1
	jz short .t1
.nt1:	int3
.t1:	here "Jcc rel8 taken"
	jnz short .nt1
	here "Jcc rel8 not taken"
	jz near .t2
	times 140 int3
.t2:	here "Jcc rel32 taken"
	jnz near c_bad
	here "Jcc rel32 not taken"

	; LOOP, JECXZ
	mov ecx, 5
	xor edx, edx
.loop:	inc edx
	loop .loop
	mov [R(S_LOOP)], edx
	here "after LOOP"
	jecxz .z1
.nz1:	int3
.z1:	here "JECXZ taken"
	inc ecx
	jecxz .nz1
	here "JECXZ not taken"

	; JMP reg to a block at mid-page
	lea eax, [ebp + c_mid - ccode]
	jmp eax
c_after_mid:
	here "back from the mid-page block"

	; CALL rel32 out of the frame (the next page)
	call_next n_fn
c_next_ret:
	here "after CALL rel32 to the next page"

	; the block that ends at the page end, into the next page and back
	jmp c_tail
c_after_tail:
	here "back from the next page"

	; the MOV across the previous page and the frame
	jmp_prev n_pre
c_after_straddle:

	; ring 0 only: the kernel routine, CR0, CR3
	mov eax, cs
	test al, 3
	jnz c_r3_part
%assign here_flags V_R0
	call [kfn_ptr]
c_kfn_ret:
	here "ring 0: after CALL [mem] to the kernel"
	mov eax, cr0
	mov [R(S_CR0)], eax
	here "ring 0: after MOV EAX, CR0"
	mov eax, cr3
	mov [R(S_CR3)], eax
	here "ring 0: after MOV EAX, CR3"
	jmp c_common
%assign here_flags V_R3
c_r3_part:
	expect_fault 13, c_gp_resume
c_gp:	cli
	int3
c_gp_resume:
	xor edi, edi
	here "ring 3: after CLI #GP"
%assign here_flags 0
c_common:
	here "common part again"

	; CPUID, POPFD/PUSHFD
	xor eax, eax
	cpuid
	mov [R(S_CPUID)], ebx
	here "after CPUID"
	push dword 0x8d7
	popfd
	pushfd
	pop eax
	mov [R(S_FLAGS)], eax
	here "after PUSHFD"
	push dword 2
	popfd

	; faults
	expect_fault 6, c_ud_resume
c_ud:	ud2
	int3
c_ud_resume:
	xor edi, edi
	here "after #UD"
	expect_fault 14, c_pf_resume
c_pf:	mov eax, [L_UNMAPPED]
	int3
c_pf_resume:
	xor edi, edi
	here "after #PF"

	; INT n
	int VEC_INT
c_int_ret:
	here "after INT"

	mov dword [R(S_DONE)], 0xd0d0d0d0
	popad
	popfd
	ret

c_bad:
	int3				; unexpected #BP: reported with its EIP

c_callee1:
	callee_ret "CALL rel32 return address", c_ret1
	here "CALL rel32 callee"
	ret
c_callee2:
	callee_ret "CALL reg return address", c_ret2
	here "CALL reg callee"
	ret
c_callee3:
	callee_ret "CALL [mem] return address", c_ret3
	here "CALL [mem] callee"
	ret

; called by smc_rounds at every alias; the kernel rewrites the immediate
c_smc:
	db 0xb8				; MOV EAX, imm32
c_smc_imm:
	dd 0
	ret

	times 0xc00 - ($ - ccode) int3
c_mid:					; offset 0xc00
	here "block at mid-page (JMP reg)"
	jmp c_after_mid

	times 0x1000 - 11 - ($ - ccode) int3
c_tail:					; its last byte is the page's last
	here "block ending at the page end"
c_tail_end:
	times (c_tail_end - ccode) - 0x1000 db 0	; assert: at the page end
	times 0x1000 - (c_tail_end - ccode) db 0

; ------------------------------------------------------ the neighbours
; ncode: exactly one page, copied to F_NA and F_NB (they differ in the
; last byte). At base + 0x1000: n_fall (offset 0), n_fn; at base - 0x1000:
; n_pre, whose MOV ends in the frame.
align 16
ncode:
%define HBASE ncode
%define HDELTA 0x1000
n_fall:
	here "fall-through into the next page"
	jmp_frame_from_next c_after_tail
n_fn:
	callee_ret "CALL rel32 to the next page: return address", c_next_ret
	here "routine in the next page"
	ret

	times 0x1000 - 16 - ($ - ncode) int3
%define HDELTA -0x1000
n_pre:					; offset 0xff0
	here "previous page before the MOV"
	nop
	nop
	nop
	db 0xb8				; MOV EAX, imm32: one byte here (NA_BYTE
	db 0				; or NB_BYTE), three in the frame
n_end:
	times (n_end - ncode) - 0x1000 db 0		; assert: one page
	times 0x1000 - (n_end - ncode) db 0
%define HBASE ccode
%define HDELTA 0

section .rodata.vtab
vtab_end:
