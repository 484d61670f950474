; Hot traces (btvm --traces=N): loops whose paths become traces, then do
; what a trace must survive.
;  - flip: a loop's branches go one way, then the other (side exits taken
;    after the trace formed; their targets become trace heads in turn);
;  - smc_after: a loop's trace formed, then its code is overwritten from
;    outside and the loop run again;
;  - self_patch: a store on the trace's own path rewrites an instruction
;    later in the same trace, which must run as written that iteration;
;  - fault: a #DE inside a trace, with EIP and registers as at the
;    instruction.
; Each hot loop starts on a page of its own so that it lies on one page
; (a trace does not cross pages). Passes without --traces too, and under
; QEMU: what it checks is the architecture, not the traces.
%define GUEST_NAME "traces"
%include "lib.inc"

guest_start
	call lib_install_idt

; ---------------------------------------------------------------- flip
group "flip"
	xor eax, eax
	xor ebx, ebx
	xor edx, edx
	call flip_func
	check esi, 44850		; sum of 0..299
	check edi, 909300		; twice the sum of 300..999
	check ebx, 500			; even i
	check edx, -500			; odd i

; ---------------------------------------------------------------- smc_after
group "smc_after"
	call sa_func
	check esi, 700			; 200 * 1 + 5 * 100
	mov dword [sa_func.site + 1], 3	; the trace's code, rewritten
	call sa_func
	check esi, 1100			; 200 * 3 + 5 * 100
	mov byte [sa_func.op], 0x29		; add esi, eax -> sub esi, eax
	call sa_func
	check esi, -100			; 500 - 200 * 3
	mov byte [sa_func.op], 0x01
	mov dword [sa_func.site + 1], 1

; ---------------------------------------------------------------- self_patch
group "self_patch"
	call sp_func
	check esi, 1050			; 100 * 2 + 100 * 7 + 50 * 3
	check dword [sp_func.site + 1], 7
	mov dword [sp_func.site + 1], 2
	call sp_func
	check esi, 1050			; and again, from the restored code

; ---------------------------------------------------------------- fault
group "fault"
	mov dword [lib_exc_hook], de_hook
	call de_func
	mov dword [lib_exc_hook], 0
	check dword [de_count], 1
	check dword [de_vector], 0
	check dword [de_eip], de_func.site
	check dword [de_ecx], 50
	check dword [de_esi], 203	; 26 even i * 3 + 25 odd i * 5
	check esi, 320			; 40 * 3 + 40 * 5
	check ecx, 80

	guest_finish

; #DE: record where and what, then go on after the 2-byte DIV.
de_hook:
	push eax
	mov eax, [esp + 4]
	mov [de_vector], eax
	mov eax, [esp + 12]
	mov [de_eip], eax
	pop eax
	mov [de_ecx], ecx
	mov [de_esi], esi
	inc dword [de_count]
	add esp, 8
	add dword [esp], 2
	iretd

; ---------------------------------------------------------------- the loops
section .text
align 4096
; EBX counts even i, EDX odd i downwards; ESI sums i below 300, EDI twice
; those from 300 on: the first branch flips at i = 300, the second every
; iteration.
flip_func:
	xor ecx, ecx
	xor esi, esi
	xor edi, edi
.loop:
	cmp ecx, 300
	jae .big
	add esi, ecx
	jmp .join
.big:
	lea edi, [edi + ecx * 2]
.join:
	test ecx, 1
	jnz .odd
	inc ebx
	jmp .next
.odd:
	dec edx
.next:
	inc ecx
	cmp ecx, 1000
	jb .loop
	ret

align 4096
; ESI = 200 times the immediate at sa_func.site, plus 100 for each of the
; last five rounds.
sa_func:
	xor ecx, ecx
	xor esi, esi
.loop:
.site:
	mov eax, strict dword 1
	cmp ecx, 195
	jb .skip			; taken while the trace forms
	add esi, 100
.skip:
.op:
	add esi, eax			; 01 C6
	inc ecx
	cmp ecx, 200
	jb .loop
	ret

align 4096
; Each round stores 7 through EBX: into sp_scratch, except in round 100,
; where EBX points at the immediate of sp_func.site, later on the same path.
sp_func:
	xor ecx, ecx
	xor esi, esi
.loop:
	mov ebx, sp_scratch
	mov edi, sp_func.site + 1
	cmp ecx, 100
	cmove ebx, edi
	mov dword [ebx], 7
	test ecx, 3
	jnz .nz				; taken while the trace forms
	add esi, 3
.nz:
.site:
	mov eax, strict dword 2
	add esi, eax
	inc ecx
	cmp ecx, 200
	jb .loop
	ret

align 4096
; DIV by ECX - 50, zero in round 50 (the hook skips it); ESI adds 3 in
; even rounds and 5 in odd ones, before the DIV.
de_func:
	xor ecx, ecx
	xor esi, esi
.loop:
	mov ebx, ecx
	sub ebx, 50
	test ecx, 1
	jnz .odd
	add esi, 3
	jmp .go
.odd:
	add esi, 5
.go:
	mov eax, 1000
	xor edx, edx
.site:
	div ebx
	inc ecx
	cmp ecx, 80
	jb .loop
	ret

section .data
sp_scratch:	dd 0
de_count:	dd 0
de_vector:	dd 0xffffffff
de_eip:		dd 0
de_ecx:		dd 0
de_esi:		dd 0
