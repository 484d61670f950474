; Hostile guest: every non-RAM physical page from the top of RAM to 4 GiB,
; sampled every 64 KiB plus every page next to a boundary (the end of
; RAM, each device page, the last page), read and written at widths 1, 2
; and 4 (bytes at both ends of the page): with paging off, with paging on
; through an identity map of 4 MiB pages, through 4 KiB pages of an alias
; window remapped batch by batch, and from ring 3. A PC shows all ones for
; a read nobody claims and drops the write, so every read outside the
; device pages must give all ones, also after a write; a dword straddling
; the end of RAM reads and writes RAM for its low half; ring 3 gets the
; #PF the page tables say when a page is supervisor-only; accesses across
; two pages without RAM read all ones too. The RAM size
; comes from the Multiboot information, so the same guest runs under any
; -m (CTest runs it at the minimum, 4 MiB, and at the maximum, 3072).
;
; Its page tables live in its own image (no pool above 4 MiB), so that it
; fits in the smallest RAM.
%define GUEST_NAME "hostile_phys"
%include "lib.inc"
%include "hostile_lib.inc"
%include "rings.inc"

PG_P		equ 0x001
PG_RW		equ 0x002
PG_US		equ 0x004
PG_PS		equ 0x080
ALIAS		equ 0x00400000		; the 4 KiB alias window: PDE 1
STRIDE		equ 0x10000
SUPER_ONLY	equ 0xe0400000		; a 4 MiB region ring 3 may not touch
UNCLAIMED_A	equ 0xe0800000		; nothing there
TD_END		equ 0xfebf1000		; the end of btvm's test device page

guest_start
	call hl_pci_off
	test dword [ebx], 1		; Multiboot flags: mem_lower/mem_upper
	jnz .mem
	fatal "no memory size in the Multiboot information"
.mem:
	mov eax, [ebx + 8]		; KiB above 1 MiB
	add eax, 1024
	shl eax, 10
	mov [ram_top], eax
	call lib_install_idt
	call rings_setup
	mov dword [lib_exc_hook], hl_exc_hook
	call build_tables

; ---------------------------------------------------- paging off
group "off"
t_off:
	hl_begin
	mov dword [probe_fn], probe_identity
	call for_each_sample
	hl_end
	call straddle_ram_end

; ------------------------------- accesses that straddle two pages
group "straddle"
t_straddle:
	call straddle_pages

; ---------------------------------------- paging on, 4 MiB pages
group "on_4m"
t_on_4m:
	mov eax, CR4_PSE
	mov cr4, eax
	hl_paging_on pd_identity
	jmp .on
.on:
	hl_begin
	mov dword [probe_fn], probe_identity
	call for_each_sample
	hl_end
	call straddle_ram_end
	call straddle_pages

; ------------------------------------------------ 4 KiB alias pages
group "on_4k"
t_on_4k:
	mov eax, pd_alias
	mov cr3, eax
	hl_begin
	mov dword [batch_n], 0
	mov dword [probe_fn], batch_add
	call for_each_sample
	call batch_run
	hl_end
	mov eax, pd_identity
	mov cr3, eax

; ------------------------------------------------------------ ring 3
group "user"
t_user:
	mov dword [x_count], 0
	mov eax, user_code
	xor ecx, ecx
	call rings_run_user
	check dword [u_byte], 0xff
	check dword [u_word], 0xffff
	check dword [u_dword], 0xffffffff
	check dword [u_after], 0xffffffff
	check dword [x_count], 1
	check dword [x_vec], 14
	check dword [x_err], 0x07	; present, write, user
	check dword [x_cr2], SUPER_ONLY + 0x10

	; paging off again, for the guest's end
	mov eax, cr0
	and eax, ~CR0_PG
	mov cr0, eax
	jmp .off
.off:
	guest_finish

; ------------------------------------------------------------------

