; Control-register toggles a kernel makes while paging is on, checked
; exactly against the SDM (Vol. 3A 2.5, 4.6, 4.10.4.1): a VMM that keeps
; state per CR0.WP or per CR4.PGE must switch it without losing or keeping
; a translation it should not.
;  wp          CR0.WP cleared and set several times: a supervisor write to
;              a read-only page (PTE, and PDE over a writable PTE) goes
;              through with WP = 0 and faults with WP = 1 (#PF W|P, CR2,
;              EIP, memory untouched) however often the page was written
;              before; a ring-3 write to a read-only user page faults
;              (U|W|P) with either WP, reads and writable pages unaffected
;  wp_cr3      the same across CR3 switches between two directories that
;              map the read-only address to different frames, switching
;              CR3 with either WP and WP with either CR3
;  wp_pte      a PTE made writable, then read-only again (accessed and
;              dirty) while WP = 0 (INVLPG after each): with WP = 1 the
;              write faults again
;  pge         CR4.PGE toggled several times with global mappings: data
;              and code (called indirectly) on global pages that differ
;              between the directories; after a toggle the current
;              directory's are seen (the toggle flushes global entries),
;              as after a PTE change flushed by a toggle instead of INVLPG;
;              global code whose PTE changes, flushed by a toggle, and with
;              PGE clear by a CR3 reload
;  pge_direct  global code reached by a direct CALL from another page (a
;              VMM may jump there straight, as a TLB keeps the entry): a
;              PTE change flushed by INVLPG, by a PGE toggle, and by a
;              toggle after a CR3 load to a directory that maps the page
;              elsewhere, each seen at the next call
;
; Memory: the kernel at 1 MiB; page tables from paging.inc's pool at 12 MiB;
; test frames at 13 MiB (FRAME(n)). Both directories map the low 16 MiB
; 1:1 (supervisor) through shared tables.
%define GUEST_NAME "cr_toggle"
%include "lib.inc"
%include "paging.inc"
%include "rings.inc"

FRAME_BASE	equ 0x00d00000
%define FRAME(n) (FRAME_BASE + (n) * 0x1000)

L_RO		equ 0x40000000		; read-only: dir0 -> FRAME(0), dir1 -> FRAME(1)
L_RW		equ 0x40001000		; writable -> FRAME(2)
L_RO2		equ 0x40002000		; dir0 -> FRAME(3), PTE changed by wp_pte
L_UCODE		equ 0x40003000		; user, read-only -> FRAME(8): ucode copied
L_URO		equ 0x40004000		; user, read-only -> FRAME(9)
L_URW		equ 0x40005000		; user, writable -> FRAME(10)
L_USTK		equ 0x40006000		; user stack -> FRAME(11)
L_PDE_RO	equ 0x40400000		; read-only PDE, writable PTE -> FRAME(4)
L_G		equ 0x40800000		; global: dir0 -> FRAME(5), dir1 -> FRAME(6)
L_GCODE		equ 0x40801000		; global code: dir0 -> FRAME(12), dir1 -> FRAME(13)

ROUNDS		equ 6
CPUID_PGE	equ 1 << 13

; U(label): the linear address of a label of the ucode blob.
%define U(l) (L_UCODE + ((l) - ucode))

; map_in dir, linear, pte: one 4 KiB page in the directory at [dir].
%macro map_in 3
	mov edi, [%1]
	pg_map_page %2, %3
%endmacro


