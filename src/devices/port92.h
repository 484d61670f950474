/* System control port A at 0x92 ("fast A20 and reset"), as PC chipsets
 * put it beside the keyboard controller: bit 0 resets the processor on a
 * write that takes it from 0 to 1, bit 1 is the A20 gate. The device owns
 * only the register; what the gate and the reset mean is the board's, and
 * it hears about both through callbacks.
 *
 * A20: the board ORs this bit with the keyboard controller's gate (i8042
 * output port bit 1), as the PC's chipset does, and applies the result
 * to the processor (machine/wiring.c, board__a20_update): with both
 * closed, physical-address bit 20 is cleared on every CPU access.
 *
 * There is no locking: the caller serializes register accesses, and the
 * callbacks run under that serialization. A callback must not call back
 * into the device; a board that resets on reset_request should note the
 * request and reset (port92_init() again) once the access has returned. */
#ifndef BTVM_DEVICES_PORT92_H
#define BTVM_DEVICES_PORT92_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"

#define PORT92_PORT 0x92

#define PORT92_RESET	0x01	/* 0 -> 1 resets the processor */
#define PORT92_A20	0x02	/* A20 gate: 1 = address line 20 passes */
/* Bit 3 (CMOS security lock) and bits 6-7 (disk activity LED) have no
 * meaning in btvm but read back as written; bits 2, 4 and 5 read 0. */
#define PORT92_KEPT	0xcb

struct port92 {
	uint8_t value;		/* as last written, PORT92_KEPT bits only */
	void (*a20_changed)(void *opaque, bool enabled);
	void (*reset_request)(void *opaque);
	void *opaque;
	uint64_t resets;	/* reset requests made */
};

/* Leaves the port at 0 (bit 1 clear, the gate left to the keyboard
 * controller's, which opens it), as QEMU's powers on; the
 * board sets bit 1 for a directly booted kernel, as SeaBIOS leaves it.
 * Either callback may be NULL. */
void port92_init(struct port92 *port, void (*a20_changed)(void *opaque, bool enabled),
		 void (*reset_request)(void *opaque), void *opaque);
int port92_attach(struct port92 *port, struct bus *bus);
/* The A20 gate as this port drives it. */
bool port92_a20_enabled(const struct port92 *port);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "P92 ". */
void port92_save(const struct port92 *p, struct snap_writer *w);
int port92_load(struct port92 *p, struct snap_reader *r);

#endif
