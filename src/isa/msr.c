/* The MSRs of the Nehalem-like model (isa/cpuid.c) that the guest reads
 * and writes as stored state: IA32_MISC_ENABLE, the MTRRs, IA32_PAT, the
 * machine-check registers, IA32_TSC_AUX, the architectural performance
 * counters (version 3) and IA32_DEBUGCTL. None changes how btvm runs the
 * guest (every page is the host's write-back memory, no machine check is
 * ever signalled, no counter counts, no branch is recorded); each is
 * kept as written and checked as the SDM (vol. 3A ch. 11, 15; vol. 3B
 * ch. 17, 20; vol. 4, the Core i7 table) says a write is checked.
 * Indices outside these are the caller's. */
#include "isa/msr.h"

#include <stdbool.h>

#include "isa/cpuid.h"

#define MSR_MCG_CAP 0x179u
#define MSR_MCG_STATUS 0x17au
#define MSR_MTRRCAP 0xfeu
#define MSR_MTRR_PHYS_FIRST 0x200u
#define MSR_MTRR_FIX64K 0x250u
#define MSR_MTRR_FIX16K_80000 0x258u
#define MSR_MTRR_FIX16K_A0000 0x259u
#define MSR_MTRR_FIX4K_FIRST 0x268u
#define MSR_MTRR_FIX4K_LAST 0x26fu
#define MSR_PAT 0x277u
#define MSR_MTRR_DEF_TYPE 0x2ffu
#define MSR_MC_FIRST 0x400u   /* MCi_CTL, _STATUS, _ADDR, _MISC: 4 per bank */
#define MSR_PMC_FIRST 0xc1u            /* IA32_PMC0.. */
#define MSR_PERFEVTSEL_FIRST 0x186u    /* IA32_PERFEVTSEL0.. */
#define MSR_FIXED_CTR_FIRST 0x309u     /* IA32_FIXED_CTR0.. */
#define MSR_FIXED_CTR_CTRL 0x38du
#define MSR_PERF_GLOBAL_STATUS 0x38eu
#define MSR_PERF_GLOBAL_CTRL 0x38fu
#define MSR_PERF_GLOBAL_OVF_CTRL 0x390u
#define MSR_LBR_SELECT 0x1c8u
#define MSR_LBR_TOS 0x1c9u
#define MSR_LBR_FROM_FIRST 0x680u
#define MSR_LBR_TO_FIRST 0x6c0u

/* MTRRCAP: VCNT, fixed ranges (bit 8), write-combining (bit 10); no
 * SMRR (bit 11). */
#define MTRRCAP_VALUE (MTRR_VARIABLE | 1u << 8 | 1u << 10)
/* MTRRdefType: the default type, FE (bit 10), E (bit 11). */
#define MTRR_DEF_WRITABLE 0xcffu
#define MTRR_DEF_FIXED_ENABLE 0x400u
#define MTRR_DEF_ENABLE 0x800u
#define MTRR_VALID_BIT 0x800u     /* PHYSMASKn.V */
/* MCG_CAP: the bank count; no MCG_CTL, CMCI, threshold or extended
 * registers. */
#define MCG_CAP_VALUE MCA_BANKS
/* MCG_STATUS: RIPV, EIPV, MCIP. */
#define MCG_STATUS_WRITABLE 0x7u

/* MISC_ENABLE (Core i7 table): fast strings (bit 0, R/W) and automatic
 * thermal control (bit 3, R/W) on; performance monitoring available
 * (bit 7, R/O), BTS and PEBS unavailable (bits 11, 12: no DS). Writable
 * besides bits 0 and 3: limit CPUID maxval (22), xTPR disable (23) and
 * XD bit disable (34: the model has NX). EIST (16), MONITOR (18) and
 * turbo disable (38) belong to features the model does not advertise:
 * they stay 0 and a write of 1 is #GP, as a reserved bit's. */
