; btvm's CPU model (src/isa/cpuid.c, src/isa/msr.c): what a Nehalem-like
; family 6 model 0x1A CPU shows a 32-bit kernel, checked against the SDM.
;  cpuid        leaf 1's signature, the features the model adds (SSE3,
;               SSSE3, SSE4.1, SSE4.2, POPCNT; MCE, MTRR, MCA, PAT,
;               CLFSH) and the CLFLUSH line size, RDTSCP in 0x80000001
;               (leaf 0xA and the performance counters: pmu.asm)
;  cpuid_exact  btvm's exact leaf 1 (no VMX, MONITOR, x2APIC, CX16 ...)
;  cpuid_topology leaf 0xB: one thread, one core, x2APIC ID 0
;  cpuid_l2     leaf 0x80000006's L2 size and line are leaf 4's L2's
;  cpuid_l2_exact btvm's exact leaf 0x80000006 (a Core i7 920's)
;  mtrr         MTRRCAP (8 variable pairs, fixed ranges, WC); MTRRdefType,
;               a variable pair and fixed ranges written and read back
;  pat          IA32_PAT's power-on value, written and read back
;  mca          MCG_CAP's banks, MCG_STATUS and MCi_STATUS/ADDR read no
;               error, MCi_CTL written and read back, zeros written
;  msr_gp       #GP(0) for reserved bits and invalid memory types (MTRRs,
;               PAT), read-only MTRRCAP and MCG_CAP, non-zero MCi_STATUS,
;               TSC_AUX's upper half, an unknown MSR
;  misc_enable  IA32_MISC_ENABLE: its value, its writable bits, #GP on
;               its read-only and reserved ones, limit-CPUID-maxval (its
;               XD-disable bit: pmu.asm)
;  cr0_pg       MOV CR0 with PG but not PE: #GP(0)
;  cr0          MOV CR0 with NW but not CD: #GP(0); CD and NW both taken
;  cr0_reserved CR0's reserved bits are ignored and read as 0
;  cr4_reserved CR4's reserved bits (UMIP, LA57, VMXE, SMXE, FSGSBASE,
;               PCIDE, OSXSAVE, SMEP, SMAP, 31): #GP(0)
;  cr4          TSD, MCE, PCE, PGE, PSE, OSFXSR, OSXMMEXCPT written and
;               read back
;  cr4_cpuid    VME, DE, PAE: writable exactly when CPUID.1:EDX has the
;               feature (PAE and the others follow the model)
;  rdtscp       RDTSCP returns the TSC and IA32_TSC_AUX in ECX
;  clflush      CLFLUSH of RAM and of device memory (the local APIC, the
;               I/O APIC) changes nothing and does not fault
;  clflush_pf   CLFLUSH of a page not present: #PF as a byte load (error 0)
;  sse          one instruction of each extension with a memory operand:
;               LDDQU, PSHUFB, PEXTRD (a store), PCMPISTRI, CRC32, POPCNT
; Under QEMU (-cpu Nehalem,+rdtscp: guest_cpu_model_qemu) the btvm-exact
; groups and those where QEMU 7.2 does not check what the SDM says are
; excused (msr_gp, misc_enable, cr0, cr0_reserved, rdtscp's TSC_AUX,
; clflush_pf, cpuid_l2: tests/guests/CMakeLists.txt says how QEMU differs); cr0_pg and
; cr4_reserved, where QEMU would hang or lose the machine, skip their
; checks when CPUID reports a hypervisor (QEMU does, btvm does not).
%define GUEST_NAME "cpu_model"
%include "lib.inc"
%include "exc_record.inc"
%include "paging.inc"

IA32_MISC_ENABLE	equ 0x1a0
IA32_MTRRCAP		equ 0xfe
IA32_MTRR_DEF_TYPE	equ 0x2ff
IA32_MTRR_PHYSBASE0	equ 0x200
IA32_MTRR_PHYSMASK0	equ 0x201
IA32_MTRR_FIX64K	equ 0x250
IA32_MTRR_FIX4K_F8000	equ 0x26f
IA32_PAT		equ 0x277
IA32_MCG_CAP		equ 0x179
IA32_MCG_STATUS		equ 0x17a
IA32_MC0_CTL		equ 0x400
IA32_MC0_STATUS		equ 0x401
IA32_MC1_ADDR		equ 0x406
IA32_TSC_AUX		equ 0xc0000103

