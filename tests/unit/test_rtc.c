/* The MC146818 driven through a real bus with a fake nanosecond clock: the
 * calendar at a leap day and a century in BCD, binary and 12-hour modes
 * (and against the C library's gmtime over two centuries), the UIP window,
 * SET, the guest setting the time, the divider, periodic interrupts with
 * their deadlines and lost or queued periods, the update-ended and alarm interrupts,
 * the NMI mask, registers C and D, reset, and the memory-size bytes. */
#include <time.h>

#include "check.h"
#include "device_probe.h"
#include "devices/bus.h"
#include "devices/mc146818.h"

#define NS 1000000000ull
#define T0 (5 * NS)	/* the fake clock at power-on */
#define TICKS RTC_FREQUENCY_HZ

/* 2024-02-29 23:59:59 UTC, a Thursday. */
#define LEAP_EVE 1709251199
/* 2099-12-31 23:59:59 UTC, a Thursday. */
#define CENTURY_EVE 4102444799
/* 2100-02-28 23:59:59 UTC: 2100 is not a leap year. */
#define NO_LEAP_2100 4107542399
/* 2024-07-04 13:05:09 UTC. */
#define AFTERNOON 1720098309

enum {
	SEC = 0, SEC_ALARM = 1, MIN = 2, MIN_ALARM = 3, HOUR = 4, HOUR_ALARM = 5,
	WDAY = 6, MDAY = 7, MONTH = 8, YEAR = 9, REG_A = 10, REG_B = 11, REG_C = 12,
	REG_D = 13, CENTURY = 0x32,
};

struct harness {
	struct device_probe p;   /* first: the device's opaque is the harness */
	struct bus bus;
	struct mc146818 rtc;
};

/* The first nanosecond of divider tick k after power-on. */
static uint64_t ns_at(uint64_t k)
{
	return T0 + (k * NS + TICKS - 1) / TICKS;
}

static void setup(struct harness *h, int64_t epoch)
{
	memset(h, 0, sizeof(*h));
	h->p.line = RTC_IRQ;
	struct irq_line irq = { .set_level = probe_irq, .opaque = h, .line = RTC_IRQ };
	bus_init(&h->bus);
	h->p.now = T0;
	mc146818_init(&h->rtc, &irq, epoch, probe_clock, h);
	h->rtc.deadline_changed = probe_deadline;
	CHECK_EQ(mc146818_attach(&h->rtc, &h->bus), 0);
}

static void outb(struct harness *h, uint16_t port, uint8_t value)
{
	bus_write(&h->bus, BUS_SPACE_PIO, port, 1, value);
}

static uint8_t inb(struct harness *h, uint16_t port)
{
	return (uint8_t)bus_read(&h->bus, BUS_SPACE_PIO, port, 1);
}

static uint8_t cmos_read(struct harness *h, uint8_t index)
{
	outb(h, 0x70, index);
	return inb(h, 0x71);
}

static void cmos_write(struct harness *h, uint8_t index, uint8_t value)
{
	outb(h, 0x70, index);
	outb(h, 0x71, value);
}

struct when {
	unsigned sec, min, hour, wday, mday, month, year, century;
};

static struct when read_clock(struct harness *h)
{
	struct when w;
	w.sec = cmos_read(h, SEC);
	w.min = cmos_read(h, MIN);
	w.hour = cmos_read(h, HOUR);
	w.wday = cmos_read(h, WDAY);
	w.mday = cmos_read(h, MDAY);
	w.month = cmos_read(h, MONTH);
	w.year = cmos_read(h, YEAR);
	w.century = cmos_read(h, CENTURY);
	return w;
}

/* Compares all eight clock bytes, reporting the caller's line. */
static void check_clock(struct harness *h, struct when want, int line)
{
	struct when got = read_clock(h);
	check_count++;
	if (memcmp(&got, &want, sizeof(got)) != 0) {
		check_failures++;
		fprintf(stderr,
			"%s:%d: clock %02x:%02x:%02x wday %x %02x-%02x %02x%02x, want "
			"%02x:%02x:%02x wday %x %02x-%02x %02x%02x\n",
			__FILE__, line, got.hour, got.min, got.sec, got.wday, got.month, got.mday,
			got.century, got.year, want.hour, want.min, want.sec, want.wday, want.month,
			want.mday, want.century, want.year);
	}
}

