/* The guest's data breakpoints (SDM vol. 3 18.2.4-18.2.5, 18.3.1.2):
 * DR0-DR3 with R/W 01 (writes) or 11 (reads or writes), enabled by L or
 * G in DR7, over 1, 2, 4 or 8 bytes (LEN 00, 01, 11, 10: P6 and later)
 * at the address aligned down to that length. While one is enabled
 * cpu_mode makes every block a one-instruction MODE_LIMITS block, so
 * every guest memory access goes through the monitor, which reports the
 * ones that overlap a breakpoint here; the run loop raises the trap-class
 * #DB once the instruction has completed. R/W 10 (I/O, which needs
 * CR4.DE) never matches: the CPUID model has no DE. */
#include "cpu/cpu.h"

#define DR7_RW_WRITE 1u
#define DR7_RW_ACCESS 3u

static unsigned rw_of(uint32_t dr7, unsigned n)
{
	return (dr7 >> (16 + 4 * n)) & 3u;
}

static unsigned length_of(uint32_t dr7, unsigned n)
{
	static const unsigned len[4] = { 1, 2, 8, 4 };
	return len[(dr7 >> (18 + 4 * n)) & 3u];
}

uint8_t cpu_data_breakpoints(const struct cpu *cpu)
{
	uint32_t dr7 = cpu->s.dr[7];
	uint8_t mask = 0;
	if (!(dr7 & DR7_ENABLES))
		return 0;
	for (unsigned n = 0; n < 4; n++) {
		unsigned rw = rw_of(dr7, n);
		if (((dr7 >> (2 * n)) & 3u) && (rw == DR7_RW_WRITE || rw == DR7_RW_ACCESS))
			mask |= (uint8_t)(1u << n);
	}
	return mask;
}

void cpu_data_access(struct cpu *cpu, uint32_t linear, unsigned len, bool write)
{
	uint8_t armed = cpu_data_breakpoints(cpu);
	if (!armed || !len)
		return;
	uint64_t first = linear, last = (uint64_t)linear + len - 1;
	for (unsigned n = 0; n < 4; n++) {
		if (!(armed & (1u << n)) || (!write && rw_of(cpu->s.dr[7], n) == DR7_RW_WRITE))
			continue;
		unsigned size = length_of(cpu->s.dr[7], n);
		uint64_t at = cpu->s.dr[n] & ~(uint32_t)(size - 1);
		if (first <= at + size - 1 && at <= last)
			cpu->data_hits |= (uint8_t)(1u << n);
	}
}
