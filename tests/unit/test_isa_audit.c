/* The allowlist audit: every instruction Zydis decodes in 32-bit mode
 * (every opcode of the one-byte, 0F, 0F38 and 0F3A maps under each
 * mandatory prefix and a spread of ModRM bytes, and a sample of the VEX
 * space) is translated as a block of its own, in flat, segmented and
 * user mode, and the same bytes as 16-bit code (real mode, 16-bit
 * protected mode, 32-bit code on a 16-bit stack), and the host code
 * checked: every memory access it makes,
 * explicit or hidden, must go through the window (GS with 32-bit
 * addressing) or to the monitor's own structure, the indirect-branch
 * table or the host stack (r15, r14, r11, rsp with 64-bit addressing,
 * registers a 32-bit guest cannot name): isa_check.c, which the
 * translator's fuzzing harness shares. An instruction copied with an
 * implicit access (CLZERO's [rAX], VMASKMOVDQU's [rDI], MONITOR's [rAX])
 * fails here. Also checks the verdicts the model promises, and that a
 * small loop (a block branching back to its own start) is placed at the
 * start of a 64-byte host line whatever came before it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "isa_check.h"
/* White-box: the test translates on the board's vCPU directly. */
#include "machine/board_internal.h"
#include "translator/allowlist.h"

static ZydisDecoder guest_decoder;
static unsigned translated, violations;

static void report(const uint8_t *guest, unsigned glen, uint32_t mode, const char *what,
		   const ZydisDecodedInstruction *hi)
{
	if (violations++ >= 20)
		return;
	fprintf(stderr, "audit: mode %x guest", mode);
	for (unsigned i = 0; i < glen; i++)
		fprintf(stderr, " %02x", guest[i]);
	fprintf(stderr, ": %s (host %s)\n", what, hi ? ZydisMnemonicGetString(hi->mnemonic) : "-");
}

/* The guest instruction a block was translated from, for the report. */
struct audited {
	const uint8_t *guest;
	unsigned glen;
	uint32_t mode;
};

static void report_host(void *opaque, const char *what, const ZydisDecodedInstruction *hi, size_t off)
{
	(void)off;
	const struct audited *a = opaque;
	report(a->guest, a->glen, a->mode, what, hi);
}

/* Translates the instruction at the start of bytes as a one-instruction
 * block at guest physical (and linear) address at. */
static void audit_one(struct board *b, const uint8_t *bytes, uint32_t at, uint32_t mode)
{
	struct board_vcpu *v = &b->vcpus[0];
	memcpy(b->ram.host + at, bytes, 16);
	/* The key bits of the vCPU's own CR0.PG and CR4.OSFXSR. */
	mode |= (v->cpu.s.cr0 & CR0_PG ? 0 : MODE_UNPAGED) | (v->cpu.s.cr4 & CR4_OSFXSR ? 0 : MODE_NO_OSFXSR);
	struct tblock *tb;
	int err = cpu_translate_block(&v->cpu, &v->tr, at, at, mode, &tb);
	if (err == -ENOSPC) {
		tcache_flush(&b->tc, &v->cpu.ibl_table);
		err = cpu_translate_block(&v->cpu, &v->tr, at, at, mode, &tb);
	}
	ZydisDecodedInstruction in;
	unsigned glen = ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&guest_decoder, NULL, bytes, 16, &in))
				? in.length : 1;
	if (err) {
		report(bytes, glen, mode, v->tr.error[0] ? v->tr.error : "translation failed", NULL);
		return;
	}
	translated++;
	struct audited a = { bytes, glen, mode };
	isa_check_host_code(tb->host, tb->code_len, report_host, &a);
}

/* Register forms use the first three. */
static const uint32_t modes[] = {
	MODE_FLAT, MODE_FLAT | MODE_CPL3, MODE_REAL | MODE_CODE16 | MODE_STACK16 | MODE_SEGCS,
	0, MODE_FLAT | MODE_DF, MODE_CODE16 | MODE_STACK16, MODE_STACK16,
	/* virtual-8086 mode */
	MODE_REAL | MODE_CPL3 | MODE_CODE16 | MODE_STACK16 | MODE_SEGCS,
};

