/* Descriptor loads from the guest GDT/LDT with the protection checks of
 * segment register loads, and delivery of exceptions and interrupts
 * through the guest IDT, with the stack switch (from the TSS) to a more
 * privileged handler; in real mode through the IVT (realmode.c). */
#include <string.h>

#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "cpu/task_switch.h"
#include "isa/descriptor.h"
#include "isa/insn.h"
#include "isa/msr.h"
#include "mmu/shadow.h"
#include "mmu/window.h"

bool cpu_read_descriptor(struct cpu *cpu, uint16_t selector, uint32_t *lo, uint32_t *hi)
{
	uint32_t base, limit;
	if (selector & 4) {
		base = cpu->s.ldtr.base;
		limit = cpu->s.ldtr.limit;
	} else {
		base = cpu->s.gdtr.base;
		limit = cpu->s.gdtr.limit;
	}
	uint32_t off = selector & ~7u;
	if (off + 7 > limit)
		return false;
	uint32_t d[2];
	if (!cpu_read_sys(cpu, base + off, d, 8))
		return false;
	*lo = d[0];
	*hi = d[1];
	return true;
}

/* Sets the accessed bit of the code or data descriptor sel names, as a
 * load that finds it clear does (the SDM's locked write of the
 * descriptor's type byte, as the processor's implicit supervisor
 * access); *hi gets the bit. False with a #PF pending when the table's
 * page is not writable. */
static bool mark_accessed(struct cpu *cpu, uint16_t sel, uint32_t *hi)
{
	if (*hi & DESC_ACCESSED)
		return true;
	uint32_t table = sel & 4 ? cpu->s.ldtr.base : cpu->s.gdtr.base;
	uint8_t type_byte = (uint8_t)((*hi | DESC_ACCESSED) >> 8);
	if (!cpu_write_sys(cpu, table + (sel & ~7u) + 5, &type_byte, 1))
		return false;
	*hi |= DESC_ACCESSED;
	return true;
}

/* cpu_check_segment, giving also the descriptor's bytes (0 for a null
 * selector). */
static int check_segment(struct cpu *cpu, uint16_t sel, enum seg_use use, unsigned cpl,
			 struct segment *out, uint64_t *desc)
{
	unsigned rpl = sel & 3u;
	uint32_t lo, hi;
	*desc = 0;
	if (!(sel & ~3u)) {
		/* A null selector may sit in a data segment register (its
		 * use faults: seg_limits.c, for DS and ES); CS and SS must
		 * name a segment. */
		if (use != SEG_USE_DATA)
			return EXC_GP;
		*out = (struct segment){ .selector = sel };
		return 0;
	}
	if (!cpu_read_descriptor(cpu, sel, &lo, &hi) || !(hi & DESC_S))
		return EXC_GP;
	*desc = (uint64_t)hi << 32 | lo;
	unsigned dpl = DESC_DPL(hi);
	bool code = hi & DESC_CODE, conforming = code && (hi & DESC_CONFORMING);
	switch (use) {
	case SEG_USE_DATA:
		/* Data or readable code; conforming code is open to every level,
		 * anything else only to levels (CPL and RPL) at least as
		 * privileged as its DPL. */
		if (code && !(hi & DESC_READABLE))
			return EXC_GP;
		if (!conforming && (dpl < cpl || dpl < rpl))
			return EXC_GP;
		break;
	case SEG_USE_STACK:
		if (code || !(hi & DESC_WRITABLE) || rpl != cpl || dpl != cpl)
			return EXC_GP;
		break;
	case SEG_USE_JUMP:
		/* Conforming code runs at the caller's level, so any DPL up to
		 * it will do; other code only at exactly its DPL. Either way
		 * CS.RPL becomes the CPL. */
		if (!code || (conforming ? dpl > cpl : rpl > cpl || dpl != cpl))
			return EXC_GP;
		rpl = cpl;
		break;
	case SEG_USE_RETURN:
		if (!code || rpl < cpl || (conforming ? dpl > rpl : dpl != rpl))
			return EXC_GP;
		break;
	case SEG_USE_GATE:
		/* The handler runs at its DPL, unless conforming. */
		if (!code || dpl > cpl)
			return EXC_GP;
		rpl = conforming ? cpl : dpl;
		break;
	}
	if (!(hi & DESC_P))
		return use == SEG_USE_STACK ? EXC_SS : EXC_NP;
	if (!mark_accessed(cpu, sel, &hi))
		return EXC_GP;   /* the pending #PF takes its place */
	*desc = (uint64_t)hi << 32 | lo;
	*out = (struct segment){
		.selector = (uint16_t)((sel & ~3u) | rpl),
		.base = desc_base(lo, hi),
		.limit = desc_limit(lo, hi),
		.flags = desc_flags(hi),
	};
	return 0;
}

