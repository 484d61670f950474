/* System control port A through the bus: A20 reads back and is reported
 * on change only, the reset is requested on bit 0's rising edge only. */
#include "check.h"
#include "devices/bus.h"
#include "devices/port92.h"

struct harness {
	struct bus bus;
	struct port92 port;
	unsigned a20_calls, resets;
	bool a20;
};

static void record_a20(void *opaque, bool enabled)
{
	struct harness *h = opaque;
	h->a20_calls++;
	h->a20 = enabled;
}

static void record_reset(void *opaque)
{
	struct harness *h = opaque;
	h->resets++;
}

static void setup(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	bus_init(&h->bus);
	port92_init(&h->port, record_a20, record_reset, h);
	CHECK_EQ(port92_attach(&h->port, &h->bus), 0);
}

static uint8_t rd(struct harness *h)
{
	return (uint8_t)bus_read(&h->bus, BUS_SPACE_PIO, PORT92_PORT, 1);
}

static void wr(struct harness *h, uint8_t value)
{
	bus_write(&h->bus, BUS_SPACE_PIO, PORT92_PORT, 1, value);
}

static void test_a20(void)
{
	struct harness h;
	setup(&h);

	/* Power-on: 0, as QEMU's (the keyboard controller's gate opens A20). */
	CHECK_EQ(rd(&h), 0x00);
	CHECK(!port92_a20_enabled(&h.port));

	/* The usual read-modify-write that enables it. */
	wr(&h, rd(&h) | 0x02);
	CHECK_EQ(rd(&h), 0x02);
	CHECK(port92_a20_enabled(&h.port));
	CHECK_EQ(h.a20_calls, 1);
	CHECK(h.a20);

	wr(&h, 0x00);
	CHECK_EQ(rd(&h), 0x00);
	CHECK(!port92_a20_enabled(&h.port));
	CHECK_EQ(h.a20_calls, 2);
	CHECK(!h.a20);
	/* Rewriting the same gate is no change. */
	wr(&h, 0x00);
	CHECK_EQ(h.a20_calls, 2);
	wr(&h, 0x02);
	CHECK_EQ(h.a20_calls, 3);

	/* Bits 3, 6 and 7 are storage; 2, 4 and 5 read 0. */
	wr(&h, 0xfe);
	CHECK_EQ(rd(&h), 0xca);
	CHECK_EQ(h.a20_calls, 3);
	CHECK_EQ(h.resets, 0);
}

static void test_reset_edge(void)
{
	struct harness h;
	setup(&h);

	wr(&h, 0x03);
	CHECK_EQ(h.resets, 1);
	CHECK_EQ(h.port.resets, 1);
	CHECK_EQ(rd(&h), 0x03);
	/* Still 1: no edge, no reset, even when other bits change. */
	wr(&h, 0x03);
	wr(&h, 0x01);
	CHECK_EQ(h.resets, 1);
	CHECK_EQ(h.a20_calls, 2);
	/* Down and up again is a second request. */
	wr(&h, 0x00);
	CHECK_EQ(h.resets, 1);
	wr(&h, 0x01);
	CHECK_EQ(h.resets, 2);

	/* A board reset starts over with bit 0 clear. */
	port92_init(&h.port, record_a20, record_reset, &h);
	CHECK_EQ(rd(&h), 0x00);
	wr(&h, 0x03);
	CHECK_EQ(h.resets, 3);

	/* No callbacks: still counted, nothing called. */
	port92_init(&h.port, NULL, NULL, NULL);
	wr(&h, 0x01);
	CHECK_EQ(h.port.resets, 1);
	CHECK_EQ(h.resets, 3);
	CHECK_EQ(h.bus.unclaimed_writes[BUS_SPACE_PIO], 0);
}

int main(void)
{
	test_a20();
	test_reset_edge();
	return check_report("test_port92");
}
