; Real-address mode and 16-bit code (issue 43, item 1): a Multiboot guest
; that leaves 32-bit protected mode for 16-bit protected mode and then for
; real mode, runs its checks there, makes the round trip through
; protected mode again for unreal mode, and comes back to 32-bit
; protected mode to exit. It passes under QEMU (guest_realmode_qemu) as
; under btvm.
;
; The 16-bit code is one blob (rm_start..rm_end) copied to RM_BASE and
; run with CS = RM_SEG (or a selector with that base), so its offsets are
; R(label) = label - rm_start. Its checks keep their counts in the blob,
; through GS (RM_SEG in real mode, a data selector with the blob's base
; in 16-bit protected mode), and print on COM1 from real mode with OUT,
; in lib.inc's format ("PASS realmode.group", "FAIL realmode.group #N
; (text): got G expected E"); back in 32-bit mode the counts join lib.inc's.
;
; Groups (16-bit protected mode, then real mode):
;	pm16        CR0.PE, CS with a base, SP wrapping with SS.B clear, a
;	            32-bit code segment with a non-zero base (every fetch at
;	            CS.base + EIP) running on the 16-bit stack
;	switch      CR0.PE clear, CS, the same code under two CS values
;	addressing  DS/ES/FS/GS/SS bases, 16-bit wrap of [BX+SI], 32-bit
;	            addresses, 1 MiB + 16 through 0xFFFF:0x10, XLAT, LDS/LES,
;	            PUSH/POP Sreg
;	sizes       16- and 32-bit operands and addresses, their prefixes,
;	            string instructions with (E)CX/(E)SI/(E)DI, LOOP and JCXZ
;	stack       SP wrap, ESP's upper half kept, near CALL/RET of both
;	            sizes, indirect CALL/JMP, PUSHA/POPA, ENTER/LEAVE, PUSHF/POPF
;	far         far CALL/JMP/RET of both sizes, direct and through memory,
;	            RETF n
;	farlimit    far JMP/CALL/RET/IRET to an IP past CS's limit: #GP(0)
;	            at the instruction (not under QEMU 7.2, which does not check)
;	ipwrap      IP wrapping at 64 KiB after a short jump (not under QEMU 7.2)
;	rmlimit     data and stack accesses past a 64 KiB limit: #GP through
;	            the IVT's entry 13, #SS through entry 12, at the
;	            instruction, nothing written; a byte at 0xFFFF and a
;	            dword ending there run (not under QEMU 7.2, which checks
;	            no real-mode limit: the -DQEMU_TCG build leaves it out)
;	cslimit     code fetched past CS's 64 KiB limit: four INCs up to 0xFFFF
;	            run and the fetch at 0x10000 is #GP (INT 13, IP 0, CS
;	            kept); a MOV AX, imm16 across 0xFFFF is #GP at it; o32 JMP,
;	            Jcc and CALL rel32, JMP EAX and o32 RET to 0x1FFF0 are #GP
;	            at the branch, SP unchanged (not under QEMU 7.2, which goes
;	            on at 0x10000 and aborts on the MOV)
;	int         INT n through the IVT and IRET (frame, IF/TF cleared,
;	            a handler in another segment), INT3, INTO, #DE and #UD
;	timer       the PIT's IRQ 0 taken in real mode (HLT with IF set)
;	unreal      real -> protected -> real with 4 GiB data limits kept;
;	            32-bit addresses above 1 MiB, a word at 0xFFFF (no fault)
;	pm32_after  (32-bit) what unreal mode wrote above 1 MiB

%define GUEST_NAME "realmode"
%include "lib.inc"

RM_BASE		equ 0x20000		; where the blob runs
RM_SEG		equ RM_BASE >> 4
RM_ALIAS	equ RM_SEG - 1		; the same code at offsets + 16
DATA_SEG	equ 0x3000		; linear 0x30000: the addressing tests' data
STACK_SEG	equ 0x4000		; linear 0x40000: the real-mode stack
STACK_TOP	equ 0xfff0

SEL_CODE16	equ 0x28		; 16-bit code, base RM_BASE, limit 64 KiB
SEL_RMDATA	equ 0x30		; 16-bit data, base RM_BASE
SEL_STACK16	equ 0x38		; 16-bit stack (B clear), base STACK_SEG << 4
SEL_DATA16	equ 0x40		; 16-bit data, base 0, limit 64 KiB
SEL_BIG		equ 0x48		; data, base 0, limit 4 GiB
SEL_CODE32B	equ 0x50		; 32-bit code, base RM_BASE, limit 4 GiB

%define R(x) ((x) - rm_start)

; The IP-wrap test's segment: the instruction at rm_wrap_entry runs at
; offset 0xFFF0 of it.
%define WRAP_SEG ((RM_BASE + R(rm_wrap_entry) - 0xfff0) >> 4)
RUNON_SEG	equ 0x5000		; cslimit: its 0xFFFF at linear 0x5FFFF

%assign r_check_no 0

; rcheck value, expected: a 32-bit comparison in 16-bit code, as lib.inc's
; check. value: a 32-bit register other than ESP/EBP, or "dword [mem]";
; expected: an immediate or a 32-bit register. Preserves registers and
; flags; needs GS on the blob and some stack.
%macro rcheck 2
	jmp %%go
%defstr r_text_got %1
%defstr r_text_exp %2
%%text:	db r_text_got, " == ", r_text_exp, 0
%%go:
	pushfd
	push eax
	push ebp
	push dword %2
	mov eax, %1
	mov bp, sp
	cmp eax, [bp]
	je %%ok
	pushad
	mov si, R(%%text)
	mov ecx, r_check_no
	mov edx, [bp]
	call r_check_failed
	popad
%%ok:
	inc dword [gs:R(r_checks)]
	add sp, 4
	pop ebp
	pop eax
	popfd
%assign r_check_no r_check_no+1
%endmacro

; rcheckw reg16, expected: the register zero-extended, compared.
%macro rcheckw 2
	push ecx
	movzx ecx, %1
	rcheck ecx, %2
	pop ecx
