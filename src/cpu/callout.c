/* Callouts: the monitor's half of every sensitive instruction and of the
 * few that have no 64-bit host form. Translated code calls cpu_callout
 * with guest state saved in struct cpu; the handler works on that state
 * and says whether translated code goes on after the call (CALLOUT_GO_ON)
 * or the run loop takes over at cpu->s.eip (CALLOUT_STOP). This file owns
 * the dispatch (with the #GP(0) for privileged instructions outside ring
 * 0), the helpers the handlers share (callout_internal.h), port I/O,
 * flags, INT, descriptor-table and control registers, CPUID/RDTSC and ENTER;
 * callout_legacy.c, callout_priv.c and callout_segment.c hold the rest. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <x86intrin.h>

#include "cache/tcache.h"
#include "cpu/callout_internal.h"
#include "cpu/deprivilege.h"
#include "cpu/explain.h"
#include "cpu/profile.h"
#include "isa/cpuid.h"
#include "isa/descriptor.h"
#include "isa/insn.h"
#include "isa/msr.h"
#include "isa/sensitive.h"
#include "mmu/shadow.h"
#include "devices/bus.h"
#include "host/clock.h"

uint32_t reg_read(const struct cpu *cpu, ZydisRegister r)
{
	ZyanI8 id = ZydisRegisterGetId(r);
	switch (ZydisRegisterGetClass(r)) {
	case ZYDIS_REGCLASS_GPR32:
		return cpu->regs[id];
	case ZYDIS_REGCLASS_GPR16:
		return cpu->regs[id] & 0xffff;
	case ZYDIS_REGCLASS_GPR8:
		return id < 4 ? cpu->regs[id] & 0xff : (cpu->regs[id - 4] >> 8) & 0xff;
	default:
		return 0;
	}
}

void reg_write(struct cpu *cpu, ZydisRegister r, uint32_t v)
{
	ZyanI8 id = ZydisRegisterGetId(r);
	switch (ZydisRegisterGetClass(r)) {
	case ZYDIS_REGCLASS_GPR32:
		cpu->regs[id] = v;
		break;
	case ZYDIS_REGCLASS_GPR16:
		cpu->regs[id] = (cpu->regs[id] & 0xffff0000u) | (v & 0xffff);
		break;
	case ZYDIS_REGCLASS_GPR8:
		if (id < 4)
			cpu->regs[id] = (cpu->regs[id] & ~0xffu) | (v & 0xff);
		else
			cpu->regs[id - 4] = (cpu->regs[id - 4] & ~0xff00u) | ((v & 0xff) << 8);
		break;
	default:
		break;
	}
}

uint32_t linear_address(const struct cpu *cpu, const ZydisDecodedInstruction *in,
			const ZydisDecodedOperand *op)
{
	uint32_t ea = (uint32_t)op->mem.disp.value;
	if (op->mem.base != ZYDIS_REGISTER_NONE)
		ea += reg_read(cpu, op->mem.base);
	if (op->mem.index != ZYDIS_REGISTER_NONE)
		ea += reg_read(cpu, op->mem.index) * op->mem.scale;
	if (in->address_width == 16)
		ea &= 0xffff;
	return ea + cpu->s.seg[seg_reg_index(op->mem.segment)].base;
}

bool operand_in_limit(const struct cpu *cpu, const ZydisDecodedOperand *op, uint32_t linear,
		      unsigned len)
{
	unsigned seg = seg_reg_index(op->mem.segment);
	const struct segment *s = &cpu->s.seg[seg];
	return cpu_offset_in_limit(s, seg, linear - s->base, len);
}

bool operand_linear(const struct cpu *cpu, const ZydisDecodedInstruction *in,
		    const ZydisDecodedOperand *op, unsigned len, uint32_t *linear)
{
	*linear = linear_address(cpu, in, op);
	return operand_in_limit(cpu, op, *linear, len);
}

void raise_fault(struct cpu *cpu, const struct callout_desc *d, unsigned vector, bool has_err,
		 uint32_t err)
{
	cpu->s.eip = d->eip;
	/* A guest access that failed on a page left its #PF: it comes first. */
	if (cpu_take_page_fault(cpu, &err)) {
		vector = EXC_PF;
		has_err = true;
	}
	cpu_deliver(cpu, vector, has_err, err, false);
}

unsigned mem_fault_vector(const ZydisDecodedOperand *op)
{
	return op->mem.segment == ZYDIS_REGISTER_SS ? EXC_SS : EXC_GP;
}

bool read_rm16(struct cpu *cpu, const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op,
	       uint16_t *v)
{
	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		*v = (uint16_t)reg_read(cpu, op->reg.value);
		return true;
	}
	uint32_t at;
	return operand_linear(cpu, in, op, 2, &at) && cpu_read_guest(cpu, at, v, 2);
}

static enum callout_result do_io(struct cpu *cpu, const struct callout_desc *d,
				 const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	bool is_in = in->mnemonic == ZYDIS_MNEMONIC_IN;
	const ZydisDecodedOperand *port_op = is_in ? &ops[1] : &ops[0];
	const ZydisDecodedOperand *data_op = is_in ? &ops[0] : &ops[1];
	uint16_t port = port_op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (uint16_t)port_op->imm.value.u
								      : (uint16_t)reg_read(cpu, ZYDIS_REGISTER_DX);
	unsigned width = data_op->size / 8;
	if (!io_permitted(cpu, port, width)) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	if (is_in) {
		reg_write(cpu, data_op->reg.value, (uint32_t)bus_read(cpu->bus, BUS_SPACE_PIO, port, width));
		return CALLOUT_GO_ON;
	}
	bus_write(cpu->bus, BUS_SPACE_PIO, port, width, reg_read(cpu, data_op->reg.value));
	if (cpu->stop) {
		cpu->s.eip = d->next_eip;
		return CALLOUT_STOP;
	}
	return CALLOUT_GO_ON;
}

