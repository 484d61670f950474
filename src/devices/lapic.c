/* The local APIC: its register page, fixed-interrupt acceptance and
 * priorities, EOI and its broadcast, self-IPIs, errors, the LVT timer from
 * virtual time, and IA32_APIC_BASE. How the CPU takes the interrupt and how
 * the 8259 reaches it stay with the board: see lapic.h. */
#include "devices/lapic.h"
#include "host/snapfile.h"
#include "devices/tick_backlog.h"

#include <assert.h>
#include <string.h>

#define NONE UINT64_MAX
#define NS_PER_SEC 1000000000u

#define BASE_ADDRESS_MASK 0xfffff000ull
/* Bits 0-7 and 9, bit 10 (no x2APIC) and everything past the CPU's 32
 * physical address bits. */
#define BASE_RESERVED (0xffffffff00000000ull | LAPIC_BASE_X2APIC | 0x2ffull)

#define SVR_WRITABLE	0x3ffu	/* vector, enable, focus checking (stored, no effect) */
#define ICR_LO_WRITABLE	0x000ccfffu
#define ID_MASK		0xff000000u
#define DFR_MODEL_MASK	0xf0000000u
#define DFR_FLAT	0xfu
#define DIVIDE_WRITABLE	0xbu

/* Registers that reserved space is not: a reserved slot below this sets
 * the illegal-register error, the rest of the page is merely empty. */
#define REGISTER_SPACE_END 0x400u

/* What software can write in each LVT; delivery status and Remote IRR are
 * read-only and never set here (delivery is immediate). */
static const uint32_t lvt_writable[LAPIC_LVT_COUNT] = {
	[LAPIC_LVT_INDEX_TIMER] = LAPIC_VECTOR_MASK | LAPIC_LVT_MASKED | LAPIC_TIMER_PERIODIC,
	[LAPIC_LVT_INDEX_THERMAL] = LAPIC_VECTOR_MASK | LAPIC_DM_MASK | LAPIC_LVT_MASKED,
	[LAPIC_LVT_INDEX_PERF] = LAPIC_VECTOR_MASK | LAPIC_DM_MASK | LAPIC_LVT_MASKED,
	[LAPIC_LVT_INDEX_LINT0] = LAPIC_VECTOR_MASK | LAPIC_DM_MASK | LAPIC_LVT_POLARITY_LOW |
				  LAPIC_LEVEL_TRIGGER | LAPIC_LVT_MASKED,
	[LAPIC_LVT_INDEX_LINT1] = LAPIC_VECTOR_MASK | LAPIC_DM_MASK | LAPIC_LVT_POLARITY_LOW |
				  LAPIC_LEVEL_TRIGGER | LAPIC_LVT_MASKED,
	[LAPIC_LVT_INDEX_ERROR] = LAPIC_VECTOR_MASK | LAPIC_LVT_MASKED,
};

/* Bus clock ticks are numbered from time 0 of the caller's clock, so one
 * instant always maps to one tick; 128-bit products keep it exact. */
static uint64_t tick_of(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * LAPIC_BUS_HZ / NS_PER_SEC);
}

