/* The HPET's registers, its counter on guest time, its comparators and the
 * interrupt lines they drive, with the legacy replacement multiplexer in
 * front of ISA IRQ 0 and 8. See hpet.h for what is modelled. */
#include "devices/hpet.h"
#include "host/snapfile.h"

#include <string.h>

/* GCAP_ID (specification 2.3.4). */
#define CAP_REV_ID 0x01u
#define CAP_NUM_TIM_SHIFT 8
#define CAP_COUNT_SIZE (1u << 13)
#define CAP_LEG_RT (1u << 15)
#define CAP_VENDOR_SHIFT 16

/* Tn_CONF_CAP (2.3.8). */
#define TN_INT_TYPE_LEVEL (1u << 1)
#define TN_INT_ENB (1u << 2)
#define TN_TYPE_PERIODIC (1u << 3)
#define TN_PER_INT_CAP (1u << 4)
#define TN_SIZE_CAP (1u << 5)
#define TN_VAL_SET (1u << 6)
#define TN_32MODE (1u << 8)
#define TN_ROUTE_SHIFT 9
#define TN_ROUTE_MASK (0x1fu << TN_ROUTE_SHIFT)
#define TN_WRITABLE                                                                     \
	(TN_INT_TYPE_LEVEL | TN_INT_ENB | TN_TYPE_PERIODIC | TN_VAL_SET | TN_32MODE | \
	 TN_ROUTE_MASK)

#define CONFIG_WRITABLE (HPET_CFG_ENABLE | HPET_CFG_LEGACY)
#define FIRST_ROUTE_PIN 20u
#define ROUTE_PINS 4u
#define TIMER_REGS_END HPET_REG_TIMER(HPET_TIMERS)

uint64_t hpet_capabilities(void)
{
	return (uint64_t)HPET_PERIOD_FS << 32 | HPET_VENDOR_INTEL << CAP_VENDOR_SHIFT | CAP_LEG_RT |
	       CAP_COUNT_SIZE | (HPET_TIMERS - 1) << CAP_NUM_TIM_SHIFT | CAP_REV_ID;
}

static bool enabled(const struct hpet *hpet)
{
	return (hpet->config & HPET_CFG_ENABLE) != 0;
}

static uint64_t width_mask(const struct hpet_timer *t)
{
	return t->config & TN_32MODE ? 0xffffffffull : ~0ull;
}

static bool periodic(const struct hpet_timer *t)
{
	return (t->config & TN_TYPE_PERIODIC) != 0;
}

/* A one-shot timer in 32-bit mode also interrupts when the counter's low
 * 32 bits wrap round (specification 2.3.9.2.1: "another interrupt"). */
static bool fires_at_wrap(const struct hpet_timer *t)
{
	return (t->config & TN_32MODE) && !periodic(t);
}

/* Ticks from count to the next wrap of the counter's low 32 bits. */
static uint64_t to_wrap32(uint64_t count)
{
	return (1ull << 32) - (count & 0xffffffffull);
}

uint64_t hpet_counter(const struct hpet *hpet, uint64_t now_ns)
{
	if (!enabled(hpet) || now_ns < hpet->ns_base)
		return hpet->count_base;
	return hpet->count_base + (now_ns - hpet->ns_base) / HPET_TICK_NS;
}

