/* The translator: decodes a guest block with Zydis (16- or 32-bit code),
 * classifies each instruction (IDENT, control flow, expanded, sensitive)
 * and emits host code into the translation cache. */
#ifndef BTVM_TRANSLATOR_TRANSLATE_H
#define BTVM_TRANSLATOR_TRANSLATE_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <Zydis/Zydis.h>

#include "translator/cpu_layout.h"

struct ibl_table;
struct shadow;
struct tblock;
struct tcache;

/* Mode bits of the translation key: whatever changes how a guest byte
 * sequence must be translated. */
#define MODE_DF 0x1u      /* EFLAGS.DF: string instructions step down */
#define MODE_FLAT 0x2u    /* protected mode, ES, CS, SS, DS bases all zero */
#define MODE_SINGLE 0x4u  /* one guest instruction per block */
#define MODE_CPL3 0x8u    /* CPL 3: user mode */
#define MODE_FPU_OFF 0x10u /* CR0.TS or CR0.EM: x87/MMX/SSE instructions trap */
/* The legacy bits (docs/DESIGN.md, "Real mode and 16-bit code"): code
 * with any of them set is keyed by its offset in CS, as all code is, but
 * never enters the indirect-branch table, whose tags have room for the
 * five bits above only (IBL_MODES): its indirect branches and returns go
 * through the miss door to the monitor's lookup. */
#define MODE_CODE16 0x20u  /* CS.D clear: 16-bit operands and addresses, IP */
#define MODE_STACK16 0x40u /* SS.B clear: the stack is SS:SP, wrapping at 64 KiB */
#define MODE_SEGCS 0x80u   /* CS.base is not 0: code at CS.base + EIP */
#define MODE_REAL 0x100u   /* CR0.PE clear, or v86 mode (with MODE_CPL3): segments are selector*16 */
/* A data or stack segment that has a limit below 4 GiB (real mode's and
 * v86 mode's 64 KiB too), is expand-down, or is a DS/ES loaded null
 * (protected mode): every memory access
 * goes through the monitor (as adaptive instructions do), which checks it
 * against the segment (cpu/seg_limits.c). */
#define MODE_LIMITS 0x200u
/* CS's limit is below 4 GiB (real and v86 mode's 64 KiB too): the
 * translation checks fetches and branch targets against it, so the limit
 * is part of the block's key (tblock.cs_limit, translate_env.cs_limit). */
#define MODE_CSLIMIT 0x400u
#define MODE_LEGACY (MODE_CODE16 | MODE_STACK16 | MODE_SEGCS | MODE_REAL | MODE_LIMITS | MODE_CSLIMIT)
/* Two settings each vCPU has of its own that change a translation: CR0.PG
 * clear (an exit to another page is chained as a jump, there being one
 * fixed mapping) and CR4.OSFXSR clear (SSE instructions are #UD
 * callouts). In the key, so that vCPUs whose settings differ (an AP
 * starting while the BSP runs Linux) never run each other's blocks. Not
 * in the lookup table's tags, which have room for the five bits above:
 * each vCPU's table holds blocks it looked up itself, and a change of
 * either setting flushes the cache and that vCPU's table at once
 * (cpu_paging_changed), so its entries all have its current setting. */
#define MODE_UNPAGED 0x800u
#define MODE_NO_OSFXSR 0x1000u

/* The mode's part of a lookup-table tag (IBL_MODES of them). */
static inline uint32_t mode_ibl_tag_index(uint32_t mode)
{
	return mode & (MODE_DF | MODE_FLAT | MODE_SINGLE | MODE_CPL3 | MODE_FPU_OFF);
}

/* Whether code of this mode probes and fills the indirect-branch table:
 * 32-bit code on a 32-bit stack at CS.base 0 in protected mode. */
static inline bool mode_uses_ibl(uint32_t mode)
{
	return !(mode & MODE_LEGACY);
}

/* What a callout descriptor holds: the instruction's bytes, re-decoded by
 * the monitor, and where it is. Lives in the code buffer after its block. */