%endmacro

; rgroup "name": closes the group before and opens this one.
%macro rgroup 1
	jmp %%go
%%name:	db %1, 0
%%go:
	pushfd
	push bx
	mov bx, R(%%name)
	call r_group
	pop bx
	popfd
%endmacro

guest_start
	call lib_install_idt
	call lib_pic_init
	cld
	mov esi, rm_start
	mov edi, RM_BASE
	mov ecx, rm_end - rm_start
	rep movsb

	mov eax, SEL_CODE16
	mov ebx, RM_BASE
	mov ecx, 0xffff
	mov dx, 0x009a
	call lib_set_desc
	mov eax, SEL_RMDATA
	mov dx, 0x0092
	call lib_set_desc
	mov eax, SEL_STACK16
	mov ebx, STACK_SEG << 4
	call lib_set_desc
	mov eax, SEL_DATA16
	xor ebx, ebx
	call lib_set_desc
	mov eax, SEL_BIG
	mov ecx, 0xfffff
	mov dx, 0x0892			; G: 4 GiB
	call lib_set_desc
	mov eax, SEL_CODE32B
	mov ebx, RM_BASE
	mov dx, 0x0c9a			; G, D: 32-bit code
	call lib_set_desc

	mov [pm_esp], esp
	jmp SEL_CODE16:R(rm_pm16)

; Back from real mode (rm_exit), 32-bit and flat again.
pm_back:
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov ax, SEL_FS
	mov fs, ax
	mov ax, SEL_GS
	mov gs, ax
	mov esp, [pm_esp]
	lidt [lib_idtr]
	mov eax, [RM_BASE + R(r_checks)]
	add [lib_checks], eax
	mov eax, [RM_BASE + R(r_fails)]
	add [lib_fails], eax
	cmp dword [RM_BASE + R(r_finished)], 1
	je .finished
	fail_now "the real-mode part did not run to its end"
.finished:
	group "pm32_after"
	mov eax, cr0
	and eax, 1
	check eax, 1
	check dword [unreal_scratch], 0xCAFEF00D
	check dword [unreal_scratch + 4], 0x5EED1234
	check dword [unreal_scratch + 8], 0x00C0FFEE
	guest_finish

section .bss
alignb 4
pm_esp:		resd 1
unreal_scratch:	resd 4

; ====================================================================
; The blob: 16-bit code (and one 32-bit routine) run at RM_BASE.
section .text
bits 16
align 16
rm_start:

; --- 16-bit protected mode: CS = SEL_CODE16 (base RM_BASE, D clear) ---
rm_pm16:
	mov ax, SEL_RMDATA
	mov gs, ax
	mov ax, SEL_STACK16
	mov ss, ax
	mov esp, STACK_TOP
	rgroup "pm16"
	mov eax, cr0
	and eax, 1
	rcheck eax, 1
	mov ax, cs
	rcheckw ax, SEL_CODE16
	call r_whoami
	rcheckw ax, R(r_whoami)
	; SS.B clear: pushes go through SP, which wraps at 64 KiB.
	mov sp, 2
	push word 0x1111
	push word 0x2222
	mov cx, sp
	mov dx, [ss:0xfffe]
	mov bx, [ss:0]
	pop ax
	pop ax
	mov si, sp
	mov sp, STACK_TOP
	rcheckw cx, 0xfffe
	rcheckw dx, 0x2222
	rcheckw bx, 0x1111
	rcheckw si, 2
	; A 32-bit code segment whose base is not 0: its code runs at
	; CS.base + EIP and finds EIP relative to that base, on this 16-bit
	; stack.
	jmp dword SEL_CODE32B:R(rm_code32)
rm_back16:
	rcheck dword [gs:R(c32_ebx)], R(rm_code32.here)
	rcheck dword [gs:R(c32_eax)], 0x600D
	rcheck dword [gs:R(c32_esp)], STACK_TOP
	; PUSHF/POPF with a 16-bit operand on the 16-bit stack.
	mov ax, 0x0001
	push ax
	popf
	pushf
	pop cx
	and cx, 0x0001
	rcheckw cx, 1

	; To real mode: 64 KiB data segments, then PE off, then a far jump.
	mov ax, SEL_DATA16
	mov ds, ax
	mov es, ax
	mov fs, ax
	mov ss, ax
	mov eax, cr0
	and eax, ~1
	mov cr0, eax
	jmp RM_SEG:R(rm_real)

bits 32
rm_code32:
	call .here
.here:
	pop ebx
	mov [gs:R(c32_ebx)], ebx
	call .sub
	mov [gs:R(c32_eax)], eax
	mov [gs:R(c32_esp)], esp
	jmp SEL_CODE16:R(rm_back16)
.sub:
	mov eax, 0x600D
	ret
bits 16

; --- real mode ------------------------------------------------------
rm_real:
	mov ax, RM_SEG
	mov gs, ax
	mov ax, STACK_SEG
	mov ss, ax
	mov esp, STACK_TOP
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov fs, ax
	lidt [gs:R(rm_ivt_ptr)]
	mov bx, 0x00
	mov dx, R(r_exc0)
	mov cx, RM_SEG
	call r_set_vec
	mov bx, 0x03
	mov dx, R(r_exc3)
	call r_set_vec
	mov bx, 0x04
	mov dx, R(r_exc4)
	call r_set_vec
	mov bx, 0x06
	mov dx, R(r_exc6)
	call r_set_vec
	mov bx, 0x0c
	mov dx, R(r_exc12)
	call r_set_vec
	mov bx, 0x0d
	mov dx, R(r_exc13)
	call r_set_vec
	mov bx, 0x20
	mov dx, R(r_timer)
	call r_set_vec
	mov bx, 0x40
	mov dx, R(r_int40)
	call r_set_vec
	mov bx, 0x41
	mov dx, R(r_int41) + 16
	mov cx, RM_ALIAS
	call r_set_vec

	rgroup "switch"
	mov eax, cr0
	and eax, 1
	rcheck eax, 0
	mov ax, cs
	rcheckw ax, RM_SEG
	call r_whoami
	rcheckw ax, R(r_whoami)
	; The same code, at the same linear address, under another CS: its
	; offsets are 16 more.
	jmp RM_ALIAS:R(.alias) + 16
