/* Real-address mode (CR0.PE clear) in the monitor. A segment register
 * load there makes the base the selector times 16 and keeps the hidden
 * limit and attributes: what unreal mode, as firmware uses it, relies on
 * (a 4 GiB limit loaded in protected mode outlives the switch back), and
 * what keeps CS.D and SS.B (and so the translation's 16- or 32-bit code
 * and stack) as the last protected-mode load left them, as on hardware
 * and in QEMU. Events go through the interrupt vector table; far CALL,
 * RET and IRET push and pop selectors that name no descriptor. The CPL
 * stays 0 (no CS load changes it here), so privileged instructions run
 * as at CPL 0, and translated code reaches guest memory through the
 * window as everywhere: only the segment bases differ. */
#include <string.h>

#include "cpu/callout_internal.h"

void cpu_real_load(struct cpu *cpu, unsigned seg, uint16_t sel)
{
	if (cpu_v86_mode(cpu)) {
		cpu_v86_load(cpu, seg, sel);   /* far CALL and RET share this file's code */
		return;
	}
	struct segment s = cpu->s.seg[seg];
	s.selector = sel;
	s.base = (uint32_t)sel << 4;
	/* A load here makes a register that a null selector left unusable
	 * usable again, as in Bochs; its limit stays, checked as any other. */
	cpu_segment_make_usable(&s);
	cpu_set_segment(cpu, seg, &s);
}

unsigned cpu_deliver_real(struct cpu *cpu, unsigned vector)
{
	/* The IVT is IDTR's table of CS:IP pairs: an entry past its limit
	 * is #GP, as in the SDM's real-address-mode INT. */
	uint32_t entry;
	if (vector * 4 + 3 > cpu->s.idtr.limit || !cpu_read_sys(cpu, cpu->s.idtr.base + vector * 4, &entry, 4))
		return EXC_GP;
	/* FLAGS, CS, IP, a word each, whatever the operand size; no error
	 * code in real mode. */
	uint16_t frame[3] = { (uint16_t)cpu->s.eip, cpu->s.seg[SEG_CS].selector,
			      (uint16_t)cpu_get_eflags(cpu) };
	uint32_t sp = cpu->regs[REG_ESP];
	if (!cpu_stack_push(cpu, &cpu->s.seg[SEG_SS], &sp, frame, sizeof(frame), false))
		return EXC_SS;
	cpu->regs[REG_ESP] = sp;
	cpu_real_load(cpu, SEG_CS, (uint16_t)(entry >> 16));
	cpu->s.eip = entry & 0xffff;
	cpu_set_eflags(cpu, 0, EFLAGS_IF | EFLAGS_TF | EFLAGS_AC | EFLAGS_RF);
	return 0;
}

bool cpu_real_eip_in_limit(const struct cpu *cpu, uint32_t eip)
{
	/* v86 mode's CS load gives every CS a 64 KiB limit; real mode's
	 * keeps the hidden one (unreal CS too). */
	return eip <= (cpu_v86_mode(cpu) ? 0xffffu : cpu->s.seg[SEG_CS].limit);
}

