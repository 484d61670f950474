/* Shadow paging: the windows' host mappings kept in step with the guest's
 * page tables. With paging off the identity window maps all of RAM. With
 * paging on, each (CR3, privilege view) gets a window of its own, filled
 * page by page on host faults from guest page walks; a reverse map from
 * guest physical pages to window mappings keeps page-table pages and code
 * pages read-only in every window (traces), and page-table writes drop
 * the shadow entries derived from the entries written. Windows are cached
 * (a context switch or a CPL change is a change of GS.base) and evicted
 * under pressure. */
#ifndef BTVM_MMU_SHADOW_H
#define BTVM_MMU_SHADOW_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmu/global_pages.h"
#include "mmu/paging.h"
#include "mmu/window.h"

struct vcpu_state;

#define SHADOW_MAX_WINDOWS 48u
_Static_assert(SHADOW_MAX_WINDOWS <= 256u, "struct shadow's recent_windows holds an index in a byte");
/* vCPUs a shadow serves (machine/board_internal.h's BOARD_MAX_VCPUS at
 * most). */
#define SHADOW_MAX_VCPUS 8u
/* Host mappings (VMAs) the windows may use: the host's vm.max_map_count
 * less a reserve for the process's own (libraries, heaps, threads, the
 * sanitizers': about 460 under ASan) and head-room, because an mprotect
 * or unmap that splits a mapping fails at the limit, and a trace must
 * never be left unprotected. */
#define SHADOW_MAP_RESERVE 4096L
#define SHADOW_MAP_MIN 4096L
#define SHADOW_REGIONS 1024u       /* 4 MiB regions of a 4 GiB window */
#define SHADOW_PENDING_UNMAPS 8u   /* held-back unmap ranges at once */
#define SHADOW_REPROTECT_MAX 4096u /* pages a window not in use holds back */
#define SHADOW_IDENTITY_HELD_MAX 4096u /* pages the identity window holds back */
#define SHADOW_REUSED_SLOTS 4u       /* temporary mapping slots a window remembers */
/* User pages remembered as churned (struct shadow's churn): a guest that
 * maps and unmaps the same pages again and again must find them still
 * there (bench/touch's faultk cycles 1,000 of them, lbench's page-fault
 * loop 16,384). */
#define SHADOW_CHURN_SLOTS 65536u
/* A shadow entry is a memfd page number above SHADOW_E_FRAME_SHIFT bits of
 * flags (shadow_internal.h's SHADOW_E_*, four of them), 0 where nothing is mapped:
 * 28 bits of page reach 1 TiB of memfd, past RAM at the 36-bit physical
 * addresses' end (64 GiB) and the device memory after it, in the 32 bits
 * that keep a region's entries and nodes in 8 KiB. The translator's REP
 * MOVS alias check compares two entries above their flags. */
#define SHADOW_E_FRAME_SHIFT 4u
static inline uint32_t shadow_entry_page(uint32_t e)
{
	return e >> SHADOW_E_FRAME_SHIFT;
}
static inline uint32_t shadow_entry(uint32_t page, uint32_t flags)
{
	return page << SHADOW_E_FRAME_SHIFT | flags;
}
#define SHADOW_NO_PT 0xffffffffu   /* region with no page table behind it yet */
#define SHADOW_LARGE 0xfffffffeu   /* region mapped by a 4 MiB page */