static void audit_encodings(struct board *b)
{
	static const uint8_t prefixes[][2] = { { 0 }, { 0x66 }, { 0xf2 }, { 0xf3 }, { 0x67 }, { 0x64 } };
	static const uint8_t escapes[][2] = { { 0 }, { 0x0f }, { 0x0f, 0x38 }, { 0x0f, 0x3a } };
	static const uint8_t escape_len[] = { 0, 1, 2, 2 };
	uint32_t at = 0x200000;
	for (unsigned p = 0; p < 6; p++)
		for (unsigned e = 0; e < 4; e++)
			for (unsigned op = 0; op < 256; op++) {
				unsigned last_len = 0;
				for (unsigned modrm = 0; modrm < 256; modrm++) {
					uint8_t bytes[16];
					unsigned n = 0;
					if (p)
						bytes[n++] = prefixes[p][0];
					memcpy(bytes + n, escapes[e], escape_len[e]);
					n += escape_len[e];
					bytes[n++] = (uint8_t)op;
					unsigned opc_end = n;
					bytes[n++] = (uint8_t)modrm;
					while (n < 16)
						bytes[n++] = 0x11;
					ZydisDecodedInstruction in;
					bool ok = ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&guest_decoder, NULL, bytes, 16, &in));
					/* Opcodes without a ModRM: once is enough. */
					if (ok && in.length <= opc_end && last_len)
						break;
					last_len = ok ? in.length : 1;
					/* Register forms: every ModRM (groups such as 0F 01
					 * name instructions by it), flat and user mode.
					 * Memory forms: every reg with a register base (mod 0,
					 * rm 0) and with a SIB and disp8 (mod 1, rm 4), in
					 * every mode; address-size and segment prefixes only
					 * matter to those. */
					bool mem = modrm < 0xc0;
					if (mem && modrm != ((modrm & 0x38) | 0x00) && modrm != ((modrm & 0x38) | 0x44))
						continue;
					if (!mem && (prefixes[p][0] == 0x67 || prefixes[p][0] == 0x64))
						continue;
					unsigned nmodes = mem ? sizeof(modes) / sizeof(modes[0]) : 3;
					for (unsigned m = 0; m < nmodes; m++)
						audit_one(b, bytes, at, modes[m]);
				}
			}
	/* VEX (C5, and C4 with each map), beyond the model: #UD. */
	for (unsigned v = 0; v < 256; v++)
		for (unsigned op = 0; op < 256; op += 3) {
			uint8_t c5[16] = { 0xc5, (uint8_t)(v | 0x80), (uint8_t)op, 0xc1 };
			uint8_t c4[16] = { 0xc4, (uint8_t)(0xe0 | (v & 3)), (uint8_t)(v & 0xfc), (uint8_t)op, 0x01 };
			memset(c5 + 4, 0x11, 12);
			memset(c4 + 5, 0x11, 11);
			audit_one(b, c5, at, MODE_FLAT);
			audit_one(b, c4, at, MODE_FLAT);
		}
}

static enum allow_verdict verdict_of(const uint8_t *bytes, unsigned n)
{
	uint8_t buf[16] = { 0 }, nop[16];
	memcpy(buf, bytes, n);
	if (allowlist_reserved_nop(buf, 16, nop))
		return ALLOW_NOP;
	ZydisDecodedInstruction in;
	if (ZYAN_FAILED(ZydisDecoderDecodeInstruction(&guest_decoder, NULL, buf, 16, &in)))
		return ALLOW_UD;
	return allowlist_verdict(&in);
}