/* The first nanosecond at which tick_of() reaches tick. */
static uint64_t ns_of(uint64_t tick)
{
	unsigned __int128 ns =
		((unsigned __int128)tick * NS_PER_SEC + LAPIC_BUS_HZ - 1) / LAPIC_BUS_HZ;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

static bool test_vec(const uint32_t *bits, unsigned v)
{
	return bits[v / 32] >> (v % 32) & 1;
}

static void set_vec(uint32_t *bits, unsigned v)
{
	bits[v / 32] |= 1u << (v % 32);
}

static void clear_vec(uint32_t *bits, unsigned v)
{
	bits[v / 32] &= ~(1u << (v % 32));
}

/* The highest vector set, or -1: vector number is priority. */
static int highest_vec(const uint32_t *bits)
{
	for (int w = 7; w >= 0; w--) {
		if (bits[w])
			return w * 32 + 31 - __builtin_clz(bits[w]);
	}
	return -1;
}

static unsigned vec_or_zero(const uint32_t *bits)
{
	int v = highest_vec(bits);
	return v < 0 ? 0 : (unsigned)v;
}

bool lapic_hw_enabled(const struct lapic *lapic)
{
	return lapic->base_msr & LAPIC_BASE_ENABLE;
}

static bool sw_enabled(const struct lapic *lapic)
{
	return lapic->svr & LAPIC_SVR_ENABLE;
}

static bool enabled(const struct lapic *lapic)
{
	return lapic_hw_enabled(lapic) && sw_enabled(lapic);
}

static uint32_t ppr(const struct lapic *lapic)
{
	unsigned isrv = vec_or_zero(lapic->isr);

	if ((lapic->tpr >> 4) >= (isrv >> 4))
		return lapic->tpr;
	return isrv & 0xf0;
}

/* The SDM's formula for P6-style arbitration priority, taken literally
 * (including its bitwise AND of the TPR and ISRV classes); nothing here
 * uses it, with one CPU there is no arbitration. */
static uint32_t apr(const struct lapic *lapic)
{
	unsigned tpr_class = lapic->tpr >> 4;
	unsigned irr_class = vec_or_zero(lapic->irr) >> 4;
	unsigned isr_class = vec_or_zero(lapic->isr) >> 4;

	if (tpr_class >= irr_class && tpr_class > isr_class)
		return lapic->tpr;
	unsigned a = tpr_class & isr_class;
	return (a > irr_class ? a : irr_class) << 4;
}

static void refresh_output(struct lapic *lapic)
{
	bool level = lapic_has_interrupt(lapic);

	if (level == lapic->output)
		return;
	lapic->output = level;
	if (lapic->output_changed)
		lapic->output_changed(lapic->opaque, level);
}

static bool accept(struct lapic *lapic, unsigned vector, bool level);

/* The error interrupt fires when an error not yet seen since the last ESR
 * write appears; that also ends the chain an error LVT holding an illegal
 * vector would start. */
static void raise_error(struct lapic *lapic, uint32_t bit)
{
	bool fresh = !(lapic->esr_pending & bit);
	uint32_t lvt = lapic->lvt[LAPIC_LVT_INDEX_ERROR];

	lapic->esr_pending |= bit;
	if (fresh && !(lvt & LAPIC_LVT_MASKED))
		accept(lapic, lvt & LAPIC_VECTOR_MASK, false);
}

static bool accept(struct lapic *lapic, unsigned vector, bool level)
{
	if (!enabled(lapic))
		return false;
	if (vector < 16) {
		raise_error(lapic, LAPIC_ESR_RECV_ILLEGAL_VECTOR);
		return false;
	}
	set_vec(lapic->irr, vector);
	if (level)
		set_vec(lapic->tmr, vector);
	else
		clear_vec(lapic->tmr, vector);
	lapic->accepted++;
	refresh_output(lapic);
	return true;
}

/* Timer. The divide configuration's bits 0, 1 and 3 form a 3-bit value
 * whose successor (mod 8) is the power of two to divide by. */
static unsigned divide_shift(uint32_t dcr)
{
	unsigned v = (dcr & 3) | (dcr >> 1 & 4);
	return (v + 1) & 7;
}

static uint64_t timer_period(const struct lapic *lapic)
{
	return (uint64_t)lapic->timer_initial << divide_shift(lapic->timer_divide);
}

static bool timer_periodic(const struct lapic *lapic)
{
	return lapic->lvt[LAPIC_LVT_INDEX_TIMER] & LAPIC_TIMER_PERIODIC;
}

/* The count at tick t: it drops by one every 2^shift ticks and reaches 0
 * at the deadline, so it is the remaining ticks rounded up. */
static uint32_t timer_current(const struct lapic *lapic, uint64_t t)
{
	unsigned shift = divide_shift(lapic->timer_divide);
	uint64_t remaining;

	if (lapic->timer_deadline == NONE)
		return 0;
	if (t < lapic->timer_deadline) {
		remaining = lapic->timer_deadline - t;
	} else if (!timer_periodic(lapic)) {
		return 0;
	} else {
		uint64_t period = timer_period(lapic);
		remaining = period - (t - lapic->timer_deadline) % period;
	}
	uint64_t count = (remaining + (1ull << shift) - 1) >> shift;
	/* A caller's clock that lags the write that started the count. */
	return count > lapic->timer_initial ? lapic->timer_initial : (uint32_t)count;
}

/* Whether the timer's vector is still waiting in IRR: a queued expiry
 * delivered now would merge into it and be lost. */
static bool timer_pending(const struct lapic *lapic)
{
	return test_vec(lapic->irr, lapic->lvt[LAPIC_LVT_INDEX_TIMER] & LAPIC_VECTOR_MASK);
}

/* The tick of the next interrupt the timer will deliver, or NONE: a
 * queued periodic expiry when the holdoff ends, or, the last one still in
 * IRR, at the next look (lapic_acknowledge() may bring it forward), else
 * the next expiry (a periodic one not before the holdoff). Never a tick at
 * which nothing would happen, which would have the caller poll in a loop. */
static uint64_t timer_event_tick(const struct lapic *lapic)
{
	if (!lapic_hw_enabled(lapic) || (lapic->lvt[LAPIC_LVT_INDEX_TIMER] & LAPIC_LVT_MASKED))
		return NONE;
	if (lapic->timer_backlog && timer_periodic(lapic)) {
		uint64_t at = lapic->timer_recheck;
		return at > lapic->timer_holdoff ? at : lapic->timer_holdoff;
	}
	uint64_t tick = lapic->timer_deadline;
	if (tick != NONE && timer_periodic(lapic) && tick < lapic->timer_holdoff)
		tick = lapic->timer_holdoff;
	return tick;
}

/* How many periodic expiries may wait for delivery: one for a period
 * shorter than the holdoff (a storm is coalesced) or without a backlog,
 * else as many as irq_backlog_max_ns holds. */
static uint64_t backlog_limit(const struct lapic *lapic)
{
	return tick_backlog_limit(ns_of(timer_period(lapic)), lapic->irq_min_interval_ns,
				  lapic->irq_backlog_max_ns, 1);
}

void lapic_update(struct lapic *lapic, uint64_t now_ns)
{
	uint64_t t = tick_of(now_ns);
	bool masked = lapic->lvt[LAPIC_LVT_INDEX_TIMER] & LAPIC_LVT_MASKED;
	bool periodic = timer_periodic(lapic);

	if (lapic->timer_deadline != NONE && t >= lapic->timer_deadline) {
		if (!periodic) {
			lapic->timer_deadline = NONE;
			/* A periodic timer's undelivered expiries went with its
			 * mode: a backlog left here would keep the timer "due"
			 * with nothing to deliver. */
			lapic->timer_backlog = 0;
			/* A one-shot is delivered when it runs out: the guest
			 * paces the next one itself. */
			if (!masked) {
				lapic->timer_irqs++;
				accept(lapic, lapic->lvt[LAPIC_LVT_INDEX_TIMER] & LAPIC_VECTOR_MASK, false);
			}
			return;
		}
		uint64_t period = timer_period(lapic);
		uint64_t due = (t - lapic->timer_deadline) / period + 1;
		lapic->timer_deadline += due * period;
		/* A masked timer keeps counting; its expiries are not lost
		 * interrupts, there were none to lose. */
		if (!masked) {
			uint64_t queued = lapic->timer_backlog + due, max = backlog_limit(lapic);
			if (queued > max) {
				lapic->timer_lost_irqs += queued - max;
				queued = max;
			}
			lapic->timer_backlog = (uint32_t)queued;
		}
	}
	if (masked || !periodic) {
		lapic->timer_backlog = 0;
		return;
	}
	/* One goes out once the holdoff has run and the last one left IRR
	 * (it would merge into it and be lost after all); while it has not,
	 * look again a period (a holdoff at least) later. */
	if (!lapic->timer_backlog || t < lapic->timer_holdoff || t < lapic->timer_recheck)
		return;
	uint64_t hold = tick_of(lapic->irq_min_interval_ns);
	if (timer_pending(lapic)) {
		uint64_t period = timer_period(lapic);
		lapic->timer_recheck = t + (period > hold ? period : hold);
		return;
	}
	lapic->timer_backlog--;
	lapic->timer_recheck = 0;
	lapic->timer_holdoff = t + hold;
	lapic->timer_irqs++;
	accept(lapic, lapic->lvt[LAPIC_LVT_INDEX_TIMER] & LAPIC_VECTOR_MASK, false);
}

uint64_t lapic_next_event_ns(const struct lapic *lapic, uint64_t now_ns)
{
	uint64_t tick = timer_event_tick(lapic);

	if (tick == NONE)
		return UINT64_MAX;
	if (tick <= tick_of(now_ns))
		return now_ns;
	return ns_of(tick);
}

static void write_initial_count(struct lapic *lapic, uint32_t value, uint64_t t)
{
	lapic->timer_initial = value;
	lapic->timer_backlog = 0;
	lapic->timer_recheck = 0;
	lapic->timer_deadline = value ? t + timer_period(lapic) : NONE;
}

/* A new divisor applies to what is left of the count: the remaining counts
 * restart at the new rate from now (the part of a count already gone by is
 * dropped). Later periods use the new rate in full. */
static void write_divide(struct lapic *lapic, uint32_t value, uint64_t t)
{
	uint32_t count = timer_current(lapic, t);

	lapic->timer_divide = value & DIVIDE_WRITABLE;
	if (lapic->timer_deadline != NONE)
		lapic->timer_deadline = t + ((uint64_t)count << divide_shift(lapic->timer_divide));
}

/* Register writes and MSR writes end here: whoever shows the CPU's INTR or
 * sleeps until the timer's deadline hears about changes. */
static void finish(struct lapic *lapic, uint64_t event_before)
{
	refresh_output(lapic);
	if (timer_event_tick(lapic) != event_before && lapic->deadline_changed)
		lapic->deadline_changed(lapic->opaque);
}

static void write_lvt(struct lapic *lapic, enum lapic_lvt index, uint32_t value)
{
	value &= lvt_writable[index];
	/* Software-disabled: the masks stay set whatever is written. */
	if (!sw_enabled(lapic))
		value |= LAPIC_LVT_MASKED;
	lapic->lvt[index] = value;
}

static void write_svr(struct lapic *lapic, uint32_t value)
{
	lapic->svr = value & SVR_WRITABLE;
	if (sw_enabled(lapic))
		return;
	for (unsigned i = 0; i < LAPIC_LVT_COUNT; i++)
		lapic->lvt[i] |= LAPIC_LVT_MASKED;
}

static void write_eoi(struct lapic *lapic)
{
	int v = highest_vec(lapic->isr);

	if (v < 0)
		return;
	clear_vec(lapic->isr, (unsigned)v);
	refresh_output(lapic);
	/* Last: the broadcast may re-deliver into this APIC at once. */
	if (test_vec(lapic->tmr, (unsigned)v) && lapic->eoi_broadcast)
		lapic->eoi_broadcast(lapic->eoi_opaque, (uint8_t)v);
}

/* An NMI for the CPU: accepted in every software state of the APIC (SDM
 * 10.4.7.2: a software-disabled APIC still takes NMI messages), not held
 * in IRR: the CPU latches it. */
static void signal_nmi(struct lapic *lapic)
{
	lapic->nmis++;
	if (lapic->nmi)
		lapic->nmi(lapic->opaque);
}

/* Without an ipi callback there is no other CPU: an IPI either reaches
 * this APIC or nobody. Fixed
 * (and lowest-priority, which can only pick this CPU) and NMI IPIs do
 * something; SMI, INIT and start-up to self are ignored. IPIs are edge
 * interrupts whatever the trigger bit says. An NMI ignores the vector
 * field. The SDM's table of valid ICR combinations (10.6.1) lists NMI with
 * the self and all-including-self shorthands as invalid; btvm delivers
 * them to itself anyway, as QEMU does (Linux's NMI self-tests name their
 * own APIC ID instead, which is valid everywhere). */
static void send_ipi(struct lapic *lapic)
{
	uint32_t icr = lapic->icr_lo;
	uint32_t mode = icr & LAPIC_DM_MASK;
	unsigned vector = icr & LAPIC_VECTOR_MASK;
	bool to_self;

	if ((mode == LAPIC_DM_FIXED || mode == LAPIC_DM_LOWEST) && vector < 16) {
		raise_error(lapic, LAPIC_ESR_SEND_ILLEGAL_VECTOR);
		return;
	}
	/* Other CPUs: the board routes every kind. */
	if (lapic->ipi) {
		lapic->ipi(lapic->opaque, icr, (uint8_t)(lapic->icr_hi >> 24));
		return;
	}
	if (mode != LAPIC_DM_FIXED && mode != LAPIC_DM_LOWEST && mode != LAPIC_DM_NMI)
		return;
	switch (icr & (3u << LAPIC_ICR_SHORTHAND_SHIFT)) {
	case 0:
		to_self = lapic_matches_destination(lapic, (uint8_t)(lapic->icr_hi >> 24),
						    icr & LAPIC_DEST_LOGICAL);
		break;
	case LAPIC_ICR_SELF:
	case LAPIC_ICR_ALL_INCL_SELF:
		to_self = true;
		break;
	default:
		to_self = false;
		break;
	}
	if (!to_self)
		return;
	if (mode == LAPIC_DM_NMI)
		signal_nmi(lapic);
	else
		accept(lapic, vector, false);
}

/* reg is a register's offset (16-byte aligned); false for a reserved one. */
static bool read_register(const struct lapic *lapic, uint32_t reg, uint64_t t, uint32_t *value)
{
	if (reg >= LAPIC_ISR && reg < LAPIC_ESR) {
		unsigned word = (reg - LAPIC_ISR) / 0x10 % 8;
		const uint32_t *bits = reg < LAPIC_TMR ? lapic->isr :
				       reg < LAPIC_IRR ? lapic->tmr : lapic->irr;
		*value = bits[word];
		return true;
	}
	if (reg >= LAPIC_LVT_TIMER && reg <= LAPIC_LVT_ERROR) {
		*value = lapic->lvt[(reg - LAPIC_LVT_TIMER) / 0x10];
		return true;
	}
	switch (reg) {
	case LAPIC_ID: *value = lapic->id; break;
	case LAPIC_VER: *value = LAPIC_VERSION; break;
	case LAPIC_TPR: *value = lapic->tpr; break;
	case LAPIC_APR: *value = apr(lapic); break;
	case LAPIC_PPR: *value = ppr(lapic); break;
	case LAPIC_EOI: *value = 0; break;
	case LAPIC_RRD: *value = 0; break;
	case LAPIC_LDR: *value = lapic->ldr; break;
	case LAPIC_DFR: *value = lapic->dfr; break;
	case LAPIC_SVR: *value = lapic->svr; break;
	case LAPIC_ESR: *value = lapic->esr; break;
	case LAPIC_ICR_LO: *value = lapic->icr_lo; break;
	case LAPIC_ICR_HI: *value = lapic->icr_hi; break;
	case LAPIC_TIMER_INITIAL: *value = lapic->timer_initial; break;
	case LAPIC_TIMER_CURRENT: *value = timer_current(lapic, t); break;
	case LAPIC_TIMER_DIVIDE: *value = lapic->timer_divide; break;
	default: return false;
	}
	return true;
}

/* Read-only registers take writes silently; false for a reserved one. */
static bool write_register(struct lapic *lapic, uint32_t reg, uint32_t value, uint64_t t)
{
	if (reg >= LAPIC_ISR && reg < LAPIC_ESR)
		return true;
	if (reg >= LAPIC_LVT_TIMER && reg <= LAPIC_LVT_ERROR) {
		write_lvt(lapic, (enum lapic_lvt)((reg - LAPIC_LVT_TIMER) / 0x10), value);
		return true;
	}
	switch (reg) {
	case LAPIC_ID:
		lapic->id = value & ID_MASK;
		break;
	case LAPIC_TPR:
		lapic->tpr = value & 0xff;
		break;
	case LAPIC_EOI:
		write_eoi(lapic);
		break;
	case LAPIC_LDR:
		lapic->ldr = value & ID_MASK;
		break;
	case LAPIC_DFR:
		lapic->dfr = (value & DFR_MODEL_MASK) | ~DFR_MODEL_MASK;
		break;
	case LAPIC_SVR:
		write_svr(lapic, value);
		break;
	case LAPIC_ESR:
		/* Write, then read: the write latches what was seen so far. */
		lapic->esr = lapic->esr_pending;
		lapic->esr_pending = 0;
		break;
	case LAPIC_ICR_LO:
		lapic->icr_lo = value & ICR_LO_WRITABLE;
		send_ipi(lapic);
		break;
	case LAPIC_ICR_HI:
		lapic->icr_hi = value & ID_MASK;
		break;
	case LAPIC_TIMER_INITIAL:
		write_initial_count(lapic, value, t);
		break;
	case LAPIC_TIMER_DIVIDE:
		write_divide(lapic, value, t);
		break;
	case LAPIC_VER:
	case LAPIC_APR:
	case LAPIC_PPR:
	case LAPIC_RRD:
	case LAPIC_TIMER_CURRENT:
		break;
	default:
		return false;
	}
	return true;
}

uint64_t lapic_mmio_read(void *opaque, uint64_t offset, unsigned width)
{
	struct lapic *lapic = opaque;
	uint32_t reg = (uint32_t)offset & ~0xfu;
	uint64_t now, event_before;
	uint32_t value;
	bool valid;
	(void)width;

	if (!lapic_hw_enabled(lapic))
		return UINT64_MAX;
	now = lapic->clock_ns(lapic->opaque);
	event_before = timer_event_tick(lapic);
	/* A guest polling IRR sees a timer expiry that is already due. */
	lapic_update(lapic, now);
	valid = read_register(lapic, reg, tick_of(now), &value);
	if (!valid && reg < REGISTER_SPACE_END)
		raise_error(lapic, LAPIC_ESR_ILLEGAL_REGISTER);
	finish(lapic, event_before);
	if (!valid || (offset & 0xf) >= 4)
		return 0;
	return value >> (offset & 3) * 8;
}

void lapic_mmio_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct lapic *lapic = opaque;
	uint32_t reg = (uint32_t)offset & ~0xfu;
	uint64_t now, event_before;

	if (!lapic_hw_enabled(lapic))
		return;
	now = lapic->clock_ns(lapic->opaque);
	event_before = timer_event_tick(lapic);
	/* Expiries due before this write happen first, under the old
	 * settings. */
	lapic_update(lapic, now);
	if (width == 4 && offset == reg) {
		if (!write_register(lapic, reg, (uint32_t)value, tick_of(now)) &&
		    reg < REGISTER_SPACE_END)
			raise_error(lapic, LAPIC_ESR_ILLEGAL_REGISTER);
	} else if (reg < REGISTER_SPACE_END) {
		uint32_t ignored;
		if (!read_register(lapic, reg, 0, &ignored))
			raise_error(lapic, LAPIC_ESR_ILLEGAL_REGISTER);
	}
	finish(lapic, event_before);
}

