/* Callouts whose work is a change or a check of privilege: the IOPL rule
 * and the TSS I/O permission bitmap behind IN/OUT/INS/OUTS, CLI/STI, IRET
 * (same level and back to an outer level), and SYSENTER/SYSEXIT. The
 * blanket #GP(0) for privileged instructions outside ring 0 is in
 * cpu_callout; each handler here that changes the CPL returns CALLOUT_STOP, so
 * the run loop picks the translation mode (MODE_CPL3) for the new level. */
#include <string.h>

#include "cpu/callout_internal.h"
#include "isa/descriptor.h"

/* TSS offset of the 16-bit I/O permission bitmap base (32-bit TSS). */
#define TSS_IOMAP_BASE 0x66u

static unsigned iopl(const struct cpu *cpu)
{
	return (cpu->s.eflags & EFLAGS_IOPL) >> 12;
}

bool io_permitted(struct cpu *cpu, uint16_t port, unsigned width)
{
	/* v86 mode always asks the bitmap, whatever IOPL says. */
	if (cpu->s.cpl <= iopl(cpu) && !cpu_v86_mode(cpu))
		return true;
	/* Only a 32-bit TSS (type 9, or 11 when busy) has a bitmap, and its
	 * base field must lie inside the TSS. */
	const struct segment *tr = &cpu->s.tr;
	if (!(tr->selector & ~3u) || (tr->flags & 0x1d) != SYS_TSS32 || tr->limit < TSS_IOMAP_BASE + 1)
		return false;
	uint16_t base;
	if (!cpu_read_sys(cpu, tr->base + TSS_IOMAP_BASE, &base, 2))
		return false;
	/* The processor always reads the two bytes that could hold the
	 * access's bits, so both must lie within the TSS limit (hence the
	 * all-ones byte operating systems put after the bitmap). */
	uint32_t at = (uint32_t)base + port / 8u;
	if (at + 1 > tr->limit)
		return false;
	uint16_t bits;
	if (!cpu_read_sys(cpu, tr->base + at, &bits, 2))
		return false;
	return ((bits >> (port & 7u)) & ((1u << width) - 1)) == 0;
}

/* CLI and STI at CPL > IOPL: on VIF under CR4.VME (v86 mode) or CR4.PVI
 * (CPL 3), STI #GP(0) when VIP is set; else #GP(0). VIF masks nothing
 * here, so STI setting it leaves no interrupt shadow. */
enum callout_result do_cli_sti(struct cpu *cpu, const struct callout_desc *d,
			       const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	(void)ops;
	if (cpu->s.cpl > iopl(cpu)) {
		bool cli = in->mnemonic == ZYDIS_MNEMONIC_CLI;
		if (!cpu_virtual_if(cpu) || (!cli && (cpu->s.eflags & EFLAGS_VIP))) {
			raise_fault(cpu, d, EXC_GP, true, 0);
			return CALLOUT_STOP;
		}
		cpu_set_eflags(cpu, cli ? 0 : EFLAGS_VIF, EFLAGS_VIF);
		return CALLOUT_GO_ON;
	}
	if (in->mnemonic == ZYDIS_MNEMONIC_CLI) {
		cpu->vif = 0;
		return CALLOUT_GO_ON;
	}
	/* STI that sets IF: the next instruction runs before any interrupt. */
	if (!cpu->vif)
		cpu->shadow = true;
	cpu->vif = 1;
	return CALLOUT_GO_ON;
}

/* IRET in protected mode without NT (with NT it is iret_task_return's):
 * pops EIP, CS and EFLAGS, and for a return to an outer level ESP and SS
 * too; a return to v86 mode, and IRET inside it, are v86.c's. */
