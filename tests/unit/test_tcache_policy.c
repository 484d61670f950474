/* The translation cache's capacity policies (cache/tcache.c,
 * tcache_set_policy and tcache_make_room): a small cache filled with
 * chained blocks, entered in two vCPUs' lookup tables, made room in again
 * and again; after each eviction no chain, lookup, twin or lookup-table
 * entry may lead into evicted code, and evicted code translated again is
 * counted (and code never evicted is not, after 200,000 evictions).
 * Blocks are made by hand, as in test_tcache.c, and never run. */
#include "check.h"
#include "cache/ibl.h"
#include "cache/patch.h"
#include "cache/tcache.h"
#include "isa/vcpu.h"
#include "mmu/guest_ram.h"
#include "mmu/shadow.h"

#include <errno.h>
#include <stddef.h>

static struct guest_ram ram;
static struct shadow sh;
static struct tcache tc;
static struct ibl_table ibl, ibl2;

#define CODE_SIZE (64u * 1024)
#define HOST_LEN 1024u
#define MODE 0u

static const uint8_t *rel32_target(const uint8_t *field)
{
	int32_t r;
	memcpy(&r, field, 4);
	return field + 4 + r;
}

/* A block of 16 guest bytes at eip (physical eip too) with one direct
 * exit aimed at its stub, committed; NULL when the cache has no room. */
static struct tblock *make_block(uint32_t eip, bool clonable)
{
	uint8_t *code, *limit;
	struct tblock *tb = tcache_new_block(&tc, &code, &limit);
	if (!tb)
		return NULL;
	if (limit - code < (ptrdiff_t)HOST_LEN)
		return NULL;   /* what the translator's -ENOSPC would be */
	memset(code, 0xcc, HOST_LEN);
	tb->eip = eip;
	tb->gpa = eip;
	tb->mode = MODE;
	tb->guest_len = 16;
	tb->ninsns = 1;
	tb->host = code;
	tb->host_len = HOST_LEN;
	tb->code_len = HOST_LEN;
	tb->pages[0] = tb->pages[1] = eip / GUEST_PAGE_SIZE;
	tb->clonable = clonable;
	struct exit_desc *ex = &tb->exits[0];
	code[1] = 0xe9;
	ex->patch = code + 2;
	ex->branch = code + 2;
	ex->stub = code + 6;
	ex->kind = EXIT_KIND_BRANCH;
	ex->from = tb;
	ex->target_eip = eip - 16;
	patch_rel32(ex->patch, ex->stub);
	tcache_alloc_maps(&tc, tb, 4);
	tcache_commit(&tc, tb);
	return tb;
}

/* The arena's committed blocks of unit u. */
static unsigned unit_end(unsigned u)
{
	return u == tc.cur_unit ? tc.nblocks : tc.units[u].blocks_end;
}

