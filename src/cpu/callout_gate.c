/* Far CALL and JMP to a system descriptor (a TSS, a task gate, a call
 * gate of 16 or 32 bits) and IRET with NT, the task return: the gate and
 * privilege checks of the SDM's CALL, JMP and IRET pseudocode, the stack
 * switch and parameter copy of a call to a more privileged level, and the
 * task switch itself through task_switch.c. Each handler leaves EIP set
 * and returns CALLOUT_STOP: CS, SS, CR3 or the CPL may have changed. */
#include <string.h>

#include "cpu/callout_internal.h"
#include "cpu/task_switch.h"
#include "isa/descriptor.h"

bool far_target_is_system(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi)
{
	return !cpu_real_mode(cpu) && (sel & ~3u) && cpu_read_descriptor(cpu, sel, lo, hi) &&
	       !(*hi & DESC_S);
}

/* A fault of a task switch: before the commit point the instruction's,
 * in the old task; after it the new task's, at its EIP. */
static enum callout_result task_fault(struct cpu *cpu, const struct callout_desc *d, unsigned vec,
				      uint32_t err)
{
	if (!cpu->task_switched) {
		raise_fault(cpu, d, vec, true, err);
		return CALLOUT_STOP;
	}
	if (cpu_take_page_fault(cpu, &err))
		vec = EXC_PF;
	cpu_deliver(cpu, vec, true, err, false);
	return CALLOUT_STOP;
}

static enum callout_result switch_to(struct cpu *cpu, const struct callout_desc *d, uint16_t sel,
				     uint32_t lo, uint32_t hi, enum task_switch_kind kind)
{
	uint32_t err;
	unsigned vec = cpu_task_switch(cpu, sel, lo, hi, kind, d->next_eip, 0, &err);
	if (vec)
		return task_fault(cpu, d, vec, err);
	cpu_deliver_task_trap(cpu);
	return CALLOUT_STOP;
}

/* A far CALL through a call gate: the target code segment at the gate's
 * offset, with a more privileged non-conforming one on the stack of its
 * level from the TSS, where the caller's SS:ESP, the gate's count of
 * parameters from the caller's stack and the return address go. The
 * gate's size (16 or 32 bits) sizes every push and the offset. */
static enum callout_result call_gate(struct cpu *cpu, const struct callout_desc *d, uint32_t lo,
				     uint32_t hi, bool call)
{
	bool gate32 = DESC_TYPE(hi) == SYS_CALL_GATE32;
	unsigned width = gate32 ? 4 : 2;
	uint16_t cs_sel = (uint16_t)(lo >> 16);
	uint32_t offset = (lo & 0xffff) | (gate32 ? hi & 0xffff0000u : 0);
	struct segment cs, ss = cpu->s.seg[SEG_SS];
	int vec = cpu_check_segment(cpu, cs_sel, SEG_USE_GATE, cpu->s.cpl, &cs);
	/* JMP cannot change the level: a non-conforming segment must be at
	 * the CPL. */
	if (!vec && !call && (cs.selector & 3u) != cpu->s.cpl)
		vec = EXC_GP;
	if (vec) {
		raise_fault(cpu, d, (unsigned)vec, true, cs_sel & 0xfffcu);
		return CALLOUT_STOP;
	}
	/* The gate's offset past the new CS's limit (SDM JMP: #GP(0)). */
	if (!call && offset > cs.limit) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	if (!call) {
		cpu_set_segment(cpu, SEG_CS, &cs);
		cpu->s.eip = offset;
		return CALLOUT_STOP;
	}
	unsigned new_cpl = cs.selector & 3u;
	bool inward = new_cpl < cpu->s.cpl;
	uint32_t esp = cpu->regs[REG_ESP];
	/* The frame from its lowest address: return EIP and CS, then for an
	 * inner level the parameters and the caller's ESP and SS. */
	uint32_t frame[4 + 31];
	unsigned n = 0;
	frame[n++] = d->next_eip;
	frame[n++] = cpu->s.seg[SEG_CS].selector;
	if (inward) {
		unsigned count = hi & 0x1f;
		uint8_t params[31 * 4];
		if (count && !cpu_stack_read(cpu, &cpu->s.seg[SEG_SS], esp, 0, params, count * width)) {
			raise_fault(cpu, d, EXC_SS, true, 0);
			return CALLOUT_STOP;
		}
		for (unsigned i = 0; i < count; i++) {
			frame[n] = 0;
			memcpy(&frame[n++], params + width * i, width);
		}
		frame[n++] = esp;
		frame[n++] = cpu->s.seg[SEG_SS].selector;
		uint32_t err;
		unsigned f = cpu_inner_stack(cpu, new_cpl, 0, &ss, &esp, &err);
		if (f) {
			raise_fault(cpu, d, f, true, err);
			return CALLOUT_STOP;
		}
	}
	/* The gate's offset past the new CS's limit: #GP(0) before anything
	 * is pushed (the SDM checks the stack's room first: a CALL that
	 * fails both gets #GP here, not #SS, as a far CALL's does). */
	if (offset > cs.limit) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	uint8_t bytes[sizeof(frame)];
	for (unsigned i = 0; i < n; i++)
		memcpy(bytes + width * i, &frame[i], width);
	if (!cpu_stack_push(cpu, &ss, &esp, bytes, width * n, inward)) {
		raise_fault(cpu, d, EXC_SS, true, inward ? ss.selector & 0xfffcu : 0);
		return CALLOUT_STOP;
	}
	if (inward)
		cpu_set_segment(cpu, SEG_SS, &ss);
	cpu_set_segment(cpu, SEG_CS, &cs);
	cpu->regs[REG_ESP] = esp;
	cpu->s.eip = offset;
	return CALLOUT_STOP;
}

