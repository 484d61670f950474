/* The translation cache: the code buffer, the blocks translated into it,
 * lookup by (guest physical address, mode), direct-branch chaining and
 * unchaining, invalidation per guest page, and the full flush. */
#ifndef BTVM_CACHE_TCACHE_H
#define BTVM_CACHE_TCACHE_H

#include <stdbool.h>
#include <stdint.h>

struct tblock;
/* vCPUs whose lookup tables a cache keeps clean (machine/board_internal.h's
 * BOARD_MAX_VCPUS is at most this). */
#define TCACHE_MAX_VCPUS 8u

struct ibl_table;
struct shadow;
struct tclog;

enum exit_kind {
	EXIT_KIND_BRANCH,     /* direct branch to target_eip; chainable */
	EXIT_KIND_NOCHAIN,    /* go on at target_eip after a mode change */
	EXIT_KIND_STALE,      /* a self-checking block found its guest bytes changed */
	EXIT_KIND_BREAK,      /* a breakpoint at target_eip: back to the debugger (cpu.h) */
};

/* One way out of a block, reached through its stub. For a branch, patch
 * is the rel32 field that chaining points at the target block. */
struct exit_desc {
	uint32_t target_eip;
	uint8_t kind;
	/* Chained to a block on another page that is mapped global: listed
	 * in tcache.global_chains, undone when the global mappings go. */
	bool global;
	uint8_t *patch;          /* rel32 to rewrite, NULL if not chainable */
	uint8_t *branch;         /* the exit's rel32 field, whatever it points at now */
	uint8_t *stub;           /* where patch points while unchained */
	uint8_t *ibl_stub;       /* paging: a lookup-table jump to target_eip */
	struct tblock *from;
	struct tblock *to;       /* chained target, NULL while unchained */
	struct exit_desc *next_in;  /* next exit chained into the same block */
};

/* The host's cache line, the unit of instruction fetch and of an atomic
 * store: a loop is kept on as few as it can be, and with several vCPUs a
 * chainable exit's rel32 field inside one (tcache.c). */
#define TCACHE_LINE 64u
#define TBLOCK_MAX_EXITS 4

/* A relocation: the offset of an address field in a block's code, and
 * its kind in the top bits. */
#define TCACHE_RELOC_OFFSET 0x1fffu
#define TCACHE_RELOC_EIP32 0x0000u    /* imm32 holding a guest linear address */
#define TCACHE_RELOC_PTR64 0x2000u    /* imm64 holding a host address */
#define TCACHE_MAX_RELOCS 256u