#define MISC_ENABLE_POWER_ON 0x1889ull
#define MISC_ENABLE_WRITABLE \
	(1ull << 0 | 1ull << 3 | 1ull << 22 | 1ull << 23 | MISC_ENABLE_XD_DISABLE)

/* The performance counters' bits (SDM vol. 3B, 20.2.1-20.2.3). Every bit
 * of IA32_PERFEVTSELx's low half is defined in version 3 (event, umask,
 * USR, OS, E, PC, INT, AnyThread, EN, INV, CMASK); the high half is
 * reserved. IA32_FIXED_CTR_CTRL: EN (2 bits), AnyThread, PMI per fixed
 * counter. IA32_PERF_GLOBAL_CTRL: one enable per counter, the fixed ones
 * from bit 32; IA32_PERF_GLOBAL_OVF_CTRL also clears OvfBuffer (62) and
 * CondChgd (63). */
#define PERFEVTSEL_WRITABLE 0xffffffffull
#define COUNTER_MASK ((1ull << PMU_COUNTER_BITS) - 1)
#define FIXED_CTR_CTRL_WRITABLE ((1ull << (4 * PMU_FIXED_COUNTERS)) - 1)
#define GLOBAL_GP_BITS ((1ull << PMU_GP_COUNTERS) - 1)
#define GLOBAL_CTRL_WRITABLE (GLOBAL_GP_BITS | ((1ull << PMU_FIXED_COUNTERS) - 1) << 32)
#define GLOBAL_OVF_CTRL_WRITABLE (GLOBAL_CTRL_WRITABLE | 3ull << 62)
/* The LBR stack (SDM vol. 3B, 18.9; vol. 4, the Core i7 table): which
 * branches LBR_SELECT filters (bits 8:0), the top of stack (bits 3:0),
 * FROM and TO a 32-bit linear address each (no long mode), FROM with the
 * mispredicted flag in bit 63. */
#define LBR_SELECT_WRITABLE 0x1ffull
#define LBR_TOS_WRITABLE (PMU_LBR_DEPTH - 1ull)
#define LBR_FROM_WRITABLE (0xffffffffull | 1ull << 63)
#define LBR_TO_WRITABLE 0xffffffffull
/* IA32_DEBUGCTL (SDM vol. 3B, 17.4.1; vol. 4, the Core i7 table): LBR
 * (0), BTF (1), TR (6), FREEZE_LBRS_ON_PMI (11) and FREEZE_PERFMON_ON_PMI
 * (12) are stored. BTS (7), BTINT (8) and BTS_OFF_OS/USR (9, 10) need the
 * debug store, which the model lacks (CPUID.1:EDX.DS clear, MISC_ENABLE
 * bit 11 "BTS unavailable" set): #GP, as reserved bits, like bits 5:2,
 * UNCORE_PMI_EN (13: no uncore counters) and those above. None of them
 * changes how the guest runs: no branch is recorded (the LBR stack stays
 * as written), and TF single-steps every instruction with BTF set too (a
 * debugger asking for steps on branches gets a trap after each
 * instruction; the #DB clears BTF and LBR as the SDM says, exception.c). */
#define DEBUGCTL_WRITABLE (DEBUGCTL_LBR | DEBUGCTL_BTF | 1ull << 6 | 1ull << 11 | 1ull << 12)
/* RDPMC's ECX: bit 30 selects the fixed-function counters. */
#define RDPMC_FIXED 0x40000000u

#define PAT_POWER_ON 0x0007040600070406ull

/* UC, WC, WT, WP, WB: the memory types an MTRR takes (2, 3 and 7 and
 * above are reserved). PAT also takes UC- (7). */
static bool mtrr_type_valid(uint64_t type)
{
	return type == 0 || type == 1 || type == 4 || type == 5 || type == 6;
}

static bool pat_type_valid(uint64_t type)
{
	return mtrr_type_valid(type) || type == 7;
}

