/* The 8259A pair driven through a real bus the way Linux's i8259 code
 * drives it: the ICW sequence, masks, IRR/ISR reads, priorities and
 * nesting, the cascade, EOIs, AEOI, spurious IRQ 7, ELCR edge/level
 * inputs, poll, rotation, special mask and special fully nested modes, and
 * the INTR callback. */
#include "check.h"
#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/pic8259.h"

#define M_CMD 0x20
#define M_DATA 0x21
#define S_CMD 0xa0
#define S_DATA 0xa1
#define ELCR0 0x4d0
#define ELCR1 0x4d1

#define READ_IRR 0x0a
#define READ_ISR 0x0b
#define EOI 0x20

struct harness {
	struct bus bus;
	struct pic8259_pair pic;
	int level;
	unsigned changes;
};

static void record_output(void *opaque, int level)
{
	struct harness *h = opaque;

	h->level = level;
	h->changes++;
}

static void outb(struct harness *h, uint16_t port, uint8_t value)
{
	bus_write(&h->bus, BUS_SPACE_PIO, port, 1, value);
}

static uint8_t inb(struct harness *h, uint16_t port)
{
	return (uint8_t)bus_read(&h->bus, BUS_SPACE_PIO, port, 1);
}

static uint8_t master_isr(struct harness *h)
{
	outb(h, M_CMD, READ_ISR);
	return inb(h, M_CMD);
}

static uint8_t slave_isr(struct harness *h)
{
	outb(h, S_CMD, READ_ISR);
	return inb(h, S_CMD);
}

static uint8_t master_irr(struct harness *h)
{
	outb(h, M_CMD, READ_IRR);
	return inb(h, M_CMD);
}

static uint8_t slave_irr(struct harness *h)
{
	outb(h, S_CMD, READ_IRR);
	return inb(h, S_CMD);
}

/* init_8259A(): mask both, then ICW1-ICW4 to each chip, then mask all. */
static void linux_init(struct harness *h, uint8_t icw4)
{
	outb(h, M_DATA, 0xff);
	outb(h, S_DATA, 0xff);
	outb(h, M_CMD, 0x11);
	outb(h, M_DATA, 0x20);
	outb(h, M_DATA, 0x04);
	outb(h, M_DATA, icw4);
	outb(h, S_CMD, 0x11);
	outb(h, S_DATA, 0x28);
	outb(h, S_DATA, 0x02);
	outb(h, S_DATA, icw4 & ~0x10);
	outb(h, M_DATA, 0xff);
	outb(h, S_DATA, 0xff);
}

static void setup(struct harness *h, uint8_t icw4)
{
	memset(h, 0, sizeof(*h));
	bus_init(&h->bus);
	pic8259_init(&h->pic, record_output, h);
	CHECK_EQ(pic8259_attach(&h->pic, &h->bus), 0);
	linux_init(h, icw4);
}

static void pulse(struct harness *h, unsigned irq)
{
	pic8259_set_irq(&h->pic, irq, 1);
	pic8259_set_irq(&h->pic, irq, 0);
}

static void test_reset_state(void)
{
	struct harness h;
	memset(&h, 0, sizeof(h));
	bus_init(&h.bus);
	pic8259_init(&h.pic, record_output, &h);
	CHECK_EQ(pic8259_attach(&h.pic, &h.bus), 0);

	/* What a BIOS leaves: vectors 0x08/0x70, only the cascade open. */
	CHECK_EQ(inb(&h, M_DATA), 0xfb);
	CHECK_EQ(inb(&h, S_DATA), 0xff);
	outb(&h, M_DATA, 0xfa);
	pulse(&h, 0);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x08);
	outb(&h, M_CMD, EOI);
	outb(&h, S_DATA, 0xfe);
	pulse(&h, 8);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x70);
	CHECK_EQ(h.bus.unclaimed_writes[BUS_SPACE_PIO], 0);
}

