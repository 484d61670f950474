/* Shadow paging's windows: which window is current, finding one for an
 * address space and view, making or recycling one (the least recently
 * used, never one another vCPU runs in), and the thread's GS on it. The
 * rest of the shadow is shadow.c's. */
#define _GNU_SOURCE
#include "mmu/shadow.h"
#include "mmu/shadow_internal.h"

#include <assert.h>
#include <string.h>

#include "isa/vcpu.h"
#include "mmu/paging.h"

static void set_gs(struct shadow *sh, struct window *win)
{
	if (sh->gsbase_insn)
		__asm__ volatile("wrgsbase %0" : : "r"((uint64_t)(uintptr_t)win->base) : "memory");
	else
		(void)window_activate(win);
}

int shadow_view(const struct vcpu_state *s)
{
	if (!(s->cr0 & CR0_PG))
		return s->a20_cleared ? SHADOW_VIEW_UNPAGED_A20 : -1;
	if (s->cpl == 3)
		return 1;
	return s->cr0 & CR0_WP ? 0 : 2;
}

/* pdpte: NULL without PAE. */
static bool window_is(const struct shadow_window *w, uint32_t cr3, int view, const uint64_t *pdpte)
{
	return w->used && w->cr3 == cr3 && w->user == (view == 1) && w->no_wp == (view == 2) &&
	       w->unpaged == (view == SHADOW_VIEW_UNPAGED_A20) && w->pae == (pdpte != NULL) &&
	       (!pdpte || memcmp(w->pdpte, pdpte, sizeof(w->pdpte)) == 0);
}

/* The last two windows found are tried first: a system call goes from
 * the user view to the kernel's of one directory and back, and each
 * window is tens of KiB, so a scan of all of them touches a cache line
 * and a TLB entry apiece. A window matches one key at most, so a hit
 * there is what the scan would find; a recent slot since freed or
 * reused simply fails the test. */
static struct shadow_window *find_window(struct shadow *sh, uint32_t cr3, int view,
					 const uint64_t *pdpte)
{
	for (unsigned k = 0; k < 2; k++) {
		struct shadow_window *w = &sh->windows[sh->recent_windows[k]];
		if (window_is(w, cr3, view, pdpte)) {
			if (k == 1) {
				sh->recent_windows[1] = sh->recent_windows[0];
				sh->recent_windows[0] = (uint8_t)(w - sh->windows);
			}
			return w;
		}
	}
	for (unsigned i = 0; i < SHADOW_MAX_WINDOWS; i++) {
		struct shadow_window *w = &sh->windows[i];
		if (window_is(w, cr3, view, pdpte)) {
			sh->recent_windows[1] = sh->recent_windows[0];
			sh->recent_windows[0] = (uint8_t)i;
			return w;
		}
	}
	return NULL;
}

/* The least recently used supervisor window, evicted for another
 * directory of the same view, keeps the regions whose directory entry
 * the new directory holds too, unchanged: a region derives only from that
 * entry and the table it names, whose writes still reach the region
 * (entry for entry, accessed and dirty bits included, so the new entry
 * already has the bits a walk would set). The kernel half, which every
 * process's directory copies from the kernel's, then stays mapped instead
 * of faulting in again (a Debian boot made 47% of its mmap calls there).
 * A user view has no region another process's directory would share.
 * The rest goes, in as few unmaps as the kept regions allow. */
