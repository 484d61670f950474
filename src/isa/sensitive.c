/* The table of sensitive instructions and the lookups over it. The Robin &
 * Irvine (USENIX Security 2000) sensitive-but-unprivileged set is: SGDT,
 * SIDT, SLDT, SMSW, PUSHF, POPF, LAR, LSL, VERR, VERW, POP/PUSH segment,
 * far CALL, far JMP, INT n, RET far, STR, MOV segment. */
#include "isa/sensitive.h"

/* Each row: mnemonic, listed name, class, handling, block end;
 * handler, inline form, sensitive forms; note; control- or
 * behaviour-sensitive, and what a deprivileged kernel (CPL 3) would see
 * on real hardware (NULL: not sensitive in Popek and Goldberg's sense). */
static const struct sensitive_insn table[] = {
	{ ZYDIS_MNEMONIC_CLI, "CLI", SENS_IOPL, HANDLE_INLINE, END_NONE,
	  SH_CLI_STI, INLINE_CLI, OPS_ANY,
	  "store to the virtual IF at CPL 0; a callout above it (#GP if CPL > IOPL)",
	  KIND_CONTROL, "#GP at CPL 3 (IOPL 0): traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_STI, "STI", SENS_IOPL, HANDLE_INLINE, END_IF_NEEDED,
	  SH_CLI_STI, INLINE_STI, OPS_ANY,
	  "virtual IF (inline at CPL 0 unless an interrupt waits); one-instruction interrupt shadow; #GP if CPL > IOPL",
	  KIND_CONTROL, "#GP at CPL 3 (IOPL 0): traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_PUSHFD, "PUSHF", SENS_UNPRIVILEGED, HANDLE_INLINE, END_NONE,
	  SH_PUSHF, INLINE_PUSHF, OPS_ANY,
	  "merges host arithmetic flags with virtual IF/IOPL (inline at CPL 0)",
	  KIND_BEHAVIOUR, "pushes the real IF (1) and IOPL (0), not the kernel's; no trap" },
	{ ZYDIS_MNEMONIC_PUSHF, "PUSHF (16)", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_PUSHF, INLINE_NONE, OPS_ANY,
	  "as PUSHF",
	  KIND_BEHAVIOUR, "pushes the real IF (1) and IOPL (0), not the kernel's; no trap" },
	{ ZYDIS_MNEMONIC_POPFD, "POPF", SENS_UNPRIVILEGED, HANDLE_INLINE, END_IF_NEEDED,
	  SH_POPF, INLINE_POPF, OPS_ANY,
	  "arithmetic flags and virtual IF in place at CPL 0 (a callout if other flags change or an interrupt waits); at CPL 3 silently keeps IF and IOPL",
	  KIND_BOTH, "IF and IOPL left unchanged, no trap" },
	{ ZYDIS_MNEMONIC_POPF, "POPF (16)", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_IF_NEEDED,
	  SH_POPF, INLINE_NONE, OPS_ANY,
	  "as POPF",
	  KIND_BOTH, "IF and IOPL left unchanged, no trap" },
	{ ZYDIS_MNEMONIC_IRETD, "IRET", SENS_MONITOR, HANDLE_CALLOUT, END_TRANSFER,
	  SH_IRET, INLINE_NONE, OPS_ANY,
	  "restores EFLAGS and CS; SS:ESP too when returning to ring 3",
	  KIND_BOTH, "IF and IOPL not restored; a return to CPL 0 is #GP" },
	{ ZYDIS_MNEMONIC_IRET, "IRET (16)", SENS_MONITOR, HANDLE_CALLOUT, END_ALWAYS,
	  SH_IRET, INLINE_NONE, OPS_ANY,
	  "as IRET",
	  KIND_BOTH, "IF and IOPL not restored; a return to CPL 0 is #GP" },
	{ ZYDIS_MNEMONIC_INT, "INT n", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_TRANSFER,
	  SH_INT, INLINE_NONE, OPS_ANY,
	  "gate DPL decides; delivered through the guest IDT",
	  KIND_BOTH, "gate DPL checked against CPL 3: #GP for kernel-only gates" },
	{ ZYDIS_MNEMONIC_INT3, "INT3", SENS_MONITOR, HANDLE_CALLOUT, END_ALWAYS,
	  SH_INT3, INLINE_NONE, OPS_ANY,
	  "#BP through the guest IDT",
	  KIND_BEHAVIOUR, "#BP through the real IDT: the monitor reflects it" },
	{ ZYDIS_MNEMONIC_INTO, "INTO", SENS_MONITOR, HANDLE_CALLOUT, END_ALWAYS,
	  SH_INTO, INLINE_NONE, OPS_ANY,
	  "#OF when OF is set",
	  KIND_BEHAVIOUR, "#OF through the real IDT: the monitor reflects it" },
	{ ZYDIS_MNEMONIC_INT1, "INT1", SENS_MONITOR, HANDLE_CALLOUT, END_ALWAYS,
	  SH_INT1, INLINE_NONE, OPS_ANY,
	  "#DB",
	  KIND_BEHAVIOUR, "#DB through the real IDT: the monitor reflects it" },
	{ ZYDIS_MNEMONIC_HLT, "HLT", SENS_PRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_HLT, INLINE_NONE, OPS_ANY,
	  "sleeps until an interrupt is due",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_IN, "IN", SENS_IOPL, HANDLE_CALLOUT, END_NONE,
	  SH_IO, INLINE_NONE, OPS_ANY,
	  "port I/O on the device bus; TSS I/O bitmap if CPL > IOPL",
	  KIND_CONTROL, "#GP at CPL 3 (IOPL 0, bitmap denies): traps, emulated" },
	{ ZYDIS_MNEMONIC_OUT, "OUT", SENS_IOPL, HANDLE_CALLOUT, END_IF_NEEDED,
	  SH_IO, INLINE_NONE, OPS_ANY,
	  "port I/O; may end the run (isa-debug-exit)",
	  KIND_CONTROL, "#GP at CPL 3 (IOPL 0, bitmap denies): traps, emulated" },
	{ ZYDIS_MNEMONIC_INSB, "INSB", SENS_IOPL, HANDLE_CALLOUT, END_NONE,
	  SH_STRING_IO, INLINE_NONE, OPS_ANY,
	  "string port input, REP kept precise",
	  KIND_CONTROL, "#GP at CPL 3 (IOPL 0, bitmap denies): traps, emulated" },
	{ ZYDIS_MNEMONIC_INSW, "INSW", SENS_IOPL, HANDLE_CALLOUT, END_NONE,
	  SH_STRING_IO, INLINE_NONE, OPS_ANY,
	  "as INSB",
	  KIND_CONTROL, "#GP at CPL 3 (IOPL 0, bitmap denies): traps, emulated" },
	{ ZYDIS_MNEMONIC_INSD, "INSD", SENS_IOPL, HANDLE_CALLOUT, END_NONE,
	  SH_STRING_IO, INLINE_NONE, OPS_ANY,
	  "as INSB",
	  KIND_CONTROL, "#GP at CPL 3 (IOPL 0, bitmap denies): traps, emulated" },
	{ ZYDIS_MNEMONIC_OUTSB, "OUTSB", SENS_IOPL, HANDLE_CALLOUT, END_ALWAYS,
	  SH_STRING_IO, INLINE_NONE, OPS_ANY,
	  "string port output",
	  KIND_CONTROL, "#GP at CPL 3 (IOPL 0, bitmap denies): traps, emulated" },
	{ ZYDIS_MNEMONIC_OUTSW, "OUTSW", SENS_IOPL, HANDLE_CALLOUT, END_ALWAYS,
	  SH_STRING_IO, INLINE_NONE, OPS_ANY,
	  "as OUTSB",
	  KIND_CONTROL, "#GP at CPL 3 (IOPL 0, bitmap denies): traps, emulated" },
	{ ZYDIS_MNEMONIC_OUTSD, "OUTSD", SENS_IOPL, HANDLE_CALLOUT, END_ALWAYS,
	  SH_STRING_IO, INLINE_NONE, OPS_ANY,
	  "as OUTSB",
	  KIND_CONTROL, "#GP at CPL 3 (IOPL 0, bitmap denies): traps, emulated" },
	{ ZYDIS_MNEMONIC_LGDT, "LGDT", SENS_PRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_LOAD_TABLE, INLINE_NONE, OPS_ANY,
	  "virtual GDTR",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_LIDT, "LIDT", SENS_PRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_LOAD_TABLE, INLINE_NONE, OPS_ANY,
	  "virtual IDTR",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_LLDT, "LLDT", SENS_PRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_LLDT, INLINE_NONE, OPS_ANY,
	  "virtual LDTR",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_LTR, "LTR", SENS_PRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_LTR, INLINE_NONE, OPS_ANY,
	  "virtual TR, marks the TSS busy",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_SGDT, "SGDT", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_STORE_TABLE, INLINE_NONE, OPS_ANY,
	  "reveals the (virtual) GDTR at any CPL",
	  KIND_BEHAVIOUR, "stores the monitor's GDTR, not the kernel's; no trap" },
	{ ZYDIS_MNEMONIC_SIDT, "SIDT", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_STORE_TABLE, INLINE_NONE, OPS_ANY,
	  "reveals the IDTR at any CPL",
	  KIND_BEHAVIOUR, "stores the monitor's IDTR, not the kernel's; no trap" },
	{ ZYDIS_MNEMONIC_SLDT, "SLDT", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_STORE_SYSREG, INLINE_NONE, OPS_ANY,
	  "reveals the LDTR at any CPL",
	  KIND_BEHAVIOUR, "stores the monitor's LDTR, not the kernel's; no trap" },
	{ ZYDIS_MNEMONIC_STR, "STR", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_STORE_SYSREG, INLINE_NONE, OPS_ANY,
	  "reveals TR at any CPL",
	  KIND_BEHAVIOUR, "stores the monitor's TR, not the kernel's; no trap" },
	{ ZYDIS_MNEMONIC_SMSW, "SMSW", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_STORE_SYSREG, INLINE_NONE, OPS_ANY,
	  "reveals CR0's low bits at any CPL",
	  KIND_BEHAVIOUR, "the real CR0's low bits (the monitor's), no trap" },
	{ ZYDIS_MNEMONIC_LMSW, "LMSW", SENS_PRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_LMSW, INLINE_NONE, OPS_ANY,
	  "writes CR0's low bits",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_CLTS, "CLTS", SENS_PRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_CLTS, INLINE_NONE, OPS_ANY,
	  "clears virtual CR0.TS (x87/SSE stop trapping)",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_LAR, "LAR", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_LAR_LSL, INLINE_NONE, OPS_ANY,
	  "reads guest descriptors",
	  KIND_BEHAVIOUR, "the real descriptors' DPL (3), checked against CPL 3; no trap" },
	{ ZYDIS_MNEMONIC_LSL, "LSL", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_LAR_LSL, INLINE_NONE, OPS_ANY,
	  "reads guest descriptor limits",
	  KIND_BEHAVIOUR, "checked against CPL 3: kernel segments fail (ZF=0); no trap" },
	{ ZYDIS_MNEMONIC_VERR, "VERR", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_VERR_VERW, INLINE_NONE, OPS_ANY,
	  "checks guest descriptors",
	  KIND_BEHAVIOUR, "checked against CPL 3: kernel segments fail (ZF=0); no trap" },
	{ ZYDIS_MNEMONIC_VERW, "VERW", SENS_UNPRIVILEGED, HANDLE_INLINE, END_NONE,
	  SH_VERR_VERW, INLINE_VERW, OPS_ANY,
	  "checks guest descriptors (ZF in place at CPL 0 for the selector last found writable, descriptor unchanged)",
	  KIND_BEHAVIOUR, "checked against CPL 3: kernel segments fail (ZF=0); no trap" },
	{ ZYDIS_MNEMONIC_ARPL, "ARPL", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_ARPL, INLINE_NONE, OPS_ANY,
	  "0x63 is MOVSXD in 64-bit mode",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_LDS, "LDS", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_LOAD_FAR_POINTER, INLINE_NONE, OPS_ANY,
	  "segment load from the guest GDT/LDT",
	  KIND_BEHAVIOUR, "privilege checks against CPL 3: kernel segments #GP" },
	{ ZYDIS_MNEMONIC_LES, "LES", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_LOAD_FAR_POINTER, INLINE_NONE, OPS_ANY,
	  "segment load",
	  KIND_BEHAVIOUR, "privilege checks against CPL 3: kernel segments #GP" },
	{ ZYDIS_MNEMONIC_LFS, "LFS", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_LOAD_FAR_POINTER, INLINE_NONE, OPS_ANY,
	  "segment load",
	  KIND_BEHAVIOUR, "privilege checks against CPL 3: kernel segments #GP" },
	{ ZYDIS_MNEMONIC_LGS, "LGS", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_LOAD_FAR_POINTER, INLINE_NONE, OPS_ANY,
	  "segment load",
	  KIND_BEHAVIOUR, "privilege checks against CPL 3: kernel segments #GP" },
	{ ZYDIS_MNEMONIC_LSS, "LSS", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_LOAD_FAR_POINTER, INLINE_NONE, OPS_ANY,
	  "segment load",
	  KIND_BEHAVIOUR, "privilege checks against CPL 3: kernel segments #GP" },
	{ ZYDIS_MNEMONIC_JMP, "JMP far", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_FAR_JMP, INLINE_NONE, OPS_FAR,
	  "loads CS from the guest GDT",
	  KIND_BOTH, "privilege checks against CPL 3: kernel code segments #GP" },
	{ ZYDIS_MNEMONIC_CALL, "CALL far", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_FAR_CALL, INLINE_NONE, OPS_FAR,
	  "loads CS; call gates",
	  KIND_BOTH, "privilege checks against CPL 3: kernel code segments #GP" },
	{ ZYDIS_MNEMONIC_RET, "RET far", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_FAR_RET, INLINE_NONE, OPS_FAR,
	  "pops CS: privilege change",
	  KIND_BOTH, "a return to a kernel (RPL 0) selector is #GP" },
	{ ZYDIS_MNEMONIC_MOV, "MOV seg/CRn/DRn", SENS_PRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_MOV_SPECIAL, INLINE_SEGMENT_READ, OPS_SPECIAL_REG,
	  "MOV to/from CRn and DRn traps at CPL 3; MOV segment does not",
	  KIND_BOTH, "CRn/DRn: #GP, emulated; MOV from CS/SS shows RPL 3, no trap" },
	{ ZYDIS_MNEMONIC_PUSH, "PUSH seg", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_PUSH_SEG, INLINE_SEGMENT_READ, OPS_PUSH_SEG,
	  "pushes the guest's selector (RPL shows CPL)",
	  KIND_BEHAVIOUR, "CS and SS show RPL 3, not the kernel's 0; no trap" },
	{ ZYDIS_MNEMONIC_POP, "POP seg", SENS_UNPRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_POP_SEG, INLINE_SEGMENT_LOAD, OPS_POP_SEG,
	  "descriptor load from the guest GDT (a reload of an unchanged one inline at CPL 0)",
	  KIND_BEHAVIOUR, "privilege checks against CPL 3: kernel segments #GP" },
	{ ZYDIS_MNEMONIC_CPUID, "CPUID", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_CPUID, INLINE_NONE, OPS_ANY,
	  "presents the virtual P6-class CPU",
	  KIND_BEHAVIOUR, "the real CPU's identity, no trap" },
	{ ZYDIS_MNEMONIC_RDTSC, "RDTSC", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_RDTSC, INLINE_RDTSC, OPS_ANY,
	  "virtual TSC (#GP outside ring 0 under CR4.TSD)",
	  KIND_BEHAVIOUR, "the real TSC, no trap (unless CR4.TSD)" },
	{ ZYDIS_MNEMONIC_RDTSCP, "RDTSCP", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_RDTSCP, INLINE_RDTSCP, OPS_ANY,
	  "virtual TSC and IA32_TSC_AUX (#GP outside ring 0 under CR4.TSD)",
	  KIND_BEHAVIOUR, "the real TSC and the host's TSC_AUX, no trap (unless CR4.TSD)" },
	{ ZYDIS_MNEMONIC_CLFLUSH, "CLFLUSH", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_CLFLUSH, INLINE_NONE, OPS_ANY,
	  "checks the line's address as a byte load would (#PF); the caches are coherent, nothing to flush",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_RDPMC, "RDPMC", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_RDPMC, INLINE_NONE, OPS_ANY,
	  "idle virtual counters (#GP outside ring 0 without CR4.PCE)",
	  KIND_BEHAVIOUR, "#GP unless CR4.PCE: traps, emulated" },
	{ ZYDIS_MNEMONIC_RDMSR, "RDMSR", SENS_PRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_MSR, INLINE_NONE, OPS_ANY,
	  "virtual MSRs",
	  KIND_BEHAVIOUR, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_WRMSR, "WRMSR", SENS_PRIVILEGED, HANDLE_CALLOUT, END_ALWAYS,
	  SH_MSR, INLINE_NONE, OPS_ANY,
	  "virtual MSRs",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_WBINVD, "WBINVD", SENS_PRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_NOTHING, INLINE_NONE, OPS_ANY,
	  "no-op: coherent memory",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_INVD, "INVD", SENS_PRIVILEGED, HANDLE_CALLOUT, END_NONE,
	  SH_NOTHING, INLINE_NONE, OPS_ANY,
	  "no-op",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_INVLPG, "INVLPG", SENS_PRIVILEGED, HANDLE_CALLOUT, END_IF_NEEDED,
	  SH_INVLPG, INLINE_NONE, OPS_ANY,
	  "retires the lookup table's entries for a global page; shadows follow the tables",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_SYSENTER, "SYSENTER", SENS_MONITOR, HANDLE_CALLOUT, END_TRANSFER,
	  SH_SYSENTER, INLINE_NONE, OPS_ANY,
	  "to ring 0 through the SYSENTER MSRs",
	  KIND_CONTROL, "enters the real ring 0 (the monitor's MSRs)" },
	{ ZYDIS_MNEMONIC_SYSEXIT, "SYSEXIT", SENS_PRIVILEGED, HANDLE_CALLOUT, END_TRANSFER,
	  SH_SYSEXIT, INLINE_NONE, OPS_ANY,
	  "back to ring 3 at EDX, stack ECX",
	  KIND_CONTROL, "#GP: traps, the monitor emulates it" },
	{ ZYDIS_MNEMONIC_UD2, "UD2", SENS_MONITOR, HANDLE_CALLOUT, END_ALWAYS,
	  SH_UD, INLINE_NONE, OPS_ANY,
	  "#UD through the guest IDT",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_FXSAVE, "FXSAVE", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_FXSAVE, INLINE_NONE, OPS_ANY,
	  "a 64-bit host would also store XMM8-15",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_UD0, "UD0", SENS_MONITOR, HANDLE_CALLOUT, END_ALWAYS,
	  SH_UD, INLINE_NONE, OPS_ANY,
	  "#UD through the guest IDT",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_UD1, "UD1", SENS_MONITOR, HANDLE_CALLOUT, END_ALWAYS,
	  SH_UD, INLINE_NONE, OPS_ANY,
	  "#UD through the guest IDT",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_CLD, "CLD", SENS_MONITOR, HANDLE_INLINE, END_IF_NEEDED,
	  SH_CLD, INLINE_DF, OPS_ANY,
	  "DF is part of the translation key (nothing when DF is clear already)",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_STD, "STD", SENS_MONITOR, HANDLE_INLINE, END_IF_NEEDED,
	  SH_STD, INLINE_DF, OPS_ANY,
	  "DF is part of the translation key (nothing when DF is set already)",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_BOUND, "BOUND", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_BOUND, INLINE_NONE, OPS_ANY,
	  "invalid in 64-bit mode; #BR",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_DAA, "DAA", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_BCD, INLINE_NONE, OPS_ANY,
	  "invalid in 64-bit mode",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_DAS, "DAS", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_BCD, INLINE_NONE, OPS_ANY,
	  "invalid in 64-bit mode",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_AAA, "AAA", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_BCD, INLINE_NONE, OPS_ANY,
	  "invalid in 64-bit mode",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_AAS, "AAS", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_BCD, INLINE_NONE, OPS_ANY,
	  "invalid in 64-bit mode",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_AAM, "AAM", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_BCD, INLINE_NONE, OPS_ANY,
	  "invalid in 64-bit mode; #DE for base 0",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_AAD, "AAD", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_BCD, INLINE_NONE, OPS_ANY,
	  "invalid in 64-bit mode",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_SALC, "SALC", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_BCD, INLINE_NONE, OPS_ANY,
	  "invalid in 64-bit mode",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_SYSCALL, "SYSCALL", SENS_MONITOR, HANDLE_CALLOUT, END_ALWAYS,
	  SH_UD, INLINE_NONE, OPS_ANY,
	  "#UD: not offered",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_SYSRET, "SYSRET", SENS_MONITOR, HANDLE_CALLOUT, END_ALWAYS,
	  SH_UD, INLINE_NONE, OPS_ANY,
	  "#UD: not offered",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_XGETBV, "XGETBV", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_UD, INLINE_NONE, OPS_ANY,
	  "#UD: XSAVE not offered",
	  KIND_BEHAVIOUR, NULL },
	{ ZYDIS_MNEMONIC_ENTER, "ENTER (nested)", SENS_MONITOR, HANDLE_CALLOUT, END_NONE,
	  SH_ENTER_NESTED, INLINE_NONE, OPS_NESTED,
	  "levels > 0 only",
	  KIND_BEHAVIOUR, NULL },
};

