/* Capstone listings of translated blocks, for --trace. */
#include "translator/disasm.h"

#include <capstone/capstone.h>

#include "cache/tcache.h"

void disasm_trace_block(FILE *out, const struct tblock *tb, const uint8_t *guest_bytes)
{
	csh cs;
	cs_insn *insn;
	fprintf(out, "%s %08x mode %x: %u guest bytes, %u insns -> %u host bytes\n",
		tb->trace ? "trace" : "block", tb->eip, tb->mode, tb->guest_len, tb->ninsns, tb->host_len);
	if (cs_open(CS_ARCH_X86, CS_MODE_32, &cs) != CS_ERR_OK)
		return;
	/* A trace's instructions are those its maps name, not every byte
	 * of its span. */
	for (unsigned k = 0; k < (tb->trace ? tb->ninsns : 1u); k++) {
		uint32_t off = tb->trace ? tb->map_guest[k] : 0;
		size_t n = cs_disasm(cs, guest_bytes + off, tb->guest_len - off, tb->eip + off,
				     tb->trace ? 1 : 0, &insn);
		for (size_t i = 0; i < n; i++)
			fprintf(out, "  %08" PRIx64 ":  %s %s\n", insn[i].address, insn[i].mnemonic,
				insn[i].op_str);
		if (n)
			cs_free(insn, n);
	}
	cs_close(&cs);
	size_t n;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return;
	/* Host code, without the callout descriptors after it. */
	n = cs_disasm(cs, tb->host, tb->code_len, (uint64_t)(uintptr_t)tb->host, 0, &insn);
	fprintf(out, "  host:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "    +%04x:  %s %s\n", (unsigned)(insn[i].address - (uintptr_t)tb->host),
			insn[i].mnemonic, insn[i].op_str);
	if (n)
		cs_free(insn, n);
	cs_close(&cs);
	/* A trace is read after a hang or a kill: never leave it buffered. */
	fflush(out);
}