.alias:
	mov ax, cs
	rcheckw ax, RM_ALIAS
	call r_whoami
	rcheckw ax, R(r_whoami) + 16
	jmp RM_SEG:R(.back)
.back:
	mov ax, cs
	rcheckw ax, RM_SEG

	rgroup "addressing"
	mov ax, DATA_SEG
	mov es, ax
	mov dword [es:0x10], 0x11223344
	mov ax, DATA_SEG + 1
	mov ds, ax
	mov eax, [0]
	rcheck eax, 0x11223344
	mov ax, DATA_SEG - 1
	mov fs, ax
	mov eax, [fs:0x20]
	rcheck eax, 0x11223344
	push gs
	mov ax, DATA_SEG - 2
	mov gs, ax
	mov ecx, [gs:0x30]
	pop gs
	rcheck ecx, 0x11223344
	; [BP] is SS's; the stack moves meanwhile (no pushes in between).
	cli
	mov ax, DATA_SEG
	mov ss, ax
	mov bp, 0x10
	mov ecx, [bp]
	mov ax, STACK_SEG
	mov ss, ax
	rcheck ecx, 0x11223344
	mov ax, DATA_SEG
	mov ds, ax
	; [BX+SI] wraps at 64 KiB: 0xffff + 0x11 is 0x10.
	mov bx, 0xffff
	mov si, 0x11
	mov eax, [bx + si]
	rcheck eax, 0x11223344
	mov bx, 0x12
	mov eax, [bx - 2]
	rcheck eax, 0x11223344
	; 32-bit addresses (0x67) with the segment's base.
	mov ebx, 0x10
	mov eax, [ebx]
	rcheck eax, 0x11223344
	mov esi, 4
	mov eax, [ebx + esi * 4 - 0x10]
	rcheck eax, 0x11223344
	mov eax, [es:ebx]
	rcheck eax, 0x11223344
	mov byte [es:ebx + 3], 0x55
	mov eax, [0x10]
	rcheck eax, 0x55223344
	; 0xFFFF:0x10 is 1 MiB (A20 on): the Multiboot header's magic.
	mov ax, 0xffff
	mov ds, ax
	mov eax, [0x10]
	rcheck eax, 0x1BADB002
	; XLAT through DS:BX.
	mov ax, DATA_SEG
	mov ds, ax
	mov dword [0x100], 0x44332211
	mov bx, 0x100
	mov al, 2
	xlatb
	movzx eax, al
	rcheck eax, 0x33
	; LDS/LES: base = selector * 16.
	mov word [0x40], 0x0010
	mov word [0x42], DATA_SEG
	mov word [0x44], 0x0000
	mov word [0x46], DATA_SEG + 1
	xor ax, ax
	lds si, [0x40]			; DS:SI = DATA_SEG:0x10
	mov eax, [si]
	rcheck eax, 0x55223344
	mov ax, ds
	rcheckw ax, DATA_SEG
	les di, [0x44]			; ES:DI = DATA_SEG+1:0
	mov eax, [es:di]
	rcheck eax, 0x55223344
	mov ax, es
	rcheckw ax, DATA_SEG + 1
	; PUSH/POP Sreg.
	push es
	pop fs
	mov ax, fs
	rcheckw ax, DATA_SEG + 1
	mov eax, [fs:0]
	rcheck eax, 0x55223344
	push cs
	pop ds
	mov eax, [R(r_magic)]
	rcheck eax, 0x52454D4F

	rgroup "sizes"
	mov ax, DATA_SEG
	mov ds, ax
	mov es, ax
	mov eax, 0x12345678
	add ax, 0x1111
	rcheck eax, 0x12346789
	mov ah, 0xab
	rcheck eax, 0x1234ab89
	add eax, 0x10000000
	rcheck eax, 0x2234ab89
	mov ecx, 0xaaaaffff
	inc cx
	rcheck ecx, 0xaaaa0000
	mov word [0x200], 0x8000
	movsx eax, word [0x200]
	rcheck eax, 0xffff8000
	movzx eax, byte [0x201]
	rcheck eax, 0x80
	mov ax, 300
	mov cx, 300
	mul cx
	rcheckw dx, 1
	rcheckw ax, 0x5f90
	mov ecx, 0x01000000
	imul eax, ecx, 3
	rcheck eax, 0x03000000
	mov ax, 0x7fff
	add ax, 1
	pushf
	pop cx
	and cx, 0x0800
	rcheckw cx, 0x0800
	mov ax, 0x8000
	cwd
	rcheckw dx, 0xffff
	mov ax, 0x8000
	cwde
	rcheck eax, 0xffff8000
	cdq
	rcheck edx, 0xffffffff
	mov al, 0x80
	cbw
	rcheckw ax, 0xff80
	mov bx, 0xfffe
	xor si, si
	lea ax, [bx + si + 5]
	rcheckw ax, 3
	mov ebx, 0x10000
	mov ecx, 0x8000
	lea eax, [ebx + ecx * 2 + 1]
	rcheck eax, 0x20001
	mov eax, 0xffffffff
	mov bx, 0x1234
	lea eax, [bx]
	rcheck eax, 0x1234
	mov ax, 0x1234
	mov cx, 0x5678
	shld ax, cx, 4
	rcheckw ax, 0x2345
	; String instructions: SI/DI/CX with 16-bit addresses...
	mov dword [0x300], 0x04030201
	mov byte [0x304], 5
	mov si, 0x300
	mov di, 0x310
	mov cx, 5
	rep movsb
	rcheckw si, 0x305
	rcheckw di, 0x315
	rcheckw cx, 0
	rcheck dword [0x310], 0x04030201
	mov di, 0x320
	mov ax, 0xbeef
	mov ecx, 0x00010003		; CX = 3: the upper half is no count
	rep stosw
	rcheck ecx, 0x00010000
	mov cx, [0x324]
	rcheckw cx, 0xbeef
	; ...and ESI/EDI/ECX with 0x67.
	mov esi, 0x300
	mov edi, 0x330
	mov ecx, 4
	a32 rep movsb
	rcheck esi, 0x304
	rcheck edi, 0x334
	rcheck dword [0x330], 0x04030201
	mov di, 0x310
	mov al, 3
	mov cx, 5
	repne scasb
	rcheckw di, 0x313
	rcheckw cx, 2
	; LOOP counts CX with a 16-bit address size, ECX with 0x67.
	mov ecx, 0x00010002
	xor ax, ax
