/* The HPET through the bus with a clock the test moves: the capabilities,
 * the counter halted, written and running (64-bit and as two dwords),
 * one-shot and periodic comparators and where they interrupt (an I/O APIC
 * pin, active low; legacy replacement on ISA IRQ 0 and 8 with the PIT's
 * and the RTC's lines cut off), level mode's status bit, 32-bit mode, the
 * deadlines it reports, its registers through a snapshot, and the PIT's
 * and the RTC's input levels through a reset. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "devices/bus.h"
#include "devices/hpet.h"
#include "host/snapfile.h"

#define BASE HPET_BASE
#define T2 HPET_REG_TIMER(2)
#define T0 HPET_REG_TIMER(0)
#define TN_LEVEL 0x2u
#define TN_ENB 0x4u
#define TN_PERIODIC 0x8u
#define TN_VAL_SET 0x40u
#define TN_32BIT 0x100u

static struct bus bus;
static struct hpet hpet;
static uint64_t now_ns;
static int isa_level[16];
static unsigned isa_rises[16];
static int pin_level[24];
static unsigned pin_falls[24];

static uint64_t clock_ns(void *opaque)
{
	(void)opaque;
	return now_ns;
}

static void set_isa(void *opaque, unsigned irq, int level)
{
	(void)opaque;
	if (level && !isa_level[irq])
		isa_rises[irq]++;
	isa_level[irq] = level;
}

static void set_pin(void *opaque, unsigned pin, int level)
{
	(void)opaque;
	if (!level && pin_level[pin])
		pin_falls[pin]++;
	pin_level[pin] = level;
}

static void setup(void)
{
	memset(isa_level, 0, sizeof(isa_level));
	memset(isa_rises, 0, sizeof(isa_rises));
	memset(pin_level, 0, sizeof(pin_level));
	memset(pin_falls, 0, sizeof(pin_falls));
	now_ns = 1000;
	bus_init(&bus);
	hpet_init(&hpet, clock_ns, set_isa, set_pin, NULL);
	hpet_reset(&hpet);
	CHECK_EQ(hpet_attach(&hpet, &bus, BASE), 0);
}

static uint64_t rd(uint64_t reg, unsigned width)
{
	return bus_read(&bus, BUS_SPACE_MMIO, BASE + reg, width);
}

static void wr(uint64_t reg, unsigned width, uint64_t value)
{
	bus_write(&bus, BUS_SPACE_MMIO, BASE + reg, width, value);
}

static void advance(uint64_t ns)
{
	now_ns += ns;
	hpet_update(&hpet, now_ns);
}

static void test_counter(void)
{
	setup();
	uint64_t cap = rd(HPET_REG_CAP, 8);
	CHECK_EQ(cap >> 32, HPET_PERIOD_FS);
	CHECK_EQ((cap >> 16) & 0xffff, 0x8086);
	CHECK_EQ((cap >> 8) & 0x1f, 2);		/* three timers */
	CHECK_EQ(cap & 0xa000, 0xa000);		/* legacy route, 64-bit */
	CHECK_EQ(rd(HPET_REG_CAP + 4, 4), HPET_PERIOD_FS);
	/* Pins 20-23 idle high after reset. */
	CHECK_EQ(pin_level[20] & pin_level[23], 1);
	/* Halted: written, still. */
	wr(HPET_REG_COUNTER, 4, 0x9abcdef0);
	wr(HPET_REG_COUNTER + 4, 4, 0x12345678);
	advance(1000000);
	CHECK_EQ(rd(HPET_REG_COUNTER, 8), 0x123456789abcdef0ull);
	wr(HPET_REG_COUNTER, 8, 0xfffffff0);
	wr(HPET_REG_CONFIG, 4, HPET_CFG_ENABLE);
	advance(1000);				/* 100 ticks */
	CHECK_EQ(rd(HPET_REG_COUNTER, 4), 0x54);
	CHECK_EQ(rd(HPET_REG_COUNTER + 4, 4), 1);
	/* Disabled: the count stays where it was. */
	wr(HPET_REG_CONFIG, 4, 0);
	advance(50000);
	CHECK_EQ(rd(HPET_REG_COUNTER, 8), 0x100000054ull);
	/* Reserved bits of GEN_CONF read 0. */
	wr(HPET_REG_CONFIG, 4, 0xfffffffc);
	CHECK_EQ(rd(HPET_REG_CONFIG, 4), 0);
}

