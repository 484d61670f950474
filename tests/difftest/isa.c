/* Which instructions the difftest generates: the host's CPU features (from
 * CPUID), the mapping of Zydis ISA sets onto them, and the filter that keeps
 * only unprivileged, non-control-flow instructions whose result does not
 * depend on the environment (so the host and a guest must agree). Also the
 * shared Zydis decoder and formatter.
 *
 * Left out, and why:
 * - control flow (jumps, calls, returns, loops, interrupts, far transfers);
 * - privileged and IOPL-sensitive instructions, and ones that read state a
 *   guest and a Linux process legitimately differ in: segment registers
 *   (MOV/PUSH/POP Sreg, LDS..LSS), descriptor tables (SGDT..STR, LAR, LSL,
 *   VERR, VERW), PUSHF/POPF (IF, IOPL), CPUID, RDTSC/RDTSCP/RDPMC/RDPID,
 *   RDRAND/RDSEED, XGETBV, SMSW;
 * - BOUND and INTO (asked to be left out), 16-bit BSWAP (undefined result);
 * - VEX/EVEX vector instructions (AVX*, FMA, F16C, AMX): they need XCR0,
 *   which only XSETBV at ring 0 sets and btvm does not offer; XSAVE*;
 * - what btvm's CPUID model does not offer (translator/allowlist.c);
 * - sets the host lacks, and everything not mapped below (AMD-only, MPX,
 *   TSX, SGX, ...). VEX-encoded BMI1/BMI2 integer instructions stay in. */
#include "dt_host.h"
#include "translator/allowlist.h"

#include <cpuid.h>
#include <stdio.h>
#include <string.h>

static const char *const feature_names[DT_F_COUNT] = {
	[DT_F_X87] = "x87", [DT_F_CMOV] = "cmov", [DT_F_CX8] = "cx8", [DT_F_MMX] = "mmx",
	[DT_F_FXSR] = "fxsr", [DT_F_SSE] = "sse", [DT_F_SSE2] = "sse2", [DT_F_CLFSH] = "clflush",
	[DT_F_SSE3] = "sse3", [DT_F_SSSE3] = "ssse3", [DT_F_SSE41] = "sse41", [DT_F_SSE42] = "sse42",
	[DT_F_POPCNT] = "popcnt", [DT_F_LZCNT] = "lzcnt", [DT_F_BMI1] = "bmi1", [DT_F_BMI2] = "bmi2",
	[DT_F_ADX] = "adx", [DT_F_MOVBE] = "movbe", [DT_F_AES] = "aes", [DT_F_PCLMUL] = "pclmul",
	[DT_F_SHA] = "sha", [DT_F_GFNI] = "gfni", [DT_F_CLFLUSHOPT] = "clflushopt",
	[DT_F_CLWB] = "clwb", [DT_F_CLDEMOTE] = "cldemote", [DT_F_MOVDIRI] = "movdiri",
	[DT_F_PRFCHW] = "prefetchw",
};

const char *dt_feature_name(unsigned f)
{
	return f < DT_F_COUNT ? feature_names[f] : "?";
}

#define BIT(f) (1u << (f))