static void test_leap_day_bcd(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	/* The BIOS state: 32.768 kHz, 1024 Hz rate, 24-hour BCD. */
	CHECK_EQ(cmos_read(&h, REG_A), 0x26);
	CHECK_EQ(cmos_read(&h, REG_B), 0x02);
	CHECK_EQ(cmos_read(&h, REG_C), 0x00);
	CHECK_EQ(cmos_read(&h, REG_D), 0x80);
	check_clock(&h, (struct when){ 0x59, 0x59, 0x23, 5, 0x29, 0x02, 0x24, 0x20 }, __LINE__);

	/* The last nanosecond of the second still shows it. */
	h.p.now = T0 + NS - 1;
	CHECK_EQ(cmos_read(&h, SEC), 0x59);
	h.p.now = T0 + NS;
	check_clock(&h, (struct when){ 0x00, 0x00, 0x00, 6, 0x01, 0x03, 0x24, 0x20 }, __LINE__);
	/* The update cycle set UF even with its interrupt off. */
	CHECK_EQ(cmos_read(&h, REG_C) & 0x10, 0x10);

	/* An hour and a bit later, counted from the same second grid. */
	h.p.now = T0 + NS + 3725 * NS + NS / 2;
	check_clock(&h, (struct when){ 0x05, 0x02, 0x01, 6, 0x01, 0x03, 0x24, 0x20 }, __LINE__);

	/* Registers D and the diagnostic byte ignore writes. */
	cmos_write(&h, REG_D, 0x00);
	CHECK_EQ(cmos_read(&h, REG_D), 0x80);
	CHECK_EQ(cmos_read(&h, 0x0e), 0x00);
	CHECK_EQ(h.p.calls, 0);
	CHECK_EQ(h.p.bad_line, 0);
}

static void test_binary_and_12_hour(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	/* Binary, 12-hour: 11 PM is 11 with bit 7. */
	cmos_write(&h, REG_B, 0x04);
	check_clock(&h, (struct when){ 59, 59, 0x80 | 11, 5, 29, 2, 24, 20 }, __LINE__);
	/* Midnight is 12 AM. */
	h.p.now = T0 + NS;
	check_clock(&h, (struct when){ 0, 0, 12, 6, 1, 3, 24, 20 }, __LINE__);

	/* 24-hour binary. */
	cmos_write(&h, REG_B, 0x06);
	check_clock(&h, (struct when){ 0, 0, 0, 6, 1, 3, 24, 20 }, __LINE__);

	/* Noon and one in the afternoon in 12-hour BCD. */
	setup(&h, AFTERNOON - 3600);
	cmos_write(&h, REG_B, 0x00);
	CHECK_EQ(cmos_read(&h, HOUR), 0x92);
	CHECK_EQ(cmos_read(&h, MIN), 0x05);
	CHECK_EQ(cmos_read(&h, SEC), 0x09);
	h.p.now = T0 + 3600 * NS;
	CHECK_EQ(cmos_read(&h, HOUR), 0x81);
	/* 1 AM is 0x01, 11 AM 0x11 (no PM bit). */
	setup(&h, AFTERNOON - 12 * 3600);
	cmos_write(&h, REG_B, 0x00);
	CHECK_EQ(cmos_read(&h, HOUR), 0x01);
	setup(&h, AFTERNOON - 2 * 3600);
	cmos_write(&h, REG_B, 0x00);
	CHECK_EQ(cmos_read(&h, HOUR), 0x11);
	/* Back to 24-hour BCD. */
	cmos_write(&h, REG_B, 0x02);
	CHECK_EQ(cmos_read(&h, HOUR), 0x11);
}

static void test_century(void)
{
	struct harness h;

	setup(&h, CENTURY_EVE);
	check_clock(&h, (struct when){ 0x59, 0x59, 0x23, 5, 0x31, 0x12, 0x99, 0x20 }, __LINE__);
	h.p.now = T0 + NS;
	check_clock(&h, (struct when){ 0x00, 0x00, 0x00, 6, 0x01, 0x01, 0x00, 0x21 }, __LINE__);

	/* 2100 skips February 29; 2000 did not. */
	setup(&h, NO_LEAP_2100);
	check_clock(&h, (struct when){ 0x59, 0x59, 0x23, 1, 0x28, 0x02, 0x00, 0x21 }, __LINE__);
	h.p.now = T0 + NS;
	check_clock(&h, (struct when){ 0x00, 0x00, 0x00, 2, 0x01, 0x03, 0x00, 0x21 }, __LINE__);
	setup(&h, 951782399);	/* 2000-02-28 23:59:59, a Monday */
	h.p.now = T0 + NS;
	check_clock(&h, (struct when){ 0x00, 0x00, 0x00, 3, 0x29, 0x02, 0x00, 0x20 }, __LINE__);
}

/* The device's calendar against the C library's over 1970-2200, in binary
 * mode, at power-on and one update later. */
static void test_calendar_sweep(void)
{
	struct harness h;
	unsigned bad = 0;

	for (int64_t t = 0; t < 7258118400; t += 86400 * 13 + 3607 * 7 + 11) {
		for (unsigned step = 0; step < 2; step++) {
			time_t tt = (time_t)(t + step);
			struct tm tm;
			gmtime_r(&tt, &tm);
			if (step == 0) {
				setup(&h, t);
				cmos_write(&h, REG_B, 0x06);
			} else {
				h.p.now = T0 + NS;
			}
			struct when w = read_clock(&h);
			unsigned year = w.century * 100 + w.year;
			if (w.sec != (unsigned)tm.tm_sec || w.min != (unsigned)tm.tm_min ||
			    w.hour != (unsigned)tm.tm_hour || w.wday != (unsigned)tm.tm_wday + 1 ||
			    w.mday != (unsigned)tm.tm_mday || w.month != (unsigned)tm.tm_mon + 1 ||
			    year != (unsigned)tm.tm_year + 1900) {
				if (bad++ < 5)
					fprintf(stderr, "calendar mismatch at %lld\n", (long long)tt);
			}
		}
	}
	CHECK_EQ(bad, 0);
}

