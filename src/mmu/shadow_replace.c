/* Replacement (shadow.h's mapping budget): which regions go when the
 * windows' host mappings reach the budget. The regions themselves, and
 * dropping one, are shadow.c's (shadow_internal.h). */
#include <stdbool.h>
#include <stdint.h>

#include "mmu/shadow.h"
#include "mmu/shadow_internal.h"

/* Replacement: drops the regions (of any window) that the guest faulted
 * into longest ago, until the windows' host mappings are down to target,
 * sparing the region (keep, keep_r) being filled. A clock of fills, not of
 * uses: the host MMU does not say which mappings the guest uses, so this is
 * FIFO among regions, and a region dropped while in use refills on its
 * next faults. Regions, not pages: one unmap each, and the run of a 4 MiB
 * page or of a sweep goes as it came. Ages are put into 64 buckets, so
 * two passes over the regions pick the victims without sorting. Returns
 * how many regions went. */
#define AGE_BUCKETS 64u

unsigned shadow__replace_regions(struct shadow *sh, long target, const struct shadow_window *keep,
				 uint32_t keep_r)
{
	uint64_t oldest = UINT64_MAX, newest = 0;
	for (unsigned i = 0; i < SHADOW_MAX_WINDOWS; i++) {
		const struct shadow_window *w = &sh->windows[i];
		for (uint32_t r = 0; w->used && w->mapped && r < SHADOW_REGIONS; r++) {
			if (!w->regions[r] || (w == keep && r == keep_r))
				continue;
			oldest = w->region_tick[r] < oldest ? w->region_tick[r] : oldest;
			newest = w->region_tick[r] > newest ? w->region_tick[r] : newest;
		}
	}
	if (oldest > newest)
		return 0;
	uint64_t width = (newest - oldest) / AGE_BUCKETS + 1;
	long freed[AGE_BUCKETS] = { 0 };
	for (unsigned i = 0; i < SHADOW_MAX_WINDOWS; i++) {
		const struct shadow_window *w = &sh->windows[i];
		for (uint32_t r = 0; w->used && w->mapped && r < SHADOW_REGIONS; r++)
			if (w->regions[r] && !(w == keep && r == keep_r))
				freed[(w->region_tick[r] - oldest) / width] += w->region_maps[r];
	}
	unsigned cut = 0;
	for (long need = sh->host_maps - target - freed[0]; need > 0 && cut + 1 < AGE_BUCKETS; cut++)
		need -= freed[cut + 1];
	unsigned dropped = 0;
	for (unsigned i = 0; i < SHADOW_MAX_WINDOWS; i++) {
		struct shadow_window *w = &sh->windows[i];
		for (uint32_t r = 0; w->used && w->mapped && r < SHADOW_REGIONS; r++) {
			if (!w->regions[r] || (w == keep && r == keep_r) ||
			    (w->region_tick[r] - oldest) / width > cut)
				continue;
			shadow__drop_region(sh, w, r, true);
			dropped++;
		}
	}
	sh->stats.replacements++;
	sh->stats.replaced_regions += dropped;
	return dropped;
}

void shadow_set_map_budget(struct shadow *sh, long budget)
{
	if (budget < sh->map_budget)
		sh->map_budget = budget > SHADOW_MAP_MIN ? budget : SHADOW_MAP_MIN;
}

bool shadow_make_room(struct shadow *sh)
{
	/* The host refused a mapping before the budget was reached (the
	 * process holds more mappings of its own than reserved): the budget
	 * follows what the host allows. */
	long lower = sh->host_maps - sh->host_maps / 4;
	sh->map_budget = lower > SHADOW_MAP_MIN ? lower : SHADOW_MAP_MIN;
	return shadow__replace_regions(sh, sh->map_budget - sh->map_budget / 8, NULL, 0) > 0;
}
