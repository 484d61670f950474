/* The vCPU run loop: look up or translate the block at EIP, chain it to
 * the exit that led here, enter translated code, and handle what made it
 * come back (a branch not chained yet, an indirect-branch miss, a callout
 * that stopped, a host fault turned into a guest event: host_fault.c).
 * Also the lookup table's fills, interrupts and HLT between blocks, and
 * the debugger's breakpoints and steps. */
#include "cpu/cpu.h"
#include "cpu/run_internal.h"
#include "cpu/profile.h"

#include <errno.h>
#include <stdatomic.h>

#include "cache/tclog.h"
#include "cache/tcache.h"
#include "isa/msr.h"
#include "mmu/paging.h"
#include "mmu/shadow.h"
#include "translator/translate.h"

/* The code address of any physical address without RAM: the translator
 * fetches it as all ones (#UD). No memfd offset of RAM reaches it
 * (GUEST_MEMFD_MAX), so it never has a block. */
#define CODE_OUTSIDE_RAM 0xfffffffffull
_Static_assert((uint64_t)GUEST_RAM_MAX_MIB << 20 <= CODE_OUTSIDE_RAM,
	       "a code address of RAM fits 36 bits (callout_desc) below this one");

/* Translations are keyed by the code's memfd offset (its *code address*):
 * the physical address below 4 GiB, low_size + (gpa - 4 GiB) above it,
 * so the cache's pages are the shadow's memfd pages (code tracing). It is
 * 64-bit (RAM reaches 63 GiB of memfd); below 4 GiB of memfd the cache
 * hashes it as the 32-bit key it was. Code in the firmware's ROM is
 * translated from the RAM it aliases (guest_rom_alias), so blocks need no
 * physical memory beyond RAM. */
static uint64_t code_key(const struct guest_ram *ram, uint64_t phys)
{
	uint32_t rom_ram;
	uint64_t off;
	if (guest_rom_alias(ram, phys, &rom_ram))
		phys = rom_ram;
	if (!guest_ram_offset(ram, phys, 1, &off))
		return CODE_OUTSIDE_RAM;
	return off;
}

/* The translator's view of the vCPU (struct translate_env). */
static bool code_address(struct cpu *cpu, uint32_t linear, uint64_t *gpa)
{
	uint64_t phys;
	if (!cpu_translate(cpu, linear, ACCESS_FETCH, &phys))
		return false;
	*gpa = code_key(cpu->sh->ram, phys);
	return true;
}

static bool env_fetch_gpa(void *opaque, uint32_t linear, uint64_t *gpa)
{
	return code_address(opaque, linear, gpa);
}

static void env_drop_fault(void *opaque)
{
	struct cpu *cpu = opaque;
	cpu->pf.pending = false;
}

/* The debugger's breakpoints and the guest's instruction breakpoints
 * are done the same way in the translation: a block ends before one and
 * the block at one only exits to the run loop, which tells them apart. */
static bool env_breakpoint_at(void *opaque, uint32_t eip)
{
	return cpu_breakpoint_at(opaque, eip) || cpu_instruction_breakpoints_at(opaque, eip) != 0;
}

uint32_t cpu_instruction_breakpoints_at(const struct cpu *cpu, uint32_t eip)
{
	uint32_t dr7 = cpu->s.dr[7], hits = 0;
	if (!(dr7 & DR7_ENABLES))
		return 0;
	for (unsigned n = 0; n < 4; n++) {
		bool enabled = (dr7 >> (2 * n)) & 3u;
		bool execute = ((dr7 >> (16 + 4 * n)) & 3u) == 0;
		if (enabled && execute && cpu->s.dr[n] == eip)
			hits |= 1u << n;
	}
	return hits;
}

/* A translation's view of the vCPU; path, n: a trace's recorded path. */
static int translate_for(struct cpu *cpu, struct translator *t, uint32_t eip, uint64_t gpa,
			 uint32_t mode, const uint32_t *path, unsigned n, struct tblock **out)
{
	const struct translate_env env = {
		.sh = cpu->sh,
		.tc = cpu->tc,
		.ibl = &cpu->ibl_table,
		.tsc_native = cpu->tsc_native,
		/* Counting executions and the deprivileged view both need
		 * every sensitive instruction in the monitor. */
		.sensitive_callouts = cpu->explain != NULL || cpu->trap_emulate,
		.pause_yields = cpu->plat && cpu->plat->pause,
		.cs_base = cpu->s.seg[SEG_CS].base,
		.cs_limit = mode & MODE_CSLIMIT ? cpu_code_limit(cpu) : 0xffffffffu,
		.fetch_gpa = env_fetch_gpa,
		.drop_fault = env_drop_fault,
		.breakpoint_at = cpu->debug.nbp || (cpu->s.dr[7] & DR7_ENABLES) ? env_breakpoint_at : NULL,
		.opaque = cpu,
		.trace_path = path,
		.trace_len = n,
	};
	uint8_t phase = cpu->phase;
	cpu->phase = PHASE_TRANSLATE;   /* the host-time split (profile.h) */
	int ret = path ? translate_trace(t, &env, eip, gpa, mode, out)
		       : translate_block(t, &env, eip, gpa, mode, out);
	cpu->phase = phase;
	return ret;
}