struct shadow_window {
	struct window win;
	bool used;
	bool user;                 /* the user-mode view: only user pages */
	bool no_wp;                /* a supervisor view with CR0.WP clear */
	bool unpaged;              /* paging off with A20 masked (SHADOW_VIEW_UNPAGED_A20) */
	uint32_t cr3;              /* guest physical page directory (PDPT under PAE) */
	/* PAE paging: the PDPTEs the window was made for (its key with CR3),
	 * and per region the table of its upper 2 MiB (region_pt holds the
	 * lower's): a directory entry spans 2 MiB. */
	bool pae;
	uint64_t pdpte[4];
	uint32_t region_pt_hi[SHADOW_REGIONS];
	uint64_t last_used;
	uint32_t asid;             /* indirect-branch table tag of this window */
	unsigned mapped;
	/* Per 4 MiB region: NULL, or 1024 shadow entries (shadow_entry:
	 * memfd page and SHADOW_E_* flags) followed by, for each mapped one, its node
	 * in the frame's list (index + 1), and the page table the region
	 * came from. */
	uint32_t *regions[SHADOW_REGIONS];
	uint32_t region_pt[SHADOW_REGIONS];
	/* Per region: host mappings its entries add (runs of consecutive
	 * frames at one protection, and the unmapped gaps between them), and
	 * when the guest last faulted a page into it (the shadow's clock):
	 * replacement takes the oldest. */
	int32_t region_maps[SHADOW_REGIONS];
	uint64_t region_tick[SHADOW_REGIONS];
	/* Regions whose directory entry was written while the window was not
	 * in use, and the entry's value before: checked when it is selected
	 * again (a directory page zeroed and given the same kernel half). */
	uint64_t suspect[SHADOW_REGIONS / 64];
	uint32_t suspect_pde[SHADOW_REGIONS];
	bool any_suspect;
	/* Its directory is not traced (written as data while the window was
	 * not in use, unshadow_table): every region is a suspect, and the
	 * trace comes back when the window is selected. */
	bool pd_untraced;
	unsigned pd_floods;        /* its directory flooded since it was last selected */
	/* Linear pages whose host protection here is to follow their
	 * entries' when the window is selected again (shadow_reprotect while
	 * it was not in use), or, for write-protections the guest made in its
	 * page-table entries, at its next TLB flush (held_wp). */
	uint32_t reprotect[SHADOW_REPROTECT_MAX];
	unsigned nreprotect;
	/* Linear pages (+ 1; 0 is none) whose mapping an INVLPG took away just
	 * after their entry was cleared, the last SHADOW_REUSED_SLOTS: the
	 * kernel's temporary mapping slots (kmap_local, text_poke). Such a
	 * slot maps another page each time, for a page's clearing or copy:
	 * mapped, it would cost a host mapping at each use and its removal at
	 * each INVLPG. It stays unmapped instead (SHADOW_SLOT), and the
	 * instructions that reach it go through the memory callouts. */
	uint32_t reused[SHADOW_REUSED_SLOTS];
	unsigned reused_next;
	/* This window's life for the address space and view it was made
	 * for (a number no other window has had): keys its churned pages
	 * (struct shadow's churn), so that a window made again for another
	 * process inherits none. */
	uint32_t serial;
};

struct shadow_stats {
	uint64_t hidden_faults;    /* host faults the shadow filled */
	uint64_t prefetched;       /* pages mapped beside them in the same go */
	uint64_t map_calls;        /* host mmap calls that mapped guest pages */
	uint64_t unmap_calls;      /* host mmap calls that took such mappings away */
	uint64_t code_holds;       /* code pages mapped for the lookup table's sake */
	uint64_t true_faults;      /* #PF raised in the guest */
	uint64_t trace_faults;     /* guest writes to traced page-table pages */
	uint64_t shadow_drops;     /* shadow entries dropped after table writes */
	uint64_t shadow_updates;   /* of those, mapped again at once from the new entry */
	uint64_t wp_held;          /* write-protections held until the guest's TLB flush */
	uint64_t adaptive_insns;   /* instructions retranslated as memory callouts */
	uint64_t adaptive_accesses; /* accesses those callouts performed */
	uint64_t adaptive_forgotten; /* times the full set was emptied */
	uint64_t adaptive_released; /* returned to their plain translation */
	uint64_t slot_adaptive;    /* of adaptive_insns, for a temporary mapping slot */
	uint64_t slot_fills;       /* temporary mapping slots mapped all the same */
	uint64_t churned_pages;    /* user pages unmapped by their entry, remembered */
	uint64_t churn_adaptive;   /* of adaptive_insns, for a churned user page */
	uint64_t churn_fills;      /* churned user pages mapped all the same */
	uint64_t fresh_adaptive;   /* of adaptive_insns, after ring-3 faults on pages not present */
	uint64_t mmio_accesses;
	uint64_t window_switches, window_creates, window_evictions, flushes;
	uint64_t window_recycles;   /* of the evictions, windows kept for another directory */
	uint64_t tables_unshadowed; /* page tables whose shadows went after a write flood */
	uint64_t replacements;     /* times the host-mapping budget was reached */
	uint64_t replaced_regions; /* 4 MiB regions of windows dropped then */
	uint64_t global_kept;      /* global flushes that kept the global entries */
	uint64_t global_retired;   /* global flushes that found a page moved */
};

