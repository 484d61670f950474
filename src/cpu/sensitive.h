/* The sensitive-instruction table: every IA-32 instruction whose behaviour
 * depends on or changes privileged state, with its Popek-Goldberg class
 * and how btvm runs it. The translator and the teaching listing
 * (btvm --list-sensitive) both read this one table. */
#ifndef BTVM_CPU_SENSITIVE_H
#define BTVM_CPU_SENSITIVE_H

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

struct sensitive_insn {
	ZydisMnemonic mnemonic;
	const char *name;
	enum sensitive_class cls;
	enum sensitive_handling handling;
	/* The block ends after it: it may change the translation mode, the
	 * control flow, or whether interrupts can be taken. */
	bool ends_block;
	const char *note;
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
unsigned sensitive_table_size(void);
const struct sensitive_insn *sensitive_table_entry(unsigned i);

#endif
