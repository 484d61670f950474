/* Descriptor loads from the guest GDT/LDT and delivery of exceptions and
 * interrupts through the guest IDT. */
#include <string.h>

#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "mmu/window.h"

bool cpu_read_descriptor(struct cpu *cpu, uint16_t selector, uint32_t *lo, uint32_t *hi)
{
	uint32_t base, limit;
	if (selector & 4) {
		base = cpu->s.ldtr.base;
		limit = cpu->s.ldtr.limit;
	} else {
		base = cpu->s.gdtr.base;
		limit = cpu->s.gdtr.limit;
	}
	uint32_t off = selector & ~7u;
	if (off + 7 > limit)
		return false;
	uint32_t d[2];
	if (!cpu_read_sys(cpu, base + off, d, 8))
		return false;
	*lo = d[0];
	*hi = d[1];
	return true;
}

/* Loads a segment register from the guest's descriptor tables. Returns 0,
 * or the vector (#GP/#NP/#SS) to raise with the selector as error code. */
int cpu_load_segment(struct cpu *cpu, unsigned seg, uint16_t selector)
{
	struct segment *s = &cpu->s.seg[seg];
	uint32_t lo, hi;
	if ((selector & ~3u) == 0) {
		if (seg == SEG_CS || seg == SEG_SS)
			return EXC_GP;
		*s = (struct segment){ .selector = selector };
		cpu->seg_base[seg] = 0;
		return 0;
	}
	if (!cpu_read_descriptor(cpu, selector, &lo, &hi))
		return EXC_GP;
	bool code = hi & (1u << 11), present = hi & (1u << 15), system = !(hi & (1u << 12));
	if (system)
		return EXC_GP;
	if (seg == SEG_CS && !code)
		return EXC_GP;
	if (seg == SEG_SS && (code || !(hi & (1u << 9))))
		return EXC_GP;
	if (seg != SEG_CS && code && !(hi & (1u << 9)))
		return EXC_GP;   /* execute-only code into a data segment */
	if (!present)
		return seg == SEG_SS ? EXC_SS : EXC_NP;
	uint32_t limit = (lo & 0xffff) | (hi & 0x000f0000);
	if (hi & (1u << 23))
		limit = (limit << 12) | 0xfff;
	s->selector = selector;
	s->base = (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
	s->limit = limit;
	s->flags = (uint16_t)((hi >> 8) & 0xf0ff);
	cpu->seg_base[seg] = s->base;
	if (seg == SEG_CS)
		cpu->s.cpl = selector & 3;
	return 0;
}

bool cpu_take_page_fault(struct cpu *cpu, uint32_t *error)
{
	if (!cpu->pf.pending)
		return false;
	cpu->pf.pending = false;
	cpu->s.cr2 = cpu->pf.cr2;
	*error = cpu->pf.error;
	return true;
}

static bool push32(struct cpu *cpu, uint32_t value)
{
	uint32_t esp = cpu->regs[REG_ESP] - 4;
	if (!cpu_write_guest(cpu, cpu->s.seg[SEG_SS].base + esp, &value, 4))
		return false;
	cpu->regs[REG_ESP] = esp;
	return true;
}

/* One attempt at delivering vector through the IDT. Returns 0, or the
 * exception the attempt itself raised with its error code in *fault_error. */
static unsigned deliver_once(struct cpu *cpu, unsigned vector, bool has_error, uint32_t error,
			     uint32_t *fault_error)
{
	uint32_t gate[2];
	*fault_error = vector * 8 + 2;   /* IDT entry, EXT bit: an IDT reference */
	if (vector * 8 + 7 > cpu->s.idtr.limit || !cpu_read_sys(cpu, cpu->s.idtr.base + vector * 8, gate, 8))
		return cpu_take_page_fault(cpu, fault_error) ? EXC_PF : EXC_GP;
	unsigned type = (gate[1] >> 8) & 0x1f;
	if (type != 0x0e && type != 0x0f)
		return EXC_GP;   /* task gates and 16-bit gates: not supported */
	if (!(gate[1] & (1u << 15)))
		return EXC_NP;
	uint16_t sel = (uint16_t)(gate[0] >> 16);
	uint32_t offset = (gate[0] & 0xffff) | (gate[1] & 0xffff0000);
	uint32_t eflags = cpu_get_eflags(cpu);
	uint16_t old_cs = cpu->s.seg[SEG_CS].selector;
	uint32_t old_esp = cpu->regs[REG_ESP];
	struct segment old_seg = cpu->s.seg[SEG_CS];
	int cs_fault = cpu_load_segment(cpu, SEG_CS, sel);
	if (cs_fault) {
		*fault_error = sel & 0xfffc;
		return cs_fault == EXC_NP ? EXC_NP : EXC_GP;
	}
	if (!push32(cpu, eflags) || !push32(cpu, old_cs) || !push32(cpu, cpu->s.eip) ||
	    (has_error && !push32(cpu, error))) {
		cpu->regs[REG_ESP] = old_esp;
		cpu->s.seg[SEG_CS] = old_seg;
		cpu->seg_base[SEG_CS] = old_seg.base;
		*fault_error = 0;
		return cpu_take_page_fault(cpu, fault_error) ? EXC_PF : EXC_SS;
	}
	uint32_t clear = EFLAGS_TF | EFLAGS_NT | EFLAGS_RF | EFLAGS_VM;
	if (type == 0x0e)
		clear |= EFLAGS_IF;
	cpu_set_eflags(cpu, eflags & ~clear, ~0u);
	cpu->s.eip = offset;
	return 0;
}

static bool vector_has_error(unsigned vector)
{
	return vector == EXC_DF || (vector >= EXC_TS && vector <= EXC_PF) || vector == EXC_AC;
}

static bool contributory(unsigned vector)
{
	return vector == EXC_DE || (vector >= EXC_TS && vector <= EXC_GP);
}

void cpu_deliver(struct cpu *cpu, unsigned vector, bool has_error, uint32_t error, bool software)
{
	cpu->halted = false;
	cpu->deliveries++;
	/* At most: the event, a fault delivering it, #DF, then shutdown. */
	for (int depth = 0; depth < 4; depth++) {
		uint32_t ferr;
		unsigned fvec = deliver_once(cpu, vector, has_error, error, &ferr);
		if (!fvec)
			return;
		if (vector == EXC_DF)
			break;
		/* A software interrupt that cannot be delivered faults at the
		 * INT instruction itself. */
		if (software)
			cpu->s.eip = cpu->soft_int_eip;
		software = false;
		/* SDM "Conditions for Generating a Double Fault". */
		bool dbl = (contributory(vector) && contributory(fvec)) ||
			   (vector == EXC_PF && (fvec == EXC_PF || contributory(fvec)));
		vector = dbl ? EXC_DF : fvec;
		error = dbl ? 0 : ferr;
		has_error = vector_has_error(vector);
	}
	cpu->fatal = "triple fault: the guest could not take a double fault";
	cpu->triple_fault = true;
}

bool insn_uses_fpu(const ZydisDecodedInstruction *in)
{
	switch (in->meta.isa_ext) {
	case ZYDIS_ISA_EXT_X87:
	case ZYDIS_ISA_EXT_MMX:
	case ZYDIS_ISA_EXT_SSE:
	case ZYDIS_ISA_EXT_SSE2:
	case ZYDIS_ISA_EXT_SSE3:
	case ZYDIS_ISA_EXT_SSSE3:
	case ZYDIS_ISA_EXT_SSE4:
		return true;
	default:
		return in->mnemonic == ZYDIS_MNEMONIC_FWAIT || in->mnemonic == ZYDIS_MNEMONIC_FXSAVE ||
		       in->mnemonic == ZYDIS_MNEMONIC_FXRSTOR;
	}
}

int cpu_fpu_unavailable(const struct cpu *cpu, const ZydisDecodedInstruction *in)
{
	uint32_t cr0 = cpu->s.cr0;
	if (!insn_uses_fpu(in))
		return -1;
	/* WAIT looks only at TS, and only when MP says the FPU is shared. */
	if (in->mnemonic == ZYDIS_MNEMONIC_FWAIT)
		return (cr0 & (CR0_TS | CR0_MP)) == (CR0_TS | CR0_MP) ? EXC_NM : -1;
	bool x87 = in->meta.isa_ext == ZYDIS_ISA_EXT_X87 || in->mnemonic == ZYDIS_MNEMONIC_FXSAVE ||
		   in->mnemonic == ZYDIS_MNEMONIC_FXRSTOR;
	if (cr0 & CR0_EM)
		return x87 ? EXC_NM : EXC_UD;
	return (cr0 & CR0_TS) ? EXC_NM : -1;
}

bool insn_writes_via_cs(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	for (unsigned i = 0; i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.segment == ZYDIS_REGISTER_CS &&
		    (ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			return true;
	return false;
}