enum callout_result far_system_transfer(struct cpu *cpu, const struct callout_desc *d, uint16_t sel,
					uint32_t lo, uint32_t hi, bool call)
{
	unsigned type = DESC_TYPE(hi), dpl = DESC_DPL(hi);
	enum task_switch_kind kind = call ? TASK_SWITCH_CALL : TASK_SWITCH_JMP;
	uint32_t err = sel & 0xfffcu;
	unsigned vec;
	switch (type) {
	case SYS_TSS32:
	case SYS_TSS32_BUSY:
	case SYS_TSS16:
	case SYS_TSS16_BUSY:
		/* Only an available TSS of the GDT is a target. */
		if (dpl < cpu->s.cpl || dpl < (sel & 3u) || (sel & 4) ||
		    (type != SYS_TSS32 && type != SYS_TSS16))
			vec = EXC_GP;
		else if (!(hi & DESC_P))
			vec = EXC_NP;
		else
			return switch_to(cpu, d, sel, lo, hi, kind);
		break;
	case SYS_TASK_GATE: {
		if (dpl < cpu->s.cpl || dpl < (sel & 3u)) {
			vec = EXC_GP;
			break;
		}
		if (!(hi & DESC_P)) {
			vec = EXC_NP;
			break;
		}
		uint16_t tss_sel = (uint16_t)(lo >> 16);
		uint32_t tlo, thi;
		vec = task_target(cpu, tss_sel, false, EXC_GP, 0, &tlo, &thi, &err);
		if (!vec)
			return switch_to(cpu, d, tss_sel, tlo, thi, kind);
		break;
	}
	case SYS_CALL_GATE16:
	case SYS_CALL_GATE32:
		if (dpl < cpu->s.cpl || dpl < (sel & 3u))
			vec = EXC_GP;
		else if (!(hi & DESC_P))
			vec = EXC_NP;
		else
			return call_gate(cpu, d, lo, hi, call);
		break;
	default:
		vec = EXC_GP;
		break;
	}
	raise_fault(cpu, d, vec, true, err);
	return CALLOUT_STOP;
}

enum callout_result iret_task_return(struct cpu *cpu, const struct callout_desc *d)
{
	uint16_t link;
	uint32_t lo, hi, err = cpu->s.tr.selector & 0xfffcu;
	if (!cpu_read_sys(cpu, cpu->s.tr.base, &link, 2)) {
		raise_fault(cpu, d, EXC_TS, true, err);
		return CALLOUT_STOP;
	}
	unsigned vec = task_target(cpu, link, true, EXC_TS, 0, &lo, &hi, &err);
	if (vec) {
		raise_fault(cpu, d, vec, true, err);
		return CALLOUT_STOP;
	}
	return switch_to(cpu, d, link, lo, hi, TASK_SWITCH_IRET);
}
