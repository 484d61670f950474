/* The 8254 timer: control words, counter latch and read-back, count access
 * modes, counting modes 0-5 computed from virtual time, gates, and channel
 * 0's IRQ 0 edges. Port 0x61 and the choice of clock stay outside: see
 * pit8254.h. */
#include "devices/pit8254.h"
#include "host/snapfile.h"
#include "devices/tick_backlog.h"

#include <assert.h>
#include <string.h>

#define NONE UINT64_MAX
#define NS_PER_SEC 1000000000u

#define CTRL_SC_SHIFT	6
#define CTRL_RW_SHIFT	4
#define CTRL_READ_BACK	3	/* SC value */
#define RB_NO_COUNT	0x20	/* read-back bits are active low */
#define RB_NO_STATUS	0x10

#define STATUS_OUT	0x80
#define STATUS_NULL	0x40

enum { ACCESS_LATCH = 0, ACCESS_LSB = 1, ACCESS_MSB = 2, ACCESS_WORD = 3 };

/* Counter clock edges are numbered from time 0 of the caller's clock, so
 * the same instant always maps to the same edge. 128-bit products keep
 * the arithmetic exact for any 64-bit nanosecond value. */
static uint64_t tick_of(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * PIT_FREQUENCY_HZ / NS_PER_SEC);
}