/* Every invariant that ties the tables to live code. */
static void check_consistent(void)
{
	unsigned live = 0;
	uint64_t live_bytes = 0;
	for (unsigned u = 0; u < tc.nunits; u++) {
		for (unsigned i = u * tc.unit_blocks; i < unit_end(u); i++) {
			struct tblock *tb = &tc.blocks[i];
			if (!tb->valid)
				continue;
			live++;
			live_bytes += tb->host_len;
			CHECK(tcache_find_host(&tc, tb->host + 7) == tb);
			CHECK(tcache_lookup(&tc, tb->eip, tb->gpa, tb->mode, 0xffffffffu) == tb);
			const struct exit_desc *ex = &tb->exits[0];
			if (ex->to) {
				CHECK(ex->to->valid);
				CHECK(rel32_target(ex->patch) == ex->to->host);
			} else {
				CHECK(rel32_target(ex->patch) == ex->stub);
			}
			for (const struct exit_desc *in = tb->incoming; in; in = in->next_in)
				CHECK(in->to == tb && in->from->valid);
		}
	}
	/* A flush leaves none, as adaptive's eviction does at one unit. */
	CHECK(live > 0 || tc.policy == TCACHE_POLICY_FLUSH ||
	      (tc.policy == TCACHE_POLICY_ADAPTIVE && tc.adapt.nring == 1));
	CHECK_EQ(tc.live_bytes, live_bytes);
	CHECK(tcache_code_bytes(&tc) <= tcache_capacity(&tc));
	if (tc.policy == TCACHE_POLICY_ADAPTIVE) {
		/* The ring: the units that hold blocks, at most the capacity,
		 * the one being filled last. */
		const struct tcache_adapt *a = &tc.adapt;
		CHECK(a->nring >= 1 && a->nring <= a->cap_units);
		CHECK(a->cap_units >= a->min_units && a->cap_units <= a->max_units);
		CHECK_EQ(a->ring[a->nring - 1], tc.cur_unit);
		for (unsigned u = 0; u < tc.nunits; u++) {
			bool held = false;
			for (unsigned i = 0; i < a->nring; i++)
				held |= a->ring[i] == u;
			if (!held)
				CHECK_EQ(unit_end(u), u * tc.unit_blocks);
		}
	}
	/* Both vCPUs' tables: an entry's host code is a live block's entry. */
	const struct ibl_table *tables[2] = { &ibl, &ibl2 };
	for (unsigned k = 0; k < 2; k++) {
		for (uint32_t i = 0; i < IBL_ENTRIES; i++) {
			if (ibl_tag_at(tables[k], i) == ~0ull)
				continue;
			const uint8_t *host = (const uint8_t *)(uintptr_t)ibl_host_at(tables[k], i);
			struct tblock *tb = tcache_find_host(&tc, host);
			CHECK(tb && tb->valid && tb->host == host);
		}
	}
}

/* Fills the cache with blocks each chained to the one made before it (so
 * chains cross units, into the older one, which goes first) and entered
 * in both tables, making room whenever it is full, until it has evicted
 * `evictions` times. */
static uint32_t fill(uint32_t eip, uint64_t evictions)
{
	struct tblock *prev = NULL;
	uint64_t prev_generation = tc.generation;
	while (tc.stats.evictions < evictions) {
		struct tblock *tb = make_block(eip, false);
		if (!tb) {
			tcache_make_room(&tc, &ibl);
			check_consistent();
			continue;
		}
		/* As the run loop: a chain only from a block of this generation. */
		if (prev && prev_generation == tc.generation && prev->valid)
			tcache_chain(&tc, &tb->exits[0], prev, false, false);
		ibl_enter(&ibl, ibl_space_tag(1, MODE), tb->eip, tb->host, tb->gpa);
		ibl_enter(&ibl2, ibl_space_tag(1, MODE), tb->eip, tb->host, tb->gpa);
		prev = tb;
		prev_generation = tc.generation;
		eip += 16;
	}
	return eip;
}

/* Runs the blocks of keys [base, base + 16 * nkeys) in turn, rounds
 * times, as a guest loop would: a block not in the cache is made (room
 * made when full), each chained to the one before while both are of this
 * generation, and entered in both vCPUs' tables. */
static void run_keys(uint32_t base, unsigned nkeys, unsigned rounds)
{
	struct tblock *prev = NULL;
	uint64_t prev_generation = tc.generation;
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned k = 0; k < nkeys; k++) {
			uint32_t eip = base + 16 * k;
			struct tblock *tb = tcache_lookup(&tc, eip, eip, MODE, 0xffffffffu);
			if (!tb) {
				tb = make_block(eip, false);
				if (!tb) {
					tcache_make_room(&tc, &ibl);
					check_consistent();
					tb = make_block(eip, false);
				}
				CHECK(tb != NULL);
				if (!tb)
					return;
				ibl_enter(&ibl, ibl_space_tag(1, MODE), tb->eip, tb->host, tb->gpa);
				ibl_enter(&ibl2, ibl_space_tag(1, MODE), tb->eip, tb->host, tb->gpa);
			}
			if (prev && prev_generation == tc.generation && prev->valid)
				tcache_chain(&tc, &tb->exits[0], prev, false, false);
			prev = tb;
			prev_generation = tc.generation;
		}
	}
}

