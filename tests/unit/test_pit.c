/* The 8254 driven through a real bus with a fake nanosecond clock: the
 * BIOS reset state, mode 2 periodic IRQ 0 pulses and lost ticks, access
 * modes, the counter latch, read-back, modes 0, 1, 3 and 4, a count of
 * zero, a new count in mode 2, channel 2's gate and output, and the
 * board's holdoff between pulses and backlog of late edges. */
#include "check.h"
#include "device_probe.h"
#include "devices/bus.h"
#include "devices/pit8254.h"

#define CMD 0x43
#define T0 ((uint64_t)PIT_FREQUENCY_HZ)	/* the counter clock edge at 1 s */

struct harness {
	struct device_probe p;   /* first: the device's opaque is the harness */
	struct bus bus;
	struct pit8254 pit;
};

/* The first nanosecond of counter clock edge T0 + k. */
static uint64_t ns_at(uint64_t k)
{
	unsigned __int128 tick = T0 + k;
	return (uint64_t)((tick * 1000000000u + PIT_FREQUENCY_HZ - 1) / PIT_FREQUENCY_HZ);
}

static void at(struct harness *h, uint64_t k)
{
	h->p.now = ns_at(k);
}

static void setup(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	h->p.line = 0;
	struct irq_line irq = { .set_level = probe_irq, .opaque = h, .line = 0 };
	bus_init(&h->bus);
	at(h, 0);
	pit8254_init(&h->pit, &irq, probe_clock, h);
	h->pit.deadline_changed = probe_deadline;
	CHECK_EQ(pit8254_attach(&h->pit, &h->bus), 0);
}

static void outb(struct harness *h, uint16_t port, uint8_t value)
{
	bus_write(&h->bus, BUS_SPACE_PIO, port, 1, value);
}

static uint8_t inb(struct harness *h, uint16_t port)
{
	return (uint8_t)bus_read(&h->bus, BUS_SPACE_PIO, port, 1);
}

/* Control word, then the count LSB then MSB, as Linux programs it. */
static void program(struct harness *h, unsigned ch, uint8_t ctrl, unsigned count)
{
	outb(h, CMD, ctrl);
	outb(h, (uint16_t)(0x40 + ch), (uint8_t)count);
	outb(h, (uint16_t)(0x40 + ch), (uint8_t)(count >> 8));
}

static unsigned read_word(struct harness *h, unsigned ch)
{
	unsigned lo = inb(h, (uint16_t)(0x40 + ch));
	return lo | (unsigned)inb(h, (uint16_t)(0x40 + ch)) << 8;
}

/* Counter latch command, then the two bytes. */
static unsigned latched_count(struct harness *h, unsigned ch)
{
	outb(h, CMD, (uint8_t)(ch << 6));
	return read_word(h, ch);
}

static uint8_t status(struct harness *h, unsigned ch)
{
	outb(h, CMD, (uint8_t)(0xe0 | 2u << ch));
	return inb(h, (uint16_t)(0x40 + ch));
}

static void test_bios_state(void)
{
	struct harness h;
	setup(&h);

	/* Channel 0 at 18.2 Hz in mode 3, channel 1 refreshing, channel 2
	 * waiting for a count with its gate low. */
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(65536));
	CHECK_EQ(latched_count(&h, 0), 0);
	CHECK_EQ(status(&h, 0), 0xb6);
	CHECK_EQ(status(&h, 1), 0x94);
	CHECK_EQ(status(&h, 2), 0x70);
	CHECK_EQ(pit8254_get_output(&h.pit, 2, h.p.now), 0);
	CHECK_EQ(h.p.level, 0);
	pit8254_update(&h.pit, ns_at(65536));
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(h.p.level, 0);
	/* The control register reads as an open bus. */
	CHECK_EQ(inb(&h, CMD), 0xff);
	CHECK_EQ(h.p.bad_line, 0);
}