uint32_t dt_host_features(void)
{
	unsigned a, b, c, d, max;
	uint32_t f = 0;
	max = __get_cpuid_max(0, NULL);
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		if (d & (1u << 0)) f |= BIT(DT_F_X87);
		if (d & (1u << 8)) f |= BIT(DT_F_CX8);
		if (d & (1u << 15)) f |= BIT(DT_F_CMOV);
		if (d & (1u << 19)) f |= BIT(DT_F_CLFSH);
		if (d & (1u << 23)) f |= BIT(DT_F_MMX);
		if (d & (1u << 24)) f |= BIT(DT_F_FXSR);
		if (d & (1u << 25)) f |= BIT(DT_F_SSE);
		if (d & (1u << 26)) f |= BIT(DT_F_SSE2);
		if (c & (1u << 0)) f |= BIT(DT_F_SSE3);
		if (c & (1u << 1)) f |= BIT(DT_F_PCLMUL);
		if (c & (1u << 9)) f |= BIT(DT_F_SSSE3);
		if (c & (1u << 19)) f |= BIT(DT_F_SSE41);
		if (c & (1u << 20)) f |= BIT(DT_F_SSE42);
		if (c & (1u << 22)) f |= BIT(DT_F_MOVBE);
		if (c & (1u << 23)) f |= BIT(DT_F_POPCNT);
		if (c & (1u << 25)) f |= BIT(DT_F_AES);
	}
	if (max >= 7) {
		__cpuid_count(7, 0, a, b, c, d);
		if (b & (1u << 3)) f |= BIT(DT_F_BMI1);
		if (b & (1u << 8)) f |= BIT(DT_F_BMI2);
		if (b & (1u << 19)) f |= BIT(DT_F_ADX);
		if (b & (1u << 23)) f |= BIT(DT_F_CLFLUSHOPT);
		if (b & (1u << 24)) f |= BIT(DT_F_CLWB);
		if (b & (1u << 29)) f |= BIT(DT_F_SHA);
		if (c & (1u << 8)) f |= BIT(DT_F_GFNI);
		if (c & (1u << 25)) f |= BIT(DT_F_CLDEMOTE);
		if (c & (1u << 27)) f |= BIT(DT_F_MOVDIRI);
	}
	if (__get_cpuid(0x80000001, &a, &b, &c, &d)) {
		if (c & (1u << 5)) f |= BIT(DT_F_LZCNT);
		if (c & (1u << 8)) f |= BIT(DT_F_PRFCHW);
	}
	return f;
}

/* "all", or a comma-separated list of names; a name with a leading '-'
 * takes that feature away from what the list has so far (starting from all
 * when the list begins with a removal). Only host features are kept. */
int dt_parse_features(const char *list, uint32_t host, uint32_t *out)
{
	uint32_t f = (list[0] == '-' || !strcmp(list, "all")) ? host : 0;
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool minus = tok[0] == '-';
		const char *name = tok + minus;
		if (!strcmp(name, "all")) {
			f = minus ? 0 : host;
			continue;
		}
		unsigned i;
		for (i = 0; i < DT_F_COUNT; i++)
			if (!strcmp(name, feature_names[i]))
				break;
		if (i == DT_F_COUNT)
			return -1;
		if (minus)
			f &= ~BIT(i);
		else
			f |= BIT(i);
	}
	*out = f & host;
	return 0;
}

/* The feature an ISA set needs: -1 for none (the 386/486/P6 base), -2 for a
 * set that is never generated. */
