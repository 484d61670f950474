/* Churned user pages (struct shadow's churn, docs/DESIGN.md "Churned user
 * pages"): the records of user-view pages whose mapping a page-table write
 * took away, their count of uses by adaptive accesses, and the fill of one
 * for an instruction the callouts are not to take. shadow.c notes them
 * (refresh_entry, unshadow_table) and asks at a host fault (shadow_fault). */
#include <stdbool.h>
#include <stdint.h>

#include "mmu/paging.h"
#include "mmu/shadow.h"
#include "mmu/shadow_internal.h"

/* Adaptive accesses to a churned page while it is present after which it
 * is churned no more: a page the guest maps to use at length. bench/touch's
 * faultk touches each page twice (the read retried, the write) before it
 * unmaps it again, lbench's page-fault loop once. */
#define CHURN_USES 8u

static uint64_t *churn_slot(const struct shadow *sh, const struct shadow_window *w, uint32_t vpage)
{
	/* Consecutive pages in consecutive slots: a run of them collides with none. */
	return &sh->churn[(vpage + w->serial * 2654435761u) & (SHADOW_CHURN_SLOTS - 1)];
}

static uint64_t churn_key(const struct shadow_window *w, uint32_t vpage)
{
	return (uint64_t)w->serial << 20 | vpage;
}

uint64_t *shadow__churn_record(const struct shadow *sh, const struct shadow_window *w, uint32_t vpage)
{
	uint64_t *slot = churn_slot(sh, w, vpage);
	return w->user && (*slot & SHADOW_CHURN_KEY_MASK) == churn_key(w, vpage) ? slot : NULL;
}

/* vpage's mapping in user view w went because its entry changed and no
 * longer maps: churned from now on, its count of uses zero. likely: the
 * mapping went with its whole table's shadow (a table written often with
 * no fill through it, unshadow_table), most often torn down by a munmap
 * but also write-protected for a fork's copy-on-write; the page's next
 * not-present fault makes it churned, and its next use clears it. */
void shadow__note_churn(struct shadow *sh, struct shadow_window *w, uint32_t vpage, bool likely)
{
	if (!w->user)
		return;
	uint64_t *old = shadow__churn_record(sh, w, vpage);
	if (likely && old)
		return;   /* as churned as it was */
	if (!old)
		sh->stats.churned_pages++;
	*churn_slot(sh, w, vpage) = churn_key(w, vpage) | (likely ? SHADOW_CHURN_LIKELY : 0);
}

/* The churned page of the current user view at va, or NULL. */
static uint64_t *current_churn(struct shadow *sh, uint32_t va)
{
	if (!sh->current || sh->current == &sh->identity)
		return NULL;
	return shadow__churn_record(sh, (const struct shadow_window *)sh->current, va >> 12);
}

void shadow_churn_faulted(struct shadow *sh, uint32_t va, uint32_t error)
{
	uint64_t *slot = current_churn(sh, va);
	if (slot && !(error & PFERR_P))
		*slot &= SHADOW_CHURN_KEY_MASK;   /* churned for sure, its count of uses zero */
}

bool shadow_churn_needed(struct shadow *sh, uint32_t va)
{
	uint64_t *slot = current_churn(sh, va);
	if (!slot)
		return false;
	const uint32_t *r = ((const struct shadow_window *)sh->current)->regions[va >> 22];
	if (r && r[(va >> 12) & 1023])
		return false;   /* mapped: a plain access would not have faulted */
	uint64_t uses = ((*slot & ~SHADOW_CHURN_LIKELY) >> SHADOW_CHURN_COUNT_SHIFT) + 1;
	if ((*slot & SHADOW_CHURN_LIKELY) || uses >= CHURN_USES) {
		*slot = 0;   /* in use */
		return false;
	}
	*slot = (*slot & SHADOW_CHURN_KEY_MASK) | uses << SHADOW_CHURN_COUNT_SHIFT;
	return true;
}