static void test_mode2_periodic(void)
{
	struct harness h;
	setup(&h);

	program(&h, 0, 0x34, 1193);
	CHECK(h.p.deadline_changes >= 1);
	uint64_t next = pit8254_next_event_ns(&h.pit, h.p.now);
	CHECK_EQ(next, ns_at(1193));
	CHECK(next - h.p.now > 999000 && next - h.p.now < 1000000);

	pit8254_update(&h.pit, next - 1);
	CHECK_EQ(h.p.rises, 0);
	pit8254_update(&h.pit, next);
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(h.p.level, 0);
	CHECK_EQ(h.p.calls, 2);
	/* Looking again at the same time delivers nothing more. */
	pit8254_update(&h.pit, next);
	CHECK_EQ(h.p.rises, 1);

	/* One pulse per period, each one exactly where the counter says. */
	for (unsigned i = 2; i <= 10; i++) {
		next = pit8254_next_event_ns(&h.pit, next);
		CHECK_EQ(next, ns_at(i * 1193));
		pit8254_update(&h.pit, next);
		CHECK_EQ(h.p.rises, i);
	}
	CHECK_EQ(h.pit.irqs, 10);
	CHECK_EQ(h.pit.lost_irqs, 0);

	/* 5.5 periods late: one pulse, four lost, and back on the grid. */
	at(&h, 10 * 1193 + 5 * 1193 + 596);
	pit8254_update(&h.pit, h.p.now);
	CHECK_EQ(h.p.rises, 11);
	CHECK_EQ(h.pit.lost_irqs, 4);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(16 * 1193));

	/* Due but not yet delivered: the deadline is now. */
	at(&h, 16 * 1193 + 3);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), h.p.now);

	/* A count read is computed from the clock (mode 2 counts N..1);
	 * the read also delivers the pulse that was due. */
	at(&h, 16 * 1193 + 100);
	CHECK_EQ(read_word(&h, 0), 1093);
	CHECK_EQ(h.p.rises, 12);
	at(&h, 17 * 1193 - 1);
	CHECK_EQ(read_word(&h, 0), 1);
	CHECK_EQ(pit8254_get_output(&h.pit, 0, h.p.now), 0);
	at(&h, 17 * 1193);
	CHECK_EQ(read_word(&h, 0), 1193);
	CHECK_EQ(pit8254_get_output(&h.pit, 0, h.p.now), 1);
}

static void test_access_modes(void)
{
	struct harness h;
	setup(&h);

	/* LSB then MSB: nothing counts until the second byte. */
	outb(&h, CMD, 0x34);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), UINT64_MAX);
	outb(&h, 0x40, 0xa9);
	CHECK_EQ(status(&h, 0) & 0x40, 0x40);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), UINT64_MAX);
	outb(&h, 0x40, 0x04);
	CHECK_EQ(status(&h, 0) & 0x40, 0);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(1193));
	/* Reads alternate LSB, MSB independently of writes. */
	at(&h, 10);
	CHECK_EQ(inb(&h, 0x40), 1183 & 0xff);
	CHECK_EQ(inb(&h, 0x40), 1183 >> 8);

	/* LSB only. */
	at(&h, 100);
	outb(&h, CMD, 0x14);
	outb(&h, 0x40, 100);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(200));
	at(&h, 130);
	CHECK_EQ(inb(&h, 0x40), 70);
	CHECK_EQ(inb(&h, 0x40), 70);

	/* MSB only. */
	at(&h, 1000);
	outb(&h, CMD, 0x24);
	outb(&h, 0x40, 0x02);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(1512));
	at(&h, 1256);
	CHECK_EQ(inb(&h, 0x40), 0x01);
	CHECK_EQ(inb(&h, 0x40), 0x01);

	/* A 16-bit OUT is split across ports 0x40 and 0x41, as on ISA:
	 * channel 0 gets only its LSB, channel 1 (LSB only) the other. */
	at(&h, 2000);
	outb(&h, CMD, 0x34);
	bus_write(&h.bus, BUS_SPACE_PIO, 0x40, 2, 0x03e8);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), UINT64_MAX);
	/* Channel 1 is counting in mode 2, so its new count waits. */
	CHECK_EQ(status(&h, 1), 0xd4);
	outb(&h, 0x40, 0x03);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(3000));
}

static void test_latch(void)
{
	struct harness h;
	setup(&h);

	program(&h, 0, 0x34, 1193);
	at(&h, 100);
	outb(&h, CMD, 0x00);
	at(&h, 500);
	CHECK_EQ(read_word(&h, 0), 1093);
	/* The latch is gone once read: live again. */
	CHECK_EQ(read_word(&h, 0), 693);

	/* A second latch before the first is read is ignored. */
	at(&h, 600);
	outb(&h, CMD, 0x00);
	at(&h, 700);
	outb(&h, CMD, 0x00);
	at(&h, 800);
	CHECK_EQ(read_word(&h, 0), 593);
	CHECK_EQ(read_word(&h, 0), 393);

	/* A latch on one channel leaves the others live. */
	program(&h, 2, 0xb4, 5000);
	pit8254_set_gate(&h.pit, 2, 1, h.p.now);
	outb(&h, CMD, 0x80);
	at(&h, 900);
	CHECK_EQ(read_word(&h, 0), 293);
	CHECK_EQ(read_word(&h, 2), 5000);
	CHECK_EQ(read_word(&h, 2), 4900);
}

