/* The vCPU's part of a snapshot (cpu_snapshot.c): section "CPU ". */
#ifndef BTVM_CPU_CPU_SNAPSHOT_H
#define BTVM_CPU_CPU_SNAPSHOT_H

#include "cpu/cpu.h"

struct snap_writer;
struct snap_reader;

/* On the vCPU thread at an instruction boundary (outside translated
 * code): the registers, x87/SSE, HLT and the interrupt shadow, as a
 * section named tag (the bootstrap processor's "CPU ", an application
 * processor's "CPUn": machine/board_snapshot.c). */
void cpu_save_as(struct cpu *cpu, const char *tag, struct snap_writer *w);
static inline void cpu_save(struct cpu *cpu, struct snap_writer *w)
{
	cpu_save_as(cpu, "CPU ", w);
}
/* Takes the state of a section "CPU " (or "CPUn") and drops everything derived from
 * the old one (translations, shadow windows, the lookup table), so the
 * next cpu_run starts from the loaded state. 0 or the reader's error. */
int cpu_load(struct cpu *cpu, struct snap_reader *r);

#endif