static const struct bus_ops lapic_ops = {
	.read = lapic_mmio_read,
	.write = lapic_mmio_write,
	.max_width = 4,
};

/* Every register to its power-up value; the MSR, callbacks and statistics
 * are the caller's. */
static void reset_registers(struct lapic *lapic)
{
	lapic->id = (uint32_t)lapic->apic_id << 24;
	lapic->tpr = 0;
	lapic->ldr = 0;
	lapic->dfr = 0xffffffffu;
	lapic->svr = 0xff;
	memset(lapic->irr, 0, sizeof(lapic->irr));
	memset(lapic->isr, 0, sizeof(lapic->isr));
	memset(lapic->tmr, 0, sizeof(lapic->tmr));
	lapic->esr = lapic->esr_pending = 0;
	lapic->icr_lo = lapic->icr_hi = 0;
	for (unsigned i = 0; i < LAPIC_LVT_COUNT; i++)
		lapic->lvt[i] = LAPIC_LVT_MASKED;
	lapic->timer_initial = 0;
	lapic->timer_divide = 0;
	lapic->timer_deadline = NONE;
	lapic->timer_holdoff = 0;
	lapic->timer_recheck = 0;
	lapic->timer_backlog = 0;
}

void lapic_init(struct lapic *lapic, uint64_t (*clock_ns)(void *opaque), void *opaque)
{
	memset(lapic, 0, sizeof(*lapic));
	lapic->clock_ns = clock_ns;
	lapic->opaque = opaque;
	lapic->base_msr = LAPIC_DEFAULT_BASE | LAPIC_BASE_BSP | LAPIC_BASE_ENABLE;
	reset_registers(lapic);
}

