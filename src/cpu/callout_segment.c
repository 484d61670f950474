/* Callouts for segmentation: far JMP/CALL/RET, the far-pointer loads
 * (LDS/LES/LFS/LGS/LSS), PUSH/POP of segment registers, the descriptor
 * queries (LAR/LSL/VERR/VERW, ARPL), and the system registers behind
 * STR/SLDT/SMSW, LLDT/LTR and LMSW. Every segment register load goes
 * through cpu_check_segment (exception.c), or in real mode cpu_real_load
 * (realmode.c), and every handler that changes one returns CALLOUT_STOP:
 * segment bases and CS.D/SS.B are part of the translation mode (MODE_FLAT,
 * MODE_SEGCS, MODE_CODE16, MODE_STACK16), and a new CS may change the CPL
 * (MODE_CPL3). Stack accesses follow SS.B (cpu_stack_push and friends). */
#include <string.h>

#include "cpu/callout_internal.h"
#include "cpu/deprivilege.h"
#include "isa/descriptor.h"

static void set_zf(struct cpu *cpu, bool on)
{
	if (on)
		cpu->rflags |= EFLAGS_ZF;
	else
		cpu->rflags &= ~(uint64_t)EFLAGS_ZF;
}

/* A far pointer: an immediate ptr16:16/32, or m16:16/m16:32 in memory,
 * the offset first. False if the memory cannot be read. */
static bool far_pointer(struct cpu *cpu, const ZydisDecodedInstruction *in,
			const ZydisDecodedOperand *op, uint32_t *off, uint16_t *sel)
{
	if (op->type == ZYDIS_OPERAND_TYPE_POINTER) {
		*sel = op->ptr.segment;
		*off = op->ptr.offset;
		return true;
	}
	uint8_t b[6];
	unsigned osize = in->operand_width == 16 ? 2 : 4;
	uint32_t at = linear_address(cpu, in, op);
	if (!operand_in_limit(cpu, op, at, osize + 2) || !cpu_read_guest(cpu, at, b, osize + 2))
		return false;
	*off = 0;
	memcpy(off, b, osize);
	*sel = (uint16_t)(b[osize] | b[osize + 1] << 8);
	return true;
}

enum callout_result do_far_jmp(struct cpu *cpu, const struct callout_desc *d,
			       const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	uint16_t sel;
	uint32_t off;
	if (!far_pointer(cpu, in, &ops[0], &off, &sel)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
		return CALLOUT_STOP;
	}
	uint32_t lo, hi;
	if (far_target_is_system(cpu, sel, &lo, &hi))
		return far_system_transfer(cpu, d, sel, lo, hi, false);
	uint32_t eip = in->operand_width == 16 ? off & 0xffff : off;
	if (cpu_segments_real(cpu)) {
		if (!cpu_real_eip_in_limit(cpu, eip)) {
			raise_fault(cpu, d, EXC_GP, true, 0);
			return CALLOUT_STOP;
		}
		(void)cpu_load_segment(cpu, SEG_CS, sel);   /* never faults in real or v86 mode */
		cpu->s.eip = eip;
		return CALLOUT_STOP;
	}
	struct segment cs;
	int vec = cpu_check_segment(cpu, sel, SEG_USE_JUMP, cpu->s.cpl, &cs);
	if (vec) {
		raise_fault(cpu, d, (unsigned)vec, true, sel & 0xfffc);
		return CALLOUT_STOP;
	}
	/* The new EIP past the new CS's limit is the JMP's #GP(0). */
	if (eip > cs.limit) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	cpu_set_segment(cpu, SEG_CS, &cs);
	cpu->s.eip = eip;
	return CALLOUT_STOP;
}

