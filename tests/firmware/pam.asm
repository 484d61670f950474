; The i440FX's PAM registers after SeaBIOS's POST (tests/firmware/
; run_mbr.sh, under btvm and under QEMU with the same SeaBIOS): SeaBIOS
; leaves the F segment and the option ROMs' part of 0xC0000-0xEFFFF
; readable and not writable (PAM nibbles RE only), so writes there are
; dropped by the chipset, whoever makes them, while the code there runs.
; The boot sector loads the rest of this image behind itself (INT 13h
; AH=42h) and checks, reporting on COM1 and leaving through isa-debug-exit
; (33 when every check passed, 35 naming the failed one):
;   - pam:    PAM0 is 0x10 and PAM1's low nibble 1 (0xC0000 holds the VGA
;             BIOS), read through 0xcf8/0xcfc;
;   - f_byte, c_byte: a byte and a dword written to 0xF0010 and 0xC0010
;             read back unchanged;
;   - stos, movs: REP STOSB and REP MOVSD into 0xF0200 leave it as it was;
;   - exec:   with the F segment opened (PAM0 0x30), a routine copied to
;             F000:0300 stores into its own page and reads it back (0x99);
;             locked again, the same routine's store is dropped (0x11), and
;             a RETF written over its first byte is dropped too (it still
;             runs); opened, the saved bytes go back;
;   - open:   with PAM0 0x30 and PAM1 0x33 the writes of the first checks
;             stick, at both places, and REP STOSB does; then undone;
;   - paged:  in protected mode with paging on (one 4 MiB page), a store
;             and REP STOSD into 0xF0000 are dropped, stick once PAM0 is
;             0x30 written from there, and are dropped again at 0x10.
bits 16
org 0x7c00

%define COM1 0x3f8
%define SAVE 0x9000		; scratch copies, below the stack's page
%define STAGE2_SECTORS ((stage2_end - stage2 + 511) / 512)

start:
	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, 0x7c00
	sti
	cld
	mov si, dap
	mov ah, 0x42
	int 0x13
	jc .load_failed
	jmp stage2
.load_failed:
	mov si, msg_load
	jmp fail

dap:	db 16, 0
	dw STAGE2_SECTORS, 0x7e00, 0
	dq 1

; COM1, one byte (AL).
putc:
	push dx
	push ax
	mov dx, COM1 + 5
.wait:	in al, dx
	test al, 0x20
	jz .wait
	pop ax
	mov dx, COM1
	out dx, al
	pop dx
	ret

; The string at DS:SI.
puts:
	push ax
.next:	lodsb
	test al, al
	jz .done
	call putc
	jmp .next
.done:	pop ax
	ret

; "FAIL pam " and the check's name at SI, then status 35.
fail:
	push si
	mov si, msg_fail
	call puts
	pop si
	call puts
	mov al, 10
	call putc
	mov al, 0x11		; (0x11 << 1) | 1 = 35
	out 0xf4, al
	cli
	hlt

msg_load:	db "load", 0
msg_fail:	db "FAIL pam ", 0

	times 510 - ($ - $$) db 0
	dw 0xaa55

; ---- the rest, loaded at 0x7e00 -------------------------------------------

stage2:
	; pam: the registers as SeaBIOS left them.
	mov bl, 0x59
	call pam_read
	cmp al, 0x10
	jne .bad_pam
	mov bl, 0x5a
	call pam_read
	and al, 0x0f
	cmp al, 0x01
	je .pam_ok
.bad_pam:
	mov si, msg_pam
	jmp fail
.pam_ok:
	mov ax, 0xf000
	mov si, msg_f_byte
	call check_dropped
	mov ax, 0xc000
	mov si, msg_c_byte
	call check_dropped

	; stos: REP STOSB over 64 bytes of 0xF0200.
	call save_f200
	mov ax, 0xf000
	mov es, ax
	mov di, 0x200
	mov cx, 64
	mov al, 0xaa
	rep stosb
	mov si, msg_stos
	call same_as_saved
	; movs: REP MOVSD of 64 bytes of 0x55 from RAM onto it.
	xor ax, ax
	mov es, ax
	mov di, SAVE + 0x100
	mov cx, 64
	mov al, 0x55
	rep stosb
	mov ax, 0xf000
	mov es, ax
	mov si, SAVE + 0x100
	mov di, 0x200
	mov cx, 16
	rep movsd
	mov si, msg_movs
	call same_as_saved

	call exec_check
	call open_check
	jmp paged_check

