/* Hot traces' translation (translate_trace, through cpu_translate_trace
 * on a board's vCPU; the run loop's recording is the guests' to test:
 * tests/guests/traces.asm). A loop with an if-else is translated along
 * each of its two paths: the JMP followed with no code, the taken Jcc
 * inverted into a side exit to the instruction after it, the other Jcc
 * keeping its exit; the maps name exactly the path's instructions, in
 * order, and the block spans them for invalidation. Where a trace must
 * not go (a target backward, on another page, a head near a page's end,
 * a self-checking page, flat code only) it does not. A block not made
 * gives back the maps it took. */
#include <errno.h>
#include <string.h>

#include "check.h"
/* White-box: the test translates on the board's vCPU directly. */
#include "cpu/run_internal.h"
#include "board_harness.h"

#define AT 0x201000u

/* for (ecx = ..; ecx < 100; ecx++) if (ecx >= 300) edi += 2 * ecx; else esi += ecx;
 * then HLT. */
static const uint8_t loop[] = {
	0x81, 0xf9, 0x2c, 0x01, 0x00, 0x00,   /* +00 cmp ecx, 300 */
	0x73, 0x04,                           /* +06 jae +0c */
	0x01, 0xce,                           /* +08 add esi, ecx */
	0xeb, 0x03,                           /* +0a jmp +0f */
	0x8d, 0x3c, 0x4f,                     /* +0c lea edi, [edi + ecx * 2] */
	0x41,                                 /* +0f inc ecx */
	0x83, 0xf9, 0x64,                     /* +10 cmp ecx, 100 */
	0x72, 0xeb,                           /* +13 jb +00 */
	0xf4,                                 /* +15 hlt */
};

static uint32_t mode_of(const struct board_vcpu *v)
{
	return MODE_FLAT | (v->cpu.s.cr0 & CR0_PG ? 0 : MODE_UNPAGED) |
	       (v->cpu.s.cr4 & CR4_OSFXSR ? 0 : MODE_NO_OSFXSR);
}

static int trace_at(struct board *b, uint32_t at, uint32_t mode, const uint32_t *path, unsigned n,
		    struct tblock **tb)
{
	struct board_vcpu *v = &b->vcpus[0];
	return cpu_translate_trace(&v->cpu, &v->tr, at, at, mode, path, n, tb);
}

static void check_maps(const struct tblock *tb, const uint16_t *offs, unsigned n)
{
	CHECK_EQ(tb->ninsns, n);
	for (unsigned i = 0; i < n && i < tb->ninsns; i++) {
		CHECK_EQ(tb->map_guest[i], offs[i]);
		if (i)
			CHECK(tb->map_host[i] >= tb->map_host[i - 1]);   /* host_fault takes the last */
	}
}

/* The branch exit to target, or NULL. */
static const struct exit_desc *exit_to(const struct tblock *tb, uint32_t target)
{
	for (unsigned i = 0; i < TBLOCK_MAX_EXITS; i++)
		if (tb->exits[i].stub && tb->exits[i].kind == EXIT_KIND_BRANCH &&
		    tb->exits[i].target_eip == target)
			return &tb->exits[i];
	return NULL;
}

static void test_paths(struct board *b)
{
	struct board_vcpu *v = &b->vcpus[0];
	uint32_t mode = mode_of(v);
	struct tblock *tb;
	memcpy(b->ram.host + AT, loop, sizeof(loop));

	/* The else path: JAE not taken, the JMP followed. */
	const uint32_t small[] = { AT + 0x0f };
	CHECK_EQ(trace_at(b, AT, mode, small, 1, &tb), 0);
	static const uint16_t small_offs[] = { 0x00, 0x06, 0x08, 0x0a, 0x0f, 0x10, 0x13, 0x15 };
	check_maps(tb, small_offs, 8);
	CHECK(tb->trace && !tb->clonable);
	CHECK_EQ(tb->guest_len, 0x16);
	CHECK(exit_to(tb, AT + 0x0c) != NULL);   /* the JAE's, as in a block */
	CHECK(exit_to(tb, AT) != NULL);          /* the loop's, back to the head */
	CHECK(exit_to(tb, AT + 0x0f) == NULL);   /* the JMP made no exit */
	CHECK_EQ(tb->map_host[3], tb->map_host[4]);   /* nor any code: a fault there is the INC's */
	/* The trace took the head's key. */
	CHECK(tcache_lookup(&b->tc, AT, AT, mode, 0xffffffffu) == tb);

	/* The then path: JAE taken, inverted into a side exit to the ADD. */
	const uint32_t big[] = { AT + 0x0c };
	CHECK_EQ(trace_at(b, AT, mode, big, 1, &tb), 0);
	static const uint16_t big_offs[] = { 0x00, 0x06, 0x0c, 0x0f, 0x10, 0x13, 0x15 };
	check_maps(tb, big_offs, 7);
	CHECK(exit_to(tb, AT + 0x08) != NULL);
	CHECK(exit_to(tb, AT + 0x0c) == NULL);
	CHECK(exit_to(tb, AT) != NULL);

	/* A write to a byte the trace jumps over drops it too: it covers its
	 * span. */
	CHECK(tb->valid);
	tcache_invalidate_gpa(&b->tc, &v->cpu.ibl_table, AT + 0x09);
	CHECK(!tb->valid);

	/* A path that names no branch's target is a block: everything falls
	 * through, each Jcc keeping its exit; the JMP ends it. */
	const uint32_t none[] = { AT + 0x15 };
	CHECK_EQ(trace_at(b, AT, mode, none, 1, &tb), 0);
	static const uint16_t none_offs[] = { 0x00, 0x06, 0x08, 0x0a };
	check_maps(tb, none_offs, 4);
	CHECK(exit_to(tb, AT + 0x0f) != NULL);
}