struct tblock {
	uint32_t eip;            /* guest linear address of the first instruction */
	uint64_t gpa;            /* its code address (cpu/run.c): the memfd offset of the same byte */
	uint32_t mode;           /* the translation key's mode bits */
	/* The code segment's limit the block was translated for, also in
	 * its key: 0xFFFFFFFF but where the mode says it checks one. */
	uint32_t cs_limit;
	uint32_t guest_len;
	uint8_t *host;           /* entry, with the attention check */
	/* Bytes of that check at host: a direct branch forward within the
	 * page is chained past it (tcache_chain says why that is enough). */
	uint8_t poll_len;
	/* A hot trace (cpu/trace_build.c; this and heat sit in poll_len's
	 * padding, so a block keeps its size): its instructions are those of a
	 * recorded path forward through its page, not one contiguous run;
	 * guest_len spans them all. */
	bool trace;
	/* Times the run loop reached it as a trace head (TRACE_HEAT_DONE:
	 * counted to the threshold already). */
	uint16_t heat;
	uint32_t host_len;
	uint32_t code_len;       /* of host_len, the code before the callout descriptors */
	/* A self-checking block's entry check (translate.c's
	 * emit_selfcheck) from this offset of host on, 0 without: a host
	 * fault there ran nothing of the block, and the guest's ECX is in r8
	 * meanwhile. */
	uint32_t selfcheck_off;
	uint16_t ninsns;
	bool valid;
	/* Where in its 64-byte line the code was laid out (a copy: its
	 * original's), which decides its loop alignment and, with several
	 * vCPUs, its exits' padding: --clone-check lays the fresh
	 * translation out there. */
	uint8_t layout_line;
	/* Its key's index in the --tcache-log (cache/tclog.h), when on. */
	uint32_t log_key;
	/* Some instruction runs on a low byte register between two XCHGs
	 * with AH..DH: a host fault there must swap them back (host_fault.c
	 * looks back only in such blocks). */
	bool byte_swaps;
	/* It goes on into its second page (pages[1]), the linear page after
	 * its first, in a code segment with base 0, so that its EIP pages are
	 * linear pages: tcache_chain may chain into it from a block that holds
	 * both, and from it into one on either. */
	bool spans;
	/* A copy of it may serve the same code at another linear address
	 * (translator/translate_clone.c): every field of its code that holds
	 * an address is in relocs (offset | TCACHE_RELOC_*), and clone_env
	 * says under what translation settings it was made. */
	bool clonable;
	uint8_t clone_env;
	uint16_t nrelocs;
	/* Nothing in it enters the monitor (no callout) and it is not a
	 * one-instruction block: its branch back to its own start may skip
	 * the poll (tcache_chain), as loop_exit then says. */
	bool quiet;
	/* 1 + the index in exits of its branch back to its own start,
	 * chained past the poll (0: none); tcache_loop_poll and
	 * tcache_loop_release move it. (Bytes in padding: the block's size
	 * stays.) */
	uint8_t loop_exit;
	uint16_t *relocs;
	uint32_t pages[2];       /* guest page numbers it covers (equal if one) */
	struct tblock *hash_next;
	/* Its place on each of its pages' lists (tcache's page_heads): the
	 * next block, and the link that points at this one, so that a block
	 * leaves its lists at once. A page of a shared library holds a copy
	 * of its blocks for each address the library was loaded at (ASLR),
	 * thousands in a busy system, and a scan per block dropped took half
	 * of the monitor's time when a full cache evicted them. */
	struct tblock *page_next[2];
	struct tblock **page_link[2];
	/* + the stale exit of a self-checking block */
	struct exit_desc exits[TBLOCK_MAX_EXITS + 1];
	struct exit_desc *incoming;
	/* host offset -> guest offset per guest instruction, for faults */
	uint16_t *map_host;
	uint16_t *map_guest;
	/* Per guest instruction, what guest ESP is beyond r12 at its start
	 * (a run of PUSH and POP moves r12 once); NULL when always 0. */
	int16_t *map_esp;
};

struct tcache_stats {
	uint64_t blocks, guest_insns, lookups, hits, chains, unchains, ibl_links;
	uint64_t global_chains, global_unchains;
	uint64_t invalidations, invalidated_blocks, flushes, ibl_fills, ibl_global_fills;
	uint64_t selfcheck_pages, selfcheck_stale, selfcheck_reprotected;
	uint64_t clones;
	/* The capacity policy's work (--tcache-policy): evictions made for
	 * room (units evicted, or full flushes under the flush policy), the
	 * blocks they dropped, the chains into those blocks they undid, the
	 * host code bytes ever committed, and blocks translated again for a
	 * key an eviction dropped (approximate: tcache_retranslated). */
	uint64_t evictions, evicted_blocks, evict_unchains, translated_bytes, retranslations;
	/* Hot traces (--traces): built, the blocks their recorded paths
	 * went through, their host code bytes, and recordings given up
	 * (nothing to join, or the translation declined). */
	uint64_t traces, trace_blocks, trace_bytes, traces_abandoned;
	/* adaptive's resizes: units added, and taken away, by its judgement
	 * at each fill of a full cache (tcache_adapt_judge). */
	uint64_t grows, shrinks;
};

enum tcache_policy {
	TCACHE_POLICY_FLUSH,   /* the buffer full: everything goes */
	TCACHE_POLICY_FIFO,    /* units of TCACHE_FIFO_UNIT: the oldest blocks go */
	TCACHE_POLICY_UNITS,   /* N equal units filled in turn, the oldest evicted whole */
	/* Units over the maximum, as many in use as the re-translations of
	 * evicted code call for (Bruening and Amarasinghe, CGO 2005). */
	TCACHE_POLICY_ADAPTIVE,
};

/* Worst-case host bytes one block may need: the translator stops adding
 * instructions well before this. */
#define TCACHE_BLOCK_RESERVE 8192u