static void test_linux_init(void)
{
	struct harness h;
	setup(&h, 0x01);

	CHECK_EQ(inb(&h, M_DATA), 0xff);
	CHECK_EQ(inb(&h, S_DATA), 0xff);
	CHECK_EQ(master_irr(&h), 0);
	CHECK_EQ(master_isr(&h), 0);
	CHECK(!pic8259_has_interrupt(&h.pic));

	/* Masked: the request is latched in IRR but INTR stays low. */
	pulse(&h, 1);
	CHECK_EQ(master_irr(&h), 0x02);
	CHECK(!pic8259_has_interrupt(&h.pic));
	CHECK_EQ(h.changes, 0);

	outb(&h, M_DATA, 0xfd);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(h.changes, 1);
	CHECK_EQ(h.level, 1);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x21);
	CHECK(!pic8259_has_interrupt(&h.pic));
	CHECK_EQ(h.changes, 2);
	CHECK_EQ(h.level, 0);
	CHECK_EQ(master_irr(&h), 0);
	CHECK_EQ(master_isr(&h), 0x02);
	/* OCW3's register select sticks: plain reads keep returning ISR. */
	CHECK_EQ(inb(&h, M_CMD), 0x02);
	outb(&h, M_CMD, EOI);
	CHECK_EQ(master_isr(&h), 0);
	CHECK_EQ(h.changes, 2);

	/* ICW1 clears IMR and the edge latches; a chip halfway through its
	 * ICWs keeps INTR low and catches up when the sequence ends. */
	outb(&h, M_DATA, 0x5a);
	outb(&h, M_CMD, 0x11);
	CHECK_EQ(inb(&h, M_DATA), 0x00);
	outb(&h, M_DATA, 0x30);
	pulse(&h, 5);
	CHECK(!pic8259_has_interrupt(&h.pic));
	outb(&h, M_DATA, 0x04);
	CHECK(!pic8259_has_interrupt(&h.pic));
	outb(&h, M_DATA, 0x01);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x35);
	outb(&h, M_CMD, EOI);
}

static void test_priority_and_nesting(void)
{
	struct harness h;
	setup(&h, 0x01);
	outb(&h, M_DATA, 0x00);

	/* IRQ 0 beats IRQ 4 whatever the order they came in. */
	pulse(&h, 4);
	pulse(&h, 0);
	CHECK_EQ(master_irr(&h), 0x11);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x20);
	/* IRQ 4 waits for IRQ 0's EOI. */
	CHECK(!pic8259_has_interrupt(&h.pic));
	outb(&h, M_CMD, EOI);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x24);

	/* Nesting: IRQ 3 interrupts IRQ 4's handler, IRQ 5 does not. */
	pulse(&h, 3);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x23);
	CHECK_EQ(master_isr(&h), 0x18);
	pulse(&h, 5);
	CHECK(!pic8259_has_interrupt(&h.pic));
	/* A non-specific EOI retires the highest priority in service. */
	outb(&h, M_CMD, EOI);
	CHECK_EQ(master_isr(&h), 0x10);
	CHECK(!pic8259_has_interrupt(&h.pic));
	outb(&h, M_CMD, EOI);
	CHECK_EQ(master_isr(&h), 0);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x25);
	outb(&h, M_CMD, EOI);
	CHECK(!pic8259_has_interrupt(&h.pic));
}

static void test_masking(void)
{
	struct harness h;
	setup(&h, 0x01);

	outb(&h, M_DATA, 0xfe);
	pulse(&h, 6);
	CHECK(!pic8259_has_interrupt(&h.pic));
	pulse(&h, 0);
	CHECK(pic8259_has_interrupt(&h.pic));
	/* Masking the pending input drops INTR again. */
	outb(&h, M_DATA, 0xff);
	CHECK(!pic8259_has_interrupt(&h.pic));
	CHECK_EQ(h.changes, 2);
	outb(&h, M_DATA, 0xbe);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x20);
	outb(&h, M_CMD, EOI);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x26);
	outb(&h, M_CMD, EOI);
	CHECK(!pic8259_has_interrupt(&h.pic));

	/* A slave input needs both the slave bit and the cascade open. */
	outb(&h, S_DATA, 0xef);
	pulse(&h, 12);
	CHECK(!pic8259_has_interrupt(&h.pic));
	outb(&h, M_DATA, 0xfb);
	CHECK(pic8259_has_interrupt(&h.pic));
}

