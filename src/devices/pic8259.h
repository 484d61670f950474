/* The PC's pair of 8259A interrupt controllers as one object: the master at
 * 0x20-0x21, the slave at 0xa0-0xa1 cascaded on master input 2, and the
 * ELCR edge/level registers at 0x4d0-0x4d1 that PC chipsets add beside them.
 * Inputs are numbered 0-15 as ISA IRQs; the master's INT pin is the single
 * output, reported through a callback. There is no locking: the caller
 * serializes every entry point and register access (the board holds its
 * lock around them), and the callback runs under that same lock. */
#ifndef BTVM_DEVICES_PIC8259_H
#define BTVM_DEVICES_PIC8259_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"

#define PIC_MASTER_PORT 0x20
#define PIC_SLAVE_PORT 0xa0
#define PIC_ELCR_PORT 0x4d0
#define PIC_CASCADE_IRQ 2

/* One 8259A. */
struct pic8259 {
	uint8_t irr, isr, imr;
	uint8_t lines;		/* input pin levels as last driven */
	uint8_t level_mask;	/* inputs whose IRR follows the pin (ELCR, cascade) */
	uint8_t vector_base;	/* ICW2 with the low three bits clear */
	uint8_t icw3;
	uint8_t lowest;		/* lowest-priority input: 7 until rotated */
	uint8_t init_step;	/* 0 when operational, else the ICW expected next */
	bool ic4, single, aeoi, rotate_on_aeoi, sfnm;
	bool special_mask, read_isr, poll;
};

struct pic8259_pair {
	struct pic8259 chip[2];	/* [0] master, [1] slave */
	uint8_t elcr[2];
	bool output;		/* master INT as last reported */
	void (*output_changed)(void *opaque, int level);
	void *opaque;
	/* Acknowledge cycles that found nothing to deliver (IRQ 7 or 15). */
	uint64_t spurious;
};

/* Leaves both chips as a PC BIOS does (vectors 0x08 and 0x70, cascade on
 * IRQ 2, everything but the cascade masked, all inputs edge-triggered),
 * since a Multiboot kernel starts from that state without a BIOS having
 * run. output_changed may be NULL. */
void pic8259_init(struct pic8259_pair *pic, void (*output_changed)(void *opaque, int level),
		  void *opaque);
int pic8259_attach(struct pic8259_pair *pic, struct bus *bus);
/* Drives ISA IRQ 0-15. IRQ 2 is the cascade, not a pin, and is ignored. */
void pic8259_set_irq(struct pic8259_pair *pic, unsigned irq, int level);
/* The same with struct irq_line's set_level shape; opaque is the pair. */
void pic8259_irq_line_set(void *opaque, unsigned line, int level);
/* The master's INT output. */
bool pic8259_has_interrupt(const struct pic8259_pair *pic);
/* The CPU's INTA cycle: returns the vector, moves the request from IRR to
 * ISR on each chip involved (not with AEOI), and gives the spurious vector
 * of the chip asked (its IR7) when nothing is pending any more. */
int pic8259_acknowledge(struct pic8259_pair *pic);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "PIC ", both chips and the ELCRs
 * field by field; load checks what it reads and leaves the callback. */
void pic8259_save(const struct pic8259_pair *pic, struct snap_writer *w);
int pic8259_load(struct pic8259_pair *pic, struct snap_reader *r);

#endif
