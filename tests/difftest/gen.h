/* Random sequence generator (see gen.c). */
#ifndef DT_GEN_H
#define DT_GEN_H

#include <stdio.h>

#include "dt_host.h"

/* Builds the instruction templates for these options (once). Returns the
 * number of distinct mnemonics available, or -1. */
int dt_gen_init(const struct dt_opts *o);
/* Sequence number index of the stream seed: the same (seed, index) always
 * gives the same sequence, whatever the count. */
void dt_gen_seq(const struct dt_opts *o, uint64_t seed, uint32_t index, struct dt_seq *s);
/* The mnemonics by class. */
void dt_gen_list(FILE *f);
/* Debug statistics (templates per class, rejections) to stderr. */
void dt_gen_stats(void);

#endif
