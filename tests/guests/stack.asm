; Stack and control flow: push/pop of registers, immediates and memory
; (including ESP-based operands and POP to an ESP-based address), push esp,
; pop esp, pushad/popad, pushfd/popfd, 16-bit pushes, call/ret/ret imm16,
; enter/leave (levels 0..3), indirect calls and jumps, the loop family and
; jecxz/jcxz, and recursion.
%define GUEST_NAME "stack"
%include "lib.inc"

guest_start

; ---------------------------------------------------------------- push/pop
group "pushpop"
	mov eax, 0x11111111
	mov ebx, 0x22222222
	push eax
	push ebx
	pop ecx
	pop edx
	check ecx, 0x22222222
	check edx, 0x11111111
	mov esi, esp
	push -1					; imm8, sign-extended to a dword
	mov edi, esp
	pop eax
	check eax, 0xffffffff
	sub esi, edi
	check esi, 4
	push 0x12345678
	pop eax
	check eax, 0x12345678
	push byte 0x7f
	pop eax
	check eax, 0x7f
	mov dword [mem0], 0xabcdef01
	push dword [mem0]
	pop dword [mem1]
	check dword [mem1], 0xabcdef01

	; push dword [esp+4] reads with the ESP before the push
	push 0x11
	push 0x22
	push dword [esp + 4]
	pop eax
	pop ebx
	pop ecx
	check eax, 0x11
	check ebx, 0x22
	check ecx, 0x11
	push 0x33
	push dword [esp]
	pop eax
	pop ebx
	check eax, 0x33
	check ebx, 0x33
	mov ecx, 1
	push 0x44
	push 0x55
	push dword [esp + ecx * 4]
	pop eax
	add esp, 8
	check eax, 0x44

	; pop dword [esp] computes the address after ESP is incremented
	push 0xbbbb
	push 0xaaaa
	mov esi, esp
	pop dword [esp]
	mov edi, esp
	sub edi, esi
	check edi, 4
	pop eax
	check eax, 0xaaaa
	push 0xcccc
	push 0xbbbb
	push 0xaaaa
	pop dword [esp + 4]			; lands in the 0xcccc slot
	pop eax
	pop ebx
	check eax, 0xbbbb
	check ebx, 0xaaaa
	push 0x1
	push 0x2
	mov ecx, 0
	pop dword [esp + ecx * 4]
	pop eax
	check eax, 0x2

	; push esp pushes the value before the push
	mov esi, esp
	push esp
	pop eax
	check eax, esi
	; pop esp loads ESP from the stack (the increment is lost)
	mov [saved_esp], esp
	push dword alt_stack_top
	pop esp
	mov eax, esp
	check eax, alt_stack_top
	mov esp, [saved_esp]
	lea eax, [esp - 0x100]
	push eax
	pop esp
	mov ebx, esp
	mov esp, [saved_esp]
	sub eax, ebx
	check eax, 0
	; pop to a register and to memory through EBP
	push ebp
	mov ebp, esp
	push 0x99
	pop dword [ebp - 8]
	mov eax, [ebp - 8]
	pop ebp
	check eax, 0x99

; ---------------------------------------------------------------- pushad
group "pushad"
	push ebp
	mov eax, 0xa
	mov ecx, 0xc
	mov edx, 0xd
	mov ebx, 0xb
	mov ebp, 0xbb
	mov esi, 0x51
	mov edi, 0xd1
	mov [saved_esp], esp
	pushad
	mov [temp_esp], esp
	mov esi, esp
	mov edi, pushad_image
	mov ecx, 8
	rep movsd
	; change every register and the image's ESP slot, then popad
	mov dword [esp + 12], 0xdeadbeef
	mov eax, -1
	mov ecx, -1
	mov edx, -1
	mov ebx, -1
	mov ebp, -1
	mov esi, -1
	mov edi, -1
	popad
	mov [after_esp], esp
	check eax, 0xa
	check ecx, 0xc
	check edx, 0xd
	check ebx, 0xb
	check ebp, 0xbb
	check esi, 0x51
	check edi, 0xd1
	mov esp, [saved_esp]
	pop ebp
	mov eax, [after_esp]
	check eax, dword [saved_esp]
	mov eax, [saved_esp]
	sub eax, [temp_esp]
	check eax, 32
	check dword [pushad_image + 28], 0xa
	check dword [pushad_image + 24], 0xc
	check dword [pushad_image + 20], 0xd
	check dword [pushad_image + 16], 0xb
	check dword [pushad_image + 8], 0xbb
	check dword [pushad_image + 4], 0x51
	check dword [pushad_image + 0], 0xd1
	mov eax, [saved_esp]
	check dword [pushad_image + 12], eax

	; pushaw/popaw: 16 bytes, SP image skipped the same way
	mov eax, 0xffff0001
	mov ebx, 0xffff0002
	mov [saved_esp], esp
	pushaw
	mov esi, esp
	mov word [esp + 6], 0x5555		; SP slot
	mov ax, [esp + 14]			; AX slot
	mov bx, [esp + 8]			; BX slot
	mov edx, [saved_esp]
	sub edx, esi
	check edx, 16
	check eax, 0xffff0001
	check ebx, 0xffff0002
	mov eax, 0
	mov ebx, 0
	popaw
	check eax, 0x0001
	check ebx, 0x0002
	mov eax, esp
	check eax, dword [saved_esp]

