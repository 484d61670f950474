/* Hardware task switching (SDM vol. 3, ch. 7) between TSSs of 32 or 16
 * bits: the checks of the target TSS, the old task's dynamic state saved,
 * the busy bits, the back link and NT, CR0.TS, and the new task's state
 * loaded with its segment checks after the commit point (or as
 * virtual-8086 mode loads them, for a task whose EFLAGS has VM); and the
 * delivery of an event through a task gate of the IDT. The callers (far
 * CALL and JMP, IRET with NT, event delivery) check gates and raise what
 * this returns. */
#include <string.h>

#include "cpu/task_switch.h"
#include "isa/descriptor.h"

enum { TSS_LINK = 0x00, TSS32_CR3 = 0x1c, TSS32_T = 0x64, TSS32_MIN_LIMIT = 0x67 };

/* Where a TSS keeps what a switch saves and loads: EIP, EFLAGS, the eight
 * general registers and the segment selectors from ES on (in the order
 * of enum guest_seg), each field as wide as the TSS; then the LDT
 * selector. A 16-bit TSS has no FS, GS or CR3. */
struct tss_layout {
	uint32_t eip, eflags, regs, segs, ldt;
	unsigned width, nsegs, min_limit;
};
static const struct tss_layout tss32 = { 0x20, 0x24, 0x28, 0x48, 0x60, 4, SEG_COUNT, TSS32_MIN_LIMIT };
static const struct tss_layout tss16 = { 0x0e, 0x10, 0x12, 0x22, 0x2a, 2, 4, 0x2b };

/* The layout of a TSS descriptor's type (bit 3: 32-bit). */
static const struct tss_layout *layout_of(unsigned type)
{
	return type & 8 ? &tss32 : &tss16;
}

static bool is_tss_type(unsigned type, bool busy)
{
	return busy ? type == SYS_TSS32_BUSY || type == SYS_TSS16_BUSY
		    : type == SYS_TSS32 || type == SYS_TSS16;
}

/* A field of width bytes at off in a TSS image, zero-extended. */
static uint32_t field(const uint8_t *img, uint32_t off, unsigned width)
{
	uint32_t v = 0;
	memcpy(&v, img + off, width);
	return v;
}

unsigned task_target(struct cpu *cpu, uint16_t tss_sel, bool busy, unsigned bad_vector,
		     uint32_t ext, uint32_t *lo, uint32_t *hi, uint32_t *error)
{
	*error = (tss_sel & 0xfffcu) | ext;
	if ((tss_sel & 4) || !(tss_sel & ~3u) || !cpu_read_descriptor(cpu, tss_sel, lo, hi))
		return bad_vector;
	if ((*hi & DESC_S) || !is_tss_type(DESC_TYPE(*hi), busy))
		return bad_vector;
	return *hi & DESC_P ? 0 : EXC_NP;
}

/* Sets or clears the busy bit of the TSS descriptor sel names in the GDT. */
static bool set_busy(struct cpu *cpu, uint16_t sel, bool busy)
{
	uint32_t at = cpu->s.gdtr.base + (sel & ~7u) + 4, hi;
	if (!cpu_read_sys(cpu, at, &hi, 4))
		return false;
	hi = busy ? hi | DESC_TSS_BUSY : hi & ~DESC_TSS_BUSY;
	return cpu_write_sys(cpu, at, &hi, 4);
}

/* The new task's LDTR: null, or an LDT descriptor of the GDT; every
 * failure is #TS(selector). */
static unsigned load_ldtr(struct cpu *cpu, uint16_t sel, uint32_t ext, uint32_t *error)
{
	uint32_t lo, hi;
	*error = (sel & 0xfffcu) | ext;
	if (!(sel & ~3u)) {
		cpu->s.ldtr = (struct segment){ .selector = sel };
		return 0;
	}
	if ((sel & 4) || !cpu_read_descriptor(cpu, sel, &lo, &hi) || (hi & DESC_S) ||
	    DESC_TYPE(hi) != SYS_LDT || !(hi & DESC_P))
		return EXC_TS;
	cpu->s.ldtr = (struct segment){ .selector = sel, .base = desc_base(lo, hi),
					.limit = desc_limit(lo, hi), .flags = desc_flags(hi) };
	return 0;
}

/* The new task's segment registers, checked at the CPL its CS selector
 * gives, in QEMU's order (CS, SS, ES, DS, FS, GS; the SDM lists the
 * checks, not their order): a selector that names no fit descriptor is
 * #TS, one not present #NP (#SS for SS). Each register already holds its
 * selector with an empty descriptor, as after a fault here. */