CR0_NW			equ 1 << 29
CR0_CD			equ 1 << 30

NOT_PRESENT		equ 0x40001000		; mapped by nothing in clflush_pf
LAPIC			equ 0xfee00000
CRC_EXPECTED		equ 0x4dece20c		; CRC32C of 0x12345678 from ~0 (no final XOR)
IOAPIC			equ 0xfec00000

; wrmsr_gp index, high, low: WRMSR of high:low raises #GP(0) and
; changes nothing the next read sees (the caller checks that).
%macro wrmsr_gp 3
	arm %%r
	mov ecx, %1
	mov edx, %2
	mov eax, %3
%%f:
	wrmsr
%%r:
	expect 13, %%f, 0
%endmacro

; rdmsr_gp index: RDMSR raises #GP(0).
%macro rdmsr_gp 1
	arm %%r
	mov ecx, %1
%%f:
	rdmsr
%%r:
	expect 13, %%f, 0
%endmacro

; wrmsr_ok index, high, low: WRMSR without a fault, then RDMSR reads
; high:low back.
%macro wrmsr_ok 3
	arm 0
	mov ecx, %1
	mov edx, %2
	mov eax, %3
	wrmsr
	mov eax, 0x5a5a5a5a
	mov edx, eax
	rdmsr
	check edx, %2
	check eax, %3
	check dword [x_count], 0
%endmacro

; rdmsr_is index, high, low: RDMSR reads high:low.
%macro rdmsr_is 3
	arm 0
	mov ecx, %1
	rdmsr
	check edx, %2
	check eax, %3
	check dword [x_count], 0
%endmacro

; mov_cr_gp n, value: MOV CRn, value raises #GP(0) and CRn is unchanged
; (clobbers EAX, EBX).
%macro mov_cr_gp 2
	mov ebx, cr%1
	arm %%r
	mov eax, %2
%%f:
	mov cr%1, eax
%%r:
	expect 13, %%f, 0
	mov eax, cr%1
	check eax, ebx
	mov cr%1, ebx			; as it was, also where the write was taken
%endmacro

; cr4_bit_ok bit: CR4 with the bit set is taken and reads back; cleared
; again after.
%macro cr4_bit_ok 1
	arm 0
	mov eax, cr4
	or eax, %1
	mov cr4, eax
	mov eax, cr4
	and eax, %1
	check eax, %1
	mov eax, cr4
	and eax, ~(%1)
	mov cr4, eax
	check dword [x_count], 0
%endmacro

guest_start
	call lib_install_idt
	mov dword [lib_exc_hook], exc_record
	; x87/SSE usable: EM = 0, MP = 1, NE = 1, TS = 0; OSFXSR
	mov eax, cr0
	and eax, ~((1 << 2) | (1 << 3))
	or eax, (1 << 1) | (1 << 5)
	mov cr0, eax
	mov eax, cr4
	or eax, 1 << 9
	mov cr4, eax

group "cpuid"
	mov eax, 1
	cpuid
	mov esi, eax
	and esi, 0x0fff0ff0			; family 6, extended model 1, model 0xA
	check esi, 0x000106a0
	mov esi, ebx
	and esi, 0xff00				; CLFLUSH line: 8 * 8 = 64 bytes
	check esi, 0x0800
	mov esi, ecx
	and esi, 0x00980201			; SSE3 SSSE3 SSE4.1 SSE4.2 POPCNT
	check esi, 0x00980201
	mov esi, edx
	and esi, 0x00095080			; MCE MTRR MCA PAT CLFSH
	check esi, 0x00095080
	mov eax, 0x80000001
	cpuid
	and edx, 1 << 27			; RDTSCP
	check edx, 1 << 27