static unsigned route_of(const struct hpet_timer *t)
{
	return (unsigned)(t->config & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT;
}

bool hpet_timer_route(const struct hpet *hpet, unsigned n, unsigned *isa_irq, unsigned *pin)
{
	if (hpet_legacy(hpet) && n < 2) {
		*isa_irq = n == 0 ? 0 : 8;
		return true;
	}
	*pin = route_of(&hpet->timer[n]);
	return false;
}

/* Whether a level-triggered timer holds its line. */
static bool level_asserted(const struct hpet *hpet, unsigned n)
{
	const struct hpet_timer *t = &hpet->timer[n];
	return enabled(hpet) && (hpet->isr >> n & 1) && (t->config & TN_INT_ENB) &&
	       (t->config & TN_INT_TYPE_LEVEL);
}

/* Every output line from the state; only changes are reported unless
 * force (a reset, where the controllers start afresh). */
static void drive_lines(struct hpet *hpet, bool force)
{
	bool isa[2] = { hpet->pit_in, hpet->rtc_in };
	uint8_t pins_low = 0;
	for (unsigned n = 0; n < HPET_TIMERS; n++) {
		unsigned irq, pin;
		if (hpet_timer_route(hpet, n, &irq, &pin))
			isa[n] = level_asserted(hpet, n);
		else if (level_asserted(hpet, n) && pin >= FIRST_ROUTE_PIN &&
			 pin < FIRST_ROUTE_PIN + ROUTE_PINS)
			pins_low |= (uint8_t)(1u << (pin - FIRST_ROUTE_PIN));
	}
	for (unsigned i = 0; i < 2; i++) {
		if ((force || isa[i] != hpet->isa_out[i]) && hpet->set_isa_irq)
			hpet->set_isa_irq(hpet->opaque, i == 0 ? 0 : 8, isa[i]);
		hpet->isa_out[i] = isa[i];
	}
	uint8_t pins = (uint8_t)(~pins_low & ((1u << ROUTE_PINS) - 1));
	for (unsigned i = 0; i < ROUTE_PINS; i++) {
		if ((force || ((pins ^ hpet->pins_out) >> i & 1)) && hpet->set_ioapic_pin)
			hpet->set_ioapic_pin(hpet->opaque, FIRST_ROUTE_PIN + i, pins >> i & 1);
	}
	hpet->pins_out = pins;
}

/* An edge-triggered timer's interrupt: a pulse on its line, unless
 * something holds the line asserted already. */
static void pulse(struct hpet *hpet, unsigned n)
{
	unsigned irq, pin;
	if (hpet_timer_route(hpet, n, &irq, &pin)) {
		unsigned i = irq == 0 ? 0 : 1;
		if (!hpet->isa_out[i] && hpet->set_isa_irq) {
			hpet->set_isa_irq(hpet->opaque, irq, 1);
			hpet->set_isa_irq(hpet->opaque, irq, 0);
		}
		return;
	}
	if (pin < FIRST_ROUTE_PIN || pin >= FIRST_ROUTE_PIN + ROUTE_PINS)
		return;
	unsigned bit = pin - FIRST_ROUTE_PIN;
	if ((hpet->pins_out >> bit & 1) && hpet->set_ioapic_pin) {
		hpet->set_ioapic_pin(hpet->opaque, pin, 0);
		hpet->set_ioapic_pin(hpet->opaque, pin, 1);
	}
}

/* Timer n reached its comparator (the counter at cur, guest time now). */
static void fire(struct hpet *hpet, unsigned n, uint64_t cur, uint64_t now_ns)
{
	struct hpet_timer *t = &hpet->timer[n];
	uint64_t mask = width_mask(t);
	uint64_t period = t->period & mask;
	if (periodic(t) && period) {
		/* Past every period that ended by now: one interrupt for them. */
		uint64_t late = (cur - t->cmp) & mask;
		t->cmp = (t->cmp + (late / period + 1) * period) & mask;
	}
	if (t->config & TN_INT_TYPE_LEVEL) {
		hpet->isr |= 1ull << n;
		drive_lines(hpet, false);
	} else if (t->config & TN_INT_ENB) {
		pulse(hpet, n);
	}
	if (t->config & TN_INT_ENB) {
		t->last_fire_ns = now_ns;
		hpet->interrupts++;
	}
}

void hpet_update(struct hpet *hpet, uint64_t now_ns)
{
	if (!enabled(hpet))
		return;
	uint64_t cur = hpet_counter(hpet, now_ns);
	uint64_t elapsed = cur - hpet->seen_count;
	if (!elapsed)
		return;
	for (unsigned n = 0; n < HPET_TIMERS; n++) {
		const struct hpet_timer *t = &hpet->timer[n];
		/* Ticks from the last look to the match; 0 is a match already
		 * taken (or a comparator written at the counter's value). */
		uint64_t to_match = (t->cmp - hpet->seen_count) & width_mask(t);
		bool match = to_match && to_match <= elapsed;
		/* A wrap and a match seen in one look are one interrupt, as
		 * the second edge of a line still pending would be. */
		if (match || (fires_at_wrap(t) && to_wrap32(hpet->seen_count) <= elapsed))
			fire(hpet, n, cur, now_ns);
	}
	hpet->seen_count = cur;
}

uint64_t hpet_timer_next_event_ns(const struct hpet *hpet, unsigned n, uint64_t now_ns)
{
	const struct hpet_timer *t = &hpet->timer[n];
	if (!enabled(hpet) || !(t->config & TN_INT_ENB))
		return UINT64_MAX;
	uint64_t mask = width_mask(t);
	uint64_t to_match = (t->cmp - hpet->seen_count) & mask;
	if (!to_match) {
		if (mask == ~0ull)
			return UINT64_MAX;
		to_match = mask + 1;	/* the 32-bit counter comes round again */
	}
	if (fires_at_wrap(t) && to_wrap32(hpet->seen_count) < to_match)
		to_match = to_wrap32(hpet->seen_count);
	/* In 128 bits: a 64-bit match that has passed is a whole wrap away. */
	unsigned __int128 at = ((unsigned __int128)(hpet->seen_count - hpet->count_base) + to_match) *
				       HPET_TICK_NS +
			       hpet->ns_base;
	uint64_t event = at > UINT64_MAX ? UINT64_MAX : (uint64_t)at;
	if (periodic(t) && hpet->min_interval_ns && event < t->last_fire_ns + hpet->min_interval_ns)
		event = t->last_fire_ns + hpet->min_interval_ns;
	return event < now_ns ? now_ns : event;
}

uint64_t hpet_next_event_ns(const struct hpet *hpet, uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;
	for (unsigned n = 0; n < HPET_TIMERS; n++) {
		uint64_t e = hpet_timer_next_event_ns(hpet, n, now_ns);
		if (e < next)
			next = e;
	}
	return next;
}

void hpet_isa_input(void *opaque, unsigned line, int level)
{
	struct hpet *hpet = opaque;
	if (line == 0)
		hpet->pit_in = level != 0;
	else
		hpet->rtc_in = level != 0;
	drive_lines(hpet, false);
}

void hpet_init(struct hpet *hpet, uint64_t (*clock_ns)(void *opaque),
	       void (*set_isa_irq)(void *opaque, unsigned irq, int level),
	       void (*set_ioapic_pin)(void *opaque, unsigned pin, int level), void *opaque)
{
	memset(hpet, 0, sizeof(*hpet));
	hpet->clock_ns = clock_ns;
	hpet->set_isa_irq = set_isa_irq;
	hpet->set_ioapic_pin = set_ioapic_pin;
	hpet->opaque = opaque;
}

void hpet_reset(struct hpet *hpet)
{
	hpet->config = 0;
	hpet->isr = 0;
	/* The PIT and the RTC are reset too, their outputs low, and they
	 * report only changes: a level kept from before (a watchdog's fired
	 * one-shot) would swallow their first edge after the reset. */
	hpet->pit_in = hpet->rtc_in = false;
	hpet->count_base = hpet->ns_base = hpet->seen_count = 0;
	memset(hpet->timer, 0, sizeof(hpet->timer));
	drive_lines(hpet, true);
}

/* ---- Registers ---------------------------------------------------------- */

static uint64_t reg_read(const struct hpet *hpet, uint64_t reg, uint64_t now_ns)
{
	if (reg >= HPET_REG_TIMER(0) && reg < TIMER_REGS_END) {
		const struct hpet_timer *t = &hpet->timer[(reg - HPET_REG_TIMER(0)) / 0x20];
		switch ((reg - HPET_REG_TIMER(0)) % 0x20) {
		case 0x00:
			return (uint64_t)HPET_ROUTE_CAP << 32 | t->config | TN_PER_INT_CAP |
			       TN_SIZE_CAP;
		case 0x08:
			return t->cmp;
		case 0x10:
			return t->fsb;
		default:
			return 0;
		}
	}
	switch (reg) {
	case HPET_REG_CAP:
		return hpet_capabilities();
	case HPET_REG_CONFIG:
		return hpet->config;
	case HPET_REG_STATUS:
		return hpet->isr;
	case HPET_REG_COUNTER:
		return hpet_counter(hpet, now_ns);
	default:
		return 0;
	}
}

static uint64_t merge(uint64_t old, uint64_t value, uint64_t mask)
{
	return (old & ~mask) | (value & mask);
}

static void timer_write(struct hpet *hpet, unsigned n, unsigned reg, uint64_t value,
			uint64_t mask)
{
	struct hpet_timer *t = &hpet->timer[n];
	switch (reg) {
	case 0x00: {
		uint64_t config = merge(t->config, value, mask) & TN_WRITABLE;
		/* A route the timer cannot take reads back as it was. */
		unsigned route = (unsigned)(config & TN_ROUTE_MASK) >> TN_ROUTE_SHIFT;
		if (!(HPET_ROUTE_CAP >> route & 1))
			config = (config & ~(uint64_t)TN_ROUTE_MASK) | (t->config & TN_ROUTE_MASK);
		/* Leaving level mode drops the status bit, as QEMU does. */
		if (!(config & TN_INT_TYPE_LEVEL))
			hpet->isr &= ~(1ull << n);
		t->config = config;
		if (config & TN_32MODE) {
			t->cmp &= 0xffffffffull;
			t->period &= 0xffffffffull;
		}
		break;
	}
	case 0x08: {
		/* In periodic mode the write is the period; with VAL_SET it
		 * is also where the next interrupt comes (QEMU's reading of
		 * 2.3.9.2.2, which Linux's periodic set-up relies on). */
		uint64_t wmask = width_mask(t);
		if (!periodic(t) || (t->config & TN_VAL_SET))
			t->cmp = merge(t->cmp, value, mask) & wmask;
		if (periodic(t))
			t->period = merge(t->period, value, mask) & wmask;
		t->config &= ~(uint64_t)TN_VAL_SET;
		break;
	}
	case 0x10:
		t->fsb = merge(t->fsb, value, mask);
		break;
	default:
		break;
	}
}

static void reg_write(struct hpet *hpet, uint64_t reg, uint64_t value, uint64_t mask,
		      uint64_t now_ns)
{
	if (reg >= HPET_REG_TIMER(0) && reg < TIMER_REGS_END) {
		timer_write(hpet, (unsigned)(reg - HPET_REG_TIMER(0)) / 0x20,
			    (unsigned)(reg - HPET_REG_TIMER(0)) % 0x20, value, mask);
		return;
	}
	switch (reg) {
	case HPET_REG_CONFIG: {
		uint64_t config = merge(hpet->config, value, mask) & CONFIG_WRITABLE;
		bool was = enabled(hpet);
		if (!was && (config & HPET_CFG_ENABLE)) {
			hpet->ns_base = now_ns;
			hpet->seen_count = hpet->count_base;
		} else if (was && !(config & HPET_CFG_ENABLE)) {
			hpet->count_base = hpet_counter(hpet, now_ns);
			hpet->seen_count = hpet->count_base;
		}
		hpet->config = config;
		break;
	}
	case HPET_REG_STATUS:
		hpet->isr &= ~(value & mask);
		break;
	case HPET_REG_COUNTER:
		hpet->count_base = merge(hpet_counter(hpet, now_ns), value, mask);
		hpet->ns_base = now_ns;
		hpet->seen_count = hpet->count_base;
		break;
	default:
		break;
	}
}

static uint64_t width_bits(unsigned width)
{
	return width >= 8 ? ~0ull : (1ull << (width * 8)) - 1;
}

static uint64_t mmio_read(void *opaque, uint64_t offset, unsigned width)
{
	struct hpet *hpet = opaque;
	uint64_t now = hpet->clock_ns(hpet->opaque);
	hpet_update(hpet, now);
	unsigned shift = (unsigned)(offset & 7) * 8;
	uint64_t reg = offset & ~7ull;
	uint64_t value = reg_read(hpet, reg, now) >> shift;
	/* An access across two registers takes the rest from the next. */
	if (shift && (offset & 7) + width > 8)
		value |= reg_read(hpet, reg + 8, now) << (64 - shift);
	return value & width_bits(width);
}

static void mmio_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct hpet *hpet = opaque;
	uint64_t now = hpet->clock_ns(hpet->opaque);
	hpet_update(hpet, now);
	unsigned shift = (unsigned)(offset & 7) * 8;
	uint64_t reg = offset & ~7ull;
	uint64_t bits = width_bits(width);
	reg_write(hpet, reg, value << shift, bits << shift, now);
	if (shift && (offset & 7) + width > 8)
		reg_write(hpet, reg + 8, value >> (64 - shift), bits >> (64 - shift), now);
	drive_lines(hpet, false);
	if (hpet->deadline_changed)
		hpet->deadline_changed(hpet->opaque);
}