int cpu_translate_block(struct cpu *cpu, struct translator *t, uint32_t eip, uint64_t gpa,
			uint32_t mode, struct tblock **out)
{
	return translate_for(cpu, t, eip, gpa, mode, NULL, 0, out);
}

int cpu_translate_trace(struct cpu *cpu, struct translator *t, uint32_t eip, uint64_t gpa,
			uint32_t mode, const uint32_t *path, unsigned n, struct tblock **out)
{
	return translate_for(cpu, t, eip, gpa, mode, path, n, out);
}

/* Delivers the #PF a failed guest access left pending; false if none. */
static bool deliver_pending_page_fault(struct cpu *cpu)
{
	uint32_t err;
	if (!cpu_take_page_fault(cpu, &err))
		return false;
	cpu_deliver(cpu, EXC_PF, true, err, false);
	return true;
}

/* Where the instruction at linear address linear is in guest physical
 * memory; false after raising the #PF its fetch takes. */
bool cpu_fetch_address(struct cpu *cpu, uint32_t linear, uint64_t *gpa)
{
	if (code_address(cpu, linear, gpa))
		return true;
	deliver_pending_page_fault(cpu);
	return false;
}

/* The block at eip for mode, translated if need be. NULL when the fetch
 * faulted (the #PF is delivered, EIP moved) or the guest cannot go on
 * (cpu->fatal). */
struct tblock *cpu_get_block(struct cpu *cpu, struct translator *t, uint32_t eip,
			     uint32_t mode)
{
	uint32_t linear = cpu_code_linear(cpu, eip), limit = cpu_code_limit(cpu);
	uint64_t gpa;
	if (eip > limit) {
		/* Code run on past CS's limit (a branch past it faulted at the
		 * branch already): #GP(0) at EIP, before the fetch's paging
		 * (the SDM checks the limit first). Real mode's 0xFFFF and v86
		 * mode's too: INT 13 through the IVT, or the IDT's #GP. */
		cpu_deliver(cpu, EXC_GP, true, 0, false);
		return NULL;
	}
	if (!cpu_fetch_address(cpu, linear, &gpa))
		return NULL;
	struct tblock *tb = tcache_lookup(cpu->tc, eip, gpa, mode, limit);
	if (tb && tb->pages[1] != tb->pages[0]) {
		/* Its last instruction runs into the next page, which may be
		 * mapped elsewhere in this address space. */
		uint64_t next;
		if (!cpu_fetch_address(cpu, (linear | (GUEST_PAGE_SIZE - 1)) + 1, &next))
			return NULL;
		if (next / GUEST_PAGE_SIZE != tb->pages[1]) {
			tcache_invalidate_page(cpu->tc, &cpu->ibl_table, tb->pages[1]);
			tb = NULL;
		}
	}
	if (tb) {
		if (cpu->tc->log)
			tclog_lookup(cpu->tc->log, cpu->shadow_slot, tb->log_key);
		return tb;
	}
	if (cpu->tc->log)
		tclog_vcpu(cpu->tc->log, cpu->shadow_slot);   /* the translation's */
	int err = cpu_translate_block(cpu, t, eip, gpa, mode, &tb);
	if (err == -ENOSPC && cpu->lock && cpu->lock->exclusive != cpu) {
		/* Other vCPUs may run the code a flush or an eviction would
		 * overwrite: the run loop's safe point makes room, and the
		 * iteration starts anew. */
		cpu->tc->room_pending = true;
		cpu->translate_retry = true;
		return NULL;
	}
	if (err == -ENOSPC) {
		/* From the run loop (or an exclusive section), outside
		 * translated code: no block that goes is running. */
		tcache_make_room(cpu->tc, &cpu->ibl_table);
		err = cpu_translate_block(cpu, t, eip, gpa, mode, &tb);
	}
	if (err == -EFAULT) {
		/* Code at a physical address without RAM: an unclaimed bus
		 * reads all ones, and FF FF is FF /7, an invalid opcode. */
		if (!deliver_pending_page_fault(cpu)) {
			cpu->stats.fetch_outside_ram++;
			cpu_deliver(cpu, EXC_UD, false, 0, false);
		}
		return NULL;
	}
	if (err == -ENOTSUP) {
		cpu->fatal = t->error;
		return NULL;
	}
	if (err) {
		cpu->fatal = "a single guest block does not fit in the translation cache";
		return NULL;
	}
	return tb;
}

