/* Held-back host unmaps (struct shadow's pending_unmap, docs/DESIGN.md
 * "Host unmaps of dropped shadow entries"): the range of each window whose
 * entries and regions a page-table write dropped, held until the guest
 * invalidates them, merged across pages that hold no mapping, and the
 * host call that takes them away. shadow.c holds them back (drop_entry,
 * shadow__drop_region) and carries them out (INVLPG, a mapping into the
 * range, a page turning a table); the windows' selection after a CR3
 * load does too (shadow_windows.c). */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include "mmu/shadow.h"
#include "mmu/shadow_internal.h"

void shadow__unmap_range(struct shadow *sh, struct shadow_window *w, uint32_t vpage, uint32_t npages)
{
	sh->stats.unmap_calls++;
	(void)mmap(w->win.base + (uint64_t)vpage * GUEST_PAGE_SIZE, (size_t)npages * GUEST_PAGE_SIZE,
		   PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

/* w's held-back unmap, or NULL. */
struct shadow_pending_unmap *shadow__pending_of(struct shadow *sh, const struct shadow_window *w)
{
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++)
		if (sh->pending_unmap[i].w == w)
			return &sh->pending_unmap[i];
	return NULL;
}

/* p's slot free again; with none held back, no page is in one. */
void shadow__pending_release(struct shadow *sh, struct shadow_pending_unmap *p)
{
	p->w = NULL;
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++)
		if (sh->pending_unmap[i].w)
			return;
	sh->pending_epoch++;
}

void shadow__flush_pending(struct shadow *sh, struct shadow_pending_unmap *p)
{
	if (!p || !p->w)
		return;
	shadow__unmap_range(sh, p->w, p->start, p->end - p->start);
	shadow__pending_release(sh, p);
}

void shadow__flush_pending_unmap(struct shadow *sh)
{
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++)
		shadow__flush_pending(sh, &sh->pending_unmap[i]);
}

void shadow__flush_pending_window(struct shadow *sh, const struct window *win)
{
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++)
		if (sh->pending_unmap[i].w && &sh->pending_unmap[i].w->win == win)
			shadow__flush_pending(sh, &sh->pending_unmap[i]);
}

/* Whether w holds no entry in linear pages [from, to): a region with no
 * host mapping is skipped whole. */
static bool nothing_mapped(const struct shadow_window *w, uint32_t from, uint32_t to)
{
	while (from < to) {
		uint32_t r = from / 1024, stop = r * 1024 + 1024 < to ? r * 1024 + 1024 : to;
		const uint32_t *reg = w->regions[r];
		if (reg && w->region_maps[r] > 0)
			for (uint32_t v = from; v < stop; v++)
				if (reg[v & 1023])
					return false;
		from = stop;
	}
	return true;
}

/* Unmaps linear pages [start, end) of w, which hold no entry, now or
 * later: merged with w's held-back range where the pages between the
 * two hold no mapping either (an unmap of pages that hold none changes
 * nothing), else in place of it. */
void shadow__defer_unmap(struct shadow *sh, struct shadow_window *w, uint32_t start, uint32_t end)
{
	struct shadow_pending_unmap *p = shadow__pending_of(sh, w);
	if (p) {
		uint32_t lo = start < p->start ? start : p->start, hi = end > p->end ? end : p->end;
		bool joined = end >= p->start && start <= p->end;
		if (joined || (end < p->start ? nothing_mapped(w, end, p->start) : nothing_mapped(w, p->end, start))) {
			p->start = lo;
			p->end = hi;
			return;
		}
		/* Unmapped, the slot kept: a release would move the epoch
		 * on while the pages just dropped are held. */
		shadow__unmap_range(sh, p->w, p->start, p->end - p->start);
	} else {
		p = shadow__pending_of(sh, NULL);
		if (!p) {
			p = &sh->pending_unmap[sh->pending_next];
			sh->pending_next = (sh->pending_next + 1) % SHADOW_PENDING_UNMAPS;
			shadow__unmap_range(sh, p->w, p->start, p->end - p->start);
		}
	}
	p->w = w;
	p->start = start;
	p->end = end;
}

/* Whether vpage of w was dropped with its unmap held back (or lies
 * between such pages). */
bool shadow__pending_holds(struct shadow *sh, const struct shadow_window *w, uint32_t vpage)
{
	const struct shadow_pending_unmap *p = shadow__pending_of(sh, w);
	return p && vpage >= p->start && vpage < p->end;
}

/* An INVLPG of vpage in the address space whose directory is cr3: each of
 * its windows' ranges that holds the page goes (the kernel's and the user
 * view's: a user page the kernel cleared, invalidated before the IRET to
 * it). */
void shadow__flush_pending_page(struct shadow *sh, uint32_t cr3, uint32_t vpage)
{
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++) {
		struct shadow_pending_unmap *p = &sh->pending_unmap[i];
		if (p->w && p->w->cr3 == cr3 && vpage >= p->start && vpage < p->end)
			shadow__flush_pending(sh, p);
	}
}