static bool recycle_window(struct shadow *sh, struct shadow_window *w, uint32_t cr3, int view)
{
	uint32_t old_page = shadow__table_page(sh, w->cr3), new_page = shadow__table_page(sh, cr3);
	assert(w->user == (view == 1) && w->no_wp == (view == 2) &&
	       w->unpaged == (view == SHADOW_VIEW_UNPAGED_A20));   /* new_window's pick */
	if (view == 1 || view == SHADOW_VIEW_UNPAGED_A20 || old_page >= sh->ram_pages ||
	    new_page >= sh->ram_pages)
		return false;
	uint16_t id = (uint16_t)(w - sh->windows);
	int err = shadow__list_add(sh, &sh->deriv_head[new_page], id, SHADOW_KEY_PD, NULL);
	if (err)
		return false;
	if (sh->pt_refs[new_page]++ == 0)
		shadow_reprotect(sh, new_page);
	shadow__flush_pending_window(sh, &w->win);
	const uint32_t *old_pd = shadow__table_host(sh, old_page);
	const uint32_t *new_pd = shadow__table_host(sh, new_page);
	uint32_t gone_from = 0;
	for (uint32_t r = 0; r <= SHADOW_REGIONS; r++) {
		bool keep = false;
		if (r < SHADOW_REGIONS && w->regions[r]) {
			/* A suspect's entry changed while the window was not in
			 * use (or its directory went untraced): the region
			 * derives from the entry it had before. */
			bool suspect = w->suspect[r / 64] & (1ull << (r % 64));
			keep = new_pd[r] == (suspect ? w->suspect_pde[r] : old_pd[r]) &&
			       w->region_maps[r] > 0;
			if (!keep)
				shadow__drop_region(sh, w, r, false);
		}
		if (keep || r == SHADOW_REGIONS) {
			if (r > gone_from)
				shadow__unmap_range(sh, w, gone_from * 1024, (r - gone_from) * 1024);
			gone_from = r + 1;
		}
	}
	memset(w->suspect, 0, sizeof(w->suspect));
	w->any_suspect = false;
	if (!w->pd_untraced)
		shadow__release_table(sh, old_page, id, SHADOW_KEY_PD);
	w->pd_untraced = false;
	w->pd_floods = 0;
	w->cr3 = cr3;
	shadow__retire_asid(sh, w);
	w->serial = ++sh->next_serial;   /* another address space: none of its churned pages */
	sh->stats.window_recycles++;
	sh->stats.window_creates++;
	return true;
}

/* Another vCPU than the one selecting runs in win (its GS names it). */
static bool window_in_use_elsewhere(const struct shadow *sh, const struct window *win)
{
	for (unsigned i = 0; i < sh->nspace_all; i++)
		if (sh->in_use[i] == win && sh->space_all[i] != sh->space_opaque)
			return true;
	return false;
}

bool shadow_owns_address(const struct shadow *sh, const void *addr)
{
	if (window_contains(&sh->identity, addr))
		return true;
	for (unsigned i = 0; i < SHADOW_MAX_WINDOWS; i++)
		if (sh->windows[i].win.base && window_contains(&sh->windows[i].win, addr))
			return true;
	return false;
}

static int new_window(struct shadow *sh, uint32_t cr3, int view, const uint64_t *pdpte,
		      struct shadow_window **out)
{
	/* The least recently used window, and of the same view. */
	struct shadow_window *w = NULL, *lru = NULL, *lru_alike = NULL;
	for (unsigned i = 0; i < SHADOW_MAX_WINDOWS && !w; i++) {
		struct shadow_window *c = &sh->windows[i];
		if (window_in_use_elsewhere(sh, &c->win)) {
			continue;
		} else if (!c->used) {
			w = c;
		} else if (&c->win != sh->current) {
			if (!lru || c->last_used < lru->last_used)
				lru = c;
			if (c->user == (view == 1) && c->no_wp == (view == 2) &&
			    c->unpaged == (view == SHADOW_VIEW_UNPAGED_A20) &&
			    (!lru_alike || c->last_used < lru_alike->last_used))
				lru_alike = c;
		}
	}
	if (!w) {
		assert(lru);
		sh->stats.window_evictions++;
		if (lru_alike && !pdpte && !lru_alike->pae && recycle_window(sh, lru_alike, cr3, view)) {
			*out = lru_alike;
			return 0;
		}
		shadow__drop_window(sh, lru);
		w = lru;
	}
	if (!w->win.base) {
		int err = window_reserve(&w->win, sh->ram);
		if (err)
			return err;
	}
	w->pae = pdpte != NULL;
	memset(w->pdpte, 0, sizeof(w->pdpte));
	if (pdpte)
		memcpy(w->pdpte, pdpte, sizeof(w->pdpte));
	w->cr3 = cr3;
	int err = shadow__trace_directories(sh, w);
	if (err) {
		shadow__release_directories(sh, w);   /* those traced before the failure */
		return err;
	}
	w->used = true;
	w->user = view == 1;
	w->no_wp = view == 2;
	w->unpaged = view == SHADOW_VIEW_UNPAGED_A20;
	w->cr3 = cr3;
	w->mapped = 0;
	memset(w->reused, 0, sizeof(w->reused));
	w->serial = ++sh->next_serial;
	for (uint32_t r = 0; r < SHADOW_REGIONS; r++)
		w->region_pt[r] = w->region_pt_hi[r] = SHADOW_NO_PT;
	shadow__retire_asid(sh, w);
	sh->stats.window_creates++;
	*out = w;
	return 0;
}


