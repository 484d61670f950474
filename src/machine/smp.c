/* Several vCPUs (--smp N): what the guest sees of an N-CPU PC, and whose
 * turn it is. Each vCPU's LAPIC has APIC ID = its index; the ICR's IPIs
 * (fixed, lowest priority, NMI, INIT, start-up; physical or logical
 * destinations and the shorthands) and the I/O APIC's messages reach any
 * of them. The application processors wait for a start-up IPI from RESET
 * and after an INIT, as the SDM's MP initialization has it (vol. 3, 9.4).
 *
 * The vCPUs take turns on the one thread that runs the board (board_run):
 * one runs until its slice is over (SMP_SLICE_NS, seen at its poll) or it
 * halts while another has something to run, then the next runnable one in
 * index order gets a turn. Everything a vCPU owns is in its slot, so the
 * turns hold no state of their own beyond whose turn it is; a vCPU on a
 * host thread of its own (issue 45) replaces the turns, not the slots. */
#include "machine/board_internal.h"

#include <string.h>

#include "boot/firmware.h"
#include "isa/cpuid.h"

/* INIT: the LAPIC to its power-up state but for its ID. An AP then
 * waits for a start-up IPI, as the SDM's MP initialization has it (vol.
 * 3, 9.4). The bootstrap processor resets its registers and starts at
 * the reset vector (SDM vol. 3, 9.1 and 10.6.1; AMD APM vol. 2, 14.1):
 * the devices and memory are left alone, it is no machine reset. Its
 * state is its own thread's to change, so it is carried out there
 * (board__take_init, at the BSP's poll, which the attention brings). An
 * INIT a CPU sends itself is ignored: the sender is inside its own
 * instruction. */
static void init_vcpu(struct board_vcpu *v, const struct board_vcpu *from)
{
	if (v == from)
		return;
	lapic_init_signal(&v->lapic);
	v->cpu.halted = false;
	if (v->index == 0) {
		v->init_pending = true;
		cpu_request_attention(&v->cpu);
		return;
	}
	v->wait_sipi = true;
	if (v->board->threaded) {
		/* Out of its run loop, to wait for the start-up IPI there. */
		v->cpu.stop = true;
		cpu_request_attention(&v->cpu);
	}
}

void board__take_init(struct board_vcpu *v)
{
	if (!v->init_pending)
		return;
	v->init_pending = false;
	struct cpu *cpu = &v->cpu;
	struct vcpu_state s;
	firmware_reset_state(cpuid_model(1, 0, true, 0).eax, &s);
	/* What INIT leaves as it was (SDM vol. 3, table 9-1): CR0's CD and
	 * NW, the MSRs (the MTRRs and PAT among them), the x87 and SSE
	 * state; the A20M# pin is the board's. */
	s.cr0 = (s.cr0 & ~(CR0_CD | CR0_NW)) | (cpu->s.cr0 & (CR0_CD | CR0_NW));
	s.msrs = cpu->s.msrs;
	s.a20_cleared = cpu->s.a20_cleared;
	uint8_t fpu[sizeof(cpu->fxsave)];
	cpu_fpu_materialize(cpu);   /* the whole of it in fxsave */
	memcpy(fpu, cpu->fxsave, sizeof(fpu));
	cpu_load_state(cpu, &s);
	memcpy(cpu->fxsave, fpu, sizeof(fpu));
	cpu->fpu_full = 1;
	cpu->stop = v->yield = true;
}

/* A start-up IPI: an AP waiting for one starts in real mode at
 * vector * 0x1000 (CS = vector << 8, IP 0); one that runs ignores it. */
static void startup_vcpu(struct board_vcpu *v, uint8_t vector)
{
	struct board *board = v->board;
	if (!v->wait_sipi)
		return;
	struct vcpu_state s;
	firmware_startup_state(cpuid_model(1, 0, true, 0).eax, vector, &s);
	/* The MSRs as the machine's boot left the BSP's: the MTRRs a BIOS
	 * gives every CPU alike. */
	s.msrs = board->boot.msrs;
	cpu_load_state(&v->cpu, &s);
	v->wait_sipi = false;
	if (board->threaded)
		cpu_lock_broadcast(&v->cpu);   /* its thread waits for this */
}