/* Room a unit must have left for a block to start in it (fifo, units):
 * a block that then does not fit gets -ENOSPC and is made again at the
 * start of the next unit. The translator starts each later instruction
 * with INSN_HEADROOM (1 KiB) and the block's tail free (translate.c), but
 * the first may have less here: running out of room inside it is the
 * emitter's no_room, always -ENOSPC (translate_one). It once fell back to
 * a callout the monitor could not run, and arith's high-byte group looped
 * on triple faults at 512 (guest_arith_fifo), which 2 KiB only hid. */
#define TCACHE_UNIT_MIN_ROOM 512u

/* Fifo's unit: the reserve one block may need (tcache.c), so that the
 * oldest blocks that go to make room are at most about a reserve's worth. */
#define TCACHE_FIFO_UNIT 8192u
#define TCACHE_MAX_UNITS 64u

/* One unit's share of the buffer, the block arena and the map pool, as
 * absolute positions: [code_start, code_end) and so on. The unit being
 * filled keeps its ends in the cache's cursors (code_used, nblocks,
 * map_used) until the next takes over. */
struct tcache_unit {
	uint64_t code_end;
	unsigned blocks_end;
	unsigned maps_end;
};

/* adaptive: the maximum split into TCACHE_ADAPT_UNITS units (fewer if
 * they would be smaller than a block may need), of which cap_units may
 * hold blocks; ring lists those that do, oldest first, the last being
 * filled. Making room in a full cache judges the fill just ended (its
 * blocks and the re-translations among them, since base_*) and may grow
 * or shrink cap_units (tcache_adapt_judge, cache/tcache_adapt.c). */
#define TCACHE_ADAPT_UNITS 32u

struct tcache_adapt {
	unsigned min_units, max_units, cap_units;
	unsigned ring[TCACHE_MAX_UNITS];
	unsigned nring;
	unsigned quiet_fills;    /* fills of a full cache in a row with few re-translations */
	uint64_t base_blocks, base_retranslations;
};

/* A lookup bucket: the first block of its chain with that block's key and
 * entry beside it, so that a lookup that wants only the host code (the
 * indirect-branch table's fill) reads one cache line and not the block
 * too. The rest of the chain goes on through the blocks' hash_next. */
struct tcache_bucket {
	struct tblock *tb;       /* NULL: empty */
	uint8_t *host;
	uint64_t gpa;
	uint32_t eip;
	uint16_t mode;           /* the MODE_* bits fit (translate.h) */
	bool one_page;           /* the block's guest bytes are on one page */
	/* Its cs_limit is not 0xFFFFFFFF: a lookup compares the block's
	 * (flat code's never reads it). */
	bool limited;
};

