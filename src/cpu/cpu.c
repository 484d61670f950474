/* The vCPU's state outside the run: initialisation, reset and teardown,
 * EFLAGS as the guest sees it (the arithmetic flags live in the host's
 * RFLAGS image, IF in cpu->vif), the translation mode, the x87/SSE state
 * and the segment bases translated code reads. The run loop is in run.c,
 * host faults in host_fault.c, traced writes and MMIO in trace_mmio.c. */
#define _GNU_SOURCE
#include "cpu/callout_internal.h"
#include "cpu/cpu.h"
#include "cpu/run_internal.h"

#include <assert.h>
#include <errno.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "cache/tcache.h"
#include "isa/descriptor.h"
#include "mmu/shadow.h"

uint32_t cpu_get_eflags(const struct cpu *cpu)
{
	uint32_t f = cpu->s.eflags & ~(EFLAGS_ARITH | EFLAGS_IF);
	f |= (uint32_t)cpu->rflags & EFLAGS_ARITH;
	if (cpu->vif)
		f |= EFLAGS_IF;
	return f | EFLAGS_FIXED1;
}

void cpu_set_eflags(struct cpu *cpu, uint32_t eflags, uint32_t writable)
{
	uint32_t cur = cpu_get_eflags(cpu);
	uint32_t f = (cur & ~writable) | (eflags & writable);
	f = (f & ~0x0028u) | EFLAGS_FIXED1;  /* reserved bits 3 and 5 read as 0 */
	cpu->rflags = (cpu->rflags & ~(uint64_t)EFLAGS_ARITH) | (f & EFLAGS_ARITH);
	cpu->vif = (f & EFLAGS_IF) != 0;
	cpu->s.eflags = f & ~(EFLAGS_ARITH | EFLAGS_IF);
}

uint32_t cpu_mode(const struct cpu *cpu)
{
	uint32_t mode = 0;
	const struct segment *seg = cpu->s.seg;
	if (cpu->s.eflags & EFLAGS_DF)
		mode |= MODE_DF;
	/* Real mode is never flat: the inline forms that flat modes allow
	 * (descriptor caches, VERW) are protected mode's. v86 mode shares
	 * real mode's addressing (stores through CS) and is told apart by
	 * MODE_CPL3. */
	if (!(cpu->s.cr0 & CR0_PE) || (cpu->s.eflags & EFLAGS_VM))
		mode |= MODE_REAL;
	else if (!seg[SEG_ES].base && !seg[SEG_CS].base && !seg[SEG_SS].base && !seg[SEG_DS].base)
		mode |= MODE_FLAT;
	if (cpu->s.eflags & EFLAGS_TF)
		mode |= MODE_SINGLE;
	if (cpu->s.cpl == 3)
		mode |= MODE_CPL3;
	if (cpu->s.cr0 & (CR0_TS | CR0_EM))
		mode |= MODE_FPU_OFF;
	if (!(cpu->s.cr0 & CR0_PG))
		mode |= MODE_UNPAGED;
	if (!(cpu->s.cr4 & CR4_OSFXSR))
		mode |= MODE_NO_OSFXSR;
	/* The hidden attributes, in real mode too: what the last
	 * protected-mode load left there. */
	if (!(seg[SEG_CS].flags & (DESC_DB >> 8)))
		mode |= MODE_CODE16;
	if (!(seg[SEG_SS].flags & (DESC_DB >> 8)))
		mode |= MODE_STACK16;
	if (seg[SEG_CS].base)
		mode |= MODE_SEGCS;
	/* Translated segment loads (translate_sensitive.c) never change it:
	 * they run in blocks without MODE_LIMITS and load only segments
	 * remember_load found unrestricted. Real and v86 mode too: a 64 KiB
	 * limit is checked there, an unreal 4 GiB one costs nothing. */
	assert(cpu->limited_segs == cpu_limits_scan(cpu));
	if (cpu->limited_segs)
		mode |= MODE_LIMITS;
	/* Flat code (4 GiB) never has it: its translations check nothing. */
	if (cpu_code_limit(cpu) != 0xffffffffu)
		mode |= MODE_CSLIMIT;
	/* An enabled data breakpoint: every access through the monitor
	 * (which checks it), one instruction a block (its #DB is a trap
	 * right after the instruction). The enables' test first: what runs
	 * without breakpoints pays one compare. */
	if ((cpu->s.dr[7] & DR7_ENABLES) && cpu_data_breakpoints(cpu))
		mode |= MODE_LIMITS | MODE_SINGLE;
	return mode;
}