/* Whether linear page va is mapped global (G with CR4.PGE) right now. */
static bool page_is_global(struct cpu *cpu, uint32_t va)
{
	struct paging_regs pr = paging_regs_of(&cpu->s);
	struct walk w;
	uint32_t error;
	return paging_walk(cpu->sh->ram, &pr, va, ACCESS_PEEK, &w, &error) && w.global;
}

/* A block whose pages are all mapped global may be entered from any
 * address space until the guest invalidates those translations. */
static bool block_is_global(struct cpu *cpu, const struct tblock *tb)
{
	if (!(cpu->s.cr0 & CR0_PG) || !(cpu->s.cr4 & CR4_PGE) || !page_is_global(cpu, tb->eip))
		return false;
	if (tb->pages[1] == tb->pages[0])
		return true;
	return page_is_global(cpu, (tb->eip | (GUEST_PAGE_SIZE - 1)) + 1);
}

/* Notes the one or two pages of a block at eip with the shadow as global
 * code, so that the guest's invalidation of them reaches what was made
 * on them (a global lookup entry, a chain to global code). */
static void note_global_block(struct cpu *cpu, uint32_t eip, const uint32_t pages[2], bool user)
{
	shadow_note_global_code(cpu->sh, eip, pages[0], user);
	if (pages[1] != pages[0])
		shadow_note_global_code(cpu->sh, (eip | (GUEST_PAGE_SIZE - 1)) + 1, pages[1], user);
}

/* Whether a chain from exit's block to tb crosses into global code at
 * CPL 0 (where the lookup tries the global tag first, so that the chain
 * finds what the exit's lookup would): its pages are then noted with the
 * shadow as the lookup table's global entries are, so that the guest's
 * invalidation of them undoes the chain (cpu_space_changed). */
static bool chain_to_global(struct cpu *cpu, const struct exit_desc *exit, const struct tblock *tb,
			    uint32_t mode)
{
	if (!exit->patch || exit->to || (mode & MODE_CPL3) || cpu->no_ibl || !mode_uses_ibl(mode) ||
	    !tcache_chain_crosses(exit->from, tb) || !block_is_global(cpu, tb))
		return false;
	note_global_block(cpu, tb->eip, tb->pages, false);
	return true;
}

/* Enters a block's translation in the lookup table, under the global-page
 * tag when all its pages are mapped global; under the window's own tag
 * only once the window maps its pages (shadow_hold_code), or a change of
 * their page-table entries would not reach the entry. */
static void fill_lookup(struct cpu *cpu, uint32_t target, uint32_t mode, const uint8_t *host,
			uint64_t gpa, const uint32_t pages[2], bool global)
{
	uint64_t one_page_gpa = pages[1] == pages[0] ? gpa : IBL_GPA_NONE;
	if (cpu->no_ibl || !mode_uses_ibl(mode))
		return;
	if (global) {
		note_global_block(cpu, target, pages, mode & MODE_CPL3);
		ibl_enter(&cpu->ibl_table, cpu->ibl_global_tags[mode_ibl_tag_index(mode)], target, host,
			  one_page_gpa);
		cpu->tc->stats.ibl_global_fills++;
	} else {
		if (!shadow_hold_code(cpu->sh, target) ||
		    (pages[1] != pages[0] && !shadow_hold_code(cpu->sh, (target | (GUEST_PAGE_SIZE - 1)) + 1)))
			return;
		ibl_enter(&cpu->ibl_table, cpu->ibl_tags[mode_ibl_tag_index(mode)], target, host, one_page_gpa);
	}
	cpu->tc->stats.ibl_fills++;
}

static uint64_t ibl_fast(struct cpu *cpu);

/* From translated code (btvm_ibl_miss): under the machine lock. */
uint64_t cpu_ibl_fast(struct cpu *cpu)
{
	cpu_lock(cpu);
	uint64_t host = ibl_fast(cpu);
	if (host && cpu->tc->log) {
		/* A lookup too (the run loop's, when this one fails); found
		 * by its code so as not to count a lookup in the statistics. */
		const struct tblock *tb = tcache_find_host(cpu->tc, (const void *)(uintptr_t)host);
		if (tb)
			tclog_lookup(cpu->tc->log, cpu->shadow_slot, tb->log_key);
	}
	cpu_unlock(cpu);
	return host;
}

