/* The MC146818 clock: the divider chain computed from virtual time, update
 * cycles that advance the calendar bytes, the alarm, the periodic and
 * update-ended interrupts, registers A-D, the port 0x70 index with its NMI
 * mask, and the firmware's memory-size bytes. The choice of clock and of
 * epoch stay outside: see mc146818.h. */
#include "devices/mc146818.h"
#include "host/snapfile.h"
#include "devices/tick_backlog.h"

#include <assert.h>
#include <string.h>

#define NONE UINT64_MAX
#define NS_PER_SEC 1000000000u
#define TICKS_PER_SEC RTC_FREQUENCY_HZ
/* UIP rises 244 us before the update: eight ticks of the 32.768 kHz chain. */
#define UIP_TICKS 8u
#define SECS_PER_DAY 86400

enum {
	REG_SEC = 0x00,
	REG_SEC_ALARM = 0x01,
	REG_MIN = 0x02,
	REG_MIN_ALARM = 0x03,
	REG_HOUR = 0x04,
	REG_HOUR_ALARM = 0x05,
	REG_WDAY = 0x06,
	REG_MDAY = 0x07,
	REG_MONTH = 0x08,
	REG_YEAR = 0x09,
	REG_A = 0x0a,
	REG_B = 0x0b,
	REG_C = 0x0c,
	REG_D = 0x0d,
	CMOS_FLOPPY = 0x10,
	CMOS_EQUIPMENT = 0x14,
	CMOS_BASE_MEM = 0x15,		/* 0x15-0x16, KiB, low byte first */
	CMOS_EXT_MEM = 0x17,		/* 0x17-0x18 */
	CMOS_CHECKSUM_FIRST = 0x10,
	CMOS_CHECKSUM_LAST = 0x2d,
	CMOS_CHECKSUM = 0x2e,		/* high byte at 0x2e, low at 0x2f */
	CMOS_EXT_MEM2 = 0x30,		/* 0x30-0x31 */
	REG_CENTURY = 0x32,
	CMOS_HIGH_MEM = 0x34,		/* 0x34-0x35, 64 KiB units above 16 MiB */
	CMOS_MEM_ABOVE_4G = 0x5b,	/* 0x5b-0x5d, 64 KiB units from 4 GiB (QEMU's pc, SeaBIOS) */
};

#define A_UIP		0x80
#define A_DV_MASK	0x70
#define A_DV_32K	0x20
#define A_RS_MASK	0x0f

#define B_SET		0x80
#define B_PIE		0x40
#define B_AIE		0x20
#define B_UIE		0x10
#define B_SQWE		0x08
#define B_DM		0x04	/* binary, not BCD */
#define B_24H		0x02
/* The enables sit at the same bits as the flags they gate in register C. */
#define B_ENABLES	(B_PIE | B_AIE | B_UIE)

#define C_IRQF		0x80
#define C_PF		0x40
#define C_AF		0x20
#define C_UF		0x10

#define D_VRT		0x80

/* Alarm bytes with the two top bits set match every value. */
#define ALARM_DONT_CARE	0xc0
#define ALARM_ANY	(-1)
#define ALARM_NEVER	(-2)

/* 640 KiB of base memory, the 1 MiB and 16 MiB lines the extended memory
 * counts are measured from. */
#define BASE_MEM_KIB	640u
#define ONE_MIB		(1ull << 20)
#define SIXTEEN_MIB	(16ull << 20)
/* Math coprocessor present, display with its own BIOS (or none), no
 * floppy drive (bit 0 clear, so the drive count bits mean nothing). */
#define EQUIPMENT_NO_FLOPPY 0x02

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

/* Calendar arithmetic on the proleptic Gregorian calendar, with years that
 * begin on March 1 so that the leap day falls at the end of one and every
 * month before it has a fixed length. Days count from 1970-01-01. */

/* Days from March 1 to the first of each month, March first. */
static const uint16_t march_year_offset[12] = {
	0, 31, 61, 92, 122, 153, 184, 214, 245, 275, 306, 337,
};

/* 0000-03-01 to 1970-01-01. */
#define DAYS_0000_03_01_TO_EPOCH 719468
#define DAYS_PER_400_YEARS 146097

