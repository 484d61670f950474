/* The translation cache (cache/tcache.c) and the indirect-branch lookup
 * table (cache/ibl.[ch]) on their own, with the real shadow below them
 * (the cache write-protects the pages it holds code from through it, and
 * the shadow reports the address spaces the table's tags follow): blocks are
 * made by hand in the space the cache gives, with a rel32 jump per exit
 * to chain, and are never run. The table is filled through ibl_enter, as
 * the vCPU's run loop fills it. */
#include "check.h"
#include "cache/ibl.h"
#include "cache/patch.h"
#include "cache/tcache.h"
#include "isa/vcpu.h"
#include "mmu/guest_ram.h"
#include "mmu/shadow.h"

#include <stddef.h>

static struct guest_ram ram;
static struct shadow sh;
static struct tcache tc;
static struct ibl_table ibl;

#define CODE_SIZE (256u * 1024)

/* Where a rel32 field points. */
static const uint8_t *rel32_target(const uint8_t *field)
{
	int32_t r;
	memcpy(&r, field, 4);
	return field + 4 + r;
}

/* A block of guest_len bytes at linear eip, physical gpa, with nexits
 * direct exits: each a JMP rel32 aimed at its own stub (an INT3) until
 * chained, the way the translator leaves them. host_len bytes of host code
 * (at least 16). Committed unless commit is false. */
static struct tblock *make_block_ex(uint32_t eip, uint32_t gpa, uint32_t mode, uint32_t guest_len,
				    unsigned nexits, uint32_t host_len, bool commit)
{
	uint8_t *code, *limit;
	struct tblock *tb = tcache_new_block(&tc, &code, &limit);
	if (!tb)
		return NULL;
	CHECK(limit - code >= (ptrdiff_t)host_len);
	memset(code, 0xcc, host_len);
	tb->eip = eip;
	tb->gpa = gpa;
	tb->mode = mode;
	tb->guest_len = guest_len;
	tb->ninsns = 1;
	tb->host = code;
	tb->host_len = host_len;
	tb->code_len = host_len;
	uint32_t last = guest_len ? gpa + guest_len - 1 : gpa;
	tb->pages[0] = gpa / GUEST_PAGE_SIZE;
	tb->pages[1] = last / GUEST_PAGE_SIZE;
	for (unsigned i = 0; i < nexits; i++) {
		struct exit_desc *ex = &tb->exits[i];
		uint8_t *jmp = code + 1 + i * 6;   /* E9 rel32, then the stub */
		jmp[0] = 0xe9;
		ex->patch = jmp + 1;
		ex->stub = jmp + 5;
		ex->kind = EXIT_KIND_BRANCH;
		ex->from = tb;
		ex->target_eip = eip + guest_len + i;
		patch_rel32(ex->patch, ex->stub);
	}
	if (commit) {
		tcache_alloc_maps(&tc, tb, 64);
		tcache_commit(&tc, tb);
	}
	return tb;
}

static struct tblock *make_block(uint32_t eip, uint32_t gpa, uint32_t mode, uint32_t guest_len,
				 unsigned nexits)
{
	return make_block_ex(eip, gpa, mode, guest_len, nexits, 48, true);
}

/* A block from eip at gpa that goes on into its next linear page, mapped at
 * frame second_frame (tblock.spans). */
static struct tblock *spanning_block(uint32_t eip, uint32_t gpa, uint32_t second_frame, unsigned nexits)
{
	struct tblock *tb = make_block_ex(eip, gpa, 0, 32, nexits, 48, false);
	tb->pages[1] = second_frame;
	tb->spans = true;
	tcache_alloc_maps(&tc, tb, 64);
	tcache_commit(&tc, tb);
	return tb;
}

static void reset(void)
{
	tcache_flush(&tc, &ibl);
	memset(&tc.stats, 0, sizeof(tc.stats));
}

static void test_alloc(void)
{
	reset();
	uint8_t *code, *limit;
	struct tblock *tb = tcache_new_block(&tc, &code, &limit);
	CHECK(tb == &tc.blocks[0]);
	CHECK(code == tc.code);
	CHECK(limit > code);
	/* Not committed: the same space is handed out again. */
	struct tblock *again = tcache_new_block(&tc, &code, &limit);
	CHECK(again == tb);
	CHECK(code == tc.code);
	CHECK_EQ(tc.nblocks, 0);

	struct tblock *a = make_block_ex(0x1000, 0x1000, 0, 10, 0, 40, true);
	struct tblock *b = make_block_ex(0x1010, 0x1010, 0, 10, 0, 17, true);
	struct tblock *c = make_block(0x1020, 0x1020, 0, 10, 0);
	CHECK(a && b && c);
	if (!a || !b || !c)
		return;
	CHECK_EQ(tc.nblocks, 3);
	CHECK_EQ(tc.stats.blocks, 3);
	CHECK_EQ(tc.stats.guest_insns, 3);
	/* Host order, each block's code 16-byte aligned after the last. */
	CHECK(a->host == tc.code);
	CHECK(b->host == tc.code + 48);
	CHECK(c->host == tc.code + 48 + 32);
	CHECK_EQ(tc.code_used, 48 + 32 + 48);
	CHECK(a->valid && b->valid && c->valid);
	/* The block holding a host address. */
	CHECK(tcache_find_host(&tc, a->host) == a);
	CHECK(tcache_find_host(&tc, a->host + 39) == a);
	CHECK(tcache_find_host(&tc, a->host + 40) == NULL);   /* alignment padding */
	CHECK(tcache_find_host(&tc, b->host + 16) == b);
	CHECK(tcache_find_host(&tc, c->host + 47) == c);
	CHECK(tcache_find_host(&tc, c->host + 48) == NULL);   /* past code_used */
	CHECK(tcache_find_host(&tc, tc.code - 1) == NULL);
	CHECK(tcache_find_host(&tc, &tc) == NULL);
	/* The maps (host offset to guest offset) come from their own pool,
	 * room for 64 instructions each while a block is made, and a
	 * committed block keeps what its one instruction used: the guest
	 * map moved down beside the host map. */
	CHECK(b->map_host == a->map_host + 2 && c->map_host == b->map_host + 2);
	CHECK(a->map_guest == a->map_host + 1);
	CHECK_EQ(tc.map_used, 6);
	struct tblock *d = make_block_ex(0x1030, 0x1030, 0, 10, 0, 16, false);
	CHECK(d != NULL);
	if (!d)
		return;
	tcache_alloc_maps(&tc, d, 64);
	CHECK(d->map_guest == d->map_host + 64);
	for (uint16_t i = 0; i < 3; i++) {
		d->map_host[i] = (uint16_t)(10 + i);
		d->map_guest[i] = (uint16_t)(20 + i);
	}
	d->ninsns = 3;
	tcache_commit(&tc, d);
	CHECK_EQ(tc.map_used, 12);
	CHECK(d->map_guest == d->map_host + 3);
	CHECK(d->map_host[2] == 12 && d->map_guest[0] == 20 && d->map_guest[2] == 22);
}

/* A block translated under a code segment limit (tblock.cs_limit) serves
 * that limit only, whatever block its bucket holds first: the same code
 * at the same EIP and mode under another limit, or flat, is another
 * block (its fetches and branch targets were checked against its own). */