static uint64_t ibl_fast(struct cpu *cpu)
{
	uint32_t target = (uint32_t)cpu->scratch[0];
	uint32_t mode = cpu_mode(cpu);
	if ((mode & MODE_SINGLE) || cpu->sh->ibl_epoch != cpu->ibl_epoch || cpu->no_ibl)
		return 0;
	/* Translated indirect branches check their target against CS's
	 * limit before they get here; the run loop raises what gets past. */
	if (target > cpu_code_limit(cpu))
		return 0;
	/* Legacy modes have no table entries: every indirect branch comes
	 * here, and the block is looked up at CS.base + EIP, never filled. */
	uint32_t linear = cpu_code_linear(cpu, target);
	uint64_t phys = linear & ~cpu->s.a20_cleared;
	bool global = false;
	if (cpu->s.cr0 & CR0_PG) {
		/* A look only: a walk that would set an accessed bit or fault
		 * is the run loop's to make. */
		struct paging_regs pr = paging_regs_of(&cpu->s);
		struct walk w;
		uint32_t error;
		unsigned access = ACCESS_PEEK | ACCESS_FETCH | (cpu->s.cpl == 3 ? ACCESS_USER : 0);
		if (!paging_walk(cpu->sh->ram, &pr, linear, access, &w, &error))
			return 0;
		phys = w.gpa;
		global = w.global;
	}
	uint64_t gpa = code_key(cpu->sh->ram, phys);
	if (!mode_uses_ibl(mode))
		return (uint64_t)(uintptr_t)tcache_lookup_host(cpu->tc, target, gpa, mode,
							      cpu_code_limit(cpu));
	/* A block on one page only: the walk above is its page's. Most
	 * misses find the slot holding this very block under another tag
	 * (every fork and exec starts a new one), and the cache's lookup
	 * is a miss in host memory too. */
	uint8_t *host = (uint8_t *)ibl_same_block(&cpu->ibl_table, target, mode_ibl_tag_index(mode), gpa);
	if (host)
		cpu->stats.ibl_reuses++;
	else
		host = tcache_lookup_host(cpu->tc, target, gpa, mode, 0xffffffffu);   /* flat: no MODE_CSLIMIT */
	if (!host)
		return 0;
	const uint32_t pages[2] = { (uint32_t)(gpa >> 12), (uint32_t)(gpa >> 12) };
	fill_lookup(cpu, target, mode, host, gpa, pages, global);
	cpu->stats.ibl_fast_fills++;
	return (uint64_t)(uintptr_t)host;
}

/* An indirect branch the lookup table missed: fill the entry in. */
static void fill_indirect(struct cpu *cpu, struct translator *t)
{
	uint32_t target = (uint32_t)cpu->scratch[0];
	/* The mode now: a transfer callout may have changed it before its
	 * block's lookup missed. */
	uint32_t mode = cpu_mode(cpu);
	cpu->stats.exits[EXIT_INDIRECT]++;
	cpu->s.eip = target;
	struct tblock *to = cpu_get_block(cpu, t, target, mode);
	if (!to || cpu->s.eip != target)
		return;
	fill_lookup(cpu, target, mode, to->host, to->gpa, to->pages, block_is_global(cpu, to));
}

void cpu_raise_nmi(struct cpu *cpu)
{
	cpu->nmi_pending = true;
	cpu_request_attention(cpu);
}

/* Takes the NMI unless one is being handled (whatever IF says), else a
 * pending external interrupt if IF allows: SDM 6.9's order, where both
 * come after a trap of the previous instruction (the TF trap, delivered as
 * soon as its instruction is done) and before anything the next
 * instruction raises. True if one was taken. */
static bool take_interrupt(struct cpu *cpu)
{
	const struct cpu_platform *p = cpu->plat;
	if (cpu->nmi_pending && !cpu->nmi_blocked) {
		cpu->nmi_pending = false;
		cpu->nmi_blocked = true;
		cpu->stats.nmis++;
		cpu_deliver_external(cpu, EXC_NMI);
		return true;
	}
	if (!p)
		return false;
	if (!cpu->vif) {
		cpu->irq_held = p->intr(p->opaque);
		return false;
	}
	cpu->irq_held = 0;
	if (!p->intr(p->opaque))
		return false;
	int vector = p->inta(p->opaque);
	cpu->stats.interrupts++;
	cpu_deliver_external(cpu, (unsigned)vector & 0xff);
	return true;
}