int cpu_check_segment(struct cpu *cpu, uint16_t sel, enum seg_use use, unsigned cpl,
		      struct segment *out)
{
	uint64_t desc;
	return check_segment(cpu, sel, use, cpl, out, &desc);
}

/* A data segment register's row in cpu->seg_loads, or -1. */
static int seg_load_row(unsigned seg)
{
	static const int8_t row[SEG_COUNT] = { [SEG_ES] = 0, [SEG_CS] = -1, [SEG_SS] = -1,
					       [SEG_DS] = 1, [SEG_FS] = 2, [SEG_GS] = 3 };
	return row[seg];
}

void cpu_seg_cache_clear(struct cpu *cpu)
{
	cpu->verw_cache.selector = CPU_SEG_CACHE_NONE;
	for (unsigned r = 0; r < 4; r++)
		for (unsigned w = 0; w < CPU_SEG_LOAD_WAYS; w++)
			cpu->seg_loads[r][w].key.selector = CPU_SEG_CACHE_NONE;
}

void cpu_set_segment(struct cpu *cpu, unsigned seg, const struct segment *s)
{
	cpu->s.seg[seg] = *s;
	cpu->seg_base[seg] = s->base;
	cpu_limits_note(cpu, seg);
	if (seg == SEG_CS && !cpu_real_mode(cpu)) {
		/* v86 mode runs at CPL 3 whatever CS's low bits. */
		cpu->s.cpl = cpu_v86_mode(cpu) ? 3 : s->selector & 3u;
		/* Blocks at CPL 1 and 2 are translated as CPL 0's, where the
		 * cached loads would skip the DPL checks against the CPL. */
		if (cpu->s.cpl == 1 || cpu->s.cpl == 2)
			cpu_seg_cache_clear(cpu);
	}
}

/* Remembers a load at CPL 0 of a data segment register for translated
 * loads of the same selector (seg_loads): the most recent first. A load
 * from the LDT is not kept (LLDT would have to clear them), nor a DS or
 * ES that is not flat, nor a segment a MODE_LIMITS block checks (a hit
 * must not change the block's mode), nor a descriptor at linear address
 * 0 (the null selector's mark). */
static void remember_load(struct cpu *cpu, unsigned seg, const struct segment *s, uint64_t desc)
{
	int row = seg_load_row(seg);
	uint16_t sel = s->selector;
	bool null = !(sel & ~3u);
	uint32_t addr = null ? 0 : cpu->s.gdtr.base + (sel & ~7u);
	if (row < 0 || cpu->s.cpl != 0 || (sel & 4) || (!null && addr == 0) ||
	    ((seg == SEG_DS || seg == SEG_ES) && s->base != 0) || cpu_segment_restricted(s, seg))
		return;
	struct seg_load *ways = cpu->seg_loads[row];
	if (ways[0].key.selector != sel)
		ways[1] = ways[0];
	ways[0] = (struct seg_load){ .key = { .selector = sel, .addr = addr, .desc = desc }, .seg = *s };
}