static void test_oneshot_pin(void)
{
	setup();
	/* A route the timer cannot take is not stored. */
	wr(T2, 4, 5u << 9 | TN_ENB);
	CHECK_EQ((rd(T2, 4) >> 9) & 0x1f, 0);
	CHECK_EQ(rd(T2 + 4, 4), HPET_ROUTE_CAP);
	wr(T2, 4, 23u << 9 | TN_ENB);
	CHECK_EQ((rd(T2, 4) >> 9) & 0x1f, 23);
	wr(T2 + 8, 8, 1000);			/* 10 us */
	wr(HPET_REG_CONFIG, 4, HPET_CFG_ENABLE);
	CHECK_EQ(hpet_next_event_ns(&hpet, now_ns), now_ns + 10000);
	advance(9990);
	CHECK_EQ(pin_falls[23], 0);
	advance(10);
	CHECK_EQ(pin_falls[23], 1);		/* a pulse, low then high */
	CHECK_EQ(pin_level[23], 1);
	CHECK_EQ(rd(HPET_REG_STATUS, 4), 0);	/* edge: no status */
	advance(1000000);
	CHECK_EQ(pin_falls[23], 1);		/* one-shot */
	CHECK_EQ(hpet_next_event_ns(&hpet, now_ns), UINT64_MAX);

	/* Level: held low until the status bit is cleared. */
	wr(HPET_REG_CONFIG, 4, 0);
	wr(HPET_REG_COUNTER, 8, 0);
	wr(T2, 4, 22u << 9 | TN_ENB | TN_LEVEL);
	wr(T2 + 8, 8, 100);
	wr(HPET_REG_CONFIG, 4, HPET_CFG_ENABLE);
	advance(1000);
	CHECK_EQ(rd(HPET_REG_STATUS, 4), 4);
	CHECK_EQ(pin_level[22], 0);
	wr(HPET_REG_STATUS, 4, 4);
	CHECK_EQ(rd(HPET_REG_STATUS, 4), 0);
	CHECK_EQ(pin_level[22], 1);
}

static void test_periodic_legacy(void)
{
	setup();
	/* The PIT's and RTC's lines pass through while legacy is off. */
	hpet_isa_input(&hpet, 0, 1);
	CHECK_EQ(isa_level[0], 1);
	hpet_isa_input(&hpet, 0, 0);
	hpet_isa_input(&hpet, 8, 1);
	CHECK_EQ(isa_level[8], 1);
	hpet_isa_input(&hpet, 8, 0);
	CHECK_EQ(isa_rises[0], 1);

	hpet.min_interval_ns = 0;
	wr(T0, 4, TN_ENB | TN_PERIODIC | TN_VAL_SET);
	wr(T0 + 8, 4, 1000);			/* first at 10 us, then */
	wr(T0 + 8, 4, 500);			/* every 5 us */
	wr(HPET_REG_CONFIG, 4, HPET_CFG_ENABLE | HPET_CFG_LEGACY);
	CHECK(hpet_legacy(&hpet));
	unsigned irq, pin;
	CHECK(hpet_timer_route(&hpet, 0, &irq, &pin));
	CHECK_EQ(irq, 0);
	hpet_isa_input(&hpet, 0, 1);		/* the PIT is cut off */
	CHECK_EQ(isa_level[0], 0);
	hpet_isa_input(&hpet, 0, 0);
	advance(10000);
	CHECK_EQ(isa_rises[0], 2);
	CHECK_EQ(rd(T0 + 8, 4), 1500);
	advance(5000);
	CHECK_EQ(isa_rises[0], 3);
	/* Periods missed together: one interrupt, the comparator ahead. */
	advance(5000 * 10 + 100);
	CHECK_EQ(isa_rises[0], 4);
	CHECK_EQ(rd(T0 + 8, 4), 7000);
	/* Leaving legacy mode gives IRQ 0 back to the PIT's level. */
	hpet_isa_input(&hpet, 0, 1);
	CHECK_EQ(isa_level[0], 0);
	wr(HPET_REG_CONFIG, 4, HPET_CFG_ENABLE);
	CHECK_EQ(isa_level[0], 1);
	/* The periodic pace is bounded from the last interrupt. */
	hpet.min_interval_ns = 100000;
	CHECK_EQ(hpet_timer_next_event_ns(&hpet, 0, now_ns), hpet.timer[0].last_fire_ns + 100000);
}

