; Self-modifying code. Each case runs several times in a loop so that the
; code has been executed (and translated) before it is changed:
;  - the imm32 of a mov that already ran is rewritten (plain store and a
;    read-modify-write on the immediate);
;  - a store patches an instruction later in the same straight-line block,
;    including the very next instruction and its opcode byte;
;  - a ret at a called function is overwritten with a body and restored;
;  - the rel32 of a call and the rel8 of a jmp are redirected;
;  - small functions are copied (rep movsb) to a buffer, at two offsets,
;    and called there; code is generated with rep stosb;
;  - an instruction that straddles a 4 KiB boundary is patched on both sides;
;  - data beside code: a counter on the same page as the loop that bumps it
;    is written many times (btvm then stops write-protecting the page and
;    lets the blocks check themselves), after which code on that page is
;    still patched correctly, in a later block and in the running one.
%define GUEST_NAME "smc"
%include "lib.inc"

ROUNDS equ 8

; next_round loop: EAX is this round's result (ECX = the round); go round
; again from loop until ROUNDS.
%macro next_round 1
	mov [results + ecx * 4], eax
	inc ecx
	cmp ecx, ROUNDS
	jb %1
%endmacro

guest_start

; ---------------------------------------------------------------- immediates
group "imm"
	xor ecx, ecx
imm_loop:
imm_site:
	mov eax, strict dword 0x11111111
	mov [results + ecx * 4], eax
	lea edx, [ecx + 2]
	imul edx, edx, 0x01010101
	mov [imm_site + 1], edx			; the next round sees (ecx+2)*0x01010101
	inc ecx
	cmp ecx, ROUNDS
	jb imm_loop
	check dword [results], 0x11111111
	check dword [results + 4], 0x02020202
	check dword [results + 8], 0x03030303
	check dword [results + 28], 0x08080808
	mov dword [imm_site + 1], 0x11111111
	; read-modify-write of the immediate right after it runs
	xor ecx, ecx
rmw_loop:
rmw_site:
	mov eax, strict dword 0
	inc dword [rmw_site + 1]
	next_round rmw_loop
	check dword [results], 0
	check dword [results + 4], 1
	check dword [results + 28], 7
	mov dword [rmw_site + 1], 0

; ---------------------------------------------------------------- same block
group "sameblock"
	xor ecx, ecx
sb_loop:
	mov [sb_site + 1], cl			; patches the mov below
	nop
	nop
sb_site:
	mov al, 0x00
	movzx eax, al
	next_round sb_loop
	check dword [results], 0
	check dword [results + 4], 1
	check dword [results + 12], 3
	check dword [results + 28], 7
	; patch the opcode of the very next instruction: inc eax <-> dec eax
	xor ecx, ecx
	xor ebx, ebx
op_loop:
	mov eax, 10
	mov dl, 0x40				; inc eax
	test cl, 1
	jnz op_store
	mov dl, 0x48				; dec eax
op_store:
	mov [op_site], dl
op_site:
	inc eax
	next_round op_loop
	check dword [results], 9
	check dword [results + 4], 11
	check dword [results + 8], 9
	check dword [results + 28], 11
	; replace a 5-byte mov with four inc eax and a nop, and back
	xor ecx, ecx
w_loop:
	mov eax, 100
	test cl, 1
	jnz w_restore
	mov dword [w_site], 0x40404040
	mov byte [w_site + 4], 0x90
	jmp w_site
w_restore:
	mov byte [w_site], 0xb8
	mov dword [w_site + 1], 1
w_site:
	mov eax, strict dword 1
	next_round w_loop
	check dword [results], 104
	check dword [results + 4], 1
	check dword [results + 24], 104
	check dword [results + 28], 1

; ---------------------------------------------------------------- ret patch
group "retpatch"
	xor ecx, ecx
	xor ebx, ebx				; failures
rp_loop:
	mov eax, 0xdead
	call patch_fn				; plain ret
	cmp eax, 0xdead
	je .ok1
	inc ebx
.ok1:
	mov byte [patch_fn], 0xb8		; mov eax, ecx*3
	lea edx, [ecx + ecx * 2]
	mov [patch_fn + 1], edx
	mov byte [patch_fn + 5], 0xc3
	call patch_fn
	lea edx, [ecx + ecx * 2]
	cmp eax, edx
	je .ok2
	inc ebx
.ok2:
	mov byte [patch_fn], 0xc3		; back to a plain ret
	mov eax, 0xbeef
	call patch_fn
	cmp eax, 0xbeef
	je .ok3
	inc ebx
.ok3:
	inc ecx
	cmp ecx, ROUNDS
	jb rp_loop
	check ebx, 0

; ---------------------------------------------------------------- branches
group "branch"
	; redirect the rel32 of a call between two targets
	xor ecx, ecx
cr_loop:
	mov edx, target_one - (cr_site + 5)
	test cl, 1
	jz .store
	mov edx, target_two - (cr_site + 5)
.store:
	mov [cr_site + 1], edx
cr_site:
	call target_one
	next_round cr_loop
	check dword [results], 1
	check dword [results + 4], 2
	check dword [results + 8], 1
	check dword [results + 28], 2
	; redirect the rel8 of a short jmp
	xor ecx, ecx
js_loop:
	mov dl, js_a - (js_site + 2)
	test cl, 1
	jz .store
	mov dl, js_b - (js_site + 2)