; ---------------------------------------------------------------- pushfd
group "pushfd"
	set_flags F_CF|F_ZF|F_SF|F_OF|F_PF|F_AF|F_DF
	pushfd
	pop eax
	cld
	and eax, 0xffff
	check eax, F_CF|F_ZF|F_SF|F_OF|F_PF|F_AF|F_DF|2
	set_flags 0
	pushfd
	pop eax
	and eax, 0xffff
	check eax, 2
	mov al, 0x7f
	add al, 1
	mov ebx, 5				; no flag change in between
	lea ecx, [ebx + 1]
	push ecx
	pop ecx
	pushfd
	pop eax
	and eax, F_ALU
	check eax, F_OF|F_SF|F_AF
	push 0xffff & ~(F_TF|F_IF|0x7000)	; every flag the guest may set
	popfd
	pushfd
	pop eax
	cld
	and eax, 0xffff
	check eax, F_ALU|F_DF|2
	; DF set through popfd is honoured by string instructions
	mov esi, mem1 + 1
	set_flags F_DF
	lodsb
	mov eax, esi
	cld
	check eax, mem1
	; AC (bit 18) can be set and cleared (486+), no alignment checks with AM=0
	push 0x40002
	popfd
	pushfd
	pop eax
	push 2
	popfd
	check eax, 0x40002
	; 16-bit pushf/popf
	set_flags F_CF
	mov esi, esp
	pushfw
	mov edi, esp
	pop ax
	sub esi, edi
	check esi, 2
	and eax, 0xffff
	check eax, F_CF|2
	push word F_ZF|2
	popfw
	check_flags F_ALU, F_ZF

; ---------------------------------------------------------------- 16-bit push
group "push16"
	mov eax, 0x1234
	mov esi, esp
	push ax
	mov edi, esp
	mov ebx, 0
	pop bx
	sub esi, edi
	check esi, 2
	check ebx, 0x1234
	mov esi, esp
	push word 0x5678
	mov edi, esp
	mov eax, 0xffffffff
	pop ax
	sub esi, edi
	check esi, 2
	check eax, 0xffff5678
	mov esi, esp
	push word -1				; 66 6a ff: 16-bit, sign-extended imm8
	mov edi, esp
	pop cx
	sub esi, edi
	check esi, 2
	and ecx, 0xffff
	check ecx, 0xffff
	push word 0x1111
	push word 0x2222
	pop eax
	check eax, 0x11112222
	mov dword [mem0], 0x87654321
	push word [mem0 + 2]
	pop word [mem1]
	mov eax, [mem1]
	and eax, 0xffff
	check eax, 0x8765
	push 0xaabbccdd
	pop bx
	pop cx
	and ebx, 0xffff
	and ecx, 0xffff
	check ebx, 0xccdd
	check ecx, 0xaabb

; ---------------------------------------------------------------- call/ret
group "call"
	call .here
.here:
	pop eax
	check eax, .here
	mov eax, 5
	call double_eax
	check eax, 10
	mov esi, esp
	push 40
	push 2
	call sum2_ret8
	check eax, 42
	mov edi, esp
	check edi, esi
	mov edx, triple_eax
	mov eax, 3
	call edx
	check eax, 9
	mov dword [mem0], double_eax
	call [mem0]
	check eax, 18
	mov ecx, 1
	call [fn_table + ecx * 4]
	check eax, 54
	push dword double_eax
	call [esp]				; the address is read before the push
	add esp, 4
	check eax, 108
	mov ebx, fn_table
	mov eax, 1
	call [ebx + 4]
	check eax, 3
	; a return address can be changed by the callee
	call skip_next
	mov eax, 0xbad
	jmp .skip_done
