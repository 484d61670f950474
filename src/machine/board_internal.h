/* What the machine's files (board.c, guest_time.c, wiring.c, run_loop.c)
 * share and nothing else sees. Guest time's reads are static inline here,
 * not calls into guest_time.c: the devices' clock callback runs at each of
 * their register accesses and the run loop reads the clock at every poll,
 * and a call across files would add to each. */
#ifndef BTVM_MACHINE_BOARD_INTERNAL_H
#define BTVM_MACHINE_BOARD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <x86intrin.h>

#include "boot/boot.h"
#include "host/clock.h"
#include "machine/board.h"

/* The ISA lines both the wiring and the run loop name. */
#define COM1_IRQ 4
#define PIT_IRQ 0

/* ------------------------------------------------------------ guest time
 * (guest_time.c) */

#define NS_PER_SEC 1000000000ull
/* The TSC rate: a first estimate against CLOCK_MONOTONIC at start-up,
 * refined over the whole run every second, so that guest time keeps up
 * with the host's (NTP slewing included). A refinement moves the rate by
 * parts per million, far below what a guest's clock cross-checks see. */
#define CLOCK_CALIBRATE_NS 5000000ull
#define CLOCK_REFINE_NS 1000000000ull

static inline uint64_t board__host_count(const struct guest_clock *k)
{
	return k->tsc ? __rdtsc() : host_monotonic_ns();
}

/* CLOCK_MONOTONIC and the counter at one instant (guest_time.c). */
bool board__read_pair(const struct guest_clock *k, uint64_t *mono, uint64_t *count);

static inline void board__set_rate(struct guest_clock *k, uint64_t hz)
{
	k->hz = hz;
	k->mult = (uint64_t)(((unsigned __int128)NS_PER_SEC << 32) / hz);
}

/* Guest time at host count `count`. */
static inline uint64_t board__guest_ns_at(const struct guest_clock *k, uint64_t count)
{
	uint64_t c = count - k->base_count;
	if ((int64_t)c < 0)
		return k->base_ns;
	return k->base_ns + (uint64_t)(((unsigned __int128)c * k->mult) >> 32);
}

/* The clock the devices run on (their clock_ns callback): guest time in ns
 * since power-on. */
static inline uint64_t board__clock_ns(void *opaque)
{
	const struct board *board = opaque;
	return board__guest_ns_at(&board->clk, board__host_count(&board->clk));
}

void board__clock_init(struct guest_clock *k);

/* Every CLOCK_REFINE_NS: the TSC's rate over the whole run, with guest
 * time carrying on from where it is. */
static inline void board__clock_refine(struct guest_clock *k)
{
	uint64_t m, c;
	if (!k->tsc || host_monotonic_ns() - k->refined_mono < CLOCK_REFINE_NS ||
	    !board__read_pair(k, &m, &c))
		return;
	k->refined_mono = m;
	k->base_ns = board__guest_ns_at(k, c);
	k->base_count = c;
	board__set_rate(k, (uint64_t)((unsigned __int128)(c - k->cal_count) * NS_PER_SEC /
				      (m - k->cal_mono)));
}

/* The host timer, from the start of the run to its end; arm_timer
 * (run_loop.c) points it. */
int board__start_timer(struct board *board);
void board__stop_timer(struct board *board);

/* ------------------------------------------------------------ wiring
 * (wiring.c) */

/* The I/O APIC pin of ISA IRQ irq: identity but for the PIT, as the MADT's
 * interrupt source override says. */
static inline unsigned board__isa_irq_pin(unsigned irq)
{
	return irq == PIT_IRQ ? 2 : irq;
}

/* board_create's steps, in this order: the devices on the bus and their
 * lines, the firmware's tables, what the firmware sets up, the loader's
 * view of the machine. */
int board__wire_devices(struct board *board);
int board__write_acpi(struct board *board);
int board__firmware(struct board *board);
void board__boot_config(struct board *board, struct boot_config *boot,
			struct boot_framebuffer *fb);
/* A reset of the whole PC (the run loop's, after a triple fault or the
 * guest's reset request): devices, firmware, the kernel loaded again. */
int board__reset(struct board *board);
/* The network backend's frames for the guest, on its thread. */
void board__net_receive(void *opaque, const uint8_t *frame, size_t len);

/* ------------------------------------------------------------ run loop
 * (run_loop.c) */

/* The platform's poll (cpu_platform.poll): every device brought to the
 * present, the host timer armed for the next deadline. */
void board__platform_poll(void *opaque);
/* A device's next deadline moved (its deadline_changed callback). */
void board__deadline_changed(void *opaque);
/* Any thread: the vCPU to the run loop soon, out of a HLT sleep too (the
 * console's, the disks' and the network's notify callback). */
void board__console_notify(void *opaque);

#endif
