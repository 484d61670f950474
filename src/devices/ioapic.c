/* The I/O APIC: register window, redirection table, edge and level input
 * logic with Remote IRR, and EOIs. Who receives the messages is the deliver
 * callback's business: see ioapic.h. */
#include "devices/ioapic.h"
#include "host/snapfile.h"

#include <assert.h>
#include <string.h>

#define ID_MASK 0x0f000000u
/* Delivery status and Remote IRR are the chip's, not software's. */
#define REDIR_LOW_WRITABLE                                                              \
	(IOAPIC_VECTOR_MASK | IOAPIC_DM_MASK | IOAPIC_DEST_LOGICAL | IOAPIC_POLARITY_LOW | \
	 IOAPIC_LEVEL_TRIGGER | IOAPIC_MASKED)
#define REDIR_HIGH_WRITABLE 0xff000000u

static bool pin_asserted(const struct ioapic *ioapic, unsigned pin)
{
	bool level = ioapic->pins >> pin & 1;
	return level != !!(ioapic->redir[pin] & IOAPIC_POLARITY_LOW);
}

/* One message for the entry of pin; true if a local APIC took it. */
static bool send(struct ioapic *ioapic, unsigned pin)
{
	uint64_t e = ioapic->redir[pin];
	uint64_t mode = e & IOAPIC_DM_MASK;
	bool level = e & IOAPIC_LEVEL_TRIGGER;

	if (mode == IOAPIC_DM_NMI && ioapic->deliver_nmi) {
		if (!ioapic->deliver_nmi(ioapic->opaque, (uint8_t)(e >> IOAPIC_DEST_SHIFT),
					 e & IOAPIC_DEST_LOGICAL)) {
			ioapic->refused++;
			return false;
		}
		ioapic->delivered++;
		return true;
	}
	if (mode != IOAPIC_DM_FIXED && mode != IOAPIC_DM_LOWEST) {
		ioapic->ignored++;
		return false;
	}
	if (!ioapic->deliver ||
	    !ioapic->deliver(ioapic->opaque, (uint8_t)(e & IOAPIC_VECTOR_MASK), level,
			     (uint8_t)(e >> IOAPIC_DEST_SHIFT), e & IOAPIC_DEST_LOGICAL,
			     mode == IOAPIC_DM_LOWEST)) {
		ioapic->refused++;
		return false;
	}
	ioapic->delivered++;
	return true;
}

/* Whether the entry delivers on levels: an NMI entry is edge-triggered
 * whatever its trigger bit. */
static bool level_entry(uint64_t e)
{
	return (e & IOAPIC_LEVEL_TRIGGER) && (e & IOAPIC_DM_MASK) != IOAPIC_DM_NMI;
}

/* A level entry whose line is asserted and not yet in service. */
static void check_level(struct ioapic *ioapic, unsigned pin)
{
	uint64_t e = ioapic->redir[pin];

	if (!level_entry(e) || (e & (IOAPIC_MASKED | IOAPIC_REMOTE_IRR)) ||
	    !pin_asserted(ioapic, pin))
		return;
	/* Remote IRR is set before the message goes out: the receiver may
	 * EOI it from inside the callback. */
	ioapic->redir[pin] |= IOAPIC_REMOTE_IRR;
	if (!send(ioapic, pin))
		ioapic->redir[pin] &= ~IOAPIC_REMOTE_IRR;
}

void ioapic_set_irq(struct ioapic *ioapic, unsigned pin, int level)
{
	assert(pin < IOAPIC_PINS);
	bool was_asserted = pin_asserted(ioapic, pin);

	if (level)
		ioapic->pins |= 1u << pin;
	else
		ioapic->pins &= ~(1u << pin);
	uint64_t e = ioapic->redir[pin];
	if (level_entry(e)) {
		check_level(ioapic, pin);
		return;
	}
	if (!was_asserted && pin_asserted(ioapic, pin) && !(e & IOAPIC_MASKED))
		send(ioapic, pin);
}

void ioapic_irq_line_set(void *opaque, unsigned line, int level)
{
	ioapic_set_irq(opaque, line, level);
}

void ioapic_eoi(struct ioapic *ioapic, uint8_t vector)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = ioapic->redir[pin];
		if ((e & IOAPIC_VECTOR_MASK) != vector || !(e & IOAPIC_REMOTE_IRR))
			continue;
		ioapic->redir[pin] &= ~IOAPIC_REMOTE_IRR;
		check_level(ioapic, pin);
	}
}

void ioapic_eoi_broadcast(void *opaque, uint8_t vector)
{
	ioapic_eoi(opaque, vector);
}

static uint32_t read_register(const struct ioapic *ioapic, uint8_t index)
{
	switch (index) {
	case IOAPIC_REG_ID:
		return ioapic->id;
	case IOAPIC_REG_VERSION:
		return IOAPIC_VERSION;
	case IOAPIC_REG_ARBITRATION:
		return ioapic->arbitration;
	default:
		break;
	}
	if (index < IOAPIC_REG_REDIR || index >= IOAPIC_REG_REDIR + 2 * IOAPIC_PINS)
		return 0;
	uint64_t e = ioapic->redir[(index - IOAPIC_REG_REDIR) / 2];
	return (uint32_t)(index & 1 ? e >> 32 : e);
}

static void write_redir(struct ioapic *ioapic, unsigned pin, bool high, uint32_t value)
{
	uint64_t e = ioapic->redir[pin];

	if (high) {
		e = (e & 0xffffffffull) | (uint64_t)(value & REDIR_HIGH_WRITABLE) << 32;
	} else {
		e = (e & ~REDIR_LOW_WRITABLE) | (value & REDIR_LOW_WRITABLE);
		/* Remote IRR means nothing for an edge entry. */
		if (!level_entry(e))
			e &= ~IOAPIC_REMOTE_IRR;
	}
	ioapic->redir[pin] = e;
	check_level(ioapic, pin);
}

static void write_register(struct ioapic *ioapic, uint8_t index, uint32_t value)
{
	if (index == IOAPIC_REG_ID) {
		ioapic->id = value & ID_MASK;
		ioapic->arbitration = ioapic->id;
		return;
	}
	if (index < IOAPIC_REG_REDIR || index >= IOAPIC_REG_REDIR + 2 * IOAPIC_PINS)
		return;
	write_redir(ioapic, (index - IOAPIC_REG_REDIR) / 2, index & 1, value);
}

static uint64_t ioapic_mmio_read(void *opaque, uint64_t offset, unsigned width)
{
	const struct ioapic *ioapic = opaque;
	uint32_t value;
	(void)width;

	switch (offset & ~3ull) {
	case IOAPIC_IOREGSEL:
		value = ioapic->regsel;
		break;
	case IOAPIC_IOWIN:
		value = read_register(ioapic, ioapic->regsel);
		break;
	default:
		return 0;
	}
	return value >> (offset & 3) * 8;
}

static void ioapic_mmio_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct ioapic *ioapic = opaque;

	if (offset == IOAPIC_IOREGSEL)
		ioapic->regsel = (uint8_t)value;
	else if (offset == IOAPIC_IOWIN && width == 4)
		write_register(ioapic, ioapic->regsel, (uint32_t)value);
}

static const struct bus_ops ioapic_ops = {
	.read = ioapic_mmio_read,
	.write = ioapic_mmio_write,
	.max_width = 4,
};

void ioapic_init(struct ioapic *ioapic, ioapic_deliver_fn deliver, void *opaque)
{
	memset(ioapic, 0, sizeof(*ioapic));
	ioapic->deliver = deliver;
	ioapic->opaque = opaque;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		ioapic->redir[pin] = IOAPIC_MASKED;
}

int ioapic_attach(struct ioapic *ioapic, struct bus *bus, uint64_t base)
{
	return bus_register(bus, BUS_SPACE_MMIO, "ioapic", base, IOAPIC_MMIO_SIZE, &ioapic_ops,
			    ioapic);
}

/* ---- Snapshots ---------------------------------------------------------- */

#define IOAPIC_SNAP_VERSION 1u

void ioapic_save(const struct ioapic *ioapic, struct snap_writer *w)
{
	snapw_begin(w, "IOAP", IOAPIC_SNAP_VERSION, false);
	snapw_u8(w, ioapic->regsel);
	snapw_u32(w, ioapic->id);
	snapw_u32(w, ioapic->arbitration);
	snapw_u32(w, IOAPIC_PINS);
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		snapw_u64(w, ioapic->redir[i]);
	snapw_u32(w, ioapic->pins);
	snapw_end(w);
}

int ioapic_load(struct ioapic *ioapic, struct snap_reader *r)
{
	if (r->version != IOAPIC_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version,
				  IOAPIC_SNAP_VERSION);
	ioapic->regsel = snapr_u8(r);
	ioapic->id = snapr_u32(r);
	ioapic->arbitration = snapr_u32(r);
	uint32_t pins = snapr_u32(r);
	if (!r->err && pins != IOAPIC_PINS)
		return snapr_fail(r, "%u pins, this btvm has %u", pins, IOAPIC_PINS);
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		ioapic->redir[i] = snapr_u64(r);
	ioapic->pins = snapr_u32(r);
	return snapr_end(r);
}