.loop16:
	inc ax
	loop .loop16
	rcheckw ax, 2
	rcheck ecx, 0x00010000
	mov ecx, 3
	xor ax, ax
.loop32:
	inc ax
	a32 loop .loop32
	rcheckw ax, 3
	mov ecx, 0x00050000
	xor ax, ax
	jcxz .cx_zero
	mov ax, 1
.cx_zero:
	rcheckw ax, 0
	jecxz .ecx_zero
	mov ax, 2
.ecx_zero:
	rcheckw ax, 2
	; A 32-bit near jump in 16-bit code (0x66): EIP is not cut to IP.
	jmp dword .far_ahead
	mov ax, 3
.far_ahead:
	rcheckw ax, 2

	rgroup "stack"
	cli
	mov ax, DATA_SEG
	mov ss, ax
	mov sp, 2
	push word 0x1111
	push word 0x2222
	mov cx, sp
	mov dx, [ss:0xfffe]
	mov bx, [ss:0]
	pop ax
	pop di
	mov si, sp
	mov ax, STACK_SEG
	mov ss, ax
	mov esp, STACK_TOP
	rcheckw cx, 0xfffe
	rcheckw dx, 0x2222
	rcheckw bx, 0x1111
	rcheckw di, 0x1111
	rcheckw si, 2
	; SS.B clear: ESP's upper half stays as it is.
	mov esp, 0xabcd0000 + STACK_TOP
	push ax
	push eax
	mov ecx, esp
	pop eax
	pop ax
	mov edx, esp
	mov esp, STACK_TOP
	rcheck ecx, 0xabcd0000 + STACK_TOP - 6
	rcheck edx, 0xabcd0000 + STACK_TOP
	; Near CALL and RET with a 16-bit operand: a word of return address.
	call r_getret
.ret1:
	rcheckw ax, R(.ret1)
	push word 0x5555
	call r_ret2
	mov cx, sp
	rcheckw cx, STACK_TOP
	; With 0x66: a dword of return address, RET with 0x66 too.
	call dword r_getret32
.ret2:
	rcheck eax, R(.ret2)
	mov cx, sp
	rcheckw cx, STACK_TOP
	; Indirect near CALL and JMP through a register and memory.
	mov bx, R(r_whoami)
	call bx
	rcheckw ax, R(r_whoami)
	mov word [gs:R(r_ptr)], R(r_whoami)
	call word [gs:R(r_ptr)]
	rcheckw ax, R(r_whoami)
	mov bx, R(.jmp1)
	xor ax, ax
	jmp bx
	mov ax, 1
.jmp1:
	mov word [gs:R(r_ptr)], R(.jmp2)
	jmp word [gs:R(r_ptr)]
	mov ax, 2
.jmp2:
	rcheckw ax, 0
	; PUSHA/POPA and their 32-bit forms.
	mov ax, 1
	mov cx, 2
	mov dx, 3
	mov bx, 4
	mov bp, 5
	mov si, 6
	mov di, 7
	pusha
	mov bp, sp
	mov ax, [bp + 6]		; SP as it was
	mov [gs:R(r_tmp)], ax
	xor ax, ax
	xor cx, cx
	xor dx, dx
	xor bx, bx
	xor bp, bp
	xor si, si
	xor di, di
	popa
	rcheckw ax, 1
	rcheckw bx, 4
	rcheckw di, 7
	rcheck dword [gs:R(r_tmp)], STACK_TOP
	mov eax, 0x11111111
	mov edi, 0x77777777
	pushad
	xor eax, eax
	xor edi, edi
	popad
	rcheck eax, 0x11111111
	rcheck edi, 0x77777777
	mov cx, sp
	rcheckw cx, STACK_TOP
	; ENTER and LEAVE with a 16-bit frame.
	mov bp, 0x1234
	enter 8, 0
	mov cx, sp
	mov dx, bp
	leave
	rcheckw cx, STACK_TOP - 10
	rcheckw dx, STACK_TOP - 2
	rcheckw bp, 0x1234
	mov cx, sp
	rcheckw cx, STACK_TOP
	; PUSHF/POPF: a word of FLAGS.
	mov ax, 0x0001 | 0x0040
	push ax
	popf
	pushf
	pop cx
	and cx, 0x00c1
	rcheckw cx, 0x0041
	push word 0
	popf

	rgroup "far"
	call RM_SEG:R(r_far16)
.f1:
	rcheckw ax, RM_SEG
	rcheckw bx, R(.f1)
	mov word [gs:R(r_fptr)], R(r_far16) + 16
	mov word [gs:R(r_fptr) + 2], RM_ALIAS
	call far [gs:R(r_fptr)]
.f2:
	rcheckw ax, RM_ALIAS
	rcheckw bx, R(.f2)
	rcheckw cx, RM_SEG
	call dword RM_SEG:R(r_far32)
.f3:
	rcheck eax, RM_SEG
	rcheck ebx, R(.f3)
	mov dword [gs:R(r_fptr)], R(r_far32) + 16
	mov word [gs:R(r_fptr) + 4], RM_ALIAS
	o32 call far [gs:R(r_fptr)]
.f4:
	rcheck eax, RM_ALIAS
	rcheck ebx, R(.f4)
	push word 0x7777
	call RM_SEG:R(r_farret2)
	mov cx, sp
	rcheckw cx, STACK_TOP
	mov word [gs:R(r_fptr)], R(.f5) + 16
	mov word [gs:R(r_fptr) + 2], RM_ALIAS
	jmp far [gs:R(r_fptr)]
