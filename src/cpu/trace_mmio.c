/* Guest writes to traced pages and guest accesses to MMIO or to a
 * temporary mapping slot, the host faults that need more than an event
 * (and LOCKed accesses across a cache line with other vCPUs running): a
 * write to a page table or to translated code runs alone with its page
 * writable, and the shadow entries or translations it changed are dropped
 * after; an access to a physical address without RAM, or through a slot,
 * gets its instruction retranslated through the memory callouts, which
 * reach the bus, or the page, without a host mapping (adaptive
 * translation). */
#include "cpu/cpu.h"
#include "cpu/run_internal.h"

#include <assert.h>
#include <string.h>

#include "cache/tcache.h"
#include "mmu/shadow.h"
#include "translator/translate.h"

/* Write faults an instruction may take on page tables, or faults on
 * churned user pages, before it is retranslated through the memory
 * callouts (adaptive translation). */
#define ADAPT_AFTER_FAULTS 4u

_Static_assert(CPU_FAULT_COUNTS == 256, "count_fault hashes to 8 bits");

static bool stepped_end(struct cpu *cpu, struct translator *t);

/* True when the instruction at insn_gpa has taken ADAPT_AFTER_FAULTS
 * faults counted in counts (a slot another instruction takes starts
 * over). */
static bool count_fault(struct insn_fault_count *counts, uint64_t insn_gpa)
{
	uint32_t h = (uint32_t)insn_gpa ^ (uint32_t)(insn_gpa >> 32);
	struct insn_fault_count *c = &counts[(h * 0x9e3779b1u) >> 24];
	if (c->key != insn_gpa + 1) {
		c->key = insn_gpa + 1;
		c->n = 0;
	}
	return ++c->n >= ADAPT_AFTER_FAULTS;
}

/* The instruction at insn_gpa, whose translation just faulted, goes
 * through the memory callouts from its next run: marked (counted in
 * *why) and its translations dropped, unless another vCPU's fault
 * dropped the one that ran meanwhile (the new one runs first). */
static void mark_faulting(struct cpu *cpu, uint64_t insn_gpa, uint64_t *why)
{
	const struct tblock *ran = tcache_find_host(cpu->tc, (const void *)cpu->fault.host_rip);
	if (ran && !ran->valid)
		return;
	shadow_mark_adaptive(cpu->sh, insn_gpa);
	(*why)++;
	tcache_invalidate_gpa(cpu->tc, &cpu->ibl_table, insn_gpa);
}

/* A guest write to a traced page: a page table (the shadow entries
 * derived from what it changes must go) or translated code (dropped). The
 * writing instruction runs alone with that one mapping writable; a write
 * that spans two traced pages opens both. True when it completed (a
 * single step traps after it). */
static bool handle_trace(struct cpu *cpu, struct translator *t);

/* With other vCPUs running, a write to a page table is not stepped (that
 * stops them all) but made adaptive at once: its memory callout writes
 * the table under the lock. True if so (or if the translation that wrote
 * was already dropped by another vCPU's fault: the new one runs). A write
 * to translated code, or one that faults though adaptive (a string
 * instruction), is stepped. */
static bool trace_by_callout(struct cpu *cpu)
{
	struct shadow *sh = cpu->sh;
	const struct tblock *ran = tcache_find_host(cpu->tc, (const void *)cpu->fault.host_rip);
	if (ran && !ran->valid)
		return true;
	uint32_t page = guest_ram_page(sh->ram, cpu->fault.gpa);
	uint64_t insn_gpa;
	if (!shadow_page_is_table(sh, page) || tcache_page_traced(cpu->tc, page) ||
	    !cpu_fetch_address(cpu, cpu_code_linear(cpu, cpu->s.eip), &insn_gpa) ||
	    shadow_is_adaptive(sh, insn_gpa))
		return false;
	sh->stats.trace_faults++;
	shadow_mark_adaptive(sh, insn_gpa);
	tcache_invalidate_gpa(cpu->tc, &cpu->ibl_table, insn_gpa);
	return true;
}

static bool store_hints_any(const struct cpu *cpu)
{
	for (unsigned i = 0; i < CPU_STORE_HINTS; i++)
		if (cpu->store_hints[i] != CPU_STORE_HINT_NONE)
			return true;
	return false;
}