const char *sensitive_class_name(enum sensitive_class cls)
{
	switch (cls) {
	case SENS_PRIVILEGED:
		return "privileged";
	case SENS_IOPL:
		return "IOPL-sensitive";
	case SENS_UNPRIVILEGED:
		return "sensitive, unprivileged";
	case SENS_MONITOR:
		return "monitor";
	}
	return "?";
}

static bool has_reg_class(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
			  ZydisRegisterClass cls)
{
	for (unsigned i = 0; i < in->operand_count_visible; i++)
		if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(ops[i].reg.value) == cls)
			return true;
	return false;
}

static const struct sensitive_insn *find(ZydisMnemonic m)
{
	for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].mnemonic == m)
			return &table[i];
	return NULL;
}

const struct sensitive_insn *sensitive_classify(const ZydisDecodedInstruction *in,
						const ZydisDecodedOperand *ops)
{
	const struct sensitive_insn *s = find(in->mnemonic);
	if (!s)
		return NULL;
	switch (s->operands) {
	case OPS_ANY:
		return s;
	case OPS_SPECIAL_REG:
		return has_reg_class(in, ops, ZYDIS_REGCLASS_SEGMENT) ||
		       has_reg_class(in, ops, ZYDIS_REGCLASS_CONTROL) ||
		       has_reg_class(in, ops, ZYDIS_REGCLASS_DEBUG) ? s : NULL;
	case OPS_PUSH_SEG:
	case OPS_POP_SEG:
		return has_reg_class(in, ops, ZYDIS_REGCLASS_SEGMENT) ? s : NULL;
	case OPS_FAR:
		return in->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR ? s : NULL;
	case OPS_NESTED:
		/* The nesting level is taken modulo 32. */
		return (ops[1].imm.value.u & 31) != 0 ? s : NULL;
	}
	return NULL;
}

