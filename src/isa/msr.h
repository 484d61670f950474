/* The model-specific registers of btvm's CPU model that hold guest state
 * or describe the model (MISC_ENABLE, the MTRRs, PAT, machine check,
 * TSC_AUX, the performance counters, DEBUGCTL), apart from the few cpu/callout_legacy.c's do_msr keeps
 * (TSC, APIC base, SYSENTER, microcode): their values, their reserved
 * bits and what a write may change, as the SDM gives them. */
#ifndef BTVM_ISA_MSR_H
#define BTVM_ISA_MSR_H

#include <stdbool.h>
#include <stdint.h>

#include "isa/vcpu.h"

#define MSR_MISC_ENABLE 0x1a0u
#define MSR_TSC_AUX 0xc0000103u
#define MSR_DEBUGCTL 0x1d9u
/* IA32_DEBUGCTL bits 0 and 1: LBR and BTF, which the processor clears
 * when it generates a debug exception (SDM vol. 3B, 17.4.1, 17.4.3). */
#define DEBUGCTL_LBR (1ull << 0)
#define DEBUGCTL_BTF (1ull << 1)
/* IA32_MISC_ENABLE bit 22: CPUID leaf 0 reports 2 as the highest leaf. */
#define MISC_ENABLE_LIMIT_CPUID (1ull << 22)
/* IA32_MISC_ENABLE bit 34: XD bit disable. CPUID.80000001H:EDX.NX reads 0
 * and EFER.NXE is reserved (a write of 1 is #GP). */
#define MISC_ENABLE_XD_DISABLE (1ull << 34)

/* What RDMSR or WRMSR of one index comes to. */
enum msr_outcome {
	MSR_NOT_HERE,   /* not one of this file's: the caller decides */
	MSR_DONE,
	MSR_FAULT,      /* #GP(0): a reserved bit, an invalid type, a read-only register */
};

/* Every register to its power-on value (SDM vol. 3A, table 10-1). */
void msr_power_on(struct msr_file *m);
/* The MTRRs as PC firmware leaves them for the OS it boots (SeaBIOS's
 * fw/mtrr.c): enabled, write-back by default, the fixed ranges WB below
 * 640 KiB, UC for the VGA hole, WP for the ROM area, and 0xE0000000-4 GiB
 * (devices) UC. For the boots that skip firmware. */
void msr_firmware_mtrrs(struct msr_file *m);
enum msr_outcome msr_read(const struct msr_file *m, uint32_t index, uint64_t *value);
enum msr_outcome msr_write(struct msr_file *m, uint32_t index, uint64_t value);
/* The MSR index of a performance-monitoring register (enum pmu_slot). */
uint32_t msr_pmu_index(unsigned slot);
/* RDPMC's counter ECX names (0-3 general-purpose, 0x40000000-2 fixed):
 * false for any other ECX. The caller checks CR4.PCE and the CPL. */
bool msr_read_pmc(const struct msr_file *m, uint32_t ecx, uint64_t *value);

#endif