/* adaptive grows while code it evicted comes back, until the loop's code
 * fits, and gives units back while what it evicts never does; chains
 * into evicted code and both vCPUs' entries for it go at every step. */
static void test_adaptive(void)
{
	tcache_destroy(&tc);
	CHECK(tcache_init(&tc, CODE_SIZE, ram.size, &sh) == 0);
	CHECK_EQ(tcache_set_adaptive(&tc, 0, 0), 0);
	tcache_add_ibl(&tc, &ibl2);
	ibl_clear(&ibl);
	ibl_clear(&ibl2);
	/* 64 KiB in 8 KiB units (32 would be under a block's reserve), the
	 * least an eighth: one. */
	CHECK_EQ(tc.nunits, 8);
	CHECK_EQ(tc.adapt.cap_units, 1);
	CHECK_EQ(tcache_capacity(&tc), 8192);
	/* A loop over 40 blocks of 1 KiB: five units' worth. */
	run_keys(0x100000, 40, 12);
	CHECK(tc.stats.grows >= 2);
	CHECK(tc.adapt.cap_units >= 5);
	CHECK(tc.stats.retranslations > 0);
	CHECK(tc.stats.evict_unchains > 0);
	CHECK_EQ(tc.stats.shrinks, 0);
	/* It fits now: another round translates nothing. */
	uint64_t blocks = tc.stats.blocks, evictions = tc.stats.evictions;
	run_keys(0x100000, 40, 1);
	CHECK_EQ(tc.stats.blocks, blocks);
	CHECK_EQ(tc.stats.evictions, evictions);
	check_consistent();
	/* Code run once and never again: every fill is quiet. */
	unsigned grown = tc.adapt.cap_units;
	run_keys(0x2000000, 2000, 1);
	CHECK(tc.stats.shrinks >= 1);
	CHECK(tc.adapt.cap_units < grown);
	CHECK_EQ(tcache_capacity(&tc), (uint64_t)tc.adapt.cap_units * 8192);
	check_consistent();
	/* Long enough, and it is back at its least. */
	run_keys(0x4000000, 20000, 1);
	CHECK_EQ(tc.adapt.cap_units, tc.adapt.min_units);
	check_consistent();
	/* A flush keeps the capacity and empties the ring. */
	tcache_flush(&tc, &ibl);
	CHECK_EQ(tc.adapt.nring, 1);
	CHECK_EQ(tc.live_bytes, 0);
	check_consistent();
	/* Bounds: adaptive:16K-32K holds two to four units. */
	tcache_destroy(&tc);
	CHECK(tcache_init(&tc, CODE_SIZE, ram.size, &sh) == 0);
	CHECK_EQ(tcache_set_adaptive(&tc, 16384, 32768), 0);
	CHECK_EQ(tc.nunits, 4);
	CHECK_EQ(tc.adapt.min_units, 2);
	tcache_destroy(&tc);
	CHECK(tcache_init(&tc, CODE_SIZE, ram.size, &sh) == 0);
	CHECK_EQ(tcache_set_adaptive(&tc, 0, 2 * CODE_SIZE), -EINVAL);   /* past the buffer */
	CHECK_EQ(tcache_set_adaptive(&tc, 0, 8192), -EINVAL);   /* one unit */
	/* 44 KiB: five 8 KiB units, a minimum of 44 KiB all five. */
	CHECK_EQ(tcache_set_adaptive(&tc, 45056, 45056), 0);
	CHECK_EQ(tc.nunits, 5);
	CHECK_EQ(tc.adapt.min_units, 5);
	CHECK_EQ(tc.adapt.cap_units, 5);
}

/* The judgement alone: doubling on re-translations, one unit back after a
 * turn of quiet fills, never past the bounds. */