static int isa_feature(ZydisISASet s)
{
	switch (s) {
	case ZYDIS_ISA_SET_I86:
	case ZYDIS_ISA_SET_I186:
	case ZYDIS_ISA_SET_I286REAL:
	case ZYDIS_ISA_SET_I286PROTECTED:
	case ZYDIS_ISA_SET_I386:
	case ZYDIS_ISA_SET_I486:
	case ZYDIS_ISA_SET_I486REAL:
	case ZYDIS_ISA_SET_PPRO:
	case ZYDIS_ISA_SET_LAHF:
	case ZYDIS_ISA_SET_FAT_NOP:
	case ZYDIS_ISA_SET_PAUSE:
	case ZYDIS_ISA_SET_CET:
		return -1;
	case ZYDIS_ISA_SET_PENTIUMREAL: return DT_F_CX8;
	case ZYDIS_ISA_SET_CMOV: return DT_F_CMOV;
	case ZYDIS_ISA_SET_FCMOV: return DT_F_X87;   /* P6 x87: FCMOVcc, FCOMI */
	case ZYDIS_ISA_SET_X87: return DT_F_X87;
	case ZYDIS_ISA_SET_PENTIUMMMX: return DT_F_MMX;
	case ZYDIS_ISA_SET_SSE:
	case ZYDIS_ISA_SET_SSE_PREFETCH:
	case ZYDIS_ISA_SET_SSEMXCSR:
		return DT_F_SSE;
	case ZYDIS_ISA_SET_FXSAVE: return DT_F_FXSR;
	case ZYDIS_ISA_SET_SSE2:
	case ZYDIS_ISA_SET_SSE2MMX:
		return DT_F_SSE2;
	case ZYDIS_ISA_SET_CLFSH: return DT_F_CLFSH;
	case ZYDIS_ISA_SET_SSE3:
	case ZYDIS_ISA_SET_SSE3X87:
		return DT_F_SSE3;
	case ZYDIS_ISA_SET_SSSE3:
	case ZYDIS_ISA_SET_SSSE3MMX:
		return DT_F_SSSE3;
	case ZYDIS_ISA_SET_SSE4: return DT_F_SSE41;
	case ZYDIS_ISA_SET_SSE42: return DT_F_SSE42;
	case ZYDIS_ISA_SET_POPCNT: return DT_F_POPCNT;
	case ZYDIS_ISA_SET_LZCNT: return DT_F_LZCNT;
	case ZYDIS_ISA_SET_BMI1: return DT_F_BMI1;
	case ZYDIS_ISA_SET_BMI2: return DT_F_BMI2;
	case ZYDIS_ISA_SET_ADOX_ADCX: return DT_F_ADX;
	case ZYDIS_ISA_SET_MOVBE: return DT_F_MOVBE;
	case ZYDIS_ISA_SET_AES: return DT_F_AES;
	case ZYDIS_ISA_SET_PCLMULQDQ: return DT_F_PCLMUL;
	case ZYDIS_ISA_SET_SHA: return DT_F_SHA;
	case ZYDIS_ISA_SET_GFNI: return DT_F_GFNI;
	case ZYDIS_ISA_SET_CLFLUSHOPT: return DT_F_CLFLUSHOPT;
	case ZYDIS_ISA_SET_CLWB: return DT_F_CLWB;
	case ZYDIS_ISA_SET_CLDEMOTE: return DT_F_CLDEMOTE;
	case ZYDIS_ISA_SET_MOVDIR: return DT_F_MOVDIRI;
	case ZYDIS_ISA_SET_PREFETCH_NOP: return DT_F_PRFCHW;
	default:
		return -2;
	}
}

static bool denied_mnemonic(ZydisMnemonic m)
{
	switch (m) {
	case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_POPF:
	case ZYDIS_MNEMONIC_POPFD: case ZYDIS_MNEMONIC_CPUID: case ZYDIS_MNEMONIC_RDTSC:
	case ZYDIS_MNEMONIC_RDTSCP: case ZYDIS_MNEMONIC_RDPMC: case ZYDIS_MNEMONIC_RDMSR:
	case ZYDIS_MNEMONIC_WRMSR: case ZYDIS_MNEMONIC_SGDT: case ZYDIS_MNEMONIC_SIDT:
	case ZYDIS_MNEMONIC_SLDT: case ZYDIS_MNEMONIC_STR: case ZYDIS_MNEMONIC_SMSW:
	case ZYDIS_MNEMONIC_LMSW: case ZYDIS_MNEMONIC_LGDT: case ZYDIS_MNEMONIC_LIDT:
	case ZYDIS_MNEMONIC_LLDT: case ZYDIS_MNEMONIC_LTR: case ZYDIS_MNEMONIC_LAR:
	case ZYDIS_MNEMONIC_LSL: case ZYDIS_MNEMONIC_VERR: case ZYDIS_MNEMONIC_VERW:
	case ZYDIS_MNEMONIC_BOUND: case ZYDIS_MNEMONIC_INTO: case ZYDIS_MNEMONIC_INT:
	case ZYDIS_MNEMONIC_INT1: case ZYDIS_MNEMONIC_INT3: case ZYDIS_MNEMONIC_IRET:
	case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_HLT: case ZYDIS_MNEMONIC_IN:
	case ZYDIS_MNEMONIC_OUT: case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW:
	case ZYDIS_MNEMONIC_INSD: case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW:
	case ZYDIS_MNEMONIC_OUTSD: case ZYDIS_MNEMONIC_CLI: case ZYDIS_MNEMONIC_STI:
	case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LFS:
	case ZYDIS_MNEMONIC_LGS: case ZYDIS_MNEMONIC_LSS: case ZYDIS_MNEMONIC_SYSENTER:
	case ZYDIS_MNEMONIC_SYSEXIT: case ZYDIS_MNEMONIC_SYSCALL: case ZYDIS_MNEMONIC_SYSRET:
	case ZYDIS_MNEMONIC_CLTS: case ZYDIS_MNEMONIC_INVD: case ZYDIS_MNEMONIC_WBINVD:
	case ZYDIS_MNEMONIC_INVLPG: case ZYDIS_MNEMONIC_RSM: case ZYDIS_MNEMONIC_MONITOR:
	case ZYDIS_MNEMONIC_MWAIT: case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_CALL:
	case ZYDIS_MNEMONIC_RET: case ZYDIS_MNEMONIC_LOOP: case ZYDIS_MNEMONIC_LOOPE:
	case ZYDIS_MNEMONIC_LOOPNE: case ZYDIS_MNEMONIC_JCXZ: case ZYDIS_MNEMONIC_JECXZ:
	case ZYDIS_MNEMONIC_RDRAND: case ZYDIS_MNEMONIC_RDSEED: case ZYDIS_MNEMONIC_XGETBV:
	case ZYDIS_MNEMONIC_RDPID: case ZYDIS_MNEMONIC_MOVDIR64B:
		return true;
	default:
		return false;
	}
}