static void test_cascade(void)
{
	struct harness h;
	setup(&h, 0x01);
	outb(&h, M_DATA, 0xfb);
	outb(&h, S_DATA, 0xef);

	pulse(&h, 12);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(slave_irr(&h), 0x10);
	CHECK_EQ(master_irr(&h), 0x04);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x2c);
	CHECK_EQ(master_isr(&h), 0x04);
	CHECK_EQ(slave_isr(&h), 0x10);
	CHECK_EQ(slave_irr(&h), 0);
	CHECK_EQ(master_irr(&h), 0);

	/* EOI to the slave alone: master IR2 is still in service, so a new
	 * IRQ 12 waits for the master's EOI. */
	outb(&h, S_CMD, EOI);
	CHECK_EQ(slave_isr(&h), 0);
	pulse(&h, 12);
	CHECK_EQ(master_irr(&h), 0x04);
	CHECK(!pic8259_has_interrupt(&h.pic));
	outb(&h, M_CMD, EOI);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x2c);
	outb(&h, S_CMD, EOI);
	outb(&h, M_CMD, EOI);

	/* Slave inputs rank where IR2 does: above IRQ 3, below IRQ 1. */
	outb(&h, M_DATA, 0x00);
	outb(&h, S_DATA, 0x00);
	pulse(&h, 3);
	pulse(&h, 9);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x29);
	CHECK(!pic8259_has_interrupt(&h.pic));
	pulse(&h, 1);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x21);
	CHECK_EQ(master_isr(&h), 0x06);
	outb(&h, M_CMD, EOI);
	/* A higher slave input cannot nest inside IRQ 9 without SFNM. */
	pulse(&h, 8);
	CHECK(!pic8259_has_interrupt(&h.pic));
	outb(&h, S_CMD, EOI);
	CHECK(!pic8259_has_interrupt(&h.pic));
	outb(&h, M_CMD, EOI);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x28);
	outb(&h, S_CMD, EOI);
	outb(&h, M_CMD, EOI);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x23);
	outb(&h, M_CMD, EOI);
	CHECK(!pic8259_has_interrupt(&h.pic));
	CHECK_EQ(master_isr(&h), 0);
	CHECK_EQ(slave_isr(&h), 0);
}

static void test_specific_eoi(void)
{
	struct harness h;
	setup(&h, 0x01);
	outb(&h, M_DATA, 0x00);

	pulse(&h, 3);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x23);
	pulse(&h, 1);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x21);
	CHECK_EQ(master_isr(&h), 0x0a);
	/* Retire the lower one first, which a non-specific EOI cannot. */
	outb(&h, M_CMD, 0x63);
	CHECK_EQ(master_isr(&h), 0x02);
	outb(&h, M_CMD, 0x61);
	CHECK_EQ(master_isr(&h), 0);

	/* A specific EOI for a level not in service changes nothing. */
	pulse(&h, 4);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x24);
	outb(&h, M_CMD, 0x66);
	CHECK_EQ(master_isr(&h), 0x10);
	outb(&h, M_CMD, 0x64);
	CHECK_EQ(master_isr(&h), 0);
}

static void test_aeoi(void)
{
	struct harness h;
	setup(&h, 0x03);
	outb(&h, M_DATA, 0x00);
	outb(&h, S_DATA, 0x00);

	pulse(&h, 4);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x24);
	CHECK_EQ(master_isr(&h), 0);
	/* Nothing in service, so even a lower priority comes straight in. */
	pulse(&h, 6);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x26);
	CHECK_EQ(master_isr(&h), 0);

	pulse(&h, 14);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x2e);
	CHECK_EQ(master_isr(&h), 0);
	CHECK_EQ(slave_isr(&h), 0);
	CHECK(!pic8259_has_interrupt(&h.pic));
}

