/* A 16550A UART (COM1 at 0x3f8, IRQ 4 on the PC). The device itself does
 * no host I/O: transmitted bytes go to a callback, received bytes are pushed
 * in by the board, so it can be tested on its own. There is no locking:
 * the caller serializes register accesses and uart16550_receive(). */
#ifndef BTVM_DEVICES_UART16550_H
#define BTVM_DEVICES_UART16550_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"

#define UART16550_FIFO_SIZE 16

struct uart16550 {
	/* registers; iir_pending is the interrupt identification (IIR bits
	 * 0-3) as of the last register access, without the FIFO bits */
	uint8_t ier, iir_pending, lcr, mcr, lsr, msr, scr, fcr;
	uint16_t divisor;
	/* receive FIFO (one byte deep when FIFOs are disabled) */
	uint8_t rx_fifo[UART16550_FIFO_SIZE];
	unsigned rx_head, rx_count;
	bool thr_empty_irq;  /* THRE interrupt pending until IIR is read or THR written */
	bool irq_level;  /* what the interrupt line was last driven to */
	struct irq_line irq;
	void (*tx)(void *opaque, uint8_t byte);
	void *tx_opaque;
	/* tx_bytes and rx_bytes count host traffic (loopback is not counted);
	 * rx_overruns counts bytes lost to a full receiver, which only loopback
	 * can cause since the host waits for room. */
	uint64_t tx_bytes, rx_bytes, rx_overruns;
};

void uart16550_init(struct uart16550 *uart, const struct irq_line *irq,
		    void (*tx)(void *opaque, uint8_t byte), void *tx_opaque);
int uart16550_attach(struct uart16550 *uart, struct bus *bus, uint16_t base);
/* Offers one received byte; false if the receive FIFO is full or the UART
 * is in loopback mode (the caller keeps the byte and offers it again later:
 * no input is lost). */
bool uart16550_receive(struct uart16550 *uart, uint8_t byte);
/* True while the receiver could take another byte right now. */
bool uart16550_can_receive(const struct uart16550 *uart);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "UART", the registers and the
 * receive FIFO. */
void uart16550_save(const struct uart16550 *uart, struct snap_writer *w);
int uart16550_load(struct uart16550 *uart, struct snap_reader *r);

#endif