enum callout_result do_iret(struct cpu *cpu, const struct callout_desc *d,
			    const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	(void)ops;
	/* IRET ends the NMI handler's blocking even when it faults (SDM
	 * 6.7.1). */
	cpu->nmi_blocked = false;
	if (cpu_real_mode(cpu))
		return real_iret(cpu, d, in);
	if (cpu_v86_mode(cpu))
		return v86_iret(cpu, d, in);
	if (cpu->s.eflags & EFLAGS_NT)
		return iret_task_return(cpu, d);
	unsigned size = in->operand_width == 16 ? 2 : 4;
	const struct segment *ss = &cpu->s.seg[SEG_SS];
	uint32_t esp = cpu->regs[REG_ESP];
	uint32_t eip = 0, cs = 0, flags = 0, outer_esp = 0, outer_ss = 0;
	uint8_t b[12];
	if (!cpu_stack_read(cpu, ss, esp, 0, b, 3 * size)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	memcpy(&eip, b, size);
	memcpy(&cs, b + size, 2);
	memcpy(&flags, b + 2 * size, size);
	/* Only ring 0 may return to v86 mode; elsewhere VM in the image is
	 * ignored, as every flag IRET may not change. */
	if ((flags & EFLAGS_VM) && size == 4 && cpu->s.cpl == 0)
		return v86_enter(cpu, d, eip, (uint16_t)cs, flags);
	bool outer = (cs & 3u) > cpu->s.cpl;
	if (outer) {
		if (!cpu_stack_read(cpu, ss, esp, 3 * size, b, 2 * size)) {
			raise_fault(cpu, d, EXC_SS, true, 0);
			return CALLOUT_STOP;
		}
		memcpy(&outer_esp, b, size);
		memcpy(&outer_ss, b + size, 2);
	}
	/* The level IRET starts at decides which flags the frame may change:
	 * IOPL only from ring 0, IF only at CPL <= IOPL; the others are
	 * silently kept, with no fault (Robin & Irvine's point). A 32-bit
	 * IRET loads RF too, cleared as the next instruction completes
	 * (run.c, callout.c): that instruction's breakpoint does not fire,
	 * and an interrupt before it shows RF. */
	uint32_t writable = EFLAGS_ARITH | EFLAGS_TF | EFLAGS_DF | EFLAGS_NT;
	if (size == 4)
		writable |= EFLAGS_AC | EFLAGS_ID | EFLAGS_RF;
	if (cpu->s.cpl <= iopl(cpu))
		writable |= EFLAGS_IF;
	if (cpu->s.cpl == 0)
		writable |= EFLAGS_IOPL;
	if (cpu->s.cpl == 0 && size == 4)
		writable |= EFLAGS_VIF | EFLAGS_VIP;   /* how a PVI monitor sets them */
	uint32_t err;
	eip = size == 2 ? eip & 0xffff : eip;
	int vec = far_return_segments(cpu, (uint16_t)cs, (uint16_t)outer_ss, eip, &err);
	if (vec) {
		raise_fault(cpu, d, (unsigned)vec, true, err);
		return CALLOUT_STOP;
	}
	cpu->regs[REG_ESP] = outer ? outer_esp : cpu_stack_move(ss, esp, (int32_t)(3 * size));
	cpu->s.eip = eip;
	cpu_set_eflags(cpu, flags, writable);
	return CALLOUT_STOP;
}

/* The flat 4 GiB segments SYSENTER and SYSEXIT load without reading any
 * descriptor: code execute/read or data read/write, accessed, 32-bit,
 * page granular, present, at the given DPL. */
static struct segment flat_segment(uint16_t sel, bool code, unsigned dpl)
{
	uint32_t hi = DESC_S | DESC_P | DESC_DB | DESC_G | DESC_ACCESSED | DESC_WRITABLE |
		      (code ? DESC_CODE : 0) | dpl << 13;
	return (struct segment){ .selector = sel, .base = 0, .limit = 0xffffffffu,
				 .flags = desc_flags(hi) };
}

/* SYSENTER from any level: ring 0 at SYSENTER_EIP on SYSENTER_ESP, CS from
 * SYSENTER_CS and SS the descriptor after it; VM, IF and RF cleared. */
enum callout_result do_sysenter(struct cpu *cpu, const struct callout_desc *d,
				const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	(void)in;
	(void)ops;
	uint16_t cs = (uint16_t)(cpu->s.sysenter_cs & 0xfffc);
	if (!cs || cpu_real_mode(cpu)) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	cpu_set_eflags(cpu, 0, EFLAGS_VM | EFLAGS_IF | EFLAGS_RF);
	struct segment ncs = flat_segment(cs, true, 0), nss = flat_segment((uint16_t)(cs + 8), false, 0);
	cpu_set_segment(cpu, SEG_CS, &ncs);
	cpu_set_segment(cpu, SEG_SS, &nss);
	cpu->regs[REG_ESP] = cpu->s.sysenter_esp;
	cpu->s.eip = cpu->s.sysenter_eip;
	return CALLOUT_STOP;
}

/* SYSEXIT (ring 0 only, checked by cpu_callout): ring 3 at EDX on ECX,
 * CS = SYSENTER_CS + 16 and SS = SYSENTER_CS + 24, both with RPL 3.
 * EFLAGS stay as they are. */
enum callout_result do_sysexit(struct cpu *cpu, const struct callout_desc *d,
			       const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	(void)in;
	(void)ops;
	uint16_t base = (uint16_t)(cpu->s.sysenter_cs & 0xfffc);
	if (!base || cpu_real_mode(cpu)) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	struct segment ncs = flat_segment((uint16_t)((base + 16) | 3), true, 3);
	struct segment nss = flat_segment((uint16_t)((base + 24) | 3), false, 3);
	cpu_set_segment(cpu, SEG_CS, &ncs);
	cpu_set_segment(cpu, SEG_SS, &nss);
	cpu->regs[REG_ESP] = cpu->regs[REG_ECX];
	cpu->s.eip = cpu->regs[REG_EDX];
	return CALLOUT_STOP;
}
