/* The part of running a batch that the native runner and the guest runner
 * share: placing the code, loading and capturing state around each
 * sequence (through the assembly in runseq.S), and printing each result as
 * the difference between the initial and final state images. */
#ifndef DT_RUNNER_H
#define DT_RUNNER_H

#include <stdint.h>

#include "dt_abi.h"

/* What runseq.S loads before jumping to a sequence. Offsets are used by
 * the assembly: keep in step. */
struct dt_run {
	uint32_t gpr[8];   /* 0 */
	uint32_t eflags;   /* 32 */
	uint32_t fx;       /* 36: address of a 16-byte aligned FXRSTOR image */
	uint32_t fs;       /* 40: selectors for FS and GS */
	uint32_t gs;       /* 44 */
	uint32_t pad;      /* 48 */
	uint32_t entry;    /* 52: address, or offset in the 16-bit code segment */
	uint32_t ds;       /* 56: selector for DS and ES (16-bit code only) */
	uint32_t cs16;     /* 60: 16-bit code selector, or 0 for 32-bit code */
};

struct dt_env {
	void (*write)(const char *s, uint32_t n);
	uint16_t fs_sel;
	uint16_t gs_sel;
	/* 16-bit code: its selector, and a hook that gives that segment a
	 * new base (the runner calls it only when the base changes). */
	uint16_t code16_sel;
	int (*set_code16_base)(uint32_t base);
};

/* runseq.S */
int dt_run_seq(const struct dt_run *r);  /* 0: ran to the end; 1: faulted */
void dt_run_seq_fault(void);              /* where a fault handler resumes */
extern volatile uint32_t dt_in_seq;
extern uint8_t dt_fxout[512];             /* FXSAVE at the end of each run */
extern uint16_t dt_saved_gs, dt_saved_fs, dt_saved_cs;

/* Runs records start..count-1 of the batch and writes one line per record:
 *   R <id> [<offset>:<hex bytes>]...
 * listing the image bytes that differ from the initial image, between
 * "DT-BEGIN <count>" and "DT-END" lines. Returns 0, or -1 after writing a
 * "DT-ERROR" line for a malformed batch. */
int dt_run_batch(const struct dt_env *env, const uint8_t *batch, uint32_t len, uint32_t start);

#endif
