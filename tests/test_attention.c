/* The vCPU's attention protocol (cpu/cpu.h): a request stores attention,
 * then points poll_ptr at the guard page; the run loop takes it with
 * cpu_take_attention, which points poll_ptr back at poll_ok, then clears
 * attention. A request from a signal handler or another thread can land
 * between the run loop's two stores. Each of the six interleavings of the
 * two pairs is played here store by store, and the state it leaves must
 * either have been polled for (the request came before the run loop's
 * first store) or be taken at the next look: a pointer left at the guard
 * with attention clear once stalled the guest until some other request
 * came (every block entry faulted and came back with nothing to do). */
#include "check.h"
#include "cpu/cpu.h"

#include <stdlib.h>

enum store { REQ_FLAG, REQ_POINTER, TAKE_POINTER, TAKE_FLAG };

static void apply(struct cpu *cpu, enum store s)
{
	switch (s) {
	case REQ_FLAG:
		cpu->attention = 1;
		break;
	case REQ_POINTER:
		cpu->poll_ptr = (uint64_t)(uintptr_t)cpu->poll_guard;
		break;
	case TAKE_POINTER:
		cpu->poll_ptr = (uint64_t)(uintptr_t)&cpu->poll_ok;
		break;
	case TAKE_FLAG:
		cpu->attention = 0;
		break;
	}
}

int main(void)
{
	static uint8_t guard[64];
	struct cpu *cpu = calloc(1, sizeof(*cpu));
	CHECK(cpu != NULL);
	if (!cpu)
		return 1;
	cpu->poll_guard = guard;
	cpu->poll_ptr = (uint64_t)(uintptr_t)&cpu->poll_ok;

	/* Quiet: nothing to take. */
	CHECK(!cpu_take_attention(cpu));
	/* A request on its own: taken once, then quiet again. */
	cpu_request_attention(cpu);
	CHECK(cpu_take_attention(cpu));
	CHECK_EQ(cpu->poll_ptr, (uintptr_t)&cpu->poll_ok);
	CHECK_EQ(cpu->attention, 0);
	CHECK(!cpu_take_attention(cpu));

	/* The interleavings: the request's stores keep their order, and so
	 * do the run loop's (cpu_take_attention's, after its look). */
	static const enum store orders[6][4] = {
		{ REQ_FLAG, REQ_POINTER, TAKE_POINTER, TAKE_FLAG },
		{ REQ_FLAG, TAKE_POINTER, REQ_POINTER, TAKE_FLAG },
		{ REQ_FLAG, TAKE_POINTER, TAKE_FLAG, REQ_POINTER },
		{ TAKE_POINTER, REQ_FLAG, REQ_POINTER, TAKE_FLAG },
		{ TAKE_POINTER, REQ_FLAG, TAKE_FLAG, REQ_POINTER },
		{ TAKE_POINTER, TAKE_FLAG, REQ_FLAG, REQ_POINTER },
	};
	for (unsigned i = 0; i < 6; i++) {
		/* A request the run loop had seen, being taken. */
		cpu->attention = 1;
		cpu->poll_ptr = (uint64_t)(uintptr_t)cpu->poll_guard;
		for (unsigned k = 0; k < 4; k++)
			apply(cpu, orders[i][k]);
		/* Both of the request's stores before the run loop's: the
		 * poll that follows sees it. Otherwise the next look must. */
		bool polled = i == 0;
		bool taken = cpu_take_attention(cpu);
		if (!polled && !taken)
			fprintf(stderr, "interleaving %u: the request is lost (attention %u, pointer %s)\n",
				i, cpu->attention,
				cpu->poll_ptr == (uint64_t)(uintptr_t)&cpu->poll_ok ? "ok" : "at the guard");
		CHECK(polled || taken);
		/* Whatever it was, the pointer ends at poll_ok: a block entry
		 * that faults with nothing to take would do so for ever. */
		CHECK_EQ(cpu->poll_ptr, (uintptr_t)&cpu->poll_ok);
		CHECK_EQ(cpu->attention, 0);
	}
	free(cpu);
	return check_report("attention");
}
