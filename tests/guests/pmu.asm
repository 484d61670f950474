; btvm's performance counters (src/isa/msr.c, CPUID leaf 0xA in
; src/isa/cpuid.c): architectural performance monitoring version 3 as a
; Core i7 reports it, present and idle, and IA32_MISC_ENABLE's XD-disable
; bit, checked against the SDM (vol. 3B ch. 20; vol. 2 RDPMC; vol. 4).
;  leaf_0a      CPUID leaf 0xA: version 3, 4 counters of 48 bits, a 7-bit
;               event vector with every event available, 3 fixed counters
;               of 48 bits; MISC_ENABLE bit 7 (performance monitoring
;               available) set; no PDCM in leaf 1
;  global       IA32_PERF_GLOBAL_CTRL's power-on value (the general-purpose
;               enables set), written and read back, reserved bits #GP;
;               GLOBAL_STATUS reads 0 and is read-only; GLOBAL_OVF_CTRL
;               takes its clear bits, reads 0, #GP on reserved bits
;  evtsel       IA32_PERFEVTSEL0-3 written and read back (AnyThread
;               included), bits 63:32 #GP, no PERFEVTSEL4
;  pmc          IA32_PMC0-3: EAX sign-extended to 48 bits, EDX ignored;
;               no PMC4, no full-width alias (IA32_A_PMC0) nor
;               IA32_PERF_CAPABILITIES
;  fixed        IA32_FIXED_CTR0-2 take 48 bits, bit 48 #GP, no FIXED_CTR3;
;               IA32_FIXED_CTR_CTRL bits 11:0, bit 12 #GP
;  lbr          the 16-deep LBR stack Linux expects of a Nehalem:
;               LBR_SELECT (bits 8:0), LASTBRANCH_TOS (3:0), FROM (32-bit
;               address and bit 63) and TO (32-bit address) written and
;               read back, reserved bits #GP, no 17th pair
;  idle         enabled counters do not count (btvm's model: DESIGN.md)
;  rdpmc        RDPMC at CPL 0: the general-purpose and fixed counters by
;               ECX; #GP(0) for ECX 4, 0x40000003, 0x20000000, and with
;               bit 31 (no fast reads)
;  rdpmc_user   RDPMC at CPL 3 with CR4.PCE: the counter; an invalid index
;               #GP(0)
;  rdpmc_nopce  RDPMC at CPL 3 without CR4.PCE: #GP(0)
;  debugctl     IA32_DEBUGCTL: LBR, BTF, TR, the freeze bits stored,
;               reserved and BTS bits #GP; a #DB (ICEBP) clears LBR and
;               BTF, INT 1 does not (skipped under QEMU: no DEBUGCTL)
;  xd_disable   MISC_ENABLE bit 34 hides CPUID.80000001H:EDX.NX and makes
;               EFER.NXE reserved (#GP); cleared, both come back
; Under QEMU 7.2 (-cpu Nehalem, TCG: guest_pmu_qemu) leaf 0xA is zeros (no
; PMU without KVM): the groups that need the counters skip when CPUID
; reports a hypervisor and leaf 0xA is zero (btvm reports no hypervisor,
; so under btvm nothing skips). rdpmc_nopce runs there (QEMU checks PCE
; and the CPL first); xd_disable is excused (QEMU keeps MISC_ENABLE as
; written and does not hide NX).
%define GUEST_NAME "pmu"
%include "lib.inc"
%include "rings.inc"
%include "exc_record.inc"

IA32_PMC0		equ 0xc1
IA32_PERFEVTSEL0	equ 0x186
IA32_MISC_ENABLE	equ 0x1a0
IA32_DEBUGCTL		equ 0x1d9
IA32_FIXED_CTR0		equ 0x309
IA32_PERF_CAPABILITIES	equ 0x345
IA32_FIXED_CTR_CTRL	equ 0x38d
IA32_PERF_GLOBAL_STATUS	equ 0x38e
IA32_PERF_GLOBAL_CTRL	equ 0x38f
IA32_PERF_GLOBAL_OVF_CTRL equ 0x390
IA32_A_PMC0		equ 0x4c1
IA32_EFER		equ 0xc0000080
MSR_LBR_SELECT		equ 0x1c8
MSR_LBR_TOS		equ 0x1c9
MSR_LBR_FROM0		equ 0x680
MSR_LBR_TO0		equ 0x6c0

CR4_PCE			equ 1 << 8
EFER_NXE		equ 1 << 11
CPUID_NX		equ 1 << 20
XD_DISABLE_HIGH		equ 1 << (34 - 32)
EVENT_CYCLES		equ 0x0043003c	; unhalted core cycles, USR, OS, EN

; wrmsr_gp index, high, low: WRMSR of high:low raises #GP(0).
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

; wrmsr_reads index, high, low, read_high, read_low: WRMSR of high:low
; without a fault, then RDMSR reads read_high:read_low.
%macro wrmsr_reads 5
	arm 0
	mov ecx, %1
	mov edx, %2
	mov eax, %3
	wrmsr
	mov eax, 0x5a5a5a5a
	mov edx, eax
	rdmsr
	check edx, %4
	check eax, %5
	check dword [x_count], 0
%endmacro

%macro wrmsr_ok 3
	wrmsr_reads %1, %2, %3, %2, %3
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

; rdpmc_is ecx, high, low: RDPMC at CPL 0 reads high:low.
%macro rdpmc_is 3
	arm 0
	mov ecx, %1
	rdpmc
	check edx, %2
	check eax, %3
	check dword [x_count], 0
%endmacro

; rdpmc_gp ecx: RDPMC at CPL 0 raises #GP(0).
%macro rdpmc_gp 1
	arm %%r
	mov ecx, %1
%%f:
	rdpmc
%%r:
	expect 13, %%f, 0
%endmacro

; skip_without_pmu label: jump to label under a hypervisor whose CPUID
; has no architectural PMU (QEMU's TCG).
%macro skip_without_pmu 1
	call pmu_absent
	jc %1
%endmacro

guest_start
	call lib_install_idt
	call rings_setup
	mov dword [lib_exc_hook], exc_record

group "leaf_0a"
	skip_without_pmu .skip_leaf
	mov eax, 0xa
	xor ecx, ecx
	cpuid
	check eax, 0x07300403
	check ebx, 0
	check ecx, 0
	check edx, 0x00000603
	mov eax, 1
	cpuid
	and ecx, 1 << 15			; PDCM: no IA32_PERF_CAPABILITIES
	check ecx, 0
	arm 0
	mov ecx, IA32_MISC_ENABLE
	rdmsr
	and eax, (1 << 7) | (1 << 11) | (1 << 12)
	check eax, (1 << 7) | (1 << 11) | (1 << 12)	; PMU; no BTS, no PEBS
.skip_leaf:

group "global"
	skip_without_pmu .skip_global
	rdmsr_is IA32_PERF_GLOBAL_CTRL, 0, 0xf	; power-on: PMC0-3 enabled
	wrmsr_ok IA32_PERF_GLOBAL_CTRL, 7, 0xf
	wrmsr_ok IA32_PERF_GLOBAL_CTRL, 2, 0x5
	wrmsr_gp IA32_PERF_GLOBAL_CTRL, 8, 0	; no FIXED_CTR3
	wrmsr_gp IA32_PERF_GLOBAL_CTRL, 0, 0x10	; no PMC4
	rdmsr_is IA32_PERF_GLOBAL_CTRL, 2, 0x5
	rdmsr_is IA32_PERF_GLOBAL_STATUS, 0, 0
	wrmsr_gp IA32_PERF_GLOBAL_STATUS, 0, 0	; read-only
	wrmsr_reads IA32_PERF_GLOBAL_OVF_CTRL, 0xc0000007, 0xf, 0, 0
	wrmsr_gp IA32_PERF_GLOBAL_OVF_CTRL, 0, 0x10
	wrmsr_gp IA32_PERF_GLOBAL_OVF_CTRL, 0x20000000, 0	; bit 61
	wrmsr_ok IA32_PERF_GLOBAL_CTRL, 0, 0
.skip_global:

group "evtsel"
	skip_without_pmu .skip_evtsel
	wrmsr_ok IA32_PERFEVTSEL0, 0, 0xffffffff
	wrmsr_ok IA32_PERFEVTSEL0 + 3, 0, 0x00a3412e	; AnyThread (21) too
	wrmsr_gp IA32_PERFEVTSEL0 + 1, 1, 0
	wrmsr_gp IA32_PERFEVTSEL0 + 2, 0x80000000, 0x0043003c
	rdmsr_is IA32_PERFEVTSEL0 + 2, 0, 0
	rdmsr_gp IA32_PERFEVTSEL0 + 4
	wrmsr_gp IA32_PERFEVTSEL0 + 4, 0, 0
	wrmsr_ok IA32_PERFEVTSEL0, 0, 0
	wrmsr_ok IA32_PERFEVTSEL0 + 3, 0, 0
.skip_evtsel:

group "pmc"
	skip_without_pmu .skip_pmc
	wrmsr_reads IA32_PMC0, 0xffff, 0x12345678, 0, 0x12345678	; EDX ignored
	wrmsr_reads IA32_PMC0 + 1, 0, 0x80000000, 0xffff, 0x80000000	; sign-extended
	wrmsr_reads IA32_PMC0 + 2, 0xffff, 0xfffffff0, 0xffff, 0xfffffff0 ; Linux's -16
	wrmsr_reads IA32_PMC0 + 3, 0xffffffff, 0x7fffffff, 0, 0x7fffffff
	rdmsr_gp IA32_PMC0 + 4
	wrmsr_gp IA32_PMC0 + 4, 0, 0
	rdmsr_gp IA32_A_PMC0				; no full-width writes
	wrmsr_gp IA32_A_PMC0, 0, 0
	rdmsr_gp IA32_PERF_CAPABILITIES
.skip_pmc:

group "fixed"
	skip_without_pmu .skip_fixed
	wrmsr_ok IA32_FIXED_CTR0, 0xffff, 0x12345678
	wrmsr_ok IA32_FIXED_CTR0 + 1, 0x8000, 0
	wrmsr_ok IA32_FIXED_CTR0 + 2, 0, 5
	wrmsr_gp IA32_FIXED_CTR0 + 2, 0x10000, 0	; bit 48
	rdmsr_is IA32_FIXED_CTR0 + 2, 0, 5
	rdmsr_gp IA32_FIXED_CTR0 + 3
	wrmsr_ok IA32_FIXED_CTR_CTRL, 0, 0xfff
	wrmsr_gp IA32_FIXED_CTR_CTRL, 0, 0x1000
	wrmsr_gp IA32_FIXED_CTR_CTRL, 1, 0
	rdmsr_is IA32_FIXED_CTR_CTRL, 0, 0xfff
	wrmsr_ok IA32_FIXED_CTR_CTRL, 0, 0
.skip_fixed:

group "lbr"
	skip_without_pmu .skip_lbr
	wrmsr_ok MSR_LBR_SELECT, 0, 0x1ff
	wrmsr_gp MSR_LBR_SELECT, 0, 0x200
	wrmsr_ok MSR_LBR_SELECT, 0, 0
	wrmsr_ok MSR_LBR_TOS, 0, 15
	wrmsr_gp MSR_LBR_TOS, 0, 16
	wrmsr_ok MSR_LBR_TOS, 0, 0
	wrmsr_ok MSR_LBR_FROM0, 0x80000000, 0xc0101234	; mispredicted
	wrmsr_ok MSR_LBR_FROM0 + 15, 0, 0x00105678
	wrmsr_gp MSR_LBR_FROM0 + 15, 1, 0
	rdmsr_is MSR_LBR_FROM0 + 15, 0, 0x00105678
	wrmsr_ok MSR_LBR_TO0 + 7, 0, 0xffffffff
	wrmsr_gp MSR_LBR_TO0 + 7, 0x80000000, 0
	rdmsr_gp MSR_LBR_FROM0 + 16
	rdmsr_gp MSR_LBR_TO0 + 16
	wrmsr_ok MSR_LBR_FROM0, 0, 0
.skip_lbr:

group "idle"
	; Every counter enabled, globally too, around a loop: none moves.
	skip_without_pmu .skip_idle
	wrmsr_ok IA32_PMC0, 0, 100
	wrmsr_ok IA32_FIXED_CTR0, 0, 200
	wrmsr_ok IA32_PERFEVTSEL0, 0, EVENT_CYCLES
	wrmsr_ok IA32_FIXED_CTR_CTRL, 0, 0x333
	wrmsr_ok IA32_PERF_GLOBAL_CTRL, 7, 0xf
	mov ecx, 100000
.spin:
	dec ecx
	jnz .spin
	rdmsr_is IA32_PMC0, 0, 100
	rdmsr_is IA32_FIXED_CTR0, 0, 200
	rdmsr_is IA32_PERF_GLOBAL_STATUS, 0, 0
	wrmsr_ok IA32_PERF_GLOBAL_CTRL, 0, 0xf
	wrmsr_ok IA32_FIXED_CTR_CTRL, 0, 0
	wrmsr_ok IA32_PERFEVTSEL0, 0, 0
.skip_idle:

group "rdpmc"
	skip_without_pmu .skip_rdpmc
	wrmsr_ok IA32_PMC0 + 1, 0, 0x1234
	wrmsr_reads IA32_PMC0 + 3, 0, 0xfedcba98, 0xffff, 0xfedcba98
	wrmsr_ok IA32_FIXED_CTR0 + 1, 0x1234, 0x56789abc
	rdpmc_is 1, 0, 0x1234
	rdpmc_is 3, 0xffff, 0xfedcba98
	rdpmc_is 0x40000001, 0x1234, 0x56789abc
	rdpmc_is 0x40000002, 0, 5
	rdpmc_gp 4
	rdpmc_gp 0x40000003
	rdpmc_gp 0x20000000
	rdpmc_gp 0x80000001			; no fast reads
	rdpmc_gp 0xffffffff
.skip_rdpmc:

group "rdpmc_user"
	skip_without_pmu .skip_user
	mov eax, cr4
	or eax, CR4_PCE
	mov cr4, eax
	arm 0
	mov dword [user_ecx], 3
	call run_user_rdpmc
	check dword [x_count], 0
	check dword [user_edx], 0xffff
	check dword [user_eax], 0xfedcba98
	mov dword [user_ecx], 0x40000001
	call run_user_rdpmc
	check dword [x_count], 0
	check dword [user_edx], 0x1234
	check dword [user_eax], 0x56789abc
	arm user_rdpmc_resume
	mov dword [user_ecx], 7
	call run_user_rdpmc
	expect 13, user_rdpmc_insn, 0
	check dword [x_cs], RING_SEL_UCODE
	mov eax, cr4
	and eax, ~CR4_PCE
	mov cr4, eax
.skip_user:

group "rdpmc_nopce"
	mov eax, cr4
	and eax, ~CR4_PCE
	mov cr4, eax
	arm user_rdpmc_resume
	mov dword [user_ecx], 0
	call run_user_rdpmc
	expect 13, user_rdpmc_insn, 0
	check dword [x_cs], RING_SEL_UCODE

group "debugctl"
	; IA32_DEBUGCTL: LBR, BTF, TR and the two freeze bits stored; bits
	; 5:2, the BTS bits (no debug store) and bit 13 up #GP. QEMU 7.2's
	; TCG has no DEBUGCTL (reads 0, drops writes): skipped under a
	; hypervisor.
	mov eax, 1
	cpuid
	bt ecx, 31
	jc .skip_debugctl
	rdmsr_is IA32_DEBUGCTL, 0, 0
	wrmsr_ok IA32_DEBUGCTL, 0, 0x1843
	wrmsr_gp IA32_DEBUGCTL, 0, 0x4		; bit 2 reserved
	wrmsr_gp IA32_DEBUGCTL, 0, 0x80		; BTS: no debug store
	wrmsr_gp IA32_DEBUGCTL, 0, 0x100	; BTINT
	wrmsr_gp IA32_DEBUGCTL, 0, 0x2000	; UNCORE_PMI_EN
	wrmsr_gp IA32_DEBUGCTL, 1, 0		; bit 32 reserved
	rdmsr_is IA32_DEBUGCTL, 0, 0x1843
	; A debug exception (ICEBP's #DB trap) clears LBR and BTF only.
	arm 0
	db 0xf1
.icebp_after:
	expect 1, .icebp_after, 0
	rdmsr_is IA32_DEBUGCTL, 0, 0x1840
	; INT 1 is a software interrupt, not a debug exception: kept.
	wrmsr_ok IA32_DEBUGCTL, 0, 3
	arm 0
	int 1
.int1_after:
	expect 1, .int1_after, 0
	rdmsr_is IA32_DEBUGCTL, 0, 3
	wrmsr_ok IA32_DEBUGCTL, 0, 0
.skip_debugctl:

group "xd_disable"
	mov eax, 0x80000001
	cpuid
	and edx, CPUID_NX
	check edx, CPUID_NX
	arm 0
	mov ecx, IA32_MISC_ENABLE
	rdmsr
	mov [misc_low], eax
	mov [misc_high], edx
	or edx, XD_DISABLE_HIGH
	wrmsr
	rdmsr
	and edx, XD_DISABLE_HIGH
	check edx, XD_DISABLE_HIGH
	check dword [x_count], 0
	mov eax, 0x80000001
	cpuid
	and edx, CPUID_NX			; NX hidden
	check edx, 0
	wrmsr_gp IA32_EFER, 0, EFER_NXE		; NXE now reserved
	rdmsr_is IA32_EFER, 0, 0
	wrmsr_ok IA32_EFER, 0, 0
	arm 0
	mov ecx, IA32_MISC_ENABLE
	mov eax, [misc_low]
	mov edx, [misc_high]
	wrmsr
	check dword [x_count], 0
	mov eax, 0x80000001
	cpuid
	and edx, CPUID_NX			; NX back
	check edx, CPUID_NX
	wrmsr_ok IA32_EFER, 0, EFER_NXE
	wrmsr_ok IA32_EFER, 0, 0

	guest_finish

; pmu_absent: CF set when CPUID reports a hypervisor and leaf 0xA has no
; version (QEMU's TCG); clear under btvm. Preserves registers.
pmu_absent:
	pushad
	mov eax, 1
	cpuid
	bt ecx, 31
	jnc .present
	mov eax, 0xa
	xor ecx, ecx
	cpuid
	test al, al
	jnz .present
	popad
	stc
	ret
.present:
	popad
	clc
	ret

; run_user_rdpmc: RDPMC at CPL 3 with ECX = [user_ecx]; EDX:EAX land in
; user_edx:user_eax (0xdeaddead when it faulted: a resume at
; user_rdpmc_resume skips the stores).
run_user_rdpmc:
	mov dword [user_eax], 0xdeaddead
	mov dword [user_edx], 0xdeaddead
	mov eax, user_rdpmc
	mov ecx, 0
	call rings_run_user
	ret

user_rdpmc:
	mov ecx, [user_ecx]
user_rdpmc_insn:
	rdpmc
	mov [user_eax], eax
	mov [user_edx], edx
user_rdpmc_resume:
	leave_user

section .bss
align 4
user_ecx:	resd 1
user_eax:	resd 1
user_edx:	resd 1
misc_low:	resd 1
misc_high:	resd 1
