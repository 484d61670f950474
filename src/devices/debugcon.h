/* The debug console of QEMU and Bochs: a port whose writes are bytes of a
 * log. SeaBIOS prints its POST messages there (port 0x402 on QEMU's
 * machines). Reads give the port's signature, 0xe9, as QEMU's does. */
#ifndef BTVM_DEVICES_DEBUGCON_H
#define BTVM_DEVICES_DEBUGCON_H

#include <stdint.h>

#include "devices/bus.h"

#define DEBUGCON_PORT 0x402

struct debugcon {
	/* Each byte written; NULL drops them. */
	void (*output)(void *opaque, uint8_t byte);
	void *opaque;
	uint64_t bytes;   /* written, for --stats */
};

int debugcon_attach(struct debugcon *dev, struct bus *bus, uint16_t port);

#endif
