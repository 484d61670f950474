/* The vCPU in a snapshot (section "CPU "): the architectural state field
 * by field, the x87/SSE state as FXSAVE lays it out, the interrupt shadow
 * and a MOV SS's hold-off of debug exceptions, the NMI latch and its blocking,
 * and HLT (the TSC is the board's, with guest time). What is derived from that state and from guest
 * memory (translations, shadow mappings, the lookup table, the adaptive
 * set) is not saved: load drops it, as a reset does, and it is rebuilt as
 * the guest runs. */
#include "cpu/cpu_snapshot.h"

#include <string.h>

#include "cache/tcache.h"
#include "host/snapfile.h"
#include "isa/msr.h"
#include "mmu/shadow.h"

/* 2: the MSRs of isa/msr.c after the SYSENTER ones, IA32_EFER, the
 * cached PDPTEs and the NMI latch and blocking after the FXSAVE image.
 * 3: the performance-monitoring MSRs (counters, LBRs) at the end; a version-2 snapshot
 * (taken before the model had them) loads with them at power-on.
 * 4: IA32_DEBUGCTL after them; a version-3 or -2 snapshot loads with it
 * clear (its power-on value).
 * 5: after it, whether the interrupt shadow is a MOV SS's or POP SS's
 * (shadow_ss) and the debug traps it holds (db_held, DR6 bits): a
 * snapshot taken between MOV SS and the next instruction reports them
 * with that instruction's as the SDM has it (6.8.3). An older one loads
 * with neither (a plain STI shadow), as those btvms ran on.
 * A version-1 snapshot came from the Pentium III model, which the CPUM
 * section refuses first. */
#define CPU_SNAP_VERSION 5u
#define CPU_SNAP_VERSION_NO_SS_HOLD 4u
#define CPU_SNAP_VERSION_NO_DEBUGCTL 3u
#define CPU_SNAP_VERSION_NO_PMU 2u
/* FXSAVE's MXCSR: bits above 15 are reserved, and FXRSTOR of one set
 * would fault in the monitor. */
#define FXSAVE_MXCSR 24
#define MXCSR_RESERVED 0xffff0000u

static void save_msrs(struct snap_writer *w, const struct msr_file *m)
{
	snapw_u64(w, m->misc_enable);
	snapw_u64(w, m->mtrr_def_type);
	for (unsigned i = 0; i < 2 * MTRR_VARIABLE; i++)
		snapw_u64(w, m->mtrr_var[i]);
	for (unsigned i = 0; i < MTRR_FIXED; i++)
		snapw_u64(w, m->mtrr_fixed[i]);
	snapw_u64(w, m->pat);
	snapw_u64(w, m->mcg_status);
	for (unsigned i = 0; i < MCA_BANKS; i++)
		snapw_u64(w, m->mc_ctl[i]);
	snapw_u32(w, m->tsc_aux);
}

/* Each value goes back through msr_write, so one the guest could not
 * have written (a reserved bit, an invalid memory type) is refused as
 * the CPU would refuse it. */
static bool load_msrs(struct snap_reader *r, struct msr_file *m)
{
	static const uint32_t fixed_index[MTRR_FIXED] = { 0x250, 0x258, 0x259, 0x268, 0x269, 0x26a,
							  0x26b, 0x26c, 0x26d, 0x26e, 0x26f };
	uint64_t misc = snapr_u64(r), def_type = snapr_u64(r);
	bool ok = true;
	msr_power_on(m);
	/* MISC_ENABLE's read-only bits are the model's: only the writable
	 * ones come from the snapshot. */
	ok &= msr_write(m, MSR_MISC_ENABLE, misc) == MSR_DONE;
	ok &= msr_write(m, 0x2ff, def_type) == MSR_DONE;
	for (unsigned i = 0; i < 2 * MTRR_VARIABLE; i++)
		ok &= msr_write(m, 0x200 + i, snapr_u64(r)) == MSR_DONE;
	for (unsigned i = 0; i < MTRR_FIXED; i++)
		ok &= msr_write(m, fixed_index[i], snapr_u64(r)) == MSR_DONE;
	ok &= msr_write(m, 0x277, snapr_u64(r)) == MSR_DONE;
	ok &= msr_write(m, 0x17a, snapr_u64(r)) == MSR_DONE;
	for (unsigned i = 0; i < MCA_BANKS; i++)
		ok &= msr_write(m, 0x400 + 4 * i, snapr_u64(r)) == MSR_DONE;
	ok &= msr_write(m, MSR_TSC_AUX, snapr_u32(r)) == MSR_DONE;
	return ok;
}