static enum callout_result do_pushf(struct cpu *cpu, const struct callout_desc *d,
				    const ZydisDecodedInstruction *in,
				    const ZydisDecodedOperand *ops)
{
	(void)ops;
	if (v86_iopl_trap(cpu))
		return v86_pushf(cpu, d, in);
	uint32_t f = cpu_get_eflags(cpu) & ~(EFLAGS_VM | EFLAGS_RF);
	if (cpu->deprivileged)
		f = deprivilege_pushf(cpu, d->eip, f);
	unsigned size = in->operand_width / 8;
	uint32_t esp = cpu->regs[REG_ESP];
	if (!cpu_stack_push(cpu, &cpu->s.seg[SEG_SS], &esp, &f, size, false)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	cpu->regs[REG_ESP] = esp;
	return CALLOUT_GO_ON;
}

static enum callout_result do_popf(struct cpu *cpu, const struct callout_desc *d,
				   const ZydisDecodedInstruction *in,
				   const ZydisDecodedOperand *ops)
{
	(void)ops;
	if (v86_iopl_trap(cpu))
		return v86_popf(cpu, d, in);
	uint32_t f = 0;
	unsigned size = in->operand_width / 8;
	const struct segment *ss = &cpu->s.seg[SEG_SS];
	if (!cpu_stack_read(cpu, ss, cpu->regs[REG_ESP], 0, &f, size)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	cpu->regs[REG_ESP] = cpu_stack_move(ss, cpu->regs[REG_ESP], (int32_t)size);
	uint32_t writable = EFLAGS_ARITH | EFLAGS_TF | EFLAGS_DF | EFLAGS_NT;
	if (size == 4)
		writable |= EFLAGS_AC | EFLAGS_ID;
	if (cpu->s.cpl == 0)
		writable |= EFLAGS_IOPL | EFLAGS_IF;
	else if (cpu->s.cpl <= ((cpu_get_eflags(cpu) >> 12) & 3))
		writable |= EFLAGS_IF;
	if (cpu->deprivileged)
		writable = deprivilege_popf(cpu, d->eip, f, writable);
	cpu_set_eflags(cpu, f, writable);
	return CALLOUT_GO_ON;
}

static bool read_table_operand(struct cpu *cpu, const ZydisDecodedInstruction *in,
			       const ZydisDecodedOperand *op, struct table_reg *out)
{
	uint8_t b[6];
	uint32_t at;
	if (!operand_linear(cpu, in, op, 6, &at) || !cpu_read_guest(cpu, at, b, 6))
		return false;
	out->limit = (uint16_t)(b[0] | b[1] << 8);
	out->base = (uint32_t)b[2] | (uint32_t)b[3] << 8 | (uint32_t)b[4] << 16 | (uint32_t)b[5] << 24;
	if (in->operand_width == 16)
		out->base &= 0x00ffffff;
	return true;
}

static bool write_table_operand(struct cpu *cpu, const ZydisDecodedInstruction *in,
				const ZydisDecodedOperand *op, const struct table_reg *t)
{
	uint8_t b[6] = { (uint8_t)t->limit, (uint8_t)(t->limit >> 8), (uint8_t)t->base,
			 (uint8_t)(t->base >> 8), (uint8_t)(t->base >> 16), (uint8_t)(t->base >> 24) };
	uint32_t at;
	return operand_linear(cpu, in, op, 6, &at) && cpu_write_guest(cpu, at, b, 6);
}

static uint32_t *control_reg(struct cpu *cpu, ZydisRegister r)
{
	switch (r) {
	case ZYDIS_REGISTER_CR0: return &cpu->s.cr0;
	case ZYDIS_REGISTER_CR2: return &cpu->s.cr2;
	case ZYDIS_REGISTER_CR3: return &cpu->s.cr3;
	case ZYDIS_REGISTER_CR4: return &cpu->s.cr4;
	default: return NULL;
	}
}

/* MOV to CR0 or CR4 faults on an invalid value (SDM vol. 2B, MOV
 * control registers): CR0 with PG but not PE, or NW without CD (its
 * reserved bits are ignored in 32-bit mode); CR4 with any bit the CPUID
 * model's features do not make writable. CR3 of 32-bit paging has no
 * reserved bits: its low ones other than PWT and PCD are ignored. */
static bool control_reg_valid(const struct cpu *cpu, const uint32_t *cr, uint32_t v)
{
	if (cr == &cpu->s.cr0)
		return !((v & CR0_PG) && !(v & CR0_PE)) && !((v & CR0_NW) && !(v & CR0_CD));
	if (cr == &cpu->s.cr4)
		return !(v & ~cpuid_cr4_writable());
	return true;
}

/* DR6: B0-B3, BD, BS and BT; bits 4-11 and 16-31 read as 1, bit 12 as 0
 * (SDM 18.2.3). DR7: bit 10 reads as 1, bits 11, 12, 14 and 15 as 0
 * (SDM 18.2.4); in 32-bit mode writing 1s there does not fault. */
#define DR6_WRITABLE 0x0000e00fu
#define DR6_FIXED_ONES 0xffff0ff0u
#define DR7_RESERVED_ZEROS 0x0000d800u
#define DR7_FIXED_ONES 0x00000400u
#define DR7_GD 0x00002000u
#define DR6_BD 0x00002000u

/* MOV to or from DRn (CPL 0 checked by the caller): DR4 and DR5 are
 * DR6 and DR7 with CR4.DE clear, #UD with it set; with DR7.GD set, any
 * such MOV is a fault-class #DB first (BD in DR6, GD cleared for the
 * handler). A write to DR0-DR3 or DR7 drops the translations at the
 * instruction breakpoints it adds or removes and leaves the block, so that
 * the rest of it, perhaps translated past a new breakpoint, does not run. */
static enum callout_result mov_debug_reg(struct cpu *cpu, const struct callout_desc *d,
					 const ZydisDecodedOperand *ops, bool to_dr)
{
	unsigned n = ZydisRegisterGetId(ops[to_dr ? 0 : 1].reg.value) & 7;
	if (n == 4 || n == 5) {
		if (cpu->s.cr4 & CR4_DE) {
			raise_fault(cpu, d, EXC_UD, false, 0);
			return CALLOUT_STOP;
		}
		n += 2;
	}
	if (cpu->s.dr[7] & DR7_GD) {
		cpu->s.dr[7] &= ~DR7_GD;
		cpu->s.dr[6] |= DR6_BD;
		cpu->s.eip = d->eip;
		cpu->s.eflags |= EFLAGS_RF;   /* a fault other than an instruction breakpoint */
		cpu_deliver(cpu, EXC_DB, false, 0, false);
		return CALLOUT_STOP;
	}
	if (!to_dr) {
		reg_write(cpu, ops[0].reg.value, cpu->s.dr[n]);
		return CALLOUT_GO_ON;
	}
	uint32_t v = reg_read(cpu, ops[1].reg.value);
	uint32_t old_dr[4], old_dr7 = cpu->s.dr[7];
	memcpy(old_dr, cpu->s.dr, sizeof(old_dr));
	if (n == 6)
		v = (v & DR6_WRITABLE) | DR6_FIXED_ONES;
	else if (n == 7)
		v = (v & ~DR7_RESERVED_ZEROS) | DR7_FIXED_ONES;
	cpu->s.dr[n] = v;
	/* A data breakpoint enabled or gone changes the mode too. */
	bool dropped = n != 6 && cpu_debug_registers_changed(cpu, old_dr, old_dr7);
	if (dropped || cpu_mode(cpu) != d->mode) {
		cpu->s.eip = d->next_eip;
		return CALLOUT_STOP;
	}
	return CALLOUT_GO_ON;
}

static enum callout_result do_mov_special(struct cpu *cpu, const struct callout_desc *d,
					  const ZydisDecodedInstruction *in,
					  const ZydisDecodedOperand *ops)
{
	ZydisRegisterClass c0 = ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER ? ZydisRegisterGetClass(ops[0].reg.value) : ZYDIS_REGCLASS_INVALID;
	ZydisRegisterClass c1 = ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER ? ZydisRegisterGetClass(ops[1].reg.value) : ZYDIS_REGCLASS_INVALID;
	if (c0 == ZYDIS_REGCLASS_CONTROL || c1 == ZYDIS_REGCLASS_CONTROL) {
		bool to_cr = c0 == ZYDIS_REGCLASS_CONTROL;
		uint32_t *cr = control_reg(cpu, to_cr ? ops[0].reg.value : ops[1].reg.value);
		if (!cr) {
			raise_fault(cpu, d, EXC_UD, false, 0);
			return CALLOUT_STOP;
		}
		if (to_cr) {
			uint32_t v = reg_read(cpu, ops[1].reg.value);
			if (!control_reg_valid(cpu, cr, v)) {
				raise_fault(cpu, d, EXC_GP, true, 0);
				return CALLOUT_STOP;
			}
			uint32_t old_cr0 = cpu->s.cr0, old_cr4 = cpu->s.cr4;
			if (cr == &cpu->s.cr0)
				v = (v & CR0_DEFINED) | CR0_ET;
			unsigned crn = cr == &cpu->s.cr0 ? 0 : cr == &cpu->s.cr3 ? 3 : 4;
			if (cr != &cpu->s.cr2 &&
			    !cpu_load_pdptes(cpu, crn, crn == 0 ? v : old_cr0, crn == 3 ? v : cpu->s.cr3,
					     crn == 4 ? v : old_cr4)) {
				raise_fault(cpu, d, EXC_GP, true, 0);   /* a PDPTE with reserved bits */
				return CALLOUT_STOP;
			}
			*cr = v;
			if (cr != &cpu->s.cr2) {
				/* The address space may be another now: the run loop
				 * picks the window before going on. */
				cpu_paging_changed(cpu, old_cr0, old_cr4);
				cpu->s.eip = d->next_eip;
				return CALLOUT_STOP;
			}
		} else {
			reg_write(cpu, ops[0].reg.value, *cr);
		}
		return CALLOUT_GO_ON;
	}
	if (c0 == ZYDIS_REGCLASS_DEBUG || c1 == ZYDIS_REGCLASS_DEBUG)
		return mov_debug_reg(cpu, d, ops, c0 == ZYDIS_REGCLASS_DEBUG);
	/* Segment registers. */
	if (c1 == ZYDIS_REGCLASS_SEGMENT) {
		unsigned seg = seg_reg_index(ops[1].reg.value);
		uint16_t sel = cpu->s.seg[seg].selector;
		if (cpu->deprivileged)
			sel = deprivilege_selector(cpu, d->eip, seg, sel);
		uint32_t at;
		if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
			reg_write(cpu, ops[0].reg.value, sel);
		} else if (!operand_linear(cpu, in, &ops[0], 2, &at) ||
			   !cpu_write_guest(cpu, at, &sel, 2)) {
			raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
			return CALLOUT_STOP;
		}
		return CALLOUT_GO_ON;
	}
	uint16_t sel = 0;
	if (!read_rm16(cpu, in, &ops[1], &sel)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[1]), true, 0);
		return CALLOUT_STOP;
	}
	unsigned seg = seg_reg_index(ops[0].reg.value);
	if (seg == SEG_CS) {
		raise_fault(cpu, d, EXC_UD, false, 0);
		return CALLOUT_STOP;
	}
	int vec = cpu_load_segment(cpu, seg, sel);
	if (vec) {
		raise_fault(cpu, d, (unsigned)vec, true, sel & 0xfffc);
		return CALLOUT_STOP;
	}
	/* The instruction after a load of SS runs before any interrupt, so a
	 * MOV ESP that follows completes the stack switch. */
	if (seg == SEG_SS)
		cpu->shadow = cpu->shadow_ss = true;
	return CALLOUT_GO_ON;
}