/* With other vCPUs on threads of their own, none runs translated code
 * meanwhile: one in the same window would write the opened page
 * untraced. */
bool cpu_handle_trace(struct cpu *cpu, struct translator *t)
{
	if (cpu->lock && trace_by_callout(cpu))
		return false;   /* nothing ran: the writer runs again */
	/* A marked store that went straight on a stale store hint (its
	 * page became a table: Linux's do_set_pte and pmd_install into a
	 * freed page reused) runs again through its callout, as after an
	 * MMIO fault, rather than stepped with every other vCPU stopped:
	 * bench/smp's fork loop at two vCPUs made 5,742 exclusive sections
	 * before, 546 with it, and ran in 3.31 s against 3.60 (means of ten
	 * alternated pairs, nine of them faster). A writer that faults
	 * without a hint to blame faults again and is stepped. */
	uint64_t insn_gpa;
	if (cpu->lock && store_hints_any(cpu) &&
	    cpu_fetch_address(cpu, cpu_code_linear(cpu, cpu->s.eip), &insn_gpa) &&
	    shadow_is_adaptive(cpu->sh, insn_gpa)) {
		cpu_store_hints_clear(cpu);
		return false;
	}
	cpu_exclusive_begin(cpu);
	bool completed = handle_trace(cpu, t);
	cpu_exclusive_end(cpu);
	return completed;
}

static bool handle_trace(struct cpu *cpu, struct translator *t)
{
	struct shadow *sh = cpu->sh;
	uint32_t pages[2], vas[2];
	bool table[2];
	unsigned n = 0;
	struct tblock *tb = NULL;
	bool again = false;

	/* A marked store that went straight on a stale hint: the page is
	 * a table now. */
	uint64_t insn_gpa;
	if (cpu_fetch_address(cpu, cpu_code_linear(cpu, cpu->s.eip), &insn_gpa) && shadow_is_adaptive(sh, insn_gpa))
		cpu_store_hints_clear(cpu);
	for (;;) {
		/* A traced page is RAM: its memfd page, the shadow's and the cache's. */
		uint32_t page = guest_ram_page(sh->ram, cpu->fault.gpa);
		if (n == 2 || (n == 1 && pages[0] == page)) {
			/* More traced pages than a step opens: a REP string
			 * instruction writing across page tables (the kernel's
			 * memset of a new directory). Its progress so far is in
			 * its registers; it runs again adaptive (the string or
			 * memory callouts write any number of traced pages). */
			if (tb && !shadow_is_adaptive(sh, tb->gpa)) {
				again = true;
				cpu->fault.kind = FAULT_NONE;
				break;
			}
			cpu->fatal = "a guest write keeps faulting on traced pages";
			break;
		}
		pages[n] = page;
		vas[n] = cpu->fault.va;
		table[n] = shadow_page_is_table(sh, page);
		if (table[n]) {
			memcpy(cpu->trace_snapshot[n], sh->ram->host + (uint64_t)page * GUEST_PAGE_SIZE,
			       GUEST_PAGE_SIZE);
			sh->stats.trace_faults++;
		}
		if (tcache_page_traced(cpu->tc, page)) {
			tcache_code_written(cpu->tc, &cpu->ibl_table, page);
			if (!table[n] && tcache_page_selfcheck(cpu->tc, page))
				return false;   /* writable from now on: the writer just runs again */
		}
		n++;
		tb = cpu_get_block(cpu, t, cpu->s.eip, cpu_mode(cpu) | MODE_SINGLE);
		if (!tb)
			break;
		/* Translating the writer may have traced its page again. */
		for (unsigned i = 0; i < n; i++)
			(void)shadow_unprotect_current(sh, vas[i]);
		sync_seg_bases(cpu);
		cpu->fault.kind = FAULT_NONE;
		btvm_enter(cpu, tb->host);
		cpu_drop_memop_hold(cpu);
		if (cpu->fault.kind != FAULT_TRACED)
			break;
	}
	for (unsigned i = 0; i < n; i++) {
		shadow_reprotect(sh, pages[i]);
		if (table[i])
			shadow_table_changed(sh, pages[i], cpu->trace_snapshot[i]);
		tcache_invalidate_page(cpu->tc, &cpu->ibl_table, pages[i]);
	}
	if (!tb || cpu->fatal)
		return false;
	if (again) {
		shadow_mark_adaptive(sh, tb->gpa);
		tcache_invalidate_gpa(cpu->tc, &cpu->ibl_table, tb->gpa);
		return false;   /* EIP is still the writer's */
	}
	/* Only a newly adaptive writer needs its blocks retranslated: one that
	 * is adaptive already and still trapped (a string store) would
	 * otherwise throw its neighbours' translations away on every write. */
	if (table[0] && !shadow_is_adaptive(sh, tb->gpa) && count_fault(cpu->table_writes, tb->gpa)) {
		shadow_mark_adaptive(sh, tb->gpa);
		tcache_invalidate_gpa(cpu->tc, &cpu->ibl_table, tb->gpa);
	}
	return stepped_end(cpu, t);
}