static void test_adapt_judge(void)
{
	struct tcache_adapt a = { .min_units = 2, .max_units = 8, .cap_units = 2 };
	CHECK_EQ(tcache_adapt_judge(&a, 100, 20), 1);
	CHECK_EQ(a.cap_units, 4);
	CHECK_EQ(tcache_adapt_judge(&a, 100, 19), 0);   /* between: kept */
	CHECK_EQ(tcache_adapt_judge(&a, 100, 50), 1);
	CHECK_EQ(a.cap_units, 8);
	CHECK_EQ(tcache_adapt_judge(&a, 100, 90), 0);   /* at the maximum */
	for (unsigned i = 0; i < 7; i++)
		CHECK_EQ(tcache_adapt_judge(&a, 100, 1), 0);
	CHECK_EQ(tcache_adapt_judge(&a, 100, 1), -1);   /* the eighth quiet fill */
	CHECK_EQ(a.cap_units, 7);
	CHECK_EQ(tcache_adapt_judge(&a, 100, 5), 0);    /* not quiet: starts again */
	for (unsigned i = 0; i < 6; i++)
		CHECK_EQ(tcache_adapt_judge(&a, 100, 0), 0);
	CHECK_EQ(tcache_adapt_judge(&a, 100, 0), -1);
	a.cap_units = 2;
	for (unsigned i = 0; i < 10; i++)
		CHECK_EQ(tcache_adapt_judge(&a, 100, 0), 0);   /* at the minimum */
	CHECK_EQ(a.cap_units, 2);
}

static void setup(enum tcache_policy policy, unsigned nunits)
{
	tcache_destroy(&tc);
	if (tcache_init(&tc, CODE_SIZE, ram.size, &sh)) {
		CHECK(false);
		return;
	}
	CHECK_EQ(tcache_set_policy(&tc, policy, nunits), 0);
	tcache_add_ibl(&tc, &ibl2);
	ibl_clear(&ibl);
	ibl_clear(&ibl2);
}

static void test_units(enum tcache_policy policy, unsigned nunits)
{
	setup(policy, nunits);
	CHECK(tc.nunits >= 2);
	/* Ten rounds of the whole cache. */
	uint32_t eip = fill(0x10000, 10u * tc.nunits);
	CHECK(tc.stats.evicted_blocks > 0);
	CHECK(tc.stats.evict_unchains > 0);
	CHECK_EQ(tc.stats.flushes, 0);
	CHECK_EQ(tc.stats.translated_bytes, tc.stats.blocks * HOST_LEN);

	/* The first blocks were evicted long ago: gone from the lookup, and
	 * made again they count as re-translations. */
	CHECK(tcache_lookup(&tc, 0x10000, 0x10000, MODE, 0xffffffffu) == NULL);
	uint64_t before = tc.stats.retranslations;
	struct tblock *again = make_block(0x10000, false);
	if (!again) {
		tcache_make_room(&tc, &ibl);
		again = make_block(0x10000, false);
	}
	CHECK(again != NULL);
	CHECK_EQ(tc.stats.retranslations, before + 1);
	CHECK(tcache_lookup(&tc, 0x10000, 0x10000, MODE, 0xffffffffu) == again);
	/* A new key is not one. */
	struct tblock *fresh = make_block(0x7f000000, false);
	if (fresh)
		CHECK_EQ(tc.stats.retranslations, before + 1);
	(void)eip;
}

/* Makes the blocks of keys [base, base + 16 * nkeys) once each, room
 * made when full. */
static void make_keys(uint32_t base, unsigned nkeys)
{
	for (unsigned i = 0; i < nkeys;) {
		if (make_block(base + 16 * i, false))
			i++;
		else
			tcache_make_room(&tc, &ibl);
	}
}

/* Keys evicted in their hundreds of thousands and never made again (a
 * library's copies for processes that exited) must not make new keys
 * count as re-translations: a filter of 2^20 bits counted 9,570 of the
 * 50,000 here, 2^24 712. */
static void test_stale_keys(void)
{
	setup(TCACHE_POLICY_UNITS, 4);
	make_keys(0x10000, 200000);
	CHECK(tc.stats.evicted_blocks >= 200000 - 64);
	uint64_t before = tc.stats.retranslations;
	CHECK(before < 200000 / 20);   /* collisions with the keys before */
	make_keys(0x400000, 50000);
	CHECK(tc.stats.retranslations - before < 50000 / 20);
	/* And one made again still counts. */
	before = tc.stats.retranslations;
	make_keys(0x400000, 1);
	CHECK_EQ(tc.stats.retranslations, before + 1);
}