static unsigned load_segments(struct cpu *cpu, const uint16_t *sel, uint32_t ext, uint32_t *error)
{
	static const unsigned order[SEG_COUNT] = { SEG_CS, SEG_SS, SEG_ES, SEG_DS, SEG_FS, SEG_GS };
	unsigned cpl = sel[SEG_CS] & 3u;
	for (unsigned i = 0; i < SEG_COUNT; i++) {
		unsigned seg = order[i];
		enum seg_use use = seg == SEG_CS ? SEG_USE_RETURN : seg == SEG_SS ? SEG_USE_STACK : SEG_USE_DATA;
		struct segment s;
		*error = (sel[seg] & 0xfffcu) | ext;
		int vec = cpu_check_segment(cpu, sel[seg], use, cpl, &s);
		if (vec == EXC_NP || vec == EXC_SS)
			return (unsigned)vec;
		if (vec)
			return EXC_TS;
		cpu_set_segment(cpu, seg, &s);
	}
	return 0;
}

/* Writes the old task's EIP, EFLAGS, general and segment registers into
 * its TSS, in the TSS's width (32-bit selector fields' upper words are
 * left as they are). */
static bool save_old_task(struct cpu *cpu, const struct tss_layout *l, uint32_t eip, uint32_t eflags)
{
	uint8_t dyn[0x60];
	uint32_t base = cpu->s.tr.base, len = l->segs + l->width * l->nsegs - l->eip;
	if (!cpu_read_sys(cpu, base + l->eip, dyn, len))
		return false;
	memcpy(dyn, &eip, l->width);
	memcpy(dyn + l->eflags - l->eip, &eflags, l->width);
	for (unsigned r = 0; r < REG_COUNT; r++)
		memcpy(dyn + l->regs - l->eip + l->width * r, &cpu->regs[r], l->width);
	for (unsigned seg = 0; seg < l->nsegs; seg++)
		memcpy(dyn + l->segs - l->eip + l->width * seg, &cpu->s.seg[seg].selector, 2);
	return cpu_write_sys(cpu, base + l->eip, dyn, len);
}

unsigned cpu_task_switch(struct cpu *cpu, uint16_t sel, uint32_t lo, uint32_t hi,
			 enum task_switch_kind kind, uint32_t old_eip, uint32_t ext,
			 uint32_t *error)
{
	cpu->task_switched = false;
	cpu->task_trap = false;
	*error = (sel & 0xfffcu) | ext;
	const struct tss_layout *l = layout_of(DESC_TYPE(hi));
	uint32_t base = desc_base(lo, hi), limit = desc_limit(lo, hi);
	if (limit < l->min_limit)
		return EXC_TS;
	/* The current task's TSS must be one too, large enough for what is
	 * saved there. */
	const struct segment *tr = &cpu->s.tr;
	unsigned old_type = tr->flags & 0x1f;
	const struct tss_layout *old_l = layout_of(old_type);
	if (!(tr->selector & ~3u) || !is_tss_type(old_type, true) || tr->limit < old_l->min_limit)
		return kind == TASK_SWITCH_IRET ? EXC_TS : EXC_GP;
	uint8_t img[TSS32_MIN_LIMIT + 1];
	if (!cpu_read_sys(cpu, base, img, l->min_limit + 1))
		return EXC_TS;
	/* A 16-bit TSS loads the low words: EFLAGS' and the registers' upper
	 * halves stay (as QEMU has it), FS and GS become null. */
	uint32_t new_eip = field(img, l->eip, l->width), new_regs[REG_COUNT];
	uint32_t keep = l->width == 4 ? 0 : 0xffff0000u;
	uint32_t new_eflags = (cpu_get_eflags(cpu) & keep) | field(img, l->eflags, l->width);
	for (unsigned r = 0; r < REG_COUNT; r++)
		new_regs[r] = (cpu->regs[r] & keep) | field(img, l->regs + l->width * r, l->width);
	uint16_t new_sel[SEG_COUNT] = { 0 }, new_ldt = (uint16_t)field(img, l->ldt, 2);
	for (unsigned seg = 0; seg < l->nsegs; seg++)
		new_sel[seg] = (uint16_t)field(img, l->segs + l->width * seg, 2);
	/* A 16-bit TSS's FLAGS word has no VM. */
	bool v86 = l->width == 4 && (new_eflags & EFLAGS_VM);

	/* The old task: its state, NT cleared in the image IRET leaves it
	 * with, and its busy bit cleared unless it is nested (CALL, event). */
	uint32_t old_eflags = cpu_get_eflags(cpu);
	if (kind == TASK_SWITCH_IRET)
		old_eflags &= ~EFLAGS_NT;
	uint16_t old_sel = tr->selector;
	if (!save_old_task(cpu, old_l, old_eip, old_eflags))
		return EXC_TS;
	if ((kind == TASK_SWITCH_JMP || kind == TASK_SWITCH_IRET) && !set_busy(cpu, old_sel, false))
		return EXC_TS;
	if (kind == TASK_SWITCH_CALL || kind == TASK_SWITCH_EVENT) {
		new_eflags |= EFLAGS_NT;
		if (!cpu_write_sys(cpu, base + TSS_LINK, &old_sel, 2))
			return EXC_TS;
	}
	if (kind != TASK_SWITCH_IRET) {
		if (!set_busy(cpu, sel, true))
			return EXC_TS;
		hi |= DESC_TSS_BUSY;
	}

	/* The commit point: TR names the new task, whatever fails from here
	 * on is a fault of the new task. */
	cpu->task_switched = true;
	cpu->s.tr = (struct segment){ .selector = sel, .base = base, .limit = limit,
				      .flags = desc_flags(hi) };
	uint32_t old_cr0 = cpu->s.cr0, old_cr4 = cpu->s.cr4;
	bool pdptes_ok = true;
	cpu->s.cr0 |= CR0_TS;
	if ((cpu->s.cr0 & CR0_PG) && l->width == 4) {
		/* As MOV CR3 does: the shadow follows the new address space,
		 * and under PAE the new PDPTEs are loaded (SDM 4.4.1: one with
		 * a reserved bit set is #GP(0), here in the new task). */
		uint32_t new_cr3 = field(img, TSS32_CR3, 4);
		pdptes_ok = cpu_load_pdptes(cpu, 3, cpu->s.cr0, new_cr3, cpu->s.cr4);
		cpu->s.cr3 = new_cr3;
		cpu_paging_changed(cpu, old_cr0, old_cr4);
	}
	/* Local breakpoints belong to the task (L0-L3 of DR7). */
	uint32_t old_dr[4], old_dr7 = cpu->s.dr[7];
	memcpy(old_dr, cpu->s.dr, sizeof(old_dr));
	cpu->s.dr[7] &= ~0x55u;
	cpu_debug_registers_changed(cpu, old_dr, old_dr7);
	cpu_set_eflags(cpu, new_eflags, ~0u);
	cpu->s.eip = new_eip;
	memcpy(cpu->regs, new_regs, sizeof(new_regs));
	for (unsigned seg = 0; seg < SEG_COUNT; seg++) {
		cpu->s.seg[seg] = (struct segment){ .selector = new_sel[seg] };
		cpu->seg_base[seg] = 0;
	}
	cpu_limits_resync(cpu);
	cpu->s.cpl = v86 ? 3u : new_sel[SEG_CS] & 3u;
	cpu_seg_cache_clear(cpu);
	unsigned vec = load_ldtr(cpu, new_ldt, ext, error);
	/* A task in virtual-8086 mode (SDM 7.3, 20.2.1): every selector
	 * loads as in v86 mode (base selector * 16, no checks), at CPL 3. */
	for (unsigned seg = 0; !vec && v86 && seg < SEG_COUNT; seg++)
		cpu_v86_load(cpu, seg, new_sel[seg]);
	if (!vec && !v86)
		vec = load_segments(cpu, new_sel, ext, error);
	if (!vec && !pdptes_ok) {
		*error = 0;
		return EXC_GP;
	}
	/* The new EIP past the new CS's limit: #GP(0) in the new task (the
	 * SDM's TASK-SWITCH in JMP and CALL). */
	if (!vec && cpu->s.eip > cpu->s.seg[SEG_CS].limit) {
		*error = 0;
		return EXC_GP;
	}
	/* The debug trap flag of a 32-bit TSS (16-bit ones have none): a
	 * #DB with DR6.BT once the switch is complete (SDM 7.3 step 12,
	 * 17.2.3), not after a fault of the new task. */
	cpu->task_trap = !vec && l->width == 4 && (img[TSS32_T] & 1);
	return vec;
}

unsigned task_gate_event(struct cpu *cpu, uint16_t tss_sel, bool has_error, uint32_t error,
			 uint32_t ext, uint32_t *fault_error)
{
	uint32_t lo, hi;
	unsigned vec = task_target(cpu, tss_sel, false, EXC_GP, ext, &lo, &hi, fault_error);
	if (!vec)
		vec = cpu_task_switch(cpu, tss_sel, lo, hi, TASK_SWITCH_EVENT, cpu->s.eip, ext,
				      fault_error);
	if (vec || !has_error)
		return vec;
	/* The error code goes on the new task's stack, as wide as its TSS,
	 * with the new task's privilege. */
	uint32_t esp = cpu->regs[REG_ESP];
	unsigned width = DESC_TYPE(hi) & 8 ? 4 : 2;
	if (!cpu_stack_push(cpu, &cpu->s.seg[SEG_SS], &esp, &error, width, false)) {
		cpu->task_trap = false;
		*fault_error = ext;
		return EXC_SS;
	}
	cpu->regs[REG_ESP] = esp;
	return 0;
}