/* A system descriptor (call gate, task gate, TSS) is callout_gate.c's. */
enum callout_result do_far_call(struct cpu *cpu, const struct callout_desc *d,
				const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	uint16_t sel;
	uint32_t off;
	struct segment cs;
	if (!far_pointer(cpu, in, &ops[0], &off, &sel)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
		return CALLOUT_STOP;
	}
	if (cpu_segments_real(cpu))
		return real_far_call(cpu, d, in, sel, off);
	uint32_t lo, hi;
	if (far_target_is_system(cpu, sel, &lo, &hi))
		return far_system_transfer(cpu, d, sel, lo, hi, true);
	int vec = cpu_check_segment(cpu, sel, SEG_USE_JUMP, cpu->s.cpl, &cs);
	if (vec) {
		raise_fault(cpu, d, (unsigned)vec, true, sel & 0xfffc);
		return CALLOUT_STOP;
	}
	unsigned size = in->operand_width == 16 ? 2 : 4;
	/* The SDM checks the stack's room first: only a CALL that fails
	 * both differs (#GP here, #SS there). */
	if ((size == 2 ? off & 0xffff : off) > cs.limit) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	/* Return address below the caller's CS, the selector zero-extended
	 * in a 32-bit push. Nothing is written unless both fit. */
	uint8_t frame[8];
	uint32_t ret = d->next_eip, old_cs = cpu->s.seg[SEG_CS].selector;
	memcpy(frame, &ret, size);
	memcpy(frame + size, &old_cs, size);
	uint32_t esp = cpu->regs[REG_ESP];
	if (!cpu_stack_push(cpu, &cpu->s.seg[SEG_SS], &esp, frame, 2 * size, false)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	cpu_set_segment(cpu, SEG_CS, &cs);
	cpu->regs[REG_ESP] = esp;
	cpu->s.eip = size == 2 ? off & 0xffff : off;
	return CALLOUT_STOP;
}

int far_return_segments(struct cpu *cpu, uint16_t cs, uint16_t ss, uint32_t eip, uint32_t *err)
{
	struct segment ncs, nss;
	*err = cs & 0xfffcu;
	int vec = cpu_check_segment(cpu, cs, SEG_USE_RETURN, cpu->s.cpl, &ncs);
	if (vec)
		return vec;
	unsigned new_cpl = cs & 3u;
	bool outer = new_cpl > cpu->s.cpl;
	if (outer) {
		*err = ss & 0xfffcu;
		vec = cpu_check_segment(cpu, ss, SEG_USE_STACK, new_cpl, &nss);
		if (vec)
			return vec;
	}
	if (eip > ncs.limit) {
		*err = 0;
		return EXC_GP;
	}
	cpu_set_segment(cpu, SEG_CS, &ncs);
	if (outer) {
		cpu_set_segment(cpu, SEG_SS, &nss);
		cpu_null_inner_segments(cpu);
	}
	return 0;
}

enum callout_result do_far_ret(struct cpu *cpu, const struct callout_desc *d,
			       const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	unsigned size = in->operand_width == 16 ? 2 : 4;
	uint32_t imm = in->operand_count_visible ? (uint32_t)ops[0].imm.value.u & 0xffff : 0;
	if (cpu_segments_real(cpu))
		return real_far_ret(cpu, d, in, imm);
	const struct segment *ss = &cpu->s.seg[SEG_SS];
	uint32_t esp = cpu->regs[REG_ESP];
	uint32_t eip = 0, cs = 0, outer_esp = 0, outer_ss = 0;
	uint8_t frame[8];
	if (!cpu_stack_read(cpu, ss, esp, 0, frame, 2 * size)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	memcpy(&eip, frame, size);
	memcpy(&cs, frame + size, 2);
	bool outer = (cs & 3u) > cpu->s.cpl;
	uint32_t new_esp = cpu_stack_move(ss, esp, (int32_t)(2 * size + imm));
	if (outer) {
		/* The caller's SS:ESP sit above the parameters RET n drops. */
		if (!cpu_stack_read(cpu, ss, new_esp, 0, frame, 2 * size)) {
			raise_fault(cpu, d, EXC_SS, true, 0);
			return CALLOUT_STOP;
		}
		memcpy(&outer_esp, frame, size);
		memcpy(&outer_ss, frame + size, 2);
		new_esp = outer_esp + imm;
	}
	uint32_t err;
	eip = size == 2 ? eip & 0xffff : eip;
	int vec = far_return_segments(cpu, (uint16_t)cs, (uint16_t)outer_ss, eip, &err);
	if (vec) {
		raise_fault(cpu, d, (unsigned)vec, true, err);
		return CALLOUT_STOP;
	}
	cpu->regs[REG_ESP] = new_esp;
	cpu->s.eip = eip;
	return CALLOUT_STOP;
}

enum callout_result do_load_far_pointer(struct cpu *cpu, const struct callout_desc *d,
					const ZydisDecodedInstruction *in,
					const ZydisDecodedOperand *ops)
{
	unsigned seg;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_LDS: seg = SEG_DS; break;
	case ZYDIS_MNEMONIC_LES: seg = SEG_ES; break;
	case ZYDIS_MNEMONIC_LFS: seg = SEG_FS; break;
	case ZYDIS_MNEMONIC_LGS: seg = SEG_GS; break;
	default: seg = SEG_SS; break;
	}
	uint16_t sel;
	uint32_t off;
	if (ops[1].type != ZYDIS_OPERAND_TYPE_MEMORY) {
		raise_fault(cpu, d, EXC_UD, false, 0);
		return CALLOUT_STOP;
	}
	if (!far_pointer(cpu, in, &ops[1], &off, &sel)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[1]), true, 0);
		return CALLOUT_STOP;
	}
	int vec = cpu_load_segment(cpu, seg, sel);
	if (vec) {
		raise_fault(cpu, d, (unsigned)vec, true, sel & 0xfffc);
		return CALLOUT_STOP;
	}
	reg_write(cpu, ops[0].reg.value, off);
	cpu->s.eip = d->next_eip;
	return CALLOUT_STOP;
}