/* A node of the per-page lists: a window mapping (key = linear page) or a
 * derivation (key = region a page table serves, or SHADOW_KEY_PD). */
struct shadow_node {
	uint32_t next;   /* index + 1, 0 ends the list */
	uint32_t prev;   /* index + 1, 0 at the head */
	uint16_t win;
	uint32_t key;
};
#define SHADOW_KEY_PD 0xffffffffu
/* Under PAE: the directory PDPTE q names is derivation SHADOW_KEY_PAE_PD0 + q,
 * and a page table's key is its 2 MiB unit (linear page >> 9). */
#define SHADOW_KEY_PAE_PD0 0xfffffff0u

struct shadow {
	const struct guest_ram *ram;
	struct window identity;
	struct shadow_window *windows;
	struct window *current;
	uint32_t cur_key_cr3;
	int cur_view;                 /* shadow_view of the current window */
	uint8_t recent_windows[2];    /* find_window's last two finds, tried first */
	uint32_t npages;              /* memfd pages: RAM, then device memory */
	uint32_t ram_pages;
	uint32_t *map_head;           /* per guest page: its window mappings */
	uint32_t *deriv_head;         /* per guest page: shadows derived from it */
	uint16_t *pt_refs;            /* derivations per page: traced while > 0 */
	uint16_t *table_writes;       /* per table: writes since a fill went through it */
	uint8_t *code_protect;        /* the cache wants the page read-only */
	/* Dirty logging of device memory (a display's VRAM): while on, a
	 * device page is mapped read-only until its first write, which marks
	 * it dirty and maps it writable; shadow_harvest_dirty takes the
	 * marks and write-protects the pages again. */
	bool devmem_logging;
	uint8_t *devmem_dirty;        /* per device page */
	bool devmem_move_pending;     /* the BAR moved: remap at the next selection */
	uint64_t devmem_old_gpa;
	struct shadow_node *nodes;
	uint32_t nodes_cap, nodes_free;  /* free list head (index + 1) */
	uint64_t tick;
	uint32_t next_asid;
	unsigned total_mapped;        /* pages, all windows */
	long host_maps;               /* host mappings (VMAs) the windows add */
	long map_budget;              /* host_maps replacement keeps below */
	uint8_t *identity_ro;         /* per page: read-only in the identity window */
	/* Pages whose protection there was held back while it was not in use
	 * (a page may be listed twice), or, past SHADOW_IDENTITY_HELD_MAX of
	 * them, identity_stale: every page looked at again. A guest that
	 * turns paging on and off (a reset, a mode switch) then pays for the
	 * pages that changed, not for all of its RAM (1M pages in 4 GiB). */
	uint32_t identity_held[SHADOW_IDENTITY_HELD_MAX];
	unsigned nidentity_held;
	bool identity_stale;
	bool gsbase_insn;             /* WRGSBASE usable: no system call per switch */
	/* Told the address-space number (asid) of the current window, or of
	 * the global pages (global), whenever it changes: the vCPU keeps its
	 * indirect-branch tags from them (cache/ibl.h). And which pages hold
	 * translations (the cache's): dropping the mapping of such a page
	 * retires the window's table entries. */
	void (*space_changed)(void *opaque, bool global, uint32_t asid);
	void *space_opaque;           /* the running vCPU: its window's tags */
	/* Every vCPU (shadow_add_vcpu): the global pages' tag is each one's.
	 * The current window (current, cur_view) is the running vCPU's;
	 * vCPUs take turns on one thread, and cpu_run forgets the selection
	 * on entry, so each selects its own (docs/DESIGN.md, "One machine,
	 * several vCPUs"). */
	void *space_all[SHADOW_MAX_VCPUS];
	unsigned nspace_all;
	/* The window each vCPU runs in (its GS), by its index among them:
	 * with vCPUs on threads of their own, a window another vCPU is in
	 * is never given to a different address space (new_window). */
	struct window *in_use[SHADOW_MAX_VCPUS];
	struct global_pages global;   /* pages with global entries made */
	const uint8_t *code_pages;
	/* Bumped when the tags wrap: each vCPU clears its table when its own
	 * count (cpu->ibl_epoch) differs, whichever of them ran then. */
	uint32_t ibl_epoch;
	/* Page-table writes seen (entries changed) and flushes: the vCPUs'
	 * monitor TLBs hold nothing walked before the count they saw. */
	uint64_t tables_changed;
	struct paging_regs regs;      /* CR0/CR4 as of the last window switch */
	/* Where the last true #PF was: its window (one view of one address
	 * space) and page. */
	const struct shadow_window *pf_window;
	uint32_t pf_cr3, pf_vpage;
	/* Host unmaps of dropped entries and regions, held back and merged
	 * while the guest clears page-table entries and tables (munmap,
	 * exec, exit): a TLB may keep translations until INVLPG or a CR3
	 * load, so the host mappings may too. Up to SHADOW_PENDING_UNMAPS
	 * ranges, of any windows; a range grows over pages that hold no
	 * mapping, so an address space's teardown is one host call per view
	 * (each call that takes a mapping away costs a shootdown on every
	 * core another vCPU runs on). Carried out at an INVLPG of a page in
	 * them, a mapping into them, a frame they may hold writable turning
	 * a table or code, and the window's selection after a CR3 load
	 * (shadow_unmap.c). */
	struct shadow_pending_unmap {
		struct shadow_window *w;  /* NULL: slot free */
		uint32_t start, end;      /* linear pages [start, end) */
	} pending_unmap[SHADOW_PENDING_UNMAPS];
	unsigned pending_next;            /* the slot taken when all are */
	unsigned npending;                /* slots in use: none, nothing to look at */
	/* Per page: pending_epoch when a writable mapping of it was dropped
	 * (its unmap perhaps held back). The epoch moves on whenever no
	 * unmap is held back, so a page turned a table need not wait for
	 * held-back unmaps that cannot hold it writable. */
	uint32_t *dropped_rw_epoch;
	uint32_t pending_epoch;
	/* A window some vCPU runs in holds back a write-protection the guest
	 * made in a page-table entry (held_wp), to be carried out at the
	 * guest's next TLB flush (shadow_tlb_flushed). */
	bool wp_held;
	/* The last entry a page-table write dropped: its window and linear
	 * page (an INVLPG of it next marks a reused slot: shadow_invlpg). */
	struct shadow_window *dropped_window;
	uint32_t dropped_vpage;
	/* shadow_fill_anyway's fault: a slot or a churned page is mapped
	 * this once. */
	bool fill_anyway;
	/* Adaptive translation: instructions (by code address + 1: memfd
	 * offset, cpu/run.c) that keep writing traced pages or touch MMIO. */
	uint64_t *adaptive;
	unsigned adaptive_mask, adaptive_count;
	/* Per slot: ordinary-RAM accesses in a row since the instruction last
	 * needed the callouts, and how often it was marked again after a
	 * release (its run must be longer each time), with a released flag. */
	uint32_t *adaptive_plain;
	uint8_t *adaptive_state;
	/* Churned user pages: a user view's mapping that a page-table write
	 * took away (the entry no longer maps: a munmap, a page given back),
	 * keyed by the window's serial and the linear page, with a count of
	 * the adaptive accesses it took since (shadow_churn.c),
	 * direct-mapped, a newer page taking an older one's place. Such a page met again by an instruction of ring 3 is not
	 * mapped: the instruction goes through the memory callouts, which
	 * cost no host system call at the fault, the mapping or the unmap. */
	uint64_t *churn;
	uint32_t next_serial;
	struct shadow_stats stats;
};

