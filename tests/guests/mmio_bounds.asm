; The monitor's limits a guest can push on, which must behave as a PC:
; more distinct instructions reaching MMIO than the adaptive set holds
; (it is emptied and refilled, the run goes on); code fetched from a
; physical address without RAM (all ones: FF FF, #UD at that EIP); an
; access past the top of the 4 GiB space (#GP(0), the flat segment's
; limit) and a dword read of the last bytes below 4 GiB; x87 state
; areas (FNSAVE/FRSTOR, FNSTENV/FLDENV) on a device; string
; instructions (MOVS, STOS, LODS, CMPS, SCAS, with REP) on a device;
; JMP/CALL [m], PUSH/POP m, BT* m,r, XLAT and MASKMOVQ/MASKMOVDQU on a
; device; the stack itself on a device and where nothing answers (PUSH,
; POP, PUSHAD, POPAD, PUSH/POP of a segment, CALL, RET, ENTER, LEAVE, and
; an exception's frame).
%define GUEST_NAME "mmio_bounds"
%include "lib.inc"
%include "exc_record.inc"

TESTDEV		equ 0xfebf0000		; btvm's test device: 256-byte scratch array
NO_RAM		equ 0xfeb00000		; nothing claims it
N_INSNS		equ 5000		; the adaptive set holds 2048


guest_start
	call lib_install_idt
	mov dword [lib_exc_hook], exc_record

group "many"
	mov dword [TESTDEV], 0x1234
	xor ebx, ebx
%rep N_INSNS
	add ebx, [TESTDEV]		; each a distinct instruction
%endrep
	check ebx, N_INSNS * 0x1234

group "fetch"
	arm .r1
	mov eax, NO_RAM
	jmp eax
.r1:
	check dword [x_count], 1
	check dword [x_vec], 6
	check dword [x_eip], NO_RAM

group "wrap"
	arm .r2
	mov eax, 0xfffffffc
.f2:
	mov ebx, [eax + 2]		; 0xfffffffe..0x100000001
.r2:
	check dword [x_count], 1
	check dword [x_vec], 13
	check dword [x_err], 0
	check dword [x_eip], .f2
	arm 0
	mov eax, [0xfffffffc]		; unclaimed: all ones
	check dword [x_count], 0
	check eax, 0xffffffff

group "wide"
	; x87 state areas wider than any register: FNSAVE/FRSTOR (108
	; bytes) and FNSTENV/FLDENV (28) on the device
	mov eax, cr0
	and eax, ~((1 << 2) | (1 << 3))
	or eax, (1 << 1) | (1 << 5)
	mov cr0, eax
	arm 0
	fninit
	fld1
	fld1
	faddp				; st0 = 2.0
	fnsave [TESTDEV]		; and reinitialises the FPU
	fldz
	frstor [TESTDEV]		; st0 = 2.0 again
	fistp dword [val]
	check dword [val], 2
	fld1
	fnstenv [TESTDEV]
	fldenv [TESTDEV]
	fistp dword [val]
	check dword [val], 1
	check dword [x_count], 0

group "strings"
	; string instructions on the device: each element one access, the
	; registers stepping as on RAM, forwards and backwards
	mov ebx, [TESTDEV + 0x100]		; writes so far
	mov edi, TESTDEV
	mov ecx, 8
	mov eax, 0x5a5a0000
	rep stosd				; 8 dword writes
	mov edx, [TESTDEV + 0x100]
	sub edx, ebx
	check edx, 8
	check ecx, 0
	check edi, TESTDEV + 32
	check dword [TESTDEV + 28], 0x5a5a0000
	check dword [TESTDEV + 0x104], 4	; last width
	mov dword [src_buf], 0x44332211
	mov dword [src_buf + 4], 0x88776655
	mov esi, src_buf
	mov edi, TESTDEV + 0x40
	mov ecx, 8
	rep movsb				; RAM to device
	check dword [TESTDEV + 0x44], 0x88776655
	check esi, src_buf + 8
	mov esi, TESTDEV + 0x40
	mov edi, dst_buf
	mov ecx, 2
	rep movsd				; device to RAM
	check dword [dst_buf + 4], 0x88776655
	mov esi, TESTDEV + 0x44
	std
	lodsd					; backwards
	cld
	check eax, 0x88776655
	check esi, TESTDEV + 0x40
	mov esi, TESTDEV + 0x40
	mov edi, src_buf
	mov ecx, 8
	repe cmpsb				; equal all along
	check_flags F_ZF, F_ZF
	check ecx, 0
	mov edi, TESTDEV + 0x40
	mov ecx, 8
	mov al, 0x55
	repne scasb				; found at byte 4
	check_flags F_ZF, F_ZF
	check ecx, 3
	check edi, TESTDEV + 0x45
	check dword [x_count], 0

group "forms"
	; instructions the translator expands itself, with their memory
	; operand on the device: JMP/CALL through it, PUSH and POP of it,
	; BT-family with a register bit offset
	mov dword [TESTDEV + 0x80], .jumped
	jmp [TESTDEV + 0x80]
	fail_now "jmp [mmio] fell through"
.jumped:
	mov dword [TESTDEV + 0x80], .called
	xor esi, esi
	call [TESTDEV + 0x80]
	check esi, 1
	mov dword [TESTDEV + 0x84], 0xcafe1234
	push dword [TESTDEV + 0x84]
	pop eax
	check eax, 0xcafe1234
	push dword 0x600dbeef
	pop dword [TESTDEV + 0x88]
	check dword [TESTDEV + 0x88], 0x600dbeef
	mov dword [TESTDEV + 0x94], 0
	mov ecx, 35				; dword at 0x94, bit 3
	bts dword [TESTDEV + 0x90], ecx
	check dword [TESTDEV + 0x94], 8
	bt dword [TESTDEV + 0x90], ecx
	check_flags F_CF, F_CF
	btr dword [TESTDEV + 0x90], ecx
	check dword [TESTDEV + 0x94], 0
	; XLAT, its table on the device and where nothing answers (all
	; ones): it ended the run before (hostile_random found it)
	mov byte [TESTDEV + 0xa5], 0x77
	mov ebx, TESTDEV + 0xa0
	mov eax, 0x12345605
	xlatb
	check eax, 0x12345677
	mov ebx, NO_RAM + 0x100
	mov eax, 0x80
	xlatb
	check eax, 0xff
	; MASKMOVQ and MASKMOVDQU (the store to DS:EDI is hidden): bytes 0
	; and 2 of 8, then 1 and 15 of 16
	mov dword [TESTDEV + 0xb0], 0
	mov dword [TESTDEV + 0xb4], 0
	movq mm0, [mm_data]
	movq mm1, [mm_mask]
	mov edi, TESTDEV + 0xb0
	maskmovq mm0, mm1
	emms
	check dword [TESTDEV + 0xb0], 0x00330011
	check dword [TESTDEV + 0xb4], 0
	mov eax, cr4
	or eax, 1 << 9				; OSFXSR
	mov cr4, eax
	movdqu xmm0, [xmm_data]
	movdqu xmm1, [xmm_mask]
	mov edi, TESTDEV + 0xc0
	mov dword [edi], 0
	mov dword [edi + 12], 0
	maskmovdqu xmm0, xmm1
	check dword [TESTDEV + 0xc0], 0x0000bb00
	check dword [TESTDEV + 0xcc], 0xaa000000
	mov edi, NO_RAM
	maskmovq mm0, mm1			; goes nowhere
	emms
	check dword [x_count], 0

group "stack"
	; ESP on the device: every stack instruction reaches it. These, and
	; MASKMOVQ, XLAT, ended the run before (hostile_random found them).
	mov [saved_esp], esp
	mov esp, TESTDEV + 0x80
	push dword 0x600dcafe
	mov ebx, [TESTDEV + 0x7c]
	pop ecx
	mov edx, esp
	mov esp, [saved_esp]
	check ebx, 0x600dcafe
	check ecx, 0x600dcafe
	check edx, TESTDEV + 0x80
	mov esp, TESTDEV + 0x80
	mov eax, 0x1111
	mov esi, 0x5555
	pushad
	xor eax, eax
	xor esi, esi
	popad
	mov edi, esp
	mov esp, [saved_esp]
	mov ebx, [TESTDEV + 0x7c]		; EAX's slot
	mov edx, [TESTDEV + 0x64]		; ESI's
	check ebx, 0x1111
	check edx, 0x5555
	check eax, 0x1111
	check esi, 0x5555
	check edi, TESTDEV + 0x80
	mov esp, TESTDEV + 0x80
	push ds
	pop es
	mov ebx, [TESTDEV + 0x7c]
	mov esp, [saved_esp]
	and ebx, 0xffff
	check ebx, SEL_DATA
	mov esp, TESTDEV + 0x80
	call .sub
.ret_here:
	mov esp, [saved_esp]
	check eax, .ret_here
	check ebx, 0x1234
	mov esp, TESTDEV + 0x80
	mov ebp, 0x77
	enter 16, 0
	mov ecx, ebp
	mov edx, esp
	leave
	mov ebx, ebp
	mov eax, esp
	mov esp, [saved_esp]
	check ecx, TESTDEV + 0x7c
	check edx, TESTDEV + 0x6c
	check ebx, 0x77
	check eax, TESTDEV + 0x80
	; an exception's frame on the device: the handler reads it there
	arm .r_ud
	mov esp, TESTDEV + 0x80
.f_ud:
	ud2
.r_ud:
	mov esp, [saved_esp]
	check dword [x_count], 1
	check dword [x_vec], 6
	check dword [x_eip], .f_ud
	; where nothing answers: pushes go nowhere, pops read all ones
	mov esp, NO_RAM + 0x80
	push dword 0x12345678
	pop eax
	push ds
	pop ecx
	call .sub_none
.none_back:
	mov edx, esp
	mov esp, [saved_esp]
	check eax, 0xffffffff
	check ecx, 0xffffffff
	check ebx, 0x4321
	check edx, NO_RAM + 0x80
	check dword [x_count], 1
	guest_finish

; The return address lies on the device, and RET takes it from there.
.sub:
	mov eax, [TESTDEV + 0x7c]
	mov ebx, 0x1234
	ret

; The return address went nowhere (RET would take all ones): back by hand.
.sub_none:
	mov ebx, 0x4321
	add esp, 4
	jmp .none_back

.called:
	inc esi
	ret


section .data
val:		dd 0
saved_esp:	dd 0
mm_data:	db 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88
mm_mask:	db 0x80, 0, 0x80, 0, 0, 0, 0, 0
xmm_data:	db 0, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xaa
xmm_mask:	db 0, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80
src_buf:	dd 0, 0
dst_buf:	dd 0, 0