enum callout_result do_push_seg(struct cpu *cpu, const struct callout_desc *d,
				const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	unsigned seg = seg_reg_index(ops[0].reg.value);
	uint32_t sel = cpu->s.seg[seg].selector;
	if (cpu->deprivileged)
		sel = deprivilege_selector(cpu, d->eip, seg, (uint16_t)sel);
	unsigned size = in->operand_width == 16 ? 2 : 4;
	const struct segment *ss = &cpu->s.seg[SEG_SS];
	uint32_t esp = cpu->regs[REG_ESP];
	uint32_t v = sel;
	/* A 32-bit push takes a whole stack slot but, on current Intel CPUs,
	 * writes only the selector's word: the upper half keeps what it had. */
	if (size == 4) {
		uint32_t old;
		if (!cpu_stack_read(cpu, ss, esp, (uint32_t)-4, &old, 4))
			goto fault;
		v = (old & 0xffff0000u) | sel;
	}
	if (!cpu_stack_push(cpu, ss, &esp, &v, size, false))
		goto fault;
	cpu->regs[REG_ESP] = esp;
	return CALLOUT_GO_ON;
fault:
	raise_fault(cpu, d, EXC_SS, true, 0);
	return CALLOUT_STOP;
}

enum callout_result do_pop_seg(struct cpu *cpu, const struct callout_desc *d,
			       const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	unsigned seg = seg_reg_index(ops[0].reg.value);
	unsigned size = in->operand_width == 16 ? 2 : 4;
	uint16_t sel;
	if (seg == SEG_CS) {
		raise_fault(cpu, d, EXC_UD, false, 0);
		return CALLOUT_STOP;
	}
	/* The stack as it is before the load (POP SS moves the new one). */
	struct segment ss = cpu->s.seg[SEG_SS];
	if (!cpu_stack_read(cpu, &ss, cpu->regs[REG_ESP], 0, &sel, 2)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	int vec = cpu_load_segment(cpu, seg, sel);
	if (vec) {
		raise_fault(cpu, d, (unsigned)vec, true, sel & 0xfffc);
		return CALLOUT_STOP;
	}
	cpu->regs[REG_ESP] = cpu_stack_move(&ss, cpu->regs[REG_ESP], (int32_t)size);
	if (seg == SEG_SS)
		cpu->shadow = cpu->shadow_ss = true;   /* as MOV SS: the next instruction runs first */
	cpu->s.eip = d->next_eip;
	return CALLOUT_STOP;
}

/* The descriptor a query instruction looks at, if the selector names one
 * the current privilege level may see; the null selector names none.
 * Conforming code segments are visible from every level. */
static bool visible_descriptor(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi)
{
	if (!(sel & ~3u) || !cpu_read_descriptor(cpu, sel, lo, hi))
		return false;
	if ((*hi & DESC_S) && (*hi & DESC_CODE) && (*hi & DESC_CONFORMING))
		return true;
	unsigned dpl = DESC_DPL(*hi);
	return dpl >= cpu->s.cpl && dpl >= (sel & 3u);
}

enum callout_result do_lar_lsl(struct cpu *cpu, const struct callout_desc *d,
			       const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	uint16_t sel;
	uint32_t lo, hi;
	if (!read_rm16(cpu, in, &ops[1], &sel)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[1]), true, 0);
		return CALLOUT_STOP;
	}
	bool lar = in->mnemonic == ZYDIS_MNEMONIC_LAR;
	bool ok = visible_descriptor(cpu, sel, &lo, &hi);
	if (ok && !(hi & DESC_S)) {
		/* System types with an access-rights word; LSL only those with a
		 * limit (TSSs and LDTs, not gates). */
		switch (DESC_TYPE(hi)) {
		case SYS_TSS16: case SYS_LDT: case SYS_TSS16_BUSY: case SYS_TSS32: case SYS_TSS32_BUSY:
			break;
		case SYS_CALL_GATE16: case SYS_TASK_GATE: case SYS_CALL_GATE32:
			ok = lar;
			break;
		default:
			ok = false;
			break;
		}
	}
	set_zf(cpu, ok);
	if (!ok)
		return CALLOUT_GO_ON;
	/* LAR's bits 19:16 are the SDM's "undefined" X: Intel hardware (and
	 * Bochs) return the descriptor's limit bits there. */
	uint32_t v = lar ? hi & 0x00ffff00u : desc_limit(lo, hi);
	if (lar && cpu->deprivileged)
		v = deprivilege_lar(cpu, d->eip, v);
	reg_write(cpu, ops[0].reg.value, v);
	return CALLOUT_GO_ON;
}

