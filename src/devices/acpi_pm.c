/* ACPI fixed hardware: the PM1 status, enable and control registers, the
 * 24-bit PM timer computed from virtual time with its overflow status, the
 * SCI level, and the sleep and soft-off requests. What the board decides
 * (what a sleep does, when to run acpi_pm_update()) stays outside: see
 * acpi_pm.h. */
#include "devices/acpi_pm.h"
#include "host/snapfile.h"

#include <assert.h>
#include <string.h>

#define NONE UINT64_MAX
#define NS_PER_SEC 1000000000u
#define TIMER_MASK 0xffffffu
/* TMR_STS is set whenever bit 23 of the counter toggles. */
#define TOGGLE_SHIFT 23

#define EN_STORED (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | \
		   ACPI_PM1_RTC | ACPI_PM1_PCIEXP_WAKE)
#define CNT_STORED (ACPI_PM1_CNT_BM_RLD | ACPI_PM1_CNT_SLP_TYP)
#define SCI_SOURCES (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | \
		     ACPI_PM1_RTC)

/* Timer ticks are numbered from time 0 of the caller's clock, so the same
 * instant always reads the same value. Splitting off whole seconds keeps
 * the product exact in 64 bits for any nanosecond count. */
static uint64_t tick_of(uint64_t ns)
{
	uint64_t sec = ns / NS_PER_SEC, rem = ns % NS_PER_SEC;
	return sec * ACPI_PM_TIMER_HZ + rem * ACPI_PM_TIMER_HZ / NS_PER_SEC;
}

/* The first nanosecond at which tick_of() reaches tick. */
static uint64_t ns_of(uint64_t tick)
{
	uint64_t sec = tick / ACPI_PM_TIMER_HZ, rem = tick % ACPI_PM_TIMER_HZ;
	uint64_t frac = (rem * NS_PER_SEC + ACPI_PM_TIMER_HZ - 1) / ACPI_PM_TIMER_HZ;

	if (sec > (UINT64_MAX - frac) / NS_PER_SEC)
		return UINT64_MAX;
	return sec * NS_PER_SEC + frac;
}

static uint64_t next_toggle_after(uint64_t tick)
{
	return ((tick >> TOGGLE_SHIFT) + 1) << TOGGLE_SHIFT;
}

uint32_t acpi_pm_timer_value(uint64_t now_ns)
{
	return (uint32_t)(tick_of(now_ns) & TIMER_MASK);
}

/* Status bits that only time sets are computed lazily; this makes them
 * true as of tick t. */
static void sync(struct acpi_pm *pm, uint64_t t)
{
	if (pm->tmr_toggle_tick != NONE && t >= pm->tmr_toggle_tick) {
		pm->sts |= ACPI_PM1_TMR;
		pm->tmr_toggle_tick = NONE;
	}
}

static void update_sci(struct acpi_pm *pm)
{
	bool level = (pm->sts & pm->en & SCI_SOURCES) != 0;

	if (level == pm->sci_level)
		return;
	pm->sci_level = level;
	if (level)
		pm->scis++;
	irq_line_set(&pm->sci, level);
}

static uint64_t clock_now(const struct acpi_pm *pm)
{
	return pm->clock_ns(pm->opaque);
}

static uint16_t cnt_value(const struct acpi_pm *pm)
{
	return (uint16_t)(pm->cnt | ACPI_PM1_CNT_SCI_EN);
}

static uint64_t acpi_pm_read(void *opaque, uint64_t offset, unsigned width)
{
	struct acpi_pm *pm = opaque;
	uint64_t now = clock_now(pm);
	uint32_t timer = acpi_pm_timer_value(now);
	uint16_t cnt = cnt_value(pm);
	uint64_t value = 0;

	sync(pm, tick_of(now));
	update_sci(pm);
	const uint8_t image[ACPI_PM_IO_LEN] = {
		(uint8_t)pm->sts, (uint8_t)(pm->sts >> 8),
		(uint8_t)pm->en, (uint8_t)(pm->en >> 8),
		(uint8_t)cnt, (uint8_t)(cnt >> 8),
		0xff, 0xff,	/* reserved: nothing drives the bus there */
		(uint8_t)timer, (uint8_t)(timer >> 8), (uint8_t)(timer >> 16), 0,
	};
	for (unsigned i = 0; i < width && offset + i < ACPI_PM_IO_LEN; i++)
		value |= (uint64_t)image[offset + i] << (8 * i);
	return value;
}

/* The part of a write that falls on one 16-bit register at reg_offset:
 * its bytes in value, and which bytes were written in mask. */
struct reg_write {
	uint16_t value, mask;
};

static struct reg_write write_on(uint64_t offset, unsigned width, uint64_t value,
				 unsigned reg_offset)
{
	struct reg_write w = { 0, 0 };

	for (unsigned i = 0; i < width; i++) {
		uint64_t at = offset + i;
		if (at < reg_offset || at >= reg_offset + 2)
			continue;
		unsigned shift = 8 * (unsigned)(at - reg_offset);
		w.value |= (uint16_t)(((value >> (8 * i)) & 0xff) << shift);
		w.mask |= (uint16_t)(0xff << shift);
	}
	return w;
}