int cpu_load_segment(struct cpu *cpu, unsigned seg, uint16_t selector)
{
	if (cpu_real_mode(cpu)) {
		cpu_real_load(cpu, seg, selector);
		return 0;
	}
	if (cpu_v86_mode(cpu)) {
		cpu_v86_load(cpu, seg, selector);
		return 0;
	}
	enum seg_use use = seg == SEG_CS ? SEG_USE_JUMP : seg == SEG_SS ? SEG_USE_STACK : SEG_USE_DATA;
	struct segment s;
	uint64_t desc;
	int vec = check_segment(cpu, selector, use, cpu->s.cpl, &s, &desc);
	if (vec)
		return vec;
	cpu_set_segment(cpu, seg, &s);
	remember_load(cpu, seg, &s, desc);
	return 0;
}

void cpu_null_inner_segments(struct cpu *cpu)
{
	static const unsigned segs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
	for (unsigned i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		struct segment *s = &cpu->s.seg[segs[i]];
		uint32_t hi = (uint32_t)s->flags << 8;
		bool conforming_code = (hi & DESC_CODE) && (hi & DESC_CONFORMING);
		if ((s->selector & ~3u) && !conforming_code && DESC_DPL(hi) < cpu->s.cpl) {
			*s = (struct segment){ 0 };
			cpu->seg_base[segs[i]] = 0;
			cpu_limits_note(cpu, segs[i]);
		}
	}
}

bool cpu_take_page_fault(struct cpu *cpu, uint32_t *error)
{
	if (!cpu->pf.pending)
		return false;
	cpu->pf.pending = false;
	cpu->s.cr2 = cpu->pf.cr2;
	*error = cpu->pf.error;
	cpu->sh->stats.true_faults++;   /* the monitor's access: no host fault counted it */
	return true;
}

/* The stack a handler at the more privileged level cpl starts on: SSn:ESPn
 * from the current TSS (32-bit: ESPn at 4 + 8n, SSn after it; 16-bit: SPn
 * at 2 + 4n), read as the processor's implicit supervisor access and
 * checked as the SDM's interrupt delivery does: #TS(TSS) beyond its limit,
 * #TS(SS) for a selector that is no stack for that level, #SS(SS) when
 * not present. ext is the error codes' EXT bit. */
unsigned cpu_inner_stack(struct cpu *cpu, unsigned cpl, uint32_t ext, struct segment *ss,
			 uint32_t *esp, uint32_t *error)
{
	const struct segment *tr = &cpu->s.tr;
	bool tss32 = (tr->flags & 8u) != 0;   /* type bit 3: the 32-bit TSS types 9, 11 */
	unsigned esp_len = tss32 ? 4 : 2;
	uint32_t at = tss32 ? 4 + 8 * cpl : 2 + 4 * cpl;
	*error = (tr->selector & 0xfffcu) | ext;
	if (!(tr->selector & ~3u) || at + esp_len + 1 > tr->limit)
		return EXC_TS;
	uint32_t v = 0;
	uint16_t sel;
	if (!cpu_read_sys(cpu, tr->base + at, &v, esp_len) ||
	    !cpu_read_sys(cpu, tr->base + at + esp_len, &sel, 2))
		return EXC_TS;
	*error = (sel & 0xfffcu) | ext;
	int vec = cpu_check_segment(cpu, sel, SEG_USE_STACK, cpl, ss);
	if (vec)
		return vec == EXC_SS ? EXC_SS : EXC_TS;
	*esp = v;
	return 0;
}

/* One attempt at delivering vector through the IDT. Returns 0, or the
 * exception the attempt itself raised with its error code in *fault_error
 * (a #PF it met is left pending for the caller). Guest state changes only
 * when the delivery succeeds. */