group "cpuid_exact"
	mov eax, 1
	cpuid
	check eax, 0x000106a5
	check ebx, 0x00000800
	check ecx, 0x00980201
	and edx, ~(1 << 9)			; APIC: follows the APIC base MSR
	check edx, 0x0789f9fb		; PAE (bit 6), VME (bit 1) too
	mov eax, 0x80000001
	cpuid
	check ecx, 0
	check edx, (1 << 20) | (1 << 27)	; NX, RDTSCP

group "cpuid_topology"
	; Leaf 0xB: one thread (SMT level), one core (core level), then an
	; invalid level; x2APIC ID 0 at each. QEMU -cpu Nehalem answers the
	; same for one CPU.
	mov eax, 0xb
	xor ecx, ecx
	cpuid
	check eax, 0
	check ebx, 1
	check ecx, 0x100
	check edx, 0
	mov eax, 0xb
	mov ecx, 1
	cpuid
	check eax, 0
	check ebx, 1
	check ecx, 0x201
	check edx, 0
	mov eax, 0xb
	mov ecx, 2
	cpuid
	check eax, 0
	check ebx, 0
	check ecx, 2
	check edx, 0

group "cpuid_l2"
	; Leaf 0x80000006 names the L2 that leaf 4's unified level-2 subleaf
	; does: size in KiB, line size (the ways' encoding is checked under
	; btvm only, exactly: 0x01006040, a Core i7 920's).
	mov esi, 0
.find_l2:
	mov eax, 4
	mov ecx, esi
	cpuid
	inc esi
	test eax, eax
	jz .no_l2
	and eax, 0xff
	cmp eax, 0x43				; unified, level 2
	jne .find_l2
	; size = ways * partitions * line * sets
	mov eax, ebx
	shr eax, 22
	inc eax
	mov edi, ebx
	shr edi, 12
	and edi, 0x3ff
	inc edi
	imul eax, edi
	mov edi, ebx
	and edi, 0xfff
	inc edi
	mov [l2_line], edi
	imul eax, edi
	inc ecx
	imul eax, ecx
	shr eax, 10
	mov [l2_kib], eax
	mov eax, 0x80000006
	cpuid
	mov eax, ecx
	shr eax, 16
	check eax, dword [l2_kib]
	mov eax, ecx
	and eax, 0xff
	check eax, dword [l2_line]
	jmp .l2_done
.no_l2:
	check esi, -1				; leaf 4 has no L2: fails
.l2_done:

group "cpuid_l2_exact"
	mov eax, 0x80000006
	cpuid
	check eax, 0
	check ebx, 0
	check ecx, 0x01006040
	check edx, 0

group "mtrr"
	rdmsr_is IA32_MTRRCAP, 0, 0x508		; VCNT 8, FIX, WC; no SMRR
	wrmsr_ok IA32_MTRR_DEF_TYPE, 0, 0xc06	; E, FE, default WB
	wrmsr_ok IA32_MTRR_PHYSBASE0, 0, 0xc0000000	; UC from 3 GiB
	wrmsr_ok IA32_MTRR_PHYSMASK0, 0, 0xc0000800	; 1 GiB, valid
	wrmsr_ok IA32_MTRR_PHYSBASE0 + 14, 0, 0x00100005	; WP
	wrmsr_ok IA32_MTRR_PHYSMASK0 + 14, 0, 0xfff00000	; not valid
	wrmsr_ok IA32_MTRR_FIX64K, 0x06060606, 0x06060606
	wrmsr_ok IA32_MTRR_FIX4K_F8000, 0x05050504, 0x01000006
	wrmsr_ok 0x258, 0x00000000, 0x01000000	; FIX16K_80000
	wrmsr_ok 0x259, 0x00000000, 0x00000000	; FIX16K_A0000

group "pat"
	rdmsr_is IA32_PAT, 0x00070406, 0x00070406	; the power-on value
	wrmsr_ok IA32_PAT, 0x00070106, 0x00070406	; WC in entry 5
	wrmsr_ok IA32_PAT, 0x00070406, 0x00070406

group "mca"
	arm 0
	mov ecx, IA32_MCG_CAP
	rdmsr
	and eax, 0xff				; banks
	cmp eax, 0
	setne al
	movzx eax, al
	check eax, 1
	rdmsr_is IA32_MCG_STATUS, 0, 0
	rdmsr_is IA32_MC0_STATUS, 0, 0
	rdmsr_is IA32_MC1_ADDR, 0, 0
	wrmsr_ok IA32_MC0_CTL, 0xffffffff, 0xffffffff
	wrmsr_ok IA32_MC0_STATUS, 0, 0

group "msr_gp"
	wrmsr_ok IA32_MTRR_DEF_TYPE, 0, 0xc06
	wrmsr_gp IA32_MTRR_DEF_TYPE, 0, 0xe06	; bit 9 reserved
	wrmsr_gp IA32_MTRR_DEF_TYPE, 0, 0xc02	; type 2 reserved
	wrmsr_gp IA32_MTRR_DEF_TYPE, 1, 0xc06	; bit 32 reserved
	rdmsr_is IA32_MTRR_DEF_TYPE, 0, 0xc06
	wrmsr_ok IA32_MTRR_PHYSBASE0, 0, 0xc0000000
	wrmsr_gp IA32_MTRR_PHYSBASE0, 0, 0xc0000007	; type 7: PAT's only
	wrmsr_gp IA32_MTRR_PHYSBASE0, 0, 0xc0000100	; bits 11:8 reserved
	wrmsr_gp IA32_MTRR_PHYSBASE0, 0x10, 0xc0000000	; above MAXPHYADDR (36)
	wrmsr_ok IA32_MTRR_PHYSBASE0, 0xf, 0xc0000000	; bits 35:32: below it
	rdmsr_is IA32_MTRR_PHYSBASE0, 0xf, 0xc0000000
	wrmsr_ok IA32_MTRR_PHYSBASE0, 0, 0xc0000000
	wrmsr_gp IA32_MTRR_PHYSMASK0, 0, 0xc0000801	; bits 10:0 reserved
	rdmsr_is IA32_MTRR_PHYSBASE0, 0, 0xc0000000
	wrmsr_gp IA32_MTRR_FIX64K, 0x06060606, 0x06030606	; type 3
	rdmsr_is IA32_MTRR_FIX64K, 0x06060606, 0x06060606
	wrmsr_gp IA32_PAT, 0x00070406, 0x00070402		; type 2
	wrmsr_gp IA32_PAT, 0x00070406, 0x00070486		; bit 7 of an entry
	rdmsr_is IA32_PAT, 0x00070406, 0x00070406
	wrmsr_gp IA32_MTRRCAP, 0, 0x508
	wrmsr_gp IA32_MCG_CAP, 0, 9
	wrmsr_gp IA32_MC0_STATUS, 0x80000000, 0
	wrmsr_gp IA32_MCG_STATUS, 0, 8			; bit 3: no LMCE
	wrmsr_gp IA32_TSC_AUX, 1, 0
	rdmsr_gp 0x12345678
	wrmsr_gp 0x12345678, 0, 0
	rdmsr_gp 0x17b					; MCG_CTL: MCG_CAP.CTL_P clear
	rdmsr_gp IA32_MC0_CTL + 4 * 9			; past the last bank

group "misc_enable"
	; fast strings, automatic thermal control; performance monitoring
	; available; BTS and PEBS unavailable
	rdmsr_is IA32_MISC_ENABLE, 0, 0x1889
	wrmsr_ok IA32_MISC_ENABLE, 0, 0x1888		; fast strings off
	wrmsr_ok IA32_MISC_ENABLE, 0, 0x00801889	; xTPR disable
	wrmsr_ok IA32_MISC_ENABLE, 0, 0x1889
	wrmsr_gp IA32_MISC_ENABLE, 0, 0x1809		; bit 7 read-only
	wrmsr_gp IA32_MISC_ENABLE, 0, 0x0889		; bit 12 read-only
	wrmsr_gp IA32_MISC_ENABLE, 0, 0x41889		; MONITOR: not offered
	wrmsr_gp IA32_MISC_ENABLE, 0x40, 0x1889		; turbo disable: no turbo
	wrmsr_gp IA32_MISC_ENABLE, 0, 0x1899		; bit 4 reserved
	rdmsr_is IA32_MISC_ENABLE, 0, 0x1889
	; limit CPUID maxval: leaf 0 says 2
	wrmsr_ok IA32_MISC_ENABLE, 0, 0x401889
	xor eax, eax
	cpuid
	check eax, 2
	wrmsr_ok IA32_MISC_ENABLE, 0, 0x1889
	xor eax, eax
	cpuid
	check eax, 0x16

group "cr0_pg"
	; PG without PE. QEMU 7.2 takes it and loses the machine: skipped
	; where CPUID.1:ECX says a hypervisor is there (btvm's model does
	; not; QEMU's does).
	mov eax, 1
	cpuid
	bt ecx, 31
	jc .skip_pg
	mov eax, cr0
	and eax, ~1
	or eax, 1 << 31
	mov_cr_gp 0, eax
.skip_pg:

group "cr0"
	mov eax, cr0
	and eax, ~CR0_CD			; NW without CD
	or eax, CR0_NW
	mov_cr_gp 0, eax
	; CD and NW together, and CD alone, are taken
	arm 0
	mov ebx, cr0
	mov eax, ebx
	or eax, CR0_CD | CR0_NW
	mov cr0, eax
	mov eax, cr0
	and eax, CR0_CD | CR0_NW
	check eax, CR0_CD | CR0_NW
	mov eax, ebx
	or eax, CR0_CD
	mov cr0, eax
	mov cr0, ebx
	check dword [x_count], 0

group "cr0_reserved"
	mov ebx, cr0
	mov eax, ebx
	or eax, (1 << 6) | (1 << 15) | (1 << 28)
	mov cr0, eax
	mov eax, cr0
	check eax, ebx
	mov cr0, ebx

group "cr4_reserved"
	; QEMU 7.2 (TCG) does not raise #GP here (its check leaves through
	; an SVM exit that is not there, and the MOV runs for ever): skipped
	; where a hypervisor is reported, as in cr0_pg.
	mov eax, 1
	cpuid
	bt ecx, 31
	jc .skip_reserved
	mov eax, cr4
	or eax, (1 << 11)			; UMIP
	mov_cr_gp 4, eax
	mov eax, cr4
	or eax, (1 << 12)			; LA57
	mov_cr_gp 4, eax
	mov eax, cr4
	or eax, (1 << 13)			; VMXE
	mov_cr_gp 4, eax
	mov eax, cr4
	or eax, (1 << 14)			; SMXE
	mov_cr_gp 4, eax
	mov eax, cr4
	or eax, (1 << 16)			; FSGSBASE
	mov_cr_gp 4, eax
	mov eax, cr4
	or eax, (1 << 17)			; PCIDE
	mov_cr_gp 4, eax
	mov eax, cr4
	or eax, (1 << 18)			; OSXSAVE
	mov_cr_gp 4, eax
	mov eax, cr4
	or eax, (1 << 20)			; SMEP
	mov_cr_gp 4, eax
	mov eax, cr4
	or eax, (1 << 21)			; SMAP
	mov_cr_gp 4, eax
	mov eax, cr4
	or eax, (1 << 31)
	mov_cr_gp 4, eax
.skip_reserved:

group "cr4"
	cr4_bit_ok 1 << 2			; TSD
	cr4_bit_ok 1 << 4			; PSE
	cr4_bit_ok 1 << 6			; MCE
	cr4_bit_ok 1 << 7			; PGE
	cr4_bit_ok 1 << 8			; PCE
	cr4_bit_ok 1 << 10			; OSXMMEXCPT
	mov eax, cr4
	and eax, 1 << 9				; OSFXSR still set
	check eax, 1 << 9

group "cr4_cpuid"
	; VME (CR4 bit 0, CPUID.1:EDX bit 1), DE (3, 2), PAE (5, 6)
	mov ebx, (0 << 8) | 1
	call cr4_follows_cpuid
	mov ebx, (3 << 8) | 2
	call cr4_follows_cpuid
	mov ebx, (5 << 8) | 6
	call cr4_follows_cpuid

group "rdtscp"
	wrmsr_ok IA32_TSC_AUX, 0, 0x1234abcd
	rdtsc
	mov esi, edx
	mov edi, eax
	mov ecx, 0x5a5a5a5a
	rdtscp
	check ecx, 0x1234abcd
	sub eax, edi				; not before the RDTSC
	sbb edx, esi
	shr edx, 31
	check edx, 0
	wrmsr_ok IA32_TSC_AUX, 0, 0

group "clflush"
	arm 0
	mov dword [line], 0x11223344
	clflush [line]
	check dword [line], 0x11223344
	mov eax, LAPIC + 0x30			; version register
	mov ebx, [eax]
	clflush [eax]
	mov ecx, [eax]
	check ecx, ebx
	clflush [IOAPIC]
	clflush [IOAPIC + 0x10]
	mov esi, line + 63			; a line's last byte
	clflush [esi]
	check dword [x_count], 0

group "clflush_pf"
	call pg_install_pf
	call pg_alloc
	mov edi, eax
	xor esi, esi
	call pg_map_identity
	mov eax, edi
	call pg_enable
	pf_faults NOT_PRESENT + 0x40, 0, clflush [NOT_PRESENT + 0x40]
	mov eax, NOT_PRESENT + 0x7ff
	pf_faults NOT_PRESENT + 0x7ff, 0, clflush [eax]
	pf_arm 0
	clflush [line]				; mapped: nothing
	check dword [pf_cr2], -1
	check dword [pf_err], -1
	pf_none
	call pg_disable

group "sse"
	arm 0
	; SSE3: LDDQU from an unaligned address
	lddqu xmm0, [bytes + 1]
	movd eax, xmm0
	check eax, 0x04030201
	; SSSE3: PSHUFB with a memory mask reverses the bytes
	movdqu xmm0, [bytes]
	pshufb xmm0, [reverse]
	movd eax, xmm0
	check eax, 0x0c0d0e0f
	; SSE4.1: PEXTRD to memory
	movdqu xmm1, [bytes]
	mov dword [out], 0
	pextrd [out], xmm1, 1
	check dword [out], 0x07060504
	; SSE4.2: PCMPISTRI finds "abc" at 2 in memory (equal ordered)
	movdqu xmm0, [needle]
	pcmpistri xmm0, [haystack], 0x0c
	check ecx, 2
	; SSE4.2: CRC32C of a dword in memory
	mov eax, 0xffffffff
	crc32 eax, dword [crc_data]
	check eax, CRC_EXPECTED
	; POPCNT from memory
	popcnt eax, [pop_data]
	check eax, 17
	check dword [x_count], 0

guest_finish

; cr4_follows_cpuid: BH = a CR4 bit, BL = the CPUID.1:EDX bit of its
; feature. Setting the CR4 bit is taken (and reads back) when the feature
; is there, #GP(0) otherwise.
cr4_follows_cpuid:
	pushad
	mov eax, 1
	cpuid
	movzx ecx, bl
	bt edx, ecx
	setc bl				; BL = 1: the feature is there
	movzx ecx, bh
	mov esi, 1
	shl esi, cl			; ESI = the CR4 bit
	mov edi, cr4
	arm .resume
	mov eax, edi
	or eax, esi
.write:
	mov cr4, eax
.resume:
	test bl, bl
	jz .absent
	check dword [x_count], 0
	mov eax, cr4
	and eax, esi
	check eax, esi
	mov cr4, edi
	jmp .done
.absent:
	expect 13, .write, 0
	mov eax, cr4
	check eax, edi
.done:
	popad
	ret

section .data
align 64
line:		times 64 db 0
bytes:		db 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
		db 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
align 16
reverse:	db 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0
needle:		db "abc", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
haystack:	db "xxabcxyz", 0, 0, 0, 0, 0, 0, 0, 0
crc_data:	dd 0x12345678
pop_data:	dd 0xf0f0f0f1
out:		dd 0
l2_kib:		dd 0
l2_line:	dd 0
