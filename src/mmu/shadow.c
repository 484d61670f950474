/* Shadow paging: fill on host faults, reverse map, traces of page-table
 * and code pages, dropping windows' entries. Selecting and making windows
 * is shadow_windows.c's, replacement shadow_replace.c's, the adaptive set
 * shadow_adaptive.c's,
 * the reverse map's node lists shadow_nodes.c's, device memory and the
 * write logs shadow_log.c's. */
#define _GNU_SOURCE
#include "mmu/shadow.h"
#include "mmu/shadow_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include "host/map_limit.h"
#include "isa/vcpu.h"
#include "mmu/paging.h"

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif
#define ASID_LIMIT (1u << 23)
_Static_assert(GUEST_RAM_LOW_MAX <= SHADOW_UNPAGED_CR3, "the unpaged window's key names no RAM page");

/* --- protection ------------------------------------------------------- */

static bool devmem_clean(const struct shadow *sh, uint32_t page)
{
	return page >= sh->ram_pages && sh->devmem_logging && !sh->devmem_dirty[page - sh->ram_pages];
}

/* A RAM page not written since the write log's last harvest. */
static bool ram_clean(const struct shadow *sh, uint32_t page)
{
	return page < sh->ram_pages && sh->ram->written &&
	       !__atomic_load_n(&sh->ram->written[page], __ATOMIC_RELAXED);
}

static bool page_read_only(const struct shadow *sh, uint32_t page)
{
	return sh->pt_refs[page] > 0 || sh->code_protect[page] || devmem_clean(sh, page) ||
	       ram_clean(sh, page) || guest_ram_page_locked(sh->ram, page);
}

static int entry_prot(const struct shadow *sh, uint32_t e)
{
	uint32_t page = shadow_entry_page(e);
	bool w = (e & SHADOW_E_WRITABLE) && !page_read_only(sh, page);
	return PROT_READ | (w ? PROT_WRITE : 0);
}

static uint32_t *entry_of(struct shadow_window *w, uint32_t vpage)
{
	uint32_t *r = w->regions[vpage >> 10];
	return r ? &r[vpage & 1023] : NULL;
}

/* Where a mapped entry's node in its frame's list is kept: after the
 * region's entries. */
static uint32_t *node_slot(struct shadow_window *w, uint32_t vpage)
{
	return &w->regions[vpage >> 10][1024 + (vpage & 1023)];
}

/* Where the page table a region's entry for vpage derives from is kept:
 * under PAE a region holds two directory entries' 2 MiB spans, each with
 * a table of its own. */
static uint32_t *unit_pt(struct shadow_window *w, uint32_t vpage)
{
	return w->pae && (vpage & 512) ? &w->region_pt_hi[vpage >> 10] : &w->region_pt[vpage >> 10];
}

/* The derivation key of that table: its directory entry's span. */
static uint32_t unit_key(const struct shadow_window *w, uint32_t vpage)
{
	return w->pae ? vpage >> 9 : vpage >> 10;
}

static bool is_directory_key(uint32_t key)
{
	return key >= SHADOW_KEY_PAE_PD0;
}

/* The page of w's directory that maps linear page vpage; ~0 for none (a
 * PDPTE not present). */
static uint32_t window_pd_page(const struct shadow *sh, const struct shadow_window *w, uint32_t vpage)
{
	if (!w->pae)
		return shadow__table_page(sh, w->cr3);
	uint64_t e = w->pdpte[vpage >> 18];
	return (e & PTE_P) ? shadow__table_page(sh, e & PAE_FRAME) : ~0u;
}

/* e with its host-protection bit as prot says. */
static uint32_t entry_with_prot(uint32_t e, int prot)
{
	return (e & ~SHADOW_E_HOST_RW) | ((prot & PROT_WRITE) ? SHADOW_E_HOST_RW : 0);
}

/* --- host mappings ------------------------------------------------------ */

/* Neighbouring entries that one host mapping holds: the kernel merges
 * adjacent mappings of consecutive memfd pages with one protection. */
static bool entries_merge(uint32_t left, uint32_t right)
{
	return left && right && shadow_entry_page(right) == shadow_entry_page(left) + 1 &&
	       ((left ^ right) & SHADOW_E_HOST_RW) == 0;
}

/* A boundary between host mappings: unmapped neighbours are one PROT_NONE
 * mapping together, mapped ones one mapping when they merge. */
static bool entries_break(uint32_t left, uint32_t right)
{
	return (left || right) && !entries_merge(left, right);
}

/* The boundaries on either side of entry i of a region. Beyond a region's
 * edge counts as unmapped: a mapped edge entry always counts its edge,
 * which over-counts by one where the next region's entry merges with it
 * (the safe side) and never misses a boundary. */
static int entry_breaks(const uint32_t *reg, uint32_t i)
{
	return entries_break(i > 0 ? reg[i - 1] : 0, reg[i]) +
	       entries_break(reg[i], i < 1023 ? reg[i + 1] : 0);
}

/* Every write of a shadow entry goes through here, so the count of host
 * mappings stays exact: each boundary between entries splits one more. */
static void entry_set(struct shadow *sh, struct shadow_window *w, uint32_t vpage, uint32_t e)
{
	uint32_t r = vpage >> 10, i = vpage & 1023;
	uint32_t *reg = w->regions[r];
	int d = -entry_breaks(reg, i);
	reg[i] = e;
	d += entry_breaks(reg, i);
	w->region_maps[r] += d;
	sh->host_maps += d;
	assert(w->region_maps[r] >= 0 && sh->host_maps >= 0);
}

/* The identity window maps all of RAM in one go; each page it holds at
 * another protection than its neighbour splits it once more. */
static bool identity_break(const struct shadow *sh, uint32_t a, uint32_t b)
{
	return b < sh->npages && sh->identity_ro[a] != sh->identity_ro[b];
}

static void identity_set(struct shadow *sh, uint32_t page, bool read_only)
{
	int d = -(page > 0 && identity_break(sh, page - 1, page)) - identity_break(sh, page, page + 1);
	sh->identity_ro[page] = read_only;
	d += (page > 0 && identity_break(sh, page - 1, page)) + identity_break(sh, page, page + 1);
	sh->host_maps += d;
}

/* Sets the host protection of mapped entries vpage.. (count): their bits,
 * then the pages, in one system call. */
static void entry_protect(struct shadow *sh, struct shadow_window *w, uint32_t vpage, uint32_t count,
			  int prot)
{
	for (uint32_t i = 0; i < count; i++) {
		uint32_t *e = entry_of(w, vpage + i);
		uint32_t now = entry_with_prot(*e, prot);
		if (now != *e)
			entry_set(sh, w, vpage + i, now);
	}
	(void)mprotect(w->win.base + (uint64_t)vpage * GUEST_PAGE_SIZE, (size_t)count * GUEST_PAGE_SIZE,
		       prot);
}

/* A page that stops being a table (or code) may be written again in every
 * window that maps it, but is seldom written there: the kernel's direct
 * map holds every page table in every window, and a freed one is reused
 * in one address space if at all. Only the current window gets the write
 * permission back at once; elsewhere the first write takes a hidden fault
 * that gives it (fill_around: the same frame, mapped writable), where each
 * window selected had made an mprotect for it, and each other vCPU's one
 * at once. */
static bool lazy_relax(const struct shadow *sh, const struct shadow_window *w, uint32_t e, int prot)
{
	return (prot & PROT_WRITE) && !(e & SHADOW_E_HOST_RW) && &w->win != sh->current;
}