void cpu_fpu_materialize(struct cpu *cpu)
{
	if (cpu->fpu_full)
		return;
	/* The x87 registers and control are still the guest's (no monitor
	 * code touches them); XMM0-7 and MXCSR come from the door's copy. */
	__asm__ volatile("fxsave %0" : "=m"(cpu->fxsave));
	/* FIP, FCS, FDP and FDS are the host's RIP and selectors: a guest
	 * must not learn where the monitor's code is (it reads zeros). */
	memset(cpu->fxsave + 8, 0, 16);
	memcpy(cpu->fxsave + 160, cpu->xmm_light, sizeof(cpu->xmm_light));
	memcpy(cpu->fxsave + 24, &cpu->mxcsr_light, 4);
	cpu->fpu_full = 1;
}

/* What FS's (i = 0) or GS's guard must hold for their hidden parts now. */
static uint64_t seg_guard_for(const struct cpu *cpu, unsigned i)
{
	unsigned seg = SEG_FS + i;
	return cpu_segment_usable(&cpu->s.seg[seg]) ? (uint64_t)(uintptr_t)&cpu->seg_base[seg]
						     : (uint64_t)(uintptr_t)cpu->null_guard;
}

void sync_seg_bases(struct cpu *cpu)
{
	for (int i = 0; i < SEG_COUNT; i++)
		cpu->seg_base[i] = cpu->s.seg[i].base;
	for (unsigned i = 0; i < 2; i++)
		cpu->seg_guard[i] = seg_guard_for(cpu, i);
}

bool cpu_seg_guards_agree(const struct cpu *cpu)
{
	return cpu->seg_guard[0] == seg_guard_for(cpu, 0) && cpu->seg_guard[1] == seg_guard_for(cpu, 1);
}

static void load_boot_state(struct cpu *cpu, const struct vcpu_state *boot)
{
	cpu->s = *boot;   /* the MSRs too: boot_load set them as a reset and the firmware leave them */
	cpu_seg_cache_clear(cpu);
	cpu_store_hints_clear(cpu);
	memcpy(cpu->regs, boot->regs, sizeof(cpu->regs));
	cpu->rflags = 0x202;   /* host IF stays set; popfq cannot change it anyway */
	cpu->s.eflags = 0;
	cpu_set_eflags(cpu, boot->eflags, ~0u);
	ibl_clear(&cpu->ibl_table);
	/* x87/SSE at reset: FCW 0x37f, MXCSR 0x1f80, empty tag word. */
	memset(cpu->fxsave, 0, sizeof(cpu->fxsave));
	cpu->fxsave[0] = 0x7f;
	cpu->fxsave[1] = 0x03;
	uint32_t mxcsr = 0x1f80;
	memcpy(&cpu->fxsave[24], &mxcsr, 4);
	cpu->fpu_full = 1;   /* the next entry loads all of it */
	sync_seg_bases(cpu);
	cpu_limits_resync(cpu);
	cpu->halted = cpu->shadow = cpu->shadow_ss = cpu->stop = cpu->triple_fault = false;
	cpu->db_held = 0;
	cpu->nmi_pending = cpu->nmi_blocked = false;
	cpu->fatal = NULL;
	cpu->exc_depth = 0;
	cpu->poll_ptr = (uint64_t)(uintptr_t)&cpu->poll_ok;
	cpu->attention = 0;
}

/* The shadow's report of a new address-space number: the lookup tags
 * translated code probes under (cache/ibl.h owns their layout). */
static void cpu_space_changed(void *opaque, bool global, uint32_t asid)
{
	struct cpu *cpu = opaque;
	if (global) {
		cpu->ibl_global = ibl_space_tag(asid, 0);
		ibl_set_space_tags(cpu->ibl_global_tags, asid);
		/* Chains to global code go with the entries (a no-op for
		 * every vCPU after the first: they share the cache). */
		if (cpu->tc)
			tcache_unchain_global(cpu->tc);
	} else {
		ibl_set_space_tags(cpu->ibl_tags, asid);
	}
}

void cpu_store_hints_clear(struct cpu *cpu)
{
	for (unsigned i = 0; i < CPU_STORE_HINTS; i++)
		cpu->store_hints[i] = CPU_STORE_HINT_NONE;
}

int cpu_select_window(struct cpu *cpu)
{
	int err = shadow_select(cpu->sh, &cpu->s, cpu->tlb_flush_due, &cpu->win);
	cpu->tlb_flush_due = false;
	cpu->sh->in_use[cpu->shadow_slot] = cpu->win;
	cpu->win_base = (uintptr_t)cpu->win->base;
	cpu->win_entries = shadow_current_entries(cpu->sh);
	return err;
}

