/* Shared by the files of the run loop (run.c), its host faults
 * (host_fault.c) and its traced writes and MMIO (trace_mmio.c), and by
 * cpu.c, which installs the fault handler. */
#ifndef BTVM_CPU_RUN_INTERNAL_H
#define BTVM_CPU_RUN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "mmu/shadow.h"

struct tblock;
struct translator;

/* run.c */
/* Where the instruction at linear address linear (cpu_code_linear of its
 * EIP) is in guest physical memory; false after raising the #PF its fetch
 * takes. */
bool cpu_fetch_address(struct cpu *cpu, uint32_t linear, uint64_t *gpa);
/* The block at EIP eip (in CS) for mode, translated if need be. NULL when the fetch
 * faulted (the #PF is delivered, EIP moved) or the guest cannot go on
 * (cpu->fatal). */
struct tblock *cpu_get_block(struct cpu *cpu, struct translator *t, uint32_t eip,
			     uint32_t mode);

/* A trace's translation along path (n EIPs): translate_trace's result. */
int cpu_translate_trace(struct cpu *cpu, struct translator *t, uint32_t eip, uint64_t gpa,
			uint32_t mode, const uint32_t *path, unsigned n, struct tblock **out);

/* trace_build.c: hot traces (--traces) */
/* The run loop is about to chain exit from to tb: true when it must not,
 * because tb is a trace head still being counted (each arrival must come
 * back to the run loop), or a path is being recorded. */
bool cpu_trace_head(struct cpu *cpu, const struct exit_desc *from, struct tblock *tb);
/* A recording: tb is about to run. Its exits are unchained, so that it
 * comes back to say where it went; a block off the path ends the
 * recording, and the trace is built. */
void cpu_trace_enter(struct cpu *cpu, struct translator *t, struct tblock *tb);
/* A recording: the block entered left by the branch exit ex. */
void cpu_trace_exit(struct cpu *cpu, struct translator *t, const struct exit_desc *ex);

/* host_fault.c */
/* Installs the process's handlers for SIGSEGV, SIGBUS, SIGFPE and SIGILL;
 * 0 or -errno. */
int cpu_install_fault_handlers(void);
/* Makes cpu the one whose translated code this thread runs (NULL: none). */
void cpu_bind_thread(struct cpu *cpu);
/* The vCPU bound to the calling thread now, or NULL (async-signal-safe:
 * the profile's sampler asks it which vCPU its sample is for). */
struct cpu *cpu_thread_bound(void);
/* Turns a host fault into its guest event; true only when it was a write
 * to a code page that then completed (single-stepping must trap after it). */
bool cpu_deliver_host_fault(struct cpu *cpu, struct translator *t, enum host_fault_kind k);

/* wrap_fault.c */
/* Whether an access of the instruction at EIP (registers as of its start)
 * runs past the top of the 4 GiB linear space: then *vector is the
 * fault its segment's limit raises (EXC_SS through SS, else EXC_GP) and
 * *start the linear address the first such access begins at. */
bool cpu_wrap_fault(struct cpu *cpu, unsigned *vector, uint32_t *start);

/* trace_mmio.c */
/* A guest write to a traced page (cpu->fault): runs the writer alone with
 * the page writable and drops what it changed. True when it completed. */
bool cpu_handle_trace(struct cpu *cpu, struct translator *t);
/* An access to guest physical memory without RAM: its instruction is
 * retranslated to go through the memory callouts. */
void cpu_handle_mmio(struct cpu *cpu);
/* An access to a temporary mapping slot the shadow leaves unmapped: its
 * instruction goes through the callouts (or the slot is mapped for one
 * that cannot). True as
 * cpu_handle_trace's, when the access was a traced write that completed. */
bool cpu_handle_slot(struct cpu *cpu, struct translator *t);
/* An access at CPL 3 to a churned user page (FAULT_CHURN): its
 * instruction goes through the callouts the first time, or the page is
 * mapped (or its #PF delivered) as ever. True as cpu_handle_slot's. */
bool cpu_handle_churn(struct cpu *cpu, struct translator *t);
/* A ring-3 #PF on a page that was not present (cpu->fault), about to be
 * delivered: an instruction that keeps taking them (a loop touching
 * fresh pages one after the other) goes through the callouts from its
 * next run, whose #PF costs no host signal and whose page no mapping. */
void cpu_count_fresh_fault(struct cpu *cpu);
/* A LOCKed access across a cache line found other vCPUs running
 * (FAULT_SPLIT_LOCK): its instruction runs alone. True when it completed. */
bool cpu_handle_split_lock(struct cpu *cpu, struct translator *t);
/* host_fault.c: the run loop's name for what the shadow made of a fault. */
enum host_fault_kind cpu_fault_kind(enum shadow_fault_kind k);

#endif
