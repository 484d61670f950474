/* The sensitive-instruction table: every IA-32 instruction whose behaviour
 * depends on or changes privileged state, with its Popek-Goldberg class
 * and how btvm runs it. The translator (block end, inline form), the
 * monitor (handler, the #GP(0) of the privileged class) and the teaching
 * listing (btvm --list-sensitive) all read this one table: adding or
 * changing an instruction is one row here, plus its handler's function
 * in cpu/callout.c when it needs a new one. */
#ifndef BTVM_ISA_SENSITIVE_H
#define BTVM_ISA_SENSITIVE_H

#include <stdbool.h>
#include <stdio.h>

#include <Zydis/Zydis.h>

enum sensitive_class {
	/* Traps (#GP or #UD) when run outside ring 0: a trap-and-emulate VMM
	 * would see it. */
	SENS_PRIVILEGED,
	/* Privileged only when CPL > IOPL (or the I/O bitmap says so). */
	SENS_IOPL,
	/* Sensitive but unprivileged: behaves differently at CPL 3 instead of
	 * trapping, the reason classic x86 fails Popek & Goldberg's theorem
	 * (Robin & Irvine's list). */
	SENS_UNPRIVILEGED,
	/* Not sensitive in the theorem's sense, but the monitor must see it
	 * (it reaches virtual hardware, or only exists in 32-bit mode). */
	SENS_MONITOR,
};

enum sensitive_handling {
	HANDLE_CALLOUT,   /* a call into the monitor from translated code */
	HANDLE_INLINE,    /* a short sequence on the virtual state */
};

/* What the block does after the instruction. */
enum block_end {
	END_NONE,       /* goes on */
	END_ALWAYS,     /* ends: the mode, control flow or interrupt state may change */
	END_IF_NEEDED,  /* goes on unless the callout finds the mode changed or an
			 * interrupt became deliverable (then it stops there) */
	END_TRANSFER,   /* a control transfer whose target the callout computes: the
			 * block ends with a lookup of the new EIP in the new mode */
};

/* The monitor's handler for the instruction's callout (SH_: sensitive
 * handler). cpu/callout.c binds each id to one function; a new id needs
 * a function there, which cpu_init checks. */
enum sensitive_handler {
	SH_UD,               /* #UD: not in the CPUID model (or no such instruction) */
	SH_NOTHING,          /* nothing to do (caches are coherent) */
	SH_IO,               /* IN, OUT */
	SH_STRING_IO,        /* INS, OUTS */
	SH_HLT,
	SH_CLI_STI,
	SH_CLD,
	SH_STD,
	SH_PUSHF,
	SH_POPF,
	SH_IRET,
	SH_INT,
	SH_INT1,
	SH_INT3,
	SH_INTO,
	SH_SYSENTER,
	SH_SYSEXIT,
	SH_LOAD_TABLE,       /* LGDT, LIDT */
	SH_STORE_TABLE,      /* SGDT, SIDT */
	SH_LLDT,
	SH_LTR,
	SH_STORE_SYSREG,     /* SLDT, STR, SMSW */
	SH_LMSW,
	SH_CLTS,
	SH_MOV_SPECIAL,      /* MOV to or from a segment, control or debug register */
	SH_PUSH_SEG,
	SH_POP_SEG,
	SH_LOAD_FAR_POINTER, /* LDS, LES, LFS, LGS, LSS */
	SH_FAR_JMP,
	SH_FAR_CALL,
	SH_FAR_RET,
	SH_LAR_LSL,
	SH_VERR_VERW,
	SH_ARPL,
	SH_CPUID,
	SH_RDTSC,
	SH_RDPMC,
	SH_RDTSCP,
	SH_CLFLUSH,
	SH_MSR,              /* RDMSR, WRMSR */
	SH_INVLPG,
	SH_FXSAVE,
	SH_BCD,              /* DAA, DAS, AAA, AAS, AAM, AAD, SALC */
	SH_BOUND,
	SH_ENTER_NESTED,
	SH_COUNT
};

/* A translation that keeps the instruction out of the monitor in the
 * common case; translator/translate.c binds each to an emitter, which may
 * decline (the instruction is then a callout like any other). */
