/* Hot traces (--traces): Dynamo's next-executing tail (Bala, Duesterwald
 * and Banerjia, PLDI 2000). A trace head is a block the run loop reaches
 * by a backward branch or from a trace's exit; such an exit is left
 * unchained while the head's count (tblock.heat) climbs, so that every
 * arrival comes back here. At the threshold the path executed next is
 * recorded block by block: each block is entered with its exits
 * unchained, so it comes back to say where it went. The recording ends
 * at a branch backward or to the head, off the head's page, at a block
 * entered other than by the recorded branch (an interrupt, a fault, an
 * indirect branch, a callout that stopped), or after TRACE_MAX_PATH
 * blocks; the path is then translated as one block (translate_trace),
 * which takes the head's key, so lookups and chains find it from then
 * on. Everything here runs in the run loop, under the machine lock with
 * several vCPUs, as the cache's other changes do. */
#include "cpu/cpu.h"
#include "cpu/run_internal.h"

#include <errno.h>

#include "cache/tcache.h"
#include "mmu/window.h"
#include "translator/translate.h"

#define TRACE_HEAT_DONE UINT16_MAX

/* Whether code of this mode may have traces: flat 32-bit code (EIP is
 * the linear address, so a page of EIPs is a page of code), never a
 * block of one instruction. */
static bool traceable(uint32_t mode)
{
	return mode_uses_ibl(mode) && !(mode & MODE_SINGLE);
}

/* The block at the head's key now, if it is not the trace (or if no trace
 * was made: the block the recording started from). */
static struct tblock *head_block(struct cpu *cpu, const struct trace_rec *r)
{
	return tcache_lookup(cpu->tc, r->head, r->gpa, r->mode, 0xffffffffu);
}

static void finish(struct cpu *cpu, struct translator *t)
{
	struct trace_rec *r = &cpu->trace_rec;
	r->on = false;
	r->cur = NULL;
	struct tcache *tc = cpu->tc;
	if (!r->n) {
		tc->stats.traces_abandoned++;   /* nothing to join: the head alone */
		return;
	}
	struct tblock *old = head_block(cpu, r), *trace;
	int err = cpu_translate_trace(cpu, t, r->head, r->gpa, r->mode, r->path, r->n, &trace);
	if (err) {
		/* -EAGAIN (no trace for this code), -ENOSPC (the cache is
		 * full: the next block's translation makes room), or a
		 * translator's refusal: the blocks stay as they are. */
		tc->stats.traces_abandoned++;
		return;
	}
	tc->stats.trace_blocks += r->n + 1;
	if (old && old != trace && old->valid)
		tcache_supersede(tc, &cpu->ibl_table, old);
}

bool cpu_trace_head(struct cpu *cpu, const struct exit_desc *from, struct tblock *tb)
{
	struct trace_rec *r = &cpu->trace_rec;
	if (r->on)
		return true;   /* recording: every block comes back */
	if (tb->trace || tb->heat == TRACE_HEAT_DONE || !traceable(tb->mode))
		return false;
	/* A branch backward (to the start of its block or before: a loop),
	 * or an exit from a trace, within one page: a trace stays on its
	 * head's page, and most branches backward to another page are calls
	 * and returns' jumps, not loops (counting those too sent a Linux
	 * boot's branch exits to the monitor 280,000 rather than 215,000). */
	uint32_t to = from->target_eip;
	if ((!from->from->trace && to > from->from->eip) || to / GUEST_PAGE_SIZE != from->from->eip / GUEST_PAGE_SIZE)
		return false;
	if (++tb->heat < cpu->trace_threshold)
		return true;
	tb->heat = TRACE_HEAT_DONE;   /* one recording per head block */
	*r = (struct trace_rec){ .on = true, .head = tb->eip, .mode = tb->mode, .expect = tb->eip,
				 .gpa = tb->gpa, .generation = cpu->tc->generation };
	return true;
}

/* The cache was flushed or evicted from since the recording began. */
static bool stale(struct cpu *cpu)
{
	struct trace_rec *r = &cpu->trace_rec;
	if (r->generation == cpu->tc->generation)
		return false;
	r->on = false;
	r->cur = NULL;
	cpu->tc->stats.traces_abandoned++;
	return true;
}

void cpu_trace_enter(struct cpu *cpu, struct translator *t, struct tblock *tb)
{
	struct trace_rec *r = &cpu->trace_rec;
	if (stale(cpu))
		return;
	if (r->cur || tb->eip != r->expect || tb->mode != r->mode) {
		finish(cpu, t);   /* reached otherwise than by the recorded branch */
		return;
	}
	tcache_unchain_exits(cpu->tc, tb);
	r->cur = tb;
}

void cpu_trace_exit(struct cpu *cpu, struct translator *t, const struct exit_desc *ex)
{
	struct trace_rec *r = &cpu->trace_rec;
	uint32_t to = ex->target_eip;
	if (stale(cpu))
		return;
	if (ex->from != r->cur || ex->kind != EXIT_KIND_BRANCH) {
		finish(cpu, t);
		return;
	}
	r->cur = NULL;
	/* Backward (within its block or before it), back at the head or
	 * before it, off the head's page: the path ends before it. */
	if (to <= ex->from->eip || to <= r->head || to / GUEST_PAGE_SIZE != r->head / GUEST_PAGE_SIZE) {
		finish(cpu, t);
		return;
	}
	r->path[r->n++] = to;
	r->expect = to;
	if (r->n == TRACE_MAX_PATH)
		finish(cpu, t);
}