/* A block invalidated before its unit goes is dropped once: the
 * eviction counts only the live ones, and the twin table forgets the
 * clonable block whose slot is reused. */
static void test_invalidated_then_evicted(void)
{
	setup(TCACHE_POLICY_UNITS, 4);
	struct tblock *twin = make_block(0x200000, true);
	struct tblock *gone = make_block(0x300000, false);
	CHECK(twin && gone);
	if (!twin || !gone)
		return;
	CHECK(tcache_twin(&tc, 0x200000, MODE) == twin);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 0x300000 / GUEST_PAGE_SIZE), 1);
	uint32_t eip = 0x400000;
	while (make_block(eip, false))
		eip += 16;
	unsigned in_unit0 = tc.nblocks;   /* unit 0 starts the arena */
	/* Every other unit filled in turn: unit 0 is the oldest. */
	for (unsigned u = 1; u < tc.nunits; u++) {
		tcache_make_room(&tc, &ibl);
		CHECK_EQ(tc.cur_unit, u);
		while (make_block(eip, false))
			eip += 16;
	}
	uint64_t evicted = tc.stats.evicted_blocks;
	uint64_t invalidated = tc.stats.invalidated_blocks;
	tcache_make_room(&tc, &ibl);   /* unit 0 goes */
	CHECK_EQ(tc.cur_unit, 0);
	CHECK_EQ(tc.stats.evicted_blocks - evicted, in_unit0 - 1);
	CHECK_EQ(tc.stats.invalidated_blocks, invalidated);
	CHECK(tcache_twin(&tc, 0x200000, MODE) == NULL);
	/* Its slot holds another block now, not clonable: still none. */
	struct tblock *other = make_block(0x500000, false);
	CHECK(other == twin);
	CHECK(tcache_twin(&tc, 0x200000, MODE) == NULL);
	check_consistent();
}

/* A flush asked for (a reset) empties every unit. */
static void test_flush_units(void)
{
	setup(TCACHE_POLICY_UNITS, 4);
	fill(0x10000, 6);
	CHECK(tcache_code_bytes(&tc) > 0);
	tcache_flush(&tc, &ibl);
	CHECK_EQ(tcache_code_bytes(&tc), 0);
	CHECK_EQ(tc.cur_unit, 0);
	CHECK(tcache_lookup(&tc, tc.blocks[0].eip, tc.blocks[0].gpa, MODE, 0xffffffffu) == NULL);
	CHECK(make_block(0x10000, false) == &tc.blocks[0]);
}

/* Under flush, making room is the flush, its blocks counted evicted. */
static void test_flush_policy(void)
{
	setup(TCACHE_POLICY_FLUSH, 1);
	fill(0x10000, 3);
	CHECK_EQ(tc.stats.flushes, 3);
	CHECK(tc.stats.evicted_blocks >= 3 * (CODE_SIZE / HOST_LEN / 2));
	CHECK_EQ(tc.stats.evict_unchains, 0);
}