static unsigned deliver_once(struct cpu *cpu, unsigned vector, bool has_error, uint32_t error,
			     bool software, uint32_t *fault_error)
{
	/* EXT: the event came from outside the program (not INT n/INT3/INTO). */
	uint32_t ext = software ? 0 : 1;
	if (cpu_real_mode(cpu)) {
		*fault_error = 0;
		return cpu_deliver_real(cpu, vector);
	}
	uint32_t gate[2];
	*fault_error = vector * 8 + 2 + ext;   /* IDT entry: an IDT reference */
	if (vector * 8 + 7 > cpu->s.idtr.limit || !cpu_read_sys(cpu, cpu->s.idtr.base + vector * 8, gate, 8))
		return EXC_GP;
	/* Interrupt and trap gates of 16 or 32 bits, task gates. */
	unsigned type = (gate[1] >> 8) & 0x1f;
	bool gate32 = type == 0x0e || type == 0x0f;
	if (!gate32 && type != 0x06 && type != 0x07 && type != SYS_TASK_GATE)
		return EXC_GP;
	/* A program may only call the gates its privilege level may use; the
	 * processor's own events ignore the gate's DPL. */
	if (software && DESC_DPL(gate[1]) < cpu->s.cpl)
		return EXC_GP;
	if (!(gate[1] & DESC_P))
		return EXC_NP;
	if (type == SYS_TASK_GATE)
		return task_gate_event(cpu, (uint16_t)(gate[0] >> 16), has_error, error, ext,
				       fault_error);
	uint16_t sel = (uint16_t)(gate[0] >> 16);
	uint32_t offset = (gate[0] & 0xffff) | (gate32 ? gate[1] & 0xffff0000 : 0);
	struct segment cs, ss = cpu->s.seg[SEG_SS];
	int vec = cpu_check_segment(cpu, sel, SEG_USE_GATE, cpu->s.cpl, &cs);
	if (vec) {
		*fault_error = (sel & 0xfffcu) | ext;
		return vec == EXC_NP ? EXC_NP : EXC_GP;
	}
	unsigned new_cpl = cs.selector & 3u;
	/* From v86 mode only to non-conforming ring-0 code (SDM INT n,
	 * INTERRUPT-FROM-VIRTUAL-8086-MODE), which also gets the data
	 * segment registers pushed, above the outer SS. */
	bool v86 = cpu_v86_mode(cpu);
	if (v86 && new_cpl != 0) {
		*fault_error = (sel & 0xfffcu) | ext;
		return EXC_GP;
	}
	bool inward = new_cpl < cpu->s.cpl;
	uint32_t eflags = cpu_get_eflags(cpu);
	uint32_t esp = cpu->regs[REG_ESP];
	/* The frame from its lowest address: error code, EIP, CS, EFLAGS and,
	 * when the handler is more privileged, the interrupted SS:ESP. */
	uint32_t frame[10];
	unsigned n = 0;
	if (has_error)
		frame[n++] = error;
	frame[n++] = cpu->s.eip;
	frame[n++] = cpu->s.seg[SEG_CS].selector;
	frame[n++] = eflags;
	if (inward) {
		frame[n++] = esp;
		frame[n++] = cpu->s.seg[SEG_SS].selector;
		if (v86) {
			frame[n++] = cpu->s.seg[SEG_ES].selector;
			frame[n++] = cpu->s.seg[SEG_DS].selector;
			frame[n++] = cpu->s.seg[SEG_FS].selector;
			frame[n++] = cpu->s.seg[SEG_GS].selector;
		}
		unsigned f = cpu_inner_stack(cpu, new_cpl, ext, &ss, &esp, fault_error);
		if (f)
			return f;
	}
	/* A 16-bit gate pushes the low words. The inner stack is written
	 * with the handler's (supervisor) privilege; a same-level frame with
	 * the current one. Either way through SP alone when that stack's B
	 * bit is clear. */
	unsigned width = gate32 ? 4 : 2;
	/* The handler's offset past its CS's limit: #GP(EXT) (SDM INT n,
	 * "IF instruction pointer not within code segment limit"), before
	 * the frame is written; one that also fails the stack's room gets
	 * #GP here where the SDM checks the room first. */
	if (offset > cs.limit) {
		*fault_error = ext;
		return EXC_GP;
	}
	uint8_t bytes[sizeof(frame)];
	for (unsigned i = 0; i < n; i++)
		memcpy(bytes + width * i, &frame[i], width);
	if (!cpu_stack_push(cpu, &ss, &esp, bytes, width * n, inward)) {
		*fault_error = inward ? (ss.selector & 0xfffcu) | ext : ext;
		return EXC_SS;
	}
	/* EFLAGS first: VM clear makes the CS load set the handler's CPL. */
	uint32_t clear = EFLAGS_TF | EFLAGS_NT | EFLAGS_RF | EFLAGS_VM;
	if (!(type & 1))   /* an interrupt gate, not a trap gate */
		clear |= EFLAGS_IF;
	cpu_set_eflags(cpu, eflags & ~clear, ~0u);
	if (inward)
		cpu_set_segment(cpu, SEG_SS, &ss);
	cpu_set_segment(cpu, SEG_CS, &cs);
	if (v86) {
		static const struct segment null_segment;
		static const unsigned data[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
		for (unsigned i = 0; i < sizeof(data) / sizeof(data[0]); i++)
			cpu_set_segment(cpu, data[i], &null_segment);
	}
	cpu->regs[REG_ESP] = esp;
	cpu->s.eip = offset;
	return 0;
}

static bool vector_has_error(unsigned vector)
{
	return vector == EXC_DF || (vector >= EXC_TS && vector <= EXC_PF) || vector == EXC_AC;
}

static bool contributory(unsigned vector)
{
	return vector == EXC_DE || (vector >= EXC_TS && vector <= EXC_GP);
}

/* The fault-class exceptions (SDM Table 6-1): their EFLAGS image has RF
 * set (SDM 17.3.1.1), so that the IRET back restarts the instruction
 * without its instruction breakpoint firing again. #DB is left out: the
 * instruction breakpoint's shows RF as it is (clear), the single step's is
 * a trap, and DR7.GD's sets RF itself (callout.c); #DF is an abort. */
static bool fault_class(unsigned vector)
{
	switch (vector) {
	case EXC_DE: case EXC_BR: case EXC_UD: case EXC_NM: case EXC_TS: case EXC_NP:
	case EXC_SS: case EXC_GP: case EXC_PF: case EXC_MF: case EXC_AC: case EXC_XM:
		return true;
	default:
		return false;
	}
}

static void deliver_with_faults(struct cpu *cpu, unsigned vector, bool has_error, uint32_t error,
				bool software, bool external)
{
	cpu->halted = false;
	cpu->deliveries++;
	/* A debug exception (single step, ICEBP, the T bit; not INT 1)
	 * clears LBR and BTF (SDM vol. 3B, 17.4.1): a debugger sets BTF
	 * again before each resume. */
	if (vector == EXC_DB && !software)
		cpu->s.msrs.debugctl &= ~(DEBUGCTL_LBR | DEBUGCTL_BTF);
	/* At most: the event, a fault delivering it, #DF, then shutdown. */
	for (int depth = 0; depth < 4; depth++) {
		uint32_t ferr;
		/* Whatever an earlier access left pending is not this attempt's. */
		cpu->pf.pending = false;
		cpu->task_switched = false;
		/* A fault's image has RF set; a trap's or an interrupt's shows RF
		 * as it is: set only when the instruction RF was loaded for has
		 * not completed (run.c) or a REP string stopped between
		 * iterations. Delivery clears it. */
		if (!software && !external && fault_class(vector))
			cpu->s.eflags |= EFLAGS_RF;
		unsigned fvec = deliver_once(cpu, vector, has_error, error, software, &ferr);
		if (!fvec)
			return;
		/* A table or stack access of the delivery hit a page fault. */
		if (cpu_take_page_fault(cpu, &ferr))
			fvec = EXC_PF;
		/* INT n, INT3 and INTO are software interrupts, not exceptions:
		 * whatever their vector, a fault delivering one is taken as a
		 * fault of the INT instruction, never as the second event of a
		 * double fault (INT 8 from ring 3 through a gate of DPL 0 is
		 * #GP, as on a PC; it was a triple fault here, and INT 13 or 14
		 * a #DF: hostile_random found it). */
		bool first_is_exception = !software && !external;
		if (vector == EXC_DF && first_is_exception)
			break;
		/* A software interrupt that cannot be delivered faults at the
		 * INT instruction itself (unless a task switch got past its
		 * commit point: the new task's EIP stays). */
		if (software && !cpu->task_switched)
			cpu->s.eip = cpu->soft_int_eip;
		software = external = false;
		/* SDM "Conditions for Generating a Double Fault". */
		bool dbl = first_is_exception &&
			   ((contributory(vector) && contributory(fvec)) ||
			    (vector == EXC_PF && (fvec == EXC_PF || contributory(fvec))));
		vector = dbl ? EXC_DF : fvec;
		error = dbl ? 0 : ferr;
		has_error = vector_has_error(vector);
	}
	cpu->fatal = "triple fault: the guest could not take a double fault";
	cpu->triple_fault = true;
}

/* A GDT holds at most this many TSS descriptors: the bound of a chain of
 * T-bit traps (below). */
#define GDT_MAX_ENTRIES 8192u

void cpu_deliver_task_trap(struct cpu *cpu)
{
	/* A #DB through a task gate may enter another task with T set, and
	 * so on, but each such switch leaves its TSS busy (an event's switch
	 * nests), so a second one into the same TSS faults instead: the
	 * chain ends within the GDT's entries. */
	for (unsigned n = 0; cpu->task_trap && !cpu->fatal && n < GDT_MAX_ENTRIES; n++) {
		cpu->task_trap = false;
		cpu->s.dr[6] |= DR6_BT;
		deliver_with_faults(cpu, EXC_DB, false, 0, false, false);
	}
	cpu->task_trap = false;
}

static void deliver_event(struct cpu *cpu, unsigned vector, bool has_error, uint32_t error,
			  bool software, bool external)
{
	deliver_with_faults(cpu, vector, has_error, error, software, external);
	cpu_deliver_task_trap(cpu);
}

void cpu_deliver(struct cpu *cpu, unsigned vector, bool has_error, uint32_t error, bool software)
{
	deliver_event(cpu, vector, has_error, error, software, false);
}

void cpu_deliver_external(struct cpu *cpu, unsigned vector)
{
	deliver_event(cpu, vector, false, 0, false, true);
}

int cpu_fpu_unavailable(const struct cpu *cpu, const ZydisDecodedInstruction *in,
			const ZydisDecodedOperand *ops)
{
	uint32_t cr0 = cpu->s.cr0;
	if (!insn_uses_fpu(in))
		return -1;
	/* WAIT looks only at TS, and only when MP says the FPU is shared. */
	if (in->mnemonic == ZYDIS_MNEMONIC_FWAIT)
		return (cr0 & (CR0_TS | CR0_MP)) == (CR0_TS | CR0_MP) ? EXC_NM : -1;
	bool x87 = in->meta.isa_ext == ZYDIS_ISA_EXT_X87 || in->mnemonic == ZYDIS_MNEMONIC_FXSAVE ||
		   in->mnemonic == ZYDIS_MNEMONIC_FXRSTOR;
	if (cr0 & CR0_EM)
		return x87 ? EXC_NM : EXC_UD;
	/* The SDM's order: EM's #UD, then OSFXSR's, then TS's #NM. */
	if (!(cpu->s.cr4 & CR4_OSFXSR) && insn_needs_osfxsr(in, ops))
		return EXC_UD;
	return (cr0 & CR0_TS) ? EXC_NM : -1;
}
