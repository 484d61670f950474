/* The confinement check on translated host code, shared by the allowlist
 * audit (tests/unit/test_isa_audit.c) and the translator's fuzzing harness
 * (tests/fuzz/fuzz_translator.c): every memory access the host code makes,
 * explicit or hidden, goes through the window (GS with 32-bit addressing,
 * or GS and a bare disp32 below 2 GiB) or to the monitor's own structure,
 * the indirect-branch table or the host stack (r15, r14, r11, rsp with
 * 64-bit addressing, registers a 32-bit guest cannot name), or is the
 * read of FS's or GS's base through the guard pointer loaded just before
 * from the cpu structure (no branch landing between the two); no instruction
 * calls the host kernel; and every instruction is of the model's ISA sets
 * or the translator's own. */
#ifndef BTVM_TESTS_ISA_CHECK_H
#define BTVM_TESTS_ISA_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

/* Called once per broken rule: what it was, and the host instruction
 * (NULL when the code does not decode) at offset off of the code. */
typedef void isa_check_report_fn(void *opaque, const char *what, const ZydisDecodedInstruction *hi,
				 size_t off);

/* Checks the host code [code, code + len) (a block's code_len: the code
 * before its callout descriptors, which are data). Reports every broken
 * rule and returns how many there were; code that does not decode is one,
 * and ends the check. */
unsigned isa_check_host_code(const uint8_t *code, size_t len, isa_check_report_fn *report, void *opaque);

#endif