static void test_lookup_cs_limit(void)
{
	reset();
	static const uint32_t limits[3] = { 0xffffffffu, 0x7fff, 0xffff };
	struct tblock *b[3];
	for (unsigned i = 0; i < 3; i++) {
		b[i] = make_block_ex(0x7000, 0x7000, 0x400, 16, 0, 48, false);
		CHECK(b[i] != NULL);
		if (!b[i])
			return;
		b[i]->cs_limit = limits[i];
		tcache_alloc_maps(&tc, b[i], 64);
		tcache_commit(&tc, b[i]);
	}
	for (unsigned i = 0; i < 3; i++) {
		CHECK(tcache_lookup(&tc, 0x7000, 0x7000, 0x400, limits[i]) == b[i]);
		CHECK(tcache_lookup_host(&tc, 0x7000, 0x7000, 0x400, limits[i]) == b[i]->host);
	}
	CHECK(tcache_lookup(&tc, 0x7000, 0x7000, 0x400, 0x8fff) == NULL);
	CHECK(tcache_lookup_host(&tc, 0x7000, 0x7000, 0x400, 0x8fff) == NULL);
	/* A new block's limit is 4 GiB until its translator sets one. */
	struct tblock *flat = make_block(0x9000, 0x9000, 0, 16, 0);
	CHECK(flat != NULL && flat->cs_limit == 0xffffffffu);
}

/* The key is (linear eip, physical gpa, mode): the same code seen at
 * another linear address, or in another mode, is another block; another
 * address space maps the linear address elsewhere, so it differs in gpa. */
static void test_lookup(void)
{
	reset();
	struct tblock *a = make_block(0x00401000, 0x5000, 0, 16, 0);
	struct tblock *a_mode = make_block(0x00401000, 0x5000, 3, 16, 0);
	struct tblock *alias = make_block(0xc0005000, 0x5000, 0, 16, 0);
	struct tblock *other_as = make_block(0x00401000, 0x9000, 0, 16, 0);
	CHECK(tcache_lookup(&tc, 0x00401000, 0x5000, 0, 0xffffffffu) == a);
	CHECK(tcache_lookup(&tc, 0x00401000, 0x5000, 3, 0xffffffffu) == a_mode);
	CHECK(tcache_lookup(&tc, 0xc0005000, 0x5000, 0, 0xffffffffu) == alias);
	CHECK(tcache_lookup(&tc, 0x00401000, 0x9000, 0, 0xffffffffu) == other_as);
	CHECK(tcache_lookup(&tc, 0x00401000, 0x5000, 1, 0xffffffffu) == NULL);
	CHECK(tcache_lookup(&tc, 0x00401001, 0x5000, 0, 0xffffffffu) == NULL);
	CHECK(tcache_lookup(&tc, 0x00401000, 0x5001, 0, 0xffffffffu) == NULL);
	CHECK(tcache_lookup(&tc, 0xc0005000, 0x9000, 0, 0xffffffffu) == NULL);
	CHECK_EQ(tc.stats.lookups, 8);
	CHECK_EQ(tc.stats.hits, 4);

	/* Many blocks in the same hash chains: each still found. */
	reset();
	struct tblock *blocks[600];
	for (unsigned i = 0; i < 600; i++)
		blocks[i] = make_block(0x10000 + i * 4, 0x10000 + i * 4, i % 5, 4, 0);
	unsigned found = 0;
	for (unsigned i = 0; i < 600; i++)
		found += tcache_lookup(&tc, 0x10000 + i * 4, 0x10000 + i * 4, i % 5, 0xffffffffu) == blocks[i];
	CHECK_EQ(found, 600);
	/* The host code alone, from a bucket's head or deeper in its chain. */
	found = 0;
	for (unsigned i = 0; i < 600; i++)
		found += tcache_lookup_host(&tc, 0x10000 + i * 4, 0x10000 + i * 4, i % 5, 0xffffffffu) == blocks[i]->host;
	CHECK_EQ(found, 600);
	/* Dropping every other block (whichever place in its chain each had)
	 * leaves the others found, and the dropped not. */
	for (unsigned i = 1; i < 600; i += 2)
		tcache_invalidate_gpa(&tc, &ibl, 0x10000 + i * 4);
	unsigned kept = 0, gone = 0;
	for (unsigned i = 0; i < 600; i++) {
		struct tblock *tb = tcache_lookup(&tc, 0x10000 + i * 4, 0x10000 + i * 4, i % 5, 0xffffffffu);
		uint8_t *host = tcache_lookup_host(&tc, 0x10000 + i * 4, 0x10000 + i * 4, i % 5, 0xffffffffu);
		if (blocks[i]->valid) {
			kept += tb == blocks[i] && host == blocks[i]->host;
		} else {
			gone += !tb && !host;
		}
	}
	CHECK_EQ(kept, 300);
	CHECK_EQ(gone, 300);
	/* A block over two pages is found, but has no host code for a lookup
	 * that walked only its first page. */
	struct tblock *two = make_block(0x00402ffc, 0x7ffc, 0, 8, 0);
	CHECK(tcache_lookup(&tc, 0x00402ffc, 0x7ffc, 0, 0xffffffffu) == two);
	CHECK(tcache_lookup_host(&tc, 0x00402ffc, 0x7ffc, 0, 0xffffffffu) == NULL);
	CHECK(tcache_lookup_host(&tc, 0x00402ffc, 0x7ffc, 1, 0xffffffffu) == NULL);
}

/* Dropping every block that covers a guest page, blocks that straddle two
 * pages found from either; the page's write protection (for code) goes
 * with its last block. */
static void test_invalidate_page(void)
{
	reset();
	struct tblock *a = make_block(0x5010, 0x5010, 0, 16, 0);         /* page 5 */
	struct tblock *b = make_block(0x5ff8, 0x5ff8, 0, 16, 0);         /* pages 5 and 6 */
	struct tblock *c = make_block(0x7000, 0x7000, 0, 16, 0);         /* page 7 */
	struct tblock *d = make_block(0x00405010, 0x5010, 1, 16, 0);     /* page 5 again */
	CHECK_EQ(b->pages[0], 5);
	CHECK_EQ(b->pages[1], 6);
	for (uint32_t p = 5; p <= 7; p++) {
		CHECK(tcache_page_traced(&tc, p));
		CHECK_EQ(sh.code_protect[p], 1);
	}
	CHECK(!tcache_page_traced(&tc, 8));
	CHECK_EQ(sh.code_protect[8], 0);

	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 6), 1);
	CHECK(!b->valid);
	CHECK(a->valid && c->valid && d->valid);
	CHECK(tcache_lookup(&tc, 0x5ff8, 0x5ff8, 0, 0xffffffffu) == NULL);
	CHECK(!tcache_page_traced(&tc, 6));
	CHECK_EQ(sh.code_protect[6], 0);
	CHECK(tcache_page_traced(&tc, 5));   /* a and d still there */
	CHECK_EQ(sh.code_protect[5], 1);
	/* b left page 5's list too: only a and d go now. */
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 5), 2);
	CHECK(!a->valid && !d->valid && c->valid);
	CHECK(tcache_lookup(&tc, 0x5010, 0x5010, 0, 0xffffffffu) == NULL);
	CHECK(tcache_lookup(&tc, 0x00405010, 0x5010, 1, 0xffffffffu) == NULL);
	CHECK(tcache_lookup(&tc, 0x7000, 0x7000, 0, 0xffffffffu) == c);
	CHECK_EQ(sh.code_protect[5], 0);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 5), 0);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, tc.npages + 10), 0);   /* beyond RAM */
	CHECK_EQ(tc.stats.invalidated_blocks, 3);
	/* Invalidation frees no code: the dropped blocks' bytes stay. */
	CHECK(tcache_find_host(&tc, a->host) == a);

	/* A block that straddles found from its second page; its first page,
	 * left without blocks, is no longer write-protected either. */
	struct tblock *e = make_block(0x8ffc, 0x8ffc, 0, 8, 0);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 9), 1);
	CHECK(!e->valid);
	CHECK(!tcache_page_traced(&tc, 8) && !tcache_page_traced(&tc, 9));
	CHECK_EQ(sh.code_protect[8], 0);
	/* ... but one that still holds a block stays protected. */
	struct tblock *f = make_block(0x8ffc, 0x8ffc, 0, 8, 0);
	struct tblock *g = make_block(0x8100, 0x8100, 0, 8, 0);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 9), 1);
	CHECK(!f->valid && g->valid);
	CHECK(tcache_page_traced(&tc, 8));
	CHECK_EQ(sh.code_protect[8], 1);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 8), 1);

	/* By linear address: every block covering it, in every address
	 * space; a block of no guest bytes covers its own address. */
	reset();
	struct tblock *l1 = make_block(0x00401000, 0x5000, 0, 16, 0);
	struct tblock *l2 = make_block(0x00401008, 0x9008, 0, 16, 0);
	struct tblock *l3 = make_block(0x00401010, 0xa010, 0, 16, 0);
	struct tblock *brk = make_block(0x00401009, 0xb009, 0, 0, 0);
	CHECK_EQ(tcache_invalidate_linear(&tc, &ibl, 0x00401009), 3);
	CHECK(!l1->valid && !l2->valid && !brk->valid && l3->valid);
	CHECK(tcache_lookup(&tc, 0x00401010, 0xa010, 0, 0xffffffffu) == l3);
	/* Their pages hold nothing now: not traced; l3's still is. */
	CHECK(!tcache_page_traced(&tc, 5) && !tcache_page_traced(&tc, 9) &&
	      !tcache_page_traced(&tc, 0xb));
	CHECK(tcache_page_traced(&tc, 0xa));
	/* and the page lists lost them: page 5 has nothing left to drop */
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 5), 0);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 0xa), 1);
}