static void test_uip(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	/* UIP covers the last eight ticks (244 us) before each update. */
	h.p.now = ns_at(TICKS - 8) - 1;
	CHECK_EQ(cmos_read(&h, REG_A), 0x26);
	h.p.now = ns_at(TICKS - 8);
	CHECK_EQ(h.p.now - T0, 999755860);
	CHECK_EQ(cmos_read(&h, REG_A), 0xa6);
	/* The time is still the old second while UIP is up. */
	CHECK_EQ(cmos_read(&h, SEC), 0x59);
	h.p.now = T0 + NS - 1;
	CHECK_EQ(cmos_read(&h, REG_A), 0xa6);
	h.p.now = T0 + NS;
	CHECK_EQ(cmos_read(&h, REG_A), 0x26);
	CHECK_EQ(cmos_read(&h, SEC), 0x00);
	/* And again a second later. */
	h.p.now = ns_at(2 * TICKS - 1);
	CHECK_EQ(cmos_read(&h, REG_A), 0xa6);
	/* UIP is read-only. */
	cmos_write(&h, REG_A, 0xa6);
	h.p.now = T0 + 2 * NS + 1000;
	CHECK_EQ(cmos_read(&h, REG_A), 0x26);

	/* SET inhibits the update, and UIP with it. */
	cmos_write(&h, REG_B, 0x82);
	h.p.now = ns_at(3 * TICKS - 1);
	CHECK_EQ(cmos_read(&h, REG_A), 0x26);
}

static void test_set_freezes(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	/* SET going high clears UIE. */
	cmos_write(&h, REG_B, 0x12);
	CHECK_EQ(cmos_read(&h, REG_B), 0x12);
	h.p.now = T0 + NS / 4;
	cmos_write(&h, REG_B, 0x92);
	CHECK_EQ(cmos_read(&h, REG_B), 0x82);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), UINT64_MAX);

	/* Three seconds go by with the clock frozen, and no update flag. */
	h.p.now = T0 + 3 * NS + NS / 2;
	CHECK_EQ(cmos_read(&h, SEC), 0x59);
	CHECK_EQ(cmos_read(&h, REG_C) & 0x10, 0);
	/* UIE can be set again while SET is up; it just has nothing to do. */
	cmos_write(&h, REG_B, 0x92);
	CHECK_EQ(cmos_read(&h, REG_B), 0x92);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), UINT64_MAX);

	/* Released mid-second: the next update is on the old grid, and the
	 * clock goes on from where it stood. */
	cmos_write(&h, REG_B, 0x12);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), T0 + 4 * NS);
	h.p.now = T0 + 4 * NS - 1;
	CHECK_EQ(cmos_read(&h, SEC), 0x59);
	h.p.now = T0 + 4 * NS;
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(h.p.rises, 1);
	check_clock(&h, (struct when){ 0x00, 0x00, 0x00, 6, 0x01, 0x03, 0x24, 0x20 }, __LINE__);
}

static void test_guest_sets_time(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	/* As Linux does it: SET, the bytes in the current format, SET off.
	 * 2023-12-31 23:59:58, a Sunday, written field by field. */
	h.p.now = T0 + NS / 3;
	cmos_write(&h, REG_B, 0x82);
	cmos_write(&h, SEC, 0x58);
	cmos_write(&h, MIN, 0x59);
	cmos_write(&h, HOUR, 0x23);
	/* Day 31 while the month still says February must not spill. */
	cmos_write(&h, MDAY, 0x31);
	cmos_write(&h, MONTH, 0x12);
	cmos_write(&h, YEAR, 0x23);
	cmos_write(&h, WDAY, 1);
	h.p.now = T0 + 5 * NS;
	check_clock(&h, (struct when){ 0x58, 0x59, 0x23, 1, 0x31, 0x12, 0x23, 0x20 }, __LINE__);
	h.p.now = T0 + 5 * NS + NS / 2;
	cmos_write(&h, REG_B, 0x02);
	h.p.now = T0 + 6 * NS;
	CHECK_EQ(cmos_read(&h, SEC), 0x59);
	h.p.now = T0 + 7 * NS;
	check_clock(&h, (struct when){ 0x00, 0x00, 0x00, 2, 0x01, 0x01, 0x24, 0x20 }, __LINE__);
	h.p.now = T0 + 67 * NS;
	check_clock(&h, (struct when){ 0x00, 0x01, 0x00, 2, 0x01, 0x01, 0x24, 0x20 }, __LINE__);

	/* A write while the clock runs takes effect at once and is counted
	 * from at the next update, with the sub-second phase kept. */
	h.p.now = T0 + 70 * NS + NS / 2;
	cmos_write(&h, SEC, 0x30);
	CHECK_EQ(cmos_read(&h, SEC), 0x30);
	h.p.now = T0 + 71 * NS - 1;
	CHECK_EQ(cmos_read(&h, SEC), 0x30);
	h.p.now = T0 + 71 * NS;
	CHECK_EQ(cmos_read(&h, SEC), 0x31);

	/* In binary mode, 12-hour: 11:59:59 PM on 2024-12-31. */
	cmos_write(&h, REG_B, 0x84);
	cmos_write(&h, SEC, 59);
	cmos_write(&h, MIN, 59);
	cmos_write(&h, HOUR, 0x80 | 11);
	cmos_write(&h, MDAY, 31);
	cmos_write(&h, MONTH, 12);
	cmos_write(&h, YEAR, 24);
	cmos_write(&h, WDAY, 3);
	cmos_write(&h, REG_B, 0x04);
	h.p.now = T0 + 72 * NS;
	check_clock(&h, (struct when){ 0, 0, 12, 4, 1, 1, 25, 20 }, __LINE__);

	/* The board's writes go the same way. */
	mc146818_set_cmos(&h.rtc, CENTURY, 21);
	CHECK_EQ(cmos_read(&h, CENTURY), 21);
	CHECK_EQ(cmos_read(&h, YEAR), 25);
}

