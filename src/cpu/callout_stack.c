/* CALLOUT_STACK: the stack instructions translated code runs on the
 * window (PUSH, POP, PUSHA, POPA, LEAVE, ENTER, near CALL and RET), run
 * by the monitor once one of them reached physical memory without RAM
 * through its stack or its memory operand. The window maps RAM only and
 * their host forms have no buffer to borrow (as an adaptive instruction's
 * one memory operand does), so the run used to end there; on a PC a push
 * to memory nobody claims goes nowhere, a pop reads all ones, and a
 * device sees the access. Random code finds this at once (a stack pointer
 * made of random bits, tests/guests/hostile_random.asm). Every access goes
 * through cpu_read_guest and cpu_write_guest, which reach the bus; a
 * failed one changes no register. */
#include "cpu/callout_internal.h"
#include "isa/descriptor.h"

static const struct segment *ss_of(const struct cpu *cpu)
{
	return &cpu->s.seg[SEG_SS];
}

static bool stack_32(const struct cpu *cpu)
{
	return (ss_of(cpu)->flags & (DESC_DB >> 8)) != 0;
}

/* An access of w bytes at offset at in SS: on a 32-bit stack within its
 * 4 GiB limit, on a 16-bit one at SP's offset, wrapping at 64 KiB as
 * translated code's accesses do. */
static bool stack_write(struct cpu *cpu, uint32_t at, uint32_t v, unsigned w)
{
	if (stack_32(cpu) && (uint64_t)at + w > 1ull << 32)
		return false;
	return cpu_stack_write(cpu, ss_of(cpu), at, 0, &v, w);
}

static bool stack_read(struct cpu *cpu, uint32_t at, uint32_t *v, unsigned w)
{
	uint32_t x = 0;
	if ((stack_32(cpu) && (uint64_t)at + w > 1ull << 32) || !cpu_stack_read(cpu, ss_of(cpu), at, 0, &x, w))
		return false;
	*v = x;
	return true;
}

/* The stack pointer moved by delta: ESP, or SP alone on a 16-bit stack. */
static uint32_t sp_move(const struct cpu *cpu, uint32_t sp, int32_t delta)
{
	return cpu_stack_move(ss_of(cpu), sp, delta);
}

static uint32_t width_mask(unsigned w)
{
	return w == 2 ? 0xffffu : 0xffffffffu;
}

/* The value of a register, immediate or memory source of w bytes. */
static bool source_value(struct cpu *cpu, const ZydisDecodedInstruction *in,
			 const ZydisDecodedOperand *op, unsigned w, uint32_t *v)
{
	switch (op->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		*v = reg_read(cpu, op->reg.value);
		return true;
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		*v = (uint32_t)op->imm.value.s & width_mask(w);
		return true;
	case ZYDIS_OPERAND_TYPE_MEMORY: {
		uint32_t x = 0, at = linear_address(cpu, in, op);
		if (!operand_in_limit(cpu, op, at, w) || !cpu_read_guest(cpu, at, &x, w))
			return false;
		*v = x;
		return true;
	}
	default:
		return false;
	}
}

static const uint8_t pusha_order[8] = { REG_EAX, REG_ECX, REG_EDX, REG_EBX,
					REG_ESP, REG_EBP, REG_ESI, REG_EDI };