int shadow_init(struct shadow *sh, const struct guest_ram *ram);
/* A vCPU (the space_changed callback's opaque) to tell of the global
 * pages' tag. */
static inline void shadow_add_vcpu(struct shadow *sh, void *opaque)
{
	assert(sh->nspace_all < SHADOW_MAX_VCPUS);
	sh->space_all[sh->nspace_all++] = opaque;
}
/* Whether addr is in one of the shadow's windows or their guards. */
bool shadow_owns_address(const struct shadow *sh, const void *addr);
/* The guest moved the device memory (its BAR): ram->devmem_gpa is the new
 * place, old_gpa the one it had. Every mapping of the old place goes at
 * the next shadow_select (the caller asks the vCPU for attention). */
void shadow_devmem_moved(struct shadow *sh, uint64_t old_gpa);
/* Starts or stops dirty logging of the device memory. Starting marks
 * every page dirty, so the first harvest sees all of it. */
void shadow_devmem_log(struct shadow *sh, bool on);
/* ORs the pages written since the last harvest into bitmap (bit n for
 * device page n) and write-protects them again. Returns how many. */
unsigned shadow_harvest_dirty(struct shadow *sh, uint8_t *bitmap);
/* Starts or stops logging writes to RAM (ram->written): every RAM page is
 * write-protected until its first write, for a live migration's pre-copy.
 * Starting logs nothing written yet. Returns 0 or -ENOMEM. */
