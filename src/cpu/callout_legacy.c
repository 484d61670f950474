/* Callouts for instructions that 64-bit mode dropped or that reach
 * virtual hardware: the decimal and ASCII adjusts, SALC, BOUND, the
 * string port instructions INS/OUTS, and RDMSR/WRMSR on the few
 * model-specific registers the virtual CPU has. */
#include <string.h>

#include "cpu/callout_internal.h"
#include "isa/msr.h"
#include "devices/bus.h"

static uint32_t szp_flags(uint8_t v)
{
	uint32_t f = 0;
	if (v & 0x80)
		f |= EFLAGS_SF;
	if (!v)
		f |= EFLAGS_ZF;
	if (!(__builtin_popcount(v) & 1))
		f |= EFLAGS_PF;
	return f;
}

/* The SDM leaves OF (DAA, DAS), OF/SF/ZF/PF (AAA, AAS) and OF/AF/CF (AAM,
 * AAD) undefined. Intel hardware, probed over every AL, flag input and a
 * set of AH values: DAA, DAS, AAA, AAS and AAM clear the undefined ones
 * except SF/ZF/PF, which follow the final AL; AAD sets all six as the
 * 8-bit addition AL + AH * imm does. */
uint16_t legacy_bcd(ZydisMnemonic m, unsigned imm, uint16_t ax, uint32_t *flags)
{
	uint8_t al = (uint8_t)ax, ah = (uint8_t)(ax >> 8), old = al;
	bool af = *flags & EFLAGS_AF, cf = *flags & EFLAGS_CF;
	uint32_t f = 0;

	switch (m) {
	case ZYDIS_MNEMONIC_DAA:
		if ((al & 0x0f) > 9 || af) {
			al = (uint8_t)(al + 6);
			f |= EFLAGS_AF;
		}
		if (old > 0x99 || cf) {
			al = (uint8_t)(al + 0x60);
			f |= EFLAGS_CF;
		}
		f |= szp_flags(al);
		break;
	case ZYDIS_MNEMONIC_DAS:
		/* Unlike DAA, the borrow out of the low adjustment sets CF too. */
		if ((al & 0x0f) > 9 || af) {
			if (al < 6)
				f |= EFLAGS_CF;
			al = (uint8_t)(al - 6);
			f |= EFLAGS_AF;
		}
		if (old > 0x99 || cf) {
			al = (uint8_t)(al - 0x60);
			f |= EFLAGS_CF;
		}
		f |= szp_flags(al);
		break;
	case ZYDIS_MNEMONIC_AAA:
	case ZYDIS_MNEMONIC_AAS:
		/* P6 and later adjust AX as a whole (AX + 106h), so a carry out of
		 * AL reaches AH as well. */
		if ((al & 0x0f) > 9 || af) {
			if (m == ZYDIS_MNEMONIC_AAA)
				ax = (uint16_t)(ax + 0x106);
			else
				ax = (uint16_t)(ax - 6 - 0x100);
			f |= EFLAGS_AF | EFLAGS_CF;
		}
		ax &= 0xff0f;
		f |= szp_flags((uint8_t)ax);
		*flags = (*flags & ~EFLAGS_ARITH) | f;
		return ax;
	case ZYDIS_MNEMONIC_AAM:
		ah = (uint8_t)(al / imm);
		al = (uint8_t)(al % imm);
		f |= szp_flags(al);
		break;
	case ZYDIS_MNEMONIC_AAD: {
		uint8_t addend = (uint8_t)(ah * imm);
		unsigned sum = (unsigned)al + addend;
		uint8_t r = (uint8_t)sum;
		if (sum > 0xff)
			f |= EFLAGS_CF;
		if ((al ^ addend ^ r) & 0x10)
			f |= EFLAGS_AF;
		if (~(al ^ addend) & (al ^ r) & 0x80)
			f |= EFLAGS_OF;
		f |= szp_flags(r);
		al = r;
		ah = 0;
		break;
	}
	default:
		return ax;
	}
	*flags = (*flags & ~EFLAGS_ARITH) | f;
	return (uint16_t)(ah << 8 | al);
}