int cpu_init(struct cpu *cpu, const struct vcpu_state *boot, struct shadow *sh,
	     struct tcache *tc, struct bus *bus)
{
	assert(callout_handlers_complete());
	memset(cpu, 0, sizeof(*cpu));
	cpu->sh = sh;
	cpu->win = &sh->identity;
	cpu->win_base = (uintptr_t)sh->identity.base;
	cpu->win_entries = NULL;
	sh->space_changed = cpu_space_changed;
	sh->space_opaque = cpu;
	cpu->shadow_slot = sh->nspace_all;
	shadow_add_vcpu(sh, cpu);
	cpu->wake_fd = -1;
	cpu->ibl_epoch = sh->ibl_epoch;
	shadow_retire_global(sh);
	cpu->tc = tc;
	tc->loops_poll = !cpu_loops_may_skip_poll();
	cpu->bus = bus;
	cpu->exit_fn = (uint64_t)(uintptr_t)btvm_exit;
	cpu->callout_fn = (uint64_t)(uintptr_t)btvm_callout;
	cpu->ibl_miss_fn = (uint64_t)(uintptr_t)btvm_ibl_miss;
	cpu->tsc_native = host_tsc_is_constant();
	set_guest_tsc(cpu, 0);   /* the TSC counts from power-on */
	/* Two pages: the poll's, then the null segments' (their faults differ). */
	cpu->poll_guard = mmap(NULL, 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (cpu->poll_guard == MAP_FAILED) {
		cpu->poll_guard = NULL;
		return -errno;
	}
	cpu->null_guard = (uint8_t *)cpu->poll_guard + 4096;
	int err = ibl_init(&cpu->ibl_table);
	if (err)
		return err;
	cpu->ibl = (uint64_t)(uintptr_t)cpu->ibl_table.slots;
	tcache_add_ibl(tc, &cpu->ibl_table);
	cpu->decoded = calloc(2 * CALLOUT_DECODE_SETS, sizeof(*cpu->decoded));
	cpu->decoded_older = calloc(CALLOUT_DECODE_SETS, 1);
	if (!cpu->decoded || !cpu->decoded_older)
		return -ENOMEM;
	load_boot_state(cpu, boot);
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t mode = (i & 1 ? MODE_CODE16 : 0) | (i & 2 ? MODE_STACK16 : 0);
		assert(decoder_index(mode) == i);
		if (ZYAN_FAILED(ZydisDecoderInit(&cpu->decoders[i],
						 mode & MODE_CODE16 ? ZYDIS_MACHINE_MODE_LEGACY_16
								    : ZYDIS_MACHINE_MODE_LEGACY_32,
						 mode & MODE_STACK16 ? ZYDIS_STACK_WIDTH_16
								     : ZYDIS_STACK_WIDTH_32)))
			return -EINVAL;
	}
	if (ZYAN_FAILED(ZydisDecoderInit(&cpu->host_decoder, ZYDIS_MACHINE_MODE_LONG_64,
					 ZYDIS_STACK_WIDTH_64)))
		return -EINVAL;
	return cpu_install_fault_handlers();
}

void cpu_reset(struct cpu *cpu, const struct vcpu_state *boot)
{
	tcache_flush(cpu->tc, &cpu->ibl_table);
	shadow_flush(cpu->sh);
	shadow_forget_adaptive(cpu->sh);
	load_boot_state(cpu, boot);
	cpu_tlb_flush(cpu);
	set_guest_tsc(cpu, 0);
	cpu->stats.resets++;
}

void cpu_load_state(struct cpu *cpu, const struct vcpu_state *s)
{
	load_boot_state(cpu, s);
	cpu_tlb_flush(cpu);
}

void cpu_destroy(struct cpu *cpu)
{
	if (cpu->poll_guard)
		munmap(cpu->poll_guard, 2 * 4096);
	cpu->poll_guard = cpu->null_guard = NULL;
	ibl_destroy(&cpu->ibl_table);
	free(cpu->decoded);
	cpu->decoded = NULL;
	free(cpu->decoded_older);
	cpu->decoded_older = NULL;
}

void cpu_set_a20(struct cpu *cpu, bool enabled)
{
	uint32_t line = enabled ? 0 : A20_ADDRESS_BIT;
	if (cpu->a20_line == line)
		return;
	cpu->a20_line = line;
	cpu_request_attention(cpu);
}

