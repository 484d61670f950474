/* isa-debug-exit: lets test guests end the run with a status of their own. */
#include "devices/isa_debug_exit.h"

static uint64_t debug_exit_read(void *opaque, uint64_t offset, unsigned width)
{
	(void)opaque;
	(void)offset;
	(void)width;
	return ~0ULL;
}

static void debug_exit_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct isa_debug_exit *dev = opaque;
	(void)offset;
	(void)width;
	/* Exit statuses are 8 bits; the shift keeps QEMU's convention that an
	 * odd status came from the guest and not from a crash. */
	dev->request_exit(dev->opaque, (int)(((value << 1) | 1) & 0xff));
}

static const struct bus_ops debug_exit_ops = {
	.read = debug_exit_read,
	.write = debug_exit_write,
	.max_width = 4,
};

int isa_debug_exit_attach(struct isa_debug_exit *dev, struct bus *bus, uint16_t port)
{
	return bus_register(bus, BUS_SPACE_PIO, "isa-debug-exit", port, 4, &debug_exit_ops, dev);
}