bool sensitive_cpl0_only(const struct sensitive_insn *s, const ZydisDecodedInstruction *in,
			 const ZydisDecodedOperand *ops)
{
	if (s->cls != SENS_PRIVILEGED)
		return false;
	/* MOV is in the privileged row for its control and debug register
	 * forms; MOV to or from a segment register runs at any level. */
	if (s->operands == OPS_SPECIAL_REG)
		return has_reg_class(in, ops, ZYDIS_REGCLASS_CONTROL) ||
		       has_reg_class(in, ops, ZYDIS_REGCLASS_DEBUG);
	return true;
}

unsigned sensitive_table_size(void)
{
	return sizeof(table) / sizeof(table[0]);
}

unsigned sensitive_table_index(const struct sensitive_insn *s)
{
	return (unsigned)(s - table);
}

const char *sensitive_kind_name(enum sensitive_kind kind)
{
	switch (kind) {
	case KIND_CONTROL: return "control";
	case KIND_BEHAVIOUR: return "behaviour";
	case KIND_BOTH: return "control+behaviour";
	}
	return "?";
}

const struct sensitive_insn *sensitive_table_entry(unsigned i)
{
	return i < sensitive_table_size() ? &table[i] : NULL;
}

void sensitive_print_table(FILE *out)
{
	static const char *const ends[] = { "no", "yes", "if-needed", "transfer" };
	fprintf(out, "%-18s %-24s %-8s %-9s %s\n", "instruction", "class", "handling",
		"block-end", "note");
	for (unsigned i = 0; i < sensitive_table_size(); i++) {
		const struct sensitive_insn *s = &table[i];
		fprintf(out, "%-18s %-24s %-8s %-9s %s\n", s->name, sensitive_class_name(s->cls),
			s->handling == HANDLE_INLINE ? "inline" : "callout", ends[s->end], s->note);
	}
}

enum block_end sensitive_block_end(const struct sensitive_insn *s, const ZydisDecodedOperand *ops)
{
	if ((s->operands != OPS_SPECIAL_REG && s->operands != OPS_POP_SEG) ||
	    ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER)
		return s->end;
	ZydisRegister dst = ops[0].reg.value;
	if (dst == ZYDIS_REGISTER_DS || dst == ZYDIS_REGISTER_ES || dst == ZYDIS_REGISTER_FS ||
	    dst == ZYDIS_REGISTER_GS)
		return END_IF_NEEDED;
	if (s->operands == OPS_SPECIAL_REG && ZydisRegisterGetClass(dst) == ZYDIS_REGCLASS_GPR32)
		return END_IF_NEEDED;   /* a read of a segment, control or debug register */
	return s->end;
}