static void test_read_back(void)
{
	struct harness h;
	setup(&h);

	/* Status right after a control word: OUT high (mode 2), null count. */
	outb(&h, CMD, 0x34);
	CHECK_EQ(status(&h, 0), 0xf4);
	outb(&h, 0x40, 0xa9);
	outb(&h, 0x40, 0x04);
	at(&h, 100);
	CHECK_EQ(status(&h, 0), 0xb4);
	/* Status alone leaves the count live. */
	CHECK_EQ(read_word(&h, 0), 1093);

	/* Count and status together: status first, then the latched count. */
	at(&h, 200);
	outb(&h, CMD, 0xc2);
	at(&h, 300);
	CHECK_EQ(inb(&h, 0x40), 0xb4);
	CHECK_EQ(read_word(&h, 0), 993);
	CHECK_EQ(read_word(&h, 0), 893);

	/* Count only. */
	outb(&h, CMD, 0xd2);
	at(&h, 400);
	CHECK_EQ(read_word(&h, 0), 893);

	/* The last clock of a mode 2 period has OUT low. */
	at(&h, 1192);
	CHECK_EQ(status(&h, 0), 0x34);
	CHECK_EQ(latched_count(&h, 0), 1);

	/* Several channels at once; channel 1 is LSB-only. */
	outb(&h, CMD, 0xc6);
	CHECK_EQ(inb(&h, 0x40), 0x34);
	CHECK_EQ(read_word(&h, 0), 1);
	CHECK_EQ(inb(&h, 0x41), 0x94);
	CHECK_EQ(inb(&h, 0x41), 18 - 1192 % 18);

	/* The BCD bit is refused: counting and status stay binary. */
	outb(&h, CMD, 0x35);
	CHECK_EQ(status(&h, 0), 0xf4);
}

static void test_mode0_one_shot(void)
{
	struct harness h;
	setup(&h);

	program(&h, 0, 0x30, 100);
	CHECK_EQ(h.p.level, 0);
	CHECK_EQ(pit8254_get_output(&h.pit, 0, h.p.now), 0);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(100));
	pit8254_update(&h.pit, ns_at(100) - 1);
	CHECK_EQ(h.p.rises, 0);
	pit8254_update(&h.pit, ns_at(100));
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(h.p.level, 1);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, ns_at(100)), UINT64_MAX);

	/* OUT stays high and the line with it. */
	pit8254_update(&h.pit, ns_at(100000));
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(h.p.level, 1);
	CHECK_EQ(pit8254_get_output(&h.pit, 0, ns_at(100000)), 1);
	/* The counter wraps on past zero. */
	at(&h, 101);
	CHECK_EQ(latched_count(&h, 0), 0xffff);

	/* A new count: the first byte drops OUT, the second restarts. */
	at(&h, 200);
	outb(&h, 0x40, 50);
	CHECK_EQ(h.p.level, 0);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), UINT64_MAX);
	at(&h, 210);
	outb(&h, 0x40, 0);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(260));
	at(&h, 230);
	CHECK_EQ(latched_count(&h, 0), 30);
	pit8254_update(&h.pit, ns_at(260));
	CHECK_EQ(h.p.rises, 2);
	CHECK_EQ(h.p.level, 1);
}

static void test_mode3_count(void)
{
	static const unsigned even[] = { 10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10, 8 };
	static const unsigned odd[] = { 5, 4, 2, 5, 2, 5, 4, 2, 5, 2, 5 };
	struct harness h;
	setup(&h);

	program(&h, 0, 0x36, 10);
	for (unsigned k = 0; k < sizeof(even) / sizeof(even[0]); k++) {
		at(&h, k);
		CHECK_EQ(latched_count(&h, 0), even[k]);
		CHECK_EQ(pit8254_get_output(&h.pit, 0, h.p.now), k % 10 < 5);
	}
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(20));

	/* Odd counts: high for (N + 1) / 2 clocks, low for (N - 1) / 2. */
	at(&h, 100);
	program(&h, 0, 0x36, 5);
	for (unsigned k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
		at(&h, 100 + k);
		CHECK_EQ(latched_count(&h, 0), odd[k]);
		CHECK_EQ(pit8254_get_output(&h.pit, 0, h.p.now), k % 5 < 3);
	}

	/* Each period is one IRQ 0 pulse, at the start of the high half. */
	at(&h, 200);
	program(&h, 0, 0x36, 5);
	unsigned before = h.p.rises;
	pit8254_update(&h.pit, ns_at(204));
	CHECK_EQ(h.p.rises, before);
	pit8254_update(&h.pit, ns_at(205));
	pit8254_update(&h.pit, ns_at(208));
	CHECK_EQ(h.p.rises, before + 1);
	pit8254_update(&h.pit, ns_at(210));
	CHECK_EQ(h.p.rises, before + 2);
}