struct tcache {
	uint8_t *code;
	uint64_t code_size;
	uint64_t code_used;
	struct tcache_bucket *hash;
	unsigned hash_mask;
	/* By (gpa, mode) alone: the last clonable block of each key. */
	struct tblock **twins;
	struct tblock *blocks;   /* arena, in host address order */
	unsigned nblocks, max_blocks;
	uint16_t *map_pool;
	unsigned map_used, map_size;
	struct tblock **page_heads;   /* per guest physical page */
	uint8_t *page_traced;         /* page holds translations */
	/* The pages that held translations since the last flush, each once
	 * (page_listed): what a flush clears, not all of RAM (1M pages in
	 * 4 GiB, which a guest flushing at every reset paid each time). */
	uint32_t *listed_pages;
	unsigned nlisted_pages;
	uint8_t *page_listed;
	/* Pages written too often while holding code: left writable, their
	 * blocks compare their guest bytes at entry instead. Nonzero: the
	 * reprotection rounds (tcache_reprotect_selfcheck) the page waits
	 * for its protection back, twice as many each time it switched
	 * (page_selfcheck_switches), up to 64. */
	uint8_t *page_selfcheck;
	uint8_t *page_selfcheck_switches;
	uint16_t *page_code_writes;   /* write faults taken, toward the switch */
	unsigned selfcheck_count;     /* pages self-checking now */
	bool selfcheck_all;           /* debug: every page self-checking, for good */
	unsigned npages;
	struct shadow *sh;             /* where traced pages are protected */
	/* Every vCPU's indirect-branch table (tcache_add_ibl): a dropped
	 * block leaves each of them, not only the one of the vCPU whose
	 * write or breakpoint dropped it, since any may have looked it up. */
	struct ibl_table *ibls[TCACHE_MAX_VCPUS];
	unsigned nibls;
	/* The exits chained across pages to global code (exit_desc.global),
	 * in the order made; an entry whose exit has been unchained or
	 * reused since is skipped (its flag is clear or it leads nowhere). */
	struct exit_desc **global_chains;
	unsigned nglobal_chains, global_chains_cap;
	/* Other vCPUs run translated code while this one works on the cache
	 * (cpu/cpu_lock.c): a chain is made only where its patch is one
	 * store the executing core sees whole, and a flush waits for every
	 * vCPU to be out of the code (flush_pending until then), as does
	 * the eviction of a unit (room_pending: tcache_make_room). */
	bool concurrent;
	/* Every loop polls at its own start (tcache_loop_poll's caller, a
	 * signal handler, cannot run the ThreadSanitizer's instrumented
	 * code it would call). */
	bool loops_poll;
	bool flush_pending;
	bool room_pending;
	/* The capacity policy. Under flush one unit spans everything; under
	 * fifo and units the buffer, arena and map pool are split into
	 * nunits equal slices, filled in turn (cur_unit now; its slice ends
	 * at the *_limit fields), and making room evicts the next one. */
	enum tcache_policy policy;
	unsigned nunits, cur_unit;
	uint64_t unit_code;
	unsigned unit_blocks, unit_maps;
	uint64_t code_limit;
	unsigned blocks_limit, maps_limit;
	struct tcache_unit *units;
	struct tcache_adapt adapt;
	/* Host code bytes of the valid blocks (invalidated and evicted ones
	 * leave it): the cache's occupancy, as --stats-interval samples it. */
	uint64_t live_bytes;
	/* Moves on every flush and eviction: a block pointer kept across
	 * either (the run loop's chain source, a profile record) is
	 * trusted only while it is the same. */
	uint64_t generation;
	/* Keys (eip, gpa, mode) evicted for room, one bit per hash: a
	 * Bloom-like filter of one hash, so a re-translation may be counted
	 * for a key that was never evicted (a collision). */
	uint64_t *evicted_keys;
	/* --tcache-log, or NULL (the board's, opened and closed by it), and
	 * where the last block committed ended in the buffer (or its unit
	 * began): what was skipped since is logged with the next one's size. */
	struct tclog *log;
	uint64_t block_start;
	/* Loops made to poll again by tcache_loop_poll until the run loop
	 * takes attention (tcache_loop_release), each with the generation
	 * it was held in. */
	struct tcache_held_loop {
		struct tblock *tb;
		uint64_t generation;
	} held_loops[4];
	unsigned nheld_loops;
	struct tcache_stats stats;
};

int tcache_init(struct tcache *tc, uint64_t code_size, uint64_t ram_size, struct shadow *sh);
/* Chooses the capacity policy of an empty cache: nunits (2 to
 * TCACHE_MAX_UNITS) for units, ignored otherwise. 0, -EINVAL for a count
 * out of range or units smaller than a block may need, -ENOMEM. */
int tcache_set_policy(struct tcache *tc, enum tcache_policy policy, unsigned nunits);
/* Parses "flush", "fifo", "units:N" or "adaptive[:MIN-MAX]" into policy
 * and nunits; 0 or -EINVAL. */
int tcache_parse_policy(const char *s, enum tcache_policy *policy, unsigned *nunits);
/* adaptive's bounds in bytes from "adaptive" (both 0: the defaults) or
 * "adaptive:MIN-MAX", each N (MiB), NK or NM, MIN at most MAX; 0 or
 * -EINVAL (cache/tcache_adapt.c). */
int tcache_parse_adaptive(const char *s, uint64_t *min_bytes, uint64_t *max_bytes);
/* The adaptive policy on an empty cache, between min_bytes (0: an
 * eighth of the maximum) and max_bytes (0: the whole buffer), starting at
 * the minimum. 0, -EINVAL for bounds the buffer or its units cannot
 * hold, -ENOMEM. */
