/* Shadow paging: the windows' host mappings kept in step with the guest's
 * page tables. */
#ifndef BTVM_MMU_SHADOW_H
#define BTVM_MMU_SHADOW_H

#include <stdint.h>

struct cpu;

/* The monitor is about to write [gpa, gpa+len) of RAM through its own
 * mapping: translations of those pages are dropped. */
void shadow_note_write(struct cpu *cpu, uint32_t gpa, unsigned len);
/* It has written them: shadow entries derived from page-table entries
 * there are brought up to date. */
void shadow_after_write(struct cpu *cpu, uint32_t gpa, unsigned len);

#endif
