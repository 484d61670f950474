/* The indirect-branch lookup table's storage and upkeep (see ibl.h). */
#include "cache/ibl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ibl_init(struct ibl_table *t)
{
	t->mix = __builtin_cpu_supports("bmi2");
	t->slots = malloc(2 * IBL_ENTRIES * sizeof(*t->slots));
	t->gpas = malloc(IBL_ENTRIES * sizeof(*t->gpas));
	if (!t->slots || !t->gpas) {
		ibl_destroy(t);
		return -ENOMEM;
	}
	ibl_clear(t);
	return 0;
}

void ibl_destroy(struct ibl_table *t)
{
	free(t->slots);
	free(t->gpas);
	t->slots = NULL;
	t->gpas = NULL;
}

void ibl_clear(struct ibl_table *t)
{
	memset(t->slots, 0, IBL_ENTRIES * sizeof(*t->slots));   /* the tags: empty */
}
