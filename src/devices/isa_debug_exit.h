/* isa-debug-exit: a write of V to its port ends btvm with status
 * (V << 1) | 1, as QEMU's device of the same name does. */
#ifndef BTVM_DEVICES_ISA_DEBUG_EXIT_H
#define BTVM_DEVICES_ISA_DEBUG_EXIT_H

#include "devices/bus.h"

#define ISA_DEBUG_EXIT_PORT 0xf4

struct isa_debug_exit {
	/* Called with the process exit status the guest asked for. */
	void (*request_exit)(void *opaque, int status);
	void *opaque;
};

int isa_debug_exit_attach(struct isa_debug_exit *dev, struct bus *bus, uint16_t port);

#endif