/* The performance-monitoring registers by msr_file.pmu's slots, each
 * checked as a WRMSR would check it; a general-purpose counter, whose
 * WRMSR keeps 32 bits, directly once within the counters' width. */
static bool load_pmu(struct snap_reader *r, struct msr_file *m)
{
	bool ok = true;
	for (unsigned i = 0; i < PMU_REGISTERS; i++) {
		uint64_t v = snapr_u64(r);
		if (i >= PMU_PMC0 && i < PMU_PMC0 + PMU_GP_COUNTERS) {
			ok &= v >> PMU_COUNTER_BITS == 0;
			m->pmu[i] = v;
		} else {
			ok &= msr_write(m, msr_pmu_index(i), v) == MSR_DONE;
		}
	}
	return ok;
}

static void save_segment(struct snap_writer *w, const struct segment *s)
{
	snapw_u16(w, s->selector);
	snapw_u32(w, s->base);
	snapw_u32(w, s->limit);
	snapw_u16(w, s->flags);
}

static void load_segment(struct snap_reader *r, struct segment *s)
{
	s->selector = snapr_u16(r);
	s->base = snapr_u32(r);
	s->limit = snapr_u32(r);
	s->flags = snapr_u16(r);
}

void cpu_save_as(struct cpu *cpu, const char *tag, struct snap_writer *w)
{
	const struct vcpu_state *s = &cpu->s;
	/* The door out left part of the x87/SSE state in the registers. */
	cpu_fpu_materialize(cpu);
	snapw_begin(w, tag, CPU_SNAP_VERSION, false);
	for (unsigned i = 0; i < REG_COUNT; i++)
		snapw_u32(w, cpu->regs[i]);
	snapw_u32(w, s->eip);
	snapw_u32(w, cpu_get_eflags(cpu));
	for (unsigned i = 0; i < SEG_COUNT; i++)
		save_segment(w, &s->seg[i]);
	snapw_u32(w, s->gdtr.base);
	snapw_u16(w, s->gdtr.limit);
	snapw_u32(w, s->idtr.base);
	snapw_u16(w, s->idtr.limit);
	save_segment(w, &s->ldtr);
	save_segment(w, &s->tr);
	snapw_u32(w, s->cr0);
	snapw_u32(w, s->cr2);
	snapw_u32(w, s->cr3);
	snapw_u32(w, s->cr4);
	for (unsigned i = 0; i < 8; i++)
		snapw_u32(w, s->dr[i]);
	snapw_u8(w, (uint8_t)s->cpl);
	snapw_u32(w, s->sysenter_cs);
	snapw_u32(w, s->sysenter_esp);
	snapw_u32(w, s->sysenter_eip);
	save_msrs(w, &s->msrs);
	snapw_bool(w, cpu->halted);
	snapw_bool(w, cpu->shadow);
	snapw_bytes(w, cpu->fxsave, sizeof(cpu->fxsave));
	snapw_u64(w, s->efer);
	for (unsigned i = 0; i < 4; i++)
		snapw_u64(w, s->pdpte[i]);
	snapw_bool(w, cpu->nmi_pending);
	snapw_bool(w, cpu->nmi_blocked);
	for (unsigned i = 0; i < PMU_REGISTERS; i++)
		snapw_u64(w, s->msrs.pmu[i]);
	snapw_u64(w, s->msrs.debugctl);
	snapw_bool(w, cpu->shadow_ss);
	snapw_u32(w, cpu->db_held);
	snapw_end(w);
}