.f5:
	mov ax, cs
	jmp RM_SEG:R(.f6)
.f6:
	rcheckw ax, RM_ALIAS

	; Far JMP, CALL, RET and IRET to an IP past CS's 64 KiB limit: #GP(0)
	; (through the IVT's entry 13) at the instruction, the stack as it
	; was. QEMU 7.2 does not check (guest_realmode_qemu skips the group):
	; a jump there lands on a pad at RM_SEG:0x1FFF0 that goes on at
	; rfl_cont, where the checks fail instead of running off.
	rgroup "farlimit"
	mov ax, (RM_BASE + 0x1fff0) >> 4
	mov es, ax
	mov byte [es:0], 0x65			; jmp far [gs:R(rfl_cont)]
	mov word [es:1], 0x2eff
	mov word [es:3], R(rfl_cont)
	xor ax, ax
	mov es, ax
	mov word [gs:R(rfl_cont) + 2], RM_SEG
	mov [gs:R(rfl_sp)], sp
	mov word [gs:R(rfl_cont)], R(.l1)
	mov dword [gs:R(r_exc_skip)], 8
	mov dword [gs:R(r_exc_vec)], 0xff
.g1:	jmp dword RM_SEG:0x1fff0
.l1:	mov sp, [gs:R(rfl_sp)]
	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.g1)
	mov word [gs:R(rfl_cont)], R(.l2)
	mov dword [gs:R(r_exc_vec)], 0xff
.g2:	call dword RM_SEG:0x1fff0
.l2:	mov cx, sp
	mov sp, [gs:R(rfl_sp)]
	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.g2)
	rcheckw cx, STACK_TOP
	mov word [gs:R(rfl_cont)], R(.l3)
	mov dword [gs:R(r_exc_skip)], 2
	mov dword [gs:R(r_exc_vec)], 0xff
	push dword RM_SEG
	push dword 0x1fff0
.g3:	o32 retf
.l3:	mov cx, sp
	mov sp, [gs:R(rfl_sp)]
	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.g3)
	rcheckw cx, STACK_TOP - 8
	mov word [gs:R(rfl_cont)], R(.l4)
	mov dword [gs:R(r_exc_vec)], 0xff
	pushfd
	push dword RM_SEG
	push dword 0x1fff0
.g4:	o32 iret
.l4:	mov cx, sp
	mov sp, [gs:R(rfl_sp)]
	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.g4)
	rcheckw cx, STACK_TOP - 12
	mov dword [gs:R(r_exc_skip)], 0

	; IP wraps at 64 KiB (the SDM: a near branch with a 16-bit operand
	; size clears EIP's upper half): a short jump at 0xFFF0 lands at
	; 0x0010 of the same segment, where a far jump back was put. QEMU 7.2
	; wraps it too, but once it chains the jump's translation block to
	; the next it goes on at 0x10010 (seen with -d exec: with nochain the
	; check passes), where rm_wrap_entry's far jump to rm_wrap_failed is:
	; a known difference (tests/CMakeLists.txt).
	rgroup "ipwrap"
	mov ax, WRAP_SEG
	mov es, ax
	mov byte [es:0x10], 0xea
	mov word [es:0x11], R(rm_after_wrap)
	mov word [es:0x13], RM_SEG
	jmp WRAP_SEG:0xfff0
rm_wrap_failed:
	mov ax, 0xbad
	jmp rm_wrap_check
rm_after_wrap:
	mov ax, 0x600d
rm_wrap_check:
	rcheckw ax, 0x600d

%ifndef QEMU_TCG
	; Accesses past the 64 KiB limits real mode runs with here (the
	; SDM's real-address-mode exceptions: a word at 0xFFFF is #GP, or
	; #SS through SS): the handler records the vector and the IP and
	; moves the IP past the instruction (r_exc_skip).
	rgroup "rmlimit"
	mov ax, DATA_SEG
	mov es, ax
	mov byte [es:0xffff], 0x5a
	mov word [es:0xfffc], 0x1234
	mov dword [gs:R(r_exc_vec)], 0xff
	mov al, [es:0xffff]			; a byte at the limit: inside
	mov ebx, [es:0xfffc]			; a dword ending there: inside
	rcheck dword [gs:R(r_exc_vec)], 0xff
	movzx eax, al
	rcheck eax, 0x5a
	mov dword [gs:R(r_exc_skip)], .m2 - .m1
	xor ax, ax
.m1:	mov ax, [es:0xffff]			; a word across it: #GP
.m2:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.m1)
	rcheckw ax, 0
	mov dword [gs:R(r_exc_vec)], 0xff
	mov dword [gs:R(r_exc_skip)], .m4 - .m3
.m3:	mov word [es:0xffff], 0xbeef		; a store: nothing written
.m4:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.m3)
	movzx eax, byte [es:0xffff]
	rcheck eax, 0x5a
	mov dword [gs:R(r_exc_vec)], 0xff
	mov dword [gs:R(r_exc_skip)], .m6 - .m5
	mov esi, 0x10000
.m5:	mov al, [es:esi]			; a 32-bit offset past it: #GP
.m6:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.m5)
	mov dword [gs:R(r_exc_vec)], 0xff
	mov dword [gs:R(r_exc_skip)], .m8 - .m7
	mov bp, 0xfffe
	xor si, si
.m7:	mov eax, [bp + si]			; through SS: #SS
.m8:	rcheck dword [gs:R(r_exc_vec)], 12
	rcheck dword [gs:R(r_exc_ip)], R(.m7)
	mov dword [gs:R(r_exc_vec)], 0xff
	mov dword [gs:R(r_exc_skip)], .m10 - .m9
	mov ax, 0x1111
	mov di, 0xffff
.m9:	stosw					; a string element: DI kept
.m10:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.m9)
	rcheckw di, 0xffff
	mov dword [gs:R(r_exc_vec)], 0xff
	mov dword [gs:R(r_exc_skip)], .m12 - .m11
