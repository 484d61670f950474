/* Global-page bookkeeping for the indirect-branch table (global_pages.h).
 * Linux flushes global translations by toggling CR4.PGE whenever it
 * changes kernel mappings beyond a few pages (vfree, set_memory_*, kmap):
 * about 350 times in a Debian boot. Retiring every global entry each time
 * made the kernel refill some 590,000 of them, a sixth of the boot's
 * lookup misses, although the kernel text they come from never moved. */
#include "mmu/global_pages.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isa/vcpu.h"

/* Pages checked at a flush at most: a kernel's text and modules are a few
 * thousand. Beyond that a flush retires the entries, as it always did. */
#define GLOBAL_PAGES_MAX 16384u

int global_pages_init(struct global_pages *gp)
{
	memset(gp, 0, sizeof(*gp));
	gp->bits = calloc((1u << 20) / 8, 1);
	gp->list = calloc(GLOBAL_PAGES_MAX, sizeof(*gp->list));
	if (!gp->bits || !gp->list) {
		global_pages_destroy(gp);
		return -ENOMEM;
	}
	return 0;
}

void global_pages_destroy(struct global_pages *gp)
{
	free(gp->bits);
	free(gp->list);
	memset(gp, 0, sizeof(*gp));
}

void global_pages_note(struct global_pages *gp, uint32_t va, uint32_t frame, bool user)
{
	uint32_t vpage = va >> 12, byte = vpage >> 3;
	uint8_t bit = (uint8_t)(1u << (vpage & 7));
	if (gp->bits[byte] & bit) {
		/* Entries for both privileges may come from one page. */
		for (unsigned i = gp->count; user && i-- > 0;) {
			if (gp->list[i].vpage == vpage) {
				gp->list[i].user = true;
				break;
			}
		}
		return;
	}
	gp->bits[byte] |= bit;
	if (gp->lo >= gp->hi) {
		gp->lo = byte;
		gp->hi = byte + 1;
	} else if (byte < gp->lo) {
		gp->lo = byte;
	} else if (byte >= gp->hi) {
		gp->hi = byte + 1;
	}
	if (gp->count == GLOBAL_PAGES_MAX) {
		gp->overflow = true;
		return;
	}
	gp->list[gp->count++] = (struct global_page){ vpage, frame, user };
}

bool global_pages_holds(const struct global_pages *gp, uint32_t va)
{
	return gp->bits[va >> 15] & (1u << ((va >> 12) & 7));
}

bool global_pages_empty(const struct global_pages *gp)
{
	return gp->lo >= gp->hi;
}

void global_pages_clear(struct global_pages *gp)
{
	if (gp->lo < gp->hi)
		memset(gp->bits + gp->lo, 0, gp->hi - gp->lo);
	gp->lo = gp->hi = 0;
	gp->count = 0;
	gp->overflow = false;
}

bool global_pages_unchanged(const struct global_pages *gp, const struct guest_ram *ram,
			    const struct paging_regs *pr)
{
	if (gp->overflow || !(pr->cr0 & CR0_PG))
		return false;
	bool pge = pr->cr4 & CR4_PGE;
	for (unsigned i = 0; i < gp->count; i++) {
		const struct global_page *p = &gp->list[i];
		struct walk w;
		uint32_t error;
		/* A look only: an accessed bit cleared since is a change too. */
		if (!paging_walk(ram, pr, p->vpage << 12, ACCESS_PEEK | ACCESS_FETCH, &w, &error) ||
		    guest_ram_page(ram, w.gpa) != p->frame || (p->user && !w.user) || (pge && !w.global))
			return false;
	}
	return true;
}
