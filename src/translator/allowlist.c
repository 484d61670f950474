/* The instruction allowlist. An instruction is translated only when its
 * ISA set is in the table below and the CPUID model (isa/cpuid.c)
 * advertises what the set needs; everything else is #UD in the guest,
 * whatever the host runs. The translator then copies an allowed
 * instruction as it is only when each of its memory accesses is an
 * explicit operand, which it re-encodes as GS: addr32 (the window); the
 * instructions with implicit accesses have translations of their own.
 *
 * Audit of every ISA set Zydis 4.0 decodes in 32-bit mode (the CTest
 * test_isa_audit enumerates the encodings and checks the host code of
 * each translation touches memory only through the window, the monitor's
 * own structure or its stack):
 *
 *   set              verdict    implicit memory accesses, and how
 *   I86 I186 I386    translate  stack (PUSH/POP/CALL/RET/ENTER/LEAVE/
 *   I286REAL/PROT               PUSHA/POPA: translate_stack.c), strings
 *   I486REAL LAHF               (translate_string.c; INS/OUTS callouts),
 *                               XLAT (translate_xlat), PUSHF/POPF/IRET/INT
 *                               (callouts), BT* m,r (bit offset reaches
 *                               +-256 MiB: translate_bit_mem_reg)
 *   I486             #UD        RSM: no SMM
 *   PENTIUMREAL      translate  CMPXCHG8B (explicit), RDTSC, RDMSR/WRMSR
 *                               (callouts)
 *   PPRO             translate  SYSENTER/SYSEXIT (callouts), UD0-2, FCOMI
 *   CMOV FCMOV X87   translate  none (FNSAVE/FRSTOR 108 bytes explicit)
 *   PENTIUMMMX       translate  MASKMOVQ: hidden DS:EDI store, re-encoded
 *                               as GS:EDI or a callout
 *   SSE SSEMXCSR     translate  none
 *   FXSAVE           translate  FXSAVE/FXRSTOR 512 bytes explicit (FXSAVE
 *                               is a callout: the host form stores more)
 *   SSE2 SSE2MMX     translate  MASKMOVDQU as MASKMOVQ
 *   RDPMC            translate  callout (idle counters, CR4.PCE)
 *   PAUSE            translate  none
 *   FAT_NOP          NOP        0F 1F, with the rest of 0F 18-1F
 *   SSE_PREFETCH     NOP        0F 18 /0-3: prefetches are NOPs
 *   AMD              #UD        SYSCALL/SYSRET: not on an Intel P6
 *   SSE3 SSE3X87     translate  none (LDDQU, FISTTP: explicit)
 *   SSSE3 SSSE3MMX   translate  none
 *   SSE4 SSE42       translate  none (MOVNTDQA, PCMPxSTRx, CRC32: explicit
 *                               memory; PCMPESTRx's EAX/EDX and PCMPxSTRI's
 *                               ECX are the guest's own host registers)
 *   POPCNT           translate  none
 *   CLFSH            translate  CLFLUSH: a callout (the address checked
 *                               as a byte load, nothing else: device
 *                               memory is not touched)
 *   RDTSCP           translate  callout (TSC and IA32_TSC_AUX)
 *   BMI1 LZCNT       as older TZCNT and LZCNT are F3 0F BC/BD: REP BSF and REP
 *                               BSR on a CPU without them, and run as such
 *   everything else  #UD        not advertised: SSE4A, AVX*, AVX-512,
 *                               FMA, BMI, ADX, AES, SHA, CLFLUSHOPT,
 *                               CLWB, CLZERO (stores a line at [rAX]),
 *                               MONITOR(X)/MWAIT(X) (hidden [rAX]),
 *                               VMASKMOVDQU (hidden [rDI]), XSAVE*,
 *                               RDRAND, RDSEED, RDPID, MOVBE, LZCNT, CET,
 *                               MPX, TSX, SGX, VMX, SVM, 3DNow!, XOP,
 *                               PREFETCHW, ... */
#include "translator/allowlist.h"

#include <string.h>

#include "isa/cpuid.h"