static void test_divider(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	cmos_write(&h, REG_B, 0x52);	/* PIE and UIE */
	CHECK(mc146818_next_event_ns(&h.rtc, h.p.now) != UINT64_MAX);
	/* Holding the chain in reset stops time and every interrupt. */
	unsigned changes = h.p.deadline_changes;
	cmos_write(&h, REG_A, 0x76);
	CHECK(h.p.deadline_changes > changes);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), UINT64_MAX);
	h.p.now = T0 + 10 * NS;
	CHECK_EQ(cmos_read(&h, SEC), 0x59);
	CHECK_EQ(cmos_read(&h, REG_A), 0x76);
	CHECK_EQ(cmos_read(&h, REG_C) & 0x50, 0);
	CHECK_EQ(h.p.rises, 0);

	/* Released, the first update comes half a second later, and the
	 * periodic ticks run on the restarted chain. */
	cmos_write(&h, REG_A, 0x2f);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), h.p.now + NS / 2);
	h.p.now += NS / 2 - 1;
	CHECK_EQ(cmos_read(&h, SEC), 0x59);
	h.p.now += 1;
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(h.p.rises, 1);
	/* Midnight also matches the alarm bytes, all zero since power-on. */
	CHECK_EQ(cmos_read(&h, REG_C), 0xf0);
	CHECK_EQ(cmos_read(&h, SEC), 0x00);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), h.p.now + NS / 2);

	/* Other divider settings do not run the clock either. */
	cmos_write(&h, REG_A, 0x06);
	h.p.now += 5 * NS;
	CHECK_EQ(cmos_read(&h, SEC), 0x00);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), UINT64_MAX);
}

static void test_periodic_1024hz(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	/* Rate 6 is 1024 Hz: 32 ticks, 976562.5 ns. Nothing is enabled yet. */
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), UINT64_MAX);
	unsigned changes = h.p.deadline_changes;
	cmos_write(&h, REG_B, 0x42);
	CHECK_EQ(h.p.deadline_changes, changes + 1);
	uint64_t next = mc146818_next_event_ns(&h.rtc, h.p.now);
	CHECK_EQ(next, ns_at(32));
	CHECK_EQ(next - T0, 976563);

	mc146818_update(&h.rtc, next - 1);
	CHECK_EQ(h.p.rises, 0);
	mc146818_update(&h.rtc, next);
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(h.p.level, 1);
	/* While the line is up there is nothing more to deliver. */
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, next), UINT64_MAX);
	h.p.now = next + 1000;
	changes = h.p.deadline_changes;
	CHECK_EQ(cmos_read(&h, REG_C), 0xc0);
	CHECK_EQ(h.p.level, 0);
	CHECK_EQ(h.p.deadline_changes, changes + 1);
	CHECK_EQ(cmos_read(&h, REG_C), 0x00);

	/* One interrupt per period, each on the grid, no drift. */
	for (unsigned i = 2; i <= 2000; i++) {
		next = mc146818_next_event_ns(&h.rtc, h.p.now);
		if (next != ns_at(32ull * i)) {
			CHECK_EQ(next, ns_at(32ull * i));
			break;
		}
		h.p.now = next;
		mc146818_update(&h.rtc, h.p.now);
		CHECK_EQ(cmos_read(&h, REG_C) & 0xc0, 0xc0);
	}
	CHECK_EQ(h.p.rises, 2000);
	CHECK_EQ(h.rtc.irqs, 2000);
	CHECK_EQ(h.rtc.lost_irqs, 0);
	CHECK_EQ(h.p.level, 0);
	/* Due but not yet delivered: the deadline is now. */
	h.p.now = ns_at(32 * 2001) + 7;
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), h.p.now);

	/* Turning PIE off lowers the line and ends the deadlines, though
	 * PF keeps being set. */
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(h.p.level, 1);
	cmos_write(&h, REG_B, 0x02);
	CHECK_EQ(h.p.level, 0);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), UINT64_MAX);
	h.p.now = ns_at(32 * 2010);
	CHECK_EQ(cmos_read(&h, REG_C), 0x40);
	/* PIE back on with PF already set raises IRQ 8 at once. */
	h.p.now = ns_at(32 * 2011);
	mc146818_update(&h.rtc, h.p.now);
	cmos_write(&h, REG_B, 0x42);
	CHECK_EQ(h.p.level, 1);
	CHECK_EQ(cmos_read(&h, REG_C), 0xc0);
	CHECK_EQ(h.p.bad_line, 0);
}

