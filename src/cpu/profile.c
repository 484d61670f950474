/* The sampling profile of translated blocks (profile.h). */
#define _GNU_SOURCE   /* REG_RIP */
#include "cpu/profile.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "cpu/run_internal.h"
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
	/* The thread's time is the vCPU's it runs now: while vCPUs take
	 * turns on one thread, the one whose turn it is; between two runs
	 * the timer's owner's (the thread's monitor work). */
	struct cpu *cpu = cpu_thread_bound();
	if (!cpu || !cpu->profile)
		cpu = si->si_value.sival_ptr;
	struct profile *p = cpu->profile;
	if (!p)
		return;
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
	s->generation = cpu->tc->generation;
	__atomic_store_n(&p->head, head + 1, __ATOMIC_RELEASE);
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec now;
	clock_gettime(clock, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

int profile_start(struct cpu *cpu, unsigned top)
{
	struct profile *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->top = top;
	p->start_wall_ns = now_ns(CLOCK_MONOTONIC);
	cpu->profile = p;
	return 0;
}

int profile_start_thread(struct cpu *cpu)
{
	struct profile *p = cpu->profile;
	assert(p && !p->timer_ready);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_prof;
	sa.sa_flags = SA_RESTART | SA_SIGINFO;
	host_handler_mask(&sa.sa_mask);
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev.sigev_value.sival_ptr = cpu;
	sev._sigev_un._tid = (pid_t)gettid();
	/* The calling thread's CPU time: its vCPUs' work, not their sleeps;
	 * and its signal to this thread, where the vCPU it samples runs
	 * (the monitor's other threads block SIGPROF: host/thread.h). */
	if (sigaction(SIGPROF, &sa, NULL) < 0 ||
	    timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &p->timer) < 0)
		return -errno;
	p->timer_ready = 1;
	struct itimerspec its = { { 0, 1000000000L / PROFILE_HZ }, { 0, 1000000000L / PROFILE_HZ } };
	timer_settime(p->timer, 0, &its, NULL);
	return 0;
}

void profile_stop(struct cpu *cpu)
{
	struct profile *p = cpu->profile;
	if (!p)
		return;
	if (p->timer_ready) {
		timer_delete(p->timer);
		/* A signal already queued must not find the record gone. */
		signal(SIGPROF, SIG_IGN);
	}
	free(p);
	cpu->profile = NULL;
}