bool allowlist_set_needs(ZydisISASet set, struct cpuid_features *needs)
{
	*needs = (struct cpuid_features){ 0, 0, 0 };
	switch (set) {
	case ZYDIS_ISA_SET_I86:
	case ZYDIS_ISA_SET_I186:
	case ZYDIS_ISA_SET_I286REAL:
	case ZYDIS_ISA_SET_I286PROTECTED:
	case ZYDIS_ISA_SET_I386:
	case ZYDIS_ISA_SET_I486REAL:
	case ZYDIS_ISA_SET_LAHF:
	case ZYDIS_ISA_SET_RDPMC:
	case ZYDIS_ISA_SET_PAUSE:
	case ZYDIS_ISA_SET_FAT_NOP:
		return true;
	case ZYDIS_ISA_SET_PENTIUMREAL:
		needs->edx1 = CPUID_1D_CX8 | CPUID_1D_TSC | CPUID_1D_MSR;
		return true;
	case ZYDIS_ISA_SET_PPRO:
		needs->edx1 = CPUID_1D_SEP;
		return true;
	case ZYDIS_ISA_SET_CMOV:
		needs->edx1 = CPUID_1D_CMOV;
		return true;
	case ZYDIS_ISA_SET_X87:
		needs->edx1 = CPUID_1D_FPU;
		return true;
	case ZYDIS_ISA_SET_FCMOV:
		needs->edx1 = CPUID_1D_FPU | CPUID_1D_CMOV;
		return true;
	case ZYDIS_ISA_SET_PENTIUMMMX:
		needs->edx1 = CPUID_1D_MMX;
		return true;
	case ZYDIS_ISA_SET_SSE:
	case ZYDIS_ISA_SET_SSEMXCSR:
	case ZYDIS_ISA_SET_SSE_PREFETCH:
		needs->edx1 = CPUID_1D_SSE;
		return true;
	case ZYDIS_ISA_SET_FXSAVE:
		needs->edx1 = CPUID_1D_FXSR;
		return true;
	case ZYDIS_ISA_SET_SSE2:
	case ZYDIS_ISA_SET_SSE2MMX:
		needs->edx1 = CPUID_1D_SSE2;
		return true;
	case ZYDIS_ISA_SET_CLFSH:
		needs->edx1 = CPUID_1D_CLFSH;
		return true;
	case ZYDIS_ISA_SET_SSE3:
	case ZYDIS_ISA_SET_SSE3X87:   /* FISTTP */
		needs->ecx1 = CPUID_1C_SSE3;
		return true;
	case ZYDIS_ISA_SET_SSSE3:
	case ZYDIS_ISA_SET_SSSE3MMX:
		needs->ecx1 = CPUID_1C_SSSE3;
		return true;
	case ZYDIS_ISA_SET_SSE4:
		needs->ecx1 = CPUID_1C_SSE41;
		return true;
	case ZYDIS_ISA_SET_SSE42:
		needs->ecx1 = CPUID_1C_SSE42;
		return true;
	case ZYDIS_ISA_SET_POPCNT:
		needs->ecx1 = CPUID_1C_POPCNT;
		return true;
	case ZYDIS_ISA_SET_RDTSCP:
		needs->edx81 = CPUID_81D_RDTSCP;
		return true;
	default:
		return false;
	}
}

enum allow_verdict allowlist_verdict(const ZydisDecodedInstruction *in)
{
	if (in->meta.isa_ext == ZYDIS_ISA_EXT_X87 && in->meta.isa_set == ZYDIS_ISA_SET_PPRO)
		return ALLOW_TRANSLATE;   /* FCOMI and friends: P6 x87 */
	struct cpuid_features needs;
	if (!allowlist_set_needs(in->meta.isa_set, &needs) || (needs.edx1 & ~(uint32_t)CPUID_MODEL_1D) ||
	    (needs.ecx1 & ~(uint32_t)CPUID_MODEL_1C) || (needs.edx81 & ~(uint32_t)CPUID_MODEL_81D))
		return ALLOW_UD;
	/* Only legacy and 0F-map encodings with no VEX/EVEX/XOP/3DNow!
	 * form are in the model. */
	if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY)
		return ALLOW_UD;
	return ALLOW_TRANSLATE;
}

bool allowlist_reserved_nop(const uint8_t *bytes, unsigned avail, uint8_t *out)
{
	unsigned i = 0;
	while (i < avail && i < ZYDIS_MAX_INSTRUCTION_LENGTH) {
		uint8_t b = bytes[i];
		if (b == 0x66 || b == 0x67 || b == 0xf2 || b == 0xf3 || b == 0x2e || b == 0x36 ||
		    b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65)
			i++;
		else
			break;
	}
	/* LOCK is not a prefix a NOP takes: the decoder's #UD stands. */
	if (i + 1 >= avail || bytes[i] != 0x0f || bytes[i + 1] < 0x18 || bytes[i + 1] > 0x1f)
		return false;
	unsigned n = avail < ZYDIS_MAX_INSTRUCTION_LENGTH ? avail : ZYDIS_MAX_INSTRUCTION_LENGTH;
	memcpy(out, bytes, n);
	out[i + 1] = 0x1f;
	return true;
}

bool allowlist_has_hidden_memory(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	for (unsigned i = 0; i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    ops[i].visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
			return true;
	return false;
}

unsigned allowlist_older_form(const ZydisDecodedInstruction *in, const uint8_t *bytes, uint8_t *out)
{
	if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY ||
	    (in->mnemonic != ZYDIS_MNEMONIC_TZCNT && in->mnemonic != ZYDIS_MNEMONIC_LZCNT))
		return 0;
	unsigned n = 0;
	for (unsigned i = 0; i < in->length; i++) {
		/* Prefixes come before the 0F escape: drop each F3 among them. */
		if (i < in->raw.prefix_count && bytes[i] == 0xf3)
			continue;
		out[n++] = bytes[i];
	}
	return n;
}