static void test_spurious(void)
{
	struct harness h;
	setup(&h, 0x01);
	outb(&h, M_DATA, 0x00);

	/* INTA with nothing pending: IR7's vector, no ISR bit. */
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x27);
	CHECK_EQ(master_isr(&h), 0);
	CHECK_EQ(h.pic.spurious, 1);

	/* A level request withdrawn before the acknowledge. */
	outb(&h, ELCR0, 0x20);
	pic8259_set_irq(&h.pic, 5, 1);
	CHECK(pic8259_has_interrupt(&h.pic));
	pic8259_set_irq(&h.pic, 5, 0);
	CHECK(!pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x27);
	CHECK_EQ(h.pic.spurious, 2);
	CHECK_EQ(master_isr(&h), 0);

	/* A real IRQ 7 is told apart by its ISR bit. */
	pulse(&h, 7);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x27);
	CHECK_EQ(master_isr(&h), 0x80);
	CHECK_EQ(h.pic.spurious, 2);
}

static void test_edge_and_level(void)
{
	struct harness h;
	setup(&h, 0x01);
	outb(&h, M_DATA, 0x00);
	outb(&h, S_DATA, 0x00);

	/* Chipset-fixed edge inputs (0, 1, 2, 8, 13) read back as zero. */
	outb(&h, ELCR0, 0xff);
	outb(&h, ELCR1, 0xff);
	CHECK_EQ(inb(&h, ELCR0), 0xf8);
	CHECK_EQ(inb(&h, ELCR1), 0xde);
	outb(&h, ELCR0, 0x00);
	outb(&h, ELCR1, 0x0c);
	CHECK_EQ(bus_read(&h.bus, BUS_SPACE_PIO, ELCR0, 2), 0x0c00);

	/* Level IRQ 10: requested as long as the line is high. */
	pic8259_set_irq(&h.pic, 10, 1);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x2a);
	CHECK_EQ(slave_irr(&h), 0x04);
	outb(&h, S_CMD, EOI);
	outb(&h, M_CMD, EOI);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x2a);
	outb(&h, S_CMD, EOI);
	outb(&h, M_CMD, EOI);
	pic8259_set_irq(&h.pic, 10, 0);
	CHECK_EQ(slave_irr(&h), 0);
	CHECK(!pic8259_has_interrupt(&h.pic));

	/* Edge IRQ 1 held high: one request, then nothing until it falls
	 * and rises again. */
	pic8259_set_irq(&h.pic, 1, 1);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x21);
	outb(&h, M_CMD, EOI);
	CHECK(!pic8259_has_interrupt(&h.pic));
	pic8259_set_irq(&h.pic, 1, 1);
	CHECK(!pic8259_has_interrupt(&h.pic));
	pic8259_set_irq(&h.pic, 1, 0);
	CHECK(!pic8259_has_interrupt(&h.pic));
	pic8259_set_irq(&h.pic, 1, 1);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x21);
	outb(&h, M_CMD, EOI);
	pic8259_set_irq(&h.pic, 1, 0);

	/* Two pulses before the acknowledge are one request. */
	pulse(&h, 3);
	pulse(&h, 3);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x23);
	outb(&h, M_CMD, EOI);
	CHECK(!pic8259_has_interrupt(&h.pic));

	/* IRQ 2 is the cascade, not a pin. */
	pulse(&h, 2);
	CHECK(!pic8259_has_interrupt(&h.pic));
}

static void test_poll_rotate_special(void)
{
	struct harness h;
	setup(&h, 0x01);
	outb(&h, M_DATA, 0x00);

	/* Poll: the read is the acknowledge. */
	pulse(&h, 5);
	outb(&h, M_CMD, 0x0c);
	CHECK_EQ(inb(&h, M_CMD), 0x85);
	CHECK_EQ(master_isr(&h), 0x20);
	CHECK(!pic8259_has_interrupt(&h.pic));
	outb(&h, M_CMD, 0x0c);
	CHECK_EQ(inb(&h, M_CMD), 0x00);
	outb(&h, M_CMD, EOI);

	/* Set priority: IRQ 4 lowest makes IRQ 5 the highest. */
	outb(&h, M_CMD, 0xc4);
	pulse(&h, 1);
	pulse(&h, 6);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x26);
	/* Rotate on non-specific EOI: IRQ 6 becomes lowest, IRQ 7 highest. */
	outb(&h, M_CMD, 0xa0);
	pulse(&h, 7);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x27);
	outb(&h, M_CMD, 0x67);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x21);
	outb(&h, M_CMD, 0xc7);
	outb(&h, M_CMD, EOI);

	/* Special mask mode: a handler masks its own level and lets lower
	 * priorities in while it is still in service. */
	pulse(&h, 3);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x23);
	pulse(&h, 5);
	CHECK(!pic8259_has_interrupt(&h.pic));
	outb(&h, M_DATA, 0x08);
	outb(&h, M_CMD, 0x68);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x25);
	outb(&h, M_CMD, 0x65);
	outb(&h, M_CMD, 0x48);
	outb(&h, M_CMD, 0x63);
	outb(&h, M_DATA, 0x00);
	CHECK_EQ(master_isr(&h), 0);
	CHECK(!pic8259_has_interrupt(&h.pic));
}

static void test_special_fully_nested(void)
{
	struct harness h;
	setup(&h, 0x11);
	outb(&h, M_DATA, 0x00);
	outb(&h, S_DATA, 0x00);

	pulse(&h, 10);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x2a);
	/* The slave's higher IRQ 9 nests inside IRQ 10... */
	pulse(&h, 9);
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x29);
	/* ...a lower IRQ 11 does not, nor does master IRQ 3. */
	pulse(&h, 11);
	pulse(&h, 3);
	CHECK(!pic8259_has_interrupt(&h.pic));
	outb(&h, S_CMD, EOI);
	outb(&h, S_CMD, EOI);
	CHECK_EQ(slave_isr(&h), 0);
	/* IRQ 11 may still pass while master IR2 is in service. */
	CHECK(pic8259_has_interrupt(&h.pic));
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x2b);
	outb(&h, S_CMD, EOI);
	outb(&h, M_CMD, EOI);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x23);
}

static void test_output_callback(void)
{
	struct harness h;
	setup(&h, 0x01);
	outb(&h, M_DATA, 0x00);
	outb(&h, S_DATA, 0x00);
	CHECK_EQ(h.changes, 0);

	pulse(&h, 4);
	CHECK_EQ(h.changes, 1);
	CHECK_EQ(h.level, 1);
	/* Another request while INTR is already high: no call. */
	pulse(&h, 6);
	pulse(&h, 12);
	CHECK_EQ(h.changes, 1);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x2c);
	CHECK_EQ(h.changes, 2);
	CHECK_EQ(h.level, 0);
	outb(&h, S_CMD, EOI);
	CHECK_EQ(h.changes, 2);
	outb(&h, M_CMD, EOI);
	CHECK_EQ(h.changes, 3);
	CHECK_EQ(h.level, 1);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x24);
	CHECK_EQ(h.changes, 4);
	outb(&h, M_CMD, EOI);
	CHECK_EQ(h.changes, 5);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x26);
	outb(&h, M_CMD, EOI);
	CHECK_EQ(h.changes, 6);
	CHECK_EQ(h.level, 0);

	/* Boards wire devices through struct irq_line. */
	struct irq_line line = { .set_level = pic8259_irq_line_set, .opaque = &h.pic, .line = 3 };
	irq_line_set(&line, 1);
	CHECK_EQ(h.level, 1);
	CHECK_EQ(pic8259_acknowledge(&h.pic), 0x23);
	irq_line_set(&line, 0);
	CHECK_EQ(h.changes, 8);
}

int main(void)
{
	test_reset_state();
	test_linux_init();
	test_priority_and_nesting();
	test_masking();
	test_cascade();
	test_specific_eoi();
	test_aeoi();
	test_spurious();
	test_edge_and_level();
	test_poll_rotate_special();
	test_special_fully_nested();
	test_output_callback();
	return check_report("test_pic");
}