.m11:	add word [fs:0xffff], 1			; read-modify-write through FS
.m12:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.m11)
	mov dword [gs:R(r_exc_skip)], 0
	xor ax, ax
	mov es, ax

	; Code past CS's limit: the handler resumes at r_exc_resume. Past
	; the limit, INT3s (at RUNON_SEG:0x10000 and RM_SEG:0x1FFF0) make a
	; fetch that was let through a #BP instead.
	rgroup "cslimit"
	mov ax, RUNON_SEG + 0x1000
	mov es, ax
	mov dword [es:0], 0xcccccccc
	mov ax, (RM_BASE + 0x1fff0) >> 4
	mov es, ax
	mov dword [es:0], 0xcccccccc
	mov ax, RUNON_SEG
	mov es, ax
	mov dword [es:0xfffc], 0x43434343	; inc bx x4, up to 0xFFFF
	mov dword [gs:R(r_exc_vec)], 0xff
	mov word [gs:R(r_exc_resume)], R(.c1)
	mov word [gs:R(r_exc_resume) + 2], RM_SEG
	xor bx, bx
	jmp RUNON_SEG:0xfffc
.c1:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], 0
	rcheck dword [gs:R(r_exc_cs)], RUNON_SEG
	rcheckw bx, 4
	mov dword [es:0xfffc], 0x34b843cc	; inc bx; mov ax, imm16 at 0xFFFE
	mov dword [gs:R(r_exc_vec)], 0xff
	mov word [gs:R(r_exc_resume)], R(.c2)
	mov word [gs:R(r_exc_resume) + 2], RM_SEG
	xor bx, bx
	mov ax, 0x600d
	jmp RUNON_SEG:0xfffd
.c2:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], 0xfffe
	rcheckw bx, 1
	rcheckw ax, 0x600d
	xor ax, ax
	mov es, ax
	mov [gs:R(rfl_sp)], sp
	mov word [gs:R(r_exc_resume)], R(.c3)
	mov word [gs:R(r_exc_resume) + 2], RM_SEG
	mov dword [gs:R(r_exc_vec)], 0xff
.b3:	db 0x66, 0xe9				; o32 jmp rel32 to 0x1FFF0
	dd 0x1fff0 - R($ + 4)
.c3:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.b3)
	mov word [gs:R(r_exc_resume)], R(.c4)
	mov word [gs:R(r_exc_resume) + 2], RM_SEG
	mov dword [gs:R(r_exc_vec)], 0xff
	xor ax, ax
	db 0x66, 0x0f, 0x85			; o32 jnz: not taken
	dd 0x1fff0 - R($ + 4)
.b4:	db 0x66, 0x0f, 0x84			; o32 jz
	dd 0x1fff0 - R($ + 4)
.c4:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.b4)
	mov word [gs:R(r_exc_resume)], R(.c5)
	mov word [gs:R(r_exc_resume) + 2], RM_SEG
	mov dword [gs:R(r_exc_vec)], 0xff
.b5:	db 0x66, 0xe8				; o32 call rel32
	dd 0x1fff0 - R($ + 4)
.c5:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.b5)
	movzx ecx, sp
	movzx edx, word [gs:R(rfl_sp)]
	rcheck ecx, edx
	mov word [gs:R(r_exc_resume)], R(.c6)
	mov word [gs:R(r_exc_resume) + 2], RM_SEG
	mov dword [gs:R(r_exc_vec)], 0xff
	mov eax, 0x1fff0
.b6:	jmp eax
.c6:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.b6)
	mov word [gs:R(r_exc_resume)], R(.c7)
	mov word [gs:R(r_exc_resume) + 2], RM_SEG
	mov dword [gs:R(r_exc_vec)], 0xff
	push dword 0x1fff0
.b7:	o32 ret
.c7:	rcheck dword [gs:R(r_exc_vec)], 13
	rcheck dword [gs:R(r_exc_ip)], R(.b7)
	movzx ecx, sp
	movzx edx, word [gs:R(rfl_sp)]
	sub edx, 4
	rcheck ecx, edx
	mov sp, [gs:R(rfl_sp)]
%endif

	rgroup "int"
	mov dword [gs:R(r_int_count)], 0
	sti
	int 0x40
.i1:
	pushf
	pop cx
	cli
	rcheck dword [gs:R(r_int_count)], 1
	rcheck dword [gs:R(r_int_ip)], R(.i1)
	rcheck dword [gs:R(r_int_cs)], RM_SEG
	and dword [gs:R(r_int_flags)], 0x0200
	rcheck dword [gs:R(r_int_flags)], 0x0200
	and dword [gs:R(r_int_inside)], 0x0300
	rcheck dword [gs:R(r_int_inside)], 0
	and cx, 0x0200
	rcheckw cx, 0x0200
	rcheck dword [gs:R(r_int_sp)], STACK_TOP - 6
	; A handler in another segment: CS changes for it and back.
	int 0x41
	rcheck dword [gs:R(r_int_cs)], RM_ALIAS
	mov ax, cs
	rcheckw ax, RM_SEG
	; INT3 and INTO.
	mov dword [gs:R(r_exc_skip)], 0
	int3
.i3:
	rcheck dword [gs:R(r_exc_vec)], 3
	rcheck dword [gs:R(r_exc_ip)], R(.i3)
	mov al, 0x7f
	add al, 1
	into
.i4:
	rcheck dword [gs:R(r_exc_vec)], 4
	rcheck dword [gs:R(r_exc_ip)], R(.i4)
	; #DE and #UD: the saved IP is the faulting instruction's.
	mov dword [gs:R(r_exc_skip)], 2
	mov dword [gs:R(r_exc_vec)], 0xff
	mov ax, 1
	xor cx, cx
.i5:
	div cx
	rcheck dword [gs:R(r_exc_vec)], 0
	rcheck dword [gs:R(r_exc_ip)], R(.i5)
	mov dword [gs:R(r_exc_vec)], 0xff
