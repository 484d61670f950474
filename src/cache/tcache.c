/* Translation cache bookkeeping. Blocks are allocated in host address
 * order from one RWX buffer and one block arena, so a full flush is a
 * reset of both, and the block holding a host address is a binary search.
 * Invalidation never frees code: an invalidated block's bytes stay until
 * the next flush, so a block that invalidates itself can still finish the
 * instruction that wrote to it. */
#define _GNU_SOURCE
#include "cache/tcache.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cache/ibl.h"
#include "cache/patch.h"
#include "cache/tclog.h"
#include "mmu/shadow.h"
#include "mmu/window.h"

#define TCACHE_MAP_RESERVE 256u

_Static_assert(TCACHE_BLOCK_RESERVE - 1 <= TCACHE_RELOC_OFFSET, "a reloc offset covers a block");
_Static_assert(3 * 64 + TCACHE_MAX_RELOCS <= 2 * TCACHE_MAP_RESERVE, "maps and relocs fit the reserve");
_Static_assert(TCACHE_FIFO_UNIT >= TCACHE_BLOCK_RESERVE, "an empty fifo unit holds the largest block");

/* A code address in 32 bits for the hashes: itself below 4 GiB of memfd,
 * so the common case hashes as it did when code addresses were 32-bit. */
static uint32_t code_fold(uint64_t gpa)
{
	return (uint32_t)gpa ^ (uint32_t)(gpa >> 32);
}

/* The whole key goes in: the same physical code at many linear
 * addresses (a shared library under ASLR in every process) would
 * otherwise share one chain; hashed by gpa and mode only, a Debian boot
 * spent 6% of its time walking such chains. */
static unsigned hash_key(uint32_t eip, uint64_t gpa, uint32_t mode, unsigned mask)
{
	uint32_t h = code_fold(gpa) * 0x9e3779b1u ^ (eip >> 12) * 0xc2b2ae35u ^ mode * 0x85ebca6bu;
	return (h ^ (h >> 15)) & mask;
}

static unsigned twin_key(uint64_t gpa, uint32_t mode, unsigned mask)
{
	uint32_t h = code_fold(gpa) * 0x9e3779b1u ^ mode * 0x85ebca6bu;
	return (h ^ (h >> 15)) & mask;
}

/* Bits of the filter of evicted keys (tcache.h's evicted_keys): 2 MiB,
 * touched only once something was evicted. A process-heavy Debian
 * session evicts over a million keys, most never run again (copies of
 * libraries for processes that exited): in 2^20 bits a quarter of its
 * re-translations were other keys' bits. In 2^24 a million stale keys
 * give 6%. */
#define TCACHE_EVICTED_BITS (1u << 24)


/* The tables sized by the code arena (hundreds of MiB for a large
 * cache, most never touched) come straight from mmap: zero pages on
 * first touch, and outside the sanitizer's heap, whose poisoning of a
 * 460 MiB block array cost half a second of every start.
 *
 * A table read before it is written (the hash and the twins: every
 * lookup reads a bucket, a commit writes it) is shared anonymous memory
 * instead. A private page first read maps the host's zero page, and the
 * first write then replaces it by a copy, which flushes the old entry
 * from every host CPU running the process: with several vCPUs that is a
 * TLB shootdown IPI to the other vCPUs' cores, 5,400 of the 15,000 a
 * fork loop at two vCPUs sent (perf's tlb:tlb_flush). A shared page is
 * a real one from its first touch, read or write. */
enum table_first_touch { WRITTEN_FIRST, READ_FIRST };