struct callout_desc {
	uint32_t eip;
	uint32_t next_eip;
	/* Its code address (cpu/run.c), as the adaptive set keys it: a
	 * memfd offset of RAM, below 2^36 (GUEST_MEMFD_MAX), in gpa_low and
	 * gpa_high (callout_desc_gpa), which keeps a descriptor in 32 bytes. */
	uint32_t gpa_low;
	uint8_t len : 4;   /* at most 15 */
	uint8_t kind : 4;  /* CALLOUT_* */
	uint8_t bytes[15];
	/* CALLOUT_RESUMABLE: the block goes on after the instruction (STI,
	 * POPF, CLD, STD, OUT, INVLPG, loads of DS/ES/FS/GS, reads of
	 * segment, control and debug registers) unless the callout finds
	 * that the translation mode changed from mode, or that an interrupt
	 * became deliverable. */
	uint8_t flags;
	uint8_t hint : 4;  /* CALLOUT_MEM_STORE: its slot in cpu->store_hints */
	uint8_t gpa_high : 4;
	/* The block's mode, in every descriptor: the monitor decodes the
	 * bytes as 16- or 32-bit code by it (MODE_CODE16, MODE_STACK16). */
	uint16_t mode;
};
_Static_assert(sizeof(struct callout_desc) == 32, "descriptors stay two to a line");
_Static_assert(CPU_STORE_HINTS <= 16, "a hint slot fits its field");

static inline uint64_t callout_desc_gpa(const struct callout_desc *d)
{
	return (uint64_t)d->gpa_high << 32 | d->gpa_low;
}

static inline void callout_desc_set_gpa(struct callout_desc *d, uint64_t gpa)
{
	assert(gpa >> 36 == 0);
	d->gpa_low = (uint32_t)gpa;
	d->gpa_high = (uint8_t)(gpa >> 32) & 15;
}

/* The slot in cpu->store_hints of an adaptive MOV store at eip: a few
 * stores of one kernel path rarely share one. */
static inline uint8_t store_hint_slot(uint32_t eip)
{
	return (uint8_t)((eip ^ eip >> 4 ^ eip >> 8) % CPU_STORE_HINTS);
}

#define CALLOUT_RESUMABLE 0x1u
/* CALLOUT_TRANSFER: a control transfer (SYSENTER, SYSEXIT, INT n, IRET)
 * whose block goes on with an indirect-branch lookup of the new EIP
 * (cpu->scratch[1]) under the tag bases the callout left in scratch[2]
 * and [3], unless the callout leaves translated code. */
#define CALLOUT_TRANSFER 0x2u
/* CALLOUT_SPLIT_LOCK: the buffer path of a LOCKed instruction (or XCHG
 * with memory) whose operand crossed a 64-byte line (translate.c's
 * emit_split_lock_test): not an adaptive access, and not counted as one. */
#define CALLOUT_SPLIT_LOCK 0x4u

enum {
	CALLOUT_INSN,          /* the instruction itself */
	CALLOUT_MEM_PREPARE,   /* adaptive: fetch its memory operand into a buffer */
	CALLOUT_MEM_FINISH,    /* adaptive: store the buffer back */
	CALLOUT_UD,            /* not in the CPUID model, or undecodable: #UD */
	CALLOUT_STACK,         /* adaptive stack instruction: the monitor runs it */
	CALLOUT_MEM_STORE,     /* adaptive MOV store: write scratch[3] to its operand */
	CALLOUT_LIMIT,         /* past CS's limit or offset 4 GiB: #GP(0) at eip */
	CALLOUT_PAUSE,         /* PAUSE while vCPUs take turns: a spin-wait passes the turn */
};

struct tctx;

/* The decoder for a mode: 16- or 32-bit code (CS.D), and the stack
 * width Zydis shows implicit stack operands with (SS.B). */
static inline unsigned decoder_index(uint32_t mode)
{
	return (mode & MODE_CODE16 ? 1u : 0u) | (mode & MODE_STACK16 ? 2u : 0u);
}

