/* The confinement check on translated host code (isa_check.h): decodes the
 * host code with Zydis in 64-bit mode and checks each instruction's memory
 * operands, its ISA set and whether it enters the host kernel. */
#include "isa_check.h"

#include <stdbool.h>

#include "translator/cpu_layout.h"

static bool monitor_base(ZydisRegister r)
{
	return r == ZYDIS_REGISTER_R15 || r == ZYDIS_REGISTER_R14 || r == ZYDIS_REGISTER_R11 ||
	       r == ZYDIS_REGISTER_RSP;
}

/* Whether one host memory operand stays in the window or the monitor. */
static bool access_confined(const ZydisDecodedInstruction *hi, const ZydisDecodedOperand *op)
{
	if (op->mem.segment == ZYDIS_REGISTER_GS && hi->address_width == 32)
		return true;
	/* A bare disp32 below 2 GiB (a guest's absolute address): the encoder
	 * leaves addr32 out there, a byte shorter, and sign extension then
	 * adds what zero extension would. One at or above 2 GiB would reach
	 * below GS: the translator moves it into r14d (guest_mem). */
	if (op->mem.segment == ZYDIS_REGISTER_GS && op->mem.base == ZYDIS_REGISTER_NONE &&
	    op->mem.index == ZYDIS_REGISTER_NONE && op->mem.disp.value >= 0 &&
	    op->mem.disp.value < 0x80000000ll)
		return true;
	/* The block entry's poll: a read through r9, the doors' copy of
	 * cpu->poll_ptr (no translated instruction writes r9: checked below). */
	if (hi->address_width == 64 && op->mem.base == ZYDIS_REGISTER_R9 &&
	    op->mem.index == ZYDIS_REGISTER_NONE && op->mem.disp.value == 0 &&
	    !(op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
		return true;
	return hi->address_width == 64 && monitor_base(op->mem.base) &&
	       (op->mem.index == ZYDIS_REGISTER_NONE || op->mem.index == ZYDIS_REGISTER_R14);
}

/* Whether an operand writes r9, which must hold the poll pointer wherever
 * translated code runs. */
static bool writes_r9(const ZydisDecodedOperand *op)
{
	return op->type == ZYDIS_OPERAND_TYPE_REGISTER &&
	       (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
	       ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, op->reg.value) ==
		       ZYDIS_REGISTER_R9;
}

/* mov r9, [r15 + CPU_OFF_POLL_PTR]: the poll pointer loaded again from
 * the vCPU (with several vCPUs, emit_attention_poll), the one write to r9
 * allowed. */
static bool reloads_poll_ptr(const ZydisDecodedInstruction *hi, const ZydisDecodedOperand *ops)
{
	return hi->mnemonic == ZYDIS_MNEMONIC_MOV && hi->operand_count_visible == 2 &&
	       ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[0].reg.value == ZYDIS_REGISTER_R9 &&
	       ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[1].mem.base == ZYDIS_REGISTER_R15 &&
	       ops[1].mem.index == ZYDIS_REGISTER_NONE && ops[1].mem.segment != ZYDIS_REGISTER_GS &&
	       ops[1].mem.segment != ZYDIS_REGISTER_FS && ops[1].mem.disp.value == CPU_OFF_POLL_PTR &&
	       hi->address_width == 64;
}

/* One decoded host instruction, kept for the look back from a string
 * instruction. */
struct seen {
	ZydisDecodedInstruction hi;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	size_t off;
};

static bool is_reg(const struct seen *x, unsigned i, ZydisRegister r)
{
	return i < x->hi.operand_count && x->ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	       x->ops[i].reg.value == r;
}

/* lea dst, [base + index*1 + disp] with nothing else in the address. */
static bool is_lea(const struct seen *x, ZydisRegister dst, ZydisRegister base, ZydisRegister index,
		   int64_t disp)
{
	const ZydisDecodedOperand *m = &x->ops[1];
	return x->hi.mnemonic == ZYDIS_MNEMONIC_LEA && is_reg(x, 0, dst) &&
	       m->type == ZYDIS_OPERAND_TYPE_MEMORY && m->mem.base == base && m->mem.index == index &&
	       (index == ZYDIS_REGISTER_NONE || m->mem.scale == 1) && m->mem.disp.value == disp;
}

static bool is_mov(const struct seen *x, ZydisRegister dst, ZydisRegister src)
{
	return x->hi.mnemonic == ZYDIS_MNEMONIC_MOV && is_reg(x, 0, dst) && is_reg(x, 1, src);
}

/* A host string instruction with 64-bit addressing (MOVS and STOS of the
 * guest's are never copied: such a one is the translator's own). */
static bool is_host_string(const ZydisDecodedInstruction *hi)
{
	switch (hi->mnemonic) {
	case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
	case ZYDIS_MNEMONIC_MOVSQ: case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW:
	case ZYDIS_MNEMONIC_STOSD: case ZYDIS_MNEMONIC_STOSQ:
		return hi->meta.category == ZYDIS_CATEGORY_STRINGOP && hi->address_width == 64;
	default:
		return false;
	}
}

/* The only host string instructions allowed are REP STOSB/W/D and REP
 * MOVSB/W/D, translate_string.c's fast forms, which stay within a window
 * and its guard only behind exactly this: movzx ecx, cx; lea ecx, [rcx+1]
 * (at most 65,536 elements of at most 4 bytes); mov edi, edi (and mov
 * esi, esi for MOVS: 32-bit offsets); mov r10, [r15 + win_base]; lea rdi,
 * [rdi+r10] (and lea rsi, [rsi+r10]). last[0] is the instruction just
 * before it. Returns how many instructions the bounds take, 0 if they
 * are not there. The caller also checks that no branch lands inside. */
static unsigned string_bounded(const ZydisDecodedInstruction *hi, const struct seen *const *last,
			       unsigned nlast)
{
	bool stos = hi->mnemonic == ZYDIS_MNEMONIC_STOSB || hi->mnemonic == ZYDIS_MNEMONIC_STOSW ||
		    hi->mnemonic == ZYDIS_MNEMONIC_STOSD;
	bool movs = hi->mnemonic == ZYDIS_MNEMONIC_MOVSB || hi->mnemonic == ZYDIS_MNEMONIC_MOVSW ||
		    hi->mnemonic == ZYDIS_MNEMONIC_MOVSD;
	unsigned need = movs ? 7 : 5, k = 0;
	if (!(hi->attributes & ZYDIS_ATTRIB_HAS_REP) || !(stos || movs) || nlast < need)
		return 0;
	if (movs && !is_lea(last[k++], ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_R10, 0))
		return 0;
	if (!is_lea(last[k++], ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_R10, 0))
		return 0;
	const struct seen *b = last[k++];
	if (!(b->hi.mnemonic == ZYDIS_MNEMONIC_MOV && is_reg(b, 0, ZYDIS_REGISTER_R10) &&
	      b->ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY && b->ops[1].mem.base == ZYDIS_REGISTER_R15 &&
	      b->ops[1].mem.index == ZYDIS_REGISTER_NONE && b->ops[1].mem.disp.value == CPU_OFF_WIN_BASE &&
	      b->ops[1].mem.segment != ZYDIS_REGISTER_GS && b->ops[1].mem.segment != ZYDIS_REGISTER_FS))
		return 0;
	if (movs && !is_mov(last[k++], ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_ESI))
		return 0;
	if (!is_mov(last[k++], ZYDIS_REGISTER_EDI, ZYDIS_REGISTER_EDI) ||
	    !is_lea(last[k++], ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 1))
		return 0;
	const struct seen *z = last[k];
	return z->hi.mnemonic == ZYDIS_MNEMONIC_MOVZX && is_reg(z, 0, ZYDIS_REGISTER_ECX) &&
	       is_reg(z, 1, ZYDIS_REGISTER_CX) ? need : 0;
}

/* The read of FS's or GS's base through its guard pointer (guest_mem):
 * mov r10d, [r10] right after mov r10, [r15 + the guard's offset], which
 * points at the cpu structure or at the unmapped null guard page. */
static bool is_guard_read(const ZydisDecodedInstruction *hi, const ZydisDecodedOperand *op,
			  const struct seen *prev)
{
	if (hi->mnemonic != ZYDIS_MNEMONIC_MOV || hi->address_width != 64 ||
	    op->mem.base != ZYDIS_REGISTER_R10 || op->mem.index != ZYDIS_REGISTER_NONE ||
	    op->mem.disp.value != 0 || op->mem.segment != ZYDIS_REGISTER_DS ||
	    (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) || !prev)
		return false;
	const ZydisDecodedOperand *src = &prev->ops[1];
	return prev->hi.mnemonic == ZYDIS_MNEMONIC_MOV && is_reg(prev, 0, ZYDIS_REGISTER_R10) &&
	       prev->hi.operand_count > 1 && src->type == ZYDIS_OPERAND_TYPE_MEMORY &&
	       src->mem.base == ZYDIS_REGISTER_R15 && src->mem.index == ZYDIS_REGISTER_NONE &&
	       (src->mem.disp.value == CPU_OFF_SEG_GUARD || src->mem.disp.value == CPU_OFF_SEG_GUARD + 8);
}

#define LOOK_BACK 8u
#define MAX_GUARDED 256u   /* a block's strings and FS/GS guard reads */
#define MAX_TARGETS 1024u

unsigned isa_check_host_code(const uint8_t *code, size_t len, isa_check_report_fn *report, void *opaque)
{
	ZydisDecoder host;
	ZydisDecoderInit(&host, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisDecodedInstruction hi;
	ZydisDecodedOperand hops[ZYDIS_MAX_OPERAND_COUNT];
	unsigned violations = 0;
	/* The last instructions, newest at ring[(nseen - 1) % LOOK_BACK]. */
	struct seen ring[LOOK_BACK];
	unsigned nseen = 0;
	/* Runs (start, string instruction] no branch may land in, and the
	 * targets of the block's relative branches. */
	size_t guarded[MAX_GUARDED][2], targets[MAX_TARGETS];
	unsigned nguarded = 0, ntargets = 0;
	for (size_t off = 0; off < len; off += hi.length) {
		struct seen *cur = &ring[nseen % LOOK_BACK];
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(&host, code + off, len - off, &cur->hi, cur->ops))) {
			report(opaque, "host code does not decode", NULL, off);
			return violations + 1;
		}
		cur->off = off;
		hi = cur->hi;
		for (unsigned i = 0; i < ZYDIS_MAX_OPERAND_COUNT; i++)
			hops[i] = cur->ops[i];
		nseen++;
		if (hi.meta.branch_type != ZYDIS_BRANCH_TYPE_NONE && hi.operand_count > 0 &&
		    hops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && hops[0].imm.is_relative) {
			uint64_t t = off + hi.length + hops[0].imm.value.u;
			if (ntargets < MAX_TARGETS)
				targets[ntargets++] = (size_t)t;
		}
		if (is_host_string(&hi)) {
			const struct seen *last[LOOK_BACK];
			unsigned nlast = 0;
			for (unsigned k = 1; k < LOOK_BACK && k < nseen; k++)
				last[nlast++] = &ring[(nseen - 1 - k) % LOOK_BACK];
			unsigned bounds = string_bounded(&hi, last, nlast);
			if (!bounds || nguarded == MAX_GUARDED) {
				report(opaque, "host string instruction without its bounds", &hi, off);
				violations++;
			} else {
				guarded[nguarded][0] = last[bounds - 1]->off;
				guarded[nguarded][1] = off;
				nguarded++;
			}
			continue;
		}
		if (hi.mnemonic == ZYDIS_MNEMONIC_SYSCALL || hi.mnemonic == ZYDIS_MNEMONIC_SYSENTER ||
		    hi.meta.category == ZYDIS_CATEGORY_INTERRUPT) {
			report(opaque, "host code calls the host kernel", &hi, off);
			violations++;
		}
		/* Zydis does not show every implicit access as a memory operand
		 * (CLZERO's line at [rAX] is a register operand): host code may
		 * also only hold instructions of the model's sets and the
		 * translator's own (BMI2's RORX). */
		switch (hi.meta.isa_ext) {
		case ZYDIS_ISA_EXT_BASE:
		case ZYDIS_ISA_EXT_X87:
		case ZYDIS_ISA_EXT_MMX:
		case ZYDIS_ISA_EXT_SSE:
		case ZYDIS_ISA_EXT_SSE2:
		case ZYDIS_ISA_EXT_SSE3:    /* SSE3, FISTTP (not MONITOR: its own) */
		case ZYDIS_ISA_EXT_SSSE3:
		case ZYDIS_ISA_EXT_SSE4:    /* SSE4.1, SSE4.2, POPCNT (not SSE4A: its own) */
		case ZYDIS_ISA_EXT_BMI2:
		case ZYDIS_ISA_EXT_LONGMODE:
		case ZYDIS_ISA_EXT_PAUSE:
			break;
		default:
			report(opaque, "host code outside the model's sets", &hi, off);
			violations++;
		}
		for (unsigned i = 0; i < hi.operand_count; i++)
			if (writes_r9(&hops[i]) && !reloads_poll_ptr(&hi, hops)) {
				report(opaque, "host code writes r9 (the poll pointer)", &hi, off);
				violations++;
			}
		/* (A multi-byte NOP's memory operand is never accessed: the
		 * translator pads with them, emit_rel32_in_one_line.) */
		if (hi.mnemonic == ZYDIS_MNEMONIC_LEA || hi.meta.category == ZYDIS_CATEGORY_NOP ||
		    hi.meta.category == ZYDIS_CATEGORY_WIDENOP)
			continue;
		const struct seen *prev = nseen > 1 ? &ring[(nseen - 2) % LOOK_BACK] : NULL;
		for (unsigned i = 0; i < hi.operand_count; i++) {
			if (hops[i].type != ZYDIS_OPERAND_TYPE_MEMORY || access_confined(&hi, &hops[i]))
				continue;
			if (is_guard_read(&hi, &hops[i], prev) && nguarded < MAX_GUARDED) {
				/* No branch may land on it past the pointer's load. */
				guarded[nguarded][0] = prev->off;
				guarded[nguarded][1] = off;
				nguarded++;
				continue;
			}
			report(opaque, "host access outside the window", &hi, off);
			violations++;
		}
	}
	if (ntargets == MAX_TARGETS && nguarded) {
		report(opaque, "too many branches to check a string instruction's bounds", NULL, len);
		violations++;
	}
	for (unsigned g = 0; g < nguarded; g++)
		for (unsigned i = 0; i < ntargets; i++)
			if (targets[i] > guarded[g][0] && targets[i] <= guarded[g][1]) {
				report(opaque, "a branch skips a string instruction's bounds", NULL, targets[i]);
				violations++;
			}
	return violations;
}