enum sensitive_inline {
	INLINE_NONE,
	INLINE_CLI,            /* at CPL 0: a store to the virtual IF */
	INLINE_SEGMENT_READ,   /* MOV r, Sreg and PUSH Sreg: the selector from struct cpu */
	INLINE_RDTSC,          /* with a constant-rate host TSC: at CPL 0, or at CPL 3 while CR4.TSD is clear */
	INLINE_RDTSCP,         /* the same, with IA32_TSC_AUX in ECX */
	INLINE_PUSHF,          /* PUSHFD at CPL 0, flat stack: flags composed in place */
	INLINE_STI,            /* at CPL 0: the virtual IF set, unless an interrupt waits */
	INLINE_SEGMENT_LOAD,   /* POP Sreg at CPL 0: a reload of an unchanged descriptor is nothing */
	INLINE_DF,             /* CLD/STD that leave DF as the translation mode has it: nothing */
	INLINE_POPF,           /* POPFD at CPL 0, flat stack, changing only arithmetic flags and IF */
	INLINE_VERW,           /* VERW at CPL 0 of the selector last found writable, bytes unchanged */
	INLINE_COUNT
};

/* The forms of a mnemonic that are sensitive, when not all of them are. */
enum sensitive_operands {
	OPS_ANY,          /* every form */
	OPS_SPECIAL_REG,  /* MOV to or from a segment, control or debug register;
			   * only the control and debug forms are privileged */
	OPS_PUSH_SEG,     /* PUSH of a segment register */
	OPS_POP_SEG,      /* POP into a segment register */
	OPS_FAR,          /* JMP, CALL, RET: the far forms */
	OPS_NESTED,       /* ENTER with a nesting level (modulo 32) */
};

/* Robin and Irvine's terms: a control-sensitive instruction changes the
 * machine's configuration, a behaviour-sensitive one acts differently
 * depending on it (the privilege level, the descriptor tables). */
enum sensitive_kind {
	KIND_CONTROL,
	KIND_BEHAVIOUR,
	KIND_BOTH,
};

/* One row per sensitive instruction: everything the translator, the
 * monitor and the listing need to know about it. */
struct sensitive_insn {
	ZydisMnemonic mnemonic;
	const char *name;
	enum sensitive_class cls;
	enum sensitive_handling handling;   /* as the listing describes it */
	/* For the segment loads of OPS_SPECIAL_REG and OPS_POP_SEG the
	 * translator refines this by operand (sensitive_block_end). */
	enum block_end end;
	enum sensitive_handler handler;
	enum sensitive_inline inline_form;
	enum sensitive_operands operands;
	const char *note;
	enum sensitive_kind kind;
	/* What a guest kernel deprivileged to CPL 3 would see running it on
	 * real hardware, as a classic trap-and-emulate monitor runs it (the
	 * --explain table); NULL for the rows the monitor only needs to see. */
	const char *native;
};

/* NULL if the instruction is not sensitive. Looks at operands too: a MOV,
 * PUSH or POP is sensitive only with a segment, control or debug register. */
const struct sensitive_insn *sensitive_classify(const ZydisDecodedInstruction *in,
						const ZydisDecodedOperand *ops);
/* Whether a sensitive instruction raises #GP(0) outside ring 0: the
 * privileged class (for MOV only its control and debug register forms). */
bool sensitive_cpl0_only(const struct sensitive_insn *s, const ZydisDecodedInstruction *in,
			 const ZydisDecodedOperand *ops);
const char *sensitive_class_name(enum sensitive_class cls);
void sensitive_print_table(FILE *out);
/* The block end for this instruction (s its row, ops its operands): the
 * table's, refined by operand for the segment forms of MOV and POP (loads
 * of DS/ES/FS/GS and reads into a general register go on; SS, whose load
 * holds interrupts off for one instruction, and control registers do
 * not). */
enum block_end sensitive_block_end(const struct sensitive_insn *s, const ZydisDecodedOperand *ops);
unsigned sensitive_table_size(void);
const struct sensitive_insn *sensitive_table_entry(unsigned i);
/* The row's place in the table (sensitive_table_entry's i). */
unsigned sensitive_table_index(const struct sensitive_insn *s);
const char *sensitive_kind_name(enum sensitive_kind kind);

#endif