bool dt_insn_allowed(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
		     uint32_t features, const char **why)
{
	const char *dummy;
	if (!why)
		why = &dummy;
	/* btvm's CPUID model decides what a guest may run (the rest is #UD,
	 * which the allowlist audit test checks): only what the model and
	 * the host both have is compared. The reserved-NOP space is a NOP on
	 * both, whatever Zydis names it. */
	bool nop_space = in->opcode_map == ZYDIS_OPCODE_MAP_0F && in->opcode >= 0x18 && in->opcode <= 0x1f;
	if (!nop_space && allowlist_verdict(in) != ALLOW_TRANSLATE) {
		*why = "not in btvm's CPUID model";
		return false;
	}
	int feat = isa_feature(in->meta.isa_set);
	if (feat == -2) {
		*why = "ISA set not generated";
		return false;
	}
	if (feat >= 0 && !(features & BIT(feat))) {
		*why = "CPU feature not in use";
		return false;
	}
	/* x87 and MMX instructions also sit in the base ISA sets */
	if ((in->meta.isa_ext == ZYDIS_ISA_EXT_X87 && !(features & BIT(DT_F_X87))) ||
	    (in->meta.isa_ext == ZYDIS_ISA_EXT_MMX && !(features & BIT(DT_F_MMX)))) {
		*why = "CPU feature not in use";
		return false;
	}
	if (in->attributes & ZYDIS_ATTRIB_IS_PRIVILEGED) {
		*why = "privileged";
		return false;
	}
	if (in->meta.category == ZYDIS_CATEGORY_COND_BR || in->meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
	    in->meta.category == ZYDIS_CATEGORY_CALL || in->meta.category == ZYDIS_CATEGORY_RET ||
	    in->meta.category == ZYDIS_CATEGORY_INTERRUPT || in->meta.category == ZYDIS_CATEGORY_IO ||
	    in->meta.category == ZYDIS_CATEGORY_IOSTRINGOP) {
		*why = "control flow or I/O";
		return false;
	}
	if (denied_mnemonic(in->mnemonic)) {
		*why = "excluded mnemonic";
		return false;
	}
	if (in->meta.isa_set == ZYDIS_ISA_SET_I286PROTECTED && in->mnemonic != ZYDIS_MNEMONIC_ARPL) {
		*why = "descriptor-table instruction";
		return false;
	}
	if (in->meta.isa_set == ZYDIS_ISA_SET_CET && in->mnemonic != ZYDIS_MNEMONIC_ENDBR32 &&
	    in->mnemonic != ZYDIS_MNEMONIC_ENDBR64) {
		*why = "CET";
		return false;
	}
	if (in->mnemonic == ZYDIS_MNEMONIC_BSWAP && in->operand_width == 16) {
		*why = "16-bit BSWAP is undefined";
		return false;
	}
	if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY &&
	    in->meta.isa_set != ZYDIS_ISA_SET_BMI1 && in->meta.isa_set != ZYDIS_ISA_SET_BMI2) {
		*why = "VEX/EVEX vector";
		return false;
	}
	for (unsigned i = 0; i < in->operand_count; i++) {
		const ZydisDecodedOperand *o = &ops[i];
		if (o->type != ZYDIS_OPERAND_TYPE_REGISTER)
			continue;
		switch (ZydisRegisterGetClass(o->reg.value)) {
		case ZYDIS_REGCLASS_SEGMENT:
		case ZYDIS_REGCLASS_CONTROL:
		case ZYDIS_REGCLASS_DEBUG:
		case ZYDIS_REGCLASS_TEST:
		case ZYDIS_REGCLASS_TABLE:
		case ZYDIS_REGCLASS_BOUND:
		case ZYDIS_REGCLASS_MASK:
		case ZYDIS_REGCLASS_TMM:
		case ZYDIS_REGCLASS_YMM:
		case ZYDIS_REGCLASS_ZMM:
			*why = "system or vector register operand";
			return false;
		case ZYDIS_REGCLASS_IP:
			*why = "writes EIP";
			return false;
		default:
			break;
		}
		if (o->reg.value == ZYDIS_REGISTER_XCR0) {
			*why = "XCR0";
			return false;
		}
	}
	return true;
}