static const struct bus_ops hpet_ops = {
	.read = mmio_read,
	.write = mmio_write,
	.max_width = 8,
};

int hpet_attach(struct hpet *hpet, struct bus *bus, uint64_t base)
{
	return bus_register(bus, BUS_SPACE_MMIO, "hpet", base, HPET_MMIO_LEN, &hpet_ops, hpet);
}

/* ---- Snapshots ---------------------------------------------------------- */

#define HPET_SNAP_VERSION 1u

void hpet_save(const struct hpet *hpet, struct snap_writer *w)
{
	snapw_begin(w, "HPET", HPET_SNAP_VERSION, false);
	snapw_u64(w, hpet->config);
	snapw_u64(w, hpet->isr);
	snapw_u64(w, hpet->count_base);
	snapw_u64(w, hpet->ns_base);
	snapw_u64(w, hpet->seen_count);
	for (unsigned n = 0; n < HPET_TIMERS; n++) {
		const struct hpet_timer *t = &hpet->timer[n];
		snapw_u64(w, t->config);
		snapw_u64(w, t->cmp);
		snapw_u64(w, t->period);
		snapw_u64(w, t->fsb);
		snapw_u64(w, t->last_fire_ns);
	}
	snapw_bool(w, hpet->pit_in);
	snapw_bool(w, hpet->rtc_in);
	snapw_bool(w, hpet->isa_out[0]);
	snapw_bool(w, hpet->isa_out[1]);
	snapw_u8(w, hpet->pins_out);
	snapw_end(w);
}