guest_start
	call lib_install_idt
	call rings_setup
	call pg_install_pf
	mov eax, 1
	cpuid
	mov [cpuid1_edx], edx
	cld
	mov edi, FRAME(0)
	mov ecx, 16 * 1024
	xor eax, eax
	rep stosd
	; the ring-3 code, and the two global code pages
	mov esi, ucode
	mov edi, FRAME(8)
	mov ecx, ucode_end - ucode
	rep movsb
	put_ret_imm FRAME(12), 12
	put_ret_imm FRAME(13), 13

	call pg_alloc
	mov [dir0], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	call pg_alloc
	mov [dir1], eax
	mov edi, eax
	xor esi, esi
	call pg_map_identity

	map_in dir0, L_RO, FRAME(0) | PG_P
	map_in dir1, L_RO, FRAME(1) | PG_P
	map_in dir0, L_RW, FRAME(2) | PG_P | PG_RW
	map_in dir1, L_RW, FRAME(2) | PG_P | PG_RW
	map_in dir0, L_RO2, FRAME(3) | PG_P
	map_in dir0, L_UCODE, FRAME(8) | PG_P | PG_US
	map_in dir1, L_UCODE, FRAME(8) | PG_P | PG_US
	map_in dir0, L_URO, FRAME(9) | PG_P | PG_US
	map_in dir1, L_URO, FRAME(9) | PG_P | PG_US
	map_in dir0, L_URW, FRAME(10) | PG_P | PG_US | PG_RW
	map_in dir1, L_URW, FRAME(10) | PG_P | PG_US | PG_RW
	map_in dir0, L_USTK, FRAME(11) | PG_P | PG_US | PG_RW
	map_in dir1, L_USTK, FRAME(11) | PG_P | PG_US | PG_RW
	map_in dir0, L_PDE_RO, FRAME(4) | PG_P | PG_RW
	mov esi, L_PDE_RO
	call pg_pde_addr
	and dword [eax], ~PG_RW
	map_in dir0, L_G, FRAME(5) | PG_P | PG_RW | PG_G
	map_in dir1, L_G, FRAME(6) | PG_P | PG_RW | PG_G
	map_in dir0, L_GCODE, FRAME(12) | PG_P | PG_G
	map_in dir1, L_GCODE, FRAME(13) | PG_P | PG_G

	mov eax, [dir0]
	call pg_enable

; ---------------------------------------------------------------- wp
group "wp"
t_wp:
	mov dword [round], 1
.round:
	mov ebp, [round]
	mov eax, CR0_WP
	call pg_clear_cr0
	call sup_writes_pass
	check dword [FRAME(0)], ebp
	check dword [FRAME(4) + 8], ebp
	call user_write_faults
	mov eax, CR0_WP
	call pg_set_cr0
	call sup_writes_fault
	check dword [FRAME(0) + 4], 0		; the faulting writes changed nothing
	check dword [FRAME(4) + 12], 0
	check dword [FRAME(2)], ebp
	call user_write_faults
	inc dword [round]
	cmp dword [round], ROUNDS
	jbe .round

; ---------------------------------------------------------------- wp_cr3
group "wp_cr3"
t_wp_cr3:
	mov dword [round], 1
.round:
	mov ebp, [round]
	; WP = 1 in dir0, then CR3 -> dir1 keeping WP = 1
	mov eax, CR0_WP
	call pg_set_cr0
	pf_faults L_RO, PF_W | PF_P, mov dword [L_RO], 0xbad
	mov eax, [dir1]
	mov cr3, eax
	pf_faults L_RO, PF_W | PF_P, mov dword [L_RO], 0xbad
	call user_write_faults
	; WP = 0 in dir1: the write reaches dir1's frame
	mov eax, CR0_WP
	call pg_clear_cr0
	pf_arm .r1
	mov [L_RO], ebp
.r1:
	pf_none
	check dword [FRAME(1)], ebp
	; CR3 -> dir0 keeping WP = 0: dir0's frame
	mov eax, [dir0]
	mov cr3, eax
	lea eax, [ebp + 0x100]
	pf_arm .r2
	mov [L_RO], eax
.r2:
	pf_none
	check dword [FRAME(0)], eax
	check dword [FRAME(1)], ebp
	call user_write_faults
	; WP = 1 in dir0 after the write with WP = 0
	mov eax, CR0_WP
	call pg_set_cr0
	pf_faults L_RO, PF_W | PF_P, mov dword [L_RO], 0xbad
	lea eax, [ebp + 0x100]
	check dword [FRAME(0)], eax
	check dword [L_RO], eax
	; back to dir1 with WP = 1: its page read-only too
	mov eax, [dir1]
	mov cr3, eax
	pf_faults L_RO, PF_W | PF_P, mov dword [L_RO], 0xbad
	check dword [L_RO], ebp
	mov eax, [dir0]
	mov cr3, eax
	inc dword [round]
	cmp dword [round], ROUNDS
	jbe .round
	check dword [FRAME(1) + 0x10], 0

; ---------------------------------------------------------------- wp_pte
group "wp_pte"
t_wp_pte:
	; filled with WP = 1 and with WP = 0 while read-only
	mov eax, CR0_WP
	call pg_set_cr0
	check dword [L_RO2], 0
	pf_faults L_RO2, PF_W | PF_P, mov dword [L_RO2], 0xbad
	mov eax, CR0_WP
	call pg_clear_cr0
	pf_arm .r1
	mov dword [L_RO2], 1
