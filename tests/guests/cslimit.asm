; Code fetches against CS's limit in protected mode (issue 44, item 5):
; near branches whose target lies past the limit and code that runs on
; past it, in code segments of limit 0x7FFF. A blob is copied so that it
; ends at the limit (its last byte at 0x7FFF); at 0x8000, past it, a UD2
; makes a branch or run-on that was let through a #UD instead of the
; #GP(0) each case wants. Every case ends in a fault: the handler records
; it (vector, error, EIP, CS, the ESP it interrupted) and resumes flat
; ring-0 code.
;
; Groups, each case with the fault's EIP, CS and ESP checked:
;  branches       (byte-granular limit, CPL 0) JMP/Jcc/CALL rel32, JMP
;                 and CALL through a register and memory, RET and RET imm16
;                 (ESP as before the RET: nothing popped), LOOP on ECX
;                 and on CX (the count as before it), JECXZ, an o16 JMP through CX: #GP(0) at the
;                 branch, ESP unchanged (at CPL 3, where the fault's frame
;                 goes elsewhere, nothing written below it either); a Jcc
;                 not taken to a target past the limit goes on
;  branches_page  the same in a page-granular segment (G, limit 7: 0x7FFF)
;  branches_conforming  a conforming code segment
;  branches_cpl3  a DPL-3 segment at CPL 3
;  runon          four INCs up to the limit run, the fetch at 0x8000 is
;                 #GP(0) there (all four segments)
;  straddle       a MOV EAX, imm32 whose last byte is past the limit: #GP(0)
;                 at it, EAX unchanged, the INC before it done
;  wrap4g         the straddle's MOV across offset 4 GiB in a 4 GiB code
;                 segment (base 0x10000, so offset 0xFFFFFFFF is linear
;                 0xFFFF and the bytes past it are RAM): #GP(0), not a
;                 fetch across the wrap; code ending at 0xFFFFFFFF goes
;                 on at offset 0
;  key            the same code at the same EIP under limits 0x7FFF and
;                 0x8FFF and a flat CS, in turn: each takes its own fault
;                 (the limit is in the translation's key)
%define GUEST_NAME "cslimit"
%define EXC_RECORD_OWN
%include "lib.inc"
%include "exc_record.inc"
%include "rings.inc"

LIMIT		equ 0x7fff
PAST		equ LIMIT + 1
SEL_CLB		equ 0x30		; byte-granular, limit 0x7fff
SEL_CLP		equ 0x38		; page-granular, limit 7 (0x7fff)
SEL_CLC		equ 0x60		; conforming, limit 0x7fff
SEL_CL2		equ 0x68		; limit 0x8fff
SEL_CLU		equ 0x70 | 3		; DPL 3, limit 0x7fff
SEL_WRAP	equ 0x78		; base 0x10000, limit 4 GiB
WRAP_BASE	equ 0x10000
CL_AT		equ PAST - (cl_blob_end - cl_blob)	; where the blob runs
%define CA(x) (CL_AT + (x) - cl_blob)
ST_AT		equ PAST + 1 - (st_blob_end - st_blob)	; the straddle blob

; A rel32 branch (its opcode bytes given) to an absolute target, from
; the blob's run address.
%macro rel32 2+
	db %2
	dd (%1) - CA($ + 4)
%endmacro
%macro rel8 2
	db %2, ((%1) - CA($ + 2)) & 0xff
%endmacro

guest_start
	call lib_install_idt
	call rings_setup
	mov dword [lib_exc_hook], cl_hook
	mov eax, SEL_CLB
	xor ebx, ebx
	mov ecx, LIMIT
	mov edx, 0x049a				; D; present code, readable
	call lib_set_desc
	mov eax, SEL_CLP
	mov ecx, LIMIT >> 12
	mov edx, 0x0c9a				; G, D
	call lib_set_desc
	mov eax, SEL_CLC
	mov ecx, LIMIT
	mov edx, 0x049e				; conforming, readable
	call lib_set_desc
	mov eax, SEL_CL2
	mov ecx, 0x8fff
	mov edx, 0x049a
	call lib_set_desc
	mov eax, SEL_CLU
	mov ecx, LIMIT
	mov edx, 0x04fa				; DPL 3
	call lib_set_desc
	mov eax, SEL_WRAP
	mov ebx, WRAP_BASE
	mov ecx, 0xfffff
	mov edx, 0x0c9a				; G, D
	call lib_set_desc
	call cl_copy

; canary SEL: at CPL 3 (the fault's frame is on the ring-0 stack), the
; dword below the case's ESP is as cl_run left it: nothing pushed.
%macro canary 1
%if (%1) & 3
	check dword [cl_stack_top - 4], 0x5a5a5a5a
%endif
%endmacro

; cases SEL: every branch case in segment SEL
%macro cases 1
	mov edx, %1
	mov eax, CA(cl_blob.jmp_rel)
	call cl_expect
	check dword [x_eip], CA(cl_blob.jmp_rel)
	mov eax, CA(cl_blob.jcc)
	call cl_expect
	check dword [x_eip], CA(cl_blob.jcc_taken)
	mov eax, CA(cl_blob.call_rel)
	call cl_expect
	check dword [x_eip], CA(cl_blob.call_rel)
	canary %1
	mov eax, CA(cl_blob.jmp_reg)
	call cl_expect
	check dword [x_eip], CA(cl_blob.jmp_reg_at)
	mov eax, CA(cl_blob.jmp_mem)
	call cl_expect
	check dword [x_eip], CA(cl_blob.jmp_mem)
	mov eax, CA(cl_blob.call_reg)
	call cl_expect
	check dword [x_eip], CA(cl_blob.call_reg_at)
	canary %1
	mov eax, CA(cl_blob.call_mem)
	call cl_expect
	check dword [x_eip], CA(cl_blob.call_mem)
	canary %1
	mov eax, CA(cl_blob.o16_jmp)
	call cl_expect
	check dword [x_eip], CA(cl_blob.o16_jmp_at)
	mov eax, CA(cl_blob.ret)
	mov dword [cl_want_esp], cl_stack_top - 4
	call cl_expect
	check dword [x_eip], CA(cl_blob.ret_at)
	mov eax, CA(cl_blob.ret_imm)
	mov dword [cl_want_esp], cl_stack_top - 4
	call cl_expect
	check dword [x_eip], CA(cl_blob.ret_imm_at)
	mov eax, CA(cl_blob.loop)
	call cl_expect
	check dword [x_eip], CA(cl_blob.loop_at)
	check ecx, 3
	mov eax, CA(cl_blob.loopw)
	call cl_expect
	check dword [x_eip], CA(cl_blob.loopw_at)
	check ecx, 0x10003
	mov eax, CA(cl_blob.jecxz)
	call cl_expect
	check dword [x_eip], CA(cl_blob.jecxz_at)
%endmacro

group "branches"
	cases SEL_CLB
group "branches_page"
	cases SEL_CLP
group "branches_conforming"
	cases SEL_CLC
group "branches_cpl3"
	cases SEL_CLU

group "runon"
%macro runon 1
	mov edx, %1
	mov eax, CA(cl_blob.runon)
	call cl_expect
	check dword [x_eip], PAST
	check ebx, 4
%endmacro
	runon SEL_CLB
	runon SEL_CLP
	runon SEL_CLC
	runon SEL_CLU

group "straddle"
	mov esi, st_blob
	mov edi, ST_AT
	mov ecx, st_blob_end - st_blob
	rep movsb
%macro straddle 1
	mov edx, %1
	mov eax, ST_AT
	call cl_expect
	check dword [x_eip], ST_AT + st_blob.mov - st_blob
	check ebx, 1
	check eax, 0x600d
%endmacro
	straddle SEL_CLB
	straddle SEL_CLP
	straddle SEL_CLC
	straddle SEL_CLU
	call cl_copy

; The blob ends one byte past offset 0xFFFFFFFF: at linear WRAP_BASE - 13.
group "wrap4g"
WRAP_OFF	equ 0x100000001 - (st_blob_end - st_blob)
	mov esi, st_blob
	mov edi, (WRAP_BASE + WRAP_OFF) & 0xffffffff
	mov ecx, st_blob_end - st_blob
	rep movsb
	mov edx, SEL_WRAP
	mov eax, WRAP_OFF
	call cl_expect
	check dword [x_eip], WRAP_OFF + st_blob.mov - st_blob
	check ebx, 1
	check eax, 0x600d
	; code that ends exactly at offset 0xFFFFFFFF runs on at offset 0
	; (EIP wraps; linear WRAP_BASE), here a UD2
	mov dword [WRAP_BASE - 6], 0x4343db31	; xor ebx, ebx; inc ebx x2
	mov word [WRAP_BASE - 2], 0x4343	; inc ebx x2
	mov word [WRAP_BASE], 0x0b0f		; ud2
	mov edx, SEL_WRAP
	mov eax, -6
	call cl_run
	check dword [x_count], 1
	check dword [x_vec], 6
	check dword [x_eip], 0
	check dword [x_cs], SEL_WRAP
	check ebx, 4

; The same blocks under another limit, and flat: 0x8FFF lets the JMP and
; the run-on reach the UD2 at 0x8000, as SEL_CODE does.
group "key"
	mov esi, 3
.again:
	mov edx, SEL_CLB
	mov eax, CA(cl_blob.jmp_rel)
	call cl_expect
	check dword [x_eip], CA(cl_blob.jmp_rel)
	mov edx, SEL_CL2
	mov eax, CA(cl_blob.jmp_rel)
	call cl_run
	check dword [x_vec], 6
	check dword [x_eip], PAST
	mov edx, SEL_CODE
	mov eax, CA(cl_blob.jmp_rel)
	call cl_run
	check dword [x_vec], 6
	check dword [x_eip], PAST
	mov edx, SEL_CL2
	mov eax, CA(cl_blob.runon)
	call cl_run
	check dword [x_vec], 6
	check ebx, 4
	mov edx, SEL_CLB
	mov eax, CA(cl_blob.runon)
	call cl_expect
	check dword [x_eip], PAST
	dec esi
	jnz .again
	guest_finish

; cl_copy: the blob to CL_AT, ending at the limit, and a UD2 past it.
cl_copy:
	mov esi, cl_blob
	mov edi, CL_AT
	mov ecx, cl_blob_end - cl_blob
	cld
	rep movsb
	mov word [PAST], 0x0b0f
	ret

; cl_expect: cl_run, then one #GP(0) in CS EDX with ESP at cl_want_esp
; (cl_stack_top unless set; reset after).
cl_expect:
	push edx
	call cl_run
	pop edx
	check dword [x_count], 1
	check dword [x_vec], 13
	check dword [x_err], 0
	check dword [x_cs], edx
	check dword [x_esp], dword [cl_want_esp]
	mov dword [cl_want_esp], cl_stack_top
	ret

; cl_run: run the blob's case at EAX in code segment EDX (RPL 3: at CPL 3,
; through IRETD) on cl_stack, a canary below its top, until it faults;
; back with EAX, EBX, ECX as the fault left them.
cl_run:
	mov [cl_kesp], esp
	mov [cl_far], eax
	mov [cl_far + 4], dx
	mov dword [cl_stack_top - 4], 0x5a5a5a5a
	mov dword [x_count], 0
	mov dword [x_vec], -1
	mov dword [resume_eip], .back
	test dl, 3
	jnz .user
	mov esp, cl_stack_top
	jmp far [cl_far]
.user:
	push dword RING_SEL_UDATA
	push dword cl_stack_top
	push dword 2
	push edx
	push eax
	mov ax, RING_SEL_UDATA
	mov ds, ax
	mov es, ax
	iretd
.back:
	mov esp, [cl_kesp]
	push eax
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	pop eax
	ret

; The exception hook: records the fault and the ESP it interrupted, then
; resumes flat ring-0 code at resume_eip (an IRETD to CPL 0 pops no ESP:
; the resumed code takes its own).
cl_hook:
	push eax
	x_record_frame
	inc dword [x_count]
	lea eax, [esp + 24]			; same level: the frame's end
	test byte [esp + 16], 3
	jz .same
	mov eax, [esp + 24]			; from CPL 3: the frame's ESP
.same:
	mov [x_esp], eax
	mov eax, [resume_eip]
	mov [esp + 12], eax
	mov dword [esp + 16], SEL_CODE
	pop eax
	add esp, 8
	iretd

section .data
cl_target:	dd PAST
cl_want_esp:	dd cl_stack_top
x_esp:		dd 0
cl_kesp:	dd 0
cl_far:		dd 0, 0

section .bss
alignb 16
		resb 4096
cl_stack_top:

section .text
; cl_blob: the cases, run at CL_AT (ending at the limit); each ends in a
; fault, a UD2 after its branch if the branch went nowhere.
cl_blob:
.jmp_rel:
	rel32 PAST, 0xe9
	ud2
.jcc:
	xor eax, eax
	rel32 PAST, 0x0f, 0x85			; jnz: not taken, goes on
.jcc_taken:
	rel32 PAST, 0x0f, 0x84			; jz
	ud2
.call_rel:
	rel32 PAST, 0xe8
	ud2
.jmp_reg:
	mov ecx, PAST
.jmp_reg_at:
	jmp ecx
	ud2
.jmp_mem:
	jmp [cl_target]
	ud2
.call_reg:
	mov ecx, PAST
.call_reg_at:
	call ecx
	ud2
.call_mem:
	call [cl_target]
	ud2
.o16_jmp:
	mov ecx, 0xffff0000 | PAST
.o16_jmp_at:
	o16 jmp cx
	ud2
.ret:
	push dword PAST
.ret_at:
	ret
	ud2
.ret_imm:
	push dword PAST
.ret_imm_at:
	ret 8
	ud2
.loop:
	mov ecx, 3
.loop_at:
	rel8 PAST, 0xe2
	ud2
.loopw:
	mov ecx, 0x10003
.loopw_at:
	db 0x67					; LOOP on CX
	rel8 PAST, 0xe2
	ud2
.jecxz:
	xor ecx, ecx
.jecxz_at:
	rel8 PAST, 0xe3
	ud2
.runon:
	xor ebx, ebx
	jmp short .inc4
	ud2
.inc4:
	inc ebx
	inc ebx
	inc ebx
	inc ebx
cl_blob_end:

; st_blob: run at ST_AT, its MOV's last byte at PAST.
st_blob:
	xor ebx, ebx
	mov eax, 0x600d
	inc ebx
.mov:
	mov eax, 0x12345678
st_blob_end:
