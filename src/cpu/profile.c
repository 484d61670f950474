/* The sampling profile of translated blocks (profile.h). */
#define _GNU_SOURCE   /* REG_RIP */
#include "cpu/profile.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "host/thread.h"
#include "mmu/guest_ram.h"
#include "mmu/shadow.h"
#include "mmu/window.h"
#include "translator/disasm.h"

static void on_prof(int sig, siginfo_t *si, void *uc_void)
{
	(void)sig;
	/* Only the timer's own signal names its vCPU; any other SIGPROF
	 * (kill) carries none and is ignored. */
	if (si->si_code != SI_TIMER || !si->si_value.sival_ptr)
		return;
	struct cpu *cpu = si->si_value.sival_ptr;
	struct profile *p = cpu->profile;
	ucontext_t *uc = uc_void;
	uint32_t head = p->head;
	if (head - p->tail >= PROFILE_RING) {
		p->overrun++;
		return;
	}
	uint64_t pc = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	const uint8_t *code = cpu->tc->code;
	bool translated = pc >= (uintptr_t)code && pc < (uintptr_t)code + cpu->tc->code_size;
	/* The CPU clock's timers fire on scheduler ticks, which may be
	 * coarser than the period: the overrun says how many periods this
	 * one sample stands for. */
	unsigned weight = 1u + (si->si_overrun > 0 ? (unsigned)si->si_overrun : 0u);
	p->phase_samples[translated ? PHASE_TRANSLATED : cpu->phase] += weight;
	if (!p->top)
		return;   /* the split only */
	struct profile_sample *s = &p->ring[head % PROFILE_RING];
	s->pc = pc;
	s->weight = weight;
	s->generation = cpu->tc->stats.flushes;
	__atomic_store_n(&p->head, head + 1, __ATOMIC_RELEASE);
}

int profile_start(struct cpu *cpu, unsigned top)
{
	struct profile *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->top = top;
	cpu->profile = p;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_prof;
	sa.sa_flags = SA_RESTART | SA_SIGINFO;
	host_handler_mask(&sa.sa_mask);
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGPROF;
	sev.sigev_value.sival_ptr = cpu;
	/* The calling thread's CPU time: the vCPU's work, not its sleeps.
	 * The monitor's other threads block SIGPROF (host/thread.h). */
	if (sigaction(SIGPROF, &sa, NULL) < 0 ||
	    timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &p->timer) < 0) {
		int e = errno;
		free(p);
		cpu->profile = NULL;
		return -e;
	}
	p->timer_ready = 1;
	struct timespec now;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
	p->start_cpu_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	clock_gettime(CLOCK_MONOTONIC, &now);
	p->start_wall_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	struct itimerspec its = { { 0, 1000000000L / PROFILE_HZ }, { 0, 1000000000L / PROFILE_HZ } };
	timer_settime(p->timer, 0, &its, NULL);
	return 0;
}

void profile_stop(struct cpu *cpu)
{
	struct profile *p = cpu->profile;
	if (!p)
		return;
	if (p->timer_ready)
		timer_delete(p->timer);
	signal(SIGPROF, SIG_IGN);
	free(p);
	cpu->profile = NULL;
}

uint64_t profile_phase_ms(const struct cpu *cpu, enum cpu_phase phase)
{
	const struct profile *p = cpu->profile;
	if (!p)
		return 0;
	if (phase < PHASE_COUNT)
		return p->phase_samples[phase] * 1000u / PROFILE_HZ;
	/* Idle: what the thread did not run of the wall time. Read on the
	 * vCPU thread (the stats are), whose CPU clock this is. */
	struct timespec now;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
	uint64_t cpu_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec - p->start_cpu_ns;
	clock_gettime(CLOCK_MONOTONIC, &now);
	uint64_t wall_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec - p->start_wall_ns;
	return wall_ns > cpu_ns ? (wall_ns - cpu_ns) / 1000000u : 0;
}

static struct profile_block *block_entry(struct profile *p, const struct tblock *tb)
{
	for (unsigned i = 0; i < p->nblocks; i++)
		if (p->blocks[i].eip == tb->eip && p->blocks[i].mode == tb->mode)
			return &p->blocks[i];
	if (p->nblocks == PROFILE_BLOCKS)
		return NULL;
	struct profile_block *b = &p->blocks[p->nblocks++];
	b->eip = tb->eip;
	b->mode = tb->mode;
	return b;
}