enum callout_result do_verr_verw(struct cpu *cpu, const struct callout_desc *d,
				 const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	uint16_t sel;
	uint32_t lo, hi;
	if (!read_rm16(cpu, in, &ops[0], &sel)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
		return CALLOUT_STOP;
	}
	bool ok = visible_descriptor(cpu, sel, &lo, &hi) && (hi & DESC_S);
	if (ok && in->mnemonic == ZYDIS_MNEMONIC_VERR)
		ok = !(hi & DESC_CODE) || (hi & DESC_READABLE);
	else if (ok)
		ok = !(hi & DESC_CODE) && (hi & DESC_WRITABLE);
	set_zf(cpu, ok);
	if (ok && in->mnemonic == ZYDIS_MNEMONIC_VERW && cpu->s.cpl == 0 && !(sel & 4)) {
		/* The same selector and bytes at CPL 0 pass again: translated
		 * VERW compares them (verw_cache). */
		cpu->verw_cache.selector = sel;
		cpu->verw_cache.addr = cpu->s.gdtr.base + (sel & ~7u);
		cpu->verw_cache.desc = (uint64_t)hi << 32 | lo;
	}
	return CALLOUT_GO_ON;
}

/* 0x63 is MOVSXD in 64-bit mode, so ARPL cannot run on the host. */
enum callout_result do_arpl(struct cpu *cpu, const struct callout_desc *d,
			    const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	uint16_t dst, src = (uint16_t)reg_read(cpu, ops[1].reg.value);
	if (!read_rm16(cpu, in, &ops[0], &dst)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
		return CALLOUT_STOP;
	}
	if ((dst & 3) >= (src & 3)) {
		set_zf(cpu, false);
		return CALLOUT_GO_ON;
	}
	dst = (uint16_t)((dst & ~3u) | (src & 3u));
	if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
		reg_write(cpu, ops[0].reg.value, dst);
	} else if (!cpu_write_guest(cpu, linear_address(cpu, in, &ops[0]), &dst, 2)) {
		/* read_rm16 checked the limit for the same two bytes. */
		raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
		return CALLOUT_STOP;
	}
	set_zf(cpu, true);
	return CALLOUT_GO_ON;
}

/* STR, SLDT and SMSW: a 32-bit register gets the selector zero-extended
 * (SMSW: all of CR0, as P6 and later do), a 16-bit register or memory
 * only the word. */
enum callout_result do_store_sysreg(struct cpu *cpu, const struct callout_desc *d,
				    const ZydisDecodedInstruction *in,
				    const ZydisDecodedOperand *ops)
{
	uint32_t v;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_STR: v = cpu->s.tr.selector; break;
	case ZYDIS_MNEMONIC_SLDT: v = cpu->s.ldtr.selector; break;
	default: v = cpu->s.cr0; break;
	}
	if (cpu->deprivileged)
		v = deprivilege_sysreg(cpu, d->eip, in->mnemonic, v);
	if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
		reg_write(cpu, ops[0].reg.value, v);
		return CALLOUT_GO_ON;
	}
	uint16_t w = (uint16_t)v;
	uint32_t at;
	if (!operand_linear(cpu, in, &ops[0], 2, &at) || !cpu_write_guest(cpu, at, &w, 2)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
		return CALLOUT_STOP;
	}
	return CALLOUT_GO_ON;
}