; for_each_sample: calls [probe_fn] with EDX = each sampled physical page
; above RAM: every STRIDE from the first one past the end of RAM, then
; the boundary pages. Preserves registers.
for_each_sample:
	pushad
	mov edx, [ram_top]
	add edx, STRIDE - 1
	and edx, ~(STRIDE - 1)
	jz .extras			; RAM reaches 4 GiB: nothing above it
.stride:
	call [probe_fn]
	add edx, STRIDE
	jnz .stride
.extras:
	mov esi, boundary_pages
.next:
	mov edx, [esi]
	test edx, edx
	jz .top
	call [probe_fn]
	add esi, 4
	jmp .next
.top:
	; the pages right after the end of RAM
	mov edx, [ram_top]
	call [probe_fn]
	add edx, 0x1000
	call [probe_fn]
	popad
	ret

; probe_identity: EDX = physical page, reached at the same linear
; address (paging off, or the identity map).
probe_identity:
	push edi
	mov edi, edx
	call probe
	pop edi
	ret

; probe: EDI = linear page, EDX = the physical page behind it. Reads and
; writes of every width at both ends; outside the device pages every read
; must give all ones, before and after the writes. Preserves registers.
probe:
	pushad
	mov esi, device_pages
.dev:
	mov eax, [esi]
	test eax, eax
	jz .plain
	cmp eax, edx
	je .device
	add esi, 4
	jmp .dev
.device:
	call access_page		; the device's registers: no expectations
	popad
	ret
.plain:
	call access_page
	mov ecx, 1
	cmp dword [seen], 0x000000ff
	jne .bad
	cmp dword [seen + 4], 0x000000ff
	jne .bad
	mov ecx, 2
	cmp dword [seen + 8], 0x0000ffff
	jne .bad
	cmp dword [seen + 12], 0x0000ffff
	jne .bad
	mov ecx, 4
	cmp dword [seen + 16], 0xffffffff
	jne .bad
	cmp dword [seen + 20], 0xffffffff
	jne .bad
	mov ecx, 8
	cmp dword [seen + 24], 0xffffffff
	jne .bad
	cmp dword [seen + 28], 0xffffffff
	jne .bad
	popad
	ret
.bad:
	mov eax, [seen + 16]
	call hl_bad
	popad
	ret

; access_page: EDI = linear page. Reads into seen[] (byte at 0 and 0xfff,
; word at 2 and 0xffe, dword at 4 and 0xffc, then the dword at 4 and the
; word at 0xffe again after garbage was written at every width).
access_page:
	movzx eax, byte [edi]
	mov [seen], eax
	movzx eax, byte [edi + 0xfff]
	mov [seen + 4], eax
	movzx eax, word [edi + 2]
	mov [seen + 8], eax
	movzx eax, word [edi + 0xffe]
	mov [seen + 12], eax
	mov eax, [edi + 4]
	mov [seen + 16], eax
	mov eax, [edi + 0xffc]
	mov [seen + 20], eax
	mov eax, edi
	call hl_garbage
	mov [edi], al
	mov [edi + 0xfff], al
	mov [edi + 2], ax
	mov [edi + 0xffe], ax
	mov [edi + 4], eax
	mov [edi + 0xffc], eax
	mov eax, [edi + 4]
	mov [seen + 24], eax
	mov eax, [edi + 0xffc]
	mov [seen + 28], eax
	ret

; batch_add: EDX = physical page; maps it at the next alias page, and
; probes the batch once all 1024 alias pages are taken.
batch_add:
	push eax
	push ecx
	mov ecx, [batch_n]
	mov [batch_phys + ecx * 4], edx
	mov eax, edx
	or eax, PG_P | PG_RW
	mov [pt_alias + ecx * 4], eax
	inc ecx
	mov [batch_n], ecx
	cmp ecx, 1024
	jb .out
	call batch_run
.out:
	pop ecx
	pop eax
	ret

; batch_run: the PTEs are written; drop the TLB's stale entries (CR3
; reload) and probe every alias page of the batch.
batch_run:
	pushad
	mov eax, cr3
	mov cr3, eax
	xor ecx, ecx
