/* What shadow.c, shadow_replace.c and shadow_nodes.c share and nothing
 * else sees: dropping a region, replacement, the reverse map's lists. */
#ifndef BTVM_MMU_SHADOW_INTERNAL_H
#define BTVM_MMU_SHADOW_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmu/guest_ram.h"
#include "mmu/shadow.h"

/* A shadow entry's flags, below its memfd page (shadow_entry). */
#define SHADOW_E_MAPPED 0x1u
#define SHADOW_E_WRITABLE 0x2u   /* the guest allows the write and D is set */
#define SHADOW_E_HOST_RW 0x4u    /* the host mapping is writable now */
#define SHADOW_E_NO_EXEC 0x8u    /* XD (PAE, NXE): a change retires the window's lookup tag */
_Static_assert((SHADOW_E_MAPPED | SHADOW_E_WRITABLE | SHADOW_E_HOST_RW | SHADOW_E_NO_EXEC) <
		       1u << SHADOW_E_FRAME_SHIFT,
	       "the flags stay below the frame");
_Static_assert((GUEST_MEMFD_MAX >> 12) <= UINT32_MAX >> SHADOW_E_FRAME_SHIFT,
	       "an entry holds every memfd page");

/* Forgets region r of w, its entries and its page table's trace; unmap:
 * its host range too (else the caller unmaps it). */
void shadow__drop_region(struct shadow *sh, struct shadow_window *w, uint32_t r, bool unmap);

/* Drops the regions filled longest ago, sparing (keep, keep_r), until the
 * windows' host mappings are down to target; how many went. */
unsigned shadow__replace_regions(struct shadow *sh, long target, const struct shadow_window *keep,
				 uint32_t keep_r);

/* Adds (win, key) at the head of the list at head; *out (if not NULL)
 * is its node. 0 or -ENOMEM. */
int shadow__list_add(struct shadow *sh, uint32_t *head, uint16_t win, uint32_t key, uint32_t *out);
/* Takes node id off the list at head, in constant time: a frame the
 * kernel maps in every address space (its own pages) has a node per
 * window, and a window's eviction takes thousands of them off such lists
 * (a Debian boot: 3M removals that walked 14 nodes on average). */
void shadow__list_unlink(struct shadow *sh, uint32_t *head, uint32_t id);
/* Takes (win, key) off the list at head; false if it is not there. */
bool shadow__list_remove(struct shadow *sh, uint32_t *head, uint16_t win, uint32_t key);

/* shadow_log.c's: the device memory moved from old_gpa (at a selection). */
void shadow__apply_devmem_move(struct shadow *sh, uint64_t old_gpa);
/* shadow_unmap.c: held-back host unmaps. All carried out, win's, those
 * holding vpage in the address space of cr3; w's forgotten (the caller
 * unmaps the window whole); those of w a mapping of pages [vpage,
 * vpage + count) overlaps carried out, those inside it forgotten (its
 * MAP_FIXED replaces them); pages [start, end) of w, which hold no entry,
 * unmapped now or later; whether one of w's ranges holds vpage; the host
 * call. */
void shadow__flush_pending_unmap(struct shadow *sh);
void shadow__forget_pending(struct shadow *sh, const struct shadow_window *w);
void shadow__pending_before_map(struct shadow *sh, const struct shadow_window *w, uint32_t vpage,
				uint32_t count);
void shadow__flush_pending_window(struct shadow *sh, const struct window *win);
void shadow__flush_pending_page(struct shadow *sh, uint32_t cr3, uint32_t vpage);
void shadow__defer_unmap(struct shadow *sh, struct shadow_window *w, uint32_t start, uint32_t end);
bool shadow__pending_holds(struct shadow *sh, const struct shadow_window *w, uint32_t vpage);
/* shadow.c's, for shadow_log.c: an identity page's read-only state
 * counted; a mapped entry's host protection as its state calls for. */
/* Whether a vCPU may be running in win now: the current window, or
 * another vCPU's (shadow->in_use). Changes to a window not live wait for
 * its selection (held-back protections, suspect regions); a live one's
 * are made at once. */
static inline bool shadow__window_live(const struct shadow *sh, const struct window *win)
{
	if (win == sh->current)
		return true;
	/* With one vCPU its window is the current one: nothing more to ask
	 * (inline, on the fill and trace paths). */
	for (unsigned i = 0; sh->nspace_all > 1 && i < sh->nspace_all; i++)
		if (sh->in_use[i] == win)
			return true;
	return false;
}
/* shadow.c's, for the windows' selection (shadow_windows.c). */
void shadow__check_suspects(struct shadow *sh, struct shadow_window *w);
void shadow__drop_window(struct shadow *sh, struct shadow_window *w);
void shadow__flush_reprotects(struct shadow *sh, struct shadow_window *w);
void shadow__release_directories(struct shadow *sh, struct shadow_window *w);
void shadow__release_table(struct shadow *sh, uint32_t page, uint16_t win, uint32_t key);
void shadow__retire_asid(struct shadow *sh, struct shadow_window *w);
int shadow__retrace_directory(struct shadow *sh, struct shadow_window *w);
void shadow__set_ibl_tag(struct shadow *sh, uint32_t asid);
void shadow__sync_identity(struct shadow *sh);
int shadow__trace_directories(struct shadow *sh, struct shadow_window *w);
void shadow__unmap_range(struct shadow *sh, struct shadow_window *w, uint32_t vpage, uint32_t npages);
void shadow__identity_set(struct shadow *sh, uint32_t page, bool read_only);
/* shadow_churn.c. A record holds the window's serial above the linear
 * page's 20 bits, above those the adaptive accesses the page took since
 * its entry last went (SHADOW_CHURN_COUNT_SHIFT), and at the top whether
 * the churn is only likely (SHADOW_CHURN_LIKELY). */
#define SHADOW_CHURN_KEY_MASK ((1ull << 52) - 1)
#define SHADOW_CHURN_COUNT_SHIFT 52u
#define SHADOW_CHURN_LIKELY (1ull << 63)
/* vpage's record in w, or NULL when it is not churned (or w no user view). */
uint64_t *shadow__churn_record(const struct shadow *sh, const struct shadow_window *w, uint32_t vpage);
void shadow__note_churn(struct shadow *sh, struct shadow_window *w, uint32_t vpage, bool likely);
void shadow__entry_reprotect(struct shadow *sh, struct shadow_window *w, uint32_t vpage);

/* The number a table at guest physical gpa is known by: its memfd page
 * when in RAM (the pages pt_refs and the traces count), else a number
 * above every memfd page and below the markers, distinct per page: RAM
 * above 4 GiB follows RAM below it in the memfd, so a page number of the
 * hole under 4 GiB could name a page of high RAM. */
static inline uint32_t shadow__table_page(const struct shadow *sh, uint64_t gpa)
{
	uint32_t page = guest_ram_page(sh->ram, gpa);
	return page != GUEST_RAM_NO_PAGE ? page : 0x80000000u | (uint32_t)(gpa >> 12);
}

/* The monitor's view of table page page (in RAM). */
static inline const uint32_t *shadow__table_host(const struct shadow *sh, uint32_t page)
{
	assert(page < sh->ram_pages);
	return (const uint32_t *)(sh->ram->host + (uint64_t)page * GUEST_PAGE_SIZE);
}

#endif