/* Eight types, one a byte: a fixed-range MTRR or PAT. */
static bool types_valid(uint64_t v, bool pat)
{
	for (unsigned i = 0; i < 8; i++) {
		uint64_t t = (v >> (8 * i)) & 0xff;
		if (pat ? !pat_type_valid(t) : !mtrr_type_valid(t))
			return false;
	}
	return true;
}

/* Bits 12 to MAXPHYADDR-1: the address part of PHYSBASEn and PHYSMASKn. */
static uint64_t phys_address_bits(void)
{
	return ((1ull << cpuid_max_phys_bits()) - 1) & ~0xfffull;
}

/* The fixed-range MTRR's slot in msr_file, or -1. */
static int fixed_slot(uint32_t index)
{
	if (index == MSR_MTRR_FIX64K)
		return 0;
	if (index == MSR_MTRR_FIX16K_80000)
		return 1;
	if (index == MSR_MTRR_FIX16K_A0000)
		return 2;
	if (index >= MSR_MTRR_FIX4K_FIRST && index <= MSR_MTRR_FIX4K_LAST)
		return 3 + (int)(index - MSR_MTRR_FIX4K_FIRST);
	return -1;
}

static bool is_variable(uint32_t index)
{
	return index >= MSR_MTRR_PHYS_FIRST && index < MSR_MTRR_PHYS_FIRST + 2 * MTRR_VARIABLE;
}

static bool is_mc_bank(uint32_t index)
{
	return index >= MSR_MC_FIRST && index < MSR_MC_FIRST + 4 * MCA_BANKS;
}

/* The slot in msr_file.pmu of a performance-monitoring MSR, or -1. Only
 * the legacy IA32_PMCx names a general-purpose counter: the full-width
 * aliases (IA32_A_PMCx, 0x4C1) exist where IA32_PERF_CAPABILITIES says so,
 * which needs CPUID.1:ECX.PDCM, and the model lacks it: they are #GP. */
static int pmu_slot(uint32_t index)
{
	for (int slot = 0; slot < (int)PMU_REGISTERS; slot++)
		if (msr_pmu_index((unsigned)slot) == index)
			return slot;
	return -1;
}

uint32_t msr_pmu_index(unsigned slot)
{
	if (slot < PMU_PMC0)
		return MSR_PERFEVTSEL_FIRST + slot;
	if (slot < PMU_FIXED_CTR0)
		return MSR_PMC_FIRST + (slot - PMU_PMC0);
	if (slot < PMU_FIXED_CTR_CTRL)
		return MSR_FIXED_CTR_FIRST + (slot - PMU_FIXED_CTR0);
	if (slot >= PMU_LBR_TO0)
		return MSR_LBR_TO_FIRST + (slot - PMU_LBR_TO0);
	if (slot >= PMU_LBR_FROM0)
		return MSR_LBR_FROM_FIRST + (slot - PMU_LBR_FROM0);
	switch (slot) {
	case PMU_FIXED_CTR_CTRL: return MSR_FIXED_CTR_CTRL;
	case PMU_GLOBAL_CTRL: return MSR_PERF_GLOBAL_CTRL;
	case PMU_LBR_SELECT: return MSR_LBR_SELECT;
	default: return MSR_LBR_TOS;
	}
}

/* A write to one of pmu_slot's registers: IA32_PMCx takes EAX
 * sign-extended to the counter's width (EDX is ignored: SDM vol. 3B,
 * 20.2.6); a fixed counter's bits above its width are reserved (20.2.2);
 * the controls' and the LBRs' reserved bits are #GP. Nothing starts
 * counting or recording. */