/* HLT: sleep until an interrupt can be taken. false ends the run. */
static bool halt_wait(struct cpu *cpu)
{
	const struct cpu_platform *p = cpu->plat;
	if (!cpu->vif && !(p && p->nmi_possible && p->nmi_possible(p->opaque))) {
		cpu->fatal = "guest halted with interrupts disabled: nothing can wake it";
		return false;
	}
	bool woken = false;
	if (p) {
		atomic_store(&cpu->waiting, true);
		woken = p->wait(p->opaque);
		atomic_store(&cpu->waiting, false);   /* before poll looks at devices */
	}
	if (!woken) {
		cpu->fatal = "guest halted waiting for an interrupt that no device will raise";
		return false;
	}
	p->poll(p->opaque);
	return true;
}

/* A block run for the debugger (a step, or the instruction at the
 * breakpoint it resumed from) is over; ran: its instruction ran, or raised
 * its event. */
static void debug_after_single(struct cpu *cpu, bool ran)
{
	struct cpu_debug *dbg = &cpu->debug;
	if (!ran)
		return;
	dbg->skip = false;
	if (dbg->step) {
		dbg->step = false;
		dbg->event = DEBUG_EVENT_STEP;
		cpu->stop = true;
	}
}

/* Drops the translations covering a breakpoint's linear address eip:
 * blocks keyed by it (those of code at CS.base 0), and with paging off
 * those of its physical byte, which code at another CS.base reaches. */
static void drop_at_breakpoint(struct cpu *cpu, uint32_t eip)
{
	tcache_invalidate_linear(cpu->tc, &cpu->ibl_table, eip);
	if (!(cpu->s.cr0 & CR0_PG))
		tcache_invalidate_gpa(cpu->tc, &cpu->ibl_table, eip & ~cpu->s.a20_cleared);
}

/* The linear address of instruction breakpoint n, or none (false). */
static bool instruction_breakpoint(const uint32_t dr[4], uint32_t dr7, unsigned n, uint32_t *eip)
{
	*eip = dr[n];
	return ((dr7 >> (2 * n)) & 3u) && ((dr7 >> (16 + 4 * n)) & 3u) == 0;
}

bool cpu_debug_registers_changed(struct cpu *cpu, const uint32_t old_dr[4], uint32_t old_dr7)
{
	bool dropped = false;
	for (unsigned n = 0; n < 4; n++) {
		uint32_t was, is;
		bool had = instruction_breakpoint(old_dr, old_dr7, n, &was);
		bool has = instruction_breakpoint(cpu->s.dr, cpu->s.dr[7], n, &is);
		if (had == has && (!had || was == is))
			continue;
		/* Code at a CS.base other than 0 is keyed by EIP: the current
		 * CS's view of each address is dropped too. */
		uint32_t cs_base = cpu->s.seg[SEG_CS].base;
		if (had) {
			drop_at_breakpoint(cpu, was);
			if (cs_base)
				drop_at_breakpoint(cpu, was - cs_base);
		}
		if (has) {
			drop_at_breakpoint(cpu, is);
			if (cs_base)
				drop_at_breakpoint(cpu, is - cs_base);
		}
		dropped = true;
	}
	return dropped;
}

int cpu_breakpoint_set(struct cpu *cpu, uint32_t eip)
{
	struct cpu_debug *dbg = &cpu->debug;
	if (cpu_breakpoint_at(cpu, eip))
		return 0;
	if (dbg->nbp == CPU_MAX_BREAKPOINTS)
		return -ENOSPC;
	dbg->bp[dbg->nbp++] = eip;
	drop_at_breakpoint(cpu, eip);
	return 0;
}

void cpu_breakpoint_clear(struct cpu *cpu, uint32_t eip)
{
	struct cpu_debug *dbg = &cpu->debug;
	for (unsigned i = 0; i < dbg->nbp; i++) {
		if (dbg->bp[i] != eip)
			continue;
		dbg->bp[i] = dbg->bp[--dbg->nbp];
		/* The block that ended before it stays: it is still right. */
		drop_at_breakpoint(cpu, eip);
		return;
	}
}

void cpu_debug_resume(struct cpu *cpu, bool step)
{
	struct cpu_debug *dbg = &cpu->debug;
	dbg->step = step;
	dbg->skip = cpu_breakpoint_at(cpu, cpu_code_linear(cpu, cpu->s.eip));
	dbg->skip_eip = cpu->s.eip;
	dbg->event = DEBUG_EVENT_NONE;
}

/* A one-instruction block's place before it ran, for BTF. */
struct branch_probe {
	bool on;
	uint32_t eip, next_eip, mode;
	uint16_t cs;
};