void lapic_set_apic_id(struct lapic *lapic, uint8_t apic_id)
{
	lapic->apic_id = apic_id;
	lapic->id = (uint32_t)apic_id << 24;
	if (apic_id)
		lapic->base_msr &= ~(uint64_t)LAPIC_BASE_BSP;
}

void lapic_init_signal(struct lapic *lapic)
{
	uint64_t event_before = timer_event_tick(lapic);

	reset_registers(lapic);
	finish(lapic, event_before);
}

void lapic_virtual_wire(struct lapic *lapic)
{
	uint64_t event_before = timer_event_tick(lapic);

	write_svr(lapic, LAPIC_SVR_ENABLE | 0xff);
	write_lvt(lapic, LAPIC_LVT_INDEX_LINT0, LAPIC_DM_EXTINT);
	write_lvt(lapic, LAPIC_LVT_INDEX_LINT1, LAPIC_DM_NMI);
	finish(lapic, event_before);
}

int lapic_attach(struct lapic *lapic, struct bus *bus, uint64_t base)
{
	assert(lapic->clock_ns);
	return bus_register(bus, BUS_SPACE_MMIO, "lapic", base, LAPIC_MMIO_SIZE, &lapic_ops,
			    lapic);
}

void lapic_set_irq(struct lapic *lapic, uint8_t vector, bool level_triggered)
{
	accept(lapic, vector, level_triggered);
}