enum dt_class dt_insn_class(const ZydisDecodedInstruction *in)
{
	switch (in->meta.isa_ext) {
	case ZYDIS_ISA_EXT_X87:
		return DT_CLASS_X87;
	case ZYDIS_ISA_EXT_MMX:
	case ZYDIS_ISA_EXT_SSE:
	case ZYDIS_ISA_EXT_SSE2:
	case ZYDIS_ISA_EXT_SSE3:
	case ZYDIS_ISA_EXT_SSSE3:
	case ZYDIS_ISA_EXT_SSE4:
	case ZYDIS_ISA_EXT_AES:
	case ZYDIS_ISA_EXT_PCLMULQDQ:
	case ZYDIS_ISA_EXT_SHA:
	case ZYDIS_ISA_EXT_GFNI:
		/* POPCNT and CRC32 sit in SSE4 but work on GPRs */
		if (in->mnemonic == ZYDIS_MNEMONIC_POPCNT || in->mnemonic == ZYDIS_MNEMONIC_CRC32)
			return DT_CLASS_GP;
		return DT_CLASS_SIMD;
	default:
		return DT_CLASS_GP;
	}
}

static ZydisDecoder decoder;
static ZydisFormatter formatter;
static bool zydis_ready;
static bool zydis_code16;

/* 16-bit code runs on the runners' 32-bit stack segment: stack width 32. */
void dt_set_code16(bool code16)
{
	zydis_code16 = code16;
	zydis_ready = false;
}

static void zydis_init(void)
{
	if (zydis_ready)
		return;
	ZydisDecoderInit(&decoder, zydis_code16 ? ZYDIS_MACHINE_MODE_LEGACY_16 : ZYDIS_MACHINE_MODE_LEGACY_32,
			 ZYDIS_STACK_WIDTH_32);
	ZydisFormatterInit(&formatter, ZYDIS_FORMATTER_STYLE_INTEL);
	ZydisFormatterSetProperty(&formatter, ZYDIS_FORMATTER_PROP_FORCE_SEGMENT, ZYAN_FALSE);
	zydis_ready = true;
}

const ZydisDecoder *dt_decoder(void)
{
	zydis_init();
	return &decoder;
}

bool dt_decode(const uint8_t *p, size_t len, ZydisDecodedInstruction *in, ZydisDecodedOperand *ops)
{
	zydis_init();
	return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, p, len, in, ops));
}

void dt_format(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops, char *buf, size_t len)
{
	zydis_init();
	if (ZYAN_FAILED(ZydisFormatterFormatInstruction(&formatter, in, ops, in->operand_count_visible,
							buf, len, 0, NULL)))
		snprintf(buf, len, "(unformattable)");
}

int dt_gpr_id(ZydisRegister r)
{
	switch (ZydisRegisterGetClass(r)) {
	case ZYDIS_REGCLASS_GPR8: {
		int id = ZydisRegisterGetId(r);
		return id >= 4 ? id - 4 : id;   /* ah..bh -> eax..ebx */
	}
	case ZYDIS_REGCLASS_GPR16:
	case ZYDIS_REGCLASS_GPR32:
		return ZydisRegisterGetId(r);
	default:
		return -1;
	}
}
