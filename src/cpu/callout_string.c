/* String instructions run by the monitor: MOVS, STOS, LODS, CMPS and SCAS
 * whose translation reached MMIO. Translated code runs strings as host
 * loops through the window, which has no mapping for a device; once such
 * an instruction has faulted there (trace_mmio.c's cpu_handle_mmio marks it
 * adaptive), it is retranslated as this callout, which moves one element
 * at a time through the monitor's accesses (RAM or the bus), with ESI,
 * EDI and ECX stepping after each, so a fault leaves them precise. Forward
 * MOVS and STOS between RAM pages go a page at a time instead: such an
 * instruction is often the kernel's memset or memcpy, marked once for a
 * device and then run on every page the kernel clears or copies. */
#include <string.h>

#include "cpu/callout_internal.h"
#include "mmu/guest_ram.h"
#include "mmu/paging.h"
#include "mmu/shadow.h"

/* Elements one callout moves before the run loop gets a turn, as for
 * INS/OUTS: REP is interruptible between elements on hardware too. */
#define STRING_MEM_CHUNK 4096u

/* The status flags of a - b at the element's width, as CMP sets them. */
static uint64_t compare_flags(uint32_t a, uint32_t b, unsigned width)
{
	uint64_t f;
	switch (width) {
	case 1:
		__asm__("cmpb %b2, %b1\n\tpushfq\n\tpopq %0" : "=r"(f) : "q"(a), "q"(b) : "cc");
		break;
	case 2:
		__asm__("cmpw %w2, %w1\n\tpushfq\n\tpopq %0" : "=r"(f) : "r"(a), "r"(b) : "cc");
		break;
	default:
		__asm__("cmpl %2, %1\n\tpushfq\n\tpopq %0" : "=r"(f) : "r"(a), "r"(b) : "cc");
		break;
	}
	return f;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Up to max elements of a forward MOVS or STOS (width 1, 2 or 4, 32-bit
 * addressing) that stay inside one page of the destination and of the
 * source, when both are RAM and neither access faults: the whole piece is
 * translated first (accessed and dirty bits as the elements would set
 * them), read, and written once through cpu_write_phys, which keeps the
 * traces and the translations. Overlapping MOVS pieces (a pattern copied
 * onto itself element by element) are left to the element loop, as is
 * anything that would fault: it raises the fault at the exact element.
 * Returns the elements moved, 0 if none. */
static uint32_t string_bulk(struct cpu *cpu, bool movs, uint32_t src, uint32_t dst, uint32_t value,
			    unsigned width, uint32_t max)
{
	uint8_t buf[GUEST_PAGE_SIZE];
	uint32_t room = (GUEST_PAGE_SIZE - (dst & (GUEST_PAGE_SIZE - 1))) / width;
	if (movs)
		room = min_u32(room, (GUEST_PAGE_SIZE - (src & (GUEST_PAGE_SIZE - 1))) / width);
	uint32_t n = min_u32(room, max);
	unsigned len = n * width;
	if (n < 2)
		return 0;
	struct guest_span from = { 0 }, to;
	const struct guest_ram *ram = cpu->sh->ram;
	if (movs && (!cpu_translate_span(cpu, src, len, ACCESS_READ, &from) ||
		     !guest_ram_contains(ram, from.gpa[0], len)))
		goto element;
	if (!cpu_translate_span(cpu, dst, len, ACCESS_WRITE, &to) ||
	    !guest_ram_contains(ram, to.gpa[0], len))
		goto element;
	if (movs) {
		if (from.gpa[0] != to.gpa[0] && from.gpa[0] < to.gpa[0] + len && to.gpa[0] < from.gpa[0] + len)
			return 0;
		cpu_read_phys(cpu, from.gpa[0], buf, len);
	} else {
		for (unsigned at = 0; at < len; at += width)
			memcpy(buf + at, &value, width);
	}
	cpu_write_phys(cpu, to.gpa[0], buf, len);
	return n;
element:
	cpu->pf.pending = false;   /* the element loop faults at the right element */
	return 0;
}

enum callout_result do_string_mem(struct cpu *cpu, const struct callout_desc *d,
				  const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	ZydisMnemonic m = in->mnemonic;
	if (in->opcode_map != ZYDIS_OPCODE_MAP_DEFAULT) {
		/* SSE2's MOVSD and CMPSD share the names: never meant here. */
		raise_fault(cpu, d, EXC_UD, false, 0);
		return CALLOUT_STOP;
	}
	bool movs = m == ZYDIS_MNEMONIC_MOVSB || m == ZYDIS_MNEMONIC_MOVSW || m == ZYDIS_MNEMONIC_MOVSD;
	bool stos = m == ZYDIS_MNEMONIC_STOSB || m == ZYDIS_MNEMONIC_STOSW || m == ZYDIS_MNEMONIC_STOSD;
	bool lods = m == ZYDIS_MNEMONIC_LODSB || m == ZYDIS_MNEMONIC_LODSW || m == ZYDIS_MNEMONIC_LODSD;
	bool cmps = m == ZYDIS_MNEMONIC_CMPSB || m == ZYDIS_MNEMONIC_CMPSW || m == ZYDIS_MNEMONIC_CMPSD;
	bool reads_src = movs || lods || cmps, writes_dst = movs || stos;
	bool reads_dst = cmps || !(movs || stos || lods);   /* CMPS and SCAS */
	unsigned width = in->operand_width / 8;
	uint32_t mask = in->address_width == 16 ? 0xffffu : 0xffffffffu;
	uint32_t step = cpu->s.eflags & EFLAGS_DF ? (uint32_t)-width : width;
	bool repe = in->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE);
	bool repne = in->attributes & ZYDIS_ATTRIB_HAS_REPNE;
	bool rep = repe || repne;
	/* The source is DS:ESI or its override; the destination is ES:EDI. */
	unsigned src_seg = SEG_DS;
	for (unsigned i = 0; i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.base != ZYDIS_REGISTER_EDI &&
		    ops[i].mem.base != ZYDIS_REGISTER_DI)
			src_seg = seg_reg_index(ops[i].mem.segment);
	uint32_t *esi = &cpu->regs[REG_ESI], *edi = &cpu->regs[REG_EDI], *ecx = &cpu->regs[REG_ECX];
	uint32_t *eax = &cpu->regs[REG_EAX];
	uint32_t count = rep ? *ecx & mask : 1, initial = count;
	uint32_t value_mask = width == 4 ? 0xffffffffu : (1u << (8 * width)) - 1;
	/* Bulk pieces skip the element's limit check below, which a piece
	 * inside one page of flat segments passes. Outside LIMITS blocks
	 * only an unusable FS or GS source fails it (translated code's
	 * guard never ran for an instruction made adaptive): an unusable ES
	 * is never flat. */
	bool checked = (d->mode & MODE_LIMITS) || (reads_src && !cpu_segment_usable(&cpu->s.seg[src_seg]));
	bool bulk = (movs || stos) && mask == 0xffffffffu && (int32_t)step > 0 && (cpu->s.cr0 & CR0_PG) &&
		    !checked;

	/* A data breakpoint hit ends it after the iteration, its #DB a trap
	 * with ECX/ESI/EDI as that iteration left them. */
	for (unsigned n = 0; count && n < STRING_MEM_CHUNK && !cpu->stop && !cpu->data_hits; n++) {
		uint32_t src = cpu->s.seg[src_seg].base + (*esi & mask);
		uint32_t dst = cpu->s.seg[SEG_ES].base + (*edi & mask);
		uint32_t a = 0, b = 0;
		uint32_t moved = bulk ? string_bulk(cpu, movs, src, dst, *eax & value_mask, width,
						    min_u32(count, STRING_MEM_CHUNK - n)) : 0;
		if (moved) {
			if (movs)
				*esi += moved * width;
			*edi += moved * width;
			count -= moved;
			if (rep)
				*ecx = count;
			n += moved - 1;
			continue;
		}
		/* Each element against its segment, the source first;
		 * outside LIMITS blocks a flat one, whose limit an element
		 * running past 4 GiB exceeds (cpu_read_guest would wrap). */
		const struct segment *ss = &cpu->s.seg[src_seg], *es = &cpu->s.seg[SEG_ES];
		bool src_ok = !reads_src || cpu_offset_in_limit(ss, src_seg, *esi & mask, width);
		if (!src_ok || ((reads_dst || writes_dst) &&
				!cpu_offset_in_limit(es, SEG_ES, *edi & mask, width))) {
			raise_fault(cpu, d, !src_ok && src_seg == SEG_SS ? EXC_SS : EXC_GP, true, 0);
			return CALLOUT_STOP;
		}
		if (reads_src && !cpu_read_guest(cpu, src, &a, width)) {
			raise_fault(cpu, d, src_seg == SEG_SS ? EXC_SS : EXC_GP, true, 0);
			return CALLOUT_STOP;
		}
		if (stos)
			a = *eax & value_mask;
		if (reads_dst && !cpu_read_guest(cpu, dst, &b, width)) {
			raise_fault(cpu, d, EXC_GP, true, 0);
			return CALLOUT_STOP;
		}
		if (writes_dst && !cpu_write_guest(cpu, dst, &a, width)) {
			raise_fault(cpu, d, EXC_GP, true, 0);
			return CALLOUT_STOP;
		}
		if (lods)
			reg_write(cpu, width == 1 ? ZYDIS_REGISTER_AL : width == 2 ? ZYDIS_REGISTER_AX
										: ZYDIS_REGISTER_EAX, a);
		bool equal = true;
		if (reads_dst) {
			/* CMPS compares [ESI] with [EDI], SCAS the accumulator. */
			uint32_t left = cmps ? a : *eax & value_mask;
			uint64_t f = compare_flags(left, b, width);
			cpu->rflags = (cpu->rflags & ~(uint64_t)EFLAGS_ARITH) | (f & EFLAGS_ARITH);
			equal = left == b;
		}
		if (reads_src)
			*esi = (*esi & ~mask) | ((*esi + step) & mask);
		if (writes_dst || reads_dst)
			*edi = (*edi & ~mask) | ((*edi + step) & mask);
		count--;
		if (rep)
			*ecx = (*ecx & ~mask) | count;
		if (rep && reads_dst && (repe ? !equal : equal))
			count = 0;   /* the REPE/REPNE condition ends it */
	}
	if (count) {
		/* Stopped between iterations: an interrupt taken here shows RF
		 * (SDM 17.3.1.1). */
		if (count != initial)
			cpu->s.eflags |= EFLAGS_RF;
		cpu->s.eip = d->eip;   /* more to do: the instruction runs again */
		return CALLOUT_STOP;
	}
	if (cpu->stop) {
		cpu->s.eip = d->next_eip;
		return CALLOUT_STOP;
	}
	return CALLOUT_GO_ON;
}