static void test_periodic_2hz(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	/* Rate 15 is 2 Hz. */
	cmos_write(&h, REG_A, 0x2f);
	cmos_write(&h, REG_B, 0x42);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), T0 + NS / 2);
	h.p.now = T0 + NS / 2;
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(h.p.level, 1);
	CHECK_EQ(cmos_read(&h, REG_C), 0xc0);
	CHECK_EQ(h.p.level, 0);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), T0 + NS);
	/* At the second the update flag comes with it, its enable off, and
	 * the alarm flag, as the zero alarm bytes match midnight. */
	h.p.now = T0 + NS;
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(cmos_read(&h, REG_C), 0xf0);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), T0 + NS + NS / 2);

	/* A new rate applies from the chain's next tap edge. */
	h.p.now = T0 + NS + NS / 8;
	cmos_write(&h, REG_A, 0x2e);	/* 4 Hz */
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), T0 + NS + NS / 4);
	/* Rate 1 is 256 Hz and rate 2 128 Hz, not 32 and 16 kHz. */
	cmos_write(&h, REG_A, 0x21);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), T0 + NS + NS / 8 + NS / 256);
	cmos_write(&h, REG_A, 0x22);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), T0 + NS + NS / 8 + NS / 128);
	/* Rate 3, the fastest, is 8192 Hz. */
	cmos_write(&h, REG_A, 0x23);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), ns_at(TICKS + TICKS / 8 + 4));
	/* Rate 0 is none. */
	cmos_write(&h, REG_A, 0x20);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), UINT64_MAX);
	h.p.now = T0 + 3 * NS / 2;
	CHECK_EQ(cmos_read(&h, REG_C) & 0x40, 0);
}

static void test_lost_periods(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	cmos_write(&h, REG_B, 0x42);
	/* 5.5 periods late: one interrupt, four periods lost. */
	mc146818_update(&h.rtc, ns_at(32 * 5 + 16));
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(h.rtc.irqs, 1);
	CHECK_EQ(h.rtc.lost_irqs, 4);
	/* The guest has not read C: three more periods find PF still set. */
	h.p.now = ns_at(32 * 8 + 1);
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(h.rtc.lost_irqs, 7);
	CHECK_EQ(cmos_read(&h, REG_C), 0xc0);
	/* Back on the grid. */
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), ns_at(32 * 9));
	mc146818_update(&h.rtc, ns_at(32 * 9));
	CHECK_EQ(h.p.rises, 2);
	CHECK_EQ(h.rtc.lost_irqs, 7);

	/* Periods with PIE off are not lost interrupts. */
	h.p.now = ns_at(32 * 9);
	cmos_read(&h, REG_C);
	cmos_write(&h, REG_B, 0x02);
	h.p.now = ns_at(32 * 100);
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(h.rtc.lost_irqs, 7);
}

/* With the board's backlog, periods that found PF set are delivered after
 * the guest reads C, each at least the holdoff later. */
static void test_period_backlog(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);
	h.rtc.irq_min_interval_ns = 100000;
	h.rtc.irq_backlog_max_ns = NS;

	cmos_write(&h, REG_B, 0x42);
	/* 5.5 periods late (1024 Hz): one interrupt, four periods queued. */
	h.p.now = ns_at(32 * 5 + 16);
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(h.rtc.pf_backlog, 4);
	CHECK_EQ(h.rtc.lost_irqs, 0);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(cmos_read(&h, REG_C), 0xc0);
		uint64_t next = mc146818_next_event_ns(&h.rtc, h.p.now);
		CHECK(next >= h.p.now + 100000);
		mc146818_update(&h.rtc, next);
		h.p.now = next;
	}
	CHECK_EQ(h.p.rises, 5);
	CHECK_EQ(h.rtc.lost_irqs, 0);
	/* The queue went out 122 us apart; the period at 6 joined it. */
	CHECK(h.p.now >= ns_at(32 * 6));
	CHECK_EQ(h.rtc.pf_backlog, 1);
}

