/* An access of translated code that ran past the top of the 4 GiB linear
 * space (into the window's guard, or a #PF on the top page on its way
 * there): past a flat segment's limit, which is #SS(0) when the segment
 * is SS and #GP(0) otherwise (SDM Vol. 3 6.15, interrupts 12 and 13; the
 * APM alike). The host fault says neither which access it was nor
 * through which segment, so the guest instruction is decoded again here,
 * with the registers as of its start (host_fault.c restored them), and
 * its accesses are walked in the order the processor makes them. This
 * runs only on such faults: translated code pays nothing for it. */
#include "cpu/callout_internal.h"
#include "cpu/run_internal.h"
#include "mmu/paging.h"
#include "mmu/shadow.h"
#include "translator/translate.h"

/* Up to 15 bytes of the instruction at EIP, from RAM only (a device's
 * read has effects), without leaving a #PF pending; how many. */
static unsigned fetch_insn(struct cpu *cpu, uint8_t *buf)
{
	uint32_t linear = cpu_code_linear(cpu, cpu->s.eip);
	unsigned got = 0;
	while (got < ZYDIS_MAX_INSTRUCTION_LENGTH) {
		uint32_t at = linear + got;
		unsigned n = GUEST_PAGE_SIZE - (at & (GUEST_PAGE_SIZE - 1));
		if (n > ZYDIS_MAX_INSTRUCTION_LENGTH - got)
			n = ZYDIS_MAX_INSTRUCTION_LENGTH - got;
		uint64_t gpa;
		if (!cpu_translate(cpu, at, ACCESS_FETCH, &gpa)) {
			cpu->pf.pending = false;
			break;
		}
		if (!guest_ram_contains(cpu->sh->ram, gpa, n))
			break;
		cpu_read_phys(cpu, gpa, buf + got, n);
		got += n;
	}
	return got;
}

/* The stack's own operand (PUSH, POP, CALL, RET, ENTER, PUSHA...): Zydis
 * gives it as a hidden [SS:ESP] without the displacement it has. */
static bool is_stack_operand(const ZydisDecodedOperand *op)
{
	return op->visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN && op->mem.segment == ZYDIS_REGISTER_SS &&
	       op->mem.base == ZYDIS_REGISTER_ESP;
}

/* Whether len bytes at linear address linear run past 4 GiB; *start is
 * where such an access begins. */
static bool runs_past(uint32_t linear, unsigned len, uint32_t *start)
{
	*start = linear;
	return (uint64_t)linear + len > 1ull << 32;
}

/* The stack operand's elements (one per pushed or popped item). PUSHA
 * and POPA check the whole range before they move a byte (the SDM's
 * starting and ending address), so *start is the range's. */
static bool stack_runs_past(const struct cpu *cpu, const ZydisDecodedInstruction *in,
			    const ZydisDecodedOperand *op, uint32_t *start)
{
	unsigned w = in->operand_width / 8, total = op->size / 8;
	if (!w || total < w)
		return false;
	uint32_t esp = cpu->regs[REG_ESP], base = cpu->s.seg[SEG_SS].base;
	bool push = (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
	uint32_t first = base + (push ? esp - total : esp);
	for (unsigned k = 0; k < total / w; k++) {
		uint32_t off = push ? esp - w * (k + 1) : esp + w * k;
		if (runs_past(base + off, w, start)) {
			*start = first;
			return true;
		}
	}
	return false;
}

/* Any other memory operand: explicit, a string instruction's, LEAVE's
 * [SS:EBP]. POP m addresses it with ESP already incremented. */
static bool operand_runs_past(struct cpu *cpu, const ZydisDecodedInstruction *in,
			      const ZydisDecodedOperand *op, uint32_t *start)
{
	uint32_t esp = cpu->regs[REG_ESP];
	if (in->mnemonic == ZYDIS_MNEMONIC_POP)
		cpu->regs[REG_ESP] = esp + in->operand_width / 8;
	uint32_t linear = linear_address(cpu, in, op);
	cpu->regs[REG_ESP] = esp;
	unsigned len = op->size / 8;
	return runs_past(linear, len ? len : 1, start);
}

/* Pass 0: the stack's reads (a POP reads before it stores); pass 1: the
 * other operands (PUSH m and CALL m read theirs before they push); pass
 * 2: the stack's writes. */
static bool first_past(struct cpu *cpu, const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
		       unsigned *vector, uint32_t *start)
{
	for (unsigned pass = 0; pass < 3; pass++)
		for (unsigned i = 0; i < in->operand_count; i++) {
			const ZydisDecodedOperand *op = &ops[i];
			if (op->type != ZYDIS_OPERAND_TYPE_MEMORY || op->mem.type != ZYDIS_MEMOP_TYPE_MEM)
				continue;
			bool stack = is_stack_operand(op);
			bool write = (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
			unsigned want = stack ? (write ? 2 : 0) : 1;
			if (want != pass)
				continue;
			if (stack ? stack_runs_past(cpu, in, op, start) : operand_runs_past(cpu, in, op, start)) {
				*vector = op->mem.segment == ZYDIS_REGISTER_SS ? EXC_SS : EXC_GP;
				return true;
			}
		}
	return false;
}

bool cpu_wrap_fault(struct cpu *cpu, unsigned *vector, uint32_t *start)
{
	uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
	unsigned n = fetch_insn(cpu, bytes);
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	const ZydisDecoder *dec = &cpu->decoders[decoder_index(cpu_mode(cpu))];
	if (!n || ZYAN_FAILED(ZydisDecoderDecodeFull(dec, bytes, n, &in, ops)))
		return false;
	return first_past(cpu, &in, ops, vector, start);
}