int tcache_set_adaptive(struct tcache *tc, uint64_t min_bytes, uint64_t max_bytes);
/* adaptive's judgement of one fill of a full cache: blocks translated
 * during it and retranslations among them. Grows cap_units (doubling,
 * to max_units) when re-translations are a fifth of the blocks or more,
 * shrinks it by one unit (to min_units) after a whole turn of the cache
 * of fills with under 2% of them; returns +1, -1 or 0. */
int tcache_adapt_judge(struct tcache_adapt *a, uint64_t blocks, uint64_t retranslations);
/* Bytes the cache may fill now: the buffer's units, or adaptive's
 * cap_units of them. */
uint64_t tcache_capacity(const struct tcache *tc);
/* The cache was full (a translation got -ENOSPC): the policy makes room,
 * by a flush or by evicting the oldest unit. Only where no vCPU runs
 * translated code (the run loop, or an exclusive section with several). */
void tcache_make_room(struct tcache *tc, struct ibl_table *ibl);
/* Host code bytes in the cache now (every unit's). */
uint64_t tcache_code_bytes(const struct tcache *tc);
/* A block's branch back to its own start skips its poll where only a
 * signal on the vCPU thread can ask for attention while it runs (one
 * vCPU: other threads' requests signal it) and nothing in the block
 * enters the monitor. A request that finds the thread's context at rip
 * (the attention signal's handler, or a hidden fault resumed in place
 * while attention is pending) calls tcache_loop_poll: if rip is in such a
 * block, its branch goes through the poll again, so the next iteration
 * faults at it; the run loop, having taken attention, calls
 * tcache_loop_release to skip the poll again. */
void tcache_loop_poll(struct tcache *tc, const void *rip);
void tcache_loop_release(struct tcache *tc);
/* A vCPU's lookup table, for the invalidations and the flush to empty too
 * (at most TCACHE_MAX_VCPUS; each vCPU's cpu_init adds its own). */
void tcache_add_ibl(struct tcache *tc, struct ibl_table *ibl);
void tcache_destroy(struct tcache *tc);
/* The block translated from linear eip at physical gpa in mode under a
 * code segment of limit cs_limit. */
struct tblock *tcache_lookup(struct tcache *tc, uint32_t eip, uint64_t gpa, uint32_t mode,
			     uint32_t cs_limit);
/* The host entry of that block if its guest bytes are on one page, else
 * NULL; reads the block itself only when it is not first in its bucket. */
uint8_t *tcache_lookup_host(struct tcache *tc, uint32_t eip, uint64_t gpa, uint32_t mode,
			    uint32_t cs_limit);
/* A valid clonable block translated from physical gpa in mode, at any
 * linear address, or NULL. */
struct tblock *tcache_twin(struct tcache *tc, uint64_t gpa, uint32_t mode);
/* Space for one new block; NULL when the buffer or arena is full (the
 * caller flushes and asks again). */
struct tblock *tcache_new_block(struct tcache *tc, uint8_t **code, uint8_t **limit);
/* Whether two blocks of code bytes each fit after each other where the
 * cache is now (so that the second need not make room, which may drop
 * the first). */
bool tcache_room_for_two(const struct tcache *tc, uint32_t code);
/* A new block's instruction maps (host and guest offsets), room for
 * max_insns; commit keeps only what the block used. */
void tcache_alloc_maps(struct tcache *tc, struct tblock *tb, unsigned max_insns);
/* Whether tb, a block that branches back to its own start, would touch
 * more 64-byte host lines with its loop at address at than at a line's
 * start. */
bool tcache_loop_straddles(const struct tblock *tb, uintptr_t at);
/* Whether a copy of tb at address at would have a branch exit's rel32
 * field across a 64-byte line (with several vCPUs never chained). */
bool tcache_exits_straddle(const struct tblock *tb, uintptr_t at);
/* Gives up the block being built in the space tcache_new_block gave
 * (its maps too, if it has them) and makes the next block start a line;
 * tcache_restart_like: start where like is in its line. */
void tcache_restart_aligned(struct tcache *tc, struct tblock *tb);
void tcache_restart_like(struct tcache *tc, struct tblock *tb, uintptr_t like);
/* The next block starts where like is in its line (no block being built). */
void tcache_place_like(struct tcache *tc, uintptr_t like);
/* Publishes a block built in the space tcache_new_block gave (its relocs,
 * if any, are copied into the cache's own memory). */
