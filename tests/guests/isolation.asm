; Isolation: what btvm's CPUID model does not offer is #UD whatever the
; host runs, and every class of implicit memory access the model does
; offer reaches guest memory (through the window), never the monitor's.
; Registers are aimed at addresses where a 64-bit host process keeps
; things (0x7fff8000 is ASan's shadow, low addresses the monitor's image):
; an instruction copied as it is would write the host there (the ASan
; build reports it), and guest memory would not see it.
; Groups: ud (CLZERO, MONITOR(X), VMASKMOVDQU, CLFLUSHOPT, CLWB, XSAVE,
; RDRAND, MOVDIR64B, ENQCMD, WRSSD, PREFETCHW, AVX and AVX-512 moves,
; SYSCALL, MOVBE; the model's SSE3-SSE4.2, POPCNT, CLFLUSH and RDTSCP
; are cpu_model.asm's) at CPL 0 and CPL 3; cpuid (the
; model's leaves); nop (the reserved-NOP space 0F 18-1F, MPX and CET
; forms included); tzcnt (REP BSF on this CPU); fpu_ptr (FNSTENV,
; FNSAVE and FXSAVE store zeros, not the host's RIP, as x87 pointers);
; implicit (MASKMOVQ and
; MASKMOVDQU flat and through FS, string instructions, XLAT, stack
; instructions, ENTER/LEAVE, CALL/JMP through memory, BT with a register
; bit offset) landing in guest RAM.
%define GUEST_NAME "isolation"
%include "lib.inc"
%include "exc_record.inc"
%include "rings.inc"

MON_ADDR	equ 0x7fff8000
BUF		equ 0x00400000		; guest RAM, 4 MiB: a plausible host address too

; mon_regs: EAX, ECX, EDX, ESI and EDI all MON_ADDR, so that whatever an
; undefined encoding might read or write through them lands there.
%macro mon_regs 0
	mov eax, MON_ADDR
	mov ecx, eax
	mov edx, eax
	mov esi, eax
	mov edi, eax
%endmacro

; ud_case bytes...: run the bytes with EAX=ECX=EDX=ESI=EDI=MON_ADDR and
; expect exactly one #UD at them.
%macro ud_case 1+
	arm %%r
	mon_regs
%%f:
	db %1
%%r:
	check dword [x_count], 1
	check dword [x_vec], 6
	check dword [x_eip], %%f
%endmacro


; ud_case_user bytes...: the same at CPL 3, where check cannot print:
; counts the cases that saw exactly their #UD, and the others.
%macro ud_case_user 1+
	mov dword [x_count], 0
	mov dword [x_vec], -1
	mov dword [x_eip], -1
	mov dword [resume_eip], %%r
	mon_regs
%%f:
	db %1
%%r:
	cmp dword [x_count], 1
	jne %%bad
	cmp dword [x_vec], 6
	jne %%bad
	cmp dword [x_eip], %%f
	jne %%bad
	inc dword [user_uds]
	jmp %%done
%%bad:
	inc dword [user_fails]
%%done:
%endmacro

; the same list, at CPL 0 (UD_CASE = ud_case) and CPL 3 (ud_case_user)
%macro ud_list 0
	UD_CASE 0x0f, 0x01, 0xfc			; clzero
	UD_CASE 0x0f, 0x01, 0xc8			; monitor
	UD_CASE 0x0f, 0x01, 0xfa			; monitorx
	UD_CASE 0x0f, 0x01, 0xfb			; mwaitx
	UD_CASE 0xc5, 0xf9, 0xf7, 0xc1			; vmaskmovdqu xmm0, xmm1
	UD_CASE 0x66, 0x0f, 0xae, 0x38			; clflushopt [eax]
	UD_CASE 0x66, 0x0f, 0xae, 0x30			; clwb [eax]
	UD_CASE 0x0f, 0xae, 0x20			; xsave [eax]
	UD_CASE 0x0f, 0xc7, 0xf0			; rdrand eax
	UD_CASE 0x0f, 0xc7, 0xf8			; rdseed eax
	UD_CASE 0x66, 0x0f, 0x38, 0xf8, 0x02		; movdir64b eax, [edx]
	UD_CASE 0xf2, 0x0f, 0x38, 0xf8, 0x02		; enqcmd eax, [edx]
	UD_CASE 0x0f, 0x38, 0xf9, 0x00			; movdiri [eax], eax
	UD_CASE 0x0f, 0x38, 0xf6, 0x00			; wrssd [eax], eax
	UD_CASE 0x0f, 0x0d, 0x08			; prefetchw [eax]
	UD_CASE 0xc5, 0xfe, 0x7f, 0x00			; vmovdqu [eax], ymm0
	UD_CASE 0x62, 0xf1, 0xfe, 0x48, 0x7f, 0x00	; vmovdqu64 [eax], zmm0
	UD_CASE 0x0f, 0x05				; syscall
	UD_CASE 0x0f, 0x38, 0xf0, 0x00			; movbe eax, [eax]
%endmacro

guest_start
	call lib_install_idt
	mov dword [lib_exc_hook], exc_record
	call rings_setup
	; x87/SSE usable: EM = 0, MP = 1, NE = 1, TS = 0; OSFXSR
	mov eax, cr0
	and eax, ~((1 << 2) | (1 << 3))
	or eax, (1 << 1) | (1 << 5)
	mov cr0, eax
	mov eax, cr4
	or eax, 1 << 9
	mov cr4, eax
	; a pattern in the buffer: nothing in group ud may change it
	mov edi, BUF
	mov ecx, 0x1000
	mov eax, 0xa5a5a5a5
	rep stosd

group "ud"
%define UD_CASE ud_case
	ud_list
	mov esi, BUF
	mov ecx, 0x1000
	mov eax, 0xa5a5a5a5
	mov edi, esi
	repe scasd
	check ecx, 0

group "ud_user"
	mov eax, user_ud
	mov ecx, 0
	call rings_run_user
	check dword [user_fails], 0
	check dword [user_uds], 19

group "cpuid"
	xor eax, eax
	cpuid
	check eax, 0x16
	check ebx, 'Genu'
	check edx, 'ineI'
	check ecx, 'ntel'
	mov eax, 1
	cpuid
	check eax, 0x106a5			; family 6 model 0x1A stepping 5
	check ebx, 0x800			; CLFLUSH line 64 bytes, APIC ID 0
	check ecx, 0x00980201			; SSE3 SSSE3 SSE4.1 SSE4.2 POPCNT
	and edx, ~(1 << 9)			; APIC: follows the APIC base MSR
	check edx, 0x0789f9fb		; with PAE (bit 6), VME (bit 1)
	mov eax, 2
	cpuid
	mov esi, eax
	mov edi, edx
	; Leaf 4 (ECX the subleaf): the caches leaf 2 names (32 KiB 8-way L1
	; data, 32 KiB 4-way L1 code, 256 KiB 8-way L2, 8 MiB 16-way
	; inclusive L3, 64-byte lines), then a null one.
	mov eax, 4
	xor ecx, ecx
	cpuid
	check eax, 0x121
	check ebx, 0x01c0003f
	check ecx, 63
	check edx, 0
	mov eax, 4
	mov ecx, 1
	cpuid
	check eax, 0x122
	check ebx, 0x00c0003f
	check ecx, 127
	mov eax, 4
	mov ecx, 2
	cpuid
	check eax, 0x143
	check ebx, 0x01c0003f
	check ecx, 511
	mov eax, 4
	mov ecx, 3
	cpuid
	check eax, 0x163
	check ebx, 0x03c0003f
	check ecx, 8191
	check edx, 2
	mov eax, 4
	mov ecx, 4
	cpuid
	check eax, 0
	check ebx, 0
	check ecx, 0
	mov eax, 2				; other leaves ignore ECX
	mov ecx, 3
	cpuid
	check eax, esi
	check edx, edi
	mov eax, 7				; no structured extended features
	xor ecx, ecx
	cpuid
	check eax, 0
	check ebx, 0
	check ecx, 0
	check edx, 0
	mov eax, 0x16
	cpuid
	mov esi, eax
	mov edi, ecx
	mov eax, 0x17				; above the highest basic leaf
	cpuid
	check eax, esi
	check ecx, edi
	mov eax, 0x80000000
	cpuid
	check eax, 0x80000008
	mov eax, 0x80000001
	cpuid
	check edx, (1 << 20) | (1 << 27)	; NX, RDTSCP: no LM, no SYSCALL
	check ecx, 0
	mov eax, 0x80000008
	cpuid
	check eax, 0x2024			; 36-bit physical, 32-bit linear addresses
	mov eax, 0x80000002
	cpuid
	check eax, 'btvm'

group "nop"
	arm 0
	mov eax, MON_ADDR
	mov ebx, 0x12345678
	mov ecx, eax
	db 0x0f, 0x1e, 0xc3			; nop ebx, eax
	db 0x0f, 0x1a, 0x20			; bndldx bnd4, [eax]
	db 0x0f, 0x1b, 0x00			; bndstx [eax], bnd0
	db 0xf3, 0x0f, 0x1e, 0xfb		; endbr32
	db 0xf3, 0x0f, 0x1e, 0xc8		; rdsspd eax
	db 0x0f, 0x18, 0x00			; prefetchnta [eax]
	db 0x0f, 0x19, 0x84, 0x88, 0, 0, 0, 0x80	; nop [eax+ecx*4-0x80000000]
	db 0x0f, 0x1c, 0x00			; cldemote [eax]
	db 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00	; nop word [eax+eax]
	check dword [x_count], 0
	check eax, MON_ADDR
	check ebx, 0x12345678

group "tzcnt"
	mov ecx, 0x100
	db 0xf3, 0x0f, 0xbc, 0xc1		; tzcnt eax, ecx: bsf here
	check eax, 8
	mov eax, 0x77
	xor ecx, ecx
	db 0xf3, 0x0f, 0xbc, 0xc1		; zero: ZF set (tzcnt: CF and 32)
	check_flags F_ZF, F_ZF
	db 0xf3, 0x0f, 0xbd, 0xc1		; lzcnt eax, ecx: bsr here
	check_flags F_ZF, F_ZF
	mov ecx, 0x100
	db 0xf3, 0x0f, 0xbd, 0xc1
	check eax, 8

group "fpu_ptr"
	; the x87 instruction and data pointers a state save stores are the
	; host's RIP and selectors under btvm: they must read as zero
	mov edi, BUF + 0x800
	mov ecx, 0x80
	xor eax, eax
	rep stosd
	fninit
	fld1
	fld dword [qmask]
	fnstenv [BUF + 0x800]
	check dword [BUF + 0x800 + 12], 0	; FIP
	movzx eax, word [BUF + 0x800 + 16]	; FCS
	check eax, 0
	check dword [BUF + 0x800 + 20], 0	; FDP
	movzx eax, word [BUF + 0x800 + 24]	; FDS
	check eax, 0
	fld dword [qmask]
	o16 fnstenv [BUF + 0x840]
	check dword [BUF + 0x840 + 6], 0	; FIP, FCS
	check dword [BUF + 0x840 + 10], 0	; FDP, FDS
	fld dword [qmask]
	fnsave [BUF + 0x880]
	check dword [BUF + 0x880 + 12], 0
	check dword [BUF + 0x880 + 20], 0
	fld1
	fld dword [qmask]
	fxsave [BUF + 0x900]
	check dword [BUF + 0x900 + 8], 0	; FIP
	check dword [BUF + 0x900 + 12], 0	; FCS
	check dword [BUF + 0x900 + 16], 0	; FDP
	check dword [BUF + 0x900 + 20], 0	; FDS
	fninit

group "implicit"
	; MASKMOVQ / MASKMOVDQU: the hidden DS:EDI store
	mov dword [qmask], 0x80800080
	mov dword [qmask + 4], 0x00000080
	mov dword [qdata], 0x44332211
	mov dword [qdata + 4], 0x88776655
	movq mm1, [qmask]
	movq mm0, [qdata]
	mov edi, BUF
	maskmovq mm0, mm1
	check dword [BUF], 0x4433a511		; bytes 0, 2, 3 stored
	check dword [BUF + 4], 0xa5a5a555
	emms
	movdqu xmm1, [qmask]
	movdqu xmm0, [qdata]
	mov edi, BUF + 0x10
	maskmovdqu xmm0, xmm1
	check dword [BUF + 0x10], 0x4433a511
	mov edi, BUF + 0x20 - FS_BASE
	fs maskmovdqu xmm0, xmm1		; the monitor's store, FS based
	check dword [BUF + 0x20], 0x4433a511
	; strings
	mov edi, BUF + 0x100
	mov ecx, 3
	mov al, 0x5c
	rep stosb
	check dword [BUF + 0x100], 0xa55c5c5c
	mov esi, BUF + 0x100
	mov edi, BUF + 0x200
	mov ecx, 1
	rep movsd
	check dword [BUF + 0x200], 0xa55c5c5c
	mov esi, BUF + 0x200
	lodsd
	check eax, 0xa55c5c5c
	mov esi, BUF + 0x100
	mov edi, BUF + 0x200
	cmpsd
	check_flags F_ZF, F_ZF
	mov edi, BUF + 0x100
	mov al, 0x5c
	scasb
	check_flags F_ZF, F_ZF
	; XLAT: [EBX + AL]
	mov ebx, BUF + 0x100
	mov eax, 3
	xlatb
	check eax, 0xa5
	; stack: PUSH, PUSH m, POP m, PUSHAD/POPAD, ENTER/LEAVE, CALL [m], RET
	mov [saved_esp], esp
	mov esp, BUF + 0x400
	push dword 0x11223344
	push dword [BUF + 0x100]
	pop dword [BUF + 0x300]
	pushad
	popad
	enter 8, 0
	leave
	mov dword [BUF + 0x500], .after_call
	call [BUF + 0x500]
.after_call_back:
	mov eax, [saved_esp]
	xchg eax, esp
	check eax, BUF + 0x3fc
	check dword [BUF + 0x3fc], 0x11223344
	check dword [BUF + 0x300], 0xa55c5c5c
	; JMP through memory
	mov dword [BUF + 0x504], .after_jmp
	jmp [BUF + 0x504]
	fail_now "jmp [m] fell through"
.after_jmp:
	; BT/BTS with a register offset reaching past the operand
	mov eax, 8 * 0x600 + 1
	bts dword [BUF], eax
	check dword [BUF + 0x600], 0xa5a5a5a7
	guest_finish

.after_call:
	ret

; CPL 3: the same #UD list; counts what it saw (the hook records it).
user_ud:
	mov dword [user_uds], 0
	mov dword [user_fails], 0
%define UD_CASE ud_case_user
	ud_list
	leave_user


section .data
saved_esp:	dd 0
user_uds:	dd 0
user_fails:	dd 0
align 16
qmask:		times 16 db 0
qdata:		times 16 db 0
