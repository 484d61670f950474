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
