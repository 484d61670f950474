/* The debug console port: firmware's log, a byte per write. */
#include "devices/debugcon.h"

#define DEBUGCON_SIGNATURE 0xe9

static uint64_t debugcon_read(void *opaque, uint64_t offset, unsigned width)
{
	(void)opaque;
	(void)offset;
	(void)width;
	return DEBUGCON_SIGNATURE;
}

static void debugcon_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct debugcon *dev = opaque;
	(void)offset;
	(void)width;
	dev->bytes++;
	if (dev->output)
		dev->output(dev->opaque, (uint8_t)value);
}

static const struct bus_ops debugcon_ops = {
	.read = debugcon_read,
	.write = debugcon_write,
	.max_width = 1,
};

int debugcon_attach(struct debugcon *dev, struct bus *bus, uint16_t port)
{
	return bus_register(bus, BUS_SPACE_PIO, "debugcon", port, 1, &debugcon_ops, dev);
}