.r1:
	pf_none
	; made writable (WP = 1 now): written
	mov eax, CR0_WP
	call pg_set_cr0
	map_in dir0, L_RO2, FRAME(3) | PG_P | PG_RW
	invlpg [L_RO2]
	pf_arm .r2
	mov dword [L_RO2], 2
.r2:
	pf_none
	; written with WP = 0, then made read-only while WP = 0
	mov eax, CR0_WP
	call pg_clear_cr0
	pf_arm .r3
	mov dword [L_RO2], 3
.r3:
	pf_none
	map_in dir0, L_RO2, FRAME(3) | PG_P | PG_A | PG_D	; A, D: a VMM may map it at once
	invlpg [L_RO2]
	pf_arm .r4
	mov dword [L_RO2], 4
.r4:
	pf_none
	; WP = 1: read-only again
	mov eax, CR0_WP
	call pg_set_cr0
	pf_faults L_RO2, PF_W | PF_P, mov dword [L_RO2], 0xbad
	check dword [FRAME(3)], 4
	check dword [L_RO2], 4

; ---------------------------------------------------------------- pge
group "pge"
t_pge:
	mov eax, [cpuid1_edx]
	and eax, CPUID_PGE
	check eax, CPUID_PGE			; CPUID must offer PGE
	jz .no_pge
	mov dword [FRAME(5)], 5
	mov dword [FRAME(6)], 6
	mov eax, CR4_PGE
	call pg_set_cr4
	mov dword [round], 1
.round:
	; dir0's global pages, filled into whatever caches them
	check dword [L_G], 5
	call call_gcode
	check eax, 12
	call call_gcode
	check eax, 12
	; CR3 -> dir1: the global entries may stay (not checked); a PGE
	; toggle drops them
	mov eax, [dir1]
	mov cr3, eax
	call call_gcode
	mov eax, CR4_PGE
	call pg_clear_cr4
	call pg_set_cr4
	check dword [L_G], 6
	call call_gcode
	check eax, 13
	; CR3 -> dir0 with PGE clear: nothing global, dir0's at once
	mov eax, CR4_PGE
	call pg_clear_cr4
	mov eax, [dir0]
	mov cr3, eax
	check dword [L_G], 5
	call call_gcode
	check eax, 12
	mov eax, CR4_PGE
	call pg_set_cr4
	; writes through global pages, then a PTE change that only the
	; toggle flushes
	mov eax, [round]
	mov [L_G + 4], eax
	check dword [FRAME(5) + 4], eax
	map_in dir0, L_G, FRAME(7) | PG_P | PG_RW | PG_G
	mov eax, CR4_PGE
	call pg_clear_cr4
	call pg_set_cr4
	mov eax, [round]
	mov [L_G + 8], eax
	check dword [FRAME(7) + 8], eax
	check dword [FRAME(5) + 8], 0
	map_in dir0, L_G, FRAME(5) | PG_P | PG_RW | PG_G
	mov eax, CR4_PGE
	call pg_clear_cr4
	call pg_set_cr4
	check dword [L_G], 5
	inc dword [round]
	cmp dword [round], ROUNDS
	jbe .round
	; global code whose PTE changes, flushed by a toggle alone; toggles
	; that change nothing may keep translations (a VMM's or a TLB's) of
	; pages that did not move, never one of a page that did
	call call_gcode
	check eax, 12
	mov eax, CR4_PGE
	call pg_clear_cr4
	call pg_set_cr4
	call call_gcode
	check eax, 12
	map_in dir0, L_GCODE, FRAME(13) | PG_P | PG_G
	mov eax, CR4_PGE
	call pg_clear_cr4
	call pg_set_cr4
	call call_gcode
	check eax, 13
	; with PGE clear, a PTE change flushed by a CR3 reload
	mov eax, CR4_PGE
	call pg_clear_cr4
	call call_gcode
	check eax, 13
	map_in dir0, L_GCODE, FRAME(12) | PG_P | PG_G
	mov eax, cr3
	mov cr3, eax
	call call_gcode
	check eax, 12
	mov eax, CR4_PGE
	call pg_set_cr4
	call call_gcode
	check eax, 12
	mov eax, CR4_PGE
	call pg_clear_cr4