static void test_32bit(void)
{
	setup();
	wr(T2, 4, 21u << 9 | TN_ENB | TN_32BIT);
	wr(T2 + 8, 8, 0x100000800ull);		/* only the low half is kept */
	CHECK_EQ(rd(T2 + 8, 8), 0x800);
	wr(HPET_REG_COUNTER, 8, 0xfffff000);
	wr(HPET_REG_CONFIG, 4, HPET_CFG_ENABLE);
	/* One-shot in 32-bit mode: the wrap interrupts too (2.3.9.2.1). */
	CHECK_EQ(hpet_next_event_ns(&hpet, now_ns), now_ns + 0x1000 * 10);
	advance(0x1000 * 10 - 10);
	CHECK_EQ(pin_falls[21], 0);
	advance(10);
	CHECK_EQ(pin_falls[21], 1);
	CHECK_EQ(hpet_next_event_ns(&hpet, now_ns), now_ns + 0x800 * 10);
	advance(0x800 * 10);
	CHECK_EQ(pin_falls[21], 2);
	/* Then the next wrap, 2^32 ticks on, before the next match. */
	CHECK_EQ(hpet_next_event_ns(&hpet, now_ns), now_ns + (0x100000000ull - 0x800) * 10);
	/* A wrap and a match in one look are one interrupt. */
	advance((0x100000000ull - 0x800 + 0x800) * 10);
	CHECK_EQ(pin_falls[21], 3);
	/* Periodic in 32-bit mode, and one-shot in 64-bit mode: no wrap
	 * interrupt. */
	setup();
	wr(T2, 4, 21u << 9 | TN_ENB | TN_32BIT | TN_PERIODIC | TN_VAL_SET);
	wr(T2 + 8, 4, 0x2000);
	wr(HPET_REG_COUNTER, 8, 0xfffff000);
	wr(HPET_REG_CONFIG, 4, HPET_CFG_ENABLE);
	CHECK_EQ(hpet_next_event_ns(&hpet, now_ns), now_ns + 0x3000 * 10);
	advance(0x2000 * 10);
	CHECK_EQ(pin_falls[21], 0);
	setup();
	wr(T2, 4, 21u << 9 | TN_ENB);
	wr(T2 + 8, 8, 0x100000800ull);
	wr(HPET_REG_COUNTER, 8, 0xfffff000);
	wr(HPET_REG_CONFIG, 4, HPET_CFG_ENABLE);
	CHECK_EQ(hpet_next_event_ns(&hpet, now_ns), now_ns + 0x1800 * 10);
	advance(0x1000 * 10);
	CHECK_EQ(pin_falls[21], 0);
	advance(0x800 * 10);
	CHECK_EQ(pin_falls[21], 1);
}

static void test_snapshot(void)
{
	setup();
	wr(T2, 4, 20u << 9 | TN_ENB | TN_LEVEL | TN_PERIODIC | TN_VAL_SET);
	wr(T2 + 8, 4, 100);
	wr(HPET_REG_CONFIG, 4, HPET_CFG_ENABLE | HPET_CFG_LEGACY);
	advance(1234);
	struct hpet saved = hpet;
	int fd = memfd_create("hpet.snap", 0);
	CHECK(fd >= 0);
	struct snap_writer w;
	CHECK_EQ(snapw_open_fd(&w, fd, "hpet.snap", 1), 0);
	hpet_save(&hpet, &w);
	CHECK_EQ(snapw_close(&w), 0);
	hpet_reset(&hpet);
	CHECK_EQ(rd(HPET_REG_CONFIG, 4), 0);
	struct snap_reader r;
	CHECK_EQ(snapr_open_fd(&r, fd, "hpet.snap"), 0);
	CHECK_EQ(snapr_next(&r), 1);
	CHECK(strcmp(r.tag, "HPET") == 0);
	CHECK_EQ(hpet_load(&hpet, &r), 0);
	snapr_close(&r);
	close(fd);
	CHECK_EQ(hpet.config, saved.config);
	CHECK_EQ(hpet.isr, saved.isr);
	CHECK_EQ(hpet_counter(&hpet, now_ns), hpet_counter(&saved, now_ns));
	CHECK_EQ(hpet.timer[2].cmp, saved.timer[2].cmp);
	CHECK_EQ(hpet.timer[2].period, saved.timer[2].period);
	CHECK_EQ(hpet.pins_out, saved.pins_out);
}

/* The PIT's and the RTC's lines pass through the HPET; a reset of the
 * board resets them with their outputs low, and they report only
 * changes, so the levels the HPET held must go low with it: otherwise the
 * PIT's first rising edge after the reset (its line high before it, as
 * a fired one-shot leaves it) would reach no one. */
static void test_reset_inputs(void)
{
	setup();
	hpet_isa_input(&hpet, 0, 1);
	hpet_isa_input(&hpet, 8, 1);
	CHECK_EQ(isa_level[0], 1);
	CHECK_EQ(isa_level[8], 1);
	hpet_reset(&hpet);
	CHECK_EQ(isa_level[0], 0);
	CHECK_EQ(isa_level[8], 0);
	unsigned rises0 = isa_rises[0], rises8 = isa_rises[8];
	hpet_isa_input(&hpet, 0, 1);
	hpet_isa_input(&hpet, 8, 1);
	CHECK_EQ(isa_rises[0], rises0 + 1);
	CHECK_EQ(isa_rises[8], rises8 + 1);
}

int main(void)
{
	test_counter();
	test_oneshot_pin();
	test_periodic_legacy();
	test_32bit();
	test_snapshot();
	test_reset_inputs();
	return check_report("test_hpet");
}
