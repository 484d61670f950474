/* Comparing native and guest results of a sequence (see compare.c). */
#ifndef DT_COMPARE_H
#define DT_COMPARE_H

#include <stdio.h>

#include "analyze.h"

/* Fields of the state image, as bits of a difference set. */
enum {
	DT_D_GPR = 0,        /* 8 bits: eax..edi */
	DT_D_EFLAGS = 8,
	DT_D_EXC = 9,        /* vector, error code or faulting instruction */
	DT_D_FCW = 10,
	DT_D_FSW = 11,
	DT_D_FTW = 12,
	DT_D_FPTR = 13,      /* FOP/FIP/FCS/FDP/FDS (only with --fpu-ptr) */
	DT_D_MXCSR = 14,
	DT_D_ST = 15,        /* 8 bits: the physical x87 register slots */
	DT_D_XMM = 23,       /* 8 bits */
	DT_D_DATA = 31,
	DT_D_LOW = 32,
	DT_D_DIED = 33,      /* the guest did not report this sequence */
};

#define DT_D_BIT(b) (1ull << (b))

/* Applies "off:hex off:hex ..." (a runner's result line after the id) to
 * an image that holds the initial state. Returns 0 or -1. */
int dt_apply_result(uint8_t *img, const char *entries);

/* The set of fields in which two final images differ, with the masks the
 * analysis gives (undefined flags and condition codes at the point where
 * the native run stopped, implementation-specific FXSAVE fields). */
uint64_t dt_compare(const struct dt_seq *s, const struct dt_analysis *a, const uint8_t *native,
		    const uint8_t *guest, const struct dt_opts *o);

/* "eax,eflags,exc,..." */
const char *dt_field_names(uint64_t d, char *buf, size_t len);

/* Disassembly, one instruction a line, with unit boundaries and setup
 * moves marked. */
void dt_print_seq(FILE *f, const struct dt_seq *s, const char *indent);

/* The initial registers, then each differing field: expected (native)
 * against got (guest). */
void dt_describe(FILE *f, const struct dt_seq *s, const struct dt_analysis *a, const uint8_t *init,
		 const uint8_t *native, const uint8_t *guest, uint64_t d, const char *guest_name,
		 const char *indent);

/* The instruction index at which a run stopped (a->n when it ran to the
 * end). */
unsigned dt_stop_index(const struct dt_analysis *a, const uint8_t *img);

#endif