static void test_update_interrupt(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	/* Periodic rate 0 and an alarm at noon, so register C shows the
	 * update alone. */
	cmos_write(&h, REG_A, 0x20);
	cmos_write(&h, HOUR_ALARM, 0x12);
	h.p.now = T0 + NS / 3;
	cmos_write(&h, REG_B, 0x12);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), T0 + NS);
	for (unsigned i = 1; i <= 5; i++) {
		h.p.now = mc146818_next_event_ns(&h.rtc, h.p.now);
		CHECK_EQ(h.p.now, T0 + i * NS);
		mc146818_update(&h.rtc, h.p.now);
		CHECK_EQ(h.p.rises, i);
		/* The time is already the new second in the handler. */
		CHECK_EQ(cmos_read(&h, SEC), i - 1);
		CHECK_EQ(cmos_read(&h, REG_C), 0x90);
		CHECK_EQ(h.p.level, 0);
		CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), T0 + (i + 1) * NS);
	}
	/* Nothing in between. */
	mc146818_update(&h.rtc, T0 + 6 * NS - 1);
	CHECK_EQ(h.p.rises, 5);
	/* Late by 2.5 s: one interrupt for three updates, clock exact. */
	h.p.now = T0 + 8 * NS + NS / 2;
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(h.p.rises, 6);
	CHECK_EQ(cmos_read(&h, SEC), 0x07);
	CHECK_EQ(cmos_read(&h, REG_C), 0x90);
	CHECK_EQ(h.rtc.lost_irqs, 0);
}

static void test_alarm(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	/* 00:00:05 tomorrow (the clock reads 23:59:59): six updates away.
	 * AF is set whether or not AIE is. */
	cmos_write(&h, REG_A, 0x20);
	cmos_write(&h, SEC_ALARM, 0x05);
	cmos_write(&h, MIN_ALARM, 0x00);
	cmos_write(&h, HOUR_ALARM, 0x00);
	h.p.now = T0 + 6 * NS - 1;
	CHECK_EQ(cmos_read(&h, REG_C), 0x10);
	h.p.now = T0 + 6 * NS;
	CHECK_EQ(cmos_read(&h, REG_C), 0x30);
	h.p.now = T0 + 7 * NS;
	CHECK_EQ(cmos_read(&h, REG_C), 0x10);

	/* With AIE: the deadline is the matching update, one day on. */
	cmos_write(&h, REG_B, 0x22);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), T0 + (6 + 86400) * NS);
	h.p.now = T0 + (6 + 86400) * NS;
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(cmos_read(&h, REG_C), 0xb0);
	CHECK_EQ(cmos_read(&h, MDAY), 0x02);
	CHECK_EQ(cmos_read(&h, SEC), 0x05);

	/* Don't-care hours and minutes: every minute at :30. */
	cmos_write(&h, SEC_ALARM, 0x30);
	cmos_write(&h, MIN_ALARM, 0xc0);
	cmos_write(&h, HOUR_ALARM, 0xff);
	uint64_t base = T0 + (6 + 86400) * NS;
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), base + 25 * NS);
	h.p.now = base + 25 * NS;
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(h.p.rises, 2);
	CHECK_EQ(cmos_read(&h, REG_C), 0xb0);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), base + 85 * NS);

	/* All three don't-care: every second. */
	cmos_write(&h, SEC_ALARM, 0xc0);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), base + 26 * NS);

	/* A specific hour, don't-care minutes: the next second in 01:xx. */
	cmos_write(&h, HOUR_ALARM, 0x01);
	cmos_write(&h, MIN_ALARM, 0xc0);
	cmos_write(&h, SEC_ALARM, 0x00);
	/* Now 00:00:30 on March 2: 01:00:00 is 3570 s away. */
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), base + (25 + 3570) * NS);
	h.p.now = base + (25 + 3570) * NS;
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(cmos_read(&h, HOUR), 0x01);
	CHECK_EQ(cmos_read(&h, REG_C), 0xb0);
	/* 01:01:00 is next. */
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), h.p.now + 60 * NS);

	/* An alarm byte no clock byte can equal never fires. */
	cmos_write(&h, SEC_ALARM, 0x60);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), UINT64_MAX);
	cmos_write(&h, SEC_ALARM, 0x0a);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), UINT64_MAX);

	/* 12-hour mode: 0x81 is 1 PM; the clock is 01:00:00 AM. */
	cmos_write(&h, REG_B, 0x20);
	CHECK_EQ(cmos_read(&h, HOUR), 0x01);
	cmos_write(&h, HOUR_ALARM, 0x81);
	cmos_write(&h, MIN_ALARM, 0x00);
	cmos_write(&h, SEC_ALARM, 0x00);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), h.p.now + 12 * 3600 * NS);
	/* Hour 0 does not exist in 12-hour mode. */
	cmos_write(&h, HOUR_ALARM, 0x00);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), UINT64_MAX);
	/* Back to 24-hour: the alarm bytes follow the format. */
	cmos_write(&h, HOUR_ALARM, 0x92);	/* 12 PM */
	cmos_write(&h, REG_B, 0x22);
	CHECK_EQ(cmos_read(&h, HOUR_ALARM), 0x12);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), h.p.now + 11 * 3600 * NS);
}