int shadow_ram_log(struct shadow *sh, bool on);
/* ORs the RAM pages written since the last harvest (or the start) into
 * bitmap (bit n for page n), write-protects them again and returns how
 * many. */
unsigned shadow_ram_harvest(struct shadow *sh, uint8_t *bitmap);
void shadow_destroy(struct shadow *sh);
/* The vCPU loaded other PDPTEs (s->pdpte): the next shadow_select looks
 * for the window again, even for the same CR3. */
void shadow_pdptes_loaded(struct shadow *sh);
/* Drops every paging window (CR0.PG or CR4.PSE changed, reset). */
void shadow_flush(struct shadow *sh);
/* Which window the vCPU's state s runs in: -1 the identity window (paging
 * off); with paging on, per CR3, 0 the supervisor view (CPL 0-2) with
 * CR0.WP set, 1 the user view (CPL 3), 2 the supervisor view with CR0.WP
 * clear. CR0.WP is part of the view because it decides which pages a
 * supervisor write may reach and the user view does not depend on it:
 * toggling it switches windows instead of emptying them.
 * SHADOW_VIEW_UNPAGED_A20: paging off with the A20 gate closed
 * (s->a20_cleared). The identity window maps RAM 1:1 in one go and cannot
 * show two linear pages on one frame, so such code runs in a window of
 * the cache like a paging one, filled on faults from paging_walk's
 * identity with bit 20 cleared: the reverse map then keeps both aliases
 * of a page traced, code-protected and logged, and the REP MOVS alias
 * check sees its entries. Its key is SHADOW_UNPAGED_CR3, a page no RAM
 * has, so it traces no directory. */
