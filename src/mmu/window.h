/* A window: 4 GiB of host address space, 4 GiB aligned, standing for one
 * guest address space, followed by 4 GiB of never-mapped guard space so an
 * access that starts just below 4 GiB and runs past it faults instead of
 * touching anything of the monitor's. Translated code reaches the window
 * through GS.base, so every guest access lands inside it. */
#ifndef BTVM_MMU_WINDOW_H
#define BTVM_MMU_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu/guest_ram.h"

#define WINDOW_SIZE (1ULL << 32)
#define WINDOW_GUARD (1ULL << 32)
#define GUEST_PAGE_SIZE 4096u

struct window {
	uint8_t *base;
	const struct guest_ram *ram;
};

/* Reserves the window and maps guest RAM 1:1 (paging off: linear address =
 * physical address). Returns 0 or a negative errno. */
int window_create(struct window *win, const struct guest_ram *ram);
/* Reserves the window with nothing mapped (a paging window, filled on
 * demand). */
int window_reserve(struct window *win, const struct guest_ram *ram);
void window_destroy(struct window *win);
/* Makes the window the one translated code on this thread uses. */
int window_activate(const struct window *win);
/* Write-protects (or unprotects) one guest page of the window, to trace
 * writes to pages that hold translated code. */
int window_protect_page(struct window *win, uint32_t gpa, bool writable);

static inline bool window_contains(const struct window *win, const void *addr)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)win->base;
	return a >= b && a - b < WINDOW_SIZE + WINDOW_GUARD;
}

#endif