/* Days in the March-based years 0 to y-1 of a 400-year cycle. */
static int64_t days_before_year(int64_t y)
{
	return 365 * y + y / 4 - y / 100 + y / 400;
}

/* month and mday may lie outside their ranges (a guest can write anything
 * into the clock registers); they carry into the year and the month as
 * the calendar would. */
static int64_t days_from_civil(int64_t year, int64_t month, int64_t mday)
{
	year += floor_div(month - 1, 12);
	month = floor_mod(month - 1, 12) + 1;
	int64_t my = month <= 2 ? year - 1 : year;	/* March-based year */
	unsigned mi = (unsigned)((month + 9) % 12);	/* March is 0 */
	int64_t cycle = floor_div(my, 400);
	int64_t yoc = my - cycle * 400;
	return cycle * DAYS_PER_400_YEARS + days_before_year(yoc) + march_year_offset[mi] +
	       (mday - 1) - DAYS_0000_03_01_TO_EPOCH;
}

struct civil {
	int64_t year;
	unsigned month, mday;	/* 1-12, 1-31 */
};

static struct civil civil_from_days(int64_t days)
{
	int64_t z = days + DAYS_0000_03_01_TO_EPOCH;
	int64_t cycle = floor_div(z, DAYS_PER_400_YEARS);
	int64_t doc = z - cycle * DAYS_PER_400_YEARS;	/* 0-146096 */
	/* 365 days a year over-estimates by at most one year. */
	int64_t yoc = doc / 365;
	while (days_before_year(yoc) > doc)
		yoc--;
	int64_t doy = doc - days_before_year(yoc);	/* 0-365 */
	unsigned mi = 11;
	while (march_year_offset[mi] > doy)
		mi--;
	struct civil c;
	c.month = (mi + 2) % 12 + 1;
	c.mday = (unsigned)(doy - march_year_offset[mi]) + 1;
	c.year = cycle * 400 + yoc + (c.month <= 2);
	return c;
}

/* Register formats: BCD or binary per register B, and for the hours 12-hour
 * with bit 7 for PM, or 24-hour. */

static unsigned from_reg(uint8_t b, uint8_t byte)
{
	return (b & B_DM) ? byte : (byte >> 4) * 10u + (byte & 0x0fu);
}

/* Values beyond what a register holds wrap rather than spill into the
 * next digit, which keeps a silly century from corrupting anything. */
static uint8_t to_reg(uint8_t b, int64_t value)
{
	if (b & B_DM)
		return (uint8_t)floor_mod(value, 256);
	unsigned v = (unsigned)floor_mod(value, 100);
	return (uint8_t)((v / 10) << 4 | v % 10);
}

static unsigned hour_from_reg(uint8_t b, uint8_t byte)
{
	if (b & B_24H)
		return from_reg(b, byte);
	return from_reg(b, byte & 0x7f) % 12 + ((byte & 0x80) ? 12 : 0);
}

static uint8_t hour_to_reg(uint8_t b, unsigned hour)
{
	if (b & B_24H)
		return to_reg(b, hour);
	unsigned h12 = hour % 12 ? hour % 12 : 12;
	return (uint8_t)(to_reg(b, h12) | (hour >= 12 ? 0x80 : 0));
}

/* The clock bytes as seconds since 1970, read in format b. */
static int64_t clock_seconds(const uint8_t *cmos, uint8_t b)
{
	int64_t year = (int64_t)from_reg(b, cmos[REG_CENTURY]) * 100 + from_reg(b, cmos[REG_YEAR]);
	int64_t days = days_from_civil(year, from_reg(b, cmos[REG_MONTH]), from_reg(b, cmos[REG_MDAY]));
	return days * SECS_PER_DAY + (int64_t)hour_from_reg(b, cmos[REG_HOUR]) * 3600 +
	       (int64_t)from_reg(b, cmos[REG_MIN]) * 60 + from_reg(b, cmos[REG_SEC]);
}