; AL = the PAM register BL of the host bridge (00:00.0).
pam_read:
	push dx
	call pam_address
	in al, dx
	pop dx
	ret

; The PAM register BL = AL.
pam_write:
	push dx
	push ax
	call pam_address
	pop ax
	out dx, al
	pop dx
	ret

; CONFIG_ADDRESS for register BL's dword; DX = its byte in CONFIG_DATA.
pam_address:
	push eax
	mov eax, 0x80000000
	mov al, bl
	and al, 0xfc
	mov dx, 0xcf8
	out dx, eax
	mov dx, 0xcfc
	mov al, bl
	and ax, 3
	add dx, ax
	pop eax
	ret

; A byte and a dword written at AX:0010 are dropped; SI names the check.
check_dropped:
	mov es, ax
	mov bl, [es:0x10]
	mov al, bl
	not al
	mov [es:0x10], al
	cmp [es:0x10], bl
	jne .bad
	mov eax, [es:0x10]
	mov edx, eax
	not eax
	mov [es:0x10], eax
	cmp [es:0x10], edx
	jne .bad
	ret
.bad:	jmp fail

; 64 bytes of 0xF0200 to SAVE.
save_f200:
	push ds
	mov ax, 0xf000
	mov ds, ax
	xor ax, ax
	mov es, ax
	mov si, 0x200
	mov di, SAVE
	mov cx, 64
	rep movsb
	pop ds
	ret

; 0xF0200's 64 bytes are SAVE's still, or fail with SI's name.
same_as_saved:
	push si
	mov ax, 0xf000
	mov es, ax
	mov si, SAVE
	mov di, 0x200
	mov cx, 64
	repe cmpsb
	pop si
	jne .bad
	ret
.bad:	jmp fail

; The routine copied to F000:0300: its own byte at 0310 in AL, then a
; store of 0x99 there, then the byte again in AH.
routine:
	db 0x2e, 0xa0, 0x10, 0x03		; mov al, [cs:0x0310]
	db 0x2e, 0xc6, 0x06, 0x10, 0x03, 0x99	; mov byte [cs:0x0310], 0x99
	db 0x2e, 0x8a, 0x26, 0x10, 0x03		; mov ah, [cs:0x0310]
	db 0xcb					; retf
	db 0x11					; 0310: its byte
ROUTINE_LEN equ $ - routine

exec_check:
	cli				; nothing else may run SeaBIOS's bytes meanwhile
	mov bl, 0x59
	mov al, 0x30
	call pam_write
	; Save F000:0300 and put the routine there.
	push ds
	mov ax, 0xf000
	mov ds, ax
	xor ax, ax
	mov es, ax
	mov si, 0x300
	mov di, SAVE + 0x200
	mov cx, ROUTINE_LEN
	rep movsb
	pop ds
	mov ax, 0xf000
	mov es, ax
	mov si, routine
	mov di, 0x300
	mov cx, ROUTINE_LEN
	rep movsb
	xor ax, ax
	call 0xf000:0x0300
	cmp ax, 0x9911			; open: the store stuck
	jne .bad
	mov byte [es:0x310], 0x11
	mov bl, 0x59
	mov al, 0x10
	call pam_write
	xor ax, ax
	call 0xf000:0x0300
	cmp ax, 0x1111			; locked: the routine's own store dropped
	jne .bad
	mov byte [es:0x300], 0xcb	; a RETF over its start: dropped
	xor ax, ax
	call 0xf000:0x0300
	cmp ax, 0x1111
	jne .bad
	; Open, the saved bytes back, locked again.
	mov bl, 0x59
	mov al, 0x30
	call pam_write
	mov si, SAVE + 0x200
	mov di, 0x300
	mov cx, ROUTINE_LEN
	rep movsb
	mov bl, 0x59
	mov al, 0x10
	call pam_write
	mov si, SAVE + 0x200
	mov di, 0x300
	mov cx, ROUTINE_LEN
	repe cmpsb
	jne .bad
	sti
	ret
.bad:	mov si, msg_exec
	jmp fail

; Opened, writes stick at 0xF0010 and 0xC0010 and REP STOSB at 0xF0200;
; each put back, and the registers as they were.
open_check:
	mov bl, 0x5a
	call pam_read
	mov [saved_pam1], al
	cli
	mov bl, 0x59
	mov al, 0x30
	call pam_write
	mov bl, 0x5a
	mov al, 0x33
	call pam_write
	mov ax, 0xf000
	call check_sticks
	mov ax, 0xc000
	call check_sticks
	call save_f200
	mov ax, 0xf000
	mov es, ax
	mov di, 0x200
	mov cx, 64
	mov al, 0xaa
	rep stosb
	mov di, 0x200
	mov cx, 64
	repe scasb
	jne .bad
	xor ax, ax
	mov ds, ax
	mov si, SAVE
	mov di, 0x200
	mov cx, 64
	rep movsb
	mov bl, 0x59
	mov al, 0x10
	call pam_write
	mov bl, 0x5a
	mov al, [saved_pam1]
	call pam_write
	sti
	ret