static void test_divisor_zero(void)
{
	struct harness h;
	setup(&h);

	program(&h, 0, 0x34, 0);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(65536));
	CHECK_EQ(latched_count(&h, 0), 0);
	at(&h, 1);
	CHECK_EQ(latched_count(&h, 0), 0xffff);
	at(&h, 65535);
	CHECK_EQ(latched_count(&h, 0), 1);
	pit8254_update(&h.pit, ns_at(65536));
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, ns_at(65536)), ns_at(131072));

	/* Mode 0 with 0 counts 65536 clocks too. */
	at(&h, 100000);
	program(&h, 0, 0x30, 0);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(165536));
}

static void test_mode2_new_count(void)
{
	struct harness h;
	setup(&h);

	program(&h, 0, 0x34, 1000);
	/* Without a control word the new count waits for the period's end. */
	at(&h, 300);
	outb(&h, 0x40, 500 & 0xff);
	outb(&h, 0x40, 500 >> 8);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(1000));
	at(&h, 400);
	CHECK_EQ(latched_count(&h, 0), 600);
	CHECK_EQ(status(&h, 0) & 0x40, 0x40);
	pit8254_update(&h.pit, ns_at(1000));
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, ns_at(1000)), ns_at(1500));
	at(&h, 1100);
	CHECK_EQ(latched_count(&h, 0), 400);
	CHECK_EQ(status(&h, 0) & 0x40, 0);
	pit8254_update(&h.pit, ns_at(1500));
	CHECK_EQ(h.p.rises, 2);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, ns_at(1500)), ns_at(2000));
}

static void test_mode4_strobe(void)
{
	struct harness h;
	setup(&h);

	program(&h, 0, 0x38, 50);
	CHECK_EQ(pit8254_get_output(&h.pit, 0, h.p.now), 1);
	CHECK_EQ(pit8254_get_output(&h.pit, 0, ns_at(50)), 0);
	CHECK_EQ(pit8254_get_output(&h.pit, 0, ns_at(51)), 1);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(51));
	pit8254_update(&h.pit, ns_at(50));
	CHECK_EQ(h.p.rises, 0);
	pit8254_update(&h.pit, ns_at(51));
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(h.p.level, 0);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, ns_at(51)), UINT64_MAX);
}

static void test_channel2_gate(void)
{
	struct harness h;
	setup(&h);
	unsigned deadline_changes = h.p.deadline_changes;

	/* Linux's TSC calibration: mode 0, count 0xffff, gate from 0x61. */
	program(&h, 2, 0xb0, 0xffff);
	at(&h, 1000);
	CHECK_EQ(latched_count(&h, 2), 0xffff);
	CHECK_EQ(pit8254_get_output(&h.pit, 2, h.p.now), 0);
	pit8254_set_gate(&h.pit, 2, 1, h.p.now);
	CHECK_EQ(pit8254_get_output(&h.pit, 2, ns_at(1000 + 65534)), 0);
	CHECK_EQ(pit8254_get_output(&h.pit, 2, ns_at(1000 + 65535)), 1);
	at(&h, 1010);
	CHECK_EQ(latched_count(&h, 2), 65525);

	/* A low gate suspends mode 0 counting. */
	pit8254_set_gate(&h.pit, 2, 0, ns_at(2000));
	at(&h, 3000);
	CHECK_EQ(latched_count(&h, 2), 64535);
	pit8254_set_gate(&h.pit, 2, 1, h.p.now);
	at(&h, 3010);
	CHECK_EQ(latched_count(&h, 2), 64525);

	/* Mode 1: the gate's rising edge fires the one-shot. */
	at(&h, 10000);
	program(&h, 2, 0xb2, 20);
	CHECK_EQ(pit8254_get_output(&h.pit, 2, h.p.now), 1);
	pit8254_set_gate(&h.pit, 2, 0, h.p.now);
	pit8254_set_gate(&h.pit, 2, 1, ns_at(10010));
	CHECK_EQ(pit8254_get_output(&h.pit, 2, ns_at(10010)), 0);
	CHECK_EQ(pit8254_get_output(&h.pit, 2, ns_at(10029)), 0);
	CHECK_EQ(pit8254_get_output(&h.pit, 2, ns_at(10030)), 1);

	/* Mode 3 speaker tone: a low gate holds OUT high, a rising one
	 * restarts the wave. */
	at(&h, 20000);
	program(&h, 2, 0xb6, 100);
	CHECK_EQ(pit8254_get_output(&h.pit, 2, ns_at(20060)), 0);
	pit8254_set_gate(&h.pit, 2, 0, ns_at(20060));
	CHECK_EQ(pit8254_get_output(&h.pit, 2, ns_at(20070)), 1);
	pit8254_set_gate(&h.pit, 2, 1, ns_at(20080));
	CHECK_EQ(pit8254_get_output(&h.pit, 2, ns_at(20129)), 1);
	CHECK_EQ(pit8254_get_output(&h.pit, 2, ns_at(20130)), 0);

	/* None of this touched channel 0's deadline or IRQ 0. */
	CHECK_EQ(h.p.deadline_changes, deadline_changes);
	CHECK_EQ(h.p.calls, 0);
}