enum callout_result real_far_call(struct cpu *cpu, const struct callout_desc *d,
				  const ZydisDecodedInstruction *in, uint16_t sel, uint32_t off)
{
	/* The caller's CS zero-extended in a 32-bit push, below it EIP. */
	unsigned size = in->operand_width == 16 ? 2 : 4;
	uint8_t frame[8];
	uint32_t ret = d->next_eip, cs = cpu->s.seg[SEG_CS].selector;
	memcpy(frame, &ret, size);
	memcpy(frame + size, &cs, size);
	uint32_t sp = cpu->regs[REG_ESP], eip = size == 2 ? off & 0xffff : off;
	/* As in protected mode, before the stack's room (the SDM's order
	 * differs only for a CALL that fails both). */
	if (!cpu_real_eip_in_limit(cpu, eip)) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	if (!cpu_stack_push(cpu, &cpu->s.seg[SEG_SS], &sp, frame, 2 * size, false)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	cpu->regs[REG_ESP] = sp;
	cpu_real_load(cpu, SEG_CS, sel);
	cpu->s.eip = eip;
	return CALLOUT_STOP;
}

enum callout_result real_far_ret(struct cpu *cpu, const struct callout_desc *d,
				 const ZydisDecodedInstruction *in, uint32_t imm)
{
	unsigned size = in->operand_width == 16 ? 2 : 4;
	const struct segment *ss = &cpu->s.seg[SEG_SS];
	uint32_t sp = cpu->regs[REG_ESP], eip = 0, cs = 0;
	uint8_t frame[8];
	if (!cpu_stack_read(cpu, ss, sp, 0, frame, 2 * size)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return CALLOUT_STOP;
	}
	memcpy(&eip, frame, size);
	memcpy(&cs, frame + size, 2);
	if (!cpu_real_eip_in_limit(cpu, eip)) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	cpu->regs[REG_ESP] = cpu_stack_move(ss, sp, (int32_t)(2 * size + imm));
	cpu_real_load(cpu, SEG_CS, (uint16_t)cs);
	cpu->s.eip = eip;
	return CALLOUT_STOP;
}

bool real_iret_frame(struct cpu *cpu, const struct callout_desc *d,
		     const ZydisDecodedInstruction *in, struct real_iret_frame *f)
{
	f->size = in->operand_width == 16 ? 2 : 4;
	f->eip = f->cs = f->flags = 0;
	uint8_t frame[12];
	if (!cpu_stack_read(cpu, &cpu->s.seg[SEG_SS], cpu->regs[REG_ESP], 0, frame, 3 * f->size)) {
		raise_fault(cpu, d, EXC_SS, true, 0);
		return false;
	}
	memcpy(&f->eip, frame, f->size);
	memcpy(&f->cs, frame + f->size, 2);
	memcpy(&f->flags, frame + 2 * f->size, f->size);
	return true;
}

enum callout_result real_iret(struct cpu *cpu, const struct callout_desc *d,
			      const ZydisDecodedInstruction *in)
{
	struct real_iret_frame f;
	if (!real_iret_frame(cpu, d, in, &f))
		return CALLOUT_STOP;
	/* The SDM's real-address-mode IRET: every flag of FLAGS (IOPL and NT
	 * too: there is no privilege to check); a 32-bit one also RF, AC and
	 * ID, leaving VM, VIF and VIP as they are (the mask 0x257FD5). */
	uint32_t writable = f.size == 2 ? 0x7fd5u : 0x257fd5u;
	if (!cpu_real_eip_in_limit(cpu, f.eip)) {
		raise_fault(cpu, d, EXC_GP, true, 0);
		return CALLOUT_STOP;
	}
	const struct segment *ss = &cpu->s.seg[SEG_SS];
	cpu->regs[REG_ESP] = cpu_stack_move(ss, cpu->regs[REG_ESP], (int32_t)(3 * f.size));
	cpu_real_load(cpu, SEG_CS, f.cs);
	cpu->s.eip = f.eip;
	cpu_set_eflags(cpu, f.flags, writable);
	return CALLOUT_STOP;
}

bool real_mode_ud(const struct sensitive_insn *sens, const ZydisDecodedInstruction *in)
{
	/* "Not recognized in real-address mode": the descriptor queries and
	 * the LDT and task registers. SMSW is not among them. */
	switch (sens->handler) {
	case SH_LAR_LSL:
	case SH_VERR_VERW:
	case SH_ARPL:
	case SH_LLDT:
	case SH_LTR:
		return true;
	case SH_STORE_SYSREG:
		return in->mnemonic != ZYDIS_MNEMONIC_SMSW;
	default:
		return false;
	}
}
