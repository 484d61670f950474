/* The shadow's logs and device memory: the guest's display memory moved
 * (its BAR) and its dirty pages, and RAM's written pages for a live
 * migration's pre-copy. What they protect is shadow.c's to apply. */
#define _GNU_SOURCE
#include "mmu/shadow.h"
#include "mmu/shadow_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* --- device memory ---------------------------------------------------------- */

/* Carried out at a window selection, never inside a block's callout: a
 * port write that moves a BAR may be followed by more of the block, which
 * must still find the window GS points at. */
void shadow__apply_devmem_move(struct shadow *sh, uint64_t old_gpa)
{
	const struct guest_ram *ram = sh->ram;
	uint8_t *base = sh->identity.base;
	if (!ram->devmem_size)
		return;
	/* Paging windows: their entries name memfd pages, not addresses, so
	 * the ones the guest made for the old place must all go. A BAR moves
	 * once or twice a boot. */
	shadow_flush(sh);
	shadow__flush_pending_unmap(sh);
	if (old_gpa != GUEST_DEVMEM_UNMAPPED && old_gpa < WINDOW_SIZE)
		(void)mmap(base + old_gpa, ram->devmem_size, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	/* The identity window (paging off) sees it at once, but never over
	 * RAM: a BAR the guest put there is its own mistake, and RAM wins. */
	if (ram->devmem_gpa == GUEST_DEVMEM_UNMAPPED || ram->devmem_gpa < ram->low_size ||
	    ram->devmem_gpa + ram->devmem_size > WINDOW_SIZE)
		return;
	/* Everything counts as written after a move, so one writable mapping
	 * serves, and the next harvest has the display redraw it all. */
	if (sh->devmem_logging)
		memset(sh->devmem_dirty, 1, sh->npages - sh->ram_pages);
	(void)mmap(base + ram->devmem_gpa, ram->devmem_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_FIXED, ram->memfd, (off_t)ram->size);
}

void shadow_devmem_moved(struct shadow *sh, uint64_t old_gpa)
{
	if (!sh->devmem_move_pending)
		sh->devmem_old_gpa = old_gpa;   /* the first place still mapped */
	sh->devmem_move_pending = true;
}

void shadow_devmem_log(struct shadow *sh, bool on)
{
	uint32_t n = sh->npages - sh->ram_pages;
	if (sh->devmem_logging == on)
		return;
	memset(sh->devmem_dirty, 1, n);
	sh->devmem_logging = on;
}

unsigned shadow_harvest_dirty(struct shadow *sh, uint8_t *bitmap)
{
	unsigned count = 0;
	uint32_t n = sh->npages - sh->ram_pages;
	if (!sh->devmem_logging)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!sh->devmem_dirty[i])
			continue;
		bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
		sh->devmem_dirty[i] = 0;
		shadow_reprotect(sh, sh->ram_pages + i);
		count++;
	}
	return count;
}

/* Every RAM page that has a mapping (or all of them in the identity
 * window) as its protection now says. */
static void reprotect_ram(struct shadow *sh)
{
	shadow__flush_pending_unmap(sh);
	bool logging = sh->ram->written != NULL;
	/* The identity window in one go, then the pages that differ. */
	for (uint32_t page = 0; page < sh->ram_pages; page++)
		shadow__identity_set(sh, page, logging);
	(void)mprotect(sh->identity.base, sh->ram->low_size, PROT_READ | (logging ? 0 : PROT_WRITE));
	for (uint32_t page = 0; page < sh->ram_pages; page++) {
		/* (The identity window holds the low range only.) */
		if (!logging && (sh->code_protect[page] || guest_ram_page_locked(sh->ram, page)) &&
		    (uint64_t)page * GUEST_PAGE_SIZE < sh->ram->low_size) {
			shadow__identity_set(sh, page, true);
			(void)window_protect_page(&sh->identity, page * GUEST_PAGE_SIZE, false);
		}
		for (uint32_t id = sh->map_head[page]; id; id = sh->nodes[id - 1].next) {
			const struct shadow_node *n = &sh->nodes[id - 1];
			struct shadow_window *w = &sh->windows[n->win];
			shadow__entry_reprotect(sh, w, n->key);
		}
	}
}

int shadow_ram_log(struct shadow *sh, bool on)
{
	struct guest_ram *ram = (struct guest_ram *)sh->ram;
	if (on == (ram->written != NULL))
		return 0;
	if (on) {
		ram->written = calloc(sh->ram_pages, 1);
		if (!ram->written)
			return -ENOMEM;
	} else {
		free(ram->written);
		ram->written = NULL;
	}
	reprotect_ram(sh);
	return 0;
}

unsigned shadow_ram_harvest(struct shadow *sh, uint8_t *bitmap)
{
	unsigned count = 0;
	uint8_t *log = sh->ram->written;
	if (!log)
		return 0;
	for (uint32_t p = 0; p < sh->ram_pages; p++) {
		if (!__atomic_load_n(&log[p], __ATOMIC_RELAXED) ||
		    !__atomic_exchange_n(&log[p], 0, __ATOMIC_RELAXED))
			continue;
		bitmap[p / 8] |= (uint8_t)(1u << (p % 8));
		shadow_reprotect(sh, p);
		count++;
	}
	return count;
}