static void *table_alloc(size_t count, size_t size, enum table_first_touch first)
{
	if (count && size > SIZE_MAX / count)
		return NULL;
	int flags = (first == READ_FIRST ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_NORESERVE;
	void *p = mmap(NULL, count * size, PROT_READ | PROT_WRITE, flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void table_free(void *p, size_t count, size_t size)
{
	if (p)
		munmap(p, count * size);
}

/* Unit u's slice starts (the arena and the pool split as the buffer). */
static uint64_t unit_code_start(const struct tcache *tc, unsigned u)
{
	return (uint64_t)u * tc->unit_code;
}

static unsigned unit_blocks_start(const struct tcache *tc, unsigned u)
{
	return u * tc->unit_blocks;
}

static unsigned unit_maps_start(const struct tcache *tc, unsigned u)
{
	return u * tc->unit_maps;
}

/* Makes unit u the one being filled: the cursors at its start (it is
 * empty) and the limits at its end. */
static void start_unit(struct tcache *tc, unsigned u)
{
	tc->cur_unit = u;
	tc->code_used = unit_code_start(tc, u);
	tc->block_start = tc->code_used;
	tc->nblocks = unit_blocks_start(tc, u);
	tc->map_used = unit_maps_start(tc, u);
	tc->code_limit = tc->code_used + tc->unit_code;
	tc->blocks_limit = tc->nblocks + tc->unit_blocks;
	tc->maps_limit = tc->map_used + tc->unit_maps;
}

/* Every unit empty, n of them over code_size bytes (the arena and pool
 * as they are), unit 0 being filled. */
static void set_units(struct tcache *tc, unsigned n, uint64_t unit_code)
{
	tc->nunits = n;
	tc->unit_code = unit_code;
	tc->unit_blocks = tc->max_blocks / n;
	tc->unit_maps = tc->map_size / n;
	if (tc->units)
		for (unsigned u = 0; u < n; u++)
			tc->units[u] = (struct tcache_unit){ unit_code_start(tc, u), unit_blocks_start(tc, u),
							     unit_maps_start(tc, u) };
	start_unit(tc, 0);
	tc->nglobal_chains = 0;   /* every block is gone */
	tc->adapt.ring[0] = 0;
	tc->adapt.nring = 1;
	tc->adapt.base_blocks = tc->stats.blocks;
	tc->adapt.base_retranslations = tc->stats.retranslations;
}

int tcache_init(struct tcache *tc, uint64_t code_size, uint64_t ram_size, struct shadow *sh)
{
	memset(tc, 0, sizeof(*tc));
	tc->sh = sh;
	tc->code = mmap(NULL, code_size, PROT_READ | PROT_WRITE | PROT_EXEC,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (tc->code == MAP_FAILED) {
		tc->code = NULL;
		return -errno;
	}
	tc->code_size = code_size;
	/* Blocks average about 240 host bytes (a Debian boot): room for
	 * twice as many as fit, and instruction maps for ~8 instructions a
	 * block on average (a block keeps only what it uses). */
	tc->max_blocks = (unsigned)(code_size / 128);
	tc->hash_mask = 1;
	while (tc->hash_mask < tc->max_blocks)
		tc->hash_mask <<= 1;
	tc->hash_mask -= 1;
	tc->map_size = (unsigned)(code_size / 8);
	tc->npages = (unsigned)(ram_size / GUEST_PAGE_SIZE);
	tc->hash = table_alloc((size_t)tc->hash_mask + 1, sizeof(*tc->hash), READ_FIRST);
	tc->twins = table_alloc((size_t)tc->hash_mask + 1, sizeof(*tc->twins), READ_FIRST);
	tc->blocks = table_alloc(tc->max_blocks, sizeof(*tc->blocks), WRITTEN_FIRST);
	tc->map_pool = table_alloc(tc->map_size, sizeof(*tc->map_pool), WRITTEN_FIRST);
	tc->page_heads = calloc(tc->npages, sizeof(*tc->page_heads));
	tc->page_traced = calloc(tc->npages, 1);
	tc->listed_pages = calloc(tc->npages, sizeof(*tc->listed_pages));
	tc->page_listed = calloc(tc->npages, 1);
	tc->page_selfcheck = calloc(tc->npages, 1);
	tc->page_selfcheck_switches = calloc(tc->npages, 1);
	tc->page_code_writes = calloc(tc->npages, sizeof(*tc->page_code_writes));
	tc->evicted_keys = table_alloc(TCACHE_EVICTED_BITS / 64, sizeof(*tc->evicted_keys), READ_FIRST);
	tc->units = calloc(1, sizeof(*tc->units));
	set_units(tc, 1, code_size);
	if (!tc->hash || !tc->twins || !tc->blocks || !tc->map_pool || !tc->page_heads || !tc->page_traced ||
	    !tc->listed_pages || !tc->page_listed ||
	    !tc->page_selfcheck || !tc->page_selfcheck_switches || !tc->page_code_writes ||
	    !tc->evicted_keys || !tc->units) {
		tcache_destroy(tc);
		return -ENOMEM;
	}
	return 0;
}

void tcache_destroy(struct tcache *tc)
{
	if (tc->code)
		munmap(tc->code, tc->code_size);
	table_free(tc->hash, (size_t)tc->hash_mask + 1, sizeof(*tc->hash));
	table_free(tc->twins, (size_t)tc->hash_mask + 1, sizeof(*tc->twins));
	table_free(tc->blocks, tc->max_blocks, sizeof(*tc->blocks));
	table_free(tc->map_pool, tc->map_size, sizeof(*tc->map_pool));
	free(tc->global_chains);
	free(tc->page_heads);
	free(tc->page_traced);
	free(tc->listed_pages);
	free(tc->page_listed);
	free(tc->page_selfcheck);
	free(tc->page_selfcheck_switches);
	free(tc->page_code_writes);
	table_free(tc->evicted_keys, TCACHE_EVICTED_BITS / 64, sizeof(*tc->evicted_keys));
	free(tc->units);
	memset(tc, 0, sizeof(*tc));
}

/* Which of a block's two page links is page's. */
static int page_index(const struct tblock *tb, uint32_t page)
{
	return tb->pages[0] == page ? 0 : 1;
}

/* Two DRAM misses a lookup, the bucket and then the block, made this 6%
 * of a Debian boot's host samples (4.6 million lookups, most of them
 * the indirect-branch table's fills, which want only the host code). */
static void bucket_set(struct tcache_bucket *b, struct tblock *tb)
{
	if (!tb) {
		memset(b, 0, sizeof(*b));
		return;
	}
	assert(tb->mode <= UINT16_MAX);
	*b = (struct tcache_bucket){ .tb = tb, .host = tb->host, .gpa = tb->gpa, .eip = tb->eip,
				     .mode = (uint16_t)tb->mode, .one_page = tb->pages[0] == tb->pages[1],
				     .limited = tb->cs_limit != 0xffffffffu };
}

/* Blocks translated for one code segment limit never serve another:
 * their fetches and branch targets were checked against it. */
static bool bucket_holds(const struct tcache_bucket *b, uint32_t eip, uint64_t gpa, uint32_t mode,
			 uint32_t cs_limit)
{
	return b->tb && b->gpa == gpa && b->eip == eip && b->mode == mode &&
	       (b->limited ? b->tb->cs_limit == cs_limit : cs_limit == 0xffffffffu);
}

struct tblock *tcache_lookup(struct tcache *tc, uint32_t eip, uint64_t gpa, uint32_t mode,
			     uint32_t cs_limit)
{
	tc->stats.lookups++;
	struct tcache_bucket *b = &tc->hash[hash_key(eip, gpa, mode, tc->hash_mask)];
	if (bucket_holds(b, eip, gpa, mode, cs_limit)) {
		tc->stats.hits++;
		return b->tb;
	}
	for (struct tblock *tb = b->tb ? b->tb->hash_next : NULL; tb; tb = tb->hash_next) {
		if (tb->gpa == gpa && tb->eip == eip && tb->mode == mode && tb->cs_limit == cs_limit) {
			tc->stats.hits++;
			return tb;
		}
	}
	return NULL;
}

uint8_t *tcache_lookup_host(struct tcache *tc, uint32_t eip, uint64_t gpa, uint32_t mode,
			    uint32_t cs_limit)
{
	struct tcache_bucket *b = &tc->hash[hash_key(eip, gpa, mode, tc->hash_mask)];
	if (bucket_holds(b, eip, gpa, mode, cs_limit)) {
		tc->stats.lookups++;
		tc->stats.hits++;
		return b->one_page ? b->host : NULL;
	}
	struct tblock *tb = tcache_lookup(tc, eip, gpa, mode, cs_limit);
	return tb && tb->pages[0] == tb->pages[1] ? tb->host : NULL;
}

struct tblock *tcache_twin(struct tcache *tc, uint64_t gpa, uint32_t mode)
{
	/* A dropped block stays in the arena until the flush, which empties
	 * this table: the pointer is always safe to look at. */
	struct tblock *tb = tc->twins[twin_key(gpa, mode, tc->hash_mask)];
	if (tb && tb->valid && tb->gpa == gpa && tb->mode == mode)
		return tb;
	return NULL;
}

/* The room a block may start in. */
static uint64_t block_start_room(const struct tcache *tc)
{
	return tc->policy == TCACHE_POLICY_FLUSH ? TCACHE_BLOCK_RESERVE : TCACHE_UNIT_MIN_ROOM;
}

struct tblock *tcache_new_block(struct tcache *tc, uint8_t **code, uint8_t **limit)
{
	/* Under flush a block starts only with the whole reserve free, as
	 * ever; a unit is filled closer to its end, a block that does not
	 * fit going to the next unit (-ENOSPC, tcache_make_room). */
	assert(tc->code_used <= tc->code_limit);
	uint64_t room = tc->code_limit - tc->code_used;
	uint64_t need = block_start_room(tc);
	if (tc->nblocks == tc->blocks_limit || room < need || tc->maps_limit - tc->map_used < 2 * TCACHE_MAP_RESERVE)
		return NULL;
	struct tblock *tb = &tc->blocks[tc->nblocks];
	memset(tb, 0, sizeof(*tb));
	tb->cs_limit = 0xffffffffu;   /* flat until its translator says */
	*code = tc->code + tc->code_used;
	*limit = *code + (room < TCACHE_BLOCK_RESERVE ? room : TCACHE_BLOCK_RESERVE);
	return tb;
}

bool tcache_room_for_two(const struct tcache *tc, uint32_t code)
{
	/* Each placed anywhere in a line, the second started as
	 * tcache_new_block starts one. */
	uint64_t need = 2 * ((uint64_t)code + TCACHE_LINE) + block_start_room(tc);
	return tc->nblocks + 2 <= tc->blocks_limit && tc->code_limit - tc->code_used >= need &&
	       tc->maps_limit - tc->map_used >= 4 * TCACHE_MAP_RESERVE;
}

void tcache_alloc_maps(struct tcache *tc, struct tblock *tb, unsigned max_insns)
{
	assert(2 * max_insns <= 2 * TCACHE_MAP_RESERVE && tc->map_used + 2 * max_insns <= tc->maps_limit);
	tb->map_host = tc->map_pool + tc->map_used;
	tb->map_guest = tb->map_host + max_insns;
	tc->map_used += 2 * max_insns;
}

/* A loop's code on as few host lines as it can be: Zen 4 fetches and
 * caches decoded instructions by 64-byte line, and a loop of a few
 * instructions that straddled two ran a fifth slower (bare-metal matmul
 * 0.80 s against 0.65). Only loops move: every block on a line's start
 * made a Debian boot slower (8.87 s against 8.40, its code 13% larger). */
#define LOOP_MAX_LEN 256u

bool tcache_loop_straddles(const struct tblock *tb, uintptr_t at)
{
	unsigned off = (unsigned)(at & (TCACHE_LINE - 1));
	if (!off)
		return false;
	for (unsigned i = 0; i < TBLOCK_MAX_EXITS; i++) {
		const struct exit_desc *x = &tb->exits[i];
		if (!x->branch || x->kind != EXIT_KIND_BRANCH || x->target_eip != tb->eip)
			continue;
		size_t len = (size_t)(x->branch + 4 - tb->host);
		if (len <= LOOP_MAX_LEN && (off + len + TCACHE_LINE - 1) / TCACHE_LINE > (len + TCACHE_LINE - 1) / TCACHE_LINE)
			return true;
	}
	return false;
}

/* Whether to rewrite the rel32 field at field is safe while another core
 * runs it: one store within a 64-byte line is atomic (SDM vol. 3 9.1.1),
 * and the fetch of a line sees it before or after, as QEMU's chaining
 * relies on too. */
static bool patch_is_one_store(const uint8_t *field)
{
	return ((uintptr_t)field & 63) <= 60;
}

bool tcache_exits_straddle(const struct tblock *tb, uintptr_t at)
{
	for (unsigned i = 0; i < TBLOCK_MAX_EXITS; i++) {
		const struct exit_desc *x = &tb->exits[i];
		if (x->branch && x->kind == EXIT_KIND_BRANCH &&
		    !patch_is_one_store((const uint8_t *)at + (x->branch - tb->host)))
			return true;
	}
	return false;
}

/* Never past the unit's end: a block committed up to it (a copy that
 * --clone-check then translates anew) leaves less than a line, and the
 * next block's room, code_limit - code_used, would wrap to a huge one;
 * the fresh translation then went past the unit into the next unit's
 * live code or, from the last, past the buffer into the heap. At the
 * end, tcache_new_block finds no room and the translation is made again
 * after tcache_make_room. */
void tcache_place_like(struct tcache *tc, uintptr_t like)
{
	uintptr_t at = (uintptr_t)tc->code + tc->code_used;
	uint64_t skip = (like - at) & (TCACHE_LINE - 1);
	tc->code_used = skip > tc->code_limit - tc->code_used ? tc->code_limit : tc->code_used + skip;
}

void tcache_restart_like(struct tcache *tc, struct tblock *tb, uintptr_t like)
{
	assert(tb == &tc->blocks[tc->nblocks]);
	if (tb->map_host)
		tc->map_used = (unsigned)(tb->map_host - tc->map_pool);
	tcache_place_like(tc, like);
}

void tcache_restart_aligned(struct tcache *tc, struct tblock *tb)
{
	tcache_restart_like(tc, tb, 0);
}

/* Write faults on one code page before it turns self-checking. */
#define TCACHE_SELFCHECK_WRITES 32
/* A page stays self-checking 1, 2, 4 ... 64 reprotection rounds. */
#define TCACHE_SELFCHECK_MAX_DOUBLINGS 7u

static void trace_page(struct tcache *tc, uint32_t page, bool traced)
{
	if (page >= tc->npages || tc->page_traced[page] == traced)
		return;
	tc->page_traced[page] = traced;
	if (traced && !tc->page_listed[page]) {
		tc->page_listed[page] = 1;
		tc->listed_pages[tc->nlisted_pages++] = page;
	}
	if (tcache_page_selfcheck(tc, page))
		return;   /* never write-protected: its blocks check themselves */
	shadow_protect_code(tc->sh, page, traced);
}

static uint32_t evicted_bit(const struct tblock *tb)
{
	return hash_key(tb->eip, tb->gpa, tb->mode, TCACHE_EVICTED_BITS - 1);
}

static void evicted_set(struct tcache *tc, const struct tblock *tb)
{
	uint32_t bit = evicted_bit(tb);
	tc->evicted_keys[bit / 64] |= 1ull << (bit % 64);
}

/* Whether tb's key was evicted (or one that shares its bit); the bit is
 * cleared, so a key counts once per eviction. */
static bool evicted_test_clear(struct tcache *tc, const struct tblock *tb)
{
	uint32_t bit = evicted_bit(tb);
	uint64_t mask = 1ull << (bit % 64);
	bool was = (tc->evicted_keys[bit / 64] & mask) != 0;
	tc->evicted_keys[bit / 64] &= ~mask;
	return was;
}

void tcache_commit(struct tcache *tc, struct tblock *tb)
{
	assert(tb == &tc->blocks[tc->nblocks]);
	/* The maps were sized for the longest block and are the arena's last
	 * allocation; a block is a few instructions, so it keeps what it
	 * used (taking 128 entries each, the arena filled at an eighth of
	 * the buffer and flushed the cache 12 times in a Debian boot). */
	assert(tb->map_guest + (tb->map_guest - tb->map_host) == tc->map_pool + tc->map_used);
	memmove(tb->map_host + tb->ninsns, tb->map_guest, tb->ninsns * sizeof(*tb->map_guest));
	tb->map_guest = tb->map_host + tb->ninsns;
	tc->map_used = (unsigned)(tb->map_guest + tb->ninsns - tc->map_pool);
	if (tb->nrelocs) {
		assert(tb->nrelocs <= TCACHE_MAX_RELOCS);
		uint16_t *own = tc->map_pool + tc->map_used;
		memcpy(own, tb->relocs, tb->nrelocs * sizeof(*own));
		tb->relocs = own;
		tc->map_used += tb->nrelocs;
	} else {
		tb->relocs = NULL;
	}
	if (tb->map_esp) {
		int16_t *own = (int16_t *)(tc->map_pool + tc->map_used);
		memcpy(own, tb->map_esp, tb->ninsns * sizeof(*own));
		tb->map_esp = own;
		tc->map_used += tb->ninsns;
	}
	tc->nblocks++;
	tc->code_used += (tb->host_len + 15) & ~15u;
	tb->valid = true;
	if (tc->log)
		tb->log_key = tclog_translate(tc->log, tb->eip, tb->gpa, tb->mode, tb->cs_limit,
					      (tb->host_len + 15) & ~15u,
					      (uint32_t)(tc->code_used - tc->block_start - ((tb->host_len + 15) & ~15u)));
	/* Set here, not by tcache_new_block: a restart for alignment calls
	 * that again past the skip, which is this block's pad. */
	tc->block_start = tc->code_used;
	struct tcache_bucket *b = &tc->hash[hash_key(tb->eip, tb->gpa, tb->mode, tc->hash_mask)];
	tb->hash_next = b->tb;
	bucket_set(b, tb);
	if (tb->clonable)
		tc->twins[twin_key(tb->gpa, tb->mode, tc->hash_mask)] = tb;
	for (int i = 0; i < 2; i++) {
		if (i == 1 && tb->pages[1] == tb->pages[0])
			break;
		uint32_t page = tb->pages[i];
		if (page < tc->npages) {
			struct tblock *next = tc->page_heads[page];
			tb->page_next[i] = next;
			if (next)
				next->page_link[page_index(next, page)] = &tb->page_next[i];
			tb->page_link[i] = &tc->page_heads[page];
			tc->page_heads[page] = tb;
			trace_page(tc, page, true);
		}
	}
	tc->stats.blocks++;
	if (tb->trace) {
		tc->stats.traces++;
		tc->stats.trace_bytes += tb->host_len;
	}
	tc->stats.guest_insns += tb->ninsns;
	tc->stats.translated_bytes += tb->host_len;
	tc->live_bytes += tb->host_len;
	if (tc->stats.evictions && evicted_test_clear(tc, tb))
		tc->stats.retranslations++;
}

/* Whether to starts past the end of from, in the same guest page. The
 * attention poll is at every block entry, but a chained branch of this
 * kind skips it: any loop of guest code still takes some other edge (a
 * branch backward or to another page, an indirect branch or a lookup,
 * all of which enter through the poll), and a run of forward branches
 * within one page ends within that page, so attention waits at most a
 * page's worth of instructions. */
static bool forward_in_page(const struct tblock *from, const struct tblock *to)
{
	uint32_t end = from->eip + from->guest_len;
	return end > from->eip && to->eip >= end && to->eip / GUEST_PAGE_SIZE == from->eip / GUEST_PAGE_SIZE;
}

/* Whether every page to was translated from is one of from's, at the same
 * linear page: wherever from runs, to's code is then mapped as it was when
 * translated (the mapping of the page a block runs from is checked where it
 * is entered by a lookup). Else a branch from one to the other may lead
 * elsewhere in another address space, and looks its target up. */
static bool pages_cover(const struct tblock *from, const struct tblock *to)
{
	uint32_t page = from->eip / GUEST_PAGE_SIZE, to_page = to->eip / GUEST_PAGE_SIZE;
	if (to->pages[1] == to->pages[0])
		return (to_page == page && to->pages[0] == from->pages[0]) ||
		       (from->spans && to_page == page + 1 && to->pages[0] == from->pages[1]);
	return to->spans && from->spans && to_page == page && to->pages[0] == from->pages[0] &&
	       to->pages[1] == from->pages[1];
}

static void unlist_exit(struct exit_desc *ex);

bool tcache_chain_crosses(const struct tblock *from, const struct tblock *to)
{
	return !pages_cover(from, to);
}

/* At most this many listed chains to global code (8 MiB of list); past
 * it such branches take their lookups, as before there were any. */
#define GLOBAL_CHAINS_MAX (1u << 20)

/* Lists exit as chained to global code; false when the list cannot grow
 * (then it is not chained that way). An exit flagged global is listed
 * already. When the list is full, entries of exits unchained since, or
 * of dropped blocks, go (their flags cleared), so that an exit chained,
 * unchained by its target's drop and chained again is listed once. */
static bool note_global_chain(struct tcache *tc, struct exit_desc *exit)
{
	if (exit->global) {
		tc->stats.global_chains++;
		return true;
	}
	if (tc->nglobal_chains == tc->global_chains_cap) {
		unsigned kept = 0;
		for (unsigned i = 0; i < tc->nglobal_chains; i++) {
			struct exit_desc *ex = tc->global_chains[i];
			if (ex->global && ex->to)
				tc->global_chains[kept++] = ex;
			else
				ex->global = false;
		}
		tc->nglobal_chains = kept;
	}
	if (tc->nglobal_chains == tc->global_chains_cap) {
		if (tc->global_chains_cap >= GLOBAL_CHAINS_MAX)
			return false;
		unsigned cap = tc->global_chains_cap ? 2 * tc->global_chains_cap : 1024;
		struct exit_desc **grown = realloc(tc->global_chains, cap * sizeof(*grown));
		if (!grown)
			return false;
		tc->global_chains = grown;
		tc->global_chains_cap = cap;
	}
	tc->global_chains[tc->nglobal_chains++] = exit;
	exit->global = true;
	tc->stats.global_chains++;
	return true;
}

void tcache_unchain_global(struct tcache *tc)
{
	for (unsigned i = 0; i < tc->nglobal_chains; i++) {
		struct exit_desc *ex = tc->global_chains[i];
		if (!ex->global)
			continue;
		ex->global = false;
		if (!ex->to)
			continue;
		patch_rel32(ex->patch, ex->stub);
		unlist_exit(ex);
		tc->stats.unchains++;
		tc->stats.global_unchains++;
	}
	tc->nglobal_chains = 0;
}

void tcache_chain(struct tcache *tc, struct exit_desc *exit, struct tblock *to, bool paging,
		  bool to_global)
{
	if (!exit->patch || exit->to || !to->valid || !exit->from->valid)
		return;
	if (tc->concurrent && !patch_is_one_store(exit->patch))
		return;   /* left to its exit stub: never patched while another vCPU may run it */
	const struct tblock *from = exit->from;
	/* Code mapped global is the same in every address space until the
	 * guest invalidates it (the TLB may keep such an entry across CR3
	 * loads): the chain is what the stub's lookup under the global tag
	 * would find, without the lookup. */
	if (paging && !pages_cover(from, to) && !(to_global && note_global_chain(tc, exit))) {
		if (exit->ibl_stub) {
			patch_rel32(exit->patch, exit->ibl_stub);
			exit->patch = NULL;   /* for good: the stub is always right */
			tc->stats.ibl_links++;
		}
		return;
	}
	bool past_poll = forward_in_page(from, to) && !to->loop_exit;
	unsigned index = from == to ? (unsigned)(exit - to->exits) : 0;   /* its own exits only */
	if (from == to && to->quiet && !tc->concurrent && !tc->loops_poll &&
	    (!to->loop_exit || to->loop_exit == index + 1)) {
		/* A loop inside one block: polled at its entry, and when a
		 * request finds the thread inside it (tcache_loop_poll). A
		 * branch forward into it that skipped the poll would let it
		 * loop with a request already pending: it takes the poll now. */
		for (struct exit_desc *in = to->incoming; in; in = in->next_in)
			if (in->patch)
				patch_rel32(in->patch, to->host);
		to->loop_exit = (uint8_t)(index + 1);
		past_poll = true;
	}
	patch_rel32(exit->patch, past_poll ? to->host + to->poll_len : to->host);
	exit->to = to;
	exit->next_in = to->incoming;
	to->incoming = exit;
	tc->stats.chains++;
}

static const uint8_t *rel32_target(const uint8_t *field)
{
	int32_t r;
	memcpy(&r, field, 4);
	return field + 4 + r;
}

/* tb's loop exit if it is still its own branch, chained to it, else NULL. */
static struct exit_desc *loop_live(struct tblock *tb)
{
	if (!tb->valid || !tb->loop_exit)
		return NULL;
	struct exit_desc *ex = &tb->exits[tb->loop_exit - 1];
	return ex->to == tb && ex->patch ? ex : NULL;
}

void tcache_loop_poll(struct tcache *tc, const void *rip)
{
	struct tblock *tb = tcache_find_host(tc, rip);
	struct exit_desc *ex = tb ? loop_live(tb) : NULL;
	if (!ex || rel32_target(ex->patch) == tb->host)
		return;
	patch_rel32(ex->patch, tb->host);
	if (tc->nheld_loops < sizeof(tc->held_loops) / sizeof(tc->held_loops[0]))
		tc->held_loops[tc->nheld_loops++] = (struct tcache_held_loop){ tb, tc->generation };
	/* else it keeps polling: slower, never wrong */
}

void tcache_loop_release(struct tcache *tc)
{
	for (unsigned i = 0; i < tc->nheld_loops; i++) {
		struct tblock *tb = tc->held_loops[i].tb;
		struct exit_desc *ex = tc->held_loops[i].generation == tc->generation ? loop_live(tb) : NULL;
		if (ex)
			patch_rel32(ex->patch, tb->host + tb->poll_len);
	}
	tc->nheld_loops = 0;
}

static void unlink_hash(struct tcache *tc, struct tblock *tb)
{
	struct tcache_bucket *b = &tc->hash[hash_key(tb->eip, tb->gpa, tb->mode, tc->hash_mask)];
	if (b->tb == tb) {
		bucket_set(b, tb->hash_next);
		return;
	}
	struct tblock **pp = b->tb ? &b->tb->hash_next : NULL;
	while (pp && *pp && *pp != tb)
		pp = &(*pp)->hash_next;
	if (pp && *pp)
		*pp = tb->hash_next;
}

static void unlink_page(struct tcache *tc, struct tblock *tb, int which)
{
	uint32_t page = tb->pages[which];
	if (page >= tc->npages || !tb->page_link[which])
		return;
	assert(*tb->page_link[which] == tb);
	struct tblock *next = tb->page_next[which];
	*tb->page_link[which] = next;
	if (next)
		next->page_link[page_index(next, page)] = tb->page_link[which];
	tb->page_link[which] = NULL;
	tb->page_next[which] = NULL;
}

/* Takes exit ex, chained, out of its target's incoming list. */
static void unlist_exit(struct exit_desc *ex)
{
	struct exit_desc **pp = &ex->to->incoming;
	while (*pp && *pp != ex)
		pp = &(*pp)->next_in;
	if (*pp)
		*pp = ex->next_in;
	ex->to = NULL;
}

void tcache_unchain_exits(struct tcache *tc, struct tblock *tb)
{
	for (unsigned i = 0; i < TBLOCK_MAX_EXITS; i++) {
		struct exit_desc *ex = &tb->exits[i];
		if (!ex->to)
			continue;
		patch_rel32(ex->patch, ex->stub);
		unlist_exit(ex);
		tc->stats.unchains++;
	}
}

void tcache_supersede(struct tcache *tc, struct ibl_table *ibl, struct tblock *old)
{
	for (struct exit_desc *in = old->incoming; in; in = in->next_in) {
		patch_rel32(in->patch, in->stub);
		in->to = NULL;
		tc->stats.unchains++;
	}
	old->incoming = NULL;
	ibl_forget(ibl, old->eip, old->host);
	for (unsigned i = 0; i < tc->nibls; i++)
		if (tc->ibls[i] != ibl)
			ibl_forget(tc->ibls[i], old->eip, old->host);
}

/* evicted: for room, counted apart from the invalidations. */
static void drop_block(struct tcache *tc, struct ibl_table *ibl, struct tblock *tb, bool evicted)
{
	tb->valid = false;
	assert(tc->live_bytes >= tb->host_len);
	tc->live_bytes -= tb->host_len;
	unlink_hash(tc, tb);
	/* Point every exit chained into this block back at its own stub. */
	for (struct exit_desc *in = tb->incoming; in; in = in->next_in) {
		patch_rel32(in->patch, in->stub);
		in->to = NULL;
		tc->stats.unchains++;
		if (evicted)
			tc->stats.evict_unchains++;
	}
	tb->incoming = NULL;
	/* Exits of this block chained elsewhere: remove them from the
	 * targets' incoming lists so a later unchain does not patch dead code
	 * (and their global-chain entries, if any, now lead nowhere). */
	for (unsigned i = 0; i < TBLOCK_MAX_EXITS; i++) {
		struct exit_desc *ex = &tb->exits[i];
		if (ex->to)
			unlist_exit(ex);
		ex->global = false;
	}
	ibl_forget(ibl, tb->eip, tb->host);
	for (unsigned i = 0; i < tc->nibls; i++)
		if (tc->ibls[i] != ibl)
			ibl_forget(tc->ibls[i], tb->eip, tb->host);
	if (evicted)
		tc->stats.evicted_blocks++;
	else
		tc->stats.invalidated_blocks++;
	/* Evictions are the policy's own, which the log's reader simulates
	 * itself; an invalidation is the guest's doing, in any cache. */
	if (tc->log && !evicted)
		tclog_invalidate(tc->log, tb->log_key);
}

/* Takes a dropped block off its pages' lists; a page left without blocks
 * is no longer traced (its write protection for code goes). */
static void unlink_pages(struct tcache *tc, struct tblock *tb)
{
	for (int i = 0; i < 2; i++) {
		if (i == 1 && tb->pages[1] == tb->pages[0])
			break;
		unlink_page(tc, tb, i);
		if (tb->pages[i] < tc->npages && !tc->page_heads[tb->pages[i]])
			trace_page(tc, tb->pages[i], false);
	}
}

unsigned tcache_invalidate_page(struct tcache *tc, struct ibl_table *ibl, uint32_t page)
{
	unsigned n = 0;
	if (page >= tc->npages)
		return 0;
	while (tc->page_heads[page]) {
		struct tblock *tb = tc->page_heads[page];
		unlink_pages(tc, tb);
		drop_block(tc, ibl, tb, false);
		n++;
	}
	trace_page(tc, page, false);
	tc->stats.invalidations++;
	return n;
}

void tcache_invalidate_block(struct tcache *tc, struct ibl_table *ibl, struct tblock *tb)
{
	if (!tb->valid)
		return;
	unlink_pages(tc, tb);
	drop_block(tc, ibl, tb, false);
	tc->stats.invalidations++;
}

unsigned tcache_invalidate_gpa(struct tcache *tc, struct ibl_table *ibl, uint64_t gpa)
{
	unsigned n = 0;
	if (gpa / GUEST_PAGE_SIZE >= tc->npages)
		return 0;
	uint32_t page = (uint32_t)(gpa / GUEST_PAGE_SIZE);
	struct tblock **pp = &tc->page_heads[page];
	while (*pp) {
		struct tblock *tb = *pp;
		uint32_t len = tb->guest_len ? tb->guest_len : 1;
		if (tb->pages[0] == tb->pages[1] && gpa - tb->gpa >= len) {
			pp = &tb->page_next[0];
			continue;
		}
		unlink_pages(tc, tb);   /* *pp is the next block now */
		drop_block(tc, ibl, tb, false);
		n++;
	}
	tc->stats.invalidations++;
	return n;
}

unsigned tcache_invalidate_linear(struct tcache *tc, struct ibl_table *ibl, uint32_t eip)
{
	/* Blocks are found by physical page, and the same linear address
	 * is other code in each address space: a scan of the arena, made
	 * only when a debugger sets or clears a breakpoint. */
	unsigned n = 0;
	for (unsigned u = 0; u < tc->nunits; u++) {
		unsigned end = u == tc->cur_unit ? tc->nblocks : tc->units[u].blocks_end;
		for (unsigned i = unit_blocks_start(tc, u); i < end; i++) {
			struct tblock *tb = &tc->blocks[i];
			uint32_t len = tb->guest_len ? tb->guest_len : 1;
			if (!tb->valid || eip - tb->eip >= len)
				continue;
			unlink_pages(tc, tb);
			drop_block(tc, ibl, tb, false);
			n++;
		}
	}
	tc->stats.invalidations++;
	return n;
}

void tcache_add_ibl(struct tcache *tc, struct ibl_table *ibl)
{
	assert(tc->nibls < TCACHE_MAX_VCPUS);
	tc->ibls[tc->nibls++] = ibl;
}

/* No block committed in any unit since the last flush. */
/* Empties the hash and the twins before a flush. Only a committed block
 * enters them, and an eviction takes its unit's blocks out, so every slot
 * in use is the slot of a block the units still list (valid or dropped
 * since). With few of those, only their slots are cleared: the whole
 * tables are 40 MiB at the default size, and clearing them faulted in
 * 10,000 untouched pages at a guest's first CR0 or CR4 write (20 ms of a
 * 36 ms bench start, --iters 1) and wrote 40 MiB at every later flush. */
static void clear_tables(struct tcache *tc)
{
	size_t slots = (size_t)tc->hash_mask + 1, used = 0;
	for (unsigned u = 0; u < tc->nunits; u++)
		used += (u == tc->cur_unit ? tc->nblocks : tc->units[u].blocks_end) - unit_blocks_start(tc, u);
	if (used > slots / 16) {
		memset(tc->hash, 0, slots * sizeof(*tc->hash));
		memset(tc->twins, 0, slots * sizeof(*tc->twins));
		return;
	}
	for (unsigned u = 0; u < tc->nunits; u++) {
		unsigned end = u == tc->cur_unit ? tc->nblocks : tc->units[u].blocks_end;
		for (unsigned i = unit_blocks_start(tc, u); i < end; i++) {
			const struct tblock *tb = &tc->blocks[i];
			bucket_set(&tc->hash[hash_key(tb->eip, tb->gpa, tb->mode, tc->hash_mask)], NULL);
			tc->twins[twin_key(tb->gpa, tb->mode, tc->hash_mask)] = NULL;
		}
	}
}

/* Drops everything (tcache_flush, and the flush policy's room). */
static void flush_all(struct tcache *tc, struct ibl_table *ibl)
{
	for (unsigned i = 0; i < tc->nlisted_pages; i++) {
		uint32_t p = tc->listed_pages[i];
		tc->page_heads[p] = NULL;
		trace_page(tc, p, false);
		tc->page_listed[p] = 0;
	}
	tc->nlisted_pages = 0;
	clear_tables(tc);
	ibl_clear(ibl);
	for (unsigned i = 0; i < tc->nibls; i++)
		if (tc->ibls[i] != ibl)
			ibl_clear(tc->ibls[i]);
	set_units(tc, tc->nunits, tc->unit_code);
	tc->live_bytes = 0;
	tc->flush_pending = false;
	tc->room_pending = false;
	tc->generation++;
	tc->stats.flushes++;
}

void tcache_flush(struct tcache *tc, struct ibl_table *ibl)
{
	if (tc->log)
		tclog_event(tc->log, TCLOG_EVENT_FLUSH);
	flush_all(tc, ibl);
}

struct tblock *tcache_find_host(struct tcache *tc, const void *addr)
{
	const uint8_t *a = addr;
	if (a < tc->code || a >= tc->code + (uint64_t)tc->nunits * tc->unit_code)
		return NULL;
	/* Blocks are in host address order within their unit. */
	unsigned u = (unsigned)((uint64_t)(a - tc->code) / tc->unit_code);
	unsigned lo = unit_blocks_start(tc, u);
	unsigned hi = u == tc->cur_unit ? tc->nblocks : tc->units[u].blocks_end;
	if (u == tc->cur_unit && a >= tc->code + tc->code_used)
		return NULL;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		struct tblock *tb = &tc->blocks[mid];
		if (a < tb->host)
			hi = mid;
		else if (a >= tb->host + tb->host_len)
			lo = mid + 1;
		else
			return tb;
	}
	return NULL;
}

bool tcache_page_selfcheck(const struct tcache *tc, uint32_t page)
{
	return page < tc->npages && (tc->selfcheck_all || tc->page_selfcheck[page]);
}

void tcache_reprotect_selfcheck(struct tcache *tc, struct ibl_table *ibl)
{
	for (uint32_t p = 0; p < tc->npages && tc->selfcheck_count; p++) {
		if (!tc->page_selfcheck[p] || --tc->page_selfcheck[p])
			continue;
		tcache_invalidate_page(tc, ibl, p);
		tc->page_selfcheck[p] = 0;
		tc->page_code_writes[p] = 0;
		tc->selfcheck_count--;
		tc->stats.selfcheck_reprotected++;
	}
}

void tcache_note_code_write(struct tcache *tc, uint32_t page)
{
	if (page >= tc->npages || tcache_page_selfcheck(tc, page))
		return;
	if (++tc->page_code_writes[page] < TCACHE_SELFCHECK_WRITES)
		return;
	/* Data beside code, or code rewritten again and again: a host fault
	 * per write costs far more than a compare at each block entry. */
	shadow_protect_code(tc->sh, page, false);
	unsigned switches = tc->page_selfcheck_switches[page];
	if (switches < TCACHE_SELFCHECK_MAX_DOUBLINGS)
		tc->page_selfcheck_switches[page] = (uint8_t)++switches;
	tc->page_selfcheck[page] = (uint8_t)(1u << (switches - 1));
	tc->selfcheck_count++;
	tc->stats.selfcheck_pages++;
}

void tcache_code_written(struct tcache *tc, struct ibl_table *ibl, uint32_t page)
{
	tcache_invalidate_page(tc, ibl, page);
	tcache_note_code_write(tc, page);
}

bool tcache_page_traced(const struct tcache *tc, uint32_t page)
{
	return page < tc->npages && tc->page_traced[page];
}

int tcache_parse_policy(const char *s, enum tcache_policy *policy, unsigned *nunits)
{
	*nunits = 1;
	if (!strcmp(s, "flush")) {
		*policy = TCACHE_POLICY_FLUSH;
		return 0;
	}
	if (!strcmp(s, "fifo")) {
		*policy = TCACHE_POLICY_FIFO;
		return 0;
	}
	uint64_t min_bytes, max_bytes;
	if (!tcache_parse_adaptive(s, &min_bytes, &max_bytes)) {
		*policy = TCACHE_POLICY_ADAPTIVE;
		return 0;
	}
	if (strncmp(s, "units:", 6))
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long n = strtoul(s + 6, &end, 10);
	if (errno || end == s + 6 || *end || n < 2 || n > TCACHE_MAX_UNITS)
		return -EINVAL;
	*policy = TCACHE_POLICY_UNITS;
	*nunits = (unsigned)n;
	return 0;
}

/* Splits the empty cache's buffer into nunits units of unit_code bytes
 * from its start (their arena and pool slices with them). */
static int split_units(struct tcache *tc, enum tcache_policy policy, unsigned nunits, uint64_t unit_code)
{
	/* Slices of the arena and pool run out in their own units, where one
	 * buffer would have lent to another: twice the slots, twice the maps
	 * (address space only until used). */
	unsigned max_blocks = (unsigned)(tc->code_size / 64), map_size = (unsigned)(tc->code_size / 4);
	struct tblock *blocks = table_alloc(max_blocks, sizeof(*blocks), WRITTEN_FIRST);
	uint16_t *map_pool = table_alloc(map_size, sizeof(*map_pool), WRITTEN_FIRST);
	struct tcache_unit *units = calloc(nunits, sizeof(*units));
	if (!blocks || !map_pool || !units) {
		table_free(blocks, max_blocks, sizeof(*blocks));
		table_free(map_pool, map_size, sizeof(*map_pool));
		free(units);
		return -ENOMEM;
	}
	table_free(tc->blocks, tc->max_blocks, sizeof(*tc->blocks));
	table_free(tc->map_pool, tc->map_size, sizeof(*tc->map_pool));
	free(tc->units);
	tc->blocks = blocks;
	tc->max_blocks = max_blocks;
	tc->map_pool = map_pool;
	tc->map_size = map_size;
	tc->units = units;
	tc->policy = policy;
	set_units(tc, nunits, unit_code);
	return 0;
}

int tcache_set_policy(struct tcache *tc, enum tcache_policy policy, unsigned nunits)
{
	assert(tc->nblocks == 0 && tc->code_used == 0);
	if (policy == TCACHE_POLICY_FLUSH) {
		tc->policy = policy;
		return 0;
	}
	if (policy == TCACHE_POLICY_ADAPTIVE)
		return tcache_set_adaptive(tc, 0, 0);
	uint64_t unit_code;
	if (policy == TCACHE_POLICY_FIFO) {
		unit_code = TCACHE_FIFO_UNIT;
		nunits = (unsigned)(tc->code_size / unit_code);
	} else {
		if (nunits < 2 || nunits > TCACHE_MAX_UNITS)
			return -EINVAL;
		unit_code = tc->code_size / nunits & ~(uint64_t)(GUEST_PAGE_SIZE - 1);
	}
	/* An empty unit must hold the largest block, as the empty buffer
	 * does under flush. */
	if (nunits < 2 || unit_code < TCACHE_BLOCK_RESERVE)
		return -EINVAL;
	return split_units(tc, policy, nunits, unit_code);
}

int tcache_set_adaptive(struct tcache *tc, uint64_t min_bytes, uint64_t max_bytes)
{
	assert(tc->nblocks == 0 && tc->code_used == 0);
	if (!max_bytes)
		max_bytes = tc->code_size;
	if (max_bytes > tc->code_size)
		return -EINVAL;
	/* Units small enough to grow and shrink by, not smaller than a
	 * block may need: fewer of them in a small cache. */
	unsigned nunits = TCACHE_ADAPT_UNITS;
	uint64_t unit_code = max_bytes / nunits & ~(uint64_t)(GUEST_PAGE_SIZE - 1);
	if (unit_code < TCACHE_BLOCK_RESERVE) {
		unit_code = TCACHE_BLOCK_RESERVE;
		nunits = (unsigned)(max_bytes / unit_code);
	}
	if (nunits < 2)
		return -EINVAL;
	unsigned min_units = nunits / 8 ? nunits / 8 : 1;
	/* The bounds in whole units: the minimum rounded up, to at most
	 * the maximum's units (rounded down). */
	if (min_bytes)
		min_units = (unsigned)((min_bytes + unit_code - 1) / unit_code);
	if (min_units > nunits)
		min_units = nunits;
	int ret = split_units(tc, TCACHE_POLICY_ADAPTIVE, nunits, unit_code);
	if (ret)
		return ret;
	tc->adapt.min_units = tc->adapt.cap_units = min_units;
	tc->adapt.max_units = nunits;
	tc->adapt.quiet_fills = 0;
	return 0;
}

uint64_t tcache_capacity(const struct tcache *tc)
{
	if (tc->policy == TCACHE_POLICY_ADAPTIVE)
		return (uint64_t)tc->adapt.cap_units * tc->unit_code;
	return tc->policy == TCACHE_POLICY_FLUSH ? tc->code_size : (uint64_t)tc->nunits * tc->unit_code;
}

/* Drops every block of unit u (its slice is then free to fill): out of
 * the hash, the twins, every lookup table and its pages' lists, and every
 * chain into it undone. A block invalidated before is only taken out of
 * the twins (the rest was done when it was dropped). */
static void evict_unit(struct tcache *tc, struct ibl_table *ibl, unsigned u)
{
	if (tc->units[u].blocks_end == unit_blocks_start(tc, u))
		return;   /* never filled yet: nothing to count */
	for (unsigned i = unit_blocks_start(tc, u); i < tc->units[u].blocks_end; i++) {
		struct tblock *tb = &tc->blocks[i];
		struct tblock **twin = &tc->twins[twin_key(tb->gpa, tb->mode, tc->hash_mask)];
		if (*twin == tb)
			*twin = NULL;   /* its slot will hold another block */
		if (!tb->valid)
			continue;
		evicted_set(tc, tb);
		unlink_pages(tc, tb);
		drop_block(tc, ibl, tb, true);
	}
	tc->units[u] = (struct tcache_unit){ unit_code_start(tc, u), unit_blocks_start(tc, u), unit_maps_start(tc, u) };
	tc->stats.evictions++;
}

/* Gives the host the memory of a unit the adaptive policy no longer
 * holds (it is empty: evicted, and no vCPU runs translated code while
 * room is made). Only whole pages inside each slice go, so nothing of a
 * neighbouring unit does; the pages read as zeros if used again. */
static void release_unit(struct tcache *tc, unsigned u)
{
	const struct {
		uint8_t *start;
		size_t len;
	} slices[] = {
		{ tc->code + unit_code_start(tc, u), tc->unit_code },
		{ (uint8_t *)&tc->blocks[unit_blocks_start(tc, u)], tc->unit_blocks * sizeof(*tc->blocks) },
		{ (uint8_t *)&tc->map_pool[unit_maps_start(tc, u)], tc->unit_maps * sizeof(*tc->map_pool) },
	};
	for (size_t i = 0; i < sizeof(slices) / sizeof(slices[0]); i++) {
		uintptr_t lo = ((uintptr_t)slices[i].start + GUEST_PAGE_SIZE - 1) & ~(uintptr_t)(GUEST_PAGE_SIZE - 1);
		uintptr_t hi = ((uintptr_t)slices[i].start + slices[i].len) & ~(uintptr_t)(GUEST_PAGE_SIZE - 1);
		/* Advice only: a failure leaves the memory in use, no more. */
		if (hi > lo)
			(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
}

/* adaptive: the unit just filled (the ring's last) is closed. A full
 * cache judges that fill and may resize; then the oldest units are
 * evicted until the ring has room under the capacity, and the lowest
 * unit not in the ring is filled next (one just evicted, or a fresh one
 * after a grow). Units a shrink evicted and did not reuse are released. */
static void adapt_next_unit(struct tcache *tc, struct ibl_table *ibl)
{
	struct tcache_adapt *a = &tc->adapt;
	if (a->nring >= a->cap_units) {
		int d = tcache_adapt_judge(a, tc->stats.blocks - a->base_blocks,
					   tc->stats.retranslations - a->base_retranslations);
		tc->stats.grows += d > 0;
		tc->stats.shrinks += d < 0;
	}
	a->base_blocks = tc->stats.blocks;
	a->base_retranslations = tc->stats.retranslations;
	uint64_t freed = 0, held = 0;
	while (a->nring >= a->cap_units) {
		unsigned u = a->ring[0];
		evict_unit(tc, ibl, u);
		freed |= 1ull << u;
		memmove(&a->ring[0], &a->ring[1], (a->nring - 1) * sizeof(a->ring[0]));
		a->nring--;
	}
	for (unsigned i = 0; i < a->nring; i++)
		held |= 1ull << a->ring[i];
	unsigned next = 0;
	while (held >> next & 1)
		next++;
	assert(next < tc->nunits);
	a->ring[a->nring++] = next;
	start_unit(tc, next);
	freed &= ~(1ull << next);
	for (unsigned u = 0; freed; u++, freed >>= 1)
		if (freed & 1)
			release_unit(tc, u);
}

void tcache_make_room(struct tcache *tc, struct ibl_table *ibl)
{
	if (tc->policy == TCACHE_POLICY_FLUSH) {
		/* The blocks the flush throws away, for the re-translations. */
		for (unsigned i = 0; i < tc->nblocks; i++) {
			if (tc->blocks[i].valid) {
				evicted_set(tc, &tc->blocks[i]);
				tc->stats.evicted_blocks++;
			}
		}
		tc->stats.evictions++;
		if (tc->log)
			tclog_event(tc->log, TCLOG_EVENT_ROOM);
		flush_all(tc, ibl);
		return;
	}
	tc->units[tc->cur_unit] = (struct tcache_unit){ tc->code_used, tc->nblocks, tc->map_used };
	if (tc->log)
		tclog_event(tc->log, TCLOG_EVENT_ROOM);
	if (tc->policy == TCACHE_POLICY_ADAPTIVE) {
		adapt_next_unit(tc, ibl);
	} else {
		unsigned next = (tc->cur_unit + 1) % tc->nunits;
		evict_unit(tc, ibl, next);
		start_unit(tc, next);
	}
	tc->room_pending = false;
	tc->generation++;
}

uint64_t tcache_code_bytes(const struct tcache *tc)
{
	uint64_t used = 0;
	for (unsigned u = 0; u < tc->nunits; u++)
		used += (u == tc->cur_unit ? tc->code_used : tc->units[u].code_end) - unit_code_start(tc, u);
	return used;
}