enum callout_result do_stack_insn(struct cpu *cpu, const struct callout_desc *d,
				  const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	unsigned w = in->operand_width == 16 ? 2 : 4;
	uint32_t esp = cpu->regs[REG_ESP];
	uint32_t next = d->next_eip, v = 0;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_PUSH:
		if (!source_value(cpu, in, &ops[0], w, &v))
			goto mem_fault;
		esp = sp_move(cpu, esp, -(int32_t)w);
		if (!stack_write(cpu, esp, v, w))
			goto stack_fault;
		break;
	case ZYDIS_MNEMONIC_POP:
		if (!stack_read(cpu, esp, &v, w))
			goto stack_fault;
		esp = sp_move(cpu, esp, (int32_t)w);
		if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
			/* POP ESP (or SP) loads what it popped. */
			cpu->regs[REG_ESP] = esp;
			reg_write(cpu, ops[0].reg.value, v);
			esp = cpu->regs[REG_ESP];
		} else {
			/* POP m addresses with ESP already incremented. */
			uint32_t old = cpu->regs[REG_ESP];
			cpu->regs[REG_ESP] = esp;
			uint32_t at = linear_address(cpu, in, &ops[0]);
			cpu->regs[REG_ESP] = old;
			if (!operand_in_limit(cpu, &ops[0], at, w) || !cpu_write_guest(cpu, at, &v, w))
				goto mem_fault;
		}
		break;
	case ZYDIS_MNEMONIC_PUSHA:
	case ZYDIS_MNEMONIC_PUSHAD:
		for (unsigned i = 0; i < 8; i++) {
			esp = sp_move(cpu, esp, -(int32_t)w);
			if (!stack_write(cpu, esp, cpu->regs[pusha_order[i]], w))
				goto stack_fault;
		}
		break;
	case ZYDIS_MNEMONIC_POPA:
	case ZYDIS_MNEMONIC_POPAD: {
		uint32_t img[8];
		for (int i = 7; i >= 0; i--, esp = sp_move(cpu, esp, (int32_t)w))
			if (!stack_read(cpu, esp, &img[i], w))
				goto stack_fault;
		for (unsigned i = 0; i < 8; i++) {
			if (pusha_order[i] == REG_ESP)
				continue;   /* the ESP image is skipped */
			if (w == 4)
				cpu->regs[pusha_order[i]] = img[i];
			else
				cpu->regs[pusha_order[i]] = (cpu->regs[pusha_order[i]] & 0xffff0000u) | img[i];
		}
		break;
	}
	case ZYDIS_MNEMONIC_LEAVE:
		/* ESP = EBP, or SP = BP on a 16-bit stack. */
		esp = stack_32(cpu) ? cpu->regs[REG_EBP]
				    : (esp & 0xffff0000u) | (cpu->regs[REG_EBP] & 0xffff);
		if (!stack_read(cpu, esp, &v, w))
			goto stack_fault;
		esp = sp_move(cpu, esp, (int32_t)w);
		if (w == 4)
			cpu->regs[REG_EBP] = v;
		else
			cpu->regs[REG_EBP] = (cpu->regs[REG_EBP] & 0xffff0000u) | v;
		break;
	case ZYDIS_MNEMONIC_ENTER: {
		/* Level 0 only: a nesting level makes it a callout of its own.
		 * The frame pointer is ESP, or SP on a 16-bit stack. */
		esp = sp_move(cpu, esp, -(int32_t)w);
		if (!stack_write(cpu, esp, cpu->regs[REG_EBP], w))
			goto stack_fault;
		uint32_t frame = stack_32(cpu) ? esp : esp & 0xffff;
		if (w == 4)
			cpu->regs[REG_EBP] = frame;
		else
			cpu->regs[REG_EBP] = (cpu->regs[REG_EBP] & 0xffff0000u) | (frame & 0xffff);
		esp = sp_move(cpu, esp, -(int32_t)((uint32_t)ops[0].imm.value.u & 0xffff));
		break;
	}
	case ZYDIS_MNEMONIC_CALL:
	case ZYDIS_MNEMONIC_RET:
		/* A 16-bit operand size pushes and pops a word of IP, and a
		 * target cut to 16 bits (translate_flow.c does the same).
		 * A target past CS's limit is #GP(0) before the CALL pushes,
		 * and leaves ESP as it was for the RET (the SDM's order:
		 * the CALL's #GP before the stack's #SS, the RET's after). */
		if (in->mnemonic == ZYDIS_MNEMONIC_CALL) {
			if (ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
				v = (d->next_eip + (uint32_t)ops[0].imm.value.s) & width_mask(w);
			else if (!source_value(cpu, in, &ops[0], w, &v))
				goto mem_fault;
			if ((v & width_mask(w)) > cpu_code_limit(cpu))
				goto limit_fault;
			esp = sp_move(cpu, esp, -(int32_t)w);
			if (!stack_write(cpu, esp, d->next_eip, w))
				goto stack_fault;
		} else {
			if (!stack_read(cpu, esp, &v, w))
				goto stack_fault;
			if ((v & width_mask(w)) > cpu_code_limit(cpu))
				goto limit_fault;
			esp = sp_move(cpu, esp, (int32_t)w);
			if (in->operand_count_visible && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
				esp = sp_move(cpu, esp, (int32_t)(ops[0].imm.value.u & 0xffff));
		}
		next = v & width_mask(w);
		break;
	default:
		goto undefined;
	}
	cpu->regs[REG_ESP] = esp;
	cpu->s.eip = next;
	return CALLOUT_STOP;
stack_fault:
	raise_fault(cpu, d, EXC_SS, true, 0);
	return CALLOUT_STOP;
limit_fault:
	raise_fault(cpu, d, EXC_GP, true, 0);
	return CALLOUT_STOP;
mem_fault:
	raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
	return CALLOUT_STOP;
undefined:
	raise_fault(cpu, d, EXC_UD, false, 0);
	return CALLOUT_STOP;
}