/* Walks page's list, checking each block's link back to what points at
 * it; how many blocks it holds. */
static unsigned page_list_length(uint32_t page)
{
	unsigned n = 0;
	struct tblock **link = &tc.page_heads[page];
	while (*link && n <= tc.max_blocks) {   /* a list broken into a loop ends too */
		struct tblock *tb = *link;
		int i = tb->pages[0] == page ? 0 : 1;
		CHECK(tb->page_link[i] == link);
		CHECK(tb->valid);
		link = &tb->page_next[i];
		n++;
	}
	CHECK(n <= tc.max_blocks);
	return n;
}

/* Many blocks of one page, as a shared library's code copied for each
 * address it was loaded at (ASLR), some of them running on from the page
 * before: they leave the lists in any order and the lists stay whole. */
static void test_page_lists(void)
{
	reset();
	enum { COPIES = 64 };
	uint32_t eip[COPIES];
	for (unsigned i = 0; i < COPIES; i++) {
		bool spans = i % 4 == 3;   /* pages 3 and 4 */
		eip[i] = 0x10000000u + i * 0x100000u + (spans ? 0xff8 : 0x10);
		CHECK(make_block(eip[i], spans ? 0x3ff8 : 0x4010, 0, 16, 0) != NULL);
	}
	CHECK_EQ(page_list_length(4), COPIES);
	CHECK_EQ(page_list_length(3), COPIES / 4);
	/* Half of them, scattered: the list's head, its tail, between. */
	unsigned left = COPIES, left3 = COPIES / 4;
	for (unsigned k = 0; k < COPIES; k += 2) {
		unsigned i = (k * 37 + 11) % COPIES;
		CHECK_EQ(tcache_invalidate_linear(&tc, &ibl, eip[i]), 1);
		left--;
		left3 -= i % 4 == 3;
		CHECK_EQ(page_list_length(4), left);
		CHECK_EQ(page_list_length(3), left3);
	}
	CHECK(tcache_page_traced(&tc, 3) == (left3 > 0));
	/* The rest go with page 4, and page 3 with its last block. */
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 4), left);
	CHECK_EQ(page_list_length(4), 0);
	CHECK_EQ(page_list_length(3), 0);
	CHECK(!tcache_page_traced(&tc, 3) && !tcache_page_traced(&tc, 4));
	/* A block made after a flush starts lists of its own. */
	CHECK(make_block(0x4010, 0x4010, 0, 16, 0) != NULL);
	tcache_flush(&tc, &ibl);
	CHECK(make_block(0x5010, 0x4010, 0, 16, 0) != NULL);
	CHECK_EQ(page_list_length(4), 1);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 4), 1);
}

/* Direct exits chained to their targets, and pointed back at their stubs
 * when the target goes. */
