/* The vCPU's part of a snapshot (cpu_snapshot.c): section "CPU ". */
#ifndef BTVM_CPU_CPU_SNAPSHOT_H
#define BTVM_CPU_CPU_SNAPSHOT_H

#include "cpu/cpu.h"

struct snap_writer;
struct snap_reader;

/* On the vCPU thread at an instruction boundary (outside translated
 * code): the registers, x87/SSE, HLT and the interrupt shadow. */
void cpu_save(struct cpu *cpu, struct snap_writer *w);
/* Takes the state of a section "CPU " and drops everything derived from
 * the old one (translations, shadow windows, the lookup table), so the
 * next cpu_run starts from the loaded state. 0 or the reader's error. */
int cpu_load(struct cpu *cpu, struct snap_reader *r);

#endif
