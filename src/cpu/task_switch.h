/* Hardware task switching (task_switch.c): the switch itself and the
 * checks of the TSS a CALL, JMP, IRET or event switches to. */
#ifndef BTVM_CPU_TASK_SWITCH_H
#define BTVM_CPU_TASK_SWITCH_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"

/* What started a switch: the busy bits, the back link and NT follow it. */
enum task_switch_kind {
	TASK_SWITCH_CALL,    /* far CALL to a TSS or task gate: nests */
	TASK_SWITCH_JMP,     /* far JMP: does not nest */
	TASK_SWITCH_IRET,    /* IRET with NT: back along the link */
	TASK_SWITCH_EVENT,   /* interrupt or exception through a task gate: nests */
};

/* The TSS descriptor tss_sel names in the GDT, as a switch target: a
 * TSS of 16 or 32 bits, available (busy for IRET), present. Returns 0 with the
 * descriptor in *lo, *hi, or bad_vector (#GP, or #TS for IRET) for a
 * selector in the LDT, past the GDT or of another type, #NP when not
 * present; *error is then tss_sel's index | ext. */
unsigned task_target(struct cpu *cpu, uint16_t tss_sel, bool busy, unsigned bad_vector,
		     uint32_t ext, uint32_t *lo, uint32_t *hi, uint32_t *error);

/* Switches from the current task to the checked target (task_target):
 * saves the old task's state with EIP old_eip, loads the new one. Returns
 * 0, or the fault with its error code in *error; cpu->task_switched then
 * says whether it came after the commit point (the new task's state
 * loaded, the fault belongs to it) or before (nothing changed). ext is
 * the EXT bit of its error codes. */
unsigned cpu_task_switch(struct cpu *cpu, uint16_t sel, uint32_t lo, uint32_t hi,
			 enum task_switch_kind kind, uint32_t old_eip, uint32_t ext,
			 uint32_t *error);

/* An event through a task gate of the IDT whose selector is tss_sel:
 * the switch, then its error code pushed on the new task's stack. As
 * deliver_once in exception.c: 0 or the fault with *fault_error. */
unsigned task_gate_event(struct cpu *cpu, uint16_t tss_sel, bool has_error, uint32_t error,
			 uint32_t ext, uint32_t *fault_error);

#endif