/* Everything but the day of the week, which the chip counts on its own. */
static void set_clock_bytes(uint8_t *cmos, uint8_t b, int64_t seconds)
{
	int64_t days = floor_div(seconds, SECS_PER_DAY);
	unsigned sod = (unsigned)(seconds - days * SECS_PER_DAY);
	struct civil c = civil_from_days(days);

	cmos[REG_SEC] = to_reg(b, sod % 60);
	cmos[REG_MIN] = to_reg(b, sod / 60 % 60);
	cmos[REG_HOUR] = hour_to_reg(b, sod / 3600);
	cmos[REG_MDAY] = to_reg(b, c.mday);
	cmos[REG_MONTH] = to_reg(b, c.month);
	cmos[REG_YEAR] = to_reg(b, floor_mod(c.year, 100));
	cmos[REG_CENTURY] = to_reg(b, floor_div(c.year, 100));
}

/* 1 = Sunday; 1970-01-01 was a Thursday. */
static unsigned weekday_of(int64_t seconds)
{
	return (unsigned)floor_mod(floor_div(seconds, SECS_PER_DAY) + 4, 7) + 1;
}

/* n update cycles (fewer than none: the clock moved back). A guest-written
 * day of the week that disagrees with the date stays as wrong as it was,
 * as on the chip. */
static void advance_clock(uint8_t *cmos, uint8_t b, int64_t seconds, int64_t n)
{
	int64_t later = seconds + n;
	int64_t days = floor_div(later, SECS_PER_DAY) - floor_div(seconds, SECS_PER_DAY);

	if (days)
		cmos[REG_WDAY] = to_reg(b, floor_mod((int64_t)from_reg(b, cmos[REG_WDAY]) - 1 + days, 7) + 1);
	set_clock_bytes(cmos, b, later);
}

/* An alarm byte as the value it matches: ALARM_ANY for a don't-care code,
 * ALARM_NEVER for one no clock byte can equal (the chip compares bytes,
 * and the clock never shows an out-of-range or malformed one). */
static int alarm_value(uint8_t b, uint8_t byte, unsigned limit)
{
	if (byte >= ALARM_DONT_CARE)
		return ALARM_ANY;
	uint8_t digits = byte;
	if (limit == 24 && !(b & B_24H))
		digits &= 0x7f;
	if (!(b & B_DM) && ((digits >> 4) > 9 || (digits & 0x0f) > 9))
		return ALARM_NEVER;
	unsigned v = from_reg(b, digits);
	if (limit == 24 && !(b & B_24H)) {
		if (v < 1 || v > 12)
			return ALARM_NEVER;
		return (int)hour_from_reg(b, byte);
	}
	return v < limit ? (int)v : ALARM_NEVER;
}

/* The smallest value from `from` up to limit - 1 that pattern matches, or
 * -1. */
static int first_match(int pattern, int from, int limit)
{
	if (from >= limit)
		return -1;
	if (pattern == ALARM_ANY)
		return from;
	return pattern >= from && pattern < limit ? pattern : -1;
}

static bool matches(int pattern, int value)
{
	return pattern == ALARM_ANY || pattern == value;
}

/* How many update cycles after second-of-day sod the alarm next matches
 * (1-86400), or NONE if it cannot. */
static uint64_t updates_to_alarm(const uint8_t *cmos, uint8_t b, int64_t sod)
{
	int hp = alarm_value(b, cmos[REG_HOUR_ALARM], 24);
	int mp = alarm_value(b, cmos[REG_MIN_ALARM], 60);
	int sp = alarm_value(b, cmos[REG_SEC_ALARM], 60);
	if (hp == ALARM_NEVER || mp == ALARM_NEVER || sp == ALARM_NEVER)
		return NONE;
	int h = (int)(sod / 3600), m = (int)(sod / 60 % 60), s = (int)(sod % 60);
	int nh = h, nm = m, ns = -1;
	int64_t day = 0;

	/* Later in this minute, later in this hour, later today, tomorrow. */
	if (matches(hp, h) && matches(mp, m))
		ns = first_match(sp, s + 1, 60);
	if (ns < 0 && matches(hp, h) && (nm = first_match(mp, m + 1, 60)) >= 0)
		ns = first_match(sp, 0, 60);
	if (ns < 0 && (nh = first_match(hp, h + 1, 24)) >= 0) {
		nm = first_match(mp, 0, 60);
		ns = first_match(sp, 0, 60);
	}
	if (ns < 0) {
		nh = first_match(hp, 0, 24);
		nm = first_match(mp, 0, 60);
		ns = first_match(sp, 0, 60);
		day = SECS_PER_DAY;
	}
	return (uint64_t)(day + nh * 3600 + nm * 60 + ns - sod);
}