static void test_chaining(void)
{
	reset();
	/* Paging off: any target is jumped to directly. */
	struct tblock *a = make_block(0x5000, 0x5000, 0, 16, 2);
	struct tblock *b = make_block(0x6000, 0x6000, 0, 16, 1);
	struct tblock *c = make_block(0x7000, 0x7000, 0, 16, 0);
	tcache_chain(&tc, &a->exits[0], b, false, false);
	tcache_chain(&tc, &a->exits[1], c, false, false);
	tcache_chain(&tc, &b->exits[0], c, false, false);
	CHECK(rel32_target(a->exits[0].patch) == b->host);
	CHECK(rel32_target(a->exits[1].patch) == c->host);
	CHECK(rel32_target(b->exits[0].patch) == c->host);
	CHECK(a->exits[0].to == b && a->exits[1].to == c && b->exits[0].to == c);
	CHECK(b->incoming == &a->exits[0]);
	CHECK_EQ(tc.stats.chains, 3);
	/* Chained already: nothing changes. */
	tcache_chain(&tc, &a->exits[0], c, false, false);
	CHECK(rel32_target(a->exits[0].patch) == b->host);
	CHECK_EQ(tc.stats.chains, 3);

	/* c goes: both exits into it back at their stubs. */
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 7), 1);
	CHECK(rel32_target(a->exits[1].patch) == a->exits[1].stub);
	CHECK(rel32_target(b->exits[0].patch) == b->exits[0].stub);
	CHECK(a->exits[1].to == NULL && b->exits[0].to == NULL);
	CHECK(rel32_target(a->exits[0].patch) == b->host);   /* a -> b stays */
	CHECK_EQ(tc.stats.unchains, 2);
	/* Not into a dropped block. */
	tcache_chain(&tc, &a->exits[1], c, false, false);
	CHECK(rel32_target(a->exits[1].patch) == a->exits[1].stub);
	/* Into its retranslation. */
	struct tblock *c2 = make_block(0x7000, 0x7000, 0, 16, 0);
	tcache_chain(&tc, &a->exits[1], c2, false, false);
	CHECK(rel32_target(a->exits[1].patch) == c2->host);

	/* A block that goes leaves the incoming lists of its targets: when
	 * the target goes later, the dead block's code is not patched. */
	uint8_t before[4];
	memcpy(before, a->exits[1].patch, 4);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 5), 1);   /* a */
	CHECK(b->incoming == NULL);
	CHECK(c2->incoming == NULL);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 7), 1);   /* c2 */
	CHECK(!memcmp(before, a->exits[1].patch, 4));
	/* A dropped block is not chained from either. */
	tcache_chain(&tc, &a->exits[0], b, false, false);
	CHECK(b->incoming == NULL);

	/* A block chained to itself (a loop) goes cleanly. */
	struct tblock *loop = make_block(0x8000, 0x8000, 0, 16, 1);
	tcache_chain(&tc, &loop->exits[0], loop, false, false);
	CHECK(rel32_target(loop->exits[0].patch) == loop->host);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 8), 1);
	CHECK(loop->incoming == NULL && loop->exits[0].to == NULL);

	/* A branch forward within the page enters past the target's poll; a
	 * branch back (a loop), one to another page or one into its own
	 * block's bytes enters through it, so every cycle polls. */
	reset();
	struct tblock *src = make_block(0x00403100, 0x3100, 0, 16, 2);
	struct tblock *ahead = make_block(0x00403110, 0x3110, 0, 16, 0);
	struct tblock *behind = make_block(0x00403000, 0x3000, 0, 16, 0);
	struct tblock *next_page = make_block(0x00404000, 0x4000, 0, 16, 0);
	ahead->poll_len = behind->poll_len = next_page->poll_len = src->poll_len = 10;
	tcache_chain(&tc, &src->exits[0], ahead, false, false);
	CHECK(rel32_target(src->exits[0].patch) == ahead->host + 10);
	tcache_chain(&tc, &src->exits[1], behind, false, false);
	CHECK(rel32_target(src->exits[1].patch) == behind->host);
	struct tblock *src2 = make_block(0x00403f00, 0x3f00, 0, 16, 2);
	tcache_chain(&tc, &src2->exits[0], next_page, false, false);
	CHECK(rel32_target(src2->exits[0].patch) == next_page->host);
	tcache_chain(&tc, &src2->exits[1], src2, false, false);
	CHECK(rel32_target(src2->exits[1].patch) == src2->host);
	/* Unchained, the exits go back to their stubs. */
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 3), 4);
	CHECK(rel32_target(src->exits[0].patch) == src->exits[0].stub);

	/* Paging on: the same page is jumped to directly; another page (its
	 * mapping may change without the source's) through the exit's
	 * lookup-table stub, for good. */
	reset();
	struct tblock *p = make_block(0x00401000, 0x5000, 0, 16, 2);
	struct tblock *same = make_block(0x00401800, 0x5800, 0, 16, 0);
	struct tblock *far = make_block(0x00402000, 0x6000, 0, 16, 0);
	uint8_t *ibl_stub = p->host + 32;
	p->exits[1].ibl_stub = ibl_stub;
	tcache_chain(&tc, &p->exits[0], same, true, false);
	CHECK(rel32_target(p->exits[0].patch) == same->host);
	uint8_t *field = p->exits[1].patch;
	tcache_chain(&tc, &p->exits[1], far, true, false);
	CHECK(rel32_target(field) == ibl_stub);
	CHECK(p->exits[1].patch == NULL);
	CHECK(p->exits[1].to == NULL);
	CHECK(far->incoming == NULL);
	CHECK_EQ(tc.stats.ibl_links, 1);
	CHECK_EQ(tc.stats.chains, 1);
	/* Dropping far touches nothing of p's. */
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 6), 1);
	CHECK(rel32_target(field) == ibl_stub);
	/* A target straddling two pages is not chained directly either. */
	struct tblock *straddle = make_block(0x00401ff8, 0x5ff8, 0, 16, 0);
	struct tblock *q = make_block(0x00401100, 0x5100, 0, 16, 1);
	tcache_chain(&tc, &q->exits[0], straddle, true, false);
	CHECK(rel32_target(q->exits[0].patch) == q->exits[0].stub);   /* no ibl_stub: left alone */
	CHECK(straddle->incoming == NULL);
	/* Nor one on the same physical page at another linear page. */
	struct tblock *alias = make_block(0x00801100, 0x5100, 0, 16, 0);
	tcache_chain(&tc, &q->exits[0], alias, true, false);
	CHECK(alias->incoming == NULL);

	/* Global code on another page (to_global: the caller noted its
	 * pages with the shadow) is chained directly and listed; the guest's
	 * invalidation of global pages sends each such exit back to its
	 * stub, to be chained again when next taken, and one whose target
	 * went meanwhile is skipped. */
	reset();
	struct tblock *g_src = make_block(0x00401000, 0x5000, 0, 16, 2);
	struct tblock *g_far = make_block(0x00402000, 0x6000, 0, 16, 0);
	struct tblock *g_gone = make_block(0x00403000, 0x7000, 0, 16, 0);
	g_src->exits[0].ibl_stub = g_src->host + 32;
	g_src->exits[1].ibl_stub = g_src->host + 36;
	tcache_chain(&tc, &g_src->exits[0], g_far, true, true);
	CHECK(rel32_target(g_src->exits[0].patch) == g_far->host);
	CHECK(g_src->exits[0].global && g_src->exits[0].to == g_far);
	tcache_chain(&tc, &g_src->exits[1], g_gone, true, true);
	CHECK(rel32_target(g_src->exits[1].patch) == g_gone->host);
	CHECK_EQ(tc.stats.global_chains, 2);
	CHECK_EQ(tc.stats.ibl_links, 0);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 7), 1);
	CHECK(rel32_target(g_src->exits[1].patch) == g_src->exits[1].stub);
	/* Chained again to the new code there: still listed once. */
	struct tblock *g_again = make_block(0x00403000, 0x7000, 0, 16, 0);
	tcache_chain(&tc, &g_src->exits[1], g_again, true, true);
	CHECK(rel32_target(g_src->exits[1].patch) == g_again->host);
	CHECK_EQ(tc.nglobal_chains, 2);
	tcache_unchain_global(&tc);
	CHECK(rel32_target(g_src->exits[0].patch) == g_src->exits[0].stub);
	CHECK(rel32_target(g_src->exits[1].patch) == g_src->exits[1].stub);
	CHECK(!g_src->exits[0].global && g_src->exits[0].to == NULL && g_far->incoming == NULL);
	CHECK(g_again->incoming == NULL);
	CHECK_EQ(tc.stats.global_unchains, 2);
	CHECK_EQ(tc.nglobal_chains, 0);
	/* Taken again while no longer global: the lookup's stub, for good. */
	tcache_chain(&tc, &g_src->exits[0], g_far, true, false);
	CHECK(g_src->exits[0].patch == NULL && !g_src->exits[0].global);
	tcache_unchain_global(&tc);
	CHECK_EQ(tc.stats.global_unchains, 2);

	/* A block that goes on into its next linear page (tblock.spans),
	 * there at frame 9, holds both mappings: chained to itself, to a
	 * block on either of its pages and frames, and to another of the
	 * same two; looked up elsewhere, and from a block holding one page. */
	reset();
	struct tblock *span = spanning_block(0x00401ff0, 0x5ff0, 9, 4);
	struct tblock *first = make_block(0x00401100, 0x5100, 0, 16, 1);
	struct tblock *second = make_block(0x00402100, 0x9100, 0, 16, 0);
	struct tblock *other_frame = make_block(0x00402200, 0xa200, 0, 16, 0);
	struct tblock *span_other = spanning_block(0x00401ff8, 0x5ff8, 0xa, 1);
	struct tblock *span_twin = spanning_block(0x00401ffa, 0x5ffa, 9, 1);
	for (unsigned i = 0; i < 4; i++)
		span->exits[i].ibl_stub = span->host + 40 + i;
	first->exits[0].ibl_stub = first->host + 40;
	span_other->exits[0].ibl_stub = span_other->host + 40;
	span_twin->exits[0].ibl_stub = span_twin->host + 40;
	tcache_chain(&tc, &span->exits[0], span, true, false);
	CHECK(rel32_target(span->exits[0].patch) == span->host);
	tcache_chain(&tc, &span->exits[1], second, true, false);
	CHECK(rel32_target(span->exits[1].patch) == second->host);
	uint8_t *field_far = span->exits[2].patch;
	tcache_chain(&tc, &span->exits[2], other_frame, true, false);
	CHECK(rel32_target(field_far) == span->exits[2].ibl_stub);
	uint8_t *field_other = span->exits[3].patch;
	tcache_chain(&tc, &span->exits[3], span_other, true, false);
	CHECK(rel32_target(field_other) == span->exits[3].ibl_stub);
	uint8_t *field_in = first->exits[0].patch;
	tcache_chain(&tc, &first->exits[0], span, true, false);
	CHECK(rel32_target(field_in) == first->exits[0].ibl_stub);
	tcache_chain(&tc, &span_twin->exits[0], span, true, false);
	CHECK(rel32_target(span_twin->exits[0].patch) == span->host);
	uint8_t *field_back = span_other->exits[0].patch;
	tcache_chain(&tc, &span_other->exits[0], span, true, false);
	CHECK(rel32_target(field_back) == span_other->exits[0].ibl_stub);
	CHECK_EQ(tc.stats.chains, 3);
	CHECK_EQ(tc.stats.ibl_links, 4);
	/* Two pages without spans (a straddling instruction in a code
	 * segment with a base): only its first page is known to be linear. */
	struct tblock *old = make_block(0x00401ff4, 0x5ff4, 0, 8, 1);
	old->exits[0].ibl_stub = old->host + 40;
	uint8_t *field_old = old->exits[0].patch;
	struct tblock *after_old = make_block(0x00402300, 0x6300, 0, 16, 0);
	tcache_chain(&tc, &old->exits[0], after_old, true, false);
	CHECK(rel32_target(field_old) == old->exits[0].ibl_stub);
	/* Its second frame written: the spanning blocks go, with the chains
	 * into them. */
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 9), 3);
	CHECK(!span->valid && !span_twin->valid && !second->valid && first->valid);
}