uint64_t profile_phase_ms(const struct cpu *cpu, enum cpu_phase phase)
{
	struct profile *p = cpu->profile;   /* the high-water mark below */
	if (!p)
		return 0;
	if (phase < PHASE_COUNT)
		return p->phase_samples[phase] * 1000u / PROFILE_HZ;
	/* Idle: what the vCPU did not run of the wall time. Its samples say
	 * what it ran, where a thread's clock would not: vCPUs taking turns
	 * share one. */
	uint64_t ran = 0;
	for (unsigned i = 0; i < PHASE_COUNT; i++)
		ran += p->phase_samples[i];
	uint64_t ran_ms = ran * 1000u / PROFILE_HZ;
	uint64_t wall_ms = (now_ns(CLOCK_MONOTONIC) - p->start_wall_ns) / 1000000u;
	uint64_t idle = wall_ms > ran_ms ? wall_ms - ran_ms : 0;
	/* Samples come in lumps (one signal may stand for several periods),
	 * so wall time less them can step back a few ms: a counter never
	 * goes down, so idle is never less than it was (readers may be on
	 * several threads: the statistics', the monitor's). */
	uint64_t prev = __atomic_load_n(&p->idle_high_ms, __ATOMIC_RELAXED);
	while (idle > prev && !__atomic_compare_exchange_n(&p->idle_high_ms, &prev, idle, false,
							   __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	return idle > prev ? idle : prev;
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
		if (s->generation != cpu->tc->generation) {
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

/* A block of the machine's report: its samples on every vCPU. */
struct hot_block {
	uint32_t eip, mode;
	uint64_t samples;
	const struct tblock *tb;   /* its translation, if still current */
	uint64_t *per_vcpu;        /* n of them */
};

static int by_hot_samples(const void *a, const void *b)
{
	const struct hot_block *x = a, *y = b;
	return x->samples < y->samples ? 1 : x->samples > y->samples ? -1 : 0;
}

/* The vCPUs' blocks merged by key (the cache is theirs in common).
 * NULL if out of memory; *count the blocks. */
static struct hot_block *merge_blocks(struct cpu *const *cpus, unsigned n, unsigned *count,
				      uint64_t **per_store)
{
	unsigned max = 0;
	for (unsigned i = 0; i < n; i++)
		max += cpus[i]->profile->nblocks;
	struct hot_block *hot = calloc(max ? max : 1, sizeof(*hot));
	uint64_t *per = calloc((size_t)(max ? max : 1) * n, sizeof(*per));
	*count = 0;
	*per_store = per;
	if (!hot || !per) {
		free(hot);
		free(per);
		*per_store = NULL;
		return NULL;
	}
	uint64_t flushes = cpus[0]->tc->generation;
	for (unsigned i = 0; i < n; i++) {
		const struct profile *p = cpus[i]->profile;
		for (unsigned k = 0; k < p->nblocks; k++) {
			const struct profile_block *b = &p->blocks[k];
			unsigned j = 0;
			while (j < *count && (hot[j].eip != b->eip || hot[j].mode != b->mode))
				j++;
			if (j == *count) {
				hot[j] = (struct hot_block){ b->eip, b->mode, 0, NULL, per + (size_t)j * n };
				(*count)++;
			}
			hot[j].samples += b->samples;
			hot[j].per_vcpu[i] += b->samples;
			if (b->generation == flushes && b->tb->valid)
				hot[j].tb = b->tb;
		}
	}
	qsort(hot, *count, sizeof(*hot), by_hot_samples);
	return hot;
}

static void print_block(const struct cpu *cpu, const struct hot_block *b, unsigned rank,
			uint64_t total, unsigned n, FILE *out)
{
	const struct tblock *tb = b->tb;
	double pct = total ? 100.0 * (double)b->samples / (double)total : 0;
	fprintf(out, "#%u: %llu samples (%.1f%%), guest %08x mode %x", rank,
		(unsigned long long)b->samples, pct, b->eip, b->mode);
	if (!tb) {
		fprintf(out, ": its translation was dropped since\n");
	} else {
		/* A trace's guest bytes are its span, its head at the guest EIP. */
		fprintf(out, ", %s%u instructions, %u guest bytes -> %u host bytes (expansion %.1fx)\n",
			tb->trace ? "a trace of " : "", tb->ninsns, tb->guest_len, tb->code_len,
			tb->guest_len ? (double)tb->code_len / tb->guest_len : 0.0);
	}
	if (n > 1) {
		fprintf(out, "  samples by vCPU:");
		for (unsigned i = 0; i < n; i++)
			fprintf(out, " %llu", (unsigned long long)b->per_vcpu[i]);
		fputc('\n', out);
	}
	if (!tb)
		return;
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

/* One summary line: what, then where the samples went. */
static void print_split(FILE *out, const char *what, uint64_t total, uint64_t in_monitor,
			uint64_t flushed, uint64_t unkept, uint64_t overrun)
{
	uint64_t in_blocks = total - in_monitor - flushed - unkept, lost = unkept + overrun;
	fprintf(out, "btvm profile: %llu samples of %s: %llu in translated code, %llu in the monitor "
		     "(callouts, translation, faults), %llu in blocks flushed since, %llu lost\n",
		(unsigned long long)total, what, (unsigned long long)in_blocks,
		(unsigned long long)in_monitor, (unsigned long long)flushed,
		(unsigned long long)lost);
}

void profile_print(struct cpu *const *cpus, unsigned n, FILE *out)
{
	if (!n || !cpus[0]->profile || !cpus[0]->profile->top)
		return;
	uint64_t total = 0, in_monitor = 0, flushed = 0, unkept = 0, overrun = 0;
	char what[96];
	for (unsigned i = 0; i < n; i++) {
		profile_drain(cpus[i]);
		const struct profile *p = cpus[i]->profile;
		total += p->total;
		in_monitor += p->in_monitor;
		flushed += p->flushed;
		unkept += p->unkept;
		overrun += p->overrun;
	}
	for (unsigned i = 0; n > 1 && i < n; i++) {
		const struct profile *p = cpus[i]->profile;
		snprintf(what, sizeof(what), "vCPU %u's CPU time", i);
		print_split(out, what, p->total, p->in_monitor, p->flushed, p->unkept, p->overrun);
	}
	if (n > 1)
		snprintf(what, sizeof(what), "the %u vCPUs' CPU time (%d a second)", n, PROFILE_HZ);
	else
		snprintf(what, sizeof(what), "the vCPU thread's CPU time (%d a second)", PROFILE_HZ);
	print_split(out, what, total, in_monitor, flushed, unkept, overrun);
	uint64_t *per;
	unsigned count;
	struct hot_block *hot = merge_blocks(cpus, n, &count, &per);
	if (!hot) {
		fprintf(out, "btvm profile: out of memory for the hottest blocks\n");
		return;
	}
	unsigned top = cpus[0]->profile->top;
	unsigned shown = count < top ? count : top;
	fprintf(out, "btvm profile: the %u hottest blocks\n", shown);
	for (unsigned i = 0; i < shown; i++)
		print_block(cpus[0], &hot[i], i + 1, total, n, out);
	free(per);
	free(hot);
}
