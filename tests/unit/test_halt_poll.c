/* The rule that sizes a HLT's spin for another vCPU's request
 * (board__halt_poll_adapt, machine/vcpu_thread.c), KVM's halt_poll_ns
 * rule: a HLT over before the spin would have ended changes nothing; one
 * that outlasted the spin but not the longest spin doubles it (from
 * BOARD_IPI_POLL_START_NS when it was off), up to BOARD_IPI_POLL_MAX_NS;
 * one longer than the longest spin (an idle CPU waiting for its next
 * timer tick) turns spinning off until a short one comes. The spin itself
 * and its stopping on a busy host are run_stats_smp.py's (ipibench's AP
 * on two CPUs and on one). */
#include "check.h"
#include "machine/board_internal.h"

static struct board_vcpu v;   /* large: not on the stack */

int main(void)
{
	v.ipi_poll_ns = 0;
	board__halt_poll_adapt(&v, 0);
	CHECK_EQ(v.ipi_poll_ns, 0);   /* over at once: nothing to learn */
	board__halt_poll_adapt(&v, 30000);
	CHECK_EQ(v.ipi_poll_ns, BOARD_IPI_POLL_START_NS);
	board__halt_poll_adapt(&v, 30000);
	CHECK_EQ(v.ipi_poll_ns, 2 * BOARD_IPI_POLL_START_NS);
	board__halt_poll_adapt(&v, 15000);   /* within the spin */
	CHECK_EQ(v.ipi_poll_ns, 2 * BOARD_IPI_POLL_START_NS);
	for (int i = 0; i < 10; i++)
		board__halt_poll_adapt(&v, BOARD_IPI_POLL_MAX_NS - 1);
	CHECK_EQ(v.ipi_poll_ns, BOARD_IPI_POLL_MAX_NS);   /* capped */
	board__halt_poll_adapt(&v, BOARD_IPI_POLL_MAX_NS - 1);
	CHECK_EQ(v.ipi_poll_ns, BOARD_IPI_POLL_MAX_NS);
	board__halt_poll_adapt(&v, 4000000);   /* a 4 ms timer tick */
	CHECK_EQ(v.ipi_poll_ns, 0);
	board__halt_poll_adapt(&v, BOARD_IPI_POLL_MAX_NS);   /* not shorter than the longest */
	CHECK_EQ(v.ipi_poll_ns, 0);
	board__halt_poll_adapt(&v, 50000);
	CHECK_EQ(v.ipi_poll_ns, BOARD_IPI_POLL_START_NS);
	return check_report("test_halt_poll");
}