bool lapic_has_interrupt(const struct lapic *lapic)
{
	int v = highest_vec(lapic->irr);

	return enabled(lapic) && v >= 0 && ((unsigned)v >> 4) > (ppr(lapic) >> 4);
}

int lapic_acknowledge(struct lapic *lapic)
{
	if (!lapic_has_interrupt(lapic))
		return (int)(lapic->svr & LAPIC_VECTOR_MASK);
	uint64_t before = timer_event_tick(lapic);
	int v = highest_vec(lapic->irr);
	clear_vec(lapic->irr, (unsigned)v);
	set_vec(lapic->isr, (unsigned)v);
	refresh_output(lapic);
	/* A queued timer expiry waited for this one to leave IRR. */
	if (lapic->timer_backlog && (unsigned)v == (lapic->lvt[LAPIC_LVT_INDEX_TIMER] & LAPIC_VECTOR_MASK)) {
		lapic->timer_recheck = 0;
		if (timer_event_tick(lapic) != before && lapic->deadline_changed)
			lapic->deadline_changed(lapic->opaque);
	}
	return v;
}

bool lapic_vector_pending(const struct lapic *lapic, uint8_t vector)
{
	return test_vec(lapic->irr, vector);
}

bool lapic_accepts_pic(const struct lapic *lapic)
{
	uint32_t lint0 = lapic->lvt[LAPIC_LVT_INDEX_LINT0];

	if (!lapic_hw_enabled(lapic))
		return true;
	return !(lint0 & LAPIC_LVT_MASKED) && (lint0 & LAPIC_DM_MASK) == LAPIC_DM_EXTINT;
}