.i6:
	ud2
	rcheck dword [gs:R(r_exc_vec)], 6
	rcheck dword [gs:R(r_exc_ip)], R(.i6)
	; IRET takes the FLAGS of the frame: the handler set CF there.
	mov dword [gs:R(r_exc_skip)], 0x10000	; the handler's mark: set CF
	clc
	int3
	setc al
	movzx eax, al
	rcheck eax, 1

	rgroup "timer"
	mov dword [gs:R(r_ticks)], 0
	mov al, 0x34
	out 0x43, al
	mov ax, 1193			; about 1 kHz
	out 0x40, al
	mov al, ah
	out 0x40, al
	in al, 0x21
	and al, 0xfe
	out 0x21, al
	mov cx, 1000
.wait:
	sti
	hlt
	cli
	cmp dword [gs:R(r_ticks)], 3
	jae .ticked
	loop .wait
.ticked:
	mov al, 0xff
	out 0x21, al
	xor eax, eax
	cmp dword [gs:R(r_ticks)], 3
	setae al
	rcheck eax, 1
	rcheck dword [gs:R(r_tick_cs)], RM_SEG
	mov cx, sp
	rcheckw cx, STACK_TOP

	rgroup "unreal"
	cli
	mov eax, cr0
	or al, 1
	mov cr0, eax
	jmp SEL_CODE16:R(.pm)
.pm:
	mov ax, SEL_BIG
	mov ds, ax
	mov es, ax
	mov eax, cr0
	and al, 0xfe
	mov cr0, eax
	jmp RM_SEG:R(.rm)
.rm:
	mov eax, cr0
	and eax, 1
	rcheck eax, 0
	xor ax, ax
	mov ds, ax			; base 0, the 4 GiB limit kept
	mov ax, 0x1000
	mov es, ax			; base 0x10000, likewise
	mov eax, [dword 0x100000]
	rcheck eax, 0x1BADB002
	mov dword [dword unreal_scratch], 0xCAFEF00D
	mov ebx, unreal_scratch - 0x10000
	mov dword [es:ebx + 4], 0x5EED1234
	mov esi, unreal_scratch
	mov word [esi + 8], 0xffee
	mov word [esi + 10], 0x00c0
	mov eax, [dword unreal_scratch]
	rcheck eax, 0xCAFEF00D
	mov eax, [esi + 4]
	rcheck eax, 0x5EED1234
	mov cx, [esi + 8]
	rcheckw cx, 0xffee
	mov dword [gs:R(r_exc_vec)], 0xff
	mov ax, [0xffff]			; inside a 4 GiB limit
	rcheck dword [gs:R(r_exc_vec)], 0xff
	xor ax, ax
	mov es, ax

	; Back to 32-bit protected mode for good.
	xor bx, bx
	call r_group
	mov dword [gs:R(r_finished)], 1
	cli
	mov eax, cr0
	or al, 1
	mov cr0, eax
	jmp dword SEL_CODE:pm_back

; --- helpers ----------------------------------------------------------

; r_whoami: AX = the offset this code runs at in CS.
r_whoami:
	call .next
.next:
	pop ax
	sub ax, .next - r_whoami
	ret

; r_getret: AX = its own return address.
r_getret:
	mov bp, sp
	mov ax, [bp]
	ret

r_ret2:
	ret 2

; r_getret32 (called with 0x66): EAX = its dword return address.
r_getret32:
	mov bp, sp
	mov eax, [bp]
	o32 ret

; r_far16 (far, 16-bit): AX = the CS it runs under, BX and CX = the
; frame's return IP and CS.
r_far16:
	mov bp, sp
	mov ax, cs
	mov bx, [bp]
	mov cx, [bp + 2]
	retf

; r_far32 (far, 0x66): EAX = CS, EBX = return EIP (a dword), ECX = the
; frame's CS slot.
r_far32:
	mov bp, sp
	xor eax, eax
	mov ax, cs
	mov ebx, [bp]
	mov ecx, [bp + 4]
	o32 retf

r_farret2:
	retf 2

; Vectors.
r_int40:
	push bp
	push ax
	pushf
	pop ax
	mov [gs:R(r_int_inside)], ax
	mov bp, sp
	mov ax, [bp + 4]
	mov [gs:R(r_int_ip)], ax
	mov ax, [bp + 6]
	mov [gs:R(r_int_cs)], ax
	mov ax, [bp + 8]
	mov [gs:R(r_int_flags)], ax
	lea ax, [bp + 4]
	mov [gs:R(r_int_sp)], ax
	inc dword [gs:R(r_int_count)]
	pop ax
	pop bp
	iret

r_int41:
	push ax
	mov ax, cs
	mov [gs:R(r_int_cs)], ax
	pop ax
	iret

r_timer:
	inc dword [gs:R(r_ticks)]
	push ax
	mov ax, cs
	mov [gs:R(r_tick_cs)], ax
	mov al, 0x20
	out 0x20, al
	pop ax
	iret

r_exc0:
	mov dword [gs:R(r_exc_vec)], 0
	jmp r_exc_common
r_exc3:
	mov dword [gs:R(r_exc_vec)], 3
	jmp r_exc_common
r_exc4:
	mov dword [gs:R(r_exc_vec)], 4
	jmp r_exc_common
r_exc6:
	mov dword [gs:R(r_exc_vec)], 6
	jmp r_exc_common
r_exc12:
	mov dword [gs:R(r_exc_vec)], 12
	jmp r_exc_common
r_exc13:
	mov dword [gs:R(r_exc_vec)], 13
; The frame's IP is recorded and moved on by r_exc_skip's low word; its
; bit 16 sets CF in the frame's FLAGS.
; r_exc_resume, when its segment is not 0, takes the frame's place (once).
r_exc_common:
	push bp
	push ax
	mov bp, sp
	mov ax, [bp + 6]
	mov [gs:R(r_exc_cs)], ax
	mov ax, [bp + 4]
	mov [gs:R(r_exc_ip)], ax
	add ax, [gs:R(r_exc_skip)]
	mov [bp + 4], ax
	cmp word [gs:R(r_exc_resume) + 2], 0
	je .kept
	mov ax, [gs:R(r_exc_resume)]
	mov [bp + 4], ax
	mov ax, [gs:R(r_exc_resume) + 2]
	mov [bp + 6], ax
	mov word [gs:R(r_exc_resume) + 2], 0
