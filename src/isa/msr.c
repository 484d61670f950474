/* The MSRs of the Nehalem-like model (isa/cpuid.c) that the guest reads
 * and writes as stored state: IA32_MISC_ENABLE, the MTRRs, IA32_PAT, the
 * machine-check registers and IA32_TSC_AUX. None changes how btvm runs
 * the guest (every page is the host's write-back memory, and no machine
 * check is ever signalled); each is kept as written and checked as the
 * SDM (vol. 3A ch. 11, 15; vol. 4, the Core i7 table) says a write is
 * checked. Indices outside these are the caller's. */
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
 * thermal control (bit 3, R/W) on; performance monitoring unavailable
 * (bit 7 clear: no counters), BTS and PEBS unavailable (bits 11, 12).
 * Writable besides bits 0 and 3: limit CPUID maxval (22) and xTPR
 * disable (23). EIST (16), MONITOR (18), XD disable (34) and turbo
 * disable (38) belong to features the model does not advertise: they
 * stay 0 and a write of 1 is #GP, as a reserved bit's. */
#define MISC_ENABLE_POWER_ON 0x1809ull
#define MISC_ENABLE_WRITABLE (1ull << 0 | 1ull << 3 | 1ull << 22 | 1ull << 23)

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

void msr_power_on(struct msr_file *m)
{
	*m = (struct msr_file){ 0 };
	m->misc_enable = MISC_ENABLE_POWER_ON;
	m->pat = PAT_POWER_ON;
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
	else {
		switch (index) {
		case MSR_MISC_ENABLE: *value = m->misc_enable; break;
		case MSR_MTRRCAP: *value = MTRRCAP_VALUE; break;
		case MSR_MTRR_DEF_TYPE: *value = m->mtrr_def_type; break;
		case MSR_PAT: *value = m->pat; break;
		case MSR_MCG_CAP: *value = MCG_CAP_VALUE; break;
		case MSR_MCG_STATUS: *value = m->mcg_status; break;
		case MSR_TSC_AUX: *value = m->tsc_aux; break;
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
	switch (index) {
	case MSR_MISC_ENABLE:
		if ((v ^ m->misc_enable) & ~MISC_ENABLE_WRITABLE)
			return MSR_FAULT;
		m->misc_enable = v;
		return MSR_DONE;
	case MSR_MTRRCAP:
	case MSR_MCG_CAP:
		return MSR_FAULT;   /* read-only */
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
	default:
		return MSR_NOT_HERE;
	}
}