static void test_nmi_and_index(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	CHECK(!h.rtc.nmi_masked);
	outb(&h, 0x70, 0x8d);
	CHECK(h.rtc.nmi_masked);
	CHECK_EQ(h.rtc.index, 0x0d);
	CHECK_EQ(inb(&h, 0x71), 0x80);
	/* The NMI bit does not select a different byte. */
	outb(&h, 0x70, 0x80 | SEC);
	CHECK_EQ(inb(&h, 0x71), 0x59);
	outb(&h, 0x70, 0x0d);
	CHECK(!h.rtc.nmi_masked);
	/* The index port is write-only. */
	CHECK_EQ(inb(&h, 0x70), 0xff);

	/* Plain CMOS memory, all the way to the last byte. */
	cmos_write(&h, 0x40, 0xa5);
	cmos_write(&h, 0x7f, 0x5a);
	CHECK_EQ(cmos_read(&h, 0x40), 0xa5);
	CHECK_EQ(cmos_read(&h, 0x7f), 0x5a);
	/* The shutdown status byte is kept. */
	cmos_write(&h, 0x0f, 0x0a);
	CHECK_EQ(cmos_read(&h, 0x0f), 0x0a);
	/* Register C cannot be written. */
	cmos_write(&h, REG_C, 0xf0);
	CHECK_EQ(cmos_read(&h, REG_C), 0x00);
}

static void test_reset(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	cmos_write(&h, REG_B, 0x7a);
	mc146818_update(&h.rtc, T0 + NS);
	CHECK_EQ(h.p.level, 1);
	h.p.now = T0 + NS;
	mc146818_reset(&h.rtc, h.p.now);
	CHECK_EQ(h.p.level, 0);
	CHECK_EQ(cmos_read(&h, REG_B), 0x02);
	CHECK_EQ(cmos_read(&h, REG_C), 0x00);
	CHECK_EQ(cmos_read(&h, REG_A), 0x26);
	CHECK_EQ(cmos_read(&h, SEC), 0x00);
	CHECK_EQ(mc146818_next_event_ns(&h.rtc, h.p.now), UINT64_MAX);
}

static unsigned word_at(struct harness *h, uint8_t index)
{
	return cmos_read(h, index) | (unsigned)cmos_read(h, (uint8_t)(index + 1)) << 8;
}

static unsigned checksum(struct harness *h)
{
	unsigned sum = 0;
	for (uint8_t i = 0x10; i <= 0x2d; i++)
		sum += cmos_read(h, i);
	return sum & 0xffff;
}

static void test_memory_size(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);

	mc146818_set_memory_size(&h.rtc, 256ull << 20);
	CHECK_EQ(word_at(&h, 0x15), 640);
	/* 255 MiB above 1 MiB does not fit 16 bits of KiB. */
	CHECK_EQ(word_at(&h, 0x17), 0xffff);
	CHECK_EQ(word_at(&h, 0x30), 0xffff);
	CHECK_EQ(word_at(&h, 0x34), 240 * 16);
	CHECK_EQ(cmos_read(&h, 0x10), 0x00);
	CHECK_EQ(cmos_read(&h, 0x14), 0x02);
	CHECK_EQ(cmos_read(&h, 0x2e) << 8 | cmos_read(&h, 0x2f), checksum(&h));

	mc146818_set_memory_size(&h.rtc, 3ull << 30);
	CHECK_EQ(word_at(&h, 0x15), 640);
	CHECK_EQ(word_at(&h, 0x17), 0xffff);
	CHECK_EQ(word_at(&h, 0x30), 0xffff);
	CHECK_EQ(word_at(&h, 0x34), (3072 - 16) * 16);
	CHECK_EQ(cmos_read(&h, 0x2e) << 8 | cmos_read(&h, 0x2f), checksum(&h));

	/* 32 MiB fits: 31 MiB in KiB. */
	mc146818_set_memory_size(&h.rtc, 32ull << 20);
	CHECK_EQ(word_at(&h, 0x17), 31 * 1024);
	CHECK_EQ(word_at(&h, 0x30), 31 * 1024);
	CHECK_EQ(word_at(&h, 0x34), 16 * 16);
	/* Under 16 MiB there is nothing above it. */
	mc146818_set_memory_size(&h.rtc, 8ull << 20);
	CHECK_EQ(word_at(&h, 0x17), 7 * 1024);
	CHECK_EQ(word_at(&h, 0x34), 0);
	/* RAM from 4 GiB up: 64 KiB units in three bytes at 0x5b, outside
	 * the checksum (QEMU's pc_cmos_init). */
	uint16_t sum = (uint16_t)(cmos_read(&h, 0x2e) << 8 | cmos_read(&h, 0x2f));
	mc146818_set_memory_above_4g(&h.rtc, 0x123450000ull);
	CHECK_EQ(cmos_read(&h, 0x5b), 0x45);
	CHECK_EQ(cmos_read(&h, 0x5c), 0x23);
	CHECK_EQ(cmos_read(&h, 0x5d), 0x01);
	CHECK_EQ(cmos_read(&h, 0x2e) << 8 | cmos_read(&h, 0x2f), sum);
	mc146818_set_memory_above_4g(&h.rtc, 1ull << 48);   /* saturates */
	CHECK_EQ(cmos_read(&h, 0x5d) << 16 | cmos_read(&h, 0x5c) << 8 | cmos_read(&h, 0x5b), 0xffffff);

	/* A board write in the checksummed range keeps the checksum. */
	mc146818_set_cmos(&h.rtc, 0x12, 0xf0);
	CHECK_EQ(cmos_read(&h, 0x12), 0xf0);
	CHECK_EQ(cmos_read(&h, 0x2e) << 8 | cmos_read(&h, 0x2f), checksum(&h));
	/* None of it touched the clock or IRQ 8. */
	CHECK_EQ(h.p.calls, 0);
}