static enum callout_result do_cpuid(struct cpu *cpu, const struct callout_desc *d,
				    const ZydisDecodedInstruction *in,
				    const ZydisDecodedOperand *ops)
{
	(void)d, (void)in, (void)ops;
	const struct cpu_platform *p = cpu->plat;
	bool apic = p && p->apic_enabled && p->apic_enabled(p->opaque);
	uint64_t tsc_hz = p && p->tsc_hz ? p->tsc_hz(p->opaque) : 0;
	struct cpuid_result r = cpuid_model(cpu->regs[REG_EAX], cpu->regs[REG_ECX], apic, tsc_hz);
	if (p && p->ncpus > 1)
		cpuid_topology(&r, cpu->regs[REG_EAX], cpu->regs[REG_ECX], p->apic_id, p->ncpus);
	/* IA32_MISC_ENABLE's limit-CPUID-maxval bit: leaf 0 names 2 as the
	 * highest basic leaf (the others answer as before). */
	if (cpu->regs[REG_EAX] == 0 && (cpu->s.msrs.misc_enable & MISC_ENABLE_LIMIT_CPUID))
		r.eax = 2;
	/* Its XD-disable bit hides NX (EFER.NXE is then reserved). */
	if (cpu->regs[REG_EAX] == 0x80000001u && (cpu->s.msrs.misc_enable & MISC_ENABLE_XD_DISABLE))
		r.edx &= ~(uint32_t)CPUID_81D_NX;
	cpu->regs[REG_EAX] = r.eax;
	cpu->regs[REG_EBX] = r.ebx;
	cpu->regs[REG_ECX] = r.ecx;
	cpu->regs[REG_EDX] = r.edx;
	return CALLOUT_GO_ON;
}

