/* Data breakpoints (src/cpu/data_breakpoints.c) and what they do to the
 * translation mode: which DR7 settings arm one, which accesses hit (R/W,
 * LEN, the address aligned down, overlap, the top of 4 GiB), and that
 * cpu_mode is as it was without one enabled (instruction breakpoints
 * included) and MODE_LIMITS | MODE_SINGLE with one. */
#include <stdlib.h>

#include "check.h"
#include "cpu/cpu.h"
#include "isa/descriptor.h"
#include "translator/translate.h"

#define L(n) (1u << (2 * (n)))
#define G(n) (2u << (2 * (n)))
#define RW(n, rw, len) (((unsigned)(rw) | (unsigned)(len) << 2) << (16 + 4 * (n)))
enum { LEN1 = 0, LEN2 = 1, LEN8 = 2, LEN4 = 3, EXEC = 0, WRITE = 1, IO = 2, ACCESS = 3 };

/* Flat 32-bit protected mode at CPL 0, every segment 4 GiB. */
static void flat(struct cpu *cpu)
{
	cpu->s.cr0 = CR0_PE;
	for (unsigned i = 0; i < SEG_COUNT; i++)
		cpu->s.seg[i] = (struct segment){ .selector = 8, .limit = 0xffffffffu,
						  .flags = (DESC_P | DESC_DB | (2u << 8)) >> 8 };
	cpu_limits_resync(cpu);
}

static uint8_t hits_of(struct cpu *cpu, uint32_t linear, unsigned len, bool write)
{
	cpu->data_hits = 0;
	cpu_data_access(cpu, linear, len, write);
	return cpu->data_hits;
}

int main(void)
{
	struct cpu *cpu = calloc(1, sizeof(*cpu));
	if (!cpu)
		return 1;
	flat(cpu);
	cpu->s.dr[7] = 0x400;
	uint32_t plain = cpu_mode(cpu);
	CHECK(!(plain & (MODE_LIMITS | MODE_SINGLE)));

	/* Armed: R/W 01 or 11 with L or G; not R/W 00 or 10, nor without. */
	cpu->s.dr[7] = 0x400 | L(0) | RW(0, EXEC, LEN1) | G(1) | RW(1, IO, LEN4);
	CHECK_EQ(cpu_data_breakpoints(cpu), 0);
	CHECK_EQ(cpu_mode(cpu), plain);
	cpu->s.dr[7] = 0x400 | RW(2, WRITE, LEN4) | RW(3, ACCESS, LEN4) | 0x300;   /* LE, GE only */
	CHECK_EQ(cpu_data_breakpoints(cpu), 0);
	CHECK_EQ(cpu_mode(cpu), plain);
	CHECK_EQ(hits_of(cpu, 0, 4, true), 0);
	cpu->s.dr[7] |= L(2) | G(3);
	CHECK_EQ(cpu_data_breakpoints(cpu), 0xc);
	CHECK_EQ(cpu_mode(cpu), plain | MODE_LIMITS | MODE_SINGLE);

	/* LEN: 1, 2, 8, 4 bytes from the address aligned down. */
	static const struct { unsigned len, size; } lens[] = { { LEN1, 1 }, { LEN2, 2 }, { LEN8, 8 }, { LEN4, 4 } };
	for (unsigned i = 0; i < 4; i++) {
		cpu->s.dr[0] = 0x1000 + lens[i].size - 1;   /* inside, unaligned for 2+ */
		cpu->s.dr[7] = 0x400 | L(0) | RW(0, WRITE, lens[i].len);
		uint32_t at = 0x1000;
		CHECK_EQ(hits_of(cpu, at - 1, 1, true), 0);
		CHECK_EQ(hits_of(cpu, at, 1, true), 1);
		CHECK_EQ(hits_of(cpu, at + lens[i].size - 1, 1, true), 1);
		CHECK_EQ(hits_of(cpu, at + lens[i].size, 4, true), 0);
		CHECK_EQ(hits_of(cpu, at - 3, 4, true), 1);   /* overlaps the first byte */
		CHECK_EQ(hits_of(cpu, at - 4, 4, true), 0);
		CHECK_EQ(hits_of(cpu, at, 4, false), 0);      /* R/W 01: reads pass */
	}

	/* R/W 11 takes reads; two at once; the top of 4 GiB does not wrap. */
	cpu->s.dr[1] = 0x2000;
	cpu->s.dr[2] = 0x2002;
	cpu->s.dr[3] = 0xfffffffcu;
	cpu->s.dr[7] = 0x400 | G(1) | RW(1, ACCESS, LEN4) | L(2) | RW(2, ACCESS, LEN1) |
		       L(3) | RW(3, ACCESS, LEN4);
	CHECK_EQ(hits_of(cpu, 0x2000, 4, false), 0x6);
	CHECK_EQ(hits_of(cpu, 0x2003, 1, false), 0x2);
	CHECK_EQ(hits_of(cpu, 0xffffffffu, 1, true), 0x8);
	CHECK_EQ(hits_of(cpu, 0, 4, true), 0);
	free(cpu);
	return check_report("test_data_breakpoints");
}