enum callout_result do_bcd(struct cpu *cpu, const struct callout_desc *d,
			   const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	uint32_t *eax = &cpu->regs[REG_EAX];
	if (in->mnemonic == ZYDIS_MNEMONIC_SALC) {
		*eax = (*eax & ~0xffu) | (cpu->rflags & EFLAGS_CF ? 0xff : 0);
		return CALLOUT_GO_ON;
	}
	unsigned imm = 0;
	if (in->mnemonic == ZYDIS_MNEMONIC_AAM || in->mnemonic == ZYDIS_MNEMONIC_AAD)
		imm = (unsigned)ops[0].imm.value.u & 0xff;
	if (in->mnemonic == ZYDIS_MNEMONIC_AAM && imm == 0) {
		raise_fault(cpu, d, EXC_DE, false, 0);
		return CALLOUT_STOP;
	}
	uint32_t flags = (uint32_t)cpu->rflags & EFLAGS_ARITH;
	uint16_t ax = legacy_bcd(in->mnemonic, imm, (uint16_t)*eax, &flags);
	*eax = (*eax & 0xffff0000u) | ax;
	cpu->rflags = (cpu->rflags & ~(uint64_t)EFLAGS_ARITH) | flags;
	return CALLOUT_GO_ON;
}

enum callout_result do_bound(struct cpu *cpu, const struct callout_desc *d,
			     const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	uint32_t addr;
	int32_t index, lower, upper;
	if (!operand_linear(cpu, in, &ops[1], 2u * ops[0].size / 8, &addr))
		goto fault;
	if (ops[0].size == 16) {
		int16_t b[2];
		if (!cpu_read_guest(cpu, addr, b, sizeof(b)))
			goto fault;
		index = (int16_t)reg_read(cpu, ops[0].reg.value);
		lower = b[0];
		upper = b[1];
	} else {
		int32_t b[2];
		if (!cpu_read_guest(cpu, addr, b, sizeof(b)))
			goto fault;
		index = (int32_t)reg_read(cpu, ops[0].reg.value);
		lower = b[0];
		upper = b[1];
	}
	if (index < lower || index > upper) {
		raise_fault(cpu, d, EXC_BR, false, 0);
		return CALLOUT_STOP;
	}
	return CALLOUT_GO_ON;
fault:
	raise_fault(cpu, d, mem_fault_vector(&ops[1]), true, 0);
	return CALLOUT_STOP;
}

/* Elements one callout moves before the run loop gets a turn: REP INS/OUTS
 * is interruptible between elements on hardware too, and a guest's huge
 * ECX must not hold the monitor. The instruction then runs again with the
 * registers it left. */
#define STRING_IO_CHUNK 4096u

enum callout_result do_string_io(struct cpu *cpu, const struct callout_desc *d,
				 const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	bool is_in = in->mnemonic == ZYDIS_MNEMONIC_INSB || in->mnemonic == ZYDIS_MNEMONIC_INSW ||
		     in->mnemonic == ZYDIS_MNEMONIC_INSD;
	const ZydisDecodedOperand *mem = is_in ? &ops[0] : &ops[1];
	/* INS always stores through ES; OUTS reads through DS or the override. */
	unsigned seg = is_in ? SEG_ES : seg_reg_index(mem->mem.segment);
	unsigned width = in->operand_width / 8;
	uint32_t mask = in->address_width == 16 ? 0xffffu : 0xffffffffu;
	uint32_t step = cpu->s.eflags & EFLAGS_DF ? (uint32_t)-width : width;
	bool rep = in->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE |
				     ZYDIS_ATTRIB_HAS_REPNE);
	uint16_t port = (uint16_t)cpu->regs[REG_EDX];
	uint32_t *index = &cpu->regs[is_in ? REG_EDI : REG_ESI];
	uint32_t *ecx = &cpu->regs[REG_ECX];
	uint32_t count = rep ? *ecx & mask : 1, initial = count;
	/* Checked even when REP has nothing to move, as hardware does. */
	if (!io_permitted(cpu, port, width)) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}

	/* A data breakpoint hit ends it after the iteration (SDM 18.3.1.2). */
	for (unsigned n = 0; count && n < STRING_IO_CHUNK && !cpu->stop && !cpu->data_hits; n++) {
		uint32_t off = *index & mask;
		uint32_t addr = cpu->s.seg[seg].base + off;
		uint32_t v = 0;
		/* Memory is checked before the port is touched, so a fault does
		 * not lose a byte the device already handed over. */
		if (!cpu_offset_in_limit(&cpu->s.seg[seg], seg, off, width) ||
		    !cpu_read_guest(cpu, addr, &v, width)) {
			raise_fault(cpu, d, seg == SEG_SS ? EXC_SS : EXC_GP, true, 0);
			return CALLOUT_STOP;
		}
		if (is_in) {
			v = (uint32_t)bus_read(cpu->bus, BUS_SPACE_PIO, port, width);
			cpu_write_guest(cpu, addr, &v, width);
		} else {
			bus_write(cpu->bus, BUS_SPACE_PIO, port, width, v);
		}
		*index = (*index & ~mask) | ((off + step) & mask);
		count--;
		if (rep)
			*ecx = (*ecx & ~mask) | count;
	}
	if (count) {
		/* Stopped between iterations: an interrupt taken here shows RF
		 * (SDM 17.3.1.1). */
		if (count != initial)
			cpu->s.eflags |= EFLAGS_RF;
		cpu->s.eip = d->eip;
		return CALLOUT_STOP;
	}
	if (cpu->stop) {
		cpu->s.eip = d->next_eip;
		return CALLOUT_STOP;
	}
	return CALLOUT_GO_ON;
}

