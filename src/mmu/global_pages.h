/* The linear pages that the indirect-branch table holds global entries
 * for (blocks on pages mapped global, reachable from every address space),
 * with the frame each mapped to when its first entry was made. The shadow
 * owns one: INVLPG of such a page retires the global entries, and a
 * flush of all global translations (a CR4.PGE toggle) retires them only if
 * one of these pages maps elsewhere now. */
#ifndef BTVM_MMU_GLOBAL_PAGES_H
#define BTVM_MMU_GLOBAL_PAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu/guest_ram.h"
#include "mmu/paging.h"

struct global_page {
	uint32_t vpage;
	uint32_t frame;
	bool user;               /* an entry was made for CPL 3 */
};

struct global_pages {
	uint8_t *bits;           /* bit per linear page: noted */
	/* The bytes of bits with bits set lie in [lo, hi): Linux's global
	 * flush clears a kernel's few hundred bytes, not all 128 KiB. */
	uint32_t lo, hi;
	struct global_page *list;   /* each noted page once, in noting order */
	unsigned count;
	bool overflow;           /* more pages than list holds: not checkable */
};

/* 0 or -ENOMEM. */
int global_pages_init(struct global_pages *gp);
void global_pages_destroy(struct global_pages *gp);
/* An entry was made for a block on linear page va, at physical frame,
 * for CPL 3 if user. */
void global_pages_note(struct global_pages *gp, uint32_t va, uint32_t frame, bool user);
bool global_pages_holds(const struct global_pages *gp, uint32_t va);
bool global_pages_empty(const struct global_pages *gp);
void global_pages_clear(struct global_pages *gp);
/* Whether every noted page still maps, under pr, to the frame it did, for
 * CPL 3 where an entry was made for it, and global while CR4.PGE is on:
 * then the entries are what a TLB refilled from the tables now would give. */
bool global_pages_unchanged(const struct global_pages *gp, const struct guest_ram *ram,
			    const struct paging_regs *pr);

#endif