.skipped:
	mov eax, 0x600d
.skip_done:
	check eax, 0x600d

	; jump tables
	xor ebx, ebx
	xor ecx, ecx
.jt_next:
	jmp [jump_table + ecx * 4]
.jt0:
	add ebx, 1
	jmp .jt_back
.jt1:
	add ebx, 10
	jmp .jt_back
.jt2:
	add ebx, 100
	jmp .jt_back
.jt3:
	add ebx, 1000
.jt_back:
	inc ecx
	cmp ecx, 4
	jb .jt_next
	check ebx, 1111
	mov eax, .jr_target
	jmp eax
	mov ebx, 0
.jr_target:
	check ebx, 1111
	push dword .jm_target
	jmp [esp]
	mov ebx, 0
.jm_target:
	add esp, 4
	check ebx, 1111

; ---------------------------------------------------------------- enter/leave
group "enter"
	push ebp
	mov ebp, 0x12345
	mov [saved_esp], esp
	enter 16, 0
	mov eax, [ebp]
	mov ebx, ebp
	mov ecx, esp
	leave
	mov edx, ebp
	mov esi, esp
	check eax, 0x12345
	mov edi, [saved_esp]
	sub edi, ebx
	check edi, 4
	mov edi, [saved_esp]
	sub edi, ecx
	check edi, 20
	check edx, 0x12345
	check esi, dword [saved_esp]

	enter 16, 1
	mov eax, [ebp]
	mov ebx, [ebp - 4]
	mov ecx, ebp
	mov edx, esp
	leave
	check eax, 0x12345
	check ebx, ecx
	mov edi, [saved_esp]
	sub edi, edx
	check edi, 24

	; levels 2 and 3 copy display entries from the old frame
	mov ebp, fake_frame
	mov dword [fake_frame - 4], 0xd1
	mov dword [fake_frame - 8], 0xd2
	enter 16, 2
	mov eax, [ebp]
	mov ebx, [ebp - 4]
	mov ecx, [ebp - 8]
	mov esi, ebp
	mov edx, esp
	leave
	mov edi, ebp
	check eax, fake_frame
	check ebx, 0xd1
	check ecx, esi
	check edi, fake_frame
	mov edi, [saved_esp]
	sub edi, edx
	check edi, 28
	enter 8, 3
	mov eax, [ebp - 4]
	mov ebx, [ebp - 8]
	mov ecx, [ebp - 12]
	mov esi, ebp
	mov edx, esp
	leave
	check eax, 0xd1
	check ebx, 0xd2
	check ecx, esi
	mov edi, [saved_esp]
	sub edi, edx
	check edi, 4 + 8 + 4 + 8
	mov eax, esp
	check eax, dword [saved_esp]
	enter 0x1000, 0
	mov eax, esp
	mov ebx, ebp
	leave
	sub ebx, eax
	check ebx, 0x1000
	; nested procedures: the inner display holds the outer frame
	call outer_proc
	check eax, 0
	pop ebp

; ---------------------------------------------------------------- loops
group "loop"
	mov ecx, 10
	xor eax, eax
.l1:
	add eax, ecx
	loop .l1
	check eax, 55
	check ecx, 0
	xor ebx, ebx
	mov ecx, 10
.l2:
	inc ebx
	cmp ebx, 3
	loopne .l2
	check ebx, 3
	check ecx, 7
	xor ebx, ebx
	mov ecx, 10
.l3:
	inc ebx
	test ebx, 4
	loope .l3
	check ebx, 4
	check ecx, 6
	xor ebx, ebx
	mov ecx, 5
.l4:
	inc ebx
	cmp ebx, ebx
	loopz .l4
	check ebx, 5
	check ecx, 0
	set_flags F_ZF|F_CF
	mov ecx, 2
.l5:
	loop .l5				; LOOP leaves the flags alone
	check_flags F_ALU, F_ZF|F_CF
	mov ecx, 0
	jecxz .z1
	fail_now "jecxz with ECX=0 not taken"
.z1:
	mov ecx, 1
	jecxz .z2
	jmp .z3
.z2:
	fail_now "jecxz with ECX=1 taken"