/* The buffer or the arena full: tcache_new_block says so, the caller
 * flushes and asks again. The flush empties everything. */
static void test_full(void)
{
	reset();
	/* The arena: CODE_SIZE / 128 blocks. */
	unsigned n = 0;
	while (make_block_ex(0x1000 + n * 4, 0x1000 + n * 4, 0, 4, 0, 16, true))
		n++;
	CHECK_EQ(n, CODE_SIZE / 128);
	CHECK_EQ(tc.nblocks, n);
	CHECK(tcache_lookup(&tc, 0x1000, 0x1000, 0, 0xffffffffu) != NULL);
	CHECK(tcache_page_traced(&tc, 1));
	ibl_enter(&ibl, 0, 0x1000, tc.blocks[0].host, 0x1000);
	uint32_t slot = ibl_index(0x1000, ibl.mix);
	CHECK_EQ(ibl_tag_at(&ibl, slot), 0x1000);
	tcache_flush(&tc, &ibl);
	CHECK_EQ(tc.nblocks, 0);
	CHECK_EQ(tc.code_used, 0);
	CHECK_EQ(tc.map_used, 0);
	CHECK_EQ(tc.stats.flushes, 1);
	CHECK(tcache_lookup(&tc, 0x1000, 0x1000, 0, 0xffffffffu) == NULL);
	CHECK(!tcache_page_traced(&tc, 1));
	CHECK_EQ(sh.code_protect[1], 0);
	CHECK_EQ(ibl_tag_at(&ibl, slot), ~0ULL);
	CHECK(tcache_find_host(&tc, tc.code) == NULL);
	struct tblock *first = make_block(0x2000, 0x2000, 0, 4, 0);
	CHECK(first && first->host == tc.code);

	/* The code buffer: blocks of 4 KiB, until less than the worst case
	 * one block may need is left. */
	reset();
	n = 0;
	while (make_block_ex(0x1000 + n * 16, 0x1000 + n * 16, 0, 16, 0, 4096, true))
		n++;
	CHECK(n > 0 && n < CODE_SIZE / 4096);
	CHECK(tc.code_size - tc.code_used < 8192);
	CHECK(tc.nblocks < tc.max_blocks);
	tcache_flush(&tc, &ibl);
	CHECK(make_block(0x1000, 0x1000, 0, 16, 0) != NULL);

	/* The map pool: a new block needs room for two maps of the most one
	 * block may take. */
	reset();
	n = 0;
	for (;;) {
		struct tblock *tb = make_block_ex(0x1000 + n * 16, 0x1000 + n * 16, 0, 16, 0, 16, false);
		if (!tb)
			break;
		tcache_alloc_maps(&tc, tb, 256);
		tb->ninsns = 256;   /* uses all it had */
		tcache_commit(&tc, tb);
		n++;
	}
	CHECK_EQ(n, tc.map_size / 512);
	CHECK(tc.nblocks < tc.max_blocks);
	tcache_flush(&tc, &ibl);
	CHECK(make_block(0x1000, 0x1000, 0, 16, 0) != NULL);
}

/* Whether the hash and the twins hold nothing: after a flush, whether it
 * cleared the slots of its blocks alone or the whole tables. */
static bool tables_empty(void)
{
	size_t slots = (size_t)tc.hash_mask + 1;
	for (size_t i = 0; i < slots; i++)
		if (tc.hash[i].tb || tc.hash[i].host || tc.twins[i])
			return false;
	return true;
}

/* A flush of a few blocks clears their slots alone, of many the whole
 * tables: either way nothing is left, dropped blocks' slots (a chain's
 * other blocks) and twins included. */
static void test_flush_clears(void)
{
	reset();
	CHECK(tables_empty());
	for (unsigned i = 0; i < 40; i++) {
		struct tblock *tb = make_block_ex(0x3000 + i * 8, 0x3000 + i * 8, i % 3, 8, 0, 48, false);
		tb->clonable = true;
		tcache_alloc_maps(&tc, tb, 64);
		tcache_commit(&tc, tb);
	}
	tcache_invalidate_gpa(&tc, &ibl, 0x3008);
	CHECK(!tables_empty());
	tcache_flush(&tc, &ibl);
	CHECK(tables_empty());
	CHECK(tcache_lookup(&tc, 0x3000, 0x3000, 0, 0xffffffffu) == NULL);
	CHECK(tcache_twin(&tc, 0x3010, 2) == NULL);
	/* More than a sixteenth of the slots: the whole tables. */
	unsigned n = (unsigned)(tc.hash_mask + 1) / 16 + 1;
	for (unsigned i = 0; i < n; i++)
		CHECK(make_block_ex(0x10000 + i * 4, 0x10000 + i * 4, 0, 4, 0, 16, true) != NULL);
	CHECK(!tables_empty());
	tcache_flush(&tc, &ibl);
	CHECK(tables_empty());
}

/* A flush visits the pages that held code since the last one, each once
 * however often it was traced again, and leaves none traced or
 * write-protected for code. */
static void test_flush_listed_pages(void)
{
	reset();
	CHECK_EQ(tc.nlisted_pages, 0);
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned k = 0; k < 5; k++) {
			CHECK(make_block(0x6010, 0x6010, 0, 16, 0) != NULL);
			CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 6), 1);
			CHECK(!tcache_page_traced(&tc, 6));
		}
		CHECK(make_block(0x6010, 0x6010, 0, 16, 0) != NULL);
		CHECK(make_block(0x8ff8, 0x8ff8, 0, 16, 0) != NULL);   /* pages 8 and 9 */
		CHECK_EQ(tc.nlisted_pages, 3);
		CHECK(tcache_page_traced(&tc, 6) && tcache_page_traced(&tc, 8) &&
		      tcache_page_traced(&tc, 9));
		CHECK(sh.code_protect[6] && sh.code_protect[8] && sh.code_protect[9]);
		tcache_flush(&tc, &ibl);
		CHECK_EQ(tc.nlisted_pages, 0);
		for (uint32_t p = 0; p < tc.npages; p++) {
			CHECK(!tcache_page_traced(&tc, p) && !tc.page_listed[p]);
			CHECK(page_list_length(p) == 0 && !sh.code_protect[p]);
		}
	}
}

/* A block's branch back to its own start skips its poll when the block
 * is quiet and one vCPU runs; a request that finds the thread inside it
 * makes it poll until the run loop releases it; a branch forward into it
 * that skipped the poll takes it. */