.next:
	cmp ecx, [batch_n]
	jae .done
	mov edx, [batch_phys + ecx * 4]
	mov edi, ecx
	shl edi, 12
	add edi, ALIAS
	call probe
	inc ecx
	jmp .next
.done:
	mov dword [batch_n], 0
	popad
	ret

; straddle_ram_end: a dword whose low half is the last two bytes of RAM:
; the write lands there, the read gives them back with all ones above.
straddle_ram_end:
	pushad
	mov edi, [ram_top]
	mov word [edi - 2], 0
	mov dword [edi - 2], 0x11223344
	movzx eax, word [edi - 2]
	check eax, 0x3344
	mov eax, [edi - 2]
	check eax, 0xffff3344
	popad
	ret

; straddle_pages: words and dwords across the boundary of two unclaimed
; pages, and of the test device's page and the unclaimed page after it
; (only the unclaimed half is checked there: the device's page ends in
; its own registers).
straddle_pages:
	pushad
	mov edi, UNCLAIMED_A + 0x1000
	mov dword [edi - 2], 0x12345678
	mov eax, [edi - 2]
	check eax, 0xffffffff
	mov eax, [edi - 3]
	check eax, 0xffffffff
	mov eax, [edi - 1]
	check eax, 0xffffffff
	movzx eax, word [edi - 1]
	check eax, 0xffff
	mov edi, TD_END
	mov dword [edi - 2], 0x12345678
	mov eax, [edi - 2]
	shr eax, 16
	check eax, 0xffff
	movzx eax, word [edi - 1]
	shr eax, 8
	check eax, 0xff
	popad
	ret

; build_tables: pd_identity maps all 4 GiB onto itself with 4 MiB pages
; (user pages, but for the supervisor-only region SUPER_ONLY); pd_alias
; maps the first 4 MiB the same way and the alias window through pt_alias.
build_tables:
	pushad
	xor ecx, ecx
.pde:
	mov eax, ecx
	shl eax, 22
	or eax, PG_P | PG_RW | PG_US | PG_PS
	mov [pd_identity + ecx * 4], eax
	inc ecx
	cmp ecx, 1024
	jb .pde
	and dword [pd_identity + (SUPER_ONLY >> 22) * 4], ~PG_US
	mov eax, [pd_identity]
	mov [pd_alias], eax
	mov eax, pt_alias
	or eax, PG_P | PG_RW
	mov [pd_alias + (ALIAS >> 22) * 4], eax
	popad
	ret

; Ring 3 (user_code): MMIO nobody claims through user pages, then a write
; to a supervisor-only page, which must fault.
user_code:
	movzx eax, byte [0xe0000000]
	mov [u_byte], eax
	movzx eax, word [0xe0000ffe]
	mov [u_word], eax
	mov dword [0xe0001000], 0x12345678
	mov eax, [0xe0001000]
	mov [u_after], eax
	mov eax, [0xe0002ffc]
	mov [u_dword], eax
	mov dword [x_resume], .resume
	mov dword [SUPER_ONLY + 0x10], 1
.resume:
	leave_user

section .rodata
align 4
; Pages next to a boundary: the devices' neighbours and the last pages
; (the pages right after RAM are added at run time).
boundary_pages:
	dd 0xfebef000, 0xfebf1000, 0xfebff000
	dd 0xfec01000, 0xfecff000, 0xfed01000, 0xfedff000, 0xfee01000
	dd 0xffffe000, 0xfffff000
	dd 0
; The pages devices answer in: btvm's test device, the I/O APIC, the
; HPET, the local APIC.
device_pages:
	dd 0xfebf0000, 0xfec00000, 0xfed00000, 0xfee00000
	dd 0

section .bss
alignb 4096
pd_identity:	resd 1024
pd_alias:	resd 1024
pt_alias:	resd 1024
alignb 4
batch_phys:	resd 1024
batch_n:	resd 1
ram_top:	resd 1
probe_fn:	resd 1
seen:		resd 8
u_byte:		resd 1
u_word:		resd 1
u_dword:	resd 1
u_after:	resd 1