int cpu_load(struct cpu *cpu, struct snap_reader *r)
{
	struct vcpu_state s;
	uint32_t regs[REG_COUNT];
	uint8_t fxsave[sizeof(cpu->fxsave)];

	if (r->version != CPU_SNAP_VERSION && r->version != CPU_SNAP_VERSION_NO_SS_HOLD &&
	    r->version != CPU_SNAP_VERSION_NO_DEBUGCTL && r->version != CPU_SNAP_VERSION_NO_PMU)
		return snapr_fail(r, "version %u (%s), this btvm reads %u", r->version,
				  r->version < CPU_SNAP_VERSION ? "an older CPU model, without its MSRs"
								: "a newer btvm's",
				  CPU_SNAP_VERSION);
	memset(&s, 0, sizeof(s));
	for (unsigned i = 0; i < REG_COUNT; i++)
		regs[i] = snapr_u32(r);
	s.eip = snapr_u32(r);
	s.eflags = snapr_u32(r);
	for (unsigned i = 0; i < SEG_COUNT; i++)
		load_segment(r, &s.seg[i]);
	s.gdtr.base = snapr_u32(r);
	s.gdtr.limit = snapr_u16(r);
	s.idtr.base = snapr_u32(r);
	s.idtr.limit = snapr_u16(r);
	load_segment(r, &s.ldtr);
	load_segment(r, &s.tr);
	s.cr0 = snapr_u32(r);
	s.cr2 = snapr_u32(r);
	s.cr3 = snapr_u32(r);
	s.cr4 = snapr_u32(r);
	for (unsigned i = 0; i < 8; i++)
		s.dr[i] = snapr_u32(r);
	s.cpl = snapr_u8(r);
	s.sysenter_cs = snapr_u32(r);
	s.sysenter_esp = snapr_u32(r);
	s.sysenter_eip = snapr_u32(r);
	bool msrs_ok = load_msrs(r, &s.msrs);
	bool halted = snapr_bool(r), shadow = snapr_bool(r);
	snapr_bytes(r, fxsave, sizeof(fxsave));
	s.efer = snapr_u64(r);
	for (unsigned i = 0; i < 4; i++)
		s.pdpte[i] = snapr_u64(r);
	bool nmi_pending = snapr_bool(r), nmi_blocked = snapr_bool(r);
	if (r->version >= CPU_SNAP_VERSION_NO_DEBUGCTL)
		msrs_ok &= load_pmu(r, &s.msrs);
	if (r->version >= CPU_SNAP_VERSION_NO_SS_HOLD)
		msrs_ok &= msr_write(&s.msrs, MSR_DEBUGCTL, snapr_u64(r)) == MSR_DONE;
	bool shadow_ss = false;
	uint32_t db_held = 0;
	if (r->version >= CPU_SNAP_VERSION) {
		shadow_ss = snapr_bool(r);
		db_held = snapr_u32(r);
	}
	if (snapr_end(r))
		return r->err;
	/* At an instruction boundary the hold-off is part of a pending
	 * shadow, and only it holds traps back (run.c), each a DR6 bit. */
	if ((shadow_ss && !shadow) || (db_held && !shadow_ss) || (db_held & ~(DR6_BS | DR6_B0_B3)))
		return snapr_fail(r, "a MOV SS hold-off (%d, traps 0x%x) without its interrupt shadow "
				  "or with traps no instruction raises", shadow_ss, db_held);
	if (s.efer & ~(uint64_t)EFER_NXE)
		return snapr_fail(r, "EFER 0x%llx has bits this CPU does not have", (unsigned long long)s.efer);
	uint32_t mxcsr;
	memcpy(&mxcsr, fxsave + FXSAVE_MXCSR, sizeof(mxcsr));
	if (!msrs_ok)
		return snapr_fail(r, "an MSR holds a value the CPU refuses (a reserved bit or an "
				  "invalid memory type)");
	if (s.cpl > 3 || (mxcsr & MXCSR_RESERVED))
		return snapr_fail(r, "privilege level %u or MXCSR 0x%08x out of range", s.cpl, mxcsr);
	if ((s.cr0 & CR0_PE) && (s.eflags & EFLAGS_VM) && s.cpl != 3)
		return snapr_fail(r, "virtual-8086 mode at privilege level %u", s.cpl);

	/* Nothing translated or mapped belongs to this memory any more. */
	tcache_flush(cpu->tc, &cpu->ibl_table);
	shadow_flush(cpu->sh);
	shadow_forget_adaptive(cpu->sh);
	ibl_clear(&cpu->ibl_table);
	uint32_t eflags = s.eflags;
	cpu->s = s;
	cpu_seg_cache_clear(cpu);
	memcpy(cpu->s.regs, regs, sizeof(regs));
	memcpy(cpu->regs, regs, sizeof(regs));
	cpu->rflags = 0x202;   /* the host's IF stays set */
	cpu->s.eflags = 0;
	cpu_set_eflags(cpu, eflags, ~0u);
	memcpy(cpu->fxsave, fxsave, sizeof(fxsave));
	cpu->fpu_full = 1;     /* the next entry loads all of it */
	sync_seg_bases(cpu);
	cpu_limits_resync(cpu);
	cpu->halted = halted;
	cpu->shadow = shadow;
	cpu->shadow_ss = shadow_ss;
	cpu->db_held = db_held;
	cpu->nmi_pending = nmi_pending;
	cpu->nmi_blocked = nmi_blocked;
	cpu->stop = cpu->triple_fault = false;
	cpu->fatal = NULL;
	cpu->exc_depth = 0;
	cpu->pf.pending = false;
	cpu_request_attention(cpu);   /* devices are polled before the first block */
	return 0;
}

