/* The memory callouts of adaptive translation. An instruction that kept
 * writing traced page tables, or that reached MMIO, is retranslated to run
 * on a buffer in struct cpu: CALLOUT_MEM_PREPARE finds its one memory
 * operand in guest memory (page walk and its faults included) and fills
 * the buffer, the instruction itself runs as translated code on the
 * buffer, and CALLOUT_MEM_FINISH stores what it wrote back, through the
 * monitor's path that keeps shadows and translations in step, or to the
 * device. Thus a page-table update costs two callouts instead of a host
 * fault, and every addressing form and width reaches the bus. A plain MOV
 * store takes one: CALLOUT_MEM_STORE writes what it stored in a scratch
 * slot. */
#include <string.h>

#include "cache/tcache.h"
#include "cpu/callout_internal.h"
#include "isa/insn.h"
#include "mmu/paging.h"
#include "mmu/shadow.h"

static const ZydisDecodedOperand *memory_operand(const ZydisDecodedInstruction *in,
						 const ZydisDecodedOperand *ops)
{
	for (unsigned i = 0; i < in->operand_count; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
			return &ops[i];
	return NULL;
}

static bool is_mmio(const struct cpu *cpu, uint64_t gpa, unsigned len)
{
	return !guest_ram_contains(cpu->sh->ram, gpa, len);
}

/* The operand's span in guest memory (scratch[1] its linear address), or
 * false with the fault raised. cpu->adaptive_needed says after it whether
 * the walk went through a temporary mapping slot (guest_access.c). */
static bool operand_span(struct cpu *cpu, const struct callout_desc *d, const ZydisDecodedOperand *op,
			 unsigned len, bool write, struct guest_span *span)
{
	uint32_t linear = (uint32_t)cpu->scratch[1];
	if (d->mode & MODE_LIMITS) {
		unsigned seg = seg_reg_index(op->mem.segment);
		const struct segment *s = &cpu->s.seg[seg];
		if (!cpu_offset_in_limit(s, seg, linear - s->base, len)) {
			raise_fault(cpu, d, mem_fault_vector(op), true, 0);
			return false;
		}
	}
	if ((uint64_t)linear + len > 1ull << 32) {
		/* Past the top of 4 GiB: beyond a flat segment's limit. */
		cpu->stats.wrap_faults++;
		raise_fault(cpu, d, mem_fault_vector(op), true, 0);
		return false;
	}
	cpu->adaptive_needed = false;
	if (!cpu_translate_span(cpu, linear, len, write ? ACCESS_WRITE : ACCESS_READ, span)) {
		shadow_churn_faulted(cpu->sh, cpu->pf.cr2, cpu->pf.error);
		if (cpu->s.cpl == 3 && !(cpu->pf.error & PFERR_P))
			cpu->fault_retry_page = (cpu->pf.cr2 >> 12) + 1;
		raise_fault(cpu, d, mem_fault_vector(op), true, 0);
		return false;
	}
	if (cpu->s.dr[7] & DR7_ENABLES)
		cpu_data_access(cpu, linear, len, write);
	return true;
}

/* Counts an access and tells the adaptive set whether it was needed (a
 * device, a write to a table in use, or any access through a temporary
 * mapping slot, which saved a host mapping: slot, from the walk of
 * operand_span, guest_access.c; one of the first to a churned user page
 * at linear, or the retry of its own #PF on a page that was not present:
 * each saved a host fault and a mapping); returns that. */
static bool account_access(struct cpu *cpu, const struct callout_desc *d, const struct guest_span *span,
			   uint32_t linear, bool write, bool mmio, bool slot)
{
	cpu->sh->stats.adaptive_accesses++;
	if (mmio)
		cpu->sh->stats.mmio_accesses++;
	/* Adaptive by the mode, not by a mark: nothing to keep or release,
	 * and no store may bypass the limit check (store_hints). */
	if (d->mode & MODE_LIMITS)
		return true;
	bool table = false;
	/* A write the chipset drops (PAM) needs the callout as a device does. */
	for (unsigned i = 0; write && i < span->n; i++)
		table = table || shadow_page_is_table(cpu->sh, guest_ram_page(cpu->sh->ram, span->gpa[i])) ||
			guest_ram_page_locked(cpu->sh->ram, span->gpa[i] / GUEST_PAGE_SIZE);
	bool churn = shadow_churn_needed(cpu->sh, linear);
	/* (The #PF's handler makes adaptive accesses of its own in between.) */
	bool retry = cpu->fault_retry_page == (linear >> 12) + 1;
	if (retry)
		cpu->fault_retry_page = 0;
	adaptive_account(cpu, d, mmio || table || slot || churn || retry);
	return mmio || table || slot || churn || retry;
}

/* With other vCPUs, a LOCKed instruction (or XCHG with memory) whose
 * operand is ordinary RAM that nothing traces runs on the RAM itself, as
 * its plain translation would: on the buffer, a write that another
 * vCPU's translated code (which takes no lock) made between the prepare
 * and the finish would be lost. NULL where the buffer is needed: a
 * device, a page table, a page the chipset locks or one holding
 * translations, all of whose other writers take the lock. */
static uint8_t *locked_ram_operand(struct cpu *cpu, const ZydisDecodedInstruction *in,
				   const struct guest_span *span, unsigned len)
{
	const struct guest_ram *ram = cpu->sh->ram;
	if (!cpu->lock || len > 8 || !insn_is_locked(in))
		return NULL;
	if (span->n == 2 && span->gpa[1] != span->gpa[0] + span->len[0])
		return NULL;
	uint8_t *p = guest_ram_ptr(ram, span->gpa[0], len);
	if (!p)
		return NULL;
	for (unsigned i = 0; i < span->n; i++) {
		uint32_t page = guest_ram_page(ram, span->gpa[i]);
		if (shadow_page_is_table(cpu->sh, page) || tcache_page_traced(cpu->tc, page) ||
		    guest_ram_page_locked(ram, span->gpa[i] / GUEST_PAGE_SIZE))
			return NULL;
	}
	return p;
}

/* A LOCKed access (XCHG's implied one too) whose operand crosses a 64-byte
 * line: a split lock, which the host CPU carries out by locking the bus. */
static bool split_lock(const ZydisDecodedInstruction *in, uint32_t linear, unsigned len)
{
	return insn_is_locked(in) && linear % 64 + len > 64;
}

static enum callout_result mem_prepare(struct cpu *cpu, const struct callout_desc *d,
				       const ZydisDecodedInstruction *in,
				       const ZydisDecodedOperand *ops)
{
	const ZydisDecodedOperand *op = memory_operand(in, ops);
	unsigned len = op ? op->size / 8 : 0;
	if (!len || len > sizeof(cpu->memop.buf)) {
		cpu->fatal = "adaptive memory callout on an instruction without a plain memory operand";
		return CALLOUT_STOP;
	}
	bool write = (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
	/* Never the host's split lock: the operand goes on the buffer, which
	 * is atomic once no other vCPU runs translated code (another's plain
	 * store could land between this prepare and the finish). Without
	 * that, nothing of the instruction runs here: it runs again alone
	 * (FAULT_SPLIT_LOCK, trace_mmio.c). */
	bool split = write && split_lock(in, (uint32_t)cpu->scratch[1], len);
	if (split && cpu->lock && cpu->lock->exclusive != cpu) {
		cpu->s.eip = d->eip;
		cpu->fault.kind = FAULT_SPLIT_LOCK;
		return CALLOUT_STOP;
	}
	struct guest_span *span = &cpu->memop.span;
	if (!operand_span(cpu, d, op, len, write, span))
		return CALLOUT_STOP;
	bool slot = cpu->adaptive_needed;   /* set by the walk: a temporary mapping slot */
	cpu->memop.write = write;
	cpu->memop.direct = write && !split ? locked_ram_operand(cpu, in, span, len) : NULL;
	if (split)
		cpu->stats.split_locks++;
	if (cpu->memop.direct) {
		account_access(cpu, d, span, (uint32_t)cpu->scratch[1], write, false, slot);
		cpu->scratch[1] = (uint64_t)(uintptr_t)cpu->memop.direct;
		/* Until the finish: no other vCPU makes the page a table or
		 * translates code from it under the write. */
		cpu_lock(cpu);
		cpu->memop.lock_held = true;
		return CALLOUT_GO_ON;
	}
	memset(cpu->memop.buf, 0, len);
	bool mmio = false;
	for (unsigned i = 0, at = 0; i < span->n; at += span->len[i], i++) {
		if (is_mmio(cpu, span->gpa[i], span->len[i])) {
			mmio = true;
			/* A device read has effects: only what the instruction reads. */
			if (!(op->actions & ZYDIS_OPERAND_ACTION_MASK_READ))
				continue;
		}
		cpu_read_phys(cpu, span->gpa[i], cpu->memop.buf + at, span->len[i]);
	}
	memcpy(cpu->memop.old, cpu->memop.buf, len);
	if (!(d->flags & CALLOUT_SPLIT_LOCK))
		account_access(cpu, d, span, (uint32_t)cpu->scratch[1], write, mmio, slot);
	cpu->scratch[1] = (uint64_t)(uintptr_t)cpu->memop.buf;
	/* With other vCPUs: the machine lock stays held through the
	 * instruction on the buffer until its finish stores it back, so that
	 * a LOCKed instruction on a page table or a device stays atomic
	 * against the other vCPUs' writes there (trace faults and callouts,
	 * which take the lock). */
	if (cpu->lock && write) {
		cpu_lock(cpu);
		cpu->memop.lock_held = true;
	}
	return CALLOUT_GO_ON;
}

static enum callout_result mem_store(struct cpu *cpu, const struct callout_desc *d,
				     const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
	const ZydisDecodedOperand *op = memory_operand(in, ops);
	unsigned len = op ? op->size / 8 : 0;
	if (!len || len > sizeof(cpu->scratch[3])) {
		cpu->fatal = "adaptive store callout on an instruction without a plain memory operand";
		return CALLOUT_STOP;
	}
	struct guest_span span;
	if (!operand_span(cpu, d, op, len, true, &span))
		return CALLOUT_STOP;   /* the MOV changed nothing but the slot */
	bool slot = cpu->adaptive_needed;   /* set by the walk: a temporary mapping slot */
	uint8_t value[sizeof(cpu->scratch[3])];
	memcpy(value, &cpu->scratch[3], sizeof(value));
	bool mmio = false;
	for (unsigned i = 0; i < span.n; i++)
		mmio = mmio || is_mmio(cpu, span.gpa[i], span.len[i]);
	/* Accounted before the store may untrace a table. Ordinary RAM: the
	 * next store to this page goes straight (store_hints). */
	bool needed = account_access(cpu, d, &span, (uint32_t)cpu->scratch[1], true, mmio, slot);
	cpu->store_hints[d->hint % CPU_STORE_HINTS] =
		needed ? CPU_STORE_HINT_NONE : (uint32_t)cpu->scratch[1] & ~(GUEST_PAGE_SIZE - 1);
	for (unsigned i = 0, at = 0; i < span.n; at += span.len[i], i++) {
		uint64_t gpa = span.gpa[i];
		unsigned n = span.len[i];
		/* The same value in RAM: nothing for the traces; a device sees every write. */
		if (is_mmio(cpu, gpa, n) || memcmp(guest_ram_ptr(cpu->sh->ram, gpa, n), value + at, n))
			cpu_write_phys(cpu, gpa, value + at, n);
	}
	return CALLOUT_GO_ON;
}

void cpu_memop_direct_done(struct cpu *cpu)
{
	const struct guest_span *span = &cpu->memop.span;
	guest_ram_written(cpu->sh->ram, span->gpa[0], span->len[0] + (span->n == 2 ? span->len[1] : 0));
	cpu->memop.direct = NULL;
}

static enum callout_result mem_finish(struct cpu *cpu)
{
	if (cpu->memop.lock_held) {
		cpu->memop.lock_held = false;
		cpu_unlock(cpu);   /* the callout's own hold goes on its way out */
	}
	if (!cpu->memop.write)
		return CALLOUT_GO_ON;
	const struct guest_span *span = &cpu->memop.span;
	if (cpu->memop.direct) {
		cpu_memop_direct_done(cpu);
		return CALLOUT_GO_ON;
	}
	for (unsigned i = 0, at = 0; i < span->n; at += span->len[i], i++) {
		uint64_t gpa = span->gpa[i];
		unsigned n = span->len[i];
		/* RAM left as it was (CMPXCHG that failed, a store of the same
		 * value) need not disturb the traces; a device sees every write. */
		if (!is_mmio(cpu, gpa, n) && !memcmp(cpu->memop.buf + at, cpu->memop.old + at, n))
			continue;
		cpu_write_phys(cpu, gpa, cpu->memop.buf + at, n);
	}
	return CALLOUT_GO_ON;
}

void adaptive_account(struct cpu *cpu, const struct callout_desc *d, bool needed)
{
	if (needed)
		shadow_adaptive_needed(cpu->sh, callout_desc_gpa(d));
	else if (shadow_adaptive_plain(cpu->sh, callout_desc_gpa(d)))
		/* Released: retranslated plain at its next lookup. The code
		 * running now stays where it is until it leaves. */
		tcache_invalidate_gpa(cpu->tc, &cpu->ibl_table, callout_desc_gpa(d));
}

enum callout_result do_mem_callout(struct cpu *cpu, const struct callout_desc *d,
				   const ZydisDecodedInstruction *in,
				   const ZydisDecodedOperand *ops)
{
	if (d->kind == CALLOUT_MEM_PREPARE)
		return mem_prepare(cpu, d, in, ops);
	if (d->kind == CALLOUT_MEM_STORE)
		return mem_store(cpu, d, in, ops);
	return mem_finish(cpu);
}