/* The divider chain. */

static bool divider_running(const struct mc146818 *rtc)
{
	return (rtc->cmos[REG_A] & A_DV_MASK) == A_DV_32K;
}

/* A now that lags the origin (a caller's stale time) reads as the origin. */
static uint64_t tick_of(const struct mc146818 *rtc, uint64_t ns)
{
	if (!divider_running(rtc) || ns <= rtc->origin_ns)
		return rtc->origin_tick;
	unsigned __int128 d = (unsigned __int128)(ns - rtc->origin_ns) * TICKS_PER_SEC / NS_PER_SEC;
	return rtc->origin_tick + (uint64_t)d;
}

/* The first nanosecond at which tick_of() reaches tick. */
static uint64_t ns_of(const struct mc146818 *rtc, uint64_t tick)
{
	unsigned __int128 d = ((unsigned __int128)(tick - rtc->origin_tick) * NS_PER_SEC +
			       TICKS_PER_SEC - 1) / TICKS_PER_SEC;
	unsigned __int128 ns = rtc->origin_ns + d;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

/* Ticks between periodic interrupts, 0 for none. Rates 1 and 2 would be
 * too fast for the chain's own taps at 32.768 kHz and give 256 and 128 Hz
 * instead (datasheet). */
static uint64_t period_ticks(uint8_t a)
{
	unsigned rs = a & A_RS_MASK;

	if (rs == 0)
		return 0;
	if (rs <= 2)
		return 1u << (rs + 6);
	return 1u << (rs - 1);
}

static bool update_in_progress(const struct mc146818 *rtc, uint64_t now_ns)
{
	if (!divider_running(rtc) || (rtc->cmos[REG_B] & B_SET))
		return false;
	return tick_of(rtc, now_ns) % TICKS_PER_SEC >= TICKS_PER_SEC - UIP_TICKS;
}

/* IRQF and the line follow the flags and enables. */
static void update_irq(struct mc146818 *rtc)
{
	bool level = rtc->flags & rtc->cmos[REG_B] & B_ENABLES;

	if (level)
		rtc->flags |= C_IRQF;
	else
		rtc->flags &= (uint8_t)~C_IRQF;
	if (level == rtc->irq_level)
		return;
	rtc->irq_level = level;
	if (level)
		rtc->irqs++;
	irq_line_set(&rtc->irq, level);
}

/* Periods whose edge found PF set already: queued for later, as far as
 * irq_backlog_max_ns of them (none when the rate is faster than
 * irq_min_interval_ns), else lost. */
static void queue_periods(struct mc146818 *rtc, uint64_t period, uint64_t n)
{
	uint64_t period_ns = period * NS_PER_SEC / TICKS_PER_SEC;
	uint64_t max = tick_backlog_limit(period_ns, rtc->irq_min_interval_ns, rtc->irq_backlog_max_ns, 0);
	rtc->pf_backlog = tick_backlog_add(rtc->pf_backlog, n, max, &rtc->lost_irqs);
}

/* Update cycles and periodic ticks from last_tick to now. */
static void run_chain(struct mc146818 *rtc, uint64_t now_ns)
{
	uint64_t from = rtc->last_tick;
	uint64_t t = tick_of(rtc, now_ns);
	uint8_t b = rtc->cmos[REG_B];
	uint8_t raised = 0;

	if (t <= from)
		return;
	rtc->last_tick = t;
	uint64_t period = period_ticks(rtc->cmos[REG_A]);
	uint64_t edges = period ? t / period - from / period : 0;
	if (edges) {
		/* One edge sets PF; the others find it set already. */
		if (b & B_PIE)
			queue_periods(rtc, period, (rtc->flags & C_PF) ? edges : edges - 1);
		raised |= C_PF;
	} else if ((b & B_PIE) && rtc->pf_backlog && !(rtc->flags & C_PF) &&
		   t >= rtc->pf_hold_tick) {
		/* A period that came while PF was set, delivered late. */
		rtc->pf_backlog--;
		raised |= C_PF;
	}
	/* SET inhibits the update cycles; the chain itself keeps running. */
	uint64_t updates = (b & B_SET) ? 0 : t / TICKS_PER_SEC - from / TICKS_PER_SEC;
	if (updates) {
		int64_t seconds = clock_seconds(rtc->cmos, b);
		uint64_t alarm = updates_to_alarm(rtc->cmos, b, floor_mod(seconds, SECS_PER_DAY));
		if (alarm <= updates)
			raised |= C_AF;
		advance_clock(rtc->cmos, b, seconds, (int64_t)updates);
		raised |= C_UF;
	}
	if (raised) {
		rtc->flags |= raised;
		update_irq(rtc);
	}
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t compute_next_tick(const struct mc146818 *rtc)
{
	uint8_t b = rtc->cmos[REG_B];
	uint64_t next = NONE;

	if (!divider_running(rtc) || rtc->irq_level)
		return NONE;
	uint64_t period = period_ticks(rtc->cmos[REG_A]);
	if ((b & B_PIE) && period) {
		next = (rtc->last_tick / period + 1) * period;
		if (rtc->pf_backlog)
			next = min_u64(next, rtc->pf_hold_tick > rtc->last_tick ? rtc->pf_hold_tick :
						  rtc->last_tick + 1);
	}
	if (b & B_SET)
		return next;
	uint64_t first_update = rtc->last_tick / TICKS_PER_SEC + 1;
	if (b & B_UIE)
		next = min_u64(next, first_update * TICKS_PER_SEC);
	if (b & B_AIE) {
		int64_t sod = floor_mod(clock_seconds(rtc->cmos, b), SECS_PER_DAY);
		uint64_t n = updates_to_alarm(rtc->cmos, b, sod);
		if (n != NONE)
			next = min_u64(next, (first_update + n - 1) * TICKS_PER_SEC);
	}
	return next;
}

/* After a register access or board call, with due events already run. */
static void deadline_check(struct mc146818 *rtc, uint64_t before)
{
	rtc->next_tick = compute_next_tick(rtc);
	if (rtc->next_tick != before && rtc->deadline_changed)
		rtc->deadline_changed(rtc->clock_opaque);
}

/* Re-expresses the clock and alarm bytes when the guest flips BCD/binary or
 * 12/24-hour without rewriting them. The chip would show the old bytes
 * reinterpreted, which no guest relies on; a guest that writes the time
 * after changing the format overwrites these anyway. */
static void reformat(uint8_t *cmos, uint8_t old_b, uint8_t new_b)
{
	static const uint8_t alarms[3] = { REG_SEC_ALARM, REG_MIN_ALARM, REG_HOUR_ALARM };

	set_clock_bytes(cmos, new_b, clock_seconds(cmos, old_b));
	cmos[REG_WDAY] = to_reg(new_b, from_reg(old_b, cmos[REG_WDAY]));
	for (unsigned i = 0; i < 3; i++) {
		uint8_t byte = cmos[alarms[i]];
		if (byte >= ALARM_DONT_CARE)
			continue;
		if (alarms[i] == REG_HOUR_ALARM)
			cmos[alarms[i]] = hour_to_reg(new_b, hour_from_reg(old_b, byte));
		else
			cmos[alarms[i]] = to_reg(new_b, from_reg(old_b, byte));
	}
}

static void write_a(struct mc146818 *rtc, uint8_t value, uint64_t now_ns)
{
	bool was_running = divider_running(rtc);

	rtc->cmos[REG_A] = value & (uint8_t)~A_UIP;
	rtc->pf_backlog = 0;   /* a new rate or a stopped chain starts afresh */
	bool running = divider_running(rtc);
	if (was_running && !running) {
		/* The chain holds where it stood; tick_of() returns it. */
		rtc->origin_ns = now_ns;
		rtc->origin_tick = rtc->last_tick;
	} else if (!was_running && running) {
		/* Released from reset, the chain starts half-way through a
		 * second: the first update comes 500 ms later. */
		rtc->origin_ns = now_ns;
		rtc->origin_tick = rtc->last_tick = TICKS_PER_SEC / 2;
	}
}

static void write_b(struct mc146818 *rtc, uint8_t value)
{
	uint8_t old = rtc->cmos[REG_B];

	/* SET going high clears UIE (datasheet), so the update-ended
	 * interrupt stays off until the guest enables it again. */
	if ((value & B_SET) && !(old & B_SET))
		value &= (uint8_t)~B_UIE;
	if ((old ^ value) & (B_DM | B_24H))
		reformat(rtc->cmos, old, value);
	rtc->cmos[REG_B] = value;
	if (!(value & B_PIE))
		rtc->pf_backlog = 0;
	/* Enabling an interrupt whose flag is already set raises IRQ 8. */
	update_irq(rtc);
}

/* With the chain already run up to now_ns: the clock bytes are current, so
 * a write to one takes effect from the next update cycle on. */
static void write_reg(struct mc146818 *rtc, unsigned index, uint8_t value, uint64_t now_ns)
{
	switch (index) {
	case REG_A:
		write_a(rtc, value, now_ns);
		break;
	case REG_B:
		write_b(rtc, value);
		break;
	case REG_C:
	case REG_D:
		break;
	default:
		rtc->cmos[index] = value;
		break;
	}
}

static uint8_t read_reg(struct mc146818 *rtc, unsigned index, uint64_t now_ns)
{
	uint8_t v;

	switch (index) {
	case REG_A:
		return (uint8_t)(rtc->cmos[REG_A] | (update_in_progress(rtc, now_ns) ? A_UIP : 0));
	case REG_C:
		v = rtc->flags;
		rtc->flags = 0;
		update_irq(rtc);
		if (v & C_PF)
			rtc->pf_hold_tick = tick_of(rtc, now_ns) +
					    (uint64_t)(((unsigned __int128)rtc->irq_min_interval_ns *
							TICKS_PER_SEC + NS_PER_SEC - 1) / NS_PER_SEC);
		return v;
	case REG_D:
		/* The battery never runs out. */
		return D_VRT;
	default:
		return rtc->cmos[index];
	}
}

static uint64_t clock_now(const struct mc146818 *rtc)
{
	return rtc->clock_ns(rtc->clock_opaque);
}

static uint64_t rtc_read(void *opaque, uint64_t offset, unsigned width)
{
	struct mc146818 *rtc = opaque;
	(void)width;

	/* The index register is write-only on PCs. */
	if (offset == 0)
		return 0xff;
	uint64_t now = clock_now(rtc);
	mc146818_update(rtc, now);
	uint64_t before = rtc->next_tick;
	uint8_t v = read_reg(rtc, rtc->index, now);
	deadline_check(rtc, before);
	return v;
}

static void rtc_write(void *opaque, uint64_t offset, unsigned width, uint64_t value64)
{
	struct mc146818 *rtc = opaque;
	uint8_t value = (uint8_t)value64;
	(void)width;

	if (offset == 0) {
		bool was_masked = rtc->nmi_masked;
		rtc->nmi_masked = value & 0x80;
		rtc->index = value & 0x7f;
		if (rtc->nmi_masked != was_masked && rtc->nmi_mask_changed)
			rtc->nmi_mask_changed(rtc->clock_opaque);
		return;
	}
	uint64_t now = clock_now(rtc);
	/* What was due before this write happened first. */
	mc146818_update(rtc, now);
	uint64_t before = rtc->next_tick;
	write_reg(rtc, rtc->index, value, now);
	deadline_check(rtc, before);
}

static const struct bus_ops rtc_ops = {
	.read = rtc_read,
	.write = rtc_write,
	.max_width = 1,
};

void mc146818_init(struct mc146818 *rtc, const struct irq_line *irq8, int64_t epoch_seconds,
		   uint64_t (*clock_ns)(void *opaque), void *clock_opaque)
{
	memset(rtc, 0, sizeof(*rtc));
	if (irq8)
		rtc->irq = *irq8;
	rtc->clock_ns = clock_ns;
	rtc->clock_opaque = clock_opaque;
	rtc->origin_ns = clock_ns ? clock_ns(clock_opaque) : 0;
	rtc->cmos[REG_A] = A_DV_32K | 6;
	rtc->cmos[REG_B] = B_24H;
	set_clock_bytes(rtc->cmos, rtc->cmos[REG_B], epoch_seconds);
	rtc->cmos[REG_WDAY] = to_reg(rtc->cmos[REG_B], weekday_of(epoch_seconds));
	rtc->next_tick = compute_next_tick(rtc);
}

int mc146818_attach(struct mc146818 *rtc, struct bus *bus)
{
	assert(rtc->clock_ns);
	return bus_register(bus, BUS_SPACE_PIO, "mc146818", RTC_PORT, 2, &rtc_ops, rtc);
}

void mc146818_update(struct mc146818 *rtc, uint64_t now_ns)
{
	run_chain(rtc, now_ns);
	rtc->next_tick = compute_next_tick(rtc);
}

uint64_t mc146818_next_event_ns(const struct mc146818 *rtc, uint64_t now_ns)
{
	if (rtc->next_tick == NONE)
		return UINT64_MAX;
	if (rtc->next_tick <= tick_of(rtc, now_ns))
		return now_ns;
	return ns_of(rtc, rtc->next_tick);
}

void mc146818_drop_backlog(struct mc146818 *rtc)
{
	rtc->pf_backlog = 0;
}

void mc146818_reset(struct mc146818 *rtc, uint64_t now_ns)
{
	mc146818_update(rtc, now_ns);
	uint64_t before = rtc->next_tick;
	rtc->cmos[REG_B] &= (uint8_t)~(B_ENABLES | B_SQWE);
	rtc->flags = 0;
	rtc->pf_backlog = 0;
	update_irq(rtc);
	deadline_check(rtc, before);
}

void mc146818_move_time(struct mc146818 *rtc, uint64_t now_ns, int64_t delta_ns)
{
	mc146818_update(rtc, now_ns);
	uint8_t b = rtc->cmos[REG_B];
	/* A clock the guest stopped, or is setting, does not count time. */
	if (!delta_ns || !divider_running(rtc) || (b & B_SET))
		return;
	uint64_t before = rtc->next_tick;
	uint64_t t = rtc->last_tick;
	/* Where in its second the chain stands, moved by delta (to the
	 * nearest tick, 30.5 us): the whole seconds go to the clock bytes,
	 * the rest to the chain's phase, so that many short moves (a
	 * debugger's steps) add up rather than each losing its fraction. */
	__int128 ticks = (__int128)delta_ns * TICKS_PER_SEC + NS_PER_SEC / 2;
	int64_t delta_ticks = (int64_t)(ticks / NS_PER_SEC);
	if (ticks % NS_PER_SEC < 0)
		delta_ticks--;   /* floor division, for a move back */
	int64_t total = (int64_t)(t % TICKS_PER_SEC) + delta_ticks;
	int64_t secs = floor_div(total, TICKS_PER_SEC);
	uint64_t phase = (uint64_t)(total - secs * TICKS_PER_SEC);
	int64_t seconds = clock_seconds(rtc->cmos, b);
	uint8_t raised = 0;
	if (secs > 0) {
		/* The update cycles of the seconds skipped happened, once:
		 * UF, and AF if the alarm fell among them. */
		uint64_t alarm = updates_to_alarm(rtc->cmos, b, floor_mod(seconds, SECS_PER_DAY));
		if (alarm <= (uint64_t)secs)
			raised |= C_AF;
		raised |= C_UF;
	}
	advance_clock(rtc->cmos, b, seconds, secs);
	/* The chain goes on from the new phase, never back from t: update
	 * cycles and periodic edges count crossings from last_tick. */
	uint64_t moved = (t / TICKS_PER_SEC + 1) * TICKS_PER_SEC + phase;
	if (rtc->pf_hold_tick > t)
		rtc->pf_hold_tick += moved - t;
	rtc->origin_ns = now_ns;
	rtc->origin_tick = rtc->last_tick = moved;
	if (raised) {
		rtc->flags |= raised;
		update_irq(rtc);
	}
	deadline_check(rtc, before);
}

static void update_checksum(struct mc146818 *rtc)
{
	unsigned sum = 0;

	for (unsigned i = CMOS_CHECKSUM_FIRST; i <= CMOS_CHECKSUM_LAST; i++)
		sum += rtc->cmos[i];
	rtc->cmos[CMOS_CHECKSUM] = (uint8_t)(sum >> 8);
	rtc->cmos[CMOS_CHECKSUM + 1] = (uint8_t)sum;
}

void mc146818_set_cmos(struct mc146818 *rtc, unsigned index, uint8_t value)
{
	assert(index < RTC_CMOS_SIZE);
	uint64_t now = clock_now(rtc);

	mc146818_update(rtc, now);
	uint64_t before = rtc->next_tick;
	write_reg(rtc, index, value, now);
	if (index >= CMOS_CHECKSUM_FIRST && index <= CMOS_CHECKSUM_LAST)
		update_checksum(rtc);
	deadline_check(rtc, before);
}

static void set_word(struct mc146818 *rtc, unsigned index, uint64_t value)
{
	uint16_t w = value > 0xffff ? 0xffff : (uint16_t)value;

	rtc->cmos[index] = (uint8_t)w;
	rtc->cmos[index + 1] = (uint8_t)(w >> 8);
}

void mc146818_set_memory_size(struct mc146818 *rtc, uint64_t ram_bytes)
{
	uint64_t ext_kib = ram_bytes > ONE_MIB ? (ram_bytes - ONE_MIB) >> 10 : 0;
	uint64_t high_64k = ram_bytes > SIXTEEN_MIB ? (ram_bytes - SIXTEEN_MIB) >> 16 : 0;

	rtc->cmos[CMOS_FLOPPY] = 0;
	rtc->cmos[CMOS_EQUIPMENT] = EQUIPMENT_NO_FLOPPY;
	set_word(rtc, CMOS_BASE_MEM, BASE_MEM_KIB);
	set_word(rtc, CMOS_EXT_MEM, ext_kib);
	set_word(rtc, CMOS_EXT_MEM2, ext_kib);
	set_word(rtc, CMOS_HIGH_MEM, high_64k);
	update_checksum(rtc);
}

void mc146818_set_memory_above_4g(struct mc146818 *rtc, uint64_t bytes)
{
	uint64_t units = bytes >> 16;
	if (units > 0xffffff)
		units = 0xffffff;
	rtc->cmos[CMOS_MEM_ABOVE_4G] = (uint8_t)units;
	rtc->cmos[CMOS_MEM_ABOVE_4G + 1] = (uint8_t)(units >> 8);
	rtc->cmos[CMOS_MEM_ABOVE_4G + 2] = (uint8_t)(units >> 16);
}

/* ---- Snapshots ---------------------------------------------------------- */

#define RTC_SNAP_VERSION 1u

void mc146818_save(const struct mc146818 *rtc, struct snap_writer *w)
{
	snapw_begin(w, "RTC ", RTC_SNAP_VERSION, false);
	snapw_bytes(w, rtc->cmos, sizeof(rtc->cmos));
	snapw_u8(w, rtc->index);
	snapw_bool(w, rtc->nmi_masked);
	snapw_u8(w, rtc->flags);
	snapw_bool(w, rtc->irq_level);
	snapw_u64(w, rtc->origin_ns);
	snapw_u64(w, rtc->origin_tick);
	snapw_u64(w, rtc->last_tick);
	snapw_u64(w, rtc->next_tick);
	snapw_u32(w, rtc->pf_backlog);
	snapw_u64(w, rtc->pf_hold_tick);
	snapw_end(w);
}

int mc146818_load(struct mc146818 *rtc, struct snap_reader *r)
{
	if (r->version != RTC_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, RTC_SNAP_VERSION);
	snapr_bytes(r, rtc->cmos, sizeof(rtc->cmos));
	rtc->index = snapr_u8(r);
	rtc->nmi_masked = snapr_bool(r);
	rtc->flags = snapr_u8(r);
	rtc->irq_level = snapr_bool(r);
	rtc->origin_ns = snapr_u64(r);
	rtc->origin_tick = snapr_u64(r);
	rtc->last_tick = snapr_u64(r);
	rtc->next_tick = snapr_u64(r);
	rtc->pf_backlog = snapr_u32(r);
	rtc->pf_hold_tick = snapr_u64(r);
	if (!r->err && rtc->index >= RTC_CMOS_SIZE)
		return snapr_fail(r, "index %u out of range", rtc->index);
	return snapr_end(r);
}
