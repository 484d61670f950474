/* Virtual-8086 mode (EFLAGS.VM with CR0.PE set), SDM Vol. 3 ch. 20: the
 * way in (IRET from ring 0 with VM in the popped EFLAGS), the segment
 * loads there (base = selector * 16, a 64 KiB limit, writable data at
 * DPL 3, so CPL 3 and the user view of the shadow), IRET and the
 * IOPL-sensitive rule inside it. The way out, an interrupt or exception
 * to a ring-0 handler with the segment registers pushed and nulled, is
 * deliver_once's (exception.c). The virtual-8086 mode extensions
 * (CR4.VME: VIF and VIP for CLI, STI, PUSHF, POPF and IRET at IOPL < 3,
 * the TSS's interrupt redirection bitmap for INT n) and the protected-mode
 * virtual interrupts (CR4.PVI: CLI and STI at CPL 3) are here too, but
 * for CLI and STI themselves (do_cli_sti, callout_priv.c). */
#include <string.h>

#include "cpu/callout_internal.h"
#include "isa/descriptor.h"

/* TSS offset of the 16-bit I/O permission bitmap base (32-bit TSS); the
 * interrupt redirection bitmap is the 32 bytes below that base. */
#define TSS_IOMAP_BASE 0x66u
#define REDIRECTION_BITMAP_SIZE 32u

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

bool cpu_virtual_if(const struct cpu *cpu)
{
	if (cpu_v86_mode(cpu))
		return (cpu->s.cr4 & CR4_VME) != 0;
	return cpu->s.cpl == 3 && (cpu->s.cr4 & CR4_PVI) && !cpu_real_mode(cpu);
}