static bool ipi_reaches(const struct board_vcpu *v, const struct board_vcpu *from, uint32_t icr,
			uint8_t dest)
{
	switch (icr & (3u << LAPIC_ICR_SHORTHAND_SHIFT)) {
	case LAPIC_ICR_SELF:
		return v == from;
	case LAPIC_ICR_ALL_INCL_SELF:
		return true;
	case LAPIC_ICR_ALL_BUT_SELF:
		return v != from;
	default:
		return lapic_matches_destination(&v->lapic, dest, (icr & LAPIC_DEST_LOGICAL) != 0);
	}
}

/* The sender's LAPIC's ipi callback (opaque its slot). Delivery is
 * immediate, so the ICR's delivery-status bit always reads idle. */
static void smp_ipi(void *opaque, uint32_t icr, uint8_t dest)
{
	struct board_vcpu *from = opaque;
	struct board *board = from->board;
	uint32_t mode = icr & LAPIC_DM_MASK;
	uint8_t vector = (uint8_t)(icr & LAPIC_VECTOR_MASK);
	struct board_vcpu *lowest = NULL;
	for (unsigned i = 0; i < board->nvcpus; i++) {
		struct board_vcpu *v = &board->vcpus[i];
		if (!ipi_reaches(v, from, icr, dest))
			continue;
		switch (mode) {
		case LAPIC_DM_FIXED:
			lapic_set_irq(&v->lapic, vector, false);
			break;
		case LAPIC_DM_LOWEST:
			/* The arbitration: the lowest task priority wins, the
			 * lowest APIC ID among equals. */
			if (lapic_hw_enabled(&v->lapic) && (!lowest || v->lapic.tpr < lowest->lapic.tpr))
				lowest = v;
			break;
		case LAPIC_DM_NMI:
			lapic_deliver_nmi_message(&v->lapic, 0xff, false);
			break;
		case LAPIC_DM_INIT:
			/* INIT level de-assert (level-triggered, not asserted)
			 * only synchronizes arbitration IDs: nothing here. */
			if ((icr & LAPIC_LEVEL_TRIGGER) && !(icr & LAPIC_ICR_LEVEL_ASSERT))
				break;
			init_vcpu(v, from);
			break;
		case LAPIC_DM_STARTUP:
			startup_vcpu(v, vector);
			break;
		default:
			break;   /* SMI and ExtINT: no such sources here */
		}
	}
	if (lowest)
		lapic_set_irq(&lowest->lapic, vector, false);
}

/* Whether a LAPIC takes part in a lowest-priority arbitration for dest:
 * named by it, and enabled (a disabled one would refuse the vector). */
static bool lowest_candidate(const struct lapic *l, uint8_t dest, bool logical)
{
	return lapic_hw_enabled(l) && (l->svr & LAPIC_SVR_ENABLE) &&
	       lapic_matches_destination(l, dest, logical);
}

/* An I/O APIC message. Fixed: every LAPIC its destination names takes it
 * (a logical destination of several bits, a broadcast), as on hardware.
 * Lowest priority: one of them, as smp_ipi arbitrates (the lowest task
 * priority, the lowest APIC ID among equals); should that one refuse
 * the vector (an illegal one), the message is refused, as one message. */
static bool smp_ioapic_deliver(void *opaque, uint8_t vector, bool level, uint8_t dest,
			       bool logical, bool lowest)
{
	struct board *board = opaque;
	if (lowest) {
		struct board_vcpu *pick = NULL;
		for (unsigned i = 0; i < board->nvcpus; i++) {
			struct board_vcpu *v = &board->vcpus[i];
			if (lowest_candidate(&v->lapic, dest, logical) &&
			    (!pick || v->lapic.tpr < pick->lapic.tpr))
				pick = v;
		}
		return pick && lapic_deliver_message(&pick->lapic, vector, level, dest, logical, true);
	}
	bool any = false;
	for (unsigned i = 0; i < board->nvcpus; i++)
		any |= lapic_deliver_message(&board->vcpus[i].lapic, vector, level, dest, logical,
					     false);
	return any;
}

