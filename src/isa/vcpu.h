/* The architectural state of one guest IA-32 CPU as the monitor keeps it
 * between runs of translated code. While translated code runs, the general
 * registers and arithmetic flags live in host registers instead. */
#ifndef BTVM_ISA_VCPU_H
#define BTVM_ISA_VCPU_H

#include <stdint.h>

enum guest_reg {
	REG_EAX, REG_ECX, REG_EDX, REG_EBX, REG_ESP, REG_EBP, REG_ESI, REG_EDI,
	REG_COUNT
};

enum guest_seg {
	SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS,
	SEG_COUNT
};

/* A segment register with its hidden descriptor cache. */
struct segment {
	uint16_t selector;
	uint32_t base;
	uint32_t limit;   /* byte granular, already expanded */
	uint16_t flags;   /* descriptor bits 40..55: type, S, DPL, P, AVL, L, D/B, G */
};

struct table_reg {
	uint32_t base;
	uint16_t limit;
};

#define EFLAGS_CF 0x00000001u
#define EFLAGS_FIXED1 0x00000002u
#define EFLAGS_PF 0x00000004u
#define EFLAGS_AF 0x00000010u
#define EFLAGS_ZF 0x00000040u
#define EFLAGS_SF 0x00000080u
#define EFLAGS_TF 0x00000100u
#define EFLAGS_IF 0x00000200u
#define EFLAGS_DF 0x00000400u
#define EFLAGS_OF 0x00000800u
#define EFLAGS_IOPL 0x00003000u
#define EFLAGS_NT 0x00004000u
#define EFLAGS_RF 0x00010000u
#define EFLAGS_VM 0x00020000u
#define EFLAGS_AC 0x00040000u
#define EFLAGS_VIF 0x00080000u
#define EFLAGS_VIP 0x00100000u
#define EFLAGS_ID 0x00200000u
/* The flags translated code keeps in the host RFLAGS. */
#define EFLAGS_ARITH (EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_OF)

#define CR0_PE 0x00000001u
#define CR0_MP 0x00000002u
#define CR0_EM 0x00000004u
#define CR0_TS 0x00000008u
#define CR0_ET 0x00000010u
#define CR0_NE 0x00000020u
#define CR0_WP 0x00010000u
#define CR0_AM 0x00040000u
#define CR0_NW 0x20000000u
#define CR0_CD 0x40000000u
#define CR0_PG 0x80000000u

#define CR4_TSD 0x00000004u
#define CR4_PSE 0x00000010u
#define CR4_PAE 0x00000020u
#define CR4_PGE 0x00000080u
#define CR4_OSFXSR 0x00000200u
#define CR4_OSXMMEXCPT 0x00000400u
/* The other CR4 bits of the features the CPUID model can advertise. */
#define CR4_VME 0x00000001u
#define CR4_PVI 0x00000002u
#define CR4_DE 0x00000008u
#define CR4_PAE_BIT 0x00000020u
#define CR4_MCE 0x00000040u
#define CR4_PCE 0x00000100u
/* The bits CR0 has; the others are reserved, ignored on a write and read
 * as 0 (SDM vol. 3A, 2.5). */
#define CR0_DEFINED                                                                             \
	(CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW |       \
	 CR0_CD | CR0_PG)

/* IA32_EFER (MSR 0xC0000080): of its bits only NXE exists here (no long
 * mode, no SYSCALL). */
#define MSR_EFER 0xc0000080u
#define EFER_NXE 0x00000800u

#define DR6_BS 0x00004000u  /* single-step trap */
#define DR6_BT 0x00008000u  /* task switch into a task whose TSS has T set */
#define DR6_B0_B3 0x0000000fu  /* which of DR0-DR3 matched */
/* DR7: L0/G0 in bits 0-1 (and so on two bits a breakpoint), R/W0 in
 * bits 16-17, LEN0 in 18-19 (four bits a breakpoint). */
#define DR7_ENABLES 0x000000ffu

/* Physical-address bit 20, which the A20 gate masks (A20M#). */
#define A20_ADDRESS_BIT 0x00100000u