static void test_parse(void)
{
	enum tcache_policy p;
	unsigned n;
	CHECK(tcache_parse_policy("flush", &p, &n) == 0 && p == TCACHE_POLICY_FLUSH);
	CHECK(tcache_parse_policy("fifo", &p, &n) == 0 && p == TCACHE_POLICY_FIFO);
	CHECK(tcache_parse_policy("units:8", &p, &n) == 0 && p == TCACHE_POLICY_UNITS && n == 8);
	CHECK(tcache_parse_policy("units:64", &p, &n) == 0 && n == 64);
	CHECK_EQ(tcache_parse_policy("units:1", &p, &n), -EINVAL);
	CHECK_EQ(tcache_parse_policy("units:65", &p, &n), -EINVAL);
	CHECK_EQ(tcache_parse_policy("units:", &p, &n), -EINVAL);
	CHECK_EQ(tcache_parse_policy("units:4x", &p, &n), -EINVAL);
	CHECK_EQ(tcache_parse_policy("lru", &p, &n), -EINVAL);
	CHECK(tcache_parse_policy("adaptive", &p, &n) == 0 && p == TCACHE_POLICY_ADAPTIVE);
	CHECK(tcache_parse_policy("adaptive:512K-8M", &p, &n) == 0 && p == TCACHE_POLICY_ADAPTIVE);
	CHECK_EQ(tcache_parse_policy("adaptive:", &p, &n), -EINVAL);
	CHECK_EQ(tcache_parse_policy("adaptive:8M-1M", &p, &n), -EINVAL);
	CHECK_EQ(tcache_parse_policy("adaptive:1M", &p, &n), -EINVAL);
	CHECK_EQ(tcache_parse_policy("adaptive:1X-2M", &p, &n), -EINVAL);
	uint64_t lo, hi;
	CHECK(tcache_parse_adaptive("adaptive", &lo, &hi) == 0 && lo == 0 && hi == 0);
	CHECK(tcache_parse_adaptive("adaptive:512K-8M", &lo, &hi) == 0 && lo == 512u << 10 && hi == 8u << 20);
	CHECK(tcache_parse_adaptive("adaptive:2-16", &lo, &hi) == 0 && lo == 2u << 20 && hi == 16u << 20);
	CHECK_EQ(tcache_parse_adaptive("adaptive:0-16", &lo, &hi), -EINVAL);
	/* Units smaller than a block may need. */
	tcache_destroy(&tc);
	CHECK(tcache_init(&tc, CODE_SIZE, ram.size, &sh) == 0);
	CHECK_EQ(tcache_set_policy(&tc, TCACHE_POLICY_UNITS, 16), -EINVAL);
	CHECK_EQ(tcache_set_policy(&tc, TCACHE_POLICY_UNITS, 8), 0);
}

/* A block committed right up to its unit's end, and the next one placed
 * where another is in its line (--clone-check translates a copy anew
 * where the copy sits): no room is left, never room past the end, and
 * the block is made in the next unit once room is made. Before the fix
 * the room wrapped, and the block went into the next unit's live code
 * (from the last unit, past the buffer). */
static void test_place_like_at_unit_end(void)
{
	setup(TCACHE_POLICY_UNITS, 4);
	uint32_t eip = 0x400000;
	while (make_block(eip, false))
		eip += 16;
	CHECK_EQ(tc.cur_unit, 0);
	CHECK_EQ(tc.code_used, tc.code_limit);
	tcache_place_like(&tc, (uintptr_t)tc.code + 0x30);
	CHECK_EQ(tc.code_used, tc.code_limit);
	uint8_t *code, *limit;
	CHECK(tcache_new_block(&tc, &code, &limit) == NULL);
	tcache_make_room(&tc, &ibl);
	CHECK_EQ(tc.cur_unit, 1);
	/* Short of the end, the skip is taken as before. */
	uint64_t at = tc.code_used;
	tcache_place_like(&tc, (uintptr_t)tc.code + 0x30);
	CHECK_EQ(tc.code_used, at + 0x30);
	struct tblock *tb = make_block(eip, false);
	CHECK(tb != NULL);
	if (tb)
		CHECK(tb->host == tc.code + at + 0x30 && tb->host + tb->host_len <= tc.code + tc.code_limit);
	check_consistent();
}

int main(void)
{
	if (guest_ram_init(&ram, 16, 0) || shadow_init(&sh, &ram) || ibl_init(&ibl) || ibl_init(&ibl2)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	test_parse();
	test_units(TCACHE_POLICY_UNITS, 4);
	test_units(TCACHE_POLICY_UNITS, 2);
	test_units(TCACHE_POLICY_FIFO, 0);
	test_invalidated_then_evicted();
	test_stale_keys();
	test_flush_units();
	test_flush_policy();
	test_place_like_at_unit_end();
	test_adapt_judge();
	test_adaptive();
	ibl_destroy(&ibl);
	ibl_destroy(&ibl2);
	tcache_destroy(&tc);
	shadow_destroy(&sh);
	guest_ram_destroy(&ram);
	return check_report("test_tcache_policy");
}
