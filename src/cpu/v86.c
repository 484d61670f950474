/* Virtual-8086 mode (EFLAGS.VM with CR0.PE set), SDM Vol. 3 ch. 20: the
 * way in (IRET from ring 0 with VM in the popped EFLAGS), the segment
 * loads there (base = selector * 16, a 64 KiB limit, writable data at
 * DPL 3, so CPL 3 and the user view of the shadow), IRET and the
 * IOPL-sensitive rule inside it. The way out, an interrupt or exception
 * to a ring-0 handler with the segment registers pushed and nulled, is
 * deliver_once's (exception.c). No VME or PVI: CPUID does not offer
 * them, so CLI, STI, PUSHF, POPF, INT n and IRET simply #GP(0) when
 * IOPL < 3. */
#include <string.h>

#include "cpu/callout_internal.h"
#include "isa/descriptor.h"

/* EFLAGS.VIF and VIP: no meaning without VME, but IRET to v86 loads them. */
#define EFLAGS_VIF_VIP 0x00180000u

void cpu_v86_load(struct cpu *cpu, unsigned seg, uint16_t sel)
{
	/* Every segment register, CS included, gets these attributes in
	 * v86 mode (as QEMU's load_seg_vm): present read/write data,
	 * accessed, DPL 3, 16-bit, byte granular. */
	uint32_t hi = DESC_S | DESC_P | DESC_WRITABLE | DESC_ACCESSED | 3u << 13;
	struct segment s = { .selector = sel, .base = (uint32_t)sel << 4, .limit = 0xffff,
			     .flags = desc_flags(hi) };
	cpu_set_segment(cpu, seg, &s);
}

bool v86_iopl_trap(const struct cpu *cpu)
{
	return cpu_v86_mode(cpu) && (cpu->s.eflags & EFLAGS_IOPL) != EFLAGS_IOPL;
}

enum callout_result v86_iret(struct cpu *cpu, const struct callout_desc *d,
			     const ZydisDecodedInstruction *in)
{
	if (v86_iopl_trap(cpu)) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	struct real_iret_frame f;
	if (!real_iret_frame(cpu, d, in, &f))
		return CALLOUT_STOP;
	/* CS's limit is 64 KiB here. */
	if (f.eip > 0xffff) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	/* IOPL, VM, VIF and VIP stay; RF is not taken, as in protected
	 * mode's IRET (do_iret says why). */
	uint32_t writable = EFLAGS_ARITH | EFLAGS_TF | EFLAGS_IF | EFLAGS_DF | EFLAGS_NT;
	if (f.size == 4)
		writable |= EFLAGS_AC | EFLAGS_ID;
	const struct segment *ss = &cpu->s.seg[SEG_SS];
	cpu->regs[REG_ESP] = cpu_stack_move(ss, cpu->regs[REG_ESP], (int32_t)(3 * f.size));
	cpu_v86_load(cpu, SEG_CS, f.cs);
	cpu->s.eip = f.eip;
	cpu_set_eflags(cpu, f.flags, writable);
	return CALLOUT_STOP;
}

enum callout_result v86_enter(struct cpu *cpu, const struct callout_desc *d, uint32_t eip,
			      uint16_t cs, uint32_t flags)
{
	/* The rest of the 9-dword frame above EIP, CS and EFLAGS: ESP, SS,
	 * ES, DS, FS, GS, each selector in the low word of its dword. */
	const struct segment *ss = &cpu->s.seg[SEG_SS];
	uint32_t rest[6];
	if (!cpu_stack_read(cpu, ss, cpu->regs[REG_ESP], 12, rest, sizeof(rest))) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	if (eip > 0xffff) {
		raise_fault(cpu, d, EXC_GP, true, 0);   /* beyond the new CS's limit */
		return CALLOUT_STOP;
	}
	/* EFLAGS whole (RF aside, as in do_iret), VM first: it makes the
	 * CS load below set CPL 3. */
	cpu_set_eflags(cpu, flags,
		       EFLAGS_ARITH | EFLAGS_TF | EFLAGS_IF | EFLAGS_DF | EFLAGS_IOPL | EFLAGS_NT |
			       EFLAGS_VM | EFLAGS_AC | EFLAGS_VIF_VIP | EFLAGS_ID);
	static const unsigned order[] = { SEG_SS, SEG_ES, SEG_DS, SEG_FS, SEG_GS };
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		cpu_v86_load(cpu, order[i], (uint16_t)rest[i + 1]);
	cpu_v86_load(cpu, SEG_CS, cs);
	cpu->regs[REG_ESP] = rest[0];
	cpu->s.eip = eip;
	return CALLOUT_STOP;
}