/* The instruction at br->eip left EIP at itself or right after itself:
 * still a taken branch if it is a JMP, CALL or RET (CALL $+5), or a
 * conditional jump that stayed (to itself). A Jcc or LOOP to the next
 * instruction looks the same taken or not: not taken. The bytes are read
 * from RAM as they are (no data breakpoint sees them, no device read). */
static bool branch_in_place(struct cpu *cpu, const struct branch_probe *br)
{
	uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
	unsigned n = 0;
	while (n < sizeof(bytes)) {
		uint32_t linear = cpu_code_linear(cpu, br->eip + n);
		uint64_t gpa;
		if (!cpu_translate(cpu, linear, ACCESS_FETCH | ACCESS_PEEK, &gpa)) {
			cpu->pf.pending = false;
			break;
		}
		unsigned chunk = GUEST_PAGE_SIZE - (linear & (GUEST_PAGE_SIZE - 1));
		chunk = chunk < sizeof(bytes) - n ? chunk : (unsigned)sizeof(bytes) - n;
		if (!guest_ram_contains(cpu->sh->ram, gpa, chunk))
			break;
		cpu_read_phys(cpu, gpa, bytes + n, chunk);
		n += chunk;
	}
	ZydisDecodedInstruction in;
	if (!n || ZYAN_FAILED(ZydisDecoderDecodeInstruction(&cpu->decoders[decoder_index(br->mode)], NULL,
							     bytes, n, &in)))
		return false;
	switch (in.meta.category) {
	case ZYDIS_CATEGORY_UNCOND_BR:
	case ZYDIS_CATEGORY_CALL:
	case ZYDIS_CATEGORY_RET:
		return true;
	case ZYDIS_CATEGORY_COND_BR:
		return cpu->s.eip == br->eip;
	default:
		return false;
	}
}

static bool branch_taken(struct cpu *cpu, const struct branch_probe *br)
{
	if (cpu->s.seg[SEG_CS].selector != br->cs ||
	    (cpu->s.eip != br->eip && cpu->s.eip != br->next_eip))
		return true;
	return branch_in_place(cpu, br);
}