static bool pending_flag;
static bool fake_pending(void *opaque)
{
	(void)opaque;
	return pending_flag;
}

/* The board's settings: a 100 us holdoff between pulses and a backlog of
 * late edges. Divisor 1 (a 1.19 MHz storm) gives one pulse per holdoff
 * and counter reads that keep the programmed rate. */
static void test_storm_holdoff(void)
{
	struct harness h;
	setup(&h);
	h.pit.irq_min_interval_ns = 100000;
	h.pit.irq_backlog_max_ns = 1000000000;

	program(&h, 0, 0x34, 1);
	unsigned start = h.p.rises;
	/* 1 ms polled every 10 us: 10 pulses, not 1193. */
	for (unsigned k = 0; k <= 1193; k += 12) {
		at(&h, k);
		pit8254_update(&h.pit, h.p.now);
		CHECK_EQ(read_word(&h, 0), 1);
	}
	CHECK(h.p.rises - start >= 9 && h.p.rises - start <= 11);
	/* The next event is never due again right after an update. */
	CHECK(pit8254_next_event_ns(&h.pit, h.p.now) > h.p.now);
}

/* Edges the caller was late for are delivered late, one per holdoff and
 * only once the last pulse was taken; a masked line drops them. */
static void test_backlog(void)
{
	struct harness h;
	setup(&h);
	h.pit.irq_min_interval_ns = 100000;
	h.pit.irq_backlog_max_ns = 1000000000;
	h.pit.irq_pending = fake_pending;
	pending_flag = false;

	program(&h, 0, 0x34, 11932);           /* 100 Hz */
	at(&h, 11932);
	pit8254_update(&h.pit, h.p.now);
	unsigned base = h.p.rises;
	CHECK_EQ(base, 1);
	/* 5.5 periods late (a host stall): one pulse now, four queued. */
	at(&h, 11932 + 5 * 11932 + 5966);
	pit8254_update(&h.pit, h.p.now);
	CHECK_EQ(h.p.rises, base + 1);
	CHECK_EQ(h.pit.irq_backlog, 4);
	CHECK_EQ(h.pit.lost_irqs, 0);
	/* Not taken yet: the next is held back a period at most. */
	pending_flag = true;
	uint64_t next = pit8254_next_event_ns(&h.pit, h.p.now);
	CHECK(next > h.p.now);
	h.p.now = next;
	pit8254_update(&h.pit, h.p.now);
	CHECK_EQ(h.p.rises, base + 1);
	CHECK_EQ(h.pit.irq_backlog, 4);
	/* Taken: the queue drains a pulse per holdoff. */
	pending_flag = false;
	pit8254_irq_taken(&h.pit);
	for (unsigned i = 0; i < 4; i++) {
		h.p.now = pit8254_next_event_ns(&h.pit, h.p.now);
		pit8254_update(&h.pit, h.p.now);
	}
	CHECK_EQ(h.p.rises, base + 5);
	CHECK_EQ(h.pit.irq_backlog, 0);
	/* Late again, but the line is masked: nothing queued is delivered. */
	at(&h, 20 * 11932);
	pit8254_update(&h.pit, h.p.now);
	pit8254_drop_backlog(&h.pit);
	CHECK_EQ(h.pit.irq_backlog, 0);
	CHECK_EQ(pit8254_next_event_ns(&h.pit, h.p.now), ns_at(21 * 11932));
}

int main(void)
{
	test_bios_state();
	test_mode2_periodic();
	test_access_modes();
	test_latch();
	test_read_back();
	test_mode0_one_shot();
	test_mode3_count();
	test_divisor_zero();
	test_mode2_new_count();
	test_mode4_strobe();
	test_channel2_gate();
	test_storm_holdoff();
	test_backlog();
	return check_report("test_pit");
}