int shadow_select(struct shadow *sh, const struct vcpu_state *s, bool tlb_flushed, struct window **win_out)
{
	if (sh->devmem_move_pending) {
		sh->devmem_move_pending = false;
		shadow__apply_devmem_move(sh, sh->devmem_old_gpa);
	}
	/* What a window's table writes held back (unmaps, protections) waits
	 * while no vCPU runs in it (nothing reaches a window but through GS),
	 * and is done before it runs again, and at the selection after the
	 * vCPU's CR3 load: as a TLB that a CR3 load flushed. A window some
	 * vCPU runs in (this one's, selected again after another vCPU held
	 * the lock or as the run loop begins; another vCPU's), selected
	 * without one keeps them until the guest invalidates them
	 * (shadow_invlpg, shadow_tlb_flushed). */
	int view = shadow_view(s);
	bool paging = view >= 0;   /* a window of the cache: paging, or A20 masked */
	bool pae = paging && view != SHADOW_VIEW_UNPAGED_A20 && (s->cr4 & CR4_PAE);
	uint32_t cr3 = view == SHADOW_VIEW_UNPAGED_A20 ? SHADOW_UNPAGED_CR3
			: s->cr3 & (pae ? 0xffffffe0u : 0xfffff000u);
	if (view == sh->cur_view && (!paging || cr3 == sh->cur_key_cr3) && sh->current) {
		if (tlb_flushed)
			shadow__flush_pending_window(sh, sh->current);
		return 0;
	}
	if (!paging) {
		shadow__flush_pending_unmap(sh);
		if (sh->identity_stale || sh->nidentity_held)
			shadow__sync_identity(sh);
	}
	struct window *win = &sh->identity;
	uint32_t tag = 0;
	if (paging) {
		struct shadow_window *w = find_window(sh, cr3, view, pae ? s->pdpte : NULL);
		bool keeps = w && !tlb_flushed && shadow__window_live(sh, &w->win);
		if (!w) {
			int err = new_window(sh, cr3, view, pae ? s->pdpte : NULL, &w);
			if (err)
				return err;
		}
		w->pd_floods = 0;
		if (w->pd_untraced) {
			int err = shadow__retrace_directory(sh, w);
			if (err)
				return err;
		}
		if (w->any_suspect) {
			shadow__check_suspects(sh, w);
			keeps = false;   /* the regions it dropped are held back */
		}
		if (!keeps) {
			shadow__flush_pending_window(sh, &w->win);
			if (w->nreprotect)
				shadow__flush_reprotects(sh, w);
		}
		w->last_used = ++sh->tick;
		win = &w->win;
		tag = w->asid;
	}
	sh->current = win;
	sh->cur_view = view;
	sh->cur_key_cr3 = cr3;
	sh->regs = paging_regs_of(s);
	*win_out = win;
	shadow__set_ibl_tag(sh, tag);
	set_gs(sh, win);
	sh->stats.window_switches++;
	return 0;
}
