/* The vCPU run loop: look up or translate the block at EIP, chain it to
 * the exit that led here, enter translated code, and handle what made it
 * come back (a branch not chained yet, an indirect-branch miss, a callout
 * that stopped, a host fault turned into a guest event). Host faults are
 * caught here too: SIGSEGV inside a window (self-modifying code, accesses
 * outside RAM), SIGFPE (#DE, #MF, #XM) and SIGILL (#UD) become precise
 * guest events. */
#define _GNU_SOURCE
#include "cpu/callout_internal.h"
#include "cpu/cpu.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "cache/tcache.h"
#include "devices/bus.h"
#include "mmu/paging.h"
#include "mmu/shadow.h"
#include "mmu/window.h"
#include "translator/translate.h"

/* The vCPU whose translated code runs on this thread, for the handlers. */
static _Thread_local struct cpu *current_cpu;

/* Why the last fault-driven exit happened. */
enum fault_kind {
	FAULT_NONE, FAULT_TRACED, FAULT_PAGE, FAULT_MMIO, FAULT_NO_ROOM, FAULT_DIVIDE, FAULT_X87,
	FAULT_SIMD, FAULT_INVALID, FAULT_PROTECTION, FAULT_OUTSIDE, FAULT_ATTENTION
};

static _Thread_local struct {
	enum fault_kind kind;
	uint32_t gpa;      /* TRACED, MMIO */
	uint32_t va;       /* linear address of a window fault (CR2 for PAGE) */
	uint32_t error;    /* #PF error code */
	uintptr_t host_rip;
} last_fault;

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
	if (cpu->s.eflags & EFLAGS_DF)
		mode |= MODE_DF;
	if (!cpu->s.seg[SEG_ES].base && !cpu->s.seg[SEG_CS].base && !cpu->s.seg[SEG_SS].base &&
	    !cpu->s.seg[SEG_DS].base)
		mode |= MODE_FLAT;
	if (cpu->s.eflags & EFLAGS_TF)
		mode |= MODE_SINGLE;
	if (cpu->s.cpl == 3)
		mode |= MODE_CPL3;
	if (cpu->s.cr0 & (CR0_TS | CR0_EM))
		mode |= MODE_FPU_OFF;
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

void sync_seg_bases(struct cpu *cpu)
{
	for (int i = 0; i < SEG_COUNT; i++)
		cpu->seg_base[i] = cpu->s.seg[i].base;
}

/* A fault inside the window: a hidden fault is filled right here and the
 * instruction runs again; anything else leaves translated code. */
static enum fault_kind window_fault(struct cpu *cpu, const siginfo_t *si, const greg_t *g)
{
	uintptr_t a = (uintptr_t)si->si_addr, base = (uintptr_t)cpu->win->base;
	if (a - base >= WINDOW_SIZE)
		return FAULT_OUTSIDE;   /* the guard above 4 GiB: an access that wrapped */
	last_fault.va = (uint32_t)(a - base);
	bool write = (g[REG_ERR] & 2) != 0;
	switch (shadow_fault(cpu->sh, &cpu->s, last_fault.va, write, &last_fault.gpa, &last_fault.error)) {
	case SHADOW_FILLED:
		return FAULT_NONE;
	case SHADOW_PAGE_FAULT:
		return FAULT_PAGE;
	case SHADOW_TRACED:
		return FAULT_TRACED;
	case SHADOW_MMIO:
		return FAULT_MMIO;
	default:
		return FAULT_NO_ROOM;
	}
}

/* The host decoder for translated code, to look back at a faulting block. */
static ZydisDecoder host_decoder;

/* A guest instruction on AH..DH beside a register that needs REX runs
 * between two XCHGs of the high byte with a low one; a fault between
 * them must not leave the bytes swapped in the guest's registers. */