void tcache_commit(struct tcache *tc, struct tblock *tb);
/* Points a direct exit at its target block. With paging on only a target
 * on the same page is jumped to directly (its mapping is the source's),
 * or one whose pages are all mapped global (to_global: the caller noted
 * them with the shadow, so that a change the guest invalidates reaches
 * tcache_unchain_global, as it retires the lookup table's global-page
 * entries); another page is reached through the exit's lookup-table
 * stub. */
void tcache_chain(struct tcache *tc, struct exit_desc *exit, struct tblock *to, bool paging,
		  bool to_global);
/* Whether a chain from from to to would cross into another linear page
 * (so that, with paging, only global code may be chained to directly). */
bool tcache_chain_crosses(const struct tblock *from, const struct tblock *to);
/* Undoes every chain to global code: the guest's global mappings changed
 * (an INVLPG of such a page, a CR4.PGE toggle). Each exit goes back to
 * its stub, and is chained again as it is next taken. */
void tcache_unchain_global(struct tcache *tc);
/* The invalidations and the flush also empty the lookup-table entries
 * of the blocks they drop, in ibl (the caller's vCPU's) and in every
 * table added with tcache_add_ibl. */
/* Drops every block that covers guest physical page 'page'; returns how many. */
unsigned tcache_invalidate_page(struct tcache *tc, struct ibl_table *ibl, uint32_t page);
/* Drops every block whose guest bytes cover physical address gpa (one on
 * two pages, any that touches gpa's page); returns how many. An
 * instruction marked or released as adaptive needs only its own blocks
 * made again: dropping its whole page made a Debian boot retranslate
 * 80k blocks of kernel code beside it. */
unsigned tcache_invalidate_gpa(struct tcache *tc, struct ibl_table *ibl, uint64_t gpa);
/* Drops one block (if still valid): a self-checking block found its
 * bytes changed, and its page's other blocks check their own. */
void tcache_invalidate_block(struct tcache *tc, struct ibl_table *ibl, struct tblock *tb);
/* Drops every block whose guest bytes cover linear address eip (a block
 * of no instruction, a breakpoint's, covers its own address), whatever
 * its physical page or address space; returns how many. */
unsigned tcache_invalidate_linear(struct tcache *tc, struct ibl_table *ibl, uint32_t eip);
void tcache_flush(struct tcache *tc, struct ibl_table *ibl);
/* Points every chained exit of tb back at its stub, so that tb leaves to
 * the run loop by whichever exit it takes (a trace's recording). */
void tcache_unchain_exits(struct tcache *tc, struct tblock *tb);
/* A trace took old's key: the exits chained into old and every lookup
 * table's entry for it go, so that they find the trace instead. old stays
 * valid (a side exit of the trace, or a lookup after the trace is
 * evicted, may still reach it). */
void tcache_supersede(struct tcache *tc, struct ibl_table *ibl, struct tblock *old);
/* Block whose host code holds addr, or NULL. */
struct tblock *tcache_find_host(struct tcache *tc, const void *addr);
bool tcache_page_traced(const struct tcache *tc, uint32_t page);
bool tcache_page_selfcheck(const struct tcache *tc, uint32_t page);
/* A guest write hit a write-protected code page: counts it, and after
 * enough of them moves the page to self-checking blocks. */
void tcache_note_code_write(struct tcache *tc, uint32_t page);
/* A guest write reached a code page behind its protection (a trace fault,
 * a write the monitor made): drops the page's blocks and counts the
 * write toward the switch (tcache_note_code_write). */
void tcache_code_written(struct tcache *tc, struct ibl_table *ibl, uint32_t page);
/* One round of giving self-checking pages their write protection back
 * (their blocks are dropped and retranslated without checks): a page
 * written often only during start-up, like one holding an IDT beside
 * code, must not make its code slow for good. A page switches back at
 * the first round after it switched, then, each time it switches again,
 * after twice as many rounds as the time before (up to 64): a page that
 * is still written often (a real-mode stack beside its code) is not
 * given back a protection its writes take away again at once. */
void tcache_reprotect_selfcheck(struct tcache *tc, struct ibl_table *ibl);

#endif