.store:
	mov [js_site + 1], dl
js_site:
	jmp short js_a
js_a:
	mov eax, 0xa
	jmp js_done
js_b:
	mov eax, 0xb
js_done:
	next_round js_loop
	check dword [results], 0xa
	check dword [results + 4], 0xb
	check dword [results + 24], 0xa
	check dword [results + 28], 0xb

; ---------------------------------------------------------------- copied code
group "copy"
	xor ebx, ebx				; round
	xor ebp, ebp				; failures
cp_loop:
	mov eax, ebx
	xor edx, edx
	mov ecx, 3
	div ecx					; edx = round mod 3
	mov esi, [fn_table + edx * 8]
	mov ecx, [fn_table + edx * 8 + 4]
	mov edi, ebx
	and edi, 1				; offset 0 or 1: overlapping old code
	add edi, codebuf
	push edi
	rep movsb
	pop edi
	mov ecx, ebx
	push edx
	call edi
	pop edx
	; expected: a: 0xaaaa0000 + n, b: 2n + 1, c: 3n
	mov esi, 0xaaaa0000
	add esi, ebx
	cmp edx, 0
	je .cmp
	lea esi, [ebx * 2 + 1]
	cmp edx, 1
	je .cmp
	lea esi, [ebx + ebx * 2]
.cmp:
	cmp eax, esi
	je .ok
	inc ebp
.ok:
	inc ebx
	cmp ebx, 3 * ROUNDS
	jb cp_loop
	check ebp, 0
	; generated code: n times inc eax, then ret, written with rep stosb
	xor ebx, ebx
	xor ebp, ebp
	mov edx, 1
gen_loop:
	mov edi, codebuf
	mov ecx, edx
	mov al, 0x40				; inc eax
	rep stosb
	mov byte [edi], 0xc3
	xor eax, eax
	call codebuf
	cmp eax, edx
	je .ok
	inc ebp
.ok:
	lea edx, [edx * 2 + 1]			; 1, 3, 7, 15, ...
	inc ebx
	cmp ebx, ROUNDS
	jb gen_loop
	; and shorter again: the ret moves backwards over executed code
	mov edx, 64
gen_down:
	mov edi, codebuf
	mov ecx, edx
	mov al, 0x48				; dec eax
	rep stosb
	mov byte [edi], 0xc3
	xor eax, eax
	call codebuf
	neg eax
	cmp eax, edx
	je .ok
	inc ebp
.ok:
	shr edx, 1
	jnz gen_down
	check ebp, 0

; ---------------------------------------------------------------- page cross
group "pagecross"
	xor ecx, ecx
	xor ebp, ebp
pc_loop:
	call cross_fn
	mov [results + ecx * 4], eax
	mov [cross_fn + 3], cl			; in the second page
	mov edx, ecx
	shl edx, 4
	mov [cross_fn + 1], dl			; in the first page
	inc ecx
	cmp ecx, ROUNDS
	jb pc_loop
	check dword [results], 0x11223344
	check dword [results + 4], 0x11003300
	check dword [results + 8], 0x11013310
	check dword [results + 28], 0x11063360

; ---------------------------------------------------------------- data beside code
group "hotdata"
	mov ecx, 1000
hd_loop:
	add dword [hd_counter], 3
	dec ecx
	jnz hd_loop
	check dword [hd_counter], 3000
	xor ecx, ecx
hd_patch_loop:
	call hd_fn				; returns the imm32 below
	mov [results + ecx * 4], eax
	lea edx, [ecx + 0x100]
	mov [hd_fn + 1], edx			; a later block on this page
	mov byte [hd_next + 1], 0x55		; the very next instruction
hd_next:
	mov bl, 0x00
	movzx ebx, bl
	mov [results + 16 + ecx * 4], ebx
	mov byte [hd_next + 1], 0x00
	inc ecx
	cmp ecx, 4
	jb hd_patch_loop
	check dword [results], 0x12345678
	check dword [results + 4], 0x100
	check dword [results + 12], 0x102
	check dword [results + 16], 0x55
	check dword [results + 28], 0x55
	jmp hd_done
	align 4
hd_counter:	dd 0
hd_fn:
	mov eax, strict dword 0x12345678
	ret
hd_done:

guest_finish

; ---------------------------------------------------------------- functions
patch_fn:
	ret
	times 15 nop

target_one:
	mov eax, 1
	ret
target_two:
	mov eax, 2
	ret

; position-independent bodies to copy; in: ECX = n
fn_a:
	mov eax, 0xaaaa0000
	add eax, ecx
	ret
fn_a_end:
fn_b:
	lea eax, [ecx * 2 + 1]
	ret
fn_b_end:
fn_c:
	imul eax, ecx, 3
	ret
fn_c_end:

section .rodata
align 4
fn_table:
	dd fn_a, fn_a_end - fn_a
	dd fn_b, fn_b_end - fn_b
	dd fn_c, fn_c_end - fn_c

; an instruction across a 4 KiB boundary: B8 at page offset 4093, imm32 at
; 4094..4097
section .text.cross progbits alloc exec nowrite align=4096
cross_page:
	times 4096 - 3 db 0xcc
cross_fn:
	mov eax, strict dword 0x11223344
	ret

section .bss
alignb 16
results:	resd ROUNDS
alignb 16
codebuf:	resb 256