/* Blocks are keyed by physical address, so a block translated with the
 * gate open is never found for the other map; but chains and the lookup
 * table lead from linear targets straight to blocks, and shadow entries
 * name frames by the old map. The gate changes a few times a boot at
 * most (none in a SeaBIOS boot, whose port 0x92 writes leave the
 * keyboard controller's gate open; one in a DOS-style toggle), so it
 * drops everything, as a CR0.PG change does. */
void cpu_apply_a20(struct cpu *cpu)
{
	cpu->s.a20_cleared = cpu->a20_line;
	cpu_flush_translations(cpu);
	shadow_flush(cpu->sh);
}

bool cpu_load_pdptes(struct cpu *cpu, unsigned crn, uint32_t cr0, uint32_t cr3, uint32_t cr4)
{
	/* SDM 4.4.1: MOV CR3 with PAE paging on, or a MOV CR0/CR4 after which
	 * it is on that changes PG, CD or NW, or PAE, PGE or PSE. */
	const uint32_t cr0_bits = CR0_PG | CR0_CD | CR0_NW, cr4_bits = CR4_PAE | CR4_PGE | CR4_PSE;
	if (!paging_pae(cr0, cr4) || (crn == 0 && !((cr0 ^ cpu->s.cr0) & cr0_bits)) ||
	    (crn == 4 && !((cr4 ^ cpu->s.cr4) & cr4_bits)))
		return true;
	uint64_t pdpte[4];
	if (!paging_load_pdptes(cpu->sh->ram, cr3, cpu->s.a20_cleared, pdpte))
		return false;
	if (memcmp(pdpte, cpu->s.pdpte, sizeof(pdpte)) != 0) {
		memcpy(cpu->s.pdpte, pdpte, sizeof(pdpte));
		shadow_pdptes_loaded(cpu->sh);
		cpu_tlb_flush(cpu);
	}
	return true;
}

bool cpu_set_efer(struct cpu *cpu, uint64_t efer)
{
	if (efer & ~(uint64_t)EFER_NXE)
		return false;   /* LME, SCE...: not offered, reserved */
	if ((efer ^ cpu->s.efer) & EFER_NXE) {
		/* XD turns from a reserved bit into a permission or back: every
		 * walk reads otherwise, the fetches' too. Set once a boot. */
		cpu_flush_translations(cpu);
		shadow_flush(cpu->sh);
	}
	cpu->s.efer = efer;
	return true;
}

void cpu_paging_changed(struct cpu *cpu, uint32_t old_cr0, uint32_t old_cr4)
{
	uint32_t cr0_diff = old_cr0 ^ cpu->s.cr0, cr4_diff = old_cr4 ^ cpu->s.cr4;
	/* A MOV to CR3 flushes the TLB (and one to CR0 or CR4 may): what
	 * page-table writes left for it is carried out, the held-back
	 * write-protections now, the held-back unmaps at the selection that
	 * follows (tlb_flush_due). */
	shadow_tlb_flushed(cpu->sh);
	cpu->tlb_flush_due = true;
	cpu_tlb_flush(cpu);
	if (cr4_diff & CR4_OSFXSR) {
		/* A key bit (MODE_NO_OSFXSR) that the lookup table's tags
		 * leave out: this vCPU's entries must all have its setting. An
		 * OS sets it once a boot (each CPU). */
		cpu_flush_translations(cpu);
	}
	if ((cr0_diff & CR0_PG) || ((cr4_diff & CR4_PAE) && (cpu->s.cr0 & CR0_PG))) {
		/* Blocks chained across pages assumed one fixed mapping. */
		cpu_flush_translations(cpu);
		shadow_flush(cpu->sh);
	} else if (cr4_diff & CR4_PSE) {
		shadow_flush(cpu->sh);   /* every directory entry reads otherwise */
	} else if (cr4_diff & CR4_PGE) {
		/* The SDM flushes global translations too. The windows hold
		 * nothing that could be stale (table writes are traced, and they
		 * do not look at G): only the lookup table's global entries,
		 * reachable from every address space, might, and they stay if
		 * the pages they came from map as they did. */
		struct paging_regs pr = paging_regs_of(&cpu->s);
		shadow_flush_global(cpu->sh, &pr);
	} else if (!(cpu->s.cr4 & CR4_PGE)) {
		/* With PGE off a CR3 load flushes everything: entries kept over
		 * the toggle to PGE = 0 (Linux toggles it back at once) go now,
		 * rather than be checked again at every load of a guest that
		 * stays without PGE. */
		shadow_drop_global(cpu->sh);
	}
	/* A CR0.WP change needs nothing here: it is part of the window's
	 * view (shadow_view), and the run loop selects the window before
	 * the next block. */
}
