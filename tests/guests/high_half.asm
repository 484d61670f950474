; A Multiboot kernel linked high and loaded low, as higher-half kernels
; are (high_half.ld: linked at 3 GiB + 1 MiB, loaded at 1 MiB). It starts
; at its load address with paging off, where only relative branches and
; PHYS() addresses work; it maps the first 4 MiB at 0 and at 3 GiB, jumps
; to its link address and checks from there what a loader owes such a
; kernel: the Multiboot magic, and the command line GRUB and QEMU pass
; (the kernel's path, a word ending in ".elf", then --append's text, which
; the test gives as "hh-args one=1").
bits 32
%include "multiboot.inc"
multiboot_header

%define KERNEL_BASE 0xC0000000
%define PHYS(x) ((x) - KERNEL_BASE)
%define PTE_PRESENT_WRITABLE 0x003
%define CR0_PG 0x80000000

section .text
global _start
_start:
	cmp eax, 0x2BADB002
	jne fail
	mov esp, PHYS(stack_top)
	; One page table for 0-4 MiB, entered at both directory slots.
	mov edi, PHYS(page_table)
	mov eax, PTE_PRESENT_WRITABLE
	mov ecx, 1024
.fill:
	stosd
	add eax, 0x1000
	loop .fill
	mov eax, PHYS(page_table)
	or eax, PTE_PRESENT_WRITABLE
	mov [PHYS(page_dir)], eax
	mov [PHYS(page_dir) + (KERNEL_BASE >> 22) * 4], eax
	mov eax, PHYS(page_dir)
	mov cr3, eax
	mov eax, cr0
	or eax, CR0_PG
	mov cr0, eax
	mov eax, high
	jmp eax

high:
	mov esp, stack_top
	call here
here:
	pop eax
	cmp eax, KERNEL_BASE
	jb fail
	mov esi, s_running
	call puts
	; The information structure (low, identity-mapped): flag 2, cmdline.
	test dword [ebx], 1 << 2
	jz fail
	mov esi, [ebx + 16]
	call puts_quoted
	; First word: the kernel's path, ending in ".elf".
	mov edi, esi
.word:
	mov al, [edi]
	test al, al
	jz fail
	cmp al, ' '
	je .word_end
	inc edi
	jmp .word
.word_end:
	lea eax, [edi - 4]
	cmp eax, esi
	jb fail
	cmp dword [edi - 4], '.elf'
	jne fail
	; Then exactly the appended text.
	lea esi, [edi + 1]
	mov edi, s_args
.cmp:
	mov al, [esi]
	cmp al, [edi]
	jne fail
	test al, al
	jz .pass
	inc esi
	inc edi
	jmp .cmp
.pass:
	mov esi, s_pass
	call puts
	mov al, GUEST_PASS
	out 0xf4, al
	guest_fail_exit

; puts: ESI = a NUL-terminated string to COM1.
puts:
	push esi
	push eax
.next:
	lodsb
	test al, al
	jz .done
	call putc
	jmp .next
.done:
	pop eax
	pop esi
	ret

; puts_quoted: "cmdline: [ESI's string]" and a newline.
puts_quoted:
	push esi
	mov esi, s_cmdline
	call puts
	pop esi
	call puts
	push esi
	mov esi, s_close
	call puts
	pop esi
	ret

; putc: AL to COM1 once its transmitter is empty.
putc:
	push edx
	push eax
	mov dx, COM1 + 5
.wait:
	in al, dx
	test al, 0x20
	jz .wait
	pop eax
	mov dx, COM1
	out dx, al
	pop edx
	ret

section .rodata
s_running: db "INFO high_half: running at its link address above 3 GiB", 10, 0
s_cmdline: db "INFO high_half: command line [", 0
s_close: db "]", 10, 0
s_args: db "hh-args one=1", 0
s_pass: db "PASS high_half: entered at the load address, command line as GRUB passes it", 10, 0

section .bss
alignb 4096
page_dir: resb 4096
page_table: resb 4096
	resb 4096
stack_top:
