; The gdb stub's test guest (tests/system/run_gdb.py): known code, data and
; registers for a debugger to stop at, read, step through and change,
; first with paging off, then on with code and data at a second linear
; address (0x80000000) that only the page tables give. It checksums its
; own code before and at the end, so a breakpoint written into guest
; memory would fail it (status 35).
;
; It waits at `spin` until something writes 1 to `go`. Then it exits with
; (EBX + data_words[0] + ESI + alias_calls) as its isa-debug-exit value:
; 0x18 untouched (status 49); the gdb test sets EBX to 0x20 and
; data_words[0] to 5 at bp_main, which makes it 0x2b (status 87).
bits 32
%include "multiboot.inc"
multiboot_header

PG_P_RW		equ 0x003
PG_PS		equ 0x080
ALIAS		equ 0x80000000		; alias_page here, alias_data one page up

section .text align=4096
global _start, bp_main, step1, step2, step3, bump, spin, alias_page, code_sum
_start:
	guest_check_magic
	call code_sum
	mov [sum_before], eax
	mov eax, 0x12345678
	mov ebx, 1
bp_main:
	nop
step1:
	mov ecx, 4
step2:
	xor esi, esi
step3:
	mov edi, bump
.again:
	; Four times, ESI 0, 1, 2, 3 at its entry. Indirect: from the second
	; call on, the lookup table jumps straight into the breakpoint's own
	; block, which must leave to report it.
	call edi
	loop .again
spin:
	cmp dword [go], 0
	je spin

	; Paging: 0-4 MiB identity (one 4 MiB page), and a page table at
	; ALIAS mapping alias_page and alias_data.
	mov dword [page_dir], PG_P_RW | PG_PS
	mov eax, alias_pt
	or eax, PG_P_RW
	mov [page_dir + (ALIAS >> 22) * 4], eax
	mov eax, alias_page
	or eax, PG_P_RW
	mov [alias_pt], eax
	mov eax, alias_data
	or eax, PG_P_RW
	mov [alias_pt + 4], eax
	mov eax, cr4
	or eax, 0x10			; PSE
	mov cr4, eax
	mov eax, page_dir
	mov cr3, eax
	mov eax, cr0
	or eax, 0x80000000
	mov cr0, eax
	; The same code at its own address first: a breakpoint at ALIAS
	; must not stop it there.
	call alias_page
	mov eax, ALIAS
	call eax

	call code_sum
	cmp eax, [sum_before]
	jne fail
	mov eax, ebx
	add eax, [data_words]
	add eax, esi
	add eax, [alias_calls]
	out 0xf4, al
	guest_fail_exit

; EAX = the sum of the code's dwords, _start to code_end.
code_sum:
	push esi
	mov esi, _start
	xor eax, eax
.next:
	add eax, [esi]
	add esi, 4
	cmp esi, code_end
	jb .next
	pop esi
	ret

bump:
	inc esi
	ret

align 4096
alias_page:
	inc dword [alias_calls]
	mov edx, [ALIAS + 0x1000]	; alias_data through the page tables
	ret
align 4
code_end:

section .data align=4096
global alias_data, data_words, go, alias_calls
alias_data:
	dd 0xfeedface, 0x0badf00d
	times 4096 - 8 db 0
data_words:
	dd 0x11111111, 0x22222222, 0x33333333, 0x44444444
go:
	dd 0
alias_calls:
	dd 0
sum_before:
	dd 0

section .bss align=4096
page_dir:
	resb 4096
alias_pt:
	resb 4096
	resb 4096
stack_top:
