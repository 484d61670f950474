/* Hardware task switching (SDM vol. 3, ch. 7) between 32-bit TSSs: the
 * checks of the target TSS, the old task's dynamic state saved, the busy
 * bits, the back link and NT, CR0.TS, and the new task's state loaded
 * with its segment checks after the commit point; and the delivery of an
 * event through a task gate of the IDT. The callers (far CALL and JMP,
 * IRET with NT, event delivery) check gates and raise what this returns. */
#include <string.h>

#include "cpu/task_switch.h"
#include "isa/descriptor.h"

/* The 32-bit TSS: the fields a switch reads or writes, by byte offset. */
enum {
	TSS_LINK = 0x00, TSS_CR3 = 0x1c, TSS_EIP = 0x20, TSS_EFLAGS = 0x24, TSS_EAX = 0x28,
	TSS_ES = 0x48, TSS_LDT = 0x60,
	TSS_DYNAMIC_END = 0x60,    /* EIP .. GS: what a switch saves */
	TSS32_MIN_LIMIT = 0x67,    /* the smallest limit a 32-bit TSS may have */
};

/* The segment registers in the TSS's order (ES, CS, SS, DS, FS, GS: the
 * order of enum guest_seg). */
static uint32_t tss_selector_at(unsigned seg)
{
	return TSS_ES + 4 * seg;
}

unsigned task_target(struct cpu *cpu, uint16_t tss_sel, bool busy, unsigned bad_vector,
		     uint32_t ext, uint32_t *lo, uint32_t *hi, uint32_t *error)
{
	*error = (tss_sel & 0xfffcu) | ext;
	if ((tss_sel & 4) || !(tss_sel & ~3u) || !cpu_read_descriptor(cpu, tss_sel, lo, hi))
		return bad_vector;
	if ((*hi & DESC_S) || DESC_TYPE(*hi) != (busy ? SYS_TSS32_BUSY : SYS_TSS32))
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
 * its TSS (the selector fields' upper words are left as they are). */
static bool save_old_task(struct cpu *cpu, uint32_t eip, uint32_t eflags)
{
	uint8_t dyn[TSS_DYNAMIC_END - TSS_EIP];
	uint32_t base = cpu->s.tr.base;
	if (!cpu_read_sys(cpu, base + TSS_EIP, dyn, sizeof(dyn)))
		return false;
	memcpy(dyn, &eip, 4);
	memcpy(dyn + TSS_EFLAGS - TSS_EIP, &eflags, 4);
	memcpy(dyn + TSS_EAX - TSS_EIP, cpu->regs, 4 * REG_COUNT);
	for (unsigned seg = 0; seg < SEG_COUNT; seg++)
		memcpy(dyn + tss_selector_at(seg) - TSS_EIP, &cpu->s.seg[seg].selector, 2);
	return cpu_write_sys(cpu, base + TSS_EIP, dyn, sizeof(dyn));
}

unsigned cpu_task_switch(struct cpu *cpu, uint16_t sel, uint32_t lo, uint32_t hi,
			 enum task_switch_kind kind, uint32_t old_eip, uint32_t ext,
			 uint32_t *error)
{
	cpu->task_switched = false;
	*error = (sel & 0xfffcu) | ext;
	uint32_t base = desc_base(lo, hi), limit = desc_limit(lo, hi);
	if (limit < TSS32_MIN_LIMIT)
		return EXC_TS;
	/* The current task must be a 32-bit TSS too (LTR allows a 16-bit one,
	 * which this CPU cannot switch from). */
	const struct segment *tr = &cpu->s.tr;
	if (!(tr->selector & ~3u) || ((tr->flags & 0x1d) != SYS_TSS32) || tr->limit < TSS_DYNAMIC_END - 1)
		return kind == TASK_SWITCH_IRET ? EXC_TS : EXC_GP;
	uint8_t img[TSS32_MIN_LIMIT + 1];
	if (!cpu_read_sys(cpu, base, img, sizeof(img)))
		return EXC_TS;
	uint32_t new_eflags, new_eip, new_cr3, new_regs[REG_COUNT], v;
	uint16_t new_sel[SEG_COUNT], new_ldt;
	memcpy(&new_eip, img + TSS_EIP, 4);
	memcpy(&new_eflags, img + TSS_EFLAGS, 4);
	memcpy(&new_cr3, img + TSS_CR3, 4);
	memcpy(new_regs, img + TSS_EAX, sizeof(new_regs));
	for (unsigned seg = 0; seg < SEG_COUNT; seg++) {
		memcpy(&v, img + tss_selector_at(seg), 4);
		new_sel[seg] = (uint16_t)v;
	}
	memcpy(&v, img + TSS_LDT, 4);
	new_ldt = (uint16_t)v;
	/* Virtual-8086 mode is not modelled: a task whose EFLAGS has VM is
	 * refused before anything changes. */
	if (new_eflags & EFLAGS_VM)
		return EXC_TS;

	/* The old task: its state, NT cleared in the image IRET leaves it
	 * with, and its busy bit cleared unless it is nested (CALL, event). */
	uint32_t old_eflags = cpu_get_eflags(cpu);
	if (kind == TASK_SWITCH_IRET)
		old_eflags &= ~EFLAGS_NT;
	uint16_t old_sel = tr->selector;
	if (!save_old_task(cpu, old_eip, old_eflags))
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
	cpu->s.cr0 |= CR0_TS;
	if (cpu->s.cr0 & CR0_PG) {
		/* As MOV CR3 does: the shadow follows the new address space. */
		cpu->s.cr3 = new_cr3;
		cpu_paging_changed(cpu, old_cr0, old_cr4);
	}
	/* Local breakpoints belong to the task (L0-L3 of DR7). */
	cpu->s.dr[7] &= ~0x55u;
	cpu_set_eflags(cpu, new_eflags, ~0u);
	cpu->s.eip = new_eip;
	memcpy(cpu->regs, new_regs, sizeof(new_regs));
	for (unsigned seg = 0; seg < SEG_COUNT; seg++) {
		cpu->s.seg[seg] = (struct segment){ .selector = new_sel[seg] };
		cpu->seg_base[seg] = 0;
	}
	cpu->s.cpl = new_sel[SEG_CS] & 3u;
	cpu_seg_cache_clear(cpu);
	unsigned vec = load_ldtr(cpu, new_ldt, ext, error);
	if (!vec)
		vec = load_segments(cpu, new_sel, ext, error);
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
	/* The error code goes on the new task's stack, as wide as its TSS
	 * (32-bit), with the new task's privilege. */
	uint32_t esp = cpu->regs[REG_ESP];
	if (!cpu_stack_push(cpu, &cpu->s.seg[SEG_SS], &esp, &error, 4, false)) {
		*fault_error = ext;
		return EXC_SS;
	}
	cpu->regs[REG_ESP] = esp;
	return 0;
}
