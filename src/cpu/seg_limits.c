/* Segment limits on data and stack accesses, as the SDM checks them in
 * protected, real and v86 mode: which loaded segments make the translation mode
 * MODE_LIMITS (where every memory access goes through the monitor), kept
 * as a bit per register in cpu->limited_segs by every writer, and
 * whether an access of some bytes at an offset stays inside its segment
 * (expand-up, expand-down by the B bit, unusable after a null load, FS
 * and GS too: the monitor's accesses through them check here, translated
 * code through cpu->seg_guard). */
#include "cpu/cpu.h"
#include "isa/descriptor.h"

#define SEG_FLAG_CODE (DESC_CODE >> 8)
#define SEG_FLAG_EXPAND_DOWN (DESC_CONFORMING >> 8)   /* the same type bit, for data */
#define SEG_FLAG_PRESENT (DESC_P >> 8)
#define SEG_FLAG_BIG (DESC_DB >> 8)

static bool is_expand_down(const struct segment *s)
{
	return !(s->flags & SEG_FLAG_CODE) && (s->flags & SEG_FLAG_EXPAND_DOWN);
}

/* A null selector loaded in protected mode leaves the register unusable
 * (check_segment loads no attributes, so P is clear); a selector value of
 * 0 left from real mode keeps its usable hidden part. */
static bool is_unusable(const struct segment *s)
{
	return !(s->flags & SEG_FLAG_PRESENT);
}

bool cpu_segment_usable(const struct segment *s)
{
	return !is_unusable(s);
}

void cpu_segment_make_usable(struct segment *s)
{
	s->flags |= SEG_FLAG_PRESENT;
}

bool cpu_segment_restricted(const struct segment *s, unsigned seg)
{
	if (seg == SEG_CS)
		return false;   /* fetches: MODE_CSLIMIT, checked by the translation */
	if (is_unusable(s))
		/* Null FS and GS are left out: a kernel switches FS between
		 * null and its per-CPU segment at every entry and exit, and
		 * 32-bit user code runs with FS null. Translated code checks
		 * them itself before each access (cpu->seg_guard). */
		return seg == SEG_DS || seg == SEG_ES;
	return is_expand_down(s) || s->limit != 0xffffffffu;
}

uint8_t cpu_limits_scan(const struct cpu *cpu)
{
	uint8_t mask = 0;
	for (unsigned seg = 0; seg < SEG_COUNT; seg++)
		if (cpu_segment_restricted(&cpu->s.seg[seg], seg))
			mask |= (uint8_t)(1u << seg);
	return mask;
}

void cpu_limits_note(struct cpu *cpu, unsigned seg)
{
	uint8_t bit = (uint8_t)(1u << seg);
	if (cpu_segment_restricted(&cpu->s.seg[seg], seg))
		cpu->limited_segs |= bit;
	else
		cpu->limited_segs &= (uint8_t)~bit;
}

void cpu_limits_resync(struct cpu *cpu)
{
	cpu->limited_segs = cpu_limits_scan(cpu);
}

bool cpu_offset_in_limit(const struct segment *s, unsigned seg, uint32_t offset, unsigned len)
{
	(void)seg;   /* every register alike: an unusable FS or GS faults too */
	if (is_unusable(s))
		return false;
	uint64_t first = offset, last = (uint64_t)offset + (len ? len - 1 : 0);
	if (!is_expand_down(s))
		return last <= s->limit;
	/* Valid offsets are above the limit, up to 0xFFFF or 0xFFFFFFFF. */
	uint64_t top = s->flags & SEG_FLAG_BIG ? 0xffffffffu : 0xffffu;
	return first > s->limit && last <= top;
}
