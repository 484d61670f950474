/* Held-back host unmaps (struct shadow's pending_unmap, docs/DESIGN.md
 * "Host unmaps of dropped shadow entries"): ranges of windows whose
 * entries and regions page-table writes dropped, held until the guest
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

static bool holds(const struct shadow_pending_unmap *p, uint32_t vpage)
{
	return vpage >= p->start && vpage < p->end;
}

/* p's range grown to take [start, end) in. */
static void widen(struct shadow_pending_unmap *p, uint32_t start, uint32_t end)
{
	p->start = start < p->start ? start : p->start;
	p->end = end > p->end ? end : p->end;
}

/* A free slot, or NULL. */
static struct shadow_pending_unmap *free_slot(struct shadow *sh)
{
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++)
		if (!sh->pending_unmap[i].w)
			return &sh->pending_unmap[i];
	return NULL;
}

/* p's slot free again; with none held back, no page is in one. */
static void release(struct shadow *sh, struct shadow_pending_unmap *p)
{
	p->w = NULL;
	if (--sh->npending == 0)
		sh->pending_epoch++;
}

static void flush_slot(struct shadow *sh, struct shadow_pending_unmap *p)
{
	if (!p->w)
		return;
	shadow__unmap_range(sh, p->w, p->start, p->end - p->start);
	release(sh, p);
}

void shadow__flush_pending_unmap(struct shadow *sh)
{
	if (!sh->npending)
		return;
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++)
		flush_slot(sh, &sh->pending_unmap[i]);
}

void shadow__flush_pending_window(struct shadow *sh, const struct window *win)
{
	if (!sh->npending)
		return;
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++)
		if (sh->pending_unmap[i].w && &sh->pending_unmap[i].w->win == win)
			flush_slot(sh, &sh->pending_unmap[i]);
}

void shadow__forget_pending(struct shadow *sh, const struct shadow_window *w)
{
	if (!sh->npending)
		return;
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++)
		if (sh->pending_unmap[i].w == w)
			release(sh, &sh->pending_unmap[i]);
}

void shadow__pending_before_map(struct shadow *sh, const struct shadow_window *w, uint32_t vpage,
				uint32_t count)
{
	if (!sh->npending)
		return;
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++) {
		struct shadow_pending_unmap *p = &sh->pending_unmap[i];
		if (p->w != w || p->start >= vpage + count || p->end <= vpage)
			continue;
		if (p->start >= vpage && p->end <= vpage + count)
			release(sh, p);   /* the mapping's MAP_FIXED replaces it */
		else
			flush_slot(sh, p);
	}
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

/* Whether [start, end) can join p's range: they touch, or the pages
 * between hold no mapping (an unmap of pages that hold none changes
 * nothing). */
static bool joins(const struct shadow_pending_unmap *p, uint32_t start, uint32_t end)
{
	if (end >= p->start && start <= p->end)
		return true;
	return end < p->start ? nothing_mapped(p->w, end, p->start) : nothing_mapped(p->w, p->end, start);
}

/* Unmaps linear pages [start, end) of w, which hold no entry, now or
 * later: merged into one of w's held-back ranges that it joins, else in a
 * range of its own; with every slot taken, one range (each slot in turn)
 * is unmapped now and its slot taken (kept, not released: a release would move the
 * epoch on while the pages just dropped are held). A page dropped and
 * mapped again at once (a copy-on-write break) so leaves the other
 * ranges held. */
void shadow__defer_unmap(struct shadow *sh, struct shadow_window *w, uint32_t start, uint32_t end)
{
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++) {
		struct shadow_pending_unmap *p = &sh->pending_unmap[i];
		if (p->w != w || !joins(p, start, end))
			continue;
		widen(p, start, end);
		/* Grown, it may join others of w's (what lay between them was
		 * mapped until now). */
		for (unsigned j = 0; j < SHADOW_PENDING_UNMAPS; j++) {
			struct shadow_pending_unmap *q = &sh->pending_unmap[j];
			if (q != p && q->w == w && joins(q, p->start, p->end)) {
				widen(p, q->start, q->end);
				q->w = NULL;   /* p holds its pages: no epoch moves */
				sh->npending--;
			}
		}
		return;
	}
	struct shadow_pending_unmap *p = free_slot(sh);
	if (p) {
		sh->npending++;
	} else {
		p = &sh->pending_unmap[sh->pending_next];
		sh->pending_next = (sh->pending_next + 1) % SHADOW_PENDING_UNMAPS;
		shadow__unmap_range(sh, p->w, p->start, p->end - p->start);
	}
	p->w = w;
	p->start = start;
	p->end = end;
}

/* Whether vpage of w was dropped with its unmap held back (or lies
 * between such pages). */
bool shadow__pending_holds(struct shadow *sh, const struct shadow_window *w, uint32_t vpage)
{
	if (!sh->npending)
		return false;
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++) {
		const struct shadow_pending_unmap *p = &sh->pending_unmap[i];
		if (p->w == w && holds(p, vpage))
			return true;
	}
	return false;
}

/* An INVLPG of vpage in the address space whose directory is cr3: each of
 * its windows' ranges that holds the page goes (the kernel's and the user
 * view's: a user page the kernel cleared, invalidated before the IRET to
 * it). */
void shadow__flush_pending_page(struct shadow *sh, uint32_t cr3, uint32_t vpage)
{
	if (!sh->npending)
		return;
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++) {
		struct shadow_pending_unmap *p = &sh->pending_unmap[i];
		if (p->w && p->w->cr3 == cr3 && holds(p, vpage))
			flush_slot(sh, p);
	}
}