/* What the model promises, whatever the host has. */
static void check_verdicts(void)
{
	static const uint8_t clzero[] = { 0x0f, 0x01, 0xfc }, monitor[] = { 0x0f, 0x01, 0xc8 },
			     vmaskmovdqu[] = { 0xc5, 0xf9, 0xf7, 0xc1 }, rdrand[] = { 0x0f, 0xc7, 0xf0 },
			     clflush[] = { 0x0f, 0xae, 0x38 }, popcnt[] = { 0xf3, 0x0f, 0xb8, 0xc1 },
			     xsave[] = { 0x0f, 0xae, 0x20 }, pshufb[] = { 0x66, 0x0f, 0x38, 0x00, 0xc1 },
			     rdtscp[] = { 0x0f, 0x01, 0xf9 }, syscall[] = { 0x0f, 0x05 },
			     nop_reserved[] = { 0x0f, 0x1e, 0xc3 }, bndldx[] = { 0x0f, 0x1a, 0x20 },
			     endbr32[] = { 0xf3, 0x0f, 0x1e, 0xfb }, prefetch[] = { 0x0f, 0x18, 0x00 },
			     paddq[] = { 0x66, 0x0f, 0xd4, 0xc1 }, cmov[] = { 0x0f, 0x44, 0xc1 },
			     fxrstor[] = { 0x0f, 0xae, 0x08 }, maskmovq[] = { 0x0f, 0xf7, 0xc1 },
			     tzcnt[] = { 0xf3, 0x0f, 0xbc, 0xc1 }, rsm[] = { 0x0f, 0xaa },
			     prefetchw[] = { 0x0f, 0x0d, 0x08 }, fisttp[] = { 0xdb, 0x08 },
			     lddqu[] = { 0xf2, 0x0f, 0xf0, 0x00 }, haddps[] = { 0xf2, 0x0f, 0x7c, 0xc1 },
			     ptest[] = { 0x66, 0x0f, 0x38, 0x17, 0x00 },
			     movntdqa[] = { 0x66, 0x0f, 0x38, 0x2a, 0x00 },
			     pcmpistri[] = { 0x66, 0x0f, 0x3a, 0x63, 0x00, 0x0c },
			     crc32[] = { 0xf2, 0x0f, 0x38, 0xf1, 0x00 },
			     mwait[] = { 0x0f, 0x01, 0xc9 },
			     sse4a_extrq[] = { 0x66, 0x0f, 0x78, 0xc0, 0x01, 0x02 },
			     movbe[] = { 0x0f, 0x38, 0xf0, 0x00 };
	CHECK_EQ(verdict_of(clzero, sizeof(clzero)), ALLOW_UD);
	CHECK_EQ(verdict_of(monitor, sizeof(monitor)), ALLOW_UD);
	CHECK_EQ(verdict_of(vmaskmovdqu, sizeof(vmaskmovdqu)), ALLOW_UD);
	CHECK_EQ(verdict_of(rdrand, sizeof(rdrand)), ALLOW_UD);
	CHECK_EQ(verdict_of(xsave, sizeof(xsave)), ALLOW_UD);
	CHECK_EQ(verdict_of(mwait, sizeof(mwait)), ALLOW_UD);
	CHECK_EQ(verdict_of(sse4a_extrq, sizeof(sse4a_extrq)), ALLOW_UD);
	CHECK_EQ(verdict_of(movbe, sizeof(movbe)), ALLOW_UD);
	/* The Nehalem-like model: SSE3 to SSE4.2, POPCNT, CLFLUSH, RDTSCP. */
	CHECK_EQ(verdict_of(clflush, sizeof(clflush)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(popcnt, sizeof(popcnt)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(pshufb, sizeof(pshufb)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(rdtscp, sizeof(rdtscp)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(fisttp, sizeof(fisttp)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(lddqu, sizeof(lddqu)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(haddps, sizeof(haddps)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(ptest, sizeof(ptest)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(movntdqa, sizeof(movntdqa)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(pcmpistri, sizeof(pcmpistri)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(crc32, sizeof(crc32)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(syscall, sizeof(syscall)), ALLOW_UD);
	CHECK_EQ(verdict_of(rsm, sizeof(rsm)), ALLOW_UD);
	CHECK_EQ(verdict_of(prefetchw, sizeof(prefetchw)), ALLOW_UD);
	CHECK_EQ(verdict_of(nop_reserved, sizeof(nop_reserved)), ALLOW_NOP);
	CHECK_EQ(verdict_of(bndldx, sizeof(bndldx)), ALLOW_NOP);
	CHECK_EQ(verdict_of(endbr32, sizeof(endbr32)), ALLOW_NOP);
	CHECK_EQ(verdict_of(prefetch, sizeof(prefetch)), ALLOW_NOP);
	CHECK_EQ(verdict_of(paddq, sizeof(paddq)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(cmov, sizeof(cmov)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(fxrstor, sizeof(fxrstor)), ALLOW_TRANSLATE);
	CHECK_EQ(verdict_of(maskmovq, sizeof(maskmovq)), ALLOW_TRANSLATE);
	/* TZCNT decodes as BMI1 (not in the model) but runs as REP BSF. */
	ZydisDecodedInstruction in;
	uint8_t buf[16] = { 0 }, older[16];
	memcpy(buf, tzcnt, sizeof(tzcnt));
	CHECK(ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&guest_decoder, NULL, buf, 16, &in)));
	CHECK_EQ(allowlist_older_form(&in, buf, older), 3);
	CHECK_EQ(older[1], 0xbc);
}

/* Blocks of a NOP and a HLT, each a multiple of 16 bytes, until the
 * cache's next place is 48 bytes into a line; each goes where it is. */
static void fill_to_48(struct board *b, uint32_t at)
{
	static const uint8_t nop[] = { 0x90, 0xf4 };
	struct board_vcpu *v = &b->vcpus[0];
	struct tblock *tb;
	for (uint32_t end = at + 64 * 16; b->tc.code_used % 64 != 48 && at < end; at += 16) {
		memcpy(b->ram.host + at, nop, sizeof(nop));
		uint64_t before = b->tc.code_used;
		CHECK_EQ(cpu_translate_block(&v->cpu, &v->tr, at, at, MODE_FLAT, &tb), 0);
		CHECK_EQ((uintptr_t)(tb->host - b->tc.code), before);
	}
	CHECK_EQ(b->tc.code_used % 64, 48);
}

/* A loop of six instructions where the cache's next place is 48 bytes
 * into a 64-byte line, so that the loop would straddle two lines: it
 * starts the next line instead, and so does a copy of it. */
static void check_loop_alignment(struct board *b, unsigned max_insns)
{
	static const uint8_t loop[] = { 0x83, 0xc0, 0x01, 0x83, 0xc0, 0x01, 0x83, 0xc0, 0x01,
					0x83, 0xc0, 0x01, 0x39, 0xc8, 0x75, 0xf0, 0xf4 };
	struct board_vcpu *v = &b->vcpus[0];
	unsigned saved = v->tr.max_insns;
	v->tr.max_insns = max_insns;
	tcache_flush(&b->tc, &v->cpu.ibl_table);
	memcpy(b->ram.host + 0x201000, loop, sizeof(loop));
	struct tblock *tb;
	fill_to_48(b, 0x200000);
	CHECK_EQ(cpu_translate_block(&v->cpu, &v->tr, 0x201000, 0x201000, MODE_FLAT, &tb), 0);
	CHECK_EQ((uintptr_t)tb->host % 64, 0);
	CHECK_EQ(tb->ninsns, 7);   /* the block goes on after the JNE not taken */
	CHECK(tb->exits[0].target_eip == 0x201000 && tb->exits[0].branch - tb->host < 64);
	/* The same code at another linear address is a copy of that block,
	 * and starts a line too. */
	fill_to_48(b, 0x202000);
	uint64_t copies = b->tc.stats.clones;
	CHECK_EQ(cpu_translate_block(&v->cpu, &v->tr, 0x301000, 0x201000, MODE_FLAT, &tb), 0);
	CHECK_EQ(b->tc.stats.clones, copies + 1);
	CHECK_EQ((uintptr_t)tb->host % 64, 0);
	v->tr.max_insns = saved;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_isa_audit GUEST.elf\n");
		return 2;
	}
	ZydisDecoderInit(&guest_decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
	check_verdicts();

	struct board *b;
	struct board_config cfg = { .kernel_path = argv[1], .ram_mib = 64, .serial = SERIAL_NONE,
				    .tcache_mib = 16 };
	char err[256];
	if (board_create(&b, &cfg, err, sizeof(err))) {
		fprintf(stderr, "test_isa_audit: %s\n", err);
		return 1;
	}
	check_loop_alignment(b, b->vcpus[0].tr.max_insns);
	b->vcpus[0].tr.max_insns = 1;
	audit_encodings(b);
	CHECK(translated > 100000);
	CHECK_EQ(violations, 0);
	printf("test_isa_audit: %u translations audited, %u violations\n", translated, violations);
	board_destroy(b);
	printf("test_isa_audit: %d checks, %d failed\n", check_count, check_failures);
	return check_failures ? 1 : 0;
}