static void sleep_now(struct acpi_pm *pm)
{
	unsigned typ = (pm->cnt & ACPI_PM1_CNT_SLP_TYP) >> ACPI_PM1_CNT_SLP_TYP_SHIFT;

	if (pm->powered_off)
		return;
	if (typ == ACPI_PM_SLP_TYP_S5 && pm->power_off) {
		pm->powered_off = true;
		pm->power_off(pm->opaque);
		return;
	}
	if (pm->sleep_request)
		pm->sleep_request(pm->opaque, typ);
	/* Whatever the sleep was, it is over now; an OS waits for this bit. */
	pm->sts |= ACPI_PM1_WAK_STS;
}

static void acpi_pm_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct acpi_pm *pm = opaque;
	uint64_t t = tick_of(clock_now(pm));
	struct reg_write sts = write_on(offset, width, value, ACPI_PM1_EVT_OFFSET);
	struct reg_write en = write_on(offset, width, value, ACPI_PM1_EVT_OFFSET + 2);
	struct reg_write cnt = write_on(offset, width, value, ACPI_PM1_CNT_OFFSET);

	sync(pm, t);
	bool was_armed = pm->en & ACPI_PM1_TMR;
	uint64_t was_toggle = pm->tmr_toggle_tick;

	uint16_t clear = sts.value & sts.mask & pm->sts;
	pm->sts &= (uint16_t)~clear;
	if (clear & ACPI_PM1_TMR)
		pm->tmr_toggle_tick = next_toggle_after(t);
	pm->en = (uint16_t)(((pm->en & ~en.mask) | (en.value & en.mask)) & EN_STORED);
	pm->cnt = (uint16_t)(((pm->cnt & ~cnt.mask) | (cnt.value & cnt.mask)) & CNT_STORED);
	update_sci(pm);

	bool armed = pm->en & ACPI_PM1_TMR;
	if (pm->deadline_changed && (armed != was_armed ||
				     (armed && pm->tmr_toggle_tick != was_toggle)))
		pm->deadline_changed(pm->opaque);
	/* Last, with the registers settled: the callbacks may end the run. */
	if (cnt.value & cnt.mask & ACPI_PM1_CNT_SLP_EN)
		sleep_now(pm);
}

static const struct bus_ops acpi_pm_ops = {
	.read = acpi_pm_read,
	.write = acpi_pm_write,
	.max_width = 4,
};

void acpi_pm_init(struct acpi_pm *pm, const struct irq_line *sci,
		  uint64_t (*clock_ns)(void *opaque), void *opaque)
{
	memset(pm, 0, sizeof(*pm));
	if (sci)
		pm->sci = *sci;
	pm->clock_ns = clock_ns;
	pm->opaque = opaque;
	pm->tmr_toggle_tick = next_toggle_after(clock_ns ? tick_of(clock_ns(opaque)) : 0);
}

int acpi_pm_attach(struct acpi_pm *pm, struct bus *bus, uint16_t base_port)
{
	assert(pm->clock_ns);
	return bus_register(bus, BUS_SPACE_PIO, "acpi-pm", base_port, ACPI_PM_IO_LEN, &acpi_pm_ops,
			    pm);
}

void acpi_pm_update(struct acpi_pm *pm, uint64_t now_ns)
{
	sync(pm, tick_of(now_ns));
	update_sci(pm);
}

uint64_t acpi_pm_next_event_ns(const struct acpi_pm *pm, uint64_t now_ns)
{
	if (!(pm->en & ACPI_PM1_TMR) || pm->tmr_toggle_tick == NONE)
		return UINT64_MAX;
	if (tick_of(now_ns) >= pm->tmr_toggle_tick)
		return now_ns;
	return ns_of(pm->tmr_toggle_tick);
}

void acpi_pm_power_button(struct acpi_pm *pm)
{
	sync(pm, tick_of(clock_now(pm)));
	pm->sts |= ACPI_PM1_PWRBTN;
	update_sci(pm);
}

/* ---- Snapshots ---------------------------------------------------------- */

#define ACPI_PM_SNAP_VERSION 1u

void acpi_pm_save(const struct acpi_pm *pm, struct snap_writer *w)
{
	snapw_begin(w, "APM ", ACPI_PM_SNAP_VERSION, false);
	snapw_u16(w, pm->sts);
	snapw_u16(w, pm->en);
	snapw_u16(w, pm->cnt);
	snapw_u64(w, pm->tmr_toggle_tick);
	snapw_bool(w, pm->sci_level);
	snapw_bool(w, pm->powered_off);
	snapw_end(w);
}

int acpi_pm_load(struct acpi_pm *pm, struct snap_reader *r)
{
	if (r->version != ACPI_PM_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version,
				  ACPI_PM_SNAP_VERSION);
	pm->sts = snapr_u16(r);
	pm->en = snapr_u16(r);
	pm->cnt = snapr_u16(r);
	pm->tmr_toggle_tick = snapr_u64(r);
	pm->sci_level = snapr_bool(r);
	pm->powered_off = snapr_bool(r);
	return snapr_end(r);
}
