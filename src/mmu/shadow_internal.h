/* What shadow.c and shadow_replace.c share and nothing else sees: dropping
 * a region, and replacement. */
#ifndef BTVM_MMU_SHADOW_INTERNAL_H
#define BTVM_MMU_SHADOW_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu/shadow.h"

/* Forgets region r of w, its entries and its page table's trace; unmap:
 * its host range too (else the caller unmaps it). */
void shadow__drop_region(struct shadow *sh, struct shadow_window *w, uint32_t r, bool unmap);

/* Drops the regions filled longest ago, sparing (keep, keep_r), until the
 * windows' host mappings are down to target; how many went. */
unsigned shadow__replace_regions(struct shadow *sh, long target, const struct shadow_window *keep,
				 uint32_t keep_r);

#endif
