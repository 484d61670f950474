/* The code-buffer layer's caches (translator/emit.c): whatever the cache
 * answers is byte for byte what Zydis's encoder gives for the same
 * request, also for MOV reg, imm kept without its value, and a recorded
 * sequence replays as it was emitted. */
#include "check.h"
#include <stdbool.h>
#include "translator/emit.h"

#include <stdlib.h>

static uint8_t cached_buf[64], plain_buf[64];

/* Emits MOV reg, value with the cache (twice: a miss, then a hit, or two
 * hits) and without; all three must be the same bytes. */
static unsigned reported;

static void report(ZydisRegister reg, uint64_t value)
{
	if (reported++ < 10)
		fprintf(stderr, "  reg %d value 0x%" PRIx64 "\n", (int)reg, value);
}

static void check_mov(struct emit_cache *cache, ZydisRegister reg, uint64_t value)
{
	struct emitter plain, cached;
	emit_init(&plain, plain_buf, plain_buf + sizeof(plain_buf));
	plain.cache = NULL;
	emit2(&plain, ZYDIS_MNEMONIC_MOV, op_reg(reg), op_imm((int64_t)value));
	for (int round = 0; round < 2; round++) {
		emit_init(&cached, cached_buf, cached_buf + sizeof(cached_buf));
		cached.cache = cache;
		emit2(&cached, ZYDIS_MNEMONIC_MOV, op_reg(reg), op_imm((int64_t)value));
		bool same = cached.failed == plain.failed;
		if (same && !plain.failed)
			same = cached.pos - cached.start == plain.pos - plain.start &&
			       !memcmp(cached_buf, plain_buf, (size_t)(plain.pos - plain.start));
		CHECK(same);
		if (!same)
			report(reg, value);
	}
}

/* A jump whose rel32 is rewritten while another core runs it: at every
 * offset in a line, the padding leaves the field in one line, is at most
 * three bytes of NOPs (Zydis decodes them as NOP), and is none where the
 * field fits already. */
static void check_rel32_in_one_line(void)
{
	static uint8_t buf[256] __attribute__((aligned(64)));
	ZydisDecoder dec;
	CHECK(ZYAN_SUCCESS(ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)));
	for (unsigned oplen = 1; oplen <= 2; oplen++) {
		for (unsigned off = 0; off < 64; off++) {
			struct emitter e;
			emit_init(&e, buf + off, buf + sizeof(buf));
			emit_rel32_in_one_line(&e, oplen);
			unsigned pad = (unsigned)(e.pos - (buf + off));
			uint8_t *field = oplen == 1 ? emit_jmp_rel32(&e, NULL) : emit_jcc_rel32(&e, 4, NULL);
			CHECK(!e.failed && field);
			CHECK((uintptr_t)field / 64 == ((uintptr_t)field + 3) / 64);
			CHECK(pad <= 3);
			CHECK_EQ(pad != 0, (off + oplen) % 64 > 60);
			for (const uint8_t *p = buf + off; p < buf + off + pad;) {
				ZydisDecodedInstruction in;
				CHECK(ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, p,
					(ZyanUSize)(buf + off + pad - p), &in)));
				CHECK_EQ(in.mnemonic, ZYDIS_MNEMONIC_NOP);
				p += in.length ? in.length : 1;
			}
		}
	}
}

int main(void)
{
	check_rel32_in_one_line();
	struct emit_cache *cache = emit_cache_new();
	if (!cache)
		return 1;
	static const ZydisRegister regs[] = {
		ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_R13D, ZYDIS_REGISTER_R8D, ZYDIS_REGISTER_RAX,
		ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R13, ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_AX,
		ZYDIS_REGISTER_AL,
	};
	static const uint64_t edges[] = {
		0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
		0x100000000ull, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 0xffffffff80000000ull,
		0xffffffff7fffffffull, 0x00005555deadbeefull, 0x00007f0012345678ull,
	};
	for (unsigned r = 0; r < sizeof(regs) / sizeof(regs[0]); r++) {
		for (unsigned i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
			check_mov(cache, regs[r], edges[i]);
		srand(r + 1);
		for (unsigned i = 0; i < 2000; i++) {
			uint64_t v = (uint64_t)rand() << 33 ^ (uint64_t)rand() << 11 ^ (uint64_t)rand();
			/* Every size class: a byte, a word, a dword, a qword. */
			check_mov(cache, regs[r], v >> ((i & 3) * 16));
		}
	}

	/* A MOV of a 64-bit register whose value fits 32 bits after one that
	 * did not: the short encoding, not the other's patched. */
	check_mov(cache, ZYDIS_REGISTER_R10, 0x00007f0012345678ull);
	check_mov(cache, ZYDIS_REGISTER_R10, 0x12345678);
	check_mov(cache, ZYDIS_REGISTER_R10, 0xfffffffffffffff0ull);

	/* A sequence: recorded, then replayed as the same bytes. */
	uint8_t a[256], b[256];
	struct emitter e;
	struct emit_seq seq = { 0 };
	emit_init(&e, a, a + sizeof(a));
	e.cache = cache;
	CHECK(!emit_seq_replay(&e, &seq));
	const uint8_t *from = e.pos;
	emit2(&e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10),
	      op_mem(8, ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, 0x120));
	uint8_t *jump = emit_jrcxz(&e, false);
	emit1(&e, ZYDIS_MNEMONIC_JMP, op_mem(8, ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, 0x90));
	patch_rel8(jump, e.pos);
	emit_seq_record(&e, &seq, from);
	CHECK_EQ(seq.len, e.pos - from);
	emit_init(&e, b, b + sizeof(b));
	CHECK(emit_seq_replay(&e, &seq));
	CHECK_EQ(e.pos - b, seq.len);
	CHECK(!memcmp(a, b, seq.len));
	/* Not recorded: a failed emission, and one longer than a sequence. */
	struct emit_seq none = { 0 };
	emit_init(&e, a, a + 4);
	from = e.pos;
	emit1(&e, ZYDIS_MNEMONIC_JMP, op_mem(8, ZYDIS_REGISTER_R15, ZYDIS_REGISTER_NONE, 0, 0x90));
	CHECK(e.failed);
	emit_seq_record(&e, &none, from);
	CHECK_EQ(none.len, 0);
	emit_init(&e, a, a + sizeof(a));
	from = e.pos;
	for (unsigned i = 0; i < EMIT_SEQ_MAX / 3 + 1; i++)
		emit2(&e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_RCX), op_reg(ZYDIS_REGISTER_R8));
	CHECK(!e.failed);
	emit_seq_record(&e, &none, from);
	CHECK_EQ(none.len, 0);
	/* Replay into too little room fails as any emission does. */
	emit_init(&e, b, b + 3);
	CHECK(emit_seq_replay(&e, &seq));
	CHECK(e.failed);

	emit_cache_free(cache);
	return check_report("test_emit");
}
