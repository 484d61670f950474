; A boot sector that SeaBIOS loads at 0:7C00 from the first disk (tests/
; firmware/run_mbr.sh). From real mode, through the BIOS's own services, it
; checks what a boot loader relies on, reports on COM1 and leaves through
; isa-debug-exit (status 33 when every check passed, 35 when one failed;
; a failure names its check in a word, for the 446 bytes of a boot sector):
;   - DL holds a hard disk's number (0x80);
;   - INT 13h AH=41h says the extensions are there, AH=42h reads LBA 1 and
;     AH=02h reads the same sector by CHS (0/0/2), both the marker this
;     image carries there;
;   - INT 15h AX=E820h gives a map whose first entry is RAM at 0;
;   - INT 10h AH=0Eh writes a B to the screen;
;   - INT 1Ah AH=00h counts ticks (the PIT's IRQ 0 in real mode): two
;     reads some time apart differ.
bits 16
org 0x7c00

%define COM1 0x3f8

start:
	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, 0x7c00
	sti
	cld
	mov [drive], dl

	mov si, msg_boot
	call puts
	mov al, [drive]
	call puthex
	call newline
	cmp byte [drive], 0x80
	je .drive_ok
	mov si, msg_bad_drive
	call fail
.drive_ok:

	; INT 13h extensions present?
	mov ah, 0x41
	mov bx, 0x55aa
	mov dl, [drive]
	int 0x13
	jc .no_ext
	cmp bx, 0xaa55
	je .ext_ok
.no_ext:
	mov si, msg_no_ext
	call fail
.ext_ok:
	; Extended read of LBA 1 to 0:8000.
	mov si, dap
	mov ah, 0x42
	mov dl, [drive]
	int 0x13
	jc .read_failed
	mov si, 0x8000
	call check_marker
	jmp .chs
.read_failed:
	mov si, msg_read_failed
	call fail
.chs:
	; CHS read of cylinder 0, head 0, sector 2 (LBA 1) to 0:8400.
	mov ax, 0x0201
	mov bx, 0x8400
	mov cx, 0x0002
	mov dh, 0
	mov dl, [drive]
	int 0x13
	jc .chs_failed
	mov si, 0x8400
	call check_marker
	jmp .mem
.chs_failed:
	mov si, msg_chs_failed
	call fail

.mem:
	; The first E820 entry: RAM from address 0.
	xor ebx, ebx
	mov di, 0x9000
	mov eax, 0xe820
	mov ecx, 20
	mov edx, 0x534d4150
	int 0x15
	jc .e820_bad
	cmp dword [0x9000], 0
	jne .e820_bad
	cmp dword [0x9000 + 16], 1
	je .e820_ok
.e820_bad:
	mov si, msg_e820
	call fail
.e820_ok:
	; Teletype output on the screen: the run's screenshot has the B.
	mov ax, 0x0e42
	mov bx, 0x0007
	int 0x10

.ticks:
	; The BIOS tick count moves (18.2 Hz): wait with HLT until it does.
	xor ah, ah
	int 0x1a
	mov [tick0], dx
	mov cx, 200
.wait:
	hlt
	xor ah, ah
	int 0x1a
	cmp dx, [tick0]
	jne .ticked
	loop .wait
	mov si, msg_ticks
	call fail
.ticked:
	cmp byte [failed], 0
	jne .end
	mov si, msg_pass
	call puts
.end:
	mov al, [failed]       ; 0x10: passed (status 33), 0x11: failed (35)
	or al, 0x10
	out 0xf4, al
	jmp $

; Compares the 16 bytes at DS:SI with the marker.
check_marker:
	push si
	mov di, marker
	mov cx, marker_len
	repe cmpsb
	pop si
	je .same
	mov si, msg_marker
	call fail
.same:
	ret

; Reports the failure named by the string at SI and goes on.
fail:
	push si
	mov si, msg_fail
	call puts
	pop si
	call puts
	call newline
	mov byte [failed], 1
	ret

puts:
	lodsb
	test al, al
	jz .done
	call putc
	jmp puts
.done:
	ret

newline:
	mov al, 13
	call putc
	mov al, 10
	; fall through
putc:
	push dx
	push ax
	mov dx, COM1 + 5
.busy:
	in al, dx
	test al, 0x20
	jz .busy
	pop ax
	mov dx, COM1
	out dx, al
	pop dx
	ret

puthex:
	push ax
	shr al, 4
	call hexdigit
	pop ax
	and al, 0x0f
	; fall through
hexdigit:
	add al, '0'
	cmp al, '9'
	jbe putc
	add al, 'a' - '9' - 1
	jmp putc

dap:
	db 16, 0
	dw 1            ; sectors
	dw 0x8000, 0    ; buffer 0:8000
	dq 1            ; LBA 1

; What LBA 1 holds.
marker:	db "btvm sector one!"
marker_len equ $ - marker

drive:	db 0
failed:	db 0
tick0:	dw 0

msg_boot:	db "mbr drive ", 0
msg_bad_drive:	db "DL", 0
msg_no_ext:	db "13/41", 0
msg_read_failed: db "13/42", 0
msg_chs_failed:	db "13/02", 0
msg_marker:	db "marker", 0
msg_e820:	db "e820", 0
msg_ticks:	db "1a", 0
msg_fail:	db "FAIL mbr ", 0
msg_pass:	db "PASS mbr", 13, 10, 0

	times 446 - ($ - $$) db 0
	times 64 db 0           ; no partition table
	dw 0xaa55

; LBA 1: the marker the reads above look for.
	db "btvm sector one!"
	times 1024 - ($ - $$) db 0
