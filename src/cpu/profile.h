/* --profile N: a sampling profile of where each vCPU spends its CPU
 * time, by translated block. A timer on a host thread's CPU clock sends
 * SIGPROF; the handler only stores the interrupted host PC (and which
 * generation of the translation cache it belongs to) in the ring of the
 * vCPU bound to the thread at that moment (the one running), which that
 * vCPU's run loop drains: a PC in the code buffer counts for its block,
 * any other for the monitor. At exit the N hottest blocks of the machine
 * are listed with their guest code and its translation (Capstone), the
 * expansion ratio and how each block exits, and with several vCPUs each
 * one's samples. The record is the vCPU's (struct cpu's profile); the
 * timer is its thread's: one per host thread that runs vCPUs, created on
 * it (profile_start_thread). */
#ifndef BTVM_CPU_PROFILE_H
#define BTVM_CPU_PROFILE_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct cpu;
struct tblock;

#define PROFILE_RING 4096u      /* samples between two drains, at most */
#define PROFILE_BLOCKS 4096u    /* distinct hot blocks kept */
#define PROFILE_HZ 1000         /* samples a second of vCPU thread CPU time */

struct profile_sample {
	uint64_t pc;
	uint64_t generation;    /* the cache's generation (flushes and evictions) when taken */
	unsigned weight;        /* periods it stands for (timer overruns) */
};

struct profile_block {
	uint32_t eip, mode;     /* the key: a block as the guest sees it */
	uint64_t samples;
	const struct tblock *tb;   /* its translation when last sampled */
	uint64_t generation;    /* ... in this generation of the cache */
};

/* What the vCPU thread is doing, for the host-time split of --stats
 * (struct cpu's phase; translated code is told by the sampled PC). */
enum cpu_phase {
	PHASE_MONITOR,     /* the run loop, devices polled, anything else */
	PHASE_TRANSLATE,   /* making a block */
	PHASE_CALLOUT,     /* a callout from translated code */
	PHASE_FAULT,       /* a host fault in translated code */
	PHASE_TRANSLATED,  /* (sampled PC in the code buffer) */
	PHASE_COUNT
};

struct profile {
	struct profile_sample ring[PROFILE_RING];
	volatile uint32_t head;     /* written by the signal handler only */
	uint32_t tail;              /* by the vCPU thread's drain only */
	uint64_t overrun;           /* samples the full ring could not take */
	struct profile_block blocks[PROFILE_BLOCKS];
	unsigned nblocks;
	uint64_t total, in_monitor, flushed, unkept;
	/* Samples by phase, counted in the handler: the host-time split. */
	volatile uint64_t phase_samples[PHASE_COUNT];
	uint64_t start_wall_ns;
	uint64_t idle_high_ms;      /* the most idle time reported yet */
	unsigned top;               /* how many to list */
	timer_t timer;              /* the sampler of the thread it started on */
	int timer_ready;
};

/* The vCPU's record, for the host-time split and, with top > 0, the top
 * hottest blocks (any thread). 0 or a negative errno. */
int profile_start(struct cpu *cpu, unsigned top);
/* Starts sampling the calling thread's CPU time, for the vCPUs it runs:
 * each sample goes to the vCPU bound to the thread when it is taken
 * (cpu_bind_thread), else to cpu (the thread's work between two runs).
 * Called once per host thread that runs vCPUs, on it: by the thread
 * that runs the board for the bootstrap processor (and, while vCPUs take
 * turns on it, for all of them), and by each vCPU's own thread where a
 * vCPU has one. cpu must have a record. 0 or a negative errno. */
int profile_start_thread(struct cpu *cpu);
/* Milliseconds of the vCPU's time in a phase (sampled; PHASE_COUNT:
 * idle, the wall time it did not run). 0 without a profile. */
uint64_t profile_phase_ms(const struct cpu *cpu, enum cpu_phase phase);
void profile_stop(struct cpu *cpu);
/* Moves the ring's samples into the per-block counts (the thread the
 * vCPU runs on, or any once every vCPU has stopped). */
void profile_drain(struct cpu *cpu);
/* The report of n vCPUs (their records drained first: at exit, every
 * vCPU stopped): the machine's figures and hottest blocks, and with
 * n > 1 each vCPU's. The vCPUs share one translation cache. */
void profile_print(struct cpu *const *cpus, unsigned n, FILE *out);

#endif
