/* The deprivileged kernel's view for --trap-and-emulate (deprivilege.h). */
#include "cpu/deprivilege.h"

#include "cpu/explain.h"

static void note(struct cpu *cpu, uint32_t eip, const char *what, uint32_t real, uint32_t seen)
{
	explain_note(cpu->explain, cpu->deprivileged_sens, eip,
		     "%s: a deprivileged kernel sees %08x, a CPU at CPL 0 gives %08x", what, seen,
		     real);
}

uint32_t deprivilege_pushf(struct cpu *cpu, uint32_t eip, uint32_t flags)
{
	uint32_t seen = (flags & ~EFLAGS_IOPL) | EFLAGS_IF;
	if (seen != flags)
		explain_note(cpu->explain, cpu->deprivileged_sens, eip,
			     "pushed IF=%u IOPL=%u (the real flags), the kernel's are IF=%u IOPL=%u",
			     !!(seen & EFLAGS_IF), (seen >> 12) & 3, !!(flags & EFLAGS_IF),
			     (flags >> 12) & 3);
	return seen;
}

uint32_t deprivilege_popf(struct cpu *cpu, uint32_t eip, uint32_t popped, uint32_t writable)
{
	uint32_t now = cpu_get_eflags(cpu);
	uint32_t kept = EFLAGS_IF | EFLAGS_IOPL;
	if ((popped ^ now) & kept & writable)
		explain_note(cpu->explain, cpu->deprivileged_sens, eip,
			     "asked IF=%u IOPL=%u, left IF=%u IOPL=%u without a trap",
			     !!(popped & EFLAGS_IF), (popped >> 12) & 3, !!(now & EFLAGS_IF),
			     (now >> 12) & 3);
	return writable & ~kept;
}

struct table_reg deprivilege_table(struct cpu *cpu, uint32_t eip, bool gdt, struct table_reg t)
{
	struct table_reg seen = { gdt ? DEPRIV_GDT_BASE : DEPRIV_IDT_BASE,
				  gdt ? DEPRIV_GDT_LIMIT : DEPRIV_IDT_LIMIT };
	if (seen.base != t.base || seen.limit != t.limit)
		explain_note(cpu->explain, cpu->deprivileged_sens, eip,
			     "stored the monitor's %s %08x/%04x, the kernel's is %08x/%04x",
			     gdt ? "GDTR" : "IDTR", seen.base, seen.limit, t.base, t.limit);
	return seen;
}

uint32_t deprivilege_sysreg(struct cpu *cpu, uint32_t eip, ZydisMnemonic m, uint32_t v)
{
	uint32_t seen;
	const char *what;
	switch (m) {
	case ZYDIS_MNEMONIC_STR: seen = DEPRIV_TR_SELECTOR; what = "TR"; break;
	case ZYDIS_MNEMONIC_SLDT: seen = DEPRIV_LDT_SELECTOR; what = "LDTR"; break;
	default: seen = DEPRIV_CR0; what = "CR0 (the monitor's)"; break;
	}
	if (seen != v)
		note(cpu, eip, what, v, seen);
	return seen;
}

uint16_t deprivilege_selector(struct cpu *cpu, uint32_t eip, unsigned seg, uint16_t sel)
{
	if (seg != SEG_CS && seg != SEG_SS)
		return sel;
	uint16_t seen = (uint16_t)(sel | 3u);
	if (seen != sel)
		explain_note(cpu->explain, cpu->deprivileged_sens, eip,
			     "%s shows %04x (RPL 3, the real CPL), a CPU at CPL 0 gives %04x",
			     seg == SEG_CS ? "CS" : "SS", seen, sel);
	return seen;
}

uint32_t deprivilege_lar(struct cpu *cpu, uint32_t eip, uint32_t rights)
{
	uint32_t seen = rights | (3u << 13);   /* DPL, bits 14:13 */
	if (seen != rights)
		note(cpu, eip, "access rights (DPL 3, the shadow descriptor's)", rights, seen);
	return seen;
}