static enum msr_outcome write_pmu(struct msr_file *m, int slot, uint64_t v)
{
	uint64_t writable;
	if (slot >= PMU_PMC0 && slot < PMU_PMC0 + (int)PMU_GP_COUNTERS) {
		m->pmu[slot] = (uint64_t)(int64_t)(int32_t)(uint32_t)v & COUNTER_MASK;
		return MSR_DONE;
	}
	if (slot < PMU_PMC0)
		writable = PERFEVTSEL_WRITABLE;
	else if (slot < PMU_FIXED_CTR_CTRL)
		writable = COUNTER_MASK;   /* IA32_FIXED_CTRx */
	else if (slot == PMU_FIXED_CTR_CTRL)
		writable = FIXED_CTR_CTRL_WRITABLE;
	else if (slot == PMU_GLOBAL_CTRL)
		writable = GLOBAL_CTRL_WRITABLE;
	else if (slot == PMU_LBR_SELECT)
		writable = LBR_SELECT_WRITABLE;
	else if (slot == PMU_LBR_TOS)
		writable = LBR_TOS_WRITABLE;
	else if (slot < PMU_LBR_TO0)
		writable = LBR_FROM_WRITABLE;
	else
		writable = LBR_TO_WRITABLE;
	if (v & ~writable)
		return MSR_FAULT;
	m->pmu[slot] = v;
	return MSR_DONE;
}

bool msr_read_pmc(const struct msr_file *m, uint32_t ecx, uint64_t *value)
{
	if (ecx < PMU_GP_COUNTERS)
		*value = m->pmu[PMU_PMC0 + ecx];
	else if (ecx >= RDPMC_FIXED && ecx < RDPMC_FIXED + PMU_FIXED_COUNTERS)
		*value = m->pmu[PMU_FIXED_CTR0 + (ecx - RDPMC_FIXED)];
	else
		return false;
	return true;
}

void msr_power_on(struct msr_file *m)
{
	*m = (struct msr_file){ 0 };
	m->misc_enable = MISC_ENABLE_POWER_ON;
	m->pat = PAT_POWER_ON;
	/* The SDM's power-up state: the general-purpose counters' enable
	 * bits set (software of version 1 enables a counter through its
	 * PERFEVTSEL alone), the fixed ones clear. */
	m->pmu[PMU_GLOBAL_CTRL] = GLOBAL_GP_BITS;
}

void msr_firmware_mtrrs(struct msr_file *m)
{
	const uint64_t wb = 0x0606060606060606ull, wp = 0x0505050505050505ull;
	m->mtrr_fixed[0] = wb;   /* 0-512 KiB */
	m->mtrr_fixed[1] = wb;   /* 512-640 KiB */
	m->mtrr_fixed[2] = 0;    /* 640-768 KiB: the VGA window, UC */
	for (unsigned i = 3; i < MTRR_FIXED; i++)
		m->mtrr_fixed[i] = wp;   /* 768 KiB-1 MiB: ROMs */
	m->mtrr_var[0] = 0xe0000000u;   /* UC */
	m->mtrr_var[1] = (phys_address_bits() & ~(uint64_t)0x1fffffff) | MTRR_VALID_BIT;
	m->mtrr_def_type = MTRR_DEF_ENABLE | MTRR_DEF_FIXED_ENABLE | 6;
}

enum msr_outcome msr_read(const struct msr_file *m, uint32_t index, uint64_t *value)
{
	int fixed = fixed_slot(index);
	if (fixed >= 0)
		*value = m->mtrr_fixed[fixed];
	else if (is_variable(index))
		*value = m->mtrr_var[index - MSR_MTRR_PHYS_FIRST];
	else if (is_mc_bank(index))
		/* CTL as written; STATUS, ADDR and MISC: no error logged. */
		*value = (index - MSR_MC_FIRST) % 4 == 0 ? m->mc_ctl[(index - MSR_MC_FIRST) / 4] : 0;
	else if (pmu_slot(index) >= 0)
		*value = m->pmu[pmu_slot(index)];
	else {
		switch (index) {
		case MSR_MISC_ENABLE: *value = m->misc_enable; break;
		case MSR_MTRRCAP: *value = MTRRCAP_VALUE; break;
		case MSR_MTRR_DEF_TYPE: *value = m->mtrr_def_type; break;
		case MSR_PAT: *value = m->pat; break;
		case MSR_MCG_CAP: *value = MCG_CAP_VALUE; break;
		case MSR_MCG_STATUS: *value = m->mcg_status; break;
		case MSR_TSC_AUX: *value = m->tsc_aux; break;
		case MSR_DEBUGCTL: *value = m->debugctl; break;
		/* No counter ever overflows; OVF_CTRL only clears STATUS's
		 * bits, and reads 0. */
		case MSR_PERF_GLOBAL_STATUS: *value = 0; break;
		case MSR_PERF_GLOBAL_OVF_CTRL: *value = 0; break;
		default: return MSR_NOT_HERE;
		}
	}
	return MSR_DONE;
}