void cpu_run(struct cpu *cpu, struct translator *t)
{
	struct exit_desc *chain_from = NULL;
	uint32_t chain_mode = 0;
	/* The cache's generation when chain_from was set: a flush or an
	 * eviction since (this vCPU's own for room, or another's at a safe
	 * point) may have reused the arena slot its exit was in. */
	uint64_t chain_generation = 0;

	cpu_bind_thread(cpu);
	/* GS may have been changed by anyone, and another vCPU may have run
	 * in between: this one selects its own window, and hears of its
	 * tags. */
	cpu->sh->cur_view = -2;
	cpu->sh->space_opaque = cpu;
	cpu_lock_reclaim(cpu);   /* with the lock: the holder's too */
	while (!cpu->stop && !cpu->fatal) {
		if (cpu->lock) {
			/* Other vCPUs' exclusive sections, and a flush asked for. */
			cpu_safe_point(cpu);
			if (!cpu->pause_budget)
				cpu_pause_yield(cpu);
			cpu->translate_retry = false;
			if (cpu->stop)
				break;   /* an INIT, a reset or the end, meanwhile */
		}
		if (cpu->a20_line != cpu->s.a20_cleared) {
			cpu_apply_a20(cpu);   /* before the window is chosen by it */
			chain_from = NULL;
			if (cpu->tc->flush_pending)
				continue;   /* its flush first, at the safe point */
		}
		if (cpu_select_window(cpu) < 0) {
			cpu->fatal = "cannot reserve a window for the guest's address space";
			break;
		}
		if (cpu->sh->ibl_epoch != cpu->ibl_epoch) {
			cpu->ibl_epoch = cpu->sh->ibl_epoch;
			ibl_clear(&cpu->ibl_table);
		}
		if (cpu_take_attention(cpu)) {
			tcache_loop_release(cpu->tc);
			if (cpu->plat)
				cpu->plat->poll(cpu->plat->opaque);
			if (cpu->profile)
				profile_drain(cpu);
			if (cpu->stop)
				break;   /* before a HLT sleeps again */
		}
		/* After STI (or MOV/POP SS) one more instruction runs before any
		 * interrupt: run it alone. A debugger's step, and the
		 * instruction at the breakpoint it resumes from, run alone too,
		 * and before interrupts (QEMU's gdb stub steps with interrupts
		 * held off as well), unless the CPU is halted: only one can
		 * end the HLT. */
		struct cpu_debug *dbg = &cpu->debug;
		bool shadow = cpu->shadow;
		bool ss_held = shadow && cpu->shadow_ss;
		bool skip = dbg->skip && dbg->skip_eip == cpu->s.eip;
		bool debug_single = skip || dbg->step;
		cpu->shadow = cpu->shadow_ss = false;
		if (!shadow && !(debug_single && !cpu->halted) && take_interrupt(cpu)) {
			chain_from = NULL;
			dbg->skip = false;
			continue;
		}
		if (cpu->halted) {
			if (!halt_wait(cpu))
				break;
			continue;
		}
		uint32_t linear = cpu_code_linear(cpu, cpu->s.eip);
		if (dbg->nbp && !skip && cpu_breakpoint_at(cpu, linear)) {
			/* Reached other than through a translated branch (an
			 * event, a MODE_SINGLE block, the loop itself). */
			dbg->event = DEBUG_EVENT_BREAK;
			cpu->stop = true;
			break;
		}
		/* The guest's instruction breakpoint: a fault-class #DB before
		 * the instruction (after external interrupts, SDM Table 6-2).
		 * Unlike other faults its image shows RF as it is, clear (SDM
		 * 18.3.1.1): the handler sets it in the image so that its IRET
		 * resumes past the breakpoint; with RF set the instruction
		 * runs alone, and ignores it. DR6's B0-B3 say which matched;
		 * its other bits stay (SDM 18.2.3: the handler clears them). */
		bool guest_breakpoint = false;
		if (cpu->s.dr[7] & DR7_ENABLES) {
			uint32_t hits = cpu_instruction_breakpoints_at(cpu, linear);
			/* Not reported right after MOV SS (SDM 6.8.3). */
			if (hits && !(cpu->s.eflags & EFLAGS_RF) && !ss_held) {
				cpu->s.dr[6] = (cpu->s.dr[6] & ~DR6_B0_B3) | hits;
				chain_from = NULL;
				cpu_deliver(cpu, EXC_DB, false, 0, false);
				continue;
			}
			guest_breakpoint = hits != 0;
		}
		uint32_t mode = cpu_mode(cpu);
		bool stepping = (cpu->s.eflags & EFLAGS_TF) != 0;
		if (shadow || debug_single || guest_breakpoint)
			mode |= MODE_SINGLE;
		struct tblock *tb = cpu_get_block(cpu, t, cpu->s.eip, mode);
		if (!tb) {
			chain_from = NULL;
			if (cpu->translate_retry) {
				cpu->shadow = shadow;   /* nothing ran */
				cpu->shadow_ss = ss_held;
			}
			continue;   /* fatal, the fetch's #PF was delivered, or a flush first */
		}
		/* With paging, code at another CS.base may reach the same
		 * physical block at the same EIP, and its branch target be on
		 * another page: a CS based elsewhere is not chained then. */
		bool paging = (cpu->s.cr0 & CR0_PG) != 0;
		if (chain_from && chain_generation == cpu->tc->generation && chain_mode == mode &&
		    !(mode & MODE_SINGLE) && chain_from->from->valid &&
		    !cpu->no_chain && !(paging && (mode & MODE_SEGCS)) &&
		    !(cpu->trace_threshold && cpu_trace_head(cpu, chain_from, tb)))
			tcache_chain(cpu->tc, chain_from, tb, paging,
				     paging && chain_to_global(cpu, chain_from, tb, mode));
		chain_from = NULL;
		if (cpu->trace_rec.on)
			cpu_trace_enter(cpu, t, tb);
		sync_seg_bases(cpu);
		cpu->stats.blocks_run++;
		cpu->fault.kind = FAULT_NONE;
		uint64_t deliveries = cpu->deliveries;
		/* RF (loaded by IRET, which then leaves through here) is for the
		 * block's first instruction only: clear once that runs (a fault
		 * of it sets RF in its own image), kept when nothing ran. */
		uint32_t rf = cpu->s.eflags & EFLAGS_RF;
		cpu->s.eflags &= ~EFLAGS_RF;
		cpu->data_hits = 0;
		/* With DEBUGCTL.BTF, TF traps only after a taken branch (SDM
		 * 17.4.3): EIP elsewhere than at the instruction (a string
		 * iteration) or after it, CS changed, or branch_in_place. */
		struct branch_probe br = { 0 };
		if (stepping && (cpu->s.msrs.debugctl & DEBUGCTL_BTF))
			br = (struct branch_probe){ true, tb->eip, tb->eip + tb->guest_len, tb->mode,
						    cpu->s.seg[SEG_CS].selector };   /* any left from an event's delivery */
		cpu_enter_guest(cpu);
		btvm_enter(cpu, tb->host);
		cpu_leave_guest(cpu);

		if (cpu->fault.kind != FAULT_NONE) {
			enum host_fault_kind k = cpu->fault.kind;
			cpu->fault.kind = FAULT_NONE;
			if (k == FAULT_PAGE)
				cpu_count_fresh_fault(cpu);
			bool completed = cpu_deliver_host_fault(cpu, t, k);
			/* An event it raised ends the instruction too; an
			 * attention or a retranslation ran nothing of it. */
			bool ran = completed || cpu->deliveries != deliveries || cpu->fatal;
			if (debug_single)
				debug_after_single(cpu, ran);
			if (!completed) {
				/* Nothing ran: the instruction in the shadow is
				 * still the one to run before any interrupt. */
				if (!ran) {
					cpu->shadow = shadow;
					cpu->shadow_ss = ss_held;
					cpu->s.eflags |= rf;
				}
				continue;
			}
		} else {
			const struct exit_desc *ex = cpu_exit_desc(cpu->exit);
			if (cpu->exit == CPU_EXIT_INDIRECT) {
				fill_indirect(cpu, t);
			} else if (cpu->exit == CPU_EXIT_CALLOUT) {
				/* A callout stopped; it left EIP in cpu->s. */
				cpu->stats.exits[EXIT_CALLOUT]++;
			} else {
				cpu->s.eip = ex->target_eip;
				if (ex->kind == EXIT_KIND_BREAK) {
					/* Nothing ran (when the break block was entered
					 * itself, not chained into): no trap for TF either. */
					uint32_t at = cpu_code_linear(cpu, cpu->s.eip);
					if (ex->from == tb)
						cpu->s.eflags |= rf;
					chain_from = NULL;
					if (cpu_breakpoint_at(cpu, at)) {
						dbg->event = DEBUG_EVENT_BREAK;
						cpu->stop = true;
					} else if (!cpu_instruction_breakpoints_at(cpu, at)) {
						/* Left from a breakpoint since gone (DR7
						 * changed other than by MOV): retranslate. */
						drop_at_breakpoint(cpu, at);
						if (cpu->s.seg[SEG_CS].base)
							drop_at_breakpoint(cpu, cpu->s.eip);
					}
					continue;   /* the guest's #DB: the loop's top raises it */
				}
				if (ex->kind == EXIT_KIND_STALE) {
					/* Its guest bytes changed under it: retranslate
					 * it alone, since every other block on a
					 * self-checking page checks its own bytes
					 * (GRUB patches the vector of one INT on a page
					 * of 45 blocks before each BIOS call). */
					cpu->tc->stats.selfcheck_stale++;
					tcache_invalidate_block(cpu->tc, &cpu->ibl_table, ex->from);
					cpu->shadow = shadow;   /* nothing ran */
					cpu->shadow_ss = ss_held;
					cpu->s.eflags |= rf;
					continue;
				}
				cpu->stats.exits[EXIT_BRANCH]++;
				if (cpu->trace_rec.on)
					cpu_trace_exit(cpu, t, ex);
				if (ex->kind == EXIT_KIND_BRANCH) {
					chain_from = (struct exit_desc *)ex;
					chain_mode = ex->from->mode;
					chain_generation = cpu->tc->generation;
				}
			}
		}
		if (debug_single)
			debug_after_single(cpu, true);
		/* EFLAGS.TF at the start of the instruction, or a data
		 * breakpoint it hit (its block was its alone: cpu_mode): one
		 * trap after it, unless it ended in an exception or interrupt
		 * of its own. DR6 says which: BS, and B0-B3 replaced by the
		 * hits as an instruction breakpoint's are. After MOV SS or POP
		 * SS (a one-instruction block then, or one that ended there)
		 * the trap waits for the next instruction's end. */
		if (br.on && !branch_taken(cpu, &br))
			stepping = false;
		uint32_t trap = cpu->data_hits | (stepping ? DR6_BS : 0);
		cpu->data_hits = 0;
		if (cpu->deliveries != deliveries || cpu->fatal) {
			cpu->db_held = 0;   /* the instruction did not complete */
		} else if (cpu->shadow_ss) {
			cpu->db_held |= trap;
		} else if (trap | cpu->db_held) {
			trap |= cpu->db_held;
			cpu->db_held = 0;
			if (trap & DR6_BS) {
				cpu->s.dr[6] |= DR6_BS;
				cpu->stats.single_steps++;
			}
			if (trap & DR6_B0_B3)
				cpu->s.dr[6] = (cpu->s.dr[6] & ~DR6_B0_B3) | (trap & DR6_B0_B3);
			chain_from = NULL;
			cpu_deliver(cpu, EXC_DB, false, 0, false);
		}
	}
	cpu_bind_thread(NULL);
}