static void unswap_high_bytes(struct cpu *cpu, const uint8_t *from, const uint8_t *rip)
{
	while (from < rip) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(&host_decoder, from, (ZyanUSize)(rip - from), &in, ops)))
			return;
		if (in.mnemonic == ZYDIS_MNEMONIC_XCHG && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(ops[0].reg.value) == ZYDIS_REGCLASS_GPR8 &&
		    ZydisRegisterGetClass(ops[1].reg.value) == ZYDIS_REGCLASS_GPR8) {
			/* Ids 0-3 are AL..BL, 4-7 AH..BH without REX. */
			unsigned a = (unsigned)ZydisRegisterGetId(ops[0].reg.value);
			unsigned b = (unsigned)ZydisRegisterGetId(ops[1].reg.value);
			uint32_t *ra = &cpu->regs[a & 3], *rb = &cpu->regs[b & 3];
			unsigned sa = a >= 4 ? 8 : 0, sb = b >= 4 ? 8 : 0;
			uint32_t va = (*ra >> sa) & 0xff, vb = (*rb >> sb) & 0xff;
			*ra = (*ra & ~(0xffu << sa)) | (vb << sa);
			*rb = (*rb & ~(0xffu << sb)) | (va << sb);
		}
		from += in.length;
	}
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
	ucontext_t *uc = uctx;
	greg_t *g = uc->uc_mcontext.gregs;
	struct cpu *cpu = current_cpu;
	struct tblock *tb = cpu ? tcache_find_host(cpu->tc, (void *)g[REG_RIP]) : NULL;

	if (!tb) {
		/* Not translated code: a monitor bug. Die with the default action. */
		signal(sig, SIG_DFL);
		return;
	}
	enum fault_kind kind;
	if (sig == SIGILL) {
		/* The host has no such instruction: neither has the guest's CPU. */
		kind = FAULT_INVALID;
	} else if (sig == SIGFPE) {
		/* The host's own vector tells #DE, #MF and #XM apart. */
		greg_t trapno = g[REG_TRAPNO];
		kind = trapno == 16 ? FAULT_X87 : trapno == 19 ? FAULT_SIMD : FAULT_DIVIDE;
	} else if (g[REG_TRAPNO] == 13) {
		/* The host's #GP (a misaligned SSE access, reserved MXCSR bits):
		 * the guest's processor raises #GP(0) for the same instruction. */
		kind = FAULT_PROTECTION;
	} else if ((uintptr_t)si->si_addr - (uintptr_t)cpu->poll_guard < 4096) {
		/* A block entry's poll, or a REP iteration's (translate_string.c):
		 * attention was asked for. The registers are the guest's as of
		 * that boundary, EIP the instruction's. */
		kind = FAULT_ATTENTION;
	} else {
		kind = window_fault(cpu, si, g);
		if (kind == FAULT_NONE)
			return;   /* hidden fault filled: run the instruction again */
	}
	uint32_t off = (uint32_t)((uint8_t *)g[REG_RIP] - tb->host);
	unsigned i = 0;
	while (i + 1 < tb->ninsns && tb->map_host[i + 1] <= off)
		i++;
	cpu->regs[REG_EAX] = (uint32_t)g[REG_RAX];
	cpu->regs[REG_ECX] = (uint32_t)g[REG_RCX];
	cpu->regs[REG_EDX] = (uint32_t)g[REG_RDX];
	cpu->regs[REG_EBX] = (uint32_t)g[REG_RBX];
	cpu->regs[REG_ESP] = (uint32_t)g[REG_R12];
	cpu->regs[REG_EBP] = (uint32_t)g[REG_RBP];
	cpu->regs[REG_ESI] = (uint32_t)g[REG_RSI];
	cpu->regs[REG_EDI] = (uint32_t)g[REG_RDI];
	cpu->rflags = (uint64_t)g[REG_EFL];
	cpu->s.eip = tb->eip + tb->map_guest[i];
	unswap_high_bytes(cpu, tb->host + tb->map_host[i], (const uint8_t *)g[REG_RIP]);
	last_fault.kind = kind;
	last_fault.host_rip = (uintptr_t)g[REG_RIP];
	cpu->exit = CPU_EXIT_INDIRECT;   /* not read: last_fault says why */
	cpu->stats.exits[EXIT_FAULT]++;
	g[REG_RIP] = (greg_t)(uintptr_t)btvm_fault_leave;
	g[REG_R15] = (greg_t)(uintptr_t)cpu;
}