.no_pge:

; ---------------------------------------------------------------- pge_direct
group "pge_direct"
t_pge_direct:
	mov eax, [cpuid1_edx]
	and eax, CPUID_PGE
	jz .no_pge
	mov eax, CR4_PGE
	call pg_set_cr4
	mov dword [round], 1
.round:
	; each call runs the same CALL instruction, taken often enough to
	; be chained
	call direct_gcode_twice
	check eax, 12
	map_in dir0, L_GCODE, FRAME(13) | PG_P | PG_G
	invlpg [L_GCODE]
	call direct_gcode_twice
	check eax, 13
	map_in dir0, L_GCODE, FRAME(12) | PG_P | PG_G
	mov eax, CR4_PGE
	call pg_clear_cr4
	call pg_set_cr4
	call direct_gcode_twice
	check eax, 12
	; dir1 maps it to FRAME(13): the global entry may stay across the
	; CR3 load (not checked), a toggle drops it
	mov eax, [dir1]
	mov cr3, eax
	call direct_gcode
	mov eax, CR4_PGE
	call pg_clear_cr4
	call pg_set_cr4
	call direct_gcode_twice
	check eax, 13
	mov eax, [dir0]
	mov cr3, eax
	mov eax, CR4_PGE
	call pg_clear_cr4
	call pg_set_cr4
	call direct_gcode_twice
	check eax, 12
	inc dword [round]
	cmp dword [round], ROUNDS
	jbe .round
	mov eax, CR4_PGE
	call pg_clear_cr4
.no_pge:
	guest_finish

; call_gcode: EAX = what the code at L_GCODE returns (an indirect call).
call_gcode:
	mov eax, L_GCODE
	call eax
	ret

; direct_gcode: EAX = what the code at L_GCODE returns (a direct call,
; from a page of its own). direct_gcode_twice: the same twice, EAX the
; second's (a first call may still take the way a new translation does).
direct_gcode_twice:
	call direct_gcode
	mov ebx, eax
	call direct_gcode
	check eax, ebx
	ret

	align 4096
direct_gcode:
	call L_GCODE
	ret
	align 16

; sup_writes_pass: with WP = 0, EBP written to the read-only pages (PTE and
; PDE) and to the writable one without a fault. Preserves EBP.
sup_writes_pass:
	pf_arm .r
	mov [L_RO], ebp
	mov [L_PDE_RO + 8], ebp
	mov [L_RW], ebp
.r:
	pf_none
	check dword [L_RO], ebp
	ret

; sup_writes_fault: with WP = 1, writes to the read-only pages fault
; exactly, reads see the last WP = 0 write, the writable page takes EBP.
sup_writes_fault:
	check dword [L_RO], ebp
	check dword [L_PDE_RO + 8], ebp
	pf_faults L_RO + 4, PF_W | PF_P, mov dword [L_RO + 4], 0xbad
	pf_faults L_PDE_RO + 12, PF_W | PF_P, mov dword [L_PDE_RO + 12], 0xbad
	mov eax, 0x77
	pf_faults L_RO, PF_W | PF_P, add [L_RO], eax
	check dword [L_RO], ebp
	pf_arm .r
	mov [L_RW], ebp
.r:
	pf_none
	ret

; user_write_faults: at CPL 3, L_URO reads and L_URW takes a write, and a
; write to L_URO faults (U|W|P) whatever CR0.WP is. Preserves EBP.
user_write_faults:
	push ebp
	mov dword [FRAME(9)], 0x00005eed
	pf_arm U(ucode.resume)
	mov eax, U(ucode)
	mov edx, L_USTK + 0x1000
	xor ecx, ecx
	call rings_run_user_at
	pop ebp
	pf_expect L_URO, PF_U | PF_W | PF_P, U(ucode.write)
	check dword [rings_exit_frame], U(ucode.left)
	check dword [FRAME(10)], 0x00005eed
	check dword [FRAME(9)], 0x00005eed
	ret

; Ring 3's code, copied to FRAME(8) and run at L_UCODE.
ucode:
	mov eax, [L_URO]
	mov [L_URW], eax
.write:
	mov dword [L_URO], 0xbad
.resume:
	leave_user
.left:
ucode_end:

section .bss
alignb 4
dir0:		resd 1
dir1:		resd 1
round:		resd 1
cpuid1_edx:	resd 1
