/* System control port A: the fast A20 gate and the fast reset bit. See
 * port92.h for what the board does with A20. */
#include "devices/port92.h"
#include "host/snapfile.h"

#include <string.h>

static uint64_t port92_read(void *opaque, uint64_t offset, unsigned width)
{
	const struct port92 *port = opaque;
	(void)offset;
	(void)width;
	return port->value;
}

static void port92_write(void *opaque, uint64_t offset, unsigned width, uint64_t value64)
{
	struct port92 *port = opaque;
	uint8_t old = port->value;
	uint8_t value = (uint8_t)value64 & PORT92_KEPT;
	(void)offset;
	(void)width;

	port->value = value;
	/* The reset is an edge: firmware writes the register back with bit 0
	 * still set while it changes other bits, and that must not reset. */
	bool reset = (value & PORT92_RESET) && !(old & PORT92_RESET);
	if ((value ^ old) & PORT92_A20) {
		if (port->a20_changed)
			port->a20_changed(port->opaque, (value & PORT92_A20) != 0);
	}
	/* Last, so a board acting on it finds the access finished. */
	if (reset) {
		port->resets++;
		if (port->reset_request)
			port->reset_request(port->opaque);
	}
}

static const struct bus_ops port92_ops = {
	.read = port92_read,
	.write = port92_write,
	.max_width = 1,
};

void port92_init(struct port92 *port, void (*a20_changed)(void *opaque, bool enabled),
		 void (*reset_request)(void *opaque), void *opaque)
{
	memset(port, 0, sizeof(*port));
	port->value = 0;
	port->a20_changed = a20_changed;
	port->reset_request = reset_request;
	port->opaque = opaque;
}

int port92_attach(struct port92 *port, struct bus *bus)
{
	return bus_register(bus, BUS_SPACE_PIO, "port92", PORT92_PORT, 1, &port92_ops, port);
}

bool port92_a20_enabled(const struct port92 *port)
{
	return port->value & PORT92_A20;
}

/* ---- Snapshots ---------------------------------------------------------- */

#define PORT92_SNAP_VERSION 1u

void port92_save(const struct port92 *p, struct snap_writer *w)
{
	snapw_begin(w, "P92 ", PORT92_SNAP_VERSION, false);
	snapw_u8(w, p->value);
	snapw_end(w);
}

int port92_load(struct port92 *p, struct snap_reader *r)
{
	if (r->version != PORT92_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version,
				  PORT92_SNAP_VERSION);
	p->value = snapr_u8(r);
	return snapr_end(r);
}