static uint64_t host_tsc(const struct cpu *cpu)
{
	return cpu->tsc_native ? __rdtsc() : host_monotonic_ns();
}

uint64_t guest_tsc(const struct cpu *cpu)
{
	return host_tsc(cpu) - cpu->tsc_offset;
}

void set_guest_tsc(struct cpu *cpu, uint64_t value)
{
	cpu->tsc_offset = host_tsc(cpu) - value;
}

bool host_tsc_is_constant(void)
{
	/* Linux's own verdict on the host CPU (and hypervisor): a counter
	 * that runs at one rate in every power state. */
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return false;
	char line[4096];
	bool constant = false, nonstop = false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
}

/* ENTER with a nesting level: copies the enclosing frame pointers. The
 * registers change only once every access succeeded, so a fault leaves
 * ESP/EBP untouched. A 16-bit operand size pushes words and sets only BP;
 * a 16-bit stack (SS.B clear) moves SP and reads the frames at BP. */
static enum callout_result do_enter_nested(struct cpu *cpu, const struct callout_desc *d,
					   const ZydisDecodedInstruction *in,
					   const ZydisDecodedOperand *ops)
{
	uint32_t size = (uint32_t)ops[0].imm.value.u & 0xffff;
	unsigned level = (unsigned)ops[1].imm.value.u & 31;
	unsigned w = in->operand_width == 16 ? 2 : 4;
	const struct segment *ss = &cpu->s.seg[SEG_SS];
	uint32_t esp = cpu->regs[REG_ESP], ebp = cpu->regs[REG_EBP];
	uint32_t v = ebp;
	if (!cpu_stack_push(cpu, ss, &esp, &v, w, false))
		goto fault;
	uint32_t frame = esp;
	for (unsigned i = 1; i < level; i++) {
		ebp = cpu_stack_move(ss, ebp, -(int32_t)w);
		v = 0;
		if (!cpu_stack_read(cpu, ss, ebp, 0, &v, w) || !cpu_stack_push(cpu, ss, &esp, &v, w, false))
			goto fault;
	}
	if (!cpu_stack_push(cpu, ss, &esp, &frame, w, false))
		goto fault;
	if (!(ss->flags & (DESC_DB >> 8)))
		frame &= 0xffff;   /* FrameTemp is SP */
	cpu->regs[REG_EBP] = w == 2 ? (cpu->regs[REG_EBP] & 0xffff0000u) | (frame & 0xffff) : frame;
	cpu->regs[REG_ESP] = cpu_stack_move(ss, esp, -(int32_t)size);
	return CALLOUT_GO_ON;
fault:
	raise_fault(cpu, d, EXC_SS, true, 0);
	return CALLOUT_STOP;
}

/* The handlers too short for a function elsewhere. */

static enum callout_result do_ud(struct cpu *cpu, const struct callout_desc *d,
				 const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	(void)in, (void)ops;
	/* Not in the CPUID model, or no instruction at all: #UD, as a CPU
	 * that does not implement it raises. */
	raise_fault(cpu, d, EXC_UD, false, 0);
	return CALLOUT_STOP;
}

static enum callout_result do_nothing(struct cpu *cpu, const struct callout_desc *d,
				      const ZydisDecodedInstruction *in,
				      const ZydisDecodedOperand *ops)
{
	(void)cpu, (void)d, (void)in, (void)ops;
	return CALLOUT_GO_ON;
}