static enum msr_outcome write_variable(struct msr_file *m, uint32_t index, uint64_t v)
{
	bool mask = (index - MSR_MTRR_PHYS_FIRST) & 1;
	uint64_t allowed = phys_address_bits() | (mask ? MTRR_VALID_BIT : 0xff);
	if ((v & ~allowed) || (!mask && !mtrr_type_valid(v & 0xff)))
		return MSR_FAULT;
	m->mtrr_var[index - MSR_MTRR_PHYS_FIRST] = v;
	return MSR_DONE;
}

/* MCi_CTL takes any value; STATUS, ADDR and MISC take only zeros (a write
 * of ones is #GP: SDM vol. 3B, 16.3.2.2-4), and keep reading zeros. */
static enum msr_outcome write_mc_bank(struct msr_file *m, uint32_t index, uint64_t v)
{
	unsigned bank = (index - MSR_MC_FIRST) / 4;
	if ((index - MSR_MC_FIRST) % 4 == 0) {
		m->mc_ctl[bank] = v;
		return MSR_DONE;
	}
	return v ? MSR_FAULT : MSR_DONE;
}

enum msr_outcome msr_write(struct msr_file *m, uint32_t index, uint64_t v)
{
	int fixed = fixed_slot(index);
	if (fixed >= 0) {
		if (!types_valid(v, false))
			return MSR_FAULT;
		m->mtrr_fixed[fixed] = v;
		return MSR_DONE;
	}
	if (is_variable(index))
		return write_variable(m, index, v);
	if (is_mc_bank(index))
		return write_mc_bank(m, index, v);
	int slot = pmu_slot(index);
	if (slot >= 0)
		return write_pmu(m, slot, v);
	switch (index) {
	case MSR_MISC_ENABLE:
		if ((v ^ m->misc_enable) & ~MISC_ENABLE_WRITABLE)
			return MSR_FAULT;
		m->misc_enable = v;
		return MSR_DONE;
	case MSR_MTRRCAP:
	case MSR_MCG_CAP:
	case MSR_PERF_GLOBAL_STATUS:
		return MSR_FAULT;   /* read-only */
	case MSR_PERF_GLOBAL_OVF_CTRL:
		return v & ~GLOBAL_OVF_CTRL_WRITABLE ? MSR_FAULT : MSR_DONE;
	case MSR_MTRR_DEF_TYPE:
		if ((v & ~(uint64_t)MTRR_DEF_WRITABLE) || !mtrr_type_valid(v & 0xff))
			return MSR_FAULT;
		m->mtrr_def_type = v;
		return MSR_DONE;
	case MSR_PAT:
		if (!types_valid(v, true))
			return MSR_FAULT;
		m->pat = v;
		return MSR_DONE;
	case MSR_MCG_STATUS:
		if (v & ~(uint64_t)MCG_STATUS_WRITABLE)
			return MSR_FAULT;
		m->mcg_status = v;
		return MSR_DONE;
	case MSR_TSC_AUX:
		if (v >> 32)
			return MSR_FAULT;
		m->tsc_aux = (uint32_t)v;
		return MSR_DONE;
	case MSR_DEBUGCTL:
		if (v & ~DEBUGCTL_WRITABLE)
			return MSR_FAULT;
		m->debugctl = v;
		return MSR_DONE;
	default:
		return MSR_NOT_HERE;
	}
}