/* After a one-instruction block run alone: its fault delivered, or EIP
 * where it left. True when the instruction completed. */
static bool stepped_end(struct cpu *cpu, struct translator *t)
{
	if (cpu->fault.kind != FAULT_NONE) {
		enum host_fault_kind k = cpu->fault.kind;
		cpu->fault.kind = FAULT_NONE;
		return cpu_deliver_host_fault(cpu, t, k);
	}
	const struct exit_desc *ex = cpu_exit_desc(cpu->exit);
	if (ex)
		cpu->s.eip = ex->target_eip;
	else if (cpu->exit == CPU_EXIT_INDIRECT)
		cpu->s.eip = (uint32_t)cpu->scratch[0];   /* never looked up */
	/* else CPU_EXIT_CALLOUT: the callout left EIP */
	return true;
}

/* A LOCKed access across a cache line while other vCPUs ran (its prepare
 * callout, callout_mem.c, found no exclusive section): the instruction
 * runs again alone, every other vCPU out of translated code, so that its
 * operand on the buffer is atomic as the guest's bus lock would be, and
 * the host takes no bus lock (a split lock stalls every core, and Linux
 * throttles or kills a thread that takes them). */
bool cpu_handle_split_lock(struct cpu *cpu, struct translator *t)
{
	cpu_exclusive_begin(cpu);
	struct tblock *tb = cpu_get_block(cpu, t, cpu->s.eip, cpu_mode(cpu) | MODE_SINGLE);
	if (tb) {
		sync_seg_bases(cpu);
		cpu->fault.kind = FAULT_NONE;
		btvm_enter(cpu, tb->host);
		cpu_drop_memop_hold(cpu);
	}
	cpu_exclusive_end(cpu);
	if (!tb || cpu->fatal)
		return false;
	return stepped_end(cpu, t);
}

/* An access to guest physical memory without RAM: the instruction is
 * retranslated to go through the memory callouts, which reach the bus. */
void cpu_handle_mmio(struct cpu *cpu)
{
	uint64_t insn_gpa;
	if (!cpu_fetch_address(cpu, cpu_code_linear(cpu, cpu->s.eip), &insn_gpa))
		return;
	if (shadow_is_adaptive(cpu->sh, insn_gpa)) {
		const struct tblock *ran = tcache_find_host(cpu->tc, (const void *)cpu->fault.host_rip);
		if (ran && !ran->valid)
			return;   /* another vCPU's fault dropped it meanwhile: the new translation now */
		if (store_hints_any(cpu)) {
			/* A marked store that went straight on a stale hint
			 * (its page is a device's now): it runs again through
			 * its callout. */
			cpu_store_hints_clear(cpu);
			return;
		}
		cpu->fatal = "guest reaches MMIO with an instruction form the monitor cannot forward "
			     "(stack or implicit memory operand)";
		return;
	}
	shadow_mark_adaptive(cpu->sh, insn_gpa);
	tcache_invalidate_gpa(cpu->tc, &cpu->ibl_table, insn_gpa);
}