static void test_loop_poll(void)
{
	reset();
	/* b, forward of a in its page; b's exit 0 branches back to b. */
	struct tblock *a = make_block(0x6000, 0x6000, 0, 4, 1);
	struct tblock *b = make_block_ex(0x6010, 0x6010, 0, 8, 2, 48, true);
	b->poll_len = 3;
	b->quiet = true;
	tcache_chain(&tc, &a->exits[0], b, false, false);
	CHECK(rel32_target(a->exits[0].patch) == b->host + 3);   /* forward in the page */
	tcache_chain(&tc, &b->exits[0], b, false, false);
	CHECK_EQ(b->loop_exit, 1);
	CHECK(rel32_target(b->exits[0].patch) == b->host + 3);
	CHECK(rel32_target(a->exits[0].patch) == b->host);   /* now through the poll */
	struct tblock *a2 = make_block(0x6004, 0x6004, 0, 4, 1);
	tcache_chain(&tc, &a2->exits[0], b, false, false);
	CHECK(rel32_target(a2->exits[0].patch) == b->host);

	/* A request outside b changes nothing; inside, b polls again until
	 * released, and a second request holds it once. */
	tcache_loop_poll(&tc, a->host + 2);
	CHECK_EQ(tc.nheld_loops, 0);
	tcache_loop_poll(&tc, b->host + 5);
	CHECK(rel32_target(b->exits[0].patch) == b->host);
	tcache_loop_poll(&tc, b->host + 7);
	CHECK_EQ(tc.nheld_loops, 1);
	tcache_loop_release(&tc);
	CHECK_EQ(tc.nheld_loops, 0);
	CHECK(rel32_target(b->exits[0].patch) == b->host + 3);

	/* Held across a flush: the release leaves the new code alone. */
	tcache_loop_poll(&tc, b->host + 5);
	CHECK_EQ(tc.nheld_loops, 1);
	uint8_t *old = b->host;
	tcache_flush(&tc, &ibl);
	CHECK(make_block(0x8000, 0x8000, 0, 4, 2) != NULL);
	struct tblock *n = make_block(0x8010, 0x8010, 0, 4, 2);   /* where b was */
	CHECK(n && n->host == old && !n->loop_exit);
	uint8_t before[48];
	memcpy(before, old, sizeof(before));
	tcache_loop_release(&tc);
	CHECK(!memcmp(before, old, sizeof(before)));

	/* A block with a callout, or with several vCPUs: always polls. */
	reset();
	struct tblock *loud = make_block_ex(0x7010, 0x7010, 0, 8, 1, 48, true);
	loud->poll_len = 3;
	tcache_chain(&tc, &loud->exits[0], loud, false, false);
	CHECK(rel32_target(loud->exits[0].patch) == loud->host && !loud->loop_exit);
	tc.concurrent = true;
	struct tblock *shared = make_block_ex(0x7110, 0x7110, 0, 8, 1, 48, true);
	shared->poll_len = 3;
	shared->quiet = true;
	tcache_chain(&tc, &shared->exits[0], shared, false, false);
	CHECK(rel32_target(shared->exits[0].patch) == shared->host && !shared->loop_exit);
	tc.concurrent = false;
}

/* Self-checking pages: written too often while holding code, a page is
 * left writable and its blocks check their bytes instead; reprotecting
 * drops its blocks and protects it again. */
static void test_selfcheck(void)
{
	reset();
	struct tblock *a = make_block(0x5000, 0x5000, 0, 16, 0);
	CHECK_EQ(sh.code_protect[5], 1);
	unsigned writes = 0;
	while (!tcache_page_selfcheck(&tc, 5) && writes < 1000) {
		tcache_note_code_write(&tc, 5);
		writes++;
	}
	CHECK_EQ(writes, 32);
	CHECK_EQ(sh.code_protect[5], 0);
	CHECK_EQ(tc.selfcheck_count, 1);
	CHECK(a->valid);   /* its blocks stay; new ones are made self-checking */
	/* Invalidating a self-checking page leaves its protection off. */
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 5), 1);
	make_block(0x5000, 0x5000, 0, 16, 0);
	CHECK_EQ(sh.code_protect[5], 0);
	tcache_reprotect_selfcheck(&tc, &ibl);
	CHECK(!tcache_page_selfcheck(&tc, 5));
	CHECK_EQ(tc.selfcheck_count, 0);
	CHECK(!tcache_page_traced(&tc, 5));   /* its blocks were dropped */
	make_block(0x5000, 0x5000, 0, 16, 0);
	CHECK_EQ(sh.code_protect[5], 1);
	CHECK_EQ(tc.stats.selfcheck_pages, 1);
	CHECK_EQ(tc.stats.selfcheck_reprotected, 1);
}

/* One block dropped alone (a stale self-checking block): the page's
 * other block stays, and the page stays traced until its last goes. */
static void test_invalidate_block(void)
{
	reset();
	struct tblock *a = make_block(0x7000, 0x7000, 0, 16, 0);
	struct tblock *b = make_block(0x7010, 0x7010, 0, 16, 0);
	tcache_invalidate_block(&tc, &ibl, a);
	CHECK(!a->valid);
	CHECK(b->valid);
	CHECK(tcache_page_traced(&tc, 7));
	CHECK(tcache_lookup(&tc, 0x7000, 0x7000, 0, 0xffffffffu) == NULL);
	CHECK(tcache_lookup(&tc, 0x7010, 0x7010, 0, 0xffffffffu) == b);
	tcache_invalidate_block(&tc, &ibl, a);   /* gone already: nothing */
	CHECK_EQ(tc.stats.invalidations, 1);
	tcache_invalidate_block(&tc, &ibl, b);
	CHECK(!tcache_page_traced(&tc, 7));
	CHECK_EQ(tc.stats.invalidations, 2);
	CHECK_EQ(tc.stats.invalidated_blocks, 2);
}

/* Switches of one page to self-checking a reprotection round, then 2, 4
 * ... 64 rounds apart: each switch doubles the rounds until the next
 * protection, up to 64, and the page's blocks go at the last. */
static void test_selfcheck_backoff(void)
{
	reset();
	static const unsigned rounds[] = { 1, 2, 4, 8, 16, 32, 64, 64, 64 };
	for (unsigned k = 0; k < sizeof(rounds) / sizeof(rounds[0]); k++) {
		struct tblock *b = make_block(0x6000, 0x6000, 0, 16, 0);
		CHECK_EQ(sh.code_protect[6], 1);
		for (unsigned w = 0; w < 32; w++)
			tcache_note_code_write(&tc, 6);
		CHECK(tcache_page_selfcheck(&tc, 6));
		for (unsigned r = 1; r < rounds[k]; r++) {
			tcache_reprotect_selfcheck(&tc, &ibl);
			CHECK(tcache_page_selfcheck(&tc, 6));
			CHECK(b->valid);
		}
		tcache_reprotect_selfcheck(&tc, &ibl);
		CHECK(!tcache_page_selfcheck(&tc, 6));
		CHECK(!b->valid);
		CHECK_EQ(tc.selfcheck_count, 0);
	}
	CHECK_EQ(tc.stats.selfcheck_pages, 9);
	CHECK_EQ(tc.stats.selfcheck_reprotected, 9);
}

/* The lookup the emitted code makes (translate.c's emit_ibl_lookup): the
 * slot of the target, its tag against the address space's tag for the
 * mode, then against the global-page tag. */
static const uint8_t *ibl_lookup(const uint64_t *tags, const uint64_t *global_tags, uint32_t mode,
				 uint32_t eip)
{
	uint32_t i = ibl_index(eip, ibl.mix);
	uint64_t tag = ibl_tag_at(&ibl, i);
	if (tag == (tags[mode] | eip) || tag == (global_tags[mode] | eip))
		return (const uint8_t *)(uintptr_t)ibl_host_at(&ibl, i);
	return NULL;
}

static void ibl_fill(uint64_t tag_base, uint32_t eip, const struct tblock *tb)
{
	ibl_enter(&ibl, tag_base, eip, tb->host, tb->pages[1] == tb->pages[0] ? tb->gpa : IBL_GPA_NONE);
}


/* The vCPU's side of the shadow's address-space reports, as cpu.c keeps
 * it: the lookup tags per mode, for the current space and global pages. */