.bad:	mov si, msg_open
	jmp fail

; A byte written at AX:0010 sticks; put back after.
check_sticks:
	mov es, ax
	mov bl, [es:0x10]
	mov al, bl
	not al
	mov [es:0x10], al
	cmp [es:0x10], al
	jne .bad
	mov [es:0x10], bl
	cmp [es:0x10], bl
	jne .bad
	ret
.bad:	mov si, msg_open
	jmp fail

saved_pam1:	db 0

; ---- protected mode with paging --------------------------------------------

%define PD 0x20000

paged_check:
	cli
	lgdt [gdt_ptr]
	mov eax, cr0
	or al, 1
	mov cr0, eax
	jmp 0x08:pm32

bits 32
pm32:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov esp, 0x7c00
	; One 4 MiB page at 0, supervisor, writable.
	mov edi, PD
	xor eax, eax
	mov ecx, 1024
	rep stosd
	mov dword [PD], 0x00000083
	mov eax, cr4
	or eax, 0x10			; PSE
	mov cr4, eax
	mov eax, PD
	mov cr3, eax
	mov eax, cr0
	or eax, 0x80000000
	mov cr0, eax
	jmp .paged
.paged:
	; A store and REP STOSD into the locked F segment: dropped.
	mov ebp, [0xf0010]
	mov eax, ebp
	not eax
	mov [0xf0010], eax
	cmp [0xf0010], ebp
	jne .bad
	mov esi, 0xf0200
	mov edi, SAVE
	mov ecx, 16
	rep movsd
	mov edi, 0xf0200
	mov ecx, 16
	mov eax, 0xdeadbeef
	rep stosd
	call .same
	; Opened from here: the store sticks (the same page, mapped already).
	mov bl, 0x59
	mov al, 0x30
	call pam_write32
	mov eax, ebp
	not eax
	mov [0xf0010], eax
	cmp [0xf0010], eax
	jne .bad
	mov [0xf0010], ebp
	; Locked again: dropped again.
	mov bl, 0x59
	mov al, 0x10
	call pam_write32
	mov eax, [0xf0010]
	not eax
	mov [0xf0010], eax
	not eax
	cmp [0xf0010], eax
	jne .bad
	mov edi, 0xf0200
	mov ecx, 16
	mov eax, 0x12345678
	rep stosd
	call .same
	mov esi, msg_pass
	call puts32
	mov al, 0x10			; (0x10 << 1) | 1 = 33
	out 0xf4, al
	hlt
.same:
	mov esi, SAVE
	mov edi, 0xf0200
	mov ecx, 16
	repe cmpsd
	jne .bad
	ret
.bad:
	mov esi, msg_paged_fail
	call puts32
	mov al, 0x11
	out 0xf4, al
	hlt

; The PAM register BL = AL, from 32-bit code.
pam_write32:
	push eax
	mov eax, 0x80000000
	mov al, bl
	and al, 0xfc
	mov dx, 0xcf8
	out dx, eax
	movzx edx, bl
	and edx, 3
	add edx, 0xcfc
	pop eax
	out dx, al
	ret

puts32:
	lodsb
	test al, al
	jz .done
	mov ah, al
	mov dx, COM1 + 5
.wait:	in al, dx
	test al, 0x20
	jz .wait
	mov al, ah
	mov dx, COM1
	out dx, al
	jmp puts32
.done:	ret

bits 16

align 8
gdt:	dq 0
	dq 0x00cf9a000000ffff		; 0x08: flat code, 32-bit
	dq 0x00cf92000000ffff		; 0x10: flat data
gdt_ptr:
	dw gdt_ptr - gdt - 1
	dd gdt

msg_pam:	db "pam", 0
msg_f_byte:	db "f_byte", 0
msg_c_byte:	db "c_byte", 0
msg_stos:	db "stos", 0
msg_movs:	db "movs", 0
msg_exec:	db "exec", 0
msg_open:	db "open", 0
msg_paged_fail:	db "FAIL pam paged", 10, 0
msg_pass:	db "PASS pam", 13, 10, 0

stage2_end:
