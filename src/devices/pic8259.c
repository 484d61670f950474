/* The master/slave 8259A pair: initialization words, operation command
 * words, edge and level inputs (ELCR), priority resolution with nesting and
 * rotation, the cascade through master input 2, and the INTA cycle. The
 * CPU side (when to take the interrupt) stays outside: see pic8259.h. */
#include "devices/pic8259.h"
#include "host/snapfile.h"

#include <assert.h>
#include <string.h>

enum { MASTER = 0, SLAVE = 1 };

#define ICW1_IC4	0x01
#define ICW1_SNGL	0x02
#define ICW1		0x10
#define OCW3		0x08
#define ICW4_AEOI	0x02
#define ICW4_SFNM	0x10

#define OCW2_EOI	0x20
#define OCW2_SL		0x40
#define OCW2_R		0x80

#define OCW3_RIS	0x01
#define OCW3_RR		0x02
#define OCW3_P		0x04
#define OCW3_SMM	0x20
#define OCW3_ESMM	0x40

/* Chipset rule (PIIX and successors): IRQ 0, 1, 2, 8 and 13 are always
 * edge-triggered, so their ELCR bits read as zero. */
#define ELCR_MASTER_BITS 0xf8
#define ELCR_SLAVE_BITS	0xde

#define CASCADE_BIT	(1u << PIC_CASCADE_IRQ)

/* The input that currently has the highest priority among bits, or -1.
 * Priority runs from the input after `lowest` round to `lowest`. */
static int highest(const struct pic8259 *c, uint8_t bits)
{
	for (unsigned k = 0; k < 8; k++) {
		unsigned irq = (c->lowest + 1 + k) & 7;
		if (bits & (1u << irq))
			return (int)irq;
	}
	return -1;
}

static unsigned priority(const struct pic8259 *c, int irq)
{
	return ((unsigned)irq - c->lowest - 1) & 7;
}

/* Inputs of this chip that have a slave behind them. */
static uint8_t cascade_inputs(const struct pic8259_pair *pic, const struct pic8259 *c)
{
	if (c != &pic->chip[MASTER] || c->single)
		return 0;
	return c->icw3;
}

/* The request this chip would present on INT now, or -1. */
static int chip_pending(const struct pic8259_pair *pic, const struct pic8259 *c)
{
	/* A chip halfway through its ICWs has a stale vector base; keep INT
	 * low until the guest has finished, as it would with CLI anyway. */
	if (c->init_step)
		return -1;
	int req = highest(c, c->irr & ~c->imr);
	if (req < 0)
		return -1;
	uint8_t in_service = c->isr;
	if (c->special_mask)
		in_service &= ~c->imr;
	int cur = highest(c, in_service);
	if (cur < 0 || priority(c, req) < priority(c, cur))
		return req;
	/* Special fully nested mode: a slave already in service may still
	 * pass on a request its own priority logic found higher. */
	if (c->sfnm && req == cur && (cascade_inputs(pic, c) & (1u << req)))
		return req;
	return -1;
}

/* Inputs in level_mask have an IRR bit that simply follows the pin. */
static void refresh_levels(struct pic8259 *c)
{
	c->irr = (uint8_t)((c->irr & ~c->level_mask) | (c->lines & c->level_mask));
}

static void set_input(struct pic8259 *c, unsigned bit, int level)
{
	uint8_t m = (uint8_t)(1u << bit);

	if (level) {
		/* An edge request stays latched when the pin drops again: devices
		 * here pulse their lines instantly, where on the chip a request
		 * gone before INTA would turn into a spurious IR7. */
		if (!(c->lines & m))
			c->irr |= m;
		c->lines |= m;
	} else {
		c->lines &= (uint8_t)~m;
	}
	refresh_levels(c);
}

static void update(struct pic8259_pair *pic)
{
	/* The cascade wire is level-sensitive (master level_mask bit 2): a
	 * request the slave still holds after an acknowledge or EOI must not
	 * wait for an edge that never comes. */
	set_input(&pic->chip[MASTER], PIC_CASCADE_IRQ,
		  chip_pending(pic, &pic->chip[SLAVE]) >= 0);
	bool out = chip_pending(pic, &pic->chip[MASTER]) >= 0;
	if (out != pic->output) {
		pic->output = out;
		if (pic->output_changed)
			pic->output_changed(pic->opaque, out);
	}
}

static void ack_chip(struct pic8259 *c, int irq)
{
	uint8_t m = (uint8_t)(1u << irq);

	if (c->aeoi) {
		if (c->rotate_on_aeoi)
			c->lowest = (uint8_t)irq;
	} else {
		c->isr |= m;
	}
	c->irr &= (uint8_t)~m;
	refresh_levels(c);
}

static void write_icw1(struct pic8259 *c, uint8_t value)
{
	/* LTIM (bit 3) is replaced by the ELCR on PC chipsets; ADI and the
	 * 8080 call address bits mean nothing to an x86. */
	c->init_step = 2;
	c->ic4 = value & ICW1_IC4;
	c->single = value & ICW1_SNGL;
	c->imr = 0;
	c->isr = 0;
	/* The edge-sense latches are reset: a pin already high must fall and
	 * rise again before it requests. */
	c->irr = 0;
	refresh_levels(c);
	c->lowest = 7;
	c->icw3 = 0;
	c->aeoi = c->rotate_on_aeoi = c->sfnm = false;
	c->special_mask = c->read_isr = c->poll = false;
}

static void write_icw(struct pic8259 *c, uint8_t value)
{
	switch (c->init_step) {
	case 2:
		c->vector_base = value & 0xf8;
		c->init_step = c->single ? (c->ic4 ? 4 : 0) : 3;
		break;
	case 3:
		/* The slave's identity is kept but not checked: the PC wires
		 * exactly one slave, on input 2. */
		c->icw3 = value;
		c->init_step = c->ic4 ? 4 : 0;
		break;
	case 4:
		/* uPM (bit 0) is assumed set: only 8086 vectors exist here.
		 * Buffered mode (bits 2-3) has no effect on a model. */
		c->aeoi = value & ICW4_AEOI;
		c->sfnm = value & ICW4_SFNM;
		c->init_step = 0;
		break;
	}
}

static void eoi(struct pic8259 *c, int irq, bool rotate)
{
	if (irq < 0)
		return;
	c->isr &= (uint8_t)~(1u << irq);
	if (rotate)
		c->lowest = (uint8_t)irq;
}

static void write_ocw2(struct pic8259 *c, uint8_t value)
{
	bool rotate = value & OCW2_R;
	int level = value & 7;

	switch (value & (OCW2_R | OCW2_SL | OCW2_EOI)) {
	case OCW2_EOI:
	case OCW2_R | OCW2_EOI:
		eoi(c, highest(c, c->isr), rotate);
		break;
	case OCW2_SL | OCW2_EOI:
	case OCW2_R | OCW2_SL | OCW2_EOI:
		eoi(c, level, rotate);
		break;
	case OCW2_R:
	case 0:
		c->rotate_on_aeoi = rotate;
		break;
	case OCW2_R | OCW2_SL:
		c->lowest = (uint8_t)level;
		break;
	default:
		/* SL without R or EOI: no operation. */
		break;
	}
}

static void write_ocw3(struct pic8259 *c, uint8_t value)
{
	if (value & OCW3_RR)
		c->read_isr = value & OCW3_RIS;
	if (value & OCW3_P)
		c->poll = true;
	if (value & OCW3_ESMM)
		c->special_mask = value & OCW3_SMM;
}

static uint8_t chip_read(struct pic8259_pair *pic, struct pic8259 *c, uint64_t offset)
{
	if (offset == 1)
		return c->imr;
	if (c->poll) {
		/* A poll read is this chip's acknowledge without a vector. */
		c->poll = false;
		int irq = chip_pending(pic, c);
		if (irq < 0)
			return 0;
		ack_chip(c, irq);
		update(pic);
		return (uint8_t)(0x80 | irq);
	}
	return c->read_isr ? c->isr : c->irr;
}

static void chip_write(struct pic8259_pair *pic, struct pic8259 *c, uint64_t offset,
		       uint8_t value)
{
	if (offset == 0) {
		if (value & ICW1)
			write_icw1(c, value);
		else if (value & OCW3)
			write_ocw3(c, value);
		else
			write_ocw2(c, value);
	} else if (c->init_step) {
		write_icw(c, value);
	} else {
		c->imr = value;
	}
	update(pic);
}

static uint64_t master_read(void *opaque, uint64_t offset, unsigned width)
{
	struct pic8259_pair *pic = opaque;
	(void)width;
	return chip_read(pic, &pic->chip[MASTER], offset);
}

static void master_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct pic8259_pair *pic = opaque;
	(void)width;
	chip_write(pic, &pic->chip[MASTER], offset, (uint8_t)value);
}

static uint64_t slave_read(void *opaque, uint64_t offset, unsigned width)
{
	struct pic8259_pair *pic = opaque;
	(void)width;
	return chip_read(pic, &pic->chip[SLAVE], offset);
}

static void slave_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct pic8259_pair *pic = opaque;
	(void)width;
	chip_write(pic, &pic->chip[SLAVE], offset, (uint8_t)value);
}

static void set_elcr(struct pic8259_pair *pic, unsigned index, uint8_t value)
{
	pic->elcr[index] = value & (index == MASTER ? ELCR_MASTER_BITS : ELCR_SLAVE_BITS);
	struct pic8259 *c = &pic->chip[index];
	c->level_mask = pic->elcr[index];
	if (index == MASTER)
		c->level_mask |= CASCADE_BIT;
	refresh_levels(c);
}

static uint64_t elcr_read(void *opaque, uint64_t offset, unsigned width)
{
	struct pic8259_pair *pic = opaque;
	(void)width;
	return pic->elcr[offset];
}

static void elcr_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct pic8259_pair *pic = opaque;
	(void)width;
	set_elcr(pic, (unsigned)offset, (uint8_t)value);
	update(pic);
}

static const struct bus_ops master_ops = {
	.read = master_read,
	.write = master_write,
	.max_width = 1,
};

static const struct bus_ops slave_ops = {
	.read = slave_read,
	.write = slave_write,
	.max_width = 1,
};

static const struct bus_ops elcr_ops = {
	.read = elcr_read,
	.write = elcr_write,
	.max_width = 1,
};

void pic8259_init(struct pic8259_pair *pic, void (*output_changed)(void *opaque, int level),
		  void *opaque)
{
	memset(pic, 0, sizeof(*pic));
	pic->output_changed = output_changed;
	pic->opaque = opaque;
	for (unsigned i = 0; i < 2; i++) {
		struct pic8259 *c = &pic->chip[i];
		c->lowest = 7;
		c->ic4 = true;
		set_elcr(pic, i, 0);
	}
	pic->chip[MASTER].vector_base = 0x08;
	pic->chip[MASTER].icw3 = CASCADE_BIT;
	pic->chip[MASTER].imr = (uint8_t)~CASCADE_BIT;
	pic->chip[SLAVE].vector_base = 0x70;
	pic->chip[SLAVE].icw3 = PIC_CASCADE_IRQ;
	pic->chip[SLAVE].imr = 0xff;
}

int pic8259_attach(struct pic8259_pair *pic, struct bus *bus)
{
	int err = bus_register(bus, BUS_SPACE_PIO, "pic-master", PIC_MASTER_PORT, 2,
			       &master_ops, pic);
	if (err)
		return err;
	err = bus_register(bus, BUS_SPACE_PIO, "pic-slave", PIC_SLAVE_PORT, 2, &slave_ops, pic);
	if (err)
		return err;
	return bus_register(bus, BUS_SPACE_PIO, "elcr", PIC_ELCR_PORT, 2, &elcr_ops, pic);
}

void pic8259_set_irq(struct pic8259_pair *pic, unsigned irq, int level)
{
	assert(irq < 16);
	if (irq == PIC_CASCADE_IRQ)
		return;
	set_input(&pic->chip[irq >> 3], irq & 7, level);
	update(pic);
}

void pic8259_irq_line_set(void *opaque, unsigned line, int level)
{
	pic8259_set_irq(opaque, line, level);
}

bool pic8259_has_interrupt(const struct pic8259_pair *pic)
{
	return pic->output;
}

int pic8259_acknowledge(struct pic8259_pair *pic)
{
	struct pic8259 *master = &pic->chip[MASTER], *slave = &pic->chip[SLAVE];
	int irq = chip_pending(pic, master);
	int vector;

	if (irq < 0) {
		pic->spurious++;
		return master->vector_base | 7;
	}
	ack_chip(master, irq);
	if (cascade_inputs(pic, master) & (1u << irq)) {
		/* The slave answers the second INTA; the master's ISR bit stays
		 * set even when the slave has nothing left, which is why a
		 * spurious IRQ 15 still needs an EOI to the master. */
		int sirq = chip_pending(pic, slave);
		if (sirq < 0) {
			pic->spurious++;
			vector = slave->vector_base | 7;
		} else {
			ack_chip(slave, sirq);
			vector = slave->vector_base | sirq;
		}
	} else {
		vector = master->vector_base | irq;
	}
	update(pic);
	return vector;
}

/* ---- Snapshots ---------------------------------------------------------- */

#define PIC_SNAP_VERSION 1u

void pic8259_save(const struct pic8259_pair *pic, struct snap_writer *w)
{
	snapw_begin(w, "PIC ", PIC_SNAP_VERSION, false);
	for (unsigned i = 0; i < 2; i++) {
		const struct pic8259 *c = &pic->chip[i];
		snapw_u8(w, c->irr);
		snapw_u8(w, c->isr);
		snapw_u8(w, c->imr);
		snapw_u8(w, c->lines);
		snapw_u8(w, c->level_mask);
		snapw_u8(w, c->vector_base);
		snapw_u8(w, c->icw3);
		snapw_u8(w, c->lowest);
		snapw_u8(w, c->init_step);
		snapw_bool(w, c->ic4);
		snapw_bool(w, c->single);
		snapw_bool(w, c->aeoi);
		snapw_bool(w, c->rotate_on_aeoi);
		snapw_bool(w, c->sfnm);
		snapw_bool(w, c->special_mask);
		snapw_bool(w, c->read_isr);
		snapw_bool(w, c->poll);
	}
	snapw_u8(w, pic->elcr[0]);
	snapw_u8(w, pic->elcr[1]);
	snapw_bool(w, pic->output);
	snapw_end(w);
}

int pic8259_load(struct pic8259_pair *pic, struct snap_reader *r)
{
	if (r->version != PIC_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, PIC_SNAP_VERSION);
	for (unsigned i = 0; i < 2; i++) {
		struct pic8259 *c = &pic->chip[i];
		c->irr = snapr_u8(r);
		c->isr = snapr_u8(r);
		c->imr = snapr_u8(r);
		c->lines = snapr_u8(r);
		c->level_mask = snapr_u8(r);
		c->vector_base = snapr_u8(r);
		c->icw3 = snapr_u8(r);
		c->lowest = snapr_u8(r);
		c->init_step = snapr_u8(r);
		c->ic4 = snapr_bool(r);
		c->single = snapr_bool(r);
		c->aeoi = snapr_bool(r);
		c->rotate_on_aeoi = snapr_bool(r);
		c->sfnm = snapr_bool(r);
		c->special_mask = snapr_bool(r);
		c->read_isr = snapr_bool(r);
		c->poll = snapr_bool(r);
		if (!r->err && (c->lowest > 7 || c->init_step > 4))
			return snapr_fail(r, "chip %u: priority %u or init step %u out of range", i,
					  c->lowest, c->init_step);
	}
	pic->elcr[0] = snapr_u8(r);
	pic->elcr[1] = snapr_u8(r);
	pic->output = snapr_bool(r);
	return snapr_end(r);
}