bool lapic_matches_destination(const struct lapic *lapic, uint8_t dest, bool logical)
{
	uint8_t logical_id = (uint8_t)(lapic->ldr >> 24);

	if (dest == 0xff)
		return true;
	if (!logical)
		return dest == (uint8_t)(lapic->id >> 24);
	if (lapic->dfr >> 28 == DFR_FLAT)
		return (dest & logical_id) != 0;
	/* Cluster model: a cluster number in the high nibble (15 for all of
	 * them), a member bitmap in the low one. */
	return ((dest >> 4) == 0xf || (dest >> 4) == (logical_id >> 4)) &&
	       (dest & logical_id & 0xf) != 0;
}

bool lapic_deliver_message(void *opaque, uint8_t vector, bool level, uint8_t dest,
			   bool logical, bool lowest)
{
	struct lapic *lapic = opaque;

	(void)lowest;

	if (!lapic_matches_destination(lapic, dest, logical))
		return false;
	return accept(lapic, vector, level);
}

bool lapic_deliver_nmi_message(void *opaque, uint8_t dest, bool logical)
{
	struct lapic *lapic = opaque;

	if (!lapic_hw_enabled(lapic) || !lapic_matches_destination(lapic, dest, logical))
		return false;
	signal_nmi(lapic);
	return true;
}