static enum callout_result do_hlt(struct cpu *cpu, const struct callout_desc *d,
				  const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	(void)in, (void)ops;
	cpu->halted = true;
	cpu->stats.halts++;
	cpu->s.eip = d->next_eip;
	return CALLOUT_STOP;
}

static enum callout_result do_cld(struct cpu *cpu, const struct callout_desc *d,
				  const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	(void)d, (void)in, (void)ops;
	cpu->s.eflags &= ~EFLAGS_DF;
	return CALLOUT_GO_ON;
}

static enum callout_result do_std(struct cpu *cpu, const struct callout_desc *d,
				  const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	(void)d, (void)in, (void)ops;
	cpu->s.eflags |= EFLAGS_DF;
	return CALLOUT_GO_ON;
}

static enum callout_result do_rdpmc(struct cpu *cpu, const struct callout_desc *d,
				    const ZydisDecodedInstruction *in,
				    const ZydisDecodedOperand *ops)
{
	(void)in, (void)ops;
	/* Any level with CR4.PCE, else CPL 0 (real mode is CPL 0); ECX
	 * must name a counter. The counters are idle: the value is the
	 * last one written. */
	uint64_t v;
	if (((cpu->s.cr4 & CR4_PCE) == 0 && cpu->s.cpl != 0) ||
	    !msr_read_pmc(&cpu->s.msrs, cpu->regs[REG_ECX], &v)) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	cpu->regs[REG_EAX] = (uint32_t)v;
	cpu->regs[REG_EDX] = (uint32_t)(v >> 32);
	return CALLOUT_GO_ON;
}

/* A software interrupt: EIP after it, and where a fault delivering it
 * lands. */
static enum callout_result soft_int(struct cpu *cpu, const struct callout_desc *d, unsigned vector)
{
	cpu->soft_int_eip = d->eip;
	cpu->s.eip = d->next_eip;
	cpu_deliver(cpu, vector, false, 0, true);
	return CALLOUT_STOP;
}

static enum callout_result do_int(struct cpu *cpu, const struct callout_desc *d,
				  const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	(void)in;
	unsigned vector = (unsigned)ops[0].imm.value.u & 0xff;
	/* INT n (not INT3, INTO or INT1) is IOPL-sensitive in v86 mode, and
	 * the one VME redirects. */
	if (cpu_v86_mode(cpu)) {
		switch (v86_int_route(cpu, vector)) {
		case V86_INT_GP:
			raise_fault(cpu, d, EXC_GP, true, 0);
			return CALLOUT_STOP;
		case V86_INT_IVT:
			return v86_int_redirect(cpu, d, vector);
		case V86_INT_IDT:
			break;
		}
	}
	return soft_int(cpu, d, vector);
}

static enum callout_result do_int3(struct cpu *cpu, const struct callout_desc *d,
				   const ZydisDecodedInstruction *in,
				   const ZydisDecodedOperand *ops)
{
	(void)in, (void)ops;
	return soft_int(cpu, d, EXC_BP);
}

static enum callout_result do_into(struct cpu *cpu, const struct callout_desc *d,
				   const ZydisDecodedInstruction *in,
				   const ZydisDecodedOperand *ops)
{
	(void)in, (void)ops;
	if (!(cpu->rflags & EFLAGS_OF))
		return CALLOUT_GO_ON;
	return soft_int(cpu, d, EXC_OF);
}

static enum callout_result do_int1(struct cpu *cpu, const struct callout_desc *d,
				   const ZydisDecodedInstruction *in,
				   const ZydisDecodedOperand *ops)
{
	(void)in, (void)ops;
	/* ICEBP: a #DB trap delivered like a hardware exception (no gate
	 * DPL check), with EIP after the instruction. */
	cpu->s.eip = d->next_eip;
	cpu_deliver(cpu, EXC_DB, false, 0, false);
	return CALLOUT_STOP;
}

static enum callout_result do_invlpg(struct cpu *cpu, const struct callout_desc *d,
				     const ZydisDecodedInstruction *in,
				     const ZydisDecodedOperand *ops)
{
	(void)d;
	/* Shadows follow every page-table write (traces), so no stale
	 * shadow entry is left for INVLPG to drop; only the table's
	 * global-page entries live until the guest invalidates, and what
	 * the monitor's TLB holds for the page, as a processor's TLB. */
	uint32_t linear = linear_address(cpu, in, &ops[0]);
	shadow_invlpg(cpu->sh, linear);
	cpu_tlb_invalidate(cpu, linear);
	return CALLOUT_GO_ON;
}

static enum callout_result do_load_table(struct cpu *cpu, const struct callout_desc *d,
					 const ZydisDecodedInstruction *in,
					 const ZydisDecodedOperand *ops)
{
	struct table_reg t;
	if (!read_table_operand(cpu, in, &ops[0], &t)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
		return CALLOUT_STOP;
	}
	*(in->mnemonic == ZYDIS_MNEMONIC_LGDT ? &cpu->s.gdtr : &cpu->s.idtr) = t;
	cpu_seg_cache_clear(cpu);   /* the cached descriptors' addresses were in the old GDT */
	return CALLOUT_GO_ON;
}

static enum callout_result do_store_table(struct cpu *cpu, const struct callout_desc *d,
					  const ZydisDecodedInstruction *in,
					  const ZydisDecodedOperand *ops)
{
	bool gdt = in->mnemonic == ZYDIS_MNEMONIC_SGDT;
	struct table_reg t = gdt ? cpu->s.gdtr : cpu->s.idtr;
	if (cpu->deprivileged)
		t = deprivilege_table(cpu, d->eip, gdt, t);
	if (!write_table_operand(cpu, in, &ops[0], &t)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
		return CALLOUT_STOP;
	}
	return CALLOUT_GO_ON;
}

