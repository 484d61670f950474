/* isa-debug-exit: the status the guest asks for, through the bus. */
#include "check.h"
#include "devices/isa_debug_exit.h"

static int last_status = -1;
static unsigned exits;

static void record_exit(void *opaque, int status)
{
	(void)opaque;
	exits++;
	last_status = status;
}

int main(void)
{
	struct bus bus;
	struct isa_debug_exit dev = { .request_exit = record_exit };
	bus_init(&bus);
	CHECK_EQ(isa_debug_exit_attach(&dev, &bus, ISA_DEBUG_EXIT_PORT), 0);

	bus_write(&bus, BUS_SPACE_PIO, 0xf4, 1, 0x10);
	CHECK_EQ(exits, 1);
	CHECK_EQ(last_status, 0x21);
	bus_write(&bus, BUS_SPACE_PIO, 0xf4, 4, 0);
	CHECK_EQ(last_status, 1);
	/* A dword write reaches the device whole, not as four exits. */
	CHECK_EQ(exits, 2);
	bus_write(&bus, BUS_SPACE_PIO, 0xf4, 2, 0x7f);
	CHECK_EQ(last_status, 0xff);
	CHECK_EQ(bus.unclaimed_writes[BUS_SPACE_PIO], 0);
	return check_report("test_debug_exit");
}
