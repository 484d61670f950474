/* Copies of blocks (translator/translate_clone.c) checked as --clone-check
 * checks them, on a board's vCPU: the same physical code translated at
 * one linear address, then met at another, is copied, and the copy must
 * equal a fresh translation. With several vCPUs running (the cache
 * concurrent) the translator pads a branch exit so that its rel32 field
 * lies in one 64-byte line, which depends on where in its line the block
 * starts: the copy and the fresh translation it is compared with must
 * agree wherever the original and the copy were placed, and a copy of a
 * copy too. (The Debian system booted with --smp 2 --clone-check ended on
 * a copy whose original had such padding, "code length", and then, one
 * boot in four, on a copy of a copy.) */
#include <errno.h>
#include <string.h>

#include "check.h"
/* White-box: the test translates on the board's vCPU directly. */
#include "cpu/run_internal.h"
#include "board_harness.h"

#define GPA 0x201000u
#define FIRST_EIP 0x10201000u
#define SECOND_EIP 0x20201000u

/* NOPs (0 to 15 of them, so that the exits' fields fall at every offset
 * in a line), arithmetic, then a conditional branch (a chainable exit,
 * padded when concurrent) and its fall-through. */
static const uint8_t body[] = {
	0x01, 0xc8,                           /* add eax, ecx */
	0x83, 0xc1, 0x01,                     /* add ecx, 1 */
	0x81, 0xf9, 0x00, 0x01, 0x00, 0x00,   /* cmp ecx, 256 */
	0x75, 0x20,                           /* jne +0x20 */
	0xf4,                                 /* hlt */
};

static void put_code(struct board *b, unsigned nops)
{
	memset(b->ram.host + GPA, 0x90, nops);
	memcpy(b->ram.host + GPA + nops, body, sizeof(body));
}

static uint32_t flat_mode(const struct board_vcpu *v)
{
	return MODE_FLAT | (v->cpu.s.cr4 & CR4_OSFXSR ? 0 : MODE_NO_OSFXSR);
}

/* The block at eip, the cache's next block starting at line offset
 * line_off. */
static int translate_at(struct board *b, uint32_t eip, unsigned line_off, struct tblock **tb)
{
	struct board_vcpu *v = &b->vcpus[0];
	uint64_t line = (b->tc.code_used + 63) & ~63ull;
	b->tc.code_used = line + line_off;
	return cpu_translate_block(&v->cpu, &v->tr, eip, GPA, flat_mode(v), tb);
}

/* A third linear address: the copy at the second was left as the cache's
 * twin of the code unchecked (as when its check found no room and the
 * translation was made again later), so the third is a copy of a copy,
 * whose padding is its original's wherever the first copy went; the
 * check lays its fresh translation out as the original was. */
#define THIRD_EIP 0x30201000u

static void test_copies(struct board *b, bool concurrent)
{
	struct board_vcpu *v = &b->vcpus[0];
	unsigned copies = 0, padded = 0, pairs = 0;
	b->tc.concurrent = concurrent;
	for (unsigned nops = 0; nops < 16; nops++) {
		put_code(b, nops);
		uint32_t shortest = UINT32_MAX, longest = 0;
		/* Blocks start at 16-byte steps (tcache_commit); third 64: no
		 * third address. */
		for (unsigned first = 0; first < 64; first += 16) {
			for (unsigned second = 0; second < 64; second += 16) {
				for (unsigned third = 0; third <= 64; third += 16) {
					tcache_flush(&b->tc, &v->cpu.ibl_table);
					struct tblock *orig = NULL, *copy = NULL, *last = NULL;
					CHECK_EQ(translate_at(b, FIRST_EIP, first, &orig), 0);
					uint64_t clones = b->tc.stats.clones;
					v->tr.clone_check = third == 64;
					int err = translate_at(b, SECOND_EIP, second, &copy);
					v->tr.clone_check = true;
					if (!err && third < 64)
						err = translate_at(b, THIRD_EIP, third, &last);
					if (err)
						fprintf(stderr, "test_clone: %u NOPs, at +%u, +%u and +%u: %s\n",
							nops, first, second, third, v->tr.error);
					CHECK_EQ(err, 0);
					if (err || !orig || !copy || (third < 64 && !last))
						continue;
					pairs++;
					copies += b->tc.stats.clones - clones == (third < 64 ? 2u : 1u);
					shortest = orig->code_len < shortest ? orig->code_len : shortest;
					longest = orig->code_len > longest ? orig->code_len : longest;
					CHECK_EQ(copy->eip, SECOND_EIP);
					CHECK(!last || last->eip == THIRD_EIP);
					/* A chainable exit's field in one line, the copies' too. */
					CHECK(!concurrent || !tcache_exits_straddle(copy, (uintptr_t)copy->host));
					CHECK(!concurrent || !last ||
					      !tcache_exits_straddle(last, (uintptr_t)last->host));
				}
			}
		}
		padded += longest > shortest;
	}
	CHECK_EQ(pairs, 16u * 16u * 5u);
	CHECK_EQ(copies, pairs);   /* each later translation a copy */
	/* Some blocks padded at some places, only when concurrent. */
	CHECK(concurrent ? padded > 0 : padded == 0);
}

/* Short of room for a copy and its check's translation after it, the
 * block is translated instead of copied (a copy left unchecked would be
 * the next one's twin; and a fifo cache's unit may never hold both). */
static void test_no_room_for_two(struct board *b)
{
	struct board_vcpu *v = &b->vcpus[0];
	put_code(b, 3);
	tcache_flush(&b->tc, &v->cpu.ibl_table);
	struct tblock *orig = NULL, *tb = NULL;
	CHECK_EQ(translate_at(b, FIRST_EIP, 0, &orig), 0);
	if (!orig)
		return;
	uint32_t start = b->tc.policy == TCACHE_POLICY_FLUSH ? TCACHE_BLOCK_RESERVE : TCACHE_UNIT_MIN_ROOM;
	uint64_t room = orig->host_len + start + 16;   /* one such block, not two */
	CHECK(!tcache_room_for_two(&b->tc, orig->host_len) || b->tc.code_limit - b->tc.code_used > room);
	b->tc.code_used = b->tc.code_limit - room;
	CHECK(!tcache_room_for_two(&b->tc, orig->host_len));
	uint64_t clones = b->tc.stats.clones;
	CHECK_EQ(cpu_translate_block(&v->cpu, &v->tr, SECOND_EIP, GPA, flat_mode(v), &tb), 0);
	CHECK_EQ(b->tc.stats.clones, clones);   /* translated, not copied */
	CHECK(tb && tb->eip == SECOND_EIP && tb->code_len == orig->code_len);
}

int main(int argc, char **argv)
{
	struct board_config cfg = { .ram_mib = 64, .serial = SERIAL_NONE,
				    .tcache_mib = 16, .clone_check = true };
	int status = 1;
	struct board *b = harness_board("test_clone", argc, argv, cfg, &status);
	if (!b)
		return status;
	test_copies(b, false);
	test_copies(b, true);
	b->tc.concurrent = false;
	test_no_room_for_two(b);
	board_destroy(b);
	return check_report("test_clone");
}