/* The board moves the clock by the host's time it did not see (a pause,
 * a snapshot on disk): whole seconds to the clock bytes, the rest to the
 * divider's phase; forward with UF (and AF for an alarm passed), back
 * without; not while SET holds it or the divider is stopped. */
static void test_move_time(void)
{
	struct harness h;
	setup(&h, LEAP_EVE);
	cmos_write(&h, REG_A, 0x20);   /* no periodic interrupt */
	cmos_write(&h, HOUR_ALARM, 0x12);   /* at noon: not passed below */
	cmos_write(&h, REG_B, 0x12);   /* 24-hour BCD, update-ended interrupt on */
	h.p.now = T0 + NS / 4;
	/* 23:59:59.25 + 1.5 s = 00:00:00.75 on March 1, a Friday: the next
	 * update a quarter second on. */
	mc146818_move_time(&h.rtc, h.p.now, (int64_t)(NS + NS / 2));
	check_clock(&h, (struct when){ 0x00, 0x00, 0x00, 6, 0x01, 0x03, 0x24, 0x20 }, __LINE__);
	CHECK_EQ(h.p.rises, 1);
	CHECK_EQ(cmos_read(&h, REG_C), 0x90);
	uint64_t next = mc146818_next_event_ns(&h.rtc, h.p.now);
	CHECK(next >= h.p.now + NS / 4 && next <= h.p.now + NS / 4 + NS / TICKS + 1);
	h.p.now = next;
	mc146818_update(&h.rtc, h.p.now);
	CHECK_EQ(cmos_read(&h, SEC), 0x01);
	CHECK_EQ(cmos_read(&h, REG_C), 0x90);

	/* A thousand moves of 1 ms (32.768 ticks each, to the nearest) make
	 * one second, give or take a tick's half each. */
	cmos_write(&h, REG_B, 0x02);
	for (unsigned i = 0; i < 1000; i++)
		mc146818_move_time(&h.rtc, h.p.now, 1000000);
	CHECK_EQ(cmos_read(&h, SEC), 0x02);
	next = mc146818_next_event_ns(&h.rtc, h.p.now);
	CHECK_EQ(next, UINT64_MAX);   /* no interrupt enabled */
	cmos_write(&h, REG_C, 0);
	(void)cmos_read(&h, REG_C);

	/* Back by 3 s, across midnight: Thursday again, no flag. */
	mc146818_move_time(&h.rtc, h.p.now, -3 * (int64_t)NS);
	check_clock(&h, (struct when){ 0x59, 0x59, 0x23, 5, 0x29, 0x02, 0x24, 0x20 }, __LINE__);
	CHECK_EQ(cmos_read(&h, REG_C), 0x00);

	/* An alarm at 00:00:30 passed in a move of a minute: AF and UF. */
	cmos_write(&h, SEC_ALARM, 0x30);
	cmos_write(&h, MIN_ALARM, 0x00);
	cmos_write(&h, HOUR_ALARM, 0x00);
	mc146818_move_time(&h.rtc, h.p.now, 60 * (int64_t)NS);
	CHECK_EQ(cmos_read(&h, MIN), 0x00);
	CHECK_EQ(cmos_read(&h, SEC), 0x59);
	CHECK_EQ(cmos_read(&h, REG_C), 0x30);

	/* SET held, or the divider stopped: the clock does not move. */
	cmos_write(&h, REG_B, 0x82);
	mc146818_move_time(&h.rtc, h.p.now, 3600 * (int64_t)NS);
	CHECK_EQ(cmos_read(&h, HOUR), 0x00);
	cmos_write(&h, REG_B, 0x02);
	cmos_write(&h, REG_A, 0x70);
	mc146818_move_time(&h.rtc, h.p.now, 3600 * (int64_t)NS);
	CHECK_EQ(cmos_read(&h, HOUR), 0x00);
	CHECK_EQ(cmos_read(&h, SEC), 0x59);
}

int main(void)
{
	test_leap_day_bcd();
	test_binary_and_12_hour();
	test_century();
	test_calendar_sweep();
	test_uip();
	test_set_freezes();
	test_guest_sets_time();
	test_divider();
	test_periodic_1024hz();
	test_periodic_2hz();
	test_lost_periods();
	test_period_backlog();
	test_update_interrupt();
	test_alarm();
	test_nmi_and_index();
	test_reset();
	test_memory_size();
	test_move_time();
	return check_report("test_rtc");
}