void profile_drain(struct cpu *cpu)
{
	struct profile *p = cpu->profile;
	if (!p || !p->top)
		return;
	uint32_t head = __atomic_load_n(&p->head, __ATOMIC_ACQUIRE);
	for (; p->tail != head; p->tail++) {
		const struct profile_sample *s = &p->ring[p->tail % PROFILE_RING];
		p->total += s->weight;
		const uint8_t *pc = (const uint8_t *)(uintptr_t)s->pc;
		if (pc < cpu->tc->code || pc >= cpu->tc->code + cpu->tc->code_size) {
			p->in_monitor += s->weight;
			continue;
		}
		if (s->generation != cpu->tc->stats.flushes) {
			p->flushed += s->weight;   /* the block it ran in is gone */
			continue;
		}
		const struct tblock *tb = tcache_find_host(cpu->tc, pc);
		struct profile_block *b = tb ? block_entry(p, tb) : NULL;
		if (!b) {
			p->unkept += s->weight;
			continue;
		}
		b->samples += s->weight;
		b->tb = tb;
		b->generation = s->generation;
	}
}

static int by_samples(const void *a, const void *b)
{
	const struct profile_block *x = a, *y = b;
	return x->samples < y->samples ? 1 : x->samples > y->samples ? -1 : 0;
}

static const char *exit_kind_name(uint8_t kind)
{
	switch (kind) {
	case EXIT_KIND_BRANCH: return "branch";
	case EXIT_KIND_NOCHAIN: return "to the monitor (mode change)";
	case EXIT_KIND_STALE: return "stale-code check";
	case EXIT_KIND_BREAK: return "breakpoint";
	}
	return "?";
}

/* The guest bytes a block was translated from, as guest RAM holds them
 * now (both of its pages). False if they are not in RAM any more. */
static bool guest_bytes(const struct cpu *cpu, const struct tblock *tb, uint8_t *out)
{
	const struct guest_ram *ram = cpu->sh->ram;
	for (uint32_t i = 0; i < tb->guest_len; i++) {
		uint32_t off = (tb->gpa & (GUEST_PAGE_SIZE - 1)) + i;
		uint64_t gpa = off < GUEST_PAGE_SIZE
				       ? (uint64_t)tb->pages[0] * GUEST_PAGE_SIZE + off
				       : (uint64_t)tb->pages[1] * GUEST_PAGE_SIZE + off - GUEST_PAGE_SIZE;
		if (gpa >= ram->size)
			return false;
		out[i] = ram->host[gpa];
	}
	return true;
}

void profile_print(struct cpu *cpu, FILE *out)
{
	struct profile *p = cpu->profile;
	if (!p || !p->top)
		return;
	profile_drain(cpu);
	qsort(p->blocks, p->nblocks, sizeof(p->blocks[0]), by_samples);
	uint64_t in_blocks = p->total - p->in_monitor - p->flushed - p->unkept;
	fprintf(out, "btvm profile: %llu samples of the vCPU thread's CPU time (%d a second): "
		     "%llu in translated code, %llu in the monitor (callouts, translation, faults), "
		     "%llu in blocks flushed since, %llu lost\n",
		(unsigned long long)p->total, PROFILE_HZ, (unsigned long long)in_blocks,
		(unsigned long long)p->in_monitor, (unsigned long long)p->flushed,
		(unsigned long long)(p->unkept + p->overrun));
	unsigned n = p->nblocks < p->top ? p->nblocks : p->top;
	fprintf(out, "btvm profile: the %u hottest blocks\n", n);
	for (unsigned i = 0; i < n; i++) {
		const struct profile_block *b = &p->blocks[i];
		const struct tblock *tb = b->tb;
		double pct = p->total ? 100.0 * (double)b->samples / (double)p->total : 0;
		fprintf(out, "#%u: %llu samples (%.1f%%), guest %08x mode %x", i + 1,
			(unsigned long long)b->samples, pct, b->eip, b->mode);
		if (b->generation != cpu->tc->stats.flushes || !tb->valid) {
			fprintf(out, ": its translation was dropped since\n");
			continue;
		}
		fprintf(out, ", %u instructions, %u guest bytes -> %u host bytes (expansion %.1fx)\n",
			tb->ninsns, tb->guest_len, tb->code_len,
			tb->guest_len ? (double)tb->code_len / tb->guest_len : 0.0);
		unsigned nexits = 0;
		for (unsigned e = 0; e < TBLOCK_MAX_EXITS + 1; e++) {
			const struct exit_desc *x = &tb->exits[e];
			if (!x->stub)
				continue;
			nexits++;
			fprintf(out, "  exit %u: %s to %08x, %s\n", nexits, exit_kind_name(x->kind),
				x->target_eip, x->to ? "chained" : "through the monitor's lookup");
		}
		if (!nexits)
			fprintf(out, "  exits: an indirect branch or a transfer callout (the lookup table)\n");
		uint8_t bytes[64 * 15];
		if (tb->guest_len <= sizeof(bytes) && guest_bytes(cpu, tb, bytes))
			disasm_trace_block(out, tb, bytes);
	}
}
