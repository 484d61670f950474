/* The shadow's set of adaptive instructions (shadow.h): code addresses
 * (memfd offsets, cpu/run.c) of instructions that met a page table or device memory and
 * are translated with their memory operand through callouts, each with
 * its run of ordinary accesses toward release and its release level. An
 * open-addressed table in struct shadow, emptied when half full. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mmu/shadow.h"

/* Most instructions marked for a table write are the kernel's general
 * stores (memset, list and page-structure updates) that met a page table
 * once or a few times and ordinary RAM millions of times after (a Debian
 * boot: 13 million adaptive accesses, a few thousand of them to tables),
 * each paying two callouts. A run of ADAPTIVE_RUN << level ordinary
 * accesses releases one; marked again (after more trace faults), its
 * level rises, so one that keeps meeting tables stays adaptive longer. */
#define ADAPTIVE_RUN 64u
#define ADAPTIVE_RELEASED 0x80u
#define ADAPTIVE_LEVEL_MAX 20u

/* Below 4 GiB of memfd the hash the 32-bit keys had. */
static uint32_t adaptive_hash(uint64_t insn_gpa)
{
	return ((uint32_t)insn_gpa ^ (uint32_t)(insn_gpa >> 32)) * 0x9e3779b1u;
}

static bool adaptive_slot(const struct shadow *sh, uint64_t insn_gpa, uint32_t *slot)
{
	uint64_t key = insn_gpa + 1;
	for (uint32_t i = adaptive_hash(insn_gpa) & sh->adaptive_mask;; i = (i + 1) & sh->adaptive_mask) {
		if (sh->adaptive[i] == key) {
			*slot = i;
			return true;
		}
		if (!sh->adaptive[i])
			return false;
	}
}

bool shadow_is_adaptive(const struct shadow *sh, uint64_t insn_gpa)
{
	uint32_t i;
	return adaptive_slot(sh, insn_gpa, &i) && !(sh->adaptive_state[i] & ADAPTIVE_RELEASED);
}

bool shadow_adaptive_known(const struct shadow *sh, uint64_t insn_gpa)
{
	uint32_t i;
	return adaptive_slot(sh, insn_gpa, &i);
}

void shadow_forget_adaptive(struct shadow *sh)
{
	memset(sh->adaptive, 0, (sh->adaptive_mask + 1) * sizeof(*sh->adaptive));
	memset(sh->adaptive_plain, 0, (sh->adaptive_mask + 1) * sizeof(uint32_t));
	memset(sh->adaptive_state, 0, sh->adaptive_mask + 1);
	sh->adaptive_count = 0;
}

void shadow_mark_adaptive(struct shadow *sh, uint64_t insn_gpa)
{
	uint32_t i;
	if (adaptive_slot(sh, insn_gpa, &i)) {
		if (sh->adaptive_state[i] & ADAPTIVE_RELEASED) {
			uint8_t level = sh->adaptive_state[i] & ~ADAPTIVE_RELEASED;
			sh->adaptive_state[i] = level < ADAPTIVE_LEVEL_MAX ? level + 1 : level;
			sh->adaptive_plain[i] = 0;
			sh->stats.adaptive_insns++;
		}
		return;
	}
	if (sh->adaptive_count * 2 >= sh->adaptive_mask) {
		/* Full: start over rather than refuse. Translations made
		 * adaptive stay so; a forgotten instruction that reaches
		 * MMIO again is simply marked again. */
		shadow_forget_adaptive(sh);
		sh->stats.adaptive_forgotten++;
	}
	i = adaptive_hash(insn_gpa) & sh->adaptive_mask;
	while (sh->adaptive[i])
		i = (i + 1) & sh->adaptive_mask;
	sh->adaptive[i] = insn_gpa + 1;
	sh->adaptive_plain[i] = 0;
	sh->adaptive_state[i] = 0;
	sh->adaptive_count++;
	sh->stats.adaptive_insns++;
}

bool shadow_adaptive_plain(struct shadow *sh, uint64_t insn_gpa)
{
	uint32_t i;
	if (!adaptive_slot(sh, insn_gpa, &i) || (sh->adaptive_state[i] & ADAPTIVE_RELEASED))
		return false;
	if (++sh->adaptive_plain[i] < ADAPTIVE_RUN << sh->adaptive_state[i])
		return false;
	sh->adaptive_state[i] |= ADAPTIVE_RELEASED;
	sh->stats.adaptive_released++;
	return true;
}

void shadow_adaptive_needed(struct shadow *sh, uint64_t insn_gpa)
{
	uint32_t i;
	if (adaptive_slot(sh, insn_gpa, &i))
		sh->adaptive_plain[i] = 0;
}