.z3:
	mov ecx, 0x10000			; CX = 0
	jcxz .z4
	fail_now "jcxz with CX=0 not taken"
.z4:
	mov ecx, 0x10003
	xor eax, eax
.l6:
	inc eax
	loop .l6, cx				; 16-bit count
	check eax, 3
	check ecx, 0x10000
	; loop back over a block several times with a nested loop
	xor eax, eax
	mov edx, 4
.outer:
	mov ecx, 5
.inner:
	inc eax
	loop .inner
	dec edx
	jnz .outer
	check eax, 20

; ---------------------------------------------------------------- recursion
group "recursion"
	mov esi, esp
	push 20
	call fib
	add esp, 4
	check eax, 6765
	mov edi, esp
	check edi, esi
	push 15
	call fib_enter
	check eax, 610
	mov edi, esp
	check edi, esi
	mov ecx, 100
	call sum_down
	check eax, 5050
	push 2
	push 3
	call ackermann				; A(2, 3) = 9
	check eax, 9
	mov edi, esp
	check edi, esi

guest_finish

; ---------------------------------------------------------------- helpers
double_eax:
	add eax, eax
	ret

triple_eax:
	lea eax, [eax + eax * 2]
	ret

sum2_ret8:
	mov eax, [esp + 4]
	add eax, [esp + 8]
	ret 8

skip_next:
	mov dword [esp], _start.skipped
	ret

; fib(n) with the argument on the stack (cdecl)
fib:
	push ebp
	mov ebp, esp
	push ebx
	mov eax, [ebp + 8]
	cmp eax, 2
	jb .done
	dec eax
	push eax
	call fib
	mov ebx, eax
	mov eax, [ebp + 8]
	sub eax, 2
	mov [esp], eax
	call fib
	add esp, 4
	add eax, ebx
.done:
	pop ebx
	pop ebp
	ret

; fib_enter(n): enter/leave frames and ret 4
fib_enter:
	enter 4, 0
	mov eax, [ebp + 8]
	cmp eax, 2
	jb .done
	dec eax
	push eax
	call fib_enter
	mov [ebp - 4], eax
	mov eax, [ebp + 8]
	sub eax, 2
	push eax
	call fib_enter
	add eax, [ebp - 4]
.done:
	leave
	ret 4

; sum_down: ECX + (ECX-1) + ... + 1 in EAX, recursive through registers
sum_down:
	test ecx, ecx
	jnz .rec
	xor eax, eax
	ret
.rec:
	push ecx
	dec ecx
	call sum_down
	pop ecx
	add eax, ecx
	ret

; ackermann(m, n) with m at [esp+8], n at [esp+4], ret 8
ackermann:
	push ebp
	mov ebp, esp
	mov eax, [ebp + 12]			; m
	mov ecx, [ebp + 8]			; n
	test eax, eax
	jnz .m_nonzero
	lea eax, [ecx + 1]
	jmp .out
.m_nonzero:
	test ecx, ecx
	jnz .both
	dec eax
	push eax
	push 1
	call ackermann
	jmp .out
.both:
	push eax				; m
	dec ecx
	push ecx				; n - 1
	call ackermann				; A(m, n-1)
	mov ecx, [ebp + 12]
	dec ecx
	push ecx
	push eax
	call ackermann				; A(m-1, A(m, n-1))
.out:
	pop ebp
	ret 8

; outer_proc/inner_proc: enter 8,1 then enter 8,2; returns EAX = 0 if the
; inner display entry is the outer frame pointer
outer_proc:
	enter 8, 1
	mov [outer_frame], ebp
	call inner_proc
	leave
	ret
inner_proc:
	enter 8, 2
	mov eax, [ebp - 4]
	sub eax, [outer_frame]
	mov ecx, [ebp - 8]
	cmp ecx, ebp
	je .ok
	or eax, 1
.ok:
	leave
	ret

section .rodata
align 4
fn_table:	dd triple_eax, triple_eax
jump_table:	dd _start.jt0, _start.jt1, _start.jt2, _start.jt3

section .bss
alignb 4
mem0:		resd 1
mem1:		resd 1
saved_esp:	resd 1
temp_esp:	resd 1
after_esp:	resd 1
outer_frame:	resd 1
pushad_image:	resd 8
		resd 16
fake_frame:	resd 4
alignb 16
		resb 1024
alt_stack_top:
