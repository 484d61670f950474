/* The confinement check on translated host code (isa_check.h): decodes the
 * host code with Zydis in 64-bit mode and checks each instruction's memory
 * operands, its ISA set and whether it enters the host kernel. */
#include "isa_check.h"

#include <stdbool.h>

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
	return hi->address_width == 64 && monitor_base(op->mem.base) &&
	       (op->mem.index == ZYDIS_REGISTER_NONE || op->mem.index == ZYDIS_REGISTER_R14);
}

unsigned isa_check_host_code(const uint8_t *code, size_t len, isa_check_report_fn *report, void *opaque)
{
	ZydisDecoder host;
	ZydisDecoderInit(&host, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisDecodedInstruction hi;
	ZydisDecodedOperand hops[ZYDIS_MAX_OPERAND_COUNT];
	unsigned violations = 0;
	for (size_t off = 0; off < len; off += hi.length) {
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(&host, code + off, len - off, &hi, hops))) {
			report(opaque, "host code does not decode", NULL, off);
			return violations + 1;
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
		case ZYDIS_ISA_EXT_BMI2:
		case ZYDIS_ISA_EXT_LONGMODE:
		case ZYDIS_ISA_EXT_PAUSE:
			break;
		default:
			report(opaque, "host code outside the model's sets", &hi, off);
			violations++;
		}
		if (hi.mnemonic == ZYDIS_MNEMONIC_LEA || hi.meta.category == ZYDIS_CATEGORY_NOP)
			continue;
		for (unsigned i = 0; i < hi.operand_count; i++)
			if (hops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && !access_confined(&hi, &hops[i])) {
				report(opaque, "host access outside the window", &hi, off);
				violations++;
			}
	}
	return violations;
}