/* An access through one of the guest kernel's temporary mapping slots
 * (shadow.h's reused slots: Linux's kmap_local of a high-memory page),
 * which the shadow leaves unmapped: as for MMIO, the instruction is
 * retranslated through the memory callouts, which reach each page the slot
 * maps with no host mapping made at the slot's new entry and none taken
 * away at its INVLPG (the kernel clearing a high-memory page for a process
 * paid both: two host system calls a page). One released since after a
 * run of ordinary accesses is marked again, its next run longer, as after
 * page-table writes. One that faults here though adaptive (a form the
 * callouts cannot take) gets the slot mapped instead, until its INVLPG. */
bool cpu_handle_slot(struct cpu *cpu, struct translator *t)
{
	struct shadow *sh = cpu->sh;
	struct host_fault *f = &cpu->fault;
	uint64_t insn_gpa;
	bool known = cpu_fetch_address(cpu, cpu_code_linear(cpu, cpu->s.eip), &insn_gpa);
	if (known && !shadow_is_adaptive(sh, insn_gpa)) {
		mark_faulting(cpu, insn_gpa, &sh->stats.slot_adaptive);
		return false;
	}
	if (known && store_hints_any(cpu)) {
		/* A marked store that went straight on a stale hint. */
		cpu_store_hints_clear(cpu);
		return false;
	}
	enum host_fault_kind k = cpu_fault_kind(shadow_fill_anyway(sh, &cpu->s, f->va, f->write, &f->gpa, &f->error,
								   &sh->stats.slot_fills));
	assert(k != FAULT_SLOT);
	return k != FAULT_NONE && cpu_deliver_host_fault(cpu, t, k);
}

/* An access at CPL 3 to a user page whose mapping the guest took away
 * before (shadow.h's churned pages: bench/touch's faultk and lbench's
 * page-fault loop map, touch and unmap the same pages over and over, and
 * each round cost a host signal for the #PF, an mmap at the handler's new
 * entry, the host's own fault at the first touch and an unmap). An
 * instruction not in the adaptive set that meets such pages again and
 * again (a few faults: one that meets one once, a library's code in a
 * process that mapped a file at an address used before, pays more for
 * its retranslations than it saves) is retranslated through the memory
 * callouts, which walk the guest's tables, raise its #PF and reach the
 * page with none of those. Only once: one released since (a loop that
 * stayed on its pages: shadow_churn_needed), adaptive and faulting here
 * all the same (a form the callouts cannot take), or below its count gets
 * the page mapped, or its #PF, as any hidden or true fault. */
bool cpu_handle_churn(struct cpu *cpu, struct translator *t)
{
	struct shadow *sh = cpu->sh;
	struct host_fault *f = &cpu->fault;
	uint64_t insn_gpa;
	bool known = cpu_fetch_address(cpu, cpu_code_linear(cpu, cpu->s.eip), &insn_gpa);
	if (known && !shadow_adaptive_known(sh, insn_gpa) && count_fault(cpu->churn_faults, insn_gpa)) {
		mark_faulting(cpu, insn_gpa, &sh->stats.churn_adaptive);
		return false;
	}
	if (known && shadow_is_adaptive(sh, insn_gpa) && store_hints_any(cpu)) {
		/* A marked store that went straight on a stale hint. */
		cpu_store_hints_clear(cpu);
		return false;
	}
	enum host_fault_kind k = cpu_fault_kind(shadow_fill_anyway(sh, &cpu->s, f->va, f->write, &f->gpa, &f->error,
								   &sh->stats.churn_fills));
	assert(k != FAULT_SLOT && k != FAULT_CHURN);
	return k != FAULT_NONE && cpu_deliver_host_fault(cpu, t, k);
}

void cpu_count_fresh_fault(struct cpu *cpu)
{
	struct shadow *sh = cpu->sh;
	uint64_t insn_gpa;
	if (cpu->s.cpl != 3 || (cpu->fault.error & PFERR_P) ||
	    !cpu_fetch_address(cpu, cpu_code_linear(cpu, cpu->s.eip), &insn_gpa) ||
	    shadow_adaptive_known(sh, insn_gpa) || !count_fault(cpu->churn_faults, insn_gpa))
		return;
	mark_faulting(cpu, insn_gpa, &sh->stats.fresh_adaptive);
}