static enum callout_result do_rdtsc(struct cpu *cpu, const struct callout_desc *d,
				    const ZydisDecodedInstruction *in,
				    const ZydisDecodedOperand *ops)
{
	(void)in, (void)ops;
	if ((cpu->s.cr4 & CR4_TSD) && cpu->s.cpl != 0) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	uint64_t tsc = guest_tsc(cpu);
	cpu->regs[REG_EAX] = (uint32_t)tsc;
	cpu->regs[REG_EDX] = (uint32_t)(tsc >> 32);
	return CALLOUT_GO_ON;
}

static enum callout_result do_rdtscp(struct cpu *cpu, const struct callout_desc *d,
				     const ZydisDecodedInstruction *in,
				     const ZydisDecodedOperand *ops)
{
	if (do_rdtsc(cpu, d, in, ops) != CALLOUT_GO_ON)
		return CALLOUT_STOP;
	cpu->regs[REG_ECX] = cpu->s.msrs.tsc_aux;
	return CALLOUT_GO_ON;
}

/* CLFLUSH faults as a byte load of its operand would (SDM vol. 2A); the
 * host's caches are coherent with every guest access, device memory
 * included, so there is nothing to write back. A device address is not
 * touched. */
static enum callout_result do_clflush(struct cpu *cpu, const struct callout_desc *d,
				      const ZydisDecodedInstruction *in,
				      const ZydisDecodedOperand *ops)
{
	uint32_t at;
	uint64_t gpa;
	if (!operand_linear(cpu, in, &ops[0], 1, &at)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
		return CALLOUT_STOP;
	}
	if (!cpu_translate(cpu, at, ACCESS_READ, &gpa)) {
		raise_fault(cpu, d, EXC_PF, true, 0);
		return CALLOUT_STOP;
	}
	return CALLOUT_GO_ON;
}

static enum callout_result do_clts(struct cpu *cpu, const struct callout_desc *d,
				   const ZydisDecodedInstruction *in,
				   const ZydisDecodedOperand *ops)
{
	(void)d, (void)in, (void)ops;
	cpu->s.cr0 &= ~CR0_TS;
	return CALLOUT_GO_ON;
}

/* The handler of each row of the sensitive-instruction table (isa/sensitive.c
 * names the id, this binds it). cpu_init checks that none is missing. */
static callout_handler *const handlers[SH_COUNT] = {
	[SH_UD] = do_ud,
	[SH_NOTHING] = do_nothing,
	[SH_IO] = do_io,
	[SH_STRING_IO] = do_string_io,
	[SH_HLT] = do_hlt,
	[SH_CLI_STI] = do_cli_sti,
	[SH_CLD] = do_cld,
	[SH_STD] = do_std,
	[SH_PUSHF] = do_pushf,
	[SH_POPF] = do_popf,
	[SH_IRET] = do_iret,
	[SH_INT] = do_int,
	[SH_INT1] = do_int1,
	[SH_INT3] = do_int3,
	[SH_INTO] = do_into,
	[SH_SYSENTER] = do_sysenter,
	[SH_SYSEXIT] = do_sysexit,
	[SH_LOAD_TABLE] = do_load_table,
	[SH_STORE_TABLE] = do_store_table,
	[SH_LLDT] = do_lldt,
	[SH_LTR] = do_ltr,
	[SH_STORE_SYSREG] = do_store_sysreg,
	[SH_LMSW] = do_lmsw,
	[SH_CLTS] = do_clts,
	[SH_MOV_SPECIAL] = do_mov_special,
	[SH_PUSH_SEG] = do_push_seg,
	[SH_POP_SEG] = do_pop_seg,
	[SH_LOAD_FAR_POINTER] = do_load_far_pointer,
	[SH_FAR_JMP] = do_far_jmp,
	[SH_FAR_CALL] = do_far_call,
	[SH_FAR_RET] = do_far_ret,
	[SH_LAR_LSL] = do_lar_lsl,
	[SH_VERR_VERW] = do_verr_verw,
	[SH_ARPL] = do_arpl,
	[SH_CPUID] = do_cpuid,
	[SH_RDTSC] = do_rdtsc,
	[SH_RDPMC] = do_rdpmc,
	[SH_RDTSCP] = do_rdtscp,
	[SH_CLFLUSH] = do_clflush,
	[SH_MSR] = do_msr,
	[SH_INVLPG] = do_invlpg,
	[SH_FXSAVE] = do_fxsave,
	[SH_BCD] = do_bcd,
	[SH_BOUND] = do_bound,
	[SH_ENTER_NESTED] = do_enter_nested,
};

bool callout_handlers_complete(void)
{
	for (unsigned i = 0; i < SH_COUNT; i++)
		if (!handlers[i])
			return false;
	return true;
}

/* A callout that exists only because its instruction is adaptive (the
 * string and stack forms): whether the monitor's accesses reached a device
 * or wrote a traced table decides whether it stays so. */
static enum callout_result run_adaptive(struct cpu *cpu, const struct callout_desc *d,
					const ZydisDecodedInstruction *in,
					const ZydisDecodedOperand *ops, callout_handler *handler)
{
	cpu->adaptive_needed = false;
	enum callout_result r = handler(cpu, d, in, ops);
	adaptive_account(cpu, d, cpu->adaptive_needed);
	return r;
}

/* A callout for an instruction that is not sensitive: the translator
 * hands the monitor a string instruction or MASKMOVQ/MASKMOVDQU whose
 * memory is MMIO, which no host form reaches. Anything else it had no
 * translation for (a near branch or a plain PUSH, POP or MOV included,
 * which the far and segment handlers would misread) is #UD, as on a CPU
 * that does not implement it. */