#define MSR_PLATFORM_ID 0x17u
#define MSR_TSC 0x10u
#define MSR_APIC_BASE 0x1bu
#define MSR_BIOS_SIGN_ID 0x8bu   /* microcode revision: none loaded */
#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
/* The local APIC at its default base, enabled, this CPU the BSP. */
#define APIC_BASE_VALUE 0xfee00900u

enum callout_result do_msr(struct cpu *cpu, const struct callout_desc *d,
			   const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	(void)ops;
	uint32_t msr = cpu->regs[REG_ECX];
	bool write = in->mnemonic == ZYDIS_MNEMONIC_WRMSR;
	uint64_t v = (uint64_t)cpu->regs[REG_EDX] << 32 | cpu->regs[REG_EAX];
	if (cpu->plat && cpu->plat->msr) {
		int r = cpu->plat->msr(cpu->plat->opaque, msr, write, &v);
		if (r < 0)
			goto gp;
		if (r == 0) {
			if (!write) {
				cpu->regs[REG_EAX] = (uint32_t)v;
				cpu->regs[REG_EDX] = (uint32_t)(v >> 32);
			}
			return CALLOUT_GO_ON;
		}
	}
	enum msr_outcome model = write ? msr_write(&cpu->s.msrs, msr, v)
				       : msr_read(&cpu->s.msrs, msr, &v);
	if (model == MSR_FAULT)
		goto gp;
	if (model == MSR_DONE) {
		if (!write) {
			cpu->regs[REG_EAX] = (uint32_t)v;
			cpu->regs[REG_EDX] = (uint32_t)(v >> 32);
		}
		return CALLOUT_GO_ON;
	}
	if (!write) {
		switch (msr) {
		case MSR_TSC: v = guest_tsc(cpu); break;
		case MSR_APIC_BASE: v = APIC_BASE_VALUE; break;
		case MSR_PLATFORM_ID: v = 0; break;
		case MSR_BIOS_SIGN_ID: v = 0; break;
		case MSR_SYSENTER_CS: v = cpu->s.sysenter_cs; break;
		case MSR_SYSENTER_ESP: v = cpu->s.sysenter_esp; break;
		case MSR_SYSENTER_EIP: v = cpu->s.sysenter_eip; break;
		case MSR_EFER: v = cpu->s.efer; break;
		default: goto gp;
		}
		cpu->regs[REG_EAX] = (uint32_t)v;
		cpu->regs[REG_EDX] = (uint32_t)(v >> 32);
		return CALLOUT_GO_ON;
	}
	switch (msr) {
	case MSR_BIOS_SIGN_ID:
		break;   /* the update-trigger write Linux makes before reading it */
	case MSR_TSC:
		set_guest_tsc(cpu, v);
		break;
	case MSR_APIC_BASE:
		/* There is no APIC to move or disable yet: the write is taken and
		 * the register keeps reading its reset value. */
		break;
	/* A 32-bit CPU keeps 32 bits of each (CS only its selector), as
	 * QEMU's i386 model does. */
	case MSR_SYSENTER_CS: cpu->s.sysenter_cs = (uint32_t)v & 0xffff; break;
	case MSR_SYSENTER_ESP: cpu->s.sysenter_esp = (uint32_t)v; break;
	case MSR_SYSENTER_EIP: cpu->s.sysenter_eip = (uint32_t)v; break;
	case MSR_EFER:
		/* IA32_MISC_ENABLE's XD-disable bit hides NX from CPUID, and
		 * NXE is then reserved. */
		if ((v & EFER_NXE) && (cpu->s.msrs.misc_enable & MISC_ENABLE_XD_DISABLE))
			goto gp;
		if (!cpu_set_efer(cpu, v))
			goto gp;
		cpu->s.eip = d->next_eip;   /* the windows may have gone: reselect */
		return CALLOUT_STOP;
	default: goto gp;
	}
	return CALLOUT_GO_ON;
gp:
	raise_fault(cpu, d, EXC_GP, true, 0);
	return CALLOUT_STOP;
}

