/* Facts about decoded guest instructions that both the translator and the
 * monitor act on: which touch x87/MMX/SSE state (and so may trap under
 * CR0.TS/EM or CR4.OSFXSR) and which store through CS. */
#include "isa/insn.h"

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

bool insn_needs_osfxsr(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_LDMXCSR:
	case ZYDIS_MNEMONIC_STMXCSR:
		return true;
	case ZYDIS_MNEMONIC_FXSAVE:
	case ZYDIS_MNEMONIC_FXRSTOR:
		return false;
	default:
		break;
	}
	for (unsigned i = 0; i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(ops[i].reg.value) == ZYDIS_REGCLASS_XMM)
			return true;
	return false;
}

bool insn_writes_via_cs(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	for (unsigned i = 0; i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.segment == ZYDIS_REGISTER_CS &&
		    (ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
			return true;
	return false;
}