static enum callout_result run_unlisted(struct cpu *cpu, const struct callout_desc *d,
					const ZydisDecodedInstruction *in,
					const ZydisDecodedOperand *ops)
{
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_MASKMOVQ:
	case ZYDIS_MNEMONIC_MASKMOVDQU:
		return do_maskmov(cpu, d, in, ops);
	case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
	case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
	case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
	case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
	case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD:
		return run_adaptive(cpu, d, in, ops, do_string_mem);
	default:
		return do_ud(cpu, d, in, ops);
	}
}

_Static_assert(sizeof(((struct callout_decoded *)0)->desc) == sizeof(struct callout_desc),
	       "a decode keeps the whole descriptor");

static bool decoded_holds(const struct callout_decoded *c, const struct callout_desc *d)
{
	return c->d == d && !memcmp(c->desc, d, sizeof(*d));
}

/* The decode of a descriptor's instruction, from the cache when the same
 * descriptor (same place, same bytes: the code buffer is reused after a
 * flush) was decoded before. Decoding costs about 100 ns, a large part of
 * a cheap callout. Two ways a set, the older replaced: direct-mapped, two
 * hot descriptors of a system call's path that met in one slot (a change
 * elsewhere moved them there) decoded on every call, 300 ns a getppid.
 * NULL if the bytes do not decode. */
static const struct callout_decoded *decode_desc(struct cpu *cpu, const struct callout_desc *d)
{
	uint64_t h = (uint64_t)(uintptr_t)d * 0x9e3779b97f4a7c15ull;
	unsigned set = (unsigned)(h >> 40) & (CALLOUT_DECODE_SETS - 1);
	struct callout_decoded *way = &cpu->decoded[2 * set];
	uint8_t *older = &cpu->decoded_older[set];
	if (decoded_holds(&way[0], d)) {
		*older = 1;
		return way[0].ok ? &way[0] : NULL;
	}
	if (decoded_holds(&way[1], d)) {
		*older = 0;
		return way[1].ok ? &way[1] : NULL;
	}
	struct callout_decoded *c = &way[*older];
	*older ^= 1;
	c->d = d;
	memcpy(c->desc, d, sizeof(*d));
	c->ok = ZYAN_SUCCESS(ZydisDecoderDecodeFull(&cpu->decoders[decoder_index(d->mode)], d->bytes,
						    d->len, &c->in, c->ops));
	if (c->ok) {
		c->writes_via_cs = insn_writes_via_cs(&c->in, c->ops);
		c->sens = sensitive_classify(&c->in, c->ops);
	}
	return c->ok ? c : NULL;
}

static enum callout_result run_callout(struct cpu *cpu, const struct callout_desc *d);

/* An external interrupt the run loop would take now. */
static bool interrupt_due(const struct cpu *cpu)
{
	if (cpu->nmi_pending && !cpu->nmi_blocked)
		return true;
	return cpu->vif && cpu->plat && cpu->plat->intr(cpu->plat->opaque);
}

/* After a resumable instruction: whether the rest of its block may run as
 * translated (the mode it was translated for still holds, no interrupt
 * was let in, and the A20 gate did not move: the run loop applies that
 * before the next instruction, which may touch memory through it). */
static bool may_resume(struct cpu *cpu, const struct callout_desc *d)
{
	return cpu_mode(cpu) == d->mode && !cpu->stop && !interrupt_due(cpu) &&
	       cpu->a20_line == cpu->s.a20_cleared;
}

/* After a control transfer (or an exception it raised): whether the new
 * EIP can be looked up by translated code instead of the run loop, which
 * must act when the run ends, an interrupt is due, TF traps, RF (an
 * IRET's) is to be cleared as the next instruction starts (run.c: an
 * interrupt that comes first, even at that block's entry poll, shows it),
 * or the window's tags wrapped. Switches to the new mode's window. */
static bool may_stay_after_transfer(struct cpu *cpu)
{
	if (cpu->stop || cpu->fatal || cpu->halted || cpu->shadow || cpu->pf.pending ||
	    (cpu->s.eflags & (EFLAGS_TF | EFLAGS_RF)) || cpu->a20_line != cpu->s.a20_cleared)
		return false;
	if (interrupt_due(cpu) || cpu_select_window(cpu) < 0 || cpu->sh->ibl_epoch != cpu->ibl_epoch)
		return false;
	uint32_t mode = cpu_mode(cpu);
	if (!mode_uses_ibl(mode))
		return false;   /* no table entries (and no tags) for its mode */
	cpu->scratch[1] = cpu->s.eip;
	uint32_t tag = mode_ibl_tag_index(mode);
	if ((mode & MODE_CPL3) || !(cpu->s.cr0 & CR0_PG)) {   /* global pages need paging */
		cpu->scratch[2] = cpu->ibl_tags[tag];
		cpu->scratch[3] = cpu->ibl_global_tags[tag];
	} else {
		cpu->scratch[2] = cpu->ibl_global_tags[tag];
		cpu->scratch[3] = cpu->ibl_tags[tag];
	}
	sync_seg_bases(cpu);
	cpu->stats.transfers_inline++;
	return true;
}

static enum callout_result callout_and_resume(struct cpu *cpu, const struct callout_desc *d);

enum callout_result cpu_callout(struct cpu *cpu, const struct callout_desc *d)
{
	/* Translated code keeps FS's and GS's guards with the registers
	 * (its remembered loads set both). */
	assert(cpu_seg_guards_agree(cpu));
	cpu_lock(cpu);
	cpu->phase = PHASE_CALLOUT;   /* the host-time split (profile.h) */
	enum callout_result r = callout_and_resume(cpu, d);
	cpu->phase = PHASE_MONITOR;
	cpu_unlock(cpu);
	return r;
}