/* Machine-check banks of the model (MCG_CAP's count). */
#define MCA_BANKS 9u
/* Variable-range MTRR pairs (MTRRCAP's VCNT) and fixed-range MTRRs. */
#define MTRR_VARIABLE 8u
#define MTRR_FIXED 11u
/* Architectural performance monitoring (CPUID leaf 0xA, as a Core i7
 * has it): general-purpose counters, fixed-function counters, the width
 * of both. */
#define PMU_GP_COUNTERS 4u
#define PMU_FIXED_COUNTERS 3u
#define PMU_COUNTER_BITS 48u
/* The last-branch-record stack a Core i7 has (16 FROM/TO pairs). */
#define PMU_LBR_DEPTH 16u
/* Where each performance-monitoring register sits in msr_file.pmu. */
enum pmu_slot {
	PMU_PERFEVTSEL0 = 0,                           /* IA32_PERFEVTSELx */
	PMU_PMC0 = PMU_GP_COUNTERS,                    /* IA32_PMCx */
	PMU_FIXED_CTR0 = 2 * PMU_GP_COUNTERS,          /* IA32_FIXED_CTRx */
	PMU_FIXED_CTR_CTRL = PMU_FIXED_CTR0 + PMU_FIXED_COUNTERS,
	PMU_GLOBAL_CTRL,                               /* IA32_PERF_GLOBAL_CTRL */
	PMU_LBR_SELECT,                                /* MSR_LBR_SELECT */
	PMU_LBR_TOS,                                   /* MSR_LASTBRANCH_TOS */
	PMU_LBR_FROM0,                                 /* MSR_LASTBRANCH_x_FROM_IP */
	PMU_LBR_TO0 = PMU_LBR_FROM0 + PMU_LBR_DEPTH,   /* MSR_LASTBRANCH_x_TO_IP */
	PMU_REGISTERS = PMU_LBR_TO0 + PMU_LBR_DEPTH
};

/* The MSRs of cpu/msr.c, as the guest wrote them. */
struct msr_file {
	uint64_t misc_enable;
	uint64_t mtrr_def_type;
	uint64_t mtrr_var[2 * MTRR_VARIABLE];   /* PHYSBASEn, PHYSMASKn */
	uint64_t mtrr_fixed[MTRR_FIXED];        /* 0x250, 0x258, 0x259, 0x268-0x26F */
	uint64_t pat;
	uint64_t mcg_status;
	uint64_t mc_ctl[MCA_BANKS];
	uint32_t tsc_aux;
	/* The performance counters, their controls and the last-branch
	 * records, by enum pmu_slot (idle: no counter counts, no branch is
	 * recorded). */
	uint64_t pmu[PMU_REGISTERS];
	uint64_t debugctl;   /* IA32_DEBUGCTL: LBR, BTF and the freeze bits as written */
};

struct vcpu_state {
	uint32_t regs[REG_COUNT];
	uint32_t eip;
	uint32_t eflags;  /* complete guest EFLAGS, including virtual IF/IOPL */
	struct segment seg[SEG_COUNT];
	struct table_reg gdtr, idtr;
	struct segment ldtr, tr;
	uint32_t cr0, cr2, cr3, cr4;
	uint32_t dr[8];
	unsigned cpl;
	/* The model-specific registers the virtual CPU has (RDMSR/WRMSR). */
	uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t efer;
	/* PAE paging's four page-directory-pointer-table entries as the last
	 * load took them from memory (MOV CR3, or a MOV CR0/CR4 that turned
	 * PAE paging on or changed it): walks use these, not memory. */
	uint64_t pdpte[4];
	/* The A20M# pin as the run loop last applied it: the physical-address
	 * bits forced to 0 on every access the CPU makes (A20_ADDRESS_BIT
	 * while the board's A20 gate is closed, else 0). Not saved with the
	 * registers: the board drives it from its devices (cpu_set_a20). */
	uint32_t a20_cleared;
	struct msr_file msrs;
};

#endif