enum callout_result v86_pushf(struct cpu *cpu, const struct callout_desc *d,
			      const ZydisDecodedInstruction *in)
{
	/* Only PUSHF of 16 bits has a VME form. */
	if (!(cpu->s.cr4 & CR4_VME) || in->operand_width != 16) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	/* VIF in IF's place and IOPL shown as 3: the 8086 code sees the
	 * flags it would have with IOPL 3 and its virtual IF. */
	uint32_t eflags = cpu_get_eflags(cpu);
	uint16_t image = (uint16_t)((eflags & ~EFLAGS_IF) | EFLAGS_IOPL);
	if (eflags & EFLAGS_VIF)
		image |= EFLAGS_IF;
	uint32_t sp = cpu->regs[REG_ESP];
	if (!cpu_stack_push(cpu, &cpu->s.seg[SEG_SS], &sp, &image, 2, false)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	cpu->regs[REG_ESP] = sp;
	return CALLOUT_GO_ON;
}

/* A FLAGS image that POPF or IRET of 16 bits loads under VME at
 * IOPL < 3: #GP(0) if it sets TF, or IF while VIP is set (the monitor has
 * an interrupt for the 8086 code as soon as it enables them); else
 * IF goes to VIF, IOPL and IF stay, and the rest of FLAGS is taken. */
static bool vme_load_flags(struct cpu *cpu, uint16_t image)
{
	uint32_t eflags = cpu_get_eflags(cpu);
	if ((image & EFLAGS_TF) || ((image & EFLAGS_IF) && (eflags & EFLAGS_VIP)))
		return false;
	uint32_t vif = image & EFLAGS_IF ? EFLAGS_VIF : 0;
	cpu_set_eflags(cpu, (uint32_t)image | vif,
		       EFLAGS_ARITH | EFLAGS_TF | EFLAGS_DF | EFLAGS_NT | EFLAGS_VIF);
	return true;
}

enum callout_result v86_popf(struct cpu *cpu, const struct callout_desc *d,
			     const ZydisDecodedInstruction *in)
{
	if (!(cpu->s.cr4 & CR4_VME) || in->operand_width != 16) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	const struct segment *ss = &cpu->s.seg[SEG_SS];
	uint16_t image;
	if (!cpu_stack_read(cpu, ss, cpu->regs[REG_ESP], 0, &image, 2)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	if (!vme_load_flags(cpu, image)) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	cpu->regs[REG_ESP] = cpu_stack_move(ss, cpu->regs[REG_ESP], 2);
	return CALLOUT_GO_ON;
}

/* IRET in v86 mode at IOPL < 3: with VME and a 16-bit operand size, the
 * 8086 code's own IRET, VIF from the image's IF; else #GP(0). */
static enum callout_result v86_vme_iret(struct cpu *cpu, const struct callout_desc *d,
					const ZydisDecodedInstruction *in)
{
	if (!(cpu->s.cr4 & CR4_VME) || in->operand_width != 16) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	struct real_iret_frame f;
	if (!real_iret_frame(cpu, d, in, &f))
		return CALLOUT_STOP;
	if (!vme_load_flags(cpu, (uint16_t)f.flags)) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	const struct segment *ss = &cpu->s.seg[SEG_SS];
	cpu->regs[REG_ESP] = cpu_stack_move(ss, cpu->regs[REG_ESP], 6);
	cpu_v86_load(cpu, SEG_CS, f.cs);
	cpu->s.eip = f.eip;
	return CALLOUT_STOP;
}

enum v86_int_route v86_int_route(struct cpu *cpu, unsigned vector)
{
	bool iopl3 = !v86_iopl_trap(cpu);
	if (!(cpu->s.cr4 & CR4_VME))
		return iopl3 ? V86_INT_IDT : V86_INT_GP;
	/* The bitmap's byte must lie in a 32-bit TSS, inside its limit, as
	 * the I/O permission bitmap's (io_permitted); anything else is
	 * #GP(0) here, a choice: neither the SDM nor the APM says. */
	const struct segment *tr = &cpu->s.tr;
	uint16_t base;
	uint8_t bits;
	if (!(tr->selector & ~3u) || (tr->flags & 0x1d) != SYS_TSS32 || tr->limit < TSS_IOMAP_BASE + 1 ||
	    !cpu_read_sys(cpu, tr->base + TSS_IOMAP_BASE, &base, 2))
		return V86_INT_GP;
	int32_t at = (int32_t)base - (int32_t)REDIRECTION_BITMAP_SIZE + (int32_t)(vector / 8);
	if (at < 0 || (uint32_t)at > tr->limit || !cpu_read_sys(cpu, tr->base + (uint32_t)at, &bits, 1))
		return V86_INT_GP;
	if (!(bits & 1u << (vector % 8)))
		return V86_INT_IVT;
	return iopl3 ? V86_INT_IDT : V86_INT_GP;
}

enum callout_result v86_int_redirect(struct cpu *cpu, const struct callout_desc *d,
				     unsigned vector)
{
	/* The 8086 code's own vector table at linear 0, read with its
	 * privilege (CPL 3); the frame real mode's INT pushes: FLAGS, CS and
	 * IP of the next instruction, a word each; at IOPL < 3 FLAGS has
	 * VIF in IF's place and IOPL 3, as PUSHF shows them. */
	uint32_t eflags = cpu_get_eflags(cpu);
	bool iopl3 = !v86_iopl_trap(cpu);
	uint16_t flags = (uint16_t)eflags;
	if (!iopl3) {
		flags = (uint16_t)((flags & ~EFLAGS_IF) | EFLAGS_IOPL);
		if (eflags & EFLAGS_VIF)
			flags |= EFLAGS_IF;
	}
	uint16_t frame[3] = { (uint16_t)d->next_eip, cpu->s.seg[SEG_CS].selector, flags };
	uint32_t sp = cpu->regs[REG_ESP];
	if (!cpu_stack_push(cpu, &cpu->s.seg[SEG_SS], &sp, frame, sizeof(frame), false)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	uint32_t entry;
	if (!cpu_read_guest(cpu, vector * 4u, &entry, 4)) {
		raise_fault(cpu, d, EXC_GP, true, 0);   /* a pending #PF goes first */
		return CALLOUT_STOP;
	}
	cpu->regs[REG_ESP] = sp;
	cpu_v86_load(cpu, SEG_CS, (uint16_t)(entry >> 16));
	cpu->s.eip = entry & 0xffff;
	/* TF, and IF at IOPL 3 or else VIF (SDM INT n; the APM agrees). */
	cpu_set_eflags(cpu, 0, EFLAGS_TF | (iopl3 ? EFLAGS_IF : EFLAGS_VIF));
	return CALLOUT_STOP;
}

enum callout_result v86_iret(struct cpu *cpu, const struct callout_desc *d,
			     const ZydisDecodedInstruction *in)
{
	if (v86_iopl_trap(cpu))
		return v86_vme_iret(cpu, d, in);
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
			       EFLAGS_VM | EFLAGS_AC | EFLAGS_VIF | EFLAGS_VIP | EFLAGS_ID);
	static const unsigned order[] = { SEG_SS, SEG_ES, SEG_DS, SEG_FS, SEG_GS };
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		cpu_v86_load(cpu, order[i], (uint16_t)rest[i + 1]);
	cpu_v86_load(cpu, SEG_CS, cs);
	cpu->regs[REG_ESP] = rest[0];
	cpu->s.eip = eip;
	return CALLOUT_STOP;
}
