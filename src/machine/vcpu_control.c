/* The vCPUs as the control interface shows them (machine/control.h): their
 * registers for the monitor and the debugger, gdb's breakpoints and
 * steps, a translated block for the monitor, and the --explain and
 * --profile records each vCPU keeps. Each takes a vCPU's index; the guest
 * is stopped. */
#include "machine/board_internal.h"

#include <assert.h>
#include <string.h>

#include "cpu/profile.h"

static struct board_vcpu *vcpu_of(struct board *board, unsigned vcpu)
{
	assert(vcpu < board->nvcpus);
	return &board->vcpus[vcpu];
}

static const struct board_vcpu *const_vcpu_of(const struct board *board, unsigned vcpu)
{
	assert(vcpu < board->nvcpus);
	return &board->vcpus[vcpu];
}

unsigned board_vcpu_count(const struct board *board)
{
	return board->nvcpus;
}

void board_vcpu_status(const struct board *board, unsigned vcpu, struct board_vcpu_status *st)
{
	const struct board_vcpu *v = const_vcpu_of(board, vcpu);
	/* The ID register as it is: the guest may have written it. */
	st->apic_id = v->lapic.id >> 24;
	st->state = v->wait_sipi ? BOARD_VCPU_WAIT_SIPI
		    : v->cpu.halted ? BOARD_VCPU_HALTED
				    : BOARD_VCPU_RUNNING;
}

unsigned board_vcpu_current(const struct board *board)
{
	return board->running ? board->running->index : 0;
}

void board_vcpu_get_regs(const struct board *board, unsigned vcpu, struct board_regs *r)
{
	const struct cpu *cpu = &const_vcpu_of(board, vcpu)->cpu;
	r->s = cpu->s;
	/* The general registers live in cpu->regs (translated code's view);
	 * s.regs is only the boot state. */
	memcpy(r->regs, cpu->regs, sizeof(r->regs));
	r->eflags = cpu_get_eflags(cpu);
	r->halted = cpu->halted;
}

void board_vcpu_set_gpr(struct board *board, unsigned vcpu, unsigned reg, uint32_t value)
{
	assert(reg < REG_COUNT);
	vcpu_of(board, vcpu)->cpu.regs[reg] = value;
}

void board_vcpu_set_eip(struct board *board, unsigned vcpu, uint32_t eip)
{
	struct cpu *cpu = &vcpu_of(board, vcpu)->cpu;
	cpu->s.eip = eip;
	cpu->halted = false;
}

void board_vcpu_set_eflags(struct board *board, unsigned vcpu, uint32_t value, uint32_t writable)
{
	cpu_set_eflags(&vcpu_of(board, vcpu)->cpu, value, writable);
}

void board_vcpu_get_fpu(struct board *board, unsigned vcpu, uint8_t *fxsave)
{
	struct cpu *cpu = &vcpu_of(board, vcpu)->cpu;
	cpu_fpu_materialize(cpu);
	memcpy(fxsave, cpu->fxsave, sizeof(cpu->fxsave));
}

void board_vcpu_set_fpu(struct board *board, unsigned vcpu, const uint8_t *fxsave)
{
	struct cpu *cpu = &vcpu_of(board, vcpu)->cpu;
	cpu_fpu_materialize(cpu);   /* the way back in loads all of fxsave */
	memcpy(cpu->fxsave, fxsave, sizeof(cpu->fxsave));
}

int board_vcpu_set_breakpoint(struct board *board, unsigned vcpu, uint32_t eip)
{
	return cpu_breakpoint_set(&vcpu_of(board, vcpu)->cpu, eip);
}

void board_vcpu_clear_breakpoint(struct board *board, unsigned vcpu, uint32_t eip)
{
	cpu_breakpoint_clear(&vcpu_of(board, vcpu)->cpu, eip);
}

void board_vcpu_debug_resume(struct board *board, unsigned vcpu, bool step)
{
	struct board_vcpu *v = vcpu_of(board, vcpu);
	cpu_debug_resume(&v->cpu, step);
	if (step && !v->wait_sipi)
		board->step_turn = v;
}

void board_vcpu_debug_detach(struct board *board, unsigned vcpu)
{
	struct cpu *cpu = &vcpu_of(board, vcpu)->cpu;
	while (cpu->debug.nbp)
		cpu_breakpoint_clear(cpu, cpu->debug.bp[0]);
	cpu->debug.step = false;
	cpu->debug.skip = false;
	cpu->debug.event = DEBUG_EVENT_NONE;
}

enum debug_event board_vcpu_take_debug_event(struct board *board, unsigned vcpu)
{
	struct cpu_debug *dbg = &vcpu_of(board, vcpu)->cpu.debug;
	enum debug_event event = dbg->event;
	dbg->event = DEBUG_EVENT_NONE;
	return event;
}

const struct tblock *board_vcpu_translation(struct board *board, unsigned vcpu, uint32_t eip,
					    uint64_t gpa, uint32_t *mode)
{
	const struct cpu *cpu = &vcpu_of(board, vcpu)->cpu;
	*mode = cpu_mode(cpu);
	uint64_t off;   /* translations are keyed by memfd offset (cpu/run.c) */
	if (!guest_ram_offset(&board->ram, gpa, 1, &off))
		return NULL;
	return tcache_lookup(&board->tc, eip, off, *mode, cpu_code_limit(cpu));
}

const struct explain *board_vcpu_explain(const struct board *board, unsigned vcpu)
{
	return const_vcpu_of(board, vcpu)->cpu.explain;
}

void board_print_profile(struct board *board, FILE *out)
{
	struct cpu *cpus[BOARD_MAX_VCPUS];
	for (unsigned i = 0; i < board->nvcpus; i++)
		cpus[i] = &board->vcpus[i].cpu;
	profile_print(cpus, board->nvcpus, out);
}