/* The first nanosecond at which tick_of() reaches tick. */
static uint64_t ns_of(uint64_t tick)
{
	unsigned __int128 ns = ((unsigned __int128)tick * NS_PER_SEC + PIT_FREQUENCY_HZ - 1) /
			       PIT_FREQUENCY_HZ;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

/* A reload waiting for the end of a period in modes 2 and 3 is committed
 * lazily; this is the count and start in effect at tick t. */
struct phase {
	uint64_t start;
	uint32_t count;
};

static struct phase phase_at(const struct pit_channel *c, uint64_t t)
{
	if (c->pending_tick != NONE && t >= c->pending_tick)
		return (struct phase){ c->pending_tick, c->reload };
	return (struct phase){ c->start_tick, c->count };
}

static void normalize(struct pit_channel *c, uint64_t t)
{
	struct phase p = phase_at(c, t);
	c->start_tick = p.start;
	c->count = p.count;
	if (c->pending_tick != NONE && t >= c->pending_tick)
		c->pending_tick = NONE;
}

/* Clock edges since the count was loaded; a caller's now that lags the
 * last register access reads as that access rather than wrapping. */
static uint64_t since(uint64_t start, uint64_t t)
{
	return t > start ? t - start : 0;
}

static uint64_t elapsed(const struct pit_channel *c, struct phase p, uint64_t t)
{
	return c->paused ? c->paused_elapsed : since(p.start, t);
}

static bool counting(const struct pit_channel *c)
{
	return c->loaded && c->running;
}

static bool output(const struct pit_channel *c, uint64_t t)
{
	if (!c->loaded)
		return c->mode != 0;
	if (!c->running)
		return true;
	struct phase p = phase_at(c, t);
	uint64_t e = elapsed(c, p, t);
	uint32_t n = p.count;

	switch (c->mode) {
	case 0:
	case 1:
		return e >= n;
	case 2:
		return c->paused || e % n != n - 1;
	case 3:
		return c->paused || e % n < (n + 1) / 2;
	default:
		return e != n;
	}
}

/* Mode 3 counts down by two; an odd count spends one extra clock at the
 * top of the high half and one fewer in the low half (8254 datasheet). */
static uint32_t mode3_value(uint32_t n, uint32_t phase)
{
	if (n % 2 == 0)
		return n - 2 * (phase % (n / 2));
	uint32_t high = (n + 1) / 2;
	if (phase < high)
		return phase == 0 ? n : n + 1 - 2 * phase;
	phase -= high;
	return phase == 0 ? n : n - 1 - 2 * phase;
}

static uint16_t value(const struct pit_channel *c, uint64_t t)
{
	if (!counting(c))
		return c->hold;
	struct phase p = phase_at(c, t);
	uint64_t e = elapsed(c, p, t);
	uint32_t n = p.count;

	switch (c->mode) {
	case 2:
		return (uint16_t)(n - e % n);
	case 3:
		return (uint16_t)mode3_value(n, (uint32_t)(e % n));
	default:
		/* One-shot modes keep counting down and wrap past zero. */
		return (uint16_t)(n - e);
	}
}

static bool null_count(const struct pit_channel *c, uint64_t t)
{
	return !c->loaded || c->fresh || (c->pending_tick != NONE && t < c->pending_tick);
}

/* The next rising edge of OUT after tick t, or NONE. */
static uint64_t next_edge(const struct pit_channel *c, uint64_t t)
{
	if (!counting(c) || c->paused)
		return NONE;
	struct phase p = phase_at(c, t);
	uint64_t e = since(p.start, t);
	uint64_t n = p.count;

	switch (c->mode) {
	case 0:
	case 1:
		return e < n ? p.start + n : NONE;
	case 2:
	case 3:
		if (c->pending_tick != NONE && t < c->pending_tick)
			return c->pending_tick;
		return p.start + (e / n + 1) * n;
	default:
		return e < n + 1 ? p.start + n + 1 : NONE;
	}
}

static uint64_t clock_now(const struct pit8254 *pit)
{
	return pit->clock_ns(pit->clock_opaque);
}

static void drive_irq(struct pit8254 *pit, bool level)
{
	pit->irq_level = level;
	irq_line_set(&pit->irq, level);
}

static bool periodic(const struct pit_channel *c)
{
	return c->mode == 2 || c->mode == 3;
}

/* When the next pulse goes out: the next edge, or with edges queued the
 * end of the holdoff after the last pulse, or, that one still pending
 * where it went, the next look (see update_periodic()). Never a time at
 * which nothing would happen, which would have the caller poll in a loop. */
static uint64_t next_delivery(const struct pit8254 *pit)
{
	uint64_t next = pit->irq_edge_tick;
	if (pit->irq_backlog)
		next = pit->irq_recheck_tick;
	if (next != NONE && next < pit->irq_hold_tick)
		next = pit->irq_hold_tick;
	return next;
}

/* After anything changed channel 0 at tick t (with its due edges already
 * delivered): the line's resting level and the next edge. A reprogrammed
 * counter starts without a backlog. */
static void channel0_changed(struct pit8254 *pit, uint64_t t)
{
	const struct pit_channel *c = &pit->ch[0];
	bool level = c->mode <= 1 && output(c, t);
	uint64_t old = pit->irq_next_tick;

	if (level != pit->irq_level)
		drive_irq(pit, level);
	pit->irq_edge_tick = next_edge(c, t);
	pit->irq_backlog = 0;
	pit->irq_recheck_tick = 0;
	pit->irq_next_tick = periodic(c) ? next_delivery(pit) : pit->irq_edge_tick;
	if (pit->irq_next_tick != old && pit->deadline_changed)
		pit->deadline_changed(pit->clock_opaque);
}

static void start(struct pit_channel *c, uint32_t count, uint64_t t)
{
	c->count = count;
	c->start_tick = t;
	c->running = true;
	c->fresh = false;
	c->pending_tick = NONE;
	c->paused = false;
	c->paused_elapsed = 0;
}

/* A low gate holds the freshly loaded count until it rises. */
static void start_gated(struct pit_channel *c, uint32_t count, uint64_t t)
{
	start(c, count, t);
	c->paused = !c->gate;
}

static void write_control(struct pit_channel *c, uint8_t ctrl, uint64_t t)
{
	c->hold = value(c, t);
	c->ctrl = ctrl & 0x3e;
	c->access = (ctrl >> CTRL_RW_SHIFT) & 3;
	c->mode = (ctrl >> 1) & 7;
	/* Modes 6 and 7 are the datasheet's aliases of 2 and 3. */
	if (c->mode > 5)
		c->mode -= 4;
	c->loaded = c->running = c->paused = c->fresh = false;
	c->pending_tick = NONE;
	c->count_latched = c->status_latched = false;
	c->write_msb_next = c->read_msb_next = false;
}

static void load_count(struct pit_channel *c, uint32_t count, uint64_t t)
{
	bool was_counting = counting(c);

	c->reload = count;
	c->loaded = true;
	switch (c->mode) {
	case 0:
	case 4:
		/* A new count restarts at once. */
		start_gated(c, count, t);
		break;
	case 1:
	case 5:
		/* Only the next trigger on the gate loads it. */
		c->fresh = true;
		break;
	default:
		if (!was_counting) {
			start_gated(c, count, t);
		} else if (c->paused) {
			c->fresh = true;
		} else {
			/* The current period runs out first. This is exact
			 * for mode 2; mode 3 would switch at the end of the
			 * current half, here it waits for the whole period. */
			normalize(c, t);
			uint64_t e = since(c->start_tick, t);
			c->pending_tick = c->start_tick + (e / c->count + 1) * c->count;
		}
		break;
	}
}

static void write_count_byte(struct pit_channel *c, uint8_t byte, uint64_t t)
{
	uint32_t count;

	switch (c->access) {
	case ACCESS_LSB:
		count = byte;
		break;
	case ACCESS_MSB:
		count = (uint32_t)byte << 8;
		break;
	default:
		if (!c->write_msb_next) {
			c->write_lsb = byte;
			c->write_msb_next = true;
			/* In mode 0 the first byte already stops the count
			 * and drops OUT. */
			if (c->mode == 0) {
				c->hold = value(c, t);
				c->loaded = c->running = false;
			}
			return;
		}
		c->write_msb_next = false;
		count = c->write_lsb | (uint32_t)byte << 8;
		break;
	}
	load_count(c, count ? count : 0x10000, t);
}

static uint8_t read_byte(struct pit_channel *c, uint16_t v, bool latched)
{
	bool msb;

	switch (c->access) {
	case ACCESS_LSB:
		msb = false;
		break;
	case ACCESS_MSB:
		msb = true;
		break;
	default:
		msb = c->read_msb_next;
		c->read_msb_next = !msb;
		if (!msb)
			return (uint8_t)v;
		break;
	}
	if (latched)
		c->count_latched = false;
	return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
}

static uint8_t read_channel(struct pit_channel *c, uint64_t t)
{
	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->count_latched)
		return read_byte(c, c->latch, true);
	return read_byte(c, value(c, t), false);
}

