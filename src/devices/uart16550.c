/* The 16550A UART: register file, divisor latch, receive FIFO, interrupt
 * identification and the interrupt output. Host I/O stays outside: see
 * uart16550.h. */
#include "devices/uart16550.h"
#include "host/snapfile.h"

#include <string.h>

/* Register offsets; 0 and 1 are the divisor latch while LCR.DLAB is set. */
enum {
	REG_RBR_THR = 0,
	REG_IER = 1,
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_ERBFI	0x01	/* received data available */
#define IER_ETBEI	0x02	/* transmitter holding register empty */
#define IER_ELSI	0x04	/* receiver line status */
#define IER_EDSSI	0x08	/* modem status */
#define IER_MASK	0x0f

#define IIR_MSI		0x00
#define IIR_NONE	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_RLSI	0x06
#define IIR_FIFOS	0xc0

#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define FCR_CLEAR_TX	0x04
/* DMA mode and the trigger level are kept only for a debugger to see; the
 * clear bits self-clear, and bits 4-5 are reserved on a 16550A (64-byte
 * mode is a 16750's). */
#define FCR_KEPT	(0xff & ~(FCR_CLEAR_RX | FCR_CLEAR_TX | 0x30))

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1f

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_ERRORS	0x1e	/* OE, PE, FE, BI: cleared by reading LSR */
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_DELTAS	0x0f
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80

static bool fifos_enabled(const struct uart16550 *uart)
{
	return uart->fcr & FCR_ENABLE;
}

static bool loopback(const struct uart16550 *uart)
{
	return uart->mcr & MCR_LOOP;
}

static unsigned rx_capacity(const struct uart16550 *uart)
{
	return fifos_enabled(uart) ? UART16550_FIFO_SIZE : 1;
}

static uint8_t pending_iir(const struct uart16550 *uart)
{
	if ((uart->ier & IER_ELSI) && (uart->lsr & LSR_ERRORS))
		return IIR_RLSI;
	/* No character timeout (0x0c) is modelled: without a notion of time
	 * the trigger level would strand bytes, so any data raises RDI. */
	if ((uart->ier & IER_ERBFI) && uart->rx_count)
		return IIR_RDI;
	if ((uart->ier & IER_ETBEI) && uart->thr_empty_irq)
		return IIR_THRI;
	if ((uart->ier & IER_EDSSI) && (uart->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NONE;
}

static void update_irq(struct uart16550 *uart)
{
	uart->iir_pending = pending_iir(uart);
	/* On the PC, OUT2 gates the chip's interrupt onto the ISA line; in
	 * loopback the OUT pins are forced inactive, so the line stays low
	 * even though IIR still reports the cause. */
	bool level = (uart->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2 &&
		     uart->iir_pending != IIR_NONE;
	if (level != uart->irq_level) {
		uart->irq_level = level;
		irq_line_set(&uart->irq, level);
	}
}

static void rx_clear(struct uart16550 *uart)
{
	uart->rx_head = 0;
	uart->rx_count = 0;
	uart->lsr &= ~LSR_DR;
}

/* The caller has checked there is room. */
static void rx_push(struct uart16550 *uart, uint8_t byte)
{
	unsigned tail = (uart->rx_head + uart->rx_count) % UART16550_FIFO_SIZE;

	uart->rx_fifo[tail] = byte;
	uart->rx_count++;
	uart->lsr |= LSR_DR;
}

static uint8_t rx_pop(struct uart16550 *uart)
{
	if (!uart->rx_count)
		return 0;
	uint8_t byte = uart->rx_fifo[uart->rx_head];
	uart->rx_head = (uart->rx_head + 1) % UART16550_FIFO_SIZE;
	if (!--uart->rx_count)
		uart->lsr &= ~LSR_DR;
	return byte;
}

/* Only loopback can overrun: the host side waits for room instead (see
 * uart16550_receive), so host input is never lost. */
static void loopback_receive(struct uart16550 *uart, uint8_t byte)
{
	if (uart->rx_count < rx_capacity(uart)) {
		rx_push(uart, byte);
		return;
	}
	uart->lsr |= LSR_OE;
	uart->rx_overruns++;
	/* Without FIFOs the new character overwrites the holding register;
	 * with them it dies in the shift register and the FIFO is kept. */
	if (!fifos_enabled(uart))
		uart->rx_fifo[uart->rx_head] = byte;
}

/* What the modem status inputs see: the modem-control outputs looped back,
 * or an always-ready modem with carrier so the guest never waits on it. */
static uint8_t msr_inputs(const struct uart16550 *uart)
{
	if (!loopback(uart))
		return MSR_CTS | MSR_DSR | MSR_DCD;

	uint8_t in = 0;
	if (uart->mcr & MCR_RTS)
		in |= MSR_CTS;
	if (uart->mcr & MCR_DTR)
		in |= MSR_DSR;
	if (uart->mcr & MCR_OUT1)
		in |= MSR_RI;
	if (uart->mcr & MCR_OUT2)
		in |= MSR_DCD;
	return in;
}

static void update_msr(struct uart16550 *uart)
{
	uint8_t in = msr_inputs(uart);
	uint8_t changed = (uart->msr ^ in) & 0xf0;
	uint8_t deltas = uart->msr & MSR_DELTAS;

	if (changed & MSR_CTS)
		deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		deltas |= MSR_DDSR;
	if (changed & MSR_DCD)
		deltas |= MSR_DDCD;
	/* Only the trailing edge of ring indicator counts. */
	if ((changed & MSR_RI) && !(in & MSR_RI))
		deltas |= MSR_TERI;
	uart->msr = in | deltas;
}

static void transmit(struct uart16550 *uart, uint8_t byte)
{
	if (loopback(uart)) {
		loopback_receive(uart, byte);
	} else {
		uart->tx_bytes++;
		if (uart->tx)
			uart->tx(uart->tx_opaque, byte);
	}
	/* Transmission is instant, so the holding register is empty again
	 * before the guest can look. */
	uart->thr_empty_irq = uart->ier & IER_ETBEI;
}

static void write_ier(struct uart16550 *uart, uint8_t value)
{
	uint8_t old = uart->ier;

	uart->ier = value & IER_MASK;
	/* Enabling ETBEI while THR is empty raises THRE at once; Linux relies
	 * on this both to start transmitting and to probe for buggy UARTs. */
	if ((uart->ier & IER_ETBEI) && !(old & IER_ETBEI))
		uart->thr_empty_irq = true;
}

static void write_fcr(struct uart16550 *uart, uint8_t value)
{
	/* Switching FIFO mode resets the FIFOs on the real chip, which also
	 * keeps rx_count within the new capacity. */
	if ((value ^ uart->fcr) & FCR_ENABLE)
		rx_clear(uart);
	/* The other bits only take when FCR0 is written as 1. */
	if (!(value & FCR_ENABLE)) {
		uart->fcr = 0;
		return;
	}
	if (value & FCR_CLEAR_RX)
		rx_clear(uart);
	/* The transmit FIFO is always empty, so FCR_CLEAR_TX has nothing to do. */
	uart->fcr = value & FCR_KEPT;
}

static uint64_t uart_read(void *opaque, uint64_t offset, unsigned width)
{
	struct uart16550 *uart = opaque;
	uint8_t value = 0xff;
	(void)width;

	switch (offset) {
	case REG_RBR_THR:
		if (uart->lcr & LCR_DLAB)
			return uart->divisor & 0xff;
		value = rx_pop(uart);
		break;
	case REG_IER:
		if (uart->lcr & LCR_DLAB)
			return uart->divisor >> 8;
		return uart->ier;
	case REG_IIR_FCR:
		value = uart->iir_pending;
		if (value == IIR_THRI)
			uart->thr_empty_irq = false;
		if (fifos_enabled(uart))
			value |= IIR_FIFOS;
		break;
	case REG_LCR:
		return uart->lcr;
	case REG_MCR:
		return uart->mcr;
	case REG_LSR:
		value = uart->lsr;
		uart->lsr &= ~LSR_ERRORS;
		break;
	case REG_MSR:
		value = uart->msr;
		uart->msr &= ~MSR_DELTAS;
		break;
	case REG_SCR:
		return uart->scr;
	}
	update_irq(uart);
	return value;
}

static void uart_write(void *opaque, uint64_t offset, unsigned width, uint64_t value64)
{
	struct uart16550 *uart = opaque;
	uint8_t value = (uint8_t)value64;
	(void)width;

	switch (offset) {
	case REG_RBR_THR:
		if (uart->lcr & LCR_DLAB)
			uart->divisor = (uart->divisor & 0xff00) | value;
		else
			transmit(uart, value);
		break;
	case REG_IER:
		if (uart->lcr & LCR_DLAB)
			uart->divisor = (uint16_t)((uart->divisor & 0x00ff) | value << 8);
		else
			write_ier(uart, value);
		break;
	case REG_IIR_FCR:
		write_fcr(uart, value);
		break;
	case REG_LCR:
		uart->lcr = value;
		break;
	case REG_MCR:
		uart->mcr = value & MCR_MASK;
		update_msr(uart);
		break;
	case REG_LSR:
	case REG_MSR:
		/* Factory-test writes on the real chip; nothing uses them. */
		break;
	case REG_SCR:
		uart->scr = value;
		break;
	}
	update_irq(uart);
}

static const struct bus_ops uart_ops = {
	.read = uart_read,
	.write = uart_write,
	.max_width = 1,
};

void uart16550_init(struct uart16550 *uart, const struct irq_line *irq,
		    void (*tx)(void *opaque, uint8_t byte), void *tx_opaque)
{
	memset(uart, 0, sizeof(*uart));
	if (irq)
		uart->irq = *irq;
	uart->tx = tx;
	uart->tx_opaque = tx_opaque;
	uart->iir_pending = IIR_NONE;
	uart->lsr = LSR_THRE | LSR_TEMT;
	uart->msr = msr_inputs(uart);
	/* 9600 baud, what a PC BIOS leaves behind; nothing depends on it. */
	uart->divisor = 12;
}

int uart16550_attach(struct uart16550 *uart, struct bus *bus, uint16_t base)
{
	return bus_register(bus, BUS_SPACE_PIO, "uart16550", base, 8, &uart_ops, uart);
}

bool uart16550_can_receive(const struct uart16550 *uart)
{
	/* In loopback the serial input pin is disconnected; host input waits
	 * so it cannot corrupt the guest's loopback self-test. */
	return !loopback(uart) && uart->rx_count < rx_capacity(uart);
}

bool uart16550_receive(struct uart16550 *uart, uint8_t byte)
{
	if (!uart16550_can_receive(uart))
		return false;
	rx_push(uart, byte);
	uart->rx_bytes++;
	update_irq(uart);
	return true;
}

/* ---- Snapshots ---------------------------------------------------------- */

#define UART_SNAP_VERSION 1u

void uart16550_save(const struct uart16550 *uart, struct snap_writer *w)
{
	snapw_begin(w, "UART", UART_SNAP_VERSION, false);
	snapw_u8(w, uart->ier);
	snapw_u8(w, uart->iir_pending);
	snapw_u8(w, uart->lcr);
	snapw_u8(w, uart->mcr);
	snapw_u8(w, uart->lsr);
	snapw_u8(w, uart->msr);
	snapw_u8(w, uart->scr);
	snapw_u8(w, uart->fcr);
	snapw_u16(w, uart->divisor);
	snapw_bytes(w, uart->rx_fifo, sizeof(uart->rx_fifo));
	snapw_u32(w, uart->rx_head);
	snapw_u32(w, uart->rx_count);
	snapw_bool(w, uart->thr_empty_irq);
	snapw_bool(w, uart->irq_level);
	snapw_end(w);
}

int uart16550_load(struct uart16550 *uart, struct snap_reader *r)
{
	if (r->version != UART_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, UART_SNAP_VERSION);
	uart->ier = snapr_u8(r);
	uart->iir_pending = snapr_u8(r);
	uart->lcr = snapr_u8(r);
	uart->mcr = snapr_u8(r);
	uart->lsr = snapr_u8(r);
	uart->msr = snapr_u8(r);
	uart->scr = snapr_u8(r);
	uart->fcr = snapr_u8(r);
	uart->divisor = snapr_u16(r);
	snapr_bytes(r, uart->rx_fifo, sizeof(uart->rx_fifo));
	uint32_t head = snapr_u32(r), count = snapr_u32(r);
	if (!r->err && (head >= UART16550_FIFO_SIZE || count > UART16550_FIFO_SIZE))
		return snapr_fail(r, "receive FIFO at %u with %u bytes", head, count);
	uart->rx_head = head;
	uart->rx_count = count;
	uart->thr_empty_irq = snapr_bool(r);
	uart->irq_level = snapr_bool(r);
	return snapr_end(r);
}