struct translator {
	ZydisDecoder decoders[4];   /* by decoder_index */
	bool single_insn;  /* --one-insn-blocks */
	FILE *trace;       /* --trace: every block translated, disassembled */
	unsigned max_insns;  /* a block's limit, 1 to 64 (--max-block-insns) */
	bool clone;        /* copy blocks of the same code elsewhere (not --no-clone) */
	bool clone_check;  /* --clone-check: translate each copy anew too, and compare */
	char error[128];   /* what the last -ENOTSUP was about */
	/* The block being translated (translate_internal.h): large, so
	 * allocated once, and one per translator, so a vCPU with a
	 * translator of its own translates beside the others. */
	struct tctx *ctx;
	struct emit_cache *emit_cache;   /* encodings already made (emit.c) */
	struct lookup_seq *lookup_seqs;  /* the lookup sequences made (translate.c) */
};

/* What the translator needs of the vCPU it translates for, filled in by
 * cpu/ for each block (the translator sits below struct cpu and never
 * sees it; the code it emits reaches the vCPU's fields through R15 at the
 * offsets of translator/cpu_layout.h). */
struct translate_env {
	struct shadow *sh;          /* guest RAM, and which instructions are adaptive */
	struct tcache *tc;          /* where the block goes */
	const struct ibl_table *ibl;   /* the lookup table whose index the code computes */
	bool tsc_native;            /* RDTSC may be inline (struct cpu's tsc_offset) */
	bool sensitive_callouts;    /* no inline forms: every sensitive instruction calls out */
	/* Several vCPUs take turns: PAUSE, the spin-wait hint, calls out so
	 * that the one it waits for may run (as PAUSE-loop exiting does).
	 * The same for every vCPU of a machine, so no part of a block's key. */
	bool pause_yields;
	/* CS.base, for a block of MODE_SEGCS: its code is fetched at
	 * cs_base + EIP (blocks are keyed by EIP, CS's offset). */
	uint32_t cs_base;
	/* CS's limit, for a block of MODE_CSLIMIT (else 0xFFFFFFFF): no byte
	 * of an instruction past it is fetched, and a branch past it is
	 * #GP(0) at the branch (translate_flow.c). */
	uint32_t cs_limit;
	/* The code address (cpu/run.c) of a linear one for an instruction fetch;
	 * false leaves the fetch's #PF pending in the vCPU. */
	bool (*fetch_gpa)(void *opaque, uint32_t linear, uint64_t *gpa);
	/* Drops a #PF fetch_gpa left pending: the fetch was only a look. */
	void (*drop_fault)(void *opaque);
	/* Whether a debugger's breakpoint is at linear eip; NULL when none
	 * is set. */
	bool (*breakpoint_at)(void *opaque, uint32_t eip);
	void *opaque;
	/* A hot trace's recorded path (translate_trace): the EIPs execution
	 * went on at, block after block; NULL for an ordinary block. */
	const uint32_t *trace_path;
	unsigned trace_len;
};

/* A hot trace from head eip (gpa, mode) along path (env->trace_path,
 * env->trace_len: where execution went on after each block): one block
 * whose translation follows a direct JMP or takes a Jcc's branch when its
 * target is the path's next EIP and lies forward on the same page, the
 * Jcc then inverted into a side exit to the instruction after it. Any
 * path is correct (every conditional branch keeps its exit); the path only
 * chooses the straight line. Flat code only, no self-checking page; the
 * cache is never made room for (-ENOSPC gives up). 0 and the block, or
 * -EAGAIN where no trace is made, or translate_block's errors. */
int translate_trace(struct translator *t, const struct translate_env *env, uint32_t eip,
		    uint64_t gpa, uint32_t mode, struct tblock **out);

/* 0, or -EINVAL (no decoder) or -ENOMEM. */
int translator_init(struct translator *t, bool single_insn, FILE *trace);
void translator_destroy(struct translator *t);
/* Translates the block at EIP eip (linear env->cs_base + eip in a
 * MODE_SEGCS mode, else eip itself; code address gpa) for the given mode
 * into env's cache. Returns 0 and the block, -ENOSPC when the
 * cache must be flushed first, -EFAULT when the code is not in guest RAM
 * or its only instruction runs into a page that cannot be fetched (a #PF
 * left pending by env's fetch_gpa says which), or -ENOTSUP (a translator
 * bug, described in t->error). */
int translate_block(struct translator *t, const struct translate_env *env, uint32_t eip,
		    uint64_t gpa, uint32_t mode, struct tblock **out);

#endif