static void latch_count(struct pit_channel *c, uint64_t t)
{
	/* A second latch before the first is read is ignored. */
	if (c->count_latched)
		return;
	c->latch = value(c, t);
	c->count_latched = true;
}

static void latch_status(struct pit_channel *c, uint64_t t)
{
	if (c->status_latched)
		return;
	c->status = c->ctrl;
	if (output(c, t))
		c->status |= STATUS_OUT;
	if (null_count(c, t))
		c->status |= STATUS_NULL;
	c->status_latched = true;
}

static void write_command(struct pit8254 *pit, uint8_t cmd, uint64_t t)
{
	unsigned sc = cmd >> CTRL_SC_SHIFT;

	if (sc == CTRL_READ_BACK) {
		for (unsigned i = 0; i < PIT_CHANNELS; i++) {
			if (!(cmd & (2u << i)))
				continue;
			if (!(cmd & RB_NO_COUNT))
				latch_count(&pit->ch[i], t);
			if (!(cmd & RB_NO_STATUS))
				latch_status(&pit->ch[i], t);
		}
		return;
	}
	if (((cmd >> CTRL_RW_SHIFT) & 3) == ACCESS_LATCH)
		latch_count(&pit->ch[sc], t);
	else
		write_control(&pit->ch[sc], cmd, t);
}

static uint64_t pit_read(void *opaque, uint64_t offset, unsigned width)
{
	struct pit8254 *pit = opaque;
	uint64_t now = clock_now(pit);
	(void)width;

	/* The control register cannot be read back on an 8254. */
	if (offset == 3)
		return 0xff;
	pit8254_update(pit, now);
	return read_channel(&pit->ch[offset], tick_of(now));
}

static void pit_write(void *opaque, uint64_t offset, unsigned width, uint64_t value64)
{
	struct pit8254 *pit = opaque;
	uint64_t now = clock_now(pit);
	uint64_t t = tick_of(now);
	uint8_t byte = (uint8_t)value64;
	(void)width;

	/* Edges that were due before this write happened first. */
	pit8254_update(pit, now);
	if (offset == 3)
		write_command(pit, byte, t);
	else
		write_count_byte(&pit->ch[offset], byte, t);
	channel0_changed(pit, t);
}

static const struct bus_ops pit_ops = {
	.read = pit_read,
	.write = pit_write,
	.max_width = 1,
};

void pit8254_init(struct pit8254 *pit, const struct irq_line *irq0,
		  uint64_t (*clock_ns)(void *opaque), void *clock_opaque)
{
	memset(pit, 0, sizeof(*pit));
	if (irq0)
		pit->irq = *irq0;
	pit->clock_ns = clock_ns;
	pit->clock_opaque = clock_opaque;
	pit->irq_next_tick = NONE;
	uint64_t t = tick_of(clock_ns ? clock_ns(clock_opaque) : 0);

	for (unsigned i = 0; i < PIT_CHANNELS; i++) {
		pit->ch[i].pending_tick = NONE;
		pit->ch[i].gate = i != 2;
	}
	/* Control words 0x36, 0x54 and 0x30: what a BIOS leaves. */
	write_control(&pit->ch[0], 0x36, t);
	load_count(&pit->ch[0], 0x10000, t);
	write_control(&pit->ch[1], 0x54, t);
	load_count(&pit->ch[1], 18, t);
	write_control(&pit->ch[2], 0xb0, t);
	pit->irq_edge_tick = pit->irq_next_tick = next_edge(&pit->ch[0], t);
}