void lapic_set_lint(struct lapic *lapic, unsigned pin, bool level)
{
	assert(pin < 2);
	bool rising = level && !(lapic->lint_levels >> pin & 1);
	uint32_t lvt = lapic->lvt[pin ? LAPIC_LVT_INDEX_LINT1 : LAPIC_LVT_INDEX_LINT0];

	lapic->lint_levels = (uint8_t)((lapic->lint_levels & ~(1u << pin)) | (unsigned)level << pin);
	if (!rising)
		return;
	/* Hardware-disabled, the pins are the CPU's own INTR and NMI. */
	if (!lapic_hw_enabled(lapic)) {
		if (pin == 1)
			signal_nmi(lapic);
		return;
	}
	if (lvt & LAPIC_LVT_MASKED)
		return;
	if ((lvt & LAPIC_DM_MASK) == LAPIC_DM_NMI)
		signal_nmi(lapic);
	/* LINT1 in fixed mode: its vector, edge-triggered (SDM 10.5.1: LINT1
	 * has no level-triggered mode). LINT0's fixed mode stays unmodelled:
	 * the 8259 drives it, and BIOSes leave it ExtINT. */
	else if (pin == 1 && (lvt & LAPIC_DM_MASK) == LAPIC_DM_FIXED)
		accept(lapic, lvt & LAPIC_VECTOR_MASK, false);
}

void lapic_restore_lint(struct lapic *lapic, unsigned pin, bool level)
{
	assert(pin < 2);
	lapic->lint_levels = (uint8_t)((lapic->lint_levels & ~(1u << pin)) | (unsigned)level << pin);
}

bool lapic_nmi_routed(const struct lapic *lapic, unsigned pin)
{
	uint32_t lvt = lapic->lvt[pin ? LAPIC_LVT_INDEX_LINT1 : LAPIC_LVT_INDEX_LINT0];

	if (!lapic_hw_enabled(lapic))
		return pin == 1;
	return !(lvt & LAPIC_LVT_MASKED) && (lvt & LAPIC_DM_MASK) == LAPIC_DM_NMI;
}

uint64_t lapic_get_base_msr(const struct lapic *lapic)
{
	return lapic->base_msr;
}