static int install_fault_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) < 0 || sigaction(SIGBUS, &sa, NULL) < 0 ||
	    sigaction(SIGFPE, &sa, NULL) < 0 || sigaction(SIGILL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

static void load_boot_state(struct cpu *cpu, const struct vcpu_state *boot)
{
	cpu->s = *boot;
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
	cpu->halted = cpu->shadow = cpu->stop = cpu->triple_fault = false;
	cpu->fatal = NULL;
	cpu->exc_depth = 0;
	cpu->poll_ptr = (uint64_t)(uintptr_t)&cpu->poll_ok;
	cpu->attention = 0;
}

int cpu_init(struct cpu *cpu, const struct vcpu_state *boot, struct shadow *sh,
	     struct tcache *tc, struct bus *bus)
{
	assert(callout_handlers_complete());
	memset(cpu, 0, sizeof(*cpu));
	cpu->sh = sh;
	cpu->win = &sh->identity;
	sh->ibl_tags = cpu->ibl_tags;
	sh->ibl_global = &cpu->ibl_global;
	sh->ibl_global_tags = cpu->ibl_global_tags;
	shadow_retire_global(sh);
	cpu->tc = tc;
	cpu->bus = bus;
	cpu->exit_fn = (uint64_t)(uintptr_t)btvm_exit;
	cpu->callout_fn = (uint64_t)(uintptr_t)btvm_callout;
	cpu->ibl_miss_fn = (uint64_t)(uintptr_t)btvm_ibl_miss;
	cpu->tsc_native = host_tsc_is_constant();
	set_guest_tsc(cpu, 0);   /* the TSC counts from power-on */
	cpu->poll_guard = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (cpu->poll_guard == MAP_FAILED) {
		cpu->poll_guard = NULL;
		return -errno;
	}
	int err = ibl_init(&cpu->ibl_table);
	if (err)
		return err;
	cpu->ibl = (uint64_t)(uintptr_t)cpu->ibl_table.entries;
	cpu->decoded = calloc(CALLOUT_DECODE_CACHE, sizeof(*cpu->decoded));
	if (!cpu->decoded)
		return -ENOMEM;
	load_boot_state(cpu, boot);
	if (ZYAN_FAILED(ZydisDecoderInit(&cpu->decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32)) ||
	    ZYAN_FAILED(ZydisDecoderInit(&host_decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)))
		return -EINVAL;
	return install_fault_handlers();
}

void cpu_reset(struct cpu *cpu, const struct vcpu_state *boot)
{
	tcache_flush(cpu->tc, &cpu->ibl_table);
	shadow_flush(cpu->sh);
	shadow_forget_adaptive(cpu->sh);
	load_boot_state(cpu, boot);
	set_guest_tsc(cpu, 0);
	cpu->stats.resets++;
}

void cpu_destroy(struct cpu *cpu)
{
	if (cpu->poll_guard)
		munmap(cpu->poll_guard, 4096);
	cpu->poll_guard = NULL;
	ibl_destroy(&cpu->ibl_table);
	free(cpu->decoded);
	cpu->decoded = NULL;
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

/* Where the instruction at eip is in guest physical memory; false after
 * raising the #PF its fetch takes. */
static bool fetch_address(struct cpu *cpu, uint32_t eip, uint32_t *gpa)
{
	if (cpu_translate(cpu, eip, ACCESS_READ, gpa))
		return true;
	deliver_pending_page_fault(cpu);
	return false;
}

/* The block at eip for mode, translated if need be. NULL when the fetch
 * faulted (the #PF is delivered, EIP moved) or the guest cannot go on
 * (cpu->fatal). */
static struct tblock *get_block(struct cpu *cpu, struct translator *t, uint32_t eip, uint32_t mode)
{
	uint32_t gpa;
	if (!fetch_address(cpu, eip, &gpa))
		return NULL;
	struct tblock *tb = tcache_lookup(cpu->tc, eip, gpa, mode);
	if (tb && tb->pages[1] != tb->pages[0]) {
		/* Its last instruction runs into the next page, which may be
		 * mapped elsewhere in this address space. */
		uint32_t next;
		if (!fetch_address(cpu, (eip | (GUEST_PAGE_SIZE - 1)) + 1, &next))
			return NULL;
		if (next / GUEST_PAGE_SIZE != tb->pages[1]) {
			tcache_invalidate_page(cpu->tc, &cpu->ibl_table, tb->pages[1]);
			tb = NULL;
		}
	}
	if (tb)
		return tb;
	int err = translate_block(t, cpu, eip, gpa, mode, &tb);
	if (err == -ENOSPC) {
		tcache_flush(cpu->tc, &cpu->ibl_table);
		err = translate_block(t, cpu, eip, gpa, mode, &tb);
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

static bool deliver_host_fault(struct cpu *cpu, struct translator *t, enum fault_kind k);

/* Write faults an instruction may take on page tables before it is
 * retranslated to write through a callout (adaptive translation). */
#define ADAPT_AFTER_FAULTS 4u

static bool count_table_write(uint32_t insn_gpa)
{
	static struct { uint32_t key, n; } counts[256];
	unsigned i = (insn_gpa * 0x9e3779b1u) >> 24;
	if (counts[i].key != insn_gpa + 1) {
		counts[i].key = insn_gpa + 1;
		counts[i].n = 0;
	}
	return ++counts[i].n >= ADAPT_AFTER_FAULTS;
}

/* A guest write to a traced page: a page table (the shadow entries
 * derived from what it changes must go) or translated code (dropped). The
 * writing instruction runs alone with that one mapping writable; a write
 * that spans two traced pages opens both. True when it completed (a
 * single step traps after it). */
static bool handle_trace(struct cpu *cpu, struct translator *t)
{
	struct shadow *sh = cpu->sh;
	static uint32_t snapshot[2][1024];
	uint32_t pages[2], vas[2];
	bool table[2];
	unsigned n = 0;
	struct tblock *tb = NULL;

	for (;;) {
		uint32_t page = last_fault.gpa / GUEST_PAGE_SIZE;
		if (n == 2 || (n == 1 && pages[0] == page)) {
			cpu->fatal = "a guest write keeps faulting on traced pages";
			break;
		}
		pages[n] = page;
		vas[n] = last_fault.va;
		table[n] = shadow_page_is_table(sh, page);
		if (table[n]) {
			memcpy(snapshot[n], sh->ram->host + (uint64_t)page * GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);
			sh->stats.trace_faults++;
		}
		if (tcache_page_traced(cpu->tc, page)) {
			tcache_invalidate_page(cpu->tc, &cpu->ibl_table, page);
			tcache_note_code_write(cpu->tc, page);
			if (!table[n] && tcache_page_selfcheck(cpu->tc, page))
				return false;   /* writable from now on: the writer just runs again */
		}
		n++;
		tb = get_block(cpu, t, cpu->s.eip, cpu_mode(cpu) | MODE_SINGLE);
		if (!tb)
			break;
		/* Translating the writer may have traced its page again. */
		for (unsigned i = 0; i < n; i++)
			(void)shadow_unprotect_current(sh, vas[i]);
		sync_seg_bases(cpu);
		last_fault.kind = FAULT_NONE;
		btvm_enter(cpu, tb->host);
		if (last_fault.kind != FAULT_TRACED)
			break;
	}
	for (unsigned i = 0; i < n; i++) {
		shadow_reprotect(sh, pages[i]);
		if (table[i])
			shadow_table_changed(sh, pages[i], snapshot[i]);
		tcache_invalidate_page(cpu->tc, &cpu->ibl_table, pages[i]);
	}
	if (!tb || cpu->fatal)
		return false;
	/* Only a newly adaptive writer needs its page retranslated: one that
	 * is adaptive already and still trapped (a string store) would
	 * otherwise throw its neighbours' translations away on every write. */
	if (table[0] && !shadow_is_adaptive(sh, tb->gpa) && count_table_write(tb->gpa)) {
		shadow_mark_adaptive(sh, tb->gpa);
		tcache_invalidate_page(cpu->tc, &cpu->ibl_table, tb->gpa / GUEST_PAGE_SIZE);
	}
	if (last_fault.kind != FAULT_NONE) {
		enum fault_kind k = last_fault.kind;
		last_fault.kind = FAULT_NONE;
		return deliver_host_fault(cpu, t, k);
	}
	const struct exit_desc *ex = cpu_exit_desc(cpu->exit);
	if (ex)
		cpu->s.eip = ex->target_eip;
	else if (cpu->exit == CPU_EXIT_INDIRECT)
		cpu->s.eip = (uint32_t)cpu->scratch[0];   /* never looked up */
	/* else CPU_EXIT_CALLOUT: the callout left EIP */
	return true;
}

/* An access to guest physical memory without RAM: the instruction is
 * retranslated to go through the memory callouts, which reach the bus. */
static void handle_mmio(struct cpu *cpu)
{
	uint32_t insn_gpa;
	if (!fetch_address(cpu, cpu->s.eip, &insn_gpa))
		return;
	if (shadow_is_adaptive(cpu->sh, insn_gpa)) {
		cpu->fatal = "guest reaches MMIO with an instruction form the monitor cannot forward "
			     "(stack or implicit memory operand)";
		return;
	}
	shadow_mark_adaptive(cpu->sh, insn_gpa);
	tcache_invalidate_page(cpu->tc, &cpu->ibl_table, insn_gpa / GUEST_PAGE_SIZE);
}

/* Whether linear page va is mapped global (G with CR4.PGE) right now. */
static bool page_is_global(struct cpu *cpu, uint32_t va)
{
	struct paging_regs pr = { cpu->s.cr0, cpu->s.cr3, cpu->s.cr4 };
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

/* Enters a block's translation in the lookup table, under the global-page
 * tag when all its pages are mapped global. */
static void ibl_enter(struct cpu *cpu, uint32_t target, uint32_t mode, const struct tblock *to,
		      bool global)
{
	struct ibl_entry *e = ibl_slot(&cpu->ibl_table, target);
	if (global) {
		shadow_note_global_code(cpu->sh, target);
		if (to->pages[1] != to->pages[0])
			shadow_note_global_code(cpu->sh, (target | (GUEST_PAGE_SIZE - 1)) + 1);
		e->tag = (cpu->ibl_global | (uint64_t)mode << 32) | target;
		cpu->tc->stats.ibl_global_fills++;
	} else {
		e->tag = cpu->ibl_tags[mode] | target;
	}
	e->host = (uint64_t)(uintptr_t)to->host;
	cpu->tc->stats.ibl_fills++;
}

uint64_t cpu_ibl_fast(struct cpu *cpu)
{
	uint32_t target = (uint32_t)cpu->scratch[0];
	uint32_t mode = cpu_mode(cpu);
	if ((mode & MODE_SINGLE) || cpu->sh->ibl_flush)
		return 0;
	uint32_t gpa = target;
	bool global = false;
	if (cpu->s.cr0 & CR0_PG) {
		/* A look only: a walk that would set an accessed bit or fault
		 * is the run loop's to make. */
		struct paging_regs pr = { cpu->s.cr0, cpu->s.cr3, cpu->s.cr4 };
		struct walk w;
		uint32_t error;
		unsigned access = ACCESS_PEEK | (cpu->s.cpl == 3 ? ACCESS_USER : 0);
		if (!paging_walk(cpu->sh->ram, &pr, target, access, &w, &error))
			return 0;
		gpa = w.gpa;
		global = w.global;
	}
	const struct tblock *tb = tcache_lookup(cpu->tc, target, gpa, mode);
	if (!tb || tb->pages[1] != tb->pages[0])
		return 0;   /* one page only: the walk above is its page's */
	ibl_enter(cpu, target, mode, tb, global);
	cpu->stats.ibl_fast_fills++;
	return (uint64_t)(uintptr_t)tb->host;
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
	struct tblock *to = get_block(cpu, t, target, mode);
	if (!to || cpu->s.eip != target)
		return;
	ibl_enter(cpu, target, mode, to, block_is_global(cpu, to));
}

void cpu_paging_changed(struct cpu *cpu, uint32_t old_cr0, uint32_t old_cr4)
{
	uint32_t cr0_diff = old_cr0 ^ cpu->s.cr0, cr4_diff = old_cr4 ^ cpu->s.cr4;
	if (cr0_diff & CR0_PG) {
		/* Blocks chained across pages assumed one fixed mapping. */
		tcache_flush(cpu->tc, &cpu->ibl_table);
		shadow_flush(cpu->sh);
	} else if ((cr0_diff & CR0_WP) || (cr4_diff & (CR4_PSE | CR4_PGE))) {
		shadow_flush(cpu->sh);
	}
}

/* Takes a pending external interrupt if IF allows; true if one was taken. */
static bool take_interrupt(struct cpu *cpu)
{
	const struct cpu_platform *p = cpu->plat;
	if (!p || !cpu->vif || !p->intr(p->opaque))
		return false;
	int vector = p->inta(p->opaque);
	cpu->stats.interrupts++;
	cpu_deliver(cpu, (unsigned)vector & 0xff, false, 0, false);
	return true;
}

/* HLT: sleep until an interrupt can be taken. false ends the run. */
static bool halt_wait(struct cpu *cpu)
{
	const struct cpu_platform *p = cpu->plat;
	if (!cpu->vif) {
		cpu->fatal = "guest halted with interrupts disabled: nothing can wake it";
		return false;
	}
	if (!p || !p->wait(p->opaque)) {
		cpu->fatal = "guest halted waiting for an interrupt that no device will raise";
		return false;
	}
	p->poll(p->opaque);
	return true;
}

/* Turns a host fault into its guest event; true only when it was a write
 * to a code page that then completed (single-stepping must trap after it). */
static bool deliver_host_fault(struct cpu *cpu, struct translator *t, enum fault_kind k)
{
	switch (k) {
	case FAULT_TRACED:
		return handle_trace(cpu, t);
	case FAULT_PAGE:
		cpu->s.cr2 = last_fault.va;
		cpu_deliver(cpu, EXC_PF, true, last_fault.error, false);
		break;
	case FAULT_MMIO:
		handle_mmio(cpu);
		break;
	case FAULT_NO_ROOM:
		shadow_make_room(cpu->sh);
		break;
	case FAULT_ATTENTION:
		cpu->stats.exits[EXIT_ATTENTION]++;
		break;
	case FAULT_DIVIDE:
		cpu_deliver(cpu, EXC_DE, false, 0, false);
		break;
	case FAULT_X87:
		cpu_deliver(cpu, EXC_MF, false, 0, false);
		break;
	case FAULT_INVALID:
		cpu_deliver(cpu, EXC_UD, false, 0, false);
		break;
	case FAULT_PROTECTION:
		cpu_deliver(cpu, EXC_GP, true, 0, false);
		break;
	case FAULT_SIMD:
		/* Without CR4.OSXMMEXCPT the guest said it cannot take #XM. */
		cpu_deliver(cpu, (cpu->s.cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD, false, 0, false);
		break;
	default:
		/* An access running past 4 GiB (into the window's guard):
		 * beyond a flat segment's limit, which is #GP(0) (#SS(0) for
		 * a stack access on hardware; the fault does not say which). */
		cpu->stats.wrap_faults++;
		cpu_deliver(cpu, EXC_GP, true, 0, false);
		break;
	}
	return false;
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

int cpu_breakpoint_set(struct cpu *cpu, uint32_t eip)
{
	struct cpu_debug *dbg = &cpu->debug;
	if (cpu_breakpoint_at(cpu, eip))
		return 0;
	if (dbg->nbp == CPU_MAX_BREAKPOINTS)
		return -ENOSPC;
	dbg->bp[dbg->nbp++] = eip;
	tcache_invalidate_linear(cpu->tc, &cpu->ibl_table, eip);
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
		tcache_invalidate_linear(cpu->tc, &cpu->ibl_table, eip);
		return;
	}
}

void cpu_debug_resume(struct cpu *cpu, bool step)
{
	struct cpu_debug *dbg = &cpu->debug;
	dbg->step = step;
	dbg->skip = cpu_breakpoint_at(cpu, cpu->s.eip);
	dbg->skip_eip = cpu->s.eip;
	dbg->event = DEBUG_EVENT_NONE;
}

void cpu_run(struct cpu *cpu, struct translator *t)
{
	struct exit_desc *chain_from = NULL;
	uint32_t chain_mode = 0;

	current_cpu = cpu;
	cpu->sh->cur_view = -2;   /* GS may have been changed by anyone */
	while (!cpu->stop && !cpu->fatal) {
		if (shadow_select(cpu->sh, &cpu->s, &cpu->win) < 0) {
			cpu->fatal = "cannot reserve a window for the guest's address space";
			break;
		}
		if (cpu->sh->ibl_flush) {
			cpu->sh->ibl_flush = false;
			ibl_clear(&cpu->ibl_table);
		}
		if (cpu->attention) {
			/* Pointer first: an alarm between the two stores sets both
			 * again, and the next block entry then faults. */
			cpu->poll_ptr = (uint64_t)(uintptr_t)&cpu->poll_ok;
			cpu->attention = 0;
			if (cpu->plat)
				cpu->plat->poll(cpu->plat->opaque);
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
		bool skip = dbg->skip && dbg->skip_eip == cpu->s.eip;
		bool debug_single = skip || dbg->step;
		cpu->shadow = false;
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
		if (dbg->nbp && !skip && cpu_breakpoint_at(cpu, cpu->s.eip)) {
			/* Reached other than through a translated branch (an
			 * event, a MODE_SINGLE block, the loop itself). */
			dbg->event = DEBUG_EVENT_BREAK;
			cpu->stop = true;
			break;
		}
		uint32_t mode = cpu_mode(cpu);
		bool stepping = (cpu->s.eflags & EFLAGS_TF) != 0;
		if (shadow || debug_single)
			mode |= MODE_SINGLE;
		struct tblock *tb = get_block(cpu, t, cpu->s.eip, mode);
		if (!tb) {
			chain_from = NULL;
			continue;   /* fatal, or the fetch's #PF was delivered */
		}
		if (chain_from && chain_mode == mode && !(mode & MODE_SINGLE) && chain_from->from->valid)
			tcache_chain(cpu->tc, chain_from, tb, (cpu->s.cr0 & CR0_PG) != 0);
		chain_from = NULL;
		sync_seg_bases(cpu);
		cpu->stats.blocks_run++;
		last_fault.kind = FAULT_NONE;
		uint64_t deliveries = cpu->deliveries;
		btvm_enter(cpu, tb->host);

		if (last_fault.kind != FAULT_NONE) {
			enum fault_kind k = last_fault.kind;
			last_fault.kind = FAULT_NONE;
			bool completed = deliver_host_fault(cpu, t, k);
			/* An event it raised ends the instruction too; an
			 * attention or a retranslation ran nothing of it. */
			if (debug_single)
				debug_after_single(cpu, completed || cpu->deliveries != deliveries ||
							cpu->fatal);
			if (!completed)
				continue;
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
					/* Nothing ran: no trap for TF either. */
					dbg->event = DEBUG_EVENT_BREAK;
					cpu->stop = true;
					continue;
				}
				if (ex->kind == EXIT_KIND_STALE) {
					/* Its guest bytes changed under it: retranslate. */
					cpu->tc->stats.selfcheck_stale++;
					const struct tblock *from = ex->from;
					tcache_invalidate_page(cpu->tc, &cpu->ibl_table, from->pages[0]);
					if (from->pages[1] != from->pages[0])
						tcache_invalidate_page(cpu->tc, &cpu->ibl_table, from->pages[1]);
					continue;
				}
				cpu->stats.exits[EXIT_BRANCH]++;
				if (ex->kind == EXIT_KIND_BRANCH) {
					chain_from = (struct exit_desc *)ex;
					chain_mode = ex->from->mode;
				}
			}
		}
		if (debug_single)
			debug_after_single(cpu, true);
		/* EFLAGS.TF at the start of the instruction: a trap after it,
		 * unless it ended in an exception or interrupt of its own. */
		if (stepping && cpu->deliveries == deliveries && !cpu->fatal) {
			cpu->s.dr[6] |= DR6_BS;
			cpu->stats.single_steps++;
			chain_from = NULL;
			cpu_deliver(cpu, EXC_DB, false, 0, false);
		}
	}
	current_cpu = NULL;
}