int pit8254_attach(struct pit8254 *pit, struct bus *bus)
{
	assert(pit->clock_ns);
	return bus_register(bus, BUS_SPACE_PIO, "pit8254", PIT_PORT, 4, &pit_ops, pit);
}

/* The periodic modes at tick t: the edges due join the backlog, as far as
 * irq_backlog_max_ns of them (only one for a period shorter than
 * irq_min_interval_ns: a storm is coalesced; the rest are lost), and one
 * goes out once the holdoff after the last pulse has run and that pulse is
 * no longer pending where it went (irq_pending): sent before the CPU took
 * it, the new one would merge into it and be lost after all. While it is
 * pending the backlog looks again a period (a holdoff at least) later, or
 * as soon as the caller says the CPU took it (pit8254_irq_taken()). This is
 * how KVM's PIT reinjects ticks. */
static void update_periodic(struct pit8254 *pit, uint64_t t)
{
	const struct pit_channel *c = &pit->ch[0];
	uint64_t period = phase_at(c, t).count;
	if (pit->irq_edge_tick != NONE && t >= pit->irq_edge_tick) {
		uint64_t due = 1 + (t - pit->irq_edge_tick) / period;
		uint64_t max = tick_backlog_limit(ns_of(period), pit->irq_min_interval_ns,
						  pit->irq_backlog_max_ns, 1);
		pit->irq_backlog = tick_backlog_add(pit->irq_backlog, due, max, &pit->lost_irqs);
		pit->irq_edge_tick = next_edge(c, t);
	}
	if (pit->irq_backlog && t >= pit->irq_hold_tick && t >= pit->irq_recheck_tick) {
		uint64_t hold = tick_of(pit->irq_min_interval_ns);
		if (pit->irq_pending && pit->irq_pending(pit->clock_opaque)) {
			pit->irq_recheck_tick = t + (period > hold ? period : hold);
		} else {
			drive_irq(pit, true);
			drive_irq(pit, false);
			pit->irqs++;
			pit->irq_backlog--;
			pit->irq_hold_tick = t + hold;
			pit->irq_recheck_tick = 0;
		}
	}
	pit->irq_next_tick = next_delivery(pit);
}

void pit8254_drop_backlog(struct pit8254 *pit)
{
	pit->irq_backlog = 0;
	pit->irq_recheck_tick = 0;
	if (periodic(&pit->ch[0]))
		pit->irq_next_tick = next_delivery(pit);
}

void pit8254_update(struct pit8254 *pit, uint64_t now_ns)
{
	struct pit_channel *c = &pit->ch[0];
	uint64_t t = tick_of(now_ns);

	normalize(c, t);
	if (pit->irq_next_tick == NONE || t < pit->irq_next_tick)
		return;
	if (periodic(c)) {
		update_periodic(pit, t);
		return;
	}
	if (c->mode <= 1) {
		drive_irq(pit, true);
	} else {
		drive_irq(pit, true);
		drive_irq(pit, false);
	}
	pit->irqs++;
	pit->irq_edge_tick = pit->irq_next_tick = next_edge(c, t);
}

void pit8254_irq_taken(struct pit8254 *pit)
{
	if (!pit->irq_backlog || !pit->irq_recheck_tick)
		return;
	pit->irq_recheck_tick = 0;
	uint64_t old = pit->irq_next_tick;
	if (periodic(&pit->ch[0]))
		pit->irq_next_tick = next_delivery(pit);
	if (pit->irq_next_tick != old && pit->deadline_changed)
		pit->deadline_changed(pit->clock_opaque);
}

uint64_t pit8254_next_event_ns(const struct pit8254 *pit, uint64_t now_ns)
{
	if (pit->irq_next_tick == NONE)
		return UINT64_MAX;
	if (pit->irq_next_tick <= tick_of(now_ns))
		return now_ns;
	return ns_of(pit->irq_next_tick);
}