int lapic_set_base_msr(struct lapic *lapic, uint64_t value)
{
	uint64_t event_before = timer_event_tick(lapic);
	bool enable = value & LAPIC_BASE_ENABLE;

	if ((value & BASE_RESERVED) || (value & BASE_ADDRESS_MASK) != LAPIC_DEFAULT_BASE)
		return -1;
	if (lapic_hw_enabled(lapic) && !enable)
		reset_registers(lapic);
	lapic->base_msr = LAPIC_DEFAULT_BASE | LAPIC_BASE_BSP | (enable ? LAPIC_BASE_ENABLE : 0);
	finish(lapic, event_before);
	return 0;
}

/* ---- Snapshots ---------------------------------------------------------- */

/* 2: LINT0's level (the 8259's INT, which reports changes only) after
 * the output; a version-1 snapshot loads with LINT0 low, as the pin
 * was before the level was saved. LINT1's is the board's to recompute
 * (board__chipset_nmi_restore). */
#define LAPIC_SNAP_VERSION 2u
#define LAPIC_SNAP_VERSION_NO_LINT0 1u

static void save_words(struct snap_writer *w, const uint32_t *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		snapw_u32(w, v[i]);
}

static void load_words(struct snap_reader *r, uint32_t *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		v[i] = snapr_u32(r);
}

void lapic_save_as(const struct lapic *apic, const char *tag, struct snap_writer *w)
{
	snapw_begin(w, tag, LAPIC_SNAP_VERSION, false);
	snapw_u64(w, apic->base_msr);
	snapw_u32(w, apic->id);
	snapw_u32(w, apic->tpr);
	snapw_u32(w, apic->ldr);
	snapw_u32(w, apic->dfr);
	snapw_u32(w, apic->svr);
	save_words(w, apic->irr, 8);
	save_words(w, apic->isr, 8);
	save_words(w, apic->tmr, 8);
	snapw_u32(w, apic->esr);
	snapw_u32(w, apic->esr_pending);
	snapw_u32(w, apic->icr_lo);
	snapw_u32(w, apic->icr_hi);
	snapw_u32(w, LAPIC_LVT_COUNT);
	save_words(w, apic->lvt, LAPIC_LVT_COUNT);
	snapw_u32(w, apic->timer_initial);
	snapw_u32(w, apic->timer_divide);
	snapw_u64(w, apic->timer_deadline);
	snapw_u32(w, apic->timer_backlog);
	snapw_u64(w, apic->timer_holdoff);
	snapw_u64(w, apic->timer_recheck);
	snapw_bool(w, apic->output);
	snapw_bool(w, apic->lint_levels & 1);
	snapw_end(w);
}

int lapic_load(struct lapic *apic, struct snap_reader *r)
{
	if (r->version != LAPIC_SNAP_VERSION && r->version != LAPIC_SNAP_VERSION_NO_LINT0)
		return snapr_fail(r, "version %u, this btvm reads %u and %u", r->version,
				  LAPIC_SNAP_VERSION_NO_LINT0, LAPIC_SNAP_VERSION);
	apic->base_msr = snapr_u64(r);
	apic->id = snapr_u32(r);
	apic->tpr = snapr_u32(r);
	apic->ldr = snapr_u32(r);
	apic->dfr = snapr_u32(r);
	apic->svr = snapr_u32(r);
	load_words(r, apic->irr, 8);
	load_words(r, apic->isr, 8);
	load_words(r, apic->tmr, 8);
	apic->esr = snapr_u32(r);
	apic->esr_pending = snapr_u32(r);
	apic->icr_lo = snapr_u32(r);
	apic->icr_hi = snapr_u32(r);
	uint32_t nlvt = snapr_u32(r);
	if (!r->err && nlvt != LAPIC_LVT_COUNT)
		return snapr_fail(r, "%u LVT entries, this btvm has %u", nlvt, LAPIC_LVT_COUNT);
	load_words(r, apic->lvt, LAPIC_LVT_COUNT);
	apic->timer_initial = snapr_u32(r);
	apic->timer_divide = snapr_u32(r);
	apic->timer_deadline = snapr_u64(r);
	apic->timer_backlog = snapr_u32(r);
	apic->timer_holdoff = snapr_u64(r);
	apic->timer_recheck = snapr_u64(r);
	apic->output = snapr_bool(r);
	bool lint0 = r->version >= LAPIC_SNAP_VERSION ? snapr_bool(r) : false;
	lapic_restore_lint(apic, 0, lint0);
	return snapr_end(r);
}
