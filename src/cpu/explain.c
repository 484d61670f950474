/* Counting sensitive instructions as they execute (--explain) and the
 * differences a trap-and-emulate monitor would have let through. */
#include "cpu/explain.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

_Static_assert(EXPLAIN_MAX_ROWS >= 80, "the sensitive table grew: raise EXPLAIN_MAX_ROWS");

struct explain *explain_new(void)
{
	return calloc(1, sizeof(struct explain));
}

void explain_free(struct explain *e)
{
	free(e);
}

void explain_count(struct explain *e, const struct sensitive_insn *s, bool privileged_form,
		   unsigned cpl, uint32_t eip)
{
	unsigned row = sensitive_table_index(s);
	if (row >= EXPLAIN_MAX_ROWS)
		return;
	struct explain_count *c = &e->counts[row][privileged_form];
	if (!c->seen) {
		c->seen = true;
		c->first_eip = eip;
	}
	if (cpl == 0)
		c->cpl0++;
	else
		c->cpl3++;
}

void explain_note(struct explain *e, const struct sensitive_insn *s, uint32_t eip, const char *fmt,
		  ...)
{
	e->notes_total++;
	for (unsigned i = 0; i < e->nnotes; i++) {
		if (e->notes[i].sens == s && e->notes[i].eip == eip) {
			e->notes[i].count++;
			return;
		}
	}
	if (e->nnotes == EXPLAIN_MAX_NOTES) {
		e->notes_unlisted++;
		return;
	}
	struct explain_note *n = &e->notes[e->nnotes++];
	n->sens = s;
	n->eip = eip;
	n->count = 1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->what, sizeof(n->what), fmt, ap);
	va_end(ap);
}

void explain_add(struct explain *sum, const struct explain *e)
{
	for (unsigned row = 0; row < EXPLAIN_MAX_ROWS; row++) {
		for (unsigned form = 0; form < 2; form++) {
			struct explain_count *to = &sum->counts[row][form];
			const struct explain_count *from = &e->counts[row][form];
			if (!from->seen)
				continue;
			if (!to->seen) {
				to->seen = true;
				to->first_eip = from->first_eip;
			}
			to->cpl0 += from->cpl0;
			to->cpl3 += from->cpl3;
		}
	}
	sum->notes_total += e->notes_total;
	sum->notes_unlisted += e->notes_unlisted;
	for (unsigned i = 0; i < e->nnotes; i++) {
		const struct explain_note *n = &e->notes[i];
		unsigned j = 0;
		while (j < sum->nnotes && (sum->notes[j].sens != n->sens || sum->notes[j].eip != n->eip))
			j++;
		if (j < sum->nnotes)
			sum->notes[j].count += n->count;
		else if (sum->nnotes < EXPLAIN_MAX_NOTES)
			sum->notes[sum->nnotes++] = *n;
		else
			sum->notes_unlisted += n->count;
	}
}

const char *explain_class_name(const struct sensitive_insn *s, bool privileged_form)
{
	switch (s->cls) {
	case SENS_PRIVILEGED:
		/* MOV's row covers its segment forms too, which do not trap. */
		return s->operands == OPS_SPECIAL_REG && !privileged_form ? "sensitive-unprivileged"
									   : "privileged";
	case SENS_IOPL:
		return "privileged";   /* a deprivileged kernel runs with CPL > IOPL */
	case SENS_UNPRIVILEGED:
		return "sensitive-unprivileged";
	case SENS_MONITOR:
		break;
	}
	return "monitor";
}