/* The r/m16 operand of LLDT, LTR and LMSW (cpu_callout has refused them
 * outside ring 0). Returns false after raising the fault. */
static bool privileged_rm16(struct cpu *cpu, const struct callout_desc *d,
			    const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op,
			    uint16_t *sel)
{
	if (!read_rm16(cpu, in, op, sel)) {
		raise_fault(cpu, d, mem_fault_vector(op), true, 0);
		return false;
	}
	return true;
}

static void load_system_segment(struct segment *s, uint16_t sel, uint32_t lo, uint32_t hi)
{
	s->selector = sel;
	s->base = desc_base(lo, hi);
	s->limit = desc_limit(lo, hi);
	s->flags = desc_flags(hi);
}

/* The LDT and TSS descriptors live in the GDT only, and must be present
 * and of the right type; each failure is #GP(selector) or #NP(selector).
 * Returns 0 or the vector. */
static int system_descriptor(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi,
			     bool (*type_ok)(unsigned type))
{
	if ((sel & 4) || !cpu_read_descriptor(cpu, sel, lo, hi))
		return EXC_GP;
	if ((*hi & DESC_S) || !type_ok(DESC_TYPE(*hi)))
		return EXC_GP;
	return *hi & DESC_P ? 0 : EXC_NP;
}

static bool is_ldt_type(unsigned type)
{
	return type == SYS_LDT;
}

static bool is_available_tss(unsigned type)
{
	return type == SYS_TSS16 || type == SYS_TSS32;
}

enum callout_result do_lldt(struct cpu *cpu, const struct callout_desc *d,
			    const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	uint16_t sel;
	uint32_t lo, hi;
	if (!privileged_rm16(cpu, d, in, &ops[0], &sel))
		return CALLOUT_STOP;
	if (!(sel & ~3u)) {
		/* A null LDTR: every later TI=1 selector faults (limit 0). */
		cpu->s.ldtr = (struct segment){ .selector = sel };
		return CALLOUT_GO_ON;
	}
	int vec = system_descriptor(cpu, sel, &lo, &hi, is_ldt_type);
	if (vec) {
		raise_fault(cpu, d, (unsigned)vec, true, sel & 0xfffc);
		return CALLOUT_STOP;
	}
	load_system_segment(&cpu->s.ldtr, sel, lo, hi);
	return CALLOUT_GO_ON;
}

enum callout_result do_ltr(struct cpu *cpu, const struct callout_desc *d,
			   const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	uint16_t sel;
	uint32_t lo, hi;
	if (!privileged_rm16(cpu, d, in, &ops[0], &sel))
		return CALLOUT_STOP;
	int vec = !(sel & ~3u) ? EXC_GP : system_descriptor(cpu, sel, &lo, &hi, is_available_tss);
	if (vec) {
		raise_fault(cpu, d, (unsigned)vec, true, sel & 0xfffc);
		return CALLOUT_STOP;
	}
	/* The TSS is marked busy in the guest's GDT, where the guest (and a
	 * later LTR of the same selector, which then faults) can see it. */
	hi |= DESC_TSS_BUSY;
	if (!cpu_write_sys(cpu, cpu->s.gdtr.base + (sel & ~7u) + 4, &hi, 4)) {
		raise_fault(cpu, d, EXC_GP, true, sel & 0xfffc);
		return CALLOUT_STOP;
	}
	load_system_segment(&cpu->s.tr, sel, lo, hi);
	return CALLOUT_GO_ON;
}

enum callout_result do_lmsw(struct cpu *cpu, const struct callout_desc *d,
			    const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	uint16_t v;
	if (!privileged_rm16(cpu, d, in, &ops[0], &v))
		return CALLOUT_STOP;
	/* Only PE, MP, EM and TS; PE can be set here but not cleared. */
	uint32_t cr0 = cpu->s.cr0;
	cpu->s.cr0 = (cr0 & ~0xfu) | (v & 0xfu) | (cr0 & CR0_PE);
	return CALLOUT_GO_ON;
}