void pit8254_set_gate(struct pit8254 *pit, unsigned ch, int level, uint64_t now_ns)
{
	assert(ch < PIT_CHANNELS);
	struct pit_channel *c = &pit->ch[ch];
	uint64_t t = tick_of(now_ns);
	bool rising = level && !c->gate;

	if (!level == !c->gate)
		return;
	if (ch == 0)
		pit8254_update(pit, now_ns);
	normalize(c, t);
	c->gate = level;
	switch (c->mode) {
	case 0:
	case 4:
		/* The gate only suspends counting. */
		if (!counting(c))
			break;
		if (!level) {
			c->paused_elapsed = since(c->start_tick, t);
			c->paused = true;
		} else if (c->paused) {
			c->start_tick = t - c->paused_elapsed;
			c->paused = false;
		}
		break;
	case 1:
	case 5:
		/* A rising gate (re)triggers the one-shot. */
		if (rising && c->loaded)
			start(c, c->reload, t);
		break;
	default:
		/* A low gate forces OUT high and stops; a rising one reloads. */
		if (!c->loaded)
			break;
		if (!level) {
			c->paused_elapsed = since(c->start_tick, t);
			c->paused = true;
		} else {
			start(c, c->reload, t);
		}
		break;
	}
	if (ch == 0)
		channel0_changed(pit, t);
}

int pit8254_get_output(const struct pit8254 *pit, unsigned ch, uint64_t now_ns)
{
	assert(ch < PIT_CHANNELS);
	return output(&pit->ch[ch], tick_of(now_ns));
}

/* ---- Snapshots ---------------------------------------------------------- */

#define PIT_SNAP_VERSION 1u

void pit8254_save(const struct pit8254 *pit, struct snap_writer *w)
{
	snapw_begin(w, "PIT ", PIT_SNAP_VERSION, false);
	for (unsigned i = 0; i < PIT_CHANNELS; i++) {
		const struct pit_channel *c = &pit->ch[i];
		snapw_u8(w, c->ctrl);
		snapw_u8(w, c->mode);
		snapw_u8(w, c->access);
		snapw_bool(w, c->gate);
		snapw_bool(w, c->loaded);
		snapw_bool(w, c->running);
		snapw_bool(w, c->paused);
		snapw_bool(w, c->fresh);
		snapw_u32(w, c->count);
		snapw_u32(w, c->reload);
		snapw_u64(w, c->start_tick);
		snapw_u64(w, c->paused_elapsed);
		snapw_u64(w, c->pending_tick);
		snapw_u16(w, c->hold);
		snapw_u8(w, c->write_lsb);
		snapw_bool(w, c->write_msb_next);
		snapw_bool(w, c->read_msb_next);
		snapw_bool(w, c->count_latched);
		snapw_bool(w, c->status_latched);
		snapw_u16(w, c->latch);
		snapw_u8(w, c->status);
	}
	snapw_bool(w, pit->irq_level);
	snapw_u64(w, pit->irq_next_tick);
	snapw_u64(w, pit->irq_edge_tick);
	snapw_u32(w, pit->irq_backlog);
	snapw_u64(w, pit->irq_hold_tick);
	snapw_u64(w, pit->irq_recheck_tick);
	snapw_end(w);
}

int pit8254_load(struct pit8254 *pit, struct snap_reader *r)
{
	if (r->version != PIT_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, PIT_SNAP_VERSION);
	for (unsigned i = 0; i < PIT_CHANNELS; i++) {
		struct pit_channel *c = &pit->ch[i];
		c->ctrl = snapr_u8(r);
		c->mode = snapr_u8(r);
		c->access = snapr_u8(r);
		c->gate = snapr_bool(r);
		c->loaded = snapr_bool(r);
		c->running = snapr_bool(r);
		c->paused = snapr_bool(r);
		c->fresh = snapr_bool(r);
		c->count = snapr_u32(r);
		c->reload = snapr_u32(r);
		c->start_tick = snapr_u64(r);
		c->paused_elapsed = snapr_u64(r);
		c->pending_tick = snapr_u64(r);
		c->hold = snapr_u16(r);
		c->write_lsb = snapr_u8(r);
		c->write_msb_next = snapr_bool(r);
		c->read_msb_next = snapr_bool(r);
		c->count_latched = snapr_bool(r);
		c->status_latched = snapr_bool(r);
		c->latch = snapr_u16(r);
		c->status = snapr_u8(r);
		/* Counting divides by the count: none may be 0 or too large. */
		bool counts = c->loaded || c->running || c->fresh;
		if (!r->err && (c->mode > 5 || c->access > 3 || c->count > 0x10000 ||
				c->reload > 0x10000 || (counts && (!c->count || !c->reload))))
			return snapr_fail(r, "channel %u: mode %u, count %u, reload %u out of range",
					  i, c->mode, c->count, c->reload);
	}
	pit->irq_level = snapr_bool(r);
	pit->irq_next_tick = snapr_u64(r);
	pit->irq_edge_tick = snapr_u64(r);
	pit->irq_backlog = snapr_u32(r);
	pit->irq_hold_tick = snapr_u64(r);
	pit->irq_recheck_tick = snapr_u64(r);
	return snapr_end(r);
}
