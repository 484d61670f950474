/* The vCPU's attention protocol (cpu/cpu.h) with a real poll page: a
 * request counts itself, then protects the page; the run loop's
 * cpu_take_attention reads the count, unprotects the page, reads the
 * count again and protects the page once more if it moved. A request
 * from a signal handler or another thread can land anywhere in between.
 * Every interleaving of the request's two steps with the run loop's is
 * played here step by step, and what it leaves must be one of: the
 * request taken by that look (counted before its first read), or the page
 * protected so the next block entry faults. A page left protected with
 * nothing new counted must not fault for ever: the fault itself is taken
 * as a request (attention_fault), and that look leaves the page readable. */
#include "check.h"
#include "cpu/cpu.h"

#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Whether the page can be read now: a read that faults says no. */
static sigjmp_buf probe_jump;
static void on_probe_fault(int sig)
{
	(void)sig;
	siglongjmp(probe_jump, 1);
}

static bool page_readable(const struct cpu *cpu)
{
	volatile const uint32_t *p = (const uint32_t *)(uintptr_t)cpu->poll_page;
	if (sigsetjmp(probe_jump, 1))
		return false;
	(void)*p;
	return true;
}

enum step { REQ_COUNT, REQ_PROTECT, TAKE_LOOK, TAKE_UNPROTECT, TAKE_RECHECK };

struct take_state {
	uint32_t asked;
	bool took;
	bool skip;   /* the first look found nothing: the rest does nothing */
};

static void apply(struct cpu *cpu, struct take_state *t, enum step s)
{
	switch (s) {
	case REQ_COUNT:
		__atomic_add_fetch(&cpu->attention_asked, 1, __ATOMIC_SEQ_CST);
		break;
	case REQ_PROTECT:
		mprotect((void *)(uintptr_t)cpu->poll_page, 4096, PROT_NONE);
		break;
	case TAKE_LOOK:
		t->asked = __atomic_load_n(&cpu->attention_asked, __ATOMIC_SEQ_CST);
		t->skip = t->asked == cpu->attention_taken && !cpu->attention_fault;
		if (!t->skip) {
			cpu->attention_taken = t->asked;
			cpu->attention_fault = false;
			t->took = true;
		}
		break;
	case TAKE_UNPROTECT:
		if (!t->skip)
			mprotect((void *)(uintptr_t)cpu->poll_page, 4096, PROT_READ);
		break;
	case TAKE_RECHECK:
		if (!t->skip && __atomic_load_n(&cpu->attention_asked, __ATOMIC_SEQ_CST) != t->asked)
			mprotect((void *)(uintptr_t)cpu->poll_page, 4096, PROT_NONE);
		break;
	}
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_probe_fault };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	struct cpu *cpu = calloc(1, sizeof(*cpu));
	CHECK(cpu != NULL);
	if (!cpu)
		return 1;
	void *page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(page != MAP_FAILED);
	if (page == MAP_FAILED)
		return 1;
	cpu->poll_page = (uint64_t)(uintptr_t)page;

	/* Quiet: nothing to take, the page readable. */
	CHECK(!cpu_take_attention(cpu));
	CHECK(page_readable(cpu));
	/* A request on its own: the page faults, taken once, then quiet. */
	cpu_request_attention(cpu);
	CHECK(!page_readable(cpu));
	CHECK(cpu_take_attention(cpu));
	CHECK(page_readable(cpu));
	CHECK(!cpu_take_attention(cpu));
	/* Two requests before a look: one look takes both. */
	cpu_request_attention(cpu);
	cpu_request_attention(cpu);
	CHECK(cpu_take_attention(cpu));
	CHECK(!cpu_take_attention(cpu));
	CHECK(page_readable(cpu));

	/* The interleavings: the request's two steps keep their order, and
	 * so do the look's three. */
	static const enum step take[3] = { TAKE_LOOK, TAKE_UNPROTECT, TAKE_RECHECK };
	unsigned played = 0, stuck = 0;
	for (unsigned first = 0; first < 5; first++) {
		for (unsigned second = first + 1; second < 5; second++) {
			enum step order[5];
			for (unsigned k = 0, j = 0; k < 5; k++)
				order[k] = k == first ? REQ_COUNT : k == second ? REQ_PROTECT : take[j++];
			/* An earlier request being taken: the page protected. */
			cpu_request_attention(cpu);
			struct take_state t = { 0 };
			for (unsigned k = 0; k < 5; k++)
				apply(cpu, &t, order[k]);
			played++;
			/* The request is lost when the look did not count it and
			 * the page is readable: nothing would come back. */
			bool seen_by_look = t.took && t.asked == __atomic_load_n(&cpu->attention_asked,
										__ATOMIC_SEQ_CST);
			bool armed = !page_readable(cpu);
			if (!seen_by_look && !armed) {
				fprintf(stderr, "interleaving %u,%u: the request is lost\n", first, second);
				stuck++;
			}
			/* Whatever is left, a later look and the faults the page
			 * makes settle it: never a page protected for ever with
			 * nothing to take. */
			for (unsigned k = 0; k < 3 && !page_readable(cpu); k++) {
				cpu->attention_fault = true;   /* what the fault handler notes */
				CHECK(cpu_take_attention(cpu));
			}
			CHECK(page_readable(cpu));
			CHECK(!cpu_take_attention(cpu));
		}
	}
	CHECK_EQ(played, 10);
	CHECK_EQ(stuck, 0);
	munmap(page, 4096);
	free(cpu);
	return check_report("attention");
}