/* Targets a trace never goes on at: backward, on another page. */
static void test_bounds(struct board *b)
{
	struct board_vcpu *v = &b->vcpus[0];
	uint32_t mode = mode_of(v);
	struct tblock *tb;
	/* jmp -> the next page; then a HLT that must not be reached. */
	uint32_t at = AT + 0x1000 - 0x20;
	static const uint8_t far[] = { 0xe9, 0x1b, 0x00, 0x00, 0x00, 0xf4 };   /* jmp +0x20 */
	memcpy(b->ram.host + at, far, sizeof(far));
	const uint32_t next_page[] = { AT + 0x1000 };
	CHECK_EQ(trace_at(b, at, mode, next_page, 1, &tb), 0);
	CHECK_EQ(tb->ninsns, 1);
	CHECK(exit_to(tb, AT + 0x1000) != NULL);
	CHECK(tb->pages[0] == tb->pages[1]);

	/* jmp backward to the head's own start is a loop, never followed. */
	static const uint8_t back[] = { 0x90, 0xeb, 0xfd };   /* nop; jmp -3 */
	memcpy(b->ram.host + AT + 0x100, back, sizeof(back));
	const uint32_t self[] = { AT + 0x100 };
	CHECK_EQ(trace_at(b, AT + 0x100, mode, self, 1, &tb), 0);
	CHECK_EQ(tb->ninsns, 2);
	CHECK(exit_to(tb, AT + 0x100) != NULL);

	/* No trace: a head whose first instruction may reach the next page,
	 * legacy (16-bit) code, one instruction a block, no path. */
	CHECK_EQ(trace_at(b, AT + 0xff8, mode, self, 1, &tb), -EAGAIN);
	CHECK_EQ(trace_at(b, AT + 0x100, mode | MODE_CODE16, self, 1, &tb), -EAGAIN);
	CHECK_EQ(trace_at(b, AT + 0x100, mode | MODE_SINGLE, self, 1, &tb), -EAGAIN);
	CHECK_EQ(trace_at(b, AT + 0x100, mode, NULL, 0, &tb), 0);   /* an ordinary block */
	CHECK(!tb->trace);

	/* A self-checking page has none either (its blocks end after every
	 * store); the maps of the trace not made are given back. */
	uint32_t page = (AT + 0x100) / GUEST_PAGE_SIZE;
	while (!tcache_page_selfcheck(&b->tc, page))
		tcache_note_code_write(&b->tc, page);
	unsigned maps = b->tc.map_used;
	CHECK_EQ(trace_at(b, AT + 0x100, mode, self, 1, &tb), -EAGAIN);
	CHECK_EQ(b->tc.map_used, maps);
}

/* A block not made (its first instruction runs onto a page that cannot
 * be fetched: here past the end of RAM) gives its maps back, each time. */
static void test_fault_maps(struct board *b)
{
	struct board_vcpu *v = &b->vcpus[0];
	uint32_t at = (uint32_t)b->ram.size - 2;
	static const uint8_t cmp[] = { 0x81, 0xf9 };   /* cmp ecx, imm32: 4 bytes past RAM */
	memcpy(b->ram.host + at, cmp, sizeof(cmp));
	unsigned maps = b->tc.map_used;
	struct tblock *tb;
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(cpu_translate_block(&v->cpu, &v->tr, at, at, mode_of(v), &tb), -EFAULT);
		CHECK_EQ(b->tc.map_used, maps);
	}
}

int main(int argc, char **argv)
{
	struct board_config cfg = { .ram_mib = 64, .serial = SERIAL_NONE, .tcache_mib = 16 };
	int status = 1;
	struct board *b = harness_board("test_traces", argc, argv, cfg, &status);
	if (!b)
		return status;
	test_paths(b);
	test_bounds(b);
	test_fault_maps(b);
	board_destroy(b);
	return check_report("test_traces");
}
