/* The indirect-branch lookup table's storage and upkeep (see ibl.h). */
#include "cache/ibl.h"

#include <errno.h>
#include <stdlib.h>

int ibl_init(struct ibl_table *t)
{
	t->mix = __builtin_cpu_supports("bmi2");
	t->entries = malloc(IBL_ENTRIES * sizeof(*t->entries));
	if (!t->entries)
		return -ENOMEM;
	ibl_clear(t);
	return 0;
}

void ibl_destroy(struct ibl_table *t)
{
	free(t->entries);
	t->entries = NULL;
}

void ibl_clear(struct ibl_table *t)
{
	for (unsigned i = 0; i < IBL_ENTRIES; i++)
		t->entries[i].tag = ~0ULL;
}