static enum callout_result callout_and_resume(struct cpu *cpu, const struct callout_desc *d)
{
	enum callout_result r = run_callout(cpu, d);
	if (d->flags & CALLOUT_TRANSFER)
		return r == CALLOUT_STOP && may_stay_after_transfer(cpu) ? CALLOUT_GO_ON : r;
	if (r != CALLOUT_GO_ON || !(d->flags & CALLOUT_RESUMABLE))
		return r;
	/* After MOV SS with an instruction breakpoint possible, the run loop
	 * must see the next instruction, whose breakpoint is held off. */
	if (!may_resume(cpu, d) || (cpu->shadow_ss && (cpu->s.dr[7] & DR7_ENABLES))) {
		/* STI's interrupt shadow (cpu->shadow) is the run loop's now. */
		cpu->s.eip = d->next_eip;
		return CALLOUT_STOP;
	}
	cpu->shadow = cpu->shadow_ss = false;   /* nothing to hold off */
	if (cpu->vif)
		cpu->irq_held = 0;   /* none due now; one raised later asks for attention */
	sync_seg_bases(cpu);   /* a segment load may have moved FS or GS */
	return CALLOUT_GO_ON;
}

static enum callout_result run_callout(struct cpu *cpu, const struct callout_desc *d)
{
	cpu->stats.callouts++;
	cpu->exit = CPU_EXIT_CALLOUT;
	cpu->pf.pending = false;
	if (d->kind == CALLOUT_UD) {
		/* Not in the CPUID model: whatever the host CPU would do. */
		cpu->callouts_by_class[SENS_MONITOR]++;
		raise_fault(cpu, d, EXC_UD, false, 0);
		return CALLOUT_STOP;
	}
	if (d->kind == CALLOUT_PAUSE) {
		/* The spin-wait done; the platform may end this vCPU's turn. */
		cpu->callouts_by_class[SENS_MONITOR]++;
		cpu->s.eip = d->next_eip;
		cpu->plat->pause(cpu->plat->opaque);
		return CALLOUT_STOP;
	}
	if (d->kind == CALLOUT_LIMIT) {
		/* A fetch or a near branch past CS's limit (translate_flow.c). */
		cpu->callouts_by_class[SENS_MONITOR]++;
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	const struct callout_decoded *dec = decode_desc(cpu, d);
	if (!dec) {
		raise_fault(cpu, d, EXC_UD, false, 0);
		return CALLOUT_STOP;
	}
	const ZydisDecodedInstruction *in = &dec->in;
	const ZydisDecodedOperand *ops = dec->ops;
	if (d->kind == CALLOUT_STACK) {
		cpu->callouts_by_class[SENS_MONITOR]++;
		return run_adaptive(cpu, d, in, ops, do_stack_insn);   /* CALLOUT_STOP: EIP is set */
	}
	if (d->kind != CALLOUT_INSN) {
		uint64_t before = cpu->tc->stats.invalidated_blocks;
		enum callout_result r = do_mem_callout(cpu, d, in, ops);
		/* A store that dropped translations: maybe this very block's. */
		if (r == CALLOUT_GO_ON && (d->kind == CALLOUT_MEM_FINISH || d->kind == CALLOUT_MEM_STORE) &&
		    cpu->tc->stats.invalidated_blocks != before) {
			cpu->s.eip = d->next_eip;
			r = CALLOUT_STOP;
		}
		return r;
	}
	if (dec->writes_via_cs && !cpu_segments_real(cpu)) {
		raise_fault(cpu, d, EXC_GP, true, 0);   /* code segments are not writable */
		return CALLOUT_STOP;
	}
	int fpu_vector = cpu_fpu_unavailable(cpu, in, ops);
	if (fpu_vector >= 0 || in->mnemonic == ZYDIS_MNEMONIC_FWAIT) {
		/* Translated as a callout only while CR0.TS/EM or CR4.OSFXSR
		 * may make it trap. */
		cpu->callouts_by_class[SENS_MONITOR]++;
		if (fpu_vector < 0)
			return CALLOUT_GO_ON;   /* WAIT without MP: nothing to do */
		raise_fault(cpu, d, (unsigned)fpu_vector, false, 0);
		return CALLOUT_STOP;
	}
	const struct sensitive_insn *sens = dec->sens;
	if (sens)
		cpu->callouts_by_class[sens->cls]++;
	else
		cpu->callouts_by_class[SENS_MONITOR]++;
	if (cpu->explain && sens) {
		/* Under --explain every sensitive instruction is a callout
		 * (no inline forms), so this counts executions. */
		explain_count(cpu->explain, sens, sensitive_cpl0_only(sens, in, ops), cpu->s.cpl,
			      d->eip);
	}
	/* Before the privilege check: LLDT and LTR are #UD, not #GP, in v86
	 * mode. */
	if (sens && cpu_segments_real(cpu) && real_mode_ud(sens, in)) {
		raise_fault(cpu, d, EXC_UD, false, 0);
		return CALLOUT_STOP;
	}
	if (cpu->s.cpl != 0 && sens && sensitive_cpl0_only(sens, in, ops)) {
		/* The privileged class: ring 0 only, whatever IOPL says. */
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}

	/* A monitor write into a page holding translations drops them, and
	 * the block running now may be among them: going on in it could run
	 * stale code, so the run loop takes over after the instruction. */
	uint64_t dropped = cpu->tc->stats.invalidated_blocks;
	cpu->deprivileged = cpu->trap_emulate && sens && cpu->s.cpl == 0;
	cpu->deprivileged_sens = sens;
	enum callout_result r = sens ? handlers[sens->handler](cpu, d, in, ops)
				     : run_unlisted(cpu, d, in, ops);
	cpu->deprivileged = false;
	if (r == CALLOUT_GO_ON && cpu->tc->stats.invalidated_blocks != dropped) {
		cpu->s.eip = d->next_eip;
		r = CALLOUT_STOP;
	}
	return r;
}