/* An NMI message reaches every LAPIC it names. */
static bool smp_ioapic_nmi(void *opaque, uint8_t dest, bool logical)
{
	struct board *board = opaque;
	bool any = false;
	for (unsigned i = 0; i < board->nvcpus; i++)
		any |= lapic_deliver_nmi_message(&board->vcpus[i].lapic, dest, logical);
	return any;
}

void board__smp_reset(struct board *board)
{
	board->running = board__bsp(board);
	if (board->nvcpus == 1)
		return;
	for (unsigned i = 0; i < board->nvcpus; i++) {
		struct board_vcpu *v = &board->vcpus[i];
		lapic_set_apic_id(&v->lapic, (uint8_t)i);
		v->lapic.ipi = smp_ipi;
		v->wait_sipi = i > 0;
		v->init_pending = false;
		v->yield = false;
		/* An AP's LAPIC as power-up leaves it: software-disabled,
		 * every LVT masked (the BIOS's virtual wire is the BSP's). */
		if (i > 0)
			lapic_init_signal(&v->lapic);
		if (i > 0 && board->threaded) {
			/* A reset while its thread is inside its run loop. */
			v->cpu.stop = true;
			cpu_request_attention(&v->cpu);
		}
	}
	board->ioapic.deliver = smp_ioapic_deliver;
	board->ioapic.opaque = board;
	board->ioapic.deliver_nmi = smp_ioapic_nmi;
}

/* The LAPIC page: the running vCPU's own. */
static uint64_t smp_lapic_read(void *opaque, uint64_t offset, unsigned width)
{
	struct board *board = opaque;
	return lapic_mmio_read(&board->running->lapic, offset, width);
}

static void smp_lapic_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct board *board = opaque;
	lapic_mmio_write(&board->running->lapic, offset, width, value);
}

static const struct bus_ops smp_lapic_ops = {
	.read = smp_lapic_read,
	.write = smp_lapic_write,
	.max_width = 4,
};

int board__smp_attach_lapics(struct board *board)
{
	return bus_register(&board->bus, BUS_SPACE_MMIO, "lapic", LAPIC_DEFAULT_BASE, LAPIC_MMIO_SIZE,
			    &smp_lapic_ops, board);
}

bool board__vcpu_runnable(const struct board_vcpu *v)
{
	if (v->wait_sipi)
		return false;
	const struct cpu *cpu = &v->cpu;
	if (!cpu->halted)
		return true;
	if (cpu->nmi_pending && !cpu->nmi_blocked)
		return true;
	return cpu->vif && v->plat.intr && v->plat.intr(v->plat.opaque);
}

bool board__other_runnable(const struct board *board, const struct board_vcpu *v)
{
	for (unsigned i = 0; i < board->nvcpus; i++)
		if (&board->vcpus[i] != v && board__vcpu_runnable(&board->vcpus[i]))
			return true;
	return false;
}

struct board_vcpu *board__next_vcpu(struct board *board, struct board_vcpu *v)
{
	struct board_vcpu *next = v;
	for (unsigned k = 1; k < board->nvcpus; k++) {
		struct board_vcpu *c = &board->vcpus[(v->index + k) % board->nvcpus];
		if (board__vcpu_runnable(c)) {
			next = c;
			break;
		}
	}
	return board__give_turn(board, next);
}

struct board_vcpu *board__give_turn(struct board *board, struct board_vcpu *v)
{
	board->running = v;
	board->slice_end_ns = board__clock_ns(board) + SMP_SLICE_NS;
	return v;
}