#define SHADOW_VIEW_UNPAGED_A20 3
#define SHADOW_UNPAGED_CR3 0xfffff000u
int shadow_view(const struct vcpu_state *s);
/* Makes the window for the vCPU's paging state and CPL (s) current, GS
 * point at it, and *win name it. tlb_flushed: the vCPU loaded CR3 (or
 * wrote CR0/CR4, switched tasks) since its last selection, so what the
 * window's table writes held back is carried out even where another
 * vCPU runs in it. Returns 0 or a negative errno. */
int shadow_select(struct shadow *sh, const struct vcpu_state *s, bool tlb_flushed, struct window **win);

enum shadow_fault_kind {
	SHADOW_FILLED,      /* hidden: mapped, run the instruction again */
	SHADOW_PAGE_FAULT,  /* true: #PF with *error */
	SHADOW_TRACED,      /* a write to a traced page at *gpa */
	SHADOW_MMIO,        /* no RAM at *gpa, or a write to a PAM-locked page */
	SHADOW_SLOT,        /* RAM at *gpa through a temporary mapping slot:
			     * not mapped (shadow_fill_anyway does) */
	SHADOW_CHURN,       /* a churned user page, mapped or not in the
			     * guest's tables: nothing mapped, nothing walked
			     * (shadow_fill_anyway does both) */
	SHADOW_NO_ROOM,     /* mapping refused by the host: evict and retry */
};
/* A host fault at linear address va of the current window. Safe to call
 * from the SIGSEGV handler: it interrupted translated code, never the
 * monitor. */
enum shadow_fault_kind shadow_fault(struct shadow *sh, const struct vcpu_state *s, uint32_t va,
				    bool write, uint64_t *gpa, uint32_t *error);
/* The fault at va was SHADOW_SLOT or SHADOW_CHURN, but the instruction is
 * not to go through the callouts for it (a form they cannot take, or one
 * below its count): the fault as it would be without the policy that left
 * the page unmapped (a hidden fault's mapping, a slot's until its next
 * INVLPG, or the #PF), counted in *fills. */
enum shadow_fault_kind shadow_fill_anyway(struct shadow *sh, const struct vcpu_state *s, uint32_t va,
					  bool write, uint64_t *gpa, uint32_t *error, uint64_t *fills);
/* Whether the page of va is a temporary mapping slot of the current
 * window, if a supervisor page (the caller's walk says): an adaptive
 * access there is needed (it saved a mapping). */
bool shadow_is_slot(const struct shadow *sh, uint32_t va);
/* Whether an adaptive access at va (present in the guest's tables, one
 * page) was needed for a churned page: the current window is a user view
 * that does not map va's page, churned, and this is one of the first few
 * accesses to it since its entry last went away. A page that keeps being
 * used stops being churned then (the next hidden fault maps it for good):
 * a memset's or a loop's accesses run better plain, one hidden fault a
 * page. */
bool shadow_churn_needed(struct shadow *sh, uint32_t va);
/* An adaptive access at va raised a #PF with error: if a churned page of
 * the current user view and not present, its count of uses starts over
 * (its table may be untraced by now, written so often with no fill
 * through it, so that the guest's writes to its entry reach no shadow). */
void shadow_churn_faulted(struct shadow *sh, uint32_t va, uint32_t error);
/* The current window's shadow entries by 4 MiB region (each NULL or 1024
 * entries, shadow_entry's memfd page and flags, 0 where nothing is mapped), for
 * translated code to tell whether two linear pages share a frame; NULL
 * for the identity window, where distinct pages never do. Valid while the
 * window stays current. */
uint32_t *const *shadow_current_entries(const struct shadow *sh);
/* The current paging window's host address for [va, va + len) when that
 * lies in one page the window maps (writable, for a write: not traced):
 * the monitor then reaches guest memory through the same alias as
 * translated code, which a store and a load of the same word through two
 * aliases would make the host CPU pay for. NULL otherwise. */