static int compare_vpages(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* The held-back entries of w get the protection they call for now, where
 * the host has another, in address order: neighbours that change alike
 * (page tables the kernel allocated side by side, through its direct
 * map: 38% of a Debian boot's held-back pages had a neighbour held back
 * too) take one mprotect. An entry dropped or mapped anew meanwhile is
 * whatever it is now; mapping sets the protection it calls for. */
void shadow__flush_reprotects(struct shadow *sh, struct shadow_window *w)
{
	uint32_t *q = w->reprotect;
	unsigned n = w->nreprotect;
	w->nreprotect = 0;
	qsort(q, n, sizeof(*q), compare_vpages);
	uint32_t run_start = 0, run_len = 0;
	int run_prot = 0;
	for (unsigned i = 0; i <= n; i++) {
		uint32_t vpage = 0;
		int prot = 0;
		bool change = false;
		if (i < n) {
			vpage = q[i];
			if (i > 0 && vpage == q[i - 1])
				continue;
			const uint32_t *e = entry_of(w, vpage);
			if (e && *e) {
				prot = entry_prot(sh, *e);
				change = entry_with_prot(*e, prot) != *e && !(prot & PROT_WRITE);
			}
		}
		if (run_len && (!change || vpage != run_start + run_len || prot != run_prot)) {
			entry_protect(sh, w, run_start, run_len, run_prot);
			run_len = 0;
		}
		if (change) {
			if (!run_len) {
				run_start = vpage;
				run_prot = prot;
			}
			run_len++;
		}
	}
}

/* The identity window's protection of page as its state calls for; only
 * where it has another unless always (the current window's page may be
 * writable for a moment, shadow_unprotect_current, whatever its bit). */
static void identity_protect(struct shadow *sh, uint32_t page, bool always)
{
	uint64_t gpa = guest_mem_page_gpa(sh->ram, page);
	/* (Device memory the guest put over RAM is not seen there, nor RAM
	 * above 4 GiB, beyond the identity window.) */
	if (gpa == GUEST_DEVMEM_UNMAPPED || gpa >= GUEST_RAM_HIGH_BASE ||
	    (page >= sh->ram_pages && gpa < sh->ram->low_size))
		return;
	bool writable = !sh->code_protect[page] && !devmem_clean(sh, page) && !ram_clean(sh, page) &&
			!guest_ram_page_locked(sh->ram, page);
	if (!always && sh->identity_ro[page] == !writable)
		return;
	identity_set(sh, page, !writable);
	(void)window_protect_page(&sh->identity, (uint32_t)gpa, writable);
}

/* The identity window as every page's state calls for, when it is
 * selected after changes held back while paging was on. */
void shadow__sync_identity(struct shadow *sh)
{
	if (sh->identity_stale) {
		for (uint32_t page = 0; page < sh->npages; page++)
			identity_protect(sh, page, false);
	} else {
		for (unsigned i = 0; i < sh->nidentity_held; i++)
			identity_protect(sh, sh->identity_held[i], false);
	}
	sh->identity_stale = false;
	sh->nidentity_held = 0;
}

/* A page turned a table (or code), or back, changes its protection in
 * every window that maps it: the kernel's direct map holds every page
 * table, so each one a fork makes and an exit frees was an mprotect in
 * every cached window (about 65 a fork). Only the current window can
 * run, so the others are held back until selected (shadow_select), and a
 * page protected and released meanwhile costs nothing there. So is the
 * identity window's, which paging leaves unused after the boot's first
 * steps (16,000 mprotect calls of a Debian boot, on its one mapping of
 * all RAM). */
void shadow_reprotect(struct shadow *sh, uint32_t page)
{
	if (page >= sh->npages)
		return;
	/* A held-back unmap may still hold page writable: not once the page
	 * must trap its writes. */
	if (page_read_only(sh, page) && sh->dropped_rw_epoch[page] == sh->pending_epoch)
		shadow__flush_pending_unmap(sh);
	if (shadow__window_live(sh, &sh->identity))
		identity_protect(sh, page, true);
	else if (sh->nidentity_held < SHADOW_IDENTITY_HELD_MAX)
		sh->identity_held[sh->nidentity_held++] = page;
	else
		sh->identity_stale = true;
	for (uint32_t id = sh->map_head[page]; id; id = sh->nodes[id - 1].next) {
		const struct shadow_node *n = &sh->nodes[id - 1];
		struct shadow_window *w = &sh->windows[n->win];
		uint32_t *e = entry_of(w, n->key);
		assert(e && shadow_entry_page(*e) == page);
		int prot = entry_prot(sh, *e);
		if (lazy_relax(sh, w, *e, prot))
			continue;
		if (shadow__window_live(sh, &w->win)) {
			entry_protect(sh, w, n->key, 1, prot);   /* also after shadow_unprotect_current */
			continue;
		}
		if (entry_with_prot(*e, prot) == *e ||
		    (w->nreprotect && w->reprotect[w->nreprotect - 1] == n->key))
			continue;
		if (w->nreprotect == SHADOW_REPROTECT_MAX)
			shadow__flush_reprotects(sh, w);
		w->reprotect[w->nreprotect++] = n->key;
	}
}

void shadow_protect_code(struct shadow *sh, uint32_t page, bool protect)
{
	if (page >= sh->ram_pages || sh->code_protect[page] == protect)
		return;
	sh->code_protect[page] = protect;
	shadow_reprotect(sh, page);
}

int shadow_unprotect_current(struct shadow *sh, uint32_t va)
{
	uint8_t *p = sh->current->base + (va & ~(GUEST_PAGE_SIZE - 1));
	return mprotect(p, GUEST_PAGE_SIZE, PROT_READ | PROT_WRITE) < 0 ? -errno : 0;
}

/* A guest's write-protection of a page-table entry (fork marking its
 * pages copy-on-write, a dirty bit cleared) waits for the guest's TLB
 * flush: until then the SDM lets a processor keep writing through the
 * translation it cached (an entry is mapped writable only with its
 * accessed and dirty bits set, as a TLB entry for a write would be), and
 * every OS flushes after such a change, on every CPU that may hold it.
 * The flush then protects the whole batch in address order, a run of
 * neighbours in one mprotect: a fork's write-protections were one
 * mprotect each, and one that takes a mapping's write permission away
 * costs a shootdown of the host TLB on every core the other vCPUs run on.
 * A window not in use gets them at its selection, as other held-back
 * protections. */
static void hold_wp(struct shadow *sh, struct shadow_window *w, uint32_t vpage)
{
	if (w->nreprotect && w->reprotect[w->nreprotect - 1] == vpage)
		return;
	if (w->nreprotect == SHADOW_REPROTECT_MAX)
		shadow__flush_reprotects(sh, w);
	w->reprotect[w->nreprotect++] = vpage;
	if (shadow__window_live(sh, &w->win))
		sh->wp_held = true;
	sh->stats.wp_held++;
}

/* A CR3 load (or a CR0/CR4 write, a task switch), or an INVLPG: the
 * write-protections held back in the windows a vCPU may run in are
 * carried out. Held-back unmaps wait for the window's selection that
 * follows a CR3 load (shadow_select's tlb_flushed): one the vCPU leaves
 * keeps them until it comes back (the kernel's text_poke sets its next
 * alias from the other address space, and the new mapping replaces the
 * unmap); an INVLPG takes those of its page (shadow_invlpg). */
void shadow_tlb_flushed(struct shadow *sh)
{
	if (!sh->wp_held)
		return;
	sh->wp_held = false;
	/* Only windows that run hold write-protections the flush is for;
	 * the others' lists wait for their selection. */
	for (unsigned i = 0; i < SHADOW_MAX_WINDOWS; i++) {
		struct shadow_window *w = &sh->windows[i];
		if (w->nreprotect && shadow__window_live(sh, &w->win))
			shadow__flush_reprotects(sh, w);
	}
}

/* --- dropping shadow entries -------------------------------------------- */

/* The current window's address space is another now: the vCPU's lookup
 * tags follow at once (before translated code runs again). */
void shadow__set_ibl_tag(struct shadow *sh, uint32_t asid)
{
	if (sh->space_changed)
		sh->space_changed(sh->space_opaque, false, asid);
}

static void set_global_tag(struct shadow *sh, uint32_t asid)
{
	if (sh->space_changed && !sh->nspace_all)
		sh->space_changed(sh->space_opaque, true, asid);
	for (unsigned i = 0; i < sh->nspace_all; i++)
		sh->space_changed(sh->space_all[i], true, asid);
	global_pages_clear(&sh->global);
}

/* The next unused tag; when they run out, every window and the global
 * entries start over with a clean table. */
static uint32_t new_asid(struct shadow *sh)
{
	if (++sh->next_asid >= ASID_LIMIT) {
		sh->next_asid = 1;
		for (unsigned i = 0; i < SHADOW_MAX_WINDOWS; i++)
			sh->windows[i].asid = sh->next_asid++;
		set_global_tag(sh, sh->next_asid++);
		sh->ibl_epoch++;
		if (sh->current && sh->current != &sh->identity)
			shadow__set_ibl_tag(sh, ((struct shadow_window *)sh->current)->asid);
	}
	return sh->next_asid;
}

void shadow__retire_asid(struct shadow *sh, struct shadow_window *w)
{
	w->asid = new_asid(sh);
	if (sh->current == &w->win)
		shadow__set_ibl_tag(sh, w->asid);
}

void shadow_retire_global(struct shadow *sh)
{
	set_global_tag(sh, new_asid(sh));
}

uint32_t *const *shadow_current_entries(const struct shadow *sh)
{
	if (!sh->current || sh->current == &sh->identity)
		return NULL;
	return ((const struct shadow_window *)sh->current)->regions;
}

void *shadow_current_ptr(struct shadow *sh, uint32_t va, unsigned len, bool write)
{
	if ((va & (GUEST_PAGE_SIZE - 1)) + len > GUEST_PAGE_SIZE || !sh->current ||
	    sh->current == &sh->identity)
		return NULL;
	struct shadow_window *w = (struct shadow_window *)sh->current;
	const uint32_t *e = entry_of(w, va >> 12);
	if (!e || !*e)
		return NULL;
	/* (A write permission the host mapping has not got back yet:
	 * lazy_relax.) */
	if (write && (!(*e & SHADOW_E_WRITABLE) || !(*e & SHADOW_E_HOST_RW) ||
		      page_read_only(sh, shadow_entry_page(*e))))
		return NULL;
	/* While RAM writes are logged, a page logged by the monitor may still
	 * be mapped read-only: the slow path, which logs, is always right. */
	if (write && sh->ram->written)
		return NULL;
	return w->win.base + va;
}

void shadow_note_global_code(struct shadow *sh, uint32_t va, uint32_t frame, bool user)
{
	global_pages_note(&sh->global, va, frame, user);
}

/* Whether vpage is one of w's temporary mapping slots (w->reused). */
static bool reused_slot(const struct shadow_window *w, uint32_t vpage)
{
	for (unsigned i = 0; i < SHADOW_REUSED_SLOTS; i++)
		if (w->reused[i] == vpage + 1)
			return true;
	return false;
}

void shadow_invlpg(struct shadow *sh, uint32_t va)
{
	/* An entry cleared and invalidated at once in the window running: a
	 * temporary mapping given back (Linux's kmap_local of a high-memory
	 * page, a page of the page cache read or written, a page cleared
	 * for a process). From now on its slot stays unmapped (SHADOW_SLOT). */
	struct shadow_window *w = sh->dropped_window;
	uint32_t vpage = va >> 12;
	if (w && &w->win == sh->current && vpage == sh->dropped_vpage && !reused_slot(w, vpage)) {
		w->reused[w->reused_next] = vpage + 1;
		w->reused_next = (w->reused_next + 1) % SHADOW_REUSED_SLOTS;
	}
	sh->dropped_window = NULL;
	/* A held-back unmap that holds the page goes, in each view of this
	 * address space (a user page the kernel cleared, invalidated before
	 * the IRET to it); those of other pages wait on, as their TLB
	 * entries would (one INVLPG a page: the first empties the range).
	 * Another address space's wait for the CR3 load that selects it. */
	if (sh->current && sh->current != &sh->identity)
		shadow__flush_pending_page(sh, ((const struct shadow_window *)sh->current)->cr3, vpage);
	shadow_tlb_flushed(sh);
	if (global_pages_holds(&sh->global, va))
		shadow_retire_global(sh);
}

void shadow_drop_global(struct shadow *sh)
{
	if (!global_pages_empty(&sh->global)) {
		shadow_retire_global(sh);
		sh->stats.global_retired++;
	}
}

void shadow_flush_global(struct shadow *sh, const struct paging_regs *pr)
{
	if (global_pages_empty(&sh->global))
		return;
	if (global_pages_unchanged(&sh->global, sh->ram, pr))
		sh->stats.global_kept++;
	else
		shadow_drop_global(sh);
}

/* Forgets one entry; the host mapping is the caller's to remove. */
static void forget_entry(struct shadow *sh, struct shadow_window *w, uint32_t vpage, uint32_t *e)
{
	uint32_t page = shadow_entry_page(*e);
	uint32_t *node = node_slot(w, vpage);
	assert(*node && sh->nodes[*node - 1].win == (uint16_t)(w - sh->windows) &&
	       sh->nodes[*node - 1].key == vpage);
	shadow__list_unlink(sh, &sh->map_head[page], *node);
	*node = 0;
	if (*e & SHADOW_E_HOST_RW)
		sh->dropped_rw_epoch[page] = sh->pending_epoch;
	if (sh->code_pages && page < sh->ram_pages && sh->code_pages[page])
		shadow__retire_asid(sh, w);   /* table entries may lead to blocks of the old page */
	entry_set(sh, w, vpage, 0);
	w->mapped--;
	sh->total_mapped--;
}

/* Forgets a mapped entry a page-table write changed; its host mapping is
 * the caller's: held back, or replaced by a new mapping's MAP_FIXED. */
static void forget_dropped(struct shadow *sh, struct shadow_window *w, uint32_t vpage, uint32_t *e)
{
	sh->dropped_window = w;
	sh->dropped_vpage = vpage;
	forget_entry(sh, w, vpage, e);
	sh->stats.shadow_drops++;
}

static void drop_entry(struct shadow *sh, struct shadow_window *w, uint32_t vpage)
{
	uint32_t *e = entry_of(w, vpage);
	if (!e || !*e)
		return;
	forget_dropped(sh, w, vpage, e);
	shadow__defer_unmap(sh, w, vpage, vpage + 1);
}

void shadow__release_table(struct shadow *sh, uint32_t page, uint16_t win, uint32_t key)
{
	if (page >= sh->ram_pages || !shadow__list_remove(sh, &sh->deriv_head[page], win, key))
		return;
	if (--sh->pt_refs[page] == 0)
		shadow_reprotect(sh, page);
}

void shadow__drop_region(struct shadow *sh, struct shadow_window *w, uint32_t r, bool unmap)
{
	uint32_t *reg = w->regions[r];
	if (!reg)
		return;
	/* Only the entries are mapped (a held-back unmap of pages here
	 * stays held back): a region with none needs no host call. */
	unmap = unmap && w->region_maps[r] > 0;
	for (uint32_t i = 0; i < 1024; i++)
		if (reg[i])
			forget_entry(sh, w, r * 1024 + i, &reg[i]);
	if (unmap)   /* before the tables' release, which may flush */
		shadow__defer_unmap(sh, w, r * 1024, r * 1024 + 1024);
	assert(w->region_maps[r] == 0);
	uint16_t id = (uint16_t)(w - sh->windows);
	uint32_t pt = w->region_pt[r];
	if (pt != SHADOW_NO_PT && pt != SHADOW_LARGE)
		shadow__release_table(sh, pt, id, w->pae ? 2 * r : r);
	pt = w->region_pt_hi[r];
	if (w->pae && pt != SHADOW_NO_PT && pt != SHADOW_LARGE)
		shadow__release_table(sh, pt, id, 2 * r + 1);
	free(reg);
	w->regions[r] = NULL;
	w->region_pt[r] = SHADOW_NO_PT;
	w->region_pt_hi[r] = SHADOW_NO_PT;
	w->suspect[r / 64] &= ~(1ull << (r % 64));
	/* A user view left with nothing mapped: its process has most often
	 * exited, and a new one may come to the same directory page, and
	 * so to this window, with pages at the same addresses that the old
	 * one's churn says nothing of. */
	if (w->user && w->mapped == 0)
		w->serial = ++sh->next_serial;
}

/* Its directory's trace (if traced), or under PAE its directories'. */
void shadow__release_directories(struct shadow *sh, struct shadow_window *w)
{
	uint16_t id = (uint16_t)(w - sh->windows);
	if (!w->pae) {
		shadow__release_table(sh, shadow__table_page(sh, w->cr3), id, SHADOW_KEY_PD);
		return;
	}
	for (uint32_t q = 0; q < 4; q++)
		if (w->pdpte[q] & PTE_P)
			shadow__release_table(sh, shadow__table_page(sh, w->pdpte[q] & PAE_FRAME), id, SHADOW_KEY_PAE_PD0 + q);
}

/* Traces the directory (directories under PAE) w is made for. */
int shadow__trace_directories(struct shadow *sh, struct shadow_window *w)
{
	uint16_t id = (uint16_t)(w - sh->windows);
	for (uint32_t q = 0; q < (w->pae ? 4u : 1u); q++) {
		uint32_t pd = w->pae ? (w->pdpte[q] & PTE_P ? shadow__table_page(sh, w->pdpte[q] & PAE_FRAME) : ~0u)
				      : shadow__table_page(sh, w->cr3);
		if (pd >= sh->ram_pages)
			continue;
		int err = shadow__list_add(sh, &sh->deriv_head[pd], id,
					   w->pae ? SHADOW_KEY_PAE_PD0 + q : SHADOW_KEY_PD, NULL);
		if (err)
			return err;
		if (sh->pt_refs[pd]++ == 0)
			shadow_reprotect(sh, pd);
	}
	return 0;
}

void shadow__drop_window(struct shadow *sh, struct shadow_window *w)
{
	if (!w->used)
		return;
	shadow__forget_pending(sh, w);   /* the whole window goes below */
	if (sh->dropped_window == w)
		sh->dropped_window = NULL;
	for (uint32_t r = 0; r < SHADOW_REGIONS; r++)
		shadow__drop_region(sh, w, r, false);
	shadow__unmap_range(sh, w, 0, SHADOW_REGIONS * 1024);
	shadow__release_directories(sh, w);
	w->pd_untraced = false;
	w->pd_floods = 0;
	w->any_suspect = false;
	w->nreprotect = 0;
	w->used = false;
	if (sh->current == &w->win)
		sh->current = NULL;
}

void shadow_pdptes_loaded(struct shadow *sh)
{
	sh->cur_view = -2;
}

void shadow_flush(struct shadow *sh)
{
	for (unsigned i = 0; i < SHADOW_MAX_WINDOWS; i++)
		shadow__drop_window(sh, &sh->windows[i]);
	sh->current = NULL;
	sh->cur_view = -2;
	shadow_retire_global(sh);
	__atomic_fetch_add(&sh->tables_changed, 1, __ATOMIC_RELEASE);
	sh->stats.flushes++;
}

/* --- the tables changed --------------------------------------------------- */

/* Walks for window w follow its own CR0.WP (its view), so that a window
 * never holds a mapping another WP would give. For a user window WP
 * changes nothing. */
static void window_wp(const struct shadow_window *w, struct paging_regs *pr)
{
	pr->cr0 = w->no_wp ? pr->cr0 & ~CR0_WP : pr->cr0 | CR0_WP;
}

/* The paging registers a walk for window w uses: its CR3 (and PDPTEs),
 * its view's WP, the rest as of the last switch. */
static struct paging_regs window_regs(const struct shadow *sh, const struct shadow_window *w)
{
	struct paging_regs pr = sh->regs;
	pr.cr3 = w->cr3;
	memcpy(pr.pdpte, w->pdpte, sizeof(pr.pdpte));
	window_wp(w, &pr);
	return pr;
}

struct fault_run {
	uint32_t start;   /* linear page */
	unsigned count;
};
static int map_page(struct shadow *sh, struct shadow_window *w, uint32_t va, const struct walk *wk,
		    const struct paging_regs *pr, struct fault_run *run, bool wp_waits);

/* A page-table entry behind this shadow entry changed: map what it says
 * now if that needs no accessed bit set (the guest's next touch would
 * otherwise take a hidden fault just to get here), else leave it unmapped;
 * the page of the last #PF, in the window (view) that took it, is mapped
 * with its accessed bits set: the guest's handler installing the page the
 * faulting instruction is about to touch again.
 * Others (fault-around, a kernel table shared by every window, the other
 * view of the same address space: a user page the kernel may never touch)
 * would cost a host mapping each, mostly never used. An entry dropped but
 * still held back in the pending unmap (or a page between such entries
 * there, which held nothing) counts as mapped: mapping it again
 * replaces the unmap (map_run), where leaving it would cost that unmap and
 * a hidden fault later (the kernel's text_poke clears its alias in its own
 * address space, switches back, and sets the next one from there). */
static void refresh_entry(struct shadow *sh, struct shadow_window *w, uint32_t vpage)
{
	uint32_t *e = entry_of(w, vpage);
	uint32_t old = e ? *e : 0;
	/* A churned page, mapped or not, whose entry goes away again starts
	 * its count of uses over (shadow_churn_needed). Its held-back unmap
	 * does not count as mapped: its accesses go through the callouts. */
	bool churn = shadow__churn_record(sh, w, vpage) != NULL;
	bool was = old || (!churn && shadow__pending_holds(sh, w, vpage));
	bool faulted = w == sh->pf_window && w->cr3 == sh->pf_cr3 && vpage == sh->pf_vpage;
	bool wanted = was || faulted;
	struct paging_regs pr = window_regs(sh, w);   /* the current window's CR0.WP may be the other */
	struct walk wk;
	uint32_t err;
	uint32_t va = vpage << 12;
	uint32_t page = 0;
	assert(!w->unpaged);   /* it derives from no table */
	/* The faulting instruction's page gets its accessed bits now where
	 * the handler left them clear (Linux sets them; a handler that does
	 * not cost a hidden fault more a fault): the retry would set them at
	 * once, and a processor may set them for a translation it only forms
	 * speculatively (SDM Vol. 3 4.8). Dirty bits wait for the write. */
	unsigned access = (faulted ? ACCESS_READ : ACCESS_PEEK) | (w->user ? ACCESS_USER : 0);
	bool maps = (wanted || churn) && w->regions[vpage >> 10] &&
		    paging_walk(sh->ram, &pr, va, access, &wk, &err) && guest_mem_page(sh->ram, wk.gpa, &page);
	bool now = wanted && maps;
	if ((was || churn) && !maps)
		shadow__note_churn(sh, w, vpage, false);
	/* The same frame as before (fork write-protecting for copy-on-write, a
	 * dirty bit cleared, a page made writable): map_page changes the
	 * protection in place, which keeps the host's page-table entry, where
	 * an unmap and a map would cost a second system call and a minor
	 * fault at the next touch. */
	if (now && old && shadow_entry_page(old) == page) {
		if (map_page(sh, w, va, &wk, NULL, NULL, true) == 0) {
			sh->stats.shadow_updates++;
			return;
		}
		now = false;   /* no room to split the mapping: drop it */
	}
	/* Another frame: its mapping replaces the old one (map_page), with no
	 * unmap held back to empty the others' ranges before it. */
	if (now && map_page(sh, w, va, &wk, NULL, NULL, false) == 0) {
		sh->stats.shadow_updates++;
		return;
	}
	drop_entry(sh, w, vpage);
}

#define SLOT_USERS_MAX 512u

/* Writes to a page table with no fill through it in between after which
 * its shadows are dropped (KVM calls it write flooding): a table written
 * that often unseen is being torn down (an exiting process clears 1024
 * entries), or is no table any more (freed, and reused as a kernel stack
 * while a cached window of its old process still derives from it, every
 * stack write then trapping). Untraced, the writes run at full speed; a
 * table still in use is traced again by the next fill through it. */
#define TABLE_FLOOD_WRITES 32u

/* The shadows derived from page, copied: dropping a region can unlink
 * nodes of this very list (a directory that maps itself). False when
 * there are more than SLOT_USERS_MAX. */
static bool table_users(const struct shadow *sh, uint32_t page, struct shadow_node *users,
			unsigned *n)
{
	*n = 0;
	for (uint32_t id = sh->deriv_head[page]; id; id = sh->nodes[id - 1].next) {
		if (*n == SLOT_USERS_MAX)
			return false;
		users[(*n)++] = sh->nodes[id - 1];
	}
	return true;
}

static void suspect_region(struct shadow *sh, struct shadow_window *w, uint32_t r, uint32_t old);

/* The directory of a window not in use, flooded DIRECTORY_FLOODS times
 * since the window was last selected: its process is gone and the page
 * serves as something else (a kernel stack: every PUSH on it trapped and
 * ran in the monitor, 2.9-4.6 million exits in 4 Debian boots of 20). A
 * live process's directory is written too (the kernel syncs vmalloc
 * entries into it, a fork loop's parent twice a fork), but its window is
 * selected again soon. The window stops tracing the page and keeps each
 * region as a suspect with the entry it derives from, checked if the
 * window is ever selected again, as for a single entry written meanwhile
 * (suspect_region). */
#define DIRECTORY_FLOODS 4u

static void untrace_directory(struct shadow *sh, struct shadow_window *w)
{
	const uint32_t *pd = shadow__table_host(sh, shadow__table_page(sh, w->cr3));
	for (uint32_t r = 0; r < SHADOW_REGIONS; r++)
		if (w->regions[r])
			suspect_region(sh, w, r, pd[r]);   /* a suspect already keeps its older entry */
	shadow__release_table(sh, shadow__table_page(sh, w->cr3), (uint16_t)(w - sh->windows), SHADOW_KEY_PD);
	w->pd_untraced = true;
}

/* The window is selected: its directory is traced again. */
int shadow__retrace_directory(struct shadow *sh, struct shadow_window *w)
{
	uint32_t pd = w->cr3 / GUEST_PAGE_SIZE;
	int err = shadow__list_add(sh, &sh->deriv_head[pd], (uint16_t)(w - sh->windows), SHADOW_KEY_PD, NULL);
	if (err)
		return err;
	if (sh->pt_refs[pd]++ == 0)
		shadow_reprotect(sh, pd);
	w->pd_untraced = false;
	return 0;
}

static void unshadow_table(struct shadow *sh, uint32_t page)
{
	struct shadow_node users[SLOT_USERS_MAX];
	unsigned n;
	(void)table_users(sh, page, users, &n);   /* the first ones at least */
	bool dropped = false;
	for (unsigned i = 0; i < n; i++) {
		struct shadow_window *w = &sh->windows[users[i].win];
		if (!is_directory_key(users[i].key)) {
			uint32_t r = w->pae ? users[i].key >> 1 : users[i].key;
			/* Most often a table being torn down (a munmap), or
			 * write-protected for a fork: what the user view mapped
			 * through it is likely churned. */
			for (uint32_t k = 0; w->user && w->regions[r] && k < 1024; k++)
				if (w->regions[r][k])
					shadow__note_churn(sh, w, r * 1024 + k, true);
			shadow__drop_region(sh, w, r, true);
			dropped = true;
		} else if (w->used && !shadow__window_live(sh, &w->win) && ++w->pd_floods >= DIRECTORY_FLOODS) {
			/* Under PAE the window goes whole: no suspects there. */
			if (w->pae)
				shadow__drop_window(sh, w);
			else
				untrace_directory(sh, w);
			dropped = true;
		}
	}
	sh->table_writes[page] = 0;
	sh->stats.tables_unshadowed += dropped;
}

/* A directory entry of a window not in use changed from old: its region
 * is checked when the window is selected again, and dropped only if the
 * entry is not old then. A new process's directory is often the page of
 * an exited one, whose windows are still cached: the kernel zeroes it and
 * copies its own kernel half in (pgd_ctor), and dropping those regions
 * re-faulted the kernel in every new process (about 20 hidden faults a
 * fork). Nothing runs in the window meanwhile, so no access can see its
 * stale mappings. A region with nothing mapped goes at once: so does its
 * page table's trace (an exiting process clears its tables, then the
 * directory entries, and frees the tables). */
static void suspect_region(struct shadow *sh, struct shadow_window *w, uint32_t r, uint32_t old)
{
	uint64_t bit = 1ull << (r % 64);
	if (!w->regions[r] || w->region_maps[r] == 0) {
		shadow__drop_region(sh, w, r, true);
		return;
	}
	if (!(w->suspect[r / 64] & bit)) {
		w->suspect[r / 64] |= bit;
		w->suspect_pde[r] = old;
		w->any_suspect = true;
	}
}

void shadow__check_suspects(struct shadow *sh, struct shadow_window *w)
{
	const uint32_t *pd = shadow__table_host(sh, shadow__table_page(sh, w->cr3));   /* written, so a table in RAM */
	w->any_suspect = false;
	for (uint32_t i = 0; i < SHADOW_REGIONS / 64; i++) {
		while (w->suspect[i]) {
			uint32_t r = i * 64 + (uint32_t)__builtin_ctzll(w->suspect[i]);
			w->suspect[i] &= w->suspect[i] - 1;
			if (pd[r] != w->suspect_pde[r])
				shadow__drop_region(sh, w, r, true);
		}
	}
}

static void table_slot_written(struct shadow *sh, uint32_t page, uint32_t slot, uint32_t old)
{
	__atomic_fetch_add(&sh->tables_changed, 1, __ATOMIC_RELEASE);
	/* On a copy; each action is idempotent. */
	struct shadow_node users[SLOT_USERS_MAX];
	unsigned n;
	if (!table_users(sh, page, users, &n)) {
		shadow_flush(sh);   /* absurdly shared: start every window over */
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		struct shadow_window *w = &sh->windows[users[i].win];
		uint32_t key = users[i].key;
		if (key == SHADOW_KEY_PD) {
			if (shadow__window_live(sh, &w->win))
				shadow__drop_region(sh, w, slot, true);   /* a directory entry: its 4 MiB */
			else
				suspect_region(sh, w, slot, old);
		} else if (is_directory_key(key)) {
			/* A PAE directory entry (8 bytes, either dword): the
			 * region holding its 2 MiB. */
			shadow__drop_region(sh, w, ((key - SHADOW_KEY_PAE_PD0) * 512 + slot / 2) >> 1, true);
		} else if (w->pae) {
			refresh_entry(sh, w, key * 512 + slot / 2);
		} else {
			refresh_entry(sh, w, key * 1024 + slot);
		}
	}
	if (shadow_page_is_table(sh, page) && ++sh->table_writes[page] >= TABLE_FLOOD_WRITES)
		unshadow_table(sh, page);
}

bool shadow_page_is_table(const struct shadow *sh, uint32_t page)
{
	return page < sh->ram_pages && sh->pt_refs[page] > 0;
}

void shadow_table_changed(struct shadow *sh, uint32_t page, const uint32_t *old)
{
	if (!shadow_page_is_table(sh, page))
		return;
	const uint32_t *now = (const uint32_t *)(sh->ram->host + (uint64_t)page * GUEST_PAGE_SIZE);
	for (uint32_t i = 0; i < 1024 && shadow_page_is_table(sh, page); i++)
		if (now[i] != old[i])
			table_slot_written(sh, page, i, old[i]);
}

void shadow_after_write(struct shadow *sh, uint64_t gpa, const uint32_t *old, unsigned nwords)
{
	/* Entries written with the value they had change nothing (a string
	 * copy over a table, a store of the value an entry holds). */
	uint32_t page = shadow__table_page(sh, gpa), slot = (uint32_t)(gpa % GUEST_PAGE_SIZE) / 4;
	assert(gpa % 4 == 0 && slot + nwords <= GUEST_PAGE_SIZE / 4);
	if (!shadow_page_is_table(sh, page))
		return;
	const uint32_t *now = shadow__table_host(sh, page);
	for (unsigned i = 0; i < nwords && shadow_page_is_table(sh, page); i++)
		if (now[slot + i] != old[i])
			table_slot_written(sh, page, slot + i, old[i]);
}

/* --- filling ------------------------------------------------------------ */

/* Maps count pages from vpage to guest pages from page on, already
 * checked and not mapped in w, with one host mapping and their reverse-map
 * entries. 0, or a negative errno with nothing of the run left mapped. */
static int map_run(struct shadow *sh, struct shadow_window *w, uint32_t vpage, uint32_t page,
		   unsigned count, uint32_t flags)
{
	uint16_t id = (uint16_t)(w - sh->windows);
	uint8_t *host = w->win.base + (uint64_t)vpage * GUEST_PAGE_SIZE;
	int prot = entry_prot(sh, shadow_entry(page, flags));
	assert((vpage & 1023) + count <= 1024);   /* one region: entry_breaks' unit */
	/* A held-back unmap inside the run is done by the run's own
	 * MAP_FIXED (or its unmap on failure): a PTE changed to another frame
	 * (a copy-on-write break) is mapped again at once (refresh_entry), and
	 * cost two mmap calls. One that overlaps the run is done first; one
	 * beside it waits on. */
	shadow__pending_before_map(sh, w, vpage, count);
	sh->stats.map_calls++;
	if (mmap(host, (size_t)count * GUEST_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED, sh->ram->memfd,
		 (off_t)page * GUEST_PAGE_SIZE) == MAP_FAILED) {
		int err = -errno;
		shadow__unmap_range(sh, w, vpage, count);
		return err;
	}
	for (unsigned i = 0; i < count; i++) {
		int err = shadow__list_add(sh, &sh->map_head[page + i], id, vpage + i, node_slot(w, vpage + i));
		if (err) {
			shadow__unmap_range(sh, w, vpage + i, count - i);
			return err;
		}
		entry_set(sh, w, vpage + i, entry_with_prot(shadow_entry(page + i, flags), prot));
		w->mapped++;
		sh->total_mapped++;
	}
	return 0;
}

/* Pages around a hidden fault that are mapped in one go. */
#define PREFETCH_PAGES 64u

/* Linear page vpage of w, not mapped yet, as it would map under pr: to a
 * RAM frame through the same table as its region, with these entry flags
 * (a look: false where an accessed bit is clear). */
static bool neighbour_entry(struct shadow *sh, struct shadow_window *w, const struct paging_regs *pr,
			    uint32_t vpage, uint32_t *frame, uint32_t *flags)
{
	uint32_t r = vpage >> 10;
	struct walk wk;
	uint32_t err;
	if (w->regions[r][vpage & 1023] ||
	    !paging_walk(sh->ram, pr, vpage << 12, ACCESS_PEEK | (w->user ? ACCESS_USER : 0), &wk, &err) ||
	    (*frame = guest_ram_page(sh->ram, wk.gpa)) == GUEST_RAM_NO_PAGE)
		return false;
	*flags = SHADOW_E_MAPPED | (wk.writable && wk.dirty ? SHADOW_E_WRITABLE : 0) |
		 (wk.no_exec ? SHADOW_E_NO_EXEC : 0);
	return (wk.large ? SHADOW_LARGE : shadow__table_page(sh, wk.pte_gpa)) == *unit_pt(w, vpage);
}

/* Whether that page would map to frame with flags, at prot. */
static bool maps_alike(struct shadow *sh, struct shadow_window *w, const struct paging_regs *pr,
		       uint32_t vpage, uint32_t frame, uint32_t flags, int prot)
{
	uint32_t f, fl;
	return neighbour_entry(sh, w, pr, vpage, &f, &fl) && f == frame && fl == flags &&
	       entry_prot(sh, shadow_entry(frame, flags)) == prot;
}

/* A hidden fault's page goes in one host mapping with the neighbours the
 * prefetch would map anyway when they follow it in frame as in address
 * (a 4 MiB page's, over its whole region; a table's, over the prefetch
 * chunk): one mmap instead of three where the two runs beside it met it
 * (a Debian boot made 2.8 mmap calls a hidden fault). */
static void grow_fault_run(struct shadow *sh, struct shadow_window *w, const struct paging_regs *pr,
			   bool large, uint32_t page, uint32_t flags, struct fault_run *run)
{
	uint32_t vpage = run->start;
	if (page >= sh->ram_pages)
		return;   /* device memory: its frames follow RAM's in the memfd, not in the guest */
	uint32_t span = large ? (w->pae ? 512u : 1024u) : PREFETCH_PAGES;
	uint32_t first = vpage & ~(span - 1);
	uint32_t r = vpage >> 10;
	int prot = entry_prot(sh, shadow_entry(page, flags));
	for (uint32_t v = vpage + 1; v < first + span; v++) {
		uint32_t frame = page + (v - vpage);
		if (large ? w->regions[r][v & 1023] || frame >= sh->ram_pages ||
				    entry_prot(sh, shadow_entry(frame, flags)) != prot
			  : !maps_alike(sh, w, pr, v, frame, flags, prot))
			break;
		run->count++;
	}
	for (uint32_t v = vpage; v-- > first;) {
		uint32_t frame = page - (vpage - v);
		if (page < vpage - v ||
		    (large ? w->regions[r][v & 1023] || entry_prot(sh, shadow_entry(frame, flags)) != prot
			   : !maps_alike(sh, w, pr, v, frame, flags, prot)))
			break;
		run->start--;
		run->count++;
	}
}

/* Maps linear page va of w as walked in wk; with run, a hidden fault's,
 * together with the neighbours grow_fault_run finds under pr, which run
 * tells. With wp_waits (a page-table entry written) a mapped page that
 * only loses its write permission keeps it until the guest's TLB flush
 * (hold_wp). */
static int map_page(struct shadow *sh, struct shadow_window *w, uint32_t va, const struct walk *wk,
		    const struct paging_regs *pr, struct fault_run *run, bool wp_waits)
{
	uint32_t vpage = va >> 12, r = vpage >> 10, page;
	uint16_t id = (uint16_t)(w - sh->windows);
	uint32_t table = wk->large ? SHADOW_LARGE : shadow__table_page(sh, wk->pte_gpa);
	int err;

	if (!guest_mem_page(sh->ram, wk->gpa, &page))
		return -EFAULT;
	if (run)
		*run = (struct fault_run){ vpage, 1 };

	uint32_t *pt = unit_pt(w, vpage);
	if (w->regions[r] && *pt != SHADOW_NO_PT && *pt != table)
		shadow__drop_region(sh, w, r, true);   /* the directory entry moved under us */
	if (!w->regions[r]) {
		w->regions[r] = calloc(2 * 1024, sizeof(uint32_t));   /* entries, nodes */
		if (!w->regions[r])
			return -ENOMEM;
	}
	if (*pt == SHADOW_NO_PT) {
		*pt = table;
		if (table != SHADOW_LARGE && table < sh->ram_pages) {
			err = shadow__list_add(sh, &sh->deriv_head[table], id, unit_key(w, vpage), NULL);
			if (err)
				return err;
			if (sh->pt_refs[table]++ == 0)
				shadow_reprotect(sh, table);
		}
	}
	if (table < sh->ram_pages)
		sh->table_writes[table] = 0;   /* in use: a fill went through it */
	uint32_t pd = window_pd_page(sh, w, vpage);
	if (pd < sh->ram_pages)
		sh->table_writes[pd] = 0;   /* and through its directory */
	uint32_t *e = &w->regions[r][vpage & 1023];
	uint32_t flags = SHADOW_E_MAPPED | (wk->writable && wk->dirty ? SHADOW_E_WRITABLE : 0) |
			 (wk->no_exec ? SHADOW_E_NO_EXEC : 0);
	if (*e && shadow_entry_page(*e) == page) {
		int prot = entry_prot(sh, shadow_entry(page, flags));
		/* XD changed on a page with translations: the lookup table's
		 * entries for it must go, as its TLB entry would. */
		if (((*e ^ flags) & SHADOW_E_NO_EXEC) && sh->code_pages && page < sh->ram_pages &&
		    sh->code_pages[page])
			shadow__retire_asid(sh, w);
		/* A page-table write (wp_waits): where the host's protection
		 * stays (a clean page, mapped read-only for its dirty bit,
		 * write-protected for copy-on-write) there is nothing to do; a
		 * write permission taken away waits for the guest's flush. */
		int host_prot = PROT_READ | ((*e & SHADOW_E_HOST_RW) ? PROT_WRITE : 0);
		if (wp_waits && (host_prot == prot || (!(prot & PROT_WRITE) && !page_read_only(sh, page) &&
						       !((*e ^ flags) & SHADOW_E_NO_EXEC)))) {
			entry_set(sh, w, vpage, entry_with_prot(shadow_entry(page, flags), host_prot));
			if (host_prot != prot)
				hold_wp(sh, w, vpage);
			return 0;
		}
		entry_set(sh, w, vpage, entry_with_prot(shadow_entry(page, flags), prot));
		uint8_t *host = w->win.base + (uint64_t)vpage * GUEST_PAGE_SIZE;
		return mprotect(host, GUEST_PAGE_SIZE, prot) < 0 ? -errno : 0;
	}
	if (*e)
		forget_dropped(sh, w, vpage, e);   /* map_run's MAP_FIXED replaces its mapping */
	w->region_tick[r] = ++sh->tick;
	if (sh->host_maps >= sh->map_budget)
		(void)shadow__replace_regions(sh, sh->map_budget - sh->map_budget / 8, w, r);
	if (!run)
		return map_run(sh, w, vpage, page, 1, flags);
	grow_fault_run(sh, w, pr, wk->large, page, flags, run);
	return map_run(sh, w, run->start, page - (vpage - run->start), run->count, flags);
}

/* Separate host mappings a prefetch may make: physically scattered pages
 * cost a system call each, so only a few are worth guessing at (a fork
 * loop ran fastest with 2 runs of a 64-page chunk; 1, 4 and chunks of 16,
 * 256 and 1024 pages were measured slower). */
#define PREFETCH_MAX_RUNS 2u

/* After a hidden fault: maps the neighbours in the same aligned chunk of
 * the same page table that the guest has already touched (accessed bit
 * set, and dirty for a writable mapping), so a kernel sweeping through
 * its direct map or a process through its heap takes one host fault per
 * chunk instead of one per page. A/D bits stay exact: nothing is mapped
 * that a real TLB could not hold already. */
static void prefetch_around(struct shadow *sh, struct shadow_window *w,
			    const struct paging_regs *pr, uint32_t va)
{
	uint32_t first = (va >> 12) & ~(PREFETCH_PAGES - 1);
	uint32_t r = first >> 10;
	if (!w->regions[r])
		return;
	uint32_t run_vpage = 0, run_page = 0, run_flags = 0;
	unsigned run_len = 0, runs = 0;
	for (uint32_t vpage = first; vpage <= first + PREFETCH_PAGES; vpage++) {
		uint32_t page = 0, flags = 0;
		bool ok = vpage < first + PREFETCH_PAGES && sh->host_maps + 2 * (runs + 1) < sh->map_budget &&
			  neighbour_entry(sh, w, pr, vpage, &page, &flags);
		if (run_len && (!ok || page != run_page + run_len ||
				entry_prot(sh, shadow_entry(page, flags)) != entry_prot(sh, shadow_entry(run_page, run_flags)) ||
				flags != run_flags)) {
			if (map_run(sh, w, run_vpage, run_page, run_len, run_flags))
				return;
			sh->stats.prefetched += run_len;
			if (++runs == PREFETCH_MAX_RUNS)
				return;
			run_len = 0;
		}
		if (!ok)
			continue;
		if (!run_len) {
			run_vpage = vpage;
			run_page = page;
			run_flags = flags;
		}
		run_len++;
	}
}

/* Runs a fill of a 4 MiB page may map: the region's pages at one
 * protection go as one host mapping, and traced or code pages break it. */
#define LARGE_MAX_RUNS 8u

/* After a hidden fault on a 4 MiB page: the rest of it is what one TLB
 * entry of the page already holds (A set in its directory entry, D too for
 * a writable mapping), so it is mapped at once, outward from the faulting
 * page, in runs of pages at one protection. A guest sweeping its direct
 * map or a large heap then takes one host fault per 4 MiB instead of one
 * per 64 pages, and the host keeps each run as one mapping. */
static void prefetch_large(struct shadow *sh, struct shadow_window *w, const struct walk *wk,
			   uint32_t va, const struct fault_run *fault)
{
	uint32_t span = w->pae ? 512u : 1024u;   /* the page's: 2 MiB under PAE */
	uint32_t vpage = va >> 12, r = vpage >> 10, first = vpage & ~(span - 1);
	/* The frame of page first: a large page lies wholly in one range of
	 * RAM (the split at 3 GiB and 4 GiB are 4 MiB aligned), where memfd
	 * pages follow guest frames. */
	uint32_t page = guest_ram_page(sh->ram, wk->gpa);
	if (page == GUEST_RAM_NO_PAGE)
		return;   /* device memory: its frames follow RAM's in the memfd, not in the guest */
	uint32_t frame0 = page - (vpage - first);
	uint32_t flags = SHADOW_E_MAPPED | (wk->writable && wk->dirty ? SHADOW_E_WRITABLE : 0) |
			 (wk->no_exec ? SHADOW_E_NO_EXEC : 0);
	const uint32_t *reg = &w->regions[r][first & 1023];
	unsigned runs = 0;
	for (int dir = 1; dir >= -1; dir -= 2) {
		uint32_t run_start = 0, run_len = 0;
		uint32_t edge = (fault->start - first) + (dir > 0 ? fault->count : (uint32_t)-1);
		for (uint32_t i = edge;; i += (uint32_t)dir) {
			bool ok = i < span && !reg[i] && frame0 + i < sh->ram_pages &&
				  sh->host_maps + 2 * (runs + 1) < sh->map_budget;
			if (run_len && (!ok || entry_prot(sh, shadow_entry(frame0 + i, flags)) !=
						       entry_prot(sh, shadow_entry(frame0 + run_start, flags)))) {
				uint32_t lo = dir > 0 ? run_start : run_start - run_len + 1;
				if (map_run(sh, w, first + lo, frame0 + lo, run_len, flags))
					return;
				sh->stats.prefetched += run_len;
				if (++runs == LARGE_MAX_RUNS)
					return;
				run_len = 0;
			}
			if (!ok)
				break;
			if (!run_len)
				run_start = i;
			run_len++;
		}
	}
}

/* The first write to a device page since the last harvest. */
static void mark_devmem_dirty(struct shadow *sh, uint32_t page)
{
	sh->devmem_dirty[page - sh->ram_pages] = 1;
	shadow_reprotect(sh, page);
}

/* The first write to a RAM page while writes are logged. */
static void mark_ram_written(struct shadow *sh, uint32_t page)
{
	__atomic_store_n(&sh->ram->written[page], 1, __ATOMIC_RELAXED);
	shadow_reprotect(sh, page);
}

/* Maps linear page va of w as walked in wk under pr, in one run with the
 * neighbours that follow it, then what the prefetch finds around it. */
static int fill_around(struct shadow *sh, struct shadow_window *w, const struct paging_regs *pr,
		       uint32_t va, const struct walk *wk)
{
	struct fault_run run;
	int err = map_page(sh, w, va, wk, pr, &run, false);
	if (err < 0)
		return err;
	sh->stats.prefetched += run.count - 1;
	if (wk->large)
		prefetch_large(sh, w, wk, va, &run);
	else
		prefetch_around(sh, w, pr, va);
	return 0;
}

/* With the neighbours a hidden fault would map (a library's code is
 * consecutive pages: 37,000 holds in a Debian boot one page each, fewer
 * so, and fewer hidden faults after). */
bool shadow_hold_code(struct shadow *sh, uint32_t va)
{
	if (!sh->current || sh->current == &sh->identity)
		return true;   /* no paging: nothing to change under it */
	struct shadow_window *w = (struct shadow_window *)sh->current;
	const uint32_t *e = entry_of(w, va >> 12);
	if (e && *e)
		return true;
	struct paging_regs pr = window_regs(sh, w);
	struct walk wk;
	uint32_t err, page;
	if (!paging_walk(sh->ram, &pr, va, ACCESS_PEEK | (w->user ? ACCESS_USER : 0), &wk, &err) ||
	    !guest_mem_page(sh->ram, wk.gpa, &page) || page >= sh->ram_pages)
		return false;
	sh->stats.code_holds++;
	return fill_around(sh, w, &pr, va, &wk) == 0;
}

enum shadow_fault_kind shadow_fault(struct shadow *sh, const struct vcpu_state *s, uint32_t va,
				    bool write, uint64_t *gpa, uint32_t *error)
{
	uint32_t page;
	if (sh->current == &sh->identity) {
		*gpa = va;
		/* A page whose writes the chipset drops (PAM): the callouts drop them. */
		if (!guest_mem_page(sh->ram, va, &page) || (write && guest_ram_page_locked(sh->ram, page)))
			return SHADOW_MMIO;
		if (write && devmem_clean(sh, page)) {
			mark_devmem_dirty(sh, page);
			return SHADOW_FILLED;
		}
		/* Logged RAM: the first write since the harvest, or one the
		 * monitor already logged (the mapping stayed read-only). */
		if (write && page < sh->ram_pages && sh->ram->written && !sh->code_protect[page]) {
			mark_ram_written(sh, page);
			return SHADOW_FILLED;
		}
		if (page >= sh->ram_pages)
			return SHADOW_MMIO;   /* not mapped here yet: the slow path */
		return SHADOW_TRACED;
	}
	struct shadow_window *w = (struct shadow_window *)sh->current;
	uint64_t *churn = sh->fill_anyway ? NULL : shadow__churn_record(sh, w, va >> 12);
	if (churn && !(*churn & SHADOW_CHURN_LIKELY))
		return SHADOW_CHURN;
	struct paging_regs pr = paging_regs_of(s);
	window_wp(w, &pr);   /* the same as s's: the window was selected for it */
	struct walk wk;
	unsigned access = (write ? ACCESS_WRITE : 0) | (w->user ? ACCESS_USER : 0);
	if (!paging_walk(sh->ram, &pr, va, access, &wk, error)) {
		if (churn && !(*error & PFERR_P)) {
			*churn &= SHADOW_CHURN_KEY_MASK;   /* gone and met again: churned */
			return SHADOW_CHURN;
		}
		sh->stats.true_faults++;
		sh->pf_window = w;
		sh->pf_cr3 = w->cr3;
		sh->pf_vpage = va >> 12;
		return SHADOW_PAGE_FAULT;
	}
	if (churn)
		*churn = 0;   /* mapped as before (a fork's copy-on-write): in use */
	*gpa = wk.gpa;
	if (!guest_mem_page(sh->ram, wk.gpa, &page))
		return SHADOW_MMIO;
	/* A supervisor page only: a user page cleared and invalidated (a
	 * munmap, a stack moved at exec) is mapped again for good later, and
	 * the kernel's copies to it would all go through callouts. */
	if (page < sh->ram_pages && !wk.user && !sh->fill_anyway && reused_slot(w, va >> 12))
		return SHADOW_SLOT;
	if (write && devmem_clean(sh, page))
		mark_devmem_dirty(sh, page);   /* its mappings turn writable */
	if (write && ram_clean(sh, page))
		mark_ram_written(sh, page);
	if (write && page_read_only(sh, page)) {
		/* Map it (read-only) so the slow path's single step can find it. */
		if (map_page(sh, w, va, &wk, NULL, NULL, false) < 0)
			return SHADOW_NO_ROOM;
		return guest_ram_page_locked(sh->ram, page) ? SHADOW_MMIO : SHADOW_TRACED;
	}
	if (fill_around(sh, w, &pr, va, &wk) < 0)
		return SHADOW_NO_ROOM;
	sh->stats.hidden_faults++;
	return SHADOW_FILLED;
}

enum shadow_fault_kind shadow_fill_anyway(struct shadow *sh, const struct vcpu_state *s, uint32_t va,
					  bool write, uint64_t *gpa, uint32_t *error, uint64_t *fills)
{
	sh->fill_anyway = true;
	enum shadow_fault_kind k = shadow_fault(sh, s, va, write, gpa, error);
	sh->fill_anyway = false;
	(*fills)++;
	return k;
}

bool shadow_is_slot(const struct shadow *sh, uint32_t va)
{
	return sh->current && sh->current != &sh->identity &&
	       reused_slot((const struct shadow_window *)sh->current, va >> 12);
}

/* --- for shadow_log.c ------------------------------------------------------ */

void shadow__identity_set(struct shadow *sh, uint32_t page, bool read_only)
{
	identity_set(sh, page, read_only);
}

void shadow__entry_reprotect(struct shadow *sh, struct shadow_window *w, uint32_t vpage)
{
	entry_protect(sh, w, vpage, 1, entry_prot(sh, *entry_of(w, vpage)));
}

/* --- life ------------------------------------------------------------------ */

int shadow_init(struct shadow *sh, const struct guest_ram *ram)
{
	memset(sh, 0, sizeof(*sh));
	sh->ram = ram;
	sh->ram_pages = (uint32_t)(ram->size / GUEST_PAGE_SIZE);
	sh->npages = (uint32_t)((ram->size + ram->devmem_size) / GUEST_PAGE_SIZE);
	sh->cur_view = -2;
	sh->next_asid = 0;
	sh->pending_epoch = 1;   /* no page dropped yet: every page holds 0 */
	sh->adaptive_mask = 4095;
	long budget = host_max_map_count() - SHADOW_MAP_RESERVE;
	sh->map_budget = budget > SHADOW_MAP_MIN ? budget : SHADOW_MAP_MIN;
	int err = window_create(&sh->identity, ram);
	if (err)
		return err;
	sh->windows = calloc(SHADOW_MAX_WINDOWS, sizeof(*sh->windows));
	sh->map_head = calloc(sh->npages, sizeof(uint32_t));
	sh->deriv_head = calloc(sh->npages, sizeof(uint32_t));
	sh->pt_refs = calloc(sh->npages, sizeof(uint16_t));
	sh->dropped_rw_epoch = calloc(sh->npages, sizeof(uint32_t));
	sh->table_writes = calloc(sh->npages, sizeof(uint16_t));
	sh->code_protect = calloc(sh->npages, 1);
	sh->devmem_dirty = calloc(sh->npages - sh->ram_pages + 1, 1);
	sh->identity_ro = calloc(sh->npages, 1);
	sh->adaptive = calloc(sh->adaptive_mask + 1, sizeof(*sh->adaptive));
	sh->adaptive_plain = calloc(sh->adaptive_mask + 1, sizeof(uint32_t));
	sh->adaptive_state = calloc(sh->adaptive_mask + 1, 1);
	sh->churn = calloc(SHADOW_CHURN_SLOTS, sizeof(*sh->churn));
	if (!sh->windows || !sh->map_head || !sh->deriv_head || !sh->pt_refs || !sh->dropped_rw_epoch ||
	    !sh->table_writes || !sh->code_protect || !sh->devmem_dirty || !sh->identity_ro ||
	    !sh->adaptive || !sh->adaptive_plain ||
	    !sh->adaptive_state || !sh->churn || global_pages_init(&sh->global)) {
		shadow_destroy(sh);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < SHADOW_MAX_WINDOWS; i++)
		for (uint32_t r = 0; r < SHADOW_REGIONS; r++)
			sh->windows[i].region_pt[r] = sh->windows[i].region_pt_hi[r] = SHADOW_NO_PT;
	sh->gsbase_insn = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
	/* Device memory placed before the shadow existed (firmware's BARs). */
	if (ram->devmem_gpa != GUEST_DEVMEM_UNMAPPED)
		shadow__apply_devmem_move(sh, GUEST_DEVMEM_UNMAPPED);
	return 0;
}

void shadow_destroy(struct shadow *sh)
{
	if (sh->windows) {
		for (unsigned i = 0; i < SHADOW_MAX_WINDOWS; i++) {
			struct shadow_window *w = &sh->windows[i];
			for (uint32_t r = 0; r < SHADOW_REGIONS; r++)
				free(w->regions[r]);
			window_destroy(&w->win);
		}
	}
	window_destroy(&sh->identity);
	free(sh->windows);
	free(sh->map_head);
	free(sh->deriv_head);
	free(sh->pt_refs);
	free(sh->dropped_rw_epoch);
	free(sh->table_writes);
	free(sh->code_protect);
	free(sh->devmem_dirty);
	free(sh->identity_ro);
	global_pages_destroy(&sh->global);
	free(sh->adaptive);
	free(sh->adaptive_plain);
	free(sh->adaptive_state);
	free(sh->churn);
	free(sh->nodes);
	memset(sh, 0, sizeof(*sh));
}