int hpet_load(struct hpet *hpet, struct snap_reader *r)
{
	if (r->version != HPET_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version,
				  HPET_SNAP_VERSION);
	hpet->config = snapr_u64(r) & CONFIG_WRITABLE;
	hpet->isr = snapr_u64(r) & ((1u << HPET_TIMERS) - 1);
	hpet->count_base = snapr_u64(r);
	hpet->ns_base = snapr_u64(r);
	hpet->seen_count = snapr_u64(r);
	for (unsigned n = 0; n < HPET_TIMERS; n++) {
		struct hpet_timer *t = &hpet->timer[n];
		t->config = snapr_u64(r);
		t->cmp = snapr_u64(r);
		t->period = snapr_u64(r);
		t->fsb = snapr_u64(r);
		t->last_fire_ns = snapr_u64(r);
		if (!r->err && (t->config & ~(uint64_t)TN_WRITABLE))
			return snapr_fail(r, "timer %u configuration %#llx", n,
					  (unsigned long long)t->config);
	}
	/* Loaded as the interrupt controllers saw them: no edges now. */
	hpet->pit_in = snapr_bool(r);
	hpet->rtc_in = snapr_bool(r);
	hpet->isa_out[0] = snapr_bool(r);
	hpet->isa_out[1] = snapr_bool(r);
	hpet->pins_out = snapr_u8(r) & ((1u << ROUTE_PINS) - 1);
	return snapr_end(r);
}