struct test_tags {
	uint64_t tags[IBL_MODES], global, global_tags[IBL_MODES];
};

static void test_space_changed(void *opaque, bool global, uint32_t asid)
{
	struct test_tags *t = opaque;
	if (global) {
		t->global = ibl_space_tag(asid, 0);
		ibl_set_space_tags(t->global_tags, asid);
	} else {
		ibl_set_space_tags(t->tags, asid);
	}
}

static void test_ibl(void)
{
	/* Empty to start with, and the slot a target takes. */
	unsigned empty = 0;
	for (unsigned i = 0; i < IBL_ENTRIES; i++)
		empty += ibl_tag_at(&ibl, i) == ~0ULL;
	CHECK_EQ(empty, IBL_ENTRIES);
	CHECK_EQ(ibl_index(0x00401234, false), 0x1234);
	CHECK_EQ(ibl_index(0xc0401234, false), 0x1234);
	CHECK_EQ(ibl_index(0x00401234, true), (0x1234 + 0x0040) & 0xffff);
	CHECK_EQ(ibl_index(0xc0401234, true), (0x1234 + 0xc040) & 0xffff);
	CHECK(ibl_index(0xc0101000, true) != ibl_index(0xc0111000, true));   /* 64 KiB apart */
	/* A filled slot: the tag complemented, the host address in the
	 * second array, where the emitted lookup reads them. */
	ibl_enter(&ibl, 0x0000050700000000ull, 0x00401234, (const void *)0x7f0012345678ull, 0x9234);
	uint32_t at = ibl_index(0x00401234, ibl.mix);
	CHECK_EQ(ibl.slots[at], ~0x0000050700401234ull);
	CHECK_EQ(ibl.slots[at + IBL_HOST_OFFSET / 8], 0x7f0012345678ull);
	/* The entry's block serves a miss under any other tag (asid), for
	 * the same address, mode and physical address only. */
	CHECK_EQ((uintptr_t)ibl_same_block(&ibl, 0x00401234, 7, 0x9234), 0x7f0012345678ull);
	CHECK(ibl_same_block(&ibl, 0x00401234, 7, 0xa234) == NULL);   /* mapped elsewhere */
	CHECK(ibl_same_block(&ibl, 0x00401234, 6, 0x9234) == NULL);   /* another mode */
	uint32_t other = ibl.mix ? 0x00411233 : 0x00411234;   /* another address, the same slot */
	CHECK_EQ(ibl_index(other, ibl.mix), at);
	CHECK(ibl_same_block(&ibl, other, 7, 0x9234) == NULL);
	ibl_forget(&ibl, 0x00401234, (const void *)0x7f0012345678ull);
	CHECK(ibl_same_block(&ibl, 0x00401234, 7, 0x9234) == NULL);   /* its block dropped */
	ibl_enter(&ibl, 0x0000050700000000ull, 0x00401234, (const void *)0x7f0012345678ull, IBL_GPA_NONE);
	CHECK(ibl_same_block(&ibl, 0x00401234, 7, 0x9234) == NULL);   /* a block on two pages */
	CHECK(ibl_same_block(&ibl, 0x00401234, 7, IBL_GPA_NONE) == NULL);
	ibl_enter(&ibl, 0x0000050700000000ull, 0x00401234, (const void *)0x7f0012345678ull, 0x9234);
	ibl_clear(&ibl);
	CHECK(ibl_same_block(&ibl, 0x00401234, 7, 0x9234) == NULL);   /* cleared */

	/* The tags: the shadow reports the current address space's number on
	 * each window switch, and the vCPU's tags (here, test_space_changed's,
	 * which keeps them as cpu.c does) become asid << 40 | mode << 32. */
	struct test_tags tt;
	memset(&tt, 0xff, sizeof(tt));
	tt.global = 0;
	uint64_t *tags = tt.tags, *global_tags = tt.global_tags;
	sh.space_changed = test_space_changed;
	sh.space_opaque = &tt;
	shadow_retire_global(&sh);
	uint64_t g0 = tt.global;
	CHECK(g0 != 0 && (g0 & 0xffffffffffull) == 0);
	for (uint32_t m = 0; m < IBL_MODES; m++)
		CHECK_EQ(global_tags[m], g0 | (uint64_t)m << 32);

	struct vcpu_state s;
	memset(&s, 0, sizeof(s));
	struct window *win;
	s.cr0 = CR0_PE;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK(win == &sh.identity);
	for (uint32_t m = 0; m < IBL_MODES; m++)
		CHECK_EQ(tags[m], (uint64_t)m << 32);   /* paging off: asid 0 */
	uint64_t flat[IBL_MODES];
	memcpy(flat, tags, sizeof(flat));

	/* Two address spaces (page directories at 0x10000 and 0x11000, empty:
	 * nothing is walked here) and the user view of the first. */
	s.cr0 = CR0_PE | CR0_PG;
	s.cr3 = 0x10000;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	uint64_t as1[IBL_MODES];
	memcpy(as1, tags, sizeof(as1));
	s.cr3 = 0x11000;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	uint64_t as2[IBL_MODES];
	memcpy(as2, tags, sizeof(as2));
	s.cr3 = 0x10000;
	s.cpl = 3;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	uint64_t as1u[IBL_MODES];
	memcpy(as1u, tags, sizeof(as1u));
	for (uint32_t m = 0; m < IBL_MODES; m++) {
		CHECK_EQ(as1[m] & 0xffffffffffull, (uint64_t)m << 32);
		CHECK_EQ(as2[m] & 0xffffffffffull, (uint64_t)m << 32);
	}
	uint64_t t1 = as1[0] >> 40, t2 = as2[0] >> 40, t1u = as1u[0] >> 40, tg = g0 >> 40;
	CHECK(t1 && t2 && t1u);
	CHECK(t1 != t2 && t1 != t1u && t2 != t1u && t1 != tg && t2 != tg && t1u != tg);
	/* Back to the first: the window is cached, and so is its tag. */
	s.cpl = 0;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK(!memcmp(tags, as1, sizeof(as1)));

	/* Fill and look up: the entry answers its own address space and mode
	 * only. */
	reset();
	struct tblock *k = make_block(0x00401000, 0x5000, 2, 16, 0);
	struct tblock *u = make_block(0x00401000, 0x9000, 2, 16, 0);
	ibl_fill(as1[2], 0x00401000, k);
	CHECK(ibl_lookup(as1, global_tags, 2, 0x00401000) == k->host);
	CHECK(ibl_lookup(as2, global_tags, 2, 0x00401000) == NULL);
	CHECK(ibl_lookup(as1u, global_tags, 2, 0x00401000) == NULL);
	CHECK(ibl_lookup(flat, global_tags, 2, 0x00401000) == NULL);
	CHECK(ibl_lookup(as1, global_tags, 3, 0x00401000) == NULL);
	/* Another target in the same slot: a miss, then it takes the slot. */
	uint32_t rival = ibl.mix ? 0x00401000 + 0x10000 - 1 : 0x00411000;
	CHECK_EQ(ibl_index(rival, ibl.mix), ibl_index(0x00401000, ibl.mix));
	CHECK(ibl_lookup(as1, global_tags, 2, rival) == NULL);
	/* The other space's block in the same slot replaces it. */
	ibl_fill(as2[2], 0x00401000, u);
	CHECK(ibl_lookup(as2, global_tags, 2, 0x00401000) == u->host);
	CHECK(ibl_lookup(as1, global_tags, 2, 0x00401000) == NULL);

	/* Invalidation: the entry goes with the block it points at, and only
	 * then (the slot may point at another block by now). */
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 5), 1);   /* k */
	CHECK(ibl_lookup(as2, global_tags, 2, 0x00401000) == u->host);
	CHECK_EQ(tcache_invalidate_page(&tc, &ibl, 9), 1);   /* u */
	CHECK(ibl_lookup(as2, global_tags, 2, 0x00401000) == NULL);
	CHECK_EQ(ibl_tag_at(&ibl, ibl_index(0x00401000, ibl.mix)), ~0ULL);
	/* ibl_forget of another host leaves the entry. */
	struct tblock *v = make_block(0x00401000, 0x5000, 2, 16, 0);
	ibl_fill(as1[2], 0x00401000, v);
	ibl_forget(&ibl, 0x00401000, v->host + 1);
	CHECK(ibl_lookup(as1, global_tags, 2, 0x00401000) == v->host);
	/* By linear address too. */
	CHECK_EQ(tcache_invalidate_linear(&tc, &ibl, 0x00401004), 1);
	CHECK(ibl_lookup(as1, global_tags, 2, 0x00401000) == NULL);

	/* Global pages: an entry under the global tag answers every address
	 * space, until the guest invalidates a page it was made from
	 * (INVLPG): then the global tag is retired and every global entry
	 * misses. INVLPG of another page keeps it. */
	struct tblock *gk = make_block(0xc0100000, 0x100000, 2, 16, 0);
	ibl_fill(global_tags[2], 0xc0100000, gk);
	shadow_note_global_code(&sh, 0xc0100000, 0x100, false);
	CHECK(ibl_lookup(as1, global_tags, 2, 0xc0100000) == gk->host);
	CHECK(ibl_lookup(as2, global_tags, 2, 0xc0100000) == gk->host);
	CHECK(ibl_lookup(as1u, global_tags, 2, 0xc0100000) == gk->host);
	CHECK(ibl_lookup(as1, global_tags, 1, 0xc0100000) == NULL);
	shadow_invlpg(&sh, 0xc0200000);
	CHECK_EQ(tt.global, g0);
	CHECK(ibl_lookup(as2, global_tags, 2, 0xc0100000) == gk->host);
	shadow_invlpg(&sh, 0xc0100abc);
	CHECK(tt.global != g0);
	CHECK(tt.global >> 40 != t1 && tt.global >> 40 != t2 && tt.global >> 40 != t1u);
	CHECK_EQ(global_tags[2], tt.global | 2ull << 32);
	CHECK(ibl_lookup(as1, global_tags, 2, 0xc0100000) == NULL);
	CHECK(ibl_lookup(as2, global_tags, 2, 0xc0100000) == NULL);
	/* The notes went with the tag: INVLPG of the page again retires
	 * nothing more. */
	uint64_t g1 = tt.global;
	shadow_invlpg(&sh, 0xc0100000);
	CHECK_EQ(tt.global, g1);

	/* ibl_clear empties every entry. */
	ibl_fill(as1[0], 0x1234, gk);
	ibl_fill(as2[0], 0x5678, gk);
	ibl_clear(&ibl);
	empty = 0;
	for (unsigned i = 0; i < IBL_ENTRIES; i++)
		empty += ibl_tag_at(&ibl, i) == ~0ULL;
	CHECK_EQ(empty, IBL_ENTRIES);

	/* The tags run out: every window and the global entries get new
	 * ones, still all different, and the vCPU is told to clear its table
	 * (an old entry's tag may be handed out again). */
	CHECK_EQ(sh.ibl_epoch, 0);
	for (unsigned i = 0; i < (1u << 23) && !sh.ibl_epoch; i++)
		shadow_retire_global(&sh);
	CHECK_EQ(sh.ibl_epoch, 1);
	s.cr3 = 0x11000;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	uint64_t n2 = tags[0] >> 40;
	s.cr3 = 0x10000;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	uint64_t n1 = tags[0] >> 40;
	CHECK(n1 != n2 && n1 != tt.global >> 40 && n2 != tt.global >> 40);

	s.cr0 = CR0_PE;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	sh.space_changed = NULL;
	sh.space_opaque = NULL;
}