void *shadow_current_ptr(struct shadow *sh, uint32_t va, unsigned len, bool write);
/* The indirect-branch table is to hold an entry under the current
 * window's tag for code on linear page va: the window maps that page (as
 * code, read-only), so that a change of its page-table entry reaches the
 * shadow and retires the tag, as the TLB entry would go at INVLPG or a
 * CR3 load. False when it cannot: then no such entry may be made. */
bool shadow_hold_code(struct shadow *sh, uint32_t va);
/* Global-page entries of the indirect-branch table: note the linear page
 * of one made (its frame, and whether it was made for CPL 3), and drop
 * them all (a new tag) when the guest invalidates such a page (INVLPG),
 * flushes all global translations (shadow_flush_global, after a CR4.PGE
 * toggle) and one of those pages maps elsewhere under pr now, or loads
 * CR3 with PGE off (shadow_drop_global, if there are any). */
void shadow_note_global_code(struct shadow *sh, uint32_t va, uint32_t frame, bool user);
void shadow_invlpg(struct shadow *sh, uint32_t va);
/* The guest flushed TLB entries (INVLPG, a MOV to CR0, CR3 or CR4, a task
 * switch, on any vCPU): write-protections of its page-table entries held
 * back in windows that run are carried out now. */
void shadow_tlb_flushed(struct shadow *sh);
void shadow_flush_global(struct shadow *sh, const struct paging_regs *pr);
void shadow_drop_global(struct shadow *sh);
void shadow_retire_global(struct shadow *sh);
/* Makes room after SHADOW_NO_ROOM (the host refused a mapping): lowers the
 * budget to what the host allows and replaces regions down to it. False
 * when nothing could be dropped. */
bool shadow_make_room(struct shadow *sh);
/* At most budget host mappings for the windows (--map-budget, a cache
 * study), never more than the host's limit allows nor fewer than
 * SHADOW_MAP_MIN. */
void shadow_set_map_budget(struct shadow *sh, long budget);

/* The monitor has written the nwords 32-bit words from gpa (aligned, in
 * one page) of RAM through its own mapping, which held old before: shadow
 * entries derived from the page-table entries that changed are dropped. */
void shadow_after_write(struct shadow *sh, uint64_t gpa, const uint32_t *old, unsigned nwords);
/* Page-table entries of page gpa_page that differ from old (4 KiB) were
 * written: drop what was derived from them. */
void shadow_table_changed(struct shadow *sh, uint32_t gpa_page, const uint32_t *old);
bool shadow_page_is_table(const struct shadow *sh, uint32_t gpa_page);
/* Makes one mapping of the current window writable for a moment (the
 * traced-write slow path runs the writing instruction alone). */
int shadow_unprotect_current(struct shadow *sh, uint32_t va);
/* Recomputes the protection of every mapping of a guest page. */
void shadow_reprotect(struct shadow *sh, uint32_t gpa_page);
/* The translation cache wants page gpa_page read-only in every window
 * (it holds translated code) or no longer does. */
void shadow_protect_code(struct shadow *sh, uint32_t gpa_page, bool protect);

bool shadow_is_adaptive(const struct shadow *sh, uint64_t insn_gpa);
/* In the set, adaptive or released. */
bool shadow_adaptive_known(const struct shadow *sh, uint64_t insn_gpa);
/* A full set is emptied first: bounded by replacement, never refused. */
void shadow_mark_adaptive(struct shadow *sh, uint64_t insn_gpa);
/* An adaptive instruction's access touched only ordinary RAM (no device,
 * no traced page table for a write). True when that made a long enough
 * run to release it: it is no longer adaptive, and the caller drops its
 * translations so it runs plain again. */
bool shadow_adaptive_plain(struct shadow *sh, uint64_t insn_gpa);
/* It touched a device or wrote a traced table: the run starts over. */
void shadow_adaptive_needed(struct shadow *sh, uint64_t insn_gpa);
/* Empties the set (a reset: the next guest's code is not this one's). */
void shadow_forget_adaptive(struct shadow *sh);

#endif
