/* What --explain and --trap-and-emulate learn while the guest runs: how
 * often each sensitive instruction executed at CPL 0 and CPL 3 and where
 * first, and (trap-and-emulate) each place where a deprivileged guest
 * kernel saw something other than a real CPU would have shown it. Owned
 * by the vCPU (struct cpu's explain, NULL when both are off); the board
 * prints and exports it. */
#ifndef BTVM_CPU_EXPLAIN_H
#define BTVM_CPU_EXPLAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "isa/sensitive.h"

/* One more than the table's rows, so the privileged forms of MOV (control
 * and debug registers) count apart from its segment forms. */
#define EXPLAIN_MAX_ROWS 128
#define EXPLAIN_MAX_NOTES 64
#define EXPLAIN_NOTE_LEN 120

struct explain_count {
	uint64_t cpl0, cpl3;       /* CPL 1 and 2 count as 3 */
	uint32_t first_eip;
	bool seen;
};

/* One place (instruction and EIP) where the deprivileged view differed. */
struct explain_note {
	const struct sensitive_insn *sens;
	uint32_t eip;
	uint64_t count;
	char what[EXPLAIN_NOTE_LEN];   /* the first time's difference */
};

struct explain {
	struct explain_count counts[EXPLAIN_MAX_ROWS][2];   /* [row][privileged form] */
	struct explain_note notes[EXPLAIN_MAX_NOTES];
	unsigned nnotes;
	uint64_t notes_total;       /* every difference, listed or not */
	uint64_t notes_unlisted;    /* at places past the list's size */
};

struct explain *explain_new(void);
void explain_free(struct explain *e);
void explain_count(struct explain *e, const struct sensitive_insn *s, bool privileged_form,
		   unsigned cpl, uint32_t eip);
/* Records that the deprivileged guest saw something else than a real CPU
 * would show at this CPL 0 instruction (fmt says what); one entry per
 * place, formatted only the first time. */
void explain_note(struct explain *e, const struct sensitive_insn *s, uint32_t eip, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));

/* Adds e's counts and notes to sum (the machine's total from each
 * vCPU's): counts add up, a row's first EIP is the first record's to
 * have seen it (the vCPUs' executions are not ordered against each
 * other), notes of one place merge. */
void explain_add(struct explain *sum, const struct explain *e);

/* The class as the --explain table and its JSON name it. */
const char *explain_class_name(const struct sensitive_insn *s, bool privileged_form);

#endif