/* Exit i of tb: a JMP rel32 at host offset off, aimed at its own stub. */
static void set_exit(struct tblock *tb, unsigned i, unsigned off, unsigned stub_off)
{
	struct exit_desc *ex = &tb->exits[i];
	tb->host[off] = 0xe9;
	ex->patch = ex->branch = tb->host + off + 1;
	ex->stub = tb->host + stub_off;
	ex->kind = EXIT_KIND_BRANCH;
	ex->from = tb;
	ex->target_eip = tb->eip + tb->guest_len + i;
	patch_rel32(ex->patch, ex->stub);
}

/* Several vCPUs (tc.concurrent): an exit whose rel32 field crosses a
 * 64-byte line is never patched, since another core could fetch half of
 * the new field; a copy of a block starts where its twin is in its line,
 * so that its exits chain as the twin's do. */
static void test_concurrent_chains(void)
{
	reset();
	struct tblock *to = make_block(0x9000, 0x9000, 0, 16, 0);
	tcache_place_like(&tc, 0);
	struct tblock *a = make_block_ex(0x8000, 0x8000, 0, 16, 0, 128, false);
	CHECK(a != NULL);
	if (!to || !a)
		return;
	CHECK_EQ((uintptr_t)a->host & 63, 0);
	set_exit(a, 0, 60, 100);   /* field 61..64: across a line */
	set_exit(a, 1, 70, 110);   /* field 71..74 */
	tcache_alloc_maps(&tc, a, 64);
	tcache_commit(&tc, a);
	CHECK(tcache_exits_straddle(a, (uintptr_t)a->host));
	CHECK(!tcache_exits_straddle(a, (uintptr_t)a->host + 16));
	CHECK(tcache_exits_straddle(a, (uintptr_t)a->host + 54));   /* 125..128 */

	tc.concurrent = true;
	tcache_chain(&tc, &a->exits[0], to, false, false);
	tcache_chain(&tc, &a->exits[1], to, false, false);
	CHECK(a->exits[0].to == NULL && rel32_target(a->exits[0].patch) == a->exits[0].stub);
	CHECK(a->exits[1].to == to && rel32_target(a->exits[1].patch) == to->host);
	/* The next block starts where like is in its line. */
	static const unsigned likes[] = { 0, 5, 16, 48, 63 };
	for (unsigned i = 0; i < sizeof(likes) / sizeof(likes[0]); i++) {
		uint8_t *code, *limit;
		struct tblock *tb = tcache_new_block(&tc, &code, &limit);
		CHECK(tb != NULL);
		if (!tb)
			return;
		tcache_restart_like(&tc, tb, (uintptr_t)a->host + likes[i]);
		tb = tcache_new_block(&tc, &code, &limit);
		CHECK(tb != NULL);
		if (!tb)
			return;
		CHECK_EQ((uintptr_t)code & 63, likes[i]);
		CHECK(!tcache_exits_straddle(a, (uintptr_t)code) || likes[i] == 0);
	}
	/* One vCPU: nothing else runs the code, any field is patched. */
	tc.concurrent = false;
	tcache_chain(&tc, &a->exits[0], to, false, false);
	CHECK(a->exits[0].to == to && rel32_target(a->exits[0].patch) == to->host);
}

int main(void)
{
	if (guest_ram_init(&ram, 16, 0) || shadow_init(&sh, &ram) ||
	    tcache_init(&tc, CODE_SIZE, ram.size, &sh) || ibl_init(&ibl)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	test_ibl();
	test_alloc();
	test_lookup();
	test_lookup_cs_limit();
	test_invalidate_page();
	test_page_lists();
	test_chaining();
	test_full();
	test_flush_clears();
	test_flush_listed_pages();
	test_loop_poll();
	test_selfcheck();
	test_selfcheck_backoff();
	test_invalidate_block();
	test_concurrent_chains();
	ibl_destroy(&ibl);
	tcache_destroy(&tc);
	shadow_destroy(&sh);
	guest_ram_destroy(&ram);
	return check_report("test_tcache");
}