/* FXSAVE runs here because the host, in 64-bit mode, would also store
 * XMM8-15 over bytes 288-415, which a 32-bit processor leaves alone. The
 * guest's state is put together in cpu->fxsave first. */
enum callout_result do_fxsave(struct cpu *cpu, const struct callout_desc *d,
			      const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	uint32_t addr;
	bool in_limit = operand_linear(cpu, in, &ops[0], 512, &addr);
	if (addr & 15) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	if (!in_limit) {
		raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
		return CALLOUT_STOP;
	}
	cpu_fpu_materialize(cpu);
	if (!cpu_write_guest(cpu, addr, cpu->fxsave, 288)) {
		raise_fault(cpu, d, mem_fault_vector(&ops[0]), true, 0);
		return CALLOUT_STOP;
	}
	return CALLOUT_GO_ON;
}

/* MASKMOVQ/MASKMOVDQU whose hidden DS:EDI store needs a segment base or
 * 16-bit addressing, or reached MMIO (the flat 32-bit form runs as host
 * code otherwise): the bytes whose mask byte has its top bit set are
 * stored, one by one. */
enum callout_result do_maskmov(struct cpu *cpu, const struct callout_desc *d,
			       const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	bool mmx = in->mnemonic == ZYDIS_MNEMONIC_MASKMOVQ;
	unsigned n = mmx ? 8 : 16;
	cpu_fpu_materialize(cpu);
	if (mmx && (cpu->fxsave[2] & 0x80)) {
		/* An MMX instruction first takes a pending unmasked x87
		 * exception (FSW.ES), as the host form would. */
		raise_fault(cpu, d, EXC_MF, false, 0);
		return CALLOUT_STOP;
	}
	unsigned src = (unsigned)ZydisRegisterGetId(ops[0].reg.value) & 7;
	unsigned msk = (unsigned)ZydisRegisterGetId(ops[1].reg.value) & 7;
	/* FXSAVE keeps x87 registers in ST(i) order; MMn is physical register
	 * n, which is ST((n - TOP) mod 8). */
	unsigned top = (cpu->fxsave[3] >> 3) & 7;
	unsigned src_slot = mmx ? (src - top) & 7 : src, msk_slot = mmx ? (msk - top) & 7 : msk;
	const uint8_t *data = cpu->fxsave + (mmx ? 32 : 160) + 16 * src_slot;
	const uint8_t *mask = cpu->fxsave + (mmx ? 32 : 160) + 16 * msk_slot;
	const ZydisDecodedOperand *mem = NULL;
	for (unsigned i = 0; i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
			mem = &ops[i];
	if (!mem) {
		raise_fault(cpu, d, EXC_UD, false, 0);
		return CALLOUT_STOP;
	}
	/* The SDM leaves it to the implementation whether a mask of zeros
	 * still checks the address: here all n bytes are checked whatever
	 * the mask, as a whole-operand store would be. */
	uint32_t addr;
	if (!operand_linear(cpu, in, mem, n, &addr)) {
		raise_fault(cpu, d, mem_fault_vector(mem), true, 0);
		return CALLOUT_STOP;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!(mask[i] & 0x80))
			continue;
		if (!cpu_write_guest(cpu, addr + i, &data[i], 1)) {
			raise_fault(cpu, d, mem_fault_vector(mem), true, 0);
			return CALLOUT_STOP;
		}
	}
	if (mmx && top) {
		/* An MMX instruction sets TOP = 0: ST(i) becomes physical i. */
		uint8_t regs[8][16];
		for (unsigned i = 0; i < 8; i++)
			memcpy(regs[(i + top) & 7], cpu->fxsave + 32 + 16 * i, 16);
		memcpy(cpu->fxsave + 32, regs, sizeof(regs));
		cpu->fxsave[3] &= (uint8_t)~0x38;
	}
	if (mmx)
		cpu->fxsave[4] = 0xff;   /* every register tagged valid */
	return CALLOUT_GO_ON;
}