.kept:
	test byte [gs:R(r_exc_skip) + 2], 1
	jz .done
	or word [bp + 8], 1
.done:
	pop ax
	pop bp
	iret

; r_set_vec: IVT entry BX = CX:DX.
r_set_vec:
	push es
	push bx
	push ax
	xor ax, ax
	mov es, ax
	shl bx, 2
	mov [es:bx], dx
	mov [es:bx + 2], cx
	pop ax
	pop bx
	pop es
	ret

; --- reporting (GS = the blob) ----------------------------------------

; r_putc: AL to COM1. Preserves registers.
r_putc:
	push dx
	push ax
	mov dx, COM1 + 5
.wait:
	in al, dx
	test al, 0x20
	jz .wait
	pop ax
	mov dx, COM1
	out dx, al
	pop dx
	ret

; r_puts: the string at GS:SI.
r_puts:
	push si
	push ax
.next:
	mov al, [gs:si]
	test al, al
	jz .done
	call r_putc
	inc si
	jmp .next
.done:
	pop ax
	pop si
	ret

; r_puthex: EAX as 8 hex digits.
r_puthex:
	pushad
	mov edx, eax
	mov cx, 8
.digit:
	rol edx, 4
	mov al, dl
	and al, 0x0f
	add al, '0'
	cmp al, '9'
	jbe .put
	add al, 'a' - '0' - 10
.put:
	call r_putc
	loop .digit
	popad
	ret

; r_putdec: EAX in decimal.
r_putdec:
	pushad
	mov ecx, 10
	xor bx, bx
.div:
	xor edx, edx
	div ecx
	push dx
	inc bx
	test eax, eax
	jnz .div
.out:
	pop ax
	add al, '0'
	call r_putc
	dec bx
	jnz .out
	popad
	ret

r_newline:
	push ax
	mov al, 10
	call r_putc
	pop ax
	ret

; r_put_prefix: "<SI's word>realmode.<group>". Preserves AX.
r_put_prefix:
	push si
	push ax		; r_check_failed's caller holds "got" in EAX
	call r_puts
	mov si, R(r_name)
	call r_puts
	mov si, [gs:R(r_group_name)]
	test si, si
	jz .none
	mov al, '.'
	call r_putc
	call r_puts
.none:
	pop ax
	pop si
	ret

; r_check_failed: SI = text, ECX = check number, EAX = got, EDX = expected.
r_check_failed:
	inc dword [gs:R(r_fails)]
	inc dword [gs:R(r_group_fails)]
	push si
	mov si, R(r_s_fail)
	call r_put_prefix
	mov si, R(r_s_hash)
	call r_puts
	push eax
	mov eax, ecx
	call r_putdec
	pop eax
	mov si, R(r_s_lparen)
	call r_puts
	pop si
	call r_puts
	mov si, R(r_s_got)
	call r_puts
	call r_puthex
	mov si, R(r_s_expected)
	call r_puts
	mov eax, edx
	call r_puthex
	call r_newline
	ret

; r_group: BX = the new group's name (0: none). Prints the last one's line.
r_group:
	pushad
	cmp word [gs:R(r_group_name)], 0
	je .open
	cmp dword [gs:R(r_group_fails)], 0
	jne .failed
	mov si, R(r_s_pass)
	call r_put_prefix
	call r_newline
	jmp .open
.failed:
	mov si, R(r_s_fail)
	call r_put_prefix
	mov si, R(r_s_lparen)
	call r_puts
	mov eax, [gs:R(r_group_fails)]
	call r_putdec
	mov si, R(r_s_of)
	call r_puts
	mov eax, [gs:R(r_checks)]
	sub eax, [gs:R(r_group_base)]
	call r_putdec
	mov si, R(r_s_checks_failed)
	call r_puts
	call r_newline
.open:
	mov [gs:R(r_group_name)], bx
	mov dword [gs:R(r_group_fails)], 0
	mov eax, [gs:R(r_checks)]
	mov [gs:R(r_group_base)], eax
	popad
	ret

; The IP-wrap test's first instruction, at offset 0xFFF0 of WRAP_SEG:
; a short jump whose target, 0xFFF2 + 0x1E, wraps to 0x0010.
	jmp $
align 16
rm_wrap_entry:
	db 0xeb, 0x1e
	times 0x1e db 0xcc
	jmp RM_SEG:R(rm_wrap_failed)	; 0x10010: reached if IP did not wrap

; --- the blob's data ---------------------------------------------------
align 4
r_magic:	dd 0x52454D4F
r_checks:	dd 0
r_fails:	dd 0
r_group_fails:	dd 0
r_group_base:	dd 0
r_group_name:	dw 0, 0
r_finished:	dd 0
r_tmp:		dd 0
r_ptr:		dd 0
r_fptr:		dd 0, 0
c32_ebx:	dd 0
c32_eax:	dd 0
c32_esp:	dd 0
r_int_count:	dd 0
r_int_ip:	dd 0
r_int_cs:	dd 0
r_int_flags:	dd 0
r_int_inside:	dd 0
r_int_sp:	dd 0
r_exc_vec:	dd 0
r_exc_ip:	dd 0
r_exc_skip:	dd 0
r_exc_cs:	dd 0
r_exc_resume:	dw 0, 0
rfl_cont:	dw 0, 0
rfl_sp:		dw 0
r_ticks:	dd 0
r_tick_cs:	dd 0
rm_ivt_ptr:	dw 0x3ff
		dd 0
r_name:		db GUEST_NAME, 0
r_s_pass:	db "PASS ", 0
r_s_fail:	db "FAIL ", 0
r_s_hash:	db " #", 0
r_s_lparen:	db " (", 0
r_s_got:	db "): got ", 0
r_s_expected:	db " expected ", 0
r_s_of:		db " of ", 0
r_s_checks_failed: db " checks failed)", 0
align 16
rm_end:
bits 32
